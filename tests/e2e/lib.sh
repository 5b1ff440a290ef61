# Shared helpers for the end-to-end tests (sourced). Run by `make check` with top_srcdir and
# top_builddir exported; each test prints "N passed, N failed" last and exits non-zero on failure.
set -uo pipefail
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${NODE:=$(command -v node || true)}"
SP_LIB="$top_builddir/.libs/libsentryprof.so"
SP_CLI="$top_builddir/tools/sentryprof"
APPS="$top_srcdir/tests/apps"
VALIDATE="$top_srcdir/tests/e2e/validate-envelope.js"
SPOOLFILE="$top_srcdir/tests/ingest/spoolfile.js"
passed=0
failed=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sp-e2e.XXXXXX")
# The perf maps of this test's profiled nodes that died without removing theirs (kill -9):
# each spool records the maps its processes created (<spool>/perfmaps/<pid>: "dev inode");
# the next profiled node with that spool would sweep them, but the spools go with $WORK.
# Only a map that is still the recorded file, of a pid no longer running, is removed.
sweep_test_maps() {
    find "$WORK" -path '*/perfmaps/*' -type f 2>/dev/null | while IFS= read -r rec; do
        pid=${rec##*/}
        case $pid in '' | *[!0-9]*) continue ;; esac
        kill -0 "$pid" 2>/dev/null && continue
        m=/tmp/perf-$pid.map
        [ -f "$m" ] && [ ! -L "$m" ] || continue
        [ "$(stat -c '%d %i' "$m" 2>/dev/null)" = "$(head -n1 "$rec")" ] && rm -f "$m"
    done
}
trap 'sweep_test_maps; rm -rf "$WORK"' EXIT

# The spool files a run left in a spool dir (run folders, ready/, sending/), one path per line:
# single envelopes (*.envelope) and batches of them (*.envelopes). For grep (a batch holds its
# envelopes verbatim) and the validators (they read batches); a file is not one envelope, so
# count with count_envelopes.
spool_files() { "$NODE" "$SPOOLFILE" --files "$1"; }
# The number of envelopes in a spool dir (single files + complete batch records); prints
# nothing when a batch is broken, so no count test passes then.
count_envelopes() { "$NODE" "$SPOOLFILE" --count "$1"; }

# Starts the local ingest server (tests/ingest/server.js) writing into $1; sets INGEST_PID,
# INGEST_PORT and DSN. Extra arguments go to the server (e.g. --mode down).
start_ingest() {
    local dir=$1; shift
    mkdir -p "$dir"
    "$NODE" "$top_srcdir/tests/ingest/server.js" --dir "$dir" --port "${INGEST_FIXED_PORT:-0}" \
        --parent-pid $$ --max-seconds 1800 --quiet "$@" &
    INGEST_PID=$!
    INGEST_PORT=$("$top_srcdir/tests/ingest/wait-port.sh" "$dir" 60) || { echo "ingest server did not start" >&2; exit 99; }
    DSN="http://pub@127.0.0.1:$INGEST_PORT/1"
}
# Switches the running ingest server's fault mode: ingest_mode '{"mode":"429","retry_after":5}'
ingest_mode() {
    curl -s -o /dev/null -X POST -H 'content-type: application/json' --data "$1" "http://127.0.0.1:$INGEST_PORT/_control"
}
ingest_summary() { "$NODE" "$top_srcdir/tests/ingest/summary.js" "$1"; }

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
check() { # check "description" command...
    local what=$1; shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
# npm_ci_folder FOLDER [FILE]: installs tests/e2e/FOLDER (package.json + package-lock.json) with
# npm ci into $top_builddir/_e2e-deps/FOLDER, once per lock file (FILE under node_modules/ must
# exist too). One not_ok line and status 1 when npm is missing or fails. --ignore-scripts: the
# fixtures use prebuilt files only (@sentry/profiling-node's addons are in its package; its
# install script would only check them, or compile them with node-gyp).
npm_ci_folder() {
    local src="$top_srcdir/tests/e2e/$1" deps="$top_builddir/_e2e-deps/$1" stamp tmp
    stamp=$(cat "$src/package.json" "$src/package-lock.json" | cksum | cut -d' ' -f1)
    if [ "$(cat "$deps/.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -e "$deps/node_modules/${2:-}" ]; then
        NPM=${NPM:-$(command -v npm || true)}
        [ -n "$NPM" ] || { not_ok "npm not found: this test installs tests/e2e/$1 with npm ci (set NPM=...)"; return 1; }
        tmp="$deps.tmp.$$"
        rm -rf "$tmp" && mkdir -p "$tmp" && cp "$src/package.json" "$src/package-lock.json" "$tmp/"
        if ! (cd "$tmp" && timeout 300 "$NPM" ci --no-audit --no-fund --prefer-offline --ignore-scripts --loglevel=error) >"$WORK/npm-$1.log" 2>&1; then
            rm -rf "$tmp"
            sed 's/^/# npm: /' "$WORK/npm-$1.log" | tail -20
            not_ok "npm ci failed in a copy of tests/e2e/$1/: is the npm registry reachable?"
            return 1
        fi
        rm -rf "$deps" && mv "$tmp" "$deps" && echo "$stamp" >"$deps/.stamp"
    fi
}
# jqn JSON EXPR [ARGS...]: prints EXPR evaluated with f = the parsed JSON (and process.argv[2..]).
jqn() { "$NODE" -e "const f=JSON.parse(process.argv[1]); console.log($2)" "$1" "${@:3}"; }
# no_maglev: prints --no-maglev where this node has Maglev, nothing where it has none (Node
# 18's V8 rejects the flag): for the tier flags of the v8_*.sh tests.
no_maglev() { if "$NODE" --no-maglev -e 0 2>/dev/null; then echo --no-maglev; fi; }
need_node() {
    if [ -z "$NODE" ] || ! "$NODE" -e 0 2>/dev/null; then
        echo "node not found: the end-to-end tests need it (set NODE=...)" >&2
        exit 99 # a hard error for automake, not a skip
    fi
}
[ -f "$SP_LIB" ] || { echo "missing $SP_LIB: build first" >&2; exit 99; }
# make check-asan-e2e: libasan goes first wherever the tests preload the library (the tests
# it runs use $SP_LIB in LD_PRELOAD only).
if [ -n "${SP_E2E_PRELOAD:-}" ]; then SP_LIB="$SP_E2E_PRELOAD $SP_LIB"; fi
