'use strict';
// sentryprof against the anchors a user would pick instead (issue 19): the same workloads in
// up to eight configurations, interleaved round by round (A B C ... A B C ..., the order
// rotated each round), every figure as a ratio to plain node in the same round. `make bench`
// runs it; it installs its npm packages itself (deps.sh --anchors). A bench, not a test: exit 0
// whatever the numbers, 1 only if it could not run (no library, an app crashing, nothing
// profiled where a profiler was asked for).
//
//   node tests/bench/anchors.js [--out FILE.md] [--json FILE]
//
// Environment:
//   BENCH_ROUNDS (8)        interleaved rounds
//   BENCH_SECONDS (5)       seconds of each autocannon phase (max rate, then fixed rate)
//   BENCH_CONNECTIONS (10)  autocannon connections
//   BENCH_CONFIGS           subset of the configurations (names below), plain always included
//   BENCH_WORKLOADS         subset of: http cpu paired startup txn trivial (default: all)
//   BENCH_DEPS_DIR          where deps.sh installs (default: _build/_bench-deps)
//   SENTRYPROF_LIB, NODE    as the other benches
// Quick mode: BENCH_ROUNDS=3 BENCH_SECONDS=2 (a few minutes).
//
// Configurations (anchor-sdk.js): 1 plain; 2 shim-eager and 3 shim-lazy (LD_PRELOAD,
// transaction mode, 99 Hz, wall clock, every HTTP request a transaction); 4 sentry7-prof
// (@sentry/node 7 + @sentry/profiling-node 1.3.5, profilesSampleRate 1); 5 sentry7-trace;
// 6 cpu-prof (node --cpu-prof); 7 sentry11-prof (@sentry/node 11 + @sentry/profiling-node 11,
// trace lifecycle, profileSessionSampleRate 1); 8 sentry11-trace. Every configuration that
// traces sends to a DSN: a counting sink (sink.js) per configuration during the timed runs,
// and, once before them, the validating test ingest (tests/ingest/server.js), so the table
// can show that each profiler really produced profiles.
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const HERE = __dirname;
const TOP = path.join(HERE, '..', '..');
const env = process.env;
const ROUNDS = Math.max(1, Number(env.BENCH_ROUNDS || 8));
const SECONDS = Math.max(1, Number(env.BENCH_SECONDS || 5));
const CONNS = Math.max(1, Number(env.BENCH_CONNECTIONS || 10));
const ALL = ['plain', 'shim-eager', 'shim-lazy', 'sentry7-prof', 'sentry7-trace', 'cpu-prof', 'sentry11-prof', 'sentry11-trace'];
const CONFIGS = env.BENCH_CONFIGS ? ['plain', ...env.BENCH_CONFIGS.split(/[ ,]+/).filter((c) => c && c !== 'plain')] : ALL;
const WORKLOADS = (env.BENCH_WORKLOADS || 'http cpu paired startup txn trivial').split(/[ ,]+/);
const arg = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : null; };
const OUT_MD = arg('--out') || path.join(HERE, 'RESULTS.md');
const OUT_JSON = arg('--json');
for (const c of CONFIGS) if (!ALL.includes(c)) { console.error(`anchors: unknown configuration ${c} (known: ${ALL.join(' ')})`); process.exit(2); }

const progress = (s) => process.stderr.write(`${s}\n`);
function die(msg) { progress(`anchors: ${msg}`); cleanup(); process.exit(1); }

// ---- the library, node, the packages -----------------------------------------------------------
const LIB = (() => {
  const c = env.SENTRYPROF_LIB ? [env.SENTRYPROF_LIB]
    : [path.join(TOP, '_build/.libs/libsentryprof.so'), path.join(TOP, '.libs/libsentryprof.so')];
  for (const f of c) if (fs.existsSync(f)) return fs.realpathSync(f);
  return null;
})();
if (!LIB) { progress('anchors: no libsentryprof.so (build it, or set SENTRYPROF_LIB)'); process.exit(1); }
const NODE = (() => {
  const n = env.NODE || 'node';
  if (n.includes('/')) return n;
  const r = spawnSync('sh', ['-c', `command -v ${n}`], { encoding: 'utf8' });
  return r.stdout.trim() || process.execPath;
})();
const DEPS = path.resolve(env.BENCH_DEPS_DIR || path.join(TOP, '_build/_bench-deps'));
progress(`anchors: installing the pinned packages (deps.sh --anchors ${DEPS})`);
{
  const r = spawnSync('sh', [path.join(HERE, 'deps.sh'), '--anchors', DEPS], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) { progress('anchors: cannot install the packages (deps.sh failed)'); process.exit(1); }
}
const AUTOCANNON = path.join(DEPS, 'node_modules/.bin/autocannon');
const pkgVersion = (dir, name) => { try { return JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', name, 'package.json'), 'utf8')).version; } catch (_) { return '?'; } };

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'sentryprof-anchors.'));
const children = new Set();
function cleanup() {
  for (const c of children) { try { c.kill('SIGKILL'); } catch (_) { /* gone */ } }
  try { fs.rmSync(TMP, { recursive: true, force: true }); } catch (_) { /* best effort */ }
}
process.on('SIGINT', () => { cleanup(); process.exit(130); });
process.on('SIGTERM', () => { cleanup(); process.exit(143); });

