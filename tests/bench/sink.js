'use strict';
// A minimal envelope sink for tests/bench/upload-drain.sh: answers every POST with 200 once
// its body is read, counts them, nothing else (tests/ingest/server.js validates every
// envelope and writes each to disk: ~2 ms of CPU per request, which would be what the bench
// measures). Usage: node sink.js DIR  (writes DIR/port once listening; SIGTERM stops it and
// writes DIR/count).
const http = require('http');
const fs = require('fs');
const path = require('path');
const dir = process.argv[2];
let count = 0;
const server = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    if (req.method === 'POST') count++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(path.join(dir, 'port.tmp'), `${server.address().port}\n`);
  fs.renameSync(path.join(dir, 'port.tmp'), path.join(dir, 'port'));
});
process.on('SIGTERM', () => { fs.writeFileSync(path.join(dir, 'count'), `${count}\n`); process.exit(0); });
