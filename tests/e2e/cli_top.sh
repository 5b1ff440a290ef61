#!/usr/bin/env bash
# cli_top.sh: the sentryprof CLI end to end on the fixtures tests/data/cli-*.envelope
# (written by tests/data/cli-gen.py, whose header lists the expected numbers): top over
# v2 chunks and a v1 profile, directories with run folders, --thread, --js-only, -n,
# malformed files and items, nothing readable; list (upload states, transactions, --json); hostile
# spools (planted symlinks, another user's default spool); run's LD_PRELOAD handling; usage errors.
# Environment: top_srcdir, top_builddir (set by make check); NODE; SENTRYPROF_BIN overrides
# the binary ($top_builddir/tools/sentryprof).
set -euo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
BIN=${SENTRYPROF_BIN:-$top_builddir/tools/sentryprof}
NODE=${NODE:-$(command -v node || true)}
DATA=$top_srcdir/tests/data
if [ ! -x "$BIN" ]; then
    echo "cli_top: no executable $BIN" >&2
    exit 99
fi
if [ -z "$NODE" ]; then # batches are built and list --json read with node
    echo "cli_top: node not found (set NODE=...)" >&2
    exit 99
fi
unset LD_PRELOAD SENTRYPROF_LIB SENTRYPROF_SPOOL_DIR

. "$top_srcdir/tests/e2e/clilib.sh"
line() { printf '%s\n' "$out" | sed -n "${1}p"; }
# row LABEL: "SELF% SELF TOTAL% TOTAL" of the top table row whose function is LABEL
row() {
    printf '%s\n' "$out" | awk -v f="$1" 'NR > 2 {
        lab = $0; sub(/^ *[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+  /, "", lab)
        if (lab == f) { print $1, $2, $3, $4; exit } }'
}
rows() { printf '%s\n' "$out" | awk 'NR > 2' | wc -l | tr -d ' '; }
errlines() { if [ -z "$err" ]; then echo 0; else printf '%s\n' "$err" | wc -l | tr -d ' '; fi; }

HEADER='   SELF%     SELF  TOTAL%    TOTAL  FUNCTION'
ALL_HEAD='sentryprof top: 3 files, 4 chunks, 200 samples, threads: 0 (main), 1 (worker)'
A=$DATA/cli-a.envelope B=$DATA/cli-b.envelope V1=$DATA/cli-v1.envelope

# ---- top over the three files ----
sp top "$A" "$B" "$V1"
check "top: exit 0" "$rc" 0
check "top: no warnings" "$err" ""
check "top: summary line" "$(line 1)" "$ALL_HEAD"
check "top: column header" "$(line 2)" "$HEADER"
check "top: hottest function first" "$(line 3 | sed 's/^ *[^ ]* *[^ ]* *[^ ]* *[^ ]*  //')" \
    "hotLoop (apps/hot.js:3)"
check "top: hotLoop self/total (v2 + v1, keyed across chunks)" "$(row 'hotLoop (apps/hot.js:3)')" \
    "70.00% 140 75.00% 150"
check "top: main total" "$(row 'main (apps/hot.js:10)')" "2.50% 5 87.50% 175"
check "top: recursion counted once" "$(row 'fib (apps/hot.js:30)')" "5.00% 10 5.00% 10"
check "top: two linenos, one row, smallest line" "$(row 'helper (lib/util.js:5)')" \
    "4.50% 9 4.50% 9"
check "top: empty stacks are (idle)" "$(row '(idle)')" "2.50% 5 2.50% 5"
check "top: anonymous function" "$(row '(anonymous) (apps/hot.js:20)')" "0.00% 0 2.50% 5"
check "top: native frame" "$(row '[native] memcpy (libc.so.6)')" "5.00% 10 5.00% 10"
check "top: native frame never a leaf" "$(row '[native] Builtins_JSEntry (node)')" \
    "0.00% 0 65.00% 130"
check "top: unknown native frame" "$(row '0x7f00dead (libfoo.so)')" "0.50% 1 0.50% 1"
check "top: one row per function" "$(rows)" 10

# ---- a v1 profile alone (beside its transaction item) ----
sp top "$V1"
check "v1: exit 0" "$rc" 0
check "v1: summary line" "$(line 1)" "sentryprof top: 1 file, 1 chunk, 55 samples, threads: 0 (main)"
check "v1: hotLoop" "$(row 'hotLoop (apps/hot.js:3)')" "90.91% 50 90.91% 50"
check "v1: main" "$(row 'main (apps/hot.js:10)')" "9.09% 5 100.00% 55"

# ---- options ----
sp top --thread 1 "$A" "$B" "$V1"
check "--thread 1: summary" "$(line 1)" \
    "sentryprof top: 3 files, 4 chunks, 20 samples, threads: 1 (worker)"
