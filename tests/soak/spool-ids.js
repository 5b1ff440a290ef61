'use strict';
// The envelopes in a spool (run folders, ready/, sending/) for tests/soak/kill9.sh: prints
// {"files", "unreadable", "torn", "ids": [event_id of each envelope header]} as JSON.
const path = require('path');
const { listSpoolFiles, readSpoolFile } = require(path.join(__dirname, '..', 'ingest', 'spoolfile.js'));
const out = { files: 0, unreadable: [], torn: 0, ids: [] };
for (const file of listSpoolFiles(process.argv[2])) {
  out.files++;
  let f;
  try { f = readSpoolFile(file); } catch (e) {
    if (e.code === 'ENOENT') { out.vanished = (out.vanished || 0) + 1; continue; } // claimed and sent meanwhile
    out.unreadable.push(`${file}: ${e.message}`);
    continue;
  }
  if (f.torn) out.torn++;
  for (const e of f.envelopes) {
    const nl = e.buf.indexOf(10);
    try { out.ids.push(JSON.parse(e.buf.slice(0, nl < 0 ? e.buf.length : nl).toString('utf8')).event_id); } catch (err) { out.unreadable.push(`${e.name}: header ${err.message}`); }
  }
}
console.log(JSON.stringify(out));
