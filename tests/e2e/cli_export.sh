#!/usr/bin/env bash
# cli_export.sh: `sentryprof convert` and `sentryprof flame` end to end on the fixtures
# tests/data/cli-*.envelope (v2 chunks cli-a, cli-b; v1 profile cli-v1; numbers in
# tests/data/cli-gen.py), a batch of them, corrupt inputs, and two recorded profiles (a v2
# chunk of this library's, a v1 profile of Sentry's SDK). Each export is read by what reads
# it for real: collapsed stacks summed per leaf must equal `sentryprof top`'s self column
# exactly; speedscope JSON must validate against the file-format schema shipped in the
# pinned npm package `speedscope` (tests/e2e/export/package.json + package-lock.json,
# installed with `npm ci`), and that package's own app (its importer, in headless Chromium,
# loaded as `npx speedscope FILE` loads a file) must show top's numbers for our speedscope
# JSON, .cpuprofile and collapsed stacks; the .cpuprofile must have DevTools' node/sample
# structure (tests/e2e/export/check-export.js); the pprof file must give `go tool pprof
# -top` top's numbers (Debian golang-go); the SVG must be well-formed XML (xmllint) with the
# hot function the widest frame at its depth, and in headless Chromium (Debian chromium)
# render non-blank, highlight a search, show hover details and zoom.
# Environment: top_srcdir, top_builddir (set by make check); NODE; SENTRYPROF_BIN overrides
# the binary; npm must reach its registry (a failed `npm ci` is a hard error, exit 99), as
# are a missing go or chromium (tools/install-deps.sh installs both).
set -euo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
BIN=${SENTRYPROF_BIN:-$top_builddir/tools/sentryprof}
NODE=${NODE:-$(command -v node || true)}
DATA=$top_srcdir/tests/data
CHECK=$top_srcdir/tests/e2e/export/check-export.js
if [ ! -x "$BIN" ]; then
    echo "cli_export: no executable $BIN" >&2
    exit 99
fi
if [ -z "$NODE" ]; then
    echo "cli_export: node not found (set NODE=...)" >&2
    exit 99
fi
unset LD_PRELOAD SENTRYPROF_LIB SENTRYPROF_SPOOL_DIR

. "$top_srcdir/tests/e2e/clilib.sh"
errlines() { if [ -z "$err" ]; then echo 0; else printf '%s\n' "$err" | wc -l | tr -d ' '; fi; }
# json FILE EXPR: a value from a JSON file (EXPR in terms of d)
json() { "$NODE" -e 'const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(eval(process.argv[2]))' "$@"; } # json FILE EXPR [ARG: process.argv[3]]

A=$DATA/cli-a.envelope B=$DATA/cli-b.envelope V1=$DATA/cli-v1.envelope

# top_self ARGS...: "label count" of every row with self samples, sorted
top_self() {
    "$BIN" top -n 0 "$@" | awk 'NR > 2 && $2 > 0 { lab = $0; sub(/^ *[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+  /, "", lab); print lab, $2 }' | LC_ALL=C sort
}
# leaf_sums FILE: the collapsed file summed per leaf frame, "label count", sorted
leaf_sums() {
    awk '{ n = $NF; st = $0; sub(/ [0-9]+$/, "", st); k = split(st, f, ";"); s[f[k]] += n } END { for (l in s) print l, s[l] }' "$1" | LC_ALL=C sort
}
sum_counts() { awk '{ s += $NF } END { print s + 0 }' "$1"; }

# ---- collapsed: round-trips top's sample counts exactly ----
sp convert --to collapsed -o "$tmp/all.folded" "$A" "$B" "$V1"
check "collapsed: exit 0" "$rc" 0
check "collapsed: no warnings" "$err" ""
check "collapsed: 200 samples" "$(sum_counts "$tmp/all.folded")" 200
check "collapsed: per-leaf sums = top's self column" "$(leaf_sums "$tmp/all.folded")" "$(top_self "$A" "$B" "$V1")"
check "collapsed: recursion kept as a stack" \
    "$(grep -c '^\[native\] Builtins_JSEntry (node);main (apps/hot.js:10);fib (apps/hot.js:30);fib (apps/hot.js:30);fib (apps/hot.js:30) 10$' "$tmp/all.folded")" 1
check "collapsed: one line per distinct stack" "$(sort "$tmp/all.folded" | awk '{ $NF = ""; print }' | uniq -d | wc -l | tr -d ' ')" 0
for filt in "--thread 1" "--thread 0" "--js-only" "--transaction My Transaction" "--since 1795549346"; do
    # shellcheck disable=SC2086
    case $filt in
    --transaction*) set -- --transaction "My Transaction" ;;
    *) set -- $filt ;;
    esac
    "$BIN" convert --to collapsed "$@" -o "$tmp/f.folded" "$A" "$B" "$V1" 2>/dev/null
    check "collapsed $filt: per-leaf sums = top's" "$(leaf_sums "$tmp/f.folded")" "$(top_self "$@" "$A" "$B" "$V1")"
done
check "collapsed --transaction: the v1 profile's 55 samples" \
    "$("$BIN" convert --to collapsed --transaction "My Transaction" -o - "$A" "$B" "$V1" | awk '{ s += $NF } END { print s }')" 55
check "collapsed --since: cli-b's 50 samples" \
    "$("$BIN" convert --to collapsed --since 1795549346 -o - "$A" "$B" "$V1" | awk '{ s += $NF } END { print s }')" 50
sp convert --to collapsed -o - "$V1"
check "collapsed -o -: to stdout" "$(printf '%s\n' "$out" | awk '{ s += $NF } END { print s }')" 55

