/* test_v8leaf: the JS caller of a frameless leaf put back from the word at its sp
 * (src/v8leaf.c), on synthetic samples against a V8 perf map that names a buffer of this
 * process as code: a builtin ("Builtin:StringFast", frameless) and a JS function whose
 * bytes hold a call instruction at a known place. The caller goes in above the leaf when
 * the word at sp is a return address into JS (a call right before it), for the sample's
 * leaf and for a context another signal handler interrupted; nothing changes when the leaf
 * is JS itself, the word is not JS code, no call precedes it, the walk already has it, or
 * v8decode already put the interpreted function there. */
#include "unit.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ring.h"
#include "symbolize.h"
#include "v8decode.h"
#include "v8leaf.h"

/* The fake code: [0x00, 0x40) the builtin, [0x40, 0xc0) the JS function "caller" with a
 * call rel32 ending at 0x55, a call through r13's table (41 FF 95 disp32) ending at 0x67,
 * a call through a register (FF D1) ending at 0x72, and no call before 0x90. */
static uint8_t code[0x100] __attribute__((aligned(64)));
#define LEAF     ((uintptr_t)code + 0x10)
#define RET_REL  ((uintptr_t)code + 0x55)
#define RET_TBL  ((uintptr_t)code + 0x67)
#define RET_REG  ((uintptr_t)code + 0x72)
#define NOT_RET  ((uintptr_t)code + 0x90)
#define JS_PC    ((uintptr_t)code + 0x48)
#define UP(k)    (0x500000u + 0x10u * (k)) /* the rest of the walk */

static sp_symbolizer_t *sym;
static sp_sample_t smp;

static char mapdir[PATH_MAX]; /* setup's temp dir, removed by teardown */

static void setup(void)
{
    memset(code, 0x90, sizeof code); /* nop */
    const uint8_t rel[] = {0xE8, 0x10, 0x20, 0x30, 0x00};
    const uint8_t tbl[] = {0x41, 0xFF, 0x95, 0x28, 0x01, 0x00, 0x00};
    const uint8_t reg[] = {0xFF, 0xD1};
    memcpy(code + 0x55 - sizeof rel, rel, sizeof rel);
    memcpy(code + 0x67 - sizeof tbl, tbl, sizeof tbl);
    memcpy(code + 0x72 - sizeof reg, reg, sizeof reg);
    char path[PATH_MAX + 16];
    snprintf(mapdir, sizeof mapdir, "%s", sp_unit_tmpdir());
    snprintf(path, sizeof path, "%s/perf-1.map", mapdir);
    FILE *f = fopen(path, "we");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%" PRIxPTR " 40 Builtin:StringFast\n%" PRIxPTR " 80 JS:*caller /app/a.js:3:1\n",
            (uintptr_t)code, (uintptr_t)code + 0x40);
    ck_assert_int_eq(fclose(f), 0);
    sym = sp_symbolizer_new(path, NULL, 0);
    ck_assert_ptr_nonnull(sym);
    sp_symbolizer_refresh(sym);
    sp_v8leaf_reset();
}

static void teardown(void)
{
    sp_symbolizer_free(sym);
    sp_v8leaf_reset();
    sp_unit_rmtree(mapdir);
}

/* A sample: pcs = {leaf, UP(0), ..., UP(n - 2)}, sp_word w. */
static void sample(uintptr_t leaf, uint64_t w, int n)
{
    memset(&smp, 0, sizeof smp);
    smp.pcs[0] = leaf;
    for (int k = 1; k < n; k++) smp.pcs[k] = UP(k - 1);
    smp.nframes = (uint16_t)n;
    smp.sp_word = w;
}

static void expect(const uint64_t *want, int n, const char *what)
{
    ck_assert_msg(smp.nframes == n, "%s: expected %d frames, saw %u", what, n, (unsigned)smp.nframes);
    for (int k = 0; k < n; k++)
        ck_assert_msg(smp.pcs[k] == want[k], "%s: pcs[%d]: expected %#llx, saw %#llx", what, k,
                      (unsigned long long)want[k], (unsigned long long)smp.pcs[k]);
}

