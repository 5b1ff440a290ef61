/* Check tests for src/txn.c: handles carry a generation (a stale or doubled finish is
 * rejected), a finished transaction reaches the agent's queue once, and a fork child
 * starts with no transaction of its parent (and a usable lock); a full table refuses, a
 * reused slot rejects the old handle, and threads racing start/finish/take lose nothing. */
#include "unit.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "ring.h"
#include "sampler.h"
#include "stats.h"
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

/* SP_MAX_TXNS in flight fill every slot: one more is refused with -ENOSPC (not a crash, not
 * a silent overwrite). Finishing them all queues every one (the finished queue holds as
 * many as there are slots) and the agent takes them in finishing order; then slots are
 * free again. */
START_TEST(test_full)
{
    setup();
    static long h[SP_MAX_TXNS];
    char name[32];
    for (int i = 0; i < SP_MAX_TXNS; i++) {
        snprintf(name, sizeof name, "t%d", i);
        h[i] = sp_txn_start(name, NULL, NULL, NULL, true, false);
        ck_assert_msg(h[i] >= 0, "start %d of %d: expected a handle, saw %ld", i + 1, SP_MAX_TXNS, h[i]);
    }
    long more = sp_txn_start("one too many", NULL, NULL, NULL, true, false);
    ck_assert_msg(more == -ENOSPC, "start with every slot running: expected -ENOSPC, saw %ld", more);
    for (int i = SP_MAX_TXNS - 1; i >= 0; i--) ck_assert_int_eq(sp_txn_finish(h[i]), 0);
    sp_txn_t t;
    for (int i = SP_MAX_TXNS - 1; i >= 0; i--) {
        snprintf(name, sizeof name, "t%d", i);
        ck_assert_msg(sp_txn_take_finished(&t), "take: expected %s, the queue was empty", name);
        ck_assert_msg(strcmp(t.name, name) == 0, "take: expected %s (finishing order), saw %s", name, t.name);
    }
    ck_assert(!sp_txn_take_finished(&t));
    long again = sp_txn_start("after", NULL, NULL, NULL, true, false);
    ck_assert_msg(again >= 0, "start after every slot was freed: expected a handle, saw %ld", again);
    ck_assert_int_eq(sp_txn_discard(again), 0);
}
END_TEST

/* A handle whose slot was freed and reused by another transaction is stale: it can no
 * longer finish, rename or read that other transaction. */
START_TEST(test_stale_after_reuse)
{
    setup();
    long old = sp_txn_start("old", NULL, NULL, NULL, true, false);
    ck_assert_int_ge(old, 0);
    ck_assert_int_eq(sp_txn_finish(old), 0);
    sp_txn_t t;
    ck_assert(sp_txn_take_finished(&t));
    long reuse = -1;
    for (int i = 0; i < 2 * SP_MAX_TXNS && reuse < 0; i++) {
        long h = sp_txn_start("new", NULL, NULL, NULL, false, false);
        ck_assert_int_ge(h, 0);
        if (h % SP_MAX_TXNS == old % SP_MAX_TXNS) reuse = h;
        else ck_assert_int_eq(sp_txn_discard(h), 0);
    }
    ck_assert_msg(reuse >= 0, "the slot of handle %ld was never reused in %d starts", old, 2 * SP_MAX_TXNS);
    ck_assert_msg(reuse != old, "a reused slot got the same handle %ld: no generation", old);
    ck_assert_int_eq(sp_txn_finish(old), -EINVAL);
    ck_assert_int_eq(sp_txn_discard(old), -EINVAL);
    ck_assert_int_eq(sp_txn_set_name(old, "hijack"), -EINVAL);
    ck_assert_int_eq(sp_txn_set_status(old, 500, "internal_error"), -EINVAL);
    ck_assert_int_eq(sp_txn_get(old, &t), -EINVAL);
    ck_assert_int_eq(sp_txn_get(reuse, &t), 0);
    ck_assert_str_eq(t.name, "new");
    ck_assert_int_eq(t.http_status, 0);
    ck_assert_int_eq(sp_txn_discard(reuse), 0);
    ck_assert_int_eq(sp_txn_finish(-1), -EINVAL);
}
END_TEST

/* What start and the setters keep: an incoming trace id and parent span are continued only
 * when well-formed (else a fresh trace), the route name and status set before finish
 * reach the agent, and an unsampled transaction never reaches its queue. */
