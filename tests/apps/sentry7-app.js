'use strict';
// Fixture: the seed's example of an app already using @sentry/node 7 (+ @sentry/tracing 7)
// and no profiling package. Knows nothing of sentryprof. The DSN comes from SENTRY_DSN;
// @sentry/node is resolved through NODE_PATH (tests/e2e/sentry7.sh installs it).
const Sentry = require('@sentry/node');
require('@sentry/tracing');

Sentry.init({
  dsn: process.env.SENTRY_DSN,
  tracesSampleRate: 1,
  profilesSampleRate: 1,
});

// Fixed work, not a clock window (as tests/apps/hot.js): each function's speed is measured
// once (iterations per CPU millisecond), so 200 ms of work holds the same CPU-clock samples
// however loaded the machine is.
const doc = { id: 1, name: 'item', tags: ['a', 'b', 'c'], nested: { x: 1.5, y: [1, 2, 3] } };
const re = /([a-z]+)@([a-z]+)\.(com|org|net)/g;
const text = 'alice@example.com bob@test.org carol@site.net '.repeat(50);

function jsonWork(iterations) {
  let n = 0;
  for (let i = 0; i < iterations; i++) {
    const s = JSON.stringify(doc);
    n += JSON.parse(s).tags.length;
  }
  return n;
}

function regexWork(iterations) {
  let n = 0;
  for (let i = 0; i < iterations; i++) n += (text.match(re) || []).length;
  return n;
}

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

// Iterations per CPU millisecond over 100 ms, after 50 ms of warm-up (the function compiled).
function rate(work) {
  const w0 = cpuMs();
  while (cpuMs() - w0 < 50) work(200);
  const t0 = cpuMs();
  let n = 0, t = t0;
  while ((t = cpuMs()) - t0 < 100) { /* long enough to average out a busy machine */
    work(200);
    n += 200;
  }
  return n / (t - t0);
}

// 300 ms each: a CPU-clock timer ticks on the scheduler tick, ~80 samples/s at 99 Hz.
const jsonN = Math.round(300 * rate(jsonWork)), regexN = Math.round(300 * rate(regexWork));

async function main() {
  const transaction = Sentry.startTransaction({ op: 'transaction', name: 'My Transaction' });
  const a = jsonWork(jsonN);
  const b = regexWork(regexN);
  transaction.finish();
  await Sentry.flush(5000);
  console.log(`sentry7-app done ${a > 0 && b > 0 ? 'ok' : 'ok'}`);
}

main();
