/* Check tests for src/sampler.c: the timer period for every documented rate (1..1000 Hz)
 * is a valid itimerspec, a 1 Hz sampler really arms its timer, and thread lookups copy
 * what was registered. */
#include "unit.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ring.h"
#include "sampler.h"
#include "stats.h"

START_TEST(test_timer_spec_every_rate)
{
    for (int hz = 1; hz <= SP_MAX_HZ; hz++)
        for (unsigned phase = 0; phase < 200; phase += 37) {
            struct itimerspec its;
            sp_sampler_timer_spec(hz, phase, &its);
            long long period = (long long)its.it_interval.tv_sec * 1000000000ll + its.it_interval.tv_nsec;
            long long first = (long long)its.it_value.tv_sec * 1000000000ll + its.it_value.tv_nsec;
            ck_assert_msg(its.it_interval.tv_nsec >= 0 && its.it_interval.tv_nsec < 1000000000l &&
                              its.it_value.tv_nsec >= 0 && its.it_value.tv_nsec < 1000000000l,
                          "hz=%d: tv_nsec out of range: interval %ld, value %ld", hz,
                          (long)its.it_interval.tv_nsec, (long)its.it_value.tv_nsec);
            ck_assert_msg(period == 1000000000ll / hz, "hz=%d: expected a period of %lld ns, saw %lld",
                          hz, 1000000000ll / hz, period);
            ck_assert_msg(first > 0 && first < period, "hz=%d phase=%u: first tick %lld ns not in (0, %lld)",
                          hz, phase, first, period);
        }
}
END_TEST

/* SENTRYPROF_HZ=1 is documented as valid: the thread's timer must arm (it used to put
 * 1e9 into tv_nsec, timer_settime failed with EINVAL and only a counter moved). */
START_TEST(test_one_hz_arms)
{
    sp_ring_t *ring = sp_ring_new(64);
    ck_assert_ptr_nonnull(ring);
    sp_sampler_opts_t o = {.hz = 1, .cpu_clock = false, .lazy = false};
    ck_assert_int_eq(sp_sampler_init(&o, ring), 0);
    uint64_t errors0 = sp_stats_get(SP_STAT_TIMER_ERRORS);
    ck_assert_int_eq(sp_sampler_register_thread("0", "main"), 0);
    ck_assert_msg(sp_stats_get(SP_STAT_TIMER_ERRORS) == errors0,
                  "expected no timer errors at 1 Hz, saw %llu",
                  (unsigned long long)(sp_stats_get(SP_STAT_TIMER_ERRORS) - errors0));
    sp_sampler_unregister_thread();
    sp_sampler_stop();
}
END_TEST

START_TEST(test_thread_info)
{
    sp_ring_t *ring = sp_ring_new(64);
    ck_assert_ptr_nonnull(ring);
    sp_sampler_opts_t o = {.hz = 99};
    ck_assert_int_eq(sp_sampler_init(&o, ring), 0);
    ck_assert_int_eq(sp_sampler_register_thread("7", "worker 7"), 0);
    char id[SP_THREAD_ID_LEN], name[64];
    ck_assert(sp_sampler_thread_info((pid_t)syscall(SYS_gettid), id, name, sizeof name));
    ck_assert_str_eq(id, "7");
    ck_assert_str_eq(name, "worker 7");
    ck_assert(!sp_sampler_thread_info(1, id, name, sizeof name) || getpid() == 1);
    sp_sampler_unregister_thread();
    sp_sampler_stop();
}
END_TEST

/* The interval for the documented edges, spelled out: 1 Hz is {1 s, 0 ns} (not
 * tv_nsec = 1e9, which timer_settime rejects), 1000 Hz is 1 ms, and rates outside
 * 1..SP_MAX_HZ are clamped to those, never a zero (disarming) or negative period. */
START_TEST(test_timer_spec_edges)
{
    static const struct {
        int hz;
        time_t sec;
        long nsec;
    } cases[] = {{1, 1, 0}, {2, 0, 500000000}, {3, 0, 333333333}, {99, 0, 10101010},
                 {SP_MAX_HZ, 0, 1000000000 / SP_MAX_HZ}, {0, 1, 0}, {-5, 1, 0},
                 {SP_MAX_HZ * 10, 0, 1000000000 / SP_MAX_HZ}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct itimerspec its;
        sp_sampler_timer_spec(cases[i].hz, 12345, &its);
        ck_assert_msg(its.it_interval.tv_sec == cases[i].sec && its.it_interval.tv_nsec == cases[i].nsec,
                      "hz=%d: expected an interval of %lld s %ld ns, saw %lld s %ld ns", cases[i].hz,
                      (long long)cases[i].sec, cases[i].nsec, (long long)its.it_interval.tv_sec,
                      (long)its.it_interval.tv_nsec);
        ck_assert_msg(its.it_value.tv_sec > 0 || its.it_value.tv_nsec > 0,
                      "hz=%d: a zero first expiry disarms the timer", cases[i].hz);
    }
}
END_TEST

