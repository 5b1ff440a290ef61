#!/usr/bin/env bash
# Every shell script of the tree parses (`sh -n` for #!/bin/sh, `bash -n` for bash). Most
# of them run in make check, where a syntax error fails a test; the long forms (make soak,
# make bench, make fidelity, check-arm64, the busy-machine runs) run by hand, and a typo in
# one of those went unnoticed until the run it was written for (tests/soak/spawn.sh, a
# quote missing in its result line).
. "$(dirname "$0")/e2e/lib.sh"
n=0
bad=()
while IFS= read -r f; do
    case "$(head -1 "$f")" in
    *bash*) shell=bash ;;
    *) shell=sh ;;
    esac
    n=$((n + 1))
    if ! out=$("$shell" -n "$f" 2>&1); then
        bad+=("${f#"$top_srcdir"/}")
        echo "$out" | head -3 | sed 's/^/# /'
    fi
done < <(find "$top_srcdir" \( -name .git -o -name '_build*' -o -name node_modules \) -prune -o -name '*.sh' -type f -print | sort)
check "$n shell scripts parse (expected none failing, saw: ${bad[*]:-none})" test "$n" -gt 0 -a "${#bad[@]}" = 0
finish
