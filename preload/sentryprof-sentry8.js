'use strict';
// sentryprof as the profiling integration of @sentry/node 8, 9, 10 and 11 (OpenTelemetry
// based) when @sentry/profiling-node is not installed. Loaded by sentryprof-helper.js; acts
// in the main thread only (as profiling-node, which does not profile workers).
//
// How the client is found, through public structures only:
//   the global carrier: `globalThis.__SENTRY__` is created as `{}`, gets `version`, then
//   `__SENTRY__[version]`, whose `defaultCurrentScope` receives the client in Sentry.init
//   (`getCurrentScope().setClient(client)`, then `client.init()`). sentryprof-sentry7.js owns
//   the `__SENTRY__` accessor and calls watchModernCarrier(carrier) for a carrier without
//   7.x's `extensions`; we watch `version` -> `[version]` -> `defaultCurrentScope` with
//   accessors and wrap that scope's setClient. An SDK loaded before our helper (rare: our
//   --require runs first) is found on the carrier as it is.
//
// What it does for that client, mirroring @sentry/profiling-node's ContinuousProfiler:
//   - hooks subscribed synchronously (client.on 'spanStart'/'spanEnd', 'preprocessEvent',
//     'beforeSendEvent'); the decision waits for client.init() (wrapped: right after it
//     returns; else a microtask), when the integrations are known: with profiling-node's ProfilingIntegration there we step aside
//     (one debug line);
//   - otherwise it registers an integration named ProfilingIntegration with `_profiler`
//     {start, stop}, so Sentry.profiler.startProfiler()/stopProfiler() reach us;
//   - the mode, as profiling-node's getProfilingMode: profileSessionSampleRate or
//     profileLifecycle set -> "current": the session is sampled with profileSessionSampleRate
//     (default 0); 'trace' profiles while spans run (a counter over spanStart/spanEnd), 'manual'
//     between startProfiler() and stopProfiler(). profilesSampleRate/profilesSampler set ->
//     legacy transaction profiling: a v1 profile per sampled root span in the SDK's envelope
//     (8.x). Neither: the SDK left it unset, so the environment fills it: continuous for the
//     whole process (SENTRYPROF_MODE=transaction: one v1 profile per root span, rate
//     SENTRY_PROFILES_SAMPLE_RATE or 1); once the app calls Sentry.profiler.startProfiler()
//     (profiling-node's continuous mode of 8.x) the session starts there, the startup's
//     open chunk dropped, and stopProfiler()/startProfiler() stop and resume it;
//   - chunks are built natively (profile_chunk v2, profiler_id of this process, the SDK's
//     release/environment/name) and sent by the shim's uploader to the SDK's DSN: no network
//     code in node. setContinuous(on) starts/stops them; a stop publishes the open chunk;
//   - every event gets contexts.profile.profiler_id while a profiler session exists (current
//     mode: from init, as profiling-node puts it on the global scope; legacy continuous: after
//     start()), and events with it get trace data thread.id/thread.name.

