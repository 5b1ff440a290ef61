/* arch: the per-architecture part of the signal path, one small header per architecture
 * (arch_x86_64.h, arch_aarch64.h), picked at compile time. Each gives, as static inline
 * functions usable from the signal handler (no calls, no memory reads except where said):
 *   sp_arch_regs_t             pc, sp, fp (and lr where the ABI has one) of a context
 *   sp_arch_regs(uc, r)        reads them from the interrupted thread's ucontext_t
 *   sp_arch_set_regs(uc, ...)  writes them (synthetic contexts of the tests and fuzzers)
 *   sp_arch_leaf_ret(r)        the return address of a leaf that has not built its frame
 *                              record yet: the word at sp on x86_64 (read it only once sp is
 *                              known to be on the stack), the link register on arm64
 *   sp_arch_restorer(sa)       the sigreturn trampoline sa's handler returns to, or 0
 *                              (setup only: reads that code)
 *   sp_arch_sigframe_regs(slot, hi, r)  the registers the kernel saved in the signal frame
 *                              whose return address is the word at slot (reads [slot, hi))
 *   SP_ARCH_NAME               the architecture's name in Node's terms (process.arch)
 * What both share, and unwind.c relies on: 8-byte words, a stack growing down, and a frame
 * record at fp of {caller's fp, return address} (x86_64: push rbp; mov rbp, rsp. arm64:
 * stp x29, x30, [sp, #-N]!; mov x29, sp; AAPCS64 §6.2.3), which V8 builds the same way
 * for its own frames on both. */
#ifndef SP_ARCH_H
#define SP_ARCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

typedef struct {
    uintptr_t pc, sp, fp;
    uintptr_t lr; /* arm64's x30; 0 on x86_64, whose return address is on the stack */
} sp_arch_regs_t;

#if defined(__x86_64__)
#include "arch_x86_64.h"
#elif defined(__aarch64__)
#include "arch_aarch64.h"
#else
#error "sentryprof's stack walker supports x86_64 and aarch64 (src/arch.h)"
#endif

#endif
