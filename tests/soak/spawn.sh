#!/usr/bin/env bash
# Issue #20, spawn storms: a profiled node app (tests/soak/spawn-storm.js) spawns
# SPAWN_NODE (default 200) node children, profiled too (they inherit the shim), and
# SPAWN_SH (default 2,000) `sh -c true` children, SPAWN_PARALLEL (16) at a time, all on one
# spool; then times SPAWN_TIME (500) `sh -c true` with and without the shim. Checked:
#   - no crash, no hang (a watchdog kills the app after SPAWN_TIMEOUT s; a child after
#     120 s), the app's stdout and exit status identical to the same storm without the shim;
#   - every node child exited 3 (its own status) and was profiled; every sh child exited 0,
#     and sh stays inert (its threads and signal dispositions as without the shim);
#   - the spool is consistent: every file readable and valid, no torn batch, no perf-map
#     record left (every process removed its own);
#   - no /tmp/perf-<pid>.map left by any child or by the app (checked by exact path for
#     every pid the app spawned).
# The time of `sh -c true` with and without the shim is reported, not checked (a shared
# machine's exec times swing more than the shim's cost). One line: "spawn: ...".
. "$(dirname "$0")/../e2e/lib.sh"
need_node
NODE_N=${SPAWN_NODE:-200}
SH_N=${SPAWN_SH:-2000}
PAR=${SPAWN_PARALLEL:-16}
TIME_N=${SPAWN_TIME:-500}
TMO=${SPAWN_TIMEOUT:-1800}
unset SENTRYPROF_DISABLE SENTRY_DSN NODE_OPTIONS SENTRYPROF_KEEP_PERF_MAP
APP="$top_srcdir/tests/soak/spawn-storm.js"
spool="$WORK/spool"

t0=$(date +%s)
timeout -s KILL "$TMO" "$NODE" "$APP" "$NODE_N" "$SH_N" "$PAR" "$WORK/plain.json" 0 >"$WORK/plain.out" 2>"$WORK/plain.err"
plain_rc=$?
t1=$(date +%s)
# The perf maps already in /tmp (path and inode; read, never touched): a map a killed process
# left earlier (another test's kill -9, another user's) whose pid one of our 2,200 children
# reuses is not this storm's (seen once: an sh child's pid).
before=$(stat -c '%n:%i' /tmp/perf-*.map 2>/dev/null | sort)
SENTRYPROF_SPOOL_DIR="$spool" LD_PRELOAD=$SP_LIB \
    timeout -s KILL "$TMO" "$NODE" "$APP" "$NODE_N" "$SH_N" "$PAR" "$WORK/res.json" "$TIME_N" >"$WORK/prof.out" 2>"$WORK/prof.err"
prof_rc=$?
t2=$(date +%s)
res=$(cat "$WORK/res.json" 2>/dev/null || echo '{}')
J() { jqn "$res" "$1"; }
echo "# without the shim: rc $plain_rc in $((t1 - t0)) s: $(cat "$WORK/plain.out") $(head -c 300 "$WORK/plain.err")"
echo "# with the shim: rc $prof_rc in $((t2 - t1)) s: $(cat "$WORK/prof.out") $(head -c 300 "$WORK/prof.err")"
echo "# children that went wrong: $(J 'JSON.stringify(f.bad || [])' | head -c 1500)"
echo "# node children: $(J 'JSON.stringify(f.node)'); sh: $(J 'JSON.stringify(f.sh)' | head -c 600)"

# Perf maps, by exact path: every child, the app itself.
left=()
for p in $(J '(f.pids || []).concat(f.parent ? [f.parent] : []).join(" ")'); do
    [ -e "/tmp/perf-$p.map" ] || continue
    grep -qxF "$(stat -c '%n:%i' "/tmp/perf-$p.map" 2>/dev/null)" <<<"$before" && continue
    left+=("$p")
