#!/usr/bin/env bash
# Issue #15: one clear line per problem, once. A bad DSN warns at the start of every node
# process (the same parser as `sentryprof upload`); upload failures (401, 413, 429, a closed
# port) warn once per cause per process, from the first failed upload, saying what happens
# to the data, and the data goes where that line says: refused envelopes are dropped,
# rate-limited or unreachable ones stay in the spool.
. "$(dirname "$0")/lib.sh"
need_node
command -v curl >/dev/null || { echo "curl needed" >&2; exit 99; }
# lines of file $1 matching $2
lines() { grep -c -- "$2" "$1"; }

# -- invalid DSNs: exactly one line in every run, even in a process that does nothing
for dsn in garbage 'ftp://key@sentry.example/1' 'https://sentry.example/123' 'https://key@bücher.example/1'; do
    runs=""
    for i in 1 2 3 4 5; do
        SENTRY_DSN="$dsn" SENTRYPROF_SPOOL_DIR="$WORK/sdsn" LD_PRELOAD=$SP_LIB "$NODE" -e 0 2>"$WORK/dsn.err"
        runs="$runs $(lines "$WORK/dsn.err" 'SENTRY_DSN=.* is not a valid DSN')/$(wc -l <"$WORK/dsn.err")"
    done
    check "SENTRY_DSN=$dsn: one warning line in each of 5 runs (warnings/lines:$runs)" \
        test "$runs" = " 1/1 1/1 1/1 1/1 1/1"
    SENTRY_DSN="$dsn" "$SP_CLI" upload --once --spool "$WORK/sdsn" >/dev/null 2>&1
    check "SENTRY_DSN=$dsn: sentryprof upload refuses it too (exit 3)" test $? = 3
done
printf -v nl 'a\nb'
SENTRYPROF_HZ="$nl" LD_PRELOAD=$SP_LIB "$NODE" -e 0 2>"$WORK/nl.err"
check "a value with a newline warns in one line ($(cat "$WORK/nl.err"))" \
    test "$(wc -l <"$WORK/nl.err")" = 1 -a "$(lines "$WORK/nl.err" 'a\\nb')" = 1

SENTRY_TRACES_SAMPLE_RATE="$nl" LD_PRELOAD=$SP_LIB "$NODE" -e 0 2>"$WORK/nl2.err"
check "a JS-side value with a newline warns in one line too ($(cat "$WORK/nl2.err"))" \
    test "$(wc -l <"$WORK/nl2.err")" = 1 -a "$(lines "$WORK/nl2.err" 'a\\nb')" = 1

# -- an existing spool directory that cannot be written: one line (not silent drops)
if [ "$(id -u)" != 0 ]; then
    mkdir -m 0500 "$WORK/ro"
    rospool="$WORK/ro"
elif mkdir -p "$WORK/romnt" && mount -t tmpfs -o size=1m tmpfs "$WORK/romnt" 2>/dev/null; then
    mkdir -m 0700 "$WORK/romnt/spool" && mount -o remount,ro "$WORK/romnt"
    rospool="$WORK/romnt/spool"
else
    rospool=""
    echo "# no read-only mount possible here (root ignores mode 0500): unwritable spool case not run"
fi
if [ -n "$rospool" ]; then
    SENTRYPROF_MODE=continuous SENTRYPROF_COMMIT_SECONDS=1 SENTRYPROF_SPOOL_DIR="$rospool" \
        LD_PRELOAD=$SP_LIB "$NODE" "$APPS/steady.js" 3 >/dev/null 2>"$WORK/ro.err"
    check "unwritable spool dir: one line saying profiles are dropped ($(cat "$WORK/ro.err"))" \
        test "$(wc -l <"$WORK/ro.err")" = 1 -a "$(lines "$WORK/ro.err" 'cannot be written.*dropped')" = 1
    [ "$rospool" = "$WORK/romnt/spool" ] && umount "$WORK/romnt"
fi

# -- a relative SENTRYPROF_SPOOL_DIR is resolved once, against the directory at start
mkdir -p "$WORK/rel"
rel="relspool-$$"
(cd "$WORK/rel" && SENTRYPROF_MODE=continuous SENTRYPROF_COMMIT_SECONDS=1 SENTRYPROF_SPOOL_DIR="$rel" \
    LD_PRELOAD=$SP_LIB "$NODE" -e 'process.chdir("/"); require(process.argv[1])' "$APPS/steady.js" 2 >/dev/null 2>"$WORK/rel.err")
nrel=$(count_envelopes "$WORK/rel/$rel")
check "relative spool dir: the profiles are under the start directory (${nrel:-0} envelopes)" test "${nrel:-0}" -ge 1
check "relative spool dir: nothing went to the directory the app moved to" test ! -e "/$rel"
[ -d "/$rel" ] && rm -rf "/${rel:?}" # a failing build wrote there: ours, by its own path
check "relative spool dir: no line on stderr" test ! -s "$WORK/rel.err"
long=$(head -c 10000 /dev/zero | tr '\0' a)
SENTRYPROF_SPOOL_DIR="$long" LD_PRELOAD=$SP_LIB "$NODE" -e 0 2>"$WORK/long.err"
check "a 10 KB spool dir warns once ($(head -c 200 "$WORK/long.err"))" \
    test "$(wc -l <"$WORK/long.err")" = 1 -a "$(lines "$WORK/long.err" 'SENTRYPROF_SPOOL_DIR is 10000 bytes long')" = 1

