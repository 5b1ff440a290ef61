#!/usr/bin/env bash
# Issue 14, "source maps work in Sentry": what Sentry needs to map our profiles' JS frames
# back through an app's source maps, checked on a bundle written as Sentry's bundler plugins
# emit it (tests/e2e/sourcemaps/dist/bundle.js: the _sentryDebugIds snippet, one minified
# line, `//# debugId=`, bundle.js.map next to it; src/checksums.js is its original):
#   1. release: profiles, chunks and transactions carry the app's SDK release (Sentry.init),
#      else SENTRY_RELEASE (the shim's own transactions and chunks);
#   2. frames spelled as @sentry/node spells the same frame in an error event: the app
#      throws from the bundle's hot function and reports it with Sentry.captureException;
#      filename, module and in_app of the profile's frame equal the error event's, lineno
#      too (one line), abs_path is that path; both line:columns map back to the original;
#   3. debug_meta.images has {type: sourcemap, code_file: <the bundle's filename>,
#      debug_id: <its debug id>} in v2 chunks and v1 profiles; the hot frame's line:column
#      maps back into computeChecksums (src/checksums.js lines 3-11: an interpreted frame
#      carries the position executing in it, like an error event's frame, and Sentry names
#      the function around a position from the map's scopes) through bundle.js.map (the `source-map` package, pinned
#      in tests/e2e/sourcemaps/ with its lockfile); a bundle with only the trailing
#      `//# debugId=` comment (no snippet) gets its image too (the agent reads the last
#      bytes of the app's scripts its frames name, once per file).
# @sentry/node 8 from tests/e2e/sentry8 (pinned): profileLifecycle 'trace' (chunks) and
# profilesSampleRate (v1 profiles in the SDK's envelope).
. "$(dirname "$0")/lib.sh"
need_node
unset SENTRYPROF_DEBUG SENTRY_TRACES_SAMPLE_RATE SENTRY_PROFILES_SAMPLE_RATE SENTRYPROF_HTTP SENTRY_DSN \
    SENTRYPROF_MODE SENTRY_PROFILER_LOGGING_MODE SENTRYPROF_DISABLE SENTRY_ENVIRONMENT SENTRY_RELEASE
INGEST="$top_srcdir/tests/ingest"
FIX="$top_srcdir/tests/e2e/sourcemaps"
DEBUG_ID=4f8a1c2e-7b3d-4e9f-a16c-5d2e8b9f0a71

install_deps() { # install_deps FOLDER: npm ci of tests/e2e/FOLDER (lib.sh)
    npm_ci_folder "$1" || return 1
    ok "tests/e2e/$1 installed (npm ci)"
}
install_deps sentry8 || finish
install_deps sourcemaps || finish
export NODE_PATH="$top_builddir/_e2e-deps/sentry8/node_modules:$top_builddir/_e2e-deps/sourcemaps/node_modules"

start_ingest_at() { # start_ingest_at DIR: sets $ingest_pid and $DSN
    "$NODE" "$INGEST/server.js" --port 0 --dir "$1" --parent-pid $$ --quiet >"$1.log" 2>&1 &
    ingest_pid=$!
    local port
    port=$("$INGEST/wait-port.sh" "$1" 10) || { not_ok "ingest server did not start"; finish; }
    DSN="http://pub@127.0.0.1:$port/1"
}
stop_ingest() { kill "$ingest_pid" 2>/dev/null; wait "$ingest_pid" 2>/dev/null; }

# The app lives in $D/app (node's main script there: @sentry/node's module base), the bundle
# in $D/app/dist, its original in $D/app/src.
setup_app() { # setup_app DIR INIT_OPTIONS
    D=$1
    mkdir -p "$D/app/dist" "$D/app/src"
    cp "$FIX/dist/bundle.js" "$FIX/dist/bundle.js.map" "$D/app/dist/" && cp "$FIX/src/checksums.js" "$D/app/src/"
    BUNDLE="$D/app/dist/bundle.js"
    start_ingest_at "$D"
    cat >"$D/app/app.js" <<JS
const Sentry = require('@sentry/node');
Sentry.init({ dsn: '$DSN', tracesSampleRate: 1, $2 });
const { computeChecksums } = require('./dist/bundle.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  for (let i = 0; i < 3; i++) {
    Sentry.startSpan({ name: 'checksums-' + i, op: 'task' }, () => computeChecksums(300));
    await sleep(100);
  }
  try { computeChecksums(1, true); } catch (err) { Sentry.captureException(err); }
  await Sentry.flush(5000);
  await sleep(300);
  console.log('sourcemaps app done');
})();
JS
}
run_app() { # run_app [env...]: the app under the shim, DSN only in Sentry.init
    out=$(cd "$D/app" && env SENTRYPROF_SPOOL_DIR="$D/spool" LD_PRELOAD="$SP_LIB" "$@" timeout 90 "$NODE" "$D/app/app.js" 2>"$D/err")
    rc=$?
    stop_ingest
    F=$("$NODE" "$top_srcdir/tests/e2e/sourcemap-facts.js" "$top_srcdir" "$D/accepted" "$BUNDLE")
}
show() { echo "# $NAME: $(jqn "$F" "JSON.stringify($1)")"; }

