'use strict';
// Fidelity fixture: samples inside glibc. copyBlocks() and compareBlocks() spend their
// time in Buffer#copy and Buffer.compare, which node's C++ runs as memmove and memcmp in
// glibc (built without frame pointers: a frame-pointer walk from a sample there loses its
// callers). jsWork() is plain JS beside them, for contrast. Units 2:2:1 in a random order.
// Usage: node glibc.js [SECONDS=3]
const { runFor, chooser } = require('./common');

const SIZE = 256 * 1024;
const a = Buffer.alloc(SIZE, 1);
const b = Buffer.alloc(SIZE, 1);
const dst = Buffer.alloc(SIZE);

function copyBlocks(n) {
  let k = 0;
  for (let i = 0; i < n; i++) k += a.copy(dst, 0, 0, SIZE - (i & 7));
  return k;
}

function compareBlocks(n) {
  let k = 0;
  for (let i = 0; i < n; i++) k += Buffer.compare(a, b) + 1;
  return k;
}

function jsWork(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x + i * 3) % 65521;
  return x;
}

const pick = chooser([2, 2, 1]);
function batch(rounds) {
  let k = 0;
  for (let i = 0; i < rounds; i++) {
    switch (pick()) {
      case 0: k += copyBlocks(4); break;
      case 1: k += compareBlocks(4); break;
      default: k += jsWork(100000); break;
    }
  }
  return k;
}

const sink = runFor(Number(process.argv[2] || 3), batch);
console.log(sink > 0 ? 'done' : 'nothing ran');
