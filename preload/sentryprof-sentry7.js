'use strict';
// sentryprof bridge for apps using @sentry/node 7 without @sentry/profiling-node (loaded by
// sentryprof-helper.js in every JS thread). Their transactions get our profiles inside the
// SDK's own envelope, next to the transaction event, as @sentry/profiling-node 1.x does.
//
// How the SDK is found, with no code change and no module-loader hook:
//   1. `globalThis.__SENTRY__` (the SDK's global carrier) starts as an accessor of ours; its
//      first assignment turns it back into the plain data property the SDK wrote, and we keep
//      an eye on the carrier's `extensions.startTransaction` (@sentry/core's tracing
//      extension: every Hub#startTransaction of 7.x calls it).
//   2. The first time a hub starts a transaction, we see its client (hub.getClient()) before
//      the transaction exists and subscribe to the client's hooks, as profiling-node 1.x does:
//        'startTransaction'  -> native startTransaction(toJs) with the SDK's trace id, when the
//                               SDK sampled the transaction and profilesSampler /
//                               profilesSampleRate (else SENTRY_PROFILES_SAMPLE_RATE, else 1)
//                               say so;
//        'finishTransaction' -> native finishTransaction (the agent builds the profile).
//   3. The client's transport gets a send() wrapper: an envelope holding one of those
//      transactions waits (asynchronously, at most MAX_WAIT_MS) for takeProfile(), gets the
//      profile as a `profile` item (transaction id/name/trace id, event_id, timestamp,
//      release and environment patched from the event, as profiling-node's
//      createProfilingEvent does) and contexts.profile.profile_id on the event, then goes to
//      the original send(). flush() first waits for those sends, so Sentry.flush() and
//      close() still cover them. Any other envelope goes straight through.
// While an SDK client with tracing is active, sentryprof-http.js steps aside (core.sdkTracing).
// With the ProfilingIntegration installed we do nothing for that client.

const MAX_WAIT_MS = 1000; // how long an SDK envelope may wait for its profile
const POLL_MS = 4;
const PENDING_TTL_MS = 65000; // the agent keeps an untaken profile 60 s
const MAX_PROFILE_NS = 30e9;

