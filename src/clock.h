/* clock: nanosecond time as uint64_t, the one place that converts struct timespec.
 * Header only (static inline): the signal handler uses it too. Every function is
 * async-signal-safe (clock_gettime is; nothing else is called) and touches no errno on
 * success. A failed clock_gettime reads as 0 (ts is zeroed first), never as garbage. */
#ifndef SP_CLOCK_H
#define SP_CLOCK_H

#include <stdint.h>
#include <time.h>

#define SP_NS_PER_SEC UINT64_C(1000000000)
#define SP_NS_PER_MS UINT64_C(1000000)

static inline uint64_t sp_clock_ts_ns(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * SP_NS_PER_SEC + (uint64_t)ts->tv_nsec;
}

static inline struct timespec sp_clock_ns_ts(uint64_t ns)
{
    return (struct timespec){.tv_sec = (time_t)(ns / SP_NS_PER_SEC), .tv_nsec = (long)(ns % SP_NS_PER_SEC)};
}

/* Async-signal-safe. */
static inline uint64_t sp_clock_ns(clockid_t c)
{
    struct timespec ts = {0, 0};
    clock_gettime(c, &ts);
    return sp_clock_ts_ns(&ts);
}

/* Async-signal-safe. */
static inline uint64_t sp_clock_mono_ns(void) { return sp_clock_ns(CLOCK_MONOTONIC); }
/* Async-signal-safe. */
static inline uint64_t sp_clock_real_ns(void) { return sp_clock_ns(CLOCK_REALTIME); }
/* The calling thread's CPU time. Async-signal-safe. */
static inline uint64_t sp_clock_thread_cpu_ns(void) { return sp_clock_ns(CLOCK_THREAD_CPUTIME_ID); }

/* CLOCK_MONOTONIC ms from now, as the absolute deadline pthread_cond_timedwait takes (with
 * a condition variable set to CLOCK_MONOTONIC). */
static inline struct timespec sp_clock_mono_deadline(long ms)
{
    return sp_clock_ns_ts(sp_clock_mono_ns() + (uint64_t)ms * SP_NS_PER_MS);
}

#endif
