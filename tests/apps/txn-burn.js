// One transaction around a fixed amount of CPU work (usage: txn-burn.js [BLOCKS]), so
// transaction mode has a profile to send. With SDK_RELEASE set, the release goes to the
// native bridge as an app's Sentry SDK would hand it (setSdk), before the transaction.
if (process.env.SDK_RELEASE) {
  const m = { exports: {} };
  process.dlopen(m, process.env.SENTRYPROF_LIBRARY_PATH);
  m.exports.setSdk('', process.env.SDK_RELEASE, '', '', '', '');
}
const blocks = Number(process.argv[2] || 40);
function burn() { let x = 0; for (let i = 0; i < 1e6; i++) x += i % 7; return x; }
const t = globalThis.__sentryprof.startTransaction({ name: process.env.TXN_NAME || 'burn', sampled: true });
let sum = 0;
for (let b = 0; b < blocks; b++) sum += burn();
t.finish();
console.log(sum > 0 ? 'done' : 'odd');
