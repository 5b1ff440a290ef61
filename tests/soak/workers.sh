#!/usr/bin/env bash
# Issue #20, soak: WORKERS_COUNT (default 10,000) worker threads, WORKERS_PARALLEL (25) alive
# at a time, sampled at 1 kHz (SENTRYPROF_HZ=1000, wall clock: every worker's own timer
# fires while it starts, runs and ends), most terminated at a random moment
# (tests/soak/worker-churn.js: a seeded schedule, the same with and without the shim).
# Checked against the same app run without the shim and against the process's own baseline
# after the first 500 workers:
#   - no crash, no hang (a watchdog kills a run after WORKERS_TIMEOUT s), exit status,
#     stdout and stderr identical to the unprofiled run;
#   - back to baseline after the churn: open fds (but one kept for the process's life per
#     file the profiler first read after the baseline: tests/soak/fixture-lib.js newFds) and
#     POSIX timers exactly (the main thread's one timer), the sampler's thread slots (1: main) and registrations (every worker that
#     registered unregistered), no timer errors;
#   - within a stated tolerance (what a leak of one small object per worker would exceed):
#     the profiler's arena +8 MiB (the open chunk and the perf map move it a few MiB),
#     RSS node's own growth over the same churn (the unprofiled run measured the same way:
#     its heaps, V8's code space and glibc's arenas for 9,500 more workers, +34 MiB here)
#     + 32 MiB (the profiled run's was 13-21 MiB above it here, 4-6 MiB of it the arena; a
#     leak of 3.5 KiB per worker would exceed it), the user's queued signals (SigQ counts
#     every process of this user: parallel tests too) +32.
# One line of numbers: "workers: ..." (tests/reliability.js reads it from the log).
. "$(dirname "$0")/../e2e/lib.sh"
need_node
N=${WORKERS_COUNT:-10000}
PAR=${WORKERS_PARALLEL:-25}
TMO=${WORKERS_TIMEOUT:-3600}
unset SENTRYPROF_DISABLE SENTRY_DSN NODE_OPTIONS
APP="$top_srcdir/tests/soak/worker-churn.js"

t0=$(date +%s)
timeout -s KILL "$TMO" "$NODE" --expose-gc "$APP" "$N" "$PAR" "$WORK/plain.json" >"$WORK/plain.out" 2>"$WORK/plain.err"
plain_rc=$?
t1=$(date +%s)
SENTRYPROF_HZ=1000 SENTRYPROF_SPOOL_DIR="$WORK/spool" LD_PRELOAD=$SP_LIB \
    timeout -s KILL "$TMO" "$NODE" --expose-gc "$APP" "$N" "$PAR" "$WORK/res.json" >"$WORK/prof.out" 2>"$WORK/prof.err"
prof_rc=$?
t2=$(date +%s)
res=$(cat "$WORK/res.json" 2>/dev/null || echo '{}')
# node's own RSS growth over the same churn, without the shim (its V8 heaps and code space,
# glibc's per-thread arenas): the reference the profiled run's growth is held to.
plain_rss=$("$NODE" -e 'try { const f = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(f.end.rss - f.base.rss); } catch (_) { console.log("NaN"); }' "$WORK/plain.json")
echo "# without the shim: rc $plain_rc in $((t1 - t0)) s: $(cat "$WORK/plain.out") $(head -c 300 "$WORK/plain.err")"
echo "# with the shim at 1 kHz: rc $prof_rc in $((t2 - t1)) s: $(cat "$WORK/prof.out") $(head -c 300 "$WORK/prof.err")"
echo "# measured: $res"
J() { jqn "$res" "$1"; }
if [ "$(J 'Boolean(f.base && f.end)')" = true ]; then
    echo "workers: $N workers ($PAR at a time) at 1 kHz in $((t2 - t1)) s ($((t1 - t0)) s unprofiled), rc $prof_rc (unprofiled $plain_rc), $(J 'f.end.registered') registered / $(J 'f.end.unregistered') unregistered, $(J 'f.end.samples') samples; after vs baseline: fds $(J 'f.base.fds')->$(J 'f.end.fds')$(J 'f.fds_new.lifetime.length ? " (" + f.fds_new.lifetime.length + " kept for life: " + f.fds_new.lifetime.map((t) => t.split("/").pop()).join(" ") + ")" : ""'), timers $(J 'f.base.timers')->$(J 'f.end.timers'), SigQ $(J 'f.base.sigq')->$(J 'f.end.sigq'), thread slots $(J 'f.base.threads')->$(J 'f.end.threads'), arena $(J '((f.end.arena - f.base.arena) / 1048576).toFixed(1)') MiB, RSS $(J '((f.end.rss - f.base.rss) / 1048576).toFixed(1)') MiB (unprofiled +$(awk -v b="$plain_rss" 'BEGIN { printf "%.1f", b / 1048576 }') MiB)"
