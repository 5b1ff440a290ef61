'use strict';
// Fixture: the main thread and two workers each burn at least SECONDS (argv[2], default 2) of
// their own CPU time in a differently named function, and at least 4 times what the thread
// spent before (node's or the worker's start, the Workers' creation), so that each thread's
// hot function holds >= 80% of that thread's CPU however slow its start is (under qemu-user
// a node's start is seconds of CPU, and V8's tiers differ far more in speed than on hardware,
// so a work count calibrated once at start shrank to a fraction once TurboFan's code arrived).
// The main thread is never idle: it burns in its hot function while the workers start and
// until they are done (a shared counter); on a loaded machine a wall-clock window left it
// idle for seconds, waiting for workers that started late.
// Each thread reads its own CPU clock (/proc/thread-self/stat) between blocks of about
// 100 ms of work, not in the loop: a clock read in the loop is where a loaded machine
// preempts the thread (wall-clock samples then land in the read). Where that file cannot be
// read, fixed work: the main thread's loop speed measured once, SECONDS of it for every
// thread.
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
// This thread's CPU time in ms, null where /proc/thread-self is not there. A thread, not the
// process: the three threads run at once, so the process's clock runs about three times as
// fast as each one's.
const { threadMs } = require('./thread-clock');
// Blocks of mainThreadHot per CPU millisecond, after it is compiled (process CPU: compiler
// threads only make it look slower). Only for the fixed-work fallback.
function rate() {
  for (let k = 0; k < 20; k++) mainThreadHot(10);
  const t0 = cpuMs();
  let n = 0, t = t0;
  while ((t = cpuMs()) - t0 < 20) { mainThreadHot(10); n += 10; }
  return n / (t - t0);
}
// Burns in hot until this thread has spent max(seconds, 4 x its CPU before start) of its
// own CPU time since start (its clock's reading when the hot work began; null: no clock,
// then fixed work, fallback blocks), then for as long as more() says. The clock is read
// between blocks, and a block doubles until it takes 100 ms of this thread's CPU: however
// fast the loop runs once optimized, the reads stay a few percent of the thread's time
// (under qemu-user one read is milliseconds of node's fs code).
function burn(hot, start, fallback, more) {
  let block = 10;
  if (start === null) {
    hot(fallback);
  } else {
    const want = Math.max(seconds * 1000, 4 * start);
    for (let last = start, now; last - start < want; last = now) {
      hot(block);
      now = threadMs();
      if (now - last < 100) block *= 2;
    }
  }
  while (more()) hot(block);
}

if (isMainThread) {
  const n = Math.round(seconds * 1000 * rate()), ms = Math.max(1, Math.round(n / seconds / 1000));
  const state = new Int32Array(new SharedArrayBuffer(8)); // [workers up, workers done]
  const ws = [1, 2].map((which) => new Worker(__filename, { workerData: { which, n, state } }));
  const start = threadMs(); // node's start and the Workers' creation are behind
  while (Atomics.load(state, 0) < ws.length) mainThreadHot(ms);
  burn(mainThreadHot, start, n, () => Atomics.load(state, 1) < ws.length);
  let left = ws.length;
  for (const w of ws) w.on('exit', () => { if (--left === 0) console.log('workers done'); });
} else {
  const hot = workerData.which === 1 ? firstWorkerHot : secondWorkerHot;
  const start = threadMs(); // the worker's start is behind
  Atomics.add(workerData.state, 0, 1);
  burn(hot, start, workerData.n, () => false);
  Atomics.add(workerData.state, 1, 1);
}
