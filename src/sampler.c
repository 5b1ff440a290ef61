/* sampler: owns the signal number, the handler and the thread slots.
 * The handler itself lives in handler.c (the signal path); this file is setup only.
 * Setup functions (register, arm, stop) run on ordinary threads and serialize on
 * sampler_lock; the handler never takes it. Reads no environment (config passes values). */
#include "sampler.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "stats.h"
#include "unwind.h"


#include "sampler_int.h"

sp_sampler_thread_t sp_threads[SP_MAX_THREADS];
__thread sp_sampler_thread_t *sp_self_slot;
sp_ring_t *sp_sample_ring;
_Atomic int sp_sampler_live;
_Atomic int sp_process_sessions;
_Atomic int sp_native_slots;
uint64_t sp_sampler_init_ns;
static int sample_signo;
static int sample_hz;
static sp_sampler_opts_t sampler_opts;
static pthread_mutex_t sampler_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t exit_key;
static atomic_bool handler_lost;
static pid_t init_pid; /* timers exist in this process only (not in a forked child) */
static void (*_Atomic unregister_hook)(pid_t tid); /* sp_sampler_on_unregister */

/* strlcpy: no stdio in this file (tests/check-signal-safety.sh lists its imports). */
static void copy_str(char *dst, const char *src, size_t len)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < len; i++) dst[i] = src[i];
    dst[i] = '\0';
}

static inline uint64_t now_ns(void) { return sp_clock_mono_ns(); }

static bool signal_is_free(int signo)
{
    struct sigaction old;
    if (sigaction(signo, NULL, &old) != 0) return false;
    return !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL;
}

static void on_thread_exit(void *slot);

int sp_sampler_init(const sp_sampler_opts_t *opts, sp_ring_t *ring)
{
    int signo = 0;
    if (opts->signo && signal_is_free(opts->signo)) {
        signo = opts->signo;
    } else {
        if (opts->signo)
            SP_WARN("signal %d is already in use; picking another real-time signal", opts->signo);
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
    if (pthread_key_create(&exit_key, on_thread_exit) != 0) return -EAGAIN;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sp_sampler_on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(signo, &sa, NULL) != 0) {
        int e = errno;
        SP_WARN("cannot install the handler for signal %d: %s", signo, strerror(e));
        return -e;
    }
    if (!sp_unwind_init_restorer(signo))
        SP_DEBUG("sampler: no sigreturn trampoline found: stacks end at other signal handlers");
    sampler_opts = *opts;
    sp_sample_ring = ring;
    sample_signo = signo;
    init_pid = getpid();
    sample_hz = opts->hz > 0 ? opts->hz : 99;
    sp_sampler_init_ns = now_ns();
    atomic_store(&sp_sampler_live, 1);
    SP_DEBUG("sampler: signal %d, %d Hz, %s clock, %s", signo, sample_hz,
             opts->cpu_clock ? "cpu" : "wall", opts->lazy ? "lazy" : "eager");
    return 0;
}

int sp_sampler_signal(void) { return sample_signo; }

void sp_sampler_timer_spec(int hz, unsigned phase, struct itimerspec *its)
{
    if (hz < 1) hz = 1;
    if (hz > SP_MAX_HZ) hz = SP_MAX_HZ;
    uint64_t period = SP_NS_PER_SEC / (unsigned)hz;
    its->it_interval = sp_clock_ns_ts(period);
    its->it_value = sp_clock_ns_ts(period / 2 + (phase % 97) * (period / 200));
}

