/* Fuzz target: the V8 frame decoder (src/v8decode.c, src/v8jit.c and src/v8fn.c over
 * src/v8heap.c) on synthetic heaps.
 * The decoder reads the heap only through process_vm_readv on our own pid, so a heap can
 * be any buffer of ours: the input's words after the first 24 bytes, where a word whose
 * top byte is 0xAA becomes a pointer into the heap (its low 16 bits an offset, tag bits
 * included), so the fuzzer can build JSFunction -> SharedFunctionInfo -> Script -> name
 * chains, strings (sequential, cons, thin, sliced) and line-end tables. The first three
 * words are the frame's function, bytecode array and bytecode offset slots. Whatever the
 * heap says, the decoder names the frame or refuses; a name it gives is a NUL-terminated
 * string and a line a sane number. The same words also go through the optimized-frame
 * decoder (Code found from an instruction start, inlined functions expanded) and the
 * Sparkplug one (the Code's bytecode offset table walked with a BytecodeArray); a frame
 * whose closure does not check out through the owner the input reports for its bytecode. */
#include "fuzz.h"
#include "v8consts.h"
#include "v8baseline.h"
#include "v8decode.h"
#include "v8owner.h"

static uint64_t fix(uint64_t w, uintptr_t base)
{
    return (w >> 56) == 0xAA ? (uint64_t)base + (w & 0xffff) : w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 24) return 0;
    size_t words = (size - 24) / 8;
    if (words > 8192) return 0;
    uint64_t *heap = malloc((words ? words : 1) * 8);
    if (!heap) abort();
    uintptr_t base = (uintptr_t)heap;
    memcpy(heap, data + 24, words * 8);
    for (size_t i = 0; i < words; i++) heap[i] = fix(heap[i], base);
    uint64_t slot[3];
    memcpy(slot, data, 24);
    /* A fresh decoder: its caches are keyed by address, and this heap reuses addresses. */
    sp_v8decode_reset();
    if (!sp_v8decode_init_with(sp_fuzz_v8get)) abort();
    /* An owner V8 might have reported for the frame's bytecode (v8owner.h): the heap's
     * second word, named when the closure does not check out. */
    if (!sp_v8owner_init()) abort();
    sp_v8owner_clear();
    if (words > 1) sp_v8owner_add(fix(slot[1], base) - 1 + 64 /* BytecodeArray data */, heap[1], 1);
    sp_v8fn_t fn;
    if (sp_v8decode_frame(fix(slot[0], base), fix(slot[1], base), fix(slot[2], base), &fn)) {
        SP_FUZZ_CHECK(fn.function != NULL, "named without a function name");
        (void)strlen(fn.function);
        if (fn.script) (void)strlen(fn.script);
        SP_FUZZ_CHECK(fn.lineno >= 0 && fn.colno >= 0, "line %d, column %d", fn.lineno, fn.colno);
    }
    /* The same words as an optimized frame: the function slot, code whose instructions
     * start at the second word (an InstructionStream before it, in the heap), a pc the
     * third word's low 12 bits into it. */
    sp_v8fn_t out[16];
    uint64_t start = fix(slot[1], base);
    size_t n = sp_v8decode_jit_frame(fix(slot[0], base), start + (slot[2] & 0xfff), start,
                                     0x1000, out, 16);
    SP_FUZZ_CHECK(n <= 16, "%zu frames for room for 16", n);
    for (size_t i = 0; i < n; i++) {
        SP_FUZZ_CHECK(out[i].function != NULL, "inlined frame %zu without a function name", i);
        (void)strlen(out[i].function);
        SP_FUZZ_CHECK(out[i].lineno >= 0 && out[i].colno >= 0, "line %d, column %d",
                      out[i].lineno, out[i].colno);
    }
    /* The same words as a Sparkplug frame: bytecode sizes for every byte value, the
     * BytecodeArray at the heap's first word, the code and pc as above. */
    uint8_t sizes[3 * 256];
    for (int op = 0; op < 256; op++)
        for (int sc = 0; sc < 3; sc++)
            sizes[sc * 256 + op] = (uint8_t)(op < 4 ? 1 : 1 + (op % 5) * (1 << sc));
    if (!sp_v8baseline_set_sizes(sizes, 256)) abort();
    uint64_t bca = words ? heap[0] : 0;
    if (sp_v8decode_baseline_frame(fix(slot[0], base), bca, start + (slot[2] & 0xfff),
                                   (slot[2] >> 12) & 1, start, 0x1000, &fn)) {
        SP_FUZZ_CHECK(fn.function != NULL, "Sparkplug frame without a function name");
        (void)strlen(fn.function);
        SP_FUZZ_CHECK(fn.lineno >= 0 && fn.colno >= 0, "line %d, column %d", fn.lineno, fn.colno);
    }
    sp_v8decode_reset();
    free(heap);
    return 0;
}