// ---- processes ---------------------------------------------------------------------------------
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Runs a command to its end: {code, stdout, stderr}.
function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { env: opts.env || env, cwd: HERE, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(c);
    let stdout = '', stderr = '';
    c.stdout.on('data', (d) => { stdout += d; });
    c.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => c.kill('SIGKILL'), (opts.timeout || 300) * 1000);
    c.on('close', (code, signal) => { clearTimeout(timer); children.delete(c); resolve({ code: code === null ? signal : code, stdout, stderr }); });
  });
}
const lastJson = (s) => JSON.parse(s.trim().split('\n').filter((l) => l.startsWith('{')).pop());

// A long-running child that prints its port (a line "listening N", or a file DIR/port).
async function startServer(cmd, args, childEnv, portFile) {
  const c = spawn(cmd, args, { env: childEnv, cwd: HERE, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(c);
  let out = '', err = '';
  c.stdout.on('data', (d) => { out += d; });
  c.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((r) => c.on('close', (code) => { children.delete(c); r(code); }));
  for (let i = 0; i < 600; i++) {
    let m = /^listening (\d+)$/m.exec(out);
    if (!m && portFile && fs.existsSync(portFile)) m = [null, fs.readFileSync(portFile, 'utf8').trim()];
    if (m && m[1]) return { child: c, port: Number(m[1]), exited, output: () => ({ out, err }) };
    if (c.exitCode !== null) break;
    await sleep(50);
  }
  c.kill('SIGKILL');
  throw new Error(`${args.join(' ')} did not start: ${err.trim().slice(-400)}`);
}
async function stopServer(s) {
  s.child.kill('SIGTERM');
  const t = setTimeout(() => s.child.kill('SIGKILL'), 20000);
  const code = await s.exited;
  clearTimeout(t);
  return code;
}
function getJson(port, p) {
  return new Promise((resolve, reject) => {
    require('http').get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => { try { resolve(JSON.parse(b)); } catch (e) { reject(e); } });
    }).on('error', reject);
  });
}

