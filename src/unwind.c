/* unwind: the stack walk of the signal handler. Async-signal-safe only: reads memory only
 * inside [sp, stack_hi) of the sampled thread (always mapped below the stack top), never
 * calls into libc or libunwind (libunwind 1.6 takes the loader lock via dl_iterate_phdr
 * and validates through a global pipe: docs/HAZARDS.md §4), never allocates.
 *
 * Signal frames: when our signal lands while another handler runs on the thread (V8's
 * SIGPROF sampler under --cpu-prof, the inspector or @sentry/profiling-node), that handler's
 * frames end in the return address the kernel gave it: the C library's sigreturn
 * trampoline (glibc's __restore_rt), whose address sampler.c reads once from our own
 * handler's sigaction. The kernel's x86_64 rt_sigframe is {pretcode, ucontext, siginfo,
 * FPU state}: the ucontext follows that word, and the walk goes on from the rip/rsp/rbp it
 * saved. The frame is trusted only as the kernel writes it (uc_link 0, known uc_flags, the
 * FPU state pointer just above it, the saved sp above it on the same stack), so a stale
 * copy of the trampoline's address in a frame's locals ends the walk as before. */
#include "unwind.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "v8frames.h"

#define SP_MIN_CODE_ADDR 0x10000 /* below this a "return address" is garbage */
/* The FPU state (xsave area, up to ~11 KiB with AMX) sits between the ucontext and the
 * interrupted sp; further than this is not a frame the kernel wrote. */
#define SP_SIGFRAME_FP_MAX (64 * 1024)
#define SP_UC_WORD(f) (offsetof(ucontext_t, f) / 8)

static _Atomic uintptr_t restorer; /* 0: unknown, signal frames end the walk */

void sp_unwind_set_restorer(uintptr_t addr)
{
    atomic_store_explicit(&restorer, addr, memory_order_relaxed);
}

uintptr_t sp_unwind_restorer(void) { return atomic_load_explicit(&restorer, memory_order_relaxed); }

bool sp_unwind_init_restorer(int signo)
{
    /* rt_sigreturn: mov $15,%rax; syscall (glibc's and musl's __restore_rt) */
    static const unsigned char code[] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};
    struct sigaction cur;
    if (sigaction(signo, NULL, &cur) != 0 || !cur.sa_restorer ||
        memcmp((const void *)cur.sa_restorer, code, sizeof code) != 0)
        return false;
    sp_unwind_set_restorer((uintptr_t)cur.sa_restorer);
    return true;
}

/* The context the kernel saved in the signal frame whose return address is the word at
 * slot (inside [lo, hi)): true and *pc, *sp, *fp when it reads as a frame the kernel wrote
 * and the interrupted sp lies above it, inside [lo, hi). */
static bool sigframe_context(uintptr_t slot, uintptr_t lo, uintptr_t hi, uintptr_t *pc,
                             uintptr_t *sp, uintptr_t *fp)
{
    const size_t len = offsetof(ucontext_t, uc_mcontext.fpregs) + 8; /* what is read */
    uintptr_t uc = slot + 8;
    if (slot < lo || slot > hi || hi - slot < 8 + len || (slot & 7)) return false;
    const uint64_t *w = (const uint64_t *)uc;
    uint64_t flags = w[SP_UC_WORD(uc_flags)], link = w[SP_UC_WORD(uc_link)];
    uint64_t fpu = w[SP_UC_WORD(uc_mcontext.fpregs)];
    /* uc_flags: UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS at most */
    if ((flags & ~7ull) || link) return false;
    if (fpu && (fpu < uc + len || fpu - uc > SP_SIGFRAME_FP_MAX)) return false;
    uintptr_t rsp = (uintptr_t)w[SP_UC_WORD(uc_mcontext.gregs[REG_RSP])];
    uintptr_t rip = (uintptr_t)w[SP_UC_WORD(uc_mcontext.gregs[REG_RIP])];
    if (rsp <= uc + len || rsp > hi - 8 || (rsp & 7) || (fpu && rsp <= fpu) || rip < SP_MIN_CODE_ADDR)
        return false;
    *pc = rip;
    *sp = rsp;
    *fp = (uintptr_t)w[SP_UC_WORD(uc_mcontext.gregs[REG_RBP])];
    return true;
}

