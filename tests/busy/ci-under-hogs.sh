#!/bin/sh
# Issue #16's bar: `CI=true ./test.sh` passes N times in a row on a fresh clone while two
# CPU hogs run at normal priority. Usage: tests/busy/ci-under-hogs.sh [RUNS] (default 3).
# Each run clones HEAD into its own mktemp directory, so a run tests what was committed
# when it started. Prints one line per run (commit, rc, seconds, load) and stops at the
# first red run; the logs stay in the printed directories.
set -u
runs=${1:-3}
top=$(git rev-parse --show-toplevel) || exit 2
hogs=""
stop_hogs() { for p in $hogs; do kill "$p" 2>/dev/null; done; }
trap 'stop_hogs' EXIT
trap 'exit 130' INT TERM
for i in 1 2; do
    sh -c 'while :; do :; done' &
    hogs="$hogs $!"
done
echo "ci-under-hogs: two hogs running (pids$hogs), $runs run(s) of CI=true ./test.sh"
i=1
while [ "$i" -le "$runs" ]; do
    dir=$(mktemp -d "${TMPDIR:-/tmp}/sp-busy-ci.XXXXXX") || exit 2
    git clone -q "$top" "$dir/c" || exit 2
    commit=$(git -C "$dir/c" rev-parse --short HEAD)
    t0=$(date +%s)
    (cd "$dir/c" && CI=true ./test.sh </dev/null >"$dir/out.log" 2>&1)
    rc=$?
    t1=$(date +%s)
    echo "run $i/$runs: commit $commit rc=$rc $((t1 - t0)) s, load at end $(cut -d' ' -f1-3 /proc/loadavg), log $dir/out.log"
    [ "$rc" -eq 0 ] || exit 1
    rm -rf "$dir/c"  # keep only the log of a green run
    i=$((i + 1))
done
echo "ci-under-hogs: $runs green run(s) in a row"
