#!/usr/bin/env bash
# Installs the Debian packages FleetBootstrap needs, only those that are missing.
set -euo pipefail
pkgs=(mosquitto mosquitto-clients libmosquitto-dev libssl-dev libjson-c-dev libsqlite3-dev
      openssl pkg-config gcc make qemu-user gcc-mipsel-linux-gnu python3 strace)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# A distribution mosquitto starts a system broker on 1883; tests never use it (they pick free ports).