done
npids=$(J '(f.pids || []).length')
records=$(ls -A "$spool/perfmaps" 2>/dev/null | wc -l)
"$NODE" "$top_srcdir/tests/soak/spool-ids.js" "$spool" >"$WORK/spool.json"
S() { jqn "$(cat "$WORK/spool.json")" "$1"; }
mapfile -t files < <(spool_files "$spool")
valid=fail
[ "${#files[@]}" -gt 0 ] && "$NODE" "$VALIDATE" "${files[@]}" >"$WORK/validate.out" 2>&1 && valid=ok
echo "spawn: $NODE_N node + $SH_N sh children, $PAR at a time, in $((t2 - t1)) s ($((t1 - t0)) s unprofiled), rc $prof_rc (unprofiled $plain_rc); node children: $(J 'f.node ? f.node.ok : 0') exited 3, $(J 'f.node ? f.node.profiled : 0') profiled, $(J 'f.node ? f.node.samples : 0') samples; sh: $(J 'f.sh ? f.sh.ok : 0') exited 0, $(J 'f.sh ? f.sh.probes_same + " of " + f.sh.probes : "-"') probes inert; spool: $(S 'f.files') files, $(S 'f.ids.length') envelopes, $(S 'f.unreadable.length') unreadable, $(S 'f.torn') torn, $records perf-map records left; ${#left[@]} of $npids perf maps left; sh -c true: $(J 'f.timing && f.timing.with_ms ? f.timing.with_ms.toFixed(2) + " ms with the shim, " + f.timing.without_ms.toFixed(2) + " ms without (x" + (f.timing.with_ms / f.timing.without_ms).toFixed(2) + ", " + f.timing.n + " each)" : "not timed"')"

check "the app exits 0 with and without the shim (saw $prof_rc, unprofiled $plain_rc)" test "$prof_rc" = 0 -a "$plain_rc" = 0
check "same stdout as without the shim" test "$(cat "$WORK/prof.out")" = "$(cat "$WORK/plain.out")"
check "every child exited with its own status, sh probes inert (saw: $(cat "$WORK/prof.out"))" \
    test "$(cat "$WORK/prof.out")" = "storm: $NODE_N of $NODE_N node children exited 3, $SH_N of $SH_N sh children exited 0, $(( (SH_N + 49) / 50 )) of $(( (SH_N + 49) / 50 )) sh probes as without the shim"
check "nothing on the app's stderr ($(head -c 300 "$WORK/prof.err"))" test ! -s "$WORK/prof.err"
check "every node child was profiled ($(J 'f.node ? f.node.profiled : 0') of $NODE_N)" test "$(J 'f.node && f.node.profiled')" = "$NODE_N"
# ~15 samples each at 99 Hz; a child starved of CPU past its burn may have none yet.
check "node children were sampled (>= 90% with samples: $(J 'f.node ? f.node.with_samples : 0') of $NODE_N)" \
    test "$(J "f.node && f.node.with_samples * 10 >= $NODE_N * 9")" = true
check "spool: every file readable ($(S 'f.unreadable.slice(0, 3).join("; ")'))" test "$(S 'f.unreadable.length')" = 0
check "spool: no torn batch" test "$(S 'f.torn')" = 0
check "spool: profiles written ($(S 'f.ids.length') envelopes)" test "$(S 'f.ids.length')" -gt 0
check "spool: every envelope valid ($(tail -3 "$WORK/validate.out" 2>/dev/null | tr '\n' ' '))" test "$valid" = ok
check "spool: no perf-map record left ($records)" test "$records" = 0
# Which process each left map was (the app or a child), and what it looks like.
for p in "${left[@]}"; do echo "# left: /tmp/perf-$p.map ($(J "f.parent === $p ? 'the app' : 'child ' + (f.pids || []).indexOf($p)"); $(stat -c '%U %s bytes, modified %y' "/tmp/perf-$p.map" 2>&1); process $(kill -0 "$p" 2>/dev/null && echo alive || echo gone))"; done
check "no /tmp/perf-<pid>.map left by the $npids children and the app (left: ${left[*]:-none})" test "${#left[@]}" = 0 -a "$npids" -gt 0
# What a failed run left: ours, and its process gone (the pid not reused meanwhile).
for p in "${left[@]}"; do [ -O "/tmp/perf-$p.map" ] && ! kill -0 "$p" 2>/dev/null && rm -f "/tmp/perf-$p.map"; done
finish