exports.install = function install(core) {
  const { native, config, clip, dbg } = core;
  const G = globalThis;
  const carriers = new WeakSet();
  const extensionObjects = new WeakSet();
  const ourWrappers = new WeakMap(); // wrapper -> the function it wraps
  const clients = new WeakSet();
  const transports = new WeakSet();
  const byTxn = new WeakMap(); // SDK transaction -> record
  const bySpan = new Map(); // span_id -> record {handle, eventId, startMs, finished, t}
  const inflight = new Set(); // sends waiting for profiles

  // ---- 1. the carrier --------------------------------------------------------------------
  // The accessor is a global the app can see (`'__SENTRY__' in globalThis`; issue #20 item
  // 12): it goes in only when an SDK is about to load. The helper loads this file only
  // then: on the first request of a module under @sentry/ through Module._load, or at once
  // for an ES module entry (the SDK loads past Module._load), or for a carrier that is
  // already there (sentryprof-helper.js, loadSdkBridges).
  function watchCarrier() {
    const d = Object.getOwnPropertyDescriptor(G, '__SENTRY__');
    if (d) { // someone was first (an --import or --require before ours, a bundled SDK)
      if ('value' in d) instrumentCarrier(d.value);
      return;
    }
    defineCarrierAccessor();
  }

  function defineCarrierAccessor() {
    Object.defineProperty(G, '__SENTRY__', {
      configurable: true,
      enumerable: false,
      get() { return undefined; },
      set(v) {
        Object.defineProperty(G, '__SENTRY__', { value: v, writable: true, enumerable: true, configurable: true });
        try { instrumentCarrier(v); } catch (err) { dbg(`sentry carrier: ${err && err.message}`); }
      },
    });
  }

  function instrumentCarrier(c) {
    if (!c || typeof c !== 'object' || carriers.has(c)) return;
    carriers.add(c);
    const d = Object.getOwnPropertyDescriptor(c, 'extensions');
    if (!d || !('value' in d) || !d.configurable) { // not 7.x's carrier: v8+ (sentryprof-sentry8.js)
      if (typeof core.watchModernCarrier === 'function') core.watchModernCarrier(c);
      return;
    }
    watchHub(c);
    let ext = d.value;
    instrumentExtensions(ext);
    Object.defineProperty(c, 'extensions', {
      configurable: true,
      enumerable: d.enumerable,
      get() { return ext; },
      set(v) { ext = v; instrumentExtensions(v); },
    });
  }

  // 7.x's Sentry.init binds its client to the carrier's hub (hub.bindClient): seeing it
  // there hands the SDK's settings (DSN, release, environment) over at init, before any
  // transaction, so the uploader's first pass comes early (what dead processes left).
  function watchHub(c) {
    const d = Object.getOwnPropertyDescriptor(c, 'hub');
    if (d && (!('value' in d) || !d.configurable)) return;
    let hub = d ? d.value : undefined;
    instrumentHub(hub);
    Object.defineProperty(c, 'hub', {
      configurable: true,
      enumerable: d ? d.enumerable : true,
      get() { return hub; },
      set(v) { hub = v; instrumentHub(v); },
    });
  }

  const hubs = new WeakSet();
  function instrumentHub(hub) {
    if (!hub || typeof hub !== 'object' || hubs.has(hub) || typeof hub.bindClient !== 'function') return;
    hubs.add(hub);
    const bind = hub.bindClient;
    hub.bindClient = function bindClient() {
      const r = bind.apply(this, arguments);
      try {
        const client = typeof this.getClient === 'function' && this.getClient();
        if (client) hookClient(client);
      } catch (err) { dbg(`sentry bind: ${err && err.message}`); }
      return r;
    };
    // 7.100+ binds with setCurrentClient: the hub's top scope gets setClient(client), then
    // the client sets up its integrations; look at it once that is done (a microtask; a
    // transaction started synchronously after init finds it through startTransaction).
    try {
      const top = typeof hub.getStackTop === 'function' && hub.getStackTop();
      const scope = top && top.scope;
      if (scope && typeof scope.setClient === 'function' && !hubs.has(scope)) {
        hubs.add(scope);
        const setClient = scope.setClient;
        scope.setClient = function setClientSeen(client) {
          const r = setClient.apply(this, arguments);
          if (client) Promise.resolve().then(() => hookClient(client)).catch((err) => dbg(`sentry bind: ${err && err.message}`));
          return r;
        };
      }
    } catch (_) { /* an older hub */ }
    try {
      const client = typeof hub.getClient === 'function' && hub.getClient();
      if (client) hookClient(client);
    } catch (_) { /* not bound yet */ }
  }

  function instrumentExtensions(ext) {
    if (!ext || typeof ext !== 'object' || extensionObjects.has(ext)) return;
    extensionObjects.add(ext);
    const d = Object.getOwnPropertyDescriptor(ext, 'startTransaction');
    if (d && (!('value' in d) || !d.configurable)) return;
    let current = d ? d.value : undefined;
    let wrapped = null;
    let wrappedFor = null;
    Object.defineProperty(ext, 'startTransaction', {
      configurable: true,
      enumerable: true,
      get() {
        if (typeof current !== 'function') return current;
        if (wrappedFor !== current) {
          wrapped = wrapStartTransaction(current);
          wrappedFor = current;
        }
        return wrapped;
      },
      set(v) { current = ourWrappers.has(v) ? ourWrappers.get(v) : v; },
    });
  }

  function wrapStartTransaction(orig) {
    const wrapper = function startTransaction(context, customSamplingContext) {
      let client;
      try {
        client = this && typeof this.getClient === 'function' ? this.getClient() : undefined;
        if (client) hookClient(client);
      } catch (err) { dbg(`sentry hook: ${err && err.message}`); }
      const txn = orig.apply(this, arguments);
      // Clients from before the hooks (7.x < 7.33) have no on(): handle the transaction here.
      if (client && typeof client.on !== 'function' && txn && typeof txn.finish === 'function') {
        try {
          onStart(client, txn, customSamplingContext);
          if (byTxn.has(txn)) {
            const finish = txn.finish;
            txn.finish = function finishWithProfile() {
              try { onFinish(txn); } catch (_) { /* never break the app */ }
              return finish.apply(this, arguments);
            };
          }
        } catch (err) { dbg(`sentry start: ${err && err.message}`); }
      }
      return txn;
    };
    ourWrappers.set(wrapper, orig);
    return wrapper;
  }

  // ---- 2. the client --------------------------------------------------------------------
  function hasProfilingIntegration(client) {
    try {
      if (typeof client.getIntegrationById === 'function' && client.getIntegrationById('ProfilingIntegration')) return true;
      const ints = client._integrations;
      return !!(ints && typeof ints === 'object' && ints.ProfilingIntegration);
    } catch (_) { return false; }
  }

  // The app's Sentry client decides (issue 14): its DSN, release and environment go to the
  // native side (uploads, chunks), and since 7.x profiles transaction by transaction, the
  // engine leaves continuous mode unless SENTRYPROF_MODE=continuous asked for it and the
  // app set no profilesSampleRate/profilesSampler. Env variables only fill what it leaves
  // unset (the rate: SENTRY_PROFILES_SAMPLE_RATE, else 1).
  function hookClient(client) {
    if (clients.has(client)) return;
    clients.add(client);
    if (hasProfilingIntegration(client)) {
      dbg('@sentry/node client found with @sentry/profiling-node: stepping aside');
      // nothing profiled twice: our default continuous profile stops too (unless
      // SENTRYPROF_MODE asked for it explicitly), as for 8+ (sentryprof-sentry8.js)
      if (native.modeFromEnv !== 1 && typeof native.setContinuous === 'function') native.setContinuous(false, true);
      return;
    }
    const o = (typeof client.getOptions === 'function' && client.getOptions()) || {};
    if (!o.dsn || typeof o.dsn !== 'string') {
      dbg('@sentry/node client found without a DSN: it sends nothing, so nothing is profiled for it');
      return;
    }
    core.handSdkSettings(o);
    core.observeSdkResponses(client);
    const sdkRates = o.profilesSampleRate !== undefined && o.profilesSampleRate !== null ||
      typeof o.profilesSampler === 'function';
    if (sdkRates || !(native.modeFromEnv === 1 && config.mode === 'continuous')) {
      if (typeof native.setContinuous === 'function' && native.setContinuous(false, true) === 1) {
        dbg('@sentry/node 7 profiles transaction by transaction: continuous profiling stopped');
      }
      config.mode = 'transaction';
    }
    if (typeof client.on === 'function') {
      client.on('startTransaction', (txn) => {
        try { onStart(client, txn); } catch (err) { dbg(`sentry start: ${err && err.message}`); }
      });
      client.on('finishTransaction', (txn) => {
        try { onFinish(txn); } catch (err) { dbg(`sentry finish: ${err && err.message}`); }
      });
    }
    let version = '';
    try { version = client.getOptions()._metadata.sdk.version; } catch (_) { /* unknown */ }
    dbg(`@sentry/node ${version || '7.x'} client found: its transactions carry sentryprof profiles`);
  }

  function profileRate(client, txn, customSamplingContext) {
    const o = (typeof client.getOptions === 'function' && client.getOptions()) || {};
    let r = o.profilesSampleRate;
    if (typeof o.profilesSampler === 'function') {
      let tc = {};
      try { tc = typeof txn.toContext === 'function' ? txn.toContext() : {}; } catch (_) { /* keep {} */ }
      r = o.profilesSampler({ transactionContext: tc, ...(customSamplingContext || {}) });
    } else if (r === undefined || r === null) {
      r = config.profilesSampleRate; // the app set none: ours (SENTRY_PROFILES_SAMPLE_RATE or 1)
    }
    if (typeof r === 'boolean') return r ? 1 : 0;
    return typeof r === 'number' && r >= 0 && r <= 1 ? r : 0; // invalid: no profile, as the SDK
  }

  function spanIds(txn) {
    let traceId, spanId;
    if (typeof txn.spanContext === 'function') {
      const c = txn.spanContext();
      traceId = c && c.traceId;
      spanId = c && c.spanId;
    }
    if (!traceId) traceId = txn.traceId;
    if (!spanId) spanId = txn.spanId;
    return { traceId: String(traceId || ''), spanId: String(spanId || ''), parentSpanId: String(txn.parentSpanId || '') };
  }

  function onStart(client, txn, customSamplingContext) {
    if (!txn || typeof txn !== 'object' || byTxn.has(txn)) return;
    if (txn.sampled !== true) return; // the SDK will not send it
    if (hasProfilingIntegration(client)) return;
    if (typeof client.getTransport === 'function' && !client.getTransport()) return; // SDK disabled
    if (!core.roll(profileRate(client, txn, customSamplingContext))) return;
    const ids = spanIds(txn);
    if (!ids.spanId) return;
    const startMs = performanceNow();
    const h = native.startTransaction(clip(txn.name || ''), String(txn.op || 'default'), ids.traceId,
      ids.parentSpanId, true, true);
    if (typeof h !== 'number' || h < 0) { core.failed(h); return; }
    const nids = native.transactionIds(h);
    if (!nids || !nids.event_id) { native.finishTransaction(h, false); return; }
    const rec = { handle: h, eventId: nids.event_id, startMs, finished: false, t: Date.now() };
    byTxn.set(txn, rec);
    if (bySpan.size > 200) purge();
    bySpan.set(ids.spanId, rec);
    wrapTransport(client);
  }

  function onFinish(txn) {
    const rec = txn && byTxn.get(txn);
    if (!rec || rec.finished) return;
    rec.finished = true;
    const keep = txn.sampled === true;
    native.finishTransaction(rec.handle, keep);
    if (!keep) for (const [k, r] of bySpan) if (r === rec) bySpan.delete(k);
  }

  // Records whose transaction never reached the transport (dropped by beforeSendTransaction,
  // an event processor, a rate limit...) are forgotten once the agent has dropped the profile.
  function purge() {
    const old = Date.now() - PENDING_TTL_MS;
    for (const [k, r] of bySpan) if (r.t < old) bySpan.delete(k);
  }

  // ---- 3. the transport ----------------------------------------------------------------
  function wrapTransport(client) {
    const t = client.getTransport();
    if (!t || typeof t !== 'object' || transports.has(t) || typeof t.send !== 'function') return;
    transports.add(t);
    const send = t.send;
    t.send = function sendWithProfiles(envelope) {
      let wanted = null;
      try { wanted = profiledTransactions(envelope); } catch (err) { dbg(`sentry envelope: ${err && err.message}`); }
      if (!wanted) return send.apply(this, arguments);
      const self = this;
      const args = arguments;
      const p = waitForProfiles(wanted).then(() => {
        try { attachProfiles(envelope, wanted); } catch (err) { dbg(`sentry profile: ${err && err.message}`); }
        return send.apply(self, args);
      });
      inflight.add(p);
      const done = () => inflight.delete(p);
      p.then(done, done);
      return p;
    };
    if (typeof t.flush === 'function') {
      const flush = t.flush;
      t.flush = function flushAfterProfiles(timeout) {
        if (!inflight.size) return flush.apply(this, arguments);
        const self = this;
        const args = arguments;
        const all = Promise.all([...inflight].map((p) => p.then(() => {}, () => {})));
        return all.then(() => flush.apply(self, args));
      };
    }
  }

  // [{item, event, rec}] for the transactions of this envelope that we profiled, or null.
  function profiledTransactions(envelope) {
    if (!bySpan.size || !Array.isArray(envelope) || !Array.isArray(envelope[1])) return null;
    let wanted = null;
    for (const item of envelope[1]) {
      const header = Array.isArray(item) && item[0];
      const event = Array.isArray(item) && item[1];
      if (!header || header.type !== 'transaction' || !event || typeof event !== 'object') continue;
      const trace = event.contexts && event.contexts.trace;
      const rec = trace && bySpan.get(trace.span_id);
      if (!rec || !rec.finished) continue;
      bySpan.delete(trace.span_id);
      (wanted = wanted || []).push({ event, rec });
    }
    return wanted;
  }

  // Resolves when every wanted profile is taken (or known absent), or after MAX_WAIT_MS.
  // The timer is ref'd on purpose: it stands for the SDK's own request, which would hold the
  // process (and does once we hand the envelope over); it lasts at most MAX_WAIT_MS.
  function waitForProfiles(wanted) {
    const deadline = Date.now() + MAX_WAIT_MS;
    return new Promise((resolve) => {
      const poll = () => {
        let waiting = false;
        for (const w of wanted) {
          if (w.json !== undefined) continue;
          const v = native.takeProfile(w.rec.eventId);
          if (v === undefined) waiting = true;
          else w.json = v; // string, or null: too few samples
        }
        if (!waiting || Date.now() >= deadline) resolve();
        else setTimeout(poll, POLL_MS);
      };
      try { poll(); } catch (err) { dbg(`sentry poll: ${err && err.message}`); resolve(); }
    });
  }

  function attachProfiles(envelope, wanted) {
    for (const w of wanted) {
      if (typeof w.json !== 'string') continue; // no profile (< 2 samples) or too late
      const event = w.event;
      const p = JSON.parse(w.json);
      const trace = (event.contexts && event.contexts.trace) || {};
      const startS = typeof event.start_timestamp === 'number' ? event.start_timestamp : null;
      if (startS !== null) {
        // The profile starts with the transaction, as profiling-node's; samples were timed
        // from our start, a few microseconds later: shift them so they stay put.
        const shiftNs = Math.max(0, Math.round((w.rec.startMs - startS * 1000) * 1e6));
        if (shiftNs > 0 && p.profile && Array.isArray(p.profile.samples)) {
          p.profile.samples = p.profile.samples
            .map((s) => ({ ...s, elapsed_since_start_ns: Number(s.elapsed_since_start_ns) + shiftNs }))
            .filter((s) => s.elapsed_since_start_ns <= MAX_PROFILE_NS);
          if (p.profile.samples.length < 2) continue;
        }
        p.timestamp = new Date(startS * 1000).toISOString();
      }
      if (typeof event.release === 'string') p.release = event.release;
      if (typeof event.environment === 'string' && event.environment) p.environment = event.environment;
      const active = (p.transaction && p.transaction.active_thread_id) || String(core.threadId);
      p.transaction = {
        name: String(event.transaction || (p.transaction && p.transaction.name) || ''),
        id: event.event_id,
        trace_id: trace.trace_id || (p.transaction && p.transaction.trace_id),
        active_thread_id: active,
      };
      // as profiling-node sends them (1.x and 8.x): empty when there is nothing to say
      if (!p.measurements) p.measurements = {};
      if (!p.debug_meta) p.debug_meta = { images: [] };
      // No contexts.profile on the transaction: profiling-node 7 and 8 delete it before
      // sending ("relay will take care of the rest"); the profile's transaction.id links them.
      if (event.contexts) delete event.contexts.profile;
      envelope[1].push([{ type: 'profile' }, p]);
    }
  }

  let perf; // loaded on first use: perf_hooks costs ~3.5 ms of every node start
  function performanceNow() {
    if (perf === undefined) {
      try { perf = require('perf_hooks').performance; } catch (_) { perf = null; }
    }
    return perf ? perf.timeOrigin + perf.now() : Date.now();
  }

  // ---- @sentry/node 8.x's profilesSampleRate (legacy transaction profiling), for
  // sentryprof-sentry8.js: the same v1 profiles as for 7.x, from the client's span hooks, as
  // profiling-node 8's setupAutomatedSpanProfiling: root spans the SDK sampled, then
  // profilesSampler({name, attributes, parentSampled}) or profilesSampleRate (unset: the
  // environment's rate, else 1). The profile joins the transaction in the SDK's envelope
  // (transport wrapper above), linked by contexts.profile.profile_id.
  function isRootSpan(span) {
    const root = span._sentryRootSpan;
    return !root || root === span;
  }
  core.legacySpanProfiler = function legacySpanProfiler(client, o) {
    wrapTransport(client);
    const spanRate = (name, attributes) => {
      let r = o.profilesSampleRate;
      if (typeof o.profilesSampler === 'function') r = o.profilesSampler({ name, attributes, parentSampled: true });
      else if (r === undefined || r === null) r = config.profilesSampleRate;
      if (typeof r === 'boolean') return r ? 1 : 0;
      return typeof r === 'number' && r >= 0 && r <= 1 ? r : 0;
    };
    return {
      spanStart(span) {
        if (!span || typeof span.spanContext !== 'function' || byTxn.has(span) || !isRootSpan(span)) return;
        const ctx = span.spanContext();
        if (!ctx || (ctx.traceFlags & 1) !== 1) return; // not sampled: the SDK sends nothing
        const attributes = span.attributes || {};
        const name = String(span.name || '');
        if (!core.roll(spanRate(name, attributes))) return;
        const startMs = performanceNow();
        const h = native.startTransaction(clip(name), String(attributes['sentry.op'] || 'default'),
          String(ctx.traceId || ''), '', true, true);
        if (typeof h !== 'number' || h < 0) { core.failed(h); return; }
        const nids = native.transactionIds(h);
        if (!nids || !nids.event_id) { native.finishTransaction(h, false); return; }
        const rec = { handle: h, eventId: nids.event_id, startMs, finished: false, t: Date.now(), v8: true };
        byTxn.set(span, rec);
        if (bySpan.size > 200) purge();
        bySpan.set(String(ctx.spanId), rec);
      },
      spanEnd(span) {
        const rec = span && byTxn.get(span);
        if (!rec || rec.finished) return;
        rec.finished = true;
        native.finishTransaction(rec.handle, true);
      },
    };
  };

  // ---- for sentryprof-http.js: is an SDK with tracing on? ------------------------------------
  function sdkClient(c) {
    if (c.hub && typeof c.hub.getClient === 'function') return c.hub.getClient(); // 7.x
    const v = typeof c.version === 'string' && c[c.version]; // 8.x and later
    if (v && typeof v === 'object') {
      for (const s of [v.defaultCurrentScope, v.defaultIsolationScope, v.globalScope]) {
        const cl = s && typeof s.getClient === 'function' && s.getClient();
        if (cl) return cl;
      }
    }
    return undefined;
  }
  core.sdkTracing = function sdkTracing() {
    const c = G.__SENTRY__;
    if (!c || typeof c !== 'object') return false;
    try {
      const client = sdkClient(c);
      const o = client && typeof client.getOptions === 'function' && client.getOptions();
      return !!o && (o.enableTracing === true || o.tracesSampleRate != null || typeof o.tracesSampler === 'function');
    } catch (_) {
      return false;
    }
  };

  watchCarrier();
  return 'on';
};
