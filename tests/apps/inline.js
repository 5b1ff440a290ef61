'use strict';
// Fixture for tests/e2e/v8_inline.sh: a() calls b() on CALL_B and c() on CALL_C, both small
// enough that TurboFan (and Maglev) inline them into a(). b() does about twice the work of
// c(), by count. It runs a calibrated number of rounds for about SECONDS (default 2) of CPU
// time: the clock is read only while calibrating, never in the measured loop.
function b(x) {
  let s = 0;
  for (let i = 0; i < 60; i++) s = (s + x * i) % 1000003; // B_BODY
  return s;
}

function c(x) {
  let s = 1;
  for (let i = 0; i < 30; i++) s = (s * 31 + x + i) % 1000033; // C_BODY
  return s;
}

function a(n) {
  let t = 0;
  for (let i = 0; i < n; i++) {
    t += b(i); // CALL_B
    t += c(i); // CALL_C
  }
  return t;
}

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const seconds = Number(process.argv[2] || 2);
let rounds = 1, spent = 0;
for (;;) { // calibration: double until one batch takes >= 100 ms of CPU
  const t0 = cpuMs();
  a(rounds);
  spent = cpuMs() - t0;
  if (spent >= 100 || rounds >= 1 << 24) break;
  rounds *= 2;
}
const total = Math.max(1, Math.round((seconds * 1000 * rounds) / Math.max(spent, 1)));
let sum = 0;
for (let done = 0; done < total; done += rounds) sum += a(Math.min(rounds, total - done));
console.log(sum > 0 ? 'done' : 'nothing ran');
