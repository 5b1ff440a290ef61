'use strict';
// A trivial HTTP handler for tests/bench/http-cost.sh: answers "ok" to everything. Prints
// "listening <port>" once; on SIGTERM (or SIGINT) closes and prints one JSON line: requests
// handled, process CPU (user + system, µs) from the first request to the last, the JS
// thread's own CPU over the same requests (ns, /proc/thread-self/schedstat: what bounds the
// throughput of a server that runs its handlers on one thread, without the agent's and
// libuv's threads), and __sentryprof.stats() when the shim is there.
const http = require('http');
const fs = require('fs');
// The JS thread's CPU time in ns (schedstat: run time on a CPU; stat's ticks where the
// kernel has no schedstat).
function threadNs() {
  try {
    return Number(fs.readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]);
  } catch (_) {
    const f = fs.readFileSync('/proc/thread-self/stat', 'latin1');
    const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(v[11]) + Number(v[12])) * 1e7; // utime + stime at 100 Hz
  }
}
let requests = 0, cpu0 = null, cpu1 = null, th0 = 0, th1 = 0;
const server = http.createServer((req, res) => {
  if (cpu0 === null) { cpu0 = process.cpuUsage(); th0 = threadNs(); }
  requests++;
  res.end('ok');
  if ((requests & 255) === 0) { cpu1 = process.cpuUsage(); th1 = threadNs(); } // every 256th
});
server.keepAliveTimeout = 30000;
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
function stop() {
  const c = cpu1 && cpu0 ? (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system) : 0;
  const counted = Math.max(1, (requests & ~255) - 1); // requests between cpu0 and cpu1
  const sp = globalThis.__sentryprof;
  process.stdout.write(JSON.stringify({ requests, cpu_us: c, cpu_us_per_request: c / counted,
    js_thread_us_per_request: cpu1 ? (th1 - th0) / 1000 / counted : 0,
    stats: sp ? sp.stats() : null }) + '\n');
  server.close();
  if (server.closeAllConnections) server.closeAllConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
