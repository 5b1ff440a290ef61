#!/usr/bin/env bash
# Issue 14: a process with a DSN also sends what dead processes left. A continuous-mode run
# killed with -9 leaves its open chunk in the spool (committed, never published); the next
# process with a DSN, spooling nothing itself (transaction mode, no transaction), sends it
# within its first seconds through its uploader's first pass (the sweep), and each file
# reaches the ingest exactly once, also when a third process sweeps again.
. "$(dirname "$0")/lib.sh"
need_node
unset SENTRYPROF_DEBUG SENTRYPROF_MODE SENTRYPROF_CHUNK_SECONDS SENTRYPROF_COMMIT_SECONDS SENTRYPROF_DISABLE
S() { "$NODE" -e "const f=JSON.parse(process.argv[1]); console.log($2)" "$1"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
spool="$WORK/spool"
start_ingest "$WORK/in"

# -- the victim: continuous chunks of 60 s, re-committed every second, killed with -9
env SENTRY_DSN="$DSN" SENTRYPROF_MODE=continuous SENTRYPROF_COMMIT_SECONDS=1 SENTRYPROF_SPOOL_DIR="$spool" \
    LD_PRELOAD="$SP_LIB" "$NODE" "$APPS/steady.js" 60 >/dev/null 2>&1 &
victim=$!
for _ in $(seq 1 100); do # until its open chunk is on disk (<= 10 s)
    [ "$(count_envelopes "$spool")" = 1 ] && break
    sleep 0.1
done
sleep 1.2 # one more commit: the chunk on disk holds a few seconds
kill -9 $victim; wait $victim 2>/dev/null
left=$(count_envelopes "$spool")
sum=$(ingest_summary "$WORK/in")
echo "# killed run left $left envelope(s); the ingest has $(S "$sum" 'f.chunk_ids.length') chunk(s)"
check "the killed run left its open chunk in the spool, unsent" \
    test "$left:$(S "$sum" 'f.chunk_ids.length')" = "1:0"

# -- the next process: a DSN, nothing of its own to spool for 8 s
idle='setTimeout(() => console.log("idle done"), 8000)'
t0=$(now_ms)
out_file="$WORK/idle.out"
env SENTRY_DSN="$DSN" SENTRYPROF_MODE=transaction SENTRYPROF_SPOOL_DIR="$spool" LD_PRELOAD="$SP_LIB" \
    "$NODE" -e "$idle" >"$out_file" 2>"$WORK/idle.err" &
idle_pid=$!
got=0
while [ $(( $(now_ms) - t0 )) -lt 6000 ]; do
    got=$(S "$(ingest_summary "$WORK/in")" 'f.chunk_ids.length')
    [ "$got" -ge 1 ] && break
    sleep 0.2
done
elapsed=$(( $(now_ms) - t0 ))
alive=no; kill -0 $idle_pid 2>/dev/null && alive=yes
echo "# the dead run's chunk arrived ${elapsed} ms after the next process started (still running: $alive)"
check "the next process with a DSN sent the dead run's chunk within its first seconds (${elapsed} ms, <= 6000)" \
    test "$got:$alive" = "1:yes"
wait $idle_pid
check "the next process: output unchanged, stderr empty" test "$(cat "$out_file")" = "idle done" -a ! -s "$WORK/idle.err"

# -- a third process sweeps again: nothing is sent twice
env SENTRY_DSN="$DSN" SENTRYPROF_MODE=transaction SENTRYPROF_SPOOL_DIR="$spool" LD_PRELOAD="$SP_LIB" \
    "$NODE" -e 'setTimeout(() => {}, 3000)' >/dev/null 2>&1
sum=$(ingest_summary "$WORK/in")
echo "# after a third process: $(S "$sum" 'JSON.stringify({chunks: f.chunk_ids.length, dup: f.duplicate_chunk_ids.length, accepted: f.accepted, problems: f.problems})')"
check "each file reached the ingest exactly once (1 chunk, no duplicate)" \
    test "$(S "$sum" 'f.chunk_ids.length + " " + f.duplicate_chunk_ids.length')" = "1 0"
check "the chunk is valid under the ingest rules" "$NODE" "$top_srcdir/tests/ingest/check-envelopes.js" "$WORK/in/accepted"
check "nothing left in the spool" test "$(count_envelopes "$spool")" = 0
kill $INGEST_PID 2>/dev/null; wait $INGEST_PID 2>/dev/null
finish