# ---- the same envelopes in a batch (with a torn tail) convert alike ----
mkdir -p "$tmp/batch"
"$NODE" -e '
const fs = require("fs");
const { makeBatch } = require(process.argv[1]);
const [out, ...files] = process.argv.slice(2);
fs.writeFileSync(out, makeBatch(files.map((f) => fs.readFileSync(f)), { torn: true }));' \
    "$top_srcdir/tests/ingest/spoolfile.js" "$tmp/batch/1-2-txns-x.envelopes" "$A" "$B" "$V1"
sp convert --to collapsed -o "$tmp/batch.folded" "$tmp/batch"
check "batch: exit 0" "$rc" 0
check "batch: same stacks and counts as the three files" "$(cat "$tmp/batch.folded")" "$(cat "$tmp/all.folded")"
check "batch: one line about the torn tail" "$(errlines)" 1
sp flame -o "$tmp/batch.svg" "$tmp/batch"
check "batch: flame draws all 200 samples, hotLoop widest at depth 3" \
    "$("$NODE" "$CHECK" svg "$tmp/batch.svg" | "$NODE" -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>{const d=JSON.parse(s);console.log(d.total, d.widest[3].name)})')" \
    "200 hotLoop (apps/hot.js:3)"
sp convert --to pprof -o "$tmp/batch.pb.gz" "$tmp/batch"
check "batch: pprof written (read by go tool pprof below)" "$rc/$(od -An -tx1 -N2 "$tmp/batch.pb.gz" | tr -d ' ')" 0/1f8b

# ---- corrupt, truncated and foreign files: named, skipped, never fatal ----
mkdir -p "$tmp/spool/run-1"
cp "$A" "$B" "$V1" "$tmp/spool/"
cp "$DATA/cli-malformed.envelope" "$tmp/spool/"
cp "$DATA/cli-baditem.envelope" "$tmp/spool/run-1/"
head -c 3000 "$A" >"$tmp/spool/truncated.envelope"
head -c 4096 /dev/urandom >"$tmp/spool/random.envelope"
printf '\x89PNG\r\n\x1a\n' >"$tmp/spool/foreign.envelope"
printf '{"sent_at":"x"}\n{"type":"profile_chunk","length":2}\n[]\n' >"$tmp/spool/notobject.envelope"
for fmt in collapsed speedscope cpuprofile pprof flame; do
    if [ $fmt = flame ]; then sp flame --thread 0 -o "$tmp/c.$fmt" "$tmp/spool"; else sp convert --to $fmt --thread 0 -o "$tmp/c.$fmt" "$tmp/spool"; fi
    check "corrupt ($fmt): exit 0" "$rc" 0
    check "corrupt ($fmt): one line per bad file or item" "$(errlines)" 6
    for bad in cli-malformed.envelope run-1/cli-baditem.envelope truncated.envelope random.envelope foreign.envelope notobject.envelope; do
        [ "$(printf '%s\n' "$err" | grep -c "^sentryprof: skipping $tmp/spool/$bad: " || true)" = 1 ] || check "corrupt ($fmt): names $bad" missing named
    done
done
check "corrupt: numbers from the good files" "$(leaf_sums "$tmp/c.collapsed")" "$(top_self --thread 0 "$A" "$B" "$V1")"
check "corrupt (flame): the good files' 180 samples of thread 0" \
    "$("$NODE" "$CHECK" svg "$tmp/c.flame" | "$NODE" -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>console.log(JSON.parse(s).total))')" 180
mkdir -p "$tmp/allbad"
cp "$DATA/cli-malformed.envelope" "$tmp/spool/random.envelope" "$tmp/allbad/"
sp convert --to speedscope -o "$tmp/allbad.json" "$tmp/allbad"
check "nothing readable: exit 1" "$rc" 1
check "nothing readable: no output file" "$(ls "$tmp/allbad.json" 2>/dev/null || echo none)" none
check "nothing readable: last line says so" "$(printf '%s\n' "$err" | tail -1)" "sentryprof: no profiles could be read"
sp convert --to collapsed --thread 9 -o "$tmp/none.folded" "$A"
check "no sample passes the filter: exit 1" "$rc" 1
check "no sample passes the filter: one line" "$err" "sentryprof: no samples for thread 9"
sp convert -o "$tmp/x" "$A"
check "no --to: usage, exit 2" "$rc" 2
sp convert --to pprof2 -o "$tmp/x" "$A"
check "unknown --to: exit 2" "$rc" 2
sp convert --to collapsed "$A"
check "no -o: exit 2" "$rc" 2
sp convert --to collapsed -o "$tmp/no-such-dir/x" "$A"
check "unwritable output: exit 1, one line" "$rc/$(errlines)" 1/1
sp convert --to collapsed --since yesterday -o "$tmp/x" "$A"
check "bad --since: exit 2" "$rc" 2
check "no temp files left beside outputs" "$(ls "$tmp" | grep -cE '\.(folded|json|collapsed|speedscope|cpuprofile|x)\.[A-Za-z0-9]{6}$' || true)" 0

