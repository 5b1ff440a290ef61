'use strict';
// Fixture: the main thread and two workers each burn CPU in a differently named function
// for SECONDS (argv[2], default 2).
const { Worker, isMainThread, threadId } = require('worker_threads');
const seconds = Number(process.argv[2] || 2);

// Three copies of the loop on purpose: each thread's leaf function must have its own name.
function mainThreadHot(ms) { const end = Date.now() + ms; let x = 0; while (Date.now() < end) for (let i = 0; i < 5000; i++) x = (x + i * 3) % 65521; return x; }
function firstWorkerHot(ms) { const end = Date.now() + ms; let x = 0; while (Date.now() < end) for (let i = 0; i < 5000; i++) x = (x + i * 5) % 65521; return x; }
function secondWorkerHot(ms) { const end = Date.now() + ms; let x = 0; while (Date.now() < end) for (let i = 0; i < 5000; i++) x = (x + i * 7) % 65521; return x; }

if (isMainThread) {
  const ws = [1, 2].map((n) => new Worker(__filename, { argv: [String(seconds)], workerData: n }));
  mainThreadHot(seconds * 1000);
  let left = ws.length;
  for (const w of ws) w.on('exit', () => { if (--left === 0) console.log('workers done'); });
} else {
  const which = require('worker_threads').workerData;
  (which === 1 ? firstWorkerHot : secondWorkerHot)(seconds * 1000);
  void threadId;
}
