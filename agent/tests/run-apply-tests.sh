#!/bin/sh
# Runs the uci apply module tests: native, mipsel under qemu, or both (default).
# usage: agent/tests/run-apply-tests.sh [native|mipsel|all]
# MIPSEL_SYSROOT: directory with the mipsel json-c and OpenSSL headers/libraries (default agent/build/sysroot).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
what=${1:-all}
case "$what" in
native) make -f "$here/apply.mk" test-apply ;;
mipsel) make -f "$here/apply.mk" test-apply-mipsel ${MIPSEL_SYSROOT:+MIPSEL_SYSROOT="$MIPSEL_SYSROOT"} ;;
all)
    make -f "$here/apply.mk" test-apply
    make -f "$here/apply.mk" test-apply-mipsel ${MIPSEL_SYSROOT:+MIPSEL_SYSROOT="$MIPSEL_SYSROOT"}
    ;;
*) echo "usage: $0 [native|mipsel|all]" >&2; exit 2 ;;
esac
