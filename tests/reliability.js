#!/usr/bin/env node
// make reliability: writes tests/RELIABILITY.md, the campaign table of issue #20, from the
// tree and the logs of the last runs (nothing here runs a test):
// - each numbered failure of #20 -> the tests that carry its marker, their last result, and
//   the commits whose message names the item. The marker is a comment in the test file,
//   "#20 item N" or "#20 items N, M" (also "items N and M"); in a C test file it names
//   the START_TEST that follows it (within 20 lines), elsewhere the file.
// - the fuzz targets: seeds and committed crashers per corpus, the last `make fuzz` run
//   (_fuzz/logs/<name>.summary: executions, rate, crashes) and the corpus replay result.
// - the sanitizer runs of test.sh (_build-asan/, _build-tsan/ beside the build tree) and
//   every sanitizer suppression in the tree with the comment that explains it.
// - the storms and the soak: the summary lines of the kill -9 storm (soak-kill9.log) and of
//   the 1 kHz soak (soak-long.log, soak-short.log) in the build tree.
// usage: top_srcdir=... top_builddir=... node tests/reliability.js [out.md]
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const src = process.env.top_srcdir || path.resolve(__dirname, '..');
const build = process.env.top_builddir || path.join(src, '_build');
const out = process.argv[2] || path.join(src, 'tests', 'RELIABILITY.md');

const ITEMS = {
  1: 'Perf-map symlink attack (V8 opens /tmp/perf-<pid>.map through our fopen)',
  2: '`list`/`top` read another user\'s spool and follow planted symlinks',
  3: 'Privilege-dropping app creates root\'s spool owned by the new uid; perf map left',
  4: 'Release/environment/LANG not valid UTF-8 (or cut mid-character): every envelope lost',
  5: 'Exit waits at most 1 s for the agent: transactions finished before exit lost',
  6: 'Transactions left open by a terminated worker keep their slots forever',
  7: 'One unsendable file makes cap eviction delete every valid envelope',
  8: 'A stray entry in ready/ is deferred forever (timeouts, respawns)',
  9: 'Exit-time uploader deadline expires after the server accepted: duplicates',
  10: 'Native code resetting our signal to SIG_DFL gets the process killed',
  11: 'HTTP instrumentation adds a counted `close` listener per response',
  12: 'Visible to the app: `__SENTRY__` global, extra require.cache entries',
  13: 'Killed processes leave /tmp/perf-<pid>.map forever',
  14: 'A transaction finished from another thread never lowers its owner\'s count',
  15: 'Batch larger than free space, chunks_written counts failures, doctor --node hangs',
};

const read = (p) => { try { return fs.readFileSync(p, 'utf8'); } catch { return null; } };
const git = (...args) => { try { return execFileSync('git', ['-C', src, ...args], { encoding: 'utf8' }); } catch { return ''; } };
const list = (dir, re) => { try { return fs.readdirSync(path.join(src, dir)).filter((f) => re.test(f)).sort().map((f) => path.join(dir, f)); } catch { return []; } };

// "#20 item 4", "#20 items 1 and 13", "#20 items 6, 14"
function itemsIn(text) {
  const found = new Set();
  const re = /#20\s+items?\s+(\d+(?:\s*(?:,|and|&)\s*\d+)*)/gi;
  let m;
  while ((m = re.exec(text))) for (const n of m[1].match(/\d+/g)) if (ITEMS[n]) found.add(Number(n));
  return found;
}

// The result automake recorded for a test script (its .trs), or null when it did not run.
function trs(test) {
  const t = read(path.join(build, test + '.trs'));
  const m = t && t.match(/^:test-result: (\S+)/m);
  return m ? m[1] : null;
}

// ---- tests by marker ----
const byItem = {};
for (const n of Object.keys(ITEMS)) byItem[n] = [];
const files = [...list('tests/unit', /^test_.*\.c$/), ...list('tests/e2e', /\.(sh|js)$/), ...list('tests/fuzz', /^fuzz_.*\.c$/),
  ...list('tests/ingest', /\.(sh|js)$/), ...list('tests', /^check-.*\.sh$/)];
for (const f of files) {
  const lines = (read(path.join(src, f)) || '').split('\n');
  lines.forEach((line, i) => {
    const items = itemsIn(line);
    if (!items.size) return;
    let name = null, result = null;
    if (f.startsWith('tests/unit/')) {
      for (let k = i; k < Math.min(lines.length, i + 20) && !name; k++) {
        const m = lines[k].match(/START_TEST\((\w+)\)/);
        if (m) name = m[1];
      }
      const suite = f.replace(/\.c$/, '');
      result = trs(suite);
      // A failed suite: this test failed only if Check's log names it.
      if (result === 'FAIL' && name) {
        const log = read(path.join(build, suite + '.log')) || '';
        if (!new RegExp(`:${name}:\\d+:`).test(log)) result = 'PASS';
      }
    } else if (f.startsWith('tests/fuzz/')) {
      result = trs(f.replace(/fuzz_(\w+)\.c$/, 'replay_$1'));
    } else if (f.endsWith('.sh')) {
      result = trs(f);
    }
    const label = name ? `\`${f}\`: \`${name}\`` : `\`${f}\``;
    for (const n of items) if (!byItem[n].some((t) => t.label === label)) byItem[n].push({ label, result });
  });
}

