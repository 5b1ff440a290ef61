'use strict';
// Fixture: about 70% of the CPU in hotLoop, about 30% in warmLoop, for SECONDS of CPU time
// (default 3). Fixed work, not wall-clock windows: each loop's speed is measured once (in
// iterations per CPU millisecond), then rounds of 35 ms + 15 ms worth of iterations run with
// no system call inside them. On a loaded machine a wall-clock round degenerates (a thread
// descheduled for 50 ms ends hotLoop's 35 ms at once and the split drifts toward 1:1), and a
// clock read in the loop becomes the place where the thread is preempted (wall-clock samples
// then land in the clock's system call); fixed work keeps 7:3 however busy the machine is.
// The 50 ms round is far from the 10.1 ms sampling period, so the two do not alias.
function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function hotLoop(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003;
  return x;
}

function warmLoop(n) {
  let s = 0;
  for (let i = 0; i < n; i++) s = (s + i * 7) % 999983;
  return s;
}

// Iterations per CPU millisecond over one 20 ms window of process CPU time.
function windowRate(loop) {
  const t0 = cpuMs();
  let n = 0, t = t0;
  while ((t = cpuMs()) - t0 < 20) {
    loop(1e5);
    n += 1e5;
  }
  return n / (t - t0);
}

// Each loop's speed, after it is compiled: the best of 5 alternating windows. Process CPU
// time also counts other threads (V8's compiler, GC, our agent), which only ever makes a
// window look slower, so the fastest window is the loop's own speed; alternating keeps a
// burst of background work from landing on one loop's measurement only.
function rates() {
  for (let k = 0; k < 20; k++) { hotLoop(1e5); warmLoop(1e5); }
  let hot = 0, warm = 0;
  for (let r = 0; r < 5; r++) {
    hot = Math.max(hot, windowRate(hotLoop));
    warm = Math.max(warm, windowRate(warmLoop));
  }
  return { hot, warm };
}

const seconds = Number(process.env.SECONDS_TO_RUN || process.argv[2] || 3);
const r = rates();
const hotN = Math.round(35 * r.hot), warmN = Math.round(15 * r.warm);
const until = cpuMs() + seconds * 1000;
let acc = 0;
while (cpuMs() < until) {
  acc += hotLoop(hotN);
  acc += warmLoop(warmN);
}
console.log(`hot.js done ${acc > 0 ? 'ok' : 'ok'}`);
