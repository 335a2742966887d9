#!/usr/bin/env bash
# Makes the sysroot for the mipsel cross build (Onion Omega2: MIPS 24KEc little-endian): Debian's
# mipsel libmosquitto, libssl and json-c .debs unpacked into agent/build/sysroot, for Debian's
# mipsel-linux-gnu-gcc. `agent` and `tests` then build with agent/Makefile (`make -C agent mipsel`,
# `make -C agent mipsel-tests`), which calls this script for the sysroot.
# Output: agent/build/mipsel/omega-agent. Run it with:
#   qemu-mipsel -L agent/build/sysroot agent/build/mipsel/omega-agent --help
# Usage: scripts/build-mipsel.sh [sysroot|agent|tests]   (default: agent)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
sysroot="$root/agent/build/sysroot"
debs="$root/agent/build/debs-mipsel"
what="${1:-agent}"
cc="${MIPSEL_CC:-mipsel-linux-gnu-gcc}"

command -v "$cc" >/dev/null || { echo "build-mipsel: $cc missing (apt-get install gcc-mipsel-linux-gnu; scripts/install-deps.sh)" >&2; exit 1; }
[ -f /usr/mipsel-linux-gnu/include/stdint.h ] || [ -n "${MIPSEL_CC:-}" ] ||
  { echo "build-mipsel: the mipsel C library headers are missing (apt-get install libc6-dev-mipsel-cross; scripts/install-deps.sh)" >&2; exit 1; }

make_sysroot() {
  # Runtime + development packages for the three libraries, their runtime deps (`apt-cache depends`:
  # libssl3 needs libatomic1; libmosquitto1 needs libssl3 and libc6), and libc6 for the mipsel ld.so.
  local pkgs=(libmosquitto1 libmosquitto-dev libssl3 libssl-dev libjson-c5 libjson-c-dev
              libatomic1 libc6 libgcc-s1)
  local stamp="$sysroot/.complete"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${pkgs[*]}" ]; then return 0; fi
  if ! dpkg --print-foreign-architectures | grep -qx mipsel || ! apt-cache show libmosquitto1:mipsel >/dev/null 2>&1; then
    echo "build-mipsel: dpkg has no mipsel package lists (needed by apt-get download): run scripts/install-deps.sh" >&2
    exit 1
  fi
  rm -rf "$debs" "$sysroot"
  mkdir -p "$debs" "$sysroot"
  local p
  for p in "${pkgs[@]}"; do
    (cd "$debs" && apt-get download -q "$p:mipsel" >"$debs/download.log" 2>&1) || { cat "$debs/download.log" >&2; exit 1; }
  done
  local d
  for d in "$debs"/*.deb; do dpkg -x "$d" "$sysroot"; done
  # The -dev packages' .so symlinks are absolute or relative into /usr/lib/mipsel-linux-gnu; they
  # resolve inside the sysroot because every target lives there too.
  echo "${pkgs[*]}" > "$stamp"
}

case "$what" in
  sysroot) make_sysroot ;;
  # The compile itself is described once, in agent/Makefile (sources and flags: agent/sources.mk).
  agent) make_sysroot; exec make -C agent -s mipsel MIPSEL_CC="$cc" ;;
  tests) make_sysroot; exec make -C agent -s mipsel-tests MIPSEL_CC="$cc" ;;
  *) echo "usage: $0 [sysroot|agent|tests]" >&2; exit 2 ;;
esac
