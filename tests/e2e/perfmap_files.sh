#!/usr/bin/env bash
# Issue #20 items 1 and 13: V8's /tmp/perf-<pid>.map under the shim.
# 1. Another local user can plant something at the path before node starts (the pid is
#    predictable): the shim creates the map itself (O_EXCL|O_NOFOLLOW, 0600) and never
#    writes through a symlink, into a FIFO, into another user's file or into a file with a
#    second link; node still runs, with one warning.
# 13. A killed profiled node leaves its map: the next profiled node (same spool) removes
#    it, but never a map written for the user's own --perf-basic-prof.
# The pid is known before exec: a wrapper shell plants the entry for its own pid ($$) and
# execs node. Everything planted is removed by its exact path.
. "$(dirname "$0")/lib.sh"
need_node
unset SENTRYPROF_DISABLE SENTRYPROF_DEBUG SENTRY_DSN SENTRYPROF_KEEP_PERF_MAP NODE_OPTIONS
export SENTRYPROF_SPOOL_DIR="$WORK/spool"
planted=()
cleanup() { local p; for p in "${planted[@]}"; do rm -f "$p"; done; rm -rf "$WORK"; }
trap cleanup EXIT
APP="$APPS/steady.js"

# plant KIND: runs node under the shim with /tmp/perf-<its pid>.map planted as KIND;
# sets PID, RC, ERR (stderr).
plant() {
    local kind=$1
    (cd "$WORK" && KIND=$kind TARGET="$WORK/target" LINK2="$WORK/link2" PIDFILE="$WORK/pid" \
        timeout -s KILL 60 sh -c '
        m=/tmp/perf-$$.map; echo $$ >"$PIDFILE"
        case $KIND in
        symlink) ln -s "$TARGET" "$m" ;;
        fifo) mkfifo -m 600 "$m" ;;
        foreign) : >"$m"; chmod 666 "$m"; chown 65534 "$m" ;;
        hardlink) : >"$m"; chmod 666 "$m"; ln "$m" "$LINK2" ;;
        esac
        exec env LD_PRELOAD="$0" "$@"' "$SP_LIB" "$NODE" "$APP" 0.5 >"$WORK/out" 2>"$WORK/err")
    RC=$?
    PID=$(cat "$WORK/pid")
    planted+=("/tmp/perf-$PID.map")
    ERR=$(cat "$WORK/err")
}
warned() { grep -c "not writing V8's perf map /tmp/perf-$PID.map: $1" <<<"$ERR"; }

echo precious >"$WORK/target"
plant symlink
check "symlink: node ran (exit $RC)" test "$RC" = 0
check "symlink: the file it points to is untouched" test "$(cat "$WORK/target")" = precious
check "symlink: left in place, not followed" test -L "/tmp/perf-$PID.map"
check "symlink: one warning line, nothing else on stderr (saw: $ERR)" \
    test "$(warned 'it is a symlink')" = 1 -a "$(wc -l <<<"$ERR")" = 1
rm -f "/tmp/perf-$PID.map"

plant fifo
check "FIFO: node ran, did not block on it (exit $RC)" test "$RC" = 0
check "FIFO: left in place" test -p "/tmp/perf-$PID.map"
check "FIFO: one warning" test "$(warned 'it is not a regular file')" = 1
rm -f "/tmp/perf-$PID.map"

if [ "$(id -u)" = 0 ]; then
    plant foreign
    check "another user's 0666 file: node ran (exit $RC)" test "$RC" = 0
    check "another user's 0666 file: received nothing" test ! -s "/tmp/perf-$PID.map"
    check "another user's 0666 file: one warning" test "$(warned 'it belongs to another user')" = 1
    rm -f "/tmp/perf-$PID.map"
else
    echo "# not root: cannot plant a file owned by another user (skipped)"
fi

# Our own stale file (pid reuse) is replaced, not written: a second link to it stays empty.
plant hardlink
check "stale file of ours with a second link: node ran (exit $RC)" test "$RC" = 0
check "stale file of ours: the old inode received nothing" test ! -s "$WORK/link2"
check "stale file of ours: no warning (saw: $ERR)" test -z "$ERR"
check "stale file of ours: the new map was removed at exit" test ! -e "/tmp/perf-$PID.map"

