/* unwind: the stack walk of the signal handler. Async-signal-safe only: reads memory only
 * inside [sp, stack_hi) of the sampled thread (always mapped below the stack top), never
 * calls into libc or libunwind (libunwind 1.6 takes the loader lock via dl_iterate_phdr
 * and validates through a global pipe: docs/HAZARDS.md §4), never allocates.
 *
 * Signal frames: when our signal lands while another handler runs on the thread (V8's
 * SIGPROF sampler under --cpu-prof, the inspector or @sentry/profiling-node), that handler's
 * frames end in the return address the kernel gave it: the C library's sigreturn
 * trampoline (glibc's __restore_rt), whose address sampler.c reads once from our own
 * handler's sigaction. The kernel's signal frame with the interrupted context follows
 * that word (src/arch.h: sp_arch_sigframe_regs; x86_64 only so far), and the walk goes on
 * from the pc/sp/fp it saved. The frame is trusted only as the kernel writes it, with the
 * saved sp above it on the same stack, so a stale copy of the trampoline's address in a
 * frame's locals ends the walk as before. */
#include "unwind.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "arch.h"
#include "v8frames.h"

#define SP_MIN_CODE_ADDR 0x10000 /* below this a "return address" is garbage */

static _Atomic uintptr_t restorer; /* 0: unknown, signal frames end the walk */

void sp_unwind_set_restorer(uintptr_t addr)
{
    atomic_store_explicit(&restorer, addr, memory_order_relaxed);
}

uintptr_t sp_unwind_restorer(void) { return atomic_load_explicit(&restorer, memory_order_relaxed); }

bool sp_unwind_init_restorer(int signo)
{
    struct sigaction cur;
    if (sigaction(signo, NULL, &cur) != 0) return false;
    uintptr_t r = sp_arch_restorer(&cur);
    if (!r) return false;
    sp_unwind_set_restorer(r);
    return true;
}

/* The context the kernel saved in the signal frame whose return address is the word at
 * slot: true and *r when it reads as a frame the kernel wrote (src/arch.h:
 * sp_arch_sigframe_regs, inside [slot, hi)) and the interrupted sp lies above it, inside
 * [slot, hi), with a pc that can be code. */
SP_NO_ASAN static bool sigframe_context(uintptr_t slot, uintptr_t hi, sp_arch_regs_t *r)
{
    if ((slot & 7) || slot > hi || !sp_arch_sigframe_regs(slot, hi, r)) return false;
    return r->sp > slot && r->sp <= hi - 8 && !(r->sp & 7) && r->pc >= SP_MIN_CODE_ADDR;
}

SP_NO_ASAN void sp_unwind_capture(const ucontext_t *uc, uintptr_t stack_lo, uintptr_t stack_hi,
                                  sp_sample_t *s)
{
    sp_arch_regs_t r;
    sp_arch_regs(uc, &r);
    uintptr_t pc = r.pc, sp = r.sp, fp = r.fp;
    uintptr_t ret_rt = sp_unwind_restorer();
    int n = 0;

    s->flags = 0;
    s->sp = sp;
    s->fp = fp;
    s->sp_word = 0;
    s->stack_len = 0;
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
    s->sp_word = sp_arch_leaf_ret(&r); /* x86_64: reads [sp], checked above */

    /* One pass per context: the interrupted one, then each one a signal handler
     * interrupted (pcs[n - 1] is the context's pc, sp and fp its registers). */
    uintptr_t lo = sp;
    for (;;) {
        uintptr_t slot = 0; /* where a signal frame's return address was found */
        /* A handler that has not built its frame yet (the kernel sets up two frames at
         * once when two signals are pending, so ours often lands on the other's first
         * instruction): the return address is at sp, or above the rbp it pushed. */
        bool entry = false;
        if (ret_rt && sp_arch_stack_word(sp) == ret_rt)
            slot = sp, entry = true;
        else if (ret_rt && sp <= stack_hi - 16 && sp_arch_stack_word(sp) == fp &&
                 sp_arch_stack_word(sp + 8) == ret_rt)
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
            uintptr_t next = sp_arch_stack_word(fp);
            uintptr_t ret = sp_arch_stack_word(fp + 8);
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
        sp_arch_regs_t ir;
        if (n == SP_MAX_FRAMES || s->nsig == SP_MAX_SIGFRAMES || !sigframe_context(slot, stack_hi, &ir)) {
            s->flags |= SP_SAMPLE_SIGFRAME_STOP | SP_SAMPLE_TRUNCATED;
            break;
        }
        s->flags |= SP_SAMPLE_SIGFRAME;
        if (n == 1 && entry) {
            /* The other handler has not run yet (at most pushed rbp): the time so far
             * is the interrupted code's, so the sample is its, as if ours had come
             * first. */
            s->pcs[0] = ir.pc;
            s->sp = sp = lo = ir.sp;
            s->fp = fp = ir.fp;
            s->sp_word = sp_arch_leaf_ret(&ir);
            continue;
        }
        sp_sig_ctx_t *c = &s->sig[s->nsig++];
        c->frame = (uint16_t)n;
        c->sp = ir.sp;
        c->sp_word = sp_arch_leaf_ret(&ir);
        s->pcs[n++] = ir.pc + 1; /* read as a return address, it resolves to the pc itself */
        sp = lo = ir.sp;
        fp = ir.fp;
    }
    if (n == SP_MAX_FRAMES && fp != 0) s->flags |= SP_SAMPLE_TRUNCATED;
    s->nframes = (uint16_t)n;
}

