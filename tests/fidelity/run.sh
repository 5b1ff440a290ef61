#!/usr/bin/env bash
# The fidelity harness (issue #13, `make fidelity`): every fixture of tests/fidelity/apps/
# runs under the shim and V8's own sampler at once (--cpu-prof, one profile per isolate),
# in the same process and window, on every Node major in the matrix cache; compare.js
# prints, per thread, the self and inclusive error over V8's top 15 JS functions, the
# share of samples with no JS frame (ours against V8's) and, for the interpreter-only and
# --jitless runs, the hot function's self share beside V8's. The table goes to stdout and
# to tests/fidelity/RESULTS.md (with the date and the node versions).
#
# Bars (issue #13): self error <= 1 point, inclusive <= 3 points, no-JS excess <= 2
# points per thread; hot function within 3 points (interp, jitless). Exit 1 when one fails,
# 99 when nothing could run. Not part of `make check`: the figures are statistical and need
# long runs; tests/fidelity/selftest.sh (in `make check`) checks compare.js itself.
#
# Environment:
#   FIDELITY_NODES     majors to run (default: every one in the cache, 18-26); a missing
#                      one is skipped with a line
#   FIDELITY_FIXTURES  fixture names (default: all, see FIXTURES below)
#   FIDELITY_SECONDS   CPU seconds per thread of each run (default 5: >= 1,000 of our
#                      samples at the CPU clock's ~250 Hz kernel tick, ~4,000 of V8's)
#   FIDELITY_TIMEOUT   seconds before a run counts as hung and is killed (default 300)
#   FIDELITY_RESULTS   where the markdown table goes (default tests/fidelity/RESULTS.md;
#                      "-": nowhere)
#   FIDELITY_KEEP=1    keep the runs' spools and V8 profiles (their folder is printed)
#   FIDELITY_RESCORE=DIR  run nothing: score again the runs FIDELITY_KEEP=1 kept in DIR
#                      (after a change to compare.js; the node majors must still be there)
#   FIDELITY_DETAIL=1  print each thread's top functions, both sides (compare.js --detail)
#   FIDELITY_NODE_FLAGS  more node flags for every run, after the tier's (e.g. V8's GC
#                      stress: "--stress-compaction", "--gc-interval=100"; inlining off in
#                      both profilers: "--no-turbo-inlining --no-maglev-inlining"); a flag a
#                      node rejects is left out on that node (said in a "#" line)
#   SENTRYPROF_NODE_CACHE  the node cache (tests/matrix/install-nodes.sh fills it)
# The shim samples at 1 kHz on the CPU clock (shares of CPU time, whatever the machine's
# load); V8 at --cpu-prof-interval 1000 (µs).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
APPS="$here/apps"
COMPARE="$here/compare.js"
[ -f "$LIB" ] || { echo "fidelity: missing $LIB: build first" >&2; exit 99; }
SECONDS_CPU=${FIDELITY_SECONDS:-5}
TIMEOUT=${FIDELITY_TIMEOUT:-300}
RESULTS=${FIDELITY_RESULTS:-$here/RESULTS.md}

# name|app|V8 flags (tier)|hot: also judge the hot function's share
FIXTURES=(
    "builtins-worker|builtins-worker.js||"
    "inline|inline.js||"
    "interp|mixed.js|@INTERP|hot"
    "sparkplug|mixed.js|@SPARKPLUG|"
    "default|mixed.js||"
    "jitless|mixed.js|--jitless|hot"
    "glibc|glibc.js||"
    "churn|churn.js||"
    "http|http-server.js||"
)
# The flags of a tier on one node: --no-maglev only where V8 has Maglev (Node 18's rejects it).
tier_flags() {
    local node=$1 tier=$2 f=()
    case "$tier" in
    @INTERP) f=(--no-opt --no-sparkplug) ;;
    @SPARKPLUG) f=(--no-opt --sparkplug --always-sparkplug) ;;
    *) echo "$tier"; return ;;
    esac
    "$node" --no-maglev -e 0 2>/dev/null && f+=(--no-maglev)
    echo "${f[*]}"
}

majors=${FIDELITY_NODES:-18 20 22 24 26}
want=${FIDELITY_FIXTURES:-}
rescore=${FIDELITY_RESCORE:-}
if [ -n "$rescore" ]; then
    WORK=$rescore
    JSONL=$(mktemp "${TMPDIR:-/tmp}/sp-fidelity-rescore.XXXXXX")
    trap 'rm -f "$JSONL"' EXIT
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/sp-fidelity.XXXXXX")
    if [ "${FIDELITY_KEEP:-0}" = 1 ]; then echo "# runs kept in $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
    JSONL="$WORK/results.jsonl"
fi
: >"$JSONL"
versions=()
ran=0
report_node=""

