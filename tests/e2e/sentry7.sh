#!/usr/bin/env bash
# Issue #4: an app already using @sentry/node 7 (+ @sentry/tracing 7, the versions pinned in
# tests/e2e/sentry7/package-lock.json, installed here with `npm ci`) and NO profiling package
# (@sentry/profiling-node 7 is installed too, but used only by the 'both' case of issue 14),
# run under the shim against the local ingest server: its transaction arrives in ONE envelope
# with a valid profile of the app's work functions, sent by the SDK itself; our library
# spools nothing for it. Also: an SDK transaction per HTTP request, while our own HTTP
# auto-transactions step aside; and the same app without the shim sends no profile.
# Needs the npm registry (or a warm npm cache) the first time; the install is kept in
# $top_builddir/_e2e-deps/sentry7/ (outside tests/, which is distributed) and reused while
# the lockfile is unchanged.
. "$(dirname "$0")/lib.sh"
need_node
unset SENTRYPROF_DEBUG SENTRY_TRACES_SAMPLE_RATE SENTRY_PROFILES_SAMPLE_RATE SENTRYPROF_HTTP \
    SENTRYPROF_MODE SENTRY_PROFILER_LOGGING_MODE SENTRYPROF_DISABLE SENTRY_ENVIRONMENT SENTRY_RELEASE
INGEST="$top_srcdir/tests/ingest"
Q="$top_srcdir/tests/e2e/profile-query.js"

# ---- install @sentry/node 7 (npm ci against the committed lockfile, lib.sh)
DEPS="$top_builddir/_e2e-deps/sentry7"
npm_ci_folder sentry7 @sentry/profiling-node/package.json || finish
ok "@sentry/node $(sed -n 's/.*"version": "\(.*\)".*/\1/p' "$DEPS/node_modules/@sentry/node/package.json" | head -1) installed from tests/e2e/sentry7 (npm ci)"
export NODE_PATH="$DEPS/node_modules"

# ---- the local ingest server
start_ingest() { # start_ingest DIR: sets $ingest_pid and $DSN
    "$NODE" "$INGEST/server.js" --port 0 --dir "$1" --parent-pid $$ --quiet >"$1.log" 2>&1 &
    ingest_pid=$!
    local port
    port=$("$INGEST/wait-port.sh" "$1" 60) || { not_ok "ingest server did not start"; finish; }
    DSN="http://pub@127.0.0.1:$port/1"
}
stop_ingest() { kill "$ingest_pid" 2>/dev/null; wait "$ingest_pid" 2>/dev/null; }
# Problems the server found, less the one @sentry/node 7 itself causes: its node transport
# sends no Content-Type (Relay's envelope endpoint does not need one; see the reference
# capture in docs/, "content_type": null).
problems() { jqn "$1" 'f.problems.join("; ")'; }

# ---- the seed's app: one manual transaction, CPU in jsonWork and regexWork
D="$WORK/seed"
mkdir -p "$D"
start_ingest "$D"
# CPU clock: the app does fixed CPU work, so the sample counts below hold on a loaded machine.
out=$(SENTRY_DSN=$DSN SENTRYPROF_CLOCK=cpu SENTRYPROF_SPOOL_DIR="$D/spool" LD_PRELOAD="$SP_LIB" \
    timeout 60 "$NODE" "$APPS/sentry7-app.js" 2>"$D/err")
rc=$?
stop_ingest
check "seed app exits 0 with its own output" test "$rc:$out" = "0:sentry7-app done ok"
s=$("$NODE" "$INGEST/summary.js" "$D")
echo "# $(jqn "$s" 'JSON.stringify({requests: f.requests, accepted: f.accepted, ok: f.ok, items: f.items_by_type, profiles: f.profiles, problems: f.problems})')"
check "exactly one envelope reached the server, and was accepted" \
    test "$(jqn "$s" 'f.envelope_requests + " " + f.accepted')" = "1 1"
