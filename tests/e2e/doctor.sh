#!/usr/bin/env bash
# Issue #8: `sentryprof doctor` runs node under the shim and says whether profiling works:
# healthy (exit 0) with this machine's node, unhealthy (exit 1) with a clear reason when the
# library is missing or SENTRY_DSN is invalid; it leaves nothing behind.
. "$(dirname "$0")/lib.sh"
need_node
command -v curl >/dev/null || { echo "curl needed" >&2; exit 99; }
unset SENTRY_DSN SENTRYPROF_LIB SENTRYPROF_DISABLE SENTRYPROF_MODE SENTRYPROF_DEBUG SENTRYPROF_V8_FRAMES NODE_OPTIONS
export SENTRYPROF_SPOOL_DIR="$WORK/spool" TMPDIR="$WORK/tmp"
mkdir -p "$TMPDIR"
# node as the test runs it, first on PATH
mkdir -p "$WORK/bin" && ln -s "$NODE" "$WORK/bin/node"
export PATH="$WORK/bin:$PATH"

doctor() { "$SP_CLI" doctor "$@" >"$WORK/out" 2>"$WORK/err"; echo $? >"$WORK/rc"; cat "$WORK/out"; }
has() { grep -q -- "$1" "$WORK/out"; }

doctor
check "healthy: exit 0" test "$(cat "$WORK/rc")" = 0
check "healthy: verdict line" grep -q '^verdict: healthy: node v' "$WORK/out"
check "reports the node found on PATH and its version" has "^ok    node          $WORK/bin/node $("$NODE" --version)\$"
check "reports the library run would preload" has "^ok    library       $(cd "$top_builddir/.libs" && pwd -P)/libsentryprof.so\$"
# --interpreted-frames-native-stack only when the V8 frame decoder is off, and then only on
# V8 >= 12 (it can deadlock V8's profiler before: tests/e2e/deopt_profiler.sh); doctor
# reports the decoder's counters, or says why interpreted frames are named as they are.
check "NODE_OPTIONS got the helper, no V8 flag (no --interpreted-frames-native-stack: the decoder is on; the perf map from V8's code events)" \
    bash -c 'grep -q "^ok    NODE_OPTIONS  .*--require \".*sentryprof-helper.js\"" "$1" && ! grep -q "^ok    NODE_OPTIONS  .*--perf-basic-prof" "$1"' _ "$WORK/out"
check "the perf map is written from V8's code events" has "^ok    perf map      written from V8's JIT code events"
check "the decoder's counters" \
    has '^ok    JS frames     V8 [0-9.]*.*: V8 frame decoder on: [0-9]* interpreted frames named from V8.s frame slots, [0-9]* frames left as walked'
cp "$WORK/out" "$WORK/out.on"
SENTRYPROF_V8_FRAMES=false doctor >/dev/null
if [ "$("$NODE" -p 'parseInt(process.versions.v8)')" -ge 12 ]; then
    check "SENTRYPROF_V8_FRAMES=false: NODE_OPTIONS got --interpreted-frames-native-stack" \
        has '^ok    NODE_OPTIONS  .*--interpreted-frames-native-stack --require ".*sentryprof-helper.js"'
    check "SENTRYPROF_V8_FRAMES=false: doctor says interpreted frames are named by the perf map" \
        has '^      JS frames     V8 [0-9.]*.*decoder off (SENTRYPROF_V8_FRAMES=false): interpreted functions are named by the perf map'
else
    check "SENTRYPROF_V8_FRAMES=false: no --interpreted-frames-native-stack on V8 < 12" \
        has '^ok    NODE_OPTIONS  .*--require ".*sentryprof-helper.js"'
    check "SENTRYPROF_V8_FRAMES=false: doctor says why interpreted frames are unnamed" \
        has '^      JS frames     V8 [0-9.]*.*decoder off (SENTRYPROF_V8_FRAMES=false): .*left out: it can deadlock'
fi
check "SENTRYPROF_V8_FRAMES=false: still healthy" test "$(cat "$WORK/rc")" = 0
cp "$WORK/out.on" "$WORK/out"
check "V8 took them: the perf map was written during the run" has '^ok    V8 flags      accepted: /tmp/perf-[0-9]*.map written during the run'
check "the JS helper loaded" has '^ok    JS helper     loaded: typeof __sentryprof = object'
check "the sampler's counters" has '^ok    sampler       signal [0-9]*, 1 thread: [0-9]* signals, [1-9][0-9]* samples.*dropped: ring full 0'
check "the spool and whether it is writable" has "^ok    spool         $WORK/spool (writable)\$"
check "SENTRY_DSN not set" has '^ok    SENTRY_DSN    not set'
check "nothing on stderr" test ! -s "$WORK/err"
check "the check run's envelopes stay out of the user's spool" test -z "$(find "$WORK/spool" -name '*.envelope' -o -name '*.envelopes')"
check "its temporary directory is removed" test -z "$(ls -A "$WORK/tmp")"
pid=$(sed -n 's|.*/tmp/perf-\([0-9]*\)\.map written.*|\1|p' "$WORK/out")
check "its perf map is gone" test ! -e "/tmp/perf-$pid.map"

doctor --node "$NODE"
check "--node PATH: healthy" test "$(cat "$WORK/rc")" = 0
check "--node PATH: that node is reported" has "^ok    node          $NODE "

