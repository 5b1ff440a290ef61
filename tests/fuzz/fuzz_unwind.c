/* Fuzz target: the signal handler's stack walk (src/unwind.c, with V8's frame slots,
 * src/v8frames.c) on synthetic stacks. The input gives the interrupted pc/sp/fp (lr = 0 on
 * arm64, src/arch.h) and the stack's words; a word whose top byte is 0xAA is turned into a
 * pointer into the stack (its low 16 bits an offset), so the fuzzer can build frame-pointer chains;
 * 0xBB00000000000000 is the sigreturn trampoline's address (signal frames). The stack is
 * an exact-size heap buffer: a read outside [lo, hi) is an AddressSanitizer report. The
 * walk must stay bounded and its sample well-formed. */
#include <stdbool.h>
#include <ucontext.h>

#include "arch.h"
#include "fuzz.h"
#include "ring.h"
#include "unwind.h"
#include "v8consts.h"
#include "v8decode.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    /* Turns on the capture of V8's interpreted-frame slots during the walk. */
    if (!sp_v8decode_init_with(sp_fuzz_v8get)) abort();
    /* A word 0xBB00000000000000 is the sigreturn trampoline's address: the walk reads the
     * signal frame after it. */
    sp_unwind_set_restorer(0xBB00000000000000ull);
    return 0;
}

static uint64_t fix(uint64_t w, uintptr_t lo)
{
    return (w >> 56) == 0xAA ? (uint64_t)lo + (w & 0xffff) : w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 25) return 0;
    size_t words = (size - 24) / 8;
    if (words == 0 || words > 8192) return 0;
    uint64_t *stack = malloc(words * 8);
    if (!stack) abort();
    uintptr_t lo = (uintptr_t)stack, hi = lo + words * 8;
    memcpy(stack, data + 24, words * 8);
    for (size_t i = 0; i < words; i++) stack[i] = fix(stack[i], lo);
    uint64_t reg[3];
    memcpy(reg, data, 24);
    ucontext_t uc;
    memset(&uc, 0, sizeof uc);
    sp_arch_set_regs(&uc, (uintptr_t)reg[0], (uintptr_t)fix(reg[1], lo), (uintptr_t)fix(reg[2], lo), 0);
    sp_sample_t s;
    memset(&s, 0x5a, sizeof s);
    sp_unwind_capture(&uc, lo, hi, &s);
    SP_FUZZ_CHECK(s.nframes >= 1 && s.nframes <= SP_MAX_FRAMES, "nframes %u", (unsigned)s.nframes);
    SP_FUZZ_CHECK(s.nv8 <= SP_V8_MAX_FRAMES, "nv8 %u", (unsigned)s.nv8);
    /* pcs[0] is the interrupted pc, unless that was another handler's entry: then the sample
     * is the code that handler interrupted, from the signal frame (inside the stack). */
    SP_FUZZ_CHECK(s.pcs[0] == reg[0] || ((s.flags & SP_SAMPLE_SIGFRAME) && s.sp >= lo && s.sp < hi),
                  "pcs[0] %#llx is neither the interrupted pc %#llx nor a signal frame's (flags %#x, sp %#llx)",
                  (unsigned long long)s.pcs[0], (unsigned long long)reg[0], (unsigned)s.flags,
                  (unsigned long long)s.sp);
    SP_FUZZ_CHECK(s.nsig <= SP_MAX_SIGFRAMES, "nsig %u", (unsigned)s.nsig);
    for (unsigned i = 0; i < s.nsig; i++)
        SP_FUZZ_CHECK(s.sig[i].frame > 0 && s.sig[i].frame < s.nframes &&
                          s.sig[i].sp >= lo && s.sig[i].sp < hi,
                      "sig %u: frame %u of %u, sp %#llx", i, (unsigned)s.sig[i].frame,
                      (unsigned)s.nframes, (unsigned long long)s.sig[i].sp);
    for (unsigned i = 0; i < s.nv8; i++)
        SP_FUZZ_CHECK(s.v8[i].frame < s.nframes, "v8 slot %u names frame %u of %u", i,
                      (unsigned)s.v8[i].frame, (unsigned)s.nframes);
    free(stack);
    return 0;
}
