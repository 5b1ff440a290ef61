/* delivery: the upload policy of `sentryprof upload` for each file and envelope (API in
 * delivery.h; the walk over ready/ and batch splitting: delivery_pass.c, through the steps
 * in delivery_int.h): drops and their discards, rate-limit and backoff decisions, and the
 * shared state.json entries they read and write (through delivery_state.h).
 *
 * Owns: nothing beyond one sp_delivery_t (the caller's) and the claims of one call.
 * Threads: the CLI's one thread; any number of uploader processes share the spool (each
 * file is claimed by one of them, state.json changes under its lock: spool_queue.h,
 * spool_state.h). Never in the profiled process (libspnet).
 * Environment: none (the caller passes the spool cap and the DSN).
 * Rules: rate-limited data is kept, never dropped (docs/SENTRY-FORMAT.md); only what Sentry can
 * never take is dropped, and each drop is counted as a discard and told in one line. Every
 * request starts only with SP_DELIVERY_MIN_REQUEST_MS left before the deadline, and gets
 * SP_DELIVERY_INFLIGHT_GRACE_MS past it for its answer (no duplicate for a late answer).
 */
#ifndef _GNU_SOURCE /* configure may pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE
#endif
#include "delivery.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "delivery_int.h"
#include "delivery_text.h"
#include "envelope.h"
#include "fsio.h"
#include "log.h"
#include "mem.h"
#include "spool_queue.h"
#include "spool_run.h"
#include "spool_state.h"

static double now_unix(void) { return (double)sp_clock_real_ns() / 1e9; }

static double now_mono(void) { return (double)sp_clock_mono_ns() / 1e9; }

static long remaining_ms(const sp_delivery_t *d)
{
    double r = (d->deadline - now_mono()) * 1000.0;
    return r <= 0 ? 0 : r > (double)LONG_MAX ? LONG_MAX : (long)r;
}

/* A uniform number in [0, 1) that differs between uploaders started at the same moment. */
static double jitter(void)
{
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint32_t)getpid() * 2654435761u ^ (uint32_t)(now_mono() * 1e6);
    return (double)r / 4294967296.0;
}

static void note_wake(sp_delivery_t *d, double until)
{
    if (until > 0 && (d->wake == 0 || until < d->wake)) d->wake = until;
}

void sp_delivery_say(const sp_delivery_t *d, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    d->io.say(d->io.ctx, buf);
}

/* ---- state updates (each one locked read-modify-write of state.json) ---- */

typedef struct {
    const char *reason;
    const sp_delivery_cats_t *cats;
} discard_upd_t;

static int upd_discards(json_t *state, void *ctx)
{
    const discard_upd_t *u = ctx;
    return sp_delivery_state_add_discards(state, u->reason, u->cats);
}

static void record_discards(sp_delivery_t *d, const char *reason, const sp_delivery_cats_t *c)
{
    discard_upd_t u = {reason, c};
    int rc = sp_spool_state_update(d->spool, upd_discards, &u);
    if (rc < 0) SP_DEBUG("upload: cannot record discards: %s", strerror(-rc));
}

/* Puts taken discards back (they were not delivered). */
static void put_back(sp_delivery_t *d, json_t *discards)
{
    if (!discards) return;
    int rc = sp_spool_state_update(d->spool, sp_spool_state_discards_merge, discards);
    if (rc < 0) SP_DEBUG("upload: cannot keep pending discards: %s", strerror(-rc));
}

static void load_limits_ex(sp_delivery_t *d, sp_ratelimit_t *rl, bool *discards)
{
    json_t *st = NULL;
    sp_ratelimit_init(rl);
    if (discards) *discards = true; /* unknown: look under the lock */
    if (sp_spool_state_read(d->spool, &st) == 0) {
        sp_delivery_state_limits(st, d->dsn_key, rl);
        if (discards) *discards = json_array_size(json_object_get(st, "discards")) > 0;
    }
    json_decref(st);
}

static void load_limits(sp_delivery_t *d, sp_ratelimit_t *rl) { load_limits_ex(d, rl, NULL); }

/* What a failed request means for the data, as one status line (sp_delivery_io_t.status). */
static void report_failure(const sp_delivery_t *d, int sent, const sp_transport_response_t *resp,
                           sp_send_outcome_t o, const sp_delivery_cats_t *cats,
                           const sp_ratelimit_t *rl)
{
    sp_delivery_text_t line = {.cause = "", .text = ""}; /* (cppcheck: ctuuninitvar) */
    if (d->io.status && sp_delivery_text_failure(&d->dsn, sp_spool_dir(d->spool), sent, resp, o,
                                                 cats, rl, now_unix(), &line))
        d->io.status(d->io.ctx, line.cause, line.text);
}

