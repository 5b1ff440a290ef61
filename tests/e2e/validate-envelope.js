'use strict';
// Checks spooled envelopes against the rules Sentry's ingest enforces
// (../shared/reference/SENTRY-FORMAT.md). Usage: node validate-envelope.js FILE...
// Prints one line per problem and exits 1 if there is any; prints a summary otherwise.
const fs = require('fs');

const HEX32 = /^[0-9a-f]{32}$/;
const problems = [];
let chunks = 0, samples = 0;

function fail(file, msg) { problems.push(`${file}: ${msg}`); }

function splitEnvelope(file, buf) {
  let pos = buf.indexOf(0x0a);
  if (pos < 0) pos = buf.length;
  const header = JSON.parse(buf.subarray(0, pos).toString('utf8'));
  const items = [];
  pos += 1;
  while (pos < buf.length) {
    let nl = buf.indexOf(0x0a, pos);
    if (nl < 0) nl = buf.length;
    const line = buf.subarray(pos, nl).toString('utf8');
    pos = nl + 1;
    if (line.trim() === '') continue;
    const ih = JSON.parse(line);
    if (typeof ih.type !== 'string') throw new Error('item header without type');
    let payload;
    if (typeof ih.length === 'number') {
      if (ih.length < 0 || pos + ih.length > buf.length) throw new Error('item length past the end');
      payload = buf.subarray(pos, pos + ih.length);
      pos += ih.length;
      if (buf[pos] === 0x0a) pos += 1;
    } else {
      let end = buf.indexOf(0x0a, pos);
      if (end < 0) end = buf.length;
      payload = buf.subarray(pos, end);
      pos = end + 1;
    }
    items.push({ header: ih, payload });
  }
  return { header, items };
}

function checkProfile(file, p) {
  const prof = p.profile;
  if (!prof || !Array.isArray(prof.samples) || !Array.isArray(prof.stacks) || !Array.isArray(prof.frames)) {
    return fail(file, 'profile.samples/stacks/frames missing');
  }
  if (prof.samples.length < 2) fail(file, `only ${prof.samples.length} samples`);
  prof.stacks.forEach((st, i) => {
    if (!Array.isArray(st)) return fail(file, `stack ${i} is not an array`);
    st.forEach((fi) => {
      if (!Number.isInteger(fi) || fi < 0 || fi >= prof.frames.length) fail(file, `stack ${i} has bad frame index ${fi}`);
    });
  });
  prof.frames.forEach((f, i) => {
    if (typeof f !== 'object' || f === null) fail(file, `frame ${i} is not an object`);
    else if (typeof f.function !== 'string') fail(file, `frame ${i} has no function name`);
  });
  const lastTs = {};
  let first = Infinity, last = -Infinity;
  for (const s of prof.samples) {
    if (!Number.isInteger(s.stack_id) || s.stack_id < 0 || s.stack_id >= prof.stacks.length) fail(file, `sample with bad stack_id ${s.stack_id}`);
    if (typeof s.thread_id !== 'string' || !/^\d+$/.test(s.thread_id)) fail(file, `sample thread_id ${JSON.stringify(s.thread_id)} is not a numeric string`);
    if (typeof s.timestamp !== 'number') { fail(file, 'sample timestamp is not a number'); continue; }
    if (lastTs[s.thread_id] !== undefined && s.timestamp < lastTs[s.thread_id]) fail(file, 'samples not in ascending time');
    lastTs[s.thread_id] = s.timestamp;
    first = Math.min(first, s.timestamp);
    last = Math.max(last, s.timestamp);
  }
  if (last - first > 66) fail(file, `chunk spans ${last - first} s (> 66 s)`);
  if (typeof prof.thread_metadata !== 'object' || prof.thread_metadata === null) fail(file, 'thread_metadata missing');
  samples += prof.samples.length;
}

for (const file of process.argv.slice(2)) {
  let env;
  try {
    env = splitEnvelope(file, fs.readFileSync(file));
  } catch (e) {
    fail(file, `not an envelope: ${e.message}`);
    continue;
  }
  if (typeof env.header.sent_at !== 'string' || Number.isNaN(Date.parse(env.header.sent_at))) fail(file, 'header.sent_at missing or not a time');
  if (!env.header.sdk || !env.header.sdk.name || !env.header.sdk.version) fail(file, 'header.sdk name/version missing');
  for (const item of env.items) {
    if (item.header.length !== undefined && item.header.length !== item.payload.length) fail(file, 'item length mismatch');
    if (item.header.type !== 'profile_chunk') continue;
    chunks++;
    if (item.header.platform !== 'node') fail(file, 'profile_chunk item header lacks "platform":"node"');
    let p;
    try { p = JSON.parse(item.payload.toString('utf8')); } catch (e) { fail(file, `payload is not JSON: ${e.message}`); continue; }
    if (!HEX32.test(p.chunk_id || '')) fail(file, 'chunk_id is not 32 hex');
    if (!HEX32.test(p.profiler_id || '')) fail(file, 'profiler_id is not 32 hex');
    if (!p.client_sdk || typeof p.client_sdk.name !== 'string' || typeof p.client_sdk.version !== 'string') fail(file, 'client_sdk name/version missing');
    if (p.platform !== 'node') fail(file, 'platform is not node');
    if (p.version !== '2') fail(file, 'version is not "2"');
    if (typeof p.release !== 'string' || typeof p.environment !== 'string') fail(file, 'release/environment missing');
    checkProfile(file, p);
  }
}
if (problems.length) {
  for (const p of problems) console.log(p);
  process.exit(1);
}
console.log(`valid: ${process.argv.length - 2} files, ${chunks} chunks, ${samples} samples`);