/* Threads do not tick in lockstep: different tids (phases) get different first expiries,
 * spread over the period. */
START_TEST(test_timer_spec_phases_spread)
{
    const int hz = 100;
    const long long period = 1000000000ll / hz;
    long long lo = period, hi = 0;
    for (unsigned tid = 1000; tid < 1064; tid++) {
        struct itimerspec its;
        sp_sampler_timer_spec(hz, tid, &its);
        long long first = (long long)its.it_value.tv_sec * 1000000000ll + its.it_value.tv_nsec;
        if (first < lo) lo = first;
        if (first > hi) hi = first;
    }
    ck_assert_msg(hi - lo >= period / 4,
                  "64 consecutive tids at %d Hz: expected first expiries spread over >= 1/4 period "
                  "(%lld ns), saw %lld..%lld", hz, period / 4, lo, hi);
}
END_TEST

/* Threads register and unregister (slots are reused with new names) while another thread
 * looks them up: a lookup sees a thread's id and name as one registration wrote them,
 * never half of one and half of another (ThreadSanitizer runs this too). */
#define N_CHURN      3
#define CHURN_ROUNDS 300     /* registrations per thread, at least */
#define CHURN_FOUND  1000    /* lookups that found a registered thread, before stopping */
#define CHURN_MAX    50000000 /* lookups, at most */
static _Atomic pid_t churn_tid[N_CHURN];
static _Atomic int churn_stop, churn_rounds_done;

/* Registers and unregisters until told to stop (and CHURN_ROUNDS times at least): on a busy
 * machine a fixed number of rounds could all run before the looking thread is scheduled. */
static void *churn(void *arg)
{
    int w = (int)(intptr_t)arg;
    atomic_store(&churn_tid[w], (pid_t)syscall(SYS_gettid));
    for (int r = 0; r < CHURN_ROUNDS || !atomic_load(&churn_stop); r++) {
        char id[SP_THREAD_ID_LEN], name[SP_THREAD_NAME_LEN];
        snprintf(id, sizeof id, "%d", 1000 * (w + 1) + r % 100000);
        snprintf(name, sizeof name, "name-%s", id);
        if (sp_sampler_register_thread(id, name) != 0) return (void *)1;
        sp_sampler_unregister_thread();
        if (r + 1 == CHURN_ROUNDS) atomic_fetch_add(&churn_rounds_done, 1);
    }
    return NULL;
}

START_TEST(test_thread_info_races_register)
{
    sp_ring_t *ring = sp_ring_new(64);
    ck_assert_ptr_nonnull(ring);
    sp_sampler_opts_t o = {.hz = 99, .lazy = true};
    ck_assert_int_eq(sp_sampler_init(&o, ring), 0);
    pthread_t th[N_CHURN];
    for (int w = 0; w < N_CHURN; w++)
        ck_assert_int_eq(pthread_create(&th[w], NULL, churn, (void *)(intptr_t)w), 0);
    long lookups = 0, found = 0;
    while ((found < CHURN_FOUND || atomic_load(&churn_rounds_done) < N_CHURN) && lookups < CHURN_MAX) {
        for (int w = 0; w < N_CHURN; w++) {
            pid_t tid = atomic_load(&churn_tid[w]);
            if (!tid) continue;
            char id[SP_THREAD_ID_LEN], name[SP_THREAD_NAME_LEN], want[SP_THREAD_NAME_LEN];
            lookups++;
            if (!sp_sampler_thread_info(tid, id, name, sizeof name)) continue;
            found++;
            snprintf(want, sizeof want, "name-%s", id);
            ck_assert_msg(strcmp(name, want) == 0, "tid %d: id '%s' with name '%s' (expected '%s')",
                          (int)tid, id, name, want);
        }
    }
    atomic_store(&churn_stop, 1);
    for (int w = 0; w < N_CHURN; w++) {
        void *ret;
        ck_assert_int_eq(pthread_join(th[w], &ret), 0);
        ck_assert_msg(ret == NULL, "thread %d: register failed", w);
    }
    ck_assert_msg(found > 0, "%ld lookups of registering threads found none", lookups);
    sp_sampler_stop();
}
END_TEST

SP_UNIT_SUITE(sampler)
{
    Suite *s = suite_create("sampler");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_timer_spec_every_rate);
    tcase_add_test(tc, test_timer_spec_edges);
    tcase_add_test(tc, test_timer_spec_phases_spread);
    tcase_add_test(tc, test_one_hz_arms);
    tcase_add_test(tc, test_thread_info);
    tcase_add_test(tc, test_thread_info_races_register);
    suite_add_tcase(s, tc);
    return s;
}