// ---- commits naming an item ----
const commits = {};
for (const line of git('log', '--format=%h%x09%s', '--grep=#20').split('\n')) {
  const [h, s] = line.split('\t');
  if (!s) continue;
  for (const n of itemsIn(s)) (commits[n] = commits[n] || []).push(h);
}

const status = (tests) => {
  if (!tests.length) return 'no test yet';
  const r = tests.map((t) => t.result);
  if (r.includes('FAIL') || r.includes('ERROR')) return 'FAIL';
  if (r.every((x) => x === 'PASS')) return 'green';
  if (r.some((x) => x === 'PASS')) return 'green (some not run here)';
  return 'not run here';
};

let md = `# Reliability (issue #20)

Generated by \`make reliability\` (tests/reliability.js) from the tree and the last runs' logs
in \`${path.relative(src, build) || '.'}/\`; do not edit by hand. A test belongs to an item by a comment
\`#20 item N\` (or \`#20 items N, M\`) in its file, above its \`START_TEST\` in a unit test.
Results: the test's last \`make check\` result in that build tree (green / FAIL / not run here).

## The numbered failures

| # | failure | tests | status | commits |
|---|---|---|---|---|
`;
for (const n of Object.keys(ITEMS)) {
  const t = byItem[n];
  const cell = t.length ? t.map((x) => x.label + (x.result && x.result !== 'PASS' ? ` (${x.result})` : '')).join('<br>') : '—';
  md += `| ${n} | ${ITEMS[n]} | ${cell} | ${status(t)} | ${(commits[n] || []).slice(0, 4).join(' ') || '—'} |\n`;
}

// ---- fuzzing ----
const am = read(path.join(src, 'Makefile.am')) || '';
const names = ((am.match(/^FUZZ_NAMES = (.*)$/m) || [])[1] || '').trim().split(/\s+/).filter(Boolean);
md += `
## Fuzzing

libFuzzer with AddressSanitizer and UndefinedBehaviorSanitizer (\`make fuzz\`, clang; CI runs
every target for 60 s, two at a time). Each target's committed corpus
(\`tests/fuzz/corpus/<target>/\`: \`seed-*\` inputs and \`crash-*\` regression inputs, every
crasher ever found) is replayed by \`make check\` without libFuzzer (\`tests/fuzz/replay_<target>\`).

| target | seeds | crashers committed | last run: executions | seconds | execs/s | crashes | corpus replay |
|---|---|---|---|---|---|---|---|
`;
const crashers = [];
for (const t of names) {
  const corpus = list(`tests/fuzz/corpus/${t}`, /^[^.]/);
  const seeds = corpus.filter((f) => path.basename(f).startsWith('seed-')).length;
  const crash = corpus.filter((f) => path.basename(f).startsWith('crash-'));
  for (const c of crash) crashers.push({ t, f: c, added: git('log', '--diff-filter=A', '--format=%h %s', '--', c).trim().split('\n').pop() });
  const sum = read(path.join(build, '_fuzz', 'logs', `${t}.summary`)) || '';
  const m = sum.match(/: (\d+) execs in (\d+) s \(([\d.]+)\/s\), (\d+) crashes/);
  const run = m ? [m[1], m[2], m[3], m[4]] : ['not run here', '', '', ''];
  md += `| ${t} | ${seeds} | ${crash.length} | ${run.join(' | ')} | ${trs(`tests/fuzz/replay_${t}`) || 'not run here'} |\n`;
}
md += '\nCrashers found and fixed (each one a file in its corpus, replayed by `make check`):\n\n';
md += crashers.length ? crashers.map((c) => `- \`${c.f}\` (${c.t}): ${c.added || 'not committed yet'}`).join('\n') + '\n' : '- none yet\n';

