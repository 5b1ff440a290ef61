#!/bin/sh
# make fuzz: builds the fuzz targets with clang and libFuzzer (-fsanitize=fuzzer, with
# AddressSanitizer and UndefinedBehaviorSanitizer, sp_mem on libc's malloc so ASan sees its
# buffers: src/mem.c SP_MEM_LIBC) in $top_builddir/_fuzz, then runs each for FUZZ_SECONDS,
# FUZZ_JOBS at a time, from its committed corpus tests/fuzz/corpus/<name>/ (read only: what
# a run finds goes to _fuzz/work/<name>/). Per target: the log _fuzz/logs/<name>.log and
# one line "fuzz: <name>: <execs> execs in <s> s (<n>/s), <crashes> crashes" in
# _fuzz/logs/<name>.summary (tools/reliability.sh reads them). A crasher is copied to
# _fuzz/crashers/<name>-<file>; fix it, then commit it into the corpus: `make check` replays
# it from then on. Exit status 1 when any target crashed.
set -eu
: "${top_srcdir:?}" "${top_builddir:?}"
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-1}
FUZZ_TARGETS=${FUZZ_TARGETS:-"dsn elfsym json perfmap procmaps ratelimit spool unwind v8decode"}
CLANG=${CLANG:-clang}
fz=$top_builddir/_fuzz
command -v "$CLANG" >/dev/null 2>&1 || { echo "fuzz: $CLANG not found (install the Debian package clang)" >&2; exit 1; }
mkdir -p "$fz/logs" "$fz/work" "$fz/crashers"

# The build: configured once; make keeps it up to date. SP_ASAN_STACK_READS keeps the stack
# walk instrumented (src/arch.h: SP_NO_ASAN): a read outside fuzz_unwind's exact-size stack
# is an ASan report here. A tree configured before it had that flag is configured again.
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
if [ ! -f "$fz/Makefile" ] || ! grep -q '^CFLAGS = .*-DSP_ASAN_STACK_READS' "$fz/Makefile"; then
    echo "fuzz: configuring $fz (clang, libFuzzer, ASan+UBSan)"
    (cd "$fz" && "$top_srcdir/configure" -q --enable-werror CC="$CLANG" \
        CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $san -DSP_MEM_LIBC -DSP_ASAN_STACK_READS") || exit 1
fi
progs=""
for t in $FUZZ_TARGETS; do progs="$progs tests/fuzz/fuzz_$t"; done
# jemalloc is not instrumented (its own flags, build-static-dep.sh): built with gcc, as in
# the other trees, so their cached build (keyed by compiler and floor header) serves here.
(cd "$fz" && make -s SP_DEPS_CC=gcc sp_glibc_symver.h libjemalloc_sp.a &&
    make -s -j"$(nproc)" SP_DEPS_CC=gcc FUZZ_MAIN= FUZZ_LINK_FLAGS="-fsanitize=fuzzer" $progs) || exit 1

run_one() {
    t=$1
    log=$fz/logs/$t.log
    work=$fz/work/$t
    art=$fz/work/$t.artifacts # this run's crashers only (the corpus folder is read at start)
    mkdir -p "$work"
    rm -rf "$art" "$fz/logs/$t.summary"
    mkdir -p "$art"
    start=$(date +%s)
    set +e
    # -close_fd_mask=1: the targets' stdout is noise; stderr keeps the warnings and any report.
    (cd "$work" && nice -n 19 "$fz/tests/fuzz/fuzz_$t" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
        -timeout=25 -rss_limit_mb=2048 -close_fd_mask=1 -artifact_prefix="$art/" \
        "$work" "$top_srcdir/tests/fuzz/corpus/$t") >"$log" 2>&1
    rc=$?
    set -e
    secs=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    crashes=0
    for c in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*; do
        [ -f "$c" ] || continue
        crashes=$((crashes + 1))
        cp "$c" "$fz/crashers/$t-$(basename "$c")"
    done
    [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1 # died without an artifact
    echo "fuzz: $t: ${execs:-0} execs in $secs s (${rate:-0}/s), $crashes crashes" | tee "$fz/logs/$t.summary"
    if [ "$crashes" -ne 0 ]; then
        echo "fuzz: $t: see $log; crashers in $fz/crashers/" >&2
        grep -m1 -A12 -E '^==[0-9]+==ERROR|runtime error|check failed' "$log" >&2 || tail -n 20 "$log" >&2
        return 1
    fi
}

failed=0
pids=""
running=0
for t in $FUZZ_TARGETS; do
    run_one "$t" &
    pids="$pids $!"
    running=$((running + 1))
    if [ "$running" -ge "$FUZZ_JOBS" ]; then
        for p in $pids; do wait "$p" || failed=1; done
        pids=""
        running=0
    fi
done
for p in $pids; do wait "$p" || failed=1; done
exit $failed