# ---- speedscope: the published schema of the pinned package, and the numbers ----
npmdir=$tmp/npm
mkdir -p "$npmdir"
cp "$top_srcdir/tests/e2e/export/package.json" "$top_srcdir/tests/e2e/export/package-lock.json" "$npmdir/"
if ! (cd "$npmdir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >"$tmp/npm.log" 2>&1); then
    cat "$tmp/npm.log" >&2
    echo "cli_export: npm ci of tests/e2e/export failed" >&2
    exit 99
fi
export EXPORT_NODE_MODULES=$npmdir/node_modules
SCHEMA=$npmdir/node_modules/speedscope/dist/release/file-format-schema.json
check "speedscope package ships its schema" "$(test -f "$SCHEMA" && echo yes)" yes

sp convert --to speedscope -o "$tmp/all.speedscope.json" "$A" "$B" "$V1"
check "speedscope: exit 0" "$rc" 0
ss=$("$NODE" "$CHECK" speedscope "$tmp/all.speedscope.json" "$SCHEMA" 2>&1) && ssrc=0 || ssrc=$?
check "speedscope: valid against the file-format schema" "$ssrc" 0
[ "$ssrc" = 0 ] || echo "# $ss"
printf '%s\n' "$ss" >"$tmp/ss.json"
check "speedscope: one sampled profile per thread" "$(json "$tmp/ss.json" 'Object.keys(d.profiles).join(",")')" \
    "thread 0 (main),thread 1 (worker)"
check "speedscope: samples per thread (180 + 20)" \
    "$(json "$tmp/ss.json" 'Object.values(d.profiles).map(p => p.samples + " " + p.unit).join(",")')" \
    "180 nanoseconds,20 nanoseconds"
check "speedscope: hotLoop self/total in samples (top: 140/150)" \
    "$(json "$tmp/ss.json" 'const p = d.profiles["thread 0 (main)"]; p.self["hotLoop hot.js:3"] + "/" + p.total["hotLoop hot.js:3"]')" "140/150"
check "speedscope: main total (top: 175)" \
    "$(json "$tmp/ss.json" 'd.profiles["thread 0 (main)"].total["main hot.js:10"]')" 175
check "speedscope: weights from the timestamps (10101 us, to the us)" \
    "$(json "$tmp/all.speedscope.json" 'Math.round(d.profiles[0].weights[0] / 1000)')" 10101
sp convert --to speedscope -o "$tmp/v1.speedscope.json" "$V1"
check "speedscope v1: valid" "$("$NODE" "$CHECK" speedscope "$tmp/v1.speedscope.json" "$SCHEMA" >/dev/null 2>&1 && echo ok)" ok
check "speedscope v1: 55 samples over 55 x 10.101 ms" \
    "$(json "$tmp/v1.speedscope.json" 'd.profiles[0].samples.length + " " + (d.profiles[0].endValue - d.profiles[0].startValue)')" \
    "55 555555000"

# ---- .cpuprofile: DevTools' structure ----
sp convert --to cpuprofile -o "$tmp/all.cpuprofile" "$A" "$B" "$V1"
check "cpuprofile: exit 0" "$rc" 0
check "cpuprofile: a note names the thread written" "$err" \
    "sentryprof: note: a .cpuprofile holds one thread: wrote thread 0 (main) (180 samples) of 2; choose with --thread"
cp=$("$NODE" "$CHECK" cpuprofile "$tmp/all.cpuprofile" 2>&1) && cprc=0 || cprc=$?
check "cpuprofile: ids, parents, children, samples, hitCounts and timeDeltas consistent" "$cprc" 0
[ "$cprc" = 0 ] || echo "# $cp"
printf '%s\n' "$cp" >"$tmp/cp.json"
check "cpuprofile: 180 samples of thread 0" "$(json "$tmp/cp.json" 'd.samples')" 180
check "cpuprofile: self samples (hotLoop 140, memcpy 10, fib 10, (idle) 5)" \
    "$(json "$tmp/cp.json" '[d.self.hotLoop, d.self.memcpy, d.self.fib, d.self["(idle)"]].join(" ")')" "140 10 10 5"
check "cpuprofile: 0-based line numbers" "$(json "$tmp/all.cpuprofile" 'd.nodes.find(n => n.callFrame.functionName == "hotLoop").callFrame.lineNumber')" 2
sp convert --to cpuprofile --thread 1 -o "$tmp/t1.cpuprofile" "$A" "$B" "$V1"
check "cpuprofile --thread 1: no note" "$err" ""
check "cpuprofile --thread 1: 20 samples, consistent" \
    "$("$NODE" "$CHECK" cpuprofile "$tmp/t1.cpuprofile" | "$NODE" -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>console.log(JSON.parse(s).samples))')" 20
sp convert --to cpuprofile -o "$tmp/v1.cpuprofile" "$V1"
check "cpuprofile v1: span = 55 intervals of 10101 us (the last sample's included)" \
    "$("$NODE" "$CHECK" cpuprofile "$tmp/v1.cpuprofile" | "$NODE" -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>console.log(JSON.parse(s).span))')" 555555
check "cpuprofile: every sample one interval (10101 us), gaps between chunks and files left out, the last until endTime" \
    "$(json "$tmp/cp.json" '[d.deltas.join(","), d.span, d.last].join(" ")')" "10101 1818180 10101"

# ---- flame graph: well-formed SVG, the hot function widest at its depth ----
have_xmllint=$(command -v xmllint || true)
wellformed() { # wellformed FILE: "ok" from xmllint (Debian libxml2-utils; install-deps installs it)
    if [ -n "$have_xmllint" ]; then xmllint --noout "$1" 2>&1 && echo ok; else echo "no xmllint"; fi
}
svgfacts() { "$NODE" "$CHECK" svg "$1"; }
sp flame -o "$tmp/all.svg" "$A" "$B" "$V1"
check "flame: exit 0, quiet" "$rc/$err" "0/"
check "flame: well-formed XML" "$(wellformed "$tmp/all.svg")" ok
svgfacts "$tmp/all.svg" >"$tmp/fl.json"
check "flame: all 200 samples" "$(json "$tmp/fl.json" 'd.total')" 200
check "flame: hotLoop the widest frame at its depth (3), 100 samples under JSEntry;main" \
    "$(json "$tmp/fl.json" 'const w = d.widest[3]; w.name + " " + w.w + " " + w.tie')" "hotLoop (apps/hot.js:3) 100 false"
check "flame: main widest at depth 2" "$(json "$tmp/fl.json" 'd.widest[2].name')" "main (apps/hot.js:10)"
check "flame: JS, native, V8 builtin and idle frames in their own colour families" \
    "$(grep -o 'data-k="[a-z]*"' "$tmp/all.svg" | sort -u | tr '\n' ' ')" 'data-k="all" data-k="builtin" data-k="js" data-k="native" data-k="pseudo" '
check "flame: the fills of each kind in one hue family, the families apart" \
    "$(json "$tmp/fl.json" '["js", "native", "builtin", "pseudo", "all"].map(k => k + ":" + d.families[k]).join(" ")')" \
    "js:warm native:blue builtin:green pseudo:grey all:grey"
check "flame: hover text has file:line and samples" \
    "$(grep -c '<g class="f" data-n="hotLoop (apps/hot.js:3)" data-f="apps/hot.js:3" data-k="js" data-s="100"' "$tmp/all.svg")" 1
check "flame: script with zoom and search" "$(grep -c -e 'function zoom' -e 'function search' "$tmp/all.svg")" 2
sp flame --reverse -o "$tmp/rev.svg" "$A" "$B" "$V1"
svgfacts "$tmp/rev.svg" >"$tmp/rev.json"
check "flame --reverse: well-formed" "$(wellformed "$tmp/rev.svg")" ok
check "flame --reverse: hotLoop the widest leaf (140 = top's self)" \
    "$(json "$tmp/rev.json" 'd.widest[1].name + " " + d.widest[1].w')" "hotLoop (apps/hot.js:3) 140"
sp flame --thread 1 -o "$tmp/t1.svg" "$A" "$B" "$V1"
check "flame --thread 1: 20 samples" "$(svgfacts "$tmp/t1.svg" | "$NODE" -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>console.log(JSON.parse(s).total))')" 20
sp flame --transaction "My Transaction" -o "$tmp/txn.svg" "$A" "$B" "$V1"
check "flame --transaction: the v1 profile's 55 samples, named in the title" \
    "$(svgfacts "$tmp/txn.svg" | "$NODE" -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>console.log(JSON.parse(s).total))')/$(grep -c '<text id="sp-title"[^>]*>Flame graph: 55 samples, transaction My Transaction</text>' "$tmp/txn.svg")" "55/1"
sp flame --since 1795549346 -o "$tmp/since.svg" "$A" "$B" "$V1"
check "flame --since: cli-b's 50 samples" \
    "$(svgfacts "$tmp/since.svg" | "$NODE" -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>console.log(JSON.parse(s).total))')" 50
sp flame --js-only -o "$tmp/js.svg" "$A" "$B" "$V1"
check "flame --js-only: no native or builtin frames" "$(grep -c -e 'data-k="native"' -e 'data-k="builtin"' "$tmp/js.svg" || true)" 0
sp flame --html -o "$tmp/all.html" "$A" "$B" "$V1"
check "flame --html: exit 0" "$rc" 0
check "flame --html: the graph inline" "$(grep -c '<svg version="1.1" id="sp-flame"' "$tmp/all.html")" 1
check "flame --html: the top table's hottest row" \
    "$(grep -o '<tr><td>70.00%</td><td>140</td><td>75.00%</td><td>150</td><td>hotLoop (apps/hot.js:3)</td></tr>' "$tmp/all.html" | wc -l | tr -d ' ')" 1
# names that need escaping (perf maps and ELF symbols hold anything)
"$NODE" -e '
const fs = require("fs");
const lines = fs.readFileSync(process.argv[1], "latin1").split("\n");
const p = JSON.parse(lines[2]);
p.profile.frames[0].function = "a<b>&\"c\x27 ]]> \u00e9\u4e2d";
const body = Buffer.from(JSON.stringify(p));
const head = JSON.parse(lines[1]); head.length = body.length;
fs.writeFileSync(process.argv[2], Buffer.concat([Buffer.from(lines[0] + "\n" + JSON.stringify(head) + "\n"), body, Buffer.from("\n")]));' \
    "$A" "$tmp/hostile.envelope"
sp flame -o "$tmp/hostile.svg" "$tmp/hostile.envelope"
check "flame, names with < & \" ' ]]> and UTF-8: exit 0" "$rc" 0
check "flame, names with < & \" ' ]]> and UTF-8: well-formed" "$(wellformed "$tmp/hostile.svg")" ok
sp flame -o "$tmp/none.svg" "$tmp/allbad"
check "flame, nothing readable: exit 1, no file" "$rc/$(ls "$tmp/none.svg" 2>/dev/null || echo none)" 1/none
sp flame "$A"
check "flame without -o: exit 2" "$rc" 2

# ---- pprof: go tool pprof reads it and reports top's numbers ----
GO=$(command -v go || true)
if [ -z "$GO" ]; then
    echo "cli_export: go not found (Debian golang-go; tools/install-deps.sh installs it)" >&2
    exit 99
fi
export GOCACHE=$tmp/gocache GOPATH=$tmp/gopath GOFLAGS=-mod=mod GOTOOLCHAIN=local
sp convert --to pprof -o "$tmp/all.pb.gz" "$A" "$B" "$V1"
check "pprof: exit 0, quiet" "$rc/$err" "0/"
check "pprof: gzipped" "$(od -An -tx1 -N2 "$tmp/all.pb.gz" | tr -d ' ')" 1f8b
"$GO" tool pprof -top -nodecount=100 -sample_index=samples "$tmp/all.pb.gz" >"$tmp/pprof.top" 2>"$tmp/pprof.err" || cat "$tmp/pprof.err"
# flat cum per function, as top's self total
pp() { awk -v f="$1" '$NF == f || substr($0, index($0, $6)) == f { print $1, $4; exit }' "$tmp/pprof.top"; }
check "go tool pprof: hotLoop flat/cum = top's self/total (140 150)" "$(pp hotLoop)" "140 150"
check "go tool pprof: main (5 175)" "$(pp main)" "5 175"
check "go tool pprof: memcpy (10 10)" "$(pp memcpy)" "10 10"
check "go tool pprof: Builtins_JSEntry (0 130)" "$(pp Builtins_JSEntry)" "0 130"
check "go tool pprof: (idle) (5 5)" "$(pp '(idle)')" "5 5"
check "go tool pprof: 200 samples in all" "$(grep -o 'of [0-9]* total' "$tmp/pprof.top" | head -1)" "of 200 total"
"$GO" tool pprof -top -nodecount=100 -sample_index=samples "$tmp/batch.pb.gz" >"$tmp/pprof-batch.top" 2>/dev/null || true
check "go tool pprof: the batch's pprof reports the same table" "$(sed 1,/flat%/d "$tmp/pprof-batch.top")" "$(sed 1,/flat%/d "$tmp/pprof.top")"
check "go tool pprof: reads the pprof of the corrupt spool's good files (180 samples of thread 0)" \
    "$("$GO" tool pprof -top -sample_index=samples "$tmp/c.pprof" 2>/dev/null | grep -o 'of [0-9]* total' | head -1)" "of 180 total"
# -lines: a location per function and line, so line numbers agree with top --by line
"$GO" tool pprof -top -lines -nodecount=100 -sample_index=samples "$tmp/all.pb.gz" >"$tmp/pprof.lines" 2>/dev/null || true
ppl() { awk -v f="$1" '$NF == f { print $1, $4; exit }' "$tmp/pprof.lines"; }
check "go tool pprof -lines: helper's lines 5 and 7 apart (5, 4 samples), as top --by line" \
    "$(ppl /app/lib/util.js:5)/$(ppl /app/lib/util.js:7)" "5 5/4 4"
check "go tool pprof -lines: hotLoop at line 3 (140 150)" "$(ppl /app/tests/apps/hot.js:3)" "140 150"
"$GO" tool pprof -tags -sample_index=samples "$tmp/all.pb.gz" >"$tmp/pprof.tags" 2>/dev/null || true
check "go tool pprof: thread labels (180 on 0, 20 on 1)" \
    "$(grep -cE -e ' 180(\.0)? \(90\.00%\): 0$' -e ' 20(\.0)? \(10\.00%\): 1$' "$tmp/pprof.tags")" 2
check "go tool pprof: transaction label (55 samples)" "$(grep -cE ' 55(\.0)? \(.*\): My Transaction$' "$tmp/pprof.tags")" 1
"$GO" tool pprof -top -sample_index=cpu "$tmp/all.pb.gz" >"$tmp/pprof.cpu" 2>/dev/null || true
check "go tool pprof: cpu time = samples x 10.101 ms (hotLoop 1.41s flat)" \
    "$(awk '$NF == "hotLoop" { print $1; exit }' "$tmp/pprof.cpu")" 1.41s

# ---- continuous profiles: transaction events name the samples in their window ----
# cli-a's thread 0 samples are at T0 + t x 10.101 ms, t = 0..74 (hotLoop for t < 60). Events
# of its profiler: "GET /hot" over [T0+0.1, T0+0.3] (t = 10..29: 20 samples) and "inner" over
# [T0+0.2, T0+0.25] (t = 20..24: 5); one of another profiler over everything (never matches).
"$NODE" -e '
const fs = require("fs");
const T0 = 1795549336.0, pid = "5e17e2f0000000000000000000000001";
const ev = (name, s, e, p) => ({ event_id: "0".repeat(31) + name.length, type: "transaction", transaction: name,
    start_timestamp: T0 + s, timestamp: T0 + e, contexts: { trace: { trace_id: "1".repeat(32), span_id: "2".repeat(16) },
    profile: { profiler_id: p } } });
const lines = [JSON.stringify({ sent_at: "2026-11-25T19:00:00.000Z" })];
for (const e of [ev("inner", 0.2, 0.25, pid), ev("GET /hot", 0.1, 0.3, pid), ev("GET /other", 0, 100, "f".repeat(32))]) {
    const body = JSON.stringify(e);
    lines.push(JSON.stringify({ type: "transaction", length: Buffer.byteLength(body) }), body);
}
fs.writeFileSync(process.argv[1], lines.join("\n") + "\n");' "$tmp/txns.envelope"
sp top --transaction "GET /hot" "$A" "$tmp/txns.envelope"
check "v2 --transaction: the samples in its window (20, all hotLoop)" "$(printf '%s\n' "$out" | sed -n 3p)" \
    " 100.00%       20 100.00%       20  hotLoop (apps/hot.js:3)"
sp top --transaction inner "$tmp/txns.envelope" "$A"
check "v2 --transaction: a nested one (5), events read before the chunk" "$(printf '%s\n' "$out" | head -1)" \
    "sentryprof top: 1 file, 1 chunk, 5 samples, threads: 0 (main)"
sp top --transaction "GET /other" "$A" "$tmp/txns.envelope"
check "v2 --transaction: another profiler's event matches nothing" "$rc/$err" "0/sentryprof: no samples in transaction GET /other"
sp convert --to pprof -o "$tmp/txn.pb.gz" "$A" "$tmp/txns.envelope"
"$GO" tool pprof -tags -sample_index=samples "$tmp/txn.pb.gz" >"$tmp/txn.tags" 2>/dev/null || true
check "pprof: each sample labelled with its innermost transaction (15 GET /hot, 5 inner)" \
    "$(grep -cE -e ' 15(\.0)? \(.*\): GET /hot$' -e ' 5(\.0)? \(.*\): inner$' "$tmp/txn.tags")" 2

# ---- recorded profiles: every export of a real run agrees with top ----
# recorded-v2-hot.envelope: a profile_chunk this library wrote for `sentryprof run node
# tests/apps/hot.js 1` on Node 20 (the checkout path replaced by /app); envelope-sdk-node-1.3.5:
# a v1 profile Sentry's own SDK (@sentry/profiling-node 1.3.5) wrote. For each, from top
# --json: the samples, the hottest function (name, self, total).
for rec in recorded-v2-hot envelope-sdk-node-1.3.5; do
    R=$DATA/$rec.envelope
    "$BIN" top --json -n 1 "$R" >"$tmp/rec-top.json"
    n=$(json "$tmp/rec-top.json" 'd.samples')
    hot=$(json "$tmp/rec-top.json" 'd.rows[0].name')                           # its label
    hotfn=$(json "$tmp/rec-top.json" 'd.rows[0].name.replace(/ \([^()]*\)$/, "")') # its name
    hotst=$(json "$tmp/rec-top.json" 'd.rows[0].self + " " + d.rows[0].total')
    sp convert --to collapsed -o "$tmp/rec.folded" "$R"
    check "$rec: collapsed, per-leaf sums = top's self column ($n samples)" "$rc/$(leaf_sums "$tmp/rec.folded")" "0/$(top_self "$R")"
    sp convert --to speedscope -o "$tmp/rec.speedscope.json" "$R"
    check "$rec: speedscope valid against the schema, $n samples" \
        "$("$NODE" "$CHECK" speedscope "$tmp/rec.speedscope.json" "$SCHEMA" | "$NODE" -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>console.log(Object.values(JSON.parse(s).profiles).reduce((a, p) => a + p.samples, 0)))')" "$n"
    sp convert --to cpuprofile -o "$tmp/rec.cpuprofile" "$R"
    "$NODE" "$CHECK" cpuprofile "$tmp/rec.cpuprofile" >"$tmp/rec-cp.json" 2>&1 || cat "$tmp/rec-cp.json"
    check "$rec: cpuprofile consistent, $n samples, $hotfn's self = top's" \
        "$(json "$tmp/rec-cp.json" 'd.samples + " " + d.self[process.argv[3]]' "$hotfn")" "$n ${hotst% *}"
    sp convert --to pprof -o "$tmp/rec.pb.gz" "$R"
    "$GO" tool pprof -top -nodecount=3 -sample_index=samples "$tmp/rec.pb.gz" >"$tmp/rec.top" 2>/dev/null || true
    check "$rec: go tool pprof -top: $n samples, $hotfn first with top's flat/cum" \
        "$(grep -o 'of [0-9]* total' "$tmp/rec.top" | head -1)/$(sed 1,/flat%/d "$tmp/rec.top" | head -1 | awk '{ print $1, $4 }')/$(sed 1,/flat%/d "$tmp/rec.top" | head -1 | sed 's/^ *[^ ]* *[^ ]* *[^ ]* *[^ ]* *[^ ]* *//')" \
        "of $n total/$hotst/$hotfn"
    sp flame -o "$tmp/rec.svg" "$R"
    svgfacts "$tmp/rec.svg" >"$tmp/rec-fl.json"
    check "$rec: flame graph of $n samples, $hot the widest frame at its depth" \
        "$(json "$tmp/rec-fl.json" 'const h = process.argv[3]; const d2 = Object.keys(d.widest).filter(k => d.widest[k].name == h); d.total + " " + (d2.length ? "widest" : "not widest")' "$hot")" \
        "$n widest"
done

# ---- top --by file|package|line, --json ----
row() { printf '%s\n' "$out" | awk -v f="$1" 'NR > 2 { lab = $0; sub(/^ *[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+  /, "", lab); if (lab == f) { print $2, $4; exit } }'; }
sp top --by file "$A" "$B" "$V1"
check "top --by file: header" "$(printf '%s\n' "$out" | sed -n 2p)" "   SELF%     SELF  TOTAL%    TOTAL  FILE"
check "top --by file: hot.js (hotLoop + fib + main self; main's total)" "$(row /app/tests/apps/hot.js)" "155 175"
check "top --by file: util.js, worker.js" "$(row /app/lib/util.js)/$(row /app/tests/apps/worker.js)" "9 9/20 20"
check "top --by file: native modules" "$(row '[native] /usr/bin/node')/$(row '[native] /usr/lib/x86_64-linux-gnu/libc.so.6')" "0 130/10 10"
sp top --by package "$A" "$B" "$V1"
check "top --by package: the app's JS (184 self, 195 total: every non-idle sample)" "$(row '(app)')" "184 195"
check "top --by package: self adds up to 200" "$(printf '%s\n' "$out" | awk 'NR > 2 { s += $2 } END { print s }')" 200
sp top --by package "$DATA/envelope-sdk-node-1.3.5.envelope"
check "top --by package: node_modules packages by name, scopes kept (@sentry/profiling-node)" \
    "$(row '@sentry/profiling-node')" "1 1"
check "top --by package: node's own code" "$(row '(node)')" "0 36"
sp top --by lines "$A"
check "top --by lines: usage error" "$rc" 2
sp top -n 0 --by line "$A" "$B" "$V1"
check "top --by line: header" "$(printf '%s\n' "$out" | sed -n 2p)" "   SELF%     SELF  TOTAL%    TOTAL  LINE"
check "top --by line: helper's two lines apart (5 samples at line 5, 4 at line 7; --by function: one row of 9)" \
    "$(row 'helper (lib/util.js:5)')/$(row 'helper (lib/util.js:7)')" "5 5/4 4"
check "top --by line: one line per function elsewhere, as --by function" "$(row 'hotLoop (apps/hot.js:3)')/$(row 'main (apps/hot.js:10)')" \
    "140 150/5 175"
check "top --by line: self adds up to 200" "$(printf '%s\n' "$out" | awk 'NR > 2 { s += $2 } END { print s }')" 200
sp top -n 0 --by line --js-only "$A" "$B" "$V1"
check "top --by line --js-only: lines kept beside dropped native frames" \
    "$(row 'helper (lib/util.js:5)')/$(row 'helper (lib/util.js:7)')/$(row 'hotLoop (apps/hot.js:3)')" "5 5/4 4/150 150"
sp top --by line --json -n 3 "$A" "$B" "$V1"
printf '%s\n' "$out" >"$tmp/top-line.json"
check "top --by line --json" "$(json "$tmp/top-line.json" '[d.by, d.rows.length, d.rows[0].name].join("|")')" "line|3|hotLoop (apps/hot.js:3)"
sp top --json "$A" "$B" "$V1"
printf '%s\n' "$out" >"$tmp/top.json"
check "top --json: summary" "$(json "$tmp/top.json" '[d.files, d.chunks, d.samples, d.threads.map(t => t.id + ":" + t.name)].join(" ")')" \
    "3 4 200 0:main,1:worker"
check "top --json: hottest row" "$(json "$tmp/top.json" 'const r = d.rows[0]; [r.name, r.self, r.total, r.self_pct, r.total_pct].join("|")')" \
    "hotLoop (apps/hot.js:3)|140|150|70|75"
check "top --json: the same rows as the table" "$(json "$tmp/top.json" 'd.rows.map(r => r.name + " " + r.self).sort().join("\n")')" \
    "$(top_self "$A" "$B" "$V1" | cat - <("$BIN" top -n 0 "$A" "$B" "$V1" | awk 'NR > 2 && $2 == 0 { lab = $0; sub(/^ *[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+  /, "", lab); print lab, 0 }') | LC_ALL=C sort | sort)"

# ---- a progress line over many files, on a terminal only, erased before warnings and at the end ----
mkdir -p "$tmp/many"
for i in $(seq 1 60); do cp "$A" "$tmp/many/a$i.envelope"; done
cp "$DATA/cli-malformed.envelope" "$tmp/many/m.envelope"
sp convert --to collapsed -o "$tmp/many.folded" "$tmp/many"
check "many files, no terminal: only the warning on stderr" "$err" "sentryprof: skipping $tmp/many/m.envelope: not a valid envelope"
check "many files: 60 x 95 samples" "$(sum_counts "$tmp/many.folded")" 5700
if command -v script >/dev/null; then
    script -qec "'$BIN' convert --to collapsed -o '$tmp/many2.folded' '$tmp/many'" /dev/null >"$tmp/tty.out" 2>&1 || true
    check "many files on a terminal: progress shown (61/61)" "$(grep -c 'sentryprof: reading 61/61 files' "$tmp/tty.out")" 1
    check "many files on a terminal: erased before the warning" \
        "$(grep -c "$(printf '\r\033\\[K')sentryprof: skipping $tmp/many/m.envelope" "$tmp/tty.out")" 1
    check "many files on a terminal: erased at the end" "$(tail -c 4 "$tmp/tty.out" | od -An -c | tr -s ' ')" ' \r 033 [ K'
fi

# ---- the man page documents every command of --help ----
MAN=$top_srcdir/docs/sentryprof.1
cmds=$("$BIN" --help | awk '/^  [a-z]+( |$)/ { print $1 }' | tr '\n' ' ')
missing=""
for c in $cmds; do grep -q "^\.B sentryprof $c\$\|^\.B sentryprof $c " "$MAN" && grep -q "^\.B $c\$" "$MAN" || missing="$missing $c"; done
check "man page: every command of --help ($cmds) in SYNOPSIS and COMMANDS" "${missing:-none}" none
if command -v groff >/dev/null; then
    check "man page: groff reads it without warnings" "$(groff -man -Tutf8 -ww -z "$MAN" 2>&1)" ""
fi

# ---- the SVG in headless Chromium: rendered, scripted, the hot frame widest ----
CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$CHROME" ]; then
    echo "cli_export: chromium not found (Debian chromium; tools/install-deps.sh installs it)" >&2
    exit 99
fi
chrome() { timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --user-data-dir="$tmp/chrome" --window-size=1200,220 "$@" 2>>"$tmp/chrome.log"; }
chrome --screenshot="$tmp/shot.png" "file://$tmp/all.svg" >/dev/null || true
"$NODE" "$CHECK" png "$tmp/shot.png" >"$tmp/shot.json" 2>&1 || cat "$tmp/shot.json"
check "chromium: the screenshot is not blank (over 10% of pixels drawn, many colours)" \
    "$(json "$tmp/shot.json" 'd.nonbg > 0.1 * d.width * d.height && d.colours > 20')" true
check "chromium: no search highlight without a search" "$(json "$tmp/shot.json" 'd.magenta')" 0
chrome --screenshot="$tmp/shot-s.png" "file://$tmp/all.svg?s=hotLoop" >/dev/null || true
"$NODE" "$CHECK" png "$tmp/shot-s.png" >"$tmp/shot-s.json" 2>&1 || cat "$tmp/shot-s.json"
check "chromium: ?s=hotLoop highlights frames (the script ran)" "$(json "$tmp/shot-s.json" 'd.magenta > 100')" true
{
    echo '<!DOCTYPE html><html><body>'
    sed 1d "$tmp/all.svg"
    cat <<'HTML'
<pre id="result"></pre>
<script>
var svg = document.getElementById('sp-flame'), frames = [].slice.call(svg.querySelectorAll('g.f'));
function widest() {
  var w = {};
  frames.forEach(function (g) {
    if (g.style.display == 'none') return;
    var d = g.getAttribute('data-d'), bw = g.querySelector('rect').getBoundingClientRect().width;
    if (!w[d] || bw > w[d].w) w[d] = { w: Math.round(bw * 100) / 100, name: g.getAttribute('data-n') };
  });
  return w;
}
var before = widest();
var hot = frames.filter(function (g) { return g.getAttribute('data-n') == 'hotLoop (apps/hot.js:3)' && g.getAttribute('data-d') == '3'; })[0];
hot.dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));
var details = document.getElementById('sp-details').textContent;
hot.dispatchEvent(new MouseEvent('click', { bubbles: true }));
var zoomed = Math.round(hot.querySelector('rect').getBoundingClientRect().width);
document.getElementById('result').textContent = JSON.stringify({ before: before, zoomed: zoomed, details: details });
</script></body></html>
HTML
} >"$tmp/probe.html"
chrome --dump-dom "file://$tmp/probe.html" >"$tmp/dom.html" || true
"$NODE" -e '
const html = require("fs").readFileSync(process.argv[1], "utf8");
const m = html.match(/<pre id="result">([^<]*)<\/pre>/);
const t = m ? m[1].replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">") : "{}";
require("fs").writeFileSync(process.argv[2], t || "{}");' "$tmp/dom.html" "$tmp/probe.json"
check "chromium: hotLoop the widest rendered frame at depth 3" "$(json "$tmp/probe.json" 'd.before && d.before[3].name')" \
    "hotLoop (apps/hot.js:3)"