// ---- sanitizers ----
// automake's counts in a suite log, or null when that run did not happen here; with the
// log's date, so that a stale result is seen as one.
const suiteLog = (p) => {
  const log = read(p);
  if (!log) return null;
  const n = (k) => Number((log.match(new RegExp(`^# ${k}: +(\\d+)`, 'm')) || [])[1] || 0);
  return `${n('PASS')} passed, ${n('FAIL') + n('ERROR')} failed (${when(p)})`;
};
const when = (p) => { try { return fs.statSync(p).mtime.toISOString().slice(0, 16).replace('T', ' ') + ' UTC'; } catch { return '?'; } };
const words = (name) => ((am.match(new RegExp(`^${name} = ((?:[^\\n]*\\\\\\n)*[^\\n]*)`, 'm')) || [])[1] || '').split(/\s+/).filter((w) => w.startsWith('tests/'));
const unitCount = (am.match(/^\ttests\/unit\/test_\w+\.c/mg) || []).length;
const tsanCount = words('TSAN_UNIT_TESTS').length;
const asanE2eCount = words('ASAN_E2E_TESTS').length;
// make check-asan-e2e in test.sh's _build-asan/ (its own suite log); make check-valgrind in
// this tree: one line per suite in valgrind.summary (PASS, FAIL: memcheck errors or definite
// leaks, SLOW: tests over their time bounds under valgrind, no memcheck report).
const asanE2e = suiteLog(path.join(src, '_build-asan', 'test-suite-asan-e2e.log'));
const vgPath = path.join(build, 'valgrind.summary');
const vg = read(vgPath);
const vgCell = vg ? (() => {
  const l = vg.trim().split('\n');
  const bad = l.filter((x) => x.startsWith('FAIL'));
  const slow = l.filter((x) => x.startsWith('SLOW')).map((x) => x.replace(/^\w+: valgrind (\S+).*/, '$1'));
  return `${l.length - bad.length} of ${l.length} suites memcheck-clean${bad.length ? `; FAIL: ${bad.map((x) => x.replace(/^\w+: valgrind /, '')).join(', ')}` : ''}` +
    `${slow.length ? `; tests over their time bounds under valgrind (not memcheck errors): ${slow.join(', ')}` : ''} (${when(vgPath)})`;
})() : 'not run here (`make check-valgrind`)';
md += `
## Sanitizers

| run | what | last result |
|---|---|---|
| ASan+UBSan (\`_build-asan\`, test.sh) | ${unitCount} unit suites and ${names.length} fuzz corpus replays (\`make check-unit\`, detect_leaks=1) | ${suiteLog(path.join(src, '_build-asan', 'test-suite.log')) || 'not run here'} |
| ASan+UBSan on node (\`_build-asan\`) | ${asanE2eCount} end-to-end tests with libasan preloaded before the library (\`make check-asan-e2e\`) | ${asanE2e || 'not run here'} |
| TSan (\`_build-tsan\`, test.sh) | ${tsanCount} suites of the threaded modules (\`make check-tsan\`) | ${suiteLog(path.join(src, '_build-tsan', 'test-suite.log')) || 'not run here'} |
| valgrind memcheck | ${unitCount} unit suites, each test in its own forked process (\`make check-valgrind\`) | ${vgCell} |
| libFuzzer ASan+UBSan (\`_fuzz\`) | ${names.length} fuzz targets | see the fuzzing table |

Suppressions (the campaign allows at most 5, each explained; found by scanning the tree for
sanitizer options that turn a check off, \`no_sanitize\` attributes and the entries of the
suppression files those options name, each entry one suppression):

`;
const supp = [];
const scan = ['Makefile.am', 'test.sh', ...list('tests', /\.sh$/), ...list('tests/e2e', /\.sh$/), ...list('tests/fuzz', /\.sh$/),
  ...list('src', /\.[ch]$/), ...list('preload', /\.[ch]$/), ...list('tools', /\.[ch]$/)];
