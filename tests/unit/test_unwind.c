/* Check tests for src/unwind.c, the signal handler's stack walk: on synthetic contexts
 * (a ucontext_t whose pc/sp/fp, and lr on arm64, point into a fake stack laid out here; set
 * through src/arch.h, so the same tests run on x86_64 and arm64), the walk follows
 * a well-formed frame-pointer chain to its end, stops at a chain that does not move up the
 * stack, at a misaligned frame pointer, at one outside [sp, stack_hi - 16] and at a
 * return address below the first code page, never reads outside the stack it is given,
 * cuts at SP_MAX_FRAMES with the truncated marker, and keeps only the leaf when sp is not
 * on the known stack. Then one walk of this thread's real stack. */
#include "unit.h"
#include <stdint.h>
#include <string.h>
#include <ucontext.h>

#include "arch.h"
#include "ring.h"
#include "unwind.h"

/* A fake stack: words [0, N) with sp at word 0; frame k of a chain sits at word FRAME(k),
 * [fp] = the caller's fp, [fp + 8] = the return address. */
#define N_WORDS  (SP_MAX_FRAMES * 4 + 64)
#define FRAME(k) (8 + 2 * (k))
#define LEAF_PC  0x401000u
#define RET(k)   (0x500000u + 0x10u * (k))
#define LEAF_LR  0x402000u /* arm64's link register in every context (unused on x86_64) */

/* Past the top: words that look like a frame (a code address, a higher fp), so a read past
 * stack_hi shows up as an extra frame even without AddressSanitizer. */
#define GUARD_WORDS 4
#define GUARD       0x600000u
static uint64_t stack[N_WORDS + GUARD_WORDS] __attribute__((aligned(16)));
static ucontext_t uc;
static sp_sample_t smp;

static uintptr_t word(size_t i) { return (uintptr_t)&stack[i]; }
static uintptr_t lo(void) { return word(0); }
static uintptr_t hi(void) { return word(N_WORDS); }

/* A chain of n frames at FRAME(0..n-1), each linking to the next; the last links to 0. */
static void chain(int n)
{
    memset(stack, 0, sizeof stack);
    for (int g = 0; g < GUARD_WORDS; g++) stack[N_WORDS + g] = GUARD;
    stack[0] = 0xabcdef; /* the word at sp */
    for (int k = 0; k < n; k++) {
        stack[FRAME(k)] = k + 1 < n ? word(FRAME(k + 1)) : 0;
        stack[FRAME(k) + 1] = RET(k);
    }
}

static void context(uintptr_t pc, uintptr_t sp, uintptr_t fp)
{
    memset(&uc, 0, sizeof uc);
    sp_arch_set_regs(&uc, pc, sp, fp, LEAF_LR);
}

/* The leaf's return-address candidate (src/arch.h) when sp is at word i: the word at sp on
 * x86_64, the link register on arm64. */
static uint64_t leaf_ret_at(size_t i)
{
#if defined(__aarch64__)
    (void)i;
    return LEAF_LR;
#else
    return stack[i];
#endif
}

static void capture(void)
{
    memset(&smp, 0x5a, sizeof smp); /* every field must be written */
    sp_unwind_capture(&uc, lo(), hi(), &smp);
}

/* pcs[0] is the leaf; pcs[1..n] are RET(0..n-1). */
static void expect_frames(int n, unsigned flags, const char *what)
{
    ck_assert_msg(smp.nframes == n + 1, "%s: expected %d frames (leaf + %d), saw %u", what, n + 1,
                  n, (unsigned)smp.nframes);
    ck_assert_msg(smp.flags == flags, "%s: expected flags %#x, saw %#x", what, flags,
                  (unsigned)smp.flags);
    ck_assert_msg(smp.pcs[0] == LEAF_PC, "%s: leaf pc: expected %#x, saw %#llx", what, LEAF_PC,
                  (unsigned long long)smp.pcs[0]);
    for (int k = 0; k < n; k++)
        ck_assert_msg(smp.pcs[k + 1] == RET(k), "%s: pcs[%d]: expected %#x, saw %#llx", what, k + 1,
                      RET(k), (unsigned long long)smp.pcs[k + 1]);
}

