'use strict';
// Idle lazy: no transaction, the event loop wakes on a timer every 100 ms for BENCH_SECONDS
// (default 10). In transaction mode with lazy logging no timer is armed, so no signal may
// arrive. Prints the counters as one JSON line.
const { profiler, cpuNs } = require('./workload');

const p = profiler();
const seconds = Number(process.env.BENCH_SECONDS || 10);
const s0 = p.stats(), c0 = cpuNs();
const end = Date.now() + seconds * 1000;
let ticks = 0;
function tick() {
  ticks++;
  if (Date.now() < end) { setTimeout(tick, 100); return; }
  const s1 = p.stats();
  let timers = -1;
  try { timers = (require('fs').readFileSync('/proc/self/timers', 'utf8').match(/^ID:/gm) || []).length; } catch (_) { /* no procfs */ }
  process.stdout.write(JSON.stringify({ bench: 'idle', seconds, ticks, cpu_ns: cpuNs() - c0,
    signals: s1.signals, signals_during: s1.signals - s0.signals, posix_timers: timers,
    agent_cpu_ns_during: s1.agent_cpu_ns - s0.agent_cpu_ns, stats: s1 }) + '\n');
}
setTimeout(tick, 100);
