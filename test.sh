#!/bin/sh
# Installs what is missing, builds with -Werror and runs every test (`make check`: Check
# unit tests and end-to-end tests with real node), the Node version matrix (`make
# check-matrix`: Node 18-26), then the unit tests once more under AddressSanitizer and
# UndefinedBehaviorSanitizer, and the threaded modules' unit tests under ThreadSanitizer.
# Build trees: _build/, _build-asan/ and _build-tsan/.
set -e
cd "$(dirname "$0")"
top=$PWD
tools/install-deps.sh --test
./autogen.sh >/dev/null 2>&1
jobs=$(nproc)

mkdir -p _build && cd _build
"$top"/configure -q --enable-werror
make -s -j"$jobs"
# The bench's pinned load generator (tests/bench/package.json), so that tests/bench/ runs
# on a CI machine as it is; the bench itself is not part of the tests.
"$top"/tests/bench/deps.sh "$PWD/_bench-deps" >/dev/null
if ! make -s -j"$jobs" check; then
    cat test-suite.log
    exit 1
fi
# The source tarball holds what git tracks (make dist and a comparison: ~15 s). The full
# `make distcheck` runs the whole make check again from it: a release step, not CI.
make -s check-dist
# The same build against Node 18, 20, 22, 24 and 26 (from the npm registry, cached).
make -s check-matrix 2>&1 | tee matrix.log
grep -q '^matrix: [0-9]* passed, 0 failed$' matrix.log || exit 1
cd "$top"

mkdir -p _build-asan && cd _build-asan
"$top"/configure -q --enable-werror \
    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all"
make -s -j"$jobs"
if ! ASAN_OPTIONS=detect_leaks=1 make -s -j"$jobs" check-unit; then
    cat test-suite.log
    exit 1
fi
cd "$top"

mkdir -p _build-tsan && cd _build-tsan
"$top"/configure -q --enable-werror CFLAGS="-O1 -g -fsanitize=thread"
make -s -j"$jobs"
if ! make -s -j"$jobs" check-tsan; then
    cat test-suite.log
    exit 1
fi
cd "$top"
# One plain closing line over all runs, from automake's own counts.
sum() { awk -v k="$1" '$1 == "#" && $2 == k":" { n += $3 } END { print n + 0 }' _build/test-suite.log _build-asan/test-suite.log _build-tsan/test-suite.log; }
mp=$(sed -n 's/^matrix: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' _build/matrix.log)
mf=$(sed -n 's/^matrix: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' _build/matrix.log)
echo "tests: $(( $(sum PASS) + ${mp:-0} )) passed, $(( $(sum FAIL) + $(sum ERROR) + ${mf:-0} )) failed"
