'use strict';
// Facts for tests/e2e/v8_inline.sh, as JSON. From spooled envelopes: per JS leaf function
// (b, c, a) the number of samples, and for samples whose innermost JS frame is b or c, the
// function and line of the JS frame under it ({ b: { samples, callers: {"a:LINE": n} } }).
// With --cpuprofile FILE: V8's own self samples of b, c and a (V8 expands inlined frames
// too), for the b:c ratio.
// Usage: node inline-facts.js SPOOL_FILES... | --cpuprofile FILE
const path = require('path');
const fs = require('fs');
const { spoolEnvelopes } = require(path.join(__dirname, '..', 'ingest', 'spoolfile.js'));
const want = new Set(['a', 'b', 'c']);
const facts = { samples: 0, leaf: {}, b: { samples: 0, callers: {} }, c: { samples: 0, callers: {} } };
const args = process.argv.slice(2);
if (args[0] === '--cpuprofile') {
  const p = JSON.parse(fs.readFileSync(args[1], 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  for (const id of p.samples) {
    const n = byId.get(id);
    const fn = n && n.callFrame.functionName;
    facts.samples++;
    if (want.has(fn)) facts.leaf[fn] = (facts.leaf[fn] || 0) + 1;
  }
} else {
  for (const { buf } of spoolEnvelopes(...args)) {
    for (const l of buf.toString().split('\n')) {
      if (!l.startsWith('{"chunk_id"')) continue;
      const prof = JSON.parse(l).profile;
      for (const s of prof.samples) {
        const js = prof.stacks[s.stack_id].map((i) => prof.frames[i]).filter((f) => f.platform === 'node');
        facts.samples++;
        if (!js.length || !want.has(js[0].function)) continue;
        const fn = js[0].function;
        facts.leaf[fn] = (facts.leaf[fn] || 0) + 1;
        if (fn === 'b' || fn === 'c') {
          facts[fn].samples++;
          const k = js[1] ? `${js[1].function}:${js[1].lineno}` : '(none)';
          facts[fn].callers[k] = (facts[fn].callers[k] || 0) + 1;
        }
      }
    }
  }
}
console.log(JSON.stringify(facts));
