/* Check tests for src/budget.c: the HTTP budget's token bucket, process-wide: a burst of one
 * second's worth, the rate after it, tokens given back, no credit beyond the burst after an
 * idle time, rate 0, and threads sharing one bucket taking exactly what it holds. The clock
 * is passed in: no timing here. */
#include "unit.h"

#include <pthread.h>

#include "budget.h"

#define S 1000000000ull /* ns per second */

static unsigned takes(sp_budget_t *b, unsigned tries, uint64_t now)
{
    unsigned n = 0;
    for (unsigned i = 0; i < tries; i++) n += sp_budget_take(b, now);
    return n;
}

START_TEST(burst_then_rate)
{
    sp_budget_t b;
    sp_budget_init(&b, 100, 5 * S);
    unsigned n = takes(&b, 1000, 5 * S);
    ck_assert_msg(n == 100, "a full bucket: expected 100 of 1000 at once, saw %u", n);
    n = takes(&b, 1000, 5 * S + S / 10);
    ck_assert_msg(n == 10, "0.1 s later at 100/s: expected 10, saw %u", n);
    n = takes(&b, 1000, 5 * S + S / 10);
    ck_assert_msg(n == 0, "no time passed: expected 0, saw %u", n);
    /* 10 s in steps of 1 ms: 100 a second */
    n = 0;
    for (uint64_t t = 1; t <= 10000; t++) n += takes(&b, 5, 5 * S + S / 10 + t * (S / 1000));
    ck_assert_msg(n >= 999 && n <= 1000, "10 s at 100/s: expected 1000 (±1), saw %u", n);
}
END_TEST

START_TEST(idle_gives_no_more_than_the_burst)
{
    sp_budget_t b;
    sp_budget_init(&b, 100, 0);
    ck_assert_uint_eq(takes(&b, 50, 0), 50);
    unsigned n = takes(&b, 1000, 60 * S);
    ck_assert_msg(n == 100, "after an idle minute: expected one second's worth (100), saw %u", n);
}
END_TEST

START_TEST(give_back)
{
    sp_budget_t b;
    sp_budget_init(&b, 2, 0);
    ck_assert_uint_eq(takes(&b, 5, 0), 2);
    sp_budget_give_back(&b);
    ck_assert_uint_eq(takes(&b, 5, 0), 1);
    sp_budget_give_back(&b);
    sp_budget_give_back(&b);
    sp_budget_give_back(&b);
    ck_assert_msg(takes(&b, 5, 0) == 2, "given back beyond the burst: capped at 2");
}
END_TEST

START_TEST(rate_zero_and_fractional)
{
    sp_budget_t b;
    sp_budget_init(&b, 0, 0);
    ck_assert_uint_eq(takes(&b, 10, 100 * S), 0);
    sp_budget_give_back(&b);
    ck_assert_uint_eq(takes(&b, 10, 200 * S), 0);
    sp_budget_init(&b, 0.5, 0); /* one every 2 s, a burst of 1 */
    ck_assert_uint_eq(takes(&b, 10, 0), 1);
    ck_assert_uint_eq(takes(&b, 10, S), 0);
    ck_assert_uint_eq(takes(&b, 10, 2 * S), 1);
}
END_TEST

typedef struct {
    sp_budget_t *b;
    unsigned got;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;
    w->got = takes(w->b, 10000, 7 * S); /* the same instant: only the bucket's content */
    return NULL;
}

START_TEST(threads_share_one_bucket)
{
    sp_budget_t b;
    sp_budget_init(&b, 1000, 7 * S);
    pthread_t t[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){&b, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker, &w[i]), 0);
    }
    unsigned total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += w[i].got;
    }
    ck_assert_msg(total == 1000, "4 threads, one bucket of 1000: expected 1000 taken in all, saw %u",
                  total);
}
END_TEST

SP_UNIT_SUITE(budget)
{
    Suite *s = suite_create("budget");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, burst_then_rate);
    tcase_add_test(tc, idle_gives_no_more_than_the_burst);
    tcase_add_test(tc, give_back);
    tcase_add_test(tc, rate_zero_and_fractional);
    tcase_add_test(tc, threads_share_one_bucket);
    suite_add_tcase(s, tc);
    return s;
}