/* ---- sending ---- */

/* POSTs envelope bytes and applies the answer to the shared state. The outcome; *rl gets
 * the limits after the update. */
static sp_send_outcome_t post(sp_delivery_t *d, const char *what, const char *data, size_t len,
                              const sp_delivery_cats_t *cats, sp_ratelimit_t *rl)
{
    sp_transport_request_t req;
    sp_transport_response_t resp;
    int rc = sp_transport_request_init(&req, &d->dsn, data, len);
    if (rc < 0) {
        sp_delivery_say(d, "%s: cannot build the request: %s", what, strerror(-rc));
        d->error = true;
        return SP_SEND_RETRY;
    }
    /* The deadline stops new requests; this one gets the grace for its answer. */
    int sent = d->io.send(d->io.ctx, &req, data, len, remaining_ms(d) + SP_DELIVERY_INFLIGHT_GRACE_MS,
                          &resp); /* 0: a response */
    sp_transport_request_free(&req);
    sp_send_outcome_t o = sp_transport_outcome(sent == 0 ? resp.status : 0);
    if (sent == 0)
        SP_DEBUG("upload: %s: %zu bytes -> HTTP %ld (%s)%s%s%s%s", what, len, resp.status,
                 sp_transport_outcome_name(o),
                 resp.rate_limits[0] ? ", X-Sentry-Rate-Limits: " : "", resp.rate_limits,
                 resp.retry_after[0] ? ", Retry-After: " : "", resp.retry_after);
    else
        SP_DEBUG("upload: %s: %zu bytes -> no response: %s", what, len, resp.message);

    sp_delivery_answer_t u = {.dsn_key = d->dsn_key,
                              .resp = &resp,
                              .outcome = o,
                              .cats = cats,
                              .now = now_unix(),
                              .jitter = jitter()};
    rc = sp_spool_state_update(d->spool, sp_delivery_state_answer, &u);
    if (rc < 0) {
        SP_DEBUG("upload: cannot update %s/state.json: %s", sp_spool_dir(d->spool), strerror(-rc));
        /* Still honour the answer in this process. */
        sp_ratelimit_init(&u.rl);
        sp_ratelimit_apply_response(&u.rl, resp.status, resp.rate_limits, resp.retry_after, u.now);
        if (o == SP_SEND_RETRY) sp_ratelimit_backoff_fail(&u.rl, u.now, u.jitter);
    }
    *rl = u.rl;
    report_failure(d, sent, &resp, o, cats, rl);
    if (o == SP_SEND_DROP && !d->quiet)
        sp_delivery_say(d, "%s: Sentry refused it (HTTP %ld%s%s); dropped", what, resp.status,
            resp.message[0] ? ": " : "", resp.message);
    if (o == SP_SEND_RETRY && !d->quiet) {
        if (sent == 0)
            sp_delivery_say(d, "%s: HTTP %ld from Sentry; will retry", what, resp.status);
        else
            sp_delivery_say(d, "%s: cannot reach Sentry (%s); will retry", what, resp.message);
    }
    return o;
}

/* Pending discards to attach, unless client reports (category internal) are limited. */
static json_t *take_discards(sp_delivery_t *d, const sp_ratelimit_t *rl)
{
    if (sp_ratelimit_until(rl, SP_RL_INTERNAL, now_unix()) > 0) return NULL;
    json_t *taken = NULL;
    if (sp_spool_state_take_discards(d->spool, &taken) < 0) return NULL;
    return taken;
}

/* ready/ name of envelope i of batch `batch`: "<batch without .envelopes>~NNNN.envelope". */
void sp_delivery_split_name(char *buf, size_t len, const char *batch, size_t i)
{
    int base = (int)(strlen(batch) - (sizeof SP_BATCH_SUFFIX - 1));
    snprintf(buf, len, "%.*s~%04zu" SP_SPOOL_SUFFIX, base, batch, i);
}

/* Whether a file (cl; NULL: an envelope of a claimed batch) must wait, after its claim was
 * released if so: the shared backoff (the
 * pass stops), a rate limit of one of its categories (kept until it ends: our policy never
 * drops rate-limited data), or too little time left for a request (the pass stops). */