START_TEST(test_fields)
{
    setup();
    const char *trace = "0123456789abcdef0123456789abcdef", *parent = "89abcdef01234567";
    long h = sp_txn_start(NULL, NULL, trace, parent, true, true);
    ck_assert_int_ge(h, 0);
    ck_assert_int_eq(sp_txn_set_name(h, "GET /users/:id"), 0);
    ck_assert_int_eq(sp_txn_set_status(h, 404, "not_found"), 0);
    ck_assert_int_eq(sp_txn_finish(h), 0);
    sp_txn_t t;
    ck_assert(sp_txn_take_finished(&t));
    ck_assert_str_eq(t.name, "GET /users/:id");
    ck_assert_str_eq(t.op, "default");
    ck_assert_str_eq(t.trace_id, trace);
    ck_assert_str_eq(t.parent_span_id, parent);
    ck_assert_int_eq(t.http_status, 404);
    ck_assert_str_eq(t.status, "not_found");
    ck_assert(t.sampled && t.to_js);
    ck_assert_msg(t.end_ns >= t.start_ns, "end %llu before start %llu", (unsigned long long)t.end_ns,
                  (unsigned long long)t.start_ns);

    h = sp_txn_start("bad ids", "op", "0123456789ABCDEF0123456789ABCDEF", "short", true, false);
    ck_assert_int_ge(h, 0);
    ck_assert_int_eq(sp_txn_get(h, &t), 0);
    ck_assert_msg(strlen(t.trace_id) == 32 && strspn(t.trace_id, "0123456789abcdef") == 32 &&
                      strcmp(t.trace_id, "0123456789abcdef0123456789abcdef") != 0,
                  "an uppercase trace id: expected a fresh lowercase one, saw %s", t.trace_id);
    ck_assert_str_eq(t.parent_span_id, "");
    ck_assert_int_eq(sp_txn_finish(h), 0);
    ck_assert(sp_txn_take_finished(&t));

    h = sp_txn_start("unsampled", NULL, NULL, NULL, false, false);
    ck_assert_int_ge(h, 0);
    ck_assert_uint_eq(sp_txn_oldest_running_ns(), UINT64_MAX); /* no samples to keep for it */
    ck_assert_int_eq(sp_txn_finish(h), 0);
    ck_assert_msg(!sp_txn_take_finished(&t), "an unsampled transaction reached the agent: %s", t.name);
}
END_TEST

/* A thread the sampler does not know cannot start one. */
static void *start_unregistered(void *arg)
{
    (void)arg;
    return (void *)sp_txn_start("x", NULL, NULL, NULL, true, false);
}

START_TEST(test_unregistered_thread)
{
    setup();
    pthread_t th;
    void *ret;
    ck_assert_int_eq(pthread_create(&th, NULL, start_unregistered, NULL), 0);
    ck_assert_int_eq(pthread_join(th, &ret), 0);
    ck_assert_msg((long)ret == -ENOENT, "start on an unregistered thread: expected -ENOENT, saw %ld", (long)ret);
}
END_TEST

/* JS threads start and finish while the agent takes: every finished transaction reaches the
 * agent exactly once, with the fields its thread set (ThreadSanitizer runs this too). */
#define N_WORKERS 4
#define PER_WORKER 400

static void *worker(void *arg)
{
    int w = (int)(intptr_t)arg;
    char id[SP_THREAD_ID_LEN], name[32];
    snprintf(id, sizeof id, "%d", w + 1);
    if (sp_sampler_register_thread(id, "worker") != 0) return (void *)1;
    for (int i = 0; i < PER_WORKER; i++) {
        long h = sp_txn_start("start", "op", NULL, NULL, true, false);
        while (h == -ENOSPC) {
            sched_yield();
            h = sp_txn_start("start", "op", NULL, NULL, true, false);
        }
        if (h < 0) return (void *)2;
        snprintf(name, sizeof name, "w%d/%d", w, i);
        if (sp_txn_set_name(h, name) != 0 || sp_txn_set_status(h, 200, "ok") != 0) return (void *)3;
        if (sp_txn_finish(h) != 0) return (void *)4;
    }
    sp_sampler_unregister_thread();
    return NULL;
}

