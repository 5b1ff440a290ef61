'use strict';
// Fixture: burns CPU in steadyWork for SECONDS (argv[2], default 10) in 20 ms slices, yielding
// to the event loop between slices; writes the profiler's counters to $STATS_FILE at exit.
const seconds = Number(process.argv[2] || 10);
function steadyWork(ms) { const end = Date.now() + ms; let x = 0; while (Date.now() < end) for (let i = 0; i < 3000; i++) x = (x + i) % 7919; return x; }
const until = Date.now() + seconds * 1000;
(function tick() {
  steadyWork(20);
  if (Date.now() < until) setImmediate(tick);
})();
process.on('exit', () => {
  if (process.env.STATS_FILE && globalThis.__sentryprof) {
    require('fs').writeFileSync(process.env.STATS_FILE, JSON.stringify(__sentryprof.stats()));
  }
  console.log('steady done');
});
