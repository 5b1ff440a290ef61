#!/usr/bin/env bash
# What the shim costs a process that is not node (issue #15): `sh -c true` and `/bin/true`,
# N execs (default 1000) with and without LD_PRELOAD, in interleaved rounds (default 5) so
# machine noise hits both sides alike. Prints, per command, the CPU (user+sys of the
# children) and wall time per exec, min-max over the rounds, and the with/without ratio
# min-max (each round's pair). A bench, not a test: exit 0 whatever the numbers.
#
#   tests/bench/exec-cost.sh [N [ROUNDS]]
# Environment: SENTRYPROF_LIB (default: ../../_build/.libs/libsentryprof.so relative to
# this script, then ../../.libs/libsentryprof.so).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
n=${1:-1000}
rounds=${2:-5}
lib=${SENTRYPROF_LIB:-}
for c in "$HERE/../../_build/.libs/libsentryprof.so" "$HERE/../../.libs/libsentryprof.so"; do
    [ -z "$lib" ] && [ -f "$c" ] && lib=$(cd "$(dirname "$c")" && pwd)/libsentryprof.so
done
[ -f "$lib" ] || { echo "exec-cost: no library (set SENTRYPROF_LIB)" >&2; exit 1; }
unset SENTRYPROF_DISABLE
echo "# $lib ($(stat -c %s "$lib") bytes), $n execs x $rounds rounds, $(nproc) CPUs"

# One timed loop: prints "cpu_us_per_exec wall_us_per_exec". CPU = the children's user+sys
# (the loop's own forks count alike on both sides).
run() { # run with|without cmd...
    local mode=$1; shift
    bash -c '
        n=$1; mode=$2; lib=$3; shift 3
        t0=$(date +%s%N)
        if [ "$mode" = with ]; then
            for ((i = 0; i < n; i++)); do LD_PRELOAD=$lib "$@"; done
        else
            for ((i = 0; i < n; i++)); do "$@"; done
        fi
        t1=$(date +%s%N)
        # cutime + cstime of this shell (fields 16, 17 of /proc/PID/stat, clock ticks): the
        # CPU of every waited-for child.
        read -r -a st </proc/$$/stat
        tck=$(getconf CLK_TCK)
        echo "$(( (st[15] + st[16]) * 1000000 / tck / n )) $(( (t1 - t0) / 1000 / n ))"
    ' run "$n" "$mode" "$lib" "$@"
}
bench() { # bench label cmd...
    local label=$1; shift
    local cw=() cn=() ww=() wn=() r a b
    for ((r = 0; r < rounds; r++)); do
        read -r a b < <(run without "$@"); cn+=("$a"); wn+=("$b")
        read -r a b < <(run with "$@"); cw+=("$a"); ww+=("$b")
    done
    awk -v label="$label" -v cn="${cn[*]}" -v cw="${cw[*]}" -v wn="${wn[*]}" -v ww="${ww[*]}" '
        function mm(s,  a, k, i, lo, hi) { k = split(s, a, " "); lo = hi = a[1]
            for (i = 2; i <= k; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] } return sprintf("%.0f-%.0f", lo, hi) }
        function ratio(x, y,  a, b, k, i, lo, hi, q) { k = split(x, a, " "); split(y, b, " ")
            for (i = 1; i <= k; i++) { q = a[i] / b[i]; if (i == 1 || q < lo) lo = q; if (i == 1 || q > hi) hi = q }
            return sprintf("%.2f-%.2fx", lo, hi) }
        BEGIN {
            printf "%-12s CPU/exec without %s us, with %s us (ratio %s); wall/exec without %s us, with %s us (ratio %s)\n",
                label, mm(cn), mm(cw), ratio(cw, cn), mm(wn), mm(ww), ratio(ww, wn)
        }'
}
bench "sh -c true" sh -c true
bench "/bin/true" /bin/true
