'use strict';
// The HTTP workload of tests/bench/anchors.js (issue 19): an express app whose one route does
// BENCH_UNITS units of workload.js's mixed JS (recursion, JSON, strings, sort, Math: ~1 ms)
// per request; in every configuration but plain and cpu-prof each request is a transaction
// (anchor-sdk.js). Prints "listening <port>". GET /_stats answers the process's counters so
// the driver can take differences around each load phase: requests, process CPU (all
// threads), the JS thread's CPU, peak RSS, bytes written to storage (/proc/self/io), the
// shim's stats. SIGTERM: flush the SDK, close, exit (node --cpu-prof writes its profile).
//   BENCH_CONFIG=... node -r ./anchor-sdk.js anchor-http-app.js   (express from BENCH_DEPS_DIR)
const fs = require('fs');
const path = require('path');
const sdk = require('./anchor-sdk.js');
const { work } = require('./workload.js');
const express = require(path.join(process.env.BENCH_DEPS_DIR || '.', 'node_modules', 'express'));

const UNITS = Number(process.env.BENCH_UNITS || 40);
let requests = 0;
function writeBytes() {
  try { return Number(/write_bytes:\s*(\d+)/.exec(fs.readFileSync('/proc/self/io', 'latin1'))[1]); } catch (_) { return NaN; }
}
const app = express();
sdk.httpMiddleware(app);
app.get('/work', (req, res) => {
  requests++;
  res.json({ v: work(UNITS) });
});
app.get('/_stats', (req, res) => {
  res.json({ requests, cpu_ns: sdk.cpuNs(), thread_ns: sdk.threadNs(), peak_rss: sdk.peakRssBytes(),
    rss: process.memoryUsage().rss, write_bytes: writeBytes(), uptime_ns: Math.round(process.uptime() * 1e9), shim: sdk.shimStats() });
});
const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
server.keepAliveTimeout = 60000;
process.on('SIGTERM', async () => {
  server.close();
  if (server.closeAllConnections) server.closeAllConnections();
  try { await sdk.flush(); } catch (_) { /* the sink is local: nothing to wait for */ }
  process.exit(0);
});