check "--thread 1: workerFn" "$(row 'workerFn (apps/worker.js:2)')" "100.00% 20 100.00% 20"
check "--thread 1: hotLoop absent" "$(row 'hotLoop (apps/hot.js:3)')" ""
sp top --thread=0 "$A" "$B" "$V1"
check "--thread=0: samples" "$(line 1)" \
    "sentryprof top: 3 files, 4 chunks, 180 samples, threads: 0 (main)"
check "--thread=0: hotLoop" "$(row 'hotLoop (apps/hot.js:3)')" "77.78% 140 83.33% 150"

sp top --js-only "$A" "$B" "$V1"
check "--js-only: native leaf goes to the JS caller" "$(row 'hotLoop (apps/hot.js:3)')" \
    "75.00% 150 75.00% 150"
check "--js-only: unknown native leaf too" "$(row '(anonymous) (apps/hot.js:20)')" \
    "0.50% 1 2.50% 5"
check "--js-only: no native rows" "$(printf '%s\n' "$out" | grep -c -e '\[native\]' -e '0x7f' || true)" 0

sp top -n 2 "$A" "$B" "$V1"
check "-n 2: two rows" "$(rows)" 2
sp top -n3 --sort total "$A" "$B" "$V1"
check "--sort total: main first" "$(line 3 | sed 's/^ *[^ ]* *[^ ]* *[^ ]* *[^ ]*  //')" \
    "main (apps/hot.js:10)"
check "-n3: three rows" "$(rows)" 3

# ---- directories: top level and run folders, not deeper, no dot files ----
spool=$tmp/spool
mkdir -p "$spool/run-1/deep" "$spool/.hidden-run"
cp "$A" "$V1" "$spool/"
cp "$B" "$spool/run-1/"
cp "$A" "$spool/.hidden.envelope"
cp "$A" "$spool/run-1/deep/"
cp "$A" "$spool/.hidden-run/"
echo "not an envelope" >"$spool/notes.txt"
sp top "$spool"
check "dir: exit 0" "$rc" 0
check "dir: no warnings" "$err" ""
check "dir: summary line" "$(line 1)" "$ALL_HEAD"
check "dir: hotLoop" "$(row 'hotLoop (apps/hot.js:3)')" "70.00% 140 75.00% 150"

cp "$DATA/cli-malformed.envelope" "$spool/"
cp "$DATA/cli-baditem.envelope" "$spool/run-1/"
sp top "$spool"
check "malformed in dir: exit 0" "$rc" 0
check "malformed in dir: two warning lines" "$(errlines)" 2
check "malformed in dir: warns about the bad file" \
    "$(printf '%s\n' "$err" | grep -c "^sentryprof: skipping $spool/cli-malformed.envelope: " || true)" 1
check "malformed in dir: warns about the bad item" \
    "$(printf '%s\n' "$err" | grep -c "^sentryprof: skipping $spool/run-1/cli-baditem.envelope: item 0 (profile_chunk): " || true)" 1
check "malformed in dir: numbers from the others" "$(line 1)" "$ALL_HEAD"
check "malformed in dir: hotLoop" "$(row 'hotLoop (apps/hot.js:3)')" "70.00% 140 75.00% 150"

bad=$tmp/bad
mkdir -p "$bad/run-1"
cp "$DATA/cli-malformed.envelope" "$bad/"
cp "$DATA/cli-baditem.envelope" "$bad/run-1/"
sp top "$bad"
check "nothing readable: exit 1" "$rc" 1
check "nothing readable: no table" "$out" ""
mkdir -p "$tmp/empty"
sp top "$tmp/empty"
check "empty dir: exit 1" "$rc" 1
sp top "$tmp/no-such-dir"
check "missing path: exit 1" "$rc" 1

# ---- list ----
sp list "$spool"
check "list: exit 0" "$rc" 0
check "list: cli-a samples and profiler" \
    "$(printf '%s\n' "$out" | awk '$1 == "cli-a.envelope" { print $3, $4, $6 }')" \
    "profile_chunk 95 5e17e2f0"
check "list: run folder file" \
    "$(printf '%s\n' "$out" | awk '$1 == "run-1/cli-b.envelope" { print $3, $4 }')" \
    "profile_chunk 50"
check "list: v1 file" "$(printf '%s\n' "$out" | awk '$1 == "cli-v1.envelope" { print $3, $4 }')" \
    "transaction,profile 55"
check "list: no dot files, no deeper files" "$(printf '%s\n' "$out" | grep -c -e hidden -e deep || true)" 0
check "list: header" "$(line 2 | tr -s ' ')" \
    "FILE SIZE ITEMS SAMPLES SPAN PROFILER STATE DURATION TRANSACTION"
