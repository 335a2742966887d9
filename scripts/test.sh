#!/usr/bin/env bash
# The README's test command (also what CI runs through .ci/run): installs what is missing, lints,
# builds everything and runs every test. Stages that do not depend on each other run at the same
# time; each stage's time is printed, with the total. Full logs stay in a temporary directory
# (printed at the end).
#
#   deps          scripts/install-deps.sh
#   lint          swift format lint --strict (the repository's .swift-format)
#   then, at the same time:
#     swift-build   swift build --build-tests
#     c-native      make -C agent test            (unit tests, uci apply tests, durability check)
#     c-sanitize    make -C agent test-sanitize   (the unit tests under ASan and UBSan)
#     c-musl        make -C agent musl musl-dynamic test-musl test-musl-dynamic  (the Omega2 builds:
#                   mipsel musl soft-float, static and dynamic for OpenWRT >= 23.05; toolchain, musl
#                   and libraries by scripts/build-musl.sh, cached in agent/build/musl; unit and apply
#                   tests under qemu-mipsel, unit and apply tests again on the dynamic build under
#                   qemu-mipsel -L with its sysroot; file/readelf checks of both binaries)
#   swift-test    swift test (needs swift-build and the static musl agent from c-musl)
#   swift-test-dynamic  the mipsel end-to-end agent tests again, on the dynamic build
#   bench-smoke   fleet-bench run on 100 devices (2 of them real omega-agents, the rest in 2 worker
#                 processes), debug build: fails
#                 when any device does not end applied or any message is lost
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
logs=$(mktemp -d "${TMPDIR:-/tmp}/fleet-test-logs-XXXXXX")

# Summary lines shown for a stage that passed (everything is shown for one that failed).
summary() {  # log
  grep -E '^[0-9]+ passed, [0-9]+ failed$|cases, [0-9]+ at a time|^result +(PASS|FAIL)|^hello storm: (applied|end to end)|^check-durability:|^check-device-binaries:|^build-musl:|^musl:|Build complete|Test run with|^Executed ' "$1" || true
}

# Runs a stage in the background: its output goes to $logs/NAME.log, its exit code and seconds to
# $logs/NAME.rc and $logs/NAME.secs.
launch() {  # name command...
  local name=$1; shift
  echo "== $name: started ($*)"
  (
    s=$SECONDS
    set +e
    "$@" >"$logs/$name.log" 2>&1
    rc=$?
    echo $((SECONDS - s)) >"$logs/$name.secs"
    echo "$rc" >"$logs/$name.rc"
  ) &
}

# Waits for the named stages, printing which still run every 30 s; reports each as it ends.
failed=()
await() {  # name...
  local pending=("$@") still name last=$SECONDS
  while ((${#pending[@]})); do
    still=()
    for name in "${pending[@]}"; do
      if [ -f "$logs/$name.rc" ]; then
        report "$name"
      else
        still+=("$name")
      fi
    done
    pending=("${still[@]+"${still[@]}"}")
    if ((${#pending[@]})); then
      if ((SECONDS - last >= 30)); then
        echo "   ... $((SECONDS - start)) s: still running: ${pending[*]}"
        last=$SECONDS
      fi
      sleep 1
    fi
  done
  wait
}

report() {  # name
  local name=$1 rc secs
  rc=$(cat "$logs/$name.rc"); secs=$(cat "$logs/$name.secs")
  if [ "$rc" -eq 0 ]; then
    echo "== $name: passed in $secs s"
    summary "$logs/$name.log" | sed 's/^/   /'
  else
    echo "== $name: FAILED (exit $rc) in $secs s; its log ($logs/$name.log):"
    if [[ "$name" == swift-test* ]]; then
      # Swift Testing's log is long: the failures and the lines around them.
      grep -n -B2 -A12 -E '✘|error:|fatal error|Fatal error' "$logs/$name.log" | head -400 || tail -100 "$logs/$name.log"
    else
      cat "$logs/$name.log"
    fi
    failed+=("$name")
  fi
}

run_now() {  # name command...
  launch "$@"
  await "$1"
}

# In the foreground: sudo may ask for a password.
echo "== deps: scripts/install-deps.sh"
deps_start=$SECONDS
scripts/install-deps.sh
echo "$((SECONDS - deps_start))" >"$logs/deps.secs"
echo "== deps: ready in $(cat "$logs/deps.secs") s"
run_now lint swift format lint --strict --recursive Package.swift Sources Tests

launch swift-build swift build --build-tests
launch c-native make -C agent -s test
launch c-sanitize make -C agent -s test-sanitize
launch c-musl make -C agent -s musl musl-dynamic test-musl test-musl-dynamic
await swift-build c-native c-sanitize c-musl

if [ -f "$logs/swift-build.rc" ] && [ "$(cat "$logs/swift-build.rc")" -eq 0 ]; then
  FLEET_BIN_DIR="$(swift build --show-bin-path)"
  OMEGA_AGENT_MIPSEL="$PWD/agent/build/musl-static/omega-agent"
  export FLEET_BIN_DIR OMEGA_AGENT_MIPSEL
  run_now swift-test swift test --skip-build
  run_now swift-test-dynamic env OMEGA_AGENT_MIPSEL="$PWD/agent/build/musl-dynamic/omega-agent" \
    OMEGA_AGENT_SYSROOT="$PWD/agent/build/musl/sysroot" swift test --skip-build --filter '[Mm]ipsel'
  run_now bench-smoke "$FLEET_BIN_DIR/fleet-bench" run --devices 100 --agents 2 --devices-per-process 50 \
    --rate 50 --steady-seconds 2 \
    --idle 10 --push-timeout 60 --out "$logs/bench"
else
  echo "== swift-test, swift-test-dynamic, bench-smoke: not run (swift-build failed)"
  failed+=(swift-test swift-test-dynamic bench-smoke)
fi

echo "== stage times (s):$(for f in "$logs"/*.secs; do printf ' %s %s,' "$(basename "$f" .secs)" "$(cat "$f")"; done | sed 's/,$//')"
echo "== wall time: $((SECONDS - start)) s; logs in $logs"
if ((${#failed[@]})); then
  echo "== FAILED: ${failed[*]}"
  exit 1
fi
echo "== all stages passed"
