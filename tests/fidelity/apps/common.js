'use strict';
// Shared by the fidelity fixtures (tests/fidelity/run.sh): a fixed amount of work worth
// about SECONDS of the calling thread's CPU time, measured once, and a deterministic
// chooser of work units.
// The clock is read only while calibrating, never in the measured loop (a clock read in a
// hot loop is a native call both profilers would see); units are picked in a random order
// (a small LCG, not Math.random) so no fixed cycle aliases with either sampler's period.

// CPU time of the calling thread (ms): /proc/thread-self/schedstat's first field (ns on
// the CPU), so a worker's calibration is not inflated by the other threads of the process
// (the main thread, V8's profiler thread, the shim's agent, GC helpers), as
// process.cpuUsage() would be. process.cpuUsage() where /proc does not have it.
const fs = require('fs');
let schedstat = true;
function cpuMs() {
  if (schedstat) {
    try {
      return Number(fs.readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]) / 1e6;
    } catch {
      schedstat = false;
    }
  }
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

// Runs batch(rounds) with rounds doubled until one call takes >= 100 ms of CPU, then calls
// batch(rounds) as many times as make up `seconds` of CPU. Returns the sum of the results
// (printed by the fixture, so no work is dead code). The calibration calls warm the
// functions up in whatever tier the flags allow, as the measured calls run them.
function runFor(seconds, batch) {
  let rounds = 1, spent = 0, sink = 0;
  for (;;) {
    const t0 = cpuMs();
    sink += batch(rounds);
    spent = cpuMs() - t0;
    if (spent >= 100 || rounds >= 1 << 24) break;
    rounds *= 2;
  }
  const calls = Math.max(1, Math.round((seconds * 1000) / Math.max(spent, 1)));
  for (let i = 0; i < calls; i++) sink += batch(rounds);
  return sink;
}

// A chooser of unit indexes by integer weights: pick() returns i with probability
// weights[i] / sum(weights), from a linear congruential generator with a fixed seed.
function chooser(weights, seed = 12345) {
  const table = [];
  weights.forEach((w, i) => { for (let k = 0; k < w; k++) table.push(i); });
  let s = seed;
  return function pick() {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return table[(s >>> 8) % table.length];
  };
}

module.exports = { cpuMs, runFor, chooser };
