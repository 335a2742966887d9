#!/usr/bin/env bash
# The Omega2's real ABI: mipsel, musl, soft-float (MIPS32r2, the MT7688's 24KEc). Prepares what
# agent/Makefile's musl targets link against, under agent/build/musl/ (kept between runs):
#   toolchain  zig from PyPI's `ziglang` wheel (pip download, unpacked; nothing installed system-wide):
#              its `zig cc` brings musl and compiler-rt for mipsel-linux-musl with soft float
#   sources    OpenSSL, json-c and mosquitto from Debian's own source packages (bookworm), fetched
#              with a private deb-src list and apt state under agent/build/musl/apt (the machine's apt
#              configuration is not touched; no root needed)
#   libs       static libcrypto/libssl (trimmed to what the agent needs), libjson-c, libmosquitto
#              into agent/build/musl/static
#   shared     what the dynamic build for OpenWRT >= 23.05 links against and runs on: the same three
#              libraries as shared objects with OpenWRT's sonames (libcrypto.so.3, libssl.so.3,
#              libjson-c.so.5, libmosquitto.so.1) into agent/build/musl/shared, and a device-like
#              sysroot for `qemu-mipsel -L` in agent/build/musl/sysroot: musl's own loader and libc
#              (Debian's musl source package) as /lib/ld-musl-mipsel-sf.so.1, the libraries in /usr/lib
# Usage: scripts/build-musl.sh [toolchain|sources|libs|shared]   (default: libs; each implies the
# toolchain and the sources)
# Prints how long each step took; a step whose output exists is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
top="$root/agent/build/musl"
what="${1:-libs}"
ZIG_VERSION="${ZIG_VERSION:-0.13.0}"
# Static executables only: position-dependent code without MIPS abicalls (no GOT or $t9 calls),
# about 14% smaller than the PIC default for the same source.
TARGET=(-target mipsel-linux-musl -mcpu=mips32r2+soft_float -fno-pic -fno-pie -mno-abicalls)
# Shared objects and the dynamic executable: PIC with abicalls, as OpenWRT's own packages are built.
TARGET_SHARED=(-target mipsel-linux-musl -mcpu=mips32r2+soft_float -fPIC)
jobs=$(nproc 2>/dev/null || echo 2)
mkdir -p "$top"

step() {  # name: prints the step's time when it ends
  local name=$1; shift
  local s=$SECONDS
  echo "build-musl: $name ..."
  "$@"
  echo "build-musl: $name done in $((SECONDS - s)) s"
}

toolchain() {
  local dir="$top/zig-$ZIG_VERSION"
  if ! [ -x "$dir/ziglang/zig" ]; then
    local py=/usr/bin/python3
    "$py" -m pip --version >/dev/null 2>&1 ||
      { echo "build-musl: pip is missing (apt-get install python3-pip; scripts/install-deps.sh)" >&2; exit 1; }
    rm -rf "$dir" "$top/wheel" && mkdir -p "$top/wheel"
    "$py" -m pip download -q --no-deps --only-binary=:all: -d "$top/wheel" "ziglang==$ZIG_VERSION"
    "$py" - "$top/wheel" "$dir" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "ziglang-*.whl"))[0]
zipfile.ZipFile(wheel).extractall(sys.argv[2])
PY
    chmod +x "$dir/ziglang/zig"
    rm -rf "$top/wheel"
  fi
  # Wrappers, so that every build system sees one compiler and one archiver (written every time:
  # cheap, and they follow TARGET).
  mkdir -p "$top/bin"
  # zig's caches (musl and compiler-rt built for the target on first use) stay under agent/build too.
  local env="ZIG_GLOBAL_CACHE_DIR=$top/zig-cache ZIG_LOCAL_CACHE_DIR=$top/zig-cache"
  # The target flags come last, so that they win over a build system's own -fPIC.
  printf '#!/bin/sh\n%s exec "%s" cc "$@" %s\n' "$env" "$dir/ziglang/zig" "${TARGET[*]}" >"$top/bin/cc"
  printf '#!/bin/sh\n%s exec "%s" cc "$@" %s\n' "$env" "$dir/ziglang/zig" "${TARGET_SHARED[*]}" >"$top/bin/cc-pic"
  # cc-shared links against musl's real libc.so (the sysroot's loader, built by musl_lib) ahead of
  # zig's link-time stub: the stub's symbol list for mips32 lacks the time64 functions
  # (__clock_gettime64 ...) that musl's headers redirect to. Compile-only calls are left alone.
  cat >"$top/bin/cc-shared" <<EOF
