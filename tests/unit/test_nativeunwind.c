/* Check tests for src/nativeunwind.c: a stack copy recorded in this process by the handler's
 * own capture (sp_unwind_capture + sp_unwind_copy_stack, in a signal handler) while the
 * thread runs inside glibc, with glibc frames (qsort) between two of ours, is unwound through
 * .eh_frame to the test function above qsort, in order, joined to the frame-pointer walk;
 * a leaf outside the published ranges gets no copy; a copy cut short ends the unwind without
 * reading past it; and V8 slot records move with their frames. */
#include "unit.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "nativeunwind.h"
#include "ring.h"
#include "stats.h"
#include "symbolize.h"
#include "unwind.h"

#if defined(__x86_64__) /* nativeunwind's architecture so far (configure) */
static sp_sample_t smp;
static uint8_t copy[SP_STACK_COPY];
static volatile int captured;
static uintptr_t stack_lo, stack_hi;

static void on_usr2(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    (void)si;
    memset(&smp, 0, sizeof smp);
    sp_unwind_capture((const ucontext_t *)ucv, stack_lo, stack_hi, &smp);
    sp_unwind_copy_stack((const ucontext_t *)ucv, stack_hi, &smp, copy);
    captured = 1;
}

/* The comparator qsort (glibc: no frame pointers) calls: the signal lands in glibc's raise. */
int sp_test_nu_compare(const void *a, const void *b);
__attribute__((noinline)) int sp_test_nu_compare(const void *a, const void *b)
{
    if (!captured) raise(SIGUSR2);
    return *(const int *)a - *(const int *)b;
}

void sp_test_nu_sort(void);
__attribute__((noinline)) void sp_test_nu_sort(void)
{
    int v[64];
    for (int i = 0; i < 64; i++) v[i] = (i * 37) % 64;
    qsort(v, 64, sizeof v[0], sp_test_nu_compare);
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame stays */
}

void sp_test_nu_record(void);
__attribute__((noinline)) void sp_test_nu_record(void)
{
    ck_assert_int_eq(sp_unwind_stack_bounds(&stack_lo, &stack_hi), 0);
    struct sigaction sa = {.sa_sigaction = on_usr2, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL);
    captured = 0;
    sp_test_nu_sort();
    signal(SIGUSR2, SIG_DFL);
    ck_assert_msg(captured, "the signal was not handled");
    __asm__ volatile("" ::: "memory");
}

/* The function (symbol) each frame lands in, "?" when none; joined with " < " for messages. */
static void names(sp_symbolizer_t *sym, const sp_sample_t *s, char (*out)[128], char *all, size_t cap)
{
    all[0] = '\0';
    for (unsigned i = 0; i < s->nframes; i++) {
        sp_frame_t f;
        sp_symbolizer_resolve(sym, s->pcs[i], i > 0, &f);
        snprintf(out[i], 128, "%s", f.function ? f.function : "?");
        size_t n = strlen(all);
        snprintf(all + n, cap - n, "%s%s", i ? " < " : "", out[i]);
    }
}

static int find(char (*nm)[128], unsigned n, const char *name)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(nm[i], name) == 0) return (int)i;
    return -1;
}

START_TEST(test_glibc_leaf_keeps_callers)
{
    sp_nativeunwind_t *nu = sp_nativeunwind_new();
    ck_assert_ptr_nonnull(nu);
    sp_symbolizer_t *sym = sp_symbolizer_new(NULL, NULL, 0);
    ck_assert_ptr_nonnull(sym);
    sp_test_nu_record();
    static char before[8192], after[8192];
    static char nm[SP_MAX_FRAMES][128];
    names(sym, &smp, nm, before, sizeof before);
    ck_assert_msg(smp.stack_len > 0, "a leaf in glibc (%s): expected a stack copy, saw none", before);
    ck_assert_msg(smp.stack_len <= SP_STACK_COPY, "stack_len %u > %d", smp.stack_len, SP_STACK_COPY);
    unsigned fp_frames = smp.nframes;
    bool changed = sp_nativeunwind_apply(nu, &smp, copy);
    names(sym, &smp, nm, after, sizeof after);
    ck_assert_msg(changed, "expected the unwind to change the stack; walk: %s", before);
    int cmp = find(nm, smp.nframes, "sp_test_nu_compare");
    int srt = find(nm, smp.nframes, "sp_test_nu_sort");
    int tst = find(nm, smp.nframes, "sp_test_nu_record");
    ck_assert_msg(cmp > 0 && srt > cmp && tst > srt,
                  "expected leaf (glibc) < ... < sp_test_nu_compare < glibc's qsort < sp_test_nu_sort < "
                  "sp_test_nu_record; saw %s (frame-pointer walk, %u frames: %s)",
                  after, fp_frames, before);
    ck_assert_msg(srt - cmp >= 2, "expected glibc's qsort frames between the comparator and its caller: %s", after);
    printf("# frame-pointer walk: %s\n# with the stack copy: %s\n", before, after);
    /* the rest of the walk stays: the root end is the frame-pointer walk's */
    ck_assert_msg(!(smp.flags & SP_SAMPLE_TRUNCATED), "expected a joined (not truncated) stack: %s", after);
    sp_symbolizer_free(sym);
    sp_nativeunwind_free(nu);
}
END_TEST

