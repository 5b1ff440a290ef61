#!/usr/bin/env bash
# HTTP instrumentation cost (issue 15): a trivial handler (http-trivial-app.js) under load from
# autocannon (pinned in tests/bench/package.json, installed by tests/bench/deps.sh with npm ci
# into _build/_bench-deps), plain node against the shim, configurations interleaved round
# by round. Per configuration: req/s (median, min-max), its ratio to plain in the same round
# (median, min-max), and process CPU per request (µs: process.cpuUsage() over the requests
# served, so a slower run does not look cheaper), with its difference to plain.
# Configurations:
#   plain        no LD_PRELOAD
#   shim         LD_PRELOAD, default settings (no DSN: continuous mode; HTTP transactions
#                up to the budget, SENTRYPROF_HTTP_TRANSACTIONS_PER_SECOND=100)
#   shim-txn     the same in transaction mode (what a DSN gives), no upload
#   shim-all     transaction mode, every request a profiled transaction (budget lifted):
#                the cost of a profiled request; agent CPU per transaction from stats()
# Then the in-process part, which this machine's noise cannot swamp as easily: http-inproc.js
# (node's whole http stack in one process, fixed work) and http-hook-cost.js (the hooks
# alone) alternately with and without the shim, with the issue's bars (throughput kept
# >= 95%, JS thread <= 2 µs per request not profiled, <= 10 µs + the agent's share profiled).
# A bench, not a test: exit 0 whatever the numbers.
#
#   tests/bench/http-cost.sh [ROUNDS (default 8)] [SECONDS per run (default 5)] [CONNECTIONS (default 20)]
#
# Environment: SENTRYPROF_LIB, NODE, AUTOCANNON (default: from tests/bench/deps.sh), CONFIGS (default
# "plain shim shim-txn shim-all").
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUNDS=${1:-8}
SECONDS_PER_RUN=${2:-5}
CONN=${3:-20}
LIB=${SENTRYPROF_LIB:-$HERE/../../_build/.libs/libsentryprof.so}
NODE=${NODE:-node}
CONFIGS=${CONFIGS:-plain shim shim-txn shim-all}
[ -f "$LIB" ] || { echo "http-cost: no library at $LIB (build it, or set SENTRYPROF_LIB)" >&2; exit 1; }
AC=${AUTOCANNON:-$("$HERE/deps.sh")} || { echo "http-cost: cannot install autocannon" >&2; exit 1; }
unset SENTRY_DSN SENTRYPROF_DEBUG SENTRYPROF_MODE SENTRYPROF_INCLUDE SENTRYPROF_EXCLUDE SENTRYPROF_DISABLE \
    SENTRY_TRACES_SAMPLE_RATE SENTRY_PROFILES_SAMPLE_RATE SENTRYPROF_HTTP SENTRYPROF_HTTP_TRANSACTIONS_PER_SECOND
