'use strict';
// Applies every ingest rule (rules.js, the same code as the local ingest server) to spooled
// envelope files. Usage: node check-envelopes.js FILE_OR_DIR... Prints one line per problem
// and exits 1 when there is any (or nothing to check); else a one-line summary by item type.
const fs = require('fs');
const path = require('path');
const rules = require(path.join(__dirname, 'rules.js'));

const files = [];
// A spool dir holds envelopes in run folders and ready/: walk it, skipping dot files.
const walk = (d) => {
  for (const f of fs.readdirSync(d).sort()) {
    if (f.startsWith('.')) continue;
    const p = path.join(d, f);
    if (fs.statSync(p).isDirectory()) walk(p);
    else if (f.endsWith('.envelope')) files.push(p);
  }
};
for (const a of process.argv.slice(2)) {
  if (fs.statSync(a).isDirectory()) walk(a);
  else files.push(a);
}
let bad = 0;
const types = {};
for (const f of files) {
  const r = rules.analyzeBody(fs.readFileSync(f));
  for (const p of r.problems) { console.log(`${f}: ${p}`); bad++; }
  for (const it of r.items) types[it.type] = (types[it.type] || 0) + 1;
}
if (!files.length) { console.log('no envelopes to check'); process.exit(1); }
if (bad) process.exit(1);
console.log(`valid: ${files.length} envelopes, items: ${JSON.stringify(types)}`);
