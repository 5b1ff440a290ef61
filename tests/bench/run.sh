#!/usr/bin/env bash
# sentryprof cost benchmarks (issue 3): handler time at 1 kHz, in-process overhead at 99 Hz
# (lazy and eager), idle signals in lazy mode, the V8 frame decoder's CPU and memory (issue
# 13), whole-process wall time. Prints one table.
# A bench, not a test: exit 0 whatever the numbers; 1 only if a bench could not run at all.
#
#   tests/bench/run.sh            full run (~3 min)
#   tests/bench/run.sh --quick    smoke run (~20 s, one short repetition of each)
#   tests/bench/run.sh --keep     keep the result directory (raw JSON, spools) and say where
#   tests/bench/run.sh --production   only the "safe to leave on in production" benches of
#                                 issue 15, one after the other (~12 min; --quick: ~3 min):
#                                 http-cost.sh, volume.sh, upload-drain.sh, exec-cost.sh
#
# Environment: SENTRYPROF_LIB (default: ../../_build/.libs/libsentryprof.so relative to this
# script, then ../../.libs/libsentryprof.so), NODE (default: node on PATH).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
QUICK=0
KEEP=0
PRODUCTION=0
for arg in "$@"; do
    case "$arg" in
    --quick) QUICK=1 ;;
    --production) PRODUCTION=1 ;;
    --keep) KEEP=1 ;;
    -h | --help)
        sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "run.sh: unknown argument: $arg (try --help)" >&2
        exit 2
        ;;
    esac
done

if [ -n "${SENTRYPROF_LIB:-}" ]; then
    LIB=$SENTRYPROF_LIB
elif [ -f "$HERE/../../_build/.libs/libsentryprof.so" ]; then
    LIB=$HERE/../../_build/.libs/libsentryprof.so
else
    LIB=$HERE/../../.libs/libsentryprof.so
fi
if [ ! -f "$LIB" ]; then
    echo "run.sh: no library at $LIB (build it, or set SENTRYPROF_LIB)" >&2
    exit 1
fi
LIB=$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")
NODE=${NODE:-node}
if ! NODE=$(command -v "$NODE"); then
    echo "run.sh: node not found (set NODE)" >&2
    exit 1
fi

# Issue 15's benches: each prints its own table with min–max and its bars.
if [ "$PRODUCTION" = 1 ]; then
    export SENTRYPROF_LIB="$LIB" NODE
    rc=0
    if [ "$QUICK" = 1 ]; then
        "$HERE/http-cost.sh" 2 3 20 || rc=1
        "$HERE/volume.sh" 10 1200 || rc=1
        "$HERE/upload-drain.sh" 1000 1 || rc=1
        "$HERE/exec-cost.sh" 200 2 || rc=1
    else
        "$HERE/http-cost.sh" 6 5 20 || rc=1
        "$HERE/volume.sh" 60 1200 || rc=1
        "$HERE/upload-drain.sh" 3000 3 || rc=1
        "$HERE/exec-cost.sh" 1000 5 || rc=1
    fi
    exit $rc
fi

# Nothing from the caller's environment may change what is measured: no upload, no
# disabled shim, the documented clock.
unset SENTRY_DSN SENTRYPROF_DISABLE SENTRYPROF_THREADS SENTRYPROF_DEBUG SENTRYPROF_MODE \
    SENTRY_PROFILER_LOGGING_MODE SENTRYPROF_HZ SENTRYPROF_CHUNK_SECONDS SENTRYPROF_COMMIT_SECONDS
export SENTRYPROF_CLOCK=wall

OUT=$(mktemp -d "${TMPDIR:-/tmp}/sentryprof-bench.XXXXXX")
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() { if [ "$KEEP" = 1 ]; then echo "results kept in $OUT"; else rm -rf "$OUT"; fi; }
trap cleanup EXIT

if [ "$QUICK" = 1 ]; then
    H_RUNS=1 H_SECONDS=3
    O_RUNS=1 O_BLOCKS=30 O_WARMUP=5
    E_RUNS=1 C_RUNS=0
    I_SECONDS=2
    W_ROUNDS=2 W_UNITS=30000 S_ROUNDS=4
    D_RUNS=1 D_SECONDS=2
else
    H_RUNS=3 H_SECONDS=10
    O_RUNS=3 O_BLOCKS=120 O_WARMUP=20
    E_RUNS=2 C_RUNS=1
    I_SECONDS=10
    W_ROUNDS=10 W_UNITS=150000 S_ROUNDS=20
    D_RUNS=3 D_SECONDS=5
fi

progress() { printf '%s\n' "$*" >&2; }
fail() { printf '%s\n' "$*" >>"$OUT/failed.txt"; progress "  could not run: $*"; }

