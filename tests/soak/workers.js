'use strict';
// Soak fixture (tests/soak/soak.sh): worker churn. SECONDS (argv[2]) rounds at 1 per
// second, each starting 3 workers at once: one computes a fixed result and returns it, one
// computes and ends itself with process.exit(code) (a worker's own exit path; the code is
// its result), one spins until the main thread terminates it a few ms after it started
// (terminated mid-work, so often mid-sample). Every worker is a JS thread the profiler registers (its own timer) and must
// let go of. The main thread prints how many workers ran, how many were terminated and a
// checksum of the returned results: the same in every run.
// Resources: the baseline is probed after a first round (node's own lazily started threads
// are up by then), 1 s later and no earlier than WARM_S into the run (fixture-lib), the end
// after the last worker exited and a settle (fixture-lib); both go to $SOAK_PROBE, with a probe at the half-way round (growth in the second half
// tells a steady leak from one-time growth).
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const { paced, mixString, probe, baseline, settle, report, sleep } = require('./fixture-lib');

function soakWorkerCompute(seed) {
  let x = seed;
  for (let i = 0; i < 300000; i++) x = (x * 31 + i) % 1000003;
  return x;
}

function soakWorkerSpin(seed) {
  let x = seed;
  for (;;) for (let i = 0; i < 10000; i++) x = (x * 7 + i) % 999983;
}

if (!isMainThread) {
  const { kind, seed } = workerData;
  if (kind === 'spin') {
    parentPort.postMessage({ started: true });
    soakWorkerSpin(seed);
  } else {
    const x = soakWorkerCompute(seed);
    // 'exit' returns its result as its exit code (a message posted just before
    // process.exit() is not guaranteed to arrive)
    if (kind === 'exit') process.exit(1 + (x % 200));
    parentPort.postMessage({ result: x });
  }
} else {
  const seconds = Number(process.argv[2] || 10);
  const RATE = 1; // a worker's start costs ~0.1 s of CPU: 3 a second keep up on a loaded machine
  let ran = 0, terminated = 0, sum = 0;

  function start(kind, seed) {
    return new Promise((resolve) => {
      const w = new Worker(__filename, { workerData: { kind, seed } });
      let result = null;
      w.on('message', (m) => {
        if (m.started) sleep(5 + (seed % 10)).then(() => w.terminate()).then(() => { terminated++; });
        else result = m.result;
      });
      w.on('error', (e) => { result = `error ${e.message}`; });
      w.on('exit', (code) => { ran++; resolve(kind === 'exit' ? `code ${code}` : result); });
    });
  }

  async function round(k) {
    const got = await Promise.all([start('return', k * 3), start('exit', k * 3 + 1), start('spin', k * 3 + 2)]);
    sum = mixString(mixString(sum, String(got[0])), String(got[1]));
  }

  (async () => {
    const rounds = seconds * RATE;
    await round(-1); // warm-up: not counted in the output
    ran = terminated = sum = 0;
    await sleep(1000); // the warm-up's threads joined
    const base = await baseline();
    let half = null;
    await paced(rounds, RATE, async (k) => {
      await round(k);
      if (k === Math.floor(rounds / 2)) half = probe();
    });
    const { after, settle_ms } = await settle(base);
    report({ fixture: 'workers', baseline: base, half, after, settle_ms });
    console.log(`workers rounds ${rounds} ran ${ran} terminated ${terminated} checksum ${sum.toString(16)}`);
  })();
}
