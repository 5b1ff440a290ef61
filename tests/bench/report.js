'use strict';
// Prints the bench table from the result files run.sh left in one directory (argument).
// Files: handler.N.json + handler.N.depth.json, overhead-lazy.N.json, overhead-eager.N.json,
// overhead-control.N.json, idle.N.json, decoder-true.N.json / decoder-false.N.json,
// whole.json, failed.txt (one "bench: reason" a line).
// Each line: bench, value, min–max, bar, verdict. PASS/FAIL only where the issue sets a bar.
const fs = require('fs');
const path = require('path');

const dir = process.argv[2];
const readJson = (name) => {
  try { return JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8').trim().split('\n').pop()); } catch (_) { return null; }
};
const series = (prefix) => {
  const out = [];
  for (let i = 0; ; i++) {
    if (!fs.existsSync(path.join(dir, `${prefix}.${i}.json`))) break;
    const r = readJson(`${prefix}.${i}.json`);
    if (r && !r.error) out.push(r);
  }
  return out;
};
let failed = [];
try { failed = fs.readFileSync(path.join(dir, 'failed.txt'), 'utf8').split('\n').filter(Boolean); } catch (_) { /* none */ }

// ---- statistics and formatting ----
const sorted = (a) => [...a].sort((x, y) => x - y);
const median = (a) => { const s = sorted(a); const n = s.length; return n ? (n % 2 ? s[n >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2) : NaN; };
const min = (a) => Math.min(...a);
const max = (a) => Math.max(...a);
function ns(v) {
  if (!Number.isFinite(v)) return 'n/a';
  if (v < 0) return `−${ns(-v)}`;
  if (v < 1000) return `${Math.round(v)} ns`;
  if (v < 1e6) return `${(v / 1e3).toFixed(v < 1e4 ? 2 : 1)} µs`;
  if (v < 1e9) return `${(v / 1e6).toFixed(v < 1e7 ? 2 : 1)} ms`;
  return `${(v / 1e9).toFixed(3)} s`;
}
const ms = (v) => (Number.isFinite(v) ? `${(v / 1e6).toFixed(2)} ms` : 'n/a');
const sec = (v) => (Number.isFinite(v) ? `${v.toFixed(3)} s` : 'n/a');
const ratio = (v) => (Number.isFinite(v) ? v.toFixed(4) : 'n/a');
const pct = (v) => (Number.isFinite(v) ? `${(v * 100).toFixed(3)}%` : 'n/a');
const pct1 = (v) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : 'n/a');
const num = (v, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
const range = (a, f) => (a.length ? (a.length === 1 ? `(1 run)` : `${f(min(a))} – ${f(max(a))}`) : '');

const W = [46, 12, 24, 11];
const rows = [];
function row(name, value, mm, bar, verdict) {
  rows.push(name.padEnd(W[0]) + ' ' + String(value).padEnd(W[1]) + ' ' + String(mm).padEnd(W[2]) + ' ' +
    String(bar || '').padEnd(W[3]) + ' ' + (verdict || ''));
}
function section(title) { rows.push(''); rows.push(`-- ${title}`); }
const verdict = (ok) => (ok ? 'PASS' : 'FAIL');
let fails = 0, passes = 0;
let missing = 0; // benches with no result at all
function gate(ok) { if (ok) passes++; else fails++; return verdict(ok); }

// Machine context of a set of runs: handler times are wall-clock, so a thread preempted in
// the handler (busy machine, steal) shows up as a slow handler run.
function contextRows(runs) {
  const c = runs.map((r) => r.context).filter((x) => x && Number.isFinite(x.busy_share));
  if (!c.length) return;
  const iv = runs.filter((r) => r.context).map((r) => r.context.nivcsw / (r.wall_ns / 1e9));
  row('context: main thread involuntary switches/s', num(median(iv), 1), range(iv, (x) => num(x, 1)), '', '');
  const busy = c.map((x) => x.busy_share), steal = c.map((x) => x.steal_share);
  row('context: machine CPU busy (all CPUs)', pct1(median(busy)), range(busy, pct1), '', '');
  row('context: machine CPU steal', pct(median(steal)), range(steal, pct), '', '');
}

// ---- 1. handler cost ----
const H = series('handler');
const depths = [];
for (let i = 0; i < H.length; i++) { const d = readJson(`handler.${i}.depth.json`); if (d && d.samples) depths.push(d); }
section(`1. handler cost: 1 kHz, continuous, ${H.length ? (H[0].wall_ns / 1e9).toFixed(0) : '?'} s x ${H.length} run(s); value = median of runs, verdict = worst run`);
if (!H.length) {
  missing++; row('handler cost', 'could not run', '', '', 'n/a');
} else {
  const st = H.map((r) => r.stats);
  const v = (k) => st.map((s) => s[k]);
  row('samples per run', num(median(v('samples'))), range(v('samples'), num), '', '');
  if (depths.length) {
    const dm = depths.map((d) => d.mean_depth), dj = depths.map((d) => d.mean_js_frames);
    row('stack depth, spooled (mean frames/sample)', num(median(dm), 1), range(dm, (x) => num(x, 1)), '~40', '');
    row('  of which JS frames (mean)', num(median(dj), 1), range(dj, (x) => num(x, 1)), '', '');
    const sp = depths.map((d) => d.samples);
    row('  samples found in the spool', num(median(sp)), range(sp, num), '', '');
  } else {
    row('stack depth, spooled (mean frames/sample)', 'n/a', 'no chunk in spool', '~40', '');
  }
  const p50 = v('handler_ns_p50'), p99 = v('handler_ns_p99');
  const mx = v('handler_ns_max'), mx1 = v('handler_ns_max_after_1s');
  const mean = st.map((s) => s.handler_ns_total / Math.max(1, s.handler_runs));
  row('handler p50 (bucket upper bound)', ns(median(p50)), range(p50, ns), '≤ 2 µs', gate(max(p50) <= 2000));
  row('handler p99 (bucket upper bound)', ns(median(p99)), range(p99, ns), '≤ 20 µs', gate(max(p99) <= 20000));
  row('handler mean (total / runs)', ns(median(mean)), range(mean, ns), '', '');
  row('handler max, whole run (incl. first 1 s)', ns(median(mx)), range(mx, ns), '', '');
  row('handler max after the first second', ns(median(mx1)), range(mx1, ns), '≤ 1 ms', gate(max(mx1) <= 1e6));
  const drops = st.map((s) => s.dropped_ring_full + s.dropped_reentry + s.dropped_no_thread);
  row('dropped (ring full + re-entry + no thread)', num(median(drops)), range(drops, num), '', '');
  const trunc = st.map((s) => s.truncated + s.off_stack);
  row('truncated + off-stack samples', num(median(trunc)), range(trunc, num), '', '');
  const agentShare = H.map((r) => r.stats.agent_cpu_ns / r.cpu_ns);
  row('agent thread CPU / process CPU at 1 kHz', pct(median(agentShare)), range(agentShare, pct), '', '');
  contextRows(H);
}

// ---- 2./5. in-process overhead ----
function overheadStats(r) {
  const mi = median(r.inside_ns), mo = median(r.outside_ns);
  // Paired: each inside block against the mean of the outside blocks either side of it,
  // so slow drifts of machine speed (other tenants, thermal) cancel.
  const pr = [];
  for (let i = 1; i < r.inside_ns.length; i++) pr.push(r.inside_ns[i] / ((r.outside_ns[i - 1] + r.outside_ns[i]) / 2));
  return {
    mi, mo, ratio: mi / mo, paired: median(pr),
    share: (r.handler_ns + r.agent_cpu_ns) / r.cpu_ns,
    handlerShare: r.handler_ns / r.cpu_ns, agentShare: r.agent_cpu_ns / r.cpu_ns,
    agentPerTxn: r.transaction_profiles ? r.agent_cpu_ns / r.transaction_profiles : NaN,
    samplesPerBlock: r.samples / r.blocks,
  };
}
function overheadSection(title, runs, gated) {
  section(title);
  if (!runs.length) { missing++; row('overhead', 'could not run', '', '', 'n/a'); return; }
  const S = runs.map(overheadStats);
  const allIn = [].concat(...runs.map((r) => r.inside_ns)), allOut = [].concat(...runs.map((r) => r.outside_ns));
  const g = (ok) => (gated ? gate(ok) : 'report');
  const units = runs.map((r) => r.units);
  row('blocks per kind x runs; work units per block', `${runs[0].blocks} x ${runs.length}`, `units ${units.length > 1 ? range(units, num) : units[0]}`, '', '');
  row('block time outside txn (median; all blocks)', ms(median(S.map((s) => s.mo))), range(allOut, ms), '', '');
  row('block time inside txn (median; all blocks)', ms(median(S.map((s) => s.mi))), range(allIn, ms), '', '');
  const ratios = S.map((s) => s.ratio), paired = S.map((s) => s.paired);
  row('ratio median(in) / median(out)', ratio(median(ratios)), range(ratios, ratio), '≤ 1.01', g(median(ratios) <= 1.01));
  row('ratio paired: in_i / mean(out_i-1, out_i)', ratio(median(paired)), range(paired, ratio), '≤ 1.01', g(median(paired) <= 1.01));
  const share = S.map((s) => s.share);
  row('profiler CPU / process CPU (handler+agent)', pct(median(share)), range(share, pct), '≤ 0.5%', g(median(share) <= 0.005));
  row('  handler part', pct(median(S.map((s) => s.handlerShare))), range(S.map((s) => s.handlerShare), pct), '', '');
  row('  agent thread part', pct(median(S.map((s) => s.agentShare))), range(S.map((s) => s.agentShare), pct), '', '');
  const apt = S.map((s) => s.agentPerTxn).filter(Number.isFinite);
  if (apt.length) row('  agent CPU per finished transaction', ns(median(apt)), range(apt, ns), '', '');
  row('samples per inside block', num(median(S.map((s) => s.samplesPerBlock)), 2), range(S.map((s) => s.samplesPerBlock), (x) => num(x, 2)), '', '');
  const disc = runs.map((r) => r.discarded_outside_profile);
  if (max(disc) > 0) row('signals discarded outside a txn', num(median(disc)), range(disc, num), '', '');
  contextRows(runs);
}
overheadSection('2. overhead at 99 Hz in-process: transaction mode, lazy, ABAB ~50 ms blocks; value = median of runs',
  series('overhead-lazy'), true);
const C = series('overhead-control');
if (C.length) {
  const S = C.map(overheadStats);
  row('A/A noise floor: same, no txn in "in" blocks', ratio(median(S.map((s) => s.ratio))), `paired ${ratio(median(S.map((s) => s.paired)))}`, '', 'report');
}

// ---- 3. idle lazy ----
const I = series('idle');
section('3. idle, transaction mode, lazy, no transaction');
if (!I.length) {
  missing++; row('idle signals', 'could not run', '', '', 'n/a');
} else {
  const sig = I.map((r) => r.signals);
  row(`signals delivered in ${I[0].seconds} s (whole process)`, num(max(sig)), range(sig, num), '= 0', gate(max(sig) === 0));
  const ag = I.map((r) => r.agent_cpu_ns_during / r.seconds);
  row('agent thread CPU while idle (per second)', ns(median(ag)), range(ag, ns), '', '');
  const tm = I.map((r) => r.posix_timers).filter((x) => x >= 0);
  if (tm.length) row('POSIX timers in the process', num(median(tm)), range(tm, num), '', '');
}

// ---- 5. eager ----
overheadSection('5. eager vs lazy: the same as 2 in eager mode (report only)', series('overhead-eager'), false);

// ---- 6. the V8 frame decoder ----
section('6. V8 frame decoder (issue #13), 1 kHz CPU clock, ~20-deep stacks of every tier: on vs off, report only');
const DON = series('decoder-true'), DOFF = series('decoder-false');
if (!DON.length || !DOFF.length) {
  missing++; row('decoder cost', 'could not run', '', '', 'n/a');
} else {
  const perSample = (r) => r.agent_cpu_ns / Math.max(1, r.samples);
  const on = DON.map(perSample), off = DOFF.map(perSample);
  row('agent CPU per sample, decoder on', ns(median(on)), range(on, ns), '', 'report');
  row('agent CPU per sample, decoder off', ns(median(off)), range(off, ns), '', 'report');
  const d = median(on) - median(off);
  row('  the decoder\'s share (on − off)', ns(d), '', '', 'report');
  row('  = CPU of one core at the default 99 Hz', pct(d * 99 / 1e9), '', '', 'report');
  const mon = DON.map((r) => r.memory_bytes), moff = DOFF.map((r) => r.memory_bytes);
  row('library memory at exit, decoder on', `${(median(mon) / 1048576).toFixed(2)} MiB`, range(mon, (v) => `${(v / 1048576).toFixed(2)}`), '', 'report');
  row('  the decoder\'s caches and tables (on − off)', `${((median(mon) - median(moff)) / 1048576).toFixed(2)} MiB`, '', '', 'report');
  const owners = median(DON.map((r) => r.v8_bytecode_owner_table_bytes || 0));
  row('  + the bytecode owners\' table (outside the arena)', `${(owners / 1048576).toFixed(2)} MiB`, '', '', 'report');
  const share = DON.map((r) => {
    const pm = r.js_frames_perf_map_sparkplug + r.js_frames_perf_map_maglev + r.js_frames_perf_map_turbofan + r.js_frames_perf_map_other;
    return r.js_frames_decoded / Math.max(1, r.js_frames_decoded + pm + r.js_frames_interpreter_unnamed);
  });
  row('JS frames named by the decoder (decoder on)', pct1(median(share)), range(share, pct1), '', 'report');
}

// ---- 4. whole process ----
section('4. whole process, report only: machines vary ±6% between identical runs, so this cannot resolve 1%');
function wholeRows(file, what) {
  const Wh = readJson(file);
  if (!Wh || !Wh.rounds || !Wh.rounds.length) {
    missing++;
    row(`${what}: wall time`, 'could not run', '', '', 'n/a');
    return;
  }
  const plain = Wh.rounds.map((r) => r.plain.wall), shim = Wh.rounds.map((r) => r.shim.wall);
  row(`${what}: ${Wh.rounds.length} interleaved rounds (${Wh.tool})`, '', '', '', '');
  row('  wall without the shim (median)', sec(median(plain)), range(plain, sec), '', 'report');
  row('  wall with the shim (median)', sec(median(shim)), range(shim, sec), '', 'report');
  const pr = Wh.rounds.map((r) => r.shim.wall / r.plain.wall);
  row('  wall ratio with / without (min–max: rounds)', ratio(median(shim) / median(plain)), range(pr, ratio), '', 'report');
  row('  wall difference with − without (median)', ns((median(shim) - median(plain)) * 1e9), '', '', 'report');
  if (Wh.rounds.every((r) => Number.isFinite(r.plain.user) && r.plain.user + r.plain.sys > 0)) {
    const pc = Wh.rounds.map((r) => r.plain.user + r.plain.sys), sc = Wh.rounds.map((r) => r.shim.user + r.shim.sys);
    row('  CPU (user+sys) ratio with / without', ratio(median(sc) / median(pc)), range(Wh.rounds.map((r) => (r.shim.user + r.shim.sys) / (r.plain.user + r.plain.sys)), ratio), '', 'report');
  }
}
wholeRows('whole.json', (readJson('whole.json') || {}).app || 'whole-app.js');
wholeRows('startup.json', 'startup: node -e 0');

// ---- output ----
const head = 'bench'.padEnd(W[0]) + ' ' + 'value'.padEnd(W[1]) + ' ' + 'min–max'.padEnd(W[2]) + ' ' + 'bar'.padEnd(W[3]) + ' verdict';
console.log(head);
console.log('-'.repeat(head.length + 4));
for (const r of rows.slice(1)) console.log(r);
console.log('');
for (const f of failed) console.log(`could not run: ${f}`);
console.log(`bars: ${passes} PASS, ${fails} FAIL${missing ? `; ${missing} bench(es) could not run` : ''}`);
process.exitCode = missing ? 3 : 0;
