#!/usr/bin/env bash
# The README's main command: a local staging site provisioned end to end.
#   broker on a free port -> service keys -> provisiond (SQLite in a temp dir) -> agents' identities ->
#   enroll from a manifest -> profile (key sealed to the service) -> push with progress -> status table.
# Everything started here is stopped on exit, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

scripts/install-deps.sh
echo "== building"
swift build
bin="$(swift build --show-bin-path)"

work="$(mktemp -d "${TMPDIR:-/tmp}/fleet-demo.XXXXXX")"
chmod 700 "$work"
pids=()
cleanup() {
  status=$?
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
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
mosquitto -c "$work/mosquitto.conf" > "$work/broker.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

export FLEETCTL_USERNAME=demo-operator
fleet() { "$bin/fleetctl" "$@" --port "$port"; }

echo "== service keys"
"$bin/fleetctl" keys create --out "$work/keys"
fingerprint="$("$bin/fleetctl" keys create --out "$work/keys" 2>/dev/null | awk '/fingerprint/{print $2}' || true)"

echo "== provisiond (registry $work/registry.sqlite)"
"$bin/provisiond" --port "$port" --database "$work/registry.sqlite" \
  --service-key "$work/keys/service.key" > "$work/provisiond.log" 2>&1 &
pids+=($!)
wait_for "$work/provisiond.log" "provisiond online" 30

echo "== three devices: identities and agents"
echo "uri,group" > "$work/manifest.csv"
for n in 1 2 3; do
  dev="demo-omega-$n"
  mkdir -p "$work/$dev/uci"
  printf 'config wifi-iface '"'"'sta'"'"'\n' > "$work/$dev/uci/wireless" || true
  uri="$("$bin/omega-agent" identity --state-dir "$work/$dev" --device-id "$dev")"
  echo "$uri,warehouse" >> "$work/manifest.csv"
done
cat "$work/manifest.csv"
fleet enroll --manifest "$work/manifest.csv"

for n in 1 2 3; do
  dev="demo-omega-$n"
  PATH="$root/agent/standins:$PATH" UCI_CONFIG_DIR="$work/$dev/uci" \
    "$bin/omega-agent" run --state-dir "$work/$dev" --device-id "$dev" \
      --broker-host 127.0.0.1 --broker-port "$port" \
      --service-pubkey "$work/keys/service.pub" > "$work/$dev.log" 2>&1 &
  pids+=($!)
done

echo "== profile 'office' (key from a 0600 file, sealed to the service key before publishing)"
umask 077
printf 'demo passphrase %s\n' "$RANDOM$RANDOM" > "$work/office.key"
fleet profile add office --ssid Office --encryption psk2 --key-file "$work/office.key"
fleet assign office --group warehouse
echo "== push"
fleet push --group warehouse --timeout 60
echo "== status"
fleet status
echo "== done; stopping everything"