START_TEST(test_threads)
{
    setup();
    pthread_t th[N_WORKERS];
    static int seen[N_WORKERS][PER_WORKER];
    for (int w = 0; w < N_WORKERS; w++)
        ck_assert_int_eq(pthread_create(&th[w], NULL, worker, (void *)(intptr_t)w), 0);
    int taken = 0;
    sp_txn_t t;
    for (int spins = 0; taken < N_WORKERS * PER_WORKER && spins < 100000000; spins++) {
        /* as the agent does: the oldest running start, read while threads fill slots */
        uint64_t oldest = sp_txn_oldest_running_ns();
        ck_assert_msg(oldest == UINT64_MAX || oldest > 0, "oldest running start 0: a slot seen half-filled");
        if (!sp_txn_take_finished(&t)) {
            sched_yield();
            continue;
        }
        int w, i;
        ck_assert_msg(sscanf(t.name, "w%d/%d", &w, &i) == 2 && w >= 0 && w < N_WORKERS && i >= 0 &&
                          i < PER_WORKER,
                      "taken: a name its worker did not set: '%s'", t.name);
        ck_assert_msg(seen[w][i]++ == 0, "taken twice: %s", t.name);
        char want_id[SP_THREAD_ID_LEN];
        snprintf(want_id, sizeof want_id, "%d", w + 1);
        ck_assert_str_eq(t.thread_id, want_id);
        ck_assert_int_eq(t.http_status, 200);
        taken++;
    }
    for (int w = 0; w < N_WORKERS; w++) {
        void *ret;
        ck_assert_int_eq(pthread_join(th[w], &ret), 0);
        ck_assert_msg(ret == NULL, "worker %d failed at step %ld (1 register, 2 start, 3 set, 4 finish)", w,
                      (long)ret);
    }
    ck_assert_msg(taken == N_WORKERS * PER_WORKER, "taken: expected %d, saw %d", N_WORKERS * PER_WORKER, taken);
    ck_assert(!sp_txn_take_finished(&t));
}
END_TEST

/* Issue #20 item 14: a transaction finished (or discarded) from another thread than the
 * one it runs on still ends it on its own thread: that thread's count goes back to 0 and,
 * in lazy mode, its timer is disarmed (it used to stay sampled for the process's life). */
typedef struct {
    pthread_barrier_t started, finished;
    pid_t tid;
    long h[2];
} owner_t;

static void *owner_thread(void *arg)
{
    owner_t *o = arg;
    if (sp_sampler_register_thread("3", "owner") != 0) return (void *)1;
    o->tid = (pid_t)syscall(SYS_gettid);
    o->h[0] = sp_txn_start("finished elsewhere", NULL, NULL, NULL, true, false);
    o->h[1] = sp_txn_start("discarded elsewhere", NULL, NULL, NULL, true, false);
    pthread_barrier_wait(&o->started);
    pthread_barrier_wait(&o->finished); /* the main thread ends both and looks */
    sp_sampler_unregister_thread();
    return NULL;
}

START_TEST(test_finish_from_another_thread)
{
    setup();
    static owner_t o;
    pthread_barrier_init(&o.started, NULL, 2);
    pthread_barrier_init(&o.finished, NULL, 2);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, owner_thread, &o), 0);
    pthread_barrier_wait(&o.started);
    ck_assert_msg(o.h[0] >= 0 && o.h[1] >= 0, "starts on the owner thread: expected handles, saw %ld %ld",
                  o.h[0], o.h[1]);
    bool armed = false;
    int n = sp_sampler_thread_active(o.tid, &armed);
    ck_assert_msg(n == 2 && armed, "owner with 2 running: expected count 2, timer armed; saw %d, %s", n,
                  armed ? "armed" : "disarmed");
    ck_assert_int_eq(sp_txn_finish(o.h[0]), 0);
    n = sp_txn_finish(o.h[0]) == -EINVAL ? sp_sampler_thread_active(o.tid, &armed) : -2;
    ck_assert_msg(n == 1 && armed, "one finished by another thread (and its doubled finish refused): "
                  "expected count 1, timer armed; saw %d, %s", n, armed ? "armed" : "disarmed");
    ck_assert_int_eq(sp_txn_discard(o.h[1]), 0);
    n = sp_sampler_thread_active(o.tid, &armed);
    ck_assert_msg(n == 0, "both ended by another thread: expected the owner's count 0; saw %d", n);
    /* Lazy mode leaves the timer armed for a grace period, then the agent's sweep disarms it. */
    sp_sampler_lazy_sweep(sp_clock_mono_ns() + SP_SAMPLER_LAZY_GRACE_NS);
    n = sp_sampler_thread_active(o.tid, &armed);
    ck_assert_msg(n == 0 && !armed, "both ended by another thread, then a sweep after the grace period: "
                  "expected the owner's timer disarmed (lazy mode); saw count %d, %s", n,
                  armed ? "armed" : "disarmed");
    pthread_barrier_wait(&o.finished);
    void *ret;
    ck_assert_int_eq(pthread_join(th, &ret), 0);
    ck_assert_msg(ret == NULL, "owner thread failed to register");
    sp_txn_t t;
    ck_assert(sp_txn_take_finished(&t));
    ck_assert_str_eq(t.name, "finished elsewhere");
    ck_assert(!sp_txn_take_finished(&t));
}
END_TEST

