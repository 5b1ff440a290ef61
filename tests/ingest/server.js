'use strict';
// A local Sentry ingest server for the end-to-end tests: accepts envelopes on
// POST /api/<project_id>/envelope/, applies Sentry's rules (rules.js) and records everything in
// an output directory, with switchable faults (rate limits, errors, hangs, resets, outages).
// Plain Node.js (>= 18), no dependencies; listens on 127.0.0.1 only.
//
// Usage: node server.js --dir OUTDIR [--port 0] [--key KEY] [--mode MODE|JSON] [--max-seconds 600]
//                       [--parent-pid PID] [--max-body-mb 64] [--quiet]
// --parent-pid: also stop when that process is gone (pass the test script's $$).
//
// OUTDIR/port            the listening port, written atomically once listening
// OUTDIR/requests.jsonl  one JSON line per request (all but /_control and /_stats):
//   {seq, time, method, url, kind, status, fault, headers{content-type, content-encoding,
//    x-sentry-auth, user-agent}, project, public_key, ok, accepted, saved, problems, warnings,
//    items[{type, length, summary}], envelope_event_id, bytes, decoded_bytes}
//   ok: the request reached the envelope endpoint with valid auth and the envelope has no
//   problem (whatever fault answered it); accepted: answered 2xx and saved; fault: the injected
//   fault mode or null; status 0 for "hang" and "close" (no answer). kind: "envelope" or "other".
// OUTDIR/accepted/<seq>.envelope  accepted envelopes, decompressed
//
// Control: POST /_control {"mode": "ok"|"status"|"429"|"rate_limits_header"|"hang"|"close"|"down",
//   "status", "retry_after", "rate_limits", "for_seconds", "count"}; GET /_control: the state;
//   GET /_stats: {requests, accepted, by_status, items_by_type, problems, ...}; by_status counts
//   "hang" and "close" under those names. Faults apply to envelope requests only (after auth and
//   the rules ran, so the log still shows what was sent); "count" is not allowed with "down".
// Signals: SIGTERM/SIGINT stop; SIGUSR1 ends a "down" period.
const http = require('http');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const rules = require('./rules.js');

// ---- arguments -------------------------------------------------------------------------------

function usage(msg) {
  if (msg) process.stderr.write(`server.js: ${msg}\n`);
  process.stderr.write('usage: node server.js --dir OUTDIR [--port N] [--key KEY] [--mode MODE|JSON] [--max-seconds N] [--parent-pid PID] [--max-body-mb N] [--quiet]\n');
  process.exit(2);
}

const opts = { port: 0, dir: null, key: null, mode: null, maxSeconds: 600, parentPid: 0, maxBodyMb: 64, quiet: false };
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    let name = a, val;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) { name = a.slice(0, eq); val = a.slice(eq + 1); }
    const next = () => {
      if (val !== undefined) return val;
      if (i + 1 >= argv.length) usage(`${name} needs a value`);
      return argv[++i];
    };
    switch (name) {
      case '--port': opts.port = Number(next()); break;
      case '--dir': opts.dir = next(); break;
      case '--key': opts.key = next(); break;
      case '--mode': opts.mode = next(); break;
      case '--max-seconds': opts.maxSeconds = Number(next()); break;
      case '--max-body-mb': opts.maxBodyMb = Number(next()); break;
      case '--parent-pid': opts.parentPid = Number(next()); break;
      case '--quiet': opts.quiet = true; break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  if (!opts.dir) usage('--dir is required');
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage('--port must be 0..65535');
  if (!(opts.maxSeconds > 0)) usage('--max-seconds must be > 0');
  if (!(opts.maxBodyMb > 0)) usage('--max-body-mb must be > 0');
  if (!Number.isInteger(opts.parentPid) || opts.parentPid < 0) usage('--parent-pid must be a process id');
}

const DIR = path.resolve(opts.dir);
const ACCEPTED = path.join(DIR, 'accepted');
const LOG = path.join(DIR, 'requests.jsonl');
const MAX_BODY = Math.floor(opts.maxBodyMb * 1024 * 1024);
const MAX_DECODED = 4 * MAX_BODY;
const MAX_PROBLEMS_KEPT = 1000;

function note(msg) { if (!opts.quiet) process.stderr.write(`[ingest] ${msg}\n`); }

fs.mkdirSync(ACCEPTED, { recursive: true });
try { fs.unlinkSync(path.join(DIR, 'port')); } catch (e) { /* none */ }

