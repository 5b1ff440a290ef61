#!/usr/bin/env bash
# Issue #20, hostile perf maps (the cases tests/e2e/perfmap_files.sh does not cover):
# - a stale map from a reused pid: a regular file of ours with one link, left by a dead
#   process that had our pid, with lines that name every address, planted before node
#   starts; also as a 2 GB (sparse) file. It is replaced, never read: its names reach no
#   profile, node runs as usual, nothing is said, the path is gone at exit.
# - the user's own --perf-basic-prof on node's command line: the map stays at exit, as with
#   the flag in NODE_OPTIONS (tests/e2e/perfmap_files.sh).
# - the map we read grows huge and fills with garbage while node runs (the process itself,
#   or anyone with its uid, writes into it): random bytes, a 16 MiB line, 100,000 entries at
#   addresses no code occupies, then a 2 GB hole (NUL bytes). With the user's own
#   --perf-basic-prof (a map we read and keep) and with the map we create (whose read parts
#   we punch out): the profiler's memory and the process's RSS stay bounded, the agent keeps
#   reading (4 MiB per pass), at most one warning line, node runs as usual.
# The pid is known before exec: a wrapper shell plants the file for its own pid ($$) and
# execs node. Everything planted is removed by its exact path. One line: "perfmaps: ...".
. "$(dirname "$0")/lib.sh"
need_node
unset SENTRYPROF_DISABLE SENTRYPROF_DEBUG SENTRY_DSN SENTRYPROF_KEEP_PERF_MAP NODE_OPTIONS
export SENTRYPROF_SPOOL_DIR="$WORK/spool"
planted=()
cleanup() { local p; for p in "${planted[@]}"; do rm -f "$p"; done; rm -rf "$WORK"; }
trap cleanup EXIT

# The app: burns CPU in a named function (so the agent reads the map every pass); in mode
# "grow", fills its own map with garbage and a 2 GB hole first, then keeps burning while it
# watches the profiler's memory, its RSS and how far behind the agent's reading is.
cat >"$WORK/app.js" <<'JS'
const fs = require('fs');
const p = `/tmp/perf-${process.pid}.map`;
const mode = process.argv[2];
function hostileMapBurner(ms) { const end = process.cpuUsage().user + ms * 1000; let x = 0; while (process.cpuUsage().user < end) x += Math.sqrt(x + 1); return x; }
const stats = () => globalThis.__sentryprof.stats();
const st0 = fs.statSync(p);
const head = fs.readFileSync(p, { encoding: 'latin1', flag: 'r' }).slice(0, 200);
const out = { ino: st0.ino, size0: st0.size, head };
require('v8').setFlagsFromString('--expose-gc');
const gc = require('vm').runInNewContext('gc');
(async () => {
  for (let i = 0; i < 10; i++) { hostileMapBurner(30); await new Promise((r) => setTimeout(r, 20)); }
  if (mode === 'grow') {
    const s0 = stats();
    out.base = { arena: s0.memory_bytes, rss: process.memoryUsage().rss, agent_cpu_ns: s0.agent_cpu_ns };
    fs.appendFileSync(p, require('crypto').randomBytes(8 << 20));
    let lines = '';
    for (let i = 0; i < 100000; i++) lines += `${(0x10000 + i * 16).toString(16)} 10 LazyCompile:*garbageEntry${i} /nowhere.js:${i}\n`;
    fs.appendFileSync(p, lines);
    fs.appendFileSync(p, Buffer.alloc(16 << 20, 0x41));
    fs.appendFileSync(p, '\nthis is not a perf map line\n');
    fs.truncateSync(p, fs.statSync(p).size + 2 * 1024 * 1024 * 1024);
    out.size = fs.statSync(p).size;
    lines = null;
    gc(); // what the app itself allocated to write all that is not the profiler's
    out.base.rss = process.memoryUsage().rss;
    // V8 goes on appending: new functions after the hole.
    for (let i = 0; i < 50; i++) new Function('x', `return x + ${i}`)(i);
    let maxArena = 0, maxRss = 0, firstBehind = -1, maxBehind = -1, behind = -1;
    for (let i = 0; i < 60; i++) {
      hostileMapBurner(40);
      await new Promise((r) => setTimeout(r, 30));
      const s = stats();
      maxArena = Math.max(maxArena, s.memory_bytes);
      maxRss = Math.max(maxRss, process.memoryUsage().rss);
      behind = s.perf_map_behind_bytes;
      if (firstBehind < 0 && behind > 0) firstBehind = behind;
      maxBehind = Math.max(maxBehind, behind);
    }
    out.max = { arena: maxArena, rss: maxRss };
    out.behind = { first: firstBehind, max: maxBehind, last: behind };
    out.agent_cpu_ms = Math.round((stats().agent_cpu_ns - out.base.agent_cpu_ns) / 1e6);
  }
  out.result = Math.round(hostileMapBurner(50)) > 0 ? 'ran' : 'odd';
  console.log(JSON.stringify(out));
})();
JS