/* Relaxed atomics: the agent rewrites a range while a handler may read it; the worst a torn
 * read does is one copy made or skipped. */
static struct {
    _Atomic uint32_t n;
    _Atomic uint64_t lo[SP_NOFP_MAX], hi[SP_NOFP_MAX];
} nofp;

void sp_unwind_set_nofp(const uint64_t (*ranges)[2], size_t n)
{
    if (n > SP_NOFP_MAX) n = SP_NOFP_MAX;
    atomic_store_explicit(&nofp.n, 0, memory_order_release);
    for (size_t i = 0; i < n; i++) {
        atomic_store_explicit(&nofp.lo[i], ranges[i][0], memory_order_relaxed);
        atomic_store_explicit(&nofp.hi[i], ranges[i][1], memory_order_relaxed);
    }
    atomic_store_explicit(&nofp.n, (uint32_t)n, memory_order_release);
}

bool sp_unwind_pc_nofp(uint64_t pc)
{
    uint32_t n = atomic_load_explicit(&nofp.n, memory_order_acquire);
    if (n > SP_NOFP_MAX) n = SP_NOFP_MAX;
    for (uint32_t i = 0; i < n; i++)
        if (pc >= atomic_load_explicit(&nofp.lo[i], memory_order_relaxed) &&
            pc < atomic_load_explicit(&nofp.hi[i], memory_order_relaxed))
            return true;
    return false;
}

/* The stack copy reads the other frames' locals, which AddressSanitizer poisons around its
 * stack variables: where SP_NO_ASAN is on (src/arch.h) this copies word by word, since
 * its memcpy interceptor would check the range. The copy is ours: marked defined for
 * memcheck (SP_MEM_DEFINED, src/arch.h), as the rescan below and the agent's unwind branch
 * on its words. */
#if defined(SP_NO_ASAN_ON)
SP_NO_ASAN __attribute__((noinline)) static void copy_words(uint8_t *dst, const uint8_t *src, size_t len)
{
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint64_t w = *(const volatile uint64_t *)(src + i);
        *(volatile uint64_t *)(dst + i) = w;
    }
    SP_MEM_DEFINED(dst, len);
}
#else
static void copy_words(uint8_t *dst, const uint8_t *src, size_t len)
{
    memcpy(dst, src, len);
    SP_MEM_DEFINED(dst, len);
}
#endif

/* Whether a frame chain starts at fp (in the copy [sp, sp + len) the words are read from
 * buf): SP_SCAN_LINKS links, each moving up the stack, each with a code address above it. */