// Continue numbering after an earlier run into the same directory.
let seq = 0;
try { seq = fs.readFileSync(LOG, 'utf8').split('\n').filter(Boolean).length; } catch (e) { /* new */ }
for (const f of fs.readdirSync(ACCEPTED)) {
  const m = /^(\d+)\.envelope$/.exec(f);
  if (m) seq = Math.max(seq, Number(m[1]));
}

// ---- fault state -----------------------------------------------------------------------------

const MODES = ['ok', 'status', '429', 'rate_limits_header', 'hang', 'close', 'down'];
let state = { mode: 'ok' };
let stateGen = 0;
let revertTimer = null;

function parseMode(spec) {
  let m;
  if (typeof spec === 'string') {
    const s = spec.trim();
    if (s.startsWith('{')) {
      try { m = JSON.parse(s); } catch (e) { throw new Error(`mode is not JSON: ${e.message}`); }
    } else {
      m = { mode: s };
    }
  } else {
    m = spec;
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new Error('mode must be a JSON object');
  const mode = String(m.mode === undefined ? '' : m.mode);
  if (!MODES.includes(mode)) throw new Error(`unknown mode ${JSON.stringify(m.mode)} (one of ${MODES.join(', ')})`);
  const out = { mode };
  if (mode === 'status') {
    const st = m.status === undefined ? 500 : Number(m.status);
    if (!Number.isInteger(st) || st < 200 || st > 599) throw new Error('status must be an integer 200..599');
    out.status = st;
  }
  if (m.retry_after !== undefined) {
    if (typeof m.retry_after !== 'number' && typeof m.retry_after !== 'string') throw new Error('retry_after must be a number or a string');
    out.retry_after = String(m.retry_after);
  }
  if (m.rate_limits !== undefined) {
    if (typeof m.rate_limits !== 'string') throw new Error('rate_limits must be a string');
    out.rate_limits = m.rate_limits;
  }
  if (mode === 'rate_limits_header' && out.rate_limits === undefined) throw new Error('rate_limits_header needs "rate_limits"');
  if (m.for_seconds !== undefined) {
    const f = Number(m.for_seconds);
    if (!(f > 0)) throw new Error('for_seconds must be > 0');
    out.for_seconds = f;
  }
  if (m.count !== undefined) {
    const c = Number(m.count);
    if (!Number.isInteger(c) || c < 1) throw new Error('count must be an integer >= 1');
    if (mode === 'down') throw new Error('count does not apply to "down" (use for_seconds or SIGUSR1)');
    out.count = c;
  }
  return out;
}

function publicState() {
  const s = { ...state };
  if (s.until) s.remaining_seconds = Math.max(0, (s.until - Date.now()) / 1000);
  delete s.until;
  return s;
}

function setMode(m) {
  const wasDown = state.mode === 'down';
  stateGen++;
  if (revertTimer) { clearTimeout(revertTimer); revertTimer = null; }
  state = { ...m };
  if (m.for_seconds) {
    state.until = Date.now() + m.for_seconds * 1000;
    const gen = stateGen;
    revertTimer = setTimeout(() => {
      if (gen !== stateGen) return;
      note(`mode ${state.mode} ended after ${m.for_seconds} s`);
      setMode({ mode: 'ok' });
    }, m.for_seconds * 1000);
  }
  note(`mode ${JSON.stringify(publicState())}`);
  if (state.mode === 'down' && !wasDown) goDown();
  if (state.mode !== 'down' && wasDown) goUp();
}

// The fault to apply to this envelope request (consumes one "count"), or null.
function takeFault() {
  if (state.mode === 'ok' || state.mode === 'down') return null;
  if (state.until && Date.now() >= state.until) { setMode({ mode: 'ok' }); return null; }
  const f = { ...state };
  if (state.count !== undefined) {
    state.count -= 1;
    if (state.count <= 0) setMode({ mode: 'ok' });
  }
  return f;
}

// ---- statistics ------------------------------------------------------------------------------

const stats = {
  requests: 0, envelopes: 0, accepted: 0, ok: 0, not_ok: 0,
  by_status: {}, items_by_type: {}, problems: [], problems_dropped: 0,
};

function countRequest(entry) {
  stats.requests++;
  if (entry.kind === 'envelope') {
    stats.envelopes++;
    if (entry.ok) stats.ok++; else stats.not_ok++;
  }
  const key = entry.fault === 'hang' || entry.fault === 'close' ? entry.fault : String(entry.status);
  stats.by_status[key] = (stats.by_status[key] || 0) + 1;
  if (entry.accepted) {
    stats.accepted++;
    for (const it of entry.items) stats.items_by_type[it.type] = (stats.items_by_type[it.type] || 0) + 1;
  }
  for (const p of entry.problems) {
    if (stats.problems.length < MAX_PROBLEMS_KEPT) stats.problems.push(`#${entry.seq}: ${p}`);
    else stats.problems_dropped++;
  }
}

// ---- request handling ------------------------------------------------------------------------

const ENVELOPE_PATH = /^(\/.*)?\/api\/([^/]+)\/envelope\/?$/;

function parseAuth(req, query) {
  const out = { key: null, version: null, client: null, source: null };
  const h = req.headers['x-sentry-auth'];
  if (typeof h === 'string') {
    const body = h.replace(/^\s*Sentry\s+/i, '');
    for (const part of body.split(',')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      const k = part.slice(0, eq).trim(), v = part.slice(eq + 1).trim();
      if (k === 'sentry_key' && v) { out.key = v; out.source = 'header'; }
      else if (k === 'sentry_version') out.version = v;
      else if (k === 'sentry_client') out.client = v;
    }
  }
  if (!out.key && query.get('sentry_key')) { out.key = query.get('sentry_key'); out.source = 'query'; }
  if (!out.version && query.get('sentry_version')) out.version = query.get('sentry_version');
  if (!out.client && query.get('sentry_client')) out.client = query.get('sentry_client');
  return out;
}

function headerSubset(req) {
  const o = {};
  for (const k of ['content-type', 'content-encoding', 'x-sentry-auth', 'user-agent']) {
    if (req.headers[k] !== undefined) o[k] = req.headers[k];
  }
  return o;
}

function writeLog(entry) {
  fs.appendFileSync(LOG, `${JSON.stringify(entry)}\n`);
  countRequest(entry);
}

function saveAccepted(seqNo, body) {
  const name = `${String(seqNo).padStart(6, '0')}.envelope`;
  const tmp = path.join(ACCEPTED, `.${name}.tmp`);
  fs.writeFileSync(tmp, body);
  fs.renameSync(tmp, path.join(ACCEPTED, name));
  return name;
}

function send(res, status, obj, headers = {}) {
  const body = obj === undefined ? '' : `${JSON.stringify(obj)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function readBody(req, cb) {
  const chunks = [];
  let size = 0, over = false;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) { over = true; return; }
    chunks.push(c);
  });
  req.on('end', () => cb(null, over ? null : Buffer.concat(chunks), size));
  req.on('error', (e) => cb(e));
}

// Decodes, authenticates and checks an envelope request. Returns {status, body, ...log fields}.
function analyze(req, url, project, raw) {
  const problems = [], warnings = [];
  let items = [], envelopeEventId = null, decoded = null, malformed = false, header = null;
  let status = 200;
  const auth = parseAuth(req, url.searchParams);
  const ctype = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  // Relay reads the body of /envelope/ as an envelope whatever the header says, and
  // @sentry/node 7's transport sends none: missing is a warning, a wrong one a problem.
  if (!ctype) warnings.push('no content-type (Relay accepts it; @sentry/node 7 sends none)');
  else if (ctype !== 'application/x-sentry-envelope') problems.push(`content-type ${JSON.stringify(req.headers['content-type'])} is not application/x-sentry-envelope`);
  if (!/^\d+$/.test(project)) problems.push(`project id ${JSON.stringify(project)} is not a number`);
  if (!auth.key) problems.push('missing sentry_key (X-Sentry-Auth header or query parameter)');
  else if (opts.key !== null && auth.key !== opts.key) problems.push(`sentry_key ${JSON.stringify(auth.key)} is not the expected key`);
  if (auth.key && auth.version !== '7') warnings.push(`sentry_version ${JSON.stringify(auth.version)} (expected "7")`);
  const enc = (req.headers['content-encoding'] || 'identity').trim().toLowerCase();
  let encodingStatus = 0;
  if (raw === null) {
    problems.push(`body larger than ${MAX_BODY} bytes`);
    encodingStatus = 413;
  } else if (enc === 'gzip' || enc === 'x-gzip') {
    try {
      decoded = zlib.gunzipSync(raw, { maxOutputLength: MAX_DECODED });
    } catch (e) {
      problems.push(`gzip body does not decode: ${e.message}`);
      encodingStatus = 400;
    }
  } else if (enc === 'identity' || enc === '') {
    decoded = raw;
  } else {
    problems.push(`unsupported content-encoding ${JSON.stringify(enc)} (gzip or identity)`);
    encodingStatus = 415;
  }
  if (decoded) {
    const r = rules.analyzeBody(decoded);
    malformed = r.malformed;
    problems.push(...r.problems);
    warnings.push(...r.warnings);
    items = r.items;
    header = r.header;
    if (header && typeof header.event_id === 'string') envelopeEventId = header.event_id;
  }
  let body;
  if (!auth.key) { status = 401; body = { detail: 'missing authorization information' }; }
  else if (opts.key !== null && auth.key !== opts.key) { status = 403; body = { detail: 'invalid api key' }; }
  else if (!/^\d+$/.test(project)) { status = 400; body = { detail: 'invalid project id' }; }
  else if (encodingStatus) { status = encodingStatus; body = { detail: problems[problems.length - 1] }; }
  else if (malformed) { status = 400; body = { detail: 'invalid envelope', problems }; }
  else { status = 200; body = envelopeEventId ? { id: envelopeEventId } : {}; }
  return {
    status, body, decoded, problems, warnings, items, envelopeEventId,
    publicKey: auth.key, sdk: header && header.sdk ? header.sdk : null,
  };
}

function baseEntry(req, url) {
  return {
    seq: ++seq,
    time: new Date().toISOString(),
    method: req.method,
    url: req.url,
    kind: 'other',
    status: 0,
    fault: null,
    headers: headerSubset(req),
    project: null,
    public_key: null,
    ok: false,
    accepted: false,
    saved: null,
    problems: [],
    warnings: [],
    items: [],
    envelope_event_id: null,
    bytes: 0,
    decoded_bytes: null,
  };
}

function handleEnvelope(req, res, url, project) {
  readBody(req, (err, raw, size) => {
    if (err) return; // client went away mid-body: nothing to answer
    const entry = baseEntry(req, url);
    entry.kind = 'envelope';
    entry.project = project;
    entry.bytes = size;
    let a;
    try {
      a = analyze(req, url, project, raw);
    } catch (e) {
      a = { status: 500, body: { detail: 'ingest server bug' }, decoded: null, problems: [`ingest server internal error: ${e.stack}`], warnings: [], items: [], envelopeEventId: null, publicKey: null };
    }
    entry.public_key = a.publicKey;
    entry.problems = a.problems;
    entry.warnings = a.warnings;
    entry.items = a.items;
    entry.envelope_event_id = a.envelopeEventId;
    entry.decoded_bytes = a.decoded ? a.decoded.length : null;
    entry.ok = a.problems.length === 0 && a.status === 200;
    if (a.sdk) entry.sdk = a.sdk;
    const fault = takeFault();
    if (fault && fault.mode === 'hang') {
      entry.fault = 'hang';
      writeLog(entry);
      req.socket.setTimeout(0);
      return; // never answer
    }
    if (fault && fault.mode === 'close') {
      entry.fault = 'close';
      writeLog(entry);
      req.socket.destroy();
      return;
    }
    const extra = {};
    let status = a.status, body = a.body;
    if (fault && fault.mode === 'status') {
      entry.fault = 'status';
      status = fault.status;
      body = { detail: `injected status ${fault.status}` };
    } else if (fault && fault.mode === '429') {
      entry.fault = '429';
      status = 429;
      body = { detail: 'injected rate limit' };
      if (fault.retry_after !== undefined) extra['Retry-After'] = fault.retry_after;
      if (fault.rate_limits !== undefined) extra['X-Sentry-Rate-Limits'] = fault.rate_limits;
    } else if (fault && fault.mode === 'rate_limits_header') {
      entry.fault = 'rate_limits_header';
      extra['X-Sentry-Rate-Limits'] = fault.rate_limits;
      if (fault.retry_after !== undefined) extra['Retry-After'] = fault.retry_after;
    }
    entry.status = status;
    if (status >= 200 && status < 300 && a.decoded && a.status === 200) {
      entry.saved = saveAccepted(entry.seq, a.decoded);
      entry.accepted = true;
    }
    writeLog(entry);
    send(res, status, body, extra);
  });
}

function handleControl(req, res, url) {
  if (req.method === 'GET') return send(res, 200, { state: publicState() });
  if (req.method !== 'POST') return send(res, 405, { detail: 'GET or POST' });
  readBody(req, (err, raw) => {
    if (err) return;
    let m;
    try {
      m = parseMode(raw ? raw.toString('utf8') : '');
    } catch (e) {
      return send(res, 400, { detail: e.message });
    }
    if (m.mode === 'down') {
      // Answer first, then stop listening and drop every connection.
      res.on('finish', () => setMode(m));
      return send(res, 200, { state: { ...m } }, { Connection: 'close' });
    }
    setMode(m);
    send(res, 200, { state: publicState() });
  });
}

function handleStats(req, res) {
  send(res, 200, {
    requests: stats.requests,
    envelopes: stats.envelopes,
    accepted: stats.accepted,
    ok: stats.ok,
    not_ok: stats.not_ok,
    by_status: stats.by_status,
    items_by_type: stats.items_by_type,
    problems: stats.problems,
    problems_dropped: stats.problems_dropped,
    mode: publicState(),
    port: boundPort,
  });
}

function onRequest(req, res) {
  let url;
  try {
    url = new URL(req.url, 'http://127.0.0.1');
  } catch (e) {
    url = new URL('http://127.0.0.1/');
  }
  if (url.pathname === '/_control') return handleControl(req, res, url);
  if (url.pathname === '/_stats') return handleStats(req, res);
  const m = ENVELOPE_PATH.exec(url.pathname);
  if (m && req.method === 'POST') return handleEnvelope(req, res, url, decodeURIComponent(m[2]));
  readBody(req, (err, raw, size) => {
    if (err) return;
    const entry = baseEntry(req, url);
    entry.bytes = size;
    entry.status = m ? 405 : 404;
    entry.problems = [m ? `method ${req.method} on the envelope endpoint` : `no such endpoint ${url.pathname}`];
    writeLog(entry);
    send(res, entry.status, { detail: entry.problems[0] }, m ? { Allow: 'POST' } : {});
  });
}

// ---- listening, outages, shutdown ------------------------------------------------------------

const server = http.createServer(onRequest);
server.requestTimeout = 0; // "hang" must outlast any client timeout
server.keepAliveTimeout = 5000;
const sockets = new Set();
server.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});
server.on('clientError', (e, s) => { if (s.writable) s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'); else s.destroy(); });

let boundPort = null;
let listening = false;

function writePortFile(port) {
  const tmp = path.join(DIR, `.port.${process.pid}.tmp`);
  fs.writeFileSync(tmp, `${port}\n`);
  fs.renameSync(tmp, path.join(DIR, 'port'));
}

function listen(port, cb, attempt = 0) {
  const onError = (e) => {
    server.removeListener('listening', onListening);
    if (e.code === 'EADDRINUSE' && boundPort !== null && attempt < 100) {
      setTimeout(() => listen(port, cb, attempt + 1), 100);
      return;
    }
    process.stderr.write(`[ingest] cannot listen on 127.0.0.1:${port}: ${e.message}\n`);
    process.exit(1);
  };
  const onListening = () => {
    server.removeListener('error', onError);
    listening = true;
    cb(server.address().port);
  };
  server.once('error', onError);
  server.once('listening', onListening);
  server.listen(port, '127.0.0.1');
}

function goDown() {
  if (!listening) return;
  listening = false;
  server.close();
  for (const s of sockets) s.destroy();
  note(`down: not listening on ${boundPort}`);
}

function goUp() {
  if (listening || shuttingDown) return;
  listen(boundPort, () => note(`up again on ${boundPort}`));
}

let shuttingDown = false;
function shutdown(why, code) {
  if (shuttingDown) return;
  shuttingDown = true;
  note(`stopping (${why})`);
  if (listening) server.close();
  for (const s of sockets) s.destroy();
  process.exit(code);
}

process.on('SIGTERM', () => shutdown('SIGTERM', 0));
process.on('SIGINT', () => shutdown('SIGINT', 0));
process.on('SIGHUP', () => shutdown('SIGHUP', 0));
process.on('SIGUSR1', () => {
  if (state.mode === 'down') setMode({ mode: 'ok' });
  else note('SIGUSR1: not down, nothing to do');
});
setTimeout(() => shutdown(`--max-seconds ${opts.maxSeconds} reached`, 0), opts.maxSeconds * 1000);
if (opts.parentPid > 0) {
  setInterval(() => {
    try {
      process.kill(opts.parentPid, 0);
    } catch (e) {
      if (e.code === 'ESRCH') shutdown(`parent ${opts.parentPid} is gone`, 0);
    }
  }, 250);
}

let initialMode = null;
if (opts.mode !== null) {
  try {
    initialMode = parseMode(opts.mode);
  } catch (e) {
    usage(`--mode: ${e.message}`);
  }
}

listen(opts.port, (port) => {
  boundPort = port;
  writePortFile(port);
  note(`listening on 127.0.0.1:${port}, writing to ${DIR}`);
  if (initialMode) setMode(initialMode);
});
