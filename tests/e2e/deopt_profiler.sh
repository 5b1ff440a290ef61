#!/usr/bin/env bash
# Issue #13 (the hazard): V8's own CPU profiler (--cpu-prof, the inspector's Profiler, which
# @sentry/profiling-node and DevTools use) must never hang beside the shim. With
# --interpreted-frames-native-stack on V8 < 12 (Node 18, 20) it could: a SIGPROF sample that
# lands while the JS thread holds CodeObjectRegistry's mutex (code allocation, deopts) looks
# the pc up in the same registry and waits on itself forever. The shim no longer injects the
# flag there. 50 runs of a deopt- and compile-heavy app per profiler start, each under a
# watchdog: none may hang (on the old injection 5-15% of such runs hung on Node 20).
# SP_TEST_NODE_OPTIONS adds options to every run (e.g. --interpreted-frames-native-stack,
# to see the old behaviour); DEADLOCK_RUNS changes the number of runs per mode.
. "$(dirname "$0")/lib.sh"
need_node
unset SENTRYPROF_DISABLE SENTRYPROF_DEBUG SENTRY_DSN
export SENTRYPROF_SPOOL_DIR="$WORK/spool"
runs=${DEADLOCK_RUNS:-50}
watchdog=${DEADLOCK_WATCHDOG:-20} # seconds; a run does 0.15 s of work
APP="$APPS/deopt.js"

# run_mode NAME ARGS...: runs node ARGS $runs times beside the shim, each killed after
# $watchdog seconds; counts hangs and runs that did not finish their work.
run_mode() {
    local name=$1; shift
    local hangs=0 bad=0 i rc pid out
    mkdir -p "$WORK/$name"
    for i in $(seq 1 "$runs"); do
        out=$(cd "$WORK/$name" && NODE_OPTIONS="${SP_TEST_NODE_OPTIONS:-}" timeout -s KILL "$watchdog" \
            sh -c 'echo $$ >"$0"; lib=$1; shift; exec env LD_PRELOAD="$lib" "$@"' "$WORK/$name/pid" "$SP_LIB" "$NODE" "$@" 2>"$WORK/$name/err")
        rc=$?
        pid=$(cat "$WORK/$name/pid")
        if [ "$rc" = 137 ] || [ "$rc" = 124 ]; then
            hangs=$((hangs + 1))
            # a killed node leaves its perf map: remove exactly that one
            [ -n "$pid" ] && rm -f "/tmp/perf-$pid.map"
        elif [ "$rc" != 0 ] || ! grep -q ' ok$' <<<"$out"; then
            bad=$((bad + 1))
            echo "# $name run $i: exit $rc, output '$out', stderr: $(head -c 300 "$WORK/$name/err")"
        fi
    done
    echo "# $name: $hangs of $runs runs hung (watchdog ${watchdog}s), $bad failed otherwise"
    check "$name: no run of $runs hangs (saw $hangs)" test "$hangs" = 0
    check "$name: every run that ended did its work (saw $bad failures)" test "$bad" = 0
}

start=$(date +%s)
run_mode cpu-prof --cpu-prof --cpu-prof-interval 100 --cpu-prof-dir "$WORK/cpu-prof/profiles" "$APP" 150
n=$(find "$WORK/cpu-prof/profiles" -name '*.cpuprofile' 2>/dev/null | wc -l)
check "cpu-prof: V8 wrote a profile per finished run (saw $n)" test "$n" -ge 1
run_mode inspector "$APP" 150 inspector 100
check "inspector: V8's sampler took samples" \
    bash -c "grep -q 'samples [1-9]' <(cd '$WORK/inspector' && LD_PRELOAD='$SP_LIB' '$NODE' '$APP' 100 inspector 100)"
echo "# $((2 * runs)) runs in $(( $(date +%s) - start )) s"
finish
