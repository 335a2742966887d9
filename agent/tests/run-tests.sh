#!/usr/bin/env bash
# Runs test binaries (optionally through a wrapper such as qemu-mipsel -L SYSROOT) and sums
# their "N passed, M failed" lines. Usage: run-tests.sh "<wrapper or empty>" test...
set -uo pipefail
wrapper=$1; shift
passed=0; failed=0; crashed=0
for t in "$@"; do
  out=$($wrapper "$t" 2>&1); rc=$?
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    printf '%s\n' "$out" | tail -40
    echo "FAILED: $(basename "$t") (exit $rc)"
  fi
  if [ -n "$line" ]; then
    passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
    failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
  fi
  [ $rc -eq 0 ] && [ -n "$line" ] || crashed=$((crashed + 1))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$crashed" -eq 0 ]
