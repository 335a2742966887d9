#!/usr/bin/env bash
# Example: define the premises Wi-Fi profile "office" and hand it to the warehouse group.
# The key is read from a 0600 file (or --key-stdin, or a prompt with echo off); it is sealed to the
# service public key on this machine before it is published, and never appears in argv.
set -euo pipefail
: "${FLEETCTL_PASSWORD:?set the broker password of your operator account}"
umask 077
printf '%s\n' 'correct horse battery staple' > office.key   # or write it with an editor

fleetctl profile add office --ssid "Office" --encryption psk2 --key-file office.key \
    --service-fingerprint 3f2a-91c0-7d44-e810          # compare with 'fleetctl keys create' output
shred -u office.key 2>/dev/null || rm -f office.key
fleetctl assign office --group warehouse
fleetctl push --group warehouse --timeout 120
fleetctl status
