'use strict';
// Each call runs its work in a new closure, as a server's per-request callbacks do; the work
// allocates, so scavenges come every few milliseconds. By the time the agent decodes a
// sample (every 100 ms) the closure on its stack has been moved or freed and its memory
// reused: only the bytecode still tells whose frame it was. Run it interpreted (the test's
// flags) for a frame of the closure's own on every stack. Stops after argv[2] seconds of
// CPU time (default 2) and prints "done".
const seconds = Number(process.argv[2] || 2);

function serve(id) {
  const handleRequest = function (n) {
    let acc = 0;
    const rows = [];
    for (let k = 0; k < n; k++) {
      acc = (acc * 31 + k + id) | 0;
      rows.push({ k, acc }); // young garbage
    }
    return acc + rows.length;
  };
  return handleRequest(2000);
}

const cpu0 = process.cpuUsage();
const cpuSeconds = () => {
  const u = process.cpuUsage(cpu0);
  return (u.user + u.system) / 1e6;
};
let sink = 0;
for (let i = 0; cpuSeconds() < seconds; i++) for (let j = 0; j < 20; j++) sink += serve(i + j);
process.stdout.write(sink === 0.5 ? 'never\n' : 'done\n');
