#!/usr/bin/env bash
# Issue #5: profiles reach the DSN exactly once through ingest outages, rate limits, kill -9
# and shared spools; an unwritable or full spool leaves the app untouched; no TLS, HTTP/2 or
# brotli code of ours runs inside node (uploads run in a `sentryprof upload` child).
. "$(dirname "$0")/lib.sh"
need_node
command -v curl >/dev/null || { echo "curl needed" >&2; exit 99; }
S() { "$NODE" -e "const f=JSON.parse(process.argv[1]); console.log($2)" "$1"; }
run_app() { # run_app SPOOL SECONDS [env...]: continuous chunks of 5 s, delivered to $DSN
    local spool=$1 secs=$2; shift 2
    env SENTRY_DSN="$DSN" SENTRYPROF_MODE=continuous SENTRYPROF_CHUNK_SECONDS=5 SENTRYPROF_COMMIT_SECONDS=1 \
        SENTRYPROF_SPOOL_DIR="$spool" STATS_FILE="$spool.stats" "$@" LD_PRELOAD="$SP_LIB" \
        "$NODE" "$APPS/steady.js" "$secs"
}
left_in_spool() { count_envelopes "$1"; }
# What a run could not send before exit (its last chunk when exit came while the agent was
# still writing it, or files waiting out a backoff) stays on disk for the next process or
# `sentryprof upload`; this sends it and checks the spool is empty afterwards.
drained() {
    local n i
    n=$(left_in_spool "$1")
    [ "$n" = 0 ] && return 0
    echo "# $n envelope(s) left at exit in $1: sending with sentryprof upload"
    # An uploader child of the exited app may still be sending (it outlives node by design):
    # files it holds are locked; give it time, then check again.
    for i in 1 2 3 4 5 6 7 8 9 10; do
        "$SP_CLI" upload --quiet --spool "$1" --dsn "$DSN" --timeout 10
        [ "$(left_in_spool "$1")" = 0 ] && return 0
        sleep 1
    done
    return 1
}

# -- ingest up: every chunk arrives once, valid
start_ingest "$WORK/in1"
out=$(run_app "$WORK/s1" 12 2>"$WORK/e1")
sum=$(ingest_summary "$WORK/in1")
echo "# up: $(S "$sum" '{chunks: f.chunk_ids.length, dup: f.duplicate_chunk_ids.length, problems: f.problems.length, statuses: f.by_status}')"
check "app output unchanged" test "$out" = "steady done"
check "app stderr empty" test ! -s "$WORK/e1"
check "ingest up: >= 3 chunks arrived, none twice" test "$(S "$sum" 'f.chunk_ids.length >= 3 && f.duplicate_chunk_ids.length === 0')" = true
check "ingest up: every envelope passed the rules" test "$(S "$sum" 'f.problems.length === 0 && f.not_ok === 0')" = true
check "ingest up: nothing left in the spool" drained "$WORK/s1"
check "ingest up: still no chunk twice after the drain" test "$(S "$(ingest_summary "$WORK/in1")" 'f.duplicate_chunk_ids.length')" = 0
kill $INGEST_PID 2>/dev/null; wait $INGEST_PID 2>/dev/null

# -- ingest down for the first 20 s of a 40 s run, then up: everything arrives once
start_ingest "$WORK/in2" --mode '{"mode":"down","for_seconds":20}'
out=$(run_app "$WORK/s2" 40 2>"$WORK/e2")
sleep 1
sum=$(ingest_summary "$WORK/in2")
samples_sent=$(S "$sum" 'f.chunks.reduce((a, c) => a + c.samples, 0)')
samples_taken=$(S "$(cat "$WORK/s2.stats")" 'f.samples_symbolized')
echo "# down 20 s: $(S "$sum" '{chunks: f.chunk_ids.length, dup: f.duplicate_chunk_ids.length}') samples sent $samples_sent of $samples_taken before exit; left in spool: $(left_in_spool "$WORK/s2")"
check "outage: app output unchanged" test "$out" = "steady done"
# Issue #15: an unreachable ingest is no longer silent: one line, once, saying the data is kept.
check "outage: one line on stderr, that profiles are kept ($(head -c 300 "$WORK/e2"))" \
    test "$(wc -l <"$WORK/e2")" = 1 -a "$(grep -c 'cannot reach Sentry.*kept' "$WORK/e2")" = 1
check "outage: no chunk arrived twice" test "$(S "$sum" 'f.duplicate_chunk_ids.length')" = 0
check "outage: >= 7 chunks arrived (40 s / 5 s)" test "$(S "$sum" 'f.chunk_ids.length >= 7')" = true
check "outage: every sample arrived ($samples_sent >= $samples_taken)" test "$samples_sent" -ge "$samples_taken"
check "outage: nothing left in the spool" drained "$WORK/s2"
check "outage: still no chunk twice after the drain" test "$(S "$(ingest_summary "$WORK/in2")" 'f.duplicate_chunk_ids.length')" = 0
kill $INGEST_PID 2>/dev/null; wait $INGEST_PID 2>/dev/null

