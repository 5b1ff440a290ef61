'use strict';
// Fixture: a plain `http` server with two routes, each burning ~150 ms of CPU in its own
// function: GET /alpha -> alphaRoute, GET /beta -> betaRoute (200 "alpha ok"/"beta ok"); and
// GET /fail -> failRoute, the same work then a 500; anything else 404. Knows nothing of sentryprof. Listens on 127.0.0.1:$PORT (default: any free port),
// prints "listening <port>" once, and closes on SIGTERM/SIGINT (then exits by itself).
// BURN_MS changes the work per request. The work is measured in this process's CPU time, not
// wall time, so a request holds the same number of CPU-clock samples on a loaded machine.
const http = require('http');

const BURN_MS = Number(process.env.BURN_MS || 150);

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function alphaRoute(ms) {
  const end = cpuMs() + ms;
  let x = 1;
  while (cpuMs() < end) {
    for (let i = 0; i < 2000; i++) x = (x * 31 + i) % 1000003;
  }
  return x;
}

function betaRoute(ms) {
  const end = cpuMs() + ms;
  let s = 7;
  while (cpuMs() < end) {
    for (let i = 0; i < 2000; i++) s = (s + i * 13) % 999983;
  }
  return s;
}

function failRoute(ms) {
  const end = cpuMs() + ms;
  let f = 3;
  while (cpuMs() < end) {
    for (let i = 0; i < 2000; i++) f = (f * 17 + i) % 999979;
  }
  return f;
}

const routes = { '/alpha': alphaRoute, '/beta': betaRoute, '/fail': failRoute };

const server = http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  const route = req.method === 'GET' && routes[path];
  if (!route) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
    return;
  }
  const v = route(BURN_MS);
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
