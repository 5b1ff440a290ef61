'use strict';
// Fixture for tests/e2e/v8_leaf.sh: an interpreted leaf. outer() calls inner(), and both
// spend their time in their own bytecode (no builtin call in the loops): 7 work units in
// inner for every 3 in outer, so the split between the two is about 70:30 however busy
// the machine is. A bytecode handler runs on the interpreted frame without building one
// of its own, so a frame-pointer walk from it starts at inner's caller. It runs a
// calibrated number of rounds for about SECONDS (default 2) of CPU time: the clock is read
// only while calibrating, never in the measured loop.
const UNIT = 50;

function inner(units) {
  let s = 0;
  for (let i = 0; i < units * UNIT; i++) s = (s * 31 + i) % 1000003;
  return s;
}

function outer(n) {
  let s = 0;
  for (let j = 0; j < n; j++) {
    s += inner(7);
    for (let i = 0; i < 3 * UNIT; i++) s = (s * 31 + i) % 1000003;
  }
  return s;
}

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const seconds = Number(process.argv[2] || 2);
let rounds = 1, spent = 0;
for (;;) { // calibration: double until one batch takes >= 100 ms of CPU
  const t0 = cpuMs();
  outer(rounds);
  spent = cpuMs() - t0;
  if (spent >= 100 || rounds >= 1 << 20) break;
  rounds *= 2;
}
const total = Math.max(1, Math.round((seconds * 1000 * rounds) / Math.max(spent, 1)));
let sum = 0;
for (let done = 0; done < total; done += rounds) sum += outer(Math.min(rounds, total - done));
console.log(sum > 0 ? 'done' : 'nothing ran');
