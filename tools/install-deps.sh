#!/bin/sh
# Installs what sentryprof needs to build on Debian 12 (bookworm), with --test what its
# tests need too, with --arm64 what make check-arm64 needs (both: --test --arm64).
# Idempotent: does nothing when every package is already there. Uses sudo when not root.
set -e
PKGS="autoconf automake libtool pkg-config make gcc bzip2
libjansson-dev zlib1g-dev libcurl4-openssl-dev check nodejs binutils util-linux
libprotobuf-c-dev protobuf-c-compiler"
# libxml2-utils, npm, golang-go, chromium: the consumers tests/e2e/cli_export.sh reads the
# exports with (xmllint, speedscope's schema, go tool pprof, a headless browser). Only for
# the tests: quickstart.sh must not pull a browser and a Go toolchain onto a user's machine.
# debootstrap: make check-glibc-floor (a Debian 11 root with glibc 2.31).
# clang, libclang-rt-14-dev: make fuzz (libFuzzer's runtime is only a recommendation of clang).
# musl-tools: make check-musl (musl-gcc and musl's dynamic loader).
# cppcheck, clang-tidy: make lint (test.sh runs it).
# valgrind: make check-valgrind, and its memcheck.h, which configure looks for (src/arch.h:
# SP_MEM_DEFINED), so CI builds the handler with the client requests it is checked with.
# --arm64 (not part of --test: test.sh installs it in the background once its own build
# is done, so a fresh machine's minutes on the cross compiler and a second architecture's
# package lists are not spent before the first test):
# gcc-aarch64-linux-gnu, qemu-user, file and the :arm64 dev packages (multiarch) for make
# check-arm64 (the cross build for aarch64 and its tests under qemu-user; libstdc++6:arm64
# for the arm64 node).
ARM64_PKGS="gcc-aarch64-linux-gnu qemu-user file libjansson-dev:arm64 zlib1g-dev:arm64
libcurl4-openssl-dev:arm64 check:arm64 libprotobuf-c-dev:arm64 libstdc++6:arm64"
for a in "$@"; do
    case "$a" in
    --test) PKGS="$PKGS libxml2-utils npm golang-go chromium debootstrap clang libclang-rt-14-dev musl-tools cppcheck clang-tidy valgrind" ;;
    --arm64) PKGS="$PKGS $ARM64_PKGS" ;;
    *) echo "usage: $0 [--test] [--arm64]" >&2; exit 2 ;;
    esac
done
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# A node that is not Debian's (nodesource, nvm, a tarball) is fine: drop nodejs then.
if command -v node >/dev/null 2>&1; then missing=$(echo "$missing" | sed 's/ nodejs//'); fi
# npm (tests/e2e/cli_export.sh installs its pinned consumers) ships with such a node too.
if command -v npm >/dev/null 2>&1; then missing=$(echo "$missing" | sed 's/ npm//'); fi
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing:$missing"
case "$missing" in *:arm64*) dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64 ;; esac
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
