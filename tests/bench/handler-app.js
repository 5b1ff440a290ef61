'use strict';
// Handler cost: run the ~40-frame workload flat out for BENCH_SECONDS (default 10) under
// SENTRYPROF_HZ=1000, then print the profiler's counters as one JSON line.
const { work, profiler, cpuNs, machine, machineDelta, sinkValue } = require('./workload');

const p = profiler();
const seconds = Number(process.env.BENCH_SECONDS || 10);
const m0 = machine();
const t0 = process.hrtime.bigint();
const end = t0 + BigInt(Math.round(seconds * 1e9));
let units = 0;
while (process.hrtime.bigint() < end) { work(20); units += 20; }
const wall_ns = Number(process.hrtime.bigint() - t0);
const context = machineDelta(m0, machine());
process.stdout.write(JSON.stringify({ bench: 'handler', units, wall_ns, cpu_ns: cpuNs(),
  context, sink: sinkValue(), stats: p.stats() }) + '\n');
