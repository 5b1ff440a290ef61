#!/usr/bin/env bash
# The shim is inert outside node: no thread, no signal handler, no environment change, the
# same output and exit code. In node it adds its flags to NODE_OPTIONS, keeping the user's.
. "$(dirname "$0")/lib.sh"
need_node
unset SENTRYPROF_V8_FRAMES NODE_OPTIONS SENTRYPROF_ADDED_NATIVE_STACK

status_fields() { grep -E '^(Threads|SigCgt|SigBlk|SigIgn):' "$1"; }

# sh, cat and python3 read their own /proc status: same threads and signal masks.
LD_PRELOAD=$SP_LIB cat /proc/self/status >"$WORK/with" 2>"$WORK/with.err"
cat /proc/self/status >"$WORK/without"
check "cat: same threads and signal dispositions under the shim" \
    diff <(status_fields "$WORK/with") <(status_fields "$WORK/without")
check "cat: nothing on stderr" test ! -s "$WORK/with.err"

check "sh: environment unchanged" \
    diff <(LD_PRELOAD=$SP_LIB sh -c 'env | grep -v "^LD_PRELOAD=" | grep -v "^_=" | sort') \
         <(sh -c 'env | grep -v "^LD_PRELOAD=" | grep -v "^_=" | sort')
set +e
LD_PRELOAD=$SP_LIB sh -c 'echo out; echo err >&2; exit 7' >"$WORK/o1" 2>"$WORK/e1"; rc1=$?
sh -c 'echo out; echo err >&2; exit 7' >"$WORK/o2" 2>"$WORK/e2"; rc2=$?
set -e
check "sh: same stdout, stderr and exit code" \
    test "$rc1" = "$rc2" -a "$(cat "$WORK/o1")" = "$(cat "$WORK/o2")" -a "$(cat "$WORK/e1")" = "$(cat "$WORK/e2")"
if command -v python3 >/dev/null; then
    py='import os,sys; print(open("/proc/self/status").read().count("\n")); print(os.environ.get("NODE_OPTIONS")); sys.exit(3)'
    set +e
    a=$(LD_PRELOAD=$SP_LIB python3 -c "$py" 2>&1); ra=$?
    b=$(python3 -c "$py" 2>&1); rb=$?
    set -e
    check "python3: same output and exit code" test "$a" = "$b" -a "$ra" = "$rb"
fi
# A program that gets libstdc++ only indirectly must keep binding operator new/delete to it:
# Debian's shared jemalloc exports them (perf aborted with "free(): invalid pointer").
# jemalloc is linked statically and kept local, so nothing of it is visible.
if command -v perf >/dev/null && perf --version >/dev/null 2>&1; then
    check "perf (libstdc++ only through its dependencies) runs under the shim" \
        bash -c "LD_PRELOAD='$SP_LIB' perf --version >/dev/null 2>&1"
fi
check "no malloc/free/operator new defined by the shim's dependencies" \
    bash -c "! ldd '$SP_LIB' | grep -q jemalloc"
check "SENTRYPROF_DISABLE=1 leaves node alone" \
    test "$(SENTRYPROF_DISABLE=1 LD_PRELOAD=$SP_LIB "$NODE" -p 'process.env.NODE_OPTIONS || "unset"')" = unset
# Booleans take the documented truth values (config.h): 1/true/yes/on, 0/false/no/off.
for v in yes ON; do
    seen=$(SENTRYPROF_DISABLE=$v LD_PRELOAD=$SP_LIB "$NODE" -p 'process.env.NODE_OPTIONS || "unset"' 2>&1)
    check "SENTRYPROF_DISABLE=$v leaves node alone (expected unset, saw: $seen)" test "$seen" = unset
done
for v in false 0 off; do
    seen=$(SENTRYPROF_DISABLE=$v SENTRYPROF_SPOOL_DIR="$WORK/spool" LD_PRELOAD=$SP_LIB "$NODE" -p 'typeof globalThis.__sentryprof' 2>&1)
    check "SENTRYPROF_DISABLE=$v profiles (expected object, saw: $seen)" test "$seen" = object
done
seen=$(SENTRYPROF_DISABLE=maybe SENTRYPROF_SPOOL_DIR="$WORK/spool" LD_PRELOAD=$SP_LIB "$NODE" -p 'typeof globalThis.__sentryprof' 2>&1)
check "SENTRYPROF_DISABLE=maybe: one warning, default (profiling on); saw: $seen" \
    test "$(grep -c 'SENTRYPROF_DISABLE="maybe"' <<<"$seen")" = 1 -a "$(tail -n1 <<<"$seen")" = object
check "SENTRYPROF_DISABLE=maybe outside node: nothing on stderr" \
    test -z "$(SENTRYPROF_DISABLE=maybe LD_PRELOAD=$SP_LIB sh -c : 2>&1)"
SENTRYPROF_DEBUG=true SENTRYPROF_SPOOL_DIR="$WORK/spool" LD_PRELOAD=$SP_LIB "$NODE" -e 0 2>"$WORK/debug.err"
check "SENTRYPROF_DEBUG=true: the C side's debug lines" grep -q '^\[sentryprof\] debug: config: ' "$WORK/debug.err"
check "SENTRYPROF_DEBUG=true: the JS helper's debug lines too (saw: $(grep -c 'debug: js config' "$WORK/debug.err") js config line)" \
    grep -q '^\[sentryprof\] debug: js config: ' "$WORK/debug.err"

