'use strict';
// A trivial HTTP handler for tests/bench/http-cost.sh: answers "ok" to everything. Prints
// "listening <port>" once; on SIGTERM (or SIGINT) closes and prints one JSON line: requests
// handled, process CPU (user + system, µs) from the first request to the last, and
// __sentryprof.stats() when the shim is there.
const http = require('http');
let requests = 0, cpu0 = null, cpu1 = null;
const server = http.createServer((req, res) => {
  if (cpu0 === null) cpu0 = process.cpuUsage();
  requests++;
  res.end('ok');
  if ((requests & 255) === 0) cpu1 = process.cpuUsage(); // cheap: every 256th request
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
    stats: sp ? sp.stats() : null }) + '\n');
  server.close();
  if (server.closeAllConnections) server.closeAllConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