SENTRYPROF_LIB="$WORK/no-such/libsentryprof.so" doctor
check "missing library: exit 1" test "$(cat "$WORK/rc")" = 1
check "missing library: the reason" has "^FAIL  library       SENTRYPROF_LIB=$WORK/no-such/libsentryprof.so: no such library\$"
check "missing library: verdict names it" has "^verdict: unhealthy: SENTRYPROF_LIB=$WORK/no-such/libsentryprof.so: no such library"

SENTRY_DSN="ftp://key@example.com/1" doctor
check "invalid DSN: exit 1" test "$(cat "$WORK/rc")" = 1
check "invalid DSN: the reason" has '^FAIL  SENTRY_DSN    SENTRY_DSN is invalid: '
check "invalid DSN: verdict names it" has '^verdict: unhealthy: SENTRY_DSN is invalid: '
check "invalid DSN: the check run still ran (transaction mode)" has '^ok    JS helper     loaded: .*transaction mode'

# Issue #15: a valid DSN is also reached, with a harmless envelope, and the answer shown.
start_ingest "$WORK/ingest"
SENTRY_DSN="$DSN" doctor
check "valid DSN: healthy" test "$(cat "$WORK/rc")" = 0
check "valid DSN: host and project" has "^ok    SENTRY_DSN    valid: http://127.0.0.1:$INGEST_PORT, project 1\$"
check "valid DSN: Sentry reached, its answer shown" has "^ok    Sentry        reached: http://127.0.0.1:$INGEST_PORT/api/1/envelope/ answered HTTP 200"
check "valid DSN: the test envelope passed the ingest's rules (one client report, nothing in it)" \
    test "$("$NODE" -e 'const f=JSON.parse(process.argv[1]); console.log(f.envelope_requests === 1 && f.ok === 1 && f.problems.length === 0 && f.chunk_ids.length === 0)' "$(ingest_summary "$WORK/ingest")")" = true
check "valid DSN: nothing spooled by the check run in the user's spool" test -z "$(find "$WORK/spool" -name '*.envelope' -o -name '*.envelopes')"
ingest_mode '{"mode":"status","status":401}'
SENTRY_DSN="$DSN" doctor
check "wrong key (HTTP 401): exit 1" test "$(cat "$WORK/rc")" = 1
check "wrong key (HTTP 401): says the key was refused" has '^FAIL  Sentry        http://127.0.0.1:[0-9]*/api/1/envelope/ refused the key: HTTP 401'
ingest_mode '{"mode":"ok"}'
kill $INGEST_PID; wait $INGEST_PID 2>/dev/null
SENTRY_DSN="$DSN" doctor
check "closed port: exit 1" test "$(cat "$WORK/rc")" = 1
check "closed port: says Sentry cannot be reached" has '^FAIL  Sentry        cannot reach http://127.0.0.1:[0-9]*/api/1/envelope/ '
check "closed port: the verdict names it" has '^verdict: unhealthy: cannot reach '


SENTRYPROF_KEEP_PERF_MAP=true doctor
check "SENTRYPROF_KEEP_PERF_MAP=true: the map is kept on purpose (saw: $(grep 'V8 flags' "$WORK/out"))" \
    has '^ok    V8 flags      accepted: .*, kept at exit (SENTRYPROF_KEEP_PERF_MAP)$'
check "SENTRYPROF_KEEP_PERF_MAP=true: no warning about a map left behind" \
    bash -c "! grep -q '^warn  perf map' '$WORK/out'"

NODE_OPTIONS="--no-such-flag-for-sentryprof" doctor
check "a flag node rejects: exit 1" test "$(cat "$WORK/rc")" = 1
check "a flag node rejects: said so" has '^verdict: unhealthy: '

doctor --node "$WORK/no-such-node"
check "--node missing: exit 1" test "$(cat "$WORK/rc")" = 1
check "--node missing: the reason" has "^FAIL  node          --node $WORK/no-such-node: not an executable file"

# Issue #20 item 15: a node that closes its stdout and lives on is waited for only up to the
# timeout (10 s for --version), not its whole life (120 s); one that hangs is killed with
# everything it started (its process group).
cat >"$WORK/closer-node" <<SH
#!/bin/sh
sleep 300 >/dev/null 2>&1 </dev/null &
echo \$! >"$WORK/grandchild"
echo v99.0.0
exec >&-
sleep 120
SH
chmod +x "$WORK/closer-node"
start=$(date +%s)
doctor --node "$WORK/closer-node" >/dev/null
took=$(($(date +%s) - start))
gc=$(cat "$WORK/grandchild")
check "node closing stdout: exit 1" test "$(cat "$WORK/rc")" = 1
check "node closing stdout: said why" has "^FAIL  node          $WORK/closer-node --version failed (killed after 10 s)"
check "node closing stdout: not waited for its life (took ${took} s; want < 60, it lives 120)" test "$took" -lt 60
# alive: running, not a zombie (an orphan's reaper may be slow); SIGKILL lands in a moment
alive() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]; }
for _ in $(seq 50); do alive "$gc" || break; sleep 0.1; done
check "node hanging: its child was killed with it (pid $gc)" bash -c "$(declare -f alive); ! alive $gc"
kill "$gc" 2>/dev/null || true

"$SP_CLI" doctor --bogus >/dev/null 2>&1
check "bad usage: exit 2" test $? = 2
finish
