'use strict';
// Fidelity fixture: frameless builtins in a worker. The worker's JS functions each spend
// their time in a builtin that, on a fast path, runs without building a frame of its own
// (or calls back into JS): String(i), JSON.stringify, a regular expression, and
// Array.prototype.sort with a JS comparator. A profiler that walks frame pointers from a
// sample inside such a builtin loses the JS function that called it. The main thread runs
// its own mix meanwhile (so each thread is matched with its own V8 profile) until the
// worker is done.
// Usage: node builtins-worker.js [SECONDS=3]   (about SECONDS of CPU per thread)
const { Worker, isMainThread, workerData } = require('worker_threads');
const { runFor, chooser } = require('./common');
const seconds = Number(process.argv[2] || 3);

function toStrings(n) {
  let len = 0;
  for (let i = 0; i < n; i++) len += String(i).length;
  return len;
}

const obj = { id: 7, name: 'fidelity', tags: ['a', 'b', 'c'], nested: { x: 1.5, y: [1, 2, 3], z: null } };
function stringify(n) {
  let len = 0;
  for (let i = 0; i < n; i++) len += JSON.stringify(obj).length;
  return len;
}

const text = 'lorem ipsum dolor sit amet, user42@example.com consectetur 2026-12-05 adipiscing elit '.repeat(8);
const re = /([a-z0-9]+)@([a-z]+)\.com|(\d{4})-(\d{2})-(\d{2})/g;
function regexScan(n) {
  let hits = 0;
  for (let i = 0; i < n; i++) {
    re.lastIndex = 0;
    while (re.exec(text) !== null) hits++;
  }
  return hits;
}

const nums = Array.from({ length: 200 }, (_, i) => (i * 7919) % 1009);
function compareNums(a, b) {
  return a - b;
}
function sortNumbers(n) {
  let s = 0;
  for (let i = 0; i < n; i++) s += nums.slice().sort(compareNums)[i % 200];
  return s;
}

const workerPick = chooser([1, 1, 1, 1]);
function workerBatch(rounds) {
  const pick = workerPick;
  let k = 0;
  for (let i = 0; i < rounds; i++) {
    switch (pick()) {
      case 0: k += toStrings(400); break;
      case 1: k += stringify(40); break;
      case 2: k += regexScan(4); break;
      default: k += sortNumbers(4); break;
    }
  }
  return k;
}

function mainSpin(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x + i * 3) % 65521;
  return x;
}
function mainFormat(n) {
  let len = 0;
  for (let i = 0; i < n; i++) len += `${i}:${i * 2}`.length;
  return len;
}

if (isMainThread) {
  const state = new Int32Array(new SharedArrayBuffer(4)); // 1 when the worker is done
  const w = new Worker(__filename, { workerData: { state } });
  const pick = chooser([2, 1]);
  // The main thread stays busy until the worker is done: a fixed amount of work first,
  // then short units while it waits (an idle main thread would be all event-loop wait).
  let sink = runFor(seconds, (rounds) => {
    let k = 0;
    for (let i = 0; i < rounds; i++) k += pick() === 0 ? mainSpin(2000) : mainFormat(100);
    return k;
  });
  while (Atomics.load(state, 0) === 0) sink += mainSpin(20000) + mainFormat(1000);
  w.on('exit', () => console.log(sink > 0 ? 'done' : 'nothing ran'));
} else {
  runFor(seconds, workerBatch);
  Atomics.store(workerData.state, 0, 1);
}
