'use strict';
// Fixture: JS functions whose time is spent inside glibc, which has no frame pointers:
// copyLoop copies a 4 MiB Buffer (memmove), readLoop reads /dev/zero into one (read(2)),
// allocLoop allocates Buffers outside V8's heap (malloc, free: they use rbp as a register).
// Runs for SECONDS of CPU time (default 2), the two alternating in rounds of fixed work.
const fs = require('fs');
const seconds = Number(process.argv[2] || 2);
const a = Buffer.alloc(4 << 20, 1), b = Buffer.alloc(4 << 20);
const fd = fs.openSync('/dev/zero', 'r');

function copyLoop(n) {
  for (let i = 0; i < n; i++) a.copy(b, 0, 0, a.length);
}

function readLoop(n) {
  for (let i = 0; i < n; i++) fs.readSync(fd, b, 0, b.length, null);
}

let keep = [];
function allocLoop(n) {
  for (let i = 0; i < n; i++) {
    keep.push(Buffer.allocUnsafeSlow(2048 + (i & 1023)));
    if (keep.length > 4096) keep = [];
  }
}

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const t0 = cpuMs();
while (cpuMs() - t0 < seconds * 1000) {
  copyLoop(20);
  readLoop(7);
  allocLoop(20000);
}
fs.closeSync(fd);
console.log('done');
