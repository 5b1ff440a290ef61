'use strict';
// Reads the spooled envelopes of one run (argument: the spool dir, searched recursively) and
// prints one JSON line:
// spooled samples, mean/min/max stack depth over samples (stacks[sample.stack_id].length),
// the mean number of JS frames per sample, and the share of truncated-looking shallow stacks.
// A chunk can be committed more than once while open: keep, per chunk_id, the copy with the
// most samples.
const fs = require('fs');
const path = require('path');

const dir = process.argv[2];
const thread = process.argv[3] || '0';
const chunks = new Map();
let files = 0;
// Every file under the spool: the layout has ready/, sending/ and run-*/open-* (a chunk a
// process left open), and older builds wrote *.envelope at the top. Anything that is not an
// envelope simply has no {"chunk_id" line.
function* walk(d, depth = 0) {
  let ents = [];
  try { ents = fs.readdirSync(d, { withFileTypes: true }); } catch (_) { return; }
  for (const e of ents) {
    const full = path.join(d, e.name);
    if (e.isDirectory() && depth < 4) yield* walk(full, depth + 1);
    else if (e.isFile()) yield full;
  }
}
for (const file of walk(dir)) {
  let text;
  try { text = fs.readFileSync(file, 'utf8'); } catch (_) { continue; }
  let seen = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith('{"chunk_id"')) continue;
    let item;
    try { item = JSON.parse(line); } catch (_) { continue; }
    seen = true;
    const prev = chunks.get(item.chunk_id);
    if (!prev || item.profile.samples.length > prev.profile.samples.length) chunks.set(item.chunk_id, item);
  }
  if (seen) files++;
}
let n = 0, sum = 0, jsSum = 0, min = Infinity, max = 0, shallow = 0;
for (const item of chunks.values()) {
  const { samples, stacks, frames } = item.profile;
  const jsCount = stacks.map((st) => st.reduce((k, f) => k + (frames[f] && frames[f].platform !== 'native' ? 1 : 0), 0));
  for (const s of samples) {
    if (String(s.thread_id) !== thread) continue;
    const st = stacks[s.stack_id];
    if (!st) continue;
    n++; sum += st.length; jsSum += jsCount[s.stack_id];
    if (st.length < min) min = st.length;
    if (st.length > max) max = st.length;
    if (st.length < 10) shallow++;
  }
}
process.stdout.write(JSON.stringify({ files, chunks: chunks.size, samples: n,
  mean_depth: n ? sum / n : null, mean_js_frames: n ? jsSum / n : null,
  min_depth: n ? min : null, max_depth: n ? max : null, shallow_share: n ? shallow / n : null }) + '\n');