# ---- @sentry/node 8, profileLifecycle 'trace': v2 chunks
NAME="@sentry/node 8 trace (chunks)"
setup_app "$WORK/trace" "release: 'sourcemaps-app@1.0.0', profileSessionSampleRate: 1, profileLifecycle: 'trace'"
run_app env
show '{rc: '$rc', profiles: f.profiles.map((p) => ({type: p.type, release: p.release, images: p.images, samples: p.samples, onBundle: p.onBundle})), errors: f.errors.length, txns: f.transactions}'
show 'f.profiles.flatMap((p) => p.hotFrames).slice(0, 3)'
show 'f.errors.flatMap((e) => e.frames)'
check "$NAME: app output unchanged" test "$rc:$out" = "0:sourcemaps app done"
check "$NAME: every ingest rule passes" "$NODE" "$INGEST/check-envelopes.js" "$D/accepted"
check "$NAME: chunks, 3 transactions and the error event reached the SDK's DSN" \
    test "$(jqn "$F" 'f.profiles.length >= 1 && f.profiles.every((p) => p.type === "profile_chunk") && f.transactions.length === 3 && f.errors.length === 1')" = true
check "1. release: every chunk carries the SDK's release (Sentry.init), as the transactions" \
    test "$(jqn "$F" 'f.profiles.every((p) => p.release === "sourcemaps-app@1.0.0") && f.transactions.every((t) => t.release === "sourcemaps-app@1.0.0")')" = true
FR='f.profiles.flatMap((p) => p.hotFrames)'
check "the bundle's hot function is most of the chunks' samples (>= 50%)" \
    test "$(jqn "$F" 'f.profiles.reduce((a, p) => a + p.onBundle, 0) >= 0.5 * f.profiles.reduce((a, p) => a + p.samples, 0)')" = true
EF='f.errors[0].frames[0]'
check "2. the error event has the bundle's frame" test "$(jqn "$F" 'f.errors[0] && f.errors[0].frames.length === 1')" = true
for field in filename module in_app lineno; do
    check "2. hot frame's $field as @sentry/node's error event spells it ($(jqn "$F" "JSON.stringify(($EF || {}).$field)"))" \
        test "$(jqn "$F" "$FR.length > 0 && $FR.every((h) => JSON.stringify(h.$field) === JSON.stringify(($EF || {}).$field))")" = true
done
check "2. abs_path is the filename (the bundle's absolute path)" \
    test "$(jqn "$F" "$FR.every((h) => h.abs_path === h.filename && h.filename === process.argv[2])" "$BUNDLE")" = true
check "2. the error frame's and the hot frame's line:column both map back into computeChecksums (src/checksums.js lines 3-11)" \
    test "$(jqn "$F" "[$EF, ...$FR].every((h) => h && h.original.line >= 3 && h.original.line <= 11)")" = true
check "3. every chunk naming the bundle has its sourcemap image, and no other" \
    test "$(jqn "$F" 'f.profiles.filter((p) => p.onBundle).length >= 1 && f.profiles.every((p) => JSON.stringify(p.images) === (p.onBundle ? JSON.stringify([{type: "sourcemap", code_file: process.argv[2], debug_id: process.argv[3]}]) : "[]"))' "$BUNDLE" "$DEBUG_ID")" = true
check "3. each hot frame's line:column maps back into computeChecksums (lines 3-11) through bundle.js.map" \
    test "$(jqn "$F" "$FR.length > 0 && $FR.every((h) => h.original.line >= 3 && h.original.line <= 11)")" = true
check "3. the image's code_file is what the SDK's own error event names (its debug_meta, when it sends one)" \
    test "$(jqn "$F" '!f.errors[0].images || f.errors[0].images.some((i) => i.code_file === process.argv[2] && i.debug_id === process.argv[3])' "$BUNDLE" "$DEBUG_ID")" = true

# ---- @sentry/node 8, profilesSampleRate: v1 profiles in the SDK's envelope
NAME="@sentry/node 8 profilesSampleRate (v1)"
setup_app "$WORK/v1" "release: 'sourcemaps-app@2.0.0', profilesSampleRate: 1"
run_app env
show '{rc: '$rc', profiles: f.profiles.map((p) => ({type: p.type, release: p.release, images: p.images, onBundle: p.onBundle}))}'
check "$NAME: app output unchanged" test "$rc:$out" = "0:sourcemaps app done"
check "$NAME: 3 v1 profiles" test "$(jqn "$F" 'f.profiles.length === 3 && f.profiles.every((p) => p.type === "profile")')" = true
check "1. release: each v1 profile carries the SDK's release" \
    test "$(jqn "$F" 'f.profiles.every((p) => p.release === "sourcemaps-app@2.0.0")')" = true
