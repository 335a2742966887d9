#!/usr/bin/env bash
# Installs what FleetBootstrap's two commands need on Debian 12, only what is missing:
#   - the Debian packages below, with --no-install-recommends (so every package a step needs is
#     named here, never left to a Recommends: libc6-dev-mipsel-cross is only a Recommends of the
#     cross compiler, qemu-user-binfmt of qemu-user and not needed: qemu-mipsel is called by name);
#   - dpkg's mipsel architecture and its package lists, which scripts/build-mipsel.sh needs to
#     `apt-get download` the mipsel libraries of the agent's sysroot (no root needed after this).
# Root runs apt-get directly; another user through sudo (sudo -n without a terminal, so CI fails
# with a message instead of waiting for a password). The Swift toolchain is not a Debian package:
# it must already be on PATH.
set -euo pipefail

pkgs=(
  mosquitto mosquitto-clients libmosquitto-dev   # broker for every test, mosquitto_passwd/_sub, agent build
  libssl-dev openssl libjson-c-dev pkg-config    # agent build; test PKI (openssl req/x509)
  libsqlite3-dev                                 # provisiond's registry (GRDB links the system SQLite)
  gcc make                                       # agent build and tests
  gcc-mipsel-linux-gnu libc6-dev-mipsel-cross    # Omega2 cross build (headers and crt files)
  qemu-user                                      # qemu-mipsel runs the cross-built tests and agent
  python3                                        # the uci/wifi/ubus stand-ins (/usr/bin/python3)
  strace                                         # the apply durability check (fsync before marker removal)
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
need_arch=0
dpkg --print-foreign-architectures | grep -qx mipsel || need_arch=1
need_lists=0
apt-cache show libmosquitto1:mipsel >/dev/null 2>&1 || need_lists=1

if ((${#missing[@]} || need_arch || need_lists)); then
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1; then
    if [ -t 0 ]; then as_root=(sudo); else as_root=(sudo -n); fi
  else
    {
      echo "install-deps: not root and sudo is not installed; as root, run:"
      ((need_arch)) && echo "  dpkg --add-architecture mipsel"
      echo "  apt-get update && apt-get install --no-install-recommends ${missing[*]}"
    } >&2
    exit 1
  fi
  if ((need_arch)); then
    echo "install-deps: adding the mipsel architecture to dpkg (for the Omega2 sysroot's .debs)"
    "${as_root[@]}" dpkg --add-architecture mipsel
  fi
  echo "install-deps: apt-get update${missing[*]:+; installing ${missing[*]}}"
  "${as_root[@]}" apt-get update -qq
  if ((${#missing[@]})); then
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi
# A distribution mosquitto starts a system broker on 1883; tests never use it (they pick free ports).

if ! command -v swift >/dev/null 2>&1; then
  echo "install-deps: the Swift toolchain (6.x, with swift-format) is not on PATH; install it from" \
    "swift.org and add its usr/bin to PATH" >&2
  exit 1
fi
