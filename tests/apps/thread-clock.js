'use strict';
// This thread's CPU time in ms (utime + stime, fields 14 and 15 of /proc/thread-self/stat,
// in USER_HZ = 100 ticks), or null where that file cannot be read. A thread, not the
// process: threads running at once each see their own clock. Shared by the test apps.
const fs = require('fs');

function threadMs() {
  try {
    const s = fs.readFileSync('/proc/thread-self/stat', 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    const ms = (Number(f[11]) + Number(f[12])) * 10;
    return Number.isFinite(ms) ? ms : null;
  } catch (_) {
    return null;
  }
}

module.exports = { threadMs };
