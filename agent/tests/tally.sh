# Sourced by run-tests.sh and run-cases.sh: one test run's verdict from its log.
# tally NAME EXIT_CODE LOG adds the log's last "N passed, M failed" line to $passed and $failed, and
# for a run that exited non-zero or printed no such line counts $bad and shows the log's tail.
tally() {
  local name=$1 rc=$2 log=$3 line rest
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
  if [ -n "$line" ]; then
    passed=$((passed + ${line%% *}))
    rest=${line#* passed, }
    failed=$((failed + ${rest%% *}))
  fi
  if [ "$rc" != 0 ] || [ -z "$line" ]; then
    bad=$((bad + 1))
    tail -40 "$log"
    echo "FAILED: $name (exit $rc)"
  fi
}
