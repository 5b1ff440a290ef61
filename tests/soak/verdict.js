'use strict';
// The verdict on one soak fixture (tests/soak/soak.sh), from what its two runs left in DIR:
// {prof,ref}.out and .err (stdout, stderr), {prof,ref}.probe (fixture-lib's probes and, in the
// profiled run, the profiler's counters) and spool/ (the profiled run's spool). Prints
// "# ..." detail lines, one "soak: <fixture> ..." summary line (tests/reliability.js reads
// it) and one "ok - ..." or "not ok - ..." line per check (soak.sh counts them).
// usage: node verdict.js DIR FIXTURE SECONDS HZ BOUND RSS_TOLERANCE_MB PROFILED_RC UNPROFILED_RC WALL_S
//
// The spool: chunks/samples are the profile_chunk items and their samples; fixture samples
// those with a frame of the fixture's own code (a function named soak*), so a profile is not
// only native or idle frames; threads are counted per profiler (process); main: the samples
// of threads named "main" and the longest gap between two of them within a chunk (s);
// problems are what the ingest rules (../ingest/rules.js) say Sentry would reject.
const fs = require('fs');
const path = require('path');
const { spoolEnvelopes, envelopeItems } = require(path.join(__dirname, '..', 'ingest', 'spoolfile.js'));
const { analyzeBody } = require(path.join(__dirname, '..', 'ingest', 'rules.js'));
const { newFds } = require('./fixture-lib');

const [dir, fixture, seconds, hz, bound, rssTolMb, prcS, rrcS, wall] = process.argv.slice(2);
const prc = Number(prcS), rrc = Number(rrcS);
const CHUNK_S = 60; // SENTRYPROF_CHUNK_SECONDS's default: soak.sh does not set it

const read = (f) => { try { return fs.readFileSync(path.join(dir, f), 'utf8'); } catch { return ''; } };
const json = (f) => { try { return JSON.parse(read(f)); } catch { return {}; } };
const oneLine = (s, n) => s.slice(0, n).replace(/\n/g, '|');
const mib = (kb) => (typeof kb === 'number' ? (kb / 1024).toFixed(1) : '?');

function spoolStats(spool) {
  const out = { envelopes: 0, chunks: 0, samples: 0, threads: 0, fixture_samples: 0, transactions: 0, bytes: 0, problems: 0, problem_sample: [] };
  const threads = new Set();
  let mainSamples = 0, gap = 0;
  try {
    for (const e of spoolEnvelopes(spool)) {
      out.envelopes++;
      out.bytes += e.buf.length;
      const r = analyzeBody(e.buf);
      out.problems += r.problems.length;
      for (const p of r.problems) if (out.problem_sample.length < 3) out.problem_sample.push(`${e.name}: ${p}`);
      if (r.malformed) continue;
      for (const it of envelopeItems(e.buf)) {
        if (it.type === 'transaction') out.transactions++;
        if (it.type !== 'profile_chunk') continue;
        const prof = it.payload.profile;
        out.chunks++;
        out.samples += prof.samples.length;
        const ours = prof.stacks.map((st) => st.some((fi) => /^soak/.test(prof.frames[fi].function || '')));
        const meta = prof.thread_metadata || {};
        let last = null;
        for (const s of prof.samples) {
          threads.add(`${it.payload.profiler_id}/${s.thread_id}`);
          if (ours[s.stack_id]) out.fixture_samples++;
          if ((meta[s.thread_id] || {}).name !== 'main') continue;
          mainSamples++;
          if (last !== null) gap = Math.max(gap, s.timestamp - last);
          last = s.timestamp;
        }
      }
    }
  } catch (e) {
    out.problems++;
    out.problem_sample.push(`spool unreadable: ${e.message}`);
  }
  out.threads = threads.size;
  out.main = { samples: mainSamples, max_gap_s: +gap.toFixed(3) };
  return out;
}

const P = json('prof.probe'), R = json('ref.probe');
const profOut = read('prof.out'), refOut = read('ref.out');
const sp = spoolStats(path.join(dir, 'spool'));
const up = Math.round(P.uptime_s || 0);
const st = P.stats || null;
const base = P.baseline || {}, after = P.after || {};

const same = refOut !== '' && profOut === refOut;
const hangs = [prc, rrc].filter((rc) => rc === 124 || rc === 137).length;
const crashes = prc > 128 && prc !== 137 ? 1 : 0;

console.log(`# ${fixture}: profiled rc ${prc}, unprofiled rc ${rrc}, ${wall} s wall (profiled process up ${up} s)`);
console.log(`# ${fixture}: stdout: ${oneLine(profOut, 300)} (unprofiled: ${oneLine(refOut, 300)})`);
for (const [w, f] of [['profiled', 'prof.err'], ['unprofiled', 'ref.err']]) {
  const e = read(f);
  if (e) console.log(`# ${fixture}: ${w} stderr: ${oneLine(e, 600)}`);
}
console.log(`# ${fixture}: spool: ${JSON.stringify(sp)}`);
const noTargets = (p) => p && { ...p, pid: undefined, fd_targets: undefined, mapped_files: undefined };
for (const [w, X] of [['profiled', P], ['unprofiled', R]]) {
  console.log(`# ${fixture}: probes, ${w}: ${JSON.stringify({ baseline: noTargets(X.baseline), half: noTargets(X.half), after: noTargets(X.after), settle_ms: X.settle_ms })}`);
}
const keys = ['signals', 'samples', 'dropped_ring_full', 'dropped_reentry', 'dropped_no_thread', 'truncated', 'threads_registered',
  'threads_unregistered', 'timer_errors', 'chunks_written', 'spool_errors', 'memory_bytes'];
