'use strict';
// Prints facts about samples whose leaf is native code in glibc (libc.so.6), as JSON:
// { samples, glibcLeaves, withJs: of those, how many have a JS frame (platform "node") on
//   their stack, withFn: {fn: count of glibc leaves whose stack holds fn} }.
// Usage: node native-leaf-facts.js FN,FN FILE...
const path = require('path');
const { spoolEnvelopes } = require(path.join(__dirname, '..', 'ingest', 'spoolfile.js'));
const [fnList, ...files] = process.argv.slice(2);
const fns = fnList.split(',');
let samples = 0, glibcLeaves = 0, withJs = 0;
const withFn = Object.fromEntries(fns.map((f) => [f, 0]));
const leaves = {};
for (const { buf } of spoolEnvelopes(...files)) {
  for (const line of buf.toString('utf8').split('\n')) {
    if (!line.startsWith('{"chunk_id"')) continue;
    const { profile } = JSON.parse(line);
    for (const s of profile.samples) {
      const stack = profile.stacks[s.stack_id].map((i) => profile.frames[i]);
      samples++;
      const leaf = stack[0];
      if (!leaf || leaf.platform !== 'native' || !/libc\.so/.test(leaf.module || leaf.package || leaf.abs_path || '')) continue;
      glibcLeaves++;
      leaves[leaf.function] = (leaves[leaf.function] || 0) + 1;
      if (stack.some((f) => f.platform === 'node')) withJs++;
      for (const fn of fns) if (stack.some((f) => f.function === fn && f.platform === 'node')) withFn[fn]++;
    }
  }
}
console.log(JSON.stringify({ samples, glibcLeaves, withJs, withFn, leaves }));