/* Issue #19: in lazy mode an end no longer disarms the timer (two timer_settime per
 * transaction on the JS thread were the tail of start+finish): it stays armed through
 * back-to-back transactions, and the agent's sweep disarms it after the grace period. */
START_TEST(test_lazy_disarm_deferred)
{
    setup();
    pid_t tid = (pid_t)syscall(SYS_gettid);
    bool armed = false;
    long h = sp_txn_start("a", NULL, NULL, NULL, true, false);
    ck_assert_int_ge(h, 0);
    ck_assert_int_eq(sp_txn_discard(h), 0);
    int n = sp_sampler_thread_active(tid, &armed);
    ck_assert_msg(n == 0 && armed, "after an end: expected count 0 with the timer still armed; saw %d, %s", n,
                  armed ? "armed" : "disarmed");
    uint64_t ended = sp_clock_mono_ns();
    sp_sampler_lazy_sweep(ended);
    sp_sampler_thread_active(tid, &armed);
    ck_assert_msg(armed, "a sweep within the grace period disarmed the timer");
    sp_sampler_lazy_sweep(ended + SP_SAMPLER_LAZY_GRACE_NS);
    sp_sampler_thread_active(tid, &armed);
    ck_assert_msg(!armed, "a sweep after the grace period left the timer armed");
    h = sp_txn_start("b", NULL, NULL, NULL, true, false);
    n = sp_sampler_thread_active(tid, &armed);
    ck_assert_msg(h >= 0 && n == 1 && armed, "a start after the sweep: expected count 1, armed; saw %d, %s", n,
                  armed ? "armed" : "disarmed");
    sp_sampler_lazy_sweep(sp_clock_mono_ns() + 10 * SP_SAMPLER_LAZY_GRACE_NS);
    sp_sampler_thread_active(tid, &armed);
    ck_assert_msg(armed, "a sweep disarmed the timer of a thread with a running transaction");
    ck_assert_int_eq(sp_txn_discard(h), 0);
}
END_TEST

/* Starts racing the sweep: a transaction that runs always has its timer armed. */
static _Atomic int sweep_race_stop;
static void *sweeper(void *arg)
{
    (void)arg;
    while (!atomic_load(&sweep_race_stop)) sp_sampler_lazy_sweep(UINT64_MAX / 2);
    return NULL;
}

START_TEST(test_lazy_sweep_races_start)
{
    setup();
    pid_t tid = (pid_t)syscall(SYS_gettid);
    atomic_store(&sweep_race_stop, 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, sweeper, NULL), 0);
    int unarmed = 0, rounds = 20000;
    for (int i = 0; i < rounds; i++) {
        long h = sp_txn_start("race", NULL, NULL, NULL, true, false);
        ck_assert_int_ge(h, 0);
        bool armed = false;
        sp_sampler_thread_active(tid, &armed);
        unarmed += !armed;
        ck_assert_int_eq(sp_txn_discard(h), 0);
        if (i % 64 == 0) sched_yield();
    }
    atomic_store(&sweep_race_stop, 1);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_msg(unarmed == 0, "%d of %d running transactions had their timer disarmed by a racing sweep",
                  unarmed, rounds);
}
END_TEST

/* Issue #20 item 6: transactions left running by a thread that exits (a terminated
 * worker) no longer hold their slots: more than SP_MAX_TXNS of them over several threads
 * all start, the slots are free again once each thread is gone, each one is counted, and
 * the dead thread's handles are stale. */
#define GONE_THREADS 4
#define GONE_PER_THREAD (SP_MAX_TXNS / 2 + 1)

static void *leave_running(void *arg)
{
    long *first = arg;
    if (sp_sampler_register_thread("9", "terminated worker") != 0) return (void *)1;
    for (int i = 0; i < GONE_PER_THREAD; i++) {
        long h = sp_txn_start("never finished", NULL, NULL, NULL, i % 3 != 0, false);
        if (h < 0) return (void *)(intptr_t)(1000 + i); /* which start failed */
        if (i == 0) *first = h;
    }
    return NULL; /* exits without finishing or unregistering: the sampler's key destructor runs */
}

