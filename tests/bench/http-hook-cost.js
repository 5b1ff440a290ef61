'use strict';
// In-process cost of sentryprof's HTTP hooks per request, without a network or a load
// generator (issue 15): publishes the two diagnostics channels node's http server publishes
// per request (http.server.request.start, http.server.response.finish) with request-like
// objects and emits the response's 'finish', N times, and prints ns of CPU per request: process CPU (process.cpuUsage, every
// thread), the JS thread's own (/proc/thread-self/schedstat) and the agent thread's
// (stats().agent_cpu_ns).
// Without LD_PRELOAD nothing subscribes (node's baseline); NOOP=1 (without the shim) subscribes
// functions that do nothing: what node's publish costs once anybody listens (the message
// objects, the subscriber calls), apart from what our subscribers do; under the shim with default
// settings almost every request is over the budget (the unprofiled path); with
// SENTRYPROF_HTTP_TRANSACTIONS_PER_SECOND=1e9 every request is a transaction (the profiled
// path; SENTRYPROF_MODE picks the mode). Compare runs of the same N.
//   [CHUNK=n] [NOOP=1] node tests/bench/http-hook-cost.js [N (default 500000)] [ROUNDS (default 7)]
const dc = require('diagnostics_channel');
// As a server does: the shim installs its hooks when node's http loads.
require('http');
const { EventEmitter } = require('events');
const N = Number(process.argv[2] || 500000);
const ROUNDS = Number(process.argv[3] || 7);
const start = dc.channel('http.server.request.start');
const finish = dc.channel('http.server.response.finish');
function Req(i) { this.method = 'GET'; this.url = `/item/${i & 7}?q=1`; this.rawHeaders = ['Host', 'x', 'Accept', '*/*']; }
// A response emits 'finish' as node's does (the shim ends a profiled request there).
class Res extends EventEmitter {
  constructor() { super(); this.statusCode = 200; this.writableFinished = true; this.finished = true; this.destroyed = false; }
}
const sp = globalThis.__sentryprof;
if (process.env.NOOP === '1' && !sp) {
  start.subscribe(() => {});
  finish.subscribe(() => {});
}
const fs = require('fs');
// The JS thread's own CPU (ns): what a request costs where the app's code runs.
const threadNs = () => Number(fs.readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]);
const agentNs = () => (sp ? sp.stats().agent_cpu_ns || 0 : 0);
// CHUNK > 0: a pause of 150 ms after every CHUNK requests, so that the agent collects the
// finished transactions before the library's table of running ones (1024) fills up (past
// it, a transaction is not started at all, which is cheaper and not what is measured). The
// pauses cost no CPU of the JS thread; the agent's work in them is counted.
const CHUNK = Number(process.env.CHUNK || 0);
const pause = () => new Promise((resolve) => setTimeout(resolve, 150));
async function round() {
  const c0 = process.cpuUsage();
  const a0 = agentNs();
  const t0 = threadNs();
  for (let i = 0; i < N; i++) {
    const request = new Req(i), response = new Res();
    // node publishes only when someone subscribed (hasSubscribers), as here
    if (start.hasSubscribers) start.publish({ request, response, socket: null, server: null });
    if (finish.hasSubscribers) finish.publish({ request, response, socket: null, server: null });
    response.emit('finish');
    if (CHUNK && (i + 1) % CHUNK === 0) await pause();
  }
  if (CHUNK) await pause();
  const t = threadNs() - t0;
  const c = process.cpuUsage(c0);
  const agent = agentNs() - a0;
  // Process CPU counts every thread (the agent building the envelopes, V8's, libuv's);
  // the JS thread's share is its own schedstat; the agent's is stats().agent_cpu_ns.
  return [((c.user + c.system) * 1000) / N, t / N, agent / N];
}
(async () => {
  await round(); // warm-up
  const ns = [], js = [], ag = [];
  for (let r = 0; r < ROUNDS; r++) { const [p, j, a] = await round(); ns.push(p); js.push(j); ag.push(a); }
  ag.sort((a, b) => a - b);
  ns.sort((a, b) => a - b);
  js.sort((a, b) => a - b);
  const st = sp ? sp.stats() : {};
  console.log(JSON.stringify({
    shim: !!sp, subscribed: start.hasSubscribers, n: N, rounds: ROUNDS, chunk: CHUNK,
    ns_per_request_median: +ns[(ns.length - 1) >> 1].toFixed(1), min: +ns[0].toFixed(1), max: +ns[ns.length - 1].toFixed(1),
    js_thread_ns_per_request_median: +js[(js.length - 1) >> 1].toFixed(1), js_min: +js[0].toFixed(1), js_max: +js[js.length - 1].toFixed(1),
    agent_ns_per_request_median: +ag[(ag.length - 1) >> 1].toFixed(1),
    http_over_budget: st.http_over_budget, transactions: (st.transaction_profiles || 0) + (st.transactions_without_profile || 0),
    transactions_table_full: st.transactions_table_full,
  }));
})();
