'use strict';
// Soak fixture (tests/soak/soak.sh): HTTP load. The host is a plain `http` server on
// 127.0.0.1 (any free port); its load generator is a second node process it forks (profiled
// too when the host is: it inherits the environment), which sends SECONDS (argv[2]) x 10
// rounds at 10 per second of 8 requests each over 4 keep-alive sockets: computed text
// (GET /calc), an echoed body hash (POST /echo), JSON (GET /json) and some 404s. Each
// handler does a little fixed CPU work in its own function. The client reports the request
// count, the statuses and a checksum of every status and body (in request order) to the
// host over IPC, and the host prints them: the same in every run. The rounds are split
// between two load generators, one after the other; the host's resources are probed between
// them (no earlier than WARM_S into the run) and after the second exited ($SOAK_PROBE).
const http = require('http');
const { fork } = require('child_process');
const { paced, mix, mixString, baseline, settle, report } = require('./fixture-lib');

const RATE = 10;
const PER_ROUND = 8;

function soakHandleCalc(i) {
  let x = i;
  for (let n = 0; n < 20000 + (i % 500) * 20; n++) x = (x * 31 + n) % 1000003;
  return `calc ${i} ${x}`;
}

function soakHandleEcho(body) {
  let h = 0;
  for (const b of body) h = mix(h, b);
  return `echo ${body.length} ${h.toString(16)}`;
}

function soakHandleJson(i) {
  return JSON.stringify({ i, items: Array.from({ length: 40 }, (_, j) => ({ j, v: (i * j) % 101, s: `item-${j}` })) });
}

function serve(req, res) {
  const url = new URL(req.url, 'http://x');
  const i = Number(url.searchParams.get('i') || 0);
  if (req.method === 'POST' && url.pathname === '/echo') {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => res.end(soakHandleEcho(Buffer.concat(parts))));
    return;
  }
  if (url.pathname === '/calc') return res.end(soakHandleCalc(i));
  if (url.pathname === '/json') {
    res.setHeader('content-type', 'application/json');
    return res.end(soakHandleJson(i));
  }
  res.statusCode = 404;
  res.end('not found');
}

function request(agent, port, i) {
  const j = i % PER_ROUND;
  const kind = j === 7 && i % 16 === 7 ? 'missing' : ['calc', 'echo', 'json', 'calc'][j % 4];
  const body = kind === 'echo' ? Buffer.alloc((i % 32) * 100 + 1, i & 255) : null;
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, agent, method: body ? 'POST' : 'GET', path: `/${kind}?i=${i}` },
      (res) => {
        const parts = [];
        res.on('data', (d) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(parts).toString() }));
        res.on('error', (e) => resolve({ status: `error ${e.code}`, body: '' }));
      },
    );
    req.on('error', (e) => resolve({ status: `error ${e.code}`, body: '' }));
    req.end(body);
  });
}

async function client(port, first, rounds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const statuses = {};
  let sum = 0;
  await paced(rounds, RATE, async (k) => {
    const i0 = (first + k) * PER_ROUND;
    const got = await Promise.all(Array.from({ length: PER_ROUND }, (_, j) => request(agent, port, i0 + j)));
    for (const r of got) {
      statuses[r.status] = (statuses[r.status] || 0) + 1;
      sum = mix(mixString(sum, r.body), Number(r.status) || 0);
    }
  });
  agent.destroy();
  process.send({ requests: rounds * PER_ROUND, checksum: sum.toString(16), statuses }, () => process.disconnect());
}

// One load generator for rounds [first, first + rounds): its result, and its exit as text.
function phase(port, first, rounds) {
  return new Promise((resolve) => {
    const child = fork(__filename, ['client', String(port), String(first), String(rounds)], { execArgv: [] });
    let result = null;
    child.on('message', (m) => { result = m; });
    child.on('exit', (code, signal) => resolve({ result, exit: code === null ? signal : code }));
  });
}

if (process.argv[2] === 'client') {
  client(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
} else {
  const seconds = Number(process.argv[2] || 10);
  const rounds = seconds * RATE;
  const half = Math.floor(rounds / 2);
  const server = http.createServer(serve);
  server.listen(0, '127.0.0.1', async () => {
    const port = server.address().port;
    // Two load generators, one after the other: the baseline is probed between them (the
    // server listening, no client connected), the end after the second one exited.
    const a = await phase(port, 0, half);
    const base = await baseline();
    const b = await phase(port, half, rounds - half);
    server.closeIdleConnections?.();
    const { after, settle_ms } = await settle(base);
    report({ fixture: 'http', baseline: base, after, settle_ms });
    for (const [name, p] of [['first', a], ['second', b]]) {
      const r = p.result;
      const st = r ? Object.keys(r.statuses).sort().map((x) => `${x}:${r.statuses[x]}`).join(' ') : '';
      console.log(r ? `http ${name} client: requests ${r.requests} checksum ${r.checksum} statuses ${st} exit ${p.exit}` : `http ${name} client sent no result, exit ${p.exit}`);
    }
    server.close();
    process.exitCode = a.exit === 0 && b.exit === 0 && a.result && b.result ? 0 : 1;
  });
}