# -- upload failures: steady.js, 1 s chunks, so a run makes several uploads
run_app() { # run_app SPOOL ERRFILE [env...]
    local spool=$1 err=$2; shift 2
    env SENTRY_DSN="$DSN" SENTRYPROF_MODE=continuous SENTRYPROF_CHUNK_SECONDS=1 SENTRYPROF_COMMIT_SECONDS=1 \
        SENTRYPROF_SPOOL_DIR="$spool" "$@" LD_PRELOAD=$SP_LIB "$NODE" "$APPS/steady.js" 6 >/dev/null 2>"$err"
}
# settle SPOOL: an exit-time upload child may outlive the app (its deadline is 2 s, and a
# loaded machine stretches it): wait until no process uploads from this spool (its command
# line names it: `sentryprof upload ... --spool DIR`), at most 60 s, rather than a fixed 3 s
# guess. (One CI run here found 6 of 7 kept envelopes sent below; the cause is not known.)
settle() {
    local i
    for i in $(seq 1 600); do
        pgrep -f -- "--spool $1( |\$)" >/dev/null || return 0
        sleep 0.1
    done
}
expect_once() { # expect_once NAME ERRFILE PATTERN
    local n
    n=$(lines "$2" "$3")
    check "$1: one line on stderr matching '$3' (got $n of $(wc -l <"$2") lines: $(head -c 400 "$2"))" \
        test "$n" = 1 -a "$(wc -l <"$2")" = 1
}

start_ingest "$WORK/in401" --mode '{"mode":"status","status":401}'
run_app "$WORK/s401" "$WORK/e401"; settle "$WORK/s401"
reqs=$("$NODE" -e 'console.log(JSON.parse(process.argv[1]).envelope_requests)' "$(ingest_summary "$WORK/in401")")
echo "# 401: $(cat "$WORK/e401")"
expect_once "401" "$WORK/e401" 'HTTP 401.*public key.*dropped'
check "401: several uploads were refused ($reqs), still one line" test "$reqs" -ge 2
check "401: refused envelopes were dropped (spool: $(count_envelopes "$WORK/s401"))" test "$(count_envelopes "$WORK/s401")" = 0
kill $INGEST_PID; wait $INGEST_PID 2>/dev/null

start_ingest "$WORK/in413" --mode '{"mode":"status","status":413}'
run_app "$WORK/s413" "$WORK/e413"; settle "$WORK/s413"
echo "# 413: $(cat "$WORK/e413")"
expect_once "413" "$WORK/e413" 'too large (HTTP 413).*dropped'
check "413: refused envelopes were dropped (spool: $(count_envelopes "$WORK/s413"))" test "$(count_envelopes "$WORK/s413")" = 0
kill $INGEST_PID; wait $INGEST_PID 2>/dev/null

start_ingest "$WORK/in429" --mode '{"mode":"429","retry_after":600}'
run_app "$WORK/s429" "$WORK/e429"; settle "$WORK/s429"
echo "# 429: $(cat "$WORK/e429")"
expect_once "429" "$WORK/e429" 'rate-limits .* until [0-9-]* [0-9:]* UTC; profiles are kept'
n429=$(count_envelopes "$WORK/s429")
check "429: the chunks are kept in the spool for later ($n429 >= 4)" test "$n429" -ge 4
kill $INGEST_PID; wait $INGEST_PID 2>/dev/null

# a closed port: the last ingest's, now stopped
run_app "$WORK/sdown" "$WORK/edown"; settle "$WORK/sdown"
echo "# closed port: $(cat "$WORK/edown")"
expect_once "closed port" "$WORK/edown" 'cannot reach Sentry at 127.0.0.1:[0-9]* .*kept in'
ndown=$(count_envelopes "$WORK/sdown")
check "closed port: the chunks are kept in the spool for later ($ndown >= 4)" test "$ndown" -ge 4

# -- what was kept is sent later, and the upload state is per DSN: the 429's limit (600 s)
# and the closed port's backoff do not hold back another DSN using the same spool
start_ingest "$WORK/inok"
for sp in s429 sdown; do
    before=$(count_envelopes "$WORK/$sp")
    "$SP_CLI" upload --spool "$WORK/$sp" --dsn "$DSN" --timeout 30 >"$WORK/$sp.up" 2>&1
    rc=$?
    check "$sp: another DSN sends what was kept at once (exit $rc, $(cat "$WORK/$sp.up"); left: $(cd "$WORK/$sp" && find . -type f ! -name '*.state' ! -name '*.lock' | head -5 | tr '\n' ' '))" \
        test "$rc" = 0 -a "$(count_envelopes "$WORK/$sp")" = 0 -a "$before" -ge 4
done
got=$("$NODE" -e 'console.log(JSON.parse(process.argv[1]).chunk_ids.length)' "$(ingest_summary "$WORK/inok")")
check "kept chunks all arrived ($got >= $((n429 + ndown)))" test "$got" -ge $((n429 + ndown))
kill $INGEST_PID; wait $INGEST_PID 2>/dev/null

# -- SENTRYPROF_DEBUG=1: the upload child's debug lines reach stderr
run_app "$WORK/sdbg" "$WORK/edbg" SENTRYPROF_DEBUG=1; settle "$WORK/sdbg"
check "debug: the upload child's request lines are on stderr" grep -q 'debug: upload: .*no response' "$WORK/edbg"
finish
