/* sampler: the real-time signal, its handler and the per-thread POSIX timers.
 * One timer per sampled thread (timer_create with SIGEV_THREAD_ID), never SIGPROF (V8 owns
 * it). Setup, arming and teardown run on ordinary threads; the handler is async-signal-safe.
 *
 * Which threads: JS threads register themselves (node's main thread from the constructor,
 * each worker from the JS helper); with SENTRYPROF_THREADS=all the agent also registers
 * native threads by tid. A thread "needs sampling" while the process has a continuous
 * session or the thread has an active transaction. Eager mode arms every timer at
 * registration and discards samples nobody needs in the handler's first lines; lazy mode
 * arms a timer only while its thread needs sampling, so an idle process gets no signals. */
#ifndef SP_SAMPLER_H
#define SP_SAMPLER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "ring.h"

#define SP_MAX_THREADS 256 /* preallocated thread slots */
#define SP_THREAD_ID_LEN 24   /* a Sentry thread id ("0", a worker id, a tid) and its NUL */
#define SP_THREAD_NAME_LEN 64 /* a thread name kept for the profile's thread_metadata */

typedef struct {
    int signo;      /* preferred signal; 0: first SIG_DFL one from SIGRTMIN+2 */
    int hz;
    bool cpu_clock; /* CLOCK_THREAD_CPUTIME_ID instead of CLOCK_MONOTONIC */
    bool lazy;
} sp_sampler_opts_t;

/* The timer of a thread sampled hz times a second (clamped to 1..SP_MAX_HZ): the period 1e9/hz ns
 * split into tv_sec/tv_nsec (at 1 Hz it is a whole second, which tv_nsec cannot hold), the
 * first expiry half a period plus a phase-dependent fraction of it (phase: the tid), so
 * threads do not tick in lockstep; always within (0, period). */
void sp_sampler_timer_spec(int hz, unsigned phase, struct itimerspec *its);

/* Claims a signal, installs the handler. Samples go to ring. 0 or a negative errno
 * (-EBUSY: no free signal). */
int sp_sampler_init(const sp_sampler_opts_t *opts, sp_ring_t *ring);
int sp_sampler_signal(void);

/* Registers the calling thread under Sentry thread id `thread_id` ("0" for node's main
 * thread), creates its timer and arms it as the mode says. The thread is unregistered
 * automatically when it exits. 0, -EEXIST (already registered) or a negative errno. */
int sp_sampler_register_thread(const char *thread_id, const char *name);
/* Disarms and deletes the calling thread's timer and frees its slot. */
void sp_sampler_unregister_thread(void);

/* Native threads (SENTRYPROF_THREADS=all), registered from another thread by tid with
 * their stack bounds. Always armed while the process needs sampling. */
int sp_sampler_register_tid(pid_t tid, uintptr_t stack_lo, uintptr_t stack_hi,
                            const char *thread_id, const char *name);
void sp_sampler_unregister_tid(pid_t tid);
/* Calls fn for every registered tid (agent's thread scan). */
void sp_sampler_foreach_tid(void (*fn)(pid_t tid, bool native, void *arg), void *arg);

/* A transaction on the calling thread starts/ends (nesting counts). No system call while
 * the thread's timer is armed; in lazy mode a start after an idle spell arms it (one
 * timer_settime) and an end leaves it armed: sp_sampler_lazy_sweep disarms it later.
 * 0 or -ENOENT when the thread is not registered. */
int sp_sampler_thread_begin(void);
void sp_sampler_thread_end(void);
/* The same end, for a transaction of registered JS thread tid ended on another thread (its
 * count goes down). Nothing when tid is gone. */
void sp_sampler_thread_end_tid(pid_t tid);
/* Lazy mode, on the agent thread: disarms the timers of threads with no transaction for
 * SP_SAMPLER_LAZY_GRACE_NS (as of now_ns). Disarming at every end cost two timer_settime
 * per transaction on the JS thread, the tail of a start+finish (issue #19); back-to-back
 * transactions now keep the timer armed, and between them the handler returns at once. */
#define SP_SAMPLER_LAZY_GRACE_NS (200ull * 1000 * 1000)
void sp_sampler_lazy_sweep(uint64_t now_ns);
/* fn(tid) runs on a JS thread that unregisters (or exits), before its slot is freed, off
 * the signal path: what it started (transactions) can be let go. One hook; NULL: none. */
void sp_sampler_on_unregister(void (*fn)(pid_t tid));
/* A continuous session for the whole process starts/ends. */
void sp_sampler_process_begin(void);
void sp_sampler_process_end(void);

/* Disarms every timer (exit path); the handler stays installed and ignores late signals. */
void sp_sampler_stop(void);

/* False (once reported, sampling stopped) when our signal's handler was replaced. Call
 * periodically: with our timers armed, a default action would kill the process. */
bool sp_sampler_check_handler(void);

/* Someone is about to set signal signo's disposition to act (the sigaction/signal
 * interposers, before the real call; issue #20 item 10). For our signal and anything but our
 * handler: sampling stops for good first (every timer disarmed, one warning, the
 * handler_replaced count), so neither a default action (which kills the process) nor a
 * foreign handler ever sees a timer tick of ours, and true is returned: the caller then
 * discards our queued signals (SIG_IGN) before setting act. False otherwise (not our
 * signal, our own handler, a forked child, sampler not started). Takes the sampler lock:
 * not for a signal handler interrupting the sampler's own setup. */
bool sp_sampler_yield_signal(int signo, const struct sigaction *act);

/* Looks up a registered (or recently unregistered) thread by kernel tid. */
bool sp_sampler_thread_info(pid_t tid, char *thread_id, char *name, size_t name_len);
int sp_sampler_thread_count(void); /* active slots */
/* The transactions running on registered thread tid (its count of sp_sampler_thread_begin
 * minus ends), -1 when tid is not registered; *armed (if not NULL): its timer is armed. */
int sp_sampler_thread_active(pid_t tid, bool *armed);
/* The calling thread's tid and Sentry thread id, if it is registered. O(1) (TLS). */
bool sp_sampler_self_info(pid_t *tid, char thread_id[SP_THREAD_ID_LEN]);

/* In a fork child: forget every thread (timers are not inherited) and ignore signals. */
void sp_sampler_atfork_child(void);

#endif
