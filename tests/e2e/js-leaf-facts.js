'use strict';
// Innermost JS frame of every sample, for the V8 frame tests: prints JSON
// { samples, trampoline, leaf: {fn: count} } where a sample's innermost JS frame is its
// first frame that is JS (platform node) or V8's interpreter entry (a native
// Builtins_InterpreterEntryTrampoline or Builtins_InterpreterEnterAt* frame: an interpreted
// function nobody named, counted as "trampoline"). Samples without either are not counted in leaf.
// Usage: node js-leaf-facts.js FILE...   (spooled envelopes, as stack-facts.js reads them)
// Or:    node js-leaf-facts.js --cpuprofile FILE   (V8's --cpu-prof output: the same facts
//        from V8's own samples, one count each: weighting by V8's wall-clock time deltas
//        would put a descheduled thread's wait on whichever sample follows it, which on a
//        busy machine moves shares by more than the decoder's error)
const fs = require('fs');
const path = require('path');
const args = process.argv.slice(2);
const leaf = Object.create(null); // JS function names include "toString", "constructor"
let samples = 0, trampoline = 0;
const add = (name, w) => { leaf[name] = (leaf[name] || 0) + w; };
if (args[0] === '--cpuprofile') {
  const p = JSON.parse(fs.readFileSync(args[1], 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children || []) parent.set(c, n.id);
  p.samples.forEach((id) => {
    const w = 1;
    samples += w;
    for (let n = byId.get(id); n; n = byId.get(parent.get(n.id))) {
      const cf = n.callFrame;
      if (cf.url === '' && cf.functionName.startsWith('(')) continue; // (program), (garbage collector)
      if (cf.lineNumber < 0) continue; // native
      add(cf.functionName || '(anonymous)', w);
      return;
    }
  });
} else {
  const { spoolEnvelopes } = require(path.join(__dirname, '..', 'ingest', 'spoolfile.js'));
  for (const { buf } of spoolEnvelopes(...args)) {
    for (const line of buf.toString('utf8').split('\n')) {
      if (!line.startsWith('{"chunk_id"')) continue;
      const { profile } = JSON.parse(line);
      for (const s of profile.samples) {
        samples++;
        for (const i of profile.stacks[s.stack_id]) {
          const f = profile.frames[i];
          if (f.platform === 'node') { add(f.function || '(anonymous)', 1); break; }
          if (f.function && /^Builtins_Interpreter(EntryTrampoline|EnterAt)/.test(f.function)) { trampoline++; break; }
        }
      }
    }
  }
}
console.log(JSON.stringify({ samples: Math.round(samples), trampoline, leaf }));
