#!/usr/bin/env bash
# Runs test binaries one after another (optionally through a wrapper such as qemu-mipsel) and sums
# their "N passed, M failed" lines. Usage: run-tests.sh "<wrapper or empty>" test...
set -uo pipefail
. "$(dirname "$0")/tally.sh"
wrapper=$1; shift
passed=0; failed=0; bad=0
log=$(mktemp /tmp/fb-tests-XXXXXX)
trap 'rm -f "$log"' EXIT
for t in "$@"; do
  $wrapper "$t" >"$log" 2>&1
  rc=$?
  tally "$(basename "$t")" "$rc" "$log"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$bad" -eq 0 ]