/* Arms or disarms t's timer to match the mode. Caller holds sampler_lock. */
static void sync_timer(sp_sampler_thread_t *t)
{
    if (!t->has_timer || !atomic_load(&sp_sampler_live)) return;
    bool want = atomic_load(&t->state) == SLOT_ACTIVE && (!sampler_opts.lazy || sp_thread_needs_sampling(t));
    if (want == t->armed) return;
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (want) sp_sampler_timer_spec(sample_hz, (unsigned)t->tid, &its);
    if (timer_settime(t->timer, 0, &its, NULL) != 0) {
        static bool warned; /* under sampler_lock; one line, the counter says how often */
        int e = errno;
        sp_stats_inc(SP_STAT_TIMER_ERRORS);
        if (!warned) {
            warned = true;
            SP_WARN("cannot %s the sampling timer of thread %d: %s; that thread is not sampled",
                    want ? "arm" : "disarm", (int)t->tid, strerror(e));
        }
        return;
    }
    t->armed = want;
}

static sp_sampler_thread_t *claim_slot(void)
{
    for (int pass = 0; pass < 2; pass++) /* free slots first, then those of exited threads */
        for (int i = 0; i < SP_MAX_THREADS; i++) {
            int expect = pass == 0 ? SLOT_FREE : SLOT_GONE;
            if (atomic_compare_exchange_strong(&sp_threads[i].state, &expect, SLOT_SETUP)) {
                sp_threads[i].armed = false;
                sp_threads[i].has_timer = false;
                atomic_store(&sp_threads[i].active, 0);
                return &sp_threads[i];
            }
        }
    return NULL;
}

/* Creates t's timer (t->tid set). Caller holds sampler_lock. */
static int create_timer(sp_sampler_thread_t *t)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = sample_signo;
#ifdef sigev_notify_thread_id /* musl, glibc 2.35+ */
    sev.sigev_notify_thread_id = t->tid;
#else
    sev._sigev_un._tid = t->tid;
#endif
    clockid_t clock = CLOCK_MONOTONIC;
    if (sampler_opts.cpu_clock) /* the thread's own CPU clock: ticks only while it runs */
        clock = t->native ? (clockid_t)((~(unsigned)t->tid << 3) | 6) /* MAKE_THREAD_CPUCLOCK */
                          : CLOCK_THREAD_CPUTIME_ID;
    if (timer_create(clock, &sev, &t->timer) != 0) {
        int rc = -errno;
        sp_stats_inc(SP_STAT_TIMER_ERRORS);
        SP_WARN("timer_create failed for thread %d: %s", (int)t->tid, strerror(-rc));
        return rc;
    }
    t->has_timer = true;
    return 0;
}

static void release_slot(sp_sampler_thread_t *t)
{
    atomic_store(&t->state, SLOT_GONE); /* the handler ignores the slot from here on */
    if (t->has_timer) timer_delete(t->timer);
    t->has_timer = false;
    t->armed = false;
    if (t->native) atomic_fetch_sub(&sp_native_slots, 1);
    sp_stats_inc(SP_STAT_THREADS_UNREGISTERED);
}

int sp_sampler_register_thread(const char *thread_id, const char *name)
{
    if (!sample_signo || !atomic_load(&sp_sampler_live)) return -EINVAL;
    if (sp_self_slot) return -EEXIST;
    pid_t me = (pid_t)syscall(SYS_gettid);
    pthread_mutex_lock(&sampler_lock);
    for (int i = 0; i < SP_MAX_THREADS; i++) /* a thread scan may have taken us for native */
        if (sp_threads[i].native && atomic_load(&sp_threads[i].tid) == me &&
            atomic_load(&sp_threads[i].state) == SLOT_ACTIVE)
            release_slot(&sp_threads[i]);
    int rc = 0;
    sp_sampler_thread_t *t = claim_slot();
    if (!t) {
        rc = -ENOSPC;
        goto out;
    }
    t->native = false;
    atomic_store(&t->tid, me);
    copy_str(t->thread_id, thread_id, sizeof t->thread_id);
    copy_str(t->name, name, sizeof t->name);
    rc = sp_unwind_stack_bounds(&t->stack_lo, &t->stack_hi);
    if (rc < 0) {
        SP_WARN("cannot read the stack bounds of thread %d: %s", (int)t->tid, strerror(-rc));
        atomic_store(&t->state, SLOT_GONE);
        goto out;
    }
    if ((rc = create_timer(t)) < 0) {
        atomic_store(&t->state, SLOT_GONE);
        goto out;
    }
    t->in_handler = 0;
    sp_self_slot = t;
    pthread_setspecific(exit_key, t); /* unregisters when the thread exits */
    atomic_store(&t->state, SLOT_ACTIVE);
    sync_timer(t);
    sp_stats_inc(SP_STAT_THREADS_REGISTERED);
    SP_DEBUG("sampler: thread %d registered as \"%s\"", (int)t->tid, t->thread_id);
out:
    pthread_mutex_unlock(&sampler_lock);
    return rc;
}

