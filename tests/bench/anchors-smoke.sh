#!/usr/bin/env bash
# Smoke check of `make bench`'s report (issue 19), for `make check`: anchors-report.js renders
# the small recorded result anchors-sample.json (two rounds of every workload, every
# configuration) into the markdown RESULTS.md gets: every section, a row per configuration,
# ratios to plain, the bars with a verdict, nothing undefined. No timing, no network: the
# bench itself (`make bench`) is not part of check.
. "$(dirname "$0")/../e2e/lib.sh"
"$NODE" "$top_srcdir/tests/bench/anchors-report.js" "$top_srcdir/tests/bench/anchors-sample.json" >"$WORK/report.md" 2>"$WORK/err"
check "anchors-report.js renders the sample (exit 0, nothing on stderr; saw: $(head -c 300 "$WORK/err"))" test ! -s "$WORK/err" -a -s "$WORK/report.md"
for s in '## Profiles produced' '## HTTP' '## CPU' '## Startup' '## Memory and disk' '## Transaction start' '## A trivial HTTP handler' '## Bars'; do
    check "section '$s' present" grep -qF -- "$s" "$WORK/report.md"
done
# Rows per configuration: profiles, HTTP, CPU, startup, memory, and the transaction table
# (plain: the trivial-handler table instead; --cpu-prof has no transaction API: 5).
for c in '1 plain node:6' '2 shim, eager:6' '3 shim, lazy:6' '4 @sentry/node 7 + profiling-node 1.3.5:6' \
    '5 @sentry/node 7, tracing only:6' '6 node --cpu-prof:5' '7 @sentry/node 11 + profiling-node 11:6' '8 @sentry/node 11, tracing only:6'; do
    want=${c##*:} c=${c%:*}
    n=$(grep -cF -- "| $c |" "$WORK/report.md")
    check "configuration '$c' has a row in each of its $want tables (saw $n)" test "$n" -eq "$want"
done
# A ratio cell: "median (min–max)" from the two rounds.
check "ratio cells carry median (min–max)" grep -qE '\| [0-9]+\.[0-9]{3} \([0-9]+\.[0-9]{3}–[0-9]+\.[0-9]{3}\) \|' "$WORK/report.md"
check "profiling over tracing rows (4 ÷ 5, 7 ÷ 8) present" grep -qF 'profiling over tracing, 7 ÷ 8' "$WORK/report.md"
nbars=$(grep -cE '^\| .* \| (PASS|FAIL)' "$WORK/report.md")
check "the bars have verdicts (expected >= 15, saw $nbars)" test "$nbars" -ge 15
bad=$(grep -nE 'undefined|NaN|\[object' "$WORK/report.md" | head -3)
check "no undefined/NaN in the report (saw: ${bad:-none})" test -z "$bad"
finish
