'use strict';
// Transaction start + finish latency of tests/bench/anchors.js (issue 19): ITER times the
// configuration's begin() + end() (anchor-sdk.js: the shim's JS API, Sentry's
// startTransaction().finish() or startInactiveSpan().end()), hrtime around the pair, nothing
// inside; every 250 transactions an untimed 150 ms pause lets the profiler's thread take the
// finished ones (the shim holds up to 1024). Prints one JSON line with every duration (ns).
//   node -r ./anchor-sdk.js anchor-txn.js [ITER (default 1000)]
const sdk = require('./anchor-sdk.js');

const ITER = Number(process.argv[2] || 1000);
const pause = () => new Promise((r) => setTimeout(r, 150));
// The timed pair, in one function the warm-up runs too: a loop timed cold measured V8
// compiling it (its p99 was the tiering, 10x the warmed-up figure).
function timed(name) {
  const t0 = process.hrtime.bigint();
  sdk.end(sdk.begin(name));
  return Number(process.hrtime.bigint() - t0);
}
async function main() {
  for (let i = 0; i < 1000; i++) {
    if (i % 250 === 0) await pause();
    timed('warm-up');
  }
  await pause();
  const ns = [];
  for (let i = 0; i < ITER; i++) {
    if (i % 250 === 0) await pause();
    ns.push(timed('txn'));
  }
  await sdk.flush();
  process.stdout.write(`${JSON.stringify({ config: sdk.config, ns })}\n`);
}
main().then(() => process.exit(0), (err) => { process.stderr.write(`${err && err.stack}\n`); process.exit(1); });
