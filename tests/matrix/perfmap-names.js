'use strict';
// Fixture for tests/matrix/capture-perfmaps.sh: calls functions whose perf-map names are
// awkward (spaces, newlines, control characters, URL-like and path-like parts, private and
// accessor names, eval/vm/ESM code, OSR and optimized tiers, RegExps) so that V8 logs them.
// Line numbers are asserted by tests/unit/test_perfmap_dialects.c: append, do not reorder.
const vm = require('vm');
function burn(n) { let x = 0; for (let i = 0; i < n; i++) x = (x + i) % 9973; return x; }
class Widget {
  #secret() { return burn(10); }
  get size() { return this.#secret(); }
  set size(v) { this._v = v; }
  static make() { return new Widget(); }
  async load() { return burn(5); }
  *gen() { yield burn(5); }
  [Symbol.iterator]() { return [burn(3)][Symbol.iterator](); }
}
const routes = {};
routes['GET /users/:id'] = function () { return burn(3); };
routes['line\nbreak'] = function () { return burn(3); };
routes['colon:1:2'] = function () { return burn(3); };
routes['tab\there'] = function () { return burn(3); };
routes['uni ☃ é'] = function () { return burn(3); };
routes['ctl\x01x'] = function () { return burn(3); };
routes['cr\rx'] = function () { return burn(3); };
routes['[bracket] x'] = function () { return burn(3); };
const arrow = () => burn(4);
const anon = [function () { return burn(4); }][0];
module.exports = function run(dir) {
  for (let r = 0; r < 3; r++) {
    const w = new Widget(); void w.size; w.size = 3; Widget.make(); w.load(); [...w.gen()]; [...w];
    for (const k of Object.keys(routes)) routes[k]();
    arrow(); anon();
    new Function('a', 'return a + 1')(r);
    eval('(function evald() { return burn(2); })')();
    vm.runInThisContext('(function vmFn() { return 1; })', { filename: `${dir}/vm script.js` })();
    /a\nb/.test('a\nb');
    new RegExp('multi\nline|x y').test('x y');
    new RegExp(' (a+)+b /x$').test('aab /x');
  }
  hotLoop();
  return import(`file://${dir}/esm module.mjs`).then((m) => m.esmFn());
};
// long enough for the optimizing tiers (Maglev, TurboFan) and on-stack replacement
function hotLoop() { let x = 0; const end = Date.now() + 800; while (Date.now() < end) for (let i = 0; i < 5000; i++) x = (x * 31 + i) % 1000003; return x; }
