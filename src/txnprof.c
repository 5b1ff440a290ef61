/* txnprof: transaction profiles. Owns the raw samples retained for transactions in flight
 * (a FIFO of up to SP_RETAIN_MAX, pruned once no running or future transaction can need
 * them) and the v1 profiles built for an app's Sentry SDK, waiting for JS to take them.
 * For each finished transaction it builds the profile from the retained samples of its
 * thread and window and spools it with its transaction (sp_outbox_append), or hands it to
 * JS. Threads: the agent thread; sp_txnprof_take on JS threads (under tp.js_lock, the only
 * lock; never held while anything else is). Environment: none. */
#include "txnprof.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "mem.h"
#include "outbox.h"
#include "stats.h"

#define SP_RETAIN_MAX 65536  /* raw samples kept for transactions in flight (~30 s x 20 threads) */
#define SP_JS_PROFILES 256     /* built profiles waiting for JS to take them */
#define SP_JS_PROFILE_TTL_NS (60 * SP_NS_PER_SEC) /* then they are dropped */

/* A v1 profile built for JS (an SDK adds it to its own envelope). json NULL: the
 * transaction had too few samples: JS stops waiting. */
typedef struct {
    bool used;
    char event_id[33];
    char *json;
    uint64_t ready_ns;
} js_profile_t;

/* A raw sample kept until the transactions that may need it finish (transaction mode),
 * with its frame ids as the agent resolved them when it took the sample (nids < 0: none;
 * stale once the frame table's epoch moved on: the pcs are resolved again then). */
typedef struct {
    uint64_t ts_ns;
    uint32_t tid;
    uint16_t nframes, flags;
    uint32_t epoch;
    int32_t nids;
    uint64_t pcs[]; /* nframes of them, then nids uint32_t ids */
} retained_t;

static uint32_t *retained_ids(retained_t *r) { return (uint32_t *)&r->pcs[r->nframes]; }

static struct {
    sp_sample_t scratch;    /* a retained sample, whole again */
    sp_resolved_t resolved; /* ... and its ids */
    retained_t **retained;  /* FIFO by arrival */
    size_t ret_head, ret_count;
    pthread_mutex_t js_lock; /* guards js_profiles: the agent fills, JS threads take */
    js_profile_t js_profiles[SP_JS_PROFILES];
} tp = {.js_lock = PTHREAD_MUTEX_INITIALIZER};

size_t sp_txnprof_retained(void) { return tp.ret_count; }

void sp_txnprof_atfork_child(void)
{
    /* Only the forking thread survives; the lock may be held by a dead thread. */
    pthread_mutex_init(&tp.js_lock, NULL);
}

void sp_txnprof_retain(const sp_sample_t *s, const sp_resolved_t *res)
{
    if (!tp.retained) tp.retained = sp_mem_calloc(SP_RETAIN_MAX, sizeof *tp.retained);
    if (!tp.retained) return;
    if (tp.ret_count == SP_RETAIN_MAX) { /* full: the oldest goes first */
        sp_mem_free(tp.retained[tp.ret_head]);
        tp.ret_head = (tp.ret_head + 1) % SP_RETAIN_MAX;
        tp.ret_count--;
    }
    long nids = res && res->n >= 0 ? res->n : -1;
    retained_t *r = sp_mem_alloc(sizeof *r + s->nframes * sizeof(uint64_t) +
                                 (nids > 0 ? (size_t)nids * sizeof(uint32_t) : 0));
    if (!r) return;
    r->ts_ns = s->ts_ns;
    r->tid = s->tid;
    r->nframes = s->nframes;
    r->flags = s->flags;
    memcpy(r->pcs, s->pcs, s->nframes * sizeof(uint64_t));
    r->nids = (int32_t)nids;
    r->epoch = res ? res->epoch : 0;
    if (nids > 0) memcpy(retained_ids(r), res->ids, (size_t)nids * sizeof(uint32_t));
    tp.retained[(tp.ret_head + tp.ret_count++) % SP_RETAIN_MAX] = r;
}

/* Drops raw samples no running or future transaction can need. */
void sp_txnprof_prune(uint64_t now)
{
    if (!tp.ret_count) return;
    uint64_t keep_from = sp_txn_oldest_running_ns();
    if (keep_from > now) keep_from = now;
    if (now > SP_TXN_MAX_NS && keep_from < now - SP_TXN_MAX_NS) keep_from = now - SP_TXN_MAX_NS;
    while (tp.ret_count) {
        retained_t *r = tp.retained[tp.ret_head];
        if (r->ts_ns >= keep_from) break;
        sp_mem_free(r);
        tp.ret_head = (tp.ret_head + 1) % SP_RETAIN_MAX;
        tp.ret_count--;
    }
}


