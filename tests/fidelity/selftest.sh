#!/usr/bin/env bash
# The fidelity harness's comparison (tests/fidelity/compare.js) on two tiny hand-made
# profiles of one thread with known answers, so the harness cannot rot between runs of
# `make fidelity` (which needs minutes and every Node major; this needs neither):
#   data/CPU.*.cpuprofile  V8's: inner (def. line 10) 70% self, outer (line 4) 20%, one
#                          (program) sample (10% no-JS), one (idle) sample (not busy), a
#                          9 ms gap capped at 4x the 1 ms median interval, a leaf in
#                          "stringify" and in "RegExp: x+" (not JS: charged to the JS caller),
#                          and a second function named inner (line 20) never sampled
#   data/tiny.envelope     ours: 10 samples in V8's window (inner at executing line 12 or
#                          under a glibc memmove leaf at line 10: 70%; outer 10%; two
#                          native-only samples: 20% no-JS) and one before the window
# Hand-computed: self error (|70-70| + |10-20|) / 2 = 5; inclusive over module 90 vs 80,
# outer 90 vs 80, inner 70 vs 70 = 6.67; no-JS excess 20 - 10 = 10.
. "$(dirname "$0")/../e2e/lib.sh"
need_node
here="$top_srcdir/tests/fidelity"
C="$here/compare.js"
v8=("$here"/data/CPU.*.cpuprofile)
ours="$here/data/tiny.envelope"
OFF=1699999000000000 # CLOCK_REALTIME - CLOCK_MONOTONIC of the made-up run (µs)
q() { "$NODE" -p "const r = $1; $2"; }

res=$("$NODE" "$C" --json --hot --our-clock cpu --clock-offset-us "$OFF" --ours "$ours" --v8 "${v8[@]}")
echo "# $(q "$res" 'JSON.stringify(r.threads[0])')"
check "one thread, matched to V8's thread 0 (saw $(q "$res" 'r.threads.map((t) => t.thread)'))" \
    test "$(q "$res" 'r.threads.map((t) => t.thread).join()')" = 0
check "samples: ours 10 in V8's window, V8 7 busy (saw $(q "$res" 'JSON.stringify(r.threads[0].samples)'))" \
    test "$(q "$res" 'JSON.stringify(r.threads[0].samples)')" = '{"ours":10,"v8":7}'
check "self error 5.00 (saw $(q "$res" 'r.threads[0].selfErr.toFixed(2)'))" \
    test "$(q "$res" 'r.threads[0].selfErr.toFixed(2)')" = 5.00
check "self noise floor 16.87 (binomial, 10 and 7 samples; saw $(q "$res" 'r.threads[0].selfNoise.toFixed(2)'))" \
    test "$(q "$res" 'r.threads[0].selfNoise.toFixed(2)')" = 16.87
check "inclusive error 6.67 (saw $(q "$res" 'r.threads[0].inclErr.toFixed(2)'))" \
    test "$(q "$res" 'r.threads[0].inclErr.toFixed(2)')" = 6.67
check "no-JS: ours 20%, V8 10%, excess 10 (saw $(q "$res" 'JSON.stringify(r.threads[0].noJs)'))" \
    test "$(q "$res" 'JSON.stringify(r.threads[0].noJs)')" = '{"ours":20,"v8":10,"excess":10}'
# Coincident samples: ours 1-6 fall on V8's 0-5 (the (idle) one is skipped, no pair after
# it): 6 pairs, 5 where V8 names JS, ours names one in all 5, another one in 2 (ours inner,
# V8 outer: samples 4 and 5).
check "coincident pairs: 6, 5 with V8 JS, no-JS 0%, wrong leaf 40% (saw $(q "$res" 'JSON.stringify(r.threads[0].paired)'))" \
    test "$(q "$res" 'JSON.stringify(r.threads[0].paired)')" = '{"n":6,"v8Js":5,"noJs":0,"wrongLeaf":40}'
check "hot function: inner (line 10, the one sampled) 70/70 (saw $(q "$res" 'JSON.stringify(r.threads[0].hot)'))" \
    test "$(q "$res" 'JSON.stringify(r.threads[0].hot)')" = '{"fn":"inner /app/a b.js:10","ours":70,"v8":70}'
