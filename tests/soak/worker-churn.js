'use strict';
// tests/soak/workers.sh: N workers (argv[2]), C alive at a time (argv[3]), each terminated
// at a pseudo-random moment or left to finish. The schedule comes from a seeded generator,
// so a run with the shim and one without do the same things; stdout says only what does
// not depend on timing (the two runs must print the same). The process's resources (with
// and without the shim: node's own growth is the reference) are measured after the first
// WARM workers (the baseline: node's own pools and caches are warm by then) and after the
// last one, and written as JSON to argv[4]:
// rss and the profiler's arena (the least of 20 readings over 1 s, after a GC: a chunk
// being encoded is transient, a leak raises the floor), open fds, POSIX timers
// (/proc/self/timers), the queued signals of this user (SigQ), the sampler's thread slots
// and its registrations; and the fds opened since the baseline, split by fixture-lib newFds.
const { Worker } = require('worker_threads');
const fs = require('fs');
const { newFds, probe } = require('./fixture-lib');

const N = Number(process.argv[2]);
const C = Number(process.argv[3]);
const OUT = process.argv[4];
const WARM = Math.min(500, Math.floor(N / 10));

let seed = 20;
const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };

// A worker burns CPU for its ms (argv of the eval'd script: workerData) in small steps,
// so that the 1 kHz timer samples it, then says so and ends.
const src = `const { parentPort, workerData } = require('worker_threads');
function burn(ms) { const end = Date.now() + ms; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); return x; }
parentPort.postMessage(burn(workerData));`;

function one() {
  return new Promise((res) => {
    const r = rand();
    const w = new Worker(src, { eval: true, workerData: Math.floor(rand() * 40) });
    // 5%: terminated before it ran a line; 70%: at a random moment of 0-40 ms (while it
    // starts, runs or ends); the rest run to their end.
    if (r < 0.05) w.terminate();
    else if (r < 0.75) setTimeout(() => w.terminate(), Math.floor(rand() * 40));
    w.on('message', () => {});
    w.on('error', (e) => { process.stderr.write(`worker error: ${e && e.message}\n`); res(); });
    w.on('exit', () => res());
  });
}

function timers() {
  try { return fs.readFileSync('/proc/self/timers', 'utf8').split('\n').filter((l) => l.startsWith('ID:')).length; } catch (_) { return -1; }
}
function sigq() {
  const m = fs.readFileSync('/proc/self/status', 'utf8').match(/SigQ:\s+(\d+)/);
  return m ? Number(m[1]) : -1;
}
async function snap(done) {
  if (global.gc) global.gc();
  let rss = Infinity, arena = Infinity;
  for (let k = 0; k < 20; k++) {
    rss = Math.min(rss, process.memoryUsage().rss);
    if (globalThis.__sentryprof) arena = Math.min(arena, globalThis.__sentryprof.stats().memory_bytes);
    await new Promise((r) => setTimeout(r, 50));
  }
  const s = globalThis.__sentryprof ? globalThis.__sentryprof.stats() : {};
  // fixture-lib's probe: the open fds, what each is and the mapped files, so that newFds
  // tells the fds the profiler keeps for the process's life (an ELF reader per mapped
  // object, a debug file) from a leak.
  const p = probe();
  return { done, rss, arena, fds: p.fds, pid: p.pid, fd_targets: p.fd_targets,
    mapped_files: p.mapped_files, timers: timers(), sigq: sigq(),
    threads: s.threads, registered: s.threads_registered, unregistered: s.threads_unregistered,
    signals: s.signals, samples: s.samples, timer_errors: s.timer_errors };
}

(async () => {
  const t0 = Date.now();
  let started = 0, exited = 0;
  const snaps = [];
  const running = new Set();
  while (started < N) {
    // The baseline once the first WARM have all exited: looked at before starting more (the
    // loop below starts the next ones as soon as none is running).
    if (started === WARM && running.size === 0 && !snaps.length) snaps.push(await snap(started));
    while (running.size < C && started < N && !(started === WARM && running.size)) {
      const p = one().then(() => { exited++; running.delete(p); });
      running.add(p);
      started++;
    }
    if (running.size) await Promise.race(running);
  }
  await Promise.all(running);
  snaps.push(await snap(started));
  console.log(`churn: ${started} workers started, ${exited} exited`);
  if (OUT) fs.writeFileSync(OUT, JSON.stringify({ seconds: (Date.now() - t0) / 1000, base: snaps[0], end: snaps[1], fds_new: snaps[1] && newFds(snaps[1], snaps[0]) }));
})();