# -- 429 with Retry-After: 5: no request for 5 s, then delivery resumes
start_ingest "$WORK/in3" --mode '{"mode":"429","retry_after":5,"count":1}'
out=$(run_app "$WORK/s3" 14 2>"$WORK/e3")
sum=$(ingest_summary "$WORK/in3")
gap=$("$NODE" -e '
  const rs = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse).filter((r) => r.kind === undefined || r.kind === "envelope");
  const i = rs.findIndex((r) => r.status === 429);
  console.log(i < 0 || i + 1 >= rs.length ? -1 : ((Date.parse(rs[i + 1].time) - Date.parse(rs[i].time)) / 1000).toFixed(2));
' "$WORK/in3/requests.jsonl")
echo "# 429: next request ${gap}s after the 429; $(S "$sum" 'JSON.stringify(f.by_status)')"
check "429: the next request waited >= 5 s (${gap}s)" awk -v g="$gap" 'BEGIN { exit !(g >= 4.9) }'
check "429: delivery resumed, nothing lost or doubled" \
    test "$(S "$sum" 'f.chunk_ids.length >= 2 && f.duplicate_chunk_ids.length === 0')" = true
check "429: nothing left in the spool" drained "$WORK/s3"
kill $INGEST_PID 2>/dev/null; wait $INGEST_PID 2>/dev/null

# -- kill -9 mid-run: only complete envelopes on disk; the next run uploads them
start_ingest "$WORK/in4" --mode down
run_app "$WORK/s4" 30 >/dev/null 2>&1 &
app=$!
sleep 7
kill -9 $app; wait $app 2>/dev/null
check "kill -9: the spool holds only complete, valid envelopes" \
    "$NODE" "$top_srcdir/tests/ingest/check-envelopes.js" "$WORK/s4"
before=$(left_in_spool "$WORK/s4")
kill -USR1 $INGEST_PID # the ingest comes back
sleep 1
# The dead run's failures left a backoff (up to ~8 s) in the shared state: the next run,
# long enough to see it end, sends everything.
run_app "$WORK/s4" 12 >/dev/null 2>&1
sleep 1
sum=$(ingest_summary "$WORK/in4")
echo "# kill -9: $before envelopes left behind; ingest got $(S "$sum" 'f.chunk_ids.length') chunks"
check "kill -9: the next run sent the dead run's chunks, once each" \
    test "$(S "$sum" "f.chunk_ids.length >= $before + 1 && f.duplicate_chunk_ids.length === 0")" = true
check "kill -9: nothing left in the spool" drained "$WORK/s4"
check "kill -9: still no chunk twice after the drain" test "$(S "$(ingest_summary "$WORK/in4")" 'f.duplicate_chunk_ids.length')" = 0
kill $INGEST_PID 2>/dev/null; wait $INGEST_PID 2>/dev/null

# -- two processes sharing one spool dir send each file once
start_ingest "$WORK/in5"
run_app "$WORK/s5" 12 >/dev/null 2>&1 & a=$!
run_app "$WORK/s5" 12 >/dev/null 2>&1 & b=$!
wait $a $b
sum=$(ingest_summary "$WORK/in5")
echo "# shared spool: $(S "$sum" '{chunks: f.chunk_ids.length, dup: f.duplicate_chunk_ids.length, profilers: f.profiler_ids.length}')"
check "shared spool: two profilers, each chunk once" \
    test "$(S "$sum" 'f.profiler_ids.length === 2 && f.chunk_ids.length >= 4 && f.duplicate_chunk_ids.length === 0')" = true
kill $INGEST_PID 2>/dev/null; wait $INGEST_PID 2>/dev/null

# -- unwritable spool (a file where the dir should be) and a full disk: app untouched
plain=$("$NODE" "$APPS/steady.js" 1; echo "rc=$?")
touch "$WORK/notadir"
got=$(SENTRYPROF_SPOOL_DIR="$WORK/notadir" LD_PRELOAD=$SP_LIB "$NODE" "$APPS/steady.js" 1 2>"$WORK/e6"; echo "rc=$?")
check "unwritable spool: same output and exit code" test "$got" = "$plain"
check "unwritable spool: exactly one warning line" test "$(wc -l <"$WORK/e6")" = 1
# Issue #20 item 15: chunks that could not be written are not counted as written.
SENTRYPROF_SPOOL_DIR="$WORK/notadir" SENTRYPROF_CHUNK_SECONDS=1 STATS_FILE="$WORK/e6.stats" \
    LD_PRELOAD=$SP_LIB "$NODE" "$APPS/steady.js" 3 >/dev/null 2>&1
