#!/usr/bin/env bash
# The preload library exports only what the JS helper and node's N-API loader need, and
# depends only on the libraries listed in tests/data/needed.txt (STYLE.md §2).
. "$(dirname "$0")/e2e/lib.sh"
nm -D --defined-only "$SP_LIB" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | sort >"$WORK/exports"
check "exported symbols match tests/data/exports.txt" diff -u "$top_srcdir/tests/data/exports.txt" "$WORK/exports"
readelf -dW "$SP_LIB" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort >"$WORK/needed"
check "DT_NEEDED matches tests/data/needed.txt" diff -u "$top_srcdir/tests/data/needed.txt" "$WORK/needed"
# jemalloc is ours alone: its malloc/free family is renamed, so neither the app nor our own
# free() of memory libc allocated (__cxa_demangle, realpath) can reach it (HAZARDS.md §2).
check "no malloc/free/calloc/realloc defined inside the library" \
    bash -c "! nm '$SP_LIB' | grep -Eq ' [tTwW] (malloc|free|calloc|realloc|posix_memalign|aligned_alloc)\$'"
check "no lazy TLS (__tls_get_addr) in the library" bash -c "! nm -D '$SP_LIB' | grep -q __tls_get_addr"
glibc=$(objdump -T "$SP_LIB" | grep -o 'GLIBC_[0-9.]*' | sort -t. -k2,2n -k3,3n -u | tail -1)
echo "# highest glibc symbol version needed: $glibc"
# node must keep libc's malloc: jemalloc is ours only (HAZARDS.md §2).
if [ -n "$NODE" ] && "$NODE" -e 0 2>/dev/null; then
    SENTRYPROF_SPOOL_DIR="$WORK/spool" LD_PRELOAD=$SP_LIB LD_DEBUG=bindings LD_DEBUG_OUTPUT="$WORK/bind" "$NODE" -e 0
    check "node's malloc binds to libc, not jemalloc" \
        bash -c "grep -h \"binding file $NODE \\[0\\] to .*libc.so.6 \\[0\\]: normal symbol \\\`malloc'\" '$WORK'/bind.* >/dev/null || grep -h \"to .*libc.so.6 \\[0\\]: normal symbol \\\`malloc'\" '$WORK'/bind.* >/dev/null"
    check "nothing binds malloc to jemalloc" bash -c "! grep -h \"libjemalloc.*normal symbol \\\`malloc'\" '$WORK'/bind.* | grep -q ."
fi
finish
