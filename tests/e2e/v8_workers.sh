#!/usr/bin/env bash
# Issue #13: a worker's interpreted frames are named wherever its isolate runs V8's
# builtins. An isolate whose code range lies more than 2 GiB from node's embedded builtins
# gets a copy of them next to its code (V8's short builtin calls); on Node 18 that copy is
# anonymous memory no file or perf map names, and every interpreted frame of such a worker
# (its script, workerMain, node's module loader: the interpreter's entry, run from the copy)
# was a raw address: the worker's samples lost every caller above its compiled functions
# (4-9 of 20 workers in a churn; 2-3 of the 16 here, started at once). Where isolates land
# is the kernel's choice, so a run may have no such worker; tests/unit/test_symbolize.c
# (t_builtins_copy) checks the mechanism on its own. In the matrix on every node.
. "$(dirname "$0")/lib.sh"
need_node
spool="$WORK/spool"
set +e
out=$(SENTRYPROF_CLOCK=cpu SENTRYPROF_HZ=500 SENTRYPROF_SPOOL_DIR=$spool LD_PRELOAD=$SP_LIB \
    "$NODE" "$APPS/worker-callers.js" 16 0.1 2>"$WORK/err")
rc=$?
set -e
check "app exit code unchanged (0)" test "$rc" = 0
check "app stdout unchanged (saw: $out)" test "$out" = done
check "app stderr empty" test ! -s "$WORK/err"
mapfile -t files < <(spool_files "$spool")
check "spooled envelopes pass the v2 rules" "$NODE" "$VALIDATE" "${files[@]}"
facts=$("$NODE" "$(dirname "$0")/caller-facts.js" inner workerMain "${files[@]}")
echo "# per worker (thread id: samples with inner, of those with workerMain above, with a raw frame above): $facts"
# The workers outlive their work by 0.3 s: every sample is decoded while its isolate lives.
verdict=$("$NODE" -e '
const f = JSON.parse(process.argv[1]);
const w = Object.entries(f).filter(([t, c]) => t !== "0" && c.leaf >= 5);
const bad = w.filter(([, c]) => c.withCaller < 0.9 * c.leaf);
console.log(w.length >= 12 && bad.length === 0 ? "ok" :
  `${w.length} workers with >= 5 samples in inner (want >= 12); without workerMain above in 10%+: ` +
  (bad.map(([t, c]) => `${t}: ${c.withCaller} of ${c.leaf}`).join(", ") || "none"));' "$facts")
check "every worker's inner keeps workerMain above it in >= 90% of its samples ($verdict)" test "$verdict" = ok
finish
