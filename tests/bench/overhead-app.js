'use strict';
// In-process overhead at 99 Hz: one process, fixed blocks of ~50 ms of JS work (iteration
// count calibrated after a warm-up, then fixed), alternately inside a transaction
// (startTransaction before, finish after, both inside the timed block) and outside one,
// ABAB, after warm-up pairs so both kinds of block see the same JIT state.
// Prints one JSON line: per-block times, counters and CPU deltas over the measured phase.
const { work, profiler, cpuNs, machine, machineDelta, sinkValue } = require('./workload');

const p = profiler();
const BLOCKS = Number(process.env.BENCH_BLOCKS || 120);         // per kind
const WARMUP_PAIRS = Number(process.env.BENCH_WARMUP_PAIRS || 20);
const TARGET_NS = Number(process.env.BENCH_BLOCK_MS || 50) * 1e6;

const now = () => process.hrtime.bigint();
function timeUnits(n) { const t = now(); work(n); return Number(now() - t); }

// Calibrate: warm the JIT for ~1 s, pick n so that work(n) takes TARGET_NS, run the warm-up
// pairs (both kinds of block, so both paths are hot), then calibrate again: the iteration
// count is fixed from here on.
const warmEnd = now() + 1000000000n;
while (now() < warmEnd) work(16);
function calibrate() {
  let n = 16;
  while (timeUnits(n) < 10e6) n *= 2;
  const t = [];
  for (let i = 0; i < 5; i++) t.push(timeUnits(n));
  t.sort((a, b) => a - b);
  return Math.max(1, Math.round(n * TARGET_NS / t[2]));
}
let units = calibrate();
const CONTROL = process.env.BENCH_CONTROL === '1'; // A/A: "inside" blocks start no transaction

function inside() {
  const t = now();
  const tx = CONTROL ? null : p.startTransaction({ name: 'bench-block', op: 'bench' });
  work(units);
  if (tx) tx.finish();
  return Number(now() - t);
}
function outside() {
  const t = now();
  work(units);
  return Number(now() - t);
}

for (let i = 0; i < WARMUP_PAIRS; i++) { inside(); outside(); }
units = calibrate();

function settle(ms) { const e = Date.now() + ms; return new Promise((r) => setTimeout(r, Math.max(0, e - Date.now()))); }

(async () => {
  await settle(300); // let the agent finish the warm-up transactions before the snapshot
  const s0 = p.stats(), c0 = cpuNs(), m0 = machine(), w0 = now();
  const tin = [], tout = [];
  for (let i = 0; i < BLOCKS; i++) { tin.push(inside()); tout.push(outside()); }
  const wBlocks = Number(now() - w0);
  // The agent builds the last profiles asynchronously: give it a moment, and count it.
  await settle(300);
  const s1 = p.stats(), c1 = cpuNs(), w1 = now();
  const context = machineDelta(m0, machine());
  const d = (k) => s1[k] - s0[k];
  process.stdout.write(JSON.stringify({
    bench: 'overhead', control: CONTROL, mode: s1.mode, logging_mode: s1.logging_mode, units, blocks: BLOCKS,
    inside_ns: tin, outside_ns: tout, blocks_wall_ns: wBlocks, wall_ns: Number(w1 - w0),
    cpu_ns: c1 - c0, handler_ns: d('handler_ns_total'), agent_cpu_ns: d('agent_cpu_ns'),
    signals: d('signals'), samples: d('samples'), discarded_outside_profile: d('discarded_outside_profile'),
    handler_runs: d('handler_runs'), transaction_profiles: d('transaction_profiles'),
    context, sink: sinkValue(), stats: s1,
  }) + '\n');
})();
