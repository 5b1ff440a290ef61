'use strict';
// Fixture for tests/e2e/v8_lines.sh: one function whose time sits on two known lines, 7
// work units on LINE_A for every 3 on LINE_B (the same unit, a JSON.parse, on both), so
// the split between the two lines is 70:30 however busy the machine is. It runs a
// calibrated number of rounds for about SECONDS (default 2) of CPU time: the clock is read
// only while calibrating, never in the measured loop.
const text = JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item${i}`, tags: ['a', 'b'] })));

function work(n) {
  let k = 0;
  for (let i = 0; i < 7 * n; i++) k += JSON.parse(text).length; // LINE_A
  for (let i = 0; i < 3 * n; i++) k += JSON.parse(text).length; // LINE_B
  return k;
}

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const seconds = Number(process.argv[2] || 2);
let rounds = 1, spent = 0;
for (;;) { // calibration: double until one batch takes >= 100 ms of CPU
  const t0 = cpuMs();
  work(rounds);
  spent = cpuMs() - t0;
  if (spent >= 100 || rounds >= 1 << 20) break;
  rounds *= 2;
}
const total = Math.max(1, Math.round((seconds * 1000 * rounds) / Math.max(spent, 1)));
let sum = 0;
for (let done = 0; done < total; done += rounds) sum += work(Math.min(rounds, total - done));
console.log(sum > 0 ? 'done' : 'nothing ran');
