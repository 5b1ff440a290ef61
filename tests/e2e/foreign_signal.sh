#!/usr/bin/env bash
# #20 item 10: native code that takes over our sampling signal while node runs (a preloaded
# fixture, tests/apps/sigtaker.c, on a thread of its own 1 s in, with our timers armed at
# 999 Hz). Set to SIG_DFL (by sigaction or signal) it killed the process with our own timer
# (status 128+signal) before the agent's 100 ms check; a foreign handler got our ticks until
# then. Now: the app runs to its end with its own output and status 0, the handler gets none
# of our ticks, sampling stops with one warning line and the handler_replaced count.
. "$(dirname "$0")/lib.sh"
need_node
TAKER="$top_builddir/tests/apps/.libs/libsigtaker.so"
[ -e "$TAKER" ] || { echo "missing $TAKER (make check builds it)" >&2; exit 99; }
S() { "$NODE" -e "const f=JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')); console.log($2)" "$1"; }
# A signal of the real-time range that the kernel's SIGRTMIN+2.. would give us anyway.
SIGNO=$(( $(kill -l RTMIN) + 5 ))

run() { # run MODE: steady.js for 3 s in the background, pid in PIDS[MODE]
    local m=$1
    env SENTRYPROF_MODE=continuous SENTRYPROF_HZ=999 SENTRYPROF_SIGNAL=$SIGNO SENTRYPROF_SPOOL_DIR="$WORK/spool-$m" \
        STATS_FILE="$WORK/stats-$m" SIGTAKER_SIGNO=$SIGNO SIGTAKER_MODE=$m SIGTAKER_OUT="$WORK/ticks-$m" \
        LD_PRELOAD="$SP_LIB $TAKER" "$NODE" "$APPS/steady.js" 3 >"$WORK/out-$m" 2>"$WORK/err-$m" &
    PIDS[$m]=$!
}
declare -A PIDS
for m in dfl signal handler; do run $m; done
for m in dfl signal handler; do
    wait "${PIDS[$m]}"
    rc=$?
    rm -f "/tmp/perf-${PIDS[$m]}.map" # a killed run leaves it: ours, by its own path
    sed "s/^/# $m stderr: /" "$WORK/err-$m"
    check "$m: the app ran to its end (status 0, got $rc; 128+$SIGNO = killed by our signal)" test "$rc" = 0
    check "$m: its own output unchanged" test "$(cat "$WORK/out-$m")" = "steady done"
    check "$m: one warning line on stderr, naming the signal" \
        test "$(wc -l <"$WORK/err-$m")" = 1 -a "$(grep -c "handler of signal $SIGNO was replaced" "$WORK/err-$m")" = 1
    if [ -s "$WORK/stats-$m" ]; then
        check "$m: handler_replaced counted once" test "$(S "$WORK/stats-$m" 'f.handler_replaced')" = 1
        check "$m: its timers ran before (samples > 10: $(S "$WORK/stats-$m" 'f.samples'))" \
            test "$(S "$WORK/stats-$m" 'f.samples')" -gt 10
    else
        not_ok "$m: no stats written (the process did not reach its exit handler)"
    fi
done
ticks=$(cat "$WORK/ticks-handler" 2>/dev/null || echo missing)
check "handler: the foreign handler got none of our timer ticks (got $ticks)" test "$ticks" = 0
finish