const suppRe = /detect_deadlocks=0|detect_leaks=0|halt_on_error=0|suppressions=|no_sanitize|__attribute__\(\(no_sanitize/;
// In C, a line starting with # is the preprocessor's (SP_NO_ASAN's #define), not a comment.
const isComment = (l, f = '') => (/\.[ch]$/.test(f) ? /^\s*(\*|\/\*|\/\/)/ : /^\s*(#|\*|\/\*|\/\/)/).test(l);
const uncomment = (l) => l.replace(/^\s*(#|\/\*+|\*\/?|\/\/)\s?/, '').trim();
// A suppression file's entries ({ name, kind, frames }), each with the comment block above it
// (a file's numbered notes: the block just above the entry, up to the previous entry).
const suppFile = (f) => {
  const lines = (read(path.join(src, f)) || '').split('\n');
  const found = [];
  let why = [];
  for (let i = 0; i < lines.length; i++) {
    if (isComment(lines[i])) { why.push(uncomment(lines[i])); continue; }
    if (!/^\s*\{\s*$/.test(lines[i])) { if (!lines[i].trim()) why = why.length && why[why.length - 1] ? [...why, ''] : why; continue; }
    const name = (lines[i + 1] || '').trim();
    const para = why.join('\n').split(/\n\s*\n/).pop().replace(/\s+/g, ' ').trim();
    found.push({ line: i + 1, name, why: para });
    while (i < lines.length && !/^\s*\}\s*$/.test(lines[i])) i++;
    why = [];
  }
  return found;
};
for (const f of scan) {
  const lines = (read(path.join(src, f)) || '').split('\n');
  lines.forEach((line, i) => {
    if (!suppRe.test(line) || isComment(line, f)) return;
    // The reason: the nearest comment block above (within 8 lines: a rule's comment sits
    // above its variables; in C, above the #if block that holds the line).
    let k = i - 1;
    const cpp = (l) => /\.[ch]$/.test(f) && /^\s*#/.test(l);
    while (k >= 0 && (k > i - 8 || cpp(lines[k])) && !isComment(lines[k], f)) k--;
    const why = [];
    for (; k >= 0 && isComment(lines[k], f); k--) why.unshift(uncomment(lines[k]));
    const what = line.trim().match(suppRe)[0];
    const file = what === 'suppressions=' && (line.match(/suppressions=(?:\$\((?:srcdir|top_srcdir)\)\/)?([\w./-]+)/) || [])[1];
    if (file && read(path.join(src, file)) !== null) {
      const entries = suppFile(file);
      for (const e of entries) supp.push(`- \`${file}:${e.line}\`: \`${e.name}\` (named by \`${f}:${i + 1}\`): ${e.why || 'NO REASON GIVEN'}`);
      if (!entries.length) supp.push(`- \`${f}:${i + 1}\`: \`${what}\` names \`${file}\`, which holds no entry`);
      return;
    }
    supp.push(`- \`${f}:${i + 1}\`: \`${what}\`: ${why.join(' ') || 'NO REASON GIVEN'}`);
  });
}
md += (supp.length ? supp.join('\n') : '- none') + `\n\n${supp.length} suppression(s)${supp.length > 5 ? ' — over the limit of 5' : ''}.\n`;

// ---- what the campaign still lacks ----
const has = (re) => re.test(am) || re.test(read(path.join(src, 'test.sh')) || '');
// The last results of the campaign's other runs: the faults suite's own numbers, the kill -9
// storm's line.
const faultsLog = read(path.join(build, 'tests', 'unit', 'test_faults.log')) || '';
const faultLines = faultsLog.split('\n').filter((l) => l.startsWith('faults: ')).map((l) => l.slice(8));
const kill9 = ['tests/soak/kill9.sh.log', 'soak-kill9.log'].map((f) => read(path.join(build, f))).find(Boolean) || '';
const kill9Line = (kill9.match(/^kill9: (.*)$/m) || [])[1];
// The 1 kHz soak (tests/soak/soak.sh): its "soak: <fixture> ..." lines and automake-style
// count, from the long form's log and from the short form's, each when it ran here.
const soakCell = (file, what) => {
  const log = read(path.join(build, file));
  if (!log) return null;
  const lines = log.split('\n').filter((l) => l.startsWith('soak: ')).map((l) => l.slice(6));
  const count = (log.match(/^(\d+ passed, \d+ failed)$/m) || [])[1] || 'did not finish';
  return `${what}: ${count}${lines.length ? '<br>' + lines.join('<br>') : ''}`;
};
const soakCells = [soakCell('soak-long.log', '`make soak-long`'), soakCell('soak-short.log', '`make check-soak-short`')].filter(Boolean);
md += `
## The rest of the campaign

| part | how | last result here |
|---|---|---|
| fault injection (allocation, open, write, fsync, rename, mkdir, truncate, xattr, connect) | \`tests/unit/test_faults.c\` (\`-Wl,--wrap\`, \`sp_mem_fail_after\`), in \`make check\` | ${faultLines.length ? faultLines.join('<br>') : `${trs('tests/unit/test_faults') || 'not run here'}`} |
| 200 random kill -9 with a DSN | \`make soak\` (tests/soak/kill9.sh, KILL9_COUNT) | ${kill9Line || (has(/^soak:/m) ? 'not run here' : 'not yet')} |
| soak: 30 min at 1 kHz over CPU, allocation, HTTP-load and worker-churn fixtures (output and exit code as unprofiled, 0 crashes, 0 hangs, resources back to baseline) | \`make soak-long\` (4 fixtures x \`SOAK_SECONDS\`=450, tests/soak/soak.sh); short form \`make check-soak-short\` (8 s each) in CI | ${soakCells.join('<br>') || (has(/^soak-long:/m) ? 'not run here' : 'not yet')} |
| 10,000 workers, spawn storms, hostile perf maps | — | not yet |
`;
fs.writeFileSync(out, md);
console.log(`reliability: wrote ${path.relative(process.cwd(), out)}`);
