'use strict';
// Fixture: the main thread and two workers each burn SECONDS (argv[2], default 2) of CPU time
// in a differently named function. Fixed work, not a wall-clock window: the main thread
// measures its loop's speed once and every thread runs that many iterations, the workers
// from when both are up. The main thread is never idle: it burns in its hot function while
// the workers start and until they are done (a shared counter). On a loaded machine a
// wall-clock window left it idle for seconds, waiting for workers that started late; now
// each thread's hot function keeps its share of that thread's samples.
const { Worker, isMainThread, workerData } = require('worker_threads');
const seconds = Number(process.argv[2] || 2);

// Three copies of the loop on purpose: each thread's leaf function must have its own name.
// Work comes in blocks of 10^4 iterations, so i stays a small integer (past 2^31 V8 would
// switch to slower double arithmetic, and the threads would no longer run at one speed).
const B = 1e4;
function mainThreadHot(blocks) { let x = 0; for (let b = 0; b < blocks; b++) for (let i = 0; i < B; i++) x = (x + i * 3) % 65521; return x; }
function firstWorkerHot(blocks) { let x = 0; for (let b = 0; b < blocks; b++) for (let i = 0; i < B; i++) x = (x + i * 5) % 65521; return x; }
function secondWorkerHot(blocks) { let x = 0; for (let b = 0; b < blocks; b++) for (let i = 0; i < B; i++) x = (x + i * 7) % 65521; return x; }

function cpuMs() { const u = process.cpuUsage(); return (u.user + u.system) / 1000; }
// Blocks of mainThreadHot per CPU millisecond (the workers' copies run as fast).
function rate() {
  for (let k = 0; k < 20; k++) mainThreadHot(10);
  const t0 = cpuMs();
  let n = 0, t = t0;
  while ((t = cpuMs()) - t0 < 20) { mainThreadHot(10); n += 10; }
  return n / (t - t0);
}

if (isMainThread) {
  const r = rate(), n = Math.round(seconds * 1000 * r), ms = Math.ceil(r); // ~1 ms of work
  const state = new Int32Array(new SharedArrayBuffer(8)); // [workers up, workers done]
  const ws = [1, 2].map((which) => new Worker(__filename, { workerData: { which, n, state } }));
  while (Atomics.load(state, 0) < ws.length) mainThreadHot(ms);
  mainThreadHot(n);
  while (Atomics.load(state, 1) < ws.length) mainThreadHot(ms);
  let left = ws.length;
  for (const w of ws) w.on('exit', () => { if (--left === 0) console.log('workers done'); });
} else {
  const hot = workerData.which === 1 ? firstWorkerHot : secondWorkerHot;
  for (let k = 0; k < 20; k++) hot(10); // compiled before the count starts, as in rate()
  Atomics.add(workerData.state, 0, 1);
  hot(workerData.n);
  Atomics.add(workerData.state, 1, 1);
}
