#!/usr/bin/env bash
# HTTP instrumentation cost (issue 15): a trivial handler (http-trivial-app.js) under load from
# autocannon (npm, installed once into $SENTRYPROF_BENCH_CACHE, default
# ~/.cache/sentryprof-bench), plain node against the shim, configurations interleaved round
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
# A bench, not a test: exit 0 whatever the numbers.
#
#   tests/bench/http-cost.sh [ROUNDS (default 8)] [SECONDS per run (default 5)] [CONNECTIONS (default 20)]
#
# Environment: SENTRYPROF_LIB, NODE, SENTRYPROF_BENCH_CACHE, CONFIGS (default
# "plain shim shim-txn shim-all").
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUNDS=${1:-8}
SECONDS_PER_RUN=${2:-5}
CONN=${3:-20}
LIB=${SENTRYPROF_LIB:-$HERE/../../_build/.libs/libsentryprof.so}
NODE=${NODE:-node}
CACHE=${SENTRYPROF_BENCH_CACHE:-$HOME/.cache/sentryprof-bench}
CONFIGS=${CONFIGS:-plain shim shim-txn shim-all}
AUTOCANNON_VERSION=7.15.0
[ -f "$LIB" ] || { echo "http-cost: no library at $LIB (build it, or set SENTRYPROF_LIB)" >&2; exit 1; }
if [ ! -x "$CACHE/node_modules/.bin/autocannon" ]; then
    echo "http-cost: installing autocannon@$AUTOCANNON_VERSION into $CACHE" >&2
    mkdir -p "$CACHE" && (cd "$CACHE" && npm install --no-audit --no-fund "autocannon@$AUTOCANNON_VERSION" >/dev/null) ||
        { echo "http-cost: cannot install autocannon" >&2; exit 1; }
fi
AC=$CACHE/node_modules/.bin/autocannon
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
    esac
}
run_one() { # CONFIG ROUND -> appends "round cfg rps cpu_us_per_req agent_ns txns" to $OUT/results
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
        st.agent_cpu_ns || 0, txns, app.requests].join(" "));' "$OUT/ac.json" "$OUT/app.out" "$r" "$cfg" >>"$OUT/results"
}
echo "http-cost: $ROUNDS rounds x {$CONFIGS}, ${SECONDS_PER_RUN} s each, $CONN connections; node $("$NODE" --version), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ((r = 1; r <= ROUNDS; r++)); do
    for cfg in $CONFIGS; do
        run_one "$cfg" "$r"
        printf '  round %d %-9s %s\n' "$r" "$cfg" "$(tail -n1 "$OUT/results" | cut -d' ' -f3-4 | awk '{printf "%.0f req/s, %s us CPU/request", $1, $2}')" >&2
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
const mm = (a) => `${Math.min(...a).toFixed(a[0] < 10 ? 3 : 0)}-${Math.max(...a).toFixed(a[0] < 10 ? 3 : 0)}`;
const by = {};
for (const [r, cfg, rps, cpu, agentNs, txns, reqs] of rows) (by[cfg] = by[cfg] || {})[r] = { rps: +rps, cpu: +cpu, agentNs: +agentNs, txns: +txns, reqs: +reqs };
console.log('| config | req/s median (min-max) | ratio to plain, median (min-max) | CPU µs/request median (min-max) | Δ CPU vs plain, µs/request | transactions sent per request | agent µs per transaction |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const cfg of cfgs) {
  const rs = Object.keys(by[cfg] || {});
  if (!rs.length) continue;
  const rps = rs.map((r) => by[cfg][r].rps), cpu = rs.map((r) => by[cfg][r].cpu);
  const ratio = rs.filter((r) => by.plain && by.plain[r]).map((r) => by[cfg][r].rps / by.plain[r].rps);
  const dcpu = rs.filter((r) => by.plain && by.plain[r]).map((r) => by[cfg][r].cpu - by.plain[r].cpu);
  const tx = rs.map((r) => by[cfg][r].txns / Math.max(1, by[cfg][r].reqs));
  const agent = rs.filter((r) => by[cfg][r].txns > 0).map((r) => by[cfg][r].agentNs / 1000 / by[cfg][r].txns);
  console.log(`| ${cfg} | ${med(rps).toFixed(0)} (${mm(rps)}) | ${ratio.length ? `${med(ratio).toFixed(3)} (${mm(ratio)})` : '-'} | ${med(cpu).toFixed(2)} (${mm(cpu)}) | ${dcpu.length ? `${med(dcpu) >= 0 ? '+' : ''}${med(dcpu).toFixed(2)} (${mm(dcpu)})` : '-'} | ${med(tx).toFixed(4)} | ${agent.length ? med(agent).toFixed(1) : '-'} |`);
}
JS
