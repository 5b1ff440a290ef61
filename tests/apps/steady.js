'use strict';
// Fixture: burns CPU in steadyWork for SECONDS (argv[2], default 10) in 20 ms slices, yielding
// to the event loop between slices; writes the profiler's counters to $STATS_FILE at exit and
// creates $READY_FILE after its first 100 slices (2 s of work, however long start-up took).
const seconds = Number(process.argv[2] || 10);
function steadyWork(ms) { const end = Date.now() + ms; let x = 0; while (Date.now() < end) for (let i = 0; i < 3000; i++) x = (x + i) % 7919; return x; }
const until = Date.now() + seconds * 1000;
let slices = 0;
(function tick() {
  steadyWork(20);
  if (++slices === 100 && process.env.READY_FILE) require('fs').writeFileSync(process.env.READY_FILE, '');
  if (Date.now() < until) setImmediate(tick);
})();
process.on('exit', () => {
  if (process.env.STATS_FILE && globalThis.__sentryprof) {
    require('fs').writeFileSync(process.env.STATS_FILE, JSON.stringify(__sentryprof.stats()));
  }
  console.log('steady done');
});
