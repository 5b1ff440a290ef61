'use strict';
// spoolfile: the envelopes in a sentryprof spool, for the tests and benches (one reader, so
// every count and every validator agrees on what a spool holds). A spool file is either one
// Sentry envelope (*.envelope: profile chunks) or a batch of them (*.envelopes: transaction
// envelopes, appended by the agent; src/spool_run.h):
//   {"sentryprof_envelopes":1}\n       header: the format's version (1)
//   <N>\n<N bytes: one envelope>\n      a record, zero or more times; N counts bytes
// A torn tail (a length line without its newline, a length of 0 or over 64 MiB, fewer than
// N bytes, no "\n" after them: a writer killed mid-record) ends the list: the complete records before it are the batch,
// the rest is ignored and its size reported. A header that is not that line: not a batch.
// Files live in ready/, sending/ and run-*/ (open-* while still written); names starting
// with "." are temp files (and hidden dirs): skipped. No dependencies; Node >= 18.
//
// Exports:
//   listSpoolFiles(...paths)  the spool files under each dir (recursive, sorted); a file is
//                             taken whatever its name; a missing path holds nothing
//   parseBatch(buf)           -> {records: [Buffer], torn: bytes ignored}; throws BatchError
//   readSpoolFile(path)       -> {path, batch, torn, envelopes: [{buf, index, path, name}]};
//                             batch: named *.envelopes; name: the path for a single file,
//                             path#index for a batch record (index from 0); throws BatchError
//                             (its message names the file)
//   spoolEnvelopes(...paths)  every envelope of listSpoolFiles(...paths); a file that vanished
//                             since the listing (sent, or moved to sending/) is skipped
//   envelopeItems(buf)        one envelope's items [{type, header, payload}] (rules.js parser)
//   makeBatch(envs, {torn})   the bytes of a batch file holding envs (test fixtures)
//
// CLI: node spoolfile.js [--count | --files] FILE_OR_DIR...
//   prints one line per envelope ("<name> <bytes>"), or their number, or the spool files.
//   A batch that is not valid: exit 1, the reason on stderr and nothing on stdout, so a
//   count is never quietly short.
const fs = require('fs');
const path = require('path');
const { parseEnvelope } = require('./rules');

const HEADER_KEY = 'sentryprof_envelopes';
const VERSION = 1;
const RECORD_MAX = 64 * 1024 * 1024; // SP_BATCH_RECORD_MAX
const SPOOL_NAME = /\.envelopes?$/;

class BatchError extends Error {}

function listSpoolFiles(...paths) {
  const out = [];
  const walk = (d) => {
    let ents;
    try {
      ents = fs.readdirSync(d, { withFileTypes: true });
    } catch (e) {
      if (e.code === 'ENOENT') return; // a run folder removed while we walk
      throw e;
    }
    ents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of ents) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && SPOOL_NAME.test(e.name)) out.push(p);
    }
  };
  for (const a of paths) {
    let st;
    try {
      st = fs.statSync(a);
    } catch (e) {
      if (e.code === 'ENOENT') continue; // a spool dir the run never created
      throw e;
    }
    if (st.isDirectory()) walk(a);
    else out.push(a);
  }
  return out;
}

function parseBatch(buf) {
  const nl = buf.indexOf(0x0a);
  if (nl < 0) throw new BatchError('no header line');
  let h;
  try {
    h = JSON.parse(buf.subarray(0, nl).toString('utf8'));
  } catch (e) {
    throw new BatchError(`header is not JSON: ${e.message}`);
  }
  const keys = h !== null && typeof h === 'object' && !Array.isArray(h) ? Object.keys(h) : [];
  if (keys.length !== 1 || keys[0] !== HEADER_KEY) throw new BatchError(`header is not {"${HEADER_KEY}":${VERSION}}`);
  if (h[HEADER_KEY] !== VERSION) throw new BatchError(`unknown batch format version ${JSON.stringify(h[HEADER_KEY])}`);
  const records = [];
  let pos = nl + 1;
  for (;;) {
    const eol = buf.indexOf(0x0a, pos);
    if (eol < 0) break;
    const digits = buf.toString('latin1', pos, eol);
    // As src/spool_run.c reads it: 1-10 digits, never 0, at most RECORD_MAX.
    if (!/^[0-9]{1,10}$/.test(digits) || Number(digits) === 0 || Number(digits) > RECORD_MAX) break;
    const start = eol + 1, end = start + Number(digits);
    if (end >= buf.length || buf[end] !== 0x0a) break;
    records.push(buf.subarray(start, end));
    pos = end + 1;
  }
  return { records, torn: buf.length - pos };
}

function readSpoolFile(p) {
  const buf = fs.readFileSync(p);
  if (!p.endsWith('.envelopes')) return { path: p, batch: false, torn: 0, envelopes: [{ buf, index: 0, path: p, name: p }] };
  let b;
  try {
    b = parseBatch(buf);
  } catch (e) {
    if (e instanceof BatchError) throw new BatchError(`${p}: not a valid batch: ${e.message}`);
    throw e;
  }
  const envelopes = b.records.map((r, index) => ({ buf: r, index, path: p, name: `${p}#${index}` }));
  return { path: p, batch: true, torn: b.torn, envelopes };
}

function spoolEnvelopes(...paths) {
  const out = [];
  for (const f of listSpoolFiles(...paths)) {
    let sf;
    try {
      sf = readSpoolFile(f);
    } catch (e) {
      if (e.code === 'ENOENT') continue;
      throw e;
    }
    out.push(...sf.envelopes);
  }
  return out;
}

// The items of one envelope as [{type, header, payload: parsed JSON}], through the ingest
// rules' strict parser (throws on a malformed envelope).
function envelopeItems(buf) {
  return parseEnvelope(buf).items.map((it) => ({ type: it.header.type, header: it.header, payload: JSON.parse(it.payload) }));
}

// A batch file's bytes holding the given envelopes (Buffers or strings), as the agent writes
// them; torn: append the start of a record cut short, as a killed writer leaves it.
function makeBatch(envelopes, { torn = false } = {}) {
  const parts = [Buffer.from(`{"${HEADER_KEY}":${VERSION}}\n`)];
  for (const e of envelopes) {
    const b = Buffer.from(e);
    parts.push(Buffer.from(`${b.length}\n`), b, Buffer.from('\n'));
  }
  if (torn) parts.push(Buffer.from('900\n{"event_id":'));
  return Buffer.concat(parts);
}

module.exports = { BatchError, envelopeItems, listSpoolFiles, makeBatch, parseBatch, readSpoolFile, spoolEnvelopes };

if (require.main === module) {
  const args = process.argv.slice(2);
  const mode = args[0] === '--count' || args[0] === '--files' ? args.shift() : '';
  if (!args.length || args.some((a) => a.startsWith('--'))) {
    process.stderr.write('usage: node spoolfile.js [--count | --files] FILE_OR_DIR...\n');
    process.exit(2);
  }
  let lines;
  if (mode === '--files') {
    lines = listSpoolFiles(...args);
  } else {
    let envs;
    try {
      envs = spoolEnvelopes(...args);
    } catch (e) {
      if (!(e instanceof BatchError)) throw e;
      process.stderr.write(`spoolfile: ${e.message}\n`);
      process.exit(1);
    }
    lines = mode === '--count' ? [envs.length] : envs.map((e) => `${e.name} ${e.buf.length}`);
  }
  if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
}