START_TEST(test_copy_cut_short)
{
    sp_nativeunwind_t *nu = sp_nativeunwind_new();
    ck_assert_ptr_nonnull(nu);
    sp_test_nu_record();
    ck_assert_msg(smp.stack_len > 64,
                  "expected a stack copy of more than 64 bytes, saw %u (%u frames, flags %#x)",
                  smp.stack_len, smp.nframes, smp.flags);
    /* 16 bytes of stack: too little for any caller; nothing past it may be read */
    sp_sample_t s = smp;
    s.stack_len = 16;
    /* static: under valgrind, the main thread's stack as pthread_getattr_np reports it is
     * the part valgrind mapped first (12 KiB; it maps the rest as the stack grows), and
     * this array on the stack put the sample below it, off the stack. */
    static uint8_t small[SP_STACK_COPY];
    memset(small, 0xee, sizeof small);
    memcpy(small, copy, 16);
    uint64_t lost = sp_stats_get(SP_STAT_NATIVE_LOST), kept = sp_stats_get(SP_STAT_NATIVE_KEPT);
    sp_nativeunwind_apply(nu, &s, small);
    ck_assert_msg(s.nframes >= 1 && s.pcs[0] == smp.pcs[0], "the leaf must stay");
    for (unsigned i = 1; i < s.nframes; i++)
        ck_assert_msg(s.pcs[i] != 0xeeeeeeeeeeeeeeeeull, "frame %u read past the copy", i);
    ck_assert_msg(sp_stats_get(SP_STAT_NATIVE_LOST) + sp_stats_get(SP_STAT_NATIVE_KEPT) == lost + kept + 1,
                  "expected one unwind counted");
    sp_nativeunwind_free(nu);
}
END_TEST

START_TEST(test_no_copy_outside_ranges)
{
    /* Nothing published: no leaf qualifies. */
    sp_unwind_set_nofp(NULL, 0);
    sp_test_nu_record();
    ck_assert_msg(smp.stack_len == 0, "no ranges published: expected no copy, saw %u bytes", smp.stack_len);
    ck_assert_msg(!sp_unwind_pc_nofp(smp.pcs[0]), "no ranges: pc matched");
    uint64_t r[1][2] = {{smp.pcs[0], smp.pcs[0] + 1}};
    sp_unwind_set_nofp((const uint64_t(*)[2])r, 1);
    ck_assert(sp_unwind_pc_nofp(r[0][0]) && !sp_unwind_pc_nofp(r[0][1]));
    sp_unwind_set_nofp(NULL, 0);
}
END_TEST

START_TEST(test_v8_records_move)
{
    sp_nativeunwind_t *nu = sp_nativeunwind_new();
    ck_assert_ptr_nonnull(nu);
    sp_test_nu_record();
    ck_assert(smp.nframes >= 2);
    unsigned last = smp.nframes - 1u;
    uint64_t last_pc = smp.pcs[last];
    smp.nv8 = 1;
    smp.v8[0] = (sp_v8_slots_t){.frame = (uint16_t)last, .function = 0x1234};
    sp_nativeunwind_apply(nu, &smp, copy);
    ck_assert_msg(smp.nv8 == 1, "the record of a frame the join kept must stay (nv8 %u)", smp.nv8);
    ck_assert_msg(smp.pcs[smp.v8[0].frame] == last_pc, "the record moved off its frame");
    sp_nativeunwind_free(nu);
}
END_TEST

#else
/* Elsewhere nativeunwind is its stub: it asks for no copies and leaves every sample as the
 * frame-pointer walk made it, even one that carries a copy. */
START_TEST(test_stub_changes_nothing)
{
    static sp_sample_t s;
    static uint8_t stack[64];
    s.nframes = 2;
    s.pcs[0] = 0x1000;
    s.pcs[1] = 0x2000;
    s.stack_len = sizeof stack;
    sp_nativeunwind_t *nu = sp_nativeunwind_new();
    ck_assert_ptr_null(nu);
    sp_nativeunwind_refresh(nu);
    ck_assert(!sp_nativeunwind_apply(nu, &s, stack));
    ck_assert_uint_eq(s.nframes, 2);
    ck_assert_uint_eq(s.pcs[0], 0x1000);
    ck_assert_uint_eq(s.pcs[1], 0x2000);
    sp_nativeunwind_free(nu);
}
END_TEST
#endif

SP_UNIT_SUITE(nativeunwind)
{
    Suite *s = suite_create("nativeunwind");
    TCase *tc = tcase_create("core");
#if defined(__x86_64__)
    tcase_add_test(tc, test_glibc_leaf_keeps_callers);
    tcase_add_test(tc, test_copy_cut_short);
    tcase_add_test(tc, test_no_copy_outside_ranges);
    tcase_add_test(tc, test_v8_records_move);
#else
    tcase_add_test(tc, test_stub_changes_nothing);
#endif
    suite_add_tcase(s, tc);
    return s;
}
