#!/usr/bin/env bash
# Issue #4: an unchanged plain-http app under the shim (transaction mode, no DSN: spool only).
# Every request becomes one envelope (transaction + v1 profile) valid for Sentry's ingest;
# the name is "GET /route" with the query stripped, op http.server, the status recorded, the
# profile's top JS frame is the route's own function, and an incoming sentry-trace header
# continues its trace. Also: the sampling variables (rate 0, bad value -> one warning),
# SENTRYPROF_DEBUG's config line, and the Server#emit fallback for nodes without the
# diagnostics channels.
. "$(dirname "$0")/lib.sh"
need_node
Q="$top_srcdir/tests/e2e/profile-query.js"
CHECK_ENV="$top_srcdir/tests/ingest/check-envelopes.js"
unset SENTRY_DSN SENTRYPROF_DEBUG SENTRY_TRACES_SAMPLE_RATE SENTRY_PROFILES_SAMPLE_RATE SENTRYPROF_HTTP \
    SENTRYPROF_MODE SENTRY_PROFILER_LOGGING_MODE SENTRYPROF_DISABLE

# The client: REQUESTS is a JSON list of {path, header?, with?} run in order; "with" holds
# requests sent at the same time as this one. Prints one line per response: "<status> <path>".
cat >"$WORK/drive.js" <<'JS'
const http = require('http');
const [port, list] = [Number(process.argv[2]), JSON.parse(process.argv[3])];
function get(r) {
  return new Promise((resolve, reject) => {
    const headers = r.header ? { 'sentry-trace': r.header } : {};
    http.get({ host: '127.0.0.1', port, path: r.path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(`${res.statusCode} ${r.path}`));
    }).on('error', reject);
  });
}
(async () => {
  for (const r of list) {
    const got = await Promise.all([get(r), ...(r.with || []).map(get)]);
    for (const g of got) console.log(g);
  }
})().catch((e) => { console.error(e.message); process.exit(1); });
JS

# One line per spooled transaction envelope (JSON): name, op, status, http status tag,
# trace_id, parent_span_id, profile top function, ids matching.
# Usage: node facts.js SPOOLFILE_JS DIR (single envelopes and batches alike).
cat >"$WORK/facts.js" <<'JS'
const { spoolEnvelopes, envelopeItems } = require(process.argv[2]);
for (const e of spoolEnvelopes(process.argv[3])) {
  const its = envelopeItems(e.buf);
  const t = (its.find((i) => i.type === 'transaction') || {}).payload;
  const p = (its.find((i) => i.type === 'profile') || {}).payload;
  if (!t) continue;
  const tally = Object.create(null); // keyed by function names: "toString" is one
  let samples = 0;
  if (p) for (const s of p.profile.samples) {
    const st = p.profile.stacks[s.stack_id];
    const leaf = st.map((i) => p.profile.frames[i]).find((fr) => fr.platform === 'node');
    const fn = leaf ? leaf.function : '(native)';
    tally[fn] = (tally[fn] || 0) + 1;
    samples++;
  }
  const top = Object.entries(tally).sort((a, b) => b[1] - a[1])[0];
  const tr = t.contexts.trace;
  console.log(JSON.stringify({
    name: t.transaction, op: tr.op, status: tr.status, code: t.tags && t.tags['http.status_code'],
    trace_id: tr.trace_id, parent: tr.parent_span_id || '', samples, top: top ? top[0] : null,
    topShare: top ? +(top[1] / samples).toFixed(2) : 0,
    linked: !!p && p.transaction.id === t.event_id && p.transaction.trace_id === tr.trace_id &&
      t.contexts.profile.profile_id === p.event_id && p.transaction.name === t.transaction,
    noProfileCtx: !t.contexts.profile,
  }));
}
JS

