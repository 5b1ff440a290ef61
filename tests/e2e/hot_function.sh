#!/usr/bin/env bash
# Issue #2's main promise: an unchanged app under the shim yields a profile where the function
# taking ~70% of the CPU ranks first with 60-80% self samples, with node's native frames
# (V8 builtins, node, libuv, libc) in the same stacks below the JS frames.
# Busy machines: the fixture splits its work 7:3 by CPU time, and the share is measured
# between the two functions (hotLoop / (hotLoop + warmLoop)), not against all samples: node's
# start-up samples take a share that grows with the machine's load.
. "$(dirname "$0")/lib.sh"
need_node
spool="$WORK/spool"
set +e
out=$(SENTRYPROF_SPOOL_DIR=$spool LD_PRELOAD=$SP_LIB sh -c 'echo $$ >"$0"; exec "$@"' "$WORK/pid" \
    "$NODE" "$APPS/hot.js" 3 2>"$WORK/err")
rc=$?
plain=$("$NODE" "$APPS/hot.js" 0.1 2>&1)
set -e
check "app exit code unchanged (0)" test "$rc" = 0
check "app stdout unchanged" test "$out" = "$plain"
check "app stderr empty" test ! -s "$WORK/err"
mapfile -t files < <(spool_files "$spool")
check "a profile chunk was spooled" test -f "${files[0]}"
check "spooled envelopes pass the v2 rules" "$NODE" "$VALIDATE" "${files[@]}"
check "the perf map V8 wrote is removed at exit" test ! -e "/tmp/perf-$(cat "$WORK/pid").map"

"$SP_CLI" top -n 10 "$spool" >"$WORK/top" 2>&1
cat "$WORK/top"
first=$(sed -n '3p' "$WORK/top")
check "sentryprof top ranks hotLoop first (saw: $first)" grep -q 'hotLoop' <<<"$first"
check "warmLoop is listed too" grep -q 'warmLoop' "$WORK/top"

facts=$("$NODE" "$(dirname "$0")/stack-facts.js" hotLoop "${files[@]}")
echo "facts: $facts"
warm_facts=$("$NODE" "$(dirname "$0")/stack-facts.js" warmLoop "${files[@]}")
hot=$("$NODE" -p "($facts).containing")
warm=$("$NODE" -p "($warm_facts).containing")
# 3 s of CPU at 99 Hz: >= ~200 samples in hotLoop; half of that proves the timer ran throughout.
check "hotLoop is in >= 100 samples (saw $hot)" test "$hot" -ge 100
# Samples containing each (its own code and what it calls: builtins, the clock it reads).
check "hotLoop's share of hotLoop + warmLoop samples is 60-80% (7:3 by CPU time; saw $hot:$warm)" \
    awk -v h="$hot" -v w="$warm" 'BEGIN { p = 100 * h / (h + w); printf "# hotLoop share %.1f%%\n", p; exit !(p >= 60 && p <= 80) }'
share=$("$NODE" -p "const f=$facts; f.containing ? f.nativeBelow / f.containing : 0")
check "native frames below hotLoop in >= 90% of its stacks ($share)" \
    awk -v s="$share" 'BEGIN { exit !(s >= 0.9) }'
check "native frames are named (node's symbols)" grep -q '\[native\]' "$WORK/top"
finish