void sp_unwind_capture(const ucontext_t *uc, uintptr_t stack_lo, uintptr_t stack_hi,
                       sp_sample_t *s)
{
    const greg_t *g = uc->uc_mcontext.gregs;
    uintptr_t pc = (uintptr_t)g[REG_RIP];
    uintptr_t sp = (uintptr_t)g[REG_RSP];
    uintptr_t fp = (uintptr_t)g[REG_RBP];
    uintptr_t ret_rt = sp_unwind_restorer();
    int n = 0;

    s->flags = 0;
    s->sp = sp;
    s->fp = fp;
    s->sp_word = 0;
    s->nv8 = 0;
    s->nsig = 0;
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
    s->sp_word = *(const uint64_t *)sp;

    /* One pass per context: the interrupted one, then each one a signal handler
     * interrupted (pcs[n - 1] is the context's pc, sp and fp its registers). */
    uintptr_t lo = sp;
    for (;;) {
        uintptr_t slot = 0; /* where a signal frame's return address was found */
        /* A handler that has not built its frame yet (the kernel sets up two frames at
         * once when two signals are pending, so ours often lands on the other's first
         * instruction): the return address is at sp, or above the rbp it pushed. */
        bool entry = false;
        if (ret_rt && *(const uint64_t *)sp == ret_rt)
            slot = sp, entry = true;
        else if (ret_rt && sp <= stack_hi - 16 && *(const uint64_t *)sp == fp &&
                 ((const uint64_t *)sp)[1] == ret_rt)
            slot = sp + 8, entry = true;
        else
            sp_v8frames_capture(s, (unsigned)n - 1, fp, sp, stack_hi); /* the leaf's frame (or its JS caller's) */

        /* Each frame: [fp] = caller's fp, [fp+8] = return address. Frames must move
         * strictly up the stack, so the walk ends even on a corrupted chain. */
        while (!slot && n < SP_MAX_FRAMES) {
            if (fp == 0) break; /* the outermost frame */
            /* Leaving the stack is how most walks end: the outermost C frames (libc's
             * start code) do not keep rbp, so it is not reported as truncation. */
            if (fp < lo || fp > stack_hi - 16 || (fp & 7)) break;
            uintptr_t next = ((const uint64_t *)fp)[0];
            uintptr_t ret = ((const uint64_t *)fp)[1];
            if (ret < SP_MIN_CODE_ADDR) break;
            if (ret_rt && ret == ret_rt) { /* a handler's outermost frame: fp + 8 is the slot */
                slot = fp + 8;
                break;
            }
            s->pcs[n++] = ret;
            if (next != 0 && next <= fp) break;
            sp_v8frames_capture(s, (unsigned)n - 1, next, sp, stack_hi); /* ret's frame */
            lo = fp + 16;
            fp = next;
        }
        if (!slot) break;
        uintptr_t ipc, isp, ifp;
        if (n == SP_MAX_FRAMES || s->nsig == SP_MAX_SIGFRAMES ||
            !sigframe_context(slot, slot, stack_hi, &ipc, &isp, &ifp)) {
            s->flags |= SP_SAMPLE_SIGFRAME_STOP | SP_SAMPLE_TRUNCATED;
            break;
        }
        s->flags |= SP_SAMPLE_SIGFRAME;
        if (n == 1 && entry) {
            /* The other handler has not run yet (at most pushed rbp): the time so far
             * is the interrupted code's, so the sample is its, as if ours had come
             * first. */
            s->pcs[0] = ipc;
            s->sp = sp = lo = isp;
            s->fp = fp = ifp;
            s->sp_word = *(const uint64_t *)isp;
            continue;
        }
        sp_sig_ctx_t *c = &s->sig[s->nsig++];
        c->frame = (uint16_t)n;
        c->sp = isp;
        c->sp_word = *(const uint64_t *)isp;
        s->pcs[n++] = ipc + 1; /* read as a return address, it resolves to ipc itself */
        sp = lo = isp;
        fp = ifp;
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
