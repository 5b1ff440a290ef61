#!/usr/bin/env bash
# Issue #13, native frames without frame pointers: a sample whose leaf is in glibc (memmove
# of Buffer.copy, read(2) of fs.readSync, malloc of Buffer.allocUnsafeSlow) keeps its callers
# up to the JS function that called into it: the handler copies the stack top, the agent unwinds it through .eh_frame
# (libunwind) and joins the frame-pointer walk. The same run with SENTRYPROF_NATIVE_UNWIND=false
# is printed beside it (what the frame-pointer walk alone keeps). Shares, not counts: a loaded
# machine changes how many samples come, not where they land.
# The same chunks carry the native images of their native frames (debug_meta, type
# "symbolic"): every native frame of a file lies in its file's image (but V8's builtins that
# node maps a second time), libc's image has the build id readelf shows, and with libc's
# debug file installed (libc6-dbg) glibc leaves are named from it.
. "$(dirname "$0")/lib.sh"
need_node
run() { # run NAME [VAR=value...]: the app under the shim; prints the facts
    local name=$1
    shift
    env "$@" SENTRYPROF_CHUNK_SECONDS=5 SENTRYPROF_DEBUG=1 SENTRYPROF_SPOOL_DIR="$WORK/$name" LD_PRELOAD=$SP_LIB \
        "$NODE" "$APPS/native-leaf.js" 2 >"$WORK/$name.out" 2>"$WORK/$name.err"
    echo $? >"$WORK/$name.rc"
    mapfile -t files < <(spool_files "$WORK/$name")
    "$NODE" "$(dirname "$0")/native-leaf-facts.js" copyLoop,readLoop,allocLoop "${files[@]}"
}
off=$(run off SENTRYPROF_NATIVE_UNWIND=false)
on=$(run on)
echo "# fp walk only: $off"
echo "# with the stack copy: $on"
grep -E 'native_|handler' "$WORK/on.err" | sed 's/^/# /' || true
for r in on off; do
    check "$r: app exit code 0 (saw $(cat "$WORK/$r.rc"))" test "$(cat "$WORK/$r.rc")" = 0
    check "$r: app stdout unchanged" test "$(cat "$WORK/$r.out")" = done
done
glibc=$("$NODE" -p "($on).glibcLeaves")
check "samples with a glibc leaf: >= 30 (saw $glibc)" test "$glibc" -ge 30
share=$("$NODE" -p "const f = $on; (f.withJs / f.glibcLeaves).toFixed(3)")
share_off=$("$NODE" -p "const f = $off; f.glibcLeaves ? (f.withJs / f.glibcLeaves).toFixed(3) : 0")
# Measured 0.92 (frame pointers alone: 0.20): the rest are node's start-up and teardown
# (OpenSSL's and ICU's initializers, the heap's teardown), where no JS runs.
check "glibc leaves with a JS frame on their stack: >= 80% (saw $share; frame pointers alone: $share_off)" \
    awk -v s="$share" 'BEGIN { exit !(s >= 0.8) }'
check "... more than with frame pointers alone ($share > $share_off)" awk -v s="$share" -v o="$share_off" 'BEGIN { exit !(s > o) }'
alloc=$("$NODE" -p "const f = $on; (f.withFn.allocLoop / f.glibcLeaves).toFixed(3)")
alloc_off=$("$NODE" -p "const f = $off; f.glibcLeaves ? (f.withFn.allocLoop / f.glibcLeaves).toFixed(3) : 0")
check "glibc leaves (malloc, free) under allocLoop: more than with frame pointers alone ($alloc > $alloc_off)" \
    awk -v s="$alloc" -v o="$alloc_off" 'BEGIN { exit !(s > o) }'
check "the stack copies were unwound (native_unwound > 0 in the counters)" \
    grep -Eq 'native_unwound[=: ]+[1-9]' "$WORK/on.err"

# debug_meta's native images.
fact() { "$NODE" -p "const f = $on; $1"; }
echo "# native images per chunk: $(fact "f.images.join(' ')"); their bytes per chunk: $(fact "f.imageBytes.join(' ')")"
mapfile -t files < <(spool_files "$WORK/on")
check "the chunks are valid envelopes, native images included ($("$NODE" "$(dirname "$0")/validate-envelope.js" "${files[@]}" 2>&1 | head -3 | tr '\n' ' '))" \
    "$NODE" "$(dirname "$0")/validate-envelope.js" "${files[@]}"
check "every chunk lists native images (per chunk: $(fact "f.images.join(' ')"))" \
    test "$(fact "f.images.length > 0 && Math.min(...f.images) > 0")" = true
check "every native frame of a file lies in that file's image ($(fact "f.inImage") of $(fact "f.nativeFrames"); V8's copied builtins $(fact "f.builtinCopies"); outside: $(fact "f.outside.join('; ') || 'none'"))" \
    test "$(fact "f.nativeFrames > 0 && f.inImage + f.builtinCopies === f.nativeFrames")" = true
check "every file of a native frame has an image (without: $(fact "f.noImage.join(' ') || 'none'"))" \
    test "$(fact "f.noImage.length")" = 0
libc_file=$(fact "f.libc ? f.libc.code_file : ''")
libc_id=$(readelf -n "$libc_file" 2>/dev/null | sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p' | head -1)
check "libc's image ($libc_file) has the build id readelf -n shows ($libc_id; ours $(fact "f.libc && f.libc.code_id"))" \
    test -n "$libc_id" -a "$(fact "f.libc.code_id")" = "$libc_id"
if [ -n "$libc_id" ] && [ -e "/usr/lib/debug/.build-id/${libc_id:0:2}/${libc_id:2}.debug" ]; then
    unnamed=$(fact "(f.unnamedGlibc / f.glibcLeaves).toFixed(3)")
    check "libc's debug file is installed: glibc leaves named from it, unnamed <= 5% (saw $unnamed; leaves: $(fact "Object.entries(f.leaves).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => k + ' ' + v).join(', ')"))" \
        awk -v s="$unnamed" 'BEGIN { exit !(s <= 0.05) }'
else
    echo "# libc's debug file is not installed: glibc leaves named from .dynsym only"
fi
finish
