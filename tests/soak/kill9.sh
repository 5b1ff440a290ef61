#!/usr/bin/env bash
# Issue #20, the kill -9 storm: KILL9_COUNT (default 200) profiled node processes with a DSN,
# spooling hard (tests/soak/txn-loop.js: short transactions back to back, transaction mode),
# KILL9_PARALLEL (default 2) at a time, each killed with -9 at a random moment 0.2-2.5 s after its run folder appeared,
# all on one spool and one ingest (tests/ingest/server.js); the in-process uploaders send
# (and adopt what the dead left) as they go. Then the spool is read as it is (every file and
# record must parse: 0 torn files; a batch's torn tail - a record cut by the kill - is
# counted, the records before it kept), drained with `sentryprof upload`, and:
#   - every envelope that was in the spool reached the ingest (committed -> delivered);
#   - nothing reached it that no process wrote (ids well-formed), and duplicates (the same
#     envelope accepted twice) are counted: at most 0.5% of what was accepted.
# One line of numbers: "kill9: ..." (tests/reliability.js reads it from the log).
. "$(dirname "$0")/../e2e/lib.sh"
need_node
N=${KILL9_COUNT:-200}
PAR=${KILL9_PARALLEL:-2}
S() { "$NODE" -e "const f=JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')); console.log($2)" "$1"; }
spool="$WORK/spool"
start_ingest "$WORK/in"
t0=$(date +%s)
echo "# storm: $N processes, $PAR at a time"
started=0
declare -a pids=()
while [ "$started" -lt "$N" ]; do
    pids=()
    for _ in $(seq 1 "$PAR"); do
        [ "$started" -lt "$N" ] || break
        env SENTRY_DSN="$DSN" SENTRYPROF_MODE=transaction SENTRYPROF_SPOOL_DIR="$spool" \
            LD_PRELOAD="$SP_LIB" "$NODE" "$top_srcdir/tests/soak/txn-loop.js" 30 >/dev/null 2>>"$WORK/apps.err" &
        pids+=($!)
        started=$((started + 1))
    done
    # Spooling has begun once a process's run folder exists (node took seconds to start
    # on a loaded machine): wait for that, then a random 0.2-2.5 s more.
    for p in "${pids[@]}"; do
        for _ in $(seq 1 200); do
            compgen -G "$spool/run-$p-*" >/dev/null && break
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
    done
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + 2.3 * r / 32768 }')"
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; rm -f "/tmp/perf-$p.map"; done
done
storm_s=$(( $(date +%s) - t0 ))
"$NODE" "$top_srcdir/tests/soak/spool-ids.js" "$spool" >"$WORK/spool.json"
before=$(S "$WORK/spool.json" 'f.ids.length')
# Drain: `sentryprof upload` (it adopts the dead runs) until the spool is empty or a run
# sends nothing. One run of a fixed --timeout was the reason an earlier storm left 1,041
# envelopes "not delivered" (exit 4: deadline reached, the rest deferred): a storm spools
# ~700 envelopes per process, more than one run sends in 120 s.
drain_rc=0
for _ in $(seq 1 "${KILL9_DRAIN_RUNS:-100}"); do
    SENTRY_DSN="$DSN" "$SP_CLI" upload --spool "$spool" --timeout 300 >>"$WORK/drain.out" 2>>"$WORK/drain.err"
    drain_rc=$?
    [ "$drain_rc" = 0 ] && break
    tail -1 "$WORK/drain.out" | grep -q '^sent 0, dropped 0,' && break # no progress
done
echo "# storm $storm_s s, drain $(( $(date +%s) - t0 - storm_s )) s"
"$NODE" "$top_srcdir/tests/soak/spool-ids.js" "$spool" >"$WORK/after.json"
"$NODE" -e '
  const fs = require("fs"), path = require("path");
  const dir = process.argv[1] + "/accepted";
  const ids = [];
  for (const f of fs.readdirSync(dir).filter((f) => /\.envelope$/.test(f))) {
    const b = fs.readFileSync(path.join(dir, f)); const nl = b.indexOf(10);
    try { ids.push(JSON.parse(b.slice(0, nl < 0 ? b.length : nl).toString("utf8")).event_id); } catch (e) { ids.push("unreadable"); }
  }
  const spool = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const got = new Set(ids);
  const counts = {}; for (const i of ids) counts[i] = (counts[i] || 0) + 1;
  const dups = Object.values(counts).reduce((a, n) => a + n - 1, 0);
  const missing = [...new Set(spool.ids)].filter((i) => !got.has(i));
  console.log(JSON.stringify({ accepted: ids.length, unique: got.size, dups, missing: missing.length, sample: missing.slice(0, 3) }));
' "$WORK/in" "$WORK/spool.json" >"$WORK/result.json"
ingest_summary "$WORK/in" >"$WORK/summary.json"
echo "# spool after the storm: $(S "$WORK/spool.json" 'JSON.stringify({files: f.files, envelopes: f.ids.length, torn_tails: f.torn, unreadable: f.unreadable.slice(0, 3)})')"
echo "# drain: rc $drain_rc, $(tail -1 "$WORK/drain.out"); $(head -3 "$WORK/drain.err" | tr '\n' ' ')"
echo "# ingest: $(cat "$WORK/result.json")"
app_err=$(grep -v '^$' "$WORK/apps.err" | sort | uniq -c | sort -rn | head -3)
[ -n "$app_err" ] && echo "# the apps said: $app_err"
dups=$(S "$WORK/result.json" 'f.dups'); acc=$(S "$WORK/result.json" 'f.accepted')
echo "kill9: $N kill -9 in $storm_s s, $(S "$WORK/spool.json" 'f.files') spool files (0 unreadable: $(S "$WORK/spool.json" 'f.unreadable.length')), $(S "$WORK/spool.json" 'f.torn') torn batch tails, $before envelopes committed, $(S "$WORK/result.json" 'f.missing') not delivered, $acc accepted, $dups duplicates ($(awk -v d="$dups" -v a="$acc" 'BEGIN { printf "%.2f", a ? 100 * d / a : 0 }')%)"
check "$N processes were killed with -9" test "$started" = "$N"
check "every spool file readable: 0 torn files ($(S "$WORK/spool.json" 'f.unreadable.join("; ")'))" test "$(S "$WORK/spool.json" 'f.unreadable.length')" = 0
check "envelopes were committed during the storm ($before)" test "$before" -gt 0
check "the drain emptied the spool (rc $drain_rc, $(S "$WORK/after.json" 'f.ids.length') left)" test "$(S "$WORK/after.json" 'f.ids.length')" = 0
check "every committed envelope was delivered ($(S "$WORK/result.json" 'f.missing') missing: $(S "$WORK/result.json" 'f.sample.join(" ")'))" \
    test "$(S "$WORK/result.json" 'f.missing')" = 0
check "duplicates at most 0.5% of what was accepted ($dups of $acc)" test $((dups * 200)) -le "$acc"
check "what was accepted passed the ingest rules" test "$(S "$WORK/summary.json" 'f.problems.length')" = 0
kill "$INGEST_PID" 2>/dev/null; wait "$INGEST_PID" 2>/dev/null
finish
