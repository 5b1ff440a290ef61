#!/usr/bin/env bash
# Issue #13 (the hazard): V8's own CPU profiler (--cpu-prof, the inspector's Profiler, which
# @sentry/profiling-node and DevTools use) must never hang beside the shim. With
# --interpreted-frames-native-stack on V8 < 12 (Node 18, 20) it could: a SIGPROF sample that
# lands while the JS thread holds CodeObjectRegistry's mutex (code allocation, deopts) looks
# the pc up in the same registry and waits on itself forever. The shim never injects the
# flag there (and elsewhere only when its V8 frame decoder is off). 50 runs of a deopt- and compile-heavy app per profiler start, each under a
# watchdog: none may hang (on the old injection 5-15% of such runs hung on Node 20).
# SP_TEST_NODE_OPTIONS adds options to every run (e.g. --interpreted-frames-native-stack,
# to see the old behaviour); DEADLOCK_RUNS changes the number of runs per mode.
. "$(dirname "$0")/lib.sh"
need_node
unset SENTRYPROF_DISABLE SENTRYPROF_DEBUG SENTRY_DSN
export SENTRYPROF_SPOOL_DIR="$WORK/spool"
runs=${DEADLOCK_RUNS:-50}
watchdog=${DEADLOCK_WATCHDOG:-10} # seconds before a run is looked at; a run does 0.15 s of work
APP="$APPS/deopt.js"

# Whether the main thread (task <pid>) sleeps on a futex right now.
main_in_futex() {
    [ "$(awk '{ print $3 }' "/proc/$1/task/$1/stat" 2>/dev/null)" = S ] &&
        grep -q futex "/proc/$1/task/$1/wchan" 2>/dev/null
}

# run_one DIR ARGS...: runs node ARGS beside the shim in DIR; sets RC and HUNG. On a busy
# machine a slow run is not a hang: after $watchdog s a run counts as hung only when its
# main thread is found asleep on a futex 3 times in a row, 1 s apart (the deadlock: V8's
# SIGPROF handler waits on a mutex its own thread holds; this app's main thread never
# waits that long otherwise). CPU time is no sign: V8's profiler thread keeps spinning and
# our own signal handler still runs on the stuck thread. 300 s at most.
run_one() {
    local dir=$1; shift
    (cd "$dir" && NODE_OPTIONS="${SP_TEST_NODE_OPTIONS:-}" LD_PRELOAD=$SP_LIB exec "$NODE" "$@" >"$dir/out" 2>"$dir/err") &
    local pid=$! ticks=0 still=0
    HUNG=0
    while kill -0 "$pid" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" != Z ]; do
        sleep 0.1
        ticks=$((ticks + 1))
        [ "$ticks" -lt $((watchdog * 10)) ] || [ $((ticks % 10)) != 0 ] && continue
        if main_in_futex "$pid"; then still=$((still + 1)); else still=0; fi
        if [ "$still" -ge 3 ] || [ "$ticks" -ge 3000 ]; then
            HUNG=1
            kill -9 "$pid" 2>/dev/null
            rm -f "/tmp/perf-$pid.map" # a killed node leaves its map: remove exactly that one
            break
        fi
    done
    wait "$pid"
    RC=$?
}

# run_mode NAME ARGS...: runs node ARGS $runs times beside the shim; counts hangs and runs
# that did not finish their work.
run_mode() {
    local name=$1; shift
    local hangs=0 bad=0 i
    mkdir -p "$WORK/$name"
    for i in $(seq 1 "$runs"); do
        run_one "$WORK/$name" "$@"
        if [ "$HUNG" = 1 ]; then
            hangs=$((hangs + 1))
        elif [ "$RC" != 0 ] || ! grep -q ' ok$' "$WORK/$name/out"; then
            bad=$((bad + 1))
            echo "# $name run $i: exit $RC, output '$(cat "$WORK/$name/out")', stderr: $(head -c 300 "$WORK/$name/err")"
        fi
    done
    echo "# $name: $hangs of $runs runs hung (main thread stuck on a futex for 3 s after ${watchdog} s), $bad failed otherwise"
    check "$name: no run of $runs hangs (saw $hangs)" test "$hangs" = 0
    check "$name: every run that ended did its work (saw $bad failures)" test "$bad" = 0
}

start=$(date +%s)
run_mode cpu-prof --cpu-prof --cpu-prof-interval 100 --cpu-prof-dir "$WORK/cpu-prof/profiles" "$APP" 150
n=$(find "$WORK/cpu-prof/profiles" -name '*.cpuprofile' 2>/dev/null | wc -l)
check "cpu-prof: V8 wrote a profile per finished run (saw $n)" test "$n" -ge 1
run_mode inspector "$APP" 150 inspector 100
out=$(cd "$WORK/inspector" && LD_PRELOAD=$SP_LIB "$NODE" "$APP" 100 inspector 100)
check "inspector: V8's sampler took samples ($out)" grep -q 'samples [1-9]' <<<"$out"
echo "# $((2 * runs)) runs in $(( $(date +%s) - start )) s"
finish