START_TEST(test_full_chain)
{
    chain(5);
    context(LEAF_PC, word(0), word(FRAME(0)));
    capture();
    expect_frames(5, 0, "a chain of 5 frames ending in fp = 0");
    ck_assert_uint_eq(smp.sp, word(0));
    ck_assert_uint_eq(smp.fp, word(FRAME(0)));
    ck_assert_msg(smp.sp_word == leaf_ret_at(0),
                  "sp_word: expected the leaf's return-address candidate %#llx, saw %#llx",
                  (unsigned long long)leaf_ret_at(0), (unsigned long long)smp.sp_word);
}
END_TEST

/* A frameless leaf: the frame pointer still holds the caller's frame, the walk starts there. */
START_TEST(test_fp_above_sp)
{
    chain(3);
    context(LEAF_PC, word(2), word(FRAME(0)));
    capture();
    expect_frames(3, 0, "sp two words below the first frame");
    ck_assert_uint_eq(smp.sp_word, leaf_ret_at(2));
}
END_TEST

/* A frame that links to itself or downwards (a corrupted or recycled chain) ends the walk
 * after its own return address: frames must move strictly up the stack. */
START_TEST(test_chain_break)
{
    chain(4);
    stack[FRAME(1)] = word(FRAME(1)); /* links to itself */
    context(LEAF_PC, word(0), word(FRAME(0)));
    capture();
    expect_frames(2, 0, "frame 1 links to itself");

    chain(4);
    stack[FRAME(2)] = word(FRAME(0)); /* links back down */
    context(LEAF_PC, word(0), word(FRAME(0)));
    capture();
    expect_frames(3, 0, "frame 2 links below itself");
}
END_TEST

START_TEST(test_misaligned_fp)
{
    chain(4);
    context(LEAF_PC, word(0), word(FRAME(0)) + 4);
    capture();
    expect_frames(0, 0, "fp not 8-aligned");

    chain(4);
    stack[FRAME(1)] = word(FRAME(2)) + 1; /* frame 1's saved fp is odd */
    context(LEAF_PC, word(0), word(FRAME(0)));
    capture();
    expect_frames(2, 0, "a saved fp not 8-aligned");
}
END_TEST

/* A frame pointer outside [sp, stack_hi - 16] is never dereferenced: below sp (already
 * popped), in another mapping, or so close to the top that [fp + 8] would be past it. */
START_TEST(test_fp_off_stack)
{
    static uint64_t elsewhere[4] = {0, RET(99), 0, 0};

    chain(4);
    context(LEAF_PC, word(4), word(2)); /* fp below sp */
    capture();
    expect_frames(0, 0, "fp below sp");

    chain(4);
    context(LEAF_PC, word(0), (uintptr_t)elsewhere);
    capture();
    expect_frames(0, 0, "fp in another mapping");

    chain(4);
    stack[FRAME(1)] = (uintptr_t)elsewhere;
    context(LEAF_PC, word(0), word(FRAME(0)));
    capture();
    expect_frames(2, 0, "a saved fp in another mapping");

    chain(2);
    stack[FRAME(1)] = word(N_WORDS - 1); /* [fp + 8] would be the word past the top */
    context(LEAF_PC, word(0), word(FRAME(0)));
    capture();
    expect_frames(2, 0, "a saved fp in the last word of the stack");

    chain(2);
    stack[FRAME(1)] = word(N_WORDS - 2); /* the last frame that fits: [fp], [fp + 8] inside */
    stack[N_WORDS - 2] = 0;
    stack[N_WORDS - 1] = RET(2);
    context(LEAF_PC, word(0), word(FRAME(0)));
    capture();
    expect_frames(3, 0, "a frame in the last two words of the stack");
}
END_TEST

/* A return address in the first 64 KiB is not code (a small integer in a frameless
 * function's frame): the walk ends without recording it. */
START_TEST(test_low_return_address)
{
    chain(4);
    stack[FRAME(2) + 1] = 0x1234;
    context(LEAF_PC, word(0), word(FRAME(0)));
    capture();
    expect_frames(2, 0, "a return address below 0x10000");
}
END_TEST

/* Deeper than SP_MAX_FRAMES: cut there and marked truncated. A chain that ends exactly
 * at the cap is complete, not truncated. */
