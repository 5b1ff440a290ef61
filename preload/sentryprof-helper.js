'use strict';
// sentryprof's JS helper. libsentryprof.so adds `--require <this file>` to NODE_OPTIONS in
// node processes, so it runs first in the main thread and in every worker thread. It binds
// the already loaded library through N-API (process.dlopen on the path the library put in
// SENTRYPROF_LIBRARY_PATH), registers the thread with the sampler, and exposes
// globalThis.__sentryprof. It must never throw into the app, print, or keep the event loop
// alive.
(function sentryprofHelper() {
  const lib = process.env.SENTRYPROF_LIBRARY_PATH;
  if (!lib || globalThis.__sentryprof) return;
  const debug = process.env.SENTRYPROF_DEBUG === '1';
  let native;
  try {
    const mod = { exports: {} };
    process.dlopen(mod, lib);
    native = mod.exports;
  } catch (err) {
    if (debug) process.stderr.write(`[sentryprof] debug: helper inactive: ${err && err.message}\n`);
    return;
  }
  let threadId = 0;
  try {
    const wt = require('worker_threads');
    threadId = wt.isMainThread ? 0 : wt.threadId;
  } catch (_) { /* very old node: main thread only */ }
  const rc = native.registerThread(String(threadId), threadId === 0 ? 'main' : `worker ${threadId}`,
    process.versions.node);
  if (rc < 0 && debug) process.stderr.write(`[sentryprof] debug: thread ${threadId} not sampled (${rc})\n`);

  // A transaction started by hand: startTransaction({name, op}) -> {traceId, spanId, finish()}.
  class Transaction {
    constructor(handle) { this._h = handle; }
    get traceId() { const ids = native.transactionIds(this._h); return ids && ids.trace_id; }
    get spanId() { const ids = native.transactionIds(this._h); return ids && ids.span_id; }
    setName(name) { native.setTransaction(this._h, String(name), 0, ''); return this; }
    setHttpStatus(code) { native.setTransaction(this._h, '', Number(code) || 0, ''); return this; }
    finish() { if (this._h >= 0) { native.finishTransaction(this._h, true); this._h = -1; } }
    discard() { if (this._h >= 0) { native.finishTransaction(this._h, false); this._h = -1; } }
  }

  const api = {
    version: native.version,
    mode: native.mode,
    stats: () => native.stats(),
    startTransaction(ctx = {}) {
      const h = native.startTransaction(String(ctx.name || ''), String(ctx.op || 'default'),
        String(ctx.traceId || ''), String(ctx.parentSpanId || ''), ctx.sampled !== false);
      return new Transaction(h);
    },
  };
  Object.defineProperty(globalThis, '__sentryprof', {
    value: Object.freeze(api), enumerable: false, configurable: true, writable: false,
  });
})();
