#!/usr/bin/env bash
# cli_run.sh: `sentryprof run` as a container entrypoint and as a local tool. Both ways it
# runs (exec'd when there is nothing to do afterwards; fork/exec with --open or --summary)
# must be invisible: the exit code, the stdout and stderr bytes (summary suppressed) and
# SIGTERM handling are those of the command run directly without the shim, a child killed
# by a signal gives the same wait status (143 SIGTERM, 137 SIGKILL), and a SIGTERM sent to
# `sentryprof run` reaches the app's handler. Also: --hz/--clock/--mode/--spool reach the
# environment (and --hz changes the sample rate: the ratio of two CPU-clock runs' sample counts), the
# summary is three lines on stderr only, --open writes a well-formed SVG flame graph in the
# spool naming the hot function, bad option values are usage errors (exit 2).
. "$(dirname "$0")/lib.sh"
need_node
unset LD_PRELOAD SENTRYPROF_SPOOL_DIR SENTRY_DSN SENTRYPROF_HZ SENTRYPROF_CLOCK SENTRYPROF_MODE
SP_CLI=$(realpath "$SP_CLI") SP_LIB=$(realpath "$SP_LIB") SPOOLFILE=$(realpath "$SPOOLFILE")
export SENTRYPROF_LIB=$SP_LIB
cd "$WORK"

# The app: echoes stdin upper-cased, writes to both streams, burns CPU for $1 seconds of
# CPU time, then exits 3. With READY set it writes that file once its SIGTERM handler is in
# (with TERM_HANDLER=1) or at start, and then runs until killed.
cat >"$WORK/app.js" <<'EOF'
const fs = require('fs');
if (process.env.TERM_HANDLER === '1')
    process.on('SIGTERM', () => { process.stdout.write('got SIGTERM\n'); process.stderr.write('bye\n'); process.exit(7); });
if (process.env.READY) {
    fs.writeFileSync(process.env.READY, 'x');
    setInterval(() => {}, 1000);
} else {
    const input = fs.readFileSync(0, 'utf8');
    process.stdout.write(input.toUpperCase());
    process.stderr.write('to stderr: ' + input.length + ' bytes\n');
    function hot() { let x = 0; for (let i = 0; i < 1e6; i++) x += Math.sqrt(i); return x; }
    const end = process.cpuUsage().user + (+process.argv[2] || 0) * 1e6;
    while (process.cpuUsage().user < end) for (let k = 0; k < 10; k++) hot(); // the clock read stays rare
    process.exitCode = 3;
}
EOF
printf 'line one\nline two\n' >"$WORK/in"

# direct NAME ARGS...: runs ARGS with stdin from $WORK/in; NAME.out, NAME.err, NAME.rc
runit() {
    local name=$1; shift
    "$@" <"$WORK/in" >"$WORK/$name.out" 2>"$WORK/$name.err"
    echo $? >"$WORK/$name.rc"
}
same() { # same A B: stdout, stderr, exit code byte-identical
    cmp -s "$WORK/$1.out" "$WORK/$2.out" && cmp -s "$WORK/$1.err" "$WORK/$2.err" && cmp -s "$WORK/$1.rc" "$WORK/$2.rc"
}
show() { for f in "$@"; do echo "# $f: rc $(cat "$WORK/$f.rc") out [$(head -c 300 "$WORK/$f.out")] err [$(head -c 300 "$WORK/$f.err")]"; done; }

# ---- stdio and exit code ----
runit direct "$NODE" "$WORK/app.js" 0.2
runit exec "$SP_CLI" run --spool "$WORK/spool-exec" -- "$NODE" "$WORK/app.js" 0.2
runit fork "$SP_CLI" run --open --quiet --spool "$WORK/spool-fork" -- "$NODE" "$WORK/app.js" 0.2
check "direct run: exit 3, stdin echoed" test "$(cat "$WORK/direct.rc")" = 3 -a "$(cat "$WORK/direct.out")" = "$(printf 'LINE ONE\nLINE TWO')"
check "run (exec'd): stdout, stderr, exit code identical to the direct run" same direct exec || show direct exec
check "run --open --quiet (forked): identical too" same direct fork || show direct fork
check "run (exec'd) profiled the app" test -n "$(spool_files "$WORK/spool-exec")"
runit sh_direct sh -c 'cat; echo err >&2; exit 5'
runit sh_run "$SP_CLI" run --open --quiet --spool "$WORK/spool-sh" -- sh -c 'cat; echo err >&2; exit 5'
check "run of a non-node command (forked): identical" same sh_direct sh_run || show sh_direct sh_run

