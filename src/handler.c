/* handler: the sampling signal's handler. Signal path: async-signal-safe only: no malloc,
 * no locks, no stdio, no lazy TLS (initial-exec), errno preserved, bounded work, and when
 * anything is off the sample is dropped and counted. tests/check-signal-safety.sh checks
 * what this file (and unwind, ring, stats) imports. */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"
#include "sampler_int.h"
#include "stats.h"
#include "unwind.h"

#define SP_WARMUP_NS SP_NS_PER_SEC /* handler times after this count as steady state */

/* vDSO: async-signal-safe */
static inline uint64_t now_ns(void) { return sp_clock_mono_ns(); }

/* Native threads have no TLS slot of ours: find them by tid (a bounded scan). */
static sp_sampler_thread_t *slot_by_tid(void)
{
    pid_t tid = (pid_t)syscall(SYS_gettid);
    for (int i = 0; i < SP_MAX_THREADS; i++)
        if (sp_threads[i].native && atomic_load_explicit(&sp_threads[i].tid, memory_order_relaxed) == tid)
            return &sp_threads[i];
    return NULL;
}

void sp_sampler_on_signal(int sig, siginfo_t *info, void *ucv)
{
    int saved_errno = errno;
    sp_sampler_thread_t *t = sp_self_slot;
    sp_stats_inc(SP_STAT_SIGNALS);
    if (!t && atomic_load_explicit(&sp_native_slots, memory_order_relaxed)) t = slot_by_tid();
    if (!t || !atomic_load_explicit(&sp_sampler_live, memory_order_relaxed) ||
        atomic_load_explicit(&t->state, memory_order_relaxed) != SLOT_ACTIVE) {
        sp_stats_inc(SP_STAT_DROP_NO_THREAD);
        goto out;
    }
    if (!sp_thread_needs_sampling(t)) { /* eager mode between transactions: cheapest exit */
        sp_stats_inc(SP_STAT_OUTSIDE_PROFILE);
        goto out;
    }
    if (t->in_handler) {
        sp_stats_inc(SP_STAT_DROP_REENTRY);
        goto out;
    }
    t->in_handler = 1;
    uint64_t t0 = now_ns();
    uint64_t ticket;
    sp_sample_t *s = sp_ring_reserve(sp_sample_ring, &ticket);
    if (!s) {
        sp_stats_inc(SP_STAT_DROP_RING_FULL);
    } else {
        s->ts_ns = t0;
        s->tid = (uint32_t)t->tid;
        sp_unwind_capture((const ucontext_t *)ucv, t->stack_lo, t->stack_hi, s);
        if (sp_unwind_wants_stack(s)) {
            uint8_t *buf = sp_ring_stack(sp_sample_ring, s);
            if (buf) {
                sp_unwind_copy_stack((const ucontext_t *)ucv, t->stack_hi, s, buf);
                sp_stats_inc(SP_STAT_STACK_COPIES);
            } else {
                sp_stats_inc(SP_STAT_STACK_POOL_FULL);
            }
        }
        if (s->flags & SP_SAMPLE_TRUNCATED) sp_stats_inc(SP_STAT_TRUNCATED);
        if (s->flags & SP_SAMPLE_OFF_STACK) sp_stats_inc(SP_STAT_OFF_STACK);
        if (s->flags & SP_SAMPLE_SIGFRAME) sp_stats_inc(SP_STAT_SIGFRAMES);
        if (s->flags & SP_SAMPLE_SIGFRAME_STOP) sp_stats_inc(SP_STAT_SIGFRAME_STOPS);
        sp_ring_publish(sp_sample_ring, ticket);
        sp_stats_inc(SP_STAT_SAMPLES);
    }
    sp_stats_handler_time(now_ns() - t0, t0 - sp_sampler_init_ns >= SP_WARMUP_NS);
    t->in_handler = 0;
out:
    errno = saved_errno;
}
