'use strict';
// Checks spooled envelopes against the rules Sentry's ingest enforces
// (docs/SENTRY-FORMAT.md). Usage: node validate-envelope.js FILE...
// A FILE is one envelope or a batch of them (*.envelopes, ../ingest/spoolfile.js): every
// complete record is checked (its problems name it FILE#index); a torn tail is ignored.
// Prints one line per problem and exits 1 if there is any; prints a summary otherwise.
// The rules live in ../ingest/rules.js, shared with the local ingest server.
const path = require('path');
const rules = require(path.join(__dirname, '..', 'ingest', 'rules.js'));
const { readSpoolFile } = require(path.join(__dirname, '..', 'ingest', 'spoolfile.js'));

const problems = [];
let envelopes = 0, torn = 0, chunks = 0, samples = 0;

function fail(file, msg) { problems.push(`${file}: ${msg}`); }

function check(file, buf) {
  let env;
  try {
    env = rules.splitEnvelopeLenient(buf);
  } catch (e) {
    fail(file, `not an envelope: ${e.message}`);
    return;
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
    // Warnings (accepted by Sentry, against our conventions) fail here too, as they always did.
    samples += rules.checkChunkPayload(p, (msg) => fail(file, msg));
  }
}

for (const file of process.argv.slice(2)) {
  let f;
  try {
    f = readSpoolFile(file);
  } catch (e) {
    problems.push(e.message); // a batch whose header is not format 1, or an unreadable file
    continue;
  }
  if (f.torn) torn++;
  for (const e of f.envelopes) {
    envelopes++;
    check(e.name, e.buf);
  }
}
if (problems.length) {
  for (const p of problems) console.log(p);
  process.exit(1);
}
console.log(`valid: ${process.argv.length - 2} files, ${envelopes} envelopes, ${chunks} chunks, ${samples} samples` +
  `${torn ? `, torn batch tails ignored: ${torn}` : ''}`);
