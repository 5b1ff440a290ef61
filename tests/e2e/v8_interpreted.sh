#!/usr/bin/env bash
# Issue #13 step 2: interpreted JS frames are named from V8's own frame slots. Functions that
# stay in V8's interpreter (--no-opt --no-sparkplug --no-maglev) used to show up as a nameless
# Builtins_InterpreterEntryTrampoline frame (on Node 18/20 always, where the shim no longer
# adds --interpreted-frames-native-stack). Checked against V8's own sampler in the same run
# (--cpu-prof): the same functions are named and split the time as V8 splits it. Ratios
# between two functions doing the same work unit 7:3 by count, so a busy machine does not
# move them.
. "$(dirname "$0")/lib.sh"
need_node
spool="$WORK/spool"
# Interpreter only. Node 18's V8 has no Maglev and rejects --no-maglev.
read -ra interp <<<"--no-opt --no-sparkplug $(no_maglev)"
set +e
# 500 Hz: ~1000 samples in the two functions, so the sampling error of a 70% share is
# ~1.5 points and the 6-point bar below is ~3 sigma of both profilers' noise (at 99 Hz it
# was ~1.8 sigma: 9 points apart in one run of three on a loaded machine).
out=$(SENTRYPROF_HZ=500 SENTRYPROF_SPOOL_DIR=$spool LD_PRELOAD=$SP_LIB "$NODE" "${interp[@]}" \
    --cpu-prof --cpu-prof-dir="$WORK/prof" "$APPS/interp.js" 2 2>"$WORK/err")
rc=$?
set -e
check "app exit code unchanged (0)" test "$rc" = 0
check "app stdout unchanged (saw: $out)" test "$out" = done
check "app stderr empty" test ! -s "$WORK/err"
mapfile -t files < <(spool_files "$spool")
check "a profile chunk was spooled" test -f "${files[0]}"
check "spooled envelopes pass the v2 rules" "$NODE" "$VALIDATE" "${files[@]}"
ours=$("$NODE" "$(dirname "$0")/js-leaf-facts.js" "${files[@]}")
v8=$("$NODE" "$(dirname "$0")/js-leaf-facts.js" --cpuprofile "$WORK"/prof/*.cpuprofile)
echo "# ours: $ours"
echo "# v8:   $v8"
facts() { "$NODE" -p "const o = $1; $2"; }
named=$(facts "$ours" 'Object.values(o.leaf).reduce((a, b) => a + b, 0)')
tramp=$(facts "$ours" 'o.trampoline')
hot=$(facts "$ours" 'o.leaf.parseHot || 0')
warm=$(facts "$ours" 'o.leaf.parseWarm || 0')
v8hot=$(facts "$v8" 'o.leaf.parseHot || 0')
v8warm=$(facts "$v8" 'o.leaf.parseWarm || 0')
check "parseHot is the innermost JS function of >= 250 samples (saw $hot)" test "$hot" -ge 250
check "parseWarm is named too (saw $warm)" test "$warm" -ge 50
check "<= 5% of samples with a JS frame have the nameless trampoline innermost (saw $tramp of $((named + tramp)))" \
    awk -v t="$tramp" -v n="$named" 'BEGIN { exit !(t <= 0.05 * (t + n)) }'
check "parseHot : parseWarm matches V8's within 6 points (ours $hot:$warm, V8 $v8hot:$v8warm)" \
    awk -v h="$hot" -v w="$warm" -v H="$v8hot" -v W="$v8warm" 'BEGIN {
        a = 100 * h / (h + w); b = 100 * H / (H + W);
        printf "# parseHot share: ours %.1f%%, V8 %.1f%%\n", a, b; d = a - b; if (d < 0) d = -d;
        exit !(d <= 6 && a >= 55 && a <= 85) }'
# Named the way the perf map names JS frames: the script's path, and in-app.
frame=$("$NODE" -e '
const { spoolEnvelopes } = require(process.argv[1]);
for (const { buf } of spoolEnvelopes(...process.argv.slice(2)))
  for (const l of buf.toString().split("\n")) {
    if (!l.startsWith("{\"chunk_id\"")) continue;
    const f = JSON.parse(l).profile.frames.find((f) => f.function === "parseHot");
    if (f) { console.log(JSON.stringify(f)); process.exit(0); }
  }' "$SPOOLFILE" "${files[@]}")
echo "# frame: $frame"
check "parseHot's frame names its script" grep -q '"abs_path":"[^"]*interp.js"' <<<"$frame"
check "parseHot's frame is in-app JS" grep -q '"in_app":true' <<<"$frame"

# SENTRYPROF_V8_FRAMES=false: the decoder stays off (no heap reads). Interpreted frames
# are then named only where V8's perf map names them: where node runs with
# --interpreted-frames-native-stack (each function gets its own copy of the interpreter
# entry), at the function's definition line; elsewhere they stay V8's nameless trampoline.
# Never at the line executing in them: only the decoder reads that.
SENTRYPROF_V8_FRAMES=false SENTRYPROF_DEBUG=1 SENTRYPROF_SPOOL_DIR="$WORK/off" LD_PRELOAD=$SP_LIB \
    "$NODE" "${interp[@]}" "$APPS/interp.js" 0.5 >/dev/null 2>"$WORK/off.err"
mapfile -t off < <(spool_files "$WORK/off")
offacts=$("$NODE" "$(dirname "$0")/js-leaf-facts.js" "${off[@]}")
echo "# off: $offacts"
check "V8_FRAMES=false: the debug line says the decoder is off" grep -q "v8 frames: off (SENTRYPROF_V8_FRAMES=false)" "$WORK/off.err"
def=$(grep -n '^function parseHot' "$APPS/interp.js" | cut -d: -f1)
offlines=$("$NODE" -e '
const { spoolEnvelopes } = require(process.argv[1]);
const lines = new Set();
for (const { buf } of spoolEnvelopes(...process.argv.slice(2)))
  for (const l of buf.toString().split("\n")) {
    if (!l.startsWith("{\"chunk_id\"")) continue;
    for (const f of JSON.parse(l).profile.frames) if (f.function === "parseHot") lines.add(f.lineno);
  }
console.log([...lines].sort().join(" "))' "$SPOOLFILE" "${off[@]}")
if grep 'NODE_OPTIONS=' "$WORK/off.err" | grep -q -- '--interpreted-frames-native-stack'; then
    check "V8_FRAMES=false: parseHot's frames are the perf map's, at its definition line $def only (saw lines: ${offlines:-none})" \
        test "${offlines:-$def}" = "$def"
else
    check "V8_FRAMES=false, no --interpreted-frames-native-stack: parseHot is not named (saw $(facts "$offacts" 'o.leaf.parseHot || 0') samples, lines: ${offlines:-none})" \
        test "$(facts "$offacts" 'o.leaf.parseHot || 0')" = 0 -a -z "$offlines"
fi
finish