#!/bin/sh
libc="$top/sysroot/lib/ld-musl-mipsel-sf.so.1"
link=1
for a in "\$@"; do case "\$a" in -c|-S|-E|-M|-MM) link=0 ;; esac; done
if [ \$link = 1 ] && [ -f "\$libc" ]; then set -- "\$@" "\$libc"; fi
$env exec "$dir/ziglang/zig" cc "\$@" ${TARGET_SHARED[*]}
EOF
  printf '#!/bin/sh\n%s exec "%s" ar "$@"\n' "$env" "$dir/ziglang/zig" >"$top/bin/ar"
  printf '#!/bin/sh\n%s exec "%s" ranlib "$@"\n' "$env" "$dir/ziglang/zig" >"$top/bin/ranlib"
  printf '#!/bin/sh\n# strip IN OUT\n%s exec "%s" objcopy --strip-all "$1" "$2"\n' "$env" "$dir/ziglang/zig" >"$top/bin/strip"
  chmod +x "$top/bin/cc" "$top/bin/cc-pic" "$top/bin/cc-shared" "$top/bin/ar" "$top/bin/ranlib" "$top/bin/strip"
}

SOURCE_PACKAGES=(openssl json-c mosquitto musl)

sources() {
  local missing=() pkg
  for pkg in "${SOURCE_PACKAGES[@]}"; do
    # (a cache from before the per-package markers: .complete names what was unpacked)
    if [ -d "$top/src/$pkg" ] && grep -qs "^${pkg}_" "$top/src/.complete"; then touch "$top/src/$pkg/.unpacked"; fi
    [ -f "$top/src/$pkg/.unpacked" ] || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  local apt="$top/apt"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/parts" "$top/src"
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    >"$apt/parts/fleetbootstrap-src.sources"
  local opts=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$apt/parts"
              -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" -o Debug::NoLocking=1
              -o APT::Sandbox::User="$(id -un)")
  ls "$apt/lists/"*Sources* >/dev/null 2>&1 || apt-get "${opts[@]}" -qq update
  # (lists kept from an earlier run may name versions the mirror no longer has: update once and retry)
  (cd "$top/src" && apt-get "${opts[@]}" -qq source --download-only "${missing[@]}") ||
    { apt-get "${opts[@]}" -qq update &&
      (cd "$top/src" && apt-get "${opts[@]}" -qq source --download-only "${missing[@]}"); }
  local t
  for pkg in "${missing[@]}"; do
    t=$(ls "$top/src/${pkg}_"*.orig.tar.gz | head -1)
    rm -rf "$top/src/$pkg" && mkdir -p "$top/src/$pkg" && tar -xzf "$t" -C "$top/src/$pkg" --strip-components=1
    touch "$top/src/$pkg/.unpacked"
  done
  ls "$top/src"/*.dsc | xargs -n1 basename >"$top/src/.complete"
}

src_dir() { echo "$top/src/$1"; }

openssl_lib() {
  local prefix=$1 shared=$2 dir
  dir=$(src_dir openssl)
  local build="$top/obj/openssl-$shared" cc="$top/bin/cc"
  local extra=()
  rm -rf "$build" && mkdir -p "$build"
  if [ "$shared" = shared ]; then
    cc="$top/bin/cc-shared"
    # Configure's linux-mips32 links the shared objects with -latomic; zig's compiler-rt already has
    # the __atomic_* functions, so an empty libatomic.a satisfies it.
    mkdir -p "$build/stub" && "$top/bin/ar" rc "$build/stub/libatomic.a"
    extra=(-L"$build/stub")
  fi
  # What the agent needs: X25519, HKDF-SHA256, ChaCha20-Poly1305, SHA-256, and a TLS 1.2/1.3 client
  # (ECDHE with RSA or ECDSA certificates, AES-GCM or ChaCha20; OCSP stays, libmosquitto uses it). No
  # error strings (no-err): the agent logs OpenSSL's numeric codes. Everything else is left out, as
  # OpenWRT's package does with its own no-* list. (The UI console stays: libmosquitto refers to it.
  # BROKEN_CLANG_ATOMICS: zig's compiler-rt for mips32 has no __atomic_is_lock_free; OpenSSL then
  # uses its lock-based fallback, as it is meant to for such targets.)
  (cd "$build" && CC="$cc" AR="$top/bin/ar" RANLIB="$top/bin/ranlib" \
    "$dir/Configure" linux-mips32 --prefix="$prefix" --libdir=lib --openssldir=/etc/ssl "$shared" \
    no-asm no-tests no-engine no-dynamic-engine no-afalgeng no-async no-comp no-legacy no-ssl3 no-dtls \
    no-srp no-srtp no-sctp no-psk no-gost no-idea no-md2 no-md4 no-mdc2 no-rc2 no-rc4 no-rc5 no-bf no-cast \
    no-des no-dsa no-seed no-sm2 no-sm3 no-sm4 no-aria no-camellia no-whirlpool no-rmd160 no-blake2 \
    no-siphash no-scrypt no-ec2m no-cms no-ts no-nextprotoneg no-ct no-weak-ssl-ciphers \
    no-dh no-tls1 no-tls1_1 no-dgram no-ocb no-siv no-cmac no-rfc3779 no-ssl-trace no-err no-filenames \
    no-module no-multiblock no-cmp no-deprecated \
    -Oz -ffunction-sections -fdata-sections -DBROKEN_CLANG_ATOMICS ${extra[@]+"${extra[@]}"} \
    >"$build/configure.log" 2>&1) ||
    { tail -30 "$build/configure.log" >&2; exit 1; }
  if [ "$shared" = shared ]; then
    # Only the shared objects (build_libs would compile every source twice, for the .a as well),
    # installed by hand: the two libraries with their sonames and the headers (the source tree's and
    # the generated ones).
    make -C "$build" -s -j"$jobs" build_generated >"$build/make.log" 2>&1 &&
      make -C "$build" -s -j"$jobs" libcrypto.so libssl.so >>"$build/make.log" 2>&1 ||
      { tail -40 "$build/make.log" >&2; exit 1; }
    mkdir -p "$prefix/lib" "$prefix/include/openssl"
    cp "$build/libcrypto.so.3" "$build/libssl.so.3" "$prefix/lib/"
    ln -sf libcrypto.so.3 "$prefix/lib/libcrypto.so" && ln -sf libssl.so.3 "$prefix/lib/libssl.so"
    cp "$dir"/include/openssl/*.h "$build"/include/openssl/*.h "$prefix/include/openssl/"
  else
    make -C "$build" -s -j"$jobs" build_libs >"$build/make.log" 2>&1 || { tail -40 "$build/make.log" >&2; exit 1; }
    make -C "$build" -s install_dev >"$build/install.log" 2>&1 || { tail -20 "$build/install.log" >&2; exit 1; }
  fi
}

jsonc_lib() {  # prefix static|shared
  local prefix=$1 kind=$2 dir
  dir=$(src_dir json-c)
  local build="$top/obj/json-c-$kind" cc="$top/bin/cc" shared=OFF static=ON
  [ "$kind" = shared ] && { cc="$top/bin/cc-shared"; shared=ON; static=OFF; }
  rm -rf "$build" && mkdir -p "$build"
  command -v cmake >/dev/null || { echo "build-musl: cmake is missing (apt-get install cmake; scripts/install-deps.sh)" >&2; exit 1; }
  (cd "$build" && cmake "$dir" -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=mips \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_AR="$top/bin/ar" -DCMAKE_RANLIB="$top/bin/ranlib" \
    -DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib \
    -DBUILD_SHARED_LIBS=$shared -DBUILD_STATIC_LIBS=$static -DBUILD_TESTING=OFF -DBUILD_APPS=OFF \
    -DDISABLE_EXTRA_LIBS=ON -DDISABLE_WERROR=ON \
    -DCMAKE_SHARED_LINKER_FLAGS=-Wl,--undefined-version >"$build/configure.log" 2>&1) ||
    { tail -30 "$build/configure.log" >&2; exit 1; }
  make -C "$build" -s -j"$jobs" install >"$build/make.log" 2>&1 || { tail -40 "$build/make.log" >&2; exit 1; }
}

mosquitto_lib() {  # prefix static|shared
  local prefix=$1 kind=$2 dir
  dir=$(src_dir mosquitto)
  local build="$top/obj/mosquitto-$kind" cc="$top/bin/cc" static=yes shared=no target=libmosquitto.a
  [ "$kind" = shared ] && { cc="$top/bin/cc-shared"; static=no; shared=yes; target=libmosquitto.so.1; }
  rm -rf "$build" && cp -a "$dir" "$build"
  # The client library only: TLS on, no cJSON, no SRV lookups (c-ares), no websockets.
  make -C "$build/lib" -s -j"$jobs" CC="$cc" AR="$top/bin/ar" CROSS_COMPILE= \
    WITH_TLS=yes WITH_TLS_PSK=no WITH_THREADING=yes WITH_SRV=no WITH_CJSON=no WITH_WEBSOCKETS=no \
    WITH_SOCKS=no WITH_STATIC_LIBRARIES=$static WITH_SHARED_LIBRARIES=$shared WITH_DOCS=no \
    CFLAGS="-Os -ffunction-sections -fdata-sections -I$prefix/include" \
    LDFLAGS="-L$prefix/lib" "$target" >"$build/make.log" 2>&1 || { tail -40 "$build/make.log" >&2; exit 1; }
  mkdir -p "$prefix/include" "$prefix/lib"
  cp "$build/lib/$target" "$prefix/lib/"
  [ "$kind" = static ] || ln -sf libmosquitto.so.1 "$prefix/lib/libmosquitto.so"
  cp "$build/include/mosquitto.h" "$build/include/mqtt_protocol.h" "$prefix/include/"
}

# Each library is rebuilt only when its stamp is missing (delete agent/build/musl/static to redo all).
lib_step() {  # name stamp function args...
  local name=$1 stamp=$2; shift 2
  [ -f "$stamp" ] && return 0
  step "$name" "$@"
  touch "$stamp"
}

static_libs() {
  local prefix="$top/static"
  mkdir -p "$prefix"
  # json-c's configure is a long series of small compiles, latency-bound: it runs beside OpenSSL's
  # build (they install different files). libmosquitto needs OpenSSL's headers, so it comes after.
  lib_step "json-c (static)" "$prefix/.json-c" jsonc_lib "$prefix" static &
  local jsonc=$!
  lib_step "OpenSSL (static, trimmed)" "$prefix/.openssl" openssl_lib "$prefix" no-shared
  wait "$jsonc" || { echo "build-musl: the json-c build failed" >&2; exit 1; }
  lib_step "libmosquitto (static)" "$prefix/.mosquitto" mosquitto_lib "$prefix" static
}

# musl's dynamic loader and libc (one file) from Debian's musl source package, built with zig's cc:
# what /lib/ld-musl-mipsel-sf.so.1 is on the device. zig brings musl only for static links and as
# link-time stubs, so the test sysroot needs a real one.
musl_lib() {
  local sysroot=$1 dir build="$top/obj/musl"
  dir=$(src_dir musl)
  rm -rf "$build" && mkdir -p "$build"
  # soname libc.so: what an executable linked against it names in NEEDED, as on OpenWRT.
  (cd "$build" && "$dir/configure" --target=mipsel-linux-muslsf CC="$top/bin/cc-pic" AR="$top/bin/ar" \
    RANLIB="$top/bin/ranlib" --prefix=/ --syslibdir=/lib --disable-static CFLAGS=-Os LDFLAGS=-Wl,-soname,libc.so \
    >"$build/configure.log" 2>&1) || { tail -30 "$build/configure.log" >&2; exit 1; }
  grep -q 'mips variant: mipsel-sf' "$build/configure.log" ||
    { echo "build-musl: musl is not configured for mipsel soft-float" >&2; tail -5 "$build/configure.log" >&2; exit 1; }
  make -C "$build" -s -j"$jobs" lib/libc.so >"$build/make.log" 2>&1 || { tail -40 "$build/make.log" >&2; exit 1; }
  mkdir -p "$sysroot/lib"
  cp "$build/lib/libc.so" "$sysroot/lib/ld-musl-mipsel-sf.so.1"
  ln -sf ld-musl-mipsel-sf.so.1 "$sysroot/lib/libc.so"
}

# The libraries OpenWRT's libopenssl3, libjson-c5 and libmosquitto-ssl packages install, with their
# sonames, into agent/build/musl/shared (headers and link-time .so) and the sysroot's /usr/lib.
shared_libs() {
  local prefix="$top/shared" sysroot="$top/sysroot"
  mkdir -p "$prefix" "$sysroot/usr/lib"
  # musl first: everything after links against it (bin/cc-shared). json-c's configure (latency-bound)
  # runs beside OpenSSL's build.
  lib_step "musl loader and libc (shared)" "$prefix/.musl" musl_lib "$sysroot"
  lib_step "json-c (shared)" "$prefix/.json-c" jsonc_lib "$prefix" shared &
  local jsonc=$!
  lib_step "OpenSSL (shared, trimmed)" "$prefix/.openssl" openssl_lib "$prefix" shared
  wait "$jsonc" || { echo "build-musl: the shared json-c build failed" >&2; exit 1; }
  lib_step "libmosquitto (shared)" "$prefix/.mosquitto" mosquitto_lib "$prefix" shared
  local lib
  for lib in libcrypto.so.3 libssl.so.3 libjson-c.so.5 libmosquitto.so.1; do
    [ -f "$prefix/lib/$lib" ] || { echo "build-musl: $prefix/lib/$lib is missing (soname changed?)" >&2; exit 1; }
    cp -L "$prefix/lib/$lib" "$sysroot/usr/lib/$lib"
  done
}

all_start=$SECONDS
case "$what" in
  toolchain) step "zig $ZIG_VERSION toolchain" toolchain ;;
  sources) step "Debian source packages" sources ;;
  libs)
    step "zig $ZIG_VERSION toolchain" toolchain
    step "Debian source packages" sources
    static_libs
    ;;
  shared)
    step "zig $ZIG_VERSION toolchain" toolchain
    step "Debian source packages" sources
    shared_libs
    ;;
  *) echo "usage: $0 [toolchain|sources|libs|shared]" >&2; exit 2 ;;
esac
echo "build-musl: ready in $((SECONDS - all_start)) s ($top)"
