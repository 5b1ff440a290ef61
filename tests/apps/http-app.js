'use strict';
// Fixture: a plain `http` server with two routes, each burning ~150 ms of CPU in its own
// function: GET /alpha -> alphaRoute, GET /beta -> betaRoute (200 "alpha ok"/"beta ok"); and
// GET /fail -> failRoute, the same work then a 500; anything else 404. Knows nothing of sentryprof. Listens on 127.0.0.1:$PORT (default: any free port),
// prints "listening <port>" once, and closes on SIGTERM/SIGINT (then exits by itself).
// BURN_MS changes the work per request. The work is fixed, not a clock window: each route's
// loop speed is measured once at start (iterations per CPU millisecond, as tests/apps/hot.js
// does), then a request runs that many iterations with no system call inside, so it holds the
// same number of CPU-clock samples however loaded the machine is (a clock read in the loop
// is where a loaded machine preempts the thread, and samples then land in the system call).
const http = require('http');
const { threadMs } = require('./thread-clock');

const BURN_MS = Number(process.env.BURN_MS || 150);

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function alphaRoute(n) {
  let x = 1;
  for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003;
  return x;
}

function betaRoute(n) {
  let s = 7;
  for (let i = 0; i < n; i++) s = (s + i * 13) % 999983;
  return s;
}

function failRoute(n) {
  let f = 3;
  for (let i = 0; i < n; i++) f = (f * 17 + i) % 999979;
  return f;
}

// Iterations per CPU millisecond at the loop's final speed. A 20 ms window gives a first
// estimate; then calls of a third of BURN_MS are timed (process CPU around the call, not in
// it) and the estimate corrected until two calls in a row take that long within 15%. V8's
// tiers differ in speed, under qemu-user far more than on hardware, and there the optimized
// code arrives long after the first window: a request then did a third of its work (Node 22
// arm64: /alpha 36-45 ms of CPU for BURN_MS 150, and a profile of < 2 samples was dropped).
function rate(loop) {
  for (let k = 0; k < 20; k++) loop(1e5);
  const t0 = cpuMs();
  let n = 0, t = t0;
  while ((t = cpuMs()) - t0 < 20) {
    loop(1e5);
    n += 1e5;
  }
  let r = n / (t - t0);
  const ms = Math.max(BURN_MS / 3, 10);
  for (let good = 0, k = 0; good < 2 && k < 30; k++) {
    const c0 = cpuMs();
    loop(Math.round(ms * r));
    const took = cpuMs() - c0;
    good = Math.abs(took - ms) <= 0.15 * ms ? good + 1 : 0;
    r *= Math.min(4, Math.max(0.25, ms / Math.max(took, 0.1)));
  }
  return r;
}

const work = new Map([alphaRoute, betaRoute, failRoute].map((f) => [f, Math.round(BURN_MS * rate(f))]));

const routes = { '/alpha': alphaRoute, '/beta': betaRoute, '/fail': failRoute };

// A request's work: the calibrated iterations, then, where this thread's CPU clock can be
// read, more of them in tenths until the request has taken BURN_MS of this thread's CPU.
// The calibration reads the process's clock, which also counts V8's concurrent compiler:
// under qemu-user that made it come out short, and a request's profile was cut to a couple
// of samples (the arm64 CI stage, twice: /alpha topped in `get`, then `_getMaxListeners`).
// One clock read per tenth, none inside the loop.
function burn(route) {
  const n = work.get(route), t0 = threadMs();
  let v = route(n);
  if (t0 === null) return v;
  for (let k = 0; k < 100 && threadMs() - t0 < BURN_MS; k++) v = route(Math.max(1, Math.round(n / 10)));
  return v;
}

const server = http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  const route = req.method === 'GET' && routes[path];
  if (!route) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
    return;
  }
  const v = burn(route);
  res.writeHead(route === failRoute ? 500 : 200, { 'content-type': 'text/plain' });
  res.end(`${path.slice(1)} ${v >= 0 ? 'ok' : 'ok'}\n`);
});

server.keepAliveTimeout = 1000;
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
const stop = () => {
  server.close();
  if (server.closeAllConnections) server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
