#!/usr/bin/env bash
# Bounded volume under sustained load (issue 15): the trivial HTTP app (http-trivial-app.js)
# under the shim, RATE req/s from autocannon (-R) for SECONDS each:
#   1. no DSN, default settings: the spool's size over the run against the default cap;
#   2. no DSN, every request a transaction (budget lifted) and SENTRYPROF_SPOOL_MAX_BYTES=1M:
#      the largest spool size seen (sampled every 0.5 s) against the cap, files evicted;
#   3. a DSN (a local sink, tests/bench/sink.js --items, counting the transaction items it
#      receives per second) and default settings: transaction events per second against the
#      documented per-process budget (SENTRYPROF_HTTP_TRANSACTIONS_PER_SECOND, 100/s: one
#      second's burst on top over the whole run), and what the upload child delivered.
# The drain rate of the upload child itself is upload-drain.sh's. A bench, not a test:
# prints PASS/FAIL beside each bar and exits 0 whatever the numbers.
#
#   tests/bench/volume.sh [SECONDS (default 60)] [RATE (default 1200)]
#
# Environment: SENTRYPROF_LIB, SENTRYPROF_CLI, NODE, AUTOCANNON.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SECS=${1:-60}
RATE=${2:-1200}
LIB=${SENTRYPROF_LIB:-$HERE/../../_build/.libs/libsentryprof.so}
CLI=${SENTRYPROF_CLI:-$HERE/../../_build/tools/sentryprof}
NODE=${NODE:-node}
BUDGET=100 # SENTRYPROF_HTTP_TRANSACTIONS_PER_SECOND's default (README)
DEFAULT_CAP=$((100 * 1024 * 1024)) # SENTRYPROF_SPOOL_MAX_BYTES's default (README)
[ -f "$LIB" ] || { echo "volume: no library at $LIB (build it, or set SENTRYPROF_LIB)" >&2; exit 1; }
AC=${AUTOCANNON:-$("$HERE/deps.sh")} || { echo "volume: cannot install autocannon" >&2; exit 1; }
unset SENTRY_DSN SENTRYPROF_DEBUG SENTRYPROF_MODE SENTRYPROF_INCLUDE SENTRYPROF_EXCLUDE SENTRYPROF_DISABLE \
    SENTRY_TRACES_SAMPLE_RATE SENTRY_PROFILES_SAMPLE_RATE SENTRYPROF_HTTP SENTRYPROF_HTTP_TRANSACTIONS_PER_SECOND \
    SENTRYPROF_SPOOL_MAX_BYTES
