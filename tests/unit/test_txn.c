/* Check tests for src/txn.c: handles carry a generation (a stale or doubled finish is
 * rejected), a finished transaction reaches the agent's queue once, and a fork child
 * starts with no transaction of its parent (and a usable lock). */
#include "unit.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ring.h"
#include "sampler.h"
#include "txn.h"

static void setup(void)
{
    static sp_ring_t *ring;
    if (!ring) ring = sp_ring_new(64);
    ck_assert_ptr_nonnull(ring);
    sp_sampler_opts_t o = {.hz = 99, .lazy = true};
    ck_assert_int_eq(sp_sampler_init(&o, ring), 0);
    ck_assert_int_eq(sp_sampler_register_thread("0", "main"), 0);
}

START_TEST(test_generations)
{
    setup();
    long h = sp_txn_start("GET /a", "http.server", NULL, NULL, true, false);
    ck_assert_int_ge(h, 0);
    sp_txn_t t;
    ck_assert_int_eq(sp_txn_get(h, &t), 0);
    ck_assert_str_eq(t.name, "GET /a");
    ck_assert_str_eq(t.thread_id, "0");
    ck_assert_uint_eq(strlen(t.trace_id), 32);
    ck_assert_uint_eq(strlen(t.span_id), 16);
    ck_assert_int_eq(sp_txn_finish(h), 0);
    ck_assert_int_eq(sp_txn_finish(h), -EINVAL); /* doubled */
    ck_assert(sp_txn_take_finished(&t));
    ck_assert_str_eq(t.name, "GET /a");
    ck_assert(!sp_txn_take_finished(&t));
    long h2 = sp_txn_start("GET /b", NULL, NULL, NULL, true, false);
    ck_assert_int_ge(h2, 0);
    ck_assert_int_eq(sp_txn_discard(h), -EINVAL); /* stale: the slot may be reused */
    ck_assert_int_eq(sp_txn_discard(h2), 0);
    ck_assert(!sp_txn_take_finished(&t));
    ck_assert_uint_eq(sp_txn_oldest_running_ns(), UINT64_MAX);
}
END_TEST

/* fork() while a transaction runs: the child has none of the parent's transactions (and its
 * lock is fresh: another thread may have held it at fork). Exit codes say what failed. */
START_TEST(test_fork_child_forgets)
{
    setup();
    long h = sp_txn_start("GET /slow", NULL, NULL, NULL, true, false);
    ck_assert_int_ge(h, 0);
    ck_assert_uint_ne(sp_txn_oldest_running_ns(), UINT64_MAX);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        alarm(5); /* a lock inherited held would hang here */
        if (sp_txn_oldest_running_ns() != UINT64_MAX) _exit(10);
        if (sp_txn_finish(h) != -EINVAL) _exit(11);
        sp_txn_t t;
        if (sp_txn_take_finished(&t)) _exit(12);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child: expected exit 0, saw %s %d (10: the parent's transaction is still running "
                  "in the child, 11: its handle still finishes, 12: a finished one is queued)",
                  WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    ck_assert_int_eq(sp_txn_finish(h), 0); /* the parent's is untouched */
}
END_TEST

SP_UNIT_SUITE(txn)
{
    Suite *s = suite_create("txn");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_generations);
    tcase_add_test(tc, test_fork_child_forgets);
    suite_add_tcase(s, tc);
    return s;
}
