'use strict';
// Fidelity fixture: a small app of JS functions of different kinds, run in each V8 tier by
// the flags in tests/fidelity/fixtures.txt (interpreter only, Sparkplug only, --jitless,
// default tiering). A call tree three deep (runBatch -> step -> leaf) so inclusive time
// differs from self time; leaves of four kinds, picked 4:3:2:1 in a random order:
//   checksum    pure JS arithmetic (self time in the function itself)
//   parseRecords JSON.parse, a builtin the function calls
//   renderRows  template literals and join, string builtins
//   sortByKey   Array.prototype.sort with a JS comparator (byKey, called from the builtin)
// Usage: node mixed.js [SECONDS=3]   (about SECONDS of CPU time)
const { runFor, chooser } = require('./common');

const text = JSON.stringify(Array.from({ length: 64 }, (_, i) => ({ id: i, name: `item${i}`, tags: ['a', 'b'] })));
const rows = Array.from({ length: 64 }, (_, i) => ({ id: i, name: `row${i}`, price: i * 1.25 }));
const keys = Array.from({ length: 256 }, (_, i) => ({ k: (i * 7919) % 257 }));

function checksum(n) {
  let h = 0;
  for (let i = 0; i < n; i++) h = (h * 31 + i) % 1000003;
  return h;
}

function parseRecords() {
  return JSON.parse(text).length;
}

function renderRows() {
  const out = [];
  for (const r of rows) out.push(`<tr><td>${r.id}</td><td>${r.name}</td><td>${r.price.toFixed(2)}</td></tr>`);
  return out.join('').length;
}

function byKey(a, b) {
  return a.k - b.k;
}

function sortByKey() {
  return keys.slice().sort(byKey)[0].k;
}

const leaves = [() => checksum(4000), parseRecords, renderRows, sortByKey];
const pick = chooser([4, 3, 2, 1]);

function step() {
  return leaves[pick()]();
}

function runBatch(rounds) {
  let k = 0;
  for (let i = 0; i < rounds; i++) k += step();
  return k;
}

const sink = runFor(Number(process.argv[2] || 3), runBatch);
console.log(sink > 0 ? 'done' : 'nothing ran');