OUT=$(mktemp -d "${TMPDIR:-/tmp}/sentryprof-httpcost.XXXXXX")
APP_PID=
cleanup() { [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null; rm -rf "$OUT"; }
trap cleanup EXIT

env_of() {
    case $1 in
    plain) echo "" ;;
    shim) echo "LD_PRELOAD=$LIB SENTRYPROF_SPOOL_DIR=$OUT/spool.$1" ;;
    shim-txn) echo "LD_PRELOAD=$LIB SENTRYPROF_SPOOL_DIR=$OUT/spool.$1 SENTRYPROF_MODE=transaction" ;;
    shim-all) echo "LD_PRELOAD=$LIB SENTRYPROF_SPOOL_DIR=$OUT/spool.$1 SENTRYPROF_MODE=transaction SENTRYPROF_HTTP_TRANSACTIONS_PER_SECOND=1000000" ;;
    shim-nohttp) echo "LD_PRELOAD=$LIB SENTRYPROF_SPOOL_DIR=$OUT/spool.$1 SENTRYPROF_HTTP=off" ;;
    *) echo "http-cost: unknown configuration $1" >&2; exit 2 ;;
    esac
}
run_one() { # CONFIG ROUND -> appends "round cfg rps cpu_us_per_req agent_ns txns requests js_us_per_req" to $OUT/results
    local cfg=$1 r=$2 port=
    # shellcheck disable=SC2046
    env $(env_of "$cfg") "$NODE" "$HERE/http-trivial-app.js" >"$OUT/app.out" 2>"$OUT/app.err" &
    APP_PID=$!
    for _ in $(seq 1 200); do
        port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$OUT/app.out")
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || { echo "http-cost: $cfg did not start: $(cat "$OUT/app.err")" >&2; exit 1; }
    "$AC" -c "$CONN" -d 1 "http://127.0.0.1:$port/x" >/dev/null 2>&1 # warm-up
    "$AC" -j -c "$CONN" -d "$SECONDS_PER_RUN" "http://127.0.0.1:$port/x" >"$OUT/ac.json" 2>/dev/null
    kill -TERM "$APP_PID"
    wait "$APP_PID" 2>/dev/null
    APP_PID=
    "$NODE" -e '
      const fs = require("fs");
      const ac = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
      const app = JSON.parse(fs.readFileSync(process.argv[2], "utf8").trim().split("\n").pop());
      const st = app.stats || {};
      const txns = (st.transaction_profiles || 0) + (st.transactions_without_profile || 0);
      console.log([process.argv[3], process.argv[4], ac.requests.average, app.cpu_us_per_request.toFixed(2),
        st.agent_cpu_ns || 0, txns, app.requests, app.js_thread_us_per_request.toFixed(3)].join(" "));' "$OUT/ac.json" "$OUT/app.out" "$r" "$cfg" >>"$OUT/results"
}
echo "http-cost: $ROUNDS rounds x {$CONFIGS}, ${SECONDS_PER_RUN} s each, $CONN connections; node $("$NODE" --version), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ((r = 1; r <= ROUNDS; r++)); do
    for cfg in $CONFIGS; do
        run_one "$cfg" "$r"
        printf '  round %d %-9s %s\n' "$r" "$cfg" "$(tail -n1 "$OUT/results" | cut -d' ' -f3- | awk '{printf "%.0f req/s, %s us CPU/request, %s us on the JS thread", $1, $2, $6}')" >&2
    done
done
echo
echo "HTTP instrumentation cost, trivial handler: $(date -u +%Y-%m-%dT%H:%M:%SZ), $ROUNDS interleaved rounds, ${SECONDS_PER_RUN} s, $CONN connections"
echo "node $("$NODE" --version), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load $(cut -d' ' -f1-3 /proc/loadavg) at end"
"$NODE" - "$OUT/results" "$CONFIGS" <<'JS'
const fs = require('fs');
const rows = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => l.split(' '));
const cfgs = process.argv[3].split(' ');
const med = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const f = (x, d) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(d));
const mm = (a, d = 2) => `${f(Math.min(...a), d)}–${f(Math.max(...a), d)}`;
const cell = (a, d = 2, sign = false) => (a.length ? `${sign && med(a) >= 0 ? '+' : ''}${f(med(a), d)} (${mm(a, d)})` : '-');
const by = {};
for (const [r, cfg, rps, cpu, agentNs, txns, reqs, js] of rows)
  (by[cfg] = by[cfg] || {})[r] = { rps: +rps, cpu: +cpu, agentNs: +agentNs, txns: +txns, reqs: +reqs, js: +js };