check "list: v1 file's state, duration (its transaction event's) and transaction name" \
    "$(printf '%s\n' "$out" | awk '$1 == "cli-v1.envelope" { s = $7 " " $8; for (k = 9; k <= NF; k++) s = s " " $k; print s }')" \
    "spooled 6.0s My Transaction"
check "list: a chunk has no transaction" \
    "$(printf '%s\n' "$out" | awk '$1 == "cli-a.envelope" { print $7, $8, $9 }')" "spooled - -"
# upload state from where the file is: run folder (spooled), ready/, sending/
states=$tmp/states
mkdir -p "$states/run-9-1" "$states/ready" "$states/sending"
cp "$A" "$states/run-9-1/open-a.envelope"
cp "$V1" "$states/ready/v1.envelope"
cp "$B" "$states/sending/b.envelope"
sp list "$states"
check "list: states" "$(printf '%s\n' "$out" | awk 'NR > 2 { print $1, $7 }' | tr '\n' ' ')" \
    "ready/v1.envelope ready run-9-1/open-a.envelope spooled sending/b.envelope sending "
sp list --json "$states"
check "list --json: exit 0, nothing on stderr" "$rc $err" "0 "
printf '%s\n' "$out" >"$tmp/list.json"
check "list --json: the envelopes" "$("$NODE" -e '
const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
console.log(d.files, d.envelopes.map(e => [e.file, e.state, e.samples, e.items.join("+"), e.transaction,
    e.duration_s, e.profiler_id && e.profiler_id.length, e.span_s !== null].join(" ")).join("; "));' "$tmp/list.json")" \
    "3 ready/v1.envelope ready 55 transaction+profile My Transaction 6  true; run-9-1/open-a.envelope spooled 95 profile_chunk   32 true; sending/b.envelope sending 50 profile_chunk   32 true"
cp "$DATA/cli-malformed.envelope" "$states/ready/"
sp list --json "$states"
printf '%s\n' "$out" >"$tmp/list.json"
check "list --json: an unreadable file has its error" "$("$NODE" -e '
const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const e = d.envelopes.find(e => e.file === "ready/cli-malformed.envelope"); console.log(e.state, e.error, e.samples);' "$tmp/list.json")" \
    "ready not a valid envelope undefined"
sp list "$spool" extra
check "list: two dirs is bad usage" "$rc" 2
sp list --bogus "$spool"
check "list: unknown option is bad usage" "$rc" 2

# ---- batches (*.envelopes): read like the same envelopes in single files ----
batch=$tmp/batch
mkdir -p "$batch"
"$NODE" -e '
const fs = require("fs");
const { makeBatch } = require(process.argv[1]);
const [out, ...files] = process.argv.slice(2);
fs.writeFileSync(out, makeBatch(files.map((f) => fs.readFileSync(f)), { torn: true }));' \
    "$top_srcdir/tests/ingest/spoolfile.js" "$batch/1-2-txns-x.envelopes" "$A" "$B" "$V1"
sp top "$batch"
check "batch: exit 0" "$rc" 0
check "batch: same numbers as the three single files" "$(row 'hotLoop (apps/hot.js:3)')" "70.00% 140 75.00% 150"
check "batch: one line about the torn tail" \
    "$(printf '%s\n' "$err" | grep -c "^sentryprof: reading $batch/1-2-txns-x.envelopes: .* incomplete (ignored)$" || true)/$(errlines)" 1/1
sp list "$batch"
check "list batch: one row per envelope" \
    "$(printf '%s\n' "$out" | awk 'NR > 2 { print $1, $3, $4 }' | tr '\n' ';')" \
    "1-2-txns-x.envelopes#1 profile_chunk 95;1-2-txns-x.envelopes#2 profile_chunk 50;1-2-txns-x.envelopes#3 transaction,profile 55;"

# ---- hostile spools (issue #20 item 2): planted symlinks, another user's default spool ----
hs=$tmp/hostile
mkdir -p "$hs/run-1"
cp "$A" "$hs/"
cp "$B" "$tmp/secret.envelope"             # stands for /etc/shadow: readable only by us
ln -s "$tmp/secret.envelope" "$hs/x.envelope"
ln -s "$tmp/secret.envelope" "$hs/run-1/y.envelopes"
sp list "$hs"
check "symlink: list exit 0" "$rc" 0
check "symlink: list shows the one real file" "$(line 1)" "sentryprof list: $hs, 1 envelope in 1 file"
check "symlink: one line per planted link" \
    "$(printf '%s\n' "$err" | grep -c 'a symlink (not followed)$' || true)" 2
