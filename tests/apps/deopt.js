// A deoptimization-heavy app: hot functions are optimized for one object shape or value
// type, then fed another, over and over, so V8 deoptimizes (and reoptimizes) them many
// times a second. With V8's own sampler running (--cpu-prof, or the inspector's Profiler
// when argv has "inspector") this is what made Node 20 deadlock with
// --interpreted-frames-native-stack (tests/e2e/deopt_profiler.sh).
// Usage: node deopt.js [ms=300] [inspector] [interval_us]
'use strict';
const ms = Number(process.argv[2]) || 300;
const useInspector = process.argv.includes('inspector');
const intervalUs = Number(process.argv[4]) || 100;
const fresh = Number(process.env.DEOPT_FRESH || 40);
const errors = process.env.DEOPT_ERRORS !== '0';
function captureStack(k) { return new Error('e' + k).stack; }

function makeShapes(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const o = {};
    // A different property order (and a different hidden class) per i % 16.
    for (let k = 0; k < (i % 16) + 1; k++) o['p' + ((k * 7 + i) % 16)] = k;
    o.v = i % 5 === 0 ? 'str' + i : i % 7 === 0 ? i + 0.5 : i;
    out.push(o);
  }
  return out;
}
const shapes = makeShapes(256);

// Fresh functions each round (new source text: new SharedFunctionInfo, new feedback), so
// each one goes through interpret -> optimize -> deopt instead of settling polymorphic.
function makeHot(r) {
  const tag = '/*' + r + '*/';
  return {
    sum: new Function('a', tag + 'let s = 0; for (let i = 0; i < a.length; i++) s += a[i].v; return s;'),
    add: new Function('x', 'y', tag + 'return x + y;'),
    pick: new Function('o', tag + 'return o.p3 === undefined ? o.p0 : o.p3;'),
  };
}

function round(r) {
  const h = makeHot(r);
  const mono = [];
  for (let i = 0; i < 64; i++) mono.push({ p0: i, p3: i, v: i });
  let acc = 0;
  // Warm up monomorphic, with ints: TurboFan/Maglev optimize for that.
  for (let i = 0; i < 1000; i++) acc += h.sum(mono) + h.add(i, 1) + (h.pick(mono[i & 63]) | 0);
  // Then break every assumption: other shapes, strings, doubles.
  acc += String(h.sum(shapes)).length;
  acc += String(h.add('a', r)).length + h.add(0.5, 0.25);
  for (let i = 0; i < 256; i++) acc += h.pick(shapes[i]) | 0;
  // Many small functions compiled for the first time (each gets its own code object) and
  // run once or twice: module loading, templates, generated code do this.
  for (let k = 0; k < fresh; k++) {
    const f = new Function('x', '/*' + r + '.' + k + '*/ return x * ' + k + ' + 1;');
    acc += f(k) + f(k + 1);
    // Error stacks walk the interpreted frames (V8 looks each one's code up): loggers,
    // assertion libraries and rejected promises do this.
    if (errors && k % 4 === 0) acc += captureStack(k).length > 0 ? 1 : 0;
  }
  return acc;
}

function run(done) {
  const end = Date.now() + ms;
  let r = 0, acc = 0;
  while (Date.now() < end) acc += round(r++);
  done(acc, r);
}

if (!useInspector) {
  run((acc, r) => process.stdout.write(`rounds ${r} ${acc > 0 ? 'ok' : 'bad'}\n`));
} else {
  const inspector = require('inspector');
  const s = new inspector.Session();
  s.connect();
  s.post('Profiler.enable', () => {
    s.post('Profiler.setSamplingInterval', { interval: intervalUs }, () => {
      s.post('Profiler.start', () => {
        run((acc, r) => {
          s.post('Profiler.stop', (err, res) => {
            const n = res && res.profile ? res.profile.samples.length : -1;
            process.stdout.write(`rounds ${r} samples ${n} ${acc > 0 ? 'ok' : 'bad'}\n`);
            s.disconnect();
          });
        });
      });
    });
  });
}