console.log(`# ${fixture}: profiler counters: ${st ? keys.map((k) => `${k} ${st[k]}`).join(', ') : 'none'}`);

let rss = `${mib(base.rss_kb)}→${mib(after.rss_kb)} MiB`;
if (fixture === 'workers') {
  rss += ` (half-way ${mib((P.half || {}).rss_kb)}; unprofiled ${mib((R.baseline || {}).rss_kb)}→${mib((R.after || {}).rss_kb)})`;
}
const fdsLife = newFds(after, base).lifetime;
const fdsNote = fdsLife.length ? ` (${fdsLife.length} kept for life: ${fdsLife.map((t) => path.basename(t)).join(' ')})` : '';
const pm = (b) => (typeof b === 'number' ? (b / 1048576).toFixed(2) : '?');
console.log(`soak: ${fixture} ${seconds} s at ${hz} Hz: output identical ${same ? 'yes' : 'no'}, exit ${prc}/${rrc} (profiled/unprofiled), ` +
  `${crashes} crashes, ${hangs} hangs; ${sp.samples} samples (${up ? Math.round(sp.samples / up) : 0}/s) in ${sp.chunks} chunks, ` +
  `${sp.threads} threads, ${sp.problems} rejected; RSS ${rss}, fds ${base.fds}→${after.fds}${fdsNote}, timers ${base.timers}→${after.timers}, ` +
  `threads ${base.threads}→${after.threads}, SigQ ${base.sigq}→${after.sigq}, pending ${after.pending}, ` +
  `profiler memory ${pm(base.profiler_memory)}→${pm(after.profiler_memory)} MiB`);

const check = (what, ok) => console.log(`${ok ? 'ok' : 'not ok'} - ${fixture}: ${what}`);
check(`the profiled run's stdout is the unprofiled run's (profiled: ${oneLine(profOut, 200)}; unprofiled: ${oneLine(refOut, 200)})`, same);
check(`exit codes equal and 0 (profiled ${prc}, unprofiled ${rrc})`, prc === rrc && prc === 0);
check(`no crash (profiled rc ${prc})`, crashes === 0);
check(`no hang: both runs ended within the watchdog's ${bound} s (rc ${prc}, ${rrc})`, hangs === 0);
check(`the spool holds profile chunks with samples (${sp.chunks} chunks, ${sp.samples} samples)`, sp.chunks > 0 && sp.samples > 0);
check(`samples in the fixture's own functions (soak*: ${sp.fixture_samples})`, sp.fixture_samples > 0);
// Sampling went on all run long: every full chunk span of the run has its chunk.
check(`a chunk per full ${CHUNK_S} s of the run (${sp.chunks} chunks, up ${up} s)`, sp.chunks >= Math.floor(up / CHUNK_S));
check(`the ingest rules reject nothing (${sp.problems}: ${JSON.stringify(sp.problem_sample)})`, sp.problems === 0);
check(`no spool errors (${st && st.spool_errors})`, !!st && st.spool_errors === 0);
// SigQ is reported, not checked: the kernel counts queued signals per user, and other
// processes of the user move it; this process's own queued signals are the pending check.
// fds: nothing opened since the baseline is still open but what the profiler keeps for the
// process's life once first needed (fixture-lib newFds: one fd per mapped file or on the perf map).
const fdNew = newFds(after, base);
check(`fds back to the baseline (${base.fds} -> ${after.fds} after a settle of ${P.settle_ms} ms` +
  `${fdNew.lifetime.length ? `; kept for the process's life: ${fdNew.lifetime.join(' ')}` : ''}` +
  `${fdNew.unexplained.length ? `; still open: ${fdNew.unexplained.join(' ')}` : ''})`,
  typeof after.fds === 'number' && fdNew.unexplained.length === 0 && after.fds <= base.fds + fdNew.lifetime.length);
for (const k of ['timers', 'threads']) {
  check(`${k} back to the baseline (${base[k]} -> ${after[k]} after a settle of ${P.settle_ms} ms)`,
    typeof base[k] === 'number' && typeof after[k] === 'number' && after[k] <= base[k]);
}
check(`no signal pending in the process at the end (${after.pending})`, after.pending === 0);
if (fixture === 'workers') {
  check(`RSS after the churn within ${rssTolMb} MiB of the baseline (${rss})`,
    typeof after.rss_kb === 'number' && after.rss_kb - base.rss_kb <= Number(rssTolMb) * 1024);
  check(`every worker thread was let go (registered ${st && st.threads_registered}, unregistered ${st && st.threads_unregistered})`,
    !!st && st.threads_registered - st.threads_unregistered === 1);
}
if (P.pid) check('the perf map of the profiled process was removed at its exit', !fs.existsSync(`/tmp/perf-${P.pid}.map`));