# plant KIND [NODE_ARGS...]: runs the app under the shim with /tmp/perf-<its pid>.map
# planted as KIND (none, stale, stale2g); sets PID, RC, OUT (stdout), ERR (stderr), INO (the
# planted file's inode).
plant() {
    local kind=$1; shift
    (cd "$WORK" && KIND=$kind PIDFILE="$WORK/pid" INOFILE="$WORK/ino" timeout -s KILL 120 sh -c '
        m=/tmp/perf-$$.map; echo $$ >"$PIDFILE"; : >"$INOFILE"
        case $KIND in
        stale|stale2g)
            (umask 077; set -C; : >"$m") || exit 97
            printf "0 ffffffffffffffff LazyCompile:*staleMapMarker /stale.js:1\n" >>"$m"
            head -c 65536 /dev/urandom >>"$m"
            printf "\n1000 10 LazyCompile:*staleMapMarker /stale.js:2\n" >>"$m"
            [ "$KIND" = stale2g ] && truncate -s 2G "$m"
            touch -d "-1 hour" "$m"
            stat -c %i "$m" >"$INOFILE" ;;
        esac
        exec env LD_PRELOAD="$0" "$@"' "$SP_LIB" "$NODE" "$@" >"$WORK/out" 2>"$WORK/err")
    RC=$?
    PID=$(cat "$WORK/pid")
    planted+=("/tmp/perf-$PID.map")
    OUT=$(cat "$WORK/out")
    ERR=$(cat "$WORK/err")
    INO=$(cat "$WORK/ino")
}
O() { local j=$OUT; [ -n "$j" ] || j='{}'; jqn "$j" "$1"; }
# How many spool files name the stale map's function.
marker_files() { local f n=0; for f in $(spool_files "$SENTRYPROF_SPOOL_DIR"); do grep -q staleMapMarker "$f" && n=$((n + 1)); done; echo "$n"; }

for kind in stale stale2g; do
    rm -rf "$SENTRYPROF_SPOOL_DIR"
    plant "$kind" "$WORK/app.js" check
    check "$kind (reused pid): node ran as usual (exit $RC, saw: $(head -c 200 <<<"$OUT"))" test "$RC" = 0 -a "$(O 'f.result')" = ran
    check "$kind: nothing said (saw: $(head -c 300 <<<"$ERR"))" test -z "$ERR"
    # (Not by inode number: the file system may give the new file the number just freed.)
    check "$kind: the planted file was replaced: the map node sees is new, without its lines (size $(O 'f.size0'); inode $INO -> $(O 'f.ino'))" \
        test -n "$INO" -a "$(O 'f.size0 < 1048576 && !f.head.includes("staleMapMarker")')" = true
    check "$kind: its names reach no profile ($(marker_files) spool files name them)" test "$(marker_files)" = 0
    check "$kind: the path is gone at exit" test ! -e "/tmp/perf-$PID.map"
    check "$kind: profiles were written" test -n "$(spool_files "$SENTRYPROF_SPOOL_DIR")"
done

