'use strict';
// Facts about the frames of code V8 compiles that is no JS function, as JSON:
// { samples, regexpLeaf: samples whose innermost JS frame is a "RegExp: ..." frame,
//   wasm: samples with a "wasm-function[...]" frame, wasmWithJs: of those, with a JS frame
//   rootward of it, rawAnon: samples with a frame named only by its address in anonymous
//   memory (JIT code nothing named) }. Our spool: node jit-kinds-facts.js FILE...;
// V8's profile (regexpLeaf and samples only): node jit-kinds-facts.js --cpuprofile FILE...
const fs = require('fs');
const path = require('path');
const args = process.argv.slice(2);
const out = { samples: 0, regexpLeaf: 0, wasm: 0, wasmWithJs: 0, rawAnon: 0 };
if (args[0] === '--cpuprofile') {
  for (const f of args.slice(1)) {
    const p = JSON.parse(fs.readFileSync(f, 'utf8'));
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    for (const id of p.samples) {
      const name = byId.get(id).callFrame.functionName;
      if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') continue;
      out.samples++;
      if (name.startsWith('RegExp: ')) out.regexpLeaf++;
    }
  }
} else {
  const { spoolEnvelopes, envelopeItems } = require(path.join(__dirname, '..', 'ingest', 'spoolfile.js'));
  for (const e of spoolEnvelopes(...args)) {
    for (const it of envelopeItems(e.buf)) {
      if (it.type !== 'profile_chunk' && it.type !== 'profile') continue;
      const p = it.payload.profile;
      for (const s of p.samples) {
        const st = (p.stacks[s.stack_id] || []).map((i) => p.frames[i]);
        const js = st.filter((f) => f.platform === 'node');
        if (!js.length) continue; /* V8's (program), (garbage collector) and idle */
        out.samples++;
        if ((js[0].function || '').startsWith('RegExp: ')) out.regexpLeaf++;
        const w = st.findIndex((f) => /^wasm-function\[/.test(f.function || ''));
        if (w >= 0) {
          out.wasm++;
          if (st.slice(w + 1).some((f) => f.platform === 'node' && !/^wasm-function\[/.test(f.function || ''))) out.wasmWithJs++;
        }
        if (st.some((f) => /^0x/.test(f.function || '') && (f.package || f.module) === '[anon]')) out.rawAnon++;
      }
    }
  }
}
console.log(JSON.stringify(out));
