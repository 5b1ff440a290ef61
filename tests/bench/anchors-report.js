'use strict';
// Renders the markdown report of tests/bench/anchors.js (issue 19) from its result object:
// per workload a table, a row per configuration, every figure as median (min–max) over the
// interleaved rounds and as a ratio to plain node *in the same round*; then the issue's bars,
// each with PASS/FAIL on the median and a note where the rounds' min–max straddles the bar
// (the machine's noise, not a verdict). `node anchors-report.js RESULT.json` re-renders a
// result kept with `anchors.js --json FILE` (`make bench` keeps tests/bench/RESULTS.json);
// `--readme` prints the compact table of README's "What it costs". tests/bench/anchors-smoke.sh renders the small
// recorded result anchors-sample.json in `make check`.
const NAMES = {
  plain: '1 plain node',
  'shim-eager': '2 shim, eager',
  'shim-lazy': '3 shim, lazy',
  'sentry7-prof': '4 @sentry/node 7 + profiling-node 1.3.5',
  'sentry7-trace': '5 @sentry/node 7, tracing only',
  'cpu-prof': '6 node --cpu-prof',
  'sentry11-prof': '7 @sentry/node 11 + profiling-node 11',
  'sentry11-trace': '8 @sentry/node 11, tracing only',
  'shim-continuous': 'shim, defaults (continuous, no DSN)',
  'shim-default': 'shim, defaults (continuous, no DSN)',
};
const sorted = (a) => [...a].sort((x, y) => x - y);
const median = (a) => { const s = sorted(a); const n = s.length; return n ? (n % 2 ? s[n >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2) : NaN; };
const fin = (a) => a.filter(Number.isFinite);
function fmt(v, d) {
  if (!Number.isFinite(v)) return 'n/a';
  return Math.abs(v) >= 1000 ? v.toFixed(0) : v.toFixed(d);
}
// "median (min–max)" of a list of numbers.
function cell(a, d = 2, unit = '') {
  a = fin(a);
  if (!a.length) return 'n/a';
  if (a.length === 1) return `${fmt(a[0], d)}${unit}`;
  return `${fmt(median(a), d)}${unit} (${fmt(Math.min(...a), d)}–${fmt(Math.max(...a), d)})`;
}

function render(R) {
  const m = R.meta;
  const rounds = R.rounds || [];
  const L = [];
  const p = (s = '') => L.push(s);
  // Values of one workload's metric for a configuration, one per round.
  const vals = (w, c, f) => rounds.map((r) => (r && r[w] && r[w][c] ? f(r[w][c]) : NaN));
  // Ratios a ÷ b in the same round.
  const ratios = (w, a, b, f) => rounds.map((r) => (r && r[w] && r[w][a] && r[w][b] ? f(r[w][a]) / f(r[w][b]) : NaN));
  const configs = m.configs || [];
  const has = (w) => (m.workloads || []).includes(w) && rounds.some((r) => r && r[w]);

  p('# sentryprof against the anchors (issue 19)');
  p();
  if (m.partial) p(`**Partial: ${m.partial}.**\n`);
  p(`${m.date}: ${m.cores} CPUs (${m.cpu_model}), node ${m.node}; load average ${m.load_start} at the start, ${m.load_end} at the end; ${m.rounds} interleaved rounds (the configurations' order rotated each round), ${m.seconds} s per autocannon phase, ${m.connections} connections; ${m.minutes} minutes.`);
  const v = m.versions || {};
  p(`Packages (pinned, tests/bench/package-lock.json, sdk7/, sdk11/): express ${v.express}, autocannon ${v.autocannon}, @sentry/node ${v.sentry7} + @sentry/profiling-node ${v.profiling1}, @sentry/node ${v.sentry11} + @sentry/profiling-node ${v.profiling11}.`);
  p(`Rerun: \`make bench\` (quick: \`BENCH_ROUNDS=3 BENCH_SECONDS=2 make bench\`). Cells: median (min–max) over the rounds; "÷ plain" pairs each round with plain node's run in the same round. The shim: transaction mode, 99 Hz, wall clock, every request a transaction, DSN set.`);
  p();

  // ---- profiles produced ----
  p('## Profiles produced');
  p();
  p('Each configuration ran 3 transactions of the CPU workload against the validating test ingest (tests/ingest/server.js) before the rounds; the timed runs sent to a counting sink. A profiler that produced nothing would make its column meaningless.');
  p();
  p('| configuration | validating ingest: items (3 transactions) | samples | problems | timed runs: items received |');
  p('| --- | --- | --- | --- | --- |');
  const items = (o) => (o && Object.keys(o).length ? Object.entries(o).map(([k, n]) => `${k} ${n}`).join(', ') : 'none');
  for (const c of configs) {
    const x = (R.validation || {})[c] || {};
    let it = items(x.items);
    if (x.cpuprofiles !== undefined) it += `; ${x.cpuprofiles} .cpuprofile written`;
    let ti = x.timed_items || !m.partial ? items(x.timed_items) : 'read at the end of the run';
    if (x.http_cpuprofiles !== undefined) ti += `; ${x.http_cpuprofiles} .cpuprofile from the HTTP runs`;
    p(`| ${NAMES[c]} | ${it} | ${x.profile_samples === undefined ? 'n/a' : x.profile_samples} | ${x.problems === undefined ? 'n/a' : x.problems} | ${ti} |`);
  }
  p();

  // ---- HTTP ----
  if (has('http')) {
    const cal = R.calibration || {};
    p('## HTTP: express, ~1 ms of mixed JS per request');
    p();
    p(`${cal.http_units} workload units per request (${fmt((cal.ns_per_unit * cal.http_units) / 1e6, 2)} ms of JS-thread CPU in plain node). Max rate: autocannon flat out; latency: a fixed-rate phase at ${cal.fixed_rate} req/s (70% of plain's ${fmt(cal.plain_max_rps, 0)}). CPU per request: process CPU (all threads: getrusage) and the JS thread's own (schedstat), over the max-rate phase.`);
    p();
    p('| configuration | req/s | req/s ÷ plain | CPU µs/req | ÷ plain | JS thread µs/req | ÷ plain | p50 ms | p50 ÷ plain | p99 ms | p99 ÷ plain |');
    p('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const c of configs) {
      const pl = c === 'plain';
      const r = (f) => (pl ? '1' : cell(ratios('http', c, 'plain', f), 3));
      p(`| ${NAMES[c]} | ${cell(vals('http', c, (x) => x.rps), 0)} | ${r((x) => x.rps)} | ${cell(vals('http', c, (x) => x.cpu_us_per_req), 1)} | ${r((x) => x.cpu_us_per_req)} | ${cell(vals('http', c, (x) => x.js_us_per_req), 1)} | ${r((x) => x.js_us_per_req)} | ${cell(vals('http', c, (x) => x.fixed_p50), 1)} | ${r((x) => x.fixed_p50)} | ${cell(vals('http', c, (x) => x.fixed_p99), 1)} | ${r((x) => x.fixed_p99)} |`);
    }
    const pairs = [['sentry7-prof', 'sentry7-trace', '4 ÷ 5'], ['sentry11-prof', 'sentry11-trace', '7 ÷ 8']].filter(([a, b]) => configs.includes(a) && configs.includes(b));
    for (const [a, b, label] of pairs) {
      p(`| profiling over tracing, ${label} | | ${cell(ratios('http', a, b, (x) => x.rps), 3)} | | ${cell(ratios('http', a, b, (x) => x.cpu_us_per_req), 3)} | | ${cell(ratios('http', a, b, (x) => x.js_us_per_req), 3)} | | ${cell(ratios('http', a, b, (x) => x.fixed_p50), 3)} | | ${cell(ratios('http', a, b, (x) => x.fixed_p99), 3)} |`);
    }
    const errs = configs.map((c) => [c, vals('http', c, (x) => x.errors).reduce((s, x) => s + (x || 0), 0)]).filter(([, n]) => n > 0);
    if (errs.length) p(`\nErrors or non-2xx answers: ${errs.map(([c, n]) => `${NAMES[c]} ${n}`).join(', ')}.`);
    p();
  }

  // ---- CPU script ----
  if (has('cpu') || has('paired')) {
    p('## CPU: 20 transactions of ~100 ms of mixed JS');
    p();
    p('Whole process (`/usr/bin/time`: wall, user+sys of the process); in-process: the same work alternately outside and inside a transaction in one process (10 pairs of ~50 ms after a warm-up), the median of each inside block over its outside neighbour, JS-thread CPU and wall: what the transaction and its profiler cost, without process start, exit and the machine\'s drift between runs. plain and --cpu-prof start no transaction: their in-process ratio is the A/A noise floor.');
    p();
    p('| configuration | wall s | wall ÷ plain | CPU s | CPU ÷ plain | in-process: JS-thread CPU in ÷ out | in-process: wall in ÷ out |');
    p('| --- | --- | --- | --- | --- | --- | --- |');
    for (const c of configs) {
      const pl = c === 'plain';
      p(`| ${NAMES[c]} | ${cell(vals('cpu', c, (x) => x.wall), 3)} | ${pl ? '1' : cell(ratios('cpu', c, 'plain', (x) => x.wall), 3)} | ${cell(vals('cpu', c, (x) => x.cpu), 3)} | ${pl ? '1' : cell(ratios('cpu', c, 'plain', (x) => x.cpu), 3)} | ${cell(vals('paired', c, (x) => x.thread_ratio), 4)} | ${cell(vals('paired', c, (x) => x.wall_ratio), 4)} |`);
    }
    for (const [a, b, label] of [['sentry7-prof', 'sentry7-trace', '4 ÷ 5'], ['sentry11-prof', 'sentry11-trace', '7 ÷ 8']]) {
      if (!configs.includes(a) || !configs.includes(b)) continue;
      p(`| profiling over tracing, ${label} | | ${cell(ratios('cpu', a, b, (x) => x.wall), 3)} | | ${cell(ratios('cpu', a, b, (x) => x.cpu), 3)} | ${cell(ratios('paired', a, b, (x) => x.thread_ratio), 4)} | ${cell(ratios('paired', a, b, (x) => x.wall_ratio), 4)} |`);
    }
    p();
  }

  // ---- startup ----
  const sConfigs = [...configs, 'shim-continuous'];
  if (has('startup')) {
    p('## Startup');
    p();
    p('`node -e 0`, and a script that requires 200 small modules; per round the median of 3 runs. The SDK configurations load and initialise their SDK first (`-r`; @sentry/node 11: `--import`), as an app does; the shim rows are the library preloaded; "shim, defaults" has no DSN (continuous mode: the exit commits a chunk). Every configuration runs without NODE_EXTRA_CA_CERTS, which some machines set: node then loads that bundle at every start, and `node -e 0` took 60 ms instead of 20 here.');
    p();
    p('| configuration | node -e 0 ms | ÷ plain | CPU ÷ plain | require 200 modules ms | ÷ plain | CPU ÷ plain |');
    p('| --- | --- | --- | --- | --- | --- | --- |');
    for (const c of sConfigs) {
      if (!rounds.some((r) => r && r.startup && r.startup[c])) continue;
      const pl = c === 'plain';
      const r = (f) => (pl ? '1' : cell(ratios('startup', c, 'plain', f), 3));
      p(`| ${NAMES[c]} | ${cell(vals('startup', c, (x) => x.e0_wall * 1000), 1)} | ${r((x) => x.e0_wall)} | ${r((x) => x.e0_cpu)} | ${cell(vals('startup', c, (x) => x.req_wall * 1000), 1)} | ${r((x) => x.req_wall)} | ${r((x) => x.req_cpu)} |`);
    }
    p();
  }

  // ---- memory ----
  const MiB = 1024 * 1024;
  if (has('http') || has('cpu')) {
    p('## Memory and disk');
    p();
    p('Peak RSS (VmHWM) of the HTTP app after both phases, and of the CPU script (getrusage max RSS); the shim\'s own jemalloc arena (`stats().memory_bytes` at the end of the HTTP run, and its peak); bytes the process wrote to storage (`/proc/self/io` write_bytes: spool and perf map) over the HTTP app\'s life, scaled to one hour.');
    p();
    p('| configuration | peak RSS HTTP MiB | Δ vs plain MiB | peak RSS CPU script MiB | Δ vs plain MiB | arena MiB (end; peak) | written to storage per hour |');
    p('| --- | --- | --- | --- | --- | --- | --- |');
    for (const c of configs) {
      const dh = rounds.map((r) => (r && r.http && r.http[c] && r.http.plain ? (r.http[c].peak_rss - r.http.plain.peak_rss) / MiB : NaN));
      const dc = rounds.map((r) => (r && r.cpu && r.cpu[c] && r.cpu.plain ? (r.cpu[c].maxrss - r.cpu.plain.maxrss) / MiB : NaN));
      const arena = vals('http', c, (x) => (x.shim ? x.shim.memory_bytes / MiB : NaN));
      const apeak = vals('http', c, (x) => (x.shim && x.shim.memory_peak_bytes !== undefined ? x.shim.memory_peak_bytes / MiB : NaN));
      const disk = vals('http', c, (x) => (x.write_bytes / x.uptime_s) * 3600 / MiB);
      p(`| ${NAMES[c]} | ${cell(vals('http', c, (x) => x.peak_rss / MiB), 1)} | ${c === 'plain' ? '0' : cell(dh, 1)} | ${cell(vals('cpu', c, (x) => x.maxrss / MiB), 1)} | ${c === 'plain' ? '0' : cell(dc, 1)} | ${fin(arena).length ? `${cell(arena, 1)}; ${cell(apeak, 1)}` : '-'} | ${cell(disk, 0, ' MiB')} |`);
    }
    p();
  }

  // ---- transactions ----
  if (has('txn')) {
    p('## Transaction start + finish on the JS thread');
    p();
    p('1000 start+finish pairs per round through each configuration\'s API (the shim\'s JS API `__sentryprof.startTransaction().finish()`; @sentry/node 7 `startTransaction().finish()`; @sentry/node 11 `startInactiveSpan({forceTransaction}).end()`), hrtime around the pair; per round p50, p99, max; the cells are median (min–max) over the rounds, µs.');
    p();
    p('| configuration | p50 µs | p99 µs | max µs |');
    p('| --- | --- | --- | --- |');
    for (const c of configs) {
      if (!rounds.some((r) => r && r.txn && r.txn[c])) continue;
      p(`| ${NAMES[c]} | ${cell(vals('txn', c, (x) => x.p50 / 1000), 2)} | ${cell(vals('txn', c, (x) => x.p99 / 1000), 2)} | ${cell(vals('txn', c, (x) => x.max / 1000), 1)} |`);
    }
    const n = R.native_txn;
    if (n && n.eager) {
      for (const mode of ['eager', 'lazy']) {
        p(`| shim ${mode}, native start+finish (txn-cost.js, ${n[mode].native.n}) | ${fmt(n[mode].native.p50 / 1000, 2)} | ${fmt(n[mode].native.p99 / 1000, 2)} | ${fmt(n[mode].native.max / 1000, 1)} |`);
        p(`| shim ${mode}, JS API (txn-cost.js, ${n[mode].jsapi.n}) | ${fmt(n[mode].jsapi.p50 / 1000, 2)} | ${fmt(n[mode].jsapi.p99 / 1000, 2)} | ${fmt(n[mode].jsapi.max / 1000, 1)} |`);
      }
    } else if (n && n.error) p(`\ntxn-cost.js could not run: ${n.error}`);
    p();
  }

  // ---- trivial handler ----
  if (has('trivial')) {
    p('## A trivial HTTP handler, in process (http-inproc.js)');
    p();
    p('Server and a pipelining client in one process, node\'s whole http stack, fixed work (20,000 requests x 3); plain against the shim with its defaults (continuous, no DSN: HTTP transactions up to the budget of 100/s), alternately. JS-thread ns per request; "kept" = plain ÷ shim: the throughput a server bound by its JS thread keeps.');
    p();
    p('| configuration | JS thread ns/req | process CPU ns/req | kept (plain ÷ this) |');
    p('| --- | --- | --- | --- |');
    for (const c of ['plain', 'shim-default']) {
      p(`| ${c === 'plain' ? NAMES.plain : 'shim, defaults'} | ${cell(vals('trivial', c, (x) => x.js_ns), 0)} | ${cell(vals('trivial', c, (x) => x.cpu_ns), 0)} | ${c === 'plain' ? '1' : cell(ratios('trivial', 'plain', c, (x) => x.js_ns), 3)} |`);
    }
    p();
  }

  // ---- bars ----
  p('## Bars (issue 19)');
  p();
  const bars = [];
  // verdict(values, ok): PASS/FAIL on the median, and whether the rounds' range straddles the bar.
  function bar(what, values, ok, shown, unit = '') {
    const a = fin(values);
    if (!a.length) { bars.push(`| ${what} | n/a | not measured |`); return; }
    const med = median(a), all = a.every(ok), none = !a.some(ok);
    const v = ok(med) ? 'PASS' : 'FAIL';
    const note = all || none ? '' : ' (rounds straddle the bar: noise decides)';
    bars.push(`| ${what} | ${shown || cell(a, unit ? 2 : 3, unit)} | ${v}${note} |`);
  }
  const prof = [['sentry7-prof', 'sentry7-trace', '4÷5'], ['sentry11-prof', 'sentry11-trace', '7÷8']].filter(([a, b]) => configs.includes(a) && configs.includes(b));
  if (has('http')) {
    bar('HTTP req/s, shim eager ÷ plain ≥ 0.99', ratios('http', 'shim-eager', 'plain', (x) => x.rps), (x) => x >= 0.99);
    bar('HTTP JS-thread CPU per request, plain ÷ shim eager ≥ 0.99 (in-process figure beside the req/s)', ratios('http', 'plain', 'shim-eager', (x) => x.js_us_per_req), (x) => x >= 0.99);
    for (const [a, b, l] of prof) {
      const d = rounds.map((r, i) => ratios('http', 'shim-eager', 'plain', (x) => x.rps)[i] - ratios('http', a, b, (x) => x.rps)[i]);
      bar(`HTTP req/s: shim eager ÷ plain above ${l} (difference per round)`, d, (x) => x > 0);
    }
  }
  if (has('cpu')) {
    bar('CPU script wall, shim eager ÷ plain ≤ 1.01', ratios('cpu', 'shim-eager', 'plain', (x) => x.wall), (x) => x <= 1.01);
    bar('CPU script wall, shim lazy ÷ plain ≤ 1.01', ratios('cpu', 'shim-lazy', 'plain', (x) => x.wall), (x) => x <= 1.01);
    for (const [a, b, l] of prof) {
      for (const s of ['shim-eager', 'shim-lazy']) {
        const d = rounds.map((r, i) => ratios('cpu', a, b, (x) => x.cpu)[i] - ratios('cpu', s, 'plain', (x) => x.cpu)[i]);
        bar(`CPU script CPU: ${s} ÷ plain below ${l} (difference per round)`, d, (x) => x > 0);
      }
    }
  }
  if (has('paired')) {
    bar('in-process: JS-thread CPU inside ÷ outside a transaction, shim eager ≤ 1.01', vals('paired', 'shim-eager', (x) => x.thread_ratio), (x) => x <= 1.01);
    bar('in-process: the same, shim lazy ≤ 1.01', vals('paired', 'shim-lazy', (x) => x.thread_ratio), (x) => x <= 1.01);
  }
  if (has('startup')) {
    for (const s of ['shim-eager', 'shim-lazy', 'shim-continuous']) bar(`node -e 0 wall, ${NAMES[s] || s} ÷ plain ≤ 1.10`, ratios('startup', s, 'plain', (x) => x.e0_wall), (x) => x <= 1.10);
  }
  if (has('txn')) {
    const n = R.native_txn;
    for (const mode of ['eager', 'lazy']) {
      if (n && n[mode]) bar(`transaction start+finish p99 ≤ 10 µs, native, ${mode} (txn-cost.js)`, [n[mode].native.p99 / 1000], (x) => x <= 10, `${fmt(n[mode].native.p99 / 1000, 2)} µs`);
      bar(`transaction start+finish p99 ≤ 10 µs, JS API, ${mode} (rounds)`, vals('txn', `shim-${mode}`, (x) => x.p99 / 1000), (x) => x <= 10, null, ' µs');
    }
  }
  if (has('trivial')) bar('trivial HTTP handler, shim defaults keep ≥ 95% (JS thread, in process)', ratios('trivial', 'plain', 'shim-default', (x) => x.js_ns), (x) => x >= 0.95);
  if (has('http')) {
    for (const s of ['shim-eager', 'shim-lazy']) {
      bar(`peak RSS, ${s} ≤ plain + 32 MiB (HTTP)`, rounds.map((r) => (r && r.http && r.http[s] && r.http.plain ? (r.http[s].peak_rss - r.http.plain.peak_rss) / MiB : NaN)), (x) => x <= 32, null, ' MiB');
      bar(`arena ≤ 16 MiB, ${s} (end of the HTTP run)`, vals('http', s, (x) => (x.shim ? x.shim.memory_bytes / MiB : NaN)), (x) => x <= 16, null, ' MiB');
    }
    const agent = vals('http', 'shim-eager', (x) => {
      if (!x.shim || !x.shim0) return NaN;
      const t = (s) => (s.transaction_profiles || 0) + (s.transactions_without_profile || 0);
      return (x.shim.agent_cpu_ns - x.shim0.agent_cpu_ns) / 1000 / Math.max(1, t(x.shim) - t(x.shim0));
    });
    const profiled = vals('http', 'shim-eager', (x) => (x.shim && x.shim0 ? (x.shim.transaction_profiles - x.shim0.transaction_profiles) / Math.max(1, (x.shim.transaction_profiles + x.shim.transactions_without_profile) - (x.shim0.transaction_profiles + x.shim0.transactions_without_profile)) : NaN));
    bars.push(`| agent CPU per transaction, shim eager, HTTP (report) | ${cell(agent, 1, ' µs')}; share of transactions with a profile ${cell(profiled, 3)} | report |`);
  }
  p('| bar | measured: median (min–max) | verdict |');
  p('| --- | --- | --- |');
  for (const b of bars) p(b);
  p();
  p('A verdict is taken on the median; where the rounds\' min–max straddles the bar it says so: on a shared machine that bar is not judged by this run.');
  return `${L.join('\n')}\n`;
}

// The compact table README's "What it costs" carries: one row per configuration, the
// headline ratios to plain (median, min–max over the rounds).
function compact(R) {
  const rounds = R.rounds || [];
  const configs = (R.meta && R.meta.configs) || [];
  const ratios = (w, a, f) => rounds.map((r) => (r && r[w] && r[w][a] && r[w].plain ? f(r[w][a]) / f(r[w].plain) : NaN));
  const vals = (w, c, f) => rounds.map((r) => (r && r[w] && r[w][c] ? f(r[w][c]) : NaN));
  const L = ['| configuration | HTTP req/s ÷ plain | HTTP CPU/request ÷ plain | CPU script wall ÷ plain | CPU script CPU ÷ plain | `node -e 0` ÷ plain | peak RSS Δ (HTTP) | start+finish p50 / p99 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |'];
  for (const c of configs) {
    if (c === 'plain') continue;
    const d = rounds.map((r) => (r && r.http && r.http[c] && r.http.plain ? (r.http[c].peak_rss - r.http.plain.peak_rss) / 1048576 : NaN));
    const t50 = fin(vals('txn', c, (x) => x.p50 / 1000)), t99 = fin(vals('txn', c, (x) => x.p99 / 1000));
    L.push(`| ${NAMES[c]} | ${cell(ratios('http', c, (x) => x.rps), 2)} | ${cell(ratios('http', c, (x) => x.cpu_us_per_req), 2)} | ${cell(ratios('cpu', c, (x) => x.wall), 2)} | ${cell(ratios('cpu', c, (x) => x.cpu), 2)} | ${cell(ratios('startup', c, (x) => x.e0_wall), 2)} | ${cell(d, 0, ' MiB')} | ${t50.length ? `${fmt(median(t50), 1)} / ${fmt(median(t99), 1)} µs` : '-'} |`);
  }
  return `${L.join('\n')}\n`;
}

module.exports = { render, compact };

if (require.main === module) {
  const readme = process.argv[2] === '--readme';
  const f = process.argv[readme ? 3 : 2];
  if (!f) { process.stderr.write('usage: node anchors-report.js [--readme] RESULT.json\n'); process.exit(2); }
  const R = JSON.parse(require('fs').readFileSync(f, 'utf8'));
  process.stdout.write(readme ? compact(R) : render(R));
}