for major in $majors; do
    node=$(node_of "$major")
    if [ ! -x "$node" ] || ! "$node" -e 0 2>/dev/null; then
        echo "# node $major: not in $cache (tests/matrix/install-nodes.sh installs it): skipped"
        continue
    fi
    version=$("$node" --version)
    # FIDELITY_NODE_FLAGS this node rejects are left out on it (--no-maglev-inlining on
    # Node 18, which has no Maglev), so one run can ask every node for the same thing.
    node_flags=()
    for f in ${FIDELITY_NODE_FLAGS:-}; do
        if "$node" "$f" -e 0 >/dev/null 2>&1; then node_flags+=("$f")
        else echo "# node $major: $f is no flag of this node: left out"; fi
    done
    report_node=${report_node:-$node}
    versions+=("$version")
    for fx in "${FIXTURES[@]}"; do
        IFS='|' read -r name app tier hot <<<"$fx"
        if [ -n "$want" ] && ! [[ " $want " == *" $name "* ]]; then continue; fi
        read -ra flags <<<"$(tier_flags "$node" "$tier") ${node_flags[*]}"
        dir="$WORK/$name-$major"
        if [ -n "$rescore" ]; then
            [ -d "$dir/spool" ] || continue
        else
            mkdir -p "$dir"
        fi
        label="$name node$major"
        ran=$((ran + 1))
        if [ -z "$rescore" ]; then
            t0=$(date +%s)
            # The shim's spool without a DSN: nothing leaves the machine. In the app's folder,
            # so its relative requires resolve; the V8 profiles go to their own folder.
            out=$(cd "$APPS" && SENTRYPROF_CLOCK=cpu SENTRYPROF_HZ=1000 SENTRYPROF_SPOOL_DIR="$dir/spool" \
                SENTRYPROF_DEBUG=1 LD_PRELOAD="$LIB" timeout -k 10 "$TIMEOUT" "$node" "${flags[@]}" \
                --cpu-prof --cpu-prof-interval 1000 --cpu-prof-dir="$dir/prof" "$app" "$SECONDS_CPU" 2>"$dir/err")
            rc=$?
            echo $(($(date +%s) - t0)) >"$dir/secs"
            # CLOCK_REALTIME - CLOCK_MONOTONIC now (µs): V8's profile times are monotonic,
            # ours real time; the window of each V8 profile is cut from our samples with it.
            "$node" -e 'console.log(Math.round((performance.timeOrigin + performance.now()) * 1000 - Number(process.hrtime.bigint() / 1000n)))' >"$dir/offset"
            why=""
            [ "$rc" = 124 ] || [ "$rc" = 137 ] && why="hung: killed after ${TIMEOUT}s"
            [ -z "$why" ] && [ "$rc" != 0 ] && why="exit $rc"
            [ -z "$why" ] && [ "$out" != "done" ] && why="stdout: $out"
            [ -z "$why" ] && ! ls "$dir"/prof/*.cpuprofile >/dev/null 2>&1 && why="no V8 profile"
            echo "$why" >"$dir/why"
        fi
        secs=$(cat "$dir/secs" 2>/dev/null || echo 0)
        why=$(cat "$dir/why" 2>/dev/null)
        [ -s "$dir/offset" ] || "$node" -e 'console.log(Math.round((performance.timeOrigin + performance.now()) * 1000 - Number(process.hrtime.bigint() / 1000n)))' >"$dir/offset"
        offset=$(cat "$dir/offset")
        if [ -n "$why" ]; then
            echo -e "$label\t-\tRUN FAILED: $why (${secs}s)"
            sed 's/^/#   stderr: /' "$dir/err" | grep -v '^#   stderr: sentryprof: ' | tail -5
            printf '{"fixture":"%s","node":"%s","version":"%s","secs":%d,"error":"%s"}\n' \
                "$name" "$major" "$version" "$secs" "${why//\"/\'}" >>"$JSONL"
            continue
        fi
        # --expose-internals: compare.js reads function extents with node's own acorn and
        # node:* sources from this node (the matching rule, compare.js).
        detail=()
        [ "${FIDELITY_DETAIL:-0}" = 1 ] && detail=(--detail)
        hotopt=()
        [ -n "$hot" ] && hotopt=(--hot)
        "$node" --expose-internals "$COMPARE" --our-clock cpu --clock-offset-us "$offset" --label "$label" "${hotopt[@]}" \
            "${detail[@]}" --ours "$dir/spool" --v8 "$dir/prof"
        "$node" --expose-internals "$COMPARE" --json --our-clock cpu --clock-offset-us "$offset" "${hotopt[@]}" \
            --ours "$dir/spool" --v8 "$dir/prof" |
            "$node" -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
                const [name, major, version, secs, flags] = process.argv.slice(1);
                console.log(JSON.stringify({ fixture: name, node: major, version, secs: +secs, flags, ...JSON.parse(s) }));
            })' "$name" "$major" "$version" "$secs" "${flags[*]}" >>"$JSONL"
        # The shim's decoder counters, for whoever reads why a row is off.
        grep -o 'v8 frames: [0-9].*' "$dir/err" | head -1 | sed "s/^/#   $label: /"
        # Every JS frame by where its name came from, and the samples with a nameless
        # interpreted frame (V8's shared interpreter entry), from the exit's counters.
        sed -n 's/.*stat \(js_frames_[a-z_]*\|samples_interpreter_unnamed\|samples\)=\([0-9]*\)$/\1=\2/p' "$dir/err" |
            tr '\n' ' ' | sed "s/^/#   $label: /; s/ \$/\n/"
    done
done
[ "$ran" -gt 0 ] || { echo "fidelity: nothing ran (FIDELITY_NODES=\"$majors\", FIDELITY_FIXTURES=\"$want\")" >&2; exit 99; }
"$report_node" "$COMPARE" --report "$JSONL" --out "$RESULTS" --versions "${versions[*]}" \
    --flags "${FIDELITY_NODE_FLAGS:-}"
