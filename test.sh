#!/bin/sh
# Installs what is missing, builds with -Werror and runs every test (`make check`: Check
# unit tests and end-to-end tests with real node), the Node version matrix (`make
# check-matrix`: Node 18-26), then the unit tests once more under AddressSanitizer and
# UndefinedBehaviorSanitizer, the threaded modules' unit tests under ThreadSanitizer, and
# the fuzz targets under libFuzzer, and make lint (cppcheck, clang-tidy); and the glibc
# floor in a Debian 11 root (make check-glibc-floor, its debootstrap in the background from
# the start), the musl build (make check-musl) and the arm64 build under qemu-user (make
# check-arm64: Node 20 and 22). Build trees: _build/ (with _build/_fuzz/,
# _build/_build-musl/ and _build/_arm64/), _build-asan/ and _build-tsan/.
set -e
cd "$(dirname "$0")"
top=$PWD
tools/install-deps.sh --test
./autogen.sh >/dev/null 2>&1
jobs=$(nproc)
# The Debian 11 root of make check-glibc-floor (below), in the background while the build
# and make check run: its debootstrap is network and disk more than CPU (once; cached).
floor_root_log=$(mktemp /tmp/sp-floor-root.XXXXXX)
bash tests/glibc-floor/root.sh >/dev/null 2>"$floor_root_log" &
floor_root_pid=$!

mkdir -p _build && cd _build
"$top"/configure -q --enable-werror
make -s -j"$jobs"
# make lint (cppcheck and clang-tidy over every C source, ~3.5 CPU minutes) at the lowest
# priority in the background: it takes the CPU that make check's end-to-end tests leave idle,
# and is waited for after the matrix. A finding fails CI like a test. The script itself, not
# `make lint`: that one would remake `all` in this tree while make check builds in it.
nice -n 19 sh "$top"/tools/lint.sh "$top" "$PWD" >lint.log 2>&1 &
lint_pid=$!
# arm64 (issue #18), first half, in the background at low priority from here: the cross
# compiler, qemu-user and the :arm64 packages (one apt run, after this build's own
# `apt-get source` calls), the cross build into _build/_arm64 (its jemalloc and jansson
# too), the arm64 library's shape checks and the official arm64 Node 20 and 22 from npm
# (ARM64_PREPARE=1 make check-arm64: nothing emulated, nothing timed). The emulated half
# runs beside the fuzz stage below.
nice -n 10 sh -c '"$1"/tools/install-deps.sh --arm64 && ARM64_PREPARE=1 make -s check-arm64' sh "$top" >arm64-prepare.log 2>&1 &
arm64_prep_pid=$!
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
# Still running (a machine with no idle CPU starves nice 19: under two CPU hogs clang-tidy
# got ~2% of a core and CI sat here for an hour): back to normal priority for the rest.
renice_tree() { renice -n 0 -p "$1" >/dev/null 2>&1; for c in $(pgrep -P "$1" 2>/dev/null); do renice_tree "$c"; done; }
kill -0 "$lint_pid" 2>/dev/null && renice_tree "$lint_pid"
kill -0 "$arm64_prep_pid" 2>/dev/null && renice_tree "$arm64_prep_pid"
lint_rc=0
wait "$lint_pid" || lint_rc=$?
tail -3 lint.log
[ "$lint_rc" -eq 0 ] || { cat lint.log; exit 1; }
arm64_prep_rc=0
wait "$arm64_prep_pid" || arm64_prep_rc=$?
grep -E '^(not ok|[0-9]+ passed)' arm64-prepare.log || true
[ "$arm64_prep_rc" -eq 0 ] || { tail -40 arm64-prepare.log; exit 1; }
# glibc 2.31 for real (issue #18): the library with the official Node 20, and the CLI against
# bullseye's libcurl, in the Debian 11 root made above.
floor_start=$(date +%s)
wait "$floor_root_pid" || { cat "$floor_root_log"; rm -f "$floor_root_log"; exit 1; }
cat "$floor_root_log"
rm -f "$floor_root_log"
make -s check-glibc-floor 2>&1 | tee glibc-floor.log
grep -q '^[0-9]* passed, 0 failed$' glibc-floor.log || exit 1
echo "glibc-floor: $(( $(date +%s) - floor_start )) s (waiting for the root included)"
# Fuzzing (issue #20): each libFuzzer target 60 s with ASan+UBSan, two at a time (make fuzz,
# tests/fuzz/run.sh: clang, build tree _build/_fuzz). Its length is set by the clock (9 targets
# x 60 s / 2), not by the CPU it gets, so it runs in the background beside the musl, ASan and
# TSan stages below (about 5 minutes of CI saved); its log is printed when it is waited for.
fuzz_start=$(date +%s)
make -s fuzz FUZZ_SECONDS=60 FUZZ_JOBS=2 >fuzz.log 2>&1 &
fuzz_pid=$!
# The soak's short form (issue #20: tests/soak/soak.sh, 8 s per fixture at 1 kHz beside the
# same fixture unprofiled; ~1 minute of wall, little CPU) in the background too.
soak_start=$(date +%s)
# The script, not make check-soak-short: that one would remake 'all' here beside the
# musl stage's make.
SOAK_SECONDS=8 top_srcdir="$top" top_builddir="$PWD" NODE="$(command -v node)" \
    bash "$top"/tests/soak/soak.sh >soak-short.log 2>&1 &
