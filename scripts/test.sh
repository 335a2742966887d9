#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/install-deps.sh

echo "== C agent: unit tests (native, ASan+UBSan), mipsel cross-build and tests under qemu"
if [ -f agent/Makefile ]; then
  make -C agent -s test
  make -C agent -s test-sanitize
  make -C agent -s mipsel test-mipsel
fi

echo "== Swift: build and test"
swift build --build-tests
export FLEET_BIN_DIR="$(swift build --show-bin-path)"
export OMEGA_AGENT_MIPSEL="$PWD/agent/build/mipsel/omega-agent"
set +e
swift test --no-parallel 2>&1 | tee "${TMPDIR:-/tmp}/fleet-swift-test.log"
status=${PIPESTATUS[0]}
set -e
echo "== wall time: $(( $(date +%s) - start )) s"
exit "$status"
