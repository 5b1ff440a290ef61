'use strict';
// The CPU workload of tests/bench/anchors.js (issue 19): TXNS transactions of UNITS units of
// workload.js's mixed JS each (~100 ms), then the SDK's flush; fixed work, no clock read in
// the work. Prints one JSON line (process CPU, JS-thread CPU, peak RSS, the shim's stats).
//   node -r ./anchor-sdk.js anchor-cpu.js TXNS UNITS            whole-process run
//   node -r ./anchor-sdk.js anchor-cpu.js TXNS UNITS --paired   in-process: after a warm-up,
//     TXNS blocks outside a transaction and TXNS inside one, alternately (out, in, out, ...),
//     the JS thread's CPU and the wall time of each block: the transaction's (and its
//     profiler's) cost measured without process start, exit or the machine's drift between runs
const sdk = require('./anchor-sdk.js');
const { work, sinkValue } = require('./workload.js');

const TXNS = Number(process.argv[2] || 20);
const UNITS = Number(process.argv[3] || 4000);
const paired = process.argv.includes('--paired');
const now = () => process.hrtime.bigint();

async function main() {
  const out = { config: sdk.config, txns: TXNS, units: UNITS };
  if (!paired) {
    for (let i = 0; i < TXNS; i++) {
      const t = sdk.begin(`cpu-${i}`);
      work(UNITS);
      sdk.end(t);
    }
  } else {
    for (let i = 0; i < 4; i++) { const t = sdk.begin('warm-up'); work(UNITS >> 2); sdk.end(t); work(UNITS >> 2); }
    out.in_thread_ns = []; out.out_thread_ns = []; out.in_wall_ns = []; out.out_wall_ns = [];
    for (let i = 0; i < TXNS; i++) {
      let c0 = sdk.threadNs(), w0 = now();
      work(UNITS);
      out.out_thread_ns.push(sdk.threadNs() - c0); out.out_wall_ns.push(Number(now() - w0));
      c0 = sdk.threadNs(); w0 = now();
      const t = sdk.begin(`cpu-${i}`);
      work(UNITS);
      sdk.end(t);
      out.in_thread_ns.push(sdk.threadNs() - c0); out.in_wall_ns.push(Number(now() - w0));
    }
  }
  await sdk.flush();
  Object.assign(out, { cpu_ns: sdk.cpuNs(), thread_ns: sdk.threadNs(), peak_rss: sdk.peakRssBytes(), shim: sdk.shimStats(), sink: sinkValue() });
  process.stdout.write(`${JSON.stringify(out)}\n`);
}
main().then(() => process.exit(0), (err) => { process.stderr.write(`${err && err.stack}\n`); process.exit(1); });
