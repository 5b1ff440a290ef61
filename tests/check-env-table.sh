#!/usr/bin/env bash
# The README's variable tables list exactly the environment variables of src/config.h, and
# config.h's constants are every variable the C code reads (issue #16: one environment
# contract). A table row is a line "| `NAME` | ..." of README.md; a constant is
# `#define SP_ENV_X "NAME"`. Also: no getenv outside src/config.c but the few reads of a
# child's environment that say why (tools: PATH, LD_PRELOAD).
. "$(dirname "$0")/e2e/lib.sh"
sed -n 's/^#define SP_ENV_[A-Z0-9_]*[[:space:]]*"\([^"]*\)".*/\1/p' "$top_srcdir/src/config.h" | sort -u >"$WORK/header"
sed -n 's/^| `\([A-Z][A-Z0-9_]*\)` |.*/\1/p' "$top_srcdir/README.md" | sort -u >"$WORK/readme"
missing=$(comm -23 "$WORK/header" "$WORK/readme" | tr '\n' ' ')
extra=$(comm -13 "$WORK/header" "$WORK/readme" | tr '\n' ' ')
check "config.h has $(wc -l <"$WORK/header") variables, README's tables $(wc -l <"$WORK/readme")" test -s "$WORK/header"
check "every config.h variable has a README row (expected none missing, saw: ${missing:-none})" test -z "$missing"
check "every README row is a config.h variable (expected none extra, saw: ${extra:-none})" test -z "$extra"
dups=$(sed -n 's/^| `\([A-Z][A-Z0-9_]*\)` |.*/\1/p' "$top_srcdir/README.md" | sort | uniq -d | tr '\n' ' ')
check "no variable has two README rows (saw: ${dups:-none})" test -z "$dups"
# getenv in C: only config.c, and the child-environment reads that carry a comment saying so
grep -n 'getenv *(' "$top_srcdir"/src/*.c "$top_srcdir"/preload/*.c "$top_srcdir"/tools/*.c |
    grep -v '^[^:]*/src/config\.c:' >"$WORK/getenv" || true
bad=$(grep -v 'getenv("PATH")\|getenv("LD_PRELOAD")' "$WORK/getenv" | sed 's|.*/\([a-z]*/[a-z_]*\.c:[0-9]*\):.*|\1|' | tr '\n' ' ')
check "getenv outside src/config.c only for a child's PATH/LD_PRELOAD (saw: ${bad:-none})" test -z "$bad"
says_why() { sed -n "$(($2 - 1))p" "$1" | grep -qi 'child\|execvp'; }
while IFS= read -r hit; do
    f=${hit%%:*}; rest=${hit#*:}; n=${rest%%:*}
    check "${f##*/}:$n reads the child's environment and says why in the line above" says_why "$f" "$n"
done <"$WORK/getenv"
finish
