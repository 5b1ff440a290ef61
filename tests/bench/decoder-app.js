'use strict';
// The V8 frame decoder's cost (issue #13): a workload whose stacks hold JS frames of every
// tier (interpreted, Sparkplug, Maglev/TurboFan with inlined functions) ~20 deep, sampled
// at 1 kHz on the CPU clock for BENCH_SECONDS of CPU (default 5). run.sh runs it with the
// decoder on and off (SENTRYPROF_V8_FRAMES) in alternating rounds; the difference in the
// agent thread's CPU per sample and in the library's memory is the decoder's. Prints one
// JSON line at exit, after the helper's drain has handed the last samples to the agent.
const { profiler, cpuNs } = require('./workload');

const p = profiler();
const seconds = Number(process.env.BENCH_SECONDS || 5);

const text = JSON.stringify(Array.from({ length: 48 }, (_, i) => ({ id: i, name: `item${i}`, tags: ['a', 'b'] })));
const keys = Array.from({ length: 200 }, (_, i) => ({ k: (i * 7919) % 211 }));
function mix(h, k) { return (Math.imul(h ^ k, 0x9e3779b1) + 0x7f4a7c15) | 0; } // inlined when optimized
function checksum(n) { let h = 0; for (let i = 0; i < n; i++) h = mix(h, i); return h; }
function parse() { return JSON.parse(text).length; }
function render() { let s = ''; for (let i = 0; i < 40; i++) s += `<li>${i}:${i * 3}</li>`; return s.length; }
function byKey(a, b) { return a.k - b.k; }
function sortKeys() { return keys.slice().sort(byKey)[0].k; }
const leaves = [() => checksum(2000), parse, render, sortKeys];
let pick = 0;
// A chain of distinct functions so every sample carries a deep JS stack.
const depth = [];
for (let d = 0; d < 16; d++) {
  const next = d;
  // eslint-disable-next-line no-new-func
  depth.push(new Function('depth', 'leaves', 'pick', `return function level${d}() { return ${next} === 15 ? leaves[pick() & 3]() : depth[${next + 1}](); }`)(depth, leaves, () => pick++));
}

const c0 = cpuNs();
const s0 = p.stats();
let sink = 0;
while (cpuNs() - c0 < seconds * 1e9) for (let i = 0; i < 50; i++) sink += depth[0]();

process.on('exit', () => {
  const s = p.stats();
  const keysOut = ['samples', 'agent_cpu_ns', 'memory_bytes', 'v8_decoder', 'v8_frames_named', 'v8_frames_unnamed',
    'v8_sparkplug_decoded', 'v8_sparkplug_perf_map', 'v8_optimized_decoded', 'v8_optimized_perf_map',
    'js_frames_decoded', 'js_frames_perf_map_sparkplug', 'js_frames_perf_map_maglev', 'js_frames_perf_map_turbofan',
    'js_frames_perf_map_other', 'js_frames_interpreter_unnamed', 'v8_bytecode_owner_table_bytes'];
  const out = { bench: 'decoder', seconds, sink: sink !== 0, cpu_ns: cpuNs() - c0, decoder_env: process.env.SENTRYPROF_V8_FRAMES };
  for (const k of keysOut) out[k] = typeof s[k] === 'number' ? s[k] - (k === 'memory_bytes' || k === 'v8_decoder' || k === 'v8_bytecode_owner_table_bytes' ? 0 : (s0[k] || 0)) : s[k];
  require('fs').writeSync(1, JSON.stringify(out) + '\n');
});
