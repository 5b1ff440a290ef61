#!/usr/bin/env bash
# `make check-musl` (issue #18): the preload library and the unit suites of the signal path
# and the spool built with musl-gcc (Debian musl-tools) into _build-musl/, and run.
#   - jemalloc, jansson and Check from Debian's source, built with musl-gcc
#     (tools/build-static-dep.sh, cached like the glibc builds);
#   - libsentryprof.so for musl: the engine (libsp) and preload/, the same flags,
#     exports and private jemalloc/jansson as the glibc build;
#   - the unit suites MUSL_UNIT_SUITES (handler and timers: sampler; ring; the frame walk:
#     unwind; the spool: spool, spoolq) in one Check binary linked against musl, each run;
#   - the musl library preloaded into a musl program (the unit binary's --list): it loads
#     under musl's dynamic loader and changes nothing in a process that is not node.
# Not here: the CLI (it needs libcurl, zlib and protobuf-c built for musl) and anything with
# node: no musl build of Node.js is on the npm registry (node-linux-x64-musl does not
# exist), so the end-to-end checks need an Alpine machine.
# Environment (from Makefile.am): top_srcdir, top_builddir, SP_CFLAGS, PACKAGE_VERSION,
# LIBSP_SOURCES, PRELOAD_SOURCES, MUSL_UNIT_SUITES. Prints "N passed, N failed" last.
set -uo pipefail
: "${top_srcdir:?}" "${top_builddir:?}" "${SP_CFLAGS:?}" "${PACKAGE_VERSION:?}" "${LIBSP_SOURCES:?}" \
    "${PRELOAD_SOURCES:?}" "${MUSL_UNIT_SUITES:=sampler ring unwind spool spoolq}"
cc=${MUSL_CC:-musl-gcc}
command -v "$cc" >/dev/null || { echo "$cc not found: apt-get install musl-tools (tools/install-deps.sh --test)" >&2; exit 99; }
out=$top_builddir/_build-musl
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
die() { echo "check-musl: $*" >&2; exit 99; }
start=$(date +%s)
mkdir -p "$out/obj" "$out/unit" "$out/deps"
cpu=$("$cc" -dumpmachine | cut -d- -f1)

# The floor header says "no floor" for musl (tools/glibc-floor.sh no).
sh "$top_srcdir/tools/glibc-floor.sh" no >"$out/sp_glibc_symver.h"
for d in jemalloc jansson check; do
    CC=$cc host_cpu=$cpu sh "$top_srcdir/tools/build-static-dep.sh" "$d" "$out/deps" "$out/sp_glibc_symver.h" ||
        die "building $d for musl failed"
done
args=
for s in aligned_alloc calloc free malloc malloc_usable_size memalign posix_memalign realloc valloc; do
    args="$args --redefine-sym $s=sp_jemalloc_$s"
done
# shellcheck disable=SC2086
objcopy $args --remove-section=.init_array --remove-section=.rela.init_array \
    "$out/deps/lib/libjemalloc_pic.a" "$out/libjemalloc_sp.a" || die "objcopy of jemalloc failed"
deps_s=$(( $(date +%s) - start ))

# shellcheck disable=SC2206
cflags=($SP_CFLAGS -O2 -g -fPIC -D_GNU_SOURCE "-DSP_VERSION=\"$PACKAGE_VERSION\"" '-DSP_BINDIR="/usr/local/bin"'
        "-DSP_TEST_DATA=\"$top_srcdir/tests/data\""
        -I"$top_srcdir/include" -I"$top_srcdir/src" -I"$out" -I"$out/unit" -I"$out/deps/include"
        -I"$out/deps/include/jansson" -I"$out/deps/include/check" -include "$top_srcdir/src/glibc_floor.h")
compile() { # compile SRC...: one object each in $out/obj, in parallel; prints the objects
    local f
    for f in "$@"; do echo "$f"; done | xargs -P "$jobs" -I{} sh -c \
        'f={}; o="$0/obj/$(echo "$f" | tr / _).o"; "$@" -c -o "$o" "$f" || exit 255' \
        "$out" "$cc" "${cflags[@]}" || return 1
    for f in "$@"; do echo "$out/obj/$(echo "$f" | tr / _).o"; done
}
c_only() { for f in "$@"; do case "$f" in *.c) echo "$top_srcdir/$f" ;; esac; done; }
# shellcheck disable=SC2086
libsp=$(compile $(c_only $LIBSP_SOURCES)) || die "compiling the engine with $cc failed"
# shellcheck disable=SC2086
preload=$(compile $(c_only $PRELOAD_SOURCES)) || die "compiling preload/ with $cc failed"
# shellcheck disable=SC2086
"$cc" -shared -o "$out/libsentryprof.so" $libsp $preload -Wl,--version-script="$top_srcdir/preload/exports.map" \
    -Wl,-z,now -Wl,-z,relro -Wl,"$out/libjemalloc_sp.a" -Wl,"$out/deps/lib/libjansson.a" ||
    die "linking libsentryprof.so with $cc failed"
ok "libsentryprof.so built with $cc ($(stat -c %s "$out/libsentryprof.so") bytes)"
needed=$(readelf -dW "$out/libsentryprof.so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
if [ "$needed" = "libc.so " ]; then ok "its DT_NEEDED is musl's libc.so only"; else not_ok "its DT_NEEDED: expected 'libc.so', saw '$needed'"; fi

# The unit binary: main.c and helpers.c with the suites that apply.
for s in $MUSL_UNIT_SUITES; do echo "SP_UNIT_SUITE_ENTRY($s)"; done >"$out/unit/suites.h"
units=(tests/unit/main.c tests/unit/helpers.c)
for s in $MUSL_UNIT_SUITES; do units+=("tests/unit/test_$s.c"); done
# shellcheck disable=SC2046
unitobj=$(compile $(c_only "${units[@]}")) || die "compiling the unit tests with $cc failed"
# shellcheck disable=SC2086
"$cc" -o "$out/unit/unit" $unitobj $libsp "$out/libjemalloc_sp.a" "$out/deps/lib/libjansson.a" \
    "$out/deps/lib/libcheck.a" -lm -lrt -lpthread || die "linking the unit tests with $cc failed"
interp=$(readelf -lW "$out/unit/unit" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p')
echo "# built in $(( $(date +%s) - start )) s (dependencies: $deps_s s); program interpreter: $interp"
[ -e "$interp" ] || die "musl's dynamic loader $interp is missing (Debian package musl)"

for s in $MUSL_UNIT_SUITES; do
    if CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-60} CK_RUN_SUITE=$s "$out/unit/unit" >"$out/unit/$s.log" 2>&1; then
        ok "unit suite $s under musl ($(grep -o '[0-9]*%: Checks: [0-9]*' "$out/unit/$s.log" | head -1))"
    else
        sed 's/^/# /' "$out/unit/$s.log" | tail -30
        not_ok "unit suite $s under musl (log: $out/unit/$s.log)"
    fi
done
# Preloaded into a musl program that is not node: loads, and its output is the same.
plain=$("$out/unit/unit" --list 2>&1)
pre=$(LD_PRELOAD="$out/libsentryprof.so" "$out/unit/unit" --list 2>&1)
if [ "$pre" = "$plain" ]; then
    ok "the musl library preloaded into a musl program: loads, same output"
else
    not_ok "the musl library preloaded into a musl program: expected '$plain', saw '$pre'"
fi
echo "# check-musl: $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