# run_app NAME [VAR=value...]: starts the app (tests/apps/http-app.js, or $APP) under the
# shim with its own spool, then drive REQUESTS and stop_app. Sets $port and $app_pid.
run_app() {
    local name=$1
    shift
    mkdir -p "$WORK/$name"
    # CPU clock: the routes burn CPU time, so each profile holds ~15 samples however busy the
    # machine is (a wall-clock timer's ticks coalesce while the thread waits for a CPU).
    env SENTRYPROF_CLOCK=cpu "$@" SENTRYPROF_SPOOL_DIR="$WORK/$name/spool" LD_PRELOAD="$SP_LIB" \
        "$NODE" "${APP:-$APPS/http-app.js}" >"$WORK/$name/out" 2>"$WORK/$name/err" &
    app_pid=$!
    port=
    for _ in $(seq 1 200); do
        port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$WORK/$name/out" 2>/dev/null)
        [ -n "$port" ] && break
        sleep 0.05
    done
}
drive() { "$NODE" "$WORK/drive.js" "$port" "$1" >"$WORK/$2.drive" 2>&1; }
stop_app() { # SIGTERM: the app closes its server and exits by itself (the library flushes)
    kill -TERM "$app_pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$app_pid" 2>/dev/null || break; sleep 0.05; done
    wait "$app_pid" 2>/dev/null
}

# ---- main run: 9 profiled requests (some sent concurrently), one not sampled by its parent
# (sentry-trace ...-0), a 404 (too short for 2 samples: its transaction is spooled alone)
TRACE=4bf92f3577b34da6a3ce929d0e0e4736
PARENT=00f067aa0ba902b7
REQS='[
 {"path":"/alpha"},
 {"path":"/beta"},
 {"path":"/alpha?user=42&token=secret#frag"},
 {"path":"/beta?q=1", "with":[{"path":"/alpha"}]},
 {"path":"/alpha", "with":[{"path":"/beta"}]},
 {"path":"/beta", "header":"'$TRACE-$PARENT-1'"},
 {"path":"/fail"},
 {"path":"/alpha", "header":"0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0"},
 {"path":"/missing?x=1"}
]'
run_app main SENTRYPROF_MODE=transaction
check "app listening" test -n "$port"
drive "$REQS" main
stop_app
check "every request answered (200 x9, 500, 404)" \
    test "$(cut -d' ' -f1 "$WORK/main.drive" | sort | uniq -c | awk '{print $1"x"$2}' | tr '\n' ' ')" = "9x200 1x404 1x500 "
check "app output unchanged" test "$(cat "$WORK/main/out")" = "listening $port"
check "app stderr empty" test ! -s "$WORK/main/err"
facts=$("$NODE" "$WORK/facts.js" "$SPOOLFILE" "$WORK/main/spool")
echo "$facts" | sed 's/^/# /'
n=$(count_envelopes "$WORK/main/spool")
check "one envelope per sampled request (9 profiled + the 404)" test "$n" = 10
check "every envelope passes the ingest rules" "$NODE" "$CHECK_ENV" "$WORK/main/spool"
check "no torn batch tail after a clean exit" \
    test "$("$NODE" "$CHECK_ENV" "$WORK/main/spool" | grep -c torn)" = 0
q=$("$NODE" "$Q" "$WORK/main/spool")
check "10 transactions, 9 profiles" test "$(jqn "$q" 'f.transactions.length + " " + f.profiles')" = "10 9"
check "names: 4x GET /alpha, 4x GET /beta, 1x GET /fail, 1x GET /missing (query strings stripped)" \
    test "$(echo "$facts" | "$NODE" -e 'const c={};for(const l of require("fs").readFileSync(0,"utf8").trim().split("\n")){const n=JSON.parse(l).name;c[n]=(c[n]||0)+1}console.log(JSON.stringify(Object.fromEntries(Object.entries(c).sort())))')" = '{"GET /alpha":4,"GET /beta":4,"GET /fail":1,"GET /missing":1}'
check "the 404 (< 1 ms): its transaction without a profile, status not_found, no profile context" \
    test "$(echo "$facts" | grep '"GET /missing"' | grep -c '"status":"not_found","code":"404".*"samples":0,"top":null.*"linked":false,"noProfileCtx":true')" = 1
