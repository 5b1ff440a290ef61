'use strict';
// rules: what Sentry's ingest (Relay) accepts, as plain functions over parsed envelopes.
// Shared by the local ingest server (server.js), its summary (summary.js) and the offline
// validator (../e2e/validate-envelope.js). Source of the rules: docs/SENTRY-FORMAT.md
// and getsentry/relay (relay-server/src/envelope, relay-profiling/src/sample/{v1,v2}.rs).
//
// Two levels of findings:
//   problem  Sentry would reject the envelope or drop the item (the test must fail);
//   warning  accepted by Sentry, but against our own conventions (reported, not fatal).
// No I/O, no dependencies; Node >= 18.
//
// Exports:
//   parseEnvelope(buf)          strict parser (Relay's framing); throws EnvelopeError
//   splitEnvelopeLenient(buf)   the validator's historical lenient parser (kept byte-for-byte)
//   checkChunkPayload(p, fail, opts)  v2 chunk rules; fail(msg, level)
//   checkEnvelope(env)          all item rules + cross-item rules -> {problems, warnings, items}
//   analyzeBody(buf)            parseEnvelope + checkEnvelope, never throws
//   debugIdOfBuildId(hex)       the debug id Sentry derives from an ELF build id

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const UUID = /^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const NUMERIC = /^\d+$/;
const ADDR = /^0x[0-9a-fA-F]+$/;
const U32_MAX = 4294967295;
const FLOAT_LENGTH = /"length"\s*:\s*-?\d+(?:\.\d*|[eE])/;

const MAX_CHUNK_SPAN_S = 66;          // Relay rejects a chunk spanning more than this
const MAX_PROFILE_NS = 30e9;          // v1: last elapsed_since_start_ns
const MIN_SAMPLES = 2;

class EnvelopeError extends Error {}

// Strict UTF-8 (Relay parses bytes with serde_json, which rejects invalid UTF-8). A Node built
// without ICU cannot do fatal decoding: fall back to a round-trip comparison.
const utf8 = (() => {
  try {
    return new TextDecoder('utf-8', { fatal: true });
  } catch (e) {
    return {
      decode(b) {
        const s = Buffer.from(b).toString('utf8');
        if (!Buffer.from(s, 'utf8').equals(Buffer.from(b))) throw new TypeError('invalid UTF-8');
        return s;
      },
    };
  }
})();