START_TEST(test_caller_put_back)
{
    const uintptr_t rets[] = {RET_REL, RET_TBL, RET_REG};
    const char *how[] = {"call rel32", "call [r13 + disp32]", "call rcx"};
    for (int i = 0; i < 3; i++) {
        sample(LEAF, rets[i], 3);
        sp_v8leaf_repair(&smp, sym);
        const uint64_t want[] = {LEAF, rets[i], UP(0), UP(1)};
        expect(want, 4, how[i]);
        ck_assert_uint_eq(smp.flags, 0);
    }
    sp_v8leaf_stats_t st;
    sp_v8leaf_get_stats(&st);
    ck_assert_msg(st.inserted == 3 && st.leaves == 3, "expected 3 of 3 put back, saw %llu of %llu",
                  (unsigned long long)st.inserted, (unsigned long long)st.leaves);

    /* A second look at the same address is a cache hit: no read. */
    sample(LEAF, RET_REL, 3);
    sp_v8leaf_repair(&smp, sym);
    sp_v8leaf_stats_t again;
    sp_v8leaf_get_stats(&again);
    ck_assert_msg(again.reads == st.reads, "expected no new code read, saw %llu -> %llu",
                  (unsigned long long)st.reads, (unsigned long long)again.reads);
}
END_TEST

START_TEST(test_left_alone)
{
    const uint64_t plain[] = {LEAF, UP(0), UP(1)};
    sample(LEAF, NOT_RET, 3);
    sp_v8leaf_repair(&smp, sym);
    expect(plain, 3, "no call before the word at sp");
    sp_v8leaf_stats_t st;
    sp_v8leaf_get_stats(&st);
    ck_assert_uint_eq(st.no_call, 1);

    sample(LEAF, (uintptr_t)code + 0x20, 3); /* inside the builtin: not JS */
    sp_v8leaf_repair(&smp, sym);
    expect(plain, 3, "a word at sp in V8's builtins");

    sample(LEAF, 0x1234, 3);
    sp_v8leaf_repair(&smp, sym);
    expect(plain, 3, "a small integer at sp");

    const uint64_t js[] = {JS_PC, UP(0), UP(1)};
    sample(JS_PC, RET_REL, 3); /* the leaf is JS: it has its frame */
    sp_v8leaf_repair(&smp, sym);
    expect(js, 3, "a JS leaf");

    const uint64_t has[] = {LEAF, RET_REL, UP(0)};
    sample(LEAF, RET_REL, 3);
    smp.pcs[1] = RET_REL; /* the walk found it already */
    smp.pcs[2] = UP(0);
    sp_v8leaf_repair(&smp, sym);
    expect(has, 3, "a caller the walk already has");

    const uint64_t synth[] = {LEAF, SP_V8_SYNTH_BIT | 1, UP(0)};
    sample(LEAF, RET_REL, 3);
    smp.pcs[1] = SP_V8_SYNTH_BIT | 1; /* v8decode named the interpreted function */
    smp.pcs[2] = UP(0);
    sp_v8leaf_repair(&smp, sym);
    expect(synth, 3, "a leaf v8decode put its function above");
}
END_TEST

/* A context another signal handler interrupted (its pc stored plus one): its caller goes
 * in above it, and the leaf's own repair still sees the right frame indices. */
START_TEST(test_interrupted_context)
{
    sample(LEAF, RET_TBL, 4);
    smp.pcs[2] = LEAF + 4 + 1; /* the interrupted pc, plus one */
    smp.nsig = 1;
    smp.sig[0] = (sp_sig_ctx_t){.frame = 2, .sp = 0x1000, .sp_word = RET_REL};
    sp_v8leaf_repair(&smp, sym);
    const uint64_t want[] = {LEAF, RET_TBL, UP(0), LEAF + 5, RET_REL, UP(2)};
    expect(want, 6, "a leaf and an interrupted context, both frameless");
    ck_assert_msg(smp.sig[0].frame == 3, "the interrupted context moved to frame 3, saw %u",
                  (unsigned)smp.sig[0].frame);
}
END_TEST

/* A full stack keeps its leaf end: the root-most frame goes, marked truncated. */
START_TEST(test_full_stack)
{
    sample(LEAF, RET_REL, SP_MAX_FRAMES);
    sp_v8leaf_repair(&smp, sym);
    ck_assert_uint_eq(smp.nframes, SP_MAX_FRAMES);
    ck_assert_uint_eq(smp.pcs[1], RET_REL);
    ck_assert_uint_eq(smp.pcs[SP_MAX_FRAMES - 1], UP(SP_MAX_FRAMES - 3));
    ck_assert_msg(smp.flags & SP_SAMPLE_TRUNCATED, "expected the truncated flag, saw %#x", (unsigned)smp.flags);
}
END_TEST

SP_UNIT_SUITE(v8leaf)
{
    Suite *s = suite_create("v8leaf");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_caller_put_back);
    tcase_add_test(tc, test_left_alone);
    tcase_add_test(tc, test_interrupted_context);
    tcase_add_test(tc, test_full_stack);
    suite_add_tcase(s, tc);
    return s;
}