// ---- configurations ----------------------------------------------------------------------------
// Without NODE_EXTRA_CA_CERTS too: a machine that sets it (CI images often do) makes every
// node start load that bundle, 40 ms of node's 60 for `node -e 0` on the machine of
// RESULTS.md, and every ratio of the startup workload would hide our cost behind it.
const cleanEnv = {};
for (const [k, v] of Object.entries(env)) if (!/^(SENTRY_|SENTRYPROF_|NODE_OPTIONS$|NODE_EXTRA_CA_CERTS$|LD_PRELOAD$|BENCH_)/.test(k)) cleanEnv[k] = v;
const sinks = {}; // config -> {server, dir, dsn}
const dsnFor = (port) => `http://0123456789abcdef0123456789abcdef@127.0.0.1:${port}/1`;
// env and node arguments of a configuration; `dsn` overrides the sink's.
function setup(config, { dsn, workload } = {}) {
  const e = { ...cleanEnv, BENCH_CONFIG: config, BENCH_DEPS_DIR: DEPS };
  const args = [];
  const d = dsn || (sinks[config] && sinks[config].dsn) || '';
  const shim = (extra) => Object.assign(e, {
    LD_PRELOAD: LIB, SENTRYPROF_SPOOL_DIR: path.join(TMP, `spool-${config}`), SENTRYPROF_HZ: '99', SENTRYPROF_CLOCK: 'wall',
  }, extra);
  switch (config) {
    case 'shim-eager': case 'shim-lazy':
      shim({ SENTRY_DSN: d, SENTRYPROF_MODE: 'transaction', SENTRY_PROFILER_LOGGING_MODE: config.slice(5),
        SENTRYPROF_HTTP_TRANSACTIONS_PER_SECOND: '1000000', SENTRY_TRACES_SAMPLE_RATE: '1', SENTRY_PROFILES_SAMPLE_RATE: '1' });
      break;
    case 'shim-continuous': case 'shim-default': shim({}); break; // no DSN: the defaults (continuous mode)
    case 'sentry7-prof': case 'sentry7-trace': Object.assign(e, { BENCH_SDK_DIR: path.join(DEPS, 'sdk7'), BENCH_DSN: d }); break;
    case 'sentry11-prof': case 'sentry11-trace': Object.assign(e, { BENCH_SDK_DIR: path.join(DEPS, 'sdk11'), BENCH_DSN: d }); break;
    case 'cpu-prof': args.push('--cpu-prof', '--cpu-prof-dir', path.join(TMP, `cpuprof-${workload || 'x'}`)); break;
    default: break;
  }
  // The SDKs initialise before the app (as @sentry/node 8+ requires); the others load the
  // adapter from the app itself, so that `node -e 0` is node alone.
  // @sentry/node 8+ wants --import (its --require path warns that it is unsupported).
  if (config.startsWith('sentry7')) args.push('-r', path.join(HERE, 'anchor-sdk.js'));
  if (config.startsWith('sentry11')) args.push('--import', path.join(HERE, 'anchor-sdk.js'));
  return { env: e, args };
}
// Whole-process run under /usr/bin/time (getrusage of the child: user, sys, max RSS) with the
// wall time taken here: {wall, user, sys, maxrss (bytes), stdout}.
const HAVE_TIME = fs.existsSync('/usr/bin/time');
async function timed(config, nodeArgs, workload) {
  const s = setup(config, { workload });
  const tf = path.join(TMP, 'time.out');
  const argv = [...s.args, ...nodeArgs];
  const t0 = process.hrtime.bigint();
  const r = HAVE_TIME ? await run('/usr/bin/time', ['-f', '%U %S %M', '-o', tf, NODE, ...argv], { env: s.env })
    : await run(NODE, argv, { env: s.env });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.code !== 0) throw new Error(`${config}: node ${argv.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(-500)}`);
  let user = NaN, sys = NaN, maxrss = NaN;
  if (HAVE_TIME) [user, sys, maxrss] = fs.readFileSync(tf, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return { wall, user, sys, cpu: user + sys, maxrss: maxrss * 1024, stdout: r.stdout };
}

// ---- what each workload records, per round and configuration -----------------------------------
const R = { meta: {}, calibration: {}, validation: {}, rounds: [] };
const rec = (round, workload, config, v) => { ((R.rounds[round] = R.rounds[round] || {})[workload] = R.rounds[round][workload] || {})[config] = v; };

async function autocannon(port, extra) {
  const r = await run(AUTOCANNON, ['-j', '-c', String(CONNS), ...extra, `http://127.0.0.1:${port}/work`], { env: cleanEnv, timeout: SECONDS * 4 + 60 });
  if (r.code !== 0) throw new Error(`autocannon exited ${r.code}: ${r.stderr.slice(-300)}`);
  const j = lastJson(r.stdout);
  return { rps: j.requests.average, p50: j.latency.p50, p99: j.latency.p99, errors: j.errors + j.non2xx, total: j.requests.total };
}
async function httpRun(config, rate) {
  const s = setup(config, { workload: 'http' });
  const srv = await startServer(NODE, [...s.args, path.join(HERE, 'anchor-http-app.js')], { ...s.env, BENCH_UNITS: String(R.calibration.http_units) });
  try {
    await autocannon(srv.port, ['-d', '1']); // warm-up: JIT, the profilers' first symbolization
    const a = await getJson(srv.port, '/_stats');
    const max = await autocannon(srv.port, ['-d', String(SECONDS)]);
    const b = await getJson(srv.port, '/_stats');
    const fixed = rate ? await autocannon(srv.port, ['-d', String(SECONDS), '--overallRate', String(rate)]) : null;
    const c = await getJson(srv.port, '/_stats');
    const n = Math.max(1, b.requests - a.requests - 1); // -1: the /_stats request itself
    const out = {
      rps: max.rps, errors: max.errors + (fixed ? fixed.errors : 0),
      cpu_us_per_req: (b.cpu_ns - a.cpu_ns) / 1000 / n, js_us_per_req: (b.thread_ns - a.thread_ns) / 1000 / n,
      fixed_p50: fixed && fixed.p50, fixed_p99: fixed && fixed.p99, fixed_rps: fixed && fixed.rps,
      peak_rss: c.peak_rss, rss: c.rss, write_bytes: c.write_bytes, uptime_s: c.uptime_ns / 1e9,
      shim: c.shim, shim0: a.shim,
    };
    const code = await stopServer(srv);
    if (code !== 0) throw new Error(`exited ${code}: ${srv.output().err.trim().slice(-300)}`);
    return out;
  } catch (e) {
    srv.child.kill('SIGKILL');
    throw e;
  }
}