void sp_sampler_on_unregister(void (*fn)(pid_t tid)) { atomic_store(&unregister_hook, fn); }

void sp_sampler_unregister_thread(void)
{
    sp_sampler_thread_t *t = sp_self_slot;
    if (!t) return;
    /* Outside sampler_lock: the hook takes its own module's lock, which may be held while
     * ending a transaction of another thread takes sampler_lock (txn.c). */
    void (*hook)(pid_t) = atomic_load(&unregister_hook);
    if (hook) hook(atomic_load(&t->tid));
    pthread_mutex_lock(&sampler_lock);
    sp_self_slot = NULL;
    pthread_setspecific(exit_key, NULL);
    release_slot(t);
    pthread_mutex_unlock(&sampler_lock);
}

/* pthread key destructor: the thread is exiting without having unregistered. */
static void on_thread_exit(void *slot)
{
    if (sp_self_slot == slot) sp_sampler_unregister_thread();
}

int sp_sampler_register_tid(pid_t tid, uintptr_t stack_lo, uintptr_t stack_hi,
                            const char *thread_id, const char *name)
{
    if (!sample_signo || !atomic_load(&sp_sampler_live)) return -EINVAL;
    pthread_mutex_lock(&sampler_lock);
    int rc = 0;
    sp_sampler_thread_t *t = claim_slot();
    if (!t) {
        rc = -ENOSPC;
        goto out;
    }
    t->native = true;
    atomic_store(&t->tid, tid);
    t->stack_lo = stack_lo;
    t->stack_hi = stack_hi;
    copy_str(t->thread_id, thread_id, sizeof t->thread_id);
    copy_str(t->name, name, sizeof t->name);
    if ((rc = create_timer(t)) < 0) {
        atomic_store(&t->state, SLOT_GONE);
        goto out;
    }
    t->in_handler = 0;
    atomic_fetch_add(&sp_native_slots, 1);
    atomic_store(&t->state, SLOT_ACTIVE);
    sync_timer(t);
    sp_stats_inc(SP_STAT_THREADS_REGISTERED);
out:
    pthread_mutex_unlock(&sampler_lock);
    return rc;
}

void sp_sampler_unregister_tid(pid_t tid)
{
    pthread_mutex_lock(&sampler_lock);
    for (int i = 0; i < SP_MAX_THREADS; i++)
        if (sp_threads[i].native && atomic_load(&sp_threads[i].tid) == tid &&
            atomic_load(&sp_threads[i].state) == SLOT_ACTIVE)
            release_slot(&sp_threads[i]);
    pthread_mutex_unlock(&sampler_lock);
}

void sp_sampler_foreach_tid(void (*fn)(pid_t tid, bool native, void *arg), void *arg)
{
    pid_t tids[SP_MAX_THREADS];
    bool native[SP_MAX_THREADS];
    int n = 0;
    pthread_mutex_lock(&sampler_lock);
    for (int i = 0; i < SP_MAX_THREADS; i++)
        if (atomic_load(&sp_threads[i].state) == SLOT_ACTIVE) {
            tids[n] = atomic_load(&sp_threads[i].tid);
            native[n++] = sp_threads[i].native;
        }
    pthread_mutex_unlock(&sampler_lock);
    for (int i = 0; i < n; i++) fn(tids[i], native[i], arg); /* outside the lock: fn may unregister */
}

