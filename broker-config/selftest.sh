#!/bin/sh
# Check a freshly created site against a real mosquitto, with the stock mosquitto clients:
# scripts/site-setup.sh into a temporary directory, start the broker on the rendered config (free
# ports), register two devices through $CONTROL/dynamic-security/v1 as provisiond, then check the
# accounts and ACLs. Stops the broker (by PID) and removes the directory on exit.
#
# Credentials reach mosquitto_pub/sub through their options file ($XDG_CONFIG_HOME/mosquitto_pub,
# 0600), never through argv. The Swift suite (Tests/BrokerConfigTests) checks the same and more.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/fleet-broker-selftest.XXXXXX)
chmod 0755 "$tmp"
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
local_port=$(free_port); device_port=$(free_port)
"$here/../scripts/site-setup.sh" "$tmp/site" --hosts localhost --local-port "$local_port" --device-port "$device_port" >/dev/null
site=$tmp/site
: > "$tmp/broker.log"
# Debian installs the broker in /usr/sbin, which is not on a normal user's PATH.
broker=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$broker" ] || { echo "mosquitto is not installed (apt-get install mosquitto)"; exit 1; }
"$broker" -c "$site/mosquitto.conf" >"$tmp/broker.log" 2>&1 &
pid=$!
i=0
until grep -q "running" "$tmp/broker.log"; do
    i=$((i + 1)); [ $i -lt 100 ] || { cat "$tmp/broker.log"; echo "broker did not start"; exit 1; }
    sleep 0.1
done

# as NAME USER PASSWORD_FILE CLIENTID: options files for mosquitto_pub and mosquitto_sub
as() {
    d=$tmp/cred-$1; mkdir -p -m 0700 "$d"
    for tool in mosquitto_pub mosquitto_sub; do
        ( umask 077; printf -- '-u %s\n-P %s\n-i %s\n-p %s\n-h 127.0.0.1\n-V mqttv5\n' "$2" "$(cat "$3")" "$4" "$local_port" > "$d/$tool" )
    done
}
pub() { who=$1; shift; XDG_CONFIG_HOME=$tmp/cred-$who mosquitto_pub "$@" 2>&1; }
sub() { who=$1; shift; XDG_CONFIG_HOME=$tmp/cred-$who mosquitto_sub "$@" 2>&1; }

P=$(cat "$site/prefix")/v1
as prov provisiond "$site/secrets/provisiond.password" provisiond
as prov2 provisiond "$site/secrets/provisiond.password" provisiond-watch
as mon monitor "$site/secrets/monitor.password" monitor
as op operator "$site/secrets/operator.password" operator
as hello hello "$site/secrets/hello.password" hello-x

# register devices a and b (passwords generated here, in 0600 files)
for d in dev-a dev-b; do
    ( umask 077; openssl rand -hex 32 > "$tmp/$d.password" )
    as "$d" "$d" "$tmp/$d.password" "$d"
done
sub prov2 -t '$CONTROL/dynamic-security/v1/response' -C 1 -W 5 > "$tmp/resp" &
spid=$!
sleep 0.3
cmd() { # role+client for device $1
    pw=$(cat "$tmp/$1.password")
    printf '{"commands":[{"command":"createRole","rolename":"device-%s","acls":[' "$1"
    printf '{"acltype":"subscribeLiteral","topic":"%s/devices/%s/config","allow":true},' "$P" "$1"
    printf '{"acltype":"publishClientReceive","topic":"%s/devices/%s/config","allow":true},' "$P" "$1"
    printf '{"acltype":"publishClientSend","topic":"%s/devices/%s/hello","allow":true},' "$P" "$1"
    printf '{"acltype":"publishClientSend","topic":"%s/devices/%s/status","allow":true}]},' "$P" "$1"
    printf '{"command":"createClient","username":"%s","clientid":"%s","password":"%s","roles":[{"rolename":"device-%s"}]}]}' "$1" "$1" "$pw" "$1"
}
cmd dev-a > "$tmp/cmd"; pub prov -t '$CONTROL/dynamic-security/v1' -q 1 -s < "$tmp/cmd" >/dev/null
wait $spid || true
grep -q '"command":"createClient"}' "$tmp/resp" && ok "provisiond registers a device" || bad "register: $(cat "$tmp/resp")"
cmd dev-b > "$tmp/cmd"; pub prov -t '$CONTROL/dynamic-security/v1' -q 1 -s < "$tmp/cmd" >/dev/null
rm -f "$tmp/cmd"