sp top "$hs"
check "symlink: top reads the real file only" "$(line 1 | cut -d, -f1-2)" "sentryprof top: 1 file, 1 chunk"
# The default spool (SENTRYPROF_SPOOL_DIR or $TMPDIR/sentryprof-UID) owned by another user:
# refused as the library and upload refuse it. As root a directory chown'd to 1001 is one.
if [ "$(id -u)" = 0 ]; then
    other=$tmp/other-spool
    mkdir -m 700 "$other"
    cp "$A" "$other/"
    chown 1001:1001 "$other" "$other/$(basename "$A")"
    for cmd in list top; do
        SENTRYPROF_SPOOL_DIR=$other sp $cmd
        check "other user's default spool: $cmd exits 1" "$rc" 1
        check "other user's default spool: $cmd says why" \
            "$(printf '%s\n' "$err" | grep -c "spool directory \"$other\" refused: owned by uid 1001, not 0" || true)" 1
        check "other user's default spool: $cmd prints nothing" "$out" ""
    done
    sp list "$other" # named on the command line: the user's choice
    check "other user's spool named as DIR: list reads it" "$(line 1)" "sentryprof list: $other, 1 envelope in 1 file"
    ln -s "$hs" "$tmp/link-spool"
    SENTRYPROF_SPOOL_DIR=$tmp/link-spool sp list
    check "default spool is a symlink: list refuses it" "$rc:$(printf '%s\n' "$err" | grep -c 'refused: it is a symlink' || true)" "1:1"
else
    echo "# not root: the other-user default spool checks skipped (test_spool covers the check)"
fi

# ---- usage ----
sp
check "no arguments: exit 2" "$rc" 2
sp bogus
check "unknown command: exit 2" "$rc" 2
sp top -n lots "$A"
check "top -n lots: exit 2" "$rc" 2
sp top --frobnicate "$A"
check "top unknown option: exit 2" "$rc" 2
sp --help
check "--help: exit 0" "$rc" 0
check "--help: usage on stdout" "$(line 1 | cut -c1-17)" "usage: sentryprof"
# every command answers --help (and -h) with the usage, its own options in it, on stdout
cmds=$("$BIN" --help | awk '/^  [a-z]+( |$)/ { print $1 }')
for c in $cmds; do
    [ "$c" = version ] && continue # "version --help" prints the version
    for h in --help -h; do
        sp "$c" "$h"
        check "$c $h: exit 0, usage on stdout naming '$c', nothing on stderr" \
            "$rc/$(line 1 | cut -c1-17)/$(printf '%s\n' "$out" | grep -c "^  $c " || true)/$err" "0/usage: sentryprof/1/"
    done
done
sp version
check "version" "$(printf '%s\n' "$out" | grep -c '^sentryprof [0-9]' || true)" 1

# ---- run ----
SENTRYPROF_LIB=$tmp/nonexistent/libsentryprof.so sp run true
check "run, SENTRYPROF_LIB missing: exit 127" "$rc" 127
check "run, SENTRYPROF_LIB missing: one error line" "$(errlines)" 1
sp run
check "run without a command: exit 2" "$rc" 2

lib=""
for d in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib/aarch64-linux-gnu \
    /usr/lib/aarch64-linux-gnu /lib64 /usr/lib64 /lib /usr/lib; do
    if [ -e "$d/libm.so.6" ]; then
        lib=$(realpath "$d/libm.so.6")
        break
    fi
done
if [ -n "$lib" ]; then
    SENTRYPROF_LIB=$lib sp run env
    check "run env: exit 0" "$rc" 0
    check "run env: LD_PRELOAD is the library" "$(printf '%s\n' "$out" | grep '^LD_PRELOAD=')" \
        "LD_PRELOAD=$lib"
    # an existing LD_PRELOAD is kept, ours first (the same real library twice is harmless)
    LD_PRELOAD=$lib SENTRYPROF_LIB=$lib sp run -- env
    check "run env: no duplicate entry" "$(printf '%s\n' "$out" | grep '^LD_PRELOAD=')" \
        "LD_PRELOAD=$lib"
    other=$(realpath "$(dirname "$lib")/libc.so.6" 2>/dev/null || true)
    if [ -n "$other" ] && [ -e "$other" ]; then
        LD_PRELOAD=$other SENTRYPROF_LIB=$lib sp run -- env
        check "run env: existing LD_PRELOAD kept after ours" \
            "$(printf '%s\n' "$out" | grep '^LD_PRELOAD=')" "LD_PRELOAD=$lib:$other"
    fi
    SENTRYPROF_LIB=$lib sp run true
    check "run true: exit 0" "$rc" 0
    SENTRYPROF_LIB=$lib sp run sh -c 'exit 7'
    check "run: the command's exit code" "$rc" 7
    SENTRYPROF_LIB=$lib sp run "$tmp/no-such-command"
    check "run missing command: exit 127" "$rc" 127
else
    echo "# no libm.so.6 found: run tests with a real library skipped"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
