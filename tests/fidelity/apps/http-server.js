'use strict';
// Fidelity fixture: an HTTP server under load, the shape of a web framework's request path
// without its dependencies. Every request runs a middleware chain through a fresh `next`
// closure (as express and koa do), parses its query, and answers JSON (objects built and
// stringified) or an HTML page (strings escaped through a regex callback) with a SHA-1
// ETag. What it exercises that the CPU loops do not: optimized frames whose per-request
// closures a scavenge has already moved or freed by the time the agent decodes them, CPU
// in libuv's poll phase outside JS (socket reads, llhttp), which V8 calls idle, and
// writev/read syscalls under JS frames.
// The load comes from a child process (this file with "client PORT"), started without the
// shim or V8's profiler: 8 keep-alive connections, one request after another each.
// Usage: node http-server.js [SECONDS=3]   (the main thread's CPU seconds, then "done")
const http = require('http');
const crypto = require('crypto');
const { spawn } = require('child_process');

if (process.argv[2] === 'client') {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const paths = ['/users/17?fields=name,tags&limit=120', `/page/42?title=${encodeURIComponent('<Hello & "world">')}`, '/users/3?limit=80'];
  let i = 0;
  const loop = () => {
    const req = http.get({ host: '127.0.0.1', port: Number(process.argv[3]), path: paths[i++ % paths.length], agent }, (res) => {
      res.resume();
      res.on('end', loop);
    });
    req.on('error', () => process.exit(0)); // the server went away: done
  };
  for (let c = 0; c < 8; c++) loop();
  return;
}

const { cpuMs } = require('./common');

// A middleware chain in the style of express: each request walks the layers through a
// `next` closure made for it.
const layers = [];
const use = (fn) => layers.push(fn);
function handle(req, res) {
  let idx = 0;
  const next = (err) => {
    if (err) { res.statusCode = 500; res.end(String(err)); return; }
    const layer = layers[idx++];
    if (layer) layer(req, res, next);
  };
  next();
}

use((req, res, next) => {
  const q = req.url.indexOf('?');
  req.path = q < 0 ? req.url : req.url.slice(0, q);
  req.query = Object.fromEntries(new URLSearchParams(q < 0 ? '' : req.url.slice(q + 1)));
  next();
});
use((req, res, next) => {
  const m = /^\/(users|page)\/(\d+)$/.exec(req.path);
  if (!m) { res.statusCode = 404; res.end(); return; }
  req.params = { kind: m[1], id: Number(m[2]) };
  next();
});

function send(res, type, body) {
  const etag = '"' + crypto.createHash('sha1').update(body).digest('base64') + '"';
  res.setHeader('Content-Type', type);
  res.setHeader('ETag', etag);
  res.end(body);
}

const HTML = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => HTML[c]);
}

function userJson(id, query) {
  const limit = Math.min(Number(query.limit) || 10, 200);
  const items = [];
  for (let i = 0; i < limit; i++) {
    items.push({ id: id * 100 + i, name: `user ${id}/${i}`, tags: ['a', 'b', String(i % 7)], score: (id * 31 + i) % 97 });
  }
  items.sort((a, b) => b.score - a.score || a.id - b.id);
  return JSON.stringify({ id, fields: (query.fields || '').split(','), items });
}

function pageHtml(id, query) {
  let html = `<html><head><title>${escapeHtml(query.title || '')}</title></head><body><ul>`;
  for (let i = 0; i < 200; i++) html += `<li class="row">${escapeHtml(`row "${i}" of <${id}> & more`)}</li>`;
  return html + '</ul></body></html>';
}

use((req, res) => {
  if (req.params.kind === 'users') send(res, 'application/json', userJson(req.params.id, req.query));
  else send(res, 'text/html; charset=utf-8', pageHtml(req.params.id, req.query));
});

const seconds = Number(process.argv[2] || 3);
const server = http.createServer(handle);
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => {
  // The client without the shim, V8's profiler or their environment.
  const client = spawn(process.execPath, [__filename, 'client', String(server.address().port)], {
    stdio: 'ignore',
    env: { PATH: process.env.PATH || '/usr/bin:/bin' },
  });
  try { require('os').setPriority(client.pid, 19); } catch { /* not allowed: as it is */ }
  let finished = false;
  client.on('exit', (code) => {
    if (finished) return;
    console.log(`the client exited (${code}) before the server was done`);
    process.exit(1);
  });
  const t0 = cpuMs();
  const timer = setInterval(() => {
    if (cpuMs() - t0 < seconds * 1000) return;
    clearInterval(timer);
    finished = true;
    client.kill();
    server.close();
    server.closeAllConnections?.();
    console.log('done');
  }, 100);
});
