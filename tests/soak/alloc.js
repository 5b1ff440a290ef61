'use strict';
// Soak fixture (tests/soak/soak.sh): allocation and GC pressure. SECONDS (argv[2]) x 20 rounds
// at 20 per second; each round allocates small objects, strings, a Map, Buffers (memory
// outside the JS heap) and every 10th round a 1.6 MB typed array (V8's large-object space),
// and compiles one new function (new Function with a body no round had before: code is
// created, named in V8's perf map and collected all run long). The last 40 rounds stay
// reachable, so objects survive into the old generation and full collections run too
// (compaction moves objects while the sampler reads stacks). Prints the round count and a
// checksum of what was built: the same in every run. Resources (fixture-lib probe) WARM_S
// into the run and at the end go to $SOAK_PROBE.
const { WARM_S, paced, mix, mixString, probe, settle, report } = require('./fixture-lib');

const seconds = Number(process.argv[2] || 10);
const RATE = 20;
const KEEP = 40;

function soakObjects(k) {
  const arr = [];
  for (let i = 0; i < 6000; i++) arr.push({ id: i, k, name: 'o' + (i % 100), tags: [i & 7, k & 7] });
  return arr;
}

function soakMap(k) {
  const m = new Map();
  for (let i = 0; i < 1500; i++) m.set(`key-${k}-${i}`, { i, twice: i * 2 });
  let h = 0;
  for (const [key, v] of m) if (v.i % 100 === 0) h = mixString(mix(h, v.twice), key);
  return { m, h };
}

function soakBuffers(k) {
  const bufs = [];
  for (let i = 0; i < 24; i++) bufs.push(Buffer.alloc(4096 + i * 16, (k + i) & 255));
  return bufs;
}

function soakCode(k) {
  // eslint-disable-next-line no-new-func
  const f = new Function('x', `return ((x * ${k + 3}) ^ ${k & 0xffff}) | 0;`);
  let s = 0;
  for (let i = 0; i < 200; i++) s = f(s + i);
  return s;
}

function soakRound(k, kept) {
  const objs = soakObjects(k);
  const { m, h: mh } = soakMap(k);
  const bufs = soakBuffers(k);
  const big = k % 10 === 0 ? new Float64Array(200000).fill(k % 11) : null;
  let h = mix(mh, soakCode(k));
  for (let i = 0; i < objs.length; i += 97) h = mix(h, objs[i].id + objs[i].name.length + objs[i].tags[1]);
  for (const b of bufs) h = mix(h, b[b.length - 1] + b.length);
  if (big) h = mix(h, big[199999] * 1000);
  kept.push({ objs, m, bufs, big });
  if (kept.length > KEEP) kept.shift();
  // Something older than the newest round, read back: survivors are really used.
  const old = kept[0];
  h = mix(h, old.objs[old.objs.length - 1].k + old.m.size + old.bufs.length);
  return h;
}

(async () => {
  const rounds = seconds * RATE;
  const kept = [];
  let sum = 0, base = null;
  await paced(rounds, RATE, (k) => {
    sum = mix(sum, soakRound(k, kept));
    // the baseline: the first round WARM_S into the run (the last round of a shorter run)
    if (!base && (process.uptime() >= WARM_S || k === rounds - 1)) base = probe();
  });
  kept.length = 0;
  const { after, settle_ms } = await settle(base);
  report({ fixture: 'alloc', baseline: base, after, settle_ms });
  console.log(`alloc rounds ${rounds} checksum ${sum.toString(16)}`);
})();
