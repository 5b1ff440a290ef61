'use strict';
// Summarizes what the local ingest server (server.js) received, for test assertions.
// Usage: node summary.js OUTDIR   (prints one JSON object)
//
// From OUTDIR/requests.jsonl: requests, envelope_requests, accepted, ok, not_ok, by_status,
//   faults (by fault mode), problems and warnings ("#seq: ..."), public_keys.
// From OUTDIR/accepted/*.envelope (re-parsed; the source of truth for what was accepted):
//   items_by_type, chunk_ids (in arrival order, duplicates kept: assert "each exactly once" by
//   comparing with the unique list), duplicate_chunk_ids, profiler_ids (unique), chunks
//   [{seq, chunk_id, profiler_id, samples, threads, start, end}], transaction_names,
//   transactions [{seq, event_id, name, profiler_id}], profiles [{seq, event_id,
//   transaction_id, samples}], discarded (client reports summed: {"reason:category": n}).
const fs = require('fs');
const path = require('path');
const rules = require('./rules.js');

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: node summary.js OUTDIR\n');
  process.exit(2);
}

const out = {
  requests: 0, envelope_requests: 0, accepted: 0, ok: 0, not_ok: 0,
  by_status: {}, faults: {}, items_by_type: {},
  chunk_ids: [], duplicate_chunk_ids: [], profiler_ids: [], chunks: [],
  transaction_names: [], transactions: [], profiles: [], discarded: {},
  public_keys: [], problems: [], warnings: [], unreadable: [],
};

let lines = [];
try {
  lines = fs.readFileSync(path.join(dir, 'requests.jsonl'), 'utf8').split('\n');
} catch (e) { /* no requests yet */ }
const keys = new Set();
for (const line of lines) {
  if (!line.trim()) continue;
  let e;
  try { e = JSON.parse(line); } catch (err) { out.unreadable.push(`requests.jsonl: ${line.slice(0, 80)}`); continue; }
  out.requests++;
  const key = e.fault === 'hang' || e.fault === 'close' ? e.fault : String(e.status);
  out.by_status[key] = (out.by_status[key] || 0) + 1;
  if (e.fault) out.faults[e.fault] = (out.faults[e.fault] || 0) + 1;
  if (e.kind === 'envelope') {
    out.envelope_requests++;
    if (e.ok) out.ok++; else out.not_ok++;
  }
  if (e.public_key) keys.add(e.public_key);
  for (const p of e.problems || []) out.problems.push(`#${e.seq}: ${p}`);
  for (const w of e.warnings || []) out.warnings.push(`#${e.seq}: ${w}`);
}
out.public_keys = [...keys];

let files = [];
try {
  files = fs.readdirSync(path.join(dir, 'accepted')).filter((f) => /^\d+\.envelope$/.test(f)).sort();
} catch (e) { /* none */ }
const profilers = new Set();
const seen = new Set();
for (const f of files) {
  const seq = Number(f.replace(/\.envelope$/, ''));
  let env;
  try {
    env = rules.parseEnvelope(fs.readFileSync(path.join(dir, 'accepted', f)));
  } catch (e) {
    out.unreadable.push(`accepted/${f}: ${e.message}`);
    continue;
  }
  out.accepted++;
  for (const item of env.items) {
    const type = item.header.type;
    out.items_by_type[type] = (out.items_by_type[type] || 0) + 1;
    let p;
    try { p = JSON.parse(item.payload.toString('utf8')); } catch (e) { continue; }
    if (p === null || typeof p !== 'object') continue;
    if (type === 'profile_chunk') {
      const s = rules.chunkSummary(p);
      out.chunk_ids.push(s.chunk_id);
      if (seen.has(s.chunk_id) && !out.duplicate_chunk_ids.includes(s.chunk_id)) out.duplicate_chunk_ids.push(s.chunk_id);
      seen.add(s.chunk_id);
      if (s.profiler_id) profilers.add(s.profiler_id);
      out.chunks.push({ seq, chunk_id: s.chunk_id, profiler_id: s.profiler_id, samples: s.samples, threads: s.threads, start: s.start, end: s.end });
    } else if (type === 'transaction') {
      const prof = p.contexts && p.contexts.profile ? p.contexts.profile : {};
      out.transaction_names.push(p.transaction);
      out.transactions.push({ seq, event_id: p.event_id, name: p.transaction, profiler_id: prof.profiler_id });
    } else if (type === 'profile') {
      const prof = p.profile || {};
      out.profiles.push({
        seq,
        event_id: p.event_id,
        transaction_id: p.transaction ? p.transaction.id : undefined,
        transaction_name: p.transaction ? p.transaction.name : undefined,
        samples: Array.isArray(prof.samples) ? prof.samples.length : 0,
      });
    } else if (type === 'client_report' && Array.isArray(p.discarded_events)) {
      for (const d of p.discarded_events) {
        if (!d || typeof d !== 'object') continue;
        const k = `${d.reason}:${d.category}`;
        out.discarded[k] = (out.discarded[k] || 0) + (Number(d.quantity) || 0);
      }
    }
  }
}
out.profiler_ids = [...profilers];
process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
