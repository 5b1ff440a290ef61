/* Check tests for src/ring.c: order, full ring drops, and concurrent producers with a
 * consumer losing or duplicating nothing. */
#include "unit.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

START_TEST(test_capacity_rounds_up)
{
    sp_ring_t *r = sp_ring_new(100);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(sp_ring_capacity(r), 128);
    sp_ring_free(r);
}
END_TEST

START_TEST(test_fifo_and_full)
{
    sp_ring_t *r = sp_ring_new(4);
    uint64_t t;
    for (int i = 0; i < 4; i++) {
        sp_sample_t *s = sp_ring_reserve(r, &t);
        ck_assert_ptr_nonnull(s);
        s->ts_ns = (uint64_t)i;
        s->nframes = 2;
        s->pcs[0] = 100 + (uint64_t)i;
        s->pcs[1] = 200 + (uint64_t)i;
        sp_ring_publish(r, t);
    }
    ck_assert_ptr_null(sp_ring_reserve(r, &t)); /* full: the producer drops, never waits */
    sp_sample_t out;
    for (int i = 0; i < 4; i++) {
        ck_assert(sp_ring_pop(r, &out));
        ck_assert_uint_eq(out.ts_ns, (uint64_t)i);
        ck_assert_uint_eq(out.nframes, 2);
        ck_assert_uint_eq(out.pcs[1], 200 + (uint64_t)i);
    }
    ck_assert(!sp_ring_pop(r, &out));
    ck_assert_ptr_nonnull(sp_ring_reserve(r, &t)); /* space again after the consumer ran */
    sp_ring_free(r);
}
END_TEST

/* A deep stack's slot records all come out (one per frame a walk keeps: the outer JS frames
 * of a deep stack are decoded too), with its frames after them; a count past the limit is
 * cut to it. */
START_TEST(test_deep_v8_records)
{
    sp_ring_t *r = sp_ring_new(2);
    uint64_t t;
    sp_sample_t *s = sp_ring_reserve(r, &t);
    ck_assert_ptr_nonnull(s);
    s->nframes = SP_MAX_FRAMES;
    s->nv8 = SP_V8_MAX_FRAMES;
    for (unsigned i = 0; i < SP_MAX_FRAMES; i++) s->pcs[i] = 0x1000 + i;
    for (unsigned i = 0; i < SP_V8_MAX_FRAMES; i++)
        s->v8[i] = (sp_v8_slots_t){.frame = (uint16_t)i, .function = 0x2001 + 8 * i, .bytecode_array = 7, .bytecode_offset = i};
    sp_ring_publish(r, t);
    s = sp_ring_reserve(r, &t);
    s->nframes = 1;
    s->nv8 = SP_V8_MAX_FRAMES + 5; /* corrupt: cut to the limit, never read past the array */
    sp_ring_publish(r, t);
    static sp_sample_t out;
    ck_assert(sp_ring_pop(r, &out));
    ck_assert_msg(SP_V8_MAX_FRAMES == SP_MAX_FRAMES, "expected a record for every frame (%d), saw room for %d",
                  SP_MAX_FRAMES, SP_V8_MAX_FRAMES);
    ck_assert_uint_eq(out.nv8, SP_V8_MAX_FRAMES);
    for (unsigned i = 0; i < SP_V8_MAX_FRAMES; i++)
        ck_assert_msg(out.v8[i].frame == i && out.v8[i].function == 0x2001 + 8 * i && out.v8[i].bytecode_offset == i,
                      "record %u: expected frame %u function %#x, saw frame %u function %#llx", i, i, 0x2001 + 8 * i,
                      (unsigned)out.v8[i].frame, (unsigned long long)out.v8[i].function);
    for (unsigned i = 0; i < SP_MAX_FRAMES; i++) ck_assert_uint_eq(out.pcs[i], 0x1000 + i);
    ck_assert(sp_ring_pop(r, &out));
    ck_assert_uint_eq(out.nv8, SP_V8_MAX_FRAMES);
    sp_ring_free(r);
}
END_TEST

START_TEST(test_unpublished_blocks_consumer_only)
{
    sp_ring_t *r = sp_ring_new(4);
    uint64_t t1, t2;
    sp_sample_t *a = sp_ring_reserve(r, &t1);
    sp_sample_t *b = sp_ring_reserve(r, &t2);
    b->ts_ns = 2;
    b->nframes = 0;
    sp_ring_publish(r, t2);
    sp_sample_t out;
    ck_assert(!sp_ring_pop(r, &out)); /* a is still being written */
    a->ts_ns = 1;
    a->nframes = 0;
    sp_ring_publish(r, t1);
    ck_assert(sp_ring_pop(r, &out));
    ck_assert_uint_eq(out.ts_ns, 1);
    ck_assert(sp_ring_pop(r, &out));
    ck_assert_uint_eq(out.ts_ns, 2);
    sp_ring_free(r);
}
END_TEST

/* The stack copies come from a pool of a quarter of the cells: a claim past it gets none
 * (the sample goes without a copy), a pop gives its slot back with the copy intact. */
