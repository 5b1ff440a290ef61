// Issue #20 item 5: N transactions (usage: exit-burst.js N [BLOCKS]) that overlap a fixed
// amount of CPU work and all finish just before the process exits: each one is owed an
// envelope (a profile, or the transaction alone). Prints how many were finished.
const n = Number(process.argv[2] || 1000), blocks = Number(process.argv[3] || 20);
const sp = globalThis.__sentryprof;
function burn() { let x = 0; for (let i = 0; i < 1e6; i++) x += i % 7; return x; }
const txns = [];
let sum = 0;
for (let i = 0; i < n; i++) {
  txns.push(sp.startTransaction({ name: `exit burst ${i}`, sampled: true }));
  if (i % Math.ceil(n / blocks) === 0) sum += burn();
}
for (const t of txns) t.finish();
console.log(`${txns.length} finished${sum > 0 ? '' : ' (odd)'}`);