/* Hands a built profile (or a "too short" tombstone) to JS; expired ones are dropped. */
static void js_profile_put(const char *event_id, char *json)
{
    uint64_t now = sp_clock_mono_ns();
    pthread_mutex_lock(&tp.js_lock);
    js_profile_t *slot = NULL;
    for (size_t i = 0; i < SP_JS_PROFILES; i++) {
        js_profile_t *p = &tp.js_profiles[i];
        if (p->used && now - p->ready_ns > SP_JS_PROFILE_TTL_NS) {
            sp_mem_free(p->json);
            p->used = false;
        }
        if (!p->used && !slot) slot = p;
    }
    if (slot) {
        slot->used = true;
        memcpy(slot->event_id, event_id, sizeof slot->event_id);
        slot->json = json;
        slot->ready_ns = now;
    } else {
        sp_mem_free(json);
    }
    pthread_mutex_unlock(&tp.js_lock);
}

/* Builds and spools the v1 profile + transaction envelope of one finished transaction. */
void sp_txnprof_emit(const sp_txn_t *t, const sp_txnprof_ctx_t *ctx)
{
    sp_session_t *sess = sp_session_new();
    if (!sess) return;
    uint64_t end = t->end_ns;
    if (end - t->start_ns > SP_TXN_MAX_NS) end = t->start_ns + SP_TXN_MAX_NS;
    for (size_t i = 0; i < tp.ret_count; i++) {
        retained_t *r = tp.retained[(tp.ret_head + i) % SP_RETAIN_MAX];
        if (r->tid != (uint32_t)t->tid || r->ts_ns < t->start_ns || r->ts_ns > end) continue;
        sp_sample_t *s = &tp.scratch;
        s->ts_ns = r->ts_ns;
        s->tid = r->tid;
        s->nframes = r->nframes;
        s->flags = r->flags;
        memcpy(s->pcs, r->pcs, r->nframes * sizeof(uint64_t));
        sp_resolved_t *pre = NULL;
        if (r->nids >= 0) {
            pre = &tp.resolved;
            pre->epoch = r->epoch;
            pre->n = r->nids;
            memcpy(pre->ids, retained_ids(r), (size_t)r->nids * sizeof(uint32_t));
        }
        sp_resolver_add_sample(ctx->resolver, sess, s, pre,
                               (uint64_t)((int64_t)s->ts_ns + ctx->mono_to_real_ns));
    }
    if (t->to_js) {
        char profile_id[33];
        size_t len;
        char *json = sp_profile_txn_text(sess, t, (uint64_t)((int64_t)t->start_ns + ctx->mono_to_real_ns),
                                         &ctx->env, profile_id, &len);
        if (!json) sp_stats_inc(SP_STAT_TXN_TOO_SHORT);
        else sp_stats_inc(SP_STAT_TXN_PROFILES);
        js_profile_put(t->event_id, json);
        sp_session_free(sess);
        return;
    }
    char *buf = NULL;
    size_t len = 0;
    int rc = sp_profile_txn_envelope(sess, t, (uint64_t)((int64_t)t->start_ns + ctx->mono_to_real_ns),
                                     &ctx->env, &buf, &len);
    if (rc == -ENODATA) {
        /* Too short for a profile (Relay needs >= 2 samples): the transaction still goes,
         * alone, or Sentry's counts and latency percentiles would only see slow requests. */
        sp_stats_inc(SP_STAT_TXN_TOO_SHORT);
        if ((rc = sp_profile_txn_event_envelope(t, NULL, &ctx->env, &buf, &len)) != 0)
            sp_txnprof_build_failed(rc, "transaction");
        else if (sp_outbox_append(buf, len) == 0)
            sp_stats_inc(SP_STAT_TXN_NO_PROFILE);
    } else if (rc == 0) {
        if (sp_outbox_append(buf, len) == 0) sp_stats_inc(SP_STAT_TXN_PROFILES);
    } else {
        sp_txnprof_build_failed(rc, "transaction profile");
    }
    sp_mem_free(buf);
    sp_session_free(sess);
}

void sp_txnprof_build_failed(int rc, const char *what)
{
    static bool warned; /* agent thread only */
    sp_stats_inc(SP_STAT_ENVELOPE_ERRORS);
    if (warned) return;
    warned = true;
    SP_WARN("cannot build the envelope of a %s (%s); dropped, and each one after it counted in "
            "envelopes_not_built", what, strerror(-rc));
}

int sp_txnprof_take(const char *event_id, char **json)
{
    int found = 0;
    *json = NULL;
    pthread_mutex_lock(&tp.js_lock);
    for (size_t i = 0; i < SP_JS_PROFILES && !found; i++) {
        js_profile_t *p = &tp.js_profiles[i];
        if (p->used && strcmp(p->event_id, event_id) == 0) {
            *json = p->json;
            p->used = false;
            found = 1;
        }
    }
    pthread_mutex_unlock(&tp.js_lock);
    return found;
}

/* Continuous mode: the transaction event points at this process's continuous profile. */
void sp_txnprof_emit_event(const sp_txn_t *t, const sp_txnprof_ctx_t *ctx)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = sp_profile_txn_event_envelope(t, ctx->profiler_id, &ctx->env, &buf, &len);
    if (rc == 0) sp_outbox_append(buf, len);
    else sp_txnprof_build_failed(rc, "transaction");
    sp_mem_free(buf);
}