# ---- the summary: stderr only, after the app's own bytes ----
runit sum "$SP_CLI" run --summary --open --spool "$WORK/spool-sum" -- "$NODE" "$WORK/app.js" 0.5
check "--summary: stdout and exit code untouched" cmp -s "$WORK/direct.out" "$WORK/sum.out"
check "--summary: the app's stderr comes first" test "$(head -n 1 "$WORK/sum.err")" = "$(cat "$WORK/direct.err")"
sumlines=$(tail -n +2 "$WORK/sum.err")
check "--summary: where the profile went" grep -q "^sentryprof: profile: 1 new file in $WORK/spool-sum\$" <<<"$sumlines"
check "--summary: samples and threads" grep -Eq '^sentryprof: [0-9]+ samples, 1 thread, [0-9.]+s$' <<<"$sumlines"
check "--summary: the hot function first in the top 3 (saw: $(grep '^sentryprof: top:' <<<"$sumlines" | cut -c1-160))" \
    grep -Eq '^sentryprof: top: hot \(app\.js:[0-9]+\) [0-9.]+%,' <<<"$sumlines"
svg=$(ls "$WORK"/spool-sum/flame-*.svg 2>/dev/null | head -n 1)
check "--summary --open: names the flame graph" grep -q "^sentryprof: flame graph: $svg\$" <<<"$sumlines"
check "--summary: four lines with --open" test "$(wc -l <<<"$sumlines")" = 4 || echo "# $sumlines"
check "--open: the SVG is in the spool" test -s "$svg"
if command -v xmllint >/dev/null; then
    check "--open: well-formed XML" xmllint --noout "$svg"
else
    echo "# xmllint missing: well-formedness not checked"
fi
check "--open: the hot function is in the graph" grep -q 'data-n="hot (app.js:' "$svg"
check "--open --quiet: a graph too" test -n "$(ls "$WORK"/spool-fork/flame-*.svg 2>/dev/null)"
runit sumsh "$SP_CLI" run --summary --spool "$WORK/spool-none" -- sh -c 'exit 6'
check "--summary with nothing profiled: one line, exit code kept" \
    test "$(cat "$WORK/sumsh.rc")" = 6 -a "$(grep -c '^sentryprof: no new profile in ' "$WORK/sumsh.err")" = 1

