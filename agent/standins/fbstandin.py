"""Shared part of the `wifi` and `ubus` stand-ins: scenario, committed uci config, radio state.

The scenario (JSON, path in env FB_STANDIN_SCENARIO) describes the world around the device:
  {"confdir": "<uci config dir>", "state": "<state file>", "reload_lag_s": 0.5, "no_iwinfo": false,
   "aps": [{"ssid": "Premises", "encryption": "psk2", "key": "secret", "bssid": "02:..",
            "channel": 6, "gives_lease": true, "join_delay_s": 0, "address": "192.168.8.20"}]}
`wifi` reads the COMMITTED wireless config (like netifd does) and records which network the
station tries to join; `ubus` answers from that record and the clock. Nothing the agent sets
other than the uci files influences the outcome.
"""
import json
import os
import sys
import time

import fbuci as uci  # the uci stand-in's parser and writer


def die(msg, code=1):
    sys.stderr.write(msg + "\n")
    sys.exit(code)


def scenario():
    path = os.environ.get("FB_STANDIN_SCENARIO")
    if not path:
        die("stand-in: FB_STANDIN_SCENARIO is not set")
    try:
        with open(path, "r", encoding="utf-8") as f:
            sc = json.load(f)
    except (OSError, ValueError) as e:
        die("stand-in: cannot read scenario %s: %s" % (path, e))
    sc.setdefault("aps", [])
    if "confdir" not in sc or "state" not in sc:
        die("stand-in: scenario needs confdir and state")
    return sc


def load_committed(sc, name):
    """The committed package (no staged deltas), or None when absent."""
    path = os.path.join(sc["confdir"], name)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    return uci.parse_config(data, name)


def opt(section, name, default=None):
    v = section.options.get(name, default)
    if isinstance(v, list):
        return " ".join(v)
    return v


def now_ms():
    return int(time.time() * 1000)


def read_state(sc):
    try:
        with open(sc["state"], "r", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def effective_state(st):
    """What the system shows now: during the window after a reload the previous station is still up."""
    if st and st.get("old") and now_ms() < st.get("reload_ms", 0):
        return {"sta": st["old"]["sta"], "reload_ms": st["old"]["reload_ms"], "log": st.get("log", []),
                "radios": st.get("radios", [])}
    return st


def write_state(sc, st):
    tmp = sc["state"] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(st, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, sc["state"])


def sta_ifname(section, radio_index):
    v = opt(section, "ifname")
    if v:
        return v
    return "phy%d-sta0" % radio_index
