'use strict';
// tests/soak/spawn.sh: a node app that spawns short children fast, PAR (argv[4]) at a time:
// NODE_N (argv[2]) node children (profiled too when this one is: they inherit LD_PRELOAD
// and NODE_OPTIONS) that burn ~150 ms of CPU and exit 3, and SH_N (argv[3]) `sh -c true`
// children, one in 50 of them a probe printing its own threads and signal dispositions
// (the shim must leave sh inert: the same as a probe run without LD_PRELOAD).
// stdout says only what does not depend on timing (a run with the shim and one without
// must print the same). Details go as JSON to argv[5]: every child's pid, what each node
// child saw of the profiler, the probes, and, with TIME_N (argv[6]) > 0, the time of
// TIME_N `sh -c true` spawned one after another with this process's environment
// (LD_PRELOAD included) and as many without LD_PRELOAD, alternating in blocks.
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');

const NODE_N = Number(process.argv[2]);
const SH_N = Number(process.argv[3]);
const PAR = Number(process.argv[4]);
const OUT = process.argv[5];
const TIME_N = Number(process.argv[6] || 0);
const CHILD_TIMEOUT_MS = 120000; // a hung child is killed and shows as a wrong exit status

const nodeChild = `const end = process.cpuUsage().user + 150000; let x = 0;
while (process.cpuUsage().user < end) x += Math.sqrt(x + 1);
const s = globalThis.__sentryprof ? globalThis.__sentryprof.stats() : null;
process.stdout.write(JSON.stringify({ pid: process.pid, profiled: !!s, samples: s ? s.samples : 0, threads: s ? s.threads : 0 }));
process.exitCode = 3;`;
const probe = 'grep -E "^(Threads|SigCgt|SigBlk|SigIgn):" /proc/$$/status';
const noPreload = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'LD_PRELOAD'));

function run(kind, i) {
  return new Promise((res) => {
    let args;
    if (kind === 'node') args = [process.execPath, ['-e', nodeChild]];
    else args = ['sh', ['-c', i % 50 === 0 ? probe : 'true']];
    const c = spawn(args[0], args[1], { stdio: ['ignore', 'pipe', 'pipe'], timeout: CHILD_TIMEOUT_MS });
    let out = '', err = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { err += d; });
    c.on('error', (e) => res({ kind, i, pid: c.pid, code: null, signal: null, out, err: String(e) }));
    c.on('close', (code, signal) => res({ kind, i, pid: c.pid, code, signal, out, err }));
  });
}

(async () => {
  const t0 = Date.now();
  // Interleaved: one node child for every SH_N / NODE_N sh children.
  const jobs = [];
  for (let n = 0, s = 0; n < NODE_N || s < SH_N;) {
    if (n < NODE_N && (s >= SH_N || n * SH_N <= s * NODE_N)) jobs.push(['node', n++]);
    else jobs.push(['sh', s++]);
  }
  const results = [];
  let next = 0;
  async function lane() {
    while (next < jobs.length) {
      const [kind, i] = jobs[next++];
      results.push(await run(kind, i));
    }
  }
  await Promise.all(Array.from({ length: PAR }, lane));
  const stormMs = Date.now() - t0;

  const nodes = results.filter((r) => r.kind === 'node');
  const shs = results.filter((r) => r.kind === 'sh');
  const nodeOk = nodes.filter((r) => r.code === 3 && r.signal === null && r.err === '').length;
  const shOk = shs.filter((r) => r.code === 0 && r.signal === null && r.err === '').length;
  const plainProbe = spawnSync('sh', ['-c', probe], { env: noPreload, encoding: 'utf8' }).stdout;
  const probes = shs.filter((r) => r.i % 50 === 0);
  // libuv forks with every signal blocked and restores the mask in the child before exec;
  // node's sh children still exec with it now and then, with or without the shim (seen: 9 of
  // 40 probes without LD_PRELOAD). Such a probe is judged on its other lines: the mask is
  // every signal but the four none can block (KILL, STOP, and glibc's 32 and 33).
  const FULL_MASK = /^SigBlk:\tfffffffe7ffbfeff$/m;
  const refBlk = (plainProbe.match(/^SigBlk:.*$/m) || [''])[0];
  const probesSame = probes.filter((r) => r.out === plainProbe || (FULL_MASK.test(r.out) && r.out.replace(FULL_MASK, refBlk) === plainProbe)).length;
  console.log(`storm: ${nodeOk} of ${nodes.length} node children exited 3, ${shOk} of ${shs.length} sh children exited 0, ${probesSame} of ${probes.length} sh probes as without the shim`);

  const seen = nodes.map((r) => { try { return JSON.parse(r.out); } catch (_) { return null; } });
  const timing = { n: TIME_N };
  if (TIME_N > 0) {
    const block = 50;
    let withNs = 0n, withoutNs = 0n;
    for (let done = 0; done < TIME_N; done += block) {
      for (const [env, add] of [[process.env, (d) => { withNs += d; }], [noPreload, (d) => { withoutNs += d; }]]) {
        const t = process.hrtime.bigint();
        for (let k = 0; k < block && done + k < TIME_N; k++) spawnSync('sh', ['-c', 'true'], { env, stdio: 'ignore' });
        add(process.hrtime.bigint() - t);
      }
    }
    timing.with_ms = Number(withNs / 1000n) / 1000 / TIME_N;
    timing.without_ms = Number(withoutNs / 1000n) / 1000 / TIME_N;
  }
  if (OUT) {
    fs.writeFileSync(OUT, JSON.stringify({
      storm_ms: stormMs, parent: process.pid,
      pids: results.map((r) => r.pid).filter(Boolean),
      node: { n: nodes.length, ok: nodeOk, profiled: seen.filter((s) => s && s.profiled).length,
        with_samples: seen.filter((s) => s && s.samples > 0).length,
        samples: seen.reduce((a, s) => a + (s ? s.samples : 0), 0) },
      sh: { n: shs.length, ok: shOk, probes: probes.length, probes_same: probesSame, plain_probe: plainProbe,
        probe_sample: probes.length ? probes[0].out : '' },
      bad: results.filter((r) => (r.kind === 'node' ? r.code !== 3 : r.code !== 0) || r.signal || r.err).slice(0, 5),
      timing,
    }));
  }
})();
