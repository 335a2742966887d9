#!/bin/sh
# Create a FleetBootstrap staging-site broker directory: CA, server certificate, accounts,
# dynamic-security.json and the rendered mosquitto.conf. See broker-config/README.md.
#
# usage: scripts/site-setup.sh DIR [--prefix P] [--hosts h1,h2,...] [--operator NAME]... [--monitor NAME]
#                              [--device-port N] [--local-port N] [--dynsec-plugin PATH]
#                              [--broker-user USER]
#
# --operator may be given several times (one broker account each; provisiond's --operator-role gives
# each its role). Passwords are generated here, written only to 0600 files under DIR/secrets/ and handed to the
# hashing step by file name; none ever appears in argv or on stdout.
set -eu

die() { echo "site-setup: $*" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
config_src="$here/../broker-config"

[ $# -ge 1 ] || die "usage: site-setup.sh DIR [--prefix P] [--hosts h1,h2] [--operator NAME] [--monitor NAME] [--device-port N] [--local-port N] [--dynsec-plugin PATH] [--broker-user USER]"
dir=$1; shift
prefix=bootstrap
hosts=localhost
operators=
monitor=monitor
device_port=8883
local_port=1883
plugin=
broker_user=
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || die "option $1 needs a value"
    case "$1" in
        --prefix) prefix=$2 ;;
        --hosts) hosts=$2 ;;
        --operator) operators="$operators $2" ;;
        --monitor) monitor=$2 ;;
        --device-port) device_port=$2 ;;
        --local-port) local_port=$2 ;;
        --dynsec-plugin) plugin=$2 ;;
        --broker-user) broker_user=$2 ;;
        *) die "unknown option $1" ;;
    esac
    shift 2
done

# --- validate everything before touching the disk ----------------------------------------------
case "$dir" in /*) ;; *) dir="$(pwd)/$dir" ;; esac
case "$dir" in *[!A-Za-z0-9._/-]*) die "DIR must be a path of [A-Za-z0-9._/-] (it is substituted into mosquitto.conf)" ;; esac
echo "$prefix" | grep -Eq '^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$' && [ ${#prefix} -le 128 ] \
    || die "invalid prefix '$prefix' (levels of [A-Za-z0-9._-] separated by /, at most 128 bytes)"
for p in "$device_port" "$local_port"; do
    case "$p" in ''|*[!0-9]*) die "invalid port '$p'" ;; esac
    [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "invalid port '$p'"
done
[ -n "$operators" ] || operators=operator
operators=${operators# }
for name in $operators "$monitor"; do
    echo "$name" | grep -Eq '^[A-Za-z0-9._-]{1,64}$' || die "invalid account name '$name' (1-64 of [A-Za-z0-9._-])"
    case "$name" in admin|provisiond|hello) die "account name '$name' is reserved" ;; esac
done
for name in $operators; do
    [ "$name" != "$monitor" ] || die "--operator and --monitor must differ"
done
[ "$(printf '%s\n' $operators | sort | uniq -d)" = "" ] || die "an --operator is given twice"
echo "$hosts" | grep -Eq '^[A-Za-z0-9.:-]+(,[A-Za-z0-9.:-]+)*$' || die "invalid --hosts '$hosts' (comma-separated names or addresses)"
if [ -z "$plugin" ]; then
    for candidate in \
        "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo none)/mosquitto_dynamic_security.so" \
        /usr/lib/*/mosquitto_dynamic_security.so /usr/lib/mosquitto_dynamic_security.so \
        /usr/local/lib/mosquitto_dynamic_security.so; do
        if [ -f "$candidate" ]; then plugin=$candidate; break; fi
    done
    [ -n "$plugin" ] || die "mosquitto_dynamic_security.so not found; pass --dynsec-plugin PATH"
fi
[ -f "$plugin" ] || die "dynsec plugin '$plugin' does not exist"
case "$plugin" in *[!A-Za-z0-9._/+-]*) die "plugin path has unexpected characters" ;; esac
if [ -z "$broker_user" ]; then
    if [ "$(id -u)" = 0 ] && getent passwd mosquitto >/dev/null; then broker_user=mosquitto; fi
fi
if [ -n "$broker_user" ]; then
    [ "$(id -u)" = 0 ] || die "--broker-user needs root (chown)"
    getent passwd "$broker_user" >/dev/null || die "no such user '$broker_user'"