st=$(cat "$WORK/e6.stats")
check "unwritable spool: chunks_written 0, spool_errors > 0 (saw $(S "$st" '[f.chunks_written, f.spool_errors].join()'))" \
    test "$(S "$st" 'f.chunks_written === 0 && f.spool_errors > 0')" = true
if mkdir -p "$WORK/tiny" && mount -t tmpfs -o size=48k tmpfs "$WORK/tiny" 2>/dev/null; then
    got=$(SENTRYPROF_SPOOL_DIR="$WORK/tiny/spool" SENTRYPROF_COMMIT_SECONDS=1 STATS_FILE="$WORK/tiny.stats" \
        LD_PRELOAD=$SP_LIB "$NODE" "$APPS/steady.js" 4 2>"$WORK/e7"; echo "rc=$?")
    umount "$WORK/tiny"
    check "full disk: same output and exit code" test "$got" = "${plain/steady done/steady done}" -o "$got" = "$(printf 'steady done\nrc=0')"
    check "full disk: at most one warning line" test "$(wc -l <"$WORK/e7")" -le 1
    check "full disk: the drops are counted" test "$(S "$(cat "$WORK/tiny.stats")" 'f.spool_errors > 0')" = true
    # The same in transaction mode: each transaction's envelope is appended to a batch until
    # the disk is full; what is on disk is whole envelopes, the rest is counted.
    cat >"$WORK/txns.js" <<'JS'
const p = globalThis.__sentryprof;
const end = Date.now() + 3000;
let n = 0, x = 0;
while (Date.now() < end) {
  const t = p.startTransaction({ name: `txn ${n++}`, op: 'task' });
  const stop = Date.now() + 30;
  while (Date.now() < stop) x += Math.sqrt(x + n);
  t.finish();
}
setTimeout(() => {
  require('fs').writeFileSync(process.env.STATS_FILE, JSON.stringify(p.stats()));
  console.log('txns done');
}, 300);
JS
    mount -t tmpfs -o size=48k tmpfs "$WORK/tiny"
    got=$(SENTRYPROF_MODE=transaction SENTRYPROF_SPOOL_DIR="$WORK/tiny/spool" STATS_FILE="$WORK/tinyt.stats" \
        LD_PRELOAD=$SP_LIB "$NODE" "$WORK/txns.js" 2>"$WORK/e9"; echo "rc=$?")
    check "full disk, transactions: same output and exit code" test "$got" = "$(printf 'txns done\nrc=0')"
    check "full disk, transactions: at most one warning line" test "$(wc -l <"$WORK/e9")" -le 1
    st=$(cat "$WORK/tinyt.stats")
    echo "# full disk, transactions: $(S "$st" '{profiles: f.transaction_profiles, spool_errors: f.spool_errors}'), $(count_envelopes "$WORK/tiny/spool") envelopes on disk"
    check "full disk, transactions: some spooled, the rest counted as drops" \
        test "$(S "$st" 'f.transaction_profiles > 0 && f.spool_errors > 0')" = true
    check "full disk, transactions: what is on disk is whole, valid envelopes" \
        "$NODE" "$top_srcdir/tests/ingest/check-envelopes.js" "$WORK/tiny/spool"
    umount "$WORK/tiny"
else
    echo "# tmpfs mount not permitted here: full-disk case not run"
fi

# -- no TLS, HTTP/2 or brotli symbol of a library we brought in is bound into node
start_ingest "$WORK/in8"
env SENTRY_DSN="$DSN" SENTRYPROF_MODE=continuous SENTRYPROF_SPOOL_DIR="$WORK/s8" LD_BIND_NOW=1 \
    LD_DEBUG=bindings LD_DEBUG_OUTPUT="$WORK/bind" LD_PRELOAD="$SP_LIB" "$NODE" "$APPS/steady.js" 1 >/dev/null 2>&1
node_pid_files=$(ls "$WORK"/bind.* | head -5)
bad=$(cat "$WORK"/bind.* | grep -E "to $NODE \[0\]: normal symbol \`(SSL_|EVP_|OPENSSL_|CRYPTO_|nghttp2_|Brotli|inflate|deflate)" \
    | grep -v "binding file $NODE " | head -5)
echo "# bindings into node from other objects: ${bad:-none}"
check "no TLS/HTTP2/brotli/zlib symbol bound from our libraries into node" test -z "$bad"
check "the upload happened in a separate process (curl never loaded into node)" \
    bash -c "! grep -l 'libcurl' $(echo $node_pid_files | tr ' ' '\n' | xargs grep -l "$NODE" | tr '\n' ' ') 2>/dev/null | grep -q ."
check "and it was delivered" test "$(S "$(ingest_summary "$WORK/in8")" 'f.chunk_ids.length')" -ge 1
finish
