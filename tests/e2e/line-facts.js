'use strict';
// Lines of one function, for tests/e2e/v8_lines.sh: prints JSON { samples, lines: {line: count} }
// counting the samples whose innermost JS frame is FUNC, by that frame's lineno.
// Usage: node line-facts.js FUNC FILE...               (spooled envelopes)
// Or:    node line-facts.js FUNC --cpuprofile FILE     (V8's --cpu-prof output: FUNC's nodes'
//        positionTicks, V8's own self ticks per line)
const fs = require('fs');
const path = require('path');
const [func, ...args] = process.argv.slice(2);
const lines = Object.create(null);
let samples = 0;
const add = (line, w) => { lines[line] = (lines[line] || 0) + w; samples += w; };
if (args[0] === '--cpuprofile') {
  const p = JSON.parse(fs.readFileSync(args[1], 'utf8'));
  for (const n of p.nodes)
    if (n.callFrame.functionName === func)
      for (const t of n.positionTicks || []) add(t.line, t.ticks);
} else {
  const { spoolEnvelopes } = require(path.join(__dirname, '..', 'ingest', 'spoolfile.js'));
  for (const { buf } of spoolEnvelopes(...args)) {
    for (const line of buf.toString('utf8').split('\n')) {
      if (!line.startsWith('{"chunk_id"')) continue;
      const { profile } = JSON.parse(line);
      for (const s of profile.samples) {
        for (const i of profile.stacks[s.stack_id]) {
          const f = profile.frames[i];
          if (f.platform !== 'node') continue;
          if (f.function === func) add(f.lineno || 0, 1);
          break;
        }
      }
    }
  }
}
console.log(JSON.stringify({ samples, lines }));
