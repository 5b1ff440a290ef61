/* sampler: owns the signal number, the handler and the thread slots.
 * Signal path (handler and what it calls): async-signal-safe only: no malloc, no locks, no
 * stdio, no lazy TLS (the .so is built with -ftls-model=initial-exec), errno preserved,
 * bounded work, drop-and-count when anything is off.
 * Setup functions run on the thread being registered (JS thread, constructor).
 * Reads no environment itself (config passes values in). */
#include "sampler.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "stats.h"
#include "unwind.h"

enum { SLOT_FREE = 0, SLOT_ACTIVE = 1, SLOT_GONE = 2, SLOT_SETUP = 3 };

typedef struct {
    _Atomic int state;
    pid_t tid;
    uintptr_t stack_lo, stack_hi;
    timer_t timer;
    bool has_timer;
    volatile sig_atomic_t in_handler;
    char thread_id[SP_THREAD_ID_LEN];
    char name[64];
} sampler_thread_t;

static sampler_thread_t threads[SP_MAX_THREADS];
static __thread sampler_thread_t *self_slot; /* initial-exec TLS: safe in the handler */
static sp_ring_t *sample_ring;
static int sample_signo;
static long interval_ns;
static _Atomic int sampler_live; /* 0 after stop or in a fork child */

/* strlcpy: no stdio in this file (tests/check-signal-safety.sh lists its imports). */
static void copy_str(char *dst, const char *src, size_t len)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < len; i++) dst[i] = src[i];
    dst[i] = '\0';
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: async-signal-safe */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig, siginfo_t *info, void *ucv)
{
    int saved_errno = errno;
    sampler_thread_t *t = self_slot;
    sp_stats_inc(SP_STAT_SIGNALS);
    if (!t || !atomic_load_explicit(&sampler_live, memory_order_relaxed) ||
        atomic_load_explicit(&t->state, memory_order_relaxed) != SLOT_ACTIVE) {
        sp_stats_inc(SP_STAT_DROP_NO_THREAD);
        goto out;
    }
    if (t->in_handler) {
        sp_stats_inc(SP_STAT_DROP_REENTRY);
        goto out;
    }
    t->in_handler = 1;
    uint64_t t0 = now_ns();
    uint64_t ticket;
    sp_sample_t *s = sp_ring_reserve(sample_ring, &ticket);
    if (!s) {
        sp_stats_inc(SP_STAT_DROP_RING_FULL);
    } else {
        s->ts_ns = t0;
        s->tid = (uint32_t)t->tid;
        sp_unwind_capture((const ucontext_t *)ucv, t->stack_lo, t->stack_hi, s);
        if (s->flags & SP_SAMPLE_TRUNCATED) sp_stats_inc(SP_STAT_TRUNCATED);
        sp_ring_publish(sample_ring, ticket);
        sp_stats_inc(SP_STAT_SAMPLES);
    }
    sp_stats_handler_time(now_ns() - t0);
    t->in_handler = 0;
out:
    errno = saved_errno;
}

static bool signal_is_free(int signo)
{
    struct sigaction old;
    if (sigaction(signo, NULL, &old) != 0) return false;
    return !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL;
}

int sp_sampler_init(int preferred_signo, int hz, sp_ring_t *ring)
{
    int signo = 0;
    if (preferred_signo && signal_is_free(preferred_signo)) {
        signo = preferred_signo;
    } else {
        if (preferred_signo)
            SP_WARN("signal %d is already in use; picking another real-time signal",
                    preferred_signo);
        for (int s = SIGRTMIN + 2; s <= SIGRTMAX; s++)
            if (signal_is_free(s)) {
                signo = s;
                break;
            }
    }
    if (!signo) {
        SP_WARN("no free real-time signal; profiling disabled");
        return -EBUSY;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(signo, &sa, NULL) != 0) {
        int e = errno;
        SP_WARN("cannot install the handler for signal %d: %s", signo, strerror(e));
        return -e;
    }
    sample_ring = ring;
    sample_signo = signo;
    interval_ns = 1000000000L / (hz > 0 ? hz : 99);
    atomic_store(&sampler_live, 1);
    SP_DEBUG("sampler: signal %d, interval %ld ns", signo, interval_ns);
    return 0;
}