# ---- signals ----
# term NAME HANDLER ARGS...: starts ARGS in the background with READY set, waits for the
# file, sends SIGTERM to the started process ($!, sentryprof itself when it forks), waits.
term() {
    local name=$1 handler=$2; shift 2
    rm -f "$WORK/ready"
    READY=$WORK/ready TERM_HANDLER=$handler "$@" </dev/null >"$WORK/$name.out" 2>"$WORK/$name.err" &
    local pid=$! n=0
    while [ ! -e "$WORK/ready" ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
    sleep 0.3 # the app's next tick: past its start-up
    kill -"${SIG:-TERM}" $pid
    wait $pid
    echo $? >"$WORK/$name.rc"
}
term t_direct 1 "$NODE" "$WORK/app.js"
check "direct, SIGTERM handler: prints and exits 7" test "$(cat "$WORK/t_direct.rc")" = 7 -a "$(cat "$WORK/t_direct.out")" = "got SIGTERM"
term t_exec 1 "$SP_CLI" run --spool "$WORK/spool-t" -- "$NODE" "$WORK/app.js"
check "run (exec'd), SIGTERM handler: same output, exit 7" same t_direct t_exec || show t_direct t_exec
term t_fork 1 "$SP_CLI" run --open --quiet --spool "$WORK/spool-t" -- "$NODE" "$WORK/app.js"
check "run (forked), SIGTERM forwarded to the handler: same output, exit 7" same t_direct t_fork || show t_direct t_fork
term k_direct 0 "$NODE" "$WORK/app.js"
check "direct, no handler: killed by SIGTERM, 143" test "$(cat "$WORK/k_direct.rc")" = 143
term k_exec 0 "$SP_CLI" run --spool "$WORK/spool-t" -- "$NODE" "$WORK/app.js"
check "run (exec'd), no handler: 143, same bytes" same k_direct k_exec || show k_direct k_exec
term k_fork 0 "$SP_CLI" run --open --quiet --spool "$WORK/spool-t" -- "$NODE" "$WORK/app.js"
check "run (forked), no handler: killed by SIGTERM itself, 143, same bytes" same k_direct k_fork || show k_direct k_fork
SIG=INT term i_direct 0 "$NODE" "$WORK/app.js"
SIG=INT term i_fork 0 "$SP_CLI" run --open --quiet --spool "$WORK/spool-t" -- "$NODE" "$WORK/app.js"
check "SIGINT (kill) forwarded too: 130 as directly" same i_direct i_fork || show i_direct i_fork
check "SIGINT directly: 130" test "$(cat "$WORK/i_direct.rc")" = 130
runit kill_direct sh -c 'kill -KILL $$'
runit kill_fork "$SP_CLI" run --summary --spool "$WORK/spool-none" -- sh -c 'kill -KILL $$'
check "child killed by SIGKILL: 137 as directly" test "$(cat "$WORK/kill_direct.rc")" = 137 -a "$(cat "$WORK/kill_fork.rc")" = 137

# ---- options reach the environment ----
"$SP_CLI" run --hz 250 --clock cpu --mode continuous --spool "$WORK/sp-env" -- env >"$WORK/env.out"
check "--hz, --clock, --mode, --spool become SENTRYPROF_*" test "$(grep -E '^SENTRYPROF_(HZ|CLOCK|MODE|SPOOL_DIR)=' "$WORK/env.out" | sort | tr '\n' ' ')" = \
    "SENTRYPROF_CLOCK=cpu SENTRYPROF_HZ=250 SENTRYPROF_MODE=continuous SENTRYPROF_SPOOL_DIR=$WORK/sp-env "
check "LD_PRELOAD is the library" grep -qx "LD_PRELOAD=$SP_LIB" "$WORK/env.out"
# --hz changes the rate: samples per CPU second at 200 Hz vs 40 Hz, both on the CPU clock.
# Below the kernel's tick (CONFIG_HZ, 250 here): CPU-time timers fire on ticks, so 400 Hz
# gave 170 samples per CPU second under load.
samples() { "$SP_CLI" top --json "$1" | "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).samples))'; }
"$SP_CLI" run --hz 200 --clock cpu --spool "$WORK/hz200" -- "$NODE" "$WORK/app.js" 1 <"$WORK/in" >/dev/null 2>&1
"$SP_CLI" run --hz 40 --clock cpu --spool "$WORK/hz40" -- "$NODE" "$WORK/app.js" 1 <"$WORK/in" >/dev/null 2>&1
s200=$(samples "$WORK/hz200") s40=$(samples "$WORK/hz40")
check "--hz 200 vs --hz 40: 2x to 8x the samples (5x expected) for the same CPU time (saw $s200 vs $s40)" \
    awk -v a="$s200" -v b="$s40" 'BEGIN { exit !(b > 0 && a / b >= 2 && a / b <= 8) }'

# ---- usage errors ----
for bad in "--hz 0" "--hz 1001" "--hz x" "--clock sun" "--mode batch" "--spool=" "--bogus"; do
    # shellcheck disable=SC2086 # split on purpose
    "$SP_CLI" run $bad -- true >/dev/null 2>"$WORK/bad.err"
    rc=$?
    check "run $bad: exit 2, one line" test "$rc" = 2 -a "$(wc -l <"$WORK/bad.err")" = 1
done
"$SP_CLI" run --summary -- "$WORK/no-such-command" >/dev/null 2>"$WORK/nocmd.err"
rc=$?
check "run --summary of a missing command: 127, one line" test "$rc" = 127 -a "$(wc -l <"$WORK/nocmd.err")" = 1
finish