check "3. each v1 profile has the bundle's sourcemap image; its hot frames map back to computeChecksums" \
    test "$(jqn "$F" 'f.profiles.every((p) => p.onBundle > 0 && JSON.stringify(p.images) === JSON.stringify([{type: "sourcemap", code_file: process.argv[2], debug_id: process.argv[3]}]) && p.hotFrames.every((h) => h.original.line >= 3 && h.original.line <= 11))' "$BUNDLE" "$DEBUG_ID")" = true

# ---- no SDK: the shim's own transactions and chunks (read from the spool), SENTRY_RELEASE
NAME="no SDK, SENTRY_RELEASE"
D="$WORK/nosdk"
mkdir -p "$D/app/dist"
cp "$FIX/dist/bundle.js" "$FIX/dist/bundle.js.map" "$D/app/dist/"
BUNDLE="$D/app/dist/bundle.js"
cat >"$D/app/app.js" <<'JS'
const { computeChecksums } = require('./dist/bundle.js');
for (let i = 0; i < 2; i++) {
  const t = globalThis.__sentryprof.startTransaction({ name: 'own-' + i, op: 'task', sampled: true });
  computeChecksums(300);
  t.finish();
}
console.log('own done');
JS
# a bundle without the snippet, only its trailing //# debugId= comment (CommonJS)
mkdir -p "$D/plain/dist"
{ echo; sed 1d "$FIX/dist/bundle.js"; } >"$D/plain/dist/bundle.js" # line 1 emptied: the map still fits
cp "$FIX/dist/bundle.js.map" "$D/plain/dist/"
cp "$D/app/app.js" "$D/plain/app.js"
NAME="no snippet, //# debugId= only"
out=$(cd "$D/plain" && env SENTRYPROF_SPOOL_DIR="$D/spool-plain" LD_PRELOAD="$SP_LIB" SENTRYPROF_MODE=transaction \
    timeout 90 "$NODE" app.js 2>"$D/err")
rc=$?
F=$("$NODE" "$top_srcdir/tests/e2e/sourcemap-facts.js" "$top_srcdir" "$D/spool-plain" "$D/plain/dist/bundle.js")
show '{profiles: f.profiles.map((p) => ({type: p.type, images: p.images, onBundle: p.onBundle}))}'
check "$NAME: app output unchanged" test "$rc:$out" = "0:own done"
check "3. $NAME: v1 profiles get the sourcemap image from the bundle's last line; hot frames map back to computeChecksums" \
    test "$(jqn "$F" 'f.profiles.length === 2 && f.profiles.every((p) => p.onBundle > 0 && JSON.stringify(p.images) === JSON.stringify([{type: "sourcemap", code_file: process.argv[2], debug_id: process.argv[3]}]) && p.hotFrames.every((h) => h.original.line >= 3 && h.original.line <= 11))' "$D/plain/dist/bundle.js" "$DEBUG_ID")" = true

NAME="no SDK, SENTRY_RELEASE"
for mode in transaction continuous; do
    out=$(cd "$D/app" && env SENTRYPROF_SPOOL_DIR="$D/spool-$mode" LD_PRELOAD="$SP_LIB" \
        SENTRY_RELEASE=own-release@3 SENTRYPROF_MODE=$mode timeout 90 "$NODE" app.js 2>"$D/err")
    rc=$?
    F=$("$NODE" "$top_srcdir/tests/e2e/sourcemap-facts.js" "$top_srcdir" "$D/spool-$mode" "$BUNDLE")
    show '{profiles: f.profiles.map((p) => ({type: p.type, release: p.release, images: p.images, onBundle: p.onBundle})), txns: f.transactions}'
    check "$NAME ($mode): app output unchanged" test "$rc:$out" = "0:own done"
    check "1. $NAME ($mode): transactions and profiles carry SENTRY_RELEASE" \
        test "$(jqn "$F" 'f.transactions.length === 2 && f.profiles.length >= 1 && [...f.profiles, ...f.transactions].every((p) => p.release === "own-release@3")')" = true
    check "3. $NAME ($mode): profiles naming the bundle have its sourcemap image" \
        test "$(jqn "$F" 'f.profiles.some((p) => p.onBundle) && f.profiles.every((p) => !p.onBundle || (p.images || []).some((i) => i.type === "sourcemap" && i.code_file === process.argv[2] && i.debug_id === process.argv[3]))' "$BUNDLE" "$DEBUG_ID")" = true
done
finish