function isObject(v) { return typeof v === 'object' && v !== null && !Array.isArray(v); }
function isRfc3339(s) { return typeof s === 'string' && RFC3339.test(s) && !Number.isNaN(Date.parse(s)); }
function isTime(v) { return (typeof v === 'number' && Number.isFinite(v)) || isRfc3339(v); }
function timeSeconds(v) { return typeof v === 'number' ? v : Date.parse(v) / 1000; }
function isU32(v) { return Number.isInteger(v) && v >= 0 && v <= U32_MAX; }
function show(v) {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

// ---- framing ---------------------------------------------------------------------------------

function decodeJson(bytes, what) {
  let text;
  try {
    text = utf8.decode(bytes);
  } catch (e) {
    throw new EnvelopeError(`${what} is not valid UTF-8`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new EnvelopeError(`${what} is not JSON: ${e.message}`);
  }
}

function isWs(b) { return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d; }

// Relay's framing: the envelope header is one JSON object ended by '\n' or the end; each item is
// a header line (JSON object with a non-empty string "type" and optional non-negative integer
// "length") and a payload of exactly "length" bytes followed by '\n' or the end; without
// "length" the payload runs to the next '\n'. Whitespace before an item header is skipped, but
// whitespace after the last item is an error (Relay: UnexpectedEof).
function parseEnvelope(buf) {
  if (!Buffer.isBuffer(buf)) buf = Buffer.from(buf);
  let pos = 0;
  while (pos < buf.length && isWs(buf[pos])) pos++;
  if (pos >= buf.length) throw new EnvelopeError('empty envelope (no header)');
  let nl = buf.indexOf(0x0a, pos);
  if (nl < 0) nl = buf.length;
  const headerBytes = buf.subarray(pos, nl);
  if (headerBytes.length && isWs(headerBytes[headerBytes.length - 1])) throw new EnvelopeError('envelope header line has trailing whitespace');
  const header = decodeJson(headerBytes, 'envelope header');
  if (!isObject(header)) throw new EnvelopeError('envelope header is not a JSON object');
  if (header.event_id !== undefined && header.event_id !== null && !(typeof header.event_id === 'string' && UUID.test(header.event_id))) {
    throw new EnvelopeError(`envelope header event_id ${show(header.event_id)} is not a UUID`);
  }
  if (header.sent_at !== undefined && header.sent_at !== null && !isRfc3339(header.sent_at)) {
    throw new EnvelopeError(`envelope header sent_at ${show(header.sent_at)} is not an RFC 3339 time`);
  }
  pos = nl + 1;
  const items = [];
  while (pos < buf.length) {
    const n = items.length;
    while (pos < buf.length && isWs(buf[pos])) pos++;
    if (pos >= buf.length) throw new EnvelopeError(`unexpected end of envelope: whitespace after ${n ? `item ${n - 1}` : 'the envelope header'}`);
    nl = buf.indexOf(0x0a, pos);
    if (nl < 0) nl = buf.length;
    const line = buf.subarray(pos, nl);
    if (isWs(line[line.length - 1])) throw new EnvelopeError(`item ${n} header line has trailing whitespace`);
    const ih = decodeJson(line, `item ${n} header`);
    if (!isObject(ih)) throw new EnvelopeError(`item ${n} header is not a JSON object`);
    if (typeof ih.type !== 'string') throw new EnvelopeError(`item ${n} header has no string "type"`);
    if (ih.type === '') throw new EnvelopeError(`item ${n} header has an empty "type"`);
    const start = Math.min(nl + 1, buf.length);
    let end;
    if (ih.length !== undefined) {
      // JSON.parse reads 5.0 as 5; Relay (serde, u32) rejects a fraction or exponent.
      if (FLOAT_LENGTH.test(line.toString('utf8'))) throw new EnvelopeError(`item ${n} (${ih.type}) "length" is written as a float`);
      if (!isU32(ih.length)) throw new EnvelopeError(`item ${n} (${ih.type}) "length" ${show(ih.length)} is not an integer in 0..${U32_MAX}`);
      end = start + ih.length;
      if (end > buf.length) throw new EnvelopeError(`item ${n} (${ih.type}) "length" ${ih.length} runs past the end of the envelope (${buf.length - start} bytes left)`);
      if (end < buf.length && buf[end] !== 0x0a) throw new EnvelopeError(`item ${n} (${ih.type}) payload of "length" ${ih.length} is not followed by a newline`);
    } else {
      end = buf.indexOf(0x0a, start);
      if (end < 0) end = buf.length;
    }
    items.push({ header: ih, payload: buf.subarray(start, end), offset: start });
    pos = end + 1;
  }
  return { header, items };
}

// The validator's original parser, unchanged (its error messages are part of its output).
function splitEnvelopeLenient(buf) {
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

// ---- shared profile pieces -------------------------------------------------------------------

// Relay's Frame: every field optional, but typed.
function checkFrameTypes(f, i, fail) {
  for (const k of ['abs_path', 'filename', 'function', 'module', 'platform']) {
    if (f[k] !== undefined && f[k] !== null && typeof f[k] !== 'string') fail(`frame ${i} ${k} ${show(f[k])} is not a string`);
  }
  for (const k of ['lineno', 'colno']) {
    if (f[k] !== undefined && f[k] !== null && !isU32(f[k])) fail(`frame ${i} ${k} ${show(f[k])} is not an unsigned 32-bit integer`);
  }
  if (f.in_app !== undefined && f.in_app !== null && typeof f.in_app !== 'boolean') fail(`frame ${i} in_app ${show(f.in_app)} is not a boolean`);
  const a = f.instruction_addr;
  if (a !== undefined && a !== null && !(typeof a === 'string' && ADDR.test(a)) && !(Number.isSafeInteger(a) && a >= 0)) {
    fail(`frame ${i} instruction_addr ${show(a)} is not a 0x-hex string`);
  }
}

function checkThreadMetadata(tm, fail) {
  if (tm === undefined || tm === null) return;
  if (!isObject(tm)) return fail('thread_metadata is not an object');
  for (const [id, m] of Object.entries(tm)) {
    if (!isObject(m)) { fail(`thread_metadata[${show(id)}] is not an object`); continue; }
    if (m.name !== undefined && m.name !== null && typeof m.name !== 'string') fail(`thread_metadata[${show(id)}].name is not a string`);
    if (m.priority !== undefined && m.priority !== null && !isU32(m.priority)) fail(`thread_metadata[${show(id)}].priority is not an unsigned integer`);
  }
}

function checkMeasurements(ms, v1, fail) {
  if (ms === undefined || ms === null) return;
  if (!isObject(ms)) return fail('measurements is not an object');
  for (const [name, m] of Object.entries(ms)) {
    if (!isObject(m) || typeof m.unit !== 'string' || !Array.isArray(m.values)) { fail(`measurement ${show(name)} lacks unit/values`); continue; }
    m.values.forEach((v, j) => {
      const t = v1 ? v && v.elapsed_since_start_ns : v && v.timestamp;
      const okT = v1 ? (Number.isSafeInteger(t) && t >= 0) || (typeof t === 'string' && NUMERIC.test(t)) : typeof t === 'number';
      if (!isObject(v) || !okT || typeof v.value !== 'number') fail(`measurement ${show(name)} value ${j} is malformed`);
    });
  }
}

// debug_meta.images as Relay's profile parser reads them (relay-profiling/src/debug_image.rs,
// serde): a type outside its enum, a debug_id that is not a debug id, an image_addr that is not
// an address or an image_size that is not a number fails the whole profile. What ours must
// also hold (warnings): a "symbolic" image (a native file) has code_file, debug_id, image_addr,
// a nonzero image_size and a hex code_id (its build id, the first 16 bytes of which are the
// debug id, byte-swapped as a little-endian GUID); a "sourcemap" image code_file and debug_id.
const IMAGE_TYPES = ['macho', 'symbolic', 'sourcemap', 'proguard', 'jvm'];
const DEBUG_ID = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}(?:-?[0-9a-fA-F]+)?$/;
function debugIdOfBuildId(hex) {
  const b = (hex + '0'.repeat(32)).slice(0, 32);
  const sw = (s) => s.match(/../g).reverse().join('');
  return `${sw(b.slice(0, 8))}-${sw(b.slice(8, 12))}-${sw(b.slice(12, 16))}-${b.slice(16, 20)}-${b.slice(20, 32)}`;
}
function checkDebugMeta(dm, P, W) {
  if (dm === undefined || dm === null) return;
  if (!isObject(dm) || !Array.isArray(dm.images || [])) return P('debug_meta.images is not an array');
  (dm.images || []).forEach((im, i) => {
    const at = `debug_meta.images[${i}]`;
    if (!isObject(im)) return P(`${at} is not an object`);
    if (!IMAGE_TYPES.includes(im.type)) return P(`${at} type ${show(im.type)} is not one of ${IMAGE_TYPES.join(', ')} (Relay's profile parser fails the whole profile)`);
    if (im.debug_id !== undefined && !(typeof im.debug_id === 'string' && DEBUG_ID.test(im.debug_id))) P(`${at} debug_id ${show(im.debug_id)} is not a debug id`);
    if (im.image_addr !== undefined && !((typeof im.image_addr === 'string' && ADDR.test(im.image_addr)) || (Number.isSafeInteger(im.image_addr) && im.image_addr >= 0))) P(`${at} image_addr ${show(im.image_addr)} is not an address`);
    if (im.image_size !== undefined && !((typeof im.image_size === 'string' && NUMERIC.test(im.image_size)) || (Number.isSafeInteger(im.image_size) && im.image_size >= 0))) P(`${at} image_size ${show(im.image_size)} is not a number`);
    if (typeof im.code_file !== 'string' || !im.code_file || typeof im.debug_id !== 'string') W(`${at} (${im.type}) lacks code_file or debug_id`);
    if (im.type !== 'symbolic') return;
    if (!ADDR.test(im.image_addr || '') || !(im.image_size > 0)) W(`${at} (${im.code_file}) lacks image_addr or a nonzero image_size`);
    if (!(typeof im.code_id === 'string' && /^([0-9a-f]{2})+$/.test(im.code_id))) W(`${at} (${im.code_file}) code_id ${show(im.code_id)} is not a build id in hex`);
    else if (typeof im.debug_id === 'string' && im.debug_id !== debugIdOfBuildId(im.code_id)) W(`${at} (${im.code_file}) debug_id ${im.debug_id} is not its code_id ${im.code_id} as a little-endian GUID (${debugIdOfBuildId(im.code_id)})`);
  });
}

// ---- v2: profile_chunk -----------------------------------------------------------------------

// The checks of the original validator, in its order and with its messages; opts.extended adds
// Relay's type checks (frame fields, thread_metadata, measurements) at the end.
// fail(msg, level): level 'problem' or 'warning'. Returns the sample count (0 if unusable).
function checkChunkPayload(p, fail, opts = {}) {
  if (!isObject(p)) { fail('payload is not a JSON object', 'problem'); return 0; }
  const P = (m) => fail(m, 'problem');
  const W = (m) => fail(m, 'warning');
  if (!HEX32.test(p.chunk_id || '')) P('chunk_id is not 32 hex');
  if (!HEX32.test(p.profiler_id || '')) P('profiler_id is not 32 hex');
  if (!p.client_sdk || typeof p.client_sdk.name !== 'string' || typeof p.client_sdk.version !== 'string') P('client_sdk name/version missing');
  if (p.platform !== 'node') P('platform is not node');
  if (p.version !== '2') P('version is not "2"');
  // Relay: release is a required string, environment optional; ours always sends both.
  if (typeof p.release !== 'string') P('release/environment missing');
  else if (typeof p.environment !== 'string') W('release/environment missing');
  const prof = p.profile;
  if (!prof || !Array.isArray(prof.samples) || !Array.isArray(prof.stacks) || !Array.isArray(prof.frames)) {
    P('profile.samples/stacks/frames missing');
    return 0;
  }
  if (prof.samples.length < MIN_SAMPLES) P(`only ${prof.samples.length} samples`);
  prof.stacks.forEach((st, i) => {
    if (!Array.isArray(st)) return P(`stack ${i} is not an array`);
    st.forEach((fi) => {
      if (!Number.isInteger(fi) || fi < 0 || fi >= prof.frames.length) P(`stack ${i} has bad frame index ${fi}`);
    });
  });
  prof.frames.forEach((f, i) => {
    if (typeof f !== 'object' || f === null) P(`frame ${i} is not an object`);
    else if (typeof f.function !== 'string') W(`frame ${i} has no function name`);
  });
  const lastTs = {};
  let first = Infinity, last = -Infinity;
  for (const s of prof.samples) {
    if (!isObject(s)) { P('sample is not an object'); continue; }
    if (!Number.isInteger(s.stack_id) || s.stack_id < 0 || s.stack_id >= prof.stacks.length) P(`sample with bad stack_id ${s.stack_id}`);
    if (typeof s.thread_id !== 'string' || !NUMERIC.test(s.thread_id)) P(`sample thread_id ${JSON.stringify(s.thread_id)} is not a numeric string`);
    if (typeof s.timestamp !== 'number') { P('sample timestamp is not a number'); continue; }
    if (lastTs[s.thread_id] !== undefined && s.timestamp < lastTs[s.thread_id]) P('samples not in ascending time');
    lastTs[s.thread_id] = s.timestamp;
    first = Math.min(first, s.timestamp);
    last = Math.max(last, s.timestamp);
  }
  if (last - first > MAX_CHUNK_SPAN_S) P(`chunk spans ${last - first} s (> ${MAX_CHUNK_SPAN_S} s)`);
  if (typeof prof.thread_metadata !== 'object' || prof.thread_metadata === null) W('thread_metadata missing');
  if (opts.extended) {
    prof.frames.forEach((f, i) => { if (isObject(f)) checkFrameTypes(f, i, P); });
    checkThreadMetadata(prof.thread_metadata, P);
    checkMeasurements(p.measurements, false, P);
    if (p.environment !== undefined && p.environment !== null && typeof p.environment !== 'string') P('environment is not a string');
  }
  checkDebugMeta(p.debug_meta, P, W);
  return prof.samples.length;
}

function chunkSummary(p) {
  const prof = (p && p.profile) || {};
  const samples = Array.isArray(prof.samples) ? prof.samples : [];
  const ts = samples.map((s) => s && s.timestamp).filter((t) => typeof t === 'number');
  const threads = [...new Set(samples.map((s) => s && s.thread_id))];
  return {
    chunk_id: p && p.chunk_id,
    profiler_id: p && p.profiler_id,
    release: p && p.release,
    environment: p && p.environment,
    samples: samples.length,
    stacks: Array.isArray(prof.stacks) ? prof.stacks.length : 0,
    frames: Array.isArray(prof.frames) ? prof.frames.length : 0,
    threads,
    start: ts.length ? Math.min(...ts) : null,
    end: ts.length ? Math.max(...ts) : null,
  };
}

// ---- v1: profile (transaction profile) -------------------------------------------------------

function elapsedNs(v) {
  if (Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && NUMERIC.test(v)) return Number(v);
  return null;
}

// Returns the summary; transaction linkage is checked by checkEnvelope.
function checkProfileV1(p, fail) {
  const P = (m) => fail(m, 'problem');
  const W = (m) => fail(m, 'warning');
  if (!isObject(p)) { P('payload is not a JSON object'); return {}; }
  const id = p.event_id !== undefined ? p.event_id : p.profile_id;
  if (!(typeof id === 'string' && UUID.test(id))) P(`event_id ${show(id)} is not a UUID`);
  if (p.version !== '1') P(`version ${show(p.version)} is not "1"`);
  if (typeof p.platform !== 'string' || p.platform === '') P('platform missing');
  else if (p.platform !== 'node') W(`platform ${show(p.platform)} is not "node"`);
  if (!isRfc3339(p.timestamp)) P(`timestamp ${show(p.timestamp)} is not an RFC 3339 time`);
  if (!isObject(p.device) || typeof p.device.architecture !== 'string') P('device.architecture missing');
  if (!isObject(p.os) || typeof p.os.name !== 'string') P('os.name missing');
  if (!isObject(p.os) || typeof p.os.version !== 'string') P('os.version missing');
  if (!isObject(p.runtime) || typeof p.runtime.name !== 'string' || typeof p.runtime.version !== 'string') P('runtime name/version missing');
  if (p.release !== undefined && p.release !== null && typeof p.release !== 'string') P('release is not a string');
  if (p.environment !== undefined && typeof p.environment !== 'string') P('environment is not a string');
  checkDebugMeta(p.debug_meta, P, W);
  let t = p.transaction;
  if (t === undefined && Array.isArray(p.transactions)) t = p.transactions[0];
  if (!isObject(t)) P('transaction missing');
  else {
    if (!(typeof t.id === 'string' && UUID.test(t.id))) P(`transaction.id ${show(t.id)} is not a UUID`);
    if (typeof t.name !== 'string' || t.name === '') P('transaction.name missing or empty');
    if (!(typeof t.trace_id === 'string' && UUID.test(t.trace_id))) P(`transaction.trace_id ${show(t.trace_id)} is not a UUID`);
    const a = t.active_thread_id;
    if (!((typeof a === 'string' && NUMERIC.test(a)) || (Number.isSafeInteger(a) && a >= 0))) P(`transaction.active_thread_id ${show(a)} missing or not numeric`);
  }
  checkMeasurements(p.measurements, true, P);
  const summary = {
    event_id: id,
    transaction_id: isObject(t) ? t.id : undefined,
    transaction_name: isObject(t) ? t.name : undefined,
    trace_id: isObject(t) ? t.trace_id : undefined,
    samples: 0,
    samples_kept: 0,
    duration_ns: null,
  };
  const prof = p.profile;
  if (!isObject(prof) || !Array.isArray(prof.samples) || !Array.isArray(prof.stacks) || !Array.isArray(prof.frames)) {
    P('profile.samples/stacks/frames missing');
    return summary;
  }
  summary.samples = prof.samples.length;
  prof.stacks.forEach((st, i) => {
    if (!Array.isArray(st)) return P(`stack ${i} is not an array`);
    st.forEach((fi) => {
      if (!Number.isInteger(fi) || fi < 0 || fi >= prof.frames.length) P(`stack ${i} has bad frame index ${show(fi)}`);
    });
  });
  prof.frames.forEach((f, i) => {
    if (!isObject(f)) P(`frame ${i} is not an object`);
    else checkFrameTypes(f, i, P);
  });
  checkThreadMetadata(prof.thread_metadata, P);
  let prev = -1, badOrder = 0, maxNs = 0;
  const usable = [];
  prof.samples.forEach((s, i) => {
    if (!isObject(s)) return P(`sample ${i} is not an object`);
    let good = true;
    if (!Number.isInteger(s.stack_id) || s.stack_id < 0 || s.stack_id >= prof.stacks.length) { P(`sample ${i} has bad stack_id ${show(s.stack_id)}`); good = false; }
    if (typeof s.thread_id !== 'string' || !NUMERIC.test(s.thread_id)) { P(`sample ${i} thread_id ${show(s.thread_id)} is not a numeric string`); good = false; }
    const ns = elapsedNs(s.elapsed_since_start_ns);
    if (ns === null) { P(`sample ${i} elapsed_since_start_ns ${show(s.elapsed_since_start_ns)} is not an integer`); return; }
    if (ns < prev) badOrder++;
    prev = ns;
    maxNs = Math.max(maxNs, ns);
    if (good) usable.push({ i, tid: s.thread_id, ns, empty: !(Array.isArray(prof.stacks[s.stack_id]) && prof.stacks[s.stack_id].length) });
  });
  if (badOrder) P(`samples not in ascending elapsed_since_start_ns (${badOrder} steps back)`);
  if (maxNs > MAX_PROFILE_NS) P(`profile lasts ${maxNs} ns (> 30 s)`);
  // Relay: trim idle (empty-stack) samples at both ends of each thread, then drop threads with a
  // single sample; at least 2 samples must remain.
  const range = {};
  usable.forEach((s, k) => {
    if (s.empty) return;
    if (!range[s.tid]) range[s.tid] = [k, k];
    else range[s.tid][1] = k;
  });
  const kept = usable.filter((s, k) => range[s.tid] && k >= range[s.tid][0] && k <= range[s.tid][1]);
  const perThread = {};
  for (const s of kept) perThread[s.tid] = (perThread[s.tid] || 0) + 1;
  const remaining = kept.filter((s) => perThread[s.tid] > 1);
  summary.samples_kept = remaining.length;
  summary.duration_ns = remaining.length ? remaining[remaining.length - 1].ns - remaining[0].ns : null;
  if (remaining.length < MIN_SAMPLES) P(`only ${remaining.length} samples left after trimming idle samples and single-sample threads (need ${MIN_SAMPLES})`);
  return summary;
}

// ---- transaction, client_report --------------------------------------------------------------

function checkTransaction(t, fail) {
  const P = (m) => fail(m, 'problem');
  if (!isObject(t)) { P('payload is not a JSON object'); return {}; }
  if (!(typeof t.event_id === 'string' && HEX32.test(t.event_id))) P(`event_id ${show(t.event_id)} is not 32 hex`);
  if (t.type !== undefined && t.type !== 'transaction') P(`type ${show(t.type)} is not "transaction"`);
  if (!isTime(t.start_timestamp)) P(`start_timestamp ${show(t.start_timestamp)} is not a number or RFC 3339 time`);
  if (!isTime(t.timestamp)) P(`timestamp ${show(t.timestamp)} is not a number or RFC 3339 time`);
  if (isTime(t.start_timestamp) && isTime(t.timestamp) && timeSeconds(t.timestamp) < timeSeconds(t.start_timestamp)) P('timestamp is before start_timestamp');
  const trace = isObject(t.contexts) && isObject(t.contexts.trace) ? t.contexts.trace : null;
  if (!trace) P('contexts.trace missing');
  else {
    if (!(typeof trace.trace_id === 'string' && HEX32.test(trace.trace_id))) P(`contexts.trace.trace_id ${show(trace.trace_id)} is not 32 hex`);
    if (!(typeof trace.span_id === 'string' && HEX16.test(trace.span_id))) P(`contexts.trace.span_id ${show(trace.span_id)} is not 16 hex`);
  }
  if (typeof t.transaction !== 'string' || t.transaction === '') P('transaction name missing or empty');
  const prof = isObject(t.contexts) && isObject(t.contexts.profile) ? t.contexts.profile : {};
  return {
    event_id: t.event_id,
    name: t.transaction,
    trace_id: trace ? trace.trace_id : undefined,
    start_timestamp: t.start_timestamp,
    timestamp: t.timestamp,
    profiler_id: prof.profiler_id,
    profile_id: prof.profile_id,
  };
}

function checkClientReport(r, fail) {
  const P = (m) => fail(m, 'problem');
  if (!isObject(r)) { P('payload is not a JSON object'); return {}; }
  if (!isTime(r.timestamp)) P(`timestamp ${show(r.timestamp)} is not a number or RFC 3339 time`);
  if (!Array.isArray(r.discarded_events)) { P('discarded_events is not an array'); return { discarded_events: [] }; }
  r.discarded_events.forEach((d, i) => {
    if (!isObject(d)) return P(`discarded_events[${i}] is not an object`);
    if (typeof d.reason !== 'string' || d.reason === '') P(`discarded_events[${i}].reason missing`);
    if (typeof d.category !== 'string' || d.category === '') P(`discarded_events[${i}].category missing`);
    if (!(Number.isSafeInteger(d.quantity) && d.quantity > 0)) P(`discarded_events[${i}].quantity ${show(d.quantity)} is not a positive integer`);
  });
  return { discarded_events: r.discarded_events.filter(isObject).map((d) => ({ reason: d.reason, category: d.category, quantity: d.quantity })) };
}

// ---- whole envelope --------------------------------------------------------------------------

function parseJsonPayload(payload) {
  try {
    return { value: JSON.parse(utf8.decode(payload)) };
  } catch (e) {
    return { error: e.message };
  }
}

// env: result of parseEnvelope. Returns {problems, warnings, items: [{type, length, summary}]}.
function checkEnvelope(env) {
  const problems = [], warnings = [];
  const h = env.header;
  if (typeof h.sent_at !== 'string') warnings.push('envelope header: sent_at missing');
  if (!isObject(h.sdk) || typeof h.sdk.name !== 'string' || typeof h.sdk.version !== 'string') warnings.push('envelope header: sdk name/version missing');
  const items = [];
  const transactionIds = new Set();
  const profiles = [];
  env.items.forEach((item, n) => {
    const type = item.header.type;
    const where = `item ${n} (${type})`;
    const fail = (msg, level) => (level === 'warning' ? warnings : problems).push(`${where}: ${msg}`);
    const rec = { type, length: item.payload.length, summary: null };
    items.push(rec);
    const known = ['profile_chunk', 'profile', 'transaction', 'client_report'];
    if (!known.includes(type)) { rec.summary = { bytes: item.payload.length }; return; }
    const parsed = parseJsonPayload(item.payload);
    if (parsed.error) { fail(`payload is not JSON: ${parsed.error}`, 'problem'); return; }
    const p = parsed.value;
    if (type === 'profile_chunk') {
      if (item.header.platform !== 'node') fail('item header lacks "platform":"node"', 'problem');
      checkChunkPayload(p, fail, { extended: true });
      rec.summary = chunkSummary(p);
    } else if (type === 'profile') {
      rec.summary = checkProfileV1(p, fail);
      profiles.push({ n, where, summary: rec.summary });
    } else if (type === 'transaction') {
      rec.summary = checkTransaction(p, fail);
      if (typeof rec.summary.event_id === 'string') transactionIds.add(rec.summary.event_id.replace(/-/g, '').toLowerCase());
    } else if (type === 'client_report') {
      rec.summary = checkClientReport(p, fail);
    }
  });
  profiles.forEach((pr, k) => {
    if (k > 0) { problems.push(`${pr.where}: a second profile in one envelope (Sentry keeps only the first)`); return; }
    const tid = pr.summary.transaction_id;
    if (typeof tid !== 'string' || !transactionIds.has(tid.replace(/-/g, '').toLowerCase())) {
      problems.push(`${pr.where}: profile without its transaction (transaction.id ${show(tid)} is not the event_id of a transaction item in this envelope)`);
    }
  });
  return { problems, warnings, items };
}

// Parse + check; never throws. malformed: true when the framing itself is broken (HTTP 400).
function analyzeBody(buf) {
  let env;
  try {
    env = parseEnvelope(buf);
  } catch (e) {
    if (!(e instanceof EnvelopeError)) throw e;
    return { malformed: true, problems: [`malformed envelope: ${e.message}`], warnings: [], items: [], header: null };
  }
  const r = checkEnvelope(env);
  return { malformed: false, header: env.header, envelope: env, ...r };
}

module.exports = {
  HEX32, HEX16, UUID, MAX_CHUNK_SPAN_S, MAX_PROFILE_NS,
  EnvelopeError, parseEnvelope, splitEnvelopeLenient,
  checkChunkPayload, checkProfileV1, checkTransaction, checkClientReport,
  chunkSummary, checkEnvelope, analyzeBody, isRfc3339, debugIdOfBuildId,
};