OUT=$(mktemp -d "${TMPDIR:-/tmp}/sentryprof-volume.XXXXXX")
APP_PID= SINK_PID=
cleanup() {
    [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null
    [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
    rm -rf "$OUT"
}
trap cleanup EXIT
# What the cap covers: ready/, sending/, run-*/open-* envelope bytes.
spool_bytes() {
    find "$1/ready" "$1/sending" "$1"/run-* -maxdepth 1 -type f \( -name '*.envelope*' -o -name 'open-*' \) \
        -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}
# run NAME VAR=value...: the app under the shim for SECS at RATE; writes $OUT/NAME.{json,max,ac}
run() {
    local name=$1 port= max=0 b t0
    shift
    t0=$EPOCHREALTIME
    env "$@" LD_PRELOAD="$LIB" SENTRYPROF_SPOOL_DIR="$OUT/$name.spool" SENTRYPROF_CLI="$CLI" \
        "$NODE" "$HERE/http-trivial-app.js" >"$OUT/$name.out" 2>"$OUT/$name.err" &
    APP_PID=$!
    for _ in $(seq 1 200); do
        port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$OUT/$name.out")
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || { echo "volume: $name did not start: $(cat "$OUT/$name.err")" >&2; exit 1; }
    "$AC" -j -c 20 -R "$RATE" -d "$SECS" "http://127.0.0.1:$port/item/1" >"$OUT/$name.ac" 2>/dev/null &
    local ac=$!
    while kill -0 "$ac" 2>/dev/null; do
        b=$(spool_bytes "$OUT/$name.spool")
        [ "$b" -gt "$max" ] && max=$b
        sleep 0.5
    done
    wait "$ac"
    echo "$max" >"$OUT/$name.max"
    kill -TERM "$APP_PID"
    wait "$APP_PID" 2>/dev/null
    APP_PID=
    awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", b - a }' >"$OUT/$name.secs"
    sed -n '/^{/p' "$OUT/$name.out" | tail -n1 >"$OUT/$name.json"
    echo "  $name: $(awk '{printf "%.0f req/s", $0}' < <("$NODE" -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).requests.average)' "$OUT/$name.ac")), spool at most $max bytes" >&2
}
echo "volume: ${SECS} s at ${RATE} req/s per run; node $("$NODE" --version), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
run default
run capped SENTRYPROF_MODE=transaction SENTRYPROF_HTTP_TRANSACTIONS_PER_SECOND=1000000 SENTRYPROF_SPOOL_MAX_BYTES=1M
mkdir -p "$OUT/sink"
"$NODE" "$HERE/sink.js" "$OUT/sink" --items &
SINK_PID=$!
for _ in $(seq 1 100); do [ -s "$OUT/sink/port" ] && break; sleep 0.05; done
sport=$(cat "$OUT/sink/port")
t0=$(date +%s)
run dsn SENTRY_DSN="http://pub@127.0.0.1:$sport/1"
# What the exit left (its last batch, files waiting for the upload child the app started):
# sent now, so the sink holds everything the app made.
sleep 1
SENTRY_DSN="http://pub@127.0.0.1:$sport/1" "$CLI" upload --spool "$OUT/dsn.spool" --timeout 60 >"$OUT/drain.out" 2>&1
kill -TERM "$SINK_PID"; wait "$SINK_PID" 2>/dev/null; SINK_PID=
echo
echo "Bounded volume: $(date -u +%Y-%m-%dT%H:%M:%SZ), ${SECS} s per run at ${RATE} req/s (autocannon -R), node $("$NODE" --version), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) at end"
"$NODE" - "$OUT" "$SECS" "$BUDGET" "$DEFAULT_CAP" "$t0" <<'JS'
const fs = require('fs');
const [out, secs, budget, defCap] = process.argv.slice(2, 6).map((x, i) => (i ? Number(x) : x));
const j = (n) => { try { return JSON.parse(fs.readFileSync(`${out}/${n}`, 'utf8')); } catch (_) { return null; } };
const rd = (n) => Number(fs.readFileSync(`${out}/${n}`, 'utf8'));
const ac = (n) => j(`${n}.ac`) || { requests: {} };
const row = (n) => {
  const a = ac(n), app = j(`${n}.json`) || {}, st = app.stats || {};
  return { rps: a.requests.average, served: app.requests, max: rd(`${n}.max`), st };
};
const d = row('default'), c = row('capped'), s = row('dsn');
const items = j('sink/items.json') || { types: {}, txnSeconds: {} };
const pass = (ok) => (ok ? 'PASS' : 'FAIL');
console.log('| run | req/s served (autocannon) | requests | spool max bytes | cap | evicted | transactions (profiled + without) | over the HTTP budget |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const [name, r, cap] of [['no DSN, defaults', d, defCap], ['no DSN, every request, 1 MiB cap', c, 1048576], ['DSN, defaults', s, defCap]])
  console.log(`| ${name} | ${(r.rps || 0).toFixed(0)} | ${r.served} | ${r.max} | ${cap} | ${r.st.spool_files_evicted || 0} | ${(r.st.transaction_profiles || 0)} + ${(r.st.transactions_without_profile || 0)} | ${r.st.http_over_budget || 0} |`);
console.log(`bar: >= 1,000 req/s for ${secs} s: ${[d, c, s].map((r) => (r.rps || 0).toFixed(0)).join(', ')} req/s: ${pass([d, c, s].every((r) => r.rps >= 1000))}`);
console.log(`bar: spool <= the cap with no DSN: defaults ${d.max} <= ${defCap}: ${pass(d.max <= defCap)}; 1 MiB cap ${c.max} <= 1048576: ${pass(c.max <= 1048576)} (${c.st.spool_files_evicted || 0} files evicted)`);
const life = rd('dsn.secs');
const made = (s.st.transaction_profiles || 0) + (s.st.transactions_without_profile || 0);
const secsSeen = Object.entries(items.txnSeconds).map(([k, v]) => [Number(k), v]).sort((a, b) => a[0] - b[0]);
const txns = items.types.transaction || 0;
const peak = secsSeen.reduce((m, [, v]) => Math.max(m, v), 0);
const limit = Math.floor(budget * life + budget); // one second's burst on top
console.log(`DSN: the app made ${made} transactions in its ${life.toFixed(1)} s (${(made / life).toFixed(1)}/s) while serving ${s.served} requests; the sink received ${items.envelopes} envelopes: ${JSON.stringify(items.types)} (busiest second at the sink: ${peak} transactions; the upload child sends in bursts)`);
console.log(`bar: transaction events <= the per-process budget (${budget}/s over the app's ${life.toFixed(1)} s, plus one second's burst: ${limit}): made ${made}, received ${txns}: ${pass(made <= limit && txns <= limit)}`);
JS