static bool held_back(sp_delivery_t *d, sp_spool_queue_claim_t *cl, const char *what,
                      const sp_delivery_cats_t *cats, const sp_ratelimit_t *rl)
{
    double now = now_unix(), until;
    if (rl->backoff_until > now) {
        note_wake(d, rl->backoff_until);
        d->stop = true;
    } else if ((until = sp_delivery_state_held_until(rl, cats, now)) > 0) {
        SP_DEBUG("upload: %s: rate limited for %.1f s more", what, until - now);
        note_wake(d, until);
    } else if (remaining_ms(d) < SP_DELIVERY_MIN_REQUEST_MS) {
        d->stop = true;
    } else {
        return false;
    }
    if (cl) sp_spool_queue_claim_release(cl);
    return true;
}

/* What Sentry's answer means for the claimed file; the claim ends here. */
static void settle(sp_delivery_t *d, sp_spool_queue_claim_t *cl, sp_send_outcome_t o,
                   const sp_delivery_cats_t *cats, const sp_ratelimit_t *rl)
{
    switch (o) {
    case SP_SEND_OK:
        d->sent++;
        sp_spool_queue_claim_done(cl);
        break;
    case SP_SEND_DROP:
        d->dropped++;
        sp_spool_queue_claim_done(cl);
        break;
    case SP_SEND_RATE_LIMITED:
        note_wake(d, sp_delivery_state_held_until(rl, cats, now_unix()));
        sp_spool_queue_claim_release(cl);
        break;
    case SP_SEND_RETRY:
        note_wake(d, rl->backoff_until);
        d->stop = true;
        sp_spool_queue_claim_release(cl);
        break;
    }
}

/* Sends envelope env unless it must wait (held_back). 0 with the answer's outcome in *o and
 * the limits after it in *rl; 1 when it was held back (cl, if any, released); 2 when it
 * could not be prepared (after an error line; cl untouched). */
static int deliver(sp_delivery_t *d, sp_spool_queue_claim_t *cl, const char *what,
                   const sp_envelope_parsed_t *env, sp_delivery_cats_t *cats, sp_ratelimit_t *rl,
                   sp_send_outcome_t *o)
{
    sp_delivery_state_count(env, cats);
    bool pending;
    load_limits_ex(d, rl, &pending);
    if (held_back(d, cl, what, cats, rl)) return 1;

    /* Taking them locks and rewrites state.json: only when the snapshot showed some (one
     * added since is reported with the next envelope). */
    json_t *discards = pending ? take_discards(d, rl) : NULL;
    char *body = NULL;
    size_t blen = 0;
    int rc = sp_transport_envelope_for_send(env, discards, now_unix(), &body, &blen);
    if (rc < 0) {
        sp_delivery_say(d, "%s: cannot prepare it: %s", what, strerror(-rc));
        d->error = true;
        put_back(d, discards);
        json_decref(discards);
        return 2;
    }
    *o = post(d, what, body, blen, cats, rl);
    sp_mem_free(body);
    if (*o != SP_SEND_OK) put_back(d, discards);
    json_decref(discards);
    return 0;
}

/* Sends the envelope env of a claimed file, unless it must wait; the claim ends here. */
static void send_envelope(sp_delivery_t *d, sp_spool_queue_claim_t *cl, const char *what,
                          const sp_envelope_parsed_t *env)
{
    sp_delivery_cats_t cats;
    sp_ratelimit_t rl;
    sp_send_outcome_t o = SP_SEND_RETRY;
    int rc = deliver(d, cl, what, env, &cats, &rl, &o);
    if (rc == 0)
        settle(d, cl, o, &cats, &rl);
    else if (rc == 2)
        sp_spool_queue_claim_release(cl); /* held back: released already */
}

/* Sends envelope i of a claimed batch (named `name` for messages) straight from memory.
 * Whether it is done with (sent, or dropped because Sentry can never take it); false when it
 * must wait (held back, rate limited, a failure to retry later, not prepared). */
bool sp_delivery_send_from_batch(sp_delivery_t *d, const char *name, const char *e, size_t elen)
{
    char what[SP_SPOOL_NAME_MAX + 24];
    snprintf(what, sizeof what, "ready/%s", name);
    sp_envelope_parsed_t env;
    if (sp_envelope_parse(e, elen, &env) < 0) {
        sp_delivery_cats_t cats;
        sp_delivery_state_categories(NULL, 0, &cats);
        if (!d->quiet) sp_delivery_say(d, "%s: not a valid envelope; dropped", what);
        record_discards(d, SP_DELIVERY_REASON_SEND, &cats);
        d->dropped++;
        return true;
    }
    sp_delivery_cats_t cats;
    sp_ratelimit_t rl;
    sp_send_outcome_t o = SP_SEND_RETRY;
    int rc = deliver(d, NULL, what, &env, &cats, &rl, &o);
    sp_envelope_parsed_free(&env);
    if (rc != 0) return false;
    switch (o) {
    case SP_SEND_OK:
        d->sent++;
        return true;
    case SP_SEND_DROP:
        d->dropped++;
        return true;
    case SP_SEND_RATE_LIMITED:
        note_wake(d, sp_delivery_state_held_until(&rl, &cats, now_unix()));
        return false;
    case SP_SEND_RETRY:
        note_wake(d, rl.backoff_until);
        d->stop = true;
        return false;
    }
    return false;
}

