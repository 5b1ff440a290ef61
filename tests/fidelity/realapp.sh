#!/usr/bin/env bash
# The V8 frame decoder on a large real app (issue #13: ">= 95% of JS frames resolved by the
# decoder with default tiering on a large real app; the fallback share printed";
# `make fidelity-realapp`): the TypeScript compiler (pinned in realapp/package.json, with
# package-lock.json; npm ci into a cache folder, as tests/bench/deps.sh does) checks a
# project of TypeScript sources that npm packages ship (rxjs's src/ and zod's src/ by
# default, ~60,000 lines; REALAPP_PROJECT adds effect's, ~235,000), `tsc --noEmit -p`,
# under the shim at 1 kHz on the CPU clock, on each Node major. Per run it prints, from
# the library's exit counters (SENTRYPROF_DEBUG=1):
#   - per tier, the decoder's resolved / fell back to the perf map / unresolved frames
#     (captured frames, before inlined functions are expanded);
#   - every JS frame of every sample by where its name came from (after the expansion):
#     the decoder, the perf map (by tier), or nameless (V8's shared interpreter entry,
#     Builtins_InterpreterEntryTrampoline, left unnamed), and the decoder's share;
#   - the share of samples with a nameless interpreted frame;
#   - interpreted frames whose closure was gone by the decode, named or not through the
#     SFI V8 reported compiling their bytecode (v8owner.h), and that table's counts.
# Exit 1 when the decoder's share is under 95% on a node, 2 when a run failed, 99 when
# nothing could run. Not in `make check` (minutes, network for the first install).
#
# Environment:
#   REALAPP_NODES        majors (default 20 22 24; from the matrix cache, like run.sh)
#   REALAPP_PROJECT      packages whose src/ is checked (default "rxjs zod"; also: effect)
#   REALAPP_NODE_FLAGS   more node flags (e.g. "--stress-compaction", "--gc-interval=100")
#   REALAPP_CPU_PROF=1   also run V8's own sampler (--cpu-prof --cpu-prof-interval 1000)
#                        in the same process and print compare.js's line per thread
#                        (self / inclusive error, "frames V8 never names")
#   REALAPP_DEPS         the install folder (default $top_builddir/_realapp-deps)
#   REALAPP_TIMEOUT      seconds before a run counts as hung (default 900)
#   REALAPP_KEEP=1       keep the runs' folder (printed)
#   SENTRYPROF_NODE_CACHE  the node cache (tests/matrix/install-nodes.sh fills it)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
[ -f "$LIB" ] || { echo "realapp: missing $LIB: build first" >&2; exit 99; }
majors=${REALAPP_NODES:-20 22 24}
project=${REALAPP_PROJECT:-rxjs zod}
TIMEOUT=${REALAPP_TIMEOUT:-900}
DEPS=${REALAPP_DEPS:-$top_builddir/_realapp-deps}
SRC="$here/realapp"

# ---- the pinned compiler and sources: npm ci once per lock file ----
stamp=$(cat "$SRC/package.json" "$SRC/package-lock.json" | cksum | cut -d' ' -f1)
if [ "$(cat "$DEPS/.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -f "$DEPS/node_modules/typescript/lib/tsc.js" ]; then
    NPM=${NPM:-$(command -v npm || true)}
    [ -n "$NPM" ] || { echo "realapp: npm not found (set NPM=...)" >&2; exit 99; }
    mkdir -p "$(dirname "$DEPS")"
    tmp=$(mktemp -d "$DEPS.tmp.XXXXXX")
    cp "$SRC/package.json" "$SRC/package-lock.json" "$tmp/"
    if ! (cd "$tmp" && timeout 600 "$NPM" ci --no-audit --no-fund --prefer-offline --loglevel=error) >"$tmp/npm.log" 2>&1; then
        sed 's/^/realapp: npm: /' "$tmp/npm.log" | tail -20 >&2
        rm -rf "$tmp"
        echo "realapp: npm ci failed: is the npm registry reachable?" >&2
        exit 99
    fi
    rm -f "$tmp/npm.log"
    rm -rf "$DEPS" && mv "$tmp" "$DEPS" && echo "$stamp" >"$DEPS/.stamp"
fi
TSC="$DEPS/node_modules/typescript/lib/tsc.js"

