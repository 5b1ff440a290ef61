'use strict';
// Reads spooled envelopes and prints facts as JSON for the end-to-end tests:
// { chunks, profiles, transactions: [names], threads: {id: {name, samples, top, topShare}},
//   txnProfiles: [{name, samples, top, threadId, eventIdMatches}],
//   txnProfilerIds: [contexts.profile.profiler_id of each transaction, or null],
//   chunkProfilerIds: [distinct profiler_id of the chunks] }
// Usage: node profile-query.js FILE_OR_DIR...  (a spool dir, single envelopes or batches:
// ../ingest/spoolfile.js reads them)
const path = require('path');
const { spoolEnvelopes, envelopeItems } = require(path.join(__dirname, '..', 'ingest', 'spoolfile.js'));

const facts = { chunks: 0, profiles: 0, transactions: [], threads: {}, txnProfiles: [], txnProfilerIds: [], chunkProfilerIds: [] };
function leafJs(stack, frames) {
  for (const i of stack) if (frames[i].platform === 'node') return frames[i].function;
  return '(native)';
}
// Tallies keyed by function names are prototype-less: a leaf named "toString" read
// Object.prototype.toString as its count, made it a string and won every comparison
// after (the matrix's worker check saw "toString" on top of a thread with 0% share).
const fnTally = () => ({ samples: 0, fns: Object.create(null) });
function count(prof, tally, threadFilter) {
  for (const s of prof.samples) {
    if (threadFilter !== undefined && s.thread_id !== threadFilter) continue;
    const t = (tally[s.thread_id] = tally[s.thread_id] || fnTally());
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
for (const e of spoolEnvelopes(...process.argv.slice(2))) {
  const its = envelopeItems(e.buf);
  const txn = its.find((i) => i.type === 'transaction');
  if (txn) {
    facts.transactions.push(txn.payload.transaction);
    const prof = (txn.payload.contexts || {}).profile || {};
    facts.txnProfilerIds.push(prof.profiler_id || null);
  }
  for (const it of its) {
    if (it.type === 'profile_chunk') {
      facts.chunks++;
      if (!facts.chunkProfilerIds.includes(it.payload.profiler_id)) facts.chunkProfilerIds.push(it.payload.profiler_id);
      count(it.payload.profile, tally);
      for (const [id, m] of Object.entries(it.payload.profile.thread_metadata || {})) {
        (tally[id] = tally[id] || fnTally()).name = m.name;
      }
    } else if (it.type === 'profile') {
      facts.profiles++;
      const p = it.payload;
      const t = {};
      count(p.profile, t);
      const th = t[p.transaction.active_thread_id] || fnTally();
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
