'use strict';
// Prints facts about the stacks in spooled envelopes, as JSON, for the end-to-end tests:
// { samples, self: {fn: count}, withNativeRootward: {fn: share of samples containing fn that
//   also have a native frame rootward of it} }. Usage: node stack-facts.js FN FILE...
// (single envelopes or batches: ../ingest/spoolfile.js reads them)
const path = require('path');
const { spoolEnvelopes } = require(path.join(__dirname, '..', 'ingest', 'spoolfile.js'));
const [fnName, ...files] = process.argv.slice(2);
let samples = 0, containing = 0, nativeBelow = 0;
const self = {};
for (const { buf } of spoolEnvelopes(...files)) {
  const lines = buf.toString('utf8').split('\n');
  for (const line of lines) {
    if (!line.startsWith('{"chunk_id"')) continue;
    const { profile } = JSON.parse(line);
    for (const s of profile.samples) {
      const stack = profile.stacks[s.stack_id].map((i) => profile.frames[i]);
      samples++;
      const leaf = stack[0] ? stack[0].function : '(idle)';
      self[leaf] = (self[leaf] || 0) + 1;
      const at = stack.findIndex((f) => f.function === fnName && f.platform === 'node');
      if (at < 0) continue;
      containing++;
      if (stack.slice(at + 1).some((f) => f.platform === 'native' && !f.function.startsWith('0x'))) nativeBelow++;
    }
  }
}
console.log(JSON.stringify({ samples, containing, nativeBelow, self }));
