#!/usr/bin/env bash
# Issue #15: which node processes are profiled. `npm start` under the shim profiles only the
# app's node process, not npm-cli.js (package managers are excluded by default; the child
# decides on its own); SENTRYPROF_EXCLUDE leaves a matching app inert (no thread, no
# NODE_OPTIONS change, nothing spooled) and SENTRYPROF_INCLUDE brings npm back; the debug
# line says which rule applied; `sentryprof doctor -- CMD` says it too.
. "$(dirname "$0")/lib.sh"
need_node
NPM=${NPM:-$(command -v npm || true)}
if [ -z "$NPM" ]; then echo "npm not found: this test needs it" >&2; exit 99; fi
Q="$top_srcdir/tests/e2e/profile-query.js"
unset SENTRY_DSN SENTRYPROF_DEBUG SENTRYPROF_MODE SENTRYPROF_INCLUDE SENTRYPROF_EXCLUDE SENTRYPROF_DISABLE \
    NODE_OPTIONS

APP="$WORK/app"
mkdir -p "$APP"
cat >"$APP/package.json" <<'JSON'
{ "name": "sp-select-app", "version": "1.0.0", "private": true, "scripts": { "start": "node app.js" } }
JSON
# ~400 ms of CPU in a named function; prints what the shim did to this process.
cat >"$APP/app.js" <<'JS'
function selectAppWork(ms) { const end = Date.now() + ms; let x = 0;
  while (Date.now() < end) for (let i = 0; i < 1000; i++) x = (x + i) % 9973; return x; }
selectAppWork(400);
console.log(JSON.stringify({ helper: typeof globalThis.__sentryprof,
  nodeOptions: process.env.NODE_OPTIONS || '' }));
JS
# run NAME [VAR=value...]: `npm start` in the app folder under the shim, own spool, npm kept
# offline and quiet (its cache and logs in the work dir).
run() {
    local name=$1
    shift
    (cd "$APP" && env "$@" HOME="$WORK/home" npm_config_cache="$WORK/npm-cache" npm_config_update_notifier=false \
        npm_config_fund=false npm_config_audit=false npm_config_offline=true \
        SENTRYPROF_SPOOL_DIR="$WORK/$name.spool" LD_PRELOAD="$SP_LIB" \
        "$NPM" start --silent >"$WORK/$name.out" 2>"$WORK/$name.err")
}
# Distinct profiler ids (one per profiled process) and every frame's file across the chunks.
cat >"$WORK/procs.js" <<'JS'
const { spoolEnvelopes, envelopeItems } = require(process.argv[2]);
// Per profiler id (one per process): its samples and whether it ran the app's function.
const ids = new Map(), files = new Set(), fns = new Set();
for (const e of spoolEnvelopes(process.argv[3])) {
  for (const it of envelopeItems(e.buf)) {
    if (it.type !== 'profile_chunk') continue;
    const p = ids.get(it.payload.profiler_id) || { samples: 0, app: false };
    ids.set(it.payload.profiler_id, p);
    p.samples += it.payload.profile.samples.length;
    for (const f of it.payload.profile.frames) {
      if (f.abs_path) files.add(f.abs_path);
      if (f.function) fns.add(f.function);
      if (f.function === 'selectAppWork') p.app = true;
    }
  }
}
const fl = [...files];
const others = [...ids.values()].filter((p) => !p.app);
console.log(JSON.stringify({ processes: ids.size, npmFrames: fl.filter((f) => /node_modules\/npm\//.test(f)).length,
  appWork: fns.has('selectAppWork'), otherSamples: others.reduce((n, p) => n + p.samples, 0),
  files: fl.filter((f) => !f.startsWith('node:')).slice(0, 8) }));
JS
procs() { "$NODE" "$WORK/procs.js" "$SPOOLFILE" "$1"; }

# ---- default: npm excluded, the app profiled
run default SENTRYPROF_MODE=continuous SENTRYPROF_DEBUG=1
check "npm start ran the app" grep -q '"helper":"object"' "$WORK/default.out"
p=$(procs "$WORK/default.spool")
echo "# default: $p"
check "one profiled process (one profiler_id across the chunks)" test "$(jqn "$p" f.processes)" = 1
check "the app's function is in the profile" test "$(jqn "$p" f.appWork)" = true
check "no frame from npm's own code (npm-cli.js not profiled)" test "$(jqn "$p" f.npmFrames)" = 0
check "the debug line says npm was not profiled, by the package-manager rule" \
    grep -q "debug: process .*npm.*: not profiled (package-manager CLI 'npm[^']*', excluded by default" "$WORK/default.err"
check "the debug line says app.js was profiled by default" \
    grep -q "debug: process app.js: profiled (default" "$WORK/default.err"
check "exactly one node process started the engine (one sampler line)" \
    test "$(grep -c 'debug: sampler: signal' "$WORK/default.err")" = 1

# ---- SENTRYPROF_EXCLUDE=app.js: nothing profiled, the app sees no NODE_OPTIONS change
run excl SENTRYPROF_MODE=continuous SENTRYPROF_EXCLUDE=app.js
check "EXCLUDE: the app ran, without our helper or NODE_OPTIONS" \
    grep -q '"helper":"undefined","nodeOptions":""' "$WORK/excl.out"
check "EXCLUDE: nothing spooled, nothing on stderr" \
    test "$(count_envelopes "$WORK/excl.spool" 2>/dev/null || echo 0)" = 0 -a ! -s "$WORK/excl.err"
check "EXCLUDE: no spool folder created at all" test ! -e "$WORK/excl.spool"

# ---- SENTRYPROF_INCLUDE=npm-cli.js,npm,app.js: npm profiled as well (two processes)
# npm's own frames are not asserted: on Node 18/20 its code runs mostly in the interpreter,
# whose frames have no names until the V8 frame decoder (#13) lands; npm's samples are.
run incl SENTRYPROF_MODE=continuous SENTRYPROF_INCLUDE=npm-cli.js,npm,app.js SENTRYPROF_DEBUG=1
p=$(procs "$WORK/incl.spool")
echo "# include: $p"
check "INCLUDE naming npm: two profiled processes, the app's among them" \
    test "$(jqn "$p" 'f.processes === 2 && f.appWork')" = true
check "INCLUDE naming npm: npm's process has samples of its own" \
    test "$(jqn "$p" 'f.otherSamples > 0')" = true
check "INCLUDE: the debug line says npm was profiled, by the INCLUDE pattern" \
    grep -q "debug: process .*npm.*: profiled (SENTRYPROF_INCLUDE" "$WORK/incl.err"


# ---- doctor says which rule applies to a command
"$SP_CLI" doctor --select-only -- npm start >"$WORK/doctor-npm" 2>&1
check "doctor -- npm start: not profiled, package-manager rule" \
    grep -q "selection.*npm.*not profiled.*package-manager CLI" "$WORK/doctor-npm"
SENTRYPROF_EXCLUDE=app.js "$SP_CLI" doctor --select-only -- node app.js >"$WORK/doctor-app" 2>&1
check "doctor -- node app.js with SENTRYPROF_EXCLUDE=app.js: not profiled, names the pattern" \
    grep -q "selection.*app.js.*not profiled.*SENTRYPROF_EXCLUDE pattern 'app.js'" "$WORK/doctor-app"
finish