# The project: each package's src/ copied (tsc does not look into node_modules for sources),
# without its tests and benchmarks; type errors between the packages' own settings and these
# do not matter (the checker runs over everything either way) and are counted.
proj="$DEPS/project-${project// /-}"
if [ ! -f "$proj/tsconfig.json" ]; then
    rm -rf "$proj.tmp" && mkdir -p "$proj.tmp"
    inc=""
    for p in $project; do
        [ -d "$DEPS/node_modules/$p/src" ] || { echo "realapp: $p ships no src/ (REALAPP_PROJECT=\"$project\")" >&2; rm -rf "$proj.tmp"; exit 99; }
        cp -R "$DEPS/node_modules/$p/src" "$proj.tmp/$p"
        inc="$inc${inc:+, }\"$p/**/*.ts\""
    done
    cat >"$proj.tmp/tsconfig.json" <<EOF
{
  "compilerOptions": {
    "noEmit": true, "target": "es2022", "module": "esnext", "moduleResolution": "bundler",
    "lib": ["es2022", "dom"], "types": [], "strict": true, "skipLibCheck": true
  },
  "include": [$inc],
  "exclude": ["**/*.spec.ts", "**/*.test.ts", "**/*.test-d.ts", "**/tests/**", "**/test/**", "**/benchmarks/**"]
}
EOF
    mv "$proj.tmp" "$proj"
fi
files=$(find "$proj" -name '*.ts' ! -path '*/tests/*' ! -path '*/test/*' ! -path '*/benchmarks/*' ! -name '*.spec.ts' ! -name '*.test.ts' | wc -l)
echo "# typescript $(sed -n 's/^ *"version": "\(.*\)",$/\1/p' "$DEPS/node_modules/typescript/package.json" | head -1), project: $project ($files .ts files), flags: ${REALAPP_NODE_FLAGS:-none}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sp-realapp.XXXXXX")
if [ "${REALAPP_KEEP:-0}" = 1 ]; then echo "# runs kept in $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi

