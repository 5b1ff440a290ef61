'use strict';
// Reads the spooled envelopes of one run (argument: the spool dir, searched recursively) and
// prints one JSON line:
// spooled samples, mean/min/max stack depth over samples (stacks[sample.stack_id].length),
// the mean number of JS frames per sample, and the share of truncated-looking shallow stacks.
// A chunk can be committed more than once while open: keep, per chunk_id, the copy with the
// most samples.
const path = require('path');
const { listSpoolFiles, readSpoolFile } = require(path.join(__dirname, '..', 'ingest', 'spoolfile.js'));

const dir = process.argv[2];
const thread = process.argv[3] || '0';
const chunks = new Map();
let files = 0;
// Every spool file under the dir, wherever it is: the layout has ready/, sending/ and
// run-*/open-* (a chunk a process left open), and older builds wrote *.envelope at the top;
// single envelopes and batches (*.envelopes) alike. A chunk is its envelope's {"chunk_id"
// line. A file that cannot be read (gone, a broken batch) is left out: a bench reports what
// it finds.
for (const file of listSpoolFiles(dir)) {
  let envs;
  try { envs = readSpoolFile(file).envelopes; } catch (_) { continue; }
  let seen = false;
  for (const line of envs.flatMap((e) => e.buf.toString('utf8').split('\n'))) {
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