// ---- main --------------------------------------------------------------------------------------
async function main() {
  const cpus = os.cpus();
  Object.assign(R.meta, {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), node: spawnSync(NODE, ['--version'], { encoding: 'utf8' }).stdout.trim(),
    cores: cpus.length, cpu_model: (cpus[0] || {}).model || '?', load_start: os.loadavg().map((x) => x.toFixed(1)).join(' '),
    rounds: ROUNDS, seconds: SECONDS, connections: CONNS, configs: CONFIGS, workloads: WORKLOADS,
    versions: {
      express: pkgVersion(DEPS, 'express'), autocannon: pkgVersion(DEPS, 'autocannon'),
      sentry7: pkgVersion(path.join(DEPS, 'sdk7'), '@sentry/node'), profiling1: pkgVersion(path.join(DEPS, 'sdk7'), '@sentry/profiling-node'),
      sentry11: pkgVersion(path.join(DEPS, 'sdk11'), '@sentry/node'), profiling11: pkgVersion(path.join(DEPS, 'sdk11'), '@sentry/profiling-node'),
    },
  });
  progress(`anchors: node ${R.meta.node}, ${R.meta.cores} CPUs (${R.meta.cpu_model}), load ${R.meta.load_start}; ${ROUNDS} rounds x {${CONFIGS.join(' ')}}, ${SECONDS} s phases`);

  // Fixed work for every configuration: units per ms of the JS thread, measured once in plain node.
  {
    const r = await run(NODE, ['-e', `const {work}=require('./workload.js');const fs=require('fs');
      const t=()=>Number(fs.readFileSync('/proc/thread-self/schedstat','latin1').split(' ')[0]);
      work(3000);const v=[];for(let i=0;i<5;i++){const a=t();work(2000);v.push((t()-a)/2000);}
      v.sort((x,y)=>x-y);console.log(JSON.stringify({ns_per_unit:v[2]}));`], { env: cleanEnv });
    if (r.code !== 0) die(`calibration failed: ${r.stderr}`);
    const nsPerUnit = lastJson(r.stdout).ns_per_unit;
    R.calibration = { ns_per_unit: nsPerUnit, http_units: Math.max(1, Math.round(1e6 / nsPerUnit)), cpu_units: Math.max(1, Math.round(1e8 / nsPerUnit)) };
    progress(`anchors: ${(nsPerUnit / 1000).toFixed(2)} µs per unit: ${R.calibration.http_units} units per request (~1 ms), ${R.calibration.cpu_units} per transaction (~100 ms)`);
  }

  // 200 small modules for the require workload.
  const mods = path.join(TMP, 'mods');
  fs.mkdirSync(mods);
  for (let i = 0; i < 200; i++) {
    fs.writeFileSync(path.join(mods, `m${String(i).padStart(3, '0')}.js`), `'use strict';
const table = ${JSON.stringify(Array.from({ length: 20 }, (_, j) => ({ id: j, name: `n${i}-${j}` })))};
class C${i} { constructor(x) { this.x = x; } get y() { return this.x * ${i + 1}; } }
function f${i}(a) { return table.filter((t) => t.id % (a + 1) === 0).map((t) => t.name).join(','); }
module.exports = { C${i}, f${i}, k: new C${i}(1).y + f${i}(2).length };
`);
  }

  // Validation: each configuration's CPU workload (3 transactions) against the validating test
  // ingest: what arrived, parsed and checked by the ingest's own rules.
  progress('anchors: validation: 3 profiled transactions per configuration against the test ingest');
  for (const config of CONFIGS) {
    const dir = path.join(TMP, `ingest-${config}`);
    fs.mkdirSync(dir);
    const ing = await startServer(NODE, [path.join(TOP, 'tests/ingest/server.js'), '--dir', dir, '--quiet', '--max-seconds', '300', '--key', '0123456789abcdef0123456789abcdef'], cleanEnv, path.join(dir, 'port'));
    const s = setup(config, { dsn: dsnFor(ing.port), workload: 'validate' });
    const r = await run(NODE, [...s.args, path.join(HERE, 'anchor-cpu.js'), '3', String(R.calibration.cpu_units)], { env: s.env });
    let v = { exit: r.code };
    if (config.startsWith('shim')) await sleep(500); // the uploader child sends after the exit
    await sleep(1500);
    await stopServer(ing);
    const sum = await run(NODE, [path.join(TOP, 'tests/ingest/summary.js'), dir], { env: cleanEnv });
    try {
      const j = JSON.parse(sum.stdout);
      v = { ...v, items: j.items_by_type, profiles: j.profiles.length, chunks: j.chunks.length, problems: j.problems.length,
        profile_samples: j.profiles.reduce((a, p) => a + (p.samples || 0), 0) + j.chunks.reduce((a, c) => a + (c.samples || 0), 0) };
    } catch (_) { v.summary_error = sum.stderr.slice(-300); }
    if (config === 'cpu-prof') {
      const d = path.join(TMP, 'cpuprof-validate');
      v.cpuprofiles = fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.endsWith('.cpuprofile')).length : 0;
    }
    if (r.code !== 0) v.error = r.stderr.trim().slice(-300);
    R.validation[config] = v;
    progress(`  ${config}: exit ${r.code}, items ${JSON.stringify(v.items || {})}${v.cpuprofiles !== undefined ? `, ${v.cpuprofiles} .cpuprofile` : ''}${v.problems ? `, ${v.problems} problem(s)` : ''}`);
  }

  // One counting sink per configuration for the timed runs (the validating ingest costs ~2 ms of
  // CPU per envelope, which would be what the bench measures).
  for (const config of CONFIGS) {
    const dir = path.join(TMP, `sink-${config}`);
    fs.mkdirSync(dir);
    const srv = await startServer(NODE, [path.join(HERE, 'sink.js'), dir, '--items'], cleanEnv, path.join(dir, 'port'));
    sinks[config] = { server: srv, dir, dsn: dsnFor(srv.port) };
  }

  // The fixed rate: 70% of plain's max req/s, measured once before the rounds.
  let rate = 0;
  if (WORKLOADS.includes('http')) {
    const p = await httpRun('plain', 0);
    rate = Math.max(10, Math.round(p.rps * 0.7));
    R.calibration.plain_max_rps = p.rps;
    R.calibration.fixed_rate = rate;
    progress(`anchors: plain max ${p.rps.toFixed(0)} req/s: fixed-rate phase at ${rate} req/s`);
  }

  for (let round = 0; round < ROUNDS; round++) {
    const order = CONFIGS.map((_, i) => CONFIGS[(i + round) % CONFIGS.length]);
    progress(`anchors: round ${round + 1}/${ROUNDS}: ${order.join(' ')} (load ${os.loadavg()[0].toFixed(1)})`);
    R.rounds[round] = { load: os.loadavg()[0] };
    const each = async (workload, fn, configs = order) => {
      if (!WORKLOADS.includes(workload)) return;
      for (const config of configs) {
        const t0 = Date.now();
        let v;
        try { v = await fn(config); } catch (e) { die(`${workload}, ${config}: ${e.message}`); }
        rec(round, workload, config, v);
        const brief = Object.entries(v).filter(([, x]) => typeof x === 'number').slice(0, 4)
          .map(([k, x]) => `${k} ${Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(4)}`).join(', ');
        progress(`  ${workload} ${config}: ${brief} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      }
    };
    await each('http', (c) => httpRun(c, rate));
    await each('cpu', async (c) => {
      const t = await timed(c, [path.join(HERE, 'anchor-cpu.js'), '20', String(R.calibration.cpu_units)], 'cpu');
      const j = lastJson(t.stdout);
      return { wall: t.wall, cpu: t.cpu, maxrss: t.maxrss, thread_s: j.thread_ns / 1e9, shim: j.shim };
    });
    await each('paired', async (c) => {
      const t = await timed(c, [path.join(HERE, 'anchor-cpu.js'), '10', String(R.calibration.cpu_units >> 1), '--paired'], 'paired');
      const j = lastJson(t.stdout);
      const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
      const pairedRatio = (ins, outs) => med(ins.map((x, i) => x / outs[i]));
      return { thread_ratio: pairedRatio(j.in_thread_ns, j.out_thread_ns), wall_ratio: pairedRatio(j.in_wall_ns, j.out_wall_ns) };
    });
    await each('startup', async (c) => {
      // Three of each per round, the median kept: a process start is ~40 ms.
      const e0 = [], rq = [];
      for (let k = 0; k < 3; k++) {
        e0.push(await timed(c, ['-e', '0'], 'startup'));
        rq.push(await timed(c, [path.join(HERE, 'anchor-require.js'), mods], 'startup'));
      }
      const m = (a, f) => a.map(f).sort((x, y) => x - y)[1];
      return { e0_wall: m(e0, (x) => x.wall), e0_cpu: m(e0, (x) => x.cpu), req_wall: m(rq, (x) => x.wall), req_cpu: m(rq, (x) => x.cpu), e0_maxrss: m(e0, (x) => x.maxrss) };
    }, [...order, 'shim-continuous']);
    await each('txn', async (c) => {
      const t = await timed(c, [path.join(HERE, 'anchor-txn.js'), '1000'], 'txn');
      const ns = lastJson(t.stdout).ns.sort((x, y) => x - y);
      return { p50: ns[ns.length >> 1], p99: ns[Math.floor(ns.length * 0.99)], max: ns[ns.length - 1] };
    }, order.filter((c) => c !== 'plain' && c !== 'cpu-prof'));
    await each('trivial', async (c) => {
      // http-inproc.js (issue 15): a trivial handler, node's whole http stack, fixed work.
      const s = setup(c);
      const r = await run(NODE, [path.join(HERE, 'http-inproc.js'), '20000', '3'], { env: s.env });
      if (r.code !== 0) throw new Error(r.stderr.slice(-300));
      const j = lastJson(r.stdout);
      return { js_ns: j.js_thread_ns_per_request_median, cpu_ns: j.ns_per_request_median };
    }, round % 2 ? ['shim-default', 'plain'] : ['plain', 'shim-default']);
    // The report so far after every round: a run cut short still leaves its table.
    writeOut(`${round + 1} of ${ROUNDS} rounds done`);
    fs.rmSync(path.join(TMP, 'cpuprof-cpu'), { recursive: true, force: true });
    fs.rmSync(path.join(TMP, 'cpuprof-startup'), { recursive: true, force: true });
  }

  // Native start+finish distribution (txn-cost.js, issue 4), once.
  if (WORKLOADS.includes('txn')) {
    progress('anchors: txn-cost.js (native start+finish, eager and lazy)');
    const r = await run(NODE, [path.join(HERE, 'txn-cost.js'), '--json', '--iterations', '5000'], { env: { ...cleanEnv, SENTRYPROF_LIB: LIB, NODE } });
    if (r.code === 0) {
      const j = lastJson(r.stdout);
      R.native_txn = {};
      for (const m of ['eager', 'lazy']) R.native_txn[m] = { native: j.results[m].native.total, jsapi: j.results[m].jsapi.total };
    } else R.native_txn = { error: r.stderr.slice(-300) };
  }

  // What the sinks received over the timed runs; the cpu-prof profiles written.
  for (const config of CONFIGS) {
    await stopServer(sinks[config].server);
    try { R.validation[config].timed_items = JSON.parse(fs.readFileSync(path.join(sinks[config].dir, 'items.json'), 'utf8')).types; } catch (_) { /* none */ }
  }
  const cp = path.join(TMP, 'cpuprof-http');
  if (R.validation['cpu-prof']) R.validation['cpu-prof'].http_cpuprofiles = fs.existsSync(cp) ? fs.readdirSync(cp).length : 0;
  process.stdout.write(writeOut(''));
  progress(`anchors: written to ${OUT_MD}`);
}

function writeOut(partial) {
  R.meta.load_end = os.loadavg().map((x) => x.toFixed(1)).join(' ');
  R.meta.minutes = (process.uptime() / 60).toFixed(1);
  R.meta.partial = partial;
  if (OUT_JSON) fs.writeFileSync(OUT_JSON, `${JSON.stringify(R)}\n`);
  const md = require('./anchors-report.js').render(R);
  fs.writeFileSync(OUT_MD, md);
  return md;
}

main().then(() => { cleanup(); }, (e) => die(e && e.stack));
