#!/usr/bin/env bash
# Issue #13 causes 4 and 6: a leaf that has not built a frame, and a sample that lands in
# another profiler's signal handler, keep the JS frames under them. Both against V8's own
# sampler in the same run (--cpu-prof beside the shim), on the CPU clock.
#
# 1. An interpreted leaf (tests/apps/leaf.js: outer() calls inner(), 7 work units in inner
#    for every 3 in outer, interpreter only): a bytecode handler runs on inner's frame, so
#    the frame-pointer walk starts at inner's caller. inner's share of inner + outer must
#    match V8's (V8 >= 12) and the fixture's split. Once with V8's frame slots (v8decode),
#    once with SENTRYPROF_V8_FRAMES=false, where only the word at sp can put inner back
#    (v8leaf: through the perf map's per-function trampoline copy, where V8 has one).
# 2. V8's SIGPROF handler: with --cpu-prof our signal often lands while V8's handler runs,
#    or on its first instruction (the kernel sets up both frames at once). The walk goes
#    on through the kernel's signal frame: the stats say how many samples did
#    (signal_frames_walked) and how many stopped there (signal_frame_stops, expected ~0),
#    and every sample with V8's handler in its stack has the fixture's JS frames under it.
. "$(dirname "$0")/lib.sh"
need_node
read -ra interp <<<"--no-opt --no-sparkplug $(no_maglev)"
v8major=$("$NODE" -p 'parseInt(process.versions.v8)')
facts() { "$NODE" -p "const o = $1; $2"; }

# run NAME [env...]: leaf.js under the shim and --cpu-prof; spool in $WORK/NAME
run() {
    local name=$1 rc out
    shift
    set +e
    out=$(env "$@" SENTRYPROF_CLOCK=cpu SENTRYPROF_HZ=500 SENTRYPROF_DEBUG=1 \
        SENTRYPROF_SPOOL_DIR="$WORK/$name" LD_PRELOAD=$SP_LIB "$NODE" "${interp[@]}" \
        --cpu-prof --cpu-prof-dir="$WORK/$name-prof" "$APPS/leaf.js" 2 2>"$WORK/$name.err")
    rc=$?
    set -e
    check "$name: app exit code unchanged (0)" test "$rc" = 0
    check "$name: app stdout unchanged (saw: $out)" test "$out" = done
}
# share NAME: inner's share of inner + outer, ours then V8's ("-" when V8 has none)
share() {
    local ours v8
    mapfile -t files < <(spool_files "$WORK/$1")
    ours=$("$NODE" "$(dirname "$0")/js-leaf-facts.js" "${files[@]}")
    v8=$("$NODE" "$(dirname "$0")/js-leaf-facts.js" --cpuprofile "$WORK/$1-prof"/*.cpuprofile)
    printf '%s\n' "# $1 ours: $ours" "# $1 v8:   $v8" >"$WORK/$1.facts"
    facts "$ours" 'const i = o.leaf.inner || 0, t = i + (o.leaf.outer || 0); t ? (100 * i / t).toFixed(1) : -1'
    facts "$v8" 'const i = o.leaf.inner || 0, t = i + (o.leaf.outer || 0); t ? (100 * i / t).toFixed(1) : -1'
}
stat() { sed -n "s/.*debug: stat $2=\([0-9]*\).*/\1/p" "$WORK/$1.err" | tail -1; }
# The fixture's split is 70:30 by work; call overhead and the loop around it move it a few
# points (V8 measured 66-68% on Node 22/24). Before the repair ours was 13% without the
# decoder; V8 11 (Node 18/20) puts most of an interpreted leaf on its caller itself, so
# there only the fixture's split is checked.
# ~300 of our samples in the two functions (the CPU clock fires on the kernel's tick) and
# ~1200 of V8's: the share's sampling error is ~2.9 points for both together, so the bar is
# 10 points (3.4 sigma; 6 failed one run in about ten on a machine at load 30).
near() { # near WHAT OURS V8: within 10 points of V8 (V8 >= 12), and 60-80%
    awk -v a="$2" -v b="$3" -v m="$v8major" 'BEGIN { d = a - b; if (d < 0) d = -d;
        exit !(a >= 60 && a <= 80 && (m < 12 || (b >= 0 && d <= 10))) }'
}

run decoder
read -r -d '' ours v8 < <(share decoder) || true
cat "$WORK/decoder.facts"
check "inner's share of inner + outer: ours $ours%, V8 $v8% (V8 $v8major; within 10 points of V8 on V8 >= 12, 60-80%)" \
    near decoder "$ours" "$v8"

run wordatsp SENTRYPROF_V8_FRAMES=false
read -r -d '' ours v8 < <(share wordatsp) || true
cat "$WORK/wordatsp.facts"
if grep -q -- '--interpreted-frames-native-stack' <<<"$(grep 'NODE_OPTIONS=' "$WORK/wordatsp.err")"; then
    check "V8_FRAMES=false: inner's share: ours $ours%, V8 $v8% (the word at sp names inner's trampoline copy)" \
        near wordatsp "$ours" "$v8"
else
    echo "# V8_FRAMES=false: no --interpreted-frames-native-stack here: interpreted frames stay unnamed (inner $ours%)"
fi

# 2. signal frames, from the decoder run
samples=$(stat decoder samples)
walked=$(stat decoder signal_frames_walked)
stops=$(stat decoder signal_frame_stops)
echo "# samples $samples, walked through V8's signal frame $walked, stopped there $stops"
check "the stats count samples, signal frames walked and stops (saw '$samples' '$walked' '$stops')" \
    test -n "$samples" -a -n "$walked" -a -n "$stops"
check "<= 1% of samples stop at a signal frame (saw $stops of $samples)" \
    awk -v s="${stops:-1}" -v n="${samples:-0}" 'BEGIN { exit !(n > 0 && s <= 0.01 * n) }'
mapfile -t files < <(spool_files "$WORK/decoder")
under=$("$NODE" -e '
const { spoolEnvelopes } = require(process.argv[1]);
let n = 0, js = 0;
for (const { buf } of spoolEnvelopes(...process.argv.slice(2)))
  for (const l of buf.toString().split("\n")) {
    if (!l.startsWith("{\"chunk_id\"")) continue;
    const { profile } = JSON.parse(l);
    for (const s of profile.samples) {
      const st = profile.stacks[s.stack_id].map((i) => profile.frames[i]);
      if (!st.some((f) => /v8::sampler::/.test(f.function))) continue;
      n++;
      if (st.some((f) => f.platform === "node" && /^(inner|outer)$/.test(f.function))) js++;
    }
  }
console.log(n, js)' "$SPOOLFILE" "${files[@]}")
read -r n js <<<"$under"
echo "# samples with V8's signal handler in their stack: $n, with inner or outer under it: $js"
# (one may come from node's startup, before the fixture's functions run)
check ">= 90% of samples inside V8's signal handler carry the app's JS frames, one aside (saw $js of $n)" \
    awk -v n="$n" -v j="$js" 'BEGIN { exit !(j >= 0.9 * n - 1) }'
finish