# run_app NAME APP [VAR=value...]: runs node APP under the shim with a fresh spool dir
# ($OUT/NAME.spool); its JSON line goes to $OUT/NAME.json. Returns non-zero on failure.
run_app() {
    local name=$1 app=$2 rc
    shift 2
    local spool=$OUT/$name.spool
    mkdir -p "$spool"
    (cd "$HERE" && env LD_PRELOAD="$LIB" SENTRYPROF_SPOOL_DIR="$spool" "$@" \
        timeout -k 5 300 "$NODE" "$HERE/$app" >"$OUT/$name.json" 2>"$OUT/$name.err")
    rc=$?
    if [ "$rc" != 0 ]; then
        fail "$name: node exited $rc: $(head -c 300 "$OUT/$name.json") $(tail -n 3 "$OUT/$name.err" | tr '\n' ' ')"
        rm -f "$OUT/$name.json"
        return 1
    fi
    if ! grep -q '^{' "$OUT/$name.json" || grep -q '"error"' "$OUT/$name.json"; then
        fail "$name: $(head -c 300 "$OUT/$name.json") $(tail -n 3 "$OUT/$name.err" | tr '\n' ' ')"
        rm -f "$OUT/$name.json"
        return 1
    fi
}

progress "sentryprof bench$([ "$QUICK" = 1 ] && echo ' (quick)'): $LIB"
progress "node $("$NODE" --version) ($NODE), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s)

# 1. Handler cost: ~40-frame stacks, 1 kHz, continuous mode.
for ((i = 0; i < H_RUNS; i++)); do
    progress "[1] handler cost, run $((i + 1))/$H_RUNS (${H_SECONDS} s at 1 kHz)"
    if run_app "handler.$i" handler-app.js SENTRYPROF_MODE=continuous SENTRYPROF_HZ=1000 \
        BENCH_SECONDS="$H_SECONDS"; then
        "$NODE" "$HERE/depth.js" "$OUT/handler.$i.spool" >"$OUT/handler.$i.depth.json" 2>/dev/null ||
            rm -f "$OUT/handler.$i.depth.json"
    fi
done

# 2. In-process overhead at 99 Hz, transaction mode, lazy; 5. the same in eager mode; and an
# A/A control (no transaction in the "inside" blocks) for the noise floor. Interleaved
# lazy/eager runs so a slow phase of the machine does not land on one mode only.
for ((i = 0; i < O_RUNS || i < E_RUNS || i < C_RUNS; i++)); do
    for kind in lazy eager control; do
        case $kind in
        lazy) ((i < O_RUNS)) || continue; lm=lazy ctl=0 ;;
        eager) ((i < E_RUNS)) || continue; lm=eager ctl=0 ;;
        control) ((i < C_RUNS)) || continue; lm=lazy ctl=1 ;;
        esac
        progress "[2/5] overhead at 99 Hz, $kind, run $((i + 1)) ($O_BLOCKS blocks of each kind)"
        run_app "overhead-$kind.$i" overhead-app.js SENTRYPROF_MODE=transaction SENTRYPROF_HZ=99 \
            SENTRY_PROFILER_LOGGING_MODE="$lm" BENCH_CONTROL="$ctl" BENCH_BLOCKS="$O_BLOCKS" \
            BENCH_WARMUP_PAIRS="$O_WARMUP" || true
    done
done

# 3. Idle lazy: no transaction, timers only.
progress "[3] idle, lazy, ${I_SECONDS} s"
run_app idle.0 idle-app.js SENTRYPROF_MODE=transaction SENTRY_PROFILER_LOGGING_MODE=lazy \
    BENCH_SECONDS="$I_SECONDS" || true

