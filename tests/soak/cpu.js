'use strict';
// Soak fixture (tests/soak/soak.sh): CPU. SECONDS (argv[2]) x 20 rounds at 20 per second, each
// a fixed mix of work in differently shaped code: recursion, a deep stack, sorting, string
// building, JSON, regular expressions, and a function fed numbers, then strings, then
// objects (V8 optimizes it, deoptimizes it and optimizes it again: code is replaced all run
// long). Prints the round count and a checksum of every result: the same in every run.
// Resources (fixture-lib probe) WARM_S into the run and at the end go to $SOAK_PROBE.
const { WARM_S, paced, mix, mixString, probe, settle, report } = require('./fixture-lib');

const seconds = Number(process.argv[2] || 10);
const RATE = 20;
const REPS = 2; // about 8 ms of CPU a round here: 15% of a core, so a loaded machine keeps up

function soakFib(n) {
  return n < 2 ? n : soakFib(n - 1) + soakFib(n - 2);
}

function soakDeepLeaf(k) {
  let x = k;
  for (let i = 0; i < 20000; i++) x = (x * 31 + i) % 1000003;
  return x;
}
// 300 frames of JS under the leaf: walks that long every time the sampler lands here.
function soakDeep(depth, k) {
  return depth === 0 ? soakDeepLeaf(k) : (soakDeep(depth - 1, k) + depth) % 1000003;
}

function soakSort(seed) {
  const a = new Array(4000);
  let x = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    a[i] = x % 100000;
  }
  a.sort((p, q) => p - q);
  return a[0] ^ a[2000] ^ a[3999];
}

function soakStrings(k) {
  let s = '';
  for (let i = 0; i < 600; i++) s += (i * (k + 1)).toString(36);
  return mixString(0, s);
}

function soakJson(k) {
  const o = { k, list: Array.from({ length: 80 }, (_, i) => ({ i, v: (i * k) % 97, s: 'x' + i })) };
  const back = JSON.parse(JSON.stringify(o));
  return back.list.reduce((a, e) => a + e.v + e.s.length, 0);
}

function soakRegex(k) {
  let n = 0;
  for (let i = 0; i < 100; i++) {
    const s = `id=${k + i};name=soak${(k + i) % 13};v=${(k + i) * 7}`;
    const m = /name=(\w+);v=(\d+)/.exec(s);
    n += m[1].length + Number(m[2]);
  }
  return n;
}

function soakPoly(v) {
  let h = 0;
  for (let i = 0; i < 2000; i++) h = mix(h, typeof v === 'number' ? v + i : typeof v === 'string' ? v.length + i : v.n + i);
  return h;
}
function soakPolyRound(k) {
  const phase = Math.floor(k / 40) % 3; // 2 s of each shape at 20 rounds per second
  return soakPoly(phase === 0 ? k : phase === 1 ? 'r' + k : { n: k });
}

function soakRound(k) {
  let h = mix(0, k);
  for (let r = 0; r < REPS; r++) h = mix(h, soakWork(k * REPS + r));
  return h;
}

function soakWork(k) {
  let h = mix(0, k);
  h = mix(h, soakFib(20));
  h = mix(h, soakDeep(300, k));
  h = mix(h, soakSort(k));
  h = mix(h, soakStrings(k));
  h = mix(h, soakJson(k));
  h = mix(h, soakRegex(k));
  h = mix(h, soakPolyRound(k));
  return h;
}

(async () => {
  const rounds = seconds * RATE;
  let sum = 0, base = null;
  await paced(rounds, RATE, (k) => {
    sum = mix(sum, soakRound(k));
    // the baseline: the first round WARM_S into the run (the last round of a shorter run)
    if (!base && (process.uptime() >= WARM_S || k === rounds - 1)) base = probe();
  });
  const { after, settle_ms } = await settle(base);
  report({ fixture: 'cpu', baseline: base, after, settle_ms });
  console.log(`cpu rounds ${rounds} checksum ${sum.toString(16)}`);
})();
