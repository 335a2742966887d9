#!/bin/sh
# Durability check of the apply module: runs test_apply's success scenario (apply, apply again,
# reset) under strace and requires that every rename of a uci config file (uci commit/import) is
# followed by an fsync of the config directory before the applying marker is removed.
# usage: check-durability.sh <test_apply binary> <standins-dir> <golden-dir>
set -eu
bin=$1 standins=$2 golden=$3
if ! command -v strace >/dev/null 2>&1; then
    echo "check-durability: FAILED: strace is missing (apt-get install strace; scripts/install-deps.sh names it)" >&2
    exit 1
fi
log=$(mktemp /tmp/fb-durability-XXXXXX)
trap 'rm -f "$log"' EXIT
FB_APPLY_ONLY=success_omega2 strace -f -y -qq -e trace=fsync,unlink,rename -o "$log" \
    "$bin" "$standins" "$golden" >/dev/null 2>&1 || { echo "check-durability: test run failed"; exit 1; }
python3 - "$log" <<'PY'
import re, sys
pending, unlinks, bad = [], 0, 0
for line in open(sys.argv[1]):
    m = re.search(r'rename\("[^"]*", "([^"]*/config)/[a-z]+"\) = 0', line)
    if m:
        pending.append(m.group(1))
        continue
    m = re.search(r'fsync\(\d+<([^>]*)>\) = 0', line)
    if m:
        pending = [d for d in pending if d != m.group(1)]
        continue
    if re.search(r'unlink\("[^"]*/state/applying"\) = 0', line):
        unlinks += 1
        if pending:
            bad += 1
            print("check-durability: marker removed before fsync of", pending[0])
        pending = []
if unlinks == 0:
    print("check-durability: no marker removal seen")
    sys.exit(1)
print("check-durability: %d marker removals, %d without a prior config directory fsync" % (unlinks, bad))
sys.exit(1 if bad else 0)
PY
