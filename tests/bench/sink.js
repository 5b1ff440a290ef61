'use strict';
// A minimal envelope sink for tests/bench/upload-drain.sh: answers every POST with 200 once
// its body is read, counts them, nothing else (tests/ingest/server.js validates every
// envelope and writes each to disk: ~2 ms of CPU per request, which would be what the bench
// measures). Usage: node sink.js DIR [--items]  (writes DIR/port once listening; SIGTERM
// stops it and writes DIR/count; with --items it also gunzips each body and counts its items
// by type, with the arrival second of every transaction, into DIR/items.json).
const http = require('http');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const dir = process.argv[2];
const items = process.argv.includes('--items');
let count = 0;
const types = {}, txnSeconds = {};
// Envelope items by type: a header line, then the payload, `length` bytes when the header
// says (the shim writes it; payloads may hold newlines) or else up to the next newline (the
// Sentry SDKs leave it out).
function countItems(body) {
  let buf;
  try { buf = zlib.gunzipSync(body); } catch (_) { buf = body; }
  let pos = buf.indexOf(10); // after the envelope header
  while (pos >= 0 && pos + 1 < buf.length) {
    const end = buf.indexOf(10, pos + 1);
    let h;
    try { h = JSON.parse(buf.toString('utf8', pos + 1, end < 0 ? buf.length : end)); } catch (_) { break; }
    if (!h || typeof h.type !== 'string' || end < 0) break;
    types[h.type] = (types[h.type] || 0) + 1;
    if (h.type === 'transaction') { const s = Math.floor(Date.now() / 1000); txnSeconds[s] = (txnSeconds[s] || 0) + 1; }
    pos = Number.isInteger(h.length) ? end + 1 + h.length : buf.indexOf(10, end + 1);
    if (pos >= buf.length || (pos >= 0 && buf[pos] !== 10)) break;
  }
}
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => { if (items) chunks.push(c); });
  req.on('end', () => {
    if (req.method === 'POST') count++;
    if (items && req.method === 'POST') countItems(Buffer.concat(chunks));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(path.join(dir, 'port.tmp'), `${server.address().port}\n`);
  fs.renameSync(path.join(dir, 'port.tmp'), path.join(dir, 'port'));
});
process.on('SIGTERM', () => {
  fs.writeFileSync(path.join(dir, 'count'), `${count}\n`);
  if (items) fs.writeFileSync(path.join(dir, 'items.json'), JSON.stringify({ envelopes: count, types, txnSeconds }));
  process.exit(0);
});
