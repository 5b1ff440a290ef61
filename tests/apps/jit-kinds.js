'use strict';
// Fixture: the code V8 compiles that is no JS function. First about SECONDS (argv[2],
// default 1) of the main thread's CPU in escape(), a String.prototype.replace whose regular expression V8
// compiles to machine code ("RegExp: [<>&\"]" in V8's profiler), and test() of another;
// then FETCHES (argv[3], default 300) fetch() calls to a local server: node's fetch parses
// the responses with undici's llhttp, compiled to WebAssembly. Prints "done".
const http = require('http');
const { threadMs } = require('./thread-clock');

function escape(s) {
  return s.replace(/[<>&"]/g, (c) => '&#' + c.charCodeAt(0) + ';');
}

// This thread's CPU, not the process's: V8's own sampler thread (--cpu-prof) and the GC's
// threads take more of the process's CPU on a busy machine, and the phase would shrink.
function regexps(seconds) {
  const s = 'a<b>c&d"e '.repeat(40) + 'word 42';
  const t0 = threadMs(), p0 = process.cpuUsage();
  const spentMs = () => {
    if (t0 !== null) return threadMs() - t0;
    const u = process.cpuUsage(p0); // no thread clock: the process's
    return (u.user + u.system) / 1e3;
  };
  let n = 0;
  for (;;) {
    for (let i = 0; i < 50; i++) n += escape(s).length + (/(\w+)\s+(\d+)x?$/.test(s) ? 1 : 0);
    if (spentMs() >= seconds * 1000) return n;
  }
}

const seconds = Number(process.argv[2] || 1), fetches = Number(process.argv[3] || 300);
const sink = regexps(seconds);
const server = http.createServer((req, res) => res.end('x'.repeat(4000))).listen(0, '127.0.0.1', async () => {
  const url = `http://127.0.0.1:${server.address().port}/`;
  let bytes = 0;
  for (let i = 0; i < fetches; i++) bytes += (await (await fetch(url)).text()).length;
  server.close();
  console.log(sink > 0 && bytes === 4000 * fetches ? 'done' : 'wrong');
});