# 4. Whole process, with and without the shim (default config: continuous, 99 Hz), rounds
# interleaved and the order flipped every round; and the same for node's startup alone.
# whole NAME ROUNDS LABEL NODE-ARGS...: writes $OUT/NAME.json.
whole() {
    local name=$1 rounds=$2 label=$3 r first second tool
    shift 3
    local spool=$OUT/$name.spool
    mkdir -p "$spool"
    local plain_cmd=(env -u LD_PRELOAD "$NODE" "$@")
    local shim_cmd=(env LD_PRELOAD="$LIB" SENTRYPROF_SPOOL_DIR="$spool" "$NODE" "$@")
    # Once each first: warms the page cache and proves the app runs.
    if ! (cd "$HERE" && "${plain_cmd[@]}" >/dev/null 2>&1 && "${shim_cmd[@]}" >/dev/null 2>&1); then
        fail "$name: node $* does not run"
        return 1
    fi
    if command -v hyperfine >/dev/null 2>&1; then tool=hyperfine; else tool="bash loop"; fi
    for ((r = 0; r < rounds; r++)); do
        if ((r % 2)); then first=shim second=plain; else first=plain second=shim; fi
        if [ "$tool" = hyperfine ]; then
            local -A cmd=([plain]="$(printf '%q ' "${plain_cmd[@]}")" [shim]="$(printf '%q ' "${shim_cmd[@]}")")
            if ! (cd "$HERE" && hyperfine -N --runs 1 --warmup 0 --style none \
                --export-json "$OUT/$name.$r.hf.json" \
                -n "$first" "${cmd[$first]}" -n "$second" "${cmd[$second]}" >/dev/null 2>"$OUT/$name.err"); then
                fail "$name: hyperfine failed: $(tail -n 2 "$OUT/$name.err" | tr '\n' ' ')"
                return 1
            fi
        else
            local k
            for k in $first $second; do
                local -n c="${k}_cmd"
                local t0=$EPOCHREALTIME rc
                if [ -x /usr/bin/time ]; then
                    (cd "$HERE" && /usr/bin/time -f '%U %S' -o "$OUT/$name.$r.$k.cpu" "${c[@]}" >/dev/null 2>&1)
                else
                    (cd "$HERE" && "${c[@]}" >/dev/null 2>&1)
                fi
                rc=$?
                echo "$t0 $EPOCHREALTIME" >"$OUT/$name.$r.$k.wall"
                unset -n c
                if [ "$rc" != 0 ]; then
                    fail "$name: node $* exited $rc"
                    return 1
                fi
            done
        fi
    done
    "$NODE" - "$OUT" "$name" "$rounds" "$tool" "$label" <<'EOF'
const fs = require('fs');
const [dir, name, n, tool, app] = process.argv.slice(2);
const rounds = [];
for (let r = 0; r < Number(n); r++) {
  const round = {};
  if (tool === 'hyperfine') {
    for (const x of JSON.parse(fs.readFileSync(`${dir}/${name}.${r}.hf.json`, 'utf8')).results)
      round[x.command] = { wall: x.times[0], user: x.user, sys: x.system };
  } else {
    for (const k of ['plain', 'shim']) {
      const [a, b] = fs.readFileSync(`${dir}/${name}.${r}.${k}.wall`, 'utf8').trim().split(' ').map(Number);
      let user = NaN, sys = NaN;
      try { [user, sys] = fs.readFileSync(`${dir}/${name}.${r}.${k}.cpu`, 'utf8').trim().split('\n').pop().split(' ').map(Number); } catch (_) { /* no /usr/bin/time */ }
      round[k] = { wall: b - a, user, sys };
    }
  }
  rounds.push(round);
}
fs.writeFileSync(`${dir}/${name}.json`, JSON.stringify({ tool, app, rounds }) + '\n');
EOF
}
# 6. The V8 frame decoder (issue #13): a workload with JS frames of every tier ~20 deep, at
# 1 kHz on the CPU clock, with the decoder on and off in alternating runs: the difference
# in the agent thread's CPU per sample and in the library's memory is the decoder's.
for ((i = 0; i < D_RUNS; i++)); do
    for dec in true false; do
        progress "[6] V8 frame decoder $([ "$dec" = true ] && echo on || echo off), run $((i + 1))/$D_RUNS (${D_SECONDS} s of CPU at 1 kHz)"
        run_app "decoder-$dec.$i" decoder-app.js SENTRYPROF_MODE=continuous SENTRYPROF_HZ=1000 \
            SENTRYPROF_CLOCK=cpu SENTRYPROF_V8_FRAMES="$dec" BENCH_SECONDS="$D_SECONDS" || true
    done
done

progress "[4] whole process, $W_ROUNDS rounds x 2 (node whole-app.js $W_UNITS); startup, $S_ROUNDS rounds x 2 (node -e 0)"
whole whole "$W_ROUNDS" "whole-app.js $W_UNITS" "$HERE/whole-app.js" "$W_UNITS" || true
whole startup "$S_ROUNDS" "node -e 0" -e 0 || true

END=$(date +%s)
echo
echo "sentryprof bench$([ "$QUICK" = 1 ] && echo ' --quick'): $(date -u +%Y-%m-%dT%H:%M:%SZ), $((END - START)) s"
echo "library $LIB"
echo "node $("$NODE" --version), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load average $LOAD_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
echo
# report.js exits 3 when a bench has no result at all: that (or no table) is our exit 1.
"$NODE" "$HERE/report.js" "$OUT"
case $? in
0) exit 0 ;;
*) exit 1 ;;
esac
