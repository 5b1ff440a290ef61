'use strict';
// Fixture: WORKERS (argv[2], default 16) workers started at once, each burning SECONDS
// (argv[3], default 0.1) of its own CPU time in inner(), called from outer(), called once
// from workerMain(), called once from the worker's script: workerMain and the script stay
// in V8's interpreter. So many isolates at once take code ranges in many places; those far
// from node's builtins get a copy of them (V8's short builtin calls: 2-3 of 16 on Node 18),
// and their interpreted frames run in that copy of the interpreter's entry. The workers
// stay until 0.3 s after the last one is done, so the profiler reads their heaps while they
// exist (a worker's end is another test's subject). Prints "done".
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const { threadMs } = require('./thread-clock'); // null: no thread clock, then fixed work

function inner(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x + i * 7) % 65521;
  return x;
}

function outer(ms) {
  const t0 = threadMs();
  let sink = 0;
  for (let k = 0; ; k++) {
    sink += inner(20000);
    if (t0 === null ? k >= ms * 20 : k % 16 === 15 && threadMs() - t0 >= ms) break;
  }
  return sink;
}

function workerMain(seconds) {
  return outer(seconds * 1000);
}

if (isMainThread) {
  const n = Number(process.argv[2] || 16), seconds = Number(process.argv[3] || 0.1);
  const workers = [];
  let done = 0;
  for (let i = 0; i < n; i++) {
    const w = new Worker(__filename, { workerData: { seconds } });
    w.on('error', (e) => { console.error(e); process.exitCode = 1; });
    w.on('message', () => {
      if (++done < n) return;
      setTimeout(() => workers.forEach((x) => x.postMessage('exit')), 300);
    });
    workers.push(w);
  }
  process.on('exit', () => { if (done === n) console.log('done'); });
} else {
  parentPort.postMessage(workerMain(workerData.seconds));
  parentPort.once('message', () => process.exit(0));
}
