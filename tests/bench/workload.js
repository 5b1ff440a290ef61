'use strict';
const fs = require('fs');
// Shared bench workload. One "unit" descends DEPTH frames of one self-recursive JS function
// (TurboFan does not inline a function into itself, so every level stays a real frame;
// mutually recursive functions were inlined into each other and the stack collapsed) and,
// at the bottom, does a mix of builtin/native work: Array.prototype.sort with a JS
// comparator, JSON.stringify/parse, string ops and Math. With node's own frames (CJS loader
// ~7 JS frames, V8 entry and node::Start ~13 native frames, the sort builtins) the default
// DEPTH of 18 gives ~40-frame samples; run.sh reports the depth measured from the profile.

const DEPTH = Math.max(1, Number(process.env.BENCH_DEPTH || 18));
const base = [];
for (let i = 0; i < 64; i++) base.push((i * 7919) % 1009);
const obj = { id: 42, name: 'bench', tags: ['a', 'b', 'c'], nested: { x: 1.5, y: [1, 2, 3] } };

function byValue(a, b) { return a - b; }

function leaf(seed) {
  const arr = base.slice();
  arr[seed & 63] = seed % 1009;
  arr.sort(byValue);                                          // builtin calling back into JS
  obj.id = seed;
  const copy = JSON.parse(JSON.stringify(obj));               // native JSON
  const s = ('unit-' + seed + '-' + copy.name).toUpperCase().split('-').join('_');  // strings
  let m = 0;
  for (let i = 0; i < 40; i++) m += Math.sqrt(i + seed) * Math.sin(i);             // Math
  return arr[32] + copy.nested.y.length + s.length + (m > 0 ? 1 : 0);
}

function level(d, seed) { return d <= 0 ? leaf(seed) : level(d - 1, seed + 3) + 1; }

let sink = 0;
// Runs n units; returns a value the caller should keep so nothing is optimised away.
function work(n) {
  let acc = 0;
  for (let i = 0; i < n; i++) acc += level(DEPTH - 1, i);
  sink = (sink + acc) | 0;
  return acc;
}

function profiler() {
  const p = globalThis.__sentryprof;
  if (!p || typeof p.stats !== 'function') {
    process.stdout.write(JSON.stringify({ error: 'globalThis.__sentryprof missing: is the shim preloaded?' }) + '\n');
    process.exit(2);
  }
  return p;
}

function cpuNs() {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

// Context that explains outliers: the calling thread's involuntary context switches and
// minor faults, and the machine's CPU time split (busy, steal) from /proc/stat. A handler's
// time is wall-clock time: if the thread is preempted inside the handler (another process,
// our own agent thread on a shared CPU, the hypervisor), that time counts as handler time.
function machine() {
  const out = { nivcsw: NaN, minflt: NaN, busy: NaN, steal: NaN, total: NaN };
  try {
    const st = fs.readFileSync('/proc/thread-self/status', 'utf8');
    const m = /nonvoluntary_ctxt_switches:\s*(\d+)/.exec(st);
    if (m) out.nivcsw = Number(m[1]);
    const stat = fs.readFileSync('/proc/thread-self/stat', 'utf8');
    out.minflt = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice
    out.total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
    out.busy = out.total - cpu[3] - cpu[4];
    out.steal = cpu[7];
  } catch (_) { /* no procfs: NaN */ }
  return out;
}
function machineDelta(a, b) {
  const d = (k) => b[k] - a[k];
  return { nivcsw: d('nivcsw'), minflt: d('minflt'), busy_share: d('busy') / d('total'),
    steal_share: d('steal') / d('total') };
}

module.exports = { work, profiler, cpuNs, machine, machineDelta, sinkValue: () => sink };