int sp_sampler_signal(void) { return sample_signo; }

int sp_sampler_register_thread(const char *thread_id, const char *name)
{
    if (!sample_signo) return -EINVAL;
    if (self_slot) return -EEXIST;
    sampler_thread_t *t = NULL;
    for (int i = 0; i < SP_MAX_THREADS && !t; i++) {
        int expect = SLOT_FREE;
        if (atomic_compare_exchange_strong(&threads[i].state, &expect, SLOT_SETUP)) t = &threads[i];
    }
    for (int i = 0; i < SP_MAX_THREADS && !t; i++) { /* reuse a slot of an exited thread */
        int expect = SLOT_GONE;
        if (atomic_compare_exchange_strong(&threads[i].state, &expect, SLOT_SETUP))
            t = &threads[i];
    }
    if (!t) return -ENOSPC;
    t->tid = (pid_t)syscall(SYS_gettid);
    copy_str(t->thread_id, thread_id, sizeof t->thread_id);
    copy_str(t->name, name, sizeof t->name);
    int rc = sp_unwind_stack_bounds(&t->stack_lo, &t->stack_hi);
    if (rc < 0) {
        SP_WARN("cannot read the stack bounds of thread %d: %s", t->tid, strerror(-rc));
        atomic_store(&t->state, SLOT_GONE);
        return rc;
    }
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = sample_signo;
    sev._sigev_un._tid = t->tid;
    if (timer_create(CLOCK_MONOTONIC, &sev, &t->timer) != 0) {
        rc = -errno;
        SP_WARN("timer_create failed for thread %d: %s", t->tid, strerror(-rc));
        atomic_store(&t->state, SLOT_GONE);
        return rc;
    }
    t->has_timer = true;
    t->in_handler = 0;
    self_slot = t;
    atomic_store(&t->state, SLOT_ACTIVE);
    /* Start after a random fraction of the interval so threads do not tick in lockstep. */
    struct itimerspec its = {.it_interval = {0, interval_ns},
                             .it_value = {0, interval_ns / 2 + (t->tid % 97) * (interval_ns / 200)}};
    if (timer_settime(t->timer, 0, &its, NULL) != 0) {
        rc = -errno;
        SP_WARN("timer_settime failed: %s", strerror(-rc));
        sp_sampler_unregister_thread();
        return rc;
    }
    SP_DEBUG("sampler: thread %d registered as \"%s\"", t->tid, t->thread_id);
    return 0;
}

void sp_sampler_unregister_thread(void)
{
    sampler_thread_t *t = self_slot;
    if (!t) return;
    atomic_store(&t->state, SLOT_GONE); /* the handler ignores us from here on */
    if (t->has_timer) timer_delete(t->timer);
    t->has_timer = false;
    self_slot = NULL;
}

void sp_sampler_stop(void)
{
    atomic_store(&sampler_live, 0);
    for (int i = 0; i < SP_MAX_THREADS; i++) {
        sampler_thread_t *t = &threads[i];
        if (atomic_load(&t->state) == SLOT_ACTIVE && t->has_timer) {
            struct itimerspec off;
            memset(&off, 0, sizeof off);
            timer_settime(t->timer, 0, &off, NULL);
        }
    }
}

bool sp_sampler_thread_info(pid_t tid, char *thread_id, char *name, size_t name_len)
{
    for (int i = 0; i < SP_MAX_THREADS; i++) {
        sampler_thread_t *t = &threads[i];
        if (t->tid == tid && atomic_load(&t->state) != SLOT_FREE) {
            copy_str(thread_id, t->thread_id, SP_THREAD_ID_LEN);
            copy_str(name, t->name, name_len);
            return true;
        }
    }
    return false;
}

void sp_sampler_atfork_child(void)
{
    atomic_store(&sampler_live, 0);
    for (int i = 0; i < SP_MAX_THREADS; i++) {
        threads[i].has_timer = false; /* POSIX timers are not inherited across fork */
        atomic_store(&threads[i].state, SLOT_FREE);
        threads[i].tid = 0;
    }
    self_slot = NULL;
}
