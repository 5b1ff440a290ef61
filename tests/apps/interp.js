'use strict';
// Fixture for tests/e2e/v8_interpreted.sh: two functions that stay in V8's interpreter
// (the test runs node with --no-opt --no-sparkplug --no-maglev) and spend their time in a
// builtin they call (JSON.parse), 7 calls in parseHot for every 3 in parseWarm, for
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

const seconds = Number(process.argv[2] || 2);
const end = cpuMs() + seconds * 1000;
let total = 0;
while (cpuMs() < end) total += parseHot(7) + parseWarm(3);
console.log(total > 0 ? 'done' : 'nothing ran');