# refused at CONNECT
out=$(mosquitto_pub -h 127.0.0.1 -p "$local_port" -t "$P/events" -m x 2>&1) && bad "anonymous accepted" || ok "anonymous refused ($out)"
as wrong dev-a "$tmp/dev-b.password" dev-a
out=$(pub wrong -t "$P/devices/dev-a/status" -m x) && bad "wrong password accepted" || ok "wrong password refused"
as stolen dev-b "$tmp/dev-b.password" dev-a
out=$(pub stolen -t "$P/devices/dev-b/status" -m x) && bad "other client id accepted" || ok "credentials with another device's client id refused"

# publish ACLs (MQTT v5, QoS 1: the PUBACK says "Not authorized")
denied() { echo "$1" | grep -q "Not authorized"; }
out=$(pub dev-a -q 1 -r -t "$P/devices/dev-a/status" -m '{"v":1}'); denied "$out" && bad "device cannot publish own status" || ok "device publishes its own status"
out=$(pub dev-a -q 1 -t "$P/devices/dev-b/status" -m x); denied "$out" && ok "device cannot publish another device's status" || bad "dev-a published dev-b status"
out=$(pub dev-a -q 1 -t "$P/ops/request/operator" -m x); denied "$out" && ok "device cannot publish an operator request" || bad "device published ops request"
out=$(pub mon -q 1 -t "$P/devices/dev-a/status" -m x); denied "$out" && ok "monitor cannot publish" || bad "monitor published"
out=$(pub op -q 1 -t "$P/devices/dev-a/config" -m x); denied "$out" && ok "operator cannot publish config" || bad "operator published config"
out=$(pub op -q 1 -t "$P/ops/request/operator" -m x); denied "$out" && bad "operator cannot publish request" || ok "operator publishes a request on its own request topic"
out=$(pub op -q 1 -t "$P/ops/request/bob" -m x); denied "$out" && ok "operator cannot publish on another operator's request topic" || bad "operator published as bob"
out=$(pub hello -q 1 -t "$P/devices/dev-a/hello" -m x); denied "$out" && bad "hello-only cannot announce" || ok "hello-only account announces"
out=$(pub hello -q 1 -t "$P/devices/dev-a/status" -m x); denied "$out" && ok "hello-only cannot publish status" || bad "hello-only published status"

# subscribe ACLs
out=$(sub dev-a -t "$P/devices/dev-b/config" -W 2 -C 1) || true; echo "$out" | grep -q "denied" && ok "device cannot subscribe another device's config" || bad "dev-a subscribed dev-b config: $out"
out=$(sub dev-a -t "$P/#" -W 2 -C 1) || true; echo "$out" | grep -q "denied" && ok "device cannot subscribe the tree" || bad "dev-a subscribed #: $out"
out=$(sub hello -t "$P/devices/+/config" -W 2 -C 1) || true; echo "$out" | grep -q "denied" && ok "hello-only cannot subscribe" || bad "hello subscribed: $out"
out=$(sub prov -t "\$share/provisiond/$P/devices/+/hello" -W 1 -C 1) || true; echo "$out" | grep -q "denied" && bad "provisiond shared subscription denied" || ok "provisiond may use a shared subscription"
out=$(sub mon -t "$P/devices/+/status" -W 2 -C 1) || true; echo "$out" | grep -q '"v":1' && ok "monitor reads retained status" || bad "monitor status: $out"

# TLS: right CA works, wrong CA fails
out=$(XDG_CONFIG_HOME=$tmp/cred-dev-a mosquitto_pub -p "$device_port" -h localhost --cafile "$site/certs/ca.crt" -q 1 -t "$P/devices/dev-a/hello" -m x 2>&1) && ok "device connects over TLS" || bad "TLS: $out"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/other.key" -out "$tmp/other.crt" -subj /CN=other -days 1 2>/dev/null
out=$(XDG_CONFIG_HOME=$tmp/cred-dev-a mosquitto_pub -p "$device_port" -h localhost --cafile "$tmp/other.crt" -t "$P/devices/dev-a/hello" -m x 2>&1) && bad "wrong CA accepted" || ok "TLS with the wrong CA fails"

# revoke: connected client is kicked, then refused
sub dev-a -t "$P/devices/dev-a/config" > "$tmp/dev-a.sub" &
apid=$!
sleep 0.5
pub prov -q 1 -t '$CONTROL/dynamic-security/v1' -m '{"commands":[{"command":"deleteClient","username":"dev-a"},{"command":"deleteRole","rolename":"device-dev-a"}]}' >/dev/null
i=0; while kill -0 $apid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $apid 2>/dev/null; then bad "revoked device still connected"; kill $apid; else ok "revoked device is disconnected"; fi
out=$(pub dev-a -t "$P/devices/dev-a/status" -m x) && bad "revoked device reconnected" || ok "revoked device is refused"

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
