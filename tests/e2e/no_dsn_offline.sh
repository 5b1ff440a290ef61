#!/usr/bin/env bash
# No DSN and no network change nothing: the whole run is on disk as complete envelopes.
# Also: a chunk is committed while the process runs (a SIGTERM'd node runs no destructor).
. "$(dirname "$0")/lib.sh"
need_node
spool="$WORK/spool"
run_offline() {
    if command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
        unshare -n "$@"
    else
        echo "# unshare -n unavailable: running with the network present" >&2
        "$@"
    fi
}
set +e
run_offline env -u SENTRY_DSN SENTRYPROF_SPOOL_DIR=$spool LD_PRELOAD=$SP_LIB "$NODE" "$APPS/hot.js" 2 >/dev/null 2>"$WORK/err"
rc=$?
set -e
check "offline run exits 0" test "$rc" = 0
check "nothing on stderr" test ! -s "$WORK/err"
mapfile -t files < <(spool_files "$spool")
check "envelopes on disk" test -f "${files[0]}"
check "they pass the v2 rules" "$NODE" "$VALIDATE" "${files[@]}"
check "spool dir is mode 0700" test "$(stat -c %a "$spool")" = 700
check "no temporary files left" test -z "$(find "$spool" -name '.*' -type f)"

# SIGTERM: node exits 143 without running destructors; committed pieces must be there.
spool2="$WORK/spool-term"
SENTRYPROF_SPOOL_DIR=$spool2 SENTRYPROF_COMMIT_SECONDS=1 LD_PRELOAD=$SP_LIB "$NODE" "$APPS/hot.js" 30 >/dev/null 2>&1 &
pid=$!
sleep 3.5
kill -TERM $pid
set +e
wait $pid
rc=$?
set -e
check "SIGTERM'd node exits 143 as without the shim" test "$rc" = 143
mapfile -t files2 < <(spool_files "$spool2")
check "SIGTERM'd run left a complete chunk" "$NODE" "$VALIDATE" "${files2[@]}"
finish
