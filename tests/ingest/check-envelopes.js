'use strict';
// Applies every ingest rule (rules.js, the same code as the local ingest server) to spooled
// envelopes. Usage: node check-envelopes.js FILE_OR_DIR... A spool dir is walked, and a batch
// file (*.envelopes) checked record by record (spoolfile.js; a torn tail is ignored). Prints
// one line per problem and exits 1 when there is any (or nothing to check); else a one-line
// summary by item type.
const path = require('path');
const rules = require(path.join(__dirname, 'rules.js'));
const { listSpoolFiles, readSpoolFile } = require(path.join(__dirname, 'spoolfile.js'));

const files = listSpoolFiles(...process.argv.slice(2));
let bad = 0, envelopes = 0, torn = 0;
const types = {};
for (const file of files) {
  let f;
  try {
    f = readSpoolFile(file);
  } catch (e) {
    console.log(e.message); // a batch whose header is not format 1, or an unreadable file
    bad++;
    continue;
  }
  if (f.torn) torn++;
  for (const e of f.envelopes) {
    envelopes++;
    const r = rules.analyzeBody(e.buf);
    for (const p of r.problems) { console.log(`${e.name}: ${p}`); bad++; }
    for (const it of r.items) types[it.type] = (types[it.type] || 0) + 1;
  }
}
if (bad) process.exit(1);
if (!envelopes) { console.log('no envelopes to check'); process.exit(1); }
console.log(`valid: ${envelopes} envelopes in ${files.length} files${torn ? ` (torn batch tails ignored: ${torn})` : ''}, ` +
  `items: ${JSON.stringify(types)}`);
