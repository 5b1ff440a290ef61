#!/usr/bin/env bash
# Issue #20 item 3: a privilege-dropping app (root, process.setuid(1001) after listen).
# - root's default spool ($TMPDIR/sentryprof-0) is never created owned by uid 1001 (later
#   root runs would refuse it): the shim creates it as root just before the drop;
# - the perf map we created as root is handed to uid 1001 before the drop, so the process
#   removes it at exit (a root-owned file in sticky /tmp is not its to unlink).
# Needs root (skipped otherwise): the uid 1001 need not exist.
. "$(dirname "$0")/lib.sh"
need_node
unset SENTRYPROF_DISABLE SENTRYPROF_DEBUG SENTRY_DSN SENTRYPROF_KEEP_PERF_MAP NODE_OPTIONS SENTRYPROF_SPOOL_DIR
if [ "$(id -u)" != 0 ]; then
    echo "# not root: privilege drop cannot be tried"
    exit 77
fi
planted=()
cleanup() { local p; for p in "${planted[@]}"; do rm -f "$p"; done; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT
chmod 711 "$WORK"
mkdir -m 1777 "$WORK/tmp" # like /tmp: the dropped process may create entries in it
cat >"$WORK/app.js" <<'JS'
const http = require('http');
const srv = http.createServer((q, s) => s.end('ok'));
function work(n) { let x = 0; for (let i = 0; i < n; i++) x += Math.sqrt(i); return x; }
srv.listen(0, '127.0.0.1', () => {
  process.setuid(1001);
  let x = 0;
  for (let k = 0; k < 300; k++) x += work(2e5);
  console.log(`pid ${process.pid} uid ${process.getuid()} ${x > 0}`);
  srv.close();
});
JS

# run CASE [NODE_OPTIONS]: node under the shim, TMPDIR=$WORK/tmp; sets PID, RC, OUT
run() {
    local case=$1
    rm -rf "$WORK/tmp/sentryprof-0"
    (cd "$WORK" && NODE_OPTIONS=${2:-} TMPDIR="$WORK/tmp" LD_PRELOAD="$SP_LIB" timeout -s KILL 60 "$NODE" app.js \
        >"$WORK/$case.out" 2>"$WORK/$case.err")
    RC=$?
    OUT=$(cat "$WORK/$case.out")
    PID=$(awk '{print $2}' "$WORK/$case.out")
    [ -n "$PID" ] && planted+=("/tmp/perf-$PID.map")
}
spool_owner() { if [ -e "$WORK/tmp/sentryprof-0" ]; then stat -c %u "$WORK/tmp/sentryprof-0"; else echo 0; fi; }

run ours
check "our map: the app ran and dropped to uid 1001 (rc $RC, out '$OUT')" test "$RC" = 0 -a "${OUT#* * }" = "uid 1001 true"
check "our map: removed at exit although the process is uid 1001 by then" test ! -e "/tmp/perf-$PID.map"
check "our map: root's default spool, if created, is root's (owner uid $(spool_owner))" test "$(spool_owner)" = 0

run users --perf-basic-prof # the user's own map: not ours to remove, and no perf-map record
check "user's map: the app ran (rc $RC, out '$OUT')" test "$RC" = 0 -a "${OUT#* * }" = "uid 1001 true"
check "user's map: root's default spool, if created, is root's (owner uid $(spool_owner))" test "$(spool_owner)" = 0
check "user's map: stays (the user asked for it)" test -e "/tmp/perf-$PID.map"
finish
