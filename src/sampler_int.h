/* sampler_int: state shared by the sampler's setup code (sampler.c) and its signal
 * handler (handler.c). Internal to those two files. */
#ifndef SP_SAMPLER_INT_H
#define SP_SAMPLER_INT_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "ring.h"
#include "sampler.h"

enum { SLOT_FREE = 0, SLOT_ACTIVE = 1, SLOT_GONE = 2, SLOT_SETUP = 3 };

typedef struct {
    _Atomic int state;
    _Atomic pid_t tid;
    bool native; /* registered by tid, not by the thread itself */
    uintptr_t stack_lo, stack_hi;
    timer_t timer;
    bool has_timer;
    _Atomic bool armed; /* written under sampler_lock; read without it by a transaction start */
    _Atomic int active; /* transactions running on this thread */
    _Atomic uint64_t idle_since_ns; /* lazy mode: when active last went to 0 */
    volatile sig_atomic_t in_handler;
    char thread_id[SP_THREAD_ID_LEN];
    char name[SP_THREAD_NAME_LEN];
} sp_sampler_thread_t;

extern sp_sampler_thread_t sp_threads[SP_MAX_THREADS];
extern __thread sp_sampler_thread_t *sp_self_slot; /* initial-exec TLS: safe in the handler */
extern sp_ring_t *sp_sample_ring;
extern _Atomic int sp_sampler_live;     /* 0 after stop or in a fork child */
extern _Atomic int sp_process_sessions; /* continuous sessions running */
extern _Atomic int sp_native_slots;     /* registered native threads: the handler looks them up */
extern uint64_t sp_sampler_init_ns;

/* The signal handler (handler.c). Async-signal-safe. */
void sp_sampler_on_signal(int sig, siginfo_t *info, void *ucv);

static inline bool sp_thread_needs_sampling(const sp_sampler_thread_t *t)
{
    return atomic_load_explicit(&sp_process_sessions, memory_order_relaxed) > 0 ||
           atomic_load_explicit(&t->active, memory_order_relaxed) > 0;
}

#endif