/* A claimed file Sentry could never take: its discard recorded, the claim done, counted. */
void sp_delivery_drop_file(sp_delivery_t *d, sp_spool_queue_claim_t *cl)
{
    sp_delivery_cats_t cats;
    sp_delivery_state_categories(NULL, 0, &cats);
    record_discards(d, SP_DELIVERY_REASON_SEND, &cats);
    sp_spool_queue_claim_done(cl);
    d->dropped++;
}

/* A claimed single-envelope file: sent unless it must wait, or dropped when Sentry could
 * never take it; the claim always ends here. */
void sp_delivery_send_file(sp_delivery_t *d, sp_spool_queue_claim_t *cl)
{
    char what[SP_SPOOL_NAME_MAX + 8];
    snprintf(what, sizeof what, "ready/%s", cl->name);
    char *data = NULL;
    size_t len = 0;
    sp_envelope_parsed_t env;

    int rc = sp_spool_queue_claim_read(cl, d->max_file, &data, &len);
    if (rc < 0 && rc != -EFBIG) {
        sp_delivery_say(d, "%s: cannot read it: %s", what, strerror(-rc));
        d->error = true;
        sp_spool_queue_claim_release(cl);
        return;
    }
    if (rc == 0 && len > 0 && sp_envelope_parse(data, len, &env) == 0) {
        send_envelope(d, cl, what, &env);
        sp_envelope_parsed_free(&env);
    } else {
        /* Torn, foreign or oversized: Sentry could never take it. */
        if (!d->quiet)
            sp_delivery_say(d, "%s: %s; dropped", what, rc == -EFBIG ? "too large" : "not a valid envelope");
        sp_delivery_drop_file(d, cl);
    }
    sp_mem_free(data);
}

/* Sends pending discards in an envelope of their own (nothing else carried them). */
static void send_client_report(sp_delivery_t *d)
{
    sp_ratelimit_t rl;
    load_limits(d, &rl);
    double now = now_unix();
    if (rl.backoff_until > now || remaining_ms(d) < SP_DELIVERY_MIN_REQUEST_MS) return;
    json_t *discards = take_discards(d, &rl);
    if (!discards) return;
    char *body = NULL;
    size_t blen = 0;
    if (sp_transport_envelope_for_send(NULL, discards, now, &body, &blen) == 0) {
        sp_delivery_cats_t cats = {{0}};
        cats.n[SP_RL_INTERNAL] = 1;
        sp_send_outcome_t o = post(d, "client report", body, blen, &cats, &rl);
        /* A refused report is not retried (it would be refused again); others wait. */
        if (o == SP_SEND_RATE_LIMITED || o == SP_SEND_RETRY) put_back(d, discards);
        if (o == SP_SEND_RETRY) d->stop = true;
    } else {
        put_back(d, discards);
    }
    sp_mem_free(body);
    json_decref(discards);
}

static bool discards_pending(sp_delivery_t *d)
{
    json_t *st = NULL;
    bool any = sp_spool_state_read(d->spool, &st) == 0 &&
               json_array_size(json_object_get(st, "discards")) > 0;
    json_decref(st);
    return any;
}

void sp_delivery_send_discards(sp_delivery_t *d)
{
    if (discards_pending(d)) send_client_report(d);
}

void sp_delivery_init(sp_delivery_t *d, sp_spool_t *spool, const sp_dsn_t *dsn,
                      const sp_delivery_io_t *io, bool quiet, double deadline)
{
    *d = (sp_delivery_t){.spool = spool,
                         .dsn = *dsn,
                         .io = *io,
                         .quiet = quiet,
                         .deadline = deadline,
                         .max_file = SP_DELIVERY_MAX_FILE,
                         .max_batch = SP_DELIVERY_MAX_BATCH};
    sp_delivery_state_dsn_key(dsn, d->dsn_key, sizeof d->dsn_key);
}

long sp_delivery_remaining_ms(const sp_delivery_t *d) { return remaining_ms(d); }