exports.install = function install(core) {
  const { native, config, dbg, isMain } = core;
  if (!isMain || typeof native.setContinuous !== 'function') return 'off';
  const G = globalThis;
  const seen = new WeakSet();
  const clients = new WeakSet();
  const THREAD_ID = String(core.threadId);
  const THREAD_NAME = 'main';

  function accessor(obj, key, onSet) {
    const d = Object.getOwnPropertyDescriptor(obj, key);
    if (d && !('value' in d)) return; // someone else's accessor
    if (d && !d.configurable) return;
    let v = d ? d.value : undefined;
    Object.defineProperty(obj, key, {
      configurable: true,
      enumerable: d ? d.enumerable : true,
      get() { return v; },
      set(x) {
        v = x;
        try { onSet(x); } catch (err) { dbg(`sentry carrier: ${err && err.message}`); }
      },
    });
    if (v !== undefined) onSet(v);
  }

  core.watchModernCarrier = function watchModernCarrier(c) {
    if (!c || typeof c !== 'object' || seen.has(c)) return;
    seen.add(c);
    accessor(c, 'version', (ver) => {
      if (typeof ver === 'string' && ver) accessor(c, ver, watchVersioned);
    });
  };

  let versioned = null; // the SDK's versioned carrier: its globalScope holds contexts.profile
  function watchVersioned(vc) {
    if (!vc || typeof vc !== 'object' || seen.has(vc)) return;
    seen.add(vc);
    versioned = vc;
    accessor(vc, 'defaultCurrentScope', watchScope);
  }

  function watchScope(scope) {
    if (!scope || typeof scope !== 'object' || seen.has(scope) || typeof scope.setClient !== 'function') return;
    seen.add(scope);
    const setClient = scope.setClient;
    scope.setClient = function setClientSeen(client) {
      const r = setClient.apply(this, arguments);
      try { if (client) hookClient(client); } catch (err) { dbg(`sentry client: ${err && err.message}`); }
      return r;
    };
    const existing = typeof scope.getClient === 'function' && scope.getClient();
    if (existing) hookClient(existing);
  }

  // ---- one client ------------------------------------------------------------------------
  function hookClient(client) {
    if (clients.has(client) || typeof client.on !== 'function' || typeof client.getOptions !== 'function') return;
    clients.add(client);
    const st = {
      decided: false, active: false, mode: '', lifecycle: '', sampled: false, spans: 0,
      profilerId: '', running: false, legacy: null, scope: null, appStarted: false,
    };
    const ours = { name: 'ProfilingIntegration', _sentryprof: true, setup() {}, _profiler: {
      start() { try { start(st, client); } catch (err) { dbg(`profiler start: ${err && err.message}`); } },
      stop() { try { stop(st); } catch (err) { dbg(`profiler stop: ${err && err.message}`); } },
    } };
    const decideNow = () => { if (!st.decided) decide(st, client, ours); };
    // Sentry.init calls client.init() (integrations set up) right after setClient: decide
    // then, synchronously, so a Sentry.profiler.startProfiler() on the next line (as
    // Sentry's docs write it) finds our integration. The microtask is the fallback.
    if (typeof client.init === 'function') {
      const init = client.init;
      client.init = function initThenDecide() {
        const r = init.apply(this, arguments);
        try { decideNow(); } catch (err) { dbg(`sentry decide: ${err && err.message}`); }
        return r;
      };
    }
    Promise.resolve().then(decideNow).catch((err) => dbg(`sentry decide: ${err && err.message}`));

    client.on('spanStart', (span) => {
      decideNow();
      if (!st.active) return;
      if (st.mode === 'current' && st.lifecycle === 'trace' && st.sampled) {
        if (st.spans === 0) setRunning(st, true);
        st.spans++;
      } else if (st.legacy) {
        st.legacy.spanStart(span);
      }
    });
    client.on('spanEnd', (span) => {
      if (!st.active) return;
      if (st.mode === 'current' && st.lifecycle === 'trace' && st.sampled) {
        if (st.spans === 1) setRunning(st, false);
        st.spans = Math.max(0, st.spans - 1);
      } else if (st.legacy) {
        st.legacy.spanEnd(span);
      }
    });
    // profiling-node puts {profiler_id} on the global scope: every event carries it (and
    // 11.x's streamed spans as the sentry.profiler_id attribute). Without a global scope in
    // reach, events get it here.
    client.on('preprocessEvent', (event) => {
      decideNow();
      if (!st.active || !st.profilerId || st.scope || !event || typeof event !== 'object' || event.type === 'profile') return;
      event.contexts = event.contexts || {};
      if (!event.contexts.profile) event.contexts.profile = { profiler_id: st.profilerId };
    });
    client.on('beforeSendEvent', (event) => {
      if (!st.active || !st.profilerId || !event || !event.contexts || !event.contexts.profile) return;
      const trace = event.contexts.trace || {};
      event.contexts.trace = { ...trace, data: { ...(trace.data || {}), 'thread.id': THREAD_ID, 'thread.name': THREAD_NAME } };
    });
  }

  function profilingNode(client) {
    try {
      const i = typeof client.getIntegrationByName === 'function' && client.getIntegrationByName('ProfilingIntegration');
      return !!i && !i._sentryprof;
    } catch (_) { return false; }
  }

  function decide(st, client, ours) {
    st.decided = true;
    if (profilingNode(client)) {
      dbg('@sentry/node client found with @sentry/profiling-node: stepping aside (it profiles this client)');
      // nothing profiled twice: our default continuous profile stops too (unless
      // SENTRYPROF_MODE asked for it explicitly)
      if (native.modeFromEnv !== 1) native.setContinuous(false, true);
      return;
    }
    const o = client.getOptions() || {};
    if (!o.dsn || typeof o.dsn !== 'string') {
      dbg('@sentry/node client found without a DSN: it sends nothing, so nothing is profiled for it');
      return;
    }
    let version = '';
    try { version = o._metadata.sdk.version; } catch (_) { /* unknown */ }
    const sdk = (o._metadata && o._metadata.sdk) || { name: 'sentry.javascript.node', version };
    core.handSdkSettings(o, sdk);
    core.observeSdkResponses(client);
    st.active = true;
    if (ours && typeof client.addIntegration === 'function') {
      try { client.addIntegration(ours); } catch (err) { dbg(`addIntegration: ${err && err.message}`); }
    }
    const has = (k) => Object.prototype.hasOwnProperty.call(o, k) && o[k] !== undefined;
    if (has('profilesSampleRate') || has('profilesSampler')) {
      st.mode = 'legacy-span';
    } else if (has('profileSessionSampleRate') || has('profileLifecycle')) {
      st.mode = 'current';
    } else {
      st.mode = native.modeFromEnv === 1 && config.mode === 'transaction' ? 'legacy-span' : 'env-continuous';
    }
    if (st.mode === 'current') {
      st.sampled = Math.random() < (typeof o.profileSessionSampleRate === 'number' ? o.profileSessionSampleRate : 0);
      st.lifecycle = o.profileLifecycle === 'trace' ? 'trace' : 'manual';
      st.profilerId = native.profilerId;
      setProfilerContext(st);
      native.setContinuous(false, true); // the startup's samples belong to no session
      config.mode = 'continuous';
    } else if (st.mode === 'env-continuous') {
      st.profilerId = native.profilerId;
      setProfilerContext(st);
      st.running = true;
      native.setContinuous(true, false); // the whole process: its startup included
      config.mode = 'continuous';
    } else {
      native.setContinuous(false, true);
      config.mode = 'transaction';
      st.legacy = core.legacySpanProfiler ? core.legacySpanProfiler(client, o) : null;
    }
    dbg(`@sentry/node ${version || '8+'} client found: sentryprof is its profiler (mode ${st.mode}` +
      `${st.mode === 'current' ? `, lifecycle ${st.lifecycle}, session ${st.sampled ? 'sampled' : 'not sampled'}` : ''})`);
  }

  function setProfilerContext(st) {
    if (!st.scope) {
      const gs = versioned && versioned.globalScope;
      if (gs && typeof gs.setContext === 'function') st.scope = gs;
    }
    if (st.scope) st.scope.setContext('profile', st.profilerId ? { profiler_id: st.profilerId } : {});
  }

  function setRunning(st, on) {
    if (st.running === on) return;
    st.running = on;
    native.setContinuous(on, false);
  }

  // Sentry.profiler.startProfiler()/stopProfiler(): current mode with the manual lifecycle,
  // or the legacy continuous mode (no profiling options), as profiling-node.
  function start(st, client) {
    if (!st.decided) decide(st, client, null);
    if (!st.active) return;
    if (st.mode === 'current') {
      if (!st.sampled) { dbg('profiler.startProfiler(): session not sampled, no-op'); return; }
      if (st.lifecycle === 'trace') { dbg('profiler.startProfiler() ignored: profileLifecycle is trace'); return; }
      setRunning(st, true);
    } else if (st.mode === 'env-continuous') {
      // The app drives profiling-node's continuous mode itself (8.x, or 9+ with no profiling
      // option): the session starts here, as it would with profiling-node. What the
      // environment's default profiled since the process started (node and the app loading)
      // was asked for by nobody: the open chunk is dropped, not sent.
      if (!st.appStarted) {
        st.appStarted = true;
        if (st.running) {
          native.setContinuous(false, true);
          st.running = false;
          dbg('profiler.startProfiler(): the session starts now (the profile since process start is dropped)');
        }
      }
      st.profilerId = native.profilerId;
      setProfilerContext(st);
      setRunning(st, true);
    } else {
      dbg('profiler.startProfiler() is not supported with transaction profiling (profilesSampleRate)');
    }
  }

  function stop(st) {
    if (!st.active) return;
    if (st.mode === 'current') {
      if (st.lifecycle === 'trace') { dbg('profiler.stopProfiler() ignored: profileLifecycle is trace'); return; }
      setRunning(st, false);
    } else if (st.mode === 'env-continuous') {
      setRunning(st, false);
      st.profilerId = ''; // as profiling-node's teardown: later events point to no profile
      setProfilerContext(st);
    }
  }

  return 'on';
};
