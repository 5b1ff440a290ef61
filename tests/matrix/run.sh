#!/usr/bin/env bash
# The Node.js version matrix (issue #8): the SAME libsentryprof.so against every node that
# tests/matrix/install-nodes.sh put in the cache, one version after the other, and a table
# node version x {profile valid, top function right, HTTP transactions, workers,
# @sentry/node 7 app} with PASS / FAIL / n/a and each cell's time.
#
#   profile valid     tests/apps/hot.js (3 s) under the shim: exit 0, output unchanged, no
#                     stderr, no file left in its working directory or /tmp/perf-<pid>.map,
#                     and the spooled envelopes pass tests/ingest/check-envelopes.js
#   top function      the same run: hotLoop is thread 0's top self function, in >= 100
#                     samples, with 60-80% of hotLoop + warmLoop (tests/e2e/stack-facts.js)
#   HTTP transactions tests/e2e/http_transactions.sh with NODE=<that node> (n/a if absent)
#   workers           tests/apps/workers.js (2 s): threads 0, 1 and 2 each top in their own
#                     function (mainThreadHot, firstWorkerHot, secondWorkerHot) with >= 70%
#                     of their >= 100 samples, and valid envelopes
#   @sentry/node 7    tests/e2e/sentry7.sh with NODE=<that node> (n/a if absent)
#   inlined frames    tests/e2e/v8_inline.sh with NODE=<that node>: functions inlined by
#                     TurboFan/Maglev are frames of their own, callers at the call site's line
#   workers' callers  tests/e2e/v8_workers.sh with NODE=<that node>: 20 short workers keep
#                     their interpreted callers, V8's copies of its builtins included
#   gone closures     tests/e2e/v8_closures.sh with NODE=<that node>: interpreted frames of
#                     per-call closures the GC moved before the decode, named through their
#                     bytecode (V8's code events: BYTE_CODE carries the function)
#
# Environment: NODE_VERSIONS (default: every major installed in the cache), the cache as in
# install-nodes.sh (SENTRYPROF_NODE_CACHE), top_srcdir / top_builddir (default: this
# checkout; the build is looked for in it, then in its _build/), MATRIX_ALLOW_NA=1 (an n/a
# cell does not fail the run), MATRIX_KEEP_LOGS=1 (keep the per-cell logs on success too).
# Nothing is downloaded here: a version missing from the cache is a failed row.
# Prints the table, the logs' tails of failed cells and "N passed, N failed" last; exits 1
# when any cell is not PASS.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/build-tree.sh"
export top_srcdir top_builddir
APPS="$top_srcdir/tests/apps"
Q="$top_srcdir/tests/e2e/profile-query.js"
FACTS="$top_srcdir/tests/e2e/stack-facts.js"
CHECK_ENV="$top_srcdir/tests/ingest/check-envelopes.js"
SPOOLFILE="$top_srcdir/tests/ingest/spoolfile.js"
[ -f "$LIB" ] || { echo "matrix: missing $LIB: build first" >&2; exit 99; }

. "$top_srcdir/tests/matrix/node-cache.sh"
if [ -n "${NODE_VERSIONS:-}" ]; then
    versions=$NODE_VERSIONS
