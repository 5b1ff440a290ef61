/* Check tests for src/unwind.c, the signal handler's stack walk: on synthetic contexts
 * (a ucontext_t whose pc/sp/fp, and lr on arm64, point into a fake stack laid out here; set
 * through src/arch.h, so the same tests run on x86_64 and arm64), the walk follows
 * a well-formed frame-pointer chain to its end, stops at a chain that does not move up the
 * stack, at a misaligned frame pointer, at one outside [sp, stack_hi - 16] and at a
 * return address below the first code page, never reads outside the stack it is given,
 * cuts at SP_MAX_FRAMES with the truncated marker, and keeps only the leaf when sp is not
 * on the known stack. Then one walk of this thread's real stack. */
#include "unit.h"
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>

#include "arch.h"
#include "ring.h"
#include "unwind.h"
#include "v8frames.h"

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

/* V8's JS frame slots below fp (v8frames.c), as node's constants give them on x86_64:
 * context -8, JSFunction -16, BytecodeArray -32, bytecode offset -40. */
static void v8_layout_on(void)
{
    sp_v8_frame_layout_t *l = &sp_v8_frame_layout;
    l->off_context = -8, l->off_function = -16;
    l->off_bytecode_array = -32, l->off_bytecode_offset = -40;
    l->lowest = -40, l->highest = -8;
    l->heap_tag_mask = 3, l->heap_tag = 1, l->smi_zero_mask = 0xffffffffu;
    atomic_store(&l->on, 1);
}

/* An optimized leaf with a small frame (TurboFan: context, function, argc): sp lies above
 * the slots an interpreted frame keeps its BytecodeArray and offset in. The frame is still
 * captured (function and context), and nothing below sp is read: the words there look
 * like an interpreted frame's and must not be taken for one. */