check "no name carries a query or fragment" test "$(echo "$facts" | grep -c '"name":"[^"]*[?#]')" = 0
check "op http.server everywhere" test "$(echo "$facts" | grep -c '"op":"http.server"')" = 10
route_top() { # every transaction named $1 has $2 as its profile's top JS frame (>= 60% of samples)
    echo "$facts" | "$NODE" -e '
      const [name, fn] = process.argv.slice(1);
      const ls = require("fs").readFileSync(0, "utf8").trim().split("\n").map(JSON.parse).filter((f) => f.name === name);
      process.exit(ls.length && ls.every((f) => f.top === fn && f.topShare >= 0.6 && f.samples >= 5) ? 0 : 1);' "$1" "$2"
}
check "GET /alpha profiles: top frame alphaRoute" route_top "GET /alpha" alphaRoute
check "GET /beta profiles: top frame betaRoute" route_top "GET /beta" betaRoute
check "GET /fail profile: top frame failRoute" route_top "GET /fail" failRoute
check "status ok + http.status_code 200 on the routes" \
    test "$(echo "$facts" | grep -v '"GET /fail"\|"GET /missing"' | grep -c '"status":"ok","code":"200"')" = 8
check "status internal_error + http.status_code 500 on /fail" \
    test "$(echo "$facts" | grep '"GET /fail"' | grep -c '"status":"internal_error","code":"500"')" = 1
check "sentry-trace header: trace id and parent span continued" \
    test "$(echo "$facts" | grep -c "\"trace_id\":\"$TRACE\",\"parent\":\"$PARENT\"")" = 1
check "sentry-trace with sampled=0: not profiled" test "$(spool_files "$WORK/main/spool" | xargs -r grep -l 0af7651916cd43dd8448eb211c80319c | wc -l)" = 0
check "other requests start their own traces (distinct trace ids)" \
    test "$(echo "$facts" | grep -o '"trace_id":"[0-9a-f]*"' | sort -u | wc -l)" = 10
check "each profile linked to its transaction (id, trace id, name, profile_id)" \
    test "$(echo "$facts" | grep -c '"linked":true')" = 9

# ---- Server#emit fallback (nodes without the http diagnostics channels): same results
REQS2='[{"path":"/alpha?a=1"},{"path":"/beta", "with":[{"path":"/alpha"}]}]'
run_app emit SENTRYPROF_MODE=transaction SENTRYPROF_HTTP=emit SENTRYPROF_DEBUG=1
drive "$REQS2" emit
stop_app
check "emit fallback: app output unchanged" test "$(cat "$WORK/emit/out")" = "listening $port"
check "emit fallback: debug line names the hook" grep -q 'js config: .* http=server-emit' "$WORK/emit/err"
check "emit fallback: envelopes valid" "$NODE" "$CHECK_ENV" "$WORK/emit/spool"
facts=$("$NODE" "$WORK/facts.js" "$SPOOLFILE" "$WORK/emit/spool")
check "emit fallback: 3 envelopes, GET /alpha x2 on alphaRoute, GET /beta on betaRoute" \
    test "$(echo "$facts" | "$NODE" -e 'const l=require("fs").readFileSync(0,"utf8").trim().split("\n").map(JSON.parse);console.log(l.map(f=>f.name+"="+f.top).sort().join(","))')" = \
    "GET /alpha=alphaRoute,GET /alpha=alphaRoute,GET /beta=betaRoute"

# ---- SENTRYPROF_DEBUG=1 prints the JS config once; a bad rate warns once and keeps 1.0
run_app badrate SENTRYPROF_MODE=transaction SENTRY_TRACES_SAMPLE_RATE=lots SENTRYPROF_DEBUG=1
drive '[{"path":"/alpha"}]' badrate
stop_app
check "bad SENTRY_TRACES_SAMPLE_RATE: exactly one warning line" \
    test "$(grep -c '^\[sentryprof\] warning: ' "$WORK/badrate/err")" = 1
check "the warning names the variable and the default" \
    grep -q '^\[sentryprof\] warning: SENTRY_TRACES_SAMPLE_RATE="lots" is not a number in 0..1; using 1$' "$WORK/badrate/err"
check "debug: one js config line with the effective rates (the app requires http after the helper ran)" \
    test "$(grep -c '^\[sentryprof\] debug: js config: mode=transaction traces_sample_rate=1 profiles_sample_rate=1 (default) http=when http loads' "$WORK/badrate/err")" = 1
