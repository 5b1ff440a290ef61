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

/* The calling thread's stack bounds (pthread_getattr_np). Not async-signal-safe: call it
 * when registering the thread. 0 or a negative errno. */
int sp_unwind_stack_bounds(uintptr_t *lo, uintptr_t *hi);

#endif
