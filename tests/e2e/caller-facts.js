'use strict';
// Prints, per thread, how many samples have the JS function LEAF on their stack and how
// many of those also have the JS function CALLER rootward of it, as JSON:
// { "<thread_id>": { leaf: n, withCaller: n, rawBetween: n } } (rawBetween: samples with
// LEAF whose stack between LEAF and the root has a frame named only by its address).
// Usage: node caller-facts.js LEAF CALLER FILE... (single envelopes or batches:
// ../ingest/spoolfile.js reads them)
const path = require('path');
const { spoolEnvelopes, envelopeItems } = require(path.join(__dirname, '..', 'ingest', 'spoolfile.js'));
const [leafName, callerName, ...files] = process.argv.slice(2);
const out = {};
for (const e of spoolEnvelopes(...files)) {
  for (const it of envelopeItems(e.buf)) {
    if (it.type !== 'profile_chunk' && it.type !== 'profile') continue;
    const { profile } = it.payload;
    for (const s of profile.samples) {
      const stack = (profile.stacks[s.stack_id] || []).map((i) => profile.frames[i]);
      const at = stack.findIndex((f) => f.platform === 'node' && f.function === leafName);
      if (at < 0) continue;
      const t = (out[String(s.thread_id)] ||= { leaf: 0, withCaller: 0, rawBetween: 0 });
      t.leaf++;
      const above = stack.slice(at + 1);
      if (above.some((f) => f.platform === 'node' && f.function === callerName)) t.withCaller++;
      if (above.some((f) => /^0x/.test(f.function || ''))) t.rawBetween++;
    }
  }
}
console.log(JSON.stringify(out));