stat_of() { sed -n "s/.*stat $2=\([0-9]*\)\$/\1/p" "$1" | tail -1; }
ran=0 low=0 failed=0
for major in $majors; do
    node=$(node_of "$major")
    if [ ! -x "$node" ] || ! "$node" -e 0 2>/dev/null; then
        echo "# node $major: not in $cache (tests/matrix/install-nodes.sh installs it): skipped"
        continue
    fi
    version=$("$node" --version)
    dir="$WORK/node$major"
    mkdir -p "$dir"
    read -ra flags <<<"${REALAPP_NODE_FLAGS:-}"
    [ "${REALAPP_CPU_PROF:-0}" = 1 ] && flags+=(--cpu-prof --cpu-prof-interval 1000 "--cpu-prof-dir=$dir/prof")
    t0=$(date +%s.%N)
    (cd "$proj" && SENTRYPROF_CLOCK=cpu SENTRYPROF_HZ=1000 SENTRYPROF_SPOOL_DIR="$dir/spool" SENTRYPROF_DEBUG=1 \
        LD_PRELOAD="$LIB" timeout -k 10 "$TIMEOUT" "$node" "${flags[@]}" "$TSC" --noEmit -p . >"$dir/out" 2>"$dir/err")
    rc=$?
    secs=$(echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}')
    "$node" -e 'console.log(Math.round((performance.timeOrigin + performance.now()) * 1000 - Number(process.hrtime.bigint() / 1000n)))' >"$dir/offset"
    ran=$((ran + 1))
    errors=$(grep -c 'error TS' "$dir/out")
    # tsc: 0 no type errors, 1 or 2 type errors reported; anything else (a signal, a crash,
    # the timeout's 124) is a failed run.
    if [ "$rc" -gt 2 ] || ! grep -q 'stat samples=' "$dir/err"; then
        echo "node $version: RUN FAILED (exit $rc after ${secs}s)"
        grep -v 'sentryprof' "$dir/err" | tail -5 | sed 's/^/#   stderr: /'
        failed=$((failed + 1))
        continue
    fi
    e=$dir/err
    samples=$(stat_of "$e" samples) named=$(stat_of "$e" v8_frames_named) unnamed=$(stat_of "$e" v8_frames_unnamed)
    dec=$(stat_of "$e" js_frames_decoded) pm_sp=$(stat_of "$e" js_frames_perf_map_sparkplug)
    pm_mg=$(stat_of "$e" js_frames_perf_map_maglev) pm_tf=$(stat_of "$e" js_frames_perf_map_turbofan)
    pm_ot=$(stat_of "$e" js_frames_perf_map_other) nameless=$(stat_of "$e" js_frames_interpreter_unnamed)
    s_nameless=$(stat_of "$e" samples_interpreter_unnamed)
    # "v8 frames: optimized code on: Maglev A decoded / B perf map, TurboFan C decoded / D perf map; ..."
    sp_d=$(stat_of "$e" v8_sparkplug_decoded) sp_f=$(stat_of "$e" v8_sparkplug_perf_map)
    read -r mg_d mg_f tf_d tf_f < <(sed -n 's/.*Maglev \([0-9]*\) decoded \/ \([0-9]*\) perf map, TurboFan \([0-9]*\) decoded \/ \([0-9]*\) perf map.*/\1 \2 \3 \4/p' "$e" | tail -1)
    echo "node $version: tsc ${secs}s wall, exit $rc ($errors type errors), $samples samples"
    printf '  %-12s %18s %24s %12s\n' tier "decoder resolved" "fell back to perf map" unresolved
    printf '  %-12s %18s %24s %12s\n' interpreted "${named:-0}" - "${unnamed:-0}"
    printf '  %-12s %18s %24s %12s\n' Sparkplug "${sp_d:-0}" "${sp_f:-0}" -
    printf '  %-12s %18s %24s %12s\n' Maglev "${mg_d:-0}" "${mg_f:-0}" -
    printf '  %-12s %18s %24s %12s\n' TurboFan "${tf_d:-0}" "${tf_f:-0}" -
    echo "  (captured frames, before inlined functions are expanded)"
    read -r o_named o_vain o_rep o_mv o_forg < <(sed -n "s/.* \([0-9]*\) named through their bytecode's owner (\([0-9]*\) asked in vain; \([0-9]*\) owners reported, \([0-9]*\) moved, \([0-9]*\) forgotten for room).*/\1 \2 \3 \4 \5/p" "$e" | tail -1)
    echo "  interpreted frames whose closure was gone: ${o_named:-0} named through their bytecode's owner, ${o_vain:-0} not (owners V8 reported ${o_rep:-0}, moved ${o_mv:-0}, forgotten for room ${o_forg:-0})"
    line=$(awk -v d="${dec:-0}" -v sp="${pm_sp:-0}" -v mg="${pm_mg:-0}" -v tf="${pm_tf:-0}" -v ot="${pm_ot:-0}" \
        -v nl="${nameless:-0}" -v s="${samples:-0}" -v sn="${s_nameless:-0}" 'BEGIN {
        pm = sp + mg + tf + ot; all = d + pm + nl
        if (!all) { print "no JS frames"; exit }
        printf "JS frames in samples: %d; named by the decoder %d (%.2f%%), by the perf map %d (%.2f%%: Sparkplug %d, Maglev %d, TurboFan %d, other %d), nameless interpreted %d (%.2f%%)\n", \
            all, d, 100 * d / all, pm, 100 * pm / all, sp, mg, tf, ot, nl, 100 * nl / all
        printf "samples with a nameless interpreted frame: %d of %d (%.2f%%)\n", sn, s, s ? 100 * sn / s : 0
        printf "share %.4f\n", d / all }')
    echo "$line" | grep -v '^share' | sed 's/^/  /'
    share=$(echo "$line" | sed -n 's/^share //p')
    if [ -n "$share" ] && awk -v x="$share" 'BEGIN { exit !(x < 0.95) }'; then
        echo "  FAIL: decoder's share under 95%"
        low=$((low + 1))
    elif [ -n "$share" ]; then
        echo "  pass: decoder's share >= 95%"
    fi
    if [ "${REALAPP_CPU_PROF:-0}" = 1 ] && ls "$dir"/prof/*.cpuprofile >/dev/null 2>&1; then
        "$node" --expose-internals "$here/compare.js" --our-clock cpu --clock-offset-us "$(cat "$dir/offset")" \
            --label "tsc node$major" --ours "$dir/spool" --v8 "$dir/prof" | sed 's/^/  /'
    fi
done
[ "$ran" -gt 0 ] || { echo "realapp: nothing ran (REALAPP_NODES=\"$majors\")" >&2; exit 99; }
[ "$failed" -gt 0 ] && exit 2
[ "$low" -gt 0 ] && exit 1
exit 0
