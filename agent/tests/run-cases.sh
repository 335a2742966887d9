#!/usr/bin/env bash
# Runs every case of a test binary that supports FB_APPLY_LIST/FB_APPLY_ONLY (test_apply) as its
# own process, JOBS at a time, and sums their "N passed, M failed" lines. The cases are bound by the
# stand-ins' start-up and the join timeouts they wait out, not by CPU, so JOBS may exceed the cores.
# usage: run-cases.sh JOBS command [args...]   (command may start with a wrapper: qemu-mipsel)
set -uo pipefail
. "$(dirname "$0")/tally.sh"
jobs=$1; shift
out=$(mktemp -d /tmp/fb-cases-XXXXXX)
trap 'rm -rf "$out"' EXIT
if ! FB_APPLY_LIST=1 "$@" >"$out/list" 2>"$out/list.err" || ! [ -s "$out/list" ]; then
  cat "$out/list.err" >&2
  echo "run-cases: could not list the cases of: $*" >&2
  exit 1
fi
run_case() {  # name
  local s=$SECONDS
  FB_APPLY_ONLY="$1" "${cmd[@]}" >"$out/$1.log" 2>&1
  echo $? >"$out/$1.rc"
  echo $((SECONDS - s)) >"$out/$1.secs"
}
export -f run_case
export out
# bash cannot export arrays: hand the command over through a NUL-separated file.
printf '%s\0' "$@" >"$out/cmd"
xargs -a "$out/list" -d '\n' -P "$jobs" -I{} bash -c \
  'mapfile -d "" -t cmd <"$out/cmd"; run_case "$1"' _ {}
passed=0; failed=0; bad=0; n=0
while IFS= read -r name; do
  n=$((n + 1))
  tally "case $name" "$(cat "$out/$name.rc" 2>/dev/null || echo missing)" "$out/$name.log"
done <"$out/list"
slowest=$(for f in "$out"/*.secs; do printf '%s %s\n' "$(cat "$f")" "$(basename "$f" .secs)"; done | sort -rn | head -3 | tr '\n' ' ')
echo "$n cases, $jobs at a time; slowest (s): $slowest"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$bad" -eq 0 ]
