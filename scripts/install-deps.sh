#!/usr/bin/env bash
# Installs what FleetBootstrap's two commands need on Debian 12: the Debian packages below, only those
# missing, always with --no-install-recommends (so every package a step needs is named here, never
# left to a Recommends: qemu-user-binfmt, a Recommends of qemu-user, is not needed because qemu-mipsel
# is called by name). The Omega2 build's toolchain (zig from PyPI) and library sources (Debian source
# packages) are fetched into agent/build by scripts/build-musl.sh, without root.
# Root runs apt-get directly; another user through sudo (sudo -n without a terminal, so CI fails
# with a message instead of waiting for a password). The Swift toolchain is not a Debian package:
# it must already be on PATH.
set -euo pipefail

pkgs=(
  mosquitto mosquitto-clients libmosquitto-dev   # broker for every test, mosquitto_passwd/_sub, agent build
  libssl-dev openssl libjson-c-dev pkg-config    # agent build; test PKI (openssl req/x509)
  libsqlite3-dev                                 # provisiond's registry (GRDB links the system SQLite)
  gcc make                                       # agent build and tests
  qemu-user                                      # qemu-mipsel runs the Omega2 build's tests and agent
  python3                                        # the uci/wifi/ubus stand-ins (/usr/bin/python3)
  python3-pip                                    # build-musl.sh: pip download of the ziglang wheel
  cmake                                          # build-musl.sh: json-c's build
  strace                                         # the apply durability check (fsync before marker removal)
  file binutils                                  # the Omega2 binaries' check (file, readelf)
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1; then
    if [ -t 0 ]; then as_root=(sudo); else as_root=(sudo -n); fi
  else
    {
      echo "install-deps: not root and sudo is not installed; as root, run:"
      echo "  apt-get update && apt-get install --no-install-recommends ${missing[*]}"
    } >&2
    exit 1
  fi
  echo "install-deps: apt-get update; installing ${missing[*]}"
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# A distribution mosquitto starts a system broker on 1883; tests never use it (they pick free ports).

if ! command -v swift >/dev/null 2>&1; then
  echo "install-deps: the Swift toolchain (6.x, with swift-format) is not on PATH; install it from" \
    "swift.org and add its usr/bin to PATH" >&2
  exit 1
fi