# A normal run: the map is ours, mode 0600, and gone at exit.
mode=$(cd "$WORK" && LD_PRELOAD=$SP_LIB "$NODE" -e '
  const p = "/tmp/perf-" + process.pid + ".map";
  process.stdout.write((require("fs").statSync(p).mode & 0o777).toString(8) + " " + p)')
planted+=("${mode#* }")
check "the map is created with mode 0600 (saw $mode)" test "${mode%% *}" = 600
check "and removed at exit" test ! -e "${mode#* }"

# 13: kill -9 leaves the map; the next profiled node removes it. A map written for the
# user's own --perf-basic-prof (a perf session needs it after the process) stays.
start_killed() { # start_killed NODE_OPTIONS: starts a profiled node, waits for its map; sets KPID
    (cd "$WORK" && NODE_OPTIONS=$1 LD_PRELOAD=$SP_LIB exec "$NODE" "$APP" 60 >/dev/null 2>&1) &
    KPID=$!
    planted+=("/tmp/perf-$KPID.map")
    for _ in $(seq 1 100); do
        [ -s "/tmp/perf-$KPID.map" ] && [ -e "$SENTRYPROF_SPOOL_DIR/perfmaps/$KPID" -o -n "$1" ] && break
        sleep 0.1
    done
    sleep 0.3
    kill -9 "$KPID"
    wait "$KPID" 2>/dev/null
}
start_killed ""
ours=$KPID
check "killed: its map is left behind" test -s "/tmp/perf-$ours.map"
check "killed: its record is in the spool" test -e "$SENTRYPROF_SPOOL_DIR/perfmaps/$ours"
start_killed "--perf-basic-prof"
users=$KPID
check "killed (user's own --perf-basic-prof): its map is left behind" test -s "/tmp/perf-$users.map"
check "killed (user's own --perf-basic-prof): no record" test ! -e "$SENTRYPROF_SPOOL_DIR/perfmaps/$users"
echo "a map of ours that a record does not name" >"$WORK/unrecorded"
(cd "$WORK" && LD_PRELOAD=$SP_LIB "$NODE" "$APP" 0.3 >/dev/null 2>"$WORK/err2")
check "next run: the killed node's map is gone" test ! -e "/tmp/perf-$ours.map"
check "next run: its record is gone" test ! -e "$SENTRYPROF_SPOOL_DIR/perfmaps/$ours"
check "next run: the user's own map stays" test -s "/tmp/perf-$users.map"
check "next run: nothing on stderr" test ! -s "$WORK/err2"
# -- workers that JIT-compile many functions write megabytes of map (one line per compiled
# function, from V8's code events: src/jitlog.h); what the agent has read goes back to the
# file system (a hole punched in place), unless the user keeps the map
cat >"$WORK/mapchurn.js" <<'JS'
const { Worker } = require('worker_threads');
const fs = require('fs');
// 1,500 functions with long names per worker, each called until V8 compiles it (Sparkplug):
// ~4.5 MiB of map from 20 workers.
const src = `const pad = 'f'.repeat(100);
for (let k = 0; k < 1500; k++) {
  const f = new Function('return function ' + pad + k + '(n) { let s = 0; for (let i = 0; i < n; i++) s += i * ' + k + '; return s; }')();
  for (let j = 0; j < 12; j++) f(200);
}`;
const batch = (n) => Promise.all(Array.from({ length: n }, () =>
  new Promise((res) => { const w = new Worker(src, { eval: true }); w.on('error', res); w.on('exit', res); })));
const burn = (ms) => { const end = process.cpuUsage().user + ms * 1000; while (process.cpuUsage().user < end); };
(async () => {
  for (let i = 0; i < 4; i++) await batch(5);
  const p = `/tmp/perf-${process.pid}.map`;
  let st;
  for (let i = 0; i < 200; i++) { // until the agent has read it all (it reads while samples arrive)
    burn(20);
    await new Promise((r) => setTimeout(r, 30));
    st = fs.statSync(p);
    if (__sentryprof.stats().perf_map_behind_bytes === 0 && i > 10) break;
  }
  console.log(JSON.stringify({ pid: process.pid, size: st.size, disk: st.blocks * 512 }));
})();
JS
r=$(cd "$WORK" && LD_PRELOAD=$SP_LIB "$NODE" "$WORK/mapchurn.js" 2>"$WORK/err3")
check "churn: 20 workers wrote >= 4 MiB of map, its disk blocks <= 2 MiB (saw $r)" \
    test "$(jqn "$r" 'f.size >= 4194304 && f.disk <= 2097152')" = true
check "churn: nothing on stderr" test ! -s "$WORK/err3"
r=$(cd "$WORK" && SENTRYPROF_KEEP_PERF_MAP=1 LD_PRELOAD=$SP_LIB "$NODE" "$WORK/mapchurn.js" 2>"$WORK/err4")
planted+=("/tmp/perf-$(jqn "$r" 'f.pid').map")
check "churn with SENTRYPROF_KEEP_PERF_MAP=1: the map stays whole on disk (saw $r)" \
    test "$(jqn "$r" 'f.size >= 4194304 && f.disk >= f.size * 0.9')" = true
kept="/tmp/perf-$(jqn "$r" 'f.pid').map"
check "the map's lines are V8's code events: the workers' 1,500 functions, each under its name (saw $(grep -c 'ffff1499 ' "$kept") lines of the last one, $(grep -c ' JS:[*^+]f\{100\}[0-9]' "$kept") of all)" \
    test "$(grep -c ' JS:[*^+]f\{100\}1499 ' "$kept")" -ge 1 -a "$(grep -c ' JS:[*^+]f\{100\}[0-9]' "$kept")" -ge 20000
finish
