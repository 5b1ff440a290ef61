/* txn: transactions in flight. start/finish run on a JS thread and cost microseconds: they
 * fill a preallocated slot, arm the thread's timer (lazy mode) and hand the finished
 * window to the agent; no file or network I/O, no symbolization, no allocation.
 * The agent takes finished transactions with sp_txn_take_finished. */
#ifndef SP_TXN_H
#define SP_TXN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "clock.h"
#include "sampler.h" /* SP_THREAD_ID_LEN */

#define SP_MAX_TXNS 1024       /* transactions in flight at once, process-wide */
#define SP_TXN_NAME_MAX 200
#define SP_TXN_MAX_NS (30 * SP_NS_PER_SEC) /* a profile stops at 30 s, as Sentry's */

typedef struct {
    uint64_t start_ns, end_ns;    /* CLOCK_MONOTONIC */
    uint64_t start_real_ns;       /* CLOCK_REALTIME at start */
    pid_t tid;                    /* the JS thread it ran on */
    char thread_id[SP_THREAD_ID_LEN]; /* Sentry's thread id ("0" main) */
    char name[SP_TXN_NAME_MAX];
    char op[64];
    char status[32];              /* "ok", "internal_error", ...; "" = unknown */
    int http_status;              /* 0 = none */
    char event_id[33];            /* the transaction event's id */
    char trace_id[33];
    char span_id[17];
    char parent_span_id[17];      /* "" for a root transaction */
    bool sampled;                 /* profile this one (sample rates applied by the caller) */
    bool to_js;                   /* the profile goes back to JS (SDK envelope), not the spool */
} sp_txn_t;

/* Starts a transaction on the calling thread (which must be registered with the sampler).
 * trace_id/parent_span_id continue an incoming trace (NULL: new trace). Returns a handle
 * >= 0, or a negative errno (-ENOSPC: too many in flight; counted, said once). What the
 * thread leaves running when it exits is dropped (counted: transactions_abandoned). */
long sp_txn_start(const char *name, const char *op, const char *trace_id,
                  const char *parent_span_id, bool sampled, bool to_js);
/* Sets fields before finish (http status, name change when the route is known). */
int sp_txn_set_name(long handle, const char *name);
int sp_txn_set_status(long handle, int http_status, const char *status);
/* Copies out the ids (for the JS side: trace propagation, SDK integration). */
int sp_txn_get(long handle, sp_txn_t *out);
/* Finishes it: the window goes to the agent. 0 or -EINVAL (stale handle). Any thread may
 * finish or discard it; the starting thread's sampling count goes down either way. */
int sp_txn_finish(long handle);
/* Drops it without a profile (e.g. the SDK decided not to send it). */
int sp_txn_discard(long handle);

/* Agent: copies the next finished transaction into *out; false when none. */
/* Finished transactions the agent has not taken yet. */
size_t sp_txn_finished_pending(void);
bool sp_txn_take_finished(sp_txn_t *out);
/* Oldest start among transactions still running (UINT64_MAX when none): the agent keeps
 * raw samples back to it. */
uint64_t sp_txn_oldest_running_ns(void);
/* A fork child starts with no transaction of its parent (an atfork handler registered by
 * the first sp_txn_start). */

#endif