/* The count goes up before armed is read; sp_sampler_lazy_sweep clears armed before it
 * reads the count (both sequentially consistent): one of the two sees the other, so a
 * start never returns with its timer about to be disarmed. */
int sp_sampler_thread_begin(void)
{
    sp_sampler_thread_t *t = sp_self_slot;
    if (!t) return -ENOENT;
    if (atomic_fetch_add(&t->active, 1) == 0 && sampler_opts.lazy && !atomic_load(&t->armed)) {
        pthread_mutex_lock(&sampler_lock);
        sync_timer(t);
        pthread_mutex_unlock(&sampler_lock);
    }
    return 0;
}

/* A count back at 0 only records when (lazy mode): the sweep disarms. */
static void count_down(sp_sampler_thread_t *t)
{
    int prev = atomic_fetch_sub(&t->active, 1);
    if (prev <= 0) /* unbalanced end: never go negative */
        atomic_store(&t->active, 0);
    else if (prev == 1 && sampler_opts.lazy)
        atomic_store(&t->idle_since_ns, now_ns());
}

void sp_sampler_thread_end(void)
{
    sp_sampler_thread_t *t = sp_self_slot;
    if (t) count_down(t);
}

void sp_sampler_lazy_sweep(uint64_t now)
{
    if (!sampler_opts.lazy || !atomic_load(&sp_sampler_live)) return;
    pthread_mutex_lock(&sampler_lock);
    for (int i = 0; i < SP_MAX_THREADS; i++) {
        sp_sampler_thread_t *t = &sp_threads[i];
        if (atomic_load(&t->state) != SLOT_ACTIVE || !t->has_timer || !atomic_load(&t->armed) ||
            sp_thread_needs_sampling(t) || now - atomic_load(&t->idle_since_ns) < SP_SAMPLER_LAZY_GRACE_NS)
            continue;
        atomic_store(&t->armed, false); /* a start from here on arms it itself, see above */
        if (sp_thread_needs_sampling(t)) { /* a start came first and kept the timer */
            atomic_store(&t->armed, true);
            continue;
        }
        struct itimerspec off;
        memset(&off, 0, sizeof off);
        if (timer_settime(t->timer, 0, &off, NULL) != 0) {
            atomic_store(&t->armed, true); /* still armed: try again on the next sweep */
            sp_stats_inc(SP_STAT_TIMER_ERRORS);
        }
    }
    pthread_mutex_unlock(&sampler_lock);
}

void sp_sampler_thread_end_tid(pid_t tid)
{
    pthread_mutex_lock(&sampler_lock);
    for (int i = 0; i < SP_MAX_THREADS; i++) {
        sp_sampler_thread_t *t = &sp_threads[i];
        if (t->native || atomic_load(&t->state) != SLOT_ACTIVE || atomic_load(&t->tid) != tid) continue;
        count_down(t);
        break;
    }
    pthread_mutex_unlock(&sampler_lock);
}

static void sync_all(void)
{
    pthread_mutex_lock(&sampler_lock);
    for (int i = 0; i < SP_MAX_THREADS; i++)
        if (atomic_load(&sp_threads[i].state) == SLOT_ACTIVE) sync_timer(&sp_threads[i]);
    pthread_mutex_unlock(&sampler_lock);
}

void sp_sampler_process_begin(void)
{
    if (atomic_fetch_add(&sp_process_sessions, 1) == 0 && sampler_opts.lazy) sync_all();
}

void sp_sampler_process_end(void)
{
    if (atomic_fetch_sub(&sp_process_sessions, 1) == 1 && sampler_opts.lazy) sync_all();
}

void sp_sampler_stop(void)
{
    pthread_mutex_lock(&sampler_lock);
    atomic_store(&sp_sampler_live, 0);
    struct itimerspec off;
    memset(&off, 0, sizeof off);
    for (int i = 0; i < SP_MAX_THREADS; i++) {
        sp_sampler_thread_t *t = &sp_threads[i];
        if (atomic_load(&t->state) == SLOT_ACTIVE && t->has_timer && t->armed) {
            timer_settime(t->timer, 0, &off, NULL);
            t->armed = false;
        }
    }
    pthread_mutex_unlock(&sampler_lock);
}

