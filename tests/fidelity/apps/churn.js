'use strict';
// Fidelity fixture: worker churn. The main thread keeps two short-lived workers running,
// one after the other, until it has started WORKERS of them (SECONDS / 0.25, at least 8);
// each worker compiles its own copies of the functions, runs ~250 ms of CPU in them
// (interpreted at first, then in whatever tier V8 moves them to) and exits, so isolates,
// their code and their heaps come and go under the decoder while the main thread runs its
// own mix. With GC stress flags (run.sh's FIDELITY_NODE_FLAGS="--stress-compaction" or
// "--gc-interval=100") objects move between the shim's capture and its decode: what is
// judged is that no frame names a function that did not run (compare.js: "frames V8 never
// names") and that nothing crashes.
// Usage: node churn.js [SECONDS=3]   (about SECONDS of CPU on the main thread)
const { Worker, isMainThread, workerData } = require('worker_threads');
const { runFor, chooser } = require('./common');
const seconds = Number(process.argv[2] || 3);

function digits(n) {
  let len = 0;
  for (let i = 0; i < n; i++) len += String(i * 7).length;
  return len;
}

function records(n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push({ id: i, name: `r${i}`, v: i * 1.5 });
  return JSON.stringify(out).length;
}

function fold(n) {
  let h = 0;
  for (let i = 0; i < n; i++) h = (h * 33 + i) % 1000003;
  return h;
}

const units = [() => digits(300), () => records(40), () => fold(3000)];

function churnBatch(rounds) {
  const pick = chooser([3, 2, 5], 777 + rounds);
  let k = 0;
  for (let i = 0; i < rounds; i++) k += units[pick()]();
  return k;
}

if (isMainThread) {
  const total = Math.max(8, Math.round(seconds / 0.25));
  let started = 0, finished = 0, sink = 0, busy = true;
  const start = () => {
    if (started >= total) return;
    started++;
    const w = new Worker(__filename, { workerData: { seconds: 0.25 } });
    w.on('message', (m) => { sink += m; });
    w.on('error', (e) => { console.error(e); process.exitCode = 1; });
    w.on('exit', () => {
      finished++;
      if (finished === total) busy = false;
      start();
    });
  };
  start();
  start();
  // The main thread's own work, in slices, so the workers' events are handled between them.
  const tick = () => {
    sink += runFor(0.05, churnBatch);
    if (busy) setImmediate(tick);
    else console.log(sink > 0 ? 'done' : 'nothing ran');
  };
  tick();
} else {
  const { parentPort } = require('worker_threads');
  parentPort.postMessage(runFor(workerData.seconds, churnBatch));
}