fi
[ ! -e "$dir/broker/dynamic-security.json" ] || die "$dir is already a site directory; refusing to overwrite it"
command -v openssl >/dev/null || die "openssl is missing (apt-get install openssl)"
command -v python3 >/dev/null || die "python3 is missing (apt-get install python3)"

# A failure half way leaves nothing behind (unless DIR existed before).
created=0
[ -e "$dir" ] || created=1
trap 'status=$?; if [ $status -ne 0 ] && [ $created = 1 ]; then rm -rf "$dir"; fi' EXIT

umask 077
mkdir -p "$dir/secrets" "$dir/certs" "$dir/broker/data"
chmod 0755 "$dir" "$dir/certs"
chmod 0700 "$dir/secrets" "$dir/broker" "$dir/broker/data"

# --- passwords: 256 random bits, base64url, one 0600 file per account -----------------------------
for account in admin provisiond $operators "$monitor" hello; do
    f="$dir/secrets/$account.password"
    openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n' > "$f.tmp"
    chmod 0600 "$f.tmp"
    mv "$f.tmp" "$f"
done

# --- CA and server certificate (EC P-256) -----------------------------------------------------
openssl ecparam -name prime256v1 -genkey -noout -out "$dir/secrets/ca.key" 2>/dev/null
openssl req -new -x509 -sha256 -days 3650 -key "$dir/secrets/ca.key" -out "$dir/certs/ca.crt" \
    -subj "/O=FleetBootstrap/CN=FleetBootstrap site CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

san="IP:127.0.0.1"
old_ifs=$IFS; IFS=,
for h in $hosts; do
    if echo "$h" | grep -Eq '^[0-9.]+$|:'; then san="$san,IP:$h"; else san="$san,DNS:$h"; fi
done
IFS=$old_ifs
first_host=${hosts%%,*}
openssl ecparam -name prime256v1 -genkey -noout -out "$dir/certs/server.key" 2>/dev/null
openssl req -new -sha256 -key "$dir/certs/server.key" -out "$dir/certs/server.csr" \
    -subj "/O=FleetBootstrap/CN=$first_host" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$san" \
    > "$dir/certs/server.ext"
openssl x509 -req -sha256 -days 825 -in "$dir/certs/server.csr" -CA "$dir/certs/ca.crt" \
    -CAkey "$dir/secrets/ca.key" -CAcreateserial -CAserial "$dir/secrets/ca.srl" \
    -extfile "$dir/certs/server.ext" -out "$dir/certs/server.crt" 2>/dev/null
rm -f "$dir/certs/server.csr" "$dir/certs/server.ext"
chmod 0644 "$dir/certs/ca.crt" "$dir/certs/server.crt"
chmod 0600 "$dir/certs/server.key" "$dir/secrets/ca.key"

# --- dynamic security accounts and roles -------------------------------------------------------
operator_args=
for name in $operators; do operator_args="$operator_args --operator $name"; done
# shellcheck disable=SC2086 # names are checked above: no spaces or globs
python3 "$config_src/dynsec-json.py" --prefix "$prefix" $operator_args --monitor "$monitor" \
    --secrets "$dir/secrets" --out "$dir/broker/dynamic-security.json"

# --- mosquitto.conf: the shipped file with its placeholders replaced ---------------------------
sed -e "s|@DIR@|$dir|g" -e "s|@DEVICE_PORT@|$device_port|g" -e "s|@LOCAL_PORT@|$local_port|g" \
    -e "s|@DYNSEC_PLUGIN@|$plugin|g" "$config_src/mosquitto.conf" > "$dir/mosquitto.conf"
chmod 0644 "$dir/mosquitto.conf"
printf '%s\n' "$prefix" > "$dir/prefix"
chmod 0644 "$dir/prefix"

# The broker (which drops root privileges to its own user before reading any of this) owns what it
# reads or writes: its key, the accounts file and the persistence directory. secrets/ stays with
# the caller; the broker never needs the CA key or the plaintext passwords.
if [ -n "$broker_user" ]; then
    chown "$broker_user" "$dir/certs/server.key"
    chown -R "$broker_user" "$dir/broker"
fi

echo "site-setup: created $dir (prefix $prefix, TLS port $device_port, local port $local_port)"
echo "site-setup: start the broker with: mosquitto -c $dir/mosquitto.conf"
echo "site-setup: passwords are in $dir/secrets/ (mode 0600)"