/* Sampling ends for good: our signal is someone else's from here on. One line, one count. */
static void lose_handler(void)
{
    bool was = false;
    if (!atomic_compare_exchange_strong(&handler_lost, &was, true)) return;
    sp_sampler_stop(); /* with our timers armed, the new disposition could kill the process */
    sp_stats_inc(SP_STAT_HANDLER_REPLACED);
    SP_WARN("the handler of signal %d was replaced by someone else; sampling stopped "
            "(set SENTRYPROF_SIGNAL to a signal the application does not use)",
            sample_signo);
}

bool sp_sampler_check_handler(void)
{
    if (!sample_signo || atomic_load(&handler_lost)) return !atomic_load(&handler_lost);
    struct sigaction cur;
    if (sigaction(sample_signo, NULL, &cur) != 0) return true;
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == sp_sampler_on_signal) return true;
    lose_handler();
    return false;
}

bool sp_sampler_yield_signal(int signo, const struct sigaction *act)
{
    if (!sample_signo || signo != sample_signo || !act || getpid() != init_pid) return false;
    if ((act->sa_flags & SA_SIGINFO) && act->sa_sigaction == sp_sampler_on_signal) return false;
    lose_handler();
    return true;
}

bool sp_sampler_thread_info(pid_t tid, char *thread_id, char *name, size_t name_len)
{
    bool found = false;
    pthread_mutex_lock(&sampler_lock); /* a register may be rewriting the names of a reused slot */
    for (int i = 0; i < SP_MAX_THREADS && !found; i++) {
        sp_sampler_thread_t *t = &sp_threads[i];
        if (atomic_load(&t->tid) == tid && atomic_load(&t->state) != SLOT_FREE) {
            copy_str(thread_id, t->thread_id, SP_THREAD_ID_LEN);
            copy_str(name, t->name, name_len);
            found = true;
        }
    }
    pthread_mutex_unlock(&sampler_lock);
    return found;
}

bool sp_sampler_self_info(pid_t *tid, char thread_id[SP_THREAD_ID_LEN])
{
    sp_sampler_thread_t *t = sp_self_slot;
    if (!t || atomic_load(&t->state) != SLOT_ACTIVE) return false;
    *tid = atomic_load(&t->tid);
    memcpy(thread_id, t->thread_id, SP_THREAD_ID_LEN);
    return true;
}

int sp_sampler_thread_active(pid_t tid, bool *armed)
{
    int n = -1;
    pthread_mutex_lock(&sampler_lock);
    for (int i = 0; i < SP_MAX_THREADS && n < 0; i++) {
        sp_sampler_thread_t *t = &sp_threads[i];
        if (atomic_load(&t->state) == SLOT_ACTIVE && atomic_load(&t->tid) == tid) {
            n = atomic_load(&t->active);
            if (armed) *armed = t->armed;
        }
    }
    pthread_mutex_unlock(&sampler_lock);
    return n;
}

int sp_sampler_thread_count(void)
{
    int n = 0;
    for (int i = 0; i < SP_MAX_THREADS; i++) n += atomic_load(&sp_threads[i].state) == SLOT_ACTIVE;
    return n;
}

void sp_sampler_atfork_child(void)
{
    atomic_store(&sp_sampler_live, 0);
    pthread_mutex_init(&sampler_lock, NULL); /* another thread may have held it at fork */
    for (int i = 0; i < SP_MAX_THREADS; i++) {
        sp_threads[i].has_timer = false; /* POSIX timers are not inherited across fork */
        sp_threads[i].armed = false;
        atomic_store(&sp_threads[i].state, SLOT_FREE);
        atomic_store(&sp_threads[i].tid, 0);
    }
    atomic_store(&sp_native_slots, 0);
    sp_self_slot = NULL;
}
