#!/usr/bin/env bash
# Issue #20, the soak: each fixture runs SOAK_SECONDS (default 10) under the library at
# SOAK_HZ (default 1000) samples per second per thread (continuous mode, no DSN: everything
# stays in a spool), and side by side the same fixture unprofiled, with the same fixed work
# (tests/soak/fixture-lib.js: rounds at a fixed rate, counted, not a clock window, so the
# output does not depend on how fast either run went). Fixtures (SOAK_FIXTURES, default all,
# one after another): cpu (tests/soak/cpu.js), alloc (GC pressure, code churn), http (a
# server with forked load generators) and workers (worker churn: 3 started and ended a
# second, some terminated mid-work). For each:
#   - stdout and exit code of the profiled run are those of the unprofiled one;
#   - 0 crashes (no death by a signal), 0 hangs: a watchdog (timeout) ends a run that takes
#     longer than SOAK_BOUND (default 3 x SOAK_SECONDS + 60 s: a paced run takes
#     SOAK_SECONDS when the machine keeps up) and the run fails;
#   - profiles were produced: profile chunks with samples in the spool, samples in the
#     fixture's own functions, a chunk for every full chunk span the run lasted (sampling
#     did not stop half-way), none that the ingest rules reject, no spool errors;
#   - the host's resources (fixture-lib probe) at the end, after a settle of at most 10 s,
#     are back at the baseline (probed 6 s into the run, once the profiler holds what it
#     keeps for the process's life; in workers after a first round of workers, in http
#     between its two load generators): open fds (but one per file the profiler opens on
#     first need and keeps for the process's life: an ELF reader per mapped object, the
#     perf map's release fd; fixture-lib newFds), POSIX timers (/proc/<pid>/timers),
#     threads, and no signal queued in the process (none pending in it or any thread;
#     SigQ is printed, not checked: the kernel counts it per user, and the user's other
#     processes move it); after worker churn RSS within SOAK_RSS_TOLERANCE_MB (default
#     48) of the baseline;
#   - the profiled process's perf map was removed at its exit.
# tests/soak/verdict.js reads what the runs left and checks; it prints one line per fixture,
# "soak: <fixture> ..." (tests/reliability.js reads them from the log of make
# check-soak-short or make soak-long).
. "$(dirname "$0")/../e2e/lib.sh"
need_node
S=${SOAK_SECONDS:-10}
HZ=${SOAK_HZ:-1000}
BOUND=${SOAK_BOUND:-$((3 * S + 60))}
RSS_TOL_MB=${SOAK_RSS_TOLERANCE_MB:-48}
FIXTURES=${SOAK_FIXTURES:-cpu alloc http workers}
# The runs must not see a DSN or profiler settings of the caller's environment.
clean_env=(env -u SENTRY_DSN -u LD_PRELOAD -u NODE_OPTIONS)
for v in $(env | sed -n 's/^\(SENTRYPROF_[A-Z_]*\)=.*/\1/p'); do clean_env+=(-u "$v"); done

echo "# soak: $FIXTURES, $S s each at $HZ Hz, watchdog $BOUND s"
t_all=$(date +%s)
for f in $FIXTURES; do
    d="$WORK/$f"
    mkdir -p "$d"
    t0=$(date +%s)
    "${clean_env[@]}" SOAK_PROBE="$d/ref.probe" \
        timeout -k 10 "$BOUND" "$NODE" --expose-gc "$top_srcdir/tests/soak/$f.js" "$S" >"$d/ref.out" 2>"$d/ref.err" &
    rpid=$!
    "${clean_env[@]}" SOAK_PROBE="$d/prof.probe" timeout -k 10 "$BOUND" \
        env LD_PRELOAD="$SP_LIB" SENTRYPROF_HZ="$HZ" SENTRYPROF_MODE=continuous SENTRYPROF_SPOOL_DIR="$d/spool" \
        "$NODE" --expose-gc "$top_srcdir/tests/soak/$f.js" "$S" >"$d/prof.out" 2>"$d/prof.err" &
    ppid=$!
    wait "$rpid"; rrc=$?
    wait "$ppid"; prc=$?
    wall=$(( $(date +%s) - t0 ))
    # verdict.js prints the detail, the summary line and one ok / not ok line per check.
    "$NODE" "$top_srcdir/tests/soak/verdict.js" "$d" "$f" "$S" "$HZ" "$BOUND" "$RSS_TOL_MB" "$prc" "$rrc" "$wall" >"$d/verdict" 2>&1
    vrc=$?
    grep -v -E '^(not )?ok - ' "$d/verdict"
    while IFS= read -r line; do
        case $line in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) not_ok "${line#not ok - }" ;;
        esac
    done <"$d/verdict"
    check "$f: the verdict script ran (rc $vrc)" test "$vrc" = 0
    pid=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$d/prof.probe" 2>/dev/null)
    [ -n "$pid" ] && rm -f "/tmp/perf-$pid.map"
done
echo "# soak: $(( $(date +%s) - t_all )) s in all"
finish