START_TEST(test_v8_optimized_leaf_above_sp)
{
    chain(3);
    size_t f = FRAME(0); /* word 8 */
    stack[f - 1] = 0x7000001;           /* context: a tagged heap pointer */
    stack[f - 2] = 0x7100001;           /* JSFunction */
    stack[f - 3] = 0;                   /* argc */
    stack[f - 4] = 0x7200001;           /* below sp: what a BytecodeArray would look like */
    stack[f - 5] = 0x4000000000ull;     /* below sp: a Smi */
    v8_layout_on();
    context(LEAF_PC, word(f - 3), word(f));
    capture();
    atomic_store(&sp_v8_frame_layout.on, 0);
    expect_frames(3, 0, "an optimized leaf frame of three slots");
    ck_assert_msg(smp.nv8 >= 1 && smp.v8[0].frame == 0,
                  "leaf frame: expected its slots captured as frame 0, saw %u captures (first at %u)",
                  (unsigned)smp.nv8, smp.nv8 ? (unsigned)smp.v8[0].frame : 0u);
    ck_assert_uint_eq(smp.v8[0].function, 0x7100001);
    ck_assert_msg(smp.v8[0].bytecode_array == 0,
                  "a slot below sp was read: BytecodeArray %#llx",
                  (unsigned long long)smp.v8[0].bytecode_array);
    /* The same frame with sp below all its slots: an interpreted frame, all four read. */
    chain(3);
    stack[f - 1] = 0x7000001, stack[f - 2] = 0x7100001, stack[f - 4] = 0x7200001;
    stack[f - 5] = 0x4000000000ull;
    v8_layout_on();
    context(LEAF_PC, word(0), word(f));
    capture();
    atomic_store(&sp_v8_frame_layout.on, 0);
    ck_assert(smp.nv8 >= 1 && smp.v8[0].frame == 0);
    ck_assert_uint_eq(smp.v8[0].bytecode_array, 0x7200001);
    ck_assert_uint_eq(smp.v8[0].bytecode_offset, 0x4000000000ull);
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

/* ---- signal frames (another handler's, e.g. V8's SIGPROF sampler, that ours interrupted) ----
 * x86_64's rt_sigframe layout (src/arch_x86_64.h); other architectures do not walk them yet. */
#if defined(__x86_64__)

#define RESTORER 0x700000u /* the sigreturn trampoline's address, as sampler.c would set it */
#define HANDLER_RET 0x710000u /* a return address inside the other handler */
#define IPC     0x402000u  /* where the other signal interrupted the thread */
#define UC_LEN  (offsetof(ucontext_t, uc_mcontext.fpregs) + 8) /* what the walk reads */

/* The kernel's rt_sigframe with its return-address word at word slot: the ucontext follows
 * it, the FPU state 8 words past the ucontext's read part, the interrupted context's
 * registers as given. */
static void sigframe(size_t slot, uintptr_t pc, uintptr_t sp, uintptr_t fp)
{
    stack[slot] = RESTORER;
    uint64_t *u = &stack[slot + 1];
    memset(u, 0, UC_LEN);
    u[offsetof(ucontext_t, uc_flags) / 8] = 7; /* UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS */
    u[offsetof(ucontext_t, uc_mcontext.gregs[REG_RIP]) / 8] = pc;
    u[offsetof(ucontext_t, uc_mcontext.gregs[REG_RSP]) / 8] = sp;
    u[offsetof(ucontext_t, uc_mcontext.gregs[REG_RBP]) / 8] = fp;
    u[offsetof(ucontext_t, uc_mcontext.fpregs) / 8] = (uintptr_t)u + UC_LEN + 64;
}
#define UC_WORDS (UC_LEN / 8 + 8 + 8 + 1) /* the frame up to the FPU state, and some of it */

/* Words: 0 sp (the other handler's leaf), 8 its inner frame, 12 its outer frame whose
 * return address (word 13) is the trampoline, 14.. the ucontext, ISP the interrupted sp,
 * IFP the interrupted frame chain of 3 frames (RET(0..2)). */
#define ISP (14 + UC_WORDS + 4)
#define IFP (ISP + 6)
static void interrupted_chain(int n)
{
    chain(0);
    stack[ISP] = 0x5151; /* the word at the interrupted sp */
    for (int k = 0; k < n; k++) {
        stack[IFP + 4 * k] = k + 1 < n ? word(IFP + 4 * (k + 1)) : 0;
        stack[IFP + 4 * k + 1] = RET(k);
    }
}

static void expect_pcs(const uint64_t *want, int n, unsigned flags, const char *what)
{
    ck_assert_msg(smp.nframes == n, "%s: expected %d frames, saw %u", what, n, (unsigned)smp.nframes);
    for (int k = 0; k < n; k++)
        ck_assert_msg(smp.pcs[k] == want[k], "%s: pcs[%d]: expected %#llx, saw %#llx", what, k,
                      (unsigned long long)want[k], (unsigned long long)smp.pcs[k]);
    ck_assert_msg(smp.flags == flags, "%s: expected flags %#x, saw %#x", what, flags, (unsigned)smp.flags);
}

/* Our signal lands inside the other handler: its frames, then the interrupted pc (plus
 * one: read as a return address it resolves to itself), then the interrupted chain. */
START_TEST(test_sigframe_walked)
{
    sp_unwind_set_restorer(RESTORER);
    interrupted_chain(3);
    stack[8] = word(12);
    stack[9] = HANDLER_RET;
    stack[12] = word(IFP); /* the handler's prologue pushed the interrupted rbp */
    sigframe(13, IPC, word(ISP), word(IFP));
    context(LEAF_PC, word(0), word(8));
    capture();
    const uint64_t want[] = {LEAF_PC, HANDLER_RET, IPC + 1, RET(0), RET(1), RET(2)};
    expect_pcs(want, 6, SP_SAMPLE_SIGFRAME, "a sample inside another signal handler");
    ck_assert_msg(smp.nsig == 1 && smp.sig[0].frame == 2,
                  "expected one interrupted context at frame 2, saw %u (frame %u)",
                  (unsigned)smp.nsig, (unsigned)smp.sig[0].frame);
    ck_assert_uint_eq(smp.sig[0].sp, word(ISP));
    ck_assert_msg(smp.sig[0].sp_word == 0x5151, "the word at the interrupted sp: expected 0x5151, saw %#llx",
                  (unsigned long long)smp.sig[0].sp_word);

    /* Without the trampoline's address the walk is today's: the handler's frames, the
     * trampoline as a return address, then the chain from the rbp it pushed. */
    sp_unwind_set_restorer(0);
    capture();
    const uint64_t old[] = {LEAF_PC, HANDLER_RET, RESTORER, RET(0), RET(1), RET(2)};
    expect_pcs(old, 6, 0, "the same without a known trampoline");
}
END_TEST

/* Ours lands on the other handler's first instruction (the kernel set up both frames at
 * once): the handler has not run, so the sample is the interrupted code's, with no trace
 * of the handler; likewise after its `push %rbp`. */
START_TEST(test_sigframe_at_entry)
{
    sp_unwind_set_restorer(RESTORER);
    interrupted_chain(3);
    sigframe(0, IPC, word(ISP), word(IFP));
    context(LEAF_PC, word(0), word(IFP));
    capture();
    const uint64_t want[] = {IPC, RET(0), RET(1), RET(2)};
    expect_pcs(want, 4, SP_SAMPLE_SIGFRAME, "a sample on another handler's first instruction");
    ck_assert_uint_eq(smp.nsig, 0);
    ck_assert_uint_eq(smp.sp, word(ISP));
    ck_assert_uint_eq(smp.sp_word, 0x5151);

    interrupted_chain(3);
    stack[0] = word(IFP); /* push %rbp */
    sigframe(1, IPC, word(ISP), word(IFP));
    context(LEAF_PC, word(0), word(IFP));
    capture();
    expect_pcs(want, 4, SP_SAMPLE_SIGFRAME, "a sample after the other handler's push %rbp");
    sp_unwind_set_restorer(0);
}
END_TEST

/* Two handlers deep: each signal frame is walked through. Handler A (our leaf) returns
 * to the trampoline from its frame at word 8; the code it interrupted is handler B, with
 * frames at IFP and IFP + 4, the outer one returning to the trampoline; B interrupted
 * the frame at ifp2. */
START_TEST(test_sigframe_nested)
{
    sp_unwind_set_restorer(RESTORER);
    const size_t slot2 = IFP + 5, isp2 = slot2 + 1 + UC_WORDS + 4, ifp2 = isp2 + 4;
    ck_assert(ifp2 + 2 < N_WORDS);
    chain(0);
    stack[8] = word(IFP);
    sigframe(9, IPC, word(ISP), word(IFP));
    stack[IFP] = word(IFP + 4);
    stack[IFP + 1] = HANDLER_RET;
    stack[IFP + 4] = word(ifp2);
    sigframe(slot2, IPC + 0x100, word(isp2), word(ifp2));
    stack[ifp2] = 0;
    stack[ifp2 + 1] = RET(7);
    context(LEAF_PC, word(0), word(8));
    capture();
    const uint64_t want[] = {LEAF_PC, IPC + 1, HANDLER_RET, IPC + 0x101, RET(7)};
    expect_pcs(want, 5, SP_SAMPLE_SIGFRAME, "a sample two signal handlers deep");
    ck_assert_msg(smp.nsig == 2 && smp.sig[0].frame == 1 && smp.sig[1].frame == 3,
                  "expected interrupted contexts at frames 1 and 3, saw %u (%u, %u)", (unsigned)smp.nsig,
                  (unsigned)smp.sig[0].frame, (unsigned)smp.sig[1].frame);
    sp_unwind_set_restorer(0);
}
END_TEST

/* A trampoline address that is not in a frame the kernel wrote (a stale copy in a frame's
 * locals, a corrupted frame) ends the walk there, marked, and nothing past the stack is
 * read. */
START_TEST(test_sigframe_rejected)
{
    sp_unwind_set_restorer(RESTORER);
    const uint64_t want[] = {LEAF_PC, HANDLER_RET};
    const unsigned stop = SP_SAMPLE_SIGFRAME_STOP | SP_SAMPLE_TRUNCATED;
    const size_t link = offsetof(ucontext_t, uc_link) / 8, flags = offsetof(ucontext_t, uc_flags) / 8,
                 fpu = offsetof(ucontext_t, uc_mcontext.fpregs) / 8,
                 rsp = offsetof(ucontext_t, uc_mcontext.gregs[REG_RSP]) / 8,
                 rip = offsetof(ucontext_t, uc_mcontext.gregs[REG_RIP]) / 8;
    struct {
        const char *what;
        size_t at;
        uint64_t value; /* 1: word(0), 2: a word past the FPU pointer limit */
    } bad[] = {
        {"uc_link set", link, 0x1000},
        {"unknown uc_flags", flags, 0x100},
        {"FPU state below the ucontext", fpu, 1},
        {"FPU state far above it", fpu, 2},
        {"interrupted sp below the frame", rsp, 1},
        {"interrupted sp misaligned", rsp, 3},
        {"interrupted sp past the stack top", rsp, 4},
        {"interrupted pc in the first page", rip, 0x1234},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        interrupted_chain(3);
        stack[8] = word(12);
        stack[9] = HANDLER_RET;
        stack[12] = word(IFP);
        sigframe(13, IPC, word(ISP), word(IFP));
        uint64_t v = bad[i].value;
        if (v == 1) v = word(0);
        else if (v == 2) v = word(14) + 64 * 1024 + 8;
        else if (v == 3) v = word(ISP) + 4;
        else if (v == 4) v = hi();
        stack[14 + bad[i].at] = v;
        context(LEAF_PC, word(0), word(8));
        capture();
        expect_pcs(want, 2, stop, bad[i].what);
    }

    /* The frame would run past the stack top: not read. */
    chain(0);
    size_t slot = N_WORDS - 4;
    stack[8] = word(slot - 1);
    stack[9] = HANDLER_RET;
    stack[slot - 1] = 0;
    stack[slot] = RESTORER;
    context(LEAF_PC, word(0), word(8));
    capture();
    expect_pcs(want, 2, stop, "a signal frame cut by the stack top");
    sp_unwind_set_restorer(0);
}
END_TEST

#ifdef __GLIBC__ /* musl has no getcontext, which the handler below starts from */
/* The real thing: a handler installed through the C library, entered on an int3 in a
 * frameless function (as V8's builtins are); a walk from inside the handler goes through the
 * kernel's signal frame to the pc after the int3, keeps the word at the interrupted sp (the
 * return address into the caller, for the agent's repair) and goes on up the callers. */
static ucontext_t trap_uc;
static uintptr_t trap_lo, trap_hi;
static void on_trap(int sig, siginfo_t *info, void *ucv)
{
    (void)sig, (void)info, (void)ucv;
    getcontext(&trap_uc);
    sp_unwind_capture(&trap_uc, trap_lo, trap_hi, &smp);
}

void sp_test_trap(void);
extern char sp_test_after_trap[];
__asm__(".text\n.globl sp_test_trap\n.type sp_test_trap, @function\nsp_test_trap:\n\tint3\n"
        ".globl sp_test_after_trap\nsp_test_after_trap:\n\tret\n.size sp_test_trap, .-sp_test_trap\n");

static int __attribute__((noinline)) trap_caller(void)
{
    sp_test_trap();
    __asm__ volatile("" ::: "memory");
    return 1;
}

START_TEST(test_real_sigframe)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGTRAP, &sa, NULL), 0);
    ck_assert_msg(sp_unwind_init_restorer(SIGTRAP), "expected the C library's sigreturn trampoline in sa_restorer");
    ck_assert_int_eq(sp_unwind_stack_bounds(&trap_lo, &trap_hi), 0);
    memset(&smp, 0, sizeof smp);
    trap_caller();
    sp_unwind_set_restorer(0);
    signal(SIGTRAP, SIG_DFL);
    int at = -1;
    for (int i = 0; i < smp.nframes; i++)
        if (smp.pcs[i] == (uintptr_t)sp_test_after_trap + 1) at = i;
    ck_assert_msg(smp.flags & SP_SAMPLE_SIGFRAME, "expected the walk through the signal frame, flags %#x",
                  (unsigned)smp.flags);
    ck_assert_msg(at > 0 && smp.nsig == 1 && smp.sig[0].frame == at,
                  "expected the pc after int3 (+1) as the interrupted context's frame, found at %d (nsig %u)",
                  at, (unsigned)smp.nsig);
    ck_assert_msg(smp.sig[0].sp_word > (uintptr_t)trap_caller && smp.sig[0].sp_word < (uintptr_t)trap_caller + 64,
                  "expected the word at the interrupted sp to be the return address into trap_caller, saw %#llx",
                  (unsigned long long)smp.sig[0].sp_word);
    ck_assert_msg(at + 1 < smp.nframes, "expected the walk to go on past the interrupted pc, saw %d frames",
                  smp.nframes);
}
END_TEST
#endif /* __GLIBC__ */
#endif

SP_UNIT_SUITE(unwind)
{
    Suite *s = suite_create("unwind");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_full_chain);
    tcase_add_test(tc, test_fp_above_sp);
    tcase_add_test(tc, test_v8_optimized_leaf_above_sp);
    tcase_add_test(tc, test_chain_break);
    tcase_add_test(tc, test_misaligned_fp);
    tcase_add_test(tc, test_fp_off_stack);
    tcase_add_test(tc, test_low_return_address);
    tcase_add_test(tc, test_depth_cap);
    tcase_add_test(tc, test_sp_off_stack);
    tcase_add_test(tc, test_real_stack);
#if defined(__x86_64__)
    tcase_add_test(tc, test_sigframe_walked);
    tcase_add_test(tc, test_sigframe_at_entry);
    tcase_add_test(tc, test_sigframe_nested);
    tcase_add_test(tc, test_sigframe_rejected);
#ifdef __GLIBC__
    tcase_add_test(tc, test_real_sigframe);
#endif
#endif
    suite_add_tcase(s, tc);
    return s;
}
