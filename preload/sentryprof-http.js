'use strict';
// sentryprof HTTP auto-instrumentation (loaded by sentryprof-helper.js in every JS thread).
// Every request an http/https server of this thread receives can become a transaction:
//   op "http.server", name "METHOD /path" (query and fragment stripped; the route template
//   when express or fastify exposes one by the time the response finishes), the response's
//   status code and Sentry span status, and the trace continued from an incoming
//   `sentry-trace: <trace_id>-<span_id>[-<sampled>]` header.
// Volume: the process's token bucket (config.httpPerSecond per second, one second's worth of
// burst, shared by every JS thread: src/budget.c) is asked first, before anything else is
// looked at: a request beyond the budget costs a call into the library and a counter
// (stats().http_over_budget); the sample rates apply to the rest.
// Cost: nothing is allocated per request that is not profiled; a profiled one gets one
// record and one 'finish' listener on its response (as @sentry/node's tracing handler adds
// to every response), no 'close' listener (an app adding its own must not meet
// MaxListenersExceededWarning because of us).
// Hooks: diagnostics_channel `http.server.request.start` (node >= 14.17 / 15.1: no
// patching); only where node lacks it is Server#emit wrapped. Not the
// `http.server.response.finish` channel: once anybody listens there, node's http server
// spends ~5% more of a trivial request's JS time (node 20, 8 interleaved runs of
// tests/bench/http-inproc.js with no-op subscribers), where the start channel costs ~1%;
// most requests are beyond the budget and need no end. Subscribing it only while a
// transaction is open was worse (0.91 of plain): every subscribe and unsubscribe changes
// the channel's prototype under node's optimized code.
// A response closed before it finished (the client went away) is found by a sweep of the
// open transactions every SWEEP_MS while any is open, and ends with status "cancelled"
// (its end time is when the sweep saw it). Requests still open after MAX_OPEN_MS (event
// streams, long polls, stuck handlers) are dropped without a profile, so they cannot hold
// the library's transaction slots (1024) or, in lazy mode, keep the thread's sampling timer
// armed. Nothing here throws into the app, prints or holds the event loop.

const MAX_OPEN_MS = 60000; // a profile stops at 30 s anyway
const SWEEP_MS = 1000; // runs only while a transaction is open; unref'd

// Sentry's span status for an HTTP status code (@sentry/core's getSpanStatusFromHttpCode).
function spanStatus(code) {
  if (code >= 100 && code < 400) return 'ok';
  if (code >= 400 && code < 500) {
    switch (code) {
      case 401: return 'unauthenticated';
      case 403: return 'permission_denied';
      case 404: return 'not_found';
      case 409: return 'already_exists';
      case 413: return 'failed_precondition';
      case 429: return 'resource_exhausted';
      case 499: return 'cancelled';
      default: return 'invalid_argument';
    }
  }
  if (code >= 500 && code < 600) {
    switch (code) {
      case 501: return 'unimplemented';
      case 503: return 'unavailable';
      case 504: return 'deadline_exceeded';
      default: return 'internal_error';
    }
  }
  return 'unknown_error';
}

// "/a/b?x=1#f" -> "/a/b"; absolute-form "http://host:1/a?x" (proxies) -> "/a".
function pathOf(url) {
  if (typeof url !== 'string' || url === '') return '/';
  let end = url.length;
  const q = url.indexOf('?');
  if (q >= 0) end = q;
  const h = url.indexOf('#');
  if (h >= 0 && h < end) end = h;
  let p = url.slice(0, end);
  if (p[0] !== '/') {
    const m = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(\/.*)?$/i.exec(p);
    if (m) p = m[1] || '/';
    else if (p !== '*') p = `/${p}`;
  }
  return p;
}

const SENTRY_TRACE = /^[ \t]*([0-9a-f]{32})?-?([0-9a-f]{16})?-?([01])?[ \t]*$/i;

// The sentry-trace header from rawHeaders (does not make node build req.headers).
function sentryTrace(req) {
  const raw = req.rawHeaders;
  if (!Array.isArray(raw)) return null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i];
    if (typeof k === 'string' && k.length === 12 && k.toLowerCase() === 'sentry-trace') {
      const m = SENTRY_TRACE.exec(String(raw[i + 1]));
      if (!m || !m[1]) return null;
      return {
        traceId: m[1].toLowerCase(),
        parentSpanId: m[2] ? m[2].toLowerCase() : '',
        sampled: m[3] === '1' ? true : m[3] === '0' ? false : undefined,
      };
    }
  }
  return null;
}

// Does this node publish the http server channels? They came with node 15.1 and 14.17.
function nodeHasServerChannels() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  return major > 15 || (major === 15 && minor >= 1) || (major === 14 && minor >= 17);
}

// Strong references to our channels: older nodes drop a channel nobody holds, subscribers
// and all.
const held = [];

exports.spanStatus = spanStatus;
exports.pathOf = pathOf;

