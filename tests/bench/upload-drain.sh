#!/usr/bin/env bash
# Upload drain rate (issue 15): how many envelopes per second `sentryprof upload` sends from a
# spool to a local ingest server (tests/ingest/server.js on 127.0.0.1). The spool is filled
# by a real node process under the shim (transaction mode, no DSN) finishing N short manual
# transactions (each one envelope: a transaction event, with a profile when it got two
# samples), so the batches are what the agent really writes. Two receivers, interleaved:
# tests/bench/sink.js (answers 200 and nothing else: the uploader's own rate) and the test
# ingest tests/ingest/server.js (validates and stores each envelope, ~2 ms of CPU each: on a
# 2-CPU machine it, not the uploader, sets the pace). Prints one line per round, then the
# median envelopes/s and the uploader's CPU per envelope. A bench, not a test: exit 0
# whatever the number.
#
#   tests/bench/upload-drain.sh [ENVELOPES (default 3000)] [ROUNDS (default 3)]
#
# Environment: SENTRYPROF_LIB, SENTRYPROF_CLI (default: the _build tree next to this script),
# NODE.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
N=${1:-3000}
ROUNDS=${2:-3}
LIB=${SENTRYPROF_LIB:-$HERE/../../_build/.libs/libsentryprof.so}
CLI=${SENTRYPROF_CLI:-$HERE/../../_build/tools/sentryprof}
NODE=${NODE:-node}
[ -f "$LIB" ] || { echo "upload-drain: no library at $LIB (build it, or set SENTRYPROF_LIB)" >&2; exit 1; }
[ -x "$CLI" ] || { echo "upload-drain: no CLI at $CLI (set SENTRYPROF_CLI)" >&2; exit 1; }
unset SENTRY_DSN SENTRYPROF_DEBUG SENTRYPROF_INCLUDE SENTRYPROF_EXCLUDE SENTRYPROF_DISABLE
OUT=$(mktemp -d "${TMPDIR:-/tmp}/sentryprof-drain.XXXXXX")
INGEST_PID=
cleanup() { [ -n "$INGEST_PID" ] && kill "$INGEST_PID" 2>/dev/null; rm -rf "$OUT"; }
trap cleanup EXIT

# fill SPOOL: N transactions, 1 in 20 burns 30 ms (two or more samples: a profile).
fill() {
    env LD_PRELOAD="$LIB" SENTRYPROF_SPOOL_DIR="$1" SENTRYPROF_MODE=transaction \
        "$NODE" -e '
          const n = Number(process.argv[1]);
          for (let i = 0; i < n; i++) {
            const t = __sentryprof.startTransaction({ name: `GET /item/${i % 50}`, op: "http.server" });
            if (i % 20 === 0) { const end = Date.now() + 30; while (Date.now() < end); }
            t.setHttpStatus(200); t.finish();
          }' "$N" || { echo "upload-drain: the filler process failed" >&2; exit 1; }
}
# One round against KIND (sink: tests/bench/sink.js; ingest: tests/ingest/server.js, which
# validates and stores every envelope). Prints "RATE CPU_US_PER_ENVELOPE".
round() {
    local kind=$1 r=$2 spool=$OUT/spool.$1.$2 dir=$OUT/$1.$2
    mkdir -p "$dir"
    fill "$spool"
    if [ "$kind" = sink ]; then
        "$NODE" "$HERE/sink.js" "$dir" &
    else
        "$NODE" "$HERE/../ingest/server.js" --dir "$dir" --port 0 --parent-pid $$ --max-seconds 600 --quiet &
    fi
    INGEST_PID=$!
    port=$("$HERE/../ingest/wait-port.sh" "$dir" 10) || { echo "upload-drain: $kind did not start" >&2; exit 1; }
    t0=$EPOCHREALTIME
    SENTRY_DSN="http://pub@127.0.0.1:$port/1" /usr/bin/time -f '%U %S' -o "$dir/time" \
        "$CLI" upload --spool "$spool" --timeout 300 >"$dir/up" 2>&1
    t1=$EPOCHREALTIME
    kill "$INGEST_PID" 2>/dev/null; wait "$INGEST_PID" 2>/dev/null; INGEST_PID=
    sent=$(sed -n 's/^sent \([0-9]*\),.*/\1/p' "$dir/up")
    read -r u s <"$dir/time"
    awk -v n="${sent:-0}" -v a="$t0" -v b="$t1" -v u="$u" -v s="$s" -v k="$kind" -v r="$r" 'BEGIN {
        printf "%s round %d: %d envelopes in %.2f s: %.0f envelopes/s, uploader CPU %.0f us per envelope\n", k, r, n, b - a, n / (b - a), (u + s) * 1e6 / n > "/dev/stderr"
        printf "%.0f %.0f\n", n / (b - a), (u + s) * 1e6 / n }'
}
summary() { # KIND, then lines "RATE CPU" on stdin
    local kind=$1 lines
    lines=$(cat)
    local cpu
    cpu=$(echo "$lines" | awk '{ print $2 }' | sort -n | awk '{ c[NR] = $1 } END { print c[int((NR + 1) / 2)] }')
    echo "$lines" | sort -n | awk -v k="$kind" -v cpu="$cpu" '{ r[NR] = $1 } END {
        printf "%-30s median %5.0f envelopes/s (min %.0f, max %.0f), uploader CPU median %s us/envelope\n", k, r[int((NR + 1) / 2)], r[1], r[NR], cpu }'
}
: >"$OUT/sink.txt"
: >"$OUT/ingest.txt"
for ((r = 1; r <= ROUNDS; r++)); do # interleaved
    round sink "$r" >>"$OUT/sink.txt"
    round ingest "$r" >>"$OUT/ingest.txt"
done
echo; echo "upload drain, $ROUNDS rounds of $N envelopes; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
summary "minimal sink (sink.js)" <"$OUT/sink.txt"
summary "validating ingest (server.js)" <"$OUT/ingest.txt"
sort -n "$OUT/sink.txt" | awk '{ r[NR] = $1 } END { m = r[int((NR + 1) / 2)];
    printf "bar (issue 15): the upload child drains >= 1,000 envelopes/s from a local ingest (the minimal sink, median): %.0f: %s\n", m, (m >= 1000 ? "PASS" : "FAIL") }'