check "it holds the transaction and a profile" test "$(jqn "$s" 'JSON.stringify(f.items_by_type)')" = '{"transaction":1,"profile":1}'
check "no ingest problem in it" test -z "$(problems "$s")"
check "every ingest rule passes on the accepted envelope" "$NODE" "$INGEST/check-envelopes.js" "$D/accepted"
check "the profile's transaction id is the SDK's transaction event_id" \
    test "$(jqn "$s" 'f.profiles.length === 1 && f.profiles[0].transaction_id === f.transactions[0].event_id')" = true
check "the envelope header is the SDK's (sentry.javascript.node)" \
    grep -q '"sdk":{"name":"sentry.javascript.node"' "$D"/accepted/*.envelope
q=$("$NODE" "$Q" "$D/accepted")
echo "# $q"
check "transaction 'My Transaction', profile linked by event id and trace id" \
    test "$(jqn "$q" 'f.txnProfiles.map((p) => p.name + " " + p.eventIdMatches + " " + p.traceIdMatches).join()')" = "My Transaction true true"
# The work functions by self samples (leaf JS frame) in the profile. A regular expression's
# own frame ("RegExp: <source>", as V8's profiler names its machine code) counts for the JS
# function that ran it: regexWork's time is its own and its regular expression's.
cat >"$WORK/work.js" <<'JS'
const fs = require('fs');
const buf = fs.readFileSync(process.argv[2], 'utf8').split('\n');
const i = buf.findIndex((l) => /"type":"profile"/.test(l));
const p = JSON.parse(buf[i + 1]);
const t = buf.findIndex((l) => /"type":"transaction"/.test(l));
const ev = JSON.parse(buf[t + 1]);
const self = Object.create(null); // keyed by function names: "toString" is one
for (const s of p.profile.samples) {
  const leaf = p.profile.stacks[s.stack_id].map((k) => p.profile.frames[k])
    .find((f) => f.platform === 'node' && !String(f.function).startsWith('RegExp: '));
  const fn = leaf ? leaf.function : '(native)';
  self[fn] = (self[fn] || 0) + 1;
}
const n = p.profile.samples.length;
console.log(JSON.stringify({
  samples: n,
  json: (self.jsonWork || 0) / n, regex: (self.regexWork || 0) / n,
  no_profile_context: !('profile' in ev.contexts), // as profiling-node 7 sends it (Relay links them)
  timestamp: Math.abs(Date.parse(p.timestamp) / 1000 - ev.start_timestamp) < 0.002,
  env: p.environment === ev.environment && p.release === (ev.release || ''),
}));
JS
w=$("$NODE" "$WORK/work.js" "$(ls "$D"/accepted/*.envelope | head -1)")
echo "# $w"
check "profile: >= 30 samples (600 ms of CPU work at 99 Hz)" test "$(jqn "$w" 'f.samples >= 30')" = true
check "profile: jsonWork and regexWork each top >= 25% of the samples" \
    test "$(jqn "$w" 'f.json >= 0.25 && f.regex >= 0.25')" = true
check "the transaction has no contexts.profile, as profiling-node 7 sends it (the profile's transaction.id links them)" \
    test "$(jqn "$w" 'f.no_profile_context')" = true
check "profile timestamp = transaction start; release/environment from the event" \
    test "$(jqn "$w" 'f.timestamp && f.env')" = true
check "our library spooled nothing for it" test "$(count_envelopes "$D/spool")" = 0

# ---- without the shim the same app sends its transaction alone (the profile was ours)
D="$WORK/noshim"
mkdir -p "$D"
start_ingest "$D"
SENTRY_DSN=$DSN timeout 60 "$NODE" "$APPS/sentry7-app.js" >/dev/null 2>"$D/err"
stop_ingest
# Node 25+ warns about localStorage when @sentry/node 7's dependencies probe it: the shim
# must add nothing to what the app prints by itself (pids masked).
same_stderr() { diff <(sed 's/^(node:[0-9]*)/(node:PID)/' "$1") <(sed 's/^(node:[0-9]*)/(node:PID)/' "$2") >&2; }
check "seed app: stderr as without the shim" same_stderr "$WORK/seed/err" "$D/err"
s=$("$NODE" "$INGEST/summary.js" "$D")
check "without the shim: a transaction and no profile" test "$(jqn "$s" 'JSON.stringify(f.items_by_type)')" = '{"transaction":1}'

# ---- an http server whose handler starts SDK transactions: each carries its profile; our
# own HTTP auto-transactions step aside (nothing spooled, nothing sent twice)
cat >"$WORK/sdk-http.js" <<'JS'
const Sentry = require('@sentry/node');
require('@sentry/tracing');
const http = require('http');
Sentry.init({ dsn: process.env.SENTRY_DSN, tracesSampleRate: 1, profilesSampleRate: 1 });
// Fixed work (iterations per CPU ms measured once, as tests/apps/hot.js): the same samples
// per request however loaded the machine is.
function handlerWork(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x * 33 + i) % 1000033;
  return x;
}
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
handlerWork(1e6);
let t0 = cpuMs(), t = t0, iters = 0;
while ((t = cpuMs()) - t0 < 20) { handlerWork(1e5); iters += 1e5; }
const HANDLER_N = Math.round(150 * iters / (t - t0));
const server = http.createServer((req, res) => {
  const t = Sentry.startTransaction({ op: 'http.server', name: `GET ${req.url}` });
  handlerWork(HANDLER_N);
  t.finish();
  res.end('ok');
});
server.listen(0, '127.0.0.1', async () => {
  const get = (path) => new Promise((resolve) => http.get({ port: server.address().port, host: '127.0.0.1', path, agent: false }, (r) => { r.resume(); r.on('end', resolve); }));
  await Promise.all([get('/one'), get('/two')]);
  await get('/three');
  server.close();
  await Sentry.flush(5000);
  console.log('sdk-http done');
});
JS
D="$WORK/sdkhttp"
mkdir -p "$D"
start_ingest "$D"
out=$(SENTRY_DSN=$DSN SENTRYPROF_CLOCK=cpu SENTRYPROF_SPOOL_DIR="$D/spool" LD_PRELOAD="$SP_LIB" timeout 60 "$NODE" "$WORK/sdk-http.js" 2>"$D/err")
stop_ingest
mkdir -p "$WORK/sdkhttp-plain" && start_ingest "$WORK/sdkhttp-plain"
SENTRY_DSN=$DSN timeout 60 "$NODE" "$WORK/sdk-http.js" >/dev/null 2>"$WORK/sdkhttp-plain/err"
stop_ingest
check "SDK http app: output unchanged" test "$out" = "sdk-http done"
check "SDK http app: stderr as without the shim" same_stderr "$D/err" "$WORK/sdkhttp-plain/err"
s=$("$NODE" "$INGEST/summary.js" "$D")
echo "# $(jqn "$s" 'JSON.stringify({accepted: f.accepted, items: f.items_by_type, names: f.transaction_names.sort()})')"
check "3 SDK envelopes, each transaction with its profile" \
    test "$(jqn "$s" 'f.accepted + " " + JSON.stringify(f.items_by_type)')" = '3 {"transaction":3,"profile":3}'
check "no ingest problem" test -z "$(problems "$s")"
q=$("$NODE" "$Q" "$D/accepted")
check "each profile linked to its transaction and topped by handlerWork" \
    test "$(jqn "$q" 'f.txnProfiles.length === 3 && f.txnProfiles.every((p) => p.eventIdMatches && p.traceIdMatches && p.top === "handlerWork")')" = true
check "our HTTP auto-transactions stepped aside: nothing spooled" test "$(count_envelopes "$D/spool")" = 0
echo "# sdk http: $(jqn "$q" 'JSON.stringify(f.txnProfiles.map((p) => [p.name, p.top, p.topShare, p.samples]))')"

# ---- issue 14: the DSN only in Sentry.init, no SENTRY_DSN / SENTRYPROF_* in the environment.
# With no SENTRY_DSN the engine starts in continuous mode; the app's client decides instead:
# every transaction gets its v1 profile when the SDK's rates say so, none when they say no.
# dsn_app FILE OPTIONS [PRELUDE]: 3 transactions of 250 ms (CPU) of dsnWork each, the DSN
# written in the code; PRELUDE (JS) runs before Sentry.init.
dsn_app() {
    cat >"$1" <<JS
const Sentry = require('@sentry/node');
require('@sentry/tracing');
${3:-}
Sentry.init({ dsn: '$DSN', tracesSampleRate: 1, $2 });
// Fixed CPU work: the block rate is measured once on the CPU clock, no clock read inside.
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
function block(k) { let x = 0; for (let i = 0; i < 10000; i++) x = (x * k + i) % 1000033; return x; }
const blocksPerMs = (() => { for (let j = 0; j < 200; j++) block(7); const t0 = cpuMs(); let n = 0;
  while (cpuMs() - t0 < 30) { for (let j = 0; j < 20; j++) block(7); n += 20; } return n / (cpuMs() - t0); })();
function dsnWork(ms) { let x = 0; for (let b = Math.round(ms * blocksPerMs); b > 0; b--) for (let i = 0; i < 10000; i++) x = (x * 33 + i) % 1000033; return x; }
(async () => {
  for (let i = 0; i < 3; i++) {
    const t = Sentry.startTransaction({ op: 'task', name: 'dsn-task-' + i });
    dsnWork(250);
    t.finish();
  }
  await Sentry.flush(5000);
  console.log('dsn app done');
})();
JS
}
# run_dsn_case NAME OPTIONS [PRELUDE [ENV...]]: runs the app with no DSN and no sentryprof
# settings in the environment (but ENV); sets $s (ingest summary) and $D.
run_dsn_case() {
    D="$WORK/dsn-$1"
    mkdir -p "$D"
    start_ingest "$D"
    dsn_app "$D/app.js" "$2" "${3:-}"
    out=$(env -u SENTRY_DSN -u SENTRYPROF_MODE SENTRYPROF_SPOOL_DIR="$D/spool" LD_PRELOAD="$SP_LIB" "${@:4}" \
        timeout 60 "$NODE" "$D/app.js" 2>"$D/err")
    stop_ingest
    check "dsn in code ($1): app output unchanged" test "$out" = "dsn app done"
    s=$("$NODE" "$INGEST/summary.js" "$D")
    echo "# dsn in code ($1): $(jqn "$s" 'JSON.stringify({accepted: f.accepted, items: f.items_by_type, problems: f.problems})')"
}
run_dsn_case rate1 "profilesSampleRate: 1"
check "dsn in code, profilesSampleRate 1: 3 envelopes, 3 transactions, 3 profiles, nothing else" \
    test "$(jqn "$s" 'f.accepted + " " + JSON.stringify(f.items_by_type)')" = '3 {"transaction":3,"profile":3}'
check "dsn in code: no ingest problem" test -z "$(problems "$s")"
check "dsn in code: every ingest rule passes" "$NODE" "$INGEST/check-envelopes.js" "$D/accepted"
q=$("$NODE" "$Q" "$D/accepted")
echo "# dsn in code: $(jqn "$q" 'JSON.stringify(f.txnProfiles.map((p) => [p.name, p.top, p.topShare, p.samples]))')"
check "dsn in code: each profile linked to its transaction (event id, trace id), dsnWork on top" \
    test "$(jqn "$q" 'f.txnProfiles.length === 3 && f.txnProfiles.every((p) => p.eventIdMatches && p.traceIdMatches && p.top === "dsnWork")')" = true
check "dsn in code: nothing left in the local spool (no chunk of the startup either)" \
    test "$(count_envelopes "$D/spool")" = 0
REF="$top_srcdir/tests/data/profiling-node-7.120.4-transaction.json"
cmp=$("$NODE" "$top_srcdir/tests/e2e/sdk-shape.js" compare "$REF" "$D/accepted")
echo "# dsn in code: shape vs $(basename "$REF"): $cmp"
check "dsn in code: envelope shape as @sentry/profiling-node 7's, field by field" test "$(jqn "$cmp" 'f.ok')" = true
run_dsn_case rate0 "profilesSampleRate: 0"
check "dsn in code, profilesSampleRate 0: 3 transactions, no profile" \
    test "$(jqn "$s" 'JSON.stringify(f.items_by_type)')" = '{"transaction":3}'
run_dsn_case sampler-false "profilesSampler: () => false"
check "dsn in code, profilesSampler returning false: 3 transactions, no profile" \
    test "$(jqn "$s" 'JSON.stringify(f.items_by_type)')" = '{"transaction":3}'
run_dsn_case sampler-1 "profilesSampler: () => 1"
check "dsn in code, profilesSampler returning 1: 3 transactions, 3 profiles" \
    test "$(jqn "$s" 'JSON.stringify(f.items_by_type)')" = '{"transaction":3,"profile":3}'
# the environment only fills what the SDK leaves unset: SENTRY_PROFILES_SAMPLE_RATE=0 does
# not override the app's profilesSampleRate 1, and decides when the app sets none
run_dsn_case env-rate0-sdk1 "profilesSampleRate: 1" "" SENTRY_PROFILES_SAMPLE_RATE=0
check "SENTRY_PROFILES_SAMPLE_RATE=0, profilesSampleRate 1 in Sentry.init: 3 profiles (the SDK's rate wins)" \
    test "$(jqn "$s" 'JSON.stringify(f.items_by_type)')" = '{"transaction":3,"profile":3}'
run_dsn_case env-rate0-sdk-unset "" "" SENTRY_PROFILES_SAMPLE_RATE=0
check "SENTRY_PROFILES_SAMPLE_RATE=0, no rate in Sentry.init: no profile (the environment fills it)" \
    test "$(jqn "$s" 'JSON.stringify(f.items_by_type)')" = '{"transaction":3}'

# ---- issue 14: @sentry/profiling-node 7 installed as well (its integration on the client):
# it profiles, the shim steps aside for that client, says so once, and stops its own default
# (continuous) profile: one profile per transaction, nothing in the local spool.
# @sentry/profiling-node 7.120.4 ships binaries up to Node 22's ABI (127): on a newer node
# its require throws, so that app cannot run there with or without the shim.
if "$NODE" -e "require('@sentry/profiling-node')" >/dev/null 2>&1; then
    run_dsn_case both "integrations: [new ProfilingIntegration()], profilesSampleRate: 1" \
        "const { ProfilingIntegration } = require('@sentry/profiling-node');" SENTRYPROF_DEBUG=1
    check "with profiling-node 7: 3 transactions, one profile each, not two" \
        test "$(jqn "$s" 'JSON.stringify(f.items_by_type)')" = '{"transaction":3,"profile":3}'
    q=$("$NODE" "$Q" "$D/accepted")
    echo "# with profiling-node 7: $(jqn "$q" 'JSON.stringify(f.txnProfiles.map((p) => [p.name, p.top, p.topShare, p.samples, p.eventIdMatches, p.traceIdMatches]))')"
    check "with profiling-node 7: each profile linked to its transaction (event id, trace id)" \
        test "$(jqn "$q" 'f.txnProfiles.length === 3 && f.txnProfiles.every((p) => p.eventIdMatches && p.traceIdMatches && p.samples >= 2)')" = true
    # profiling-node's frames carry no platform; ours say "node" or "native" on every frame
    theirs=$("$NODE" -e '
    const { spoolEnvelopes, envelopeItems } = require(process.argv[1]);
    let n = 0;
    for (const e of spoolEnvelopes(process.argv[2])) for (const it of envelopeItems(e.buf))
      if (it.type === "profile" && it.payload.profile.frames.every((fr) => !("platform" in fr))) n++;
    console.log(n);' "$SPOOLFILE" "$D/accepted")
    check "with profiling-node 7: the 3 profiles are profiling-node's, not ours ($theirs)" test "$theirs" = 3
    check "with profiling-node 7: the shim says once that it steps aside ($(grep -c 'stepping aside' "$D/err") lines)" \
        test "$(grep -c 'stepping aside' "$D/err")" = 1
    check "with profiling-node 7: nothing profiled twice (the local spool is empty: $(count_envelopes "$D/spool") envelopes)" \
        test "$(count_envelopes "$D/spool")" = 0
else
    echo "# with profiling-node 7: not run on node $("$NODE" -v): @sentry/profiling-node 7.120.4 has no binary for ABI $("$NODE" -p process.versions.modules)"
fi

# ---- issue 14: the sweep with the DSN only in Sentry.init. A continuous run killed with -9
# left its open chunk; an @sentry/node 7 app with the DSN in its code (none in the
# environment), doing nothing for 9 s after Sentry.init, sends it while it runs, not at exit.
D="$WORK/sweep"
mkdir -p "$D"
start_ingest "$D"
env SENTRY_DSN="$DSN" SENTRYPROF_MODE=continuous SENTRYPROF_COMMIT_SECONDS=1 SENTRYPROF_SPOOL_DIR="$D/spool" \
    LD_PRELOAD="$SP_LIB" "$NODE" "$APPS/steady.js" 60 >/dev/null 2>&1 &
victim=$!
for _ in $(seq 1 100); do [ "$(count_envelopes "$D/spool")" = 1 ] && break; sleep 0.1; done
sleep 1.2
kill -9 $victim; wait $victim 2>/dev/null
cat >"$D/idle.js" <<JS
const Sentry = require('@sentry/node');
Sentry.init({ dsn: '$DSN', tracesSampleRate: 1, profilesSampleRate: 1 });
setTimeout(() => console.log('sdk idle done'), 9000);
JS
t0=$(date +%s%N)
env -u SENTRY_DSN SENTRYPROF_SPOOL_DIR="$D/spool" LD_PRELOAD="$SP_LIB" "$NODE" "$D/idle.js" >"$D/out" 2>"$D/err" &
idle=$!
got=0 running=no
# Until the app ends (it idles 9 s after Sentry.init): a wall-clock bound from node's start
# failed a CI run at load ~100 (10.4 s; loading node and @sentry/node took most of it).
while kill -0 $idle 2>/dev/null; do
    got=$(jqn "$("$NODE" "$INGEST/summary.js" "$D")" 'f.chunk_ids.length')
    if [ "$got" -ge 1 ]; then kill -0 $idle 2>/dev/null && running=yes; break; fi
    sleep 0.2
done
elapsed=$(( ($(date +%s%N) - t0) / 1000000 ))
wait $idle
stop_ingest
echo "# sweep with the SDK's DSN: the dead run's chunk arrived after ${elapsed} ms"
sed 's/^/# app stderr: /' "$D/err" | head -5
check "DSN only in Sentry.init: the dead run's chunk is sent while the app still runs, not at its exit (after ${elapsed} ms; got $got, app running: $running)" \
    test "$got" = 1 -a "$running" = yes
s=$("$NODE" "$INGEST/summary.js" "$D")
check "... once, and the app's output is unchanged" \
    test "$(jqn "$s" 'f.chunk_ids.length + " " + f.duplicate_chunk_ids.length'):$(cat "$D/out")" = "1 0:sdk idle done"

finish
