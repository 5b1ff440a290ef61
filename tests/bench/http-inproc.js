'use strict';
// CPU per request of a trivial HTTP handler with the whole node http stack (parser,
// IncomingMessage, ServerResponse, diagnostics channels, the shim's hooks when it is there),
// measured inside one process without a load generator (issue 15): the server and a raw
// client share the JS thread; the client writes DEPTH pipelined GETs on each of SOCKETS
// keep-alive loopback connections and writes the next DEPTH when their responses are in.
// Fixed work (N requests per round), so no clock is read inside the loop; CPU from
// process.cpuUsage() (every thread: the agent's and the signal handler's time count) and
// the JS thread's own (/proc/thread-self/schedstat) around each round. Prints one JSON line:
// median, min and max ns per request over ROUNDS rounds after one warm-up round.
// tests/bench/http-cost.sh runs it with and without the shim, alternately, and prints the
// ratio: a trivial handler's throughput bound by its one JS thread.
//   node tests/bench/http-inproc.js [N (default 20000)] [ROUNDS (default 5)]
const http = require('http');
const net = require('net');
const fs = require('fs');
const N = Number(process.argv[2] || 20000);
const ROUNDS = Number(process.argv[3] || 5);
const SOCKETS = 4;
const DEPTH = 32;
const REQ = Buffer.from('GET /item/7?q=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n');
const BATCH = Buffer.concat(Array(DEPTH).fill(REQ));
function threadNs() {
  try {
    return Number(fs.readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]);
  } catch (_) {
    return NaN;
  }
}
const server = http.createServer((req, res) => res.end('ok'));
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  const socks = await Promise.all(Array.from({ length: SOCKETS }, () => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.setNoDelay(true);
  })));
  // One round: N requests spread over the sockets, DEPTH in flight on each.
  function round() {
    return new Promise((resolve) => {
      let left = N, done = 0;
      for (const s of socks) {
        let pending = 0, tail = '';
        const send = () => { if (left > 0) { left -= DEPTH; pending += DEPTH; s.write(BATCH); } };
        s.removeAllListeners('data');
        s.on('data', (buf) => {
          // Count response heads; a head may straddle two chunks.
          const text = tail + buf.toString('latin1');
          let i = 0, k = 0;
          while ((k = text.indexOf('HTTP/1.1 ', i)) >= 0) { pending--; done++; i = k + 9; }
          tail = text.slice(Math.max(i, text.length - 8));
          if (pending === 0) {
            if (left > 0) send();
            else if (done >= N - (N % DEPTH ? DEPTH : 0)) resolve(done);
          }
        });
        send();
      }
    });
  }
  const sp = globalThis.__sentryprof;
  const per = [], js = [];
  await round(); // warm-up: JIT, the agent's first symbolization
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = process.cpuUsage(), t0 = threadNs();
    const n = await round();
    const c = process.cpuUsage(c0), t = threadNs() - t0;
    per.push(((c.user + c.system) * 1000) / n);
    js.push(t / n);
  }
  const s = (a) => [...a].sort((x, y) => x - y);
  const med = (a) => s(a)[(a.length - 1) >> 1];
  const st = sp ? sp.stats() : {};
  console.log(JSON.stringify({
    shim: !!sp, n: N, rounds: ROUNDS,
    ns_per_request_median: Math.round(med(per)), min: Math.round(s(per)[0]), max: Math.round(s(per)[per.length - 1]),
    js_thread_ns_per_request_median: Math.round(med(js)), js_min: Math.round(s(js)[0]), js_max: Math.round(s(js)[js.length - 1]),
    http_over_budget: st.http_over_budget, signals: st.signals,
  }));
  for (const x of socks) x.destroy();
  server.close();
});