#define SP_SCAN_LINKS 3
SP_NO_ASAN static bool chain_at(const uint8_t *buf, uintptr_t sp, size_t len, uintptr_t fp, uintptr_t stack_hi)
{
    for (int i = 0; i < SP_SCAN_LINKS; i++) {
        if (fp < sp || fp > stack_hi - 16 || (fp & 7)) return false;
        uint64_t w[2];
        if (fp - sp + 16 <= len) memcpy(w, buf + (fp - sp), 16);
        else copy_words((uint8_t *)w, (const uint8_t *)fp, 16); /* above the copy: the live stack, in bounds */
        if (w[1] < SP_MIN_CODE_ADDR || w[0] <= fp) return false;
        fp = (uintptr_t)w[0];
    }
    return true;
}

/* A native leaf whose code uses rbp as a register leaves the walk nothing to follow. The
 * first saved rbp on the stack copy that starts a plausible chain (a guess: the agent keeps
 * it only where its .eh_frame unwind meets it) gives the frames beyond the copy, which only
 * the handler can still read. Bounded: one pass over the copy's words. */
SP_NO_ASAN static void rescan(sp_sample_t *s, const uint8_t *buf, size_t len, uintptr_t stack_hi)
{
    uintptr_t sp = (uintptr_t)s->sp;
    for (size_t off = 0; off + 8 <= len; off += 8) {
        uint64_t fp;
        memcpy(&fp, buf + off, 8);
        if (fp <= sp + off || fp > stack_hi - 16 || (fp & 7) || !chain_at(buf, sp, len, fp, stack_hi)) continue;
        unsigned kept = 0; /* the records of replaced frames go */
        for (unsigned i = 0; i < s->nv8; i++)
            if (s->v8[i].frame == 0) s->v8[kept++] = s->v8[i];
        s->nv8 = (uint16_t)kept;
        int n = 1;
        uintptr_t lo = fp;
        while (n < SP_MAX_FRAMES) {
            if (fp < lo || fp > stack_hi - 16 || (fp & 7)) break;
            uintptr_t next = sp_arch_stack_word(fp);
            uintptr_t ret = sp_arch_stack_word(fp + 8);
            if (ret < SP_MIN_CODE_ADDR) break;
            s->pcs[n++] = ret;
            if (next != 0 && next <= fp) break;
            sp_v8frames_capture(s, (unsigned)n - 1, next, sp, stack_hi);
            lo = fp + 16;
            fp = next;
            if (fp == 0) break;
        }
        if (n == SP_MAX_FRAMES && fp != 0) s->flags |= SP_SAMPLE_TRUNCATED;
        s->nframes = (uint16_t)n;
        s->flags |= SP_SAMPLE_SCANNED;
        return;
    }
}

bool sp_unwind_wants_stack(const sp_sample_t *s)
{
    return !(s->flags & SP_SAMPLE_OFF_STACK) && s->nframes && sp_unwind_pc_nofp(s->pcs[0]);
}

void sp_unwind_copy_stack(const ucontext_t *uc, uintptr_t stack_hi, sp_sample_t *s, uint8_t *buf)
{
    s->stack_len = 0;
    /* capture checked sp against the stack (OFF_STACK otherwise): sp <= stack_hi - 8 */
    if (!buf || !sp_unwind_wants_stack(s)) return;
    uintptr_t sp = (uintptr_t)s->sp;
    size_t len = stack_hi - sp < SP_STACK_COPY ? (size_t)(stack_hi - sp) : SP_STACK_COPY;
    copy_words(buf, (const uint8_t *)sp, len); /* len: a multiple of 8 (sp, stack_hi aligned) */
    if (s->nframes <= 2) rescan(s, buf, len, stack_hi);
#if defined(__x86_64__) /* the only architecture that publishes ranges so far */
    const greg_t *g = uc->uc_mcontext.gregs;
    s->regs[SP_REG_RBX] = (uint64_t)g[REG_RBX];
    s->regs[SP_REG_R12] = (uint64_t)g[REG_R12];
    s->regs[SP_REG_R13] = (uint64_t)g[REG_R13];
    s->regs[SP_REG_R14] = (uint64_t)g[REG_R14];
    s->regs[SP_REG_R15] = (uint64_t)g[REG_R15];
#else
    (void)uc;
#endif
    s->stack_len = (uint16_t)len;
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
