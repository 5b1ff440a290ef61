/* test_fork: fork() without exec while the sampler runs. The child inherits no timer and
 * no thread registration (sp_sampler_atfork_child, what the preload's atfork handler calls):
 * it takes no samples, runs its own signal handlers and exits normally; the parent goes on
 * sampling as before. Busy loops count CPU time, not wall time, so a loaded machine only
 * makes the test slower; the timer is the wall clock one (1 kHz hrtimer: a CPU-time timer
 * only fires on the scheduler tick, 250 Hz, and less under load). */
#include "unit.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"
#include "sampler.h"
#include "stats.h"

static size_t drain(sp_ring_t *ring)
{
    static sp_sample_t s;
    size_t n = 0;
    while (sp_ring_pop(ring, &s)) n++;
    return n;
}

static void atfork_child(void) { sp_sampler_atfork_child(); }

START_TEST(test_fork_child_inherits_no_sampling)
{
    sp_ring_t *ring = sp_ring_new(4096);
    ck_assert_ptr_nonnull(ring);
    sp_sampler_opts_t o = {.hz = 1000, .cpu_clock = false, .lazy = false};
    ck_assert_int_eq(sp_sampler_init(&o, ring), 0);
    ck_assert_int_eq(pthread_atfork(NULL, NULL, atfork_child), 0);
    ck_assert_int_eq(sp_sampler_register_thread("0", "main"), 0);
    sp_sampler_process_begin();
    sp_unit_spin_cpu_ms(150);
    size_t before = drain(ring);
    ck_assert_msg(before >= 10, "parent sampled only %zu times in 150 ms of CPU at 1 kHz", before);
    sp_unit_spin_cpu_ms(20); /* the ring holds parent samples at fork, always (it used to be a race) */

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* The child: no registered thread, no signal for 200 ms of CPU, its own SIGUSR1
         * handler still works, and exit is normal. Exit codes say what failed.
         * The ring is a copy of the parent's at fork: samples the parent's timer published
         * between its drain above and fork() are in it. They are the parent's, taken before
         * the fork; what the child must not get is a sample of its own, after it. */
        if (sp_sampler_thread_count() != 0) _exit(10);
        drain(ring);
        uint64_t sig0 = sp_stats_get(SP_STAT_SIGNALS), smp0 = sp_stats_get(SP_STAT_SAMPLES);
        sp_unit_spin_cpu_ms(200);
        if (sp_stats_get(SP_STAT_SIGNALS) != sig0) _exit(11);
        if (sp_stats_get(SP_STAT_SAMPLES) != smp0 || drain(ring) != 0) _exit(12);
        struct sigaction sa = {.sa_handler = SIG_IGN};
        if (sigaction(SIGUSR1, &sa, NULL) != 0 || raise(SIGUSR1) != 0) _exit(13);
        /* Registering again is harmless: the child's sampler stays off. */
        sp_sampler_register_thread("0", "main");
        sp_unit_spin_cpu_ms(50);
        if (sp_stats_get(SP_STAT_SAMPLES) != smp0) _exit(14);
        exit(0);
    }
    sp_unit_spin_cpu_ms(150);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child: expected exit 0, saw %s %d (10: a registered thread, 11: a signal, 12: a "
                  "sample of its own, 13: SIGUSR1 broken, 14: sampling after registering again)",
                  WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    size_t after = drain(ring);
    ck_assert_msg(after >= 10, "parent sampled only %zu times in 150 ms of CPU after the fork", after);
    ck_assert_int_eq(sp_sampler_thread_count(), 1);
    sp_sampler_process_end();
    sp_sampler_stop();
}
END_TEST

SP_UNIT_SUITE(fork)
{
    Suite *s = suite_create("fork");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_fork_child_inherits_no_sampling);
    suite_add_tcase(s, tc);
    sp_unit_nofork(); /* one process: the test forks itself */
    return s;
}