check "debug: the HTTP hooks were installed when the app required http, once" \
    test "$(grep -c '^\[sentryprof\] debug: http hooks installed: diagnostics_channel$' "$WORK/badrate/err")" = 1
check "bad rate: default 1.0 used (the request was profiled)" test "$(count_envelopes "$WORK/badrate/spool")" = 1

# ---- SENTRY_TRACES_SAMPLE_RATE=0 / SENTRY_PROFILES_SAMPLE_RATE=0: nothing spooled, silently
run_app rate0 SENTRYPROF_MODE=transaction SENTRY_TRACES_SAMPLE_RATE=0
drive '[{"path":"/alpha"},{"path":"/beta"}]' rate0
stop_app
check "traces rate 0: no envelope, no stderr" \
    test "$(count_envelopes "$WORK/rate0/spool")" = 0 -a ! -s "$WORK/rate0/err"
run_app prof0 SENTRYPROF_MODE=transaction SENTRY_PROFILES_SAMPLE_RATE=0.0
drive '[{"path":"/alpha"},{"path":"/beta"}]' prof0
stop_app
check "profiles rate 0: no envelope, no stderr" \
    test "$(count_envelopes "$WORK/prof0/spool")" = 0 -a ! -s "$WORK/prof0/err"

# ---- continuous mode: each request's transaction event points at the continuous profile
run_app cont SENTRYPROF_MODE=continuous
drive '[{"path":"/alpha"},{"path":"/beta"}]' cont
stop_app
q=$("$NODE" "$Q" "$WORK/cont/spool")
check "continuous mode: 2 transaction events + chunks, valid" \
    test "$(jqn "$q" 'f.transactions.sort().join(",") + " " + (f.chunks > 0)')" = "GET /alpha,GET /beta true"
check "continuous mode: envelopes valid" "$NODE" "$CHECK_ENV" "$WORK/cont/spool"
check "continuous mode: each transaction's contexts.profile.profiler_id is the chunks' profiler_id" \
    test "$(jqn "$q" 'f.chunkProfilerIds.length === 1 && /^[0-9a-f]{32}$/.test(f.chunkProfilerIds[0]) && f.txnProfilerIds.length === 2 && f.txnProfilerIds.every((id) => id === f.chunkProfilerIds[0])')" = true

# ---- the same app with a DSN: every request reaches the local ingest server, once, valid;
# the 1 ms one (/missing: a 404 with no work) as its transaction alone, without a profile
start_ingest "$WORK/ingest"
run_app dsn SENTRY_DSN="$DSN"
drive '[{"path":"/alpha"},{"path":"/beta"},{"path":"/alpha?x=1","with":[{"path":"/beta"}]},{"path":"/missing"}]' dsn
stop_app
for _ in $(seq 1 50); do # the app's uploader child may still be finishing
    [ "$(count_envelopes "$WORK/dsn/spool")" = 0 ] && break
    sleep 0.2
done
isum=$(ingest_summary "$WORK/ingest")
echo "# ingest: $(jqn "$isum" 'JSON.stringify({accepted: f.accepted, items: f.items_by_type, names: f.transaction_names, problems: f.problems})')"
check "DSN: one envelope per request reached the ingest server (5 transactions, 4 profiles)" \
    test "$(jqn "$isum" 'f.accepted === 5 && f.items_by_type.transaction === 5 && f.items_by_type.profile === 4')" = true
check "DSN: no ingest problem" test "$(jqn "$isum" 'f.problems.length')" = 0
check "DSN: names GET /alpha x2, GET /beta x2, GET /missing" \
    test "$(jqn "$isum" 'f.transaction_names.slice().sort().join(",")')" = "GET /alpha,GET /alpha,GET /beta,GET /beta,GET /missing"
ifacts=$("$NODE" "$WORK/facts.js" "$SPOOLFILE" "$WORK/ingest/accepted")
check "DSN: each profile's top frame is its route's function" \
    test "$(echo "$ifacts" | "$NODE" -e 'const ls=require("fs").readFileSync(0,"utf8").trim().split("\n").map(JSON.parse).filter((l) => l.name !== "GET /missing"); console.log(ls.length === 4 && ls.every((l) => l.linked && l.top === (l.name === "GET /alpha" ? "alphaRoute" : "betaRoute")))')" = true
