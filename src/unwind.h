/* unwind: captures the interrupted thread's call stack inside the signal handler.
 * Walks the frame-pointer chain (node's release builds keep frame pointers, and every JS frame
 * builds one: docs/HAZARDS.md §9) strictly inside the sampled thread's stack bounds, so no read
 * can fault even though node replaces SIGSEGV handlers (docs/HAZARDS.md §3). Records the raw
 * leaf's return-address candidate too (the word at sp on x86_64, the link register on arm64),
 * so frameless leaves (V8 IC builtins, libc) can be repaired off the hot path. What differs
 * between architectures is in src/arch.h. */
#ifndef SP_UNWIND_H
#define SP_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

#include "ring.h"

/* The return address the kernel gives signal handlers installed through the C library
 * (its sigreturn trampoline, glibc's __restore_rt): a frame returning there is another
 * handler's outermost one, and the kernel's signal frame with the context it interrupted
 * follows it. Set once before sampling starts (sampler.c); 0: signal frames end the walk. */
void sp_unwind_set_restorer(uintptr_t addr);
uintptr_t sp_unwind_restorer(void);
/* Sets it from the sa_restorer of signo's handler (installed through the C library), when
 * that code is rt_sigreturn. false: not found (the restorer is left as it was). Not
 * async-signal-safe in spirit: call it at setup. */
bool sp_unwind_init_restorer(int signo);

/* Fills s->pcs/nframes/flags/sp/sp_word/fp/nsig/sig from the interrupted context uc,
 * walking on through the signal frames of other handlers it finds (ring.h: sig).
 * stack_lo/hi: the thread's stack [lo, hi). Async-signal-safe; bounded by SP_MAX_FRAMES. */
void sp_unwind_capture(const ucontext_t *uc, uintptr_t stack_lo, uintptr_t stack_hi,
                       sp_sample_t *s);

/* Native code without frame pointers (the loaded ELF objects other than node's own
 * executable: glibc, libstdc++, addons): a leaf there loses its callers in the frame-pointer
 * walk, so the handler copies the stack top for the agent to unwind (nativeunwind.h).
 * Published by the agent (sp_unwind_set_nofp), read by the handler. */
#define SP_NOFP_MAX 128 /* ranges; objects beyond it get no copy */

/* Replaces the ranges [lo, hi) (n <= SP_NOFP_MAX). Agent thread only. A handler racing the
 * update may make one wrong copy decision, never a wrong read. */
void sp_unwind_set_nofp(const uint64_t (*ranges)[2], size_t n);

/* Whether pc lies in one of the published ranges. Async-signal-safe. */
bool sp_unwind_pc_nofp(uint64_t pc);

/* Whether the leaf of s (already captured) lies in code without frame pointers, on the
 * thread's stack: a sample the agent can unwind only from a copy of its stack top.
 * Async-signal-safe. */
bool sp_unwind_wants_stack(const sp_sample_t *s);

/* For such a sample: copies up to SP_STACK_COPY bytes of the stack from sp (never past
 * stack_hi) into buf and the callee-saved registers into s, and sets s->stack_len; else
 * s->stack_len = 0. Async-signal-safe, bounded by one memcpy. */
void sp_unwind_copy_stack(const ucontext_t *uc, uintptr_t stack_hi, sp_sample_t *s, uint8_t *buf);

/* The calling thread's stack bounds (pthread_getattr_np). Not async-signal-safe: call it
 * when registering the thread. 0 or a negative errno. */
int sp_unwind_stack_bounds(uintptr_t *lo, uintptr_t *hi);

#endif
