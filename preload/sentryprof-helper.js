'use strict';
// sentryprof's JS helper. libsentryprof.so adds `--require <this file>` to NODE_OPTIONS in
// node processes, so it runs first in the main thread and in every worker thread. It binds
// the already loaded library through N-API (process.dlopen on the path the library put in
// SENTRYPROF_LIBRARY_PATH), registers the thread with the sampler, takes the JS-side config
// from it (the library parsed the environment),
// exposes globalThis.__sentryprof (manual transactions, stats) and installs, from the sibling
// files next to it:
//   sentryprof-http.js     every incoming http/https request becomes a transaction;
//   sentryprof-sentry7.js  apps using @sentry/node 7 get our profiles in the SDK's envelopes.
// It must never throw into the app, print (but debug lines
// with SENTRYPROF_DEBUG=true), change the app's output or keep the event loop alive.
(function sentryprofHelper() {
  // The one variable the helper reads: where the library that --require'd it is (set by
  // its constructor). Everything else comes parsed from the library (native.config).
  const lib = process.env.SENTRYPROF_LIBRARY_PATH;
  if (!lib || globalThis.__sentryprof) return;
  // SENTRYPROF_DEBUG as the library parsed it, once the bridge is bound; before that (a
  // failed bind) there is nothing to ask, and nothing is said.
  let debug = false;
  // One line whatever a value holds: control characters (a newline in a variable) escaped.
  const esc = (c) => ({ '\n': '\\n', '\r': '\\r', '\t': '\\t' }[c] || `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  const say = (line) => {
    try { process.stderr.write(`[sentryprof] ${String(line).replace(/[\x00-\x1f\x7f]/g, esc)}\n`); } catch (_) { /* closed stderr */ }
  };
  let native;
  try {
    const mod = { exports: {} };
    process.dlopen(mod, lib);
    native = mod.exports;
  } catch (err) {
    if (debug) say(`debug: helper inactive: ${err && err.message}`);
    return;
  }
  if (typeof native.registerThread !== 'function') return; // not our library's bridge
  debug = native.debug === 1;
  // The library is loaded but not running here: a process SENTRYPROF_INCLUDE/EXCLUDE (or the
  // package-manager rule) left out, which inherited our --require from a profiled parent.
  if (native.active === 0) {
    if (debug) say('debug: helper inactive: this process is not profiled');
    return;
  }
  let threadId = 0;
  // The bridge knows the main thread; loading worker_threads there would cost ~10 ms of
  // every node start (it pulls in streams and the worker machinery).
  if (native.mainThread !== 1) {
    try {
      const wt = require('worker_threads');
      threadId = wt.isMainThread ? 0 : wt.threadId;
    } catch (_) { /* very old node: main thread only */ }
  }
  const isMain = threadId === 0;
  // Signals that would kill the process by default (no JS listener yet: a module --require'd
  // before us may have added one): the library flushes on them before the process dies.
  let fatalMask = 0;
  if (isMain) {
    try {
      ['SIGTERM', 'SIGINT', 'SIGHUP'].forEach((s, i) => { if (process.listenerCount(s) === 0) fatalMask |= 1 << i; });
    } catch (_) { /* no listenerCount: no flush on signals */ }
  }
  const rc = native.registerThread(String(threadId), isMain ? 'main' : `worker ${threadId}`,
    process.versions.node, fatalMask);
  if (rc < 0 && debug) say(`debug: thread ${threadId} not sampled (${rc})`);
  // Node disposes of the main isolate after 'exit' and before the library's destructor:
  // the agent names JS frames from V8's heap, so it takes the last samples now (a wait of
  // two agent passes, 200 ms at most). Without it the last ~60 ms of a run kept only a
  // nameless interpreter frame.
  if (isMain && rc === 0 && typeof native.drainBeforeExit === 'function') {
    process.on('exit', () => { try { native.drainBeforeExit(); } catch (_) { /* never the app's problem */ } });
  }

  // ---- JS-side config, parsed by the library (src/config.c: one parser, one warning per
  // bad value, one default). Warnings from the JS side come from the main thread only.
  const dbg = (msg) => { if (debug) say(`debug: ${msg}`); };
  const nc = native.config || {};
  const num = (v, def) => (typeof v === 'number' && Number.isFinite(v) ? v : def);
  const config = {
    mode: native.mode === 'continuous' ? 'continuous' : 'transaction',
    tracesSampleRate: num(nc.tracesSampleRate, 1),
    profilesSampleRate: num(nc.profilesSampleRate, 1),
    // auto: diagnostics_channel, or wrapping Server#emit only where node lacks the channels;
    // channel / emit: force one (tests); off: no HTTP auto-instrumentation.
    http: ['auto', 'channel', 'emit', 'off'].includes(nc.http) ? nc.http : 'auto',
    // The budget of the HTTP auto-instrumentation: at most this many transactions per second
    // per JS thread (a token bucket holding one second's worth), whatever the sample rates,
    // like dd-trace's 100 traces/s per process; requests beyond it are counted
    // (stats().http_over_budget) and cost next to nothing. 0: no HTTP transactions.
    httpPerSecond: num(nc.httpPerSecond, 100),
    // Whether a rate came from the environment: the @sentry/node 7 bridge uses the SDK's own
    // profilesSampleRate first and SENTRY_PROFILES_SAMPLE_RATE only when the app set none.
    profilesRateFromEnv: nc.profilesRateFromEnv === 1,
  };

  const roll = (r) => r >= 1 || (r > 0 && Math.random() < r);
  // Transaction names go into a native buffer of native.txnNameMax bytes (SP_TXN_NAME_MAX
  // less the NUL): cut on a character boundary.
  const NAME_MAX = native.txnNameMax;
  function clip(s, max = NAME_MAX) {
    s = typeof s === 'string' ? s : String(s == null ? '' : s);
    if (s.length * 3 <= max || Buffer.byteLength(s) <= max) return s;
    let out = s.slice(0, max);
    while (Buffer.byteLength(out) > max) out = out.slice(0, -1);
    if (/[\ud800-\udbff]$/.test(out)) out = out.slice(0, -1);
    return out;
  }

  // Shared with the sibling modules. begin() applies the sampling rates (Sentry's: profiles
  // relative to traces; a parent's decision from `sentry-trace` wins over the traces rate) and
  // returns a native handle, or -1 when nothing would come of the transaction.
  const observedTransports = new WeakSet();
  const core = {
    native, config, threadId, isMain, debug, dbg, clip, roll,
    // Set by sentryprof-sentry7.js: true while an @sentry/* SDK with tracing is active, so
    // our own HTTP transactions step aside (the SDK sends its own; nothing twice).
    sdkTracing: () => false,
    // An app's Sentry client options (any major): its DSN, release and environment win over
    // SENTRY_DSN/SENTRY_RELEASE/SENTRY_ENVIRONMENT for what the native side builds and
    // uploads. Main thread only; once per client.
    handSdkSettings(o, sdk) {
      if (!isMain || typeof native.setSdk !== 'function' || !o) return;
      let meta = sdk;
      if (!meta) { try { meta = o._metadata && o._metadata.sdk; } catch (_) { meta = undefined; } }
      const str = (v) => (typeof v === 'string' ? v : '');
      const pkg = meta && Array.isArray(meta.packages) && meta.packages[0];
      native.setSdk(str(o.dsn), str(o.release), str(o.environment),
        str(meta && meta.name), str(meta && meta.version), str(pkg && pkg.name));
      dbg(`Sentry SDK settings: dsn=${o.dsn ? 'set' : 'unset'} release=${str(o.release) || '(env)'} ` +
        `environment=${str(o.environment) || '(env)'}`);
    },
    // Sentry's answers to the app's own SDK (any major): its transport's send() resolves
    // with {statusCode, headers}; a 429 or X-Sentry-Rate-Limits goes to the native side,
    // and our next upload to the same DSN holds to those limits too (the SDK's transport
    // keeps its own copy, out of our reach). Main thread only; once per transport.
    observeSdkResponses(client) {
      if (!isMain || typeof native.noteSdkResponse !== 'function' || !client) return;
      let t = null;
      try { t = typeof client.getTransport === 'function' ? client.getTransport() : null; } catch (_) { t = null; }
      if (!t || typeof t !== 'object' || typeof t.send !== 'function' || observedTransports.has(t)) return;
      observedTransports.add(t);
      const str = (v) => (Array.isArray(v) ? str(v[0]) : typeof v === 'string' ? v : '');
      const note = (res) => {
        if (!res || typeof res !== 'object') return;
        const h = (res.headers && typeof res.headers === 'object') ? res.headers : {};
        const status = Number(res.statusCode) || 0;
        const limits = str(h['x-sentry-rate-limits']);
        if (status !== 429 && !limits) return;
        native.noteSdkResponse(status, limits, str(h['retry-after']));
        dbg(`the Sentry SDK got ${status}${limits ? ` with rate limits "${limits}"` : ''}: our uploads hold to it`);
      };
      const send = t.send;
      t.send = function sendObserved() {
        const r = send.apply(this, arguments);
        try {
          if (r && typeof r.then === 'function') r.then((res) => { try { note(res); } catch (_) { /* ours */ } }, () => {});
        } catch (_) { /* never the app's problem */ }
        return r;
      };
    },
    begin(name, op, traceId, parentSpanId, parentSampled) {
      const traceSampled = parentSampled === undefined ? roll(config.tracesSampleRate) : parentSampled;
      if (!traceSampled) return -1;
      // Transaction mode: a transaction not picked by the profiles rate is not started at all;
      // one that is gets its profile, or (fewer than 2 samples) is sent alone. Continuous
      // mode: every sampled transaction is spooled, pointing at the process's continuous
      // profile (the profile rate does not apply per transaction).
      if (config.mode === 'transaction' && !roll(config.profilesSampleRate)) return -1;
      const h = native.startTransaction(clip(name), String(op || 'default'), traceId || '',
        parentSpanId || '', true, false);
      if (typeof h === 'number' && h >= 0) return h;
      core.failed(h);
      return -1;
    },
    // A native start that failed (-ENOSPC: 1024 transactions in flight; -ENOENT: thread not
    // sampled): the transaction goes unprofiled. Said once per error with SENTRYPROF_DEBUG=1.
    failed(rc) {
      if (!debug || seenErrors.has(rc)) return;
      seenErrors.add(rc);
      say(`debug: startTransaction failed (${rc}): transaction not profiled (said once per error)`);
    },
  };
  const seenErrors = new Set();
  const mods = {}; // the sibling modules, once loaded

  // A transaction started by hand: startTransaction({name, op, traceId?, parentSpanId?,
  // sampled?}) -> {traceId, spanId, setName(), setHttpStatus(), finish(), discard()}.
  // Without `sampled`, the sampling rates decide (a transaction not sampled still has ids).
  class Transaction {
    constructor(handle) { this._h = handle; }
    get traceId() { const ids = this._h >= 0 && native.transactionIds(this._h); return ids ? ids.trace_id : undefined; }
    get spanId() { const ids = this._h >= 0 && native.transactionIds(this._h); return ids ? ids.span_id : undefined; }
    setName(name) { if (this._h >= 0) native.setTransaction(this._h, clip(name), 0, ''); return this; }
    setHttpStatus(code) {
      code = Number(code) || 0;
      let status = '';
      try { status = core.httpModule().spanStatus(code); } catch (_) { /* no status */ }
      if (this._h >= 0) native.setTransaction(this._h, '', code, status);
      return this;
    }
    finish() { if (this._h >= 0) { native.finishTransaction(this._h, true); this._h = -1; } }
    discard() { if (this._h >= 0) { native.finishTransaction(this._h, false); this._h = -1; } }
  }

  const api = {
    version: native.version,
    mode: native.mode,
    stats: () => {
      const st = native.stats();
      if (st && mods.http && mods.http.counters) Object.assign(st, mods.http.counters());
      return st;
    },
    startTransaction(ctx = {}) {
      ctx = ctx || {};
      let sampled = ctx.sampled;
      if (typeof sampled !== 'boolean') {
        sampled = roll(config.tracesSampleRate) &&
          (config.mode === 'continuous' || roll(config.profilesSampleRate));
      }
      const h = native.startTransaction(clip(ctx.name || ''), String(ctx.op || 'default'),
        String(ctx.traceId || ''), String(ctx.parentSpanId || ''), sampled, false);
      return new Transaction(typeof h === 'number' ? h : -1);
    },
  };
  Object.defineProperty(globalThis, '__sentryprof', {
    value: Object.freeze(api), enumerable: false, configurable: true, writable: false,
  });

  const path = require('path');
  // ---- Source maps (issue 14): frames are spelled as @sentry/node spells them in error
  // events, so its module names need the app's directory (its stack parser's base,
  // dirname(process.argv[1]), already resolved by node before --require'd modules run).
  if (isMain && typeof native.setModuleBase === 'function' && process.argv[1]) {
    try { native.setModuleBase(path.dirname(process.argv[1])); } catch (_) { /* keep the default */ }
  }
  // Bundles built by Sentry's bundler plugins register `globalThis._sentryDebugIds[stack] =
  // debugId` when they load (the stack of an Error made in the bundle). As @sentry/core's
  // getFilenameToDebugIdMap, the stack's innermost frame with a file names the bundle; the
  // native side then gives every profile naming it a debug_meta image of type sourcemap.
  // The global is a non-enumerable accessor of ours: whatever is assigned to it is watched.
  if (typeof native.setDebugId === 'function') {
    const stacksSeen = new Set();
    const FRAME = /at (?:async )?(?:(.+?)\s+\()?(?:(.+):(\d+):(\d+)?|([^)]+))\)?/;
    const stackFile = (stack) => {
      for (const line of String(stack).split('\n')) {
        const m = line.match(FRAME);
        if (!m) continue;
        let file = m[2] && m[2].startsWith('file://') ? m[2].slice(7) : m[2];
        if (!file && m[5] && m[5] !== 'native') file = m[5];
        if (!file) continue;
        try { return decodeURI(file); } catch (_) { return file; }
      }
      return '';
    };
    const register = (stack, id) => {
      if (typeof stack !== 'string' || typeof id !== 'string' || stacksSeen.has(stack)) return;
      stacksSeen.add(stack);
      const file = stackFile(stack);
      if (!file) return;
      const rc = native.setDebugId(file, id);
      dbg(`debug id ${id} for ${file}${rc === 0 ? '' : ` not kept (${rc})`}`);
    };
    // The object the plugin's snippet fills: a Proxy whose set() registers the new entry
    // at once (the bundle's code may run, and be profiled, before any later tick).
    const proxies = new WeakSet();
    const watch = (v) => {
      if (!v || typeof v !== 'object' || proxies.has(v)) return v;
      try { for (const k of Object.keys(v)) register(k, v[k]); } catch (_) { return v; }
      const p = new Proxy(v, {
        set(target, key, value) {
          const ok = Reflect.set(target, key, value);
          try { register(key, value); } catch (_) { /* never into the app */ }
          return ok;
        },
      });
      proxies.add(p);
      return p;
    };
    let debugIds = watch(globalThis._sentryDebugIds);
    const d = Object.getOwnPropertyDescriptor(globalThis, '_sentryDebugIds');
    if (!d || ('value' in d && d.configurable && d.writable)) {
      try {
        Object.defineProperty(globalThis, '_sentryDebugIds', {
          configurable: true,
          enumerable: d ? d.enumerable : false,
          get() { return debugIds; },
          set(v) { debugIds = watch(v); },
        });
      } catch (_) { /* a frozen global: bundles are not seen */ }
    }
  }

  // Our modules leave no entry in require.cache (issue #20 item 12: an app listing it saw
  // three of ours), nor in this module's children; the helper forgets itself at the end.
  const forget = (f) => {
    try {
      delete require.cache[f];
      const i = module.children.findIndex((m) => m.id === f);
      if (i >= 0) module.children.splice(i, 1);
    } catch (_) { /* a frozen cache: leave it */ }
  };
  const parts = {};
  const loadModule = (key, file) => {
    if (!mods[key]) {
      const f = path.join(__dirname, file);
      mods[key] = require(f);
      forget(f);
    }
    return mods[key];
  };
  core.httpModule = () => loadModule('http', 'sentryprof-http.js');
  const load = (key, file) => {
    try {
      parts[key] = loadModule(key, file).install(core);
    } catch (err) {
      dbg(`${file} not installed: ${err && err.message}`);
    }
  };
  // The Sentry SDK bridges (sentryprof-sentry8.js, then sentryprof-sentry7.js, which owns
  // the `__SENTRY__` accessor) are loaded when an SDK shows up, not at every start: ~2.5 ms
  // of compiling them was the largest part of the helper in an app without Sentry. An SDK
  // shows up as (a) a carrier already there (a module --require'd before us), (b) an ES
  // module entry or loader hook, which loads the SDK past Module._load (so: at once, as
  // before), (c) the first request of a module under @sentry/ through Module._load (7.x,
  // and 8+ through require; the bridge then sets the accessor before that module runs), or
  // (d) a carrier found later by core.sdkTracing (a bundled SDK, which requires nothing).
  // Without a carrier (b, c) the bridge sets its `__SENTRY__` accessor at once.
  let sdkBridges = false;
  const loadSdkBridges = () => {
    if (sdkBridges) return;
    sdkBridges = true;
    load('sentry8', 'sentryprof-sentry8.js');
    load('sentry', 'sentryprof-sentry7.js');
  };
  const esmEntry = () => {
    const opts = `${(process.execArgv || []).join(' ')} ${process.env.NODE_OPTIONS || ''}`;
    if (/(^|\s)--(import|loader|experimental-loader)\b/.test(opts)) return true;
    const main = process.argv[1];
    if (!main || /\.cjs$/.test(main)) return false;
    if (/\.mjs$/.test(main)) return true;
    try {
      const fs = require('fs');
      for (let dir = path.dirname(path.resolve(main)); ; dir = path.dirname(dir)) {
        let text = null;
        try { text = fs.readFileSync(path.join(dir, 'package.json'), 'utf8'); } catch (_) { /* none here */ }
        if (text !== null) return JSON.parse(text).type === 'module';
        if (path.dirname(dir) === dir) return false;
      }
    } catch (_) {
      return true; // unreadable: as an ES module entry, the bridges at once
    }
  };
  const sdkTracingStub = () => {
    let c;
    try { c = globalThis.__SENTRY__; } catch (_) { return false; }
    if (!c || typeof c !== 'object') return false;
    loadSdkBridges();
    return core.sdkTracing !== sdkTracingStub && core.sdkTracing();
  };
  core.sdkTracing = sdkTracingStub;
  // The HTTP hooks (sentryprof-http.js and node's diagnostics_channel, ~1.3 ms of compiling)
  // wait for node's http or https to load: at once if a module --require'd before us loaded
  // it or the entry is an ES module (whose imports pass no Module._load), else at the first
  // request of `http`/`https` through Module._load, and a check every second for one that
  // came some other way (a dynamic import()): node publishes every request on the channel,
  // so hooks installed after the server exists see its next request.
  let httpHooks = false;
  const httpLoaded = () => {
    const list = process.moduleLoadList;
    return !Array.isArray(list) || list.includes('NativeModule http') || list.includes('NativeModule https');
  };
  let httpPoll = null;
  const loadHttpHooks = () => {
    if (httpHooks) return;
    httpHooks = true;
    if (httpPoll) { clearInterval(httpPoll); httpPoll = null; }
    load('http', 'sentryprof-http.js');
    if (isMain) dbg(`http hooks installed: ${parts.http || 'none'}`);
  };
  const HTTP_REQUEST = /^(node:)?https?$/;
  // One wrapper of Module._load for both (Module is the constructor of our own module: a
  // require('module') would compile node's public module wrapper, ~1 ms); it gives
  // Module._load back once both are in.
  const watchLoads = () => {
    const Module = module.constructor;
    const orig = Module && Module._load;
    if (typeof orig !== 'function') return false;
    const wrapper = function (request, parent, isMain) { // Module._load's own arity
      if (typeof request === 'string') {
        if (!sdkBridges && (request.startsWith('@sentry/') || /[\\/]node_modules[\\/]@sentry[\\/]/.test(request))) loadSdkBridges();
        else if (!httpHooks && HTTP_REQUEST.test(request)) loadHttpHooks();
        // the app's own again, unless wrapped after us
        if (sdkBridges && httpHooks && Module._load === wrapper) Module._load = orig;
      }
      return orig.apply(this, arguments);
    };
    try { Object.defineProperty(wrapper, 'name', { value: orig.name }); } catch (_) { /* keep ours */ }
    Module._load = wrapper;
    return true;
  };
  const esm = esmEntry();
  const watching = watchLoads();
  if (Object.getOwnPropertyDescriptor(globalThis, '__SENTRY__') || esm || !watching) loadSdkBridges();
  if (config.http === 'off') httpHooks = true; // nothing to install (forced modes install at once)
  else if (config.http !== 'auto' || esm || !watching || httpLoaded()) loadHttpHooks();
  else {
    httpPoll = setInterval(() => { if (httpLoaded()) loadHttpHooks(); }, 1000);
    if (httpPoll.unref) httpPoll.unref();
  }
  forget(__filename);
  if (debug && isMain) {
    dbg(`js config: mode=${config.mode} traces_sample_rate=${config.tracesSampleRate} ` +
      `profiles_sample_rate=${config.profilesSampleRate}${config.profilesRateFromEnv ? '' : ' (default)'} ` +
      `http=${httpHooks ? parts.http || 'off' : 'when http loads'} http_transactions_per_second=${config.httpPerSecond} sentry_sdk_bridge=${sdkBridges ? parts.sentry || 'off' : 'when an SDK loads'} sentry8_profiler=${sdkBridges ? parts.sentry8 || 'off' : 'when an SDK loads'} node=${process.versions.node}`);
  }
})();