check "DSN: the 1 ms request's transaction arrived without a profile item or profile context, status not_found" \
    test "$(echo "$ifacts" | grep '"GET /missing"' | grep -c '"status":"not_found","code":"404".*"samples":0,"top":null.*"noProfileCtx":true')" = 1
check "DSN: nothing left in the spool" test "$(count_envelopes "$WORK/dsn/spool")" = 0
kill $INGEST_PID 2>/dev/null; wait $INGEST_PID 2>/dev/null

# ---- the HTTP hooks wait for http to load: a CommonJS entry that reaches node:http only
# through a dynamic import() (no Module._load) still gets them, from the helper's check
# every second; requests after it are transactions
mkdir -p "$WORK/dyn"
cat >"$WORK/dyn/entry.cjs" <<'JS'
import('./server.mjs');
JS
cat >"$WORK/dyn/server.mjs" <<'JS'
import http from 'node:http';
function dynRoute() { const t = process.cpuUsage(); let x = 0; while (process.cpuUsage(t).user < 120000) for (let i = 0; i < 1e5; i++) x = (x * 31 + i) % 1000003; return x; }
const server = http.createServer((req, res) => res.end(String(dynRoute())));
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
process.on('SIGTERM', () => server.close());
JS
APP="$WORK/dyn/entry.cjs" run_app dyn SENTRYPROF_MODE=transaction SENTRYPROF_DEBUG=1
for _ in $(seq 1 60); do grep -q 'http hooks installed' "$WORK/dyn/err" && break; sleep 0.05; done
drive '[{"path":"/dyn?x=1"}]' dyn
stop_app
check "dynamic import of node:http: the hooks were installed by the helper's check (saw: $(grep -o 'http hooks installed: [a-z_]*' "$WORK/dyn/err"))" \
    grep -q '^\[sentryprof\] debug: http hooks installed: diagnostics_channel$' "$WORK/dyn/err"
facts=$("$NODE" "$WORK/facts.js" "$SPOOLFILE" "$WORK/dyn/spool")
check "dynamic import of node:http: the request after it is a transaction, profiled (saw: $(echo $facts))" \
    grep -q '"name":"GET /dyn".*"samples":[1-9]' <<<"$facts"

# ---- kill -9, no exit path at all: each finished request's envelope was appended to the
# open batch as it finished, so all are on disk; the next upload sends each once
run_app k9 SENTRYPROF_MODE=transaction
drive '[{"path":"/alpha"},{"path":"/beta"},{"path":"/alpha"}]' k9
for _ in $(seq 1 100); do [ "$(count_envelopes "$WORK/k9/spool")" = 3 ] && break; sleep 0.05; done
kill -9 "$app_pid" 2>/dev/null; wait "$app_pid" 2>/dev/null
check "kill -9: the 3 transactions are on disk, whole" \
    test "$(count_envelopes "$WORK/k9/spool")" = 3 -a "$("$NODE" "$CHECK_ENV" "$WORK/k9/spool" | grep -c torn)" = 0
start_ingest "$WORK/ingest-k9"
SENTRY_DSN="$DSN" "$SP_CLI" upload --spool "$WORK/k9/spool" --timeout 20 >"$WORK/k9/upload" 2>&1
isum=$(ingest_summary "$WORK/ingest-k9")
check "kill -9: the next upload sends each of the 3 once, valid" \
    test "$(jqn "$isum" 'f.accepted === 3 && f.items_by_type.transaction === 3 && f.items_by_type.profile === 3 && f.problems.length === 0')" = true
check "kill -9: nothing left in the spool; upload says sent 3 and nothing else" \
    test "$(count_envelopes "$WORK/k9/spool")" = 0 -a "$(cat "$WORK/k9/upload")" = "sent 3, dropped 0, deferred 0"
kill $INGEST_PID 2>/dev/null; wait $INGEST_PID 2>/dev/null
finish
