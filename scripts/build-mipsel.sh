#!/usr/bin/env bash
# Cross-builds omega-agent for mipsel (Onion Omega2: MIPS 24KEc little-endian) with Debian's
# mipsel-linux-gnu-gcc against a sysroot of Debian's mipsel libmosquitto, libssl and json-c .debs.
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

make_sysroot
[ "$what" = sysroot ] && exit 0

libdir="$sysroot/usr/lib/mipsel-linux-gnu"
flags=(-std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Wall -Wextra -Werror -Os -ffunction-sections -fdata-sections -Iagent/src
       -I"$sysroot/usr/include" -I"$sysroot/usr/include/mipsel-linux-gnu")
ldflags=(-Wl,--gc-sections -L"$libdir" -Wl,-rpath-link,"$libdir" -Wl,-rpath-link,"$sysroot/lib/mipsel-linux-gnu"
         -lmosquitto -lcrypto -ljson-c)
# Core sources: everything but main.c and the uci module; APPLY_SRCS (from agent/Makefile) is the uci
# module, or the unit-test fake until the module lands.
core=()
for f in agent/src/*.c; do
  case "$(basename "$f")" in main.c|apply*.c|uci*.c|proc*.c) continue ;; esac
  core+=("$f")
done
apply_real=(); for f in agent/src/apply*.c agent/src/uci*.c agent/src/proc*.c; do [ -f "$f" ] && apply_real+=("$f"); done
if [ -n "${APPLY_SRCS:-}" ]; then read -r -a apply <<<"$APPLY_SRCS"; apply=("${apply[@]/#/agent/}");
elif ((${#apply_real[@]})); then apply=("${apply_real[@]}"); else apply=(agent/tests/fake_apply.c); fi

case "$what" in
  agent)
    mkdir -p agent/build/mipsel
    "$cc" "${flags[@]}" -o agent/build/mipsel/omega-agent agent/src/main.c "${core[@]}" "${apply[@]}" "${ldflags[@]}"
    "${cc%gcc}strip" -o agent/build/mipsel/omega-agent.stripped agent/build/mipsel/omega-agent
    echo "build-mipsel: agent/build/mipsel/omega-agent ($(stat -c %s agent/build/mipsel/omega-agent.stripped) bytes stripped)"
    ;;
  tests)
    mkdir -p agent/build/mipsel-tests
    # Core unit tests use the fake apply; test_apply.c has its own rules in agent/tests/apply.mk.
    for t in agent/tests/test_*.c; do
      name=$(basename "$t" .c)
      case "$name" in test_apply*|test_uci*|test_support) continue ;; esac
      impl=(agent/tests/fake_apply.c)
      "$cc" "${flags[@]}" -Iagent/src -Iagent/tests -o "agent/build/mipsel-tests/$name" "$t" agent/tests/testlib.c \
        "${core[@]}" "${impl[@]}" "${ldflags[@]}"
    done
    ;;
  *) echo "usage: $0 [sysroot|agent|tests]" >&2; exit 2 ;;
esac
