'use strict';
// Heavy spooling for the kill -9 storm (tests/soak/kill9.sh): short transactions back to
// back, each a few ms of CPU, until killed (or SECONDS, argv[2], default 30).
const p = globalThis.__sentryprof;
const end = Date.now() + Number(process.argv[2] || 30) * 1000;
let n = 0;
function burn() { let x = 0; for (let i = 0; i < 2e5; i++) x += i % 7; return x; }
(function loop() {
  for (let k = 0; k < 5; k++) {
    const t = p ? p.startTransaction({ name: `soak-${n++}`, sampled: true }) : null;
    burn();
    if (t) t.finish();
  }
  if (Date.now() < end) setImmediate(loop);
})();
