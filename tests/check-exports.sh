#!/usr/bin/env bash
# The preload library exports only what the JS helper and node's N-API loader need,
# depends only on the C runtime (tests/data/needed.txt: a slim image without jansson,
# libcurl or jemalloc still runs every process, issue #15), imports no glibc symbol version
# above the floor (GLIBC_FLOOR from configure, issue #18; the CLI neither) and is stripped, its debug info in
# .debug/libsentryprof.so.debug beside it.
. "$(dirname "$0")/e2e/lib.sh"
: "${GLIBC_FLOOR:=2.28}"
nm -D --defined-only "$SP_LIB" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | sort >"$WORK/exports"
check "exported symbols match tests/data/exports.txt" diff -u "$top_srcdir/tests/data/exports.txt" "$WORK/exports"
readelf -dW "$SP_LIB" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort >"$WORK/needed"
if [ "$GLIBC_FLOOR" = no ]; then
    # No floor: nothing of glibc < 2.34 to find in libpthread, libdl, librt.
    check "DT_NEEDED is libc.so.6 only" diff -u <(echo libc.so.6) "$WORK/needed"
else
    # libpthread, libdl, librt: where pthread_create, dlsym and timer_create are on glibc
    # < 2.34 (empty stubs of libc6 on 2.34+).
    check "DT_NEEDED matches tests/data/needed.txt" diff -u "$top_srcdir/tests/data/needed.txt" "$WORK/needed"
fi
# jemalloc is ours alone: its malloc/free family is renamed, so neither the app nor our own
# free() of memory libc allocated (__cxa_demangle, realpath) can reach it (docs/HAZARDS.md §2).
# The library is stripped: its full symbol table is in the debug file.
dbg="$(dirname "$SP_LIB")/.debug/libsentryprof.so.debug"
check "no malloc/free/calloc/realloc defined inside the library" \
    bash -c "nm '$dbg' >'$WORK/symtab' && ! grep -Eq ' [tTwW] (malloc|free|calloc|realloc|posix_memalign|aligned_alloc)\$' '$WORK/symtab'"
check "no lazy TLS (__tls_get_addr) in the library" bash -c "! nm -D '$SP_LIB' | grep -q __tls_get_addr"
# above_floor FILE: its imported glibc symbol versions above the floor, one name@version a line.
above_floor() {
    objdump -T "$1" | awk -v f="$GLIBC_FLOOR" '
        function n(v,  a, k) { k = split(v, a, "."); return a[1] * 1e6 + a[2] * 1e3 + (k > 2 ? a[3] : 0) }
        { for (i = 1; i <= NF; i++) if ($i ~ /^\(?GLIBC_[0-9]/) {
              v = $i; gsub(/[()]/, "", v); sub(/^GLIBC_/, "", v)
              if (n(v) > n(f)) print $NF "@GLIBC_" v } }'
}
# The library, and the CLI too (its start-up code: tools/glibc_start.c), so both run on the floor glibc.
for bin in "$SP_LIB" "$SP_CLI"; do
    glibc=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -t. -k2,2n -k3,3n -u | tail -1)
    echo "# ${bin##*/}: highest glibc symbol version needed: $glibc (floor: $GLIBC_FLOOR)"
    if [ "$GLIBC_FLOOR" != no ]; then
        above_floor "$bin" >"$WORK/above"
        check "${bin##*/}: no glibc symbol version above the floor GLIBC_$GLIBC_FLOOR (above it: $(tr '\n' ' ' <"$WORK/above"))" \
            test ! -s "$WORK/above"
    fi
done
# Stripped: no symbol table, no debug info; gdb finds the debug info through .gnu_debuglink
# in .debug/ beside the library (make install puts it there too).
sections=$(readelf -SW "$SP_LIB")
check "library has no .symtab (stripped)" bash -c "! grep -q ' \.symtab ' <<<'$sections'"
check "library has no .debug_* sections" bash -c "! grep -q ' \.debug_' <<<'$sections'"
check "library has a .gnu_debuglink" grep -q ' \.gnu_debuglink ' <<<"$sections"
check "debug info beside it ($dbg has .debug_info)" bash -c "readelf -SW '$dbg' 2>/dev/null | grep -q ' \.debug_info '"
# 750 KB since libunwind's remote unwinder went in (issue #13: ~40 KB at -Os with
# --gc-sections; 692 KB before it); 800 KB since the native images of debug_meta, debug
# files and the decoder's large-scope names took it one page over (753,736 bytes).
check "library is under 800 KB ($(stat -c %s "$SP_LIB") bytes; 1.4 MB unstripped with shared jansson)" test "$(stat -c %s "$SP_LIB")" -lt 800000
# node must keep libc's malloc: jemalloc is ours only (docs/HAZARDS.md §2).
if [ -n "$NODE" ] && "$NODE" -e 0 2>/dev/null; then
    SENTRYPROF_SPOOL_DIR="$WORK/spool" LD_PRELOAD=$SP_LIB LD_DEBUG=bindings LD_DEBUG_OUTPUT="$WORK/bind" "$NODE" -e 0
    check "node's malloc binds to libc, not jemalloc" \
        bash -c "grep -h \"binding file $NODE \\[0\\] to .*libc.so.6 \\[0\\]: normal symbol \\\`malloc'\" '$WORK'/bind.* >/dev/null || grep -h \"to .*libc.so.6 \\[0\\]: normal symbol \\\`malloc'\" '$WORK'/bind.* >/dev/null"
    check "nothing binds malloc to jemalloc" bash -c "! grep -h \"libjemalloc.*normal symbol \\\`malloc'\" '$WORK'/bind.* | grep -q ."
fi
finish
