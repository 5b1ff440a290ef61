/* txnprof: the profiles of transactions (v1 "profile" items): raw samples retained while
 * transactions run, a profile built per finished transaction and spooled with its
 * transaction event, or handed to the app's Sentry SDK (JS). Agent thread, except
 * sp_txnprof_take (JS threads). */
#ifndef SP_TXNPROF_H
#define SP_TXNPROF_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "resolve.h"
#include "ring.h"
#include "txn.h"

/* What a transaction's profile is built with (the agent's current settings). */
typedef struct {
    sp_resolver_t *resolver;
    int64_t mono_to_real_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC */
    sp_profile_env_t env;
    const char *profiler_id; /* the continuous profile transactions point at */
} sp_txnprof_ctx_t;

/* Keeps a copy of raw sample s, and its ids as resolved (res; NULL: none), for the
 * transactions that may need it (full: the oldest goes). */
void sp_txnprof_retain(const sp_sample_t *s, const sp_resolved_t *res);
/* Drops the raw samples no running or future transaction can need. now: monotonic ns. */
void sp_txnprof_prune(uint64_t now);
size_t sp_txnprof_retained(void);

/* Builds the v1 profile of finished transaction t from the retained samples and spools it
 * with the transaction (alone when too short for a profile), or, for an SDK's transaction
 * (t->to_js), keeps it for sp_txnprof_take. */
void sp_txnprof_emit(const sp_txn_t *t, const sp_txnprof_ctx_t *ctx);
/* Continuous mode: spools t's transaction event pointing at ctx->profiler_id. */
void sp_txnprof_emit_event(const sp_txn_t *t, const sp_txnprof_ctx_t *ctx);

/* JS threads: the profile built for event_id (*json: sp_mem, the caller's; NULL when the
 * transaction was too short). 1 when found (it is then forgotten), 0 not (yet). */
int sp_txnprof_take(const char *event_id, char **json);

/* An envelope that could not be built (rc: its negative errno; what: what it held) is lost:
 * counted (envelopes_not_built) and said once per process, never silently. Agent thread. */
void sp_txnprof_build_failed(int rc, const char *what);

/* In a fork child. */
void sp_txnprof_atfork_child(void);

#endif
