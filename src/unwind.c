/* unwind: the stack walk of the signal handler. Async-signal-safe only: reads memory only
 * inside [sp, stack_hi) of the sampled thread (always mapped below the stack top), never
 * calls into libc or libunwind (libunwind 1.6 takes the loader lock via dl_iterate_phdr
 * and validates through a global pipe: docs/HAZARDS.md §4), never allocates. */
#include "unwind.h"

#include <errno.h>
#include <pthread.h>

#include "arch.h"
#include "v8frames.h"

#define SP_MIN_CODE_ADDR 0x10000 /* below this a "return address" is garbage */

void sp_unwind_capture(const ucontext_t *uc, uintptr_t stack_lo, uintptr_t stack_hi,
                       sp_sample_t *s)
{
    sp_arch_regs_t r;
    sp_arch_regs(uc, &r);
    uintptr_t pc = r.pc, sp = r.sp, fp = r.fp;
    int n = 0;

    s->flags = 0;
    s->sp = sp;
    s->fp = fp;
    s->sp_word = 0;
    s->nv8 = 0;
    s->pcs[n++] = pc;

    /* No sum that can wrap: an sp in the last 8 bytes of the address space passed
     * "sp + 8 > stack_hi" and was read (found by fuzzing: tests/fuzz/corpus/unwind/
     * crash-sp-wraps). */
    if (stack_hi - stack_lo < 8 || sp < stack_lo || sp > stack_hi - 8 || (sp & 7)) {
        /* Running on a stack we do not know (sigaltstack, a coroutine, V8's central stack):
         * keep the leaf only. */
        s->flags |= SP_SAMPLE_OFF_STACK | SP_SAMPLE_TRUNCATED;
        s->nframes = (uint16_t)n;
        return;
    }
    s->sp_word = sp_arch_leaf_ret(&r); /* x86_64: reads [sp], checked above */
    sp_v8frames_capture(s, 0, fp, sp, stack_hi); /* the leaf's frame (or its JS caller's) */

    /* Each frame record (src/arch.h): [fp] = caller's fp, [fp+8] = return address. Frames
     * must move strictly up the stack, so the walk ends even on a corrupted chain. */
    uintptr_t lo = sp;
    while (n < SP_MAX_FRAMES) {
        if (fp == 0) break; /* the outermost frame */
        /* Leaving the stack is how most walks end: the outermost C frames (libc's
         * start code) do not keep a frame pointer, so it is not reported as truncation. */
        if (fp < lo || fp > stack_hi - 16 || (fp & 7)) break;
        uintptr_t next = ((const uint64_t *)fp)[0];
        uintptr_t ret = ((const uint64_t *)fp)[1];
        if (ret < SP_MIN_CODE_ADDR) break;
        s->pcs[n++] = ret;
        if (next != 0 && next <= fp) break;
        sp_v8frames_capture(s, (unsigned)n - 1, next, sp, stack_hi); /* ret's frame */
        lo = fp + 16;
        fp = next;
    }
    if (n == SP_MAX_FRAMES && fp != 0) s->flags |= SP_SAMPLE_TRUNCATED;
    s->nframes = (uint16_t)n;
}

int sp_unwind_stack_bounds(uintptr_t *lo, uintptr_t *hi)
{
    pthread_attr_t attr;
    void *addr;
    size_t size;
    int rc = pthread_getattr_np(pthread_self(), &attr);
    if (rc) return -rc;
    rc = pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    if (rc) return -rc;
    *lo = (uintptr_t)addr;
    *hi = (uintptr_t)addr + size;
    return 0;
}
