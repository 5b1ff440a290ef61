'use strict';
// Reads spooled envelopes and prints facts as JSON for the end-to-end tests:
// { chunks, profiles, transactions: [names], threads: {id: {name, samples, top, topShare}},
//   txnProfiles: [{name, samples, top, threadId, eventIdMatches}] }
// Usage: node profile-query.js FILE_OR_DIR...
const fs = require('fs');
const path = require('path');

// A spool dir holds envelopes in run folders and ready/: walk it, skipping dot files.
function files(args) {
  const out = [];
  const walk = (d) => {
    for (const f of fs.readdirSync(d).sort()) {
      if (f.startsWith('.')) continue;
      const p = path.join(d, f);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.envelope')) out.push(p);
    }
  };
  for (const a of args) {
    if (fs.statSync(a).isDirectory()) walk(a);
    else out.push(a);
  }
  return out;
}

function items(buf) {
  const res = [];
  let nl = buf.indexOf(0x0a);
  let pos = nl + 1;
  while (pos < buf.length) {
    nl = buf.indexOf(0x0a, pos);
    if (nl < 0) break;
    const h = JSON.parse(buf.subarray(pos, nl).toString());
    pos = nl + 1;
    const len = typeof h.length === 'number' ? h.length : (buf.indexOf(0x0a, pos) < 0 ? buf.length : buf.indexOf(0x0a, pos)) - pos;
    res.push({ type: h.type, payload: JSON.parse(buf.subarray(pos, pos + len).toString()) });
    pos += len + 1;
  }
  return res;
}

const facts = { chunks: 0, profiles: 0, transactions: [], threads: {}, txnProfiles: [] };
function leafJs(stack, frames) {
  for (const i of stack) if (frames[i].platform === 'node') return frames[i].function;
  return '(native)';
}
function count(prof, tally, threadFilter) {
  for (const s of prof.samples) {
    if (threadFilter !== undefined && s.thread_id !== threadFilter) continue;
    const t = (tally[s.thread_id] = tally[s.thread_id] || { samples: 0, fns: {} });
    t.samples++;
    const fn = leafJs(prof.stacks[s.stack_id], prof.frames);
    t.fns[fn] = (t.fns[fn] || 0) + 1;
  }
}
function top(t) {
  let best = null;
  for (const [fn, n] of Object.entries(t.fns)) if (!best || n > best[1]) best = [fn, n];
  return best ? { top: best[0], topShare: +(best[1] / t.samples).toFixed(3) } : { top: null, topShare: 0 };
}

const tally = {};
for (const f of files(process.argv.slice(2))) {
  const its = items(fs.readFileSync(f));
  const txn = its.find((i) => i.type === 'transaction');
  if (txn) facts.transactions.push(txn.payload.transaction);
  for (const it of its) {
    if (it.type === 'profile_chunk') {
      facts.chunks++;
      count(it.payload.profile, tally);
      for (const [id, m] of Object.entries(it.payload.profile.thread_metadata || {})) {
        (tally[id] = tally[id] || { samples: 0, fns: {} }).name = m.name;
      }
    } else if (it.type === 'profile') {
      facts.profiles++;
      const p = it.payload;
      const t = {};
      count(p.profile, t);
      const th = t[p.transaction.active_thread_id] || { samples: 0, fns: {} };
      facts.txnProfiles.push({
        name: p.transaction.name,
        threadId: p.transaction.active_thread_id,
        samples: th.samples,
        ...top(th),
        eventIdMatches: !!txn && txn.payload.event_id === p.transaction.id,
        traceIdMatches: !!txn && txn.payload.contexts.trace.trace_id === p.transaction.trace_id,
      });
    }
  }
}
for (const [id, t] of Object.entries(tally)) facts.threads[id] = { name: t.name, samples: t.samples, ...top(t) };
console.log(JSON.stringify(facts));
