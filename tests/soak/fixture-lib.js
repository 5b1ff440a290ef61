'use strict';
// Shared by the soak fixtures (tests/soak/soak.sh runs each profiled at 1 kHz and unprofiled,
// side by side, and compares their stdout and exit codes):
// - paced(rounds, perSecond, fn): a fixed number of rounds at a fixed rate. The count, not a
//   clock window, decides the work, so stdout is the same in both runs however loaded the
//   machine is; on a loaded machine a late round runs at once and the run takes longer (the
//   script's watchdog bound allows for that).
// - mix(h, v): a 32-bit FNV-style hash step, for the checksums the fixtures print.
// - probe(): the host's resources from /proc/self: RSS, open fds, POSIX timers, threads,
//   the user's queued signals (SigQ: counted per user by the kernel, so other processes of
//   the same user move it too), the signals pending in this process (pending: how many
//   distinct ones, over the process and each thread) and the profiler's own memory when it
//   is loaded.
// - WARM_S: the baseline is probed no earlier than this far into the run: by then the
//   profiler has made its first commit and holds what it keeps for the process's life (the
//   spool folder, its run folder and lock: 4 fds opened at the first commit, 5 s in).
// - settle(base): polls probe() (after a GC when --expose-gc) until no fd opened since base
//   is open but those newFds() calls lifetime, and timers and threads are back at or below base and nothing is pending, at most 10 s; returns the last probe
//   and the wait. (Not SigQ: other processes of the user move it.)
// - report(obj): writes obj (with pid and uptime) as JSON to $SOAK_PROBE, never to stdout:
//   stdout is compared between the profiled and the unprofiled run.
const fs = require('fs');

const WARM_S = 6;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function paced(rounds, perSecond, fn) {
  const period = 1000 / perSecond;
  const t0 = performance.now();
  for (let k = 0; k < rounds; k++) {
    const wait = t0 + k * period - performance.now();
    if (wait > 0) await sleep(wait);
    await fn(k);
  }
}

function mix(h, v) {
  return Math.imul((h ^ (v >>> 0)) >>> 0, 16777619) >>> 0;
}

function mixString(h, s) {
  for (let i = 0; i < s.length; i++) h = mix(h, s.charCodeAt(i));
  return h;
}

function probe() {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const field = (k) => {
    const m = status.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm'));
    return m ? Number(m[1]) : null;
  };
  let timers = null;
  try {
    timers = (fs.readFileSync('/proc/self/timers', 'utf8').match(/^ID:/gm) || []).length;
  } catch {
    // a kernel without CONFIG_CHECKPOINT_RESTORE has no /proc/<pid>/timers
  }
  // Signals pending in this process: the shared set and every thread's own set, ORed.
  // A real-time signal stays queued while it is pending, so 0 here is 0 queued signals of
  // ours whatever other processes of the user have queued (SigQ).
  let pend = BigInt('0x' + ((status.match(/^ShdPnd:\s+([0-9a-f]+)/m) || [])[1] || '0'));
  for (const t of fs.readdirSync('/proc/self/task')) {
    try {
      const m = fs.readFileSync(`/proc/self/task/${t}/status`, 'utf8').match(/^SigPnd:\s+([0-9a-f]+)/m);
      if (m) pend |= BigInt('0x' + m[1]);
    } catch {
      // the thread ended while we listed
    }
  }
  const fds = fs.readdirSync('/proc/self/fd');
  const mapped = new Set();
  for (const line of fs.readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = line.match(/^\S+ \S+ \S+ \S+ [1-9]\d* +(\/.*)$/); // a file mapping (inode > 0)
    if (m) mapped.add(m[1]);
  }
  const p = globalThis.__sentryprof;
  return {
    pid: process.pid,
    rss_kb: field('VmRSS'),
    // the listing's own directory fd is counted, the same in every probe
    fds: fds.length,
    // what each fd is, so a verdict can name the ones that stayed
    fd_targets: fds.map((f) => { try { return fs.readlinkSync(`/proc/self/fd/${f}`); } catch { return '?'; } }),
    mapped_files: [...mapped],
    timers,
    threads: fs.readdirSync('/proc/self/task').length,
    sigq: field('SigQ'),
    pending: pend.toString(2).split('').filter((c) => c === '1').length,
    profiler_memory: p && typeof p.stats === 'function' ? p.stats().memory_bytes : null,
  };
}

// The fds opened since base and still open, split into those the profiler keeps for the
// process's life once it first needs them (lifetime) and the rest (unexplained). Lifetime:
// at most one new fd per file, on a file mapped into the process (the symbolizer's and the
// unwinder's ELF readers, one per mapped object, at most 512: src/symbolize.c) or on the
// process's perf map (the write-only fd the agent opens once it has read 1 MiB of the map,
// to give the blocks read back: src/mapfile.c) or on a mapped object's separate debug file
// (/usr/lib/debug/.build-id/xx/yyyy.debug: src/elfsym.c reads a stripped object's symbols
// from it when it is installed, and keeps it open like the object). A second new fd on one file, or any socket,
// pipe or other file, is unexplained: a leak grows by more than one per file.
function newFds(now, base) {
  const left = [...(base.fd_targets || [])];
  const fresh = (now.fd_targets || []).filter((t) => {
    const i = left.indexOf(t);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
  const mapped = new Set(now.mapped_files || []);
  const seen = new Set();
  const lifetime = [], unexplained = [];
  for (const t of fresh) {
    const once = !seen.has(t);
    seen.add(t);
    const kept = mapped.has(t) || t === `/tmp/perf-${now.pid}.map` ||
      /^\/usr\/lib\/debug\/\.build-id\/[0-9a-f]{2}\/[0-9a-f]+\.debug$/.test(t);
    (once && kept ? lifetime : unexplained).push(t);
  }
  return { lifetime, unexplained };
}

function backAt(now, base) {
  const le = (k) => now[k] === null || base[k] === null || now[k] <= base[k];
  return newFds(now, base).unexplained.length === 0 && le('timers') && le('threads') && now.pending === 0;
}

async function settle(base) {
  const t0 = Date.now();
  let now;
  for (;;) {
    if (typeof globalThis.gc === 'function') globalThis.gc();
    now = probe();
    if (backAt(now, base) || Date.now() - t0 > 10000) break;
    await sleep(200);
  }
  return { after: now, settle_ms: Date.now() - t0 };
}

function report(obj) {
  if (!process.env.SOAK_PROBE) return;
  const p = globalThis.__sentryprof;
  const out = { pid: process.pid, uptime_s: +process.uptime().toFixed(3), ...obj };
  if (p && typeof p.stats === 'function') out.stats = p.stats();
  fs.writeFileSync(process.env.SOAK_PROBE, JSON.stringify(out));
}

// The baseline probe, once the run is WARM_S old (waits for that; a GC first when exposed).
async function baseline() {
  const left = WARM_S - process.uptime();
  if (left > 0) await sleep(left * 1000);
  if (typeof globalThis.gc === 'function') globalThis.gc();
  return probe();
}

module.exports = { WARM_S, paced, mix, mixString, probe, baseline, settle, newFds, report, sleep };