soak_pid=$!
# arm64 (issue #18), second half: make check-arm64 under qemu-user (the unit suites of the
# signal path, the library inert in an arm64 program, and hot.js, http-app.js and
# workers.js in the official arm64 Node 20 and 22; its apps size their work by CPU clock,
# so sharing the CPU with the stages beside it slows it but does not skew it).
arm64_start=$(date +%s)
make -s check-arm64 >arm64.log 2>&1 &
arm64_pid=$!
# musl (issue #18): the library and the handler, ring, walk and spool suites built with
# musl-gcc into _build-musl/ and run (make check-musl; ~80 s with its dependencies cached).
musl_start=$(date +%s)
make -s check-musl 2>&1 | tee musl.log
grep -q '^[0-9]* passed, 0 failed$' musl.log || exit 1
echo "musl: $(( $(date +%s) - musl_start )) s"
cd "$top"

mkdir -p _build-asan && cd _build-asan
"$top"/configure -q --enable-werror \
    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all"
make -s -j"$jobs"
# The fuzz stage runs beside the sanitizer stages: Check's timeouts (4 s unless a suite sets
# one) get 5 times as long, so a slowed test is not taken for a hung one.
if ! CK_TIMEOUT_MULTIPLIER=5 ASAN_OPTIONS=detect_leaks=1 make -s -j"$jobs" check-unit; then
    cat test-suite.log
    exit 1
fi
cd "$top"

mkdir -p _build-tsan && cd _build-tsan
"$top"/configure -q --enable-werror CFLAGS="-O1 -g -fsanitize=thread"
make -s -j"$jobs"
if ! CK_TIMEOUT_MULTIPLIER=5 make -s -j"$jobs" check-tsan; then
    cat test-suite.log
    exit 1
fi
cd "$top"
# The fuzz stage started before the musl stage.
cd _build
fuzz_rc=0
wait "$fuzz_pid" || fuzz_rc=$?
cat fuzz.log
[ "$fuzz_rc" -eq 0 ] || exit 1
echo "fuzz: $(( $(date +%s) - fuzz_start )) s for the build and every target (beside musl, ASan and TSan)"
soak_rc=0
wait "$soak_pid" || soak_rc=$?
grep -E '^(soak:|not ok|[0-9]+ passed)' soak-short.log
[ "$soak_rc" -eq 0 ] || { cat soak-short.log; exit 1; }
echo "soak-short: $(( $(date +%s) - soak_start )) s (beside musl, ASan and TSan)"
arm64_rc=0
wait "$arm64_pid" || arm64_rc=$?
grep -E '^(# (cross build|unit suites|node [0-9]+).*: [0-9.]+ s$|not ok|[0-9]+ passed)' arm64.log
[ "$arm64_rc" -eq 0 ] || { cat arm64.log; exit 1; }
echo "arm64: $(( $(date +%s) - arm64_start )) s under qemu-user (beside fuzz, musl, ASan and TSan)"
cd "$top"
# The campaign table of issue #20 with this run's results (the committed one is
# tests/RELIABILITY.md, from make reliability).
top_srcdir=$top top_builddir=$top/_build node tests/reliability.js _build/RELIABILITY.md
# One plain closing line over all runs, from automake's own counts.
sum() { awk -v k="$1" '$1 == "#" && $2 == k":" { n += $3 } END { print n + 0 }' _build/test-suite.log _build-asan/test-suite.log _build-tsan/test-suite.log; }
mp=$(sed -n 's/^matrix: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' _build/matrix.log)
mf=$(sed -n 's/^matrix: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' _build/matrix.log)
up=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' _build/musl.log | tail -1)
uf=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' _build/musl.log | tail -1)
gp=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' _build/glibc-floor.log | tail -1)
gf=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' _build/glibc-floor.log | tail -1)
ap=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' _build/arm64.log | tail -1)
af=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' _build/arm64.log | tail -1)
echo "tests: $(( $(sum PASS) + ${mp:-0} + ${gp:-0} + ${up:-0} + ${ap:-0} )) passed, $(( $(sum FAIL) + $(sum ERROR) + ${mf:-0} + ${gf:-0} + ${uf:-0} + ${af:-0} )) failed"