START_TEST(test_depth_cap)
{
    chain(SP_MAX_FRAMES + 10);
    context(LEAF_PC, word(0), word(FRAME(0)));
    capture();
    expect_frames(SP_MAX_FRAMES - 1, SP_SAMPLE_TRUNCATED, "a chain deeper than SP_MAX_FRAMES");

    chain(SP_MAX_FRAMES - 1);
    context(LEAF_PC, word(0), word(FRAME(0)));
    capture();
    expect_frames(SP_MAX_FRAMES - 1, 0, "a chain that fills SP_MAX_FRAMES exactly");
}
END_TEST

/* sp outside the known stack (sigaltstack, a coroutine, V8's central stack) or misaligned:
 * only the leaf, marked off-stack and truncated, and nothing is read from the stack. */
START_TEST(test_sp_off_stack)
{
    static uint64_t other[8];
    chain(4);
    context(LEAF_PC, (uintptr_t)other, word(FRAME(0)));
    capture();
    expect_frames(0, SP_SAMPLE_OFF_STACK | SP_SAMPLE_TRUNCATED, "sp in another mapping");
    ck_assert_uint_eq(smp.sp_word, 0);
    ck_assert_uint_eq(smp.sp, (uintptr_t)other);

    context(LEAF_PC, word(0) + 3, word(FRAME(0)));
    capture();
    expect_frames(0, SP_SAMPLE_OFF_STACK | SP_SAMPLE_TRUNCATED, "sp not 8-aligned");

    context(LEAF_PC, hi() - 4, word(FRAME(0)));
    capture();
    expect_frames(0, SP_SAMPLE_OFF_STACK | SP_SAMPLE_TRUNCATED, "sp + 8 past the stack top");

    context(LEAF_PC, hi() - 8, 0); /* the top word itself is readable */
    stack[N_WORDS - 1] = 0x777;
    capture();
    expect_frames(0, 0, "sp at the last word, fp = 0");
    ck_assert_uint_eq(smp.sp_word, leaf_ret_at(N_WORDS - 1));
}
END_TEST

/* The real thing: this thread's stack bounds hold a local, and a walk from getcontext()
 * in a callee goes up through its callers (the build keeps frame pointers). On musl (no
 * getcontext) the registers are this frame's, set by hand. */
static int __attribute__((noinline)) walk_here(int depth)
{
    if (depth > 0) {
        int r = walk_here(depth - 1);
        __asm__ volatile("" ::: "memory"); /* no tail call: keep this frame */
        return r;
    }
    uintptr_t slo, shi;
    ck_assert_int_eq(sp_unwind_stack_bounds(&slo, &shi), 0);
    uintptr_t here = (uintptr_t)&slo;
    ck_assert_msg(slo < here && here < shi, "a local at %#lx outside the stack bounds [%#lx, %#lx)",
                  (unsigned long)here, (unsigned long)slo, (unsigned long)shi);
    ucontext_t real;
#ifdef __GLIBC__
    ck_assert_int_eq(getcontext(&real), 0);
#else
    /* musl has no getcontext: this frame's own registers, as a signal would see them here
     * (pc in this function, sp below the local, fp this frame's). */
    memset(&real, 0, sizeof real);
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    sp_arch_set_regs(&real, (uintptr_t)&walk_here, here & ~(uintptr_t)15, fp, 0);
#endif
    sp_unwind_capture(&real, slo, shi, &smp);
    return smp.nframes;
}

START_TEST(test_real_stack)
{
    int n = walk_here(4);
    ck_assert_msg(smp.flags == 0, "a walk of this thread's stack: expected no flags, saw %#x",
                  (unsigned)smp.flags);
    ck_assert_msg(n >= 6, "a walk from 4 nested calls deep: expected >= 6 frames, saw %d", n);
}
END_TEST

SP_UNIT_SUITE(unwind)
{
    Suite *s = suite_create("unwind");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_full_chain);
    tcase_add_test(tc, test_fp_above_sp);
    tcase_add_test(tc, test_chain_break);
    tcase_add_test(tc, test_misaligned_fp);
    tcase_add_test(tc, test_fp_off_stack);
    tcase_add_test(tc, test_low_return_address);
    tcase_add_test(tc, test_depth_cap);
    tcase_add_test(tc, test_sp_off_stack);
    tcase_add_test(tc, test_real_stack);
    suite_add_tcase(s, tc);
    return s;
}
