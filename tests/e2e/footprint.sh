#!/usr/bin/env bash
# #20 item 12: what an app without the Sentry SDK can see of us. `'__SENTRY__' in globalThis`
# was true (our carrier accessor) and require.cache held 3 modules of ours. Now an app sees
# the same globals, require.cache and module children profiled as unprofiled, in the main
# thread and in a worker; only globalThis.__sentryprof (our documented API) and the
# _sentryDebugIds accessor of the source-map support differ, both non-enumerable. The SDK bridges still find a CommonJS SDK: the accessor goes in as its first
# @sentry/ module loads (tests/e2e/sentry7.sh and sentry-modern.sh cover the SDKs themselves).
. "$(dirname "$0")/lib.sh"
need_node
cat >"$WORK/look.js" <<'JS'
const { Worker, isMainThread } = require('worker_threads');
const look = () => JSON.stringify({
  sentryIn: '__SENTRY__' in globalThis,
  sentryOwn: Object.prototype.hasOwnProperty.call(globalThis, '__SENTRY__'),
  // _sentryDebugIds stays: Sentry's bundler plugins assign it as a bundle loads, and its
  // accessor is how we see the debug ids in time (non-enumerable; checked below).
  globals: Object.getOwnPropertyNames(globalThis).filter((k) => k !== '__sentryprof' && k !== '_sentryDebugIds').sort(),
  keys: Object.keys(globalThis).sort(),
  cache: Object.keys(require.cache).map((k) => require('path').basename(k)).sort(),
  children: module.children.length,
  load: require('module')._load.name,
});
if (isMainThread) {
  console.log('main ' + look());
  const w = new Worker(__filename);
  w.on('exit', () => console.log('done'));
} else {
  console.log('worker ' + look());
}
JS
# An SDK stand-in: a module under node_modules/@sentry/ that creates the carrier as the SDK
# does (GLOBAL_OBJ.__SENTRY__ = GLOBAL_OBJ.__SENTRY__ || {}).
mkdir -p "$WORK/node_modules/@sentry/fake"
echo 'const G = globalThis; G.__SENTRY__ = G.__SENTRY__ || {}; exports.carrier = G.__SENTRY__;' >"$WORK/node_modules/@sentry/fake/index.js"
cat >"$WORK/sdk.js" <<'JS'
const before = '__SENTRY__' in globalThis;
const { carrier } = require('@sentry/fake');
const d = Object.getOwnPropertyDescriptor(globalThis, '__SENTRY__');
console.log(JSON.stringify({ before, same: globalThis.__SENTRY__ === carrier, data: !!d && 'value' in d, enumerable: !!d && d.enumerable }));
JS
(cd "$WORK" && "$NODE" look.js >plain.out 2>plain.err)
(cd "$WORK" && SENTRYPROF_MODE=continuous SENTRYPROF_SPOOL_DIR="$WORK/spool" LD_PRELOAD=$SP_LIB "$NODE" look.js >prof.out 2>prof.err)
sed 's/^/# unprofiled: /' "$WORK/plain.out"
sed 's/^/# profiled: /' "$WORK/prof.out"
check "the helper ran (globalThis.__sentryprof set)" \
    env LD_PRELOAD="$SP_LIB" SENTRYPROF_SPOOL_DIR="$WORK/spool" "$NODE" -e 'process.exit(globalThis.__sentryprof ? 0 : 1)'
check "main thread: no '__SENTRY__' in globalThis" grep -q '^main {"sentryIn":false,"sentryOwn":false' "$WORK/prof.out"
check "worker: no '__SENTRY__' in globalThis" grep -q '^worker {"sentryIn":false,"sentryOwn":false' "$WORK/prof.out"
check "globals, require.cache, module children and Module._load as unprofiled (main and worker)" \
    diff -u <(sort "$WORK/plain.out") <(sort "$WORK/prof.out")
check "nothing on stderr" test ! -s "$WORK/prof.err"
(cd "$WORK" && SENTRYPROF_MODE=continuous SENTRYPROF_SPOOL_DIR="$WORK/spool" LD_PRELOAD=$SP_LIB "$NODE" sdk.js >sdk.out 2>sdk.err)
echo "# with an @sentry/ module: $(cat "$WORK/sdk.out")"
check "an @sentry/ module still gets its carrier: a plain enumerable data property, as unprofiled" \
    test "$(cat "$WORK/sdk.out")" = '{"before":false,"same":true,"data":true,"enumerable":true}'
finish