check "chromium: hover shows name, file:line, samples, %" "$(json "$tmp/probe.json" 'd.details')" \
    "hotLoop (apps/hot.js:3)  apps/hot.js:3  100 samples, 50.00%"
check "chromium: click zooms hotLoop to the full width (1180 px)" "$(json "$tmp/probe.json" 'd.zoomed')" 1180

# ---- speedscope's own app (the pinned package) imports our speedscope JSON and .cpuprofile ----
# Loaded the way `npx speedscope FILE` loads a file (#localProfilePath: a script handing it
# in base64 to the app's importer), in headless Chromium; the probe reads the sandwich view.
# Each sample is worth one sampling interval (10.101 ms here), so speedscope's Self and
# Total cells, read back in samples of 10.101 ms, must be top's sample counts.
SSAPP=$npmdir/node_modules/speedscope/dist/release/index.html
# ssapp FILE: the sandwich view of FILE in speedscope's app, as JSON on stdout
# ssapp FILE NAME: on a loaded machine the DOM can be dumped after the import but before
# the sandwich table is drawn: while the rows lack NAME, it is tried again, up to 3 times;
# what the last try saw is what the checks compare.
ssapp() {
    "$NODE" "$CHECK" speedscope-loader "$1" "$tmp/ssload.js"
    local try out
    for try in 1 2 3; do
        chrome --allow-file-access-from-files --virtual-time-budget=30000 --window-size=1200,800 \
            --dump-dom "file://$SSAPP#localProfilePath=$tmp/ssload.js&view=sandwich" >"$tmp/ssapp.html" || true
        out=$("$NODE" "$CHECK" sandwich "$tmp/ssapp.html" 10101000 2>&1 || true)
        printf '%s' "$out" | "$NODE" -e 'let d; try { d = JSON.parse(require("fs").readFileSync(0, "utf8")); } catch { process.exit(1); }
            process.exit(d && d.rows && d.rows[process.argv[1]] ? 0 : 1)' "$2" && break
        echo "# speedscope app, try $try: no row for $2 yet" >&2
    done
    printf '%s\n' "$out"
}
# cells JSONFILE FN...: "FN self/total" per function, in samples, as speedscope shows them
# (an absent one lists the rows there were, so a failure shows what speedscope drew)
cells() { local f=$1; shift; for fn in "$@"; do json "$f" "const r = d.rows[\"$fn\"]; \"$fn \" + (r ? r.self + \"/\" + r.total : \"absent (rows: \" + Object.keys(d.rows).slice(0, 8).join(\", \") + \")\")"; done; }
# want FN SELF TOTAL...: the same lines from top's sample counts
want() { while [ $# -gt 0 ]; do echo "$1 $2/$3"; shift 3; done; }
ssapp "$tmp/all.speedscope.json" hotLoop >"$tmp/ssapp.json"
check "speedscope app: imports our speedscope JSON (the profile named, 2 threads)" \
    "$(json "$tmp/ssapp.json" 'd.title + " | " + d.profile')" "sentryprof - speedscope | thread 0 (main) (1/2)"
check "speedscope app, speedscope JSON, thread 0: Self/Total in samples = top --thread 0's" \
    "$(cells "$tmp/ssapp.json" hotLoop main memcpy fib helper)" \
    "$(want hotLoop 140 150 main 5 175 memcpy 10 10 fib 10 10 helper 9 9)"
ssapp "$tmp/all.cpuprofile" hotLoop >"$tmp/ssapp-cp.json"
check "speedscope app: imports our .cpuprofile (Chrome's format)" \
    "$(json "$tmp/ssapp-cp.json" 'd.title + " | " + d.profile')" "all.cpuprofile - speedscope | all.cpuprofile"
# the last sample in time has no next one to end it, so speedscope gives it no time: the
# functions checked here are not in it (cli-b's last sample is 0x7f00dead under main)
check "speedscope app, .cpuprofile: Self/Total in samples = top --thread 0's (no gap between chunks charged to a sample)" \
    "$(cells "$tmp/ssapp-cp.json" hotLoop memcpy fib helper)" \
    "$(want hotLoop 140 150 memcpy 10 10 fib 10 10 helper 9 9)"

# collapsed stacks: speedscope's importer of that format (counts, no unit), all threads
ssapp "$tmp/all.folded" "hotLoop (apps/hot.js:3)" >"$tmp/ssapp-fo.json"
check "speedscope app: imports our collapsed stacks" "$(json "$tmp/ssapp-fo.json" 'd.title')" "all.folded - speedscope"
check "speedscope app, collapsed: Self/Total = top's (all threads)" \
    "$(cells "$tmp/ssapp-fo.json" "hotLoop (apps/hot.js:3)" "main (apps/hot.js:10)" "workerFn (apps/worker.js:2)" "[native] Builtins_JSEntry (node)")" \
    "$(want "hotLoop (apps/hot.js:3)" 140 150 "main (apps/hot.js:10)" 5 175 "workerFn (apps/worker.js:2)" 20 20 "[native] Builtins_JSEntry (node)" 0 130)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
