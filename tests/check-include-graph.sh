#!/usr/bin/env bash
# The modules of src/ include each other without a cycle (issue #16: one-way data flow).
# A module is foo.c + foo.h (foo_int.h counts as foo); an edge is an #include "bar.h" in
# any of its files. tsort finds the cycles; each is printed with the files that make it.
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
finish
