#!/usr/bin/env bash
# A slim image without jansson, libcurl, libunwind or jemalloc (issue #15): the preloaded
# library still loads, every process runs as without it, and node is still profiled. The
# libraries are hidden in a private mount namespace (an empty file bind-mounted over each),
# so ld.so cannot load them; we check that it really cannot (the CLI, which links jansson
# and libcurl, fails there).
. "$(dirname "$0")/lib.sh"
need_node
if ! unshare -m --propagation private true 2>/dev/null; then
    echo "SKIP: unshare -m is not permitted here (needs root or user namespaces): cannot hide libraries" >&2
    exit 77
fi
hide=""
for name in libjansson.so.4 libcurl.so.4 libcurl-gnutls.so.4 libunwind.so.8 libjemalloc.so.2; do
    for dir in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib /usr/lib64; do
        [ -e "$dir/$name" ] && hide="$hide $(readlink -f "$dir/$name")"
    done
done
: >"$WORK/empty"
# Runs "$@" in a mount namespace where each hidden library is an empty file.
slim() {
    unshare -m --propagation private bash -c '
        empty=$1; shift; hide=$1; shift
        for f in $hide; do mount --bind "$empty" "$f" || exit 98; done
        exec "$@"' slim "$WORK/empty" "$hide" "$@"
}
echo "# hidden:$hide"
set +e
slim "$SP_CLI" --version >"$WORK/cli.out" 2>&1; rc=$?
set -e
check "the hiding works: the CLI (jansson, libcurl) cannot start in the slim namespace (rc $rc)" test "$rc" -ne 0

set +e
slim env LD_PRELOAD="$SP_LIB" sh -c 'echo out; echo err >&2; exit 7' >"$WORK/o1" 2>"$WORK/e1"; rc1=$?
sh -c 'echo out; echo err >&2; exit 7' >"$WORK/o2" 2>"$WORK/e2"; rc2=$?
slim env LD_PRELOAD="$SP_LIB" /bin/true 2>"$WORK/true.err"; rct=$?
set -e
check "sh under the shim without jansson & co: same stdout, stderr, exit code (stderr: $(head -c 300 "$WORK/e1"))" \
    test "$rc1" = "$rc2" -a "$(cat "$WORK/o1")" = "$(cat "$WORK/o2")" -a "$(cat "$WORK/e1")" = "$(cat "$WORK/e2")"
check "/bin/true under the shim without jansson & co: exit 0, nothing on stderr" test "$rct" = 0 -a ! -s "$WORK/true.err"

set +e
slim env LD_PRELOAD="$SP_LIB" SENTRYPROF_SPOOL_DIR="$WORK/spool" SENTRYPROF_MODE=continuous \
    "$NODE" "$APPS/hot.js" 1 >"$WORK/node.out" 2>"$WORK/node.err"; rcn=$?
set -e
check "node under the shim without jansson & co exits 0 (stderr: $(head -c 300 "$WORK/node.err"))" test "$rcn" = 0
n=$(count_envelopes "$WORK/spool")
check "node was profiled: a chunk in the spool (${n:-0} envelopes)" test "${n:-0}" -ge 1
finish