check "bars judged: self, incl, no-JS fail; hot passes (saw $(q "$res" 'JSON.stringify(r.threads[0].pass)'))" \
    test "$(q "$res" 'JSON.stringify(r.threads[0].pass)')" = '{"self":false,"incl":false,"noJs":false,"hot":true}'

# Without the clock offset no window is cut: the sample before it counts (3 of 11 no-JS).
res=$("$NODE" "$C" --json --our-clock cpu --ours "$ours" --v8 "${v8[@]}")
check "no window without --clock-offset-us: 11 samples, no-JS 27.27% (saw $(q "$res" 'r.threads[0].samples.ours + " " + r.threads[0].noJs.ours.toFixed(2)'))" \
    test "$(q "$res" 'r.threads[0].samples.ours + " " + r.threads[0].noJs.ours.toFixed(2)')" = "11 27.27"
# One each instead of by interval: inner 4 of V8's 7 busy samples.
res=$("$NODE" "$C" --json --hot --weight count --our-clock cpu --clock-offset-us "$OFF" --ours "$ours" --v8 "${v8[@]}")
check "--weight count: V8's inner 57.14% (saw $(q "$res" 'r.threads[0].hot.v8.toFixed(2)'))" \
    test "$(q "$res" 'r.threads[0].hot.v8.toFixed(2)')" = 57.14

# V8's idle rule: node marks the isolate idle for libuv's whole poll phase, so with (idle)
# samples in V8's profile, ours with no JS frame under uv__io_poll are not busy either. The
# two native-only samples in the window, put under uv__io_poll: ours 8 busy, no-JS 0%.
"$NODE" -e '
const fs = require("fs");
const [head, ih, body] = fs.readFileSync(process.argv[1], "utf8").split("\n");
const p = JSON.parse(body);
p.profile.frames.push({ function: "uv__io_poll", package: "/usr/bin/node", platform: "native" });
p.profile.stacks[3].push(p.profile.frames.length - 1);
const b = JSON.stringify(p);
fs.writeFileSync(process.argv[2], [head, JSON.stringify({ ...JSON.parse(ih), length: Buffer.byteLength(b) }), b, ""].join("\n"));' \
    "$ours" "$WORK/poll.envelope"
res=$("$NODE" "$C" --json --our-clock cpu --clock-offset-us "$OFF" --ours "$WORK/poll.envelope" --v8 "${v8[@]}")
check "poll phase out of JS is idle as in V8: ours 8 busy, no-JS 0, poll idle 20% (saw $(q "$res" 'r.threads[0].samples.ours + " " + r.threads[0].noJs.ours + " " + r.threads[0].pollIdle'))" \
    test "$(q "$res" 'r.threads[0].samples.ours + " " + r.threads[0].noJs.ours + " " + r.threads[0].pollIdle')" = "8 0 20"