const paired = (cfg, fn) => Object.keys(by[cfg] || {}).filter((r) => by.plain && by.plain[r]).map((r) => fn(by[cfg][r], by.plain[r]));
console.log('Values: median (min–max) over the rounds; ratios and differences pair each round with the plain run of the same round.');
console.log('"JS-thread ratio" = plain JS-thread µs/request ÷ this one: the throughput a server bound by its one JS thread keeps.');
console.log('');
console.log('| config | req/s | req/s ÷ plain | JS thread µs/request | Δ JS thread µs/request | JS-thread ratio | process CPU µs/request | Δ process CPU | transactions per request | agent µs per transaction |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
const verdicts = [];
for (const cfg of cfgs) {
  const rs = Object.keys(by[cfg] || {});
  if (!rs.length) continue;
  const col = (k) => rs.map((r) => by[cfg][r][k]);
  const ratio = paired(cfg, (a, p) => a.rps / p.rps);
  const jsRatio = paired(cfg, (a, p) => p.js / a.js);
  const djs = paired(cfg, (a, p) => a.js - p.js);
  const dcpu = paired(cfg, (a, p) => a.cpu - p.cpu);
  const tx = rs.map((r) => by[cfg][r].txns / Math.max(1, by[cfg][r].reqs));
  const agent = rs.filter((r) => by[cfg][r].txns > 0).map((r) => by[cfg][r].agentNs / 1000 / by[cfg][r].txns);
  console.log(`| ${cfg} | ${cell(col('rps'), 0)} | ${cell(ratio, 3)} | ${cell(col('js'))} | ${cell(djs, 2, true)} | ${cell(jsRatio, 3)} | ${cell(col('cpu'))} | ${cell(dcpu, 2, true)} | ${med(tx).toFixed(4)} | ${agent.length ? cell(agent, 1) : '-'} |`);
  if (cfg === 'shim' && ratio.length)
    verdicts.push(`bar (issue 15): default settings keep >= 95% of plain throughput: req/s ratio median ${med(ratio).toFixed(3)}, JS-thread ratio median ${med(jsRatio).toFixed(3)}: ${med(jsRatio) >= 0.95 ? 'PASS' : 'FAIL'} (JS-thread ratio; the req/s ratio is only as good as the machine is quiet)`);
}
if (verdicts.length) console.log(`\n${verdicts.join('\n')}`);
JS

# In-process part (the machine's noise hits both sides of each pair alike, and there is no
# load generator competing for the CPUs): http-inproc.js (node's whole http stack, fixed
# work) alternately without and with the shim; http-hook-cost.js (the hooks alone: node's
# channel messages and ours) for the per-request bars on the JS thread.
INPROC_ROUNDS=${INPROC_ROUNDS:-$ROUNDS}
echo "http-cost: in-process, $INPROC_ROUNDS alternating rounds" >&2
: >"$OUT/inproc"
for ((r = 1; r <= INPROC_ROUNDS; r++)); do
    for cfg in plain shim shim-txn; do
        # shellcheck disable=SC2046
        line=$(env $(env_of "$cfg") "$NODE" "$HERE/http-inproc.js" 20000 3) ||
            { echo "http-cost: http-inproc.js ($cfg) failed" >&2; exit 1; }
        echo "$r $cfg $line" >>"$OUT/inproc"
        rm -rf "$OUT/spool.$cfg"
    done
    # shellcheck disable=SC2046
    for cfg in plain noop shim shim-all; do
        n=200000 chunk=0 noop=0
        [ "$cfg" = shim-all ] && n=5000 chunk=500 # below the table of running transactions
        [ "$cfg" = noop ] && cfg=plain noop=1 && name=noop || name=$cfg
        line=$(env $(env_of "$cfg") CHUNK=$chunk NOOP=$noop "$NODE" "$HERE/http-hook-cost.js" $n 3) ||
            { echo "http-cost: http-hook-cost.js ($cfg) failed" >&2; exit 1; }
        echo "$r hook-$name $line" >>"$OUT/inproc"
        rm -rf "$OUT/spool.$cfg" # every request a transaction: ~1 GB per run otherwise
    done
    echo "  in-process round $r done" >&2
done
"$NODE" - "$OUT/inproc" <<'JS'
const fs = require('fs');
const by = {};
for (const l of fs.readFileSync(process.argv[2], 'utf8').trim().split('\n')) {
  const [r, cfg, ...rest] = l.split(' ');
  (by[cfg] = by[cfg] || {})[r] = JSON.parse(rest.join(' '));
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const f = (x, d) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(d));
const cell = (a, d = 2, sign = false) => (a.length ? `${sign && med(a) >= 0 ? '+' : ''}${f(med(a), d)} (${f(Math.min(...a), d)}–${f(Math.max(...a), d)})` : '-');
const pair = (cfg, base, fn) => Object.keys(by[cfg] || {}).filter((r) => by[base] && by[base][r]).map((r) => fn(by[cfg][r], by[base][r]));
console.log('\nIn-process, node\'s http stack (http-inproc.js: server + pipelining client in one process, 20,000 requests x 3 per run; median over a run\'s rounds, then median (min–max) over the runs):');
console.log('| config | JS thread µs/request | process CPU µs/request | Δ JS thread vs plain | JS-thread ratio plain ÷ this (throughput kept) |');
console.log('| --- | --- | --- | --- | --- |');
for (const cfg of ['plain', 'shim', 'shim-txn']) {
  if (!by[cfg]) continue;
  const v = Object.values(by[cfg]);
  const js = v.map((x) => x.js_thread_ns_per_request_median / 1000), pc = v.map((x) => x.ns_per_request_median / 1000);
  const d = pair(cfg, 'plain', (a, p) => (a.js_thread_ns_per_request_median - p.js_thread_ns_per_request_median) / 1000);
  const ratio = pair(cfg, 'plain', (a, p) => p.js_thread_ns_per_request_median / a.js_thread_ns_per_request_median);
  console.log(`| ${cfg} | ${cell(js)} | ${cell(pc)} | ${cfg === 'plain' ? '-' : cell(d, 2, true)} | ${cfg === 'plain' ? '-' : cell(ratio, 3)} |`);
  if (cfg === 'shim') console.log(`bar (issue 15): >= 95% of plain throughput with default settings, in-process: ${med(ratio).toFixed(3)} (${Math.min(...ratio).toFixed(3)}–${Math.max(...ratio).toFixed(3)}): ${med(ratio) >= 0.95 ? 'PASS' : 'FAIL'}`);
}
console.log('\nIn-process, the hooks alone (http-hook-cost.js: node\'s two channel messages per request and our subscribers; 200,000 requests x 3 per run, profiled: 5,000 x 3 in chunks of 500 with a pause for the agent, below the library\'s table of 1024 running transactions):');
const hk = (cfg, k) => Object.values(by[cfg] || {}).map((x) => x[k] / 1000);
const dj = (cfg) => pair(cfg, 'hook-plain', (a, p) => (a.js_thread_ns_per_request_median - p.js_thread_ns_per_request_median) / 1000);
const agent = (cfg) => pair(cfg, 'hook-plain', (a, p) => (a.ns_per_request_median - a.js_thread_ns_per_request_median) / 1000);
console.log(`| path | JS thread µs/request | Δ vs no subscriber | agent µs/request | bar |`);
console.log('| --- | --- | --- | --- | --- |');
console.log(`| no shim (nobody subscribed) | ${cell(hk('hook-plain', 'js_thread_ns_per_request_median'), 3)} | - | - | |`);
console.log(`| no shim, empty subscribers (node's publish alone) | ${cell(hk('hook-noop', 'js_thread_ns_per_request_median'), 3)} | ${cell(dj('hook-noop'), 3, true)} | - | |`);
const un = dj('hook-shim'), pr = dj('hook-shim-all');
console.log(`| not profiled (default settings: beyond the budget) | ${cell(hk('hook-shim', 'js_thread_ns_per_request_median'), 3)} | ${cell(un, 3, true)} | ${cell(agent('hook-shim'), 3)} | ≤ 2 µs: ${un.length && med(un) <= 2 ? 'PASS' : 'FAIL'} |`);
console.log(`| profiled (every request a transaction) | ${cell(hk('hook-shim-all', 'js_thread_ns_per_request_median'), 2)} | ${cell(pr, 2, true)} | ${cell(agent('hook-shim-all'), 2)} | ≤ 10 µs + agent: ${pr.length && med(pr) <= 10 ? 'PASS' : 'FAIL'} |`);
JS
