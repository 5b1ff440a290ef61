'use strict';
// Fixture: about 70% of the CPU in hotLoop, about 30% in warmLoop, for SECONDS (default 3).
// Work is cut into 50 ms rounds (35 ms + 15 ms) by the clock, so the split holds on slow and
// fast machines; the round is far from the 10.1 ms sampling period, so the two do not alias.
const { performance } = require('perf_hooks');

function hotLoop(ms) {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 2000; i++) x = (x * 31 + i) % 1000003;
  }
  return x;
}

function warmLoop(ms) {
  const end = performance.now() + ms;
  let s = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 2000; i++) s = (s + i * 7) % 999983;
  }
  return s;
}

const seconds = Number(process.env.SECONDS_TO_RUN || process.argv[2] || 3);
const until = performance.now() + seconds * 1000;
let acc = 0;
while (performance.now() < until) {
  acc += hotLoop(35);
  acc += warmLoop(15);
}
console.log(`hot.js done ${acc > 0 ? 'ok' : 'ok'}`);
