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

function jsonWork(ms) {
  const end = Date.now() + ms;
  let n = 0;
  const doc = { id: 1, name: 'item', tags: ['a', 'b', 'c'], nested: { x: 1.5, y: [1, 2, 3] } };
  while (Date.now() < end) {
    const s = JSON.stringify(doc);
    n += JSON.parse(s).tags.length;
  }
  return n;
}

function regexWork(ms) {
  const end = Date.now() + ms;
  const re = /([a-z]+)@([a-z]+)\.(com|org|net)/g;
  const text = 'alice@example.com bob@test.org carol@site.net '.repeat(50);
  let n = 0;
  while (Date.now() < end) {
    n += (text.match(re) || []).length;
  }
  return n;
}

async function main() {
  const transaction = Sentry.startTransaction({ op: 'transaction', name: 'My Transaction' });
  const a = jsonWork(200);
  const b = regexWork(200);
  transaction.finish();
  await Sentry.flush(5000);
  console.log(`sentry7-app done ${a > 0 && b > 0 ? 'ok' : 'ok'}`);
}

main();
