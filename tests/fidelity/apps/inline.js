'use strict';
// Fidelity fixture: small functions TurboFan inlines into their hot caller. mix() and
// fold() are a few arithmetic operations each, called in hashAll()'s loop: once hashAll is
// optimized they exist only inside its code, and V8's profiler can still put their time
// on them (its inlining positions). A profiler that reads only the code object's name
// gives their time to hashAll. V8's own profiler does so on Node 26 (mix ~60% self); on
// Node 18-24 it keeps such a pure-arithmetic inlined leaf in its caller (hashAll ~97%),
// with or without the shim: against those, naming mix is a difference too.
// Usage: node inline.js [SECONDS=3]
const { runFor } = require('./common');

const data = Int32Array.from({ length: 4096 }, (_, i) => (i * 2654435761) | 0);

function mix(h, k) {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fold(h) {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h;
}

function hashAll(rounds) {
  let acc = 0;
  for (let r = 0; r < rounds; r++) {
    let h = r;
    for (let i = 0; i < data.length; i++) {
      h = mix(h, data[i]);
      if ((i & 7) === 0) h = fold(h);
    }
    acc = (acc + h) | 0;
  }
  return acc;
}

const sink = runFor(Number(process.argv[2] || 3), (n) => hashAll(n) | 1);
console.log(sink !== 0 ? 'done' : 'nothing ran');