else
    echo "workers: $N workers at 1 kHz: no measurements (rc $prof_rc)"
fi
check "the profiled run exits as the unprofiled one (0; saw $prof_rc, unprofiled $plain_rc)" test "$prof_rc" = 0 -a "$plain_rc" = 0
check "same stdout" test "$(cat "$WORK/prof.out")" = "$(cat "$WORK/plain.out")"
check "every worker exited (saw: $(cat "$WORK/prof.out"))" test "$(cat "$WORK/prof.out")" = "churn: $N workers started, $N exited"
check "same stderr (empty; saw: $(head -c 300 "$WORK/prof.err"))" test ! -s "$WORK/prof.err" -a ! -s "$WORK/plain.err"
check "measurements written" test "$(J 'Boolean(f.base && f.end)')" = true
check "workers were sampled (>= 1000 registrations; saw $(J 'f.end.registered'))" test "$(J 'f.end.registered >= 1000')" = true
check "every registered worker unregistered: main only ($(J 'f.end.registered') - $(J 'f.end.unregistered') = 1)" \
    test "$(J 'f.end.registered - f.end.unregistered === 1')" = true
check "thread slots back to 1 (main; saw $(J 'f.end.threads'))" test "$(J 'f.end.threads')" = 1
check "no timer errors (saw $(J 'f.end.timer_errors'))" test "$(J 'f.end.timer_errors')" = 0
check "POSIX timers back to baseline: 1, the main thread's (saw $(J 'f.base.timers') -> $(J 'f.end.timers'))" \
    test "$(J 'f.end.timers === f.base.timers && (f.end.timers === 1 || f.end.timers === -1)')" = true
check "open fds back to baseline, but for those the profiler keeps for the process's life (one per mapped object it read, a debug file: $(J "f.fds_new.lifetime.join(' ') || 'none'"); still open: $(J "f.fds_new.unexplained.join(' ') || 'none'"); saw $(J 'f.base.fds') -> $(J 'f.end.fds'))" \
    test "$(J 'f.fds_new.unexplained.length === 0 && f.end.fds <= f.base.fds + f.fds_new.lifetime.length')" = true
check "queued signals back to baseline, +32 at most (SigQ $(J 'f.base.sigq') -> $(J 'f.end.sigq'))" \
    test "$(J 'f.end.sigq <= f.base.sigq + 32')" = true
check "profiler arena back to baseline, +8 MiB at most (saw $(J '((f.end.arena - f.base.arena) / 1048576).toFixed(1)') MiB)" \
    test "$(J 'f.end.arena - f.base.arena < 8 * 1048576')" = true
if [ -n "${SP_E2E_PRELOAD:-}" ]; then
    echo "# under ASan (SP_E2E_PRELOAD): RSS not checked (ASan's quarantine)"
else
    check "RSS over the churn at most node's own (unprofiled: +$(awk -v b="$plain_rss" 'BEGIN { printf "%.1f", b / 1048576 }') MiB) + 32 MiB (saw +$(J '((f.end.rss - f.base.rss) / 1048576).toFixed(1)') MiB)" \
        test "$(J "f.end.rss - f.base.rss <= Number('$plain_rss') + 32 * 1048576")" = true
fi
finish