exports.install = function install(core) {
  const { native, config, clip, dbg } = core;
  if (config.http === 'off') return 'off';
  const live = new WeakMap(); // IncomingMessage -> {handle, method, res, t}
  const open = new Set(); // the same records, for the sweep
  let sweeper = null;
  let overBudget = 0;
  exports.counters = () => ({ http_over_budget: overBudget });

  // The budget is the process's: one token bucket in the library for every JS thread.
  const take = config.httpPerSecond > 0 ? () => native.httpTake() === 1 : () => false;
  const giveBack = () => native.httpGiveBack();

  function sweep() {
    const old = Date.now() - MAX_OPEN_MS;
    let dropped = 0;
    for (const rec of open) {
      const res = rec.res;
      if (res && (res.destroyed || (res.socket && res.socket.destroyed)) &&
          !(res.writableFinished || res.finished)) {
        finishRec(rec, true); // the client went away
        continue;
      }
      if (rec.t > old) continue;
      open.delete(rec);
      rec.done = true;
      native.finishTransaction(rec.handle, false);
      dropped++;
    }
    if (dropped) dbg(`http: dropped ${dropped} request(s) open for more than ${MAX_OPEN_MS / 1000} s`);
    if (!open.size && sweeper) { clearInterval(sweeper); sweeper = null; }
  }
  const fastifyRoutes = new WeakMap(); // IncomingMessage -> route template

  // The route template, if a framework exposed one: express (req.route.path under
  // req.baseUrl), fastify (recorded by our onRequest hook, see below).
  function routeOf(req) {
    const r = req.route;
    if (r && typeof r.path === 'string') {
      const base = typeof req.baseUrl === 'string' ? req.baseUrl : '';
      return base && r.path === '/' ? base : base + r.path;
    }
    const f = fastifyRoutes.get(req);
    return typeof f === 'string' ? f : null;
  }

  function start(req, res) {
    // The budget first: a request beyond it must cost (next to) nothing.
    if (!take()) {
      overBudget++;
      return;
    }
    try {
      if (!req || !res || typeof req !== 'object' || live.has(req) || core.sdkTracing()) {
        giveBack(); // nothing of ours: the token goes back
        return;
      }
      const method = typeof req.method === 'string' ? req.method : 'GET';
      const tr = sentryTrace(req);
      const h = core.begin(`${method} ${pathOf(req.url)}`, 'http.server', tr ? tr.traceId : '',
        tr ? tr.parentSpanId : '', tr ? tr.sampled : undefined);
      if (h < 0) {
        giveBack(); // not sampled: only what is sent counts against the budget
        return;
      }
      const rec = { handle: h, method, req, res, t: Date.now(), done: false };
      live.set(req, rec);
      open.add(rec);
      if (typeof res.once === 'function') res.once('finish', () => end(req));
      if (!sweeper) {
        sweeper = setInterval(sweep, SWEEP_MS);
        if (sweeper.unref) sweeper.unref();
      }
    } catch (err) {
      dbg(`http start: ${err && err.message}`);
    }
  }

  function finishRec(rec, aborted) {
    const { req, res } = rec;
    live.delete(req);
    open.delete(rec);
    if (rec.done) return;
    rec.done = true;
    const code = aborted ? 0 : Number(res.statusCode) | 0;
    const route = routeOf(req);
    // One call into the library: finishTransaction sets name and status first.
    native.finishTransaction(rec.handle, true, route ? clip(`${rec.method} ${route}`) : '', code,
      aborted ? 'cancelled' : spanStatus(code));
  }

  function end(req) {
    try {
      const rec = req && live.get(req);
      if (rec) finishRec(rec, false);
    } catch (err) {
      dbg(`http finish: ${err && err.message}`);
    }
  }

  // fastify keeps the route on its own request object, not on the IncomingMessage: fastify
  // (>= 4) announces every instance on `fastify.initialization`; an onRequest hook records
  // request.routeOptions.url (routerPath before fastify 4.10) for the raw request.
  let dc = null;
  try { dc = require('diagnostics_channel'); } catch (_) { /* node < 15.1 */ }
  if (dc) {
    const fch = dc.channel('fastify.initialization');
    fch.subscribe((msg) => {
      try {
        const fastify = msg && msg.fastify;
        if (!fastify || typeof fastify.addHook !== 'function') return;
        fastify.addHook('onRequest', function sentryprofRoute(request, reply, done) {
          try {
            const o = request.routeOptions;
            const url = o ? o.url : request.routerPath;
            if (typeof url === 'string' && request.raw) fastifyRoutes.set(request.raw, url);
          } catch (_) { /* never break the request */ }
          done();
        });
      } catch (err) {
        dbg(`fastify hook: ${err && err.message}`);
      }
    });
    held.push(fch);
  }

  let how = config.http;
  if (how === 'auto') how = dc && nodeHasServerChannels() ? 'channel' : 'emit';
  if (how === 'channel' && !dc) how = 'emit';
  if (how === 'channel') {
    const startCh = dc.channel('http.server.request.start');
    startCh.subscribe((m) => { if (m) start(m.request, m.response); });
    held.push(startCh);
  } else {
    // Fallback: wrap emit('request') of http.Server and https.Server (which does not inherit
    // from http.Server). The response's 'finish' ends the transaction.
    const protos = new Set();
    for (const mod of ['http', 'https']) {
      try { protos.add(require(mod).Server.prototype); } catch (_) { /* no https (no openssl) */ }
    }
    for (const proto of protos) {
      const orig = proto.emit;
      if (typeof orig !== 'function' || orig.__sentryprof) continue;
      const emit = function emit(type, req, res) {
        if (type === 'request' && res && typeof res.once === 'function' && !live.has(req)) start(req, res);
        return orig.apply(this, arguments);
      };
      Object.defineProperty(emit, '__sentryprof', { value: true });
      proto.emit = emit;
    }
  }
  return how === 'channel' ? 'diagnostics_channel' : 'server-emit';
};