# The matching rule: the V8 function of that name and file with the greatest definition
# line <= ours; none <= ours: the first; another file or name: no match (own key).
m=$("$NODE" -e '
const { matcher } = require(process.argv[1]);
const f = (name, line) => [`${name} /app/a b.js:${line}`, { name, file: "/app/a b.js", line }];
const m = matcher(new Map([f("inner", 10), f("inner", 20), f("(anonymous)", 1)]));
const at = (fn, lineno, abs_path = "/app/a b.js") => m({ function: fn, abs_path, lineno });
console.log([at("inner", 12), at("inner", 20), at("inner", 21), at("inner", 3), at("", 30), at("inner", 12, "/app/c.js"), at("other", 12)].join("|"));' "$C")
check "matching: line 12 -> inner:10, 20 and 21 -> inner:20, 3 -> inner:10, anonymous 30 -> :1, other file/name unmatched (saw $m)" \
    test "$m" = "inner /app/a b.js:10|inner /app/a b.js:20|inner /app/a b.js:20|inner /app/a b.js:10|(anonymous) /app/a b.js:1|inner /app/c.js:12|other /app/a b.js:12"

# With the source at hand (node's acorn, --expose-internals): the innermost function whose
# lines hold ours. data/tiny-app.js: top-level code (line 1), an arrow on line 4, a
# function expression on lines 7-9; our anonymous frame at top-level line 12 is the
# module's code, not the function defined last above it (the rule without the source).
m=$("$NODE" --expose-internals -e '
const { matcher } = require(process.argv[1]);
const file = process.argv[2];
const f = (line, col) => [`(anonymous) ${file}:${line}`, { name: "(anonymous)", file, line, col }];
const m = matcher(new Map([f(1, 0), f(4, 28), f(7, 28)]));
const at = (lineno, colno) => m({ function: "", abs_path: file, lineno, colno }).replace(/.*:/, "");
const m2 = matcher(new Map([f(1, 0), f(4, 28), f(7, 28)].map(([k, v]) => [k.replace(file, "/gone.js"), { ...v, file: "/gone.js" }])));
console.log([12, 5, 4, 8, 10].map((l) => at(l)).join(" ") + " " + at(4, 15) + " " + at(4, 36) + " " + at(4, 99) + " / " + m2({ function: "", abs_path: "/gone.js", lineno: 12 }).replace(/.*:/, ""));' \
    "$C" "$here/data/tiny-app.js")
check "matching by source extents: lines 12 5 4 8 10 -> 1 1 4 7 1; 4:15 (left of the arrow) -> 1, 4:36 (in the arrow) -> 4, 4:99 (past the arrow) -> 1; source missing: 12 -> 7 (saw $m)" \
    test "$m" = "1 1 4 7 1 1 4 1 / 7"

# Two functions of one name on one line (data/two-arrows.js: arrows at columns 15 and 35)
# are one key of V8's profile with both columns: a frame in the second arrow is that key,
# not the module's code around it (the first arrow's extent alone does not hold it).
m=$("$NODE" --expose-internals -e '
const { matcher } = require(process.argv[1]);
const file = process.argv[2], name = "(anonymous)";
const m = matcher(new Map([[`${name} ${file}:1`, { name, file, line: 1, col: 0 }],
  [`${name} ${file}:3`, { name, file, line: 3, col: 15, cols: [15, 35] }]]));
console.log([17, 37].map((colno) => m({ function: "", abs_path: file, lineno: 3, colno }).replace(/.*:/, "")).join(" "));' \
    "$C" "$here/data/two-arrows.js")
check "matching two arrows on one line: 3:17 -> 3, 3:37 -> 3 (saw $m)" test "$m" = "3 3"

# The table lines and --bars' exit status; --report over one run's JSON line.
line=$("$NODE" "$C" --label tiny --our-clock cpu --clock-offset-us "$OFF" --ours "$ours" --v8 "${v8[@]}")
echo "# $line"
check "table line: label, thread, errors and FAIL flags" grep -q $'^tiny\tt0\t5.00\t6.67\t20.0/10.0\t10.00\t.*FAIL SELF,INCL,NOJS' <<<"$line"
"$NODE" "$C" --bars --our-clock cpu --clock-offset-us "$OFF" --ours "$ours" --v8 "${v8[@]}" >/dev/null
check "--bars: exit 1 when a bar fails" test $? = 1
"$NODE" "$C" --json --our-clock cpu --clock-offset-us "$OFF" --ours "$ours" --v8 "${v8[@]}" |
    "$NODE" -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () =>
        console.log(JSON.stringify({ fixture: "tiny", node: "0", version: "v0", secs: 1, ...JSON.parse(s) })))' >"$WORK/r.jsonl"
echo '{"fixture":"hung","node":"0","version":"v0","secs":300,"error":"hung: killed after 300s"}' >>"$WORK/r.jsonl"
"$NODE" "$C" --report "$WORK/r.jsonl" --out "$WORK/RESULTS.md" --versions v0 >"$WORK/report" 2>&1
check "--report: exit 1 with a failed bar and a failed run" test $? = 1
check "--report: a row per thread and per failed run" grep -q 'RUN FAILED: hung' "$WORK/report"
check "--report: markdown table written" grep -q '^| tiny | 0 | t0 | 5.00 | 16.87 | 6.67 | 20.0/10.0 | 10.00 |' "$WORK/RESULTS.md"
"$NODE" "$C" --ours "$ours" 2>"$WORK/usage"
check "usage error: exit 2 and a line saying what is missing" test $? = 2 -a -s "$WORK/usage"
finish