else
    versions=$(for d in "$cache"/*/; do
        m=$(basename "$d")
        [[ $m =~ ^[0-9]+$ ]] && [ -x "$(node_of "$m")" ] && echo "$m"
    done | sort -n | tr '\n' ' ')
fi
[ -n "${versions// /}" ] || { echo "matrix: no node in $cache: run tests/matrix/install-nodes.sh first" >&2; exit 99; }

LOGS=$(mktemp -d "${TMPDIR:-/tmp}/sp-matrix.XXXXXX")
lib_sum=$(cksum <"$LIB")
CELLS=(profile top http workers sentry7 inline wcallers closures)
declare -A TITLE=([profile]="profile valid" [top]="top function" [http]="HTTP transactions"
    [workers]="workers" [sentry7]="@sentry/node 7" [inline]="inlined frames"
    [wcallers]="workers' callers" [closures]="gone closures")
declare -A RESULT DETAIL SECS
passed=0
failed=0

now() { echo "${EPOCHREALTIME:-$(date +%s.%N)}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
jqn() { "$node" -e "const f=JSON.parse(process.argv[1]); console.log($2)" "$1"; }
# The number of envelopes in a spool dir: single files + batch records (nothing: a broken batch).
count_envelopes() { "$node" "$SPOOLFILE" --count "$1" 2>/dev/null; }
# set_cell KEY PASS|FAIL|n/a DETAIL SECONDS
set_cell() { RESULT[$v,$1]=$2; DETAIL[$v,$1]=$3; SECS[$v,$1]=$4; }

# hot.js: fills the "profile" and "top" cells from one run.
cell_hot() {
    local log="$LOGS/$v-hot.log" dir="$LOGS/$v-hot" t0 out rc why="" f top share
    t0=$(now)
    mkdir -p "$dir/cwd"
    # in an empty working directory: the app's directory must stay as it was
    out=$(cd "$dir/cwd" && SENTRYPROF_SPOOL_DIR="$dir/spool" LD_PRELOAD="$LIB" \
        sh -c 'echo $$ >"$0"; exec "$@"' "$dir/pid" "$node" "$APPS/hot.js" 3 2>"$dir/err")
    rc=$?
    local left pid
    left=$(ls -A "$dir/cwd")
    pid=$(cat "$dir/pid" 2>/dev/null)
    {
        echo "# exit $rc, stdout: $out"
        echo "# stderr:"; cat "$dir/err"
        echo "# files left in the working directory: ${left:-none}"
    } >"$log"
    [ "$rc" = 0 ] || why="exit $rc"
    [ "$out" = "hot.js done ok" ] || why="${why:+$why, }stdout changed"
    [ -s "$dir/err" ] && why="${why:+$why, }stderr not empty"
    [ -n "$left" ] && why="${why:+$why, }left $(echo "$left" | head -1) in the app's working directory"
    if [ -n "$pid" ] && [ -e "/tmp/perf-$pid.map" ]; then
        why="${why:+$why, }/tmp/perf-$pid.map not removed at exit"
        rm -f "/tmp/perf-$pid.map"
    fi
    if [ "$(count_envelopes "$dir/spool")" = 0 ]; then
        why="${why:+$why, }no envelope spooled"
    elif ! "$node" "$CHECK_ENV" "$dir/spool" >>"$log" 2>&1; then
        why="${why:+$why, }envelopes fail the ingest rules"
    fi
    local secs
    secs=$(since "$t0")
    if [ -z "$why" ]; then set_cell profile PASS "" "$secs"; else set_cell profile FAIL "$why" "$secs"; fi

    t0=$(now)
    f=$("$node" "$Q" "$dir/spool" 2>>"$log")
    echo "# profile-query: $f" >>"$log"
    top=$(jqn "$f" 'f.threads["0"] ? f.threads["0"].top : "none"' 2>/dev/null)
    # As tests/e2e/hot_function.sh: hotLoop's share of hotLoop + warmLoop (hot.js splits its
    # CPU work 7:3), not of all samples, which node's start-up dilutes more on a busy machine.
    local files hot warm share
    mapfile -t files < <("$node" "$SPOOLFILE" --files "$dir/spool" 2>/dev/null)
    hot=$("$node" -p "($("$node" "$FACTS" hotLoop "${files[@]}" 2>>"$log")).containing" 2>/dev/null)
    warm=$("$node" -p "($("$node" "$FACTS" warmLoop "${files[@]}" 2>>"$log")).containing" 2>/dev/null)
    share=$(awk -v h="${hot:-0}" -v w="${warm:-0}" 'BEGIN { print (h + w) ? int(100 * h / (h + w) + 0.5) : 0 }')
    secs=$(since "$t0")
    if [ "$top" = hotLoop ] && [ "${hot:-0}" -ge 100 ] && [ "$share" -ge 60 ] && [ "$share" -le 80 ]; then
        set_cell top PASS "hotLoop ${share}% of hot+warm" "$secs"
    else
        set_cell top FAIL "top ${top:-?}, hotLoop ${hot:-?} / warmLoop ${warm:-?} samples (${share}%; want hotLoop first, >= 100, 60-80%)" "$secs"
    fi
}

cell_workers() {
    local log="$LOGS/$v-workers.log" dir="$LOGS/$v-workers" t0 out rc why="" f
    t0=$(now)
    mkdir -p "$dir"
    out=$(SENTRYPROF_SPOOL_DIR="$dir/spool" LD_PRELOAD="$LIB" "$node" "$APPS/workers.js" 2 2>"$dir/err")
    rc=$?
    {
        echo "# exit $rc, stdout: $out"
        echo "# stderr:"; cat "$dir/err"
    } >"$log"
    [ "$rc" = 0 ] || why="exit $rc"
    [ "$out" = "workers done" ] || why="${why:+$why, }stdout changed"
    [ -s "$dir/err" ] && why="${why:+$why, }stderr not empty"
    if [ "$(count_envelopes "$dir/spool")" = 0 ]; then
        why="${why:+$why, }no envelope spooled"
    elif ! "$node" "$CHECK_ENV" "$dir/spool" >>"$log" 2>&1; then
        why="${why:+$why, }envelopes fail the ingest rules"
    fi
    f=$("$node" "$Q" "$dir/spool" 2>>"$log")
    echo "# profile-query: $f" >>"$log"
    # "0:mainThreadHot:91 1:firstWorkerHot:98 ..." and whether each is right
    local summary verdict
    summary=$(jqn "$f" '["0","1","2"].map(t => f.threads[t] ? t + ":" + f.threads[t].top + ":" + Math.round(f.threads[t].topShare * 100) + "%/" + f.threads[t].samples : t + ":missing").join(" ")' 2>/dev/null)
    verdict=$(jqn "$f" '[["0","mainThreadHot"],["1","firstWorkerHot"],["2","secondWorkerHot"]].every(([t, fn]) => f.threads[t] && f.threads[t].top === fn && f.threads[t].topShare >= 0.7 && f.threads[t].samples >= 100)' 2>/dev/null)
    echo "# threads: $summary" >>"$log"
    [ "$verdict" = true ] || why="${why:+$why, }threads: ${summary:-no profile}"
    if [ -z "$why" ]; then
        set_cell workers PASS "$(jqn "$f" '["0","1","2"].map(t => Math.round(f.threads[t].topShare * 100) + "%").join("/")')" "$(since "$t0")"
    else
        set_cell workers FAIL "$why" "$(since "$t0")"
    fi
}

# cell_script KEY SCRIPT: runs an e2e script with NODE=<this version's node>.
cell_script() {
    local key=$1 script="$top_srcdir/tests/e2e/$2" log="$LOGS/$v-$1.log" t0 rc
    if [ ! -f "$script" ]; then
        set_cell "$key" n/a "no tests/e2e/$2" 0
        return
    fi
    t0=$(now)
    NODE="$node" bash "$script" >"$log" 2>&1 </dev/null
    rc=$?
    local last
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    if [ "$rc" = 0 ]; then
        set_cell "$key" PASS "$last" "$(since "$t0")"
    else
        set_cell "$key" FAIL "exit $rc${last:+, $last}" "$(since "$t0")"
    fi
}

start_all=$(now)
echo "sentryprof matrix: $LIB (cksum ${lib_sum% *}), nodes from $cache"
declare -A VERSION
for v in $versions; do
    node=$(node_of "$v")
    if [ ! -x "$node" ] || ! VERSION[$v]=$("$node" --version 2>/dev/null); then
        VERSION[$v]="$v (missing)"
        for c in "${CELLS[@]}"; do set_cell "$c" FAIL "node $v not installed: run tests/matrix/install-nodes.sh" 0; done
        echo "node $v: not installed in $cache"
        continue
    fi
    t_v=$(now)
    cell_hot
    cell_script http http_transactions.sh
    cell_workers
    cell_script sentry7 sentry7.sh
    cell_script inline v8_inline.sh
    cell_script wcallers v8_workers.sh
    cell_script closures v8_closures.sh
    line="node ${VERSION[$v]}:"
    for c in "${CELLS[@]}"; do line+=" ${TITLE[$c]}=${RESULT[$v,$c]}"; done
    echo "$line ($(since "$t_v")s)"
done
[ "$(cksum <"$LIB")" = "$lib_sum" ] || echo "matrix: WARNING: $LIB changed during the run (not one build)"

# ---- the table
w=12
cw=17
printf '\n%-*s' "$w" "node"
for c in "${CELLS[@]}"; do printf ' | %-*s' "$cw" "${TITLE[$c]}"; done
printf '\n%s\n' "$(printf '%*s' $((w + ${#CELLS[@]} * (cw + 3))) '' | tr ' ' -)"
for v in $versions; do
    printf '%-*s' "$w" "${VERSION[$v]}"
    for c in "${CELLS[@]}"; do
        r=${RESULT[$v,$c]}
        case "$r" in
        PASS) passed=$((passed + 1)) ;;
        n/a) [ "${MATRIX_ALLOW_NA:-0}" = 1 ] || failed=$((failed + 1)) ;;
        *) failed=$((failed + 1)) ;;
        esac
        printf ' | %-*s' "$cw" "$(printf '%-4s %6ss' "$r" "${SECS[$v,$c]}")"
    done
    printf '\n'
done
echo
echo "details:"
for v in $versions; do
    prev=
    for c in "${CELLS[@]}"; do
        d=${DETAIL[$v,$c]}
        [ -n "$d" ] && [ "$d" != "$prev" ] &&
            printf '  %-10s %-18s %-4s %s\n' "${VERSION[$v]}" "${TITLE[$c]}" "${RESULT[$v,$c]}" "$d"
        prev=$d
    done
done
for v in $versions; do
    for c in "${CELLS[@]}"; do
        [ "${RESULT[$v,$c]}" = FAIL ] || continue
        log="$LOGS/$v-$c.log"
        [ "$c" = profile ] || [ "$c" = top ] && log="$LOGS/$v-hot.log"
        [ -f "$log" ] || continue
        echo
        echo "---- node ${VERSION[$v]}, ${TITLE[$c]}: $log"
        if grep -qE '^not ok' "$log"; then grep -E '^not ok' "$log" | head -15; else tail -8 "$log"; fi
    done
done
echo
echo "matrix: $(echo $versions | wc -w) node versions in $(since "$start_all") s"
if [ "$failed" = 0 ] && [ "${MATRIX_KEEP_LOGS:-0}" != 1 ]; then rm -rf "$LOGS"; else echo "logs: $LOGS"; fi
echo "matrix: $passed passed, $failed failed"
[ "$failed" = 0 ]