# The user's own --perf-basic-prof on node's command line (not in NODE_OPTIONS) is the
# user's too: a perf session reads that map after the process exits, so it stays.
plant none --perf-basic-prof "$WORK/app.js" check
check "user's --perf-basic-prof on the command line: node ran (exit $RC)" test "$RC" = 0 -a "$(O 'f.result')" = ran
check "user's --perf-basic-prof on the command line: the map stays after exit" test -s "/tmp/perf-$PID.map"
rm -f "/tmp/perf-$PID.map"

# grow: the user's own --perf-basic-prof (we read it, keep it: it stays after exit), then
# the map we create (read parts punched out, removed at exit).
line=""
for variant in user ours; do
    if [ "$variant" = user ]; then NODE_OPTIONS=--perf-basic-prof plant none "$WORK/app.js" grow
    else plant none "$WORK/app.js" grow; fi
    echo "# grow ($variant): exit $RC, $OUT; stderr: $(head -c 300 <<<"$ERR")"
    check "garbage + 2 GB ($variant map): node ran as usual (exit $RC)" test "$RC" = 0 -a "$(O 'f.result')" = ran
    check "garbage + 2 GB ($variant map): the map did grow past 2 GiB ($(O 'f.size'))" test "$(O 'f.size > 2 ** 31')" = true
    check "garbage + 2 GB ($variant map): one warning line at most (saw $(grep -c . <<<"$ERR"): $(head -c 300 <<<"$ERR"))" \
        test "$(grep -c . <<<"$ERR")" -le 1
    # Bounds: what one refresh reads (4 MiB) and its parse; the 100,000 bogus entries are
    # pruned (no code at their addresses) but may all be live at one reading (~10 MiB).
    # RSS from after the app's own writes (and a GC): the growth is the reading's.
    check "garbage + 2 GB ($variant map): profiler memory bounded, +32 MiB at most (saw +$(O '((f.max.arena - f.base.arena) / 1048576).toFixed(1)') MiB)" \
        test "$(O 'f.max.arena - f.base.arena < 32 * 1048576')" = true
    check "garbage + 2 GB ($variant map): RSS bounded, +64 MiB at most (saw +$(O '((f.max.rss - f.base.rss) / 1048576).toFixed(1)') MiB)" \
        test "$(O 'f.max.rss - f.base.rss < 64 * 1048576')" = true
    # Behind once it has seen the hole (not read in one go) and less behind at the last look
    # than at its most (it kept reading). Not against the first look: that one may come
    # before the agent's first refresh after the 2 GB truncate (behind 18,751,853 ->
    # 1,083,760,275 once: it had read 1 GB of the hole). Not "still behind at the end":
    # with two CPU hogs the app's CPU-timed burns took long enough in wall time for the
    # agent to read all 2 GB (behind 2,140,719,859 -> 0).
    check "garbage + 2 GB ($variant map): the agent keeps reading (behind: first $(O 'f.behind.first'), most $(O 'f.behind.max'), last $(O 'f.behind.last'))" \
        test "$(O 'f.behind.max > 2 ** 30 && f.behind.max > f.behind.last')" = true
    if [ "$variant" = user ]; then
        check "garbage + 2 GB (user's map): the user's map stays" test -e "/tmp/perf-$PID.map"
        rm -f "/tmp/perf-$PID.map"
    else
        check "garbage + 2 GB (our map): removed at exit" test ! -e "/tmp/perf-$PID.map"
    fi
    line+="$variant map: +$(O '((f.max.arena - f.base.arena) / 1048576).toFixed(1)') MiB arena, +$(O '((f.max.rss - f.base.rss) / 1048576).toFixed(1)') MiB RSS, $(O '((f.behind.max - f.behind.last) / 1048576).toFixed(0)') MiB read in $(O 'f.agent_cpu_ms') ms of agent CPU, $(grep -c . <<<"$ERR") warning lines; "
done
echo "perfmaps: stale map of a reused pid (small and 2 GB): replaced unread, silent; garbage + 2 GB hole: ${line%; }"
finish
