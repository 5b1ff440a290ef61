#!/bin/sh
# make lint: cppcheck and clang-tidy over the C sources of src/, preload/ and tools/.
# Usage: tools/lint.sh SRCDIR BUILDDIR [FILE...]   (no FILE: every source)
# Suppressions, each with its reason: tools/lint/cppcheck.supp (cppcheck) and
# tools/lint/clang-tidy.known (findings of clang-tidy known to be false, "file check").
# Exit status 1 on any other finding; it is printed as the tool printed it.
set -u
src=${1:?srcdir} build=${2:?builddir}
shift 2
cd "$src" || exit 1
[ $# -gt 0 ] || set -- src/*.c preload/*.c tools/*.c
status=0
for tool in cppcheck clang-tidy; do
    command -v $tool >/dev/null || { echo "lint: $tool not found (Debian: apt-get install -y $tool)"; exit 1; }
done

echo "lint: cppcheck ($#  files)"
cppcheck -q --std=c11 --enable=warning,portability --inline-suppr --error-exitcode=1 \
    -Isrc -Iinclude -D__x86_64__ -D__linux__ -DSP_VERSION='"lint"' \
    --suppressions-list=tools/lint/cppcheck.supp "$@" || status=1

echo "lint: clang-tidy ($# files, .clang-tidy)"
out=$(mktemp "${TMPDIR:-/tmp}/sp-lint.XXXXXX") || exit 1
flags="-std=gnu11 -D_GNU_SOURCE -Isrc -Iinclude -I$build -I$build/tools -include src/glibc_floor.h
    -DSP_VERSION=\"lint\" -DSP_BINDIR=\"/usr/bin\" -DSP_LIBDIR=\"/usr/lib\" -I$build/deps/include
    $(pkg-config --cflags jansson libcurl zlib libprotobuf-c 2>/dev/null)"
# shellcheck disable=SC2086
clang-tidy --quiet "$@" -- $flags >"$out" 2>&1
# A finding is "path:line:col: error: text [check,...]"; known ones are "path check" lines.
grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error): ' "$out" | sed "s|^$PWD/||" | while IFS= read -r line; do
    file=${line%%:*}
    check=$(printf '%s\n' "$line" | sed -n 's/.*\[\([^],]*\).*\]$/\1/p')
    if grep -v '^#' tools/lint/clang-tidy.known | grep -qx "$file $check"; then continue; fi
    printf '%s\n' "$line"
done >"$out.new"
if [ -s "$out.new" ]; then
    cat "$out.new"
    echo "lint: clang-tidy: $(wc -l <"$out.new") finding(s) above (fix them, or add \"file check\" with a reason to tools/lint/clang-tidy.known)"
    status=1
fi
rm -f "$out" "$out.new"
[ $status = 0 ] && echo "lint: clean"
exit $status
