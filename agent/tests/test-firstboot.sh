#!/usr/bin/env bash
# The OpenWRT package's first-boot script (examples/openwrt/omega-agent/files/omega-agent.uci-defaults)
# against the uci stand-in, on uci files as Onion's 23.05-based image and vanilla OpenWRT 23.05 write
# them (tests/golden/firstboot/<base>/before) and the package's own /etc/config/omega-agent:
#   fresh                 -> the provisioning station is written (tests/golden/firstboot/<case>/after)
#   already configured    -> every file unchanged, byte for byte
#   any case, run again   -> nothing changes (idempotent)
# and the provisioning key never appears in a uci command line.
# usage: test-firstboot.sh STANDINS GOLDEN PACKAGE_FILES   (FB_FIRSTBOOT_UPDATE=1 rewrites the after/ dirs)
set -uo pipefail
standins=$(cd "$1" && pwd) golden=$(cd "$2" && pwd) files=$(cd "$3" && pwd)
script="$files/omega-agent.uci-defaults"
work=$(mktemp -d /tmp/fb-firstboot-XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0; failed=0; bad=0
key=$(sed -n "s/^[[:space:]]*option prov_key '\(.*\)'$/\1/p" "$files/omega-agent.config")
[ -n "$key" ] || { echo "test-firstboot: no prov_key in $files/omega-agent.config"; exit 1; }

# The stand-in behind a recorder of every command line.
printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s/argv.log"\nexec "%s/uci" "$@"\n' "$work" "$standins" >"$work/uci"
chmod +x "$work/uci"

ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

run_script() {  # confdir log
  OMEGA_AGENT_UCI="$work/uci" OMEGA_AGENT_UCI_CONFDIR="$1" sh "$script" >>"$2" 2>&1
}

same_dir() {  # a b: every file of a is in b with the same bytes, and b has no other file
  local f
  for f in "$1"/*; do cmp -s "$f" "$2/$(basename "$f")" || return 1; done
  for f in "$2"/*; do [ -e "$1/$(basename "$f")" ] || return 1; done
}

# case base expect [uci batch lines that make the case from its base [a line the script must log]]
# expect: "after" (tests/golden/firstboot/<case>/after) or "unchanged"
run_case() {
  local name=$1 base=$2 expect=$3 edit=${4:-} says=${5:-}
  local dir="$work/$name" conf="$work/$name/config" log="$work/$name/log"
  mkdir -p "$conf" "$dir/save"
  cp "$golden/$base/before/"* "$conf/"
  cp "$files/omega-agent.config" "$conf/omega-agent"
  if [ -n "$edit" ]; then
    printf '%s\n' "$edit" | "$standins/uci" -c "$conf" -t "$dir/save" batch >"$dir/edit.log" 2>&1
    [ ! -s "$dir/edit.log" ] || { fail "$name: making the case: $(cat "$dir/edit.log")"; return; }
  fi
  cp -a "$conf" "$dir/before"
  if ! run_script "$conf" "$log"; then fail "$name: the script exited non-zero: $(cat "$log")"; return; fi
  case "$expect" in
    unchanged)
      if same_dir "$dir/before" "$conf"; then ok; else fail "$name: a configured device was changed: $(diff -r "$dir/before" "$conf")"; fi
      grep -q 'already configured' "$log" && ok || fail "$name: no 'already configured' message: $(cat "$log")"
      ;;
    after)
      if [ "${FB_FIRSTBOOT_UPDATE:-}" = 1 ]; then
        rm -rf "$golden/$name/after" && mkdir -p "$golden/$name" && cp -a "$conf" "$golden/$name/after"
        rm -f "$golden/$name/after/omega-agent"
      fi
      cp "$conf/omega-agent" "$dir/agent-conf"
      local f differs=0
      for f in "$conf"/*; do
        [ "$(basename "$f")" = omega-agent ] && continue
        local want="$golden/$name/after/$(basename "$f")"
        cmp -s "$f" "$want" || { differs=1; fail "$name: $(basename "$f") differs from $want: $(diff "$want" "$f")"; }
      done
      [ "$differs" = 0 ] && ok
      cmp -s "$conf/omega-agent" "$dir/before/omega-agent" && ok || fail "$name: the agent's own config was changed"
      ;;
  esac
  if [ -n "$says" ]; then
    grep -qF -- "$says" "$log" && ok || fail "$name: the script did not say '$says': $(cat "$log")"
  fi
  # Twice: nothing changes.
  cp -a "$conf" "$dir/first"
  if ! run_script "$conf" "$log"; then fail "$name: the second run exited non-zero: $(cat "$log")"; return; fi
  if same_dir "$dir/first" "$conf"; then ok; else fail "$name: the second run changed: $(diff -r "$dir/first" "$conf")"; fi
}

run_case onion-fresh onion-fresh after
run_case onion-configured onion-fresh unchanged "set wireless.client.ssid='Office'
set wireless.client.key='office-key'
set wireless.client.disabled='0'
commit wireless"
run_case onion-configured-disabled onion-fresh unchanged "set wireless.client.ssid='Office'
commit wireless"
# Values that need uci's quoting: a quote, a backslash, a dollar, spaces.
run_case onion-awkward-values onion-fresh after "set omega-agent.agent.prov_ssid='Fleet'\\''s \"Net\" \\ 1'
set omega-agent.agent.prov_key='k'\\''ey \\\$HOME \$(id)'
commit omega-agent"
run_case vanilla-fresh vanilla-fresh after "" \
  "radio radio0 stays disabled: turning it on would also start the open access point wireless.default_radio0"
run_case vanilla-secured-ap vanilla-fresh after "set wireless.default_radio0.encryption='psk2'
set wireless.default_radio0.key='ap-secret-1'
commit wireless"
run_case vanilla-configured vanilla-fresh unchanged "set wireless.home=wifi-iface
set wireless.home.device='radio0'
set wireless.home.mode='sta'
set wireless.home.network='wwan'
set wireless.home.ssid='Home'
set wireless.home.encryption='psk2'
set wireless.home.key='home-secret'
commit wireless"
run_case vanilla-sta-on-wan vanilla-fresh unchanged "set wireless.uplink=wifi-iface
set wireless.uplink.device='radio0'
set wireless.uplink.mode='sta'
set wireless.uplink.network='wan'
set wireless.uplink.ssid='Uplink'
commit wireless"

# The keys went to uci on stdin only.
if [ -s "$work/argv.log" ] && ! grep -qF -- "$key" "$work/argv.log" && ! grep -qF -- "HOME" "$work/argv.log"; then ok; else
  fail "the provisioning key appeared in a uci command line (or no call was recorded)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
