/* sampler: the real-time signal, its handler and the per-thread POSIX timers.
 * One timer per sampled thread (timer_create with SIGEV_THREAD_ID), never SIGPROF (V8 owns
 * it). Setup and teardown run on ordinary threads; the handler is async-signal-safe. */
#ifndef SP_SAMPLER_H
#define SP_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ring.h"

#define SP_MAX_THREADS 256 /* preallocated thread slots */
#define SP_THREAD_ID_LEN 24

/* Claims a signal (preferred signo, or the first SIG_DFL one from SIGRTMIN+2), installs
 * the handler. Samples go to ring. 0 or a negative errno (-EBUSY: no free signal). */
int sp_sampler_init(int preferred_signo, int hz, sp_ring_t *ring);
int sp_sampler_signal(void);

/* Registers the calling thread under Sentry thread id `thread_id` ("0" for node's main
 * thread) and arms its timer. 0 or a negative errno. */
int sp_sampler_register_thread(const char *thread_id, const char *name);
/* Disarms and deletes the calling thread's timer and frees its slot. */
void sp_sampler_unregister_thread(void);

/* Disarms every timer (exit path); the handler stays installed and ignores late signals. */
void sp_sampler_stop(void);

/* Looks up a registered (or recently unregistered) thread by kernel tid. */
bool sp_sampler_thread_info(pid_t tid, char *thread_id, char *name, size_t name_len);

/* In a fork child: forget every thread (timers are not inherited) and ignore signals. */
void sp_sampler_atfork_child(void);

#endif
