#!/usr/bin/env bash
# The README's main command: a local staging site provisioned end to end.
#   broker on a free port -> service keys -> provisiond (SQLite in a temp dir) -> agents' identities ->
#   enroll from a manifest -> profile (key sealed to the service) -> push with progress -> status table.
# Everything started here is stopped on exit, by PID.
# Optional environment:
#   FLEET_BIN_DIR   the Swift binaries (provisiond, fleetctl) to use instead of building them
#   DEMO_DEVICES    how many devices (default 3)
#   DEMO_AGENT      how an agent starts (default: the native build), e.g. the Omega2 build under qemu:
#                   "qemu-mipsel agent/build/musl-static/omega-agent" or
#                   "qemu-mipsel -L agent/build/musl/sysroot agent/build/musl-dynamic/omega-agent";
#                   under qemu each agent's guest memory is sampled (scripts/guest-rss.py) and its
#                   peak printed at the end
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

scripts/install-deps.sh
if [ -n "${FLEET_BIN_DIR:-}" ]; then
  bin="$FLEET_BIN_DIR"
else
  echo "== building"
  swift build
  bin="$(swift build --show-bin-path)"
fi
devices="${DEMO_DEVICES:-3}"
read -r -a agent <<<"${DEMO_AGENT:-$bin/omega-agent}"

work="$(mktemp -d "${TMPDIR:-/tmp}/fleet-demo.XXXXXX")"
chmod 700 "$work"
pids=()
cleanup() {
  status=$?
  # Newest first (agents, provisiond, broker), each one gone before the next is asked: provisiond
  # says goodbye on the broker. SIGKILL after 10 s as a last resort.
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    pid="${pids[$i]}"
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    echo "== demo failed; logs kept in $work" >&2
    tail -n 20 "$work"/*.log >&2 2>/dev/null || true
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_for() { # file text seconds
  for _ in $(seq 1 $(( $3 * 10 ))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2; return 1
}

port="$(free_port)"
echo "== broker on 127.0.0.1:$port"
if [ -f broker-config/dev.conf ]; then
  sed -e "s/^listener .*/listener $port 127.0.0.1/" broker-config/dev.conf > "$work/mosquitto.conf"
else
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n' "$port" > "$work/mosquitto.conf"
fi
# Debian installs the broker in /usr/sbin, which is not on a normal user's PATH.
"$(command -v mosquitto || echo /usr/sbin/mosquitto)" -c "$work/mosquitto.conf" > "$work/broker.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

export FLEETCTL_USERNAME=demo-operator
fleet() { "$bin/fleetctl" "$@" --port "$port"; }

echo "== service keys"
"$bin/fleetctl" keys create --out "$work/keys" | tee "$work/keys.txt"
fingerprint="$(awk '/^fingerprint/{print $2}' "$work/keys.txt")"

echo "== provisiond (registry $work/registry.sqlite, mode 0600)"
"$bin/provisiond" --port "$port" --database "$work/registry.sqlite" \
  --service-key "$work/keys/service.key" --operator-role "$FLEETCTL_USERNAME=admin" > "$work/provisiond.log" 2>&1 &
pids+=($!)
wait_for "$work/provisiond.log" "provisiond online" 30

echo "== $devices devices: identities (omega-agent identity) and a manifest"
standins="$root/agent/standins"
echo "uri,group" > "$work/manifest.csv"
for n in $(seq 1 "$devices"); do
  dev="demo-omega-$n"
  mkdir -p "$work/$dev/uci"
  cp agent/tests/golden/apply/omega2/before/* "$work/$dev/uci/"
  # The world around the simulated radio: the premises AP and the staging SoftAP.
  cat > "$work/$dev/scenario.json" <<JSON
{"confdir": "$work/$dev/uci", "state": "$work/$dev/radio.json",
 "aps": [{"ssid": "Office", "encryption": "psk2", "key": "demo passphrase 42", "gives_lease": true, "address": "192.168.8.2$n"},
         {"ssid": "FleetProvisioning", "encryption": "psk2", "key": "provisioning-key", "gives_lease": true, "address": "10.0.0.2$n"}]}
JSON
  uri="$("${agent[@]}" identity --device-id "$dev" --state-dir "$work/$dev" --key-file "$work/$dev/device.key" | sed -n 1p)"
  echo "$uri,warehouse" >> "$work/manifest.csv"
done
cat "$work/manifest.csv"
fleet enroll --manifest "$work/manifest.csv"

echo "== starting the agents (uci, wifi and ubus stand-ins on private uci files)"
samplers=()
for n in $(seq 1 "$devices"); do
  dev="demo-omega-$n"
  FB_STANDIN_SCENARIO="$work/$dev/scenario.json" "${agent[@]}" run --device-id "$dev" \
    --state-dir "$work/$dev" --key-file "$work/$dev/device.key" \
    --broker-host 127.0.0.1 --broker-port "$port" --uci-confdir "$work/$dev/uci" \
    --set "uci_path=$standins/uci" --set "wifi_path=$standins/wifi" --set "ubus_path=$standins/ubus" \
    --set "service_pubkey=$work/keys/service.pub" --stderr > "$work/$dev.log" 2>&1 &
  pids+=($!)
  if [[ "$(basename "${agent[0]}")" == qemu-* ]]; then
    scripts/guest-rss.py "$!" "${agent[-1]}" > "$work/$dev.rss" &
    samplers+=($!)
  fi
done

echo "== profile 'office' (key from a 0600 file, sealed to service key $fingerprint before publishing)"
( umask 077; printf 'demo passphrase 42\n' > "$work/office.key" )
fleet profile add office --ssid Office --encryption psk2 --key-file "$work/office.key" \
  --service-fingerprint "$fingerprint"
fleet profile list
fleet assign office --group warehouse
echo "== push"
fleet push --group warehouse --timeout 90
echo "== status"
fleet status
echo "== demo-omega-1's uci wireless station section now:"
sed -n "/'client'/,/^$/p" "$work/demo-omega-1/uci/wireless" | sed "s/option key .*/option key '<redacted>'/"
if ((${#samplers[@]})); then
  kill -TERM "${samplers[@]}" 2>/dev/null || true
  wait "${samplers[@]}" 2>/dev/null || true
  echo "== agents' memory under qemu (guest pages only, scripts/guest-rss.py; qemu's own VmHWM beside it)"
  for n in $(seq 1 "$devices"); do echo "demo-omega-$n: $(cat "$work/demo-omega-$n.rss")"; done
fi
echo "== done; stopping everything"