# In node: our flags and helper are added after the user's own options, which survive.
mkdir -p "$WORK/dir with space"
echo 'globalThis.userRequired = 1;' >"$WORK/dir with space/user.js"
opts=$(NODE_OPTIONS="--require \"$WORK/dir with space/user.js\" --max-old-space-size=200" \
    SENTRYPROF_SPOOL_DIR="$WORK/spool" LD_PRELOAD=$SP_LIB \
    "$NODE" -p 'process.env.NODE_OPTIONS + "|" + globalThis.userRequired + "|" + typeof globalThis.__sentryprof')
check "node: user's NODE_OPTIONS kept first" \
    grep -q "^--require \"$WORK/dir with space/user.js\" --max-old-space-size=200 " <<<"$opts"
# --interpreted-frames-native-stack only when the V8 frame decoder is off (it names
# interpreted frames from their frame slots itself), and then only where V8's own profiler
# cannot deadlock with it (V8 >= 12); a user's own copy of it is kept everywhere.
v8_major=$("$NODE" -p 'parseInt(process.versions.v8)')
want_off=$([ "$v8_major" -ge 12 ] && echo 1 || echo 0) # the flag's count with the decoder off
flags() { grep -o -- '--interpreted-frames-native-stack' <<<"$1" | wc -l; }
# No V8 flag for the perf map: V8's code events write it (src/jitlog.h), so node's code
# cache for its own modules stays valid.
check "node: no V8 flag added: no perf map flag (V8's code events), no --interpreted-frames-native-stack (the decoder is on) (saw: $opts)" \
    bash -c '! grep -q -- "--perf-basic-prof" <<<"$1" && ! grep -q -- "--interpreted-frames-native-stack" <<<"$1"' _ "$opts"
optsoff=$(SENTRYPROF_V8_FRAMES=false SENTRYPROF_SPOOL_DIR="$WORK/spool" LD_PRELOAD=$SP_LIB "$NODE" -p 'process.env.NODE_OPTIONS')
check "node, SENTRYPROF_V8_FRAMES=false: --interpreted-frames-native-stack $([ "$want_off" = 1 ] && echo added || echo 'not added') on V8 $v8_major (saw: $optsoff)" \
    test "$(flags "$optsoff")" = "$want_off"
opts3=$(NODE_OPTIONS="--interpreted-frames-native-stack" SENTRYPROF_SPOOL_DIR="$WORK/spool" \
    LD_PRELOAD=$SP_LIB "$NODE" -p 'process.env.NODE_OPTIONS')
check "node: the user's own --interpreted-frames-native-stack is kept, once" test "$(flags "$opts3")" = 1
# The same flag inherited from a parent node that needed it (its decoder was off, on V8 >= 12):
# a child whose decoder is on, or on an older V8, takes it out (SENTRYPROF_ADDED_NATIVE_STACK
# says it was ours).
inherit() {
    env "$@" NODE_OPTIONS="--max-old-space-size=200 --interpreted-frames-native-stack" SENTRYPROF_ADDED_NATIVE_STACK=1 \
        SENTRYPROF_SPOOL_DIR="$WORK/spool" LD_PRELOAD=$SP_LIB "$NODE" -p 'process.env.NODE_OPTIONS'
}
check "node: an inherited --interpreted-frames-native-stack we added is removed (the decoder is on)" \
    test "$(flags "$(inherit)")" = 0
check "node, SENTRYPROF_V8_FRAMES=false: an inherited one we added is $([ "$want_off" = 1 ] && echo kept || echo removed) on V8 $v8_major" \
    test "$(flags "$(inherit SENTRYPROF_V8_FRAMES=false)")" = "$want_off"
check "node: the user's --require still ran and the helper loaded" grep -q '|1|object$' <<<"$opts"
opts2=$(NODE_OPTIONS="--perf-basic-prof-only-functions" SENTRYPROF_SPOOL_DIR="$WORK/spool" \
    LD_PRELOAD=$SP_LIB "$NODE" -p 'process.env.NODE_OPTIONS')
check "node: a flag the user already gave is not added twice" \
    test "$(grep -o -- '--perf-basic-prof-only-functions' <<<"$opts2" | wc -l)" = 1

# A node child of node (inherited LD_PRELOAD and NODE_OPTIONS) still works and adds nothing twice.
child=$(SENTRYPROF_SPOOL_DIR="$WORK/spool" LD_PRELOAD=$SP_LIB "$NODE" -e '
  const out = require("child_process").execFileSync(process.execPath, ["-p", "process.env.NODE_OPTIONS"]);
  process.stdout.write(out)')
check "node child: no V8 flag there either, the helper once (saw: $child)" \
    test "$(grep -o -- '--perf-basic-prof' <<<"$child" | wc -l)" = 0 -a "$(flags "$child")" = 0 -a "$(grep -o -- 'sentryprof-helper.js' <<<"$child" | wc -l)" = 1
# The helper's bridge answers: the sampler is running in node.
active=$(SENTRYPROF_SPOOL_DIR="$WORK/spool" LD_PRELOAD=$SP_LIB "$NODE" -p '__sentryprof.stats().active')
check "node: sampler active (stats().active == 1)" test "$active" = 1
finish
