#!/usr/bin/env bash
# The modules of src/ include each other without a cycle and without an edge up the layers
# (issue #16: one-way data flow). A module is foo.c + foo.h (foo_int.h counts as foo); an
# edge is an #include "bar.h" in any of its files. tsort finds the cycles; each is printed
# with the files that make it. Then every module has a layer below, and may include only
# modules of its own layer or lower ones: a new module goes into a layer here, and an
# include up the layers fails with the file that makes it.
. "$(dirname "$0")/e2e/lib.sh"
src="$top_srcdir/src"
module() { local b=${1##*/}; b=${b%.[ch]}; echo "${b%_int}"; }
edges="$WORK/edges"
: >"$edges"
for f in "$src"/*.[ch]; do
    from=$(module "$f")
    echo "$from $from" >>"$edges" # every module is a node, even with no edges
    sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" | while read -r inc; do
        [ -e "$src/$inc" ] || continue # not one of ours
        to=$(module "$inc")
        [ "$to" != "$from" ] && echo "$from $to ${f##*/}:$inc" >>"$edges"
    done
done
cut -d' ' -f1,2 "$edges" | sort -u >"$WORK/pairs"
if tsort "$WORK/pairs" >/dev/null 2>"$WORK/tsort.err"; then
    ok "no include cycle among the $(cut -d' ' -f1 "$WORK/pairs" | sort -u | wc -l) modules of src/"
else
    cycle=$(sed -n 's/^tsort: //p' "$WORK/tsort.err" | grep -v 'input contains a loop' | tr '\n' ' ')
    not_ok "include cycle in src/: $cycle (expected none)"
    # the includes that make it: every edge between two modules of the cycle
    for a in $cycle; do for b in $cycle; do
        grep "^$a $b " "$edges" | cut -d' ' -f3 | sed 's/^/#   /'
    done; done
fi
# The layers, bottom up, along sampler -> unwind -> ring -> agent -> symbolize -> frames ->
# session -> profile -> envelope -> spool -> uploader -> upload child (docs: CONTRIBUTING.md).
declare -A layer=(
    # leaves: no pipeline knowledge
    [clock]=0 [json]=0 [mem]=0 [log]=0 [ids]=0 [glibc_floor]=0 [intern]=0 [stats]=0 [utf8]=0
    [budget]=0
    # the per-architecture registers and frame record of the signal path (src/arch.h)
    [arch]=0 [arch_x86_64]=0 [arch_aarch64]=0
    # the process's settings and the run-here decision
    [dsn]=1 [nodeargs]=1 [config]=1 [select]=1 [fatal]=1
    # the signal path and what registers threads for it
    [ring]=2 [v8frames]=2 [unwind]=2 [sampler]=2 [handler]=2 [txn]=2
    # symbol sources, V8's heap, the frame type and table
    [procmaps]=3 [mapfile]=3 [jitlog]=4 [perfmap]=3 [v8names]=3 [elfsym]=3 [v8heap]=3 [v8image]=3 [v8owner]=3 [v8pos]=3 [frames]=3
    [symbolize]=4 [nativeunwind]=4 [threadscan]=4
    # V8's functions and frames, the optimized-code decoder on them, the frame rewriters
    [v8fn]=5 [v8jit]=5 [v8baseline]=5 [v8decode]=5 [v8leaf]=5
    # profiles in flight, then the stage that turns raw stacks into their frames
    [session]=6 [debugid]=6
    [resolve]=7
    [profile]=8 [envelope]=8
    [fsio]=9 [spool]=9 [spool_run]=9 [spool_queue]=9 [spool_state]=9 [uploader]=9
    [outbox]=10 [ratelimit]=10 [transport]=10
    [txnprof]=11 [delivery_state]=11 [delivery_text]=11
    # the orchestrators: the agent thread, the upload policy
    [agent]=12 [delivery]=12
    # the upload command's walk over ready/ and its spool upkeep, which speak through
    # delivery's steps and lines
    [delivery_pass]=13 [delivery_upkeep]=13
)
up=0
for m in $(cut -d' ' -f1 "$WORK/pairs" | sort -u); do
    if [ -z "${layer[$m]:-}" ]; then
        not_ok "module $m has no layer in tests/check-include-graph.sh (expected every module of src/ in one)"
        up=1
    fi
done
while read -r from to where; do
    [ -n "$where" ] || continue
    [ -n "${layer[$from]:-}" ] && [ -n "${layer[$to]:-}" ] || continue
    if [ "${layer[$to]}" -gt "${layer[$from]}" ]; then
        echo "#   $where: $from (layer ${layer[$from]}) includes $to (layer ${layer[$to]})"
        up=1
    fi
done <"$edges"
if [ "$up" = 0 ]; then ok "every include goes down the layers (or within one)"
else not_ok "includes up the layers (listed above; expected none)"; fi
finish
