#!/usr/bin/env bash
# The OpenWRT package recipe (examples/openwrt/omega-agent) checked against the SDK's conventions
# without an SDK: GNU make reads it through a stand-in of the SDK's rules.mk and package.mk
# (tests/openwrt-sdk-stub), which hands each step over: its fields, Build/Prepare, Build/Configure,
# Build/Compile (the agent, built by the copied tree with this host's cc) and Package/install (the
# package's file tree). What is checked, as net/mosquitto in openwrt/packages does it:
# - PKG_NAME, PKG_VERSION, PKG_RELEASE, TITLE, CATEGORY, SECTION set; PKG_LICENSE is the SPDX id the
#   repository's LICENSE file is, and PKG_LICENSE_FILES names it in the prepared tree
# - PKG_FILE_DEPENDS covers every file Build/Prepare copies that the build reads (sources, headers,
#   sources.mk, Makefile, tests/apply.mk)
# - DEPENDS: libmosquitto-ssl, libopenssl, libjson-c, rpcd-mod-iwinfo; EXTRA_DEPENDS libopenssl3;
#   Build/Configure refuses an SDK whose OpenSSL is older than 3 and accepts 3
# - conffiles lists files only, each installed by the package; /etc/omega-agent is kept across
#   sysupgrade by /lib/upgrade/keep.d/omega-agent instead
# - the install tree: binary, init script, uci config (0600), first-boot uci-defaults script, keep.d;
#   ca.crt and service.pub when FLEETBOOTSTRAP_CA / FLEETBOOTSTRAP_SERVICE_PUB are given
# usage: check-openwrt-package.sh RECIPE_DIR SDK_STUB_DIR
set -uo pipefail
recipe=$(cd "$1" && pwd) stub=$(cd "$2" && pwd)
repo=$(cd "$recipe/../../.." && pwd)
work=$(mktemp -d /tmp/fb-openwrt-pkg-XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { if eval "$2"; then ok; else fail "$1"; fi; }

sdk() {  # target [make variables...]: the recipe's step through the stand-in SDK
  local target=$1; shift
  make -s -C "$recipe" -f Makefile TOPDIR="$stub" SDK_WORK="$work" "$@" "$target"
}

# --- fields
if ! sdk sdk-dump >"$work/dump" 2>"$work/dump.err"; then
  echo "FAIL: make could not read the recipe: $(cat "$work/dump.err")"
  echo "$passed passed, 1 failed"
  exit 1
fi
field() { sed -n "s/^$1=//p" "$work/dump"; }
block() { sed -n "/^$1<<\$/,/^$1>>\$/p" "$work/dump" | sed '1d;$d'; }
for f in PKG_NAME PKG_VERSION PKG_RELEASE PKG_MAINTAINER SECTION CATEGORY TITLE; do
  check "$f is set" '[ -n "$(field $f)" ]'
done
check "PKG_NAME is omega-agent" '[ "$(field PKG_NAME)" = omega-agent ]'
check "PKG_RELEASE is a number" '[[ "$(field PKG_RELEASE)" =~ ^[0-9]+$ ]]'
check "a description" '[ -n "$(block DESCRIPTION | tr -d "[:space:]")" ]'

# PKG_LICENSE: the SPDX id of the repository's LICENSE.
license_id() {
  if grep -q 'Apache License' "$1" && grep -q 'Version 2.0, January 2004' "$1"; then echo Apache-2.0
  elif grep -q '^MIT License' "$1" || grep -q 'Permission is hereby granted, free of charge' "$1"; then echo MIT
  else echo unknown; fi
}
check "LICENSE at the repository root" '[ -f "$repo/LICENSE" ]'
check "PKG_LICENSE ($(field PKG_LICENSE)) is LICENSE's SPDX id ($(license_id "$repo/LICENSE"))" \
  '[ "$(field PKG_LICENSE)" = "$(license_id "$repo/LICENSE")" ]'

# DEPENDS
deps=" $(field DEPENDS) "
for d in +libmosquitto-ssl +libopenssl +libjson-c +rpcd-mod-iwinfo; do
  check "DEPENDS has $d" '[[ "$deps" == *" $d "* ]]'
done
check "EXTRA_DEPENDS names libopenssl3 (OpenSSL >= 3)" '[[ " $(field EXTRA_DEPENDS) " == *" libopenssl3"* ]]'

# --- Build/Prepare: the tree the SDK builds from
build="$work/build/omega-agent-$(field PKG_VERSION)"
if sdk sdk-prepare >"$work/prepare.log" 2>&1; then ok; else fail "Build/Prepare: $(cat "$work/prepare.log")"; fi
for lf in $(field PKG_LICENSE_FILES); do
  check "PKG_LICENSE_FILES: $lf is in the prepared tree" '[ -f "$build/$lf" ]'
done
check "PKG_LICENSE_FILES is set" '[ -n "$(field PKG_LICENSE_FILES)" ]'
# Every file of the prepared tree that the build reads lies under a PKG_FILE_DEPENDS path.
read -r -a fdeps <<<"$(field PKG_FILE_DEPENDS)"
covered() {  # repository path
  local p real
  real=$(realpath "$1")
  for p in "${fdeps[@]}"; do
    [ -e "$p" ] || continue
    p=$(realpath "$p")
    [ "$real" = "$p" ] && return 0
    [[ "$real" == "$p"/* ]] && return 0
  done
  return 1
}
for p in "${fdeps[@]}"; do check "PKG_FILE_DEPENDS: $p exists" '[ -e "$p" ]'; done
for f in "$repo"/agent/src/*.c "$repo"/agent/src/*.h "$repo/agent/sources.mk" "$repo/agent/Makefile" \
  "$repo/agent/tests/apply.mk" "$repo/LICENSE"; do
  check "PKG_FILE_DEPENDS covers ${f#"$repo"/}" 'covered "$f"'
done

# --- Build/Configure: OpenSSL >= 3 only
mkdir -p "$work/staging/usr/include/openssl"
printf '# define OPENSSL_VERSION_MAJOR  3\n# define OPENSSL_VERSION_MINOR  0\n' >"$work/staging/usr/include/openssl/opensslv.h"
check "Build/Configure accepts OpenSSL 3" 'sdk sdk-configure >"$work/configure.log" 2>&1'
printf '# define OPENSSL_VERSION_NUMBER  0x1010114fL\n' >"$work/staging/usr/include/openssl/opensslv.h"
check "Build/Configure refuses OpenSSL 1.1 (OpenWRT 22.03)" '! sdk sdk-configure >"$work/configure.log" 2>&1'
check "... saying why" 'grep -q "OpenSSL is older than 3" "$work/configure.log"'

# --- Build/Compile: the prepared tree builds the agent (this host's cc as TARGET_CC)
if sdk sdk-compile >"$work/compile.log" 2>&1 && [ -x "$build/omega-agent" ]; then ok; else
  fail "Build/Compile: $(tail -20 "$work/compile.log")"
fi

# --- Package/install
root="$work/root"
printf 'ca\n' >"$work/ca.crt"; printf 'pub\n' >"$work/service.pub"
if sdk sdk-install SDK_ROOT="$root" FLEETBOOTSTRAP_CA="$work/ca.crt" FLEETBOOTSTRAP_SERVICE_PUB="$work/service.pub" \
  >"$work/install.log" 2>&1; then ok; else fail "Package/install: $(cat "$work/install.log")"; fi
mode() { stat -c %a "$root$1" 2>/dev/null; }
check "/usr/sbin/omega-agent, executable" '[ "$(mode /usr/sbin/omega-agent)" = 755 ]'
check "/etc/init.d/omega-agent, executable" '[ "$(mode /etc/init.d/omega-agent)" = 755 ]'
check "/etc/config/omega-agent, 0600 (it holds passwords)" '[ "$(mode /etc/config/omega-agent)" = 600 ]'
check "the first-boot script in /etc/uci-defaults, executable" \
  '[ "$(mode /etc/uci-defaults/90-omega-agent)" = 755 ] && cmp -s "$root/etc/uci-defaults/90-omega-agent" "$recipe/files/omega-agent.uci-defaults"'
check "/lib/upgrade/keep.d/omega-agent keeps /etc/omega-agent/" 'grep -qx "/etc/omega-agent/" "$root/lib/upgrade/keep.d/omega-agent"'
check "ca.crt installed when given" 'cmp -s "$root/etc/omega-agent/ca.crt" "$work/ca.crt"'
check "service.pub installed when given" 'cmp -s "$root/etc/omega-agent/service.pub" "$work/service.pub"'
# The config's paths: the files the package installs (when given) or the image must bring.
for opt in tls_ca service_pubkey; do
  path=$(sed -n "s/^[[:space:]]*option $opt '\(.*\)'$/\1/p" "$root/etc/config/omega-agent")
  check "option $opt ($path) is a file the package installs" '[ -f "$root$path" ]'
done
root2="$work/root2"
if sdk sdk-install SDK_ROOT="$root2" >"$work/install2.log" 2>&1; then ok; else fail "Package/install without CA: $(cat "$work/install2.log")"; fi
check "without FLEETBOOTSTRAP_CA nothing is invented" '[ ! -e "$root2/etc/omega-agent/ca.crt" ]'

# conffiles: files only, each one installed.
n=0
while IFS= read -r c; do
  c=$(printf '%s' "$c" | tr -d '[:space:]')
  [ -n "$c" ] || continue
  n=$((n + 1))
  check "conffiles: $c is a file, not a directory" '[[ "$c" != */ ]] && [ ! -d "$root$c" ]'
  check "conffiles: $c is installed" '[ -f "$root$c" ]'
done < <(block CONFFILES)
check "conffiles lists /etc/config/omega-agent" '[ "$n" -ge 1 ] && block CONFFILES | grep -qx "/etc/config/omega-agent"'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