START_TEST(test_stack_pool)
{
    sp_ring_t *r = sp_ring_new(8); /* 2 stack slots */
    uint64_t t[3];
    sp_sample_t *c[3];
    uint8_t *buf[3];
    for (int i = 0; i < 3; i++) {
        c[i] = sp_ring_reserve(r, &t[i]);
        ck_assert_ptr_nonnull(c[i]);
        ck_assert_uint_eq(c[i]->stack_len, 0);
        c[i]->nframes = 0;
        c[i]->nv8 = 0;
        buf[i] = sp_ring_stack(r, c[i]);
    }
    ck_assert_ptr_nonnull(buf[0]);
    ck_assert_ptr_nonnull(buf[1]);
    ck_assert_ptr_ne(buf[0], buf[1]);
    ck_assert_ptr_null(buf[2]); /* the pool is taken */
    memset(buf[0], 0xa5, 64);
    c[0]->stack_len = 64;
    memset(buf[1], 0x5a, 32);
    c[1]->stack_len = 32;
    sp_ring_prefault(r); /* the agent's, at any time: what is written stays */
    for (int i = 0; i < 3; i++) sp_ring_publish(r, t[i]);
    static uint8_t got[SP_STACK_COPY];
    sp_sample_t out;
    ck_assert(sp_ring_pop_stack(r, &out, got));
    ck_assert_uint_eq(out.stack_len, 64);
    ck_assert_uint_eq(got[0], 0xa5);
    ck_assert_uint_eq(got[63], 0xa5);
    /* the first slot is free again: a new sample gets it, the second is still taken */
    uint64_t t4;
    sp_sample_t *c4 = sp_ring_reserve(r, &t4);
    ck_assert_ptr_nonnull(c4);
    c4->nframes = 0;
    c4->nv8 = 0;
    ck_assert_ptr_eq(sp_ring_stack(r, c4), buf[0]);
    sp_ring_publish(r, t4);
    ck_assert(sp_ring_pop_stack(r, &out, got));
    ck_assert_uint_eq(out.stack_len, 32);
    ck_assert_uint_eq(got[31], 0x5a);
    ck_assert(sp_ring_pop_stack(r, &out, got));
    ck_assert_uint_eq(out.stack_len, 0); /* went without a copy */
    ck_assert(sp_ring_pop(r, &out));        /* NULL stack: the slot is freed all the same */
    ck_assert(!sp_ring_pop(r, &out));
    ck_assert(sp_ring_idle(r));
    sp_sample_t *c5 = sp_ring_reserve(r, &t4);
    ck_assert(!sp_ring_idle(r)); /* reserved, not yet published */
    c5->nframes = 0;
    c5->nv8 = 0;
    ck_assert_ptr_nonnull(sp_ring_stack(r, c5)); /* every slot is free again */
    sp_ring_publish(r, t4);
    ck_assert(sp_ring_pop(r, &out));
    ck_assert(sp_ring_idle(r));
    sp_ring_free(r);
}
END_TEST

#define PRODUCERS 4
#define PER_PRODUCER 200000

static sp_ring_t *shared;
static _Atomic int producers_done;
static _Atomic unsigned long dropped;

static void *producer(void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    for (uint64_t i = 0; i < PER_PRODUCER; i++) {
        uint64_t t;
        sp_sample_t *s = sp_ring_reserve(shared, &t);
        if (!s) {
            dropped++;
            continue;
        }
        s->tid = (uint32_t)id;
        s->ts_ns = i;
        s->nframes = 1;
        s->pcs[0] = id * 1000000000ull + i; /* checked by the consumer */
        sp_ring_publish(shared, t);
    }
    producers_done++;
    return NULL;
}

START_TEST(test_concurrent_producers)
{
    shared = sp_ring_new(1024);
    pthread_t th[PRODUCERS];
    for (uintptr_t i = 0; i < PRODUCERS; i++) pthread_create(&th[i], NULL, producer, (void *)i);
    unsigned long got = 0;
    int64_t last[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) last[i] = -1;
    sp_sample_t out;
    for (;;) {
        if (sp_ring_pop(shared, &out)) {
            ck_assert_uint_lt(out.tid, PRODUCERS);
            ck_assert_uint_eq(out.pcs[0], out.tid * 1000000000ull + out.ts_ns);
            /* per producer, samples come out in the order they went in, none twice */
            ck_assert_int_gt((int64_t)out.ts_ns, last[out.tid]);
            last[out.tid] = (int64_t)out.ts_ns;
            got++;
        } else if (producers_done == PRODUCERS) {
            if (!sp_ring_pop(shared, &out)) break;
            got++;
        }
    }
    for (int i = 0; i < PRODUCERS; i++) pthread_join(th[i], NULL);
    ck_assert_uint_eq(got + dropped, (unsigned long)PRODUCERS * PER_PRODUCER);
    ck_assert_uint_gt(got, 0);
    sp_ring_free(shared);
}
END_TEST

SP_UNIT_SUITE(ring)
{
    Suite *s = suite_create("ring");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_capacity_rounds_up);
    tcase_add_test(tc, test_fifo_and_full);
    tcase_add_test(tc, test_unpublished_blocks_consumer_only);
    tcase_add_test(tc, test_deep_v8_records);
    tcase_add_test(tc, test_concurrent_producers);
    tcase_add_test(tc, test_stack_pool);
    suite_add_tcase(s, tc);
    return s;
}
