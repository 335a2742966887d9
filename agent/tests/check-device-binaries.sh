#!/usr/bin/env bash
# What the two Omega2 binaries are, read from their ELF headers (file, readelf), not from how they
# were built: the static one needs nothing from the firmware, the dynamic one only OpenWRT >= 23.05's
# musl loader and the sonames of its libmosquitto-ssl, libopenssl3 and libjson-c5 packages. Both are
# MIPS32r2 little-endian o32 with the soft-float ABI, and their stripped sizes are within budget.
# The sysroot's libraries (what the dynamic binary runs on under qemu-mipsel -L) are checked too:
# each has the soname it is installed as, the soft-float ABI, and needs nothing outside the sysroot.
# usage: check-device-binaries.sh STATIC DYNAMIC SYSROOT   (STATIC.stripped, DYNAMIC.stripped exist)
set -uo pipefail
static=$1 dynamic=$2 sysroot=$3
LOADER=/lib/ld-musl-mipsel-sf.so.1
# What OpenWRT's packages provide: libc (musl), libmosquitto-ssl, libopenssl3, libjson-c5.
ALLOWED_NEEDED="libc.so libmosquitto.so.1 libcrypto.so.3 libssl.so.3 libjson-c.so.5"
STATIC_BUDGET=2097152 DYNAMIC_BUDGET=102400
passed=0 failed=0

check() {  # description condition-result(0/1) [detail]
  if [ "$2" -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $1${3:+: $3}"
  fi
}

needed() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
interp() { readelf -l "$1" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p'; }

abi() {  # file label: MIPS32r2, little-endian ELF32, o32 soft float
  local f=$1 label=$2 hdr attrs
  hdr=$(readelf -h "$f" 2>&1); attrs=$(readelf -A "$f" 2>&1)
  grep -q 'Class: *ELF32' <<<"$hdr"; check "$label: ELF32" $?
  grep -q "little endian" <<<"$hdr"; check "$label: little endian" $?
  grep -q 'Machine: *MIPS R3000' <<<"$hdr"; check "$label: MIPS" $? "$(grep Machine <<<"$hdr")"
  grep -q 'mips32r2' <<<"$hdr"; check "$label: MIPS32r2 flags" $? "$(grep Flags <<<"$hdr")"
  grep -q 'o32' <<<"$hdr"; check "$label: o32" $? "$(grep Flags <<<"$hdr")"
  grep -q 'FP ABI: *Soft float' <<<"$attrs"; check "$label: soft-float ABI" $? "$(grep 'FP ABI' <<<"$attrs")"
}

size_ok() {  # file budget label
  local n
  n=$(stat -c %s "$1")
  [ "$n" -le "$2" ]; check "$3: $n bytes stripped, budget $2" $?
}

# --- static
abi "$static" static
out=$(file -b "$static")
grep -q 'statically linked' <<<"$out"; check "static: file says statically linked" $? "$out"
grep -q 'MIPS32 rel2' <<<"$out"; check "static: file says MIPS32 rel2" $? "$out"
[ -z "$(interp "$static")" ]; check "static: no interpreter" $? "$(interp "$static")"
[ -z "$(needed "$static")" ]; check "static: nothing NEEDED" $? "$(needed "$static" | tr '\n' ' ')"
size_ok "$static.stripped" $STATIC_BUDGET static

# --- dynamic
abi "$dynamic" dynamic
out=$(file -b "$dynamic")
grep -q 'dynamically linked' <<<"$out"; check "dynamic: file says dynamically linked" $? "$out"
grep -q "interpreter $LOADER" <<<"$out"; check "dynamic: file names $LOADER" $? "$out"
[ "$(interp "$dynamic")" = "$LOADER" ]; check "dynamic: PT_INTERP is $LOADER" $? "$(interp "$dynamic")"
deps=$(needed "$dynamic" | sort | tr '\n' ' ')
for d in $deps; do
  case " $ALLOWED_NEEDED " in *" $d "*) ok=0 ;; *) ok=1 ;; esac
  check "dynamic: NEEDED $d is an OpenWRT package's soname" $ok
done
for d in libc.so libmosquitto.so.1 libcrypto.so.3 libjson-c.so.5; do
  grep -qw -- "$d" <<<"$deps"; check "dynamic: NEEDED has $d" $? "$deps"
done
! readelf -d "$dynamic" | grep -Eq '\((RPATH|RUNPATH)\)'; check "dynamic: no RPATH/RUNPATH" $?
size_ok "$dynamic.stripped" $DYNAMIC_BUDGET dynamic

# --- the sysroot it runs on under qemu-mipsel -L
[ -f "$sysroot$LOADER" ]; check "sysroot: has $LOADER" $?
abi "$sysroot$LOADER" "sysroot $LOADER"
for lib in libmosquitto.so.1 libcrypto.so.3 libssl.so.3 libjson-c.so.5; do
  f="$sysroot/usr/lib/$lib"
  [ -f "$f" ]; check "sysroot: has /usr/lib/$lib" $? || continue
  soname=$(readelf -d "$f" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  [ "$soname" = "$lib" ]; check "sysroot: $lib has soname $lib" $? "$soname"
  abi "$f" "sysroot $lib"
  for d in $(needed "$f"); do
    case " $ALLOWED_NEEDED " in *" $d "*) ok=0 ;; *) ok=1 ;; esac
    check "sysroot: $lib needs $d, an OpenWRT package's soname" $ok
  done
done

echo "check-device-binaries: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