START_TEST(test_thread_exit_frees_slots)
{
    setup();
    uint64_t abandoned0 = sp_stats_get(SP_STAT_TXN_ABANDONED);
    long first[GONE_THREADS];
    for (int k = 0; k < GONE_THREADS; k++) {
        pthread_t th;
        void *ret;
        ck_assert_int_eq(pthread_create(&th, NULL, leave_running, &first[k]), 0);
        ck_assert_int_eq(pthread_join(th, &ret), 0);
        ck_assert_msg(ret == NULL, "thread %d of %d (%d transactions each, %d slots): expected every start "
                      "to succeed, saw %s %ld", k + 1, GONE_THREADS, GONE_PER_THREAD, SP_MAX_TXNS,
                      (intptr_t)ret >= 1000 ? "a failure at start" : "code", (long)(intptr_t)ret % 1000);
    }
    uint64_t abandoned = sp_stats_get(SP_STAT_TXN_ABANDONED) - abandoned0;
    ck_assert_msg(abandoned == GONE_THREADS * GONE_PER_THREAD,
                  "transactions_abandoned: expected %d, saw %llu", GONE_THREADS * GONE_PER_THREAD,
                  (unsigned long long)abandoned);
    ck_assert_msg(sp_txn_oldest_running_ns() == UINT64_MAX, "a dead thread's transaction still counts as running");
    for (int k = 0; k < GONE_THREADS; k++)
        ck_assert_msg(sp_txn_finish(first[k]) == -EINVAL, "a dead thread's handle %ld still finishes", first[k]);
    sp_txn_t t;
    ck_assert_msg(!sp_txn_take_finished(&t), "an abandoned transaction reached the agent: %s", t.name);
    static long h[SP_MAX_TXNS];
    for (int i = 0; i < SP_MAX_TXNS; i++) {
        h[i] = sp_txn_start("after", NULL, NULL, NULL, true, false);
        ck_assert_msg(h[i] >= 0, "start %d of %d after the threads exited: expected a handle, saw %ld", i + 1,
                      SP_MAX_TXNS, h[i]);
    }
    for (int i = 0; i < SP_MAX_TXNS; i++) ck_assert_int_eq(sp_txn_discard(h[i]), 0);
}
END_TEST

/* Issue #20 item 6: a full table is not silent: each refused start is counted
 * (transactions_table_full) and the first one says so in one line on stderr. */
START_TEST(test_full_warns_once)
{
    setup();
    static long h[SP_MAX_TXNS];
    for (int i = 0; i < SP_MAX_TXNS; i++) ck_assert_int_ge(h[i] = sp_txn_start("t", NULL, NULL, NULL, false, false), 0);
    uint64_t full0 = sp_stats_get(SP_STAT_TXN_TABLE_FULL);
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    int saved = dup(2);
    ck_assert_int_ge(dup2(fileno(f), 2), 0);
    long r[3];
    for (int i = 0; i < 3; i++) r[i] = sp_txn_start("refused", NULL, NULL, NULL, true, false);
    dup2(saved, 2);
    close(saved);
    char err[1024] = "";
    ssize_t n = pread(fileno(f), err, sizeof err - 1, 0);
    fclose(f);
    err[n > 0 ? n : 0] = '\0';
    for (int i = 0; i < 3; i++) ck_assert_msg(r[i] == -ENOSPC, "refused start %d: expected -ENOSPC, saw %ld", i, r[i]);
    uint64_t full = sp_stats_get(SP_STAT_TXN_TABLE_FULL) - full0;
    ck_assert_msg(full == 3, "transactions_table_full: expected 3, saw %llu", (unsigned long long)full);
    int lines = 0;
    for (char *p = err; *p; p++) lines += *p == '\n';
    ck_assert_msg(lines == 1 && strstr(err, "transactions"), "expected one line about the full table on stderr, saw %d: '%s'",
                  lines, err);
    for (int i = 0; i < SP_MAX_TXNS; i++) ck_assert_int_eq(sp_txn_discard(h[i]), 0);
}
END_TEST

SP_UNIT_SUITE(txn)
{
    Suite *s = suite_create("txn");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_generations);
    tcase_add_test(tc, test_fork_child_forgets);
    tcase_add_test(tc, test_full);
    tcase_add_test(tc, test_stale_after_reuse);
    tcase_add_test(tc, test_fields);
    tcase_add_test(tc, test_unregistered_thread);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_finish_from_another_thread);
    tcase_add_test(tc, test_lazy_disarm_deferred);
    tcase_add_test(tc, test_lazy_sweep_races_start);
    tcase_add_test(tc, test_thread_exit_frees_slots);
    tcase_add_test(tc, test_full_warns_once);
    suite_add_tcase(s, tc);
    return s;
}
