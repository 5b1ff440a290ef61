'use strict';
// The configurations of tests/bench/anchors.js (issue 19) as one adapter, so that every
// workload runs the same code in every configuration and only this file differs:
//   BENCH_CONFIG   plain | shim-eager | shim-lazy | sentry7-prof | sentry7-trace | cpu-prof |
//                  sentry11-prof | sentry11-trace
//   BENCH_SDK_DIR  the folder holding node_modules/@sentry/... of the SDK configurations
//   BENCH_DSN      where the SDKs send (the shim reads SENTRY_DSN, set by the driver)
// Loaded with `node -r ./anchor-sdk.js` (@sentry/node 11: `--import`) it initialises the SDK before the app runs (what
// @sentry/node 8+ asks for: its HTTP and express instrumentation hooks require()); the app
// then `require`s it again for the transaction API:
//   begin(name) -> handle; end(handle)    one transaction (a no-op where nothing traces)
//   httpMiddleware(app)                   what an express app adds for per-request transactions
//   flush()                               a promise: the SDK's pending envelopes sent
// The shim's configurations use the shim's own API (globalThis.__sentryprof) and its HTTP
// auto-instrumentation: no SDK is loaded. plain and cpu-prof trace nothing.
const path = require('path');

const config = process.env.BENCH_CONFIG || 'plain';
const sdkDir = process.env.BENCH_SDK_DIR || '';
const dsn = process.env.BENCH_DSN || '';
const sdkRequire = (name) => require(path.join(sdkDir, 'node_modules', name));

let api;
if (config === 'sentry7-prof' || config === 'sentry7-trace') {
  const Sentry = sdkRequire('@sentry/node');
  const integrations = [];
  if (config === 'sentry7-prof') {
    const { ProfilingIntegration } = sdkRequire('@sentry/profiling-node');
    integrations.push(new ProfilingIntegration());
  }
  Sentry.init({ dsn, tracesSampleRate: 1, profilesSampleRate: config === 'sentry7-prof' ? 1 : 0, integrations });
  api = {
    begin: (name) => Sentry.startTransaction({ name, op: 'bench' }),
    end: (t) => t.finish(),
    httpMiddleware: (app) => { app.use(Sentry.Handlers.requestHandler()); app.use(Sentry.Handlers.tracingHandler()); },
    flush: () => Sentry.flush(5000),
  };
} else if (config === 'sentry11-prof' || config === 'sentry11-trace') {
  const Sentry = sdkRequire('@sentry/node');
  const opts = { dsn, tracesSampleRate: 1 };
  if (config === 'sentry11-prof') {
    const { nodeProfilingIntegration } = sdkRequire('@sentry/profiling-node');
    Object.assign(opts, { integrations: [nodeProfilingIntegration()], profileSessionSampleRate: 1, profileLifecycle: 'trace' });
  }
  Sentry.init(opts);
  api = {
    begin: (name) => Sentry.startInactiveSpan({ name, op: 'bench', forceTransaction: true }),
    end: (s) => s.end(),
    httpMiddleware: () => {}, // the SDK's http and express integrations trace every request
    flush: () => Sentry.flush(5000),
  };
} else if (config === 'shim-eager' || config === 'shim-lazy') {
  api = {
    begin: (name) => globalThis.__sentryprof.startTransaction({ name, op: 'bench' }),
    end: (t) => t.finish(),
    httpMiddleware: () => {}, // the shim's HTTP auto-instrumentation
    flush: () => Promise.resolve(),
  };
} else if (config === 'plain' || config === 'cpu-prof') {
  api = { begin: () => null, end: () => {}, httpMiddleware: () => {}, flush: () => Promise.resolve() };
} else {
  process.stderr.write(`anchor-sdk.js: unknown BENCH_CONFIG ${config}\n`);
  process.exit(2);
}
// A shim configuration without the shim measures nothing: say so at once.
if (config.startsWith('shim') && !(globalThis.__sentryprof && globalThis.__sentryprof.startTransaction)) {
  process.stderr.write('anchor-sdk.js: BENCH_CONFIG is a shim configuration but globalThis.__sentryprof is missing\n');
  process.exit(2);
}

// Process figures every workload reports: CPU (getrusage through process.resourceUsage, all
// threads), the JS thread's own CPU (/proc/thread-self/schedstat), peak RSS (VmHWM), and the
// shim's counters where it runs.
const fs = require('fs');
function threadNs() {
  try { return Number(fs.readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]); } catch (_) { return NaN; }
}
function cpuNs() { const u = process.cpuUsage(); return (u.user + u.system) * 1000; }
function peakRssBytes() {
  try { return Number(/VmHWM:\s*(\d+)/.exec(fs.readFileSync('/proc/self/status', 'latin1'))[1]) * 1024; } catch (_) { return NaN; }
}
function shimStats() {
  const p = globalThis.__sentryprof;
  if (!p) return null;
  const s = p.stats();
  return { memory_bytes: s.memory_bytes, memory_peak_bytes: s.memory_peak_bytes, agent_cpu_ns: s.agent_cpu_ns, handler_ns_total: s.handler_ns_total,
    signals: s.signals, samples: s.samples, transaction_profiles: s.transaction_profiles,
    transactions_without_profile: s.transactions_without_profile, http_over_budget: s.http_over_budget,
    logging_mode: s.logging_mode };
}

module.exports = { config, ...api, threadNs, cpuNs, peakRssBytes, shimStats };
