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
 *   SP_MEM_DEFINED(p, n), sp_arch_stack_word(a)  our copies of the interrupted thread's
 *                              stack words, marked defined for valgrind's memcheck (below)
 *   SP_NO_ASAN                 on each function of the handler that reads the interrupted
 *                              thread's stack, and each inline helper it calls: not
 *                              instrumented under AddressSanitizer (why: below)
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

/* The handler's stack walk reads the interrupted thread's frames, locals included: under
 * AddressSanitizer those of our own instrumented functions lie between redzones, and a read
 * of one is a stack-buffer-overflow report that kills the process (make check-asan-e2e).
 * So the functions that read that stack are not instrumented under ASan; they read only
 * inside [sp, stack_hi), which their own checks (unit tests, fuzzers) keep. Empty in normal
 * builds, and in the fuzz build (tests/fuzz/run.sh defines SP_ASAN_STACK_READS), whose
 * synthetic stacks are exact-size heap buffers: there ASan is what catches a read outside
 * them. Inline helpers need the mark too: neither GCC nor clang inlines across differing
 * sanitizer attributes. __has_feature: clang before 15 does not define __SANITIZE_ADDRESS__. */
#if defined(__SANITIZE_ADDRESS__)
#define SP_ASAN_ON 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SP_ASAN_ON 1
#endif
#endif
#if defined(SP_ASAN_ON) && !defined(SP_ASAN_STACK_READS)
#define SP_NO_ASAN_ON 1
#define SP_NO_ASAN __attribute__((no_sanitize_address))
#else
#define SP_NO_ASAN
#endif

/* Memcheck (make check-valgrind) tracks which bytes were ever written: the interrupted
 * thread's stack holds words no one wrote (padding, locals not set yet, the slack below a
 * frame), and the walk reads them on purpose, checked against the stack's bounds before it
 * trusts one. A branch on such a word would be a "conditional jump depends on uninitialised
 * value" report, in the handler and wherever the sample goes after it. So each word the
 * handler reads off that stack goes into a copy of ours, and SP_MEM_DEFINED(p, n) marks
 * that copy (never the thread's own memory, whose state memcheck keeps checking) as
 * defined: a memcheck client request, a few register instructions outside valgrind, no
 * call, async-signal-safe. Empty without <valgrind/memcheck.h> at configure time. */
#if defined(HAVE_VALGRIND_MEMCHECK_H)
#include <valgrind/memcheck.h>
#define SP_MEM_DEFINED(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#else
#define SP_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

/* The word at a, on the interrupted thread's stack (the caller has checked that a lies on
 * it): our copy, marked defined for memcheck (above). */
SP_NO_ASAN static inline uint64_t sp_arch_stack_word(uintptr_t a)
{
    uint64_t w = *(const uint64_t *)a;
    SP_MEM_DEFINED(&w, sizeof w);
    return w;
}

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
