'use strict';
// Fixture for tests/e2e/v8_interpreted.sh: two functions that stay in V8's interpreter
// (the test runs node with --no-opt --no-sparkplug --no-maglev) and spend their time in a
// builtin they call (JSON.parse), 7 calls in parseHot for every 3 in parseWarm (in random order), for
// SECONDS of CPU time (default 2). The same work unit on both sides keeps the 7:3 split
// however busy the machine is; CPU time, not wall time, bounds the run.
const text = JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item${i}`, tags: ['a', 'b'] })));

function parseHot(n) {
  let k = 0;
  for (let i = 0; i < n; i++) k += JSON.parse(text).length;
  return k;
}

function parseWarm(n) {
  let k = 0;
  for (let i = 0; i < n; i++) k += JSON.parse(text).length;
  return k;
}

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

// The order of the units is random (7 in 10 to parseHot): a fixed cycle can line up with
// a sampler's period on a loaded machine (a CPU-clock timer fires on the kernel tick) and
// give both samplers, each in its own way, a split far from 7:3 (65% vs 76% seen in CI).
// A small linear congruential generator, not Math.random: no call into a builtin of ours.
const seconds = Number(process.argv[2] || 2);
const end = cpuMs() + seconds * 1000;
let total = 0;
let seed = 12345;
while (cpuMs() < end) {
  for (let j = 0; j < 10; j++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    total += (seed >>> 8) % 10 < 7 ? parseHot(1) : parseWarm(1);
  }
}
console.log(total > 0 ? 'done' : 'nothing ran');
