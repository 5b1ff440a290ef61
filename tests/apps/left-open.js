// Issue #20 item 6: workers that start transactions and are terminated with them still
// running (usage: left-open.js WORKERS PER_WORKER). Prints one JSON line: the starts that
// got a handle in each worker, whether the main thread can still start one afterwards, and
// the counters.
const { Worker } = require('worker_threads');
const workers = Number(process.argv[2] || 4), per = Number(process.argv[3] || 400);
const src = `const sp = globalThis.__sentryprof; let ok = 0;
for (let i = 0; i < ${per}; i++) { if (sp.startTransaction({ name: 'left open', sampled: true })._h >= 0) ok++; }
require('worker_threads').parentPort.postMessage(ok); setInterval(() => {}, 1000);`;
(async () => {
  const started = [];
  for (let k = 0; k < workers; k++) {
    const w = new Worker(src, { eval: true });
    started.push(await new Promise((resolve) => w.once('message', resolve)));
    await w.terminate();
  }
  const sp = globalThis.__sentryprof;
  const t = sp.startTransaction({ name: 'after the workers', sampled: true });
  const st = sp.stats();
  console.log(JSON.stringify({ started, after: t._h >= 0, abandoned: st.transactions_abandoned,
    table_full: st.transactions_table_full }));
  t.discard();
})();
