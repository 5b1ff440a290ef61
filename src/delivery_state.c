/* delivery_state: what the upload policy keeps in state.json and derives from a file's
 * bytes (API in delivery_state.h): the data categories of a spool file, discards per
 * category, each DSN's rate limits and backoff, and what one answer of Sentry changes.
 *
 * Owns: nothing (pure functions over JSON objects and caller structs; the caller holds
 * state.json's lock around them: sp_spool_state_update). Threads: any, never the signal
 * handler; the CLI's uploader in practice (libspnet). Environment: none. No clock and no
 * randomness: "now" and the backoff's jitter are arguments.
 */
#include "delivery_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool_run.h"
#include "spool_state.h"

static const char *item_type(const sp_envelope_parsed_t *env, size_t i)
{
    const char *t = json_string_value(json_object_get(env->items[i].header, "type"));
    return t && *t ? t : "?";
}

void sp_delivery_state_count(const sp_envelope_parsed_t *env, sp_delivery_cats_t *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < env->count; i++) {
        int cat = sp_ratelimit_item_category(item_type(env, i));
        c->n[cat > 0 ? cat : SP_RL_ALL]++;
    }
}

int sp_delivery_state_add_discards(json_t *state, const char *reason, const sp_delivery_cats_t *c)
{
    int changed = 0;
    for (int cat = 1; cat < SP_RL_COUNT; cat++) {
        if (!c->n[cat]) continue;
        int r =
            sp_spool_state_discard_add(state, reason, sp_ratelimit_category_name(cat), c->n[cat]);
        if (r > 0) changed = 1;
    }
    return changed;
}

void sp_delivery_state_categories(const char *data, size_t len, sp_delivery_cats_t *c)
{
    sp_envelope_parsed_t env;
    sp_spool_run_reader_t r;
    if (data && sp_spool_run_reader_init(&r, data, len) == 0) {
        memset(c, 0, sizeof *c);
        const char *e;
        size_t elen;
        while (sp_spool_run_reader_next(&r, &e, &elen)) {
            sp_delivery_cats_t one;
            sp_delivery_state_categories(e, elen, &one);
            for (int i = 0; i < SP_RL_COUNT; i++) c->n[i] += one.n[i];
        }
        return;
    }
    if (data && len && sp_envelope_parse(data, len, &env) == 0) {
        sp_delivery_state_count(&env, c);
        sp_envelope_parsed_free(&env);
        return;
    }
    memset(c, 0, sizeof *c);
    c->n[sp_ratelimit_category(SP_DELIVERY_UNKNOWN_CATEGORY)] = 1;
}

/* Rate limits and backoff are kept per DSN in state.json ("dsns": {"<scheme>://<key>@<host>
 * [:port][prefix]/<project>": {"rate_limits", "backoff"}}): what one project's Sentry said,
 * or a DSN that failed, must not hold back another DSN sharing the spool (a fixed one). */

static json_t *dsn_state(json_t *state, const char *key, bool create)
{
    json_t *all = json_object_get(state, SP_DELIVERY_STATE_DSNS);
    if (!json_is_object(all)) {
        if (!create || !(all = json_object()) ||
            json_object_set_new(state, SP_DELIVERY_STATE_DSNS, all) < 0)
            return NULL;
    }
    json_t *ds = json_object_get(all, key);
    if (!json_is_object(ds)) {
        if (!create || !(ds = json_object()) || json_object_set_new(all, key, ds) < 0) return NULL;
    }
    return ds;
}

/* Stores rl as key's entry; an entry with nothing left in it goes. */
static int dsn_state_store(json_t *state, const char *key, const sp_ratelimit_t *rl, double now)
{
    json_t *ds = dsn_state(state, key, true);
    if (!ds || sp_ratelimit_store(rl, ds, now) < 0) return -ENOMEM;
    if (json_object_size(ds) == 0)
        json_object_del(json_object_get(state, SP_DELIVERY_STATE_DSNS), key);
    return 0;
}

void sp_delivery_state_dsn_key(const sp_dsn_t *dsn, char *buf, size_t len)
{
    char port[16] = "";
    if (dsn->port) snprintf(port, sizeof port, ":%u", dsn->port);
    snprintf(buf, len, "%s://%s@%s%s%s/%s", dsn->scheme, dsn->public_key, dsn->host, port,
             dsn->prefix, dsn->project_id);
}

static int answer_apply(json_t *state, sp_delivery_answer_t *u)
{
    sp_ratelimit_t *rl = &u->rl;
    sp_delivery_state_limits(state, u->dsn_key, rl);
    sp_ratelimit_apply_response(rl, u->resp->status, u->resp->rate_limits, u->resp->retry_after,
                                u->now);
    if (u->outcome == SP_SEND_RATE_LIMITED) {
        /* A 429 whose headers limit none of this envelope's categories (say, only
         * metric_bucket) would otherwise be retried at once, forever: hold its categories
         * for the default time. */
        bool limited = sp_ratelimit_until(rl, -1, u->now) > 0;
        for (int c = 1; c < SP_RL_COUNT && !limited; c++)
            if (u->cats->n[c] && sp_ratelimit_until(rl, c, u->now) > 0) limited = true;
        for (int c = 1; c < SP_RL_COUNT && !limited; c++)
            if (u->cats->n[c] && rl->until[c] < u->now + SP_RATELIMIT_DEFAULT_SECONDS)
                rl->until[c] = u->now + SP_RATELIMIT_DEFAULT_SECONDS;
    } else if (u->outcome == SP_SEND_OK) {
        sp_ratelimit_backoff_reset(rl);
    } else if (u->outcome == SP_SEND_RETRY) {
        sp_ratelimit_backoff_fail(rl, u->now, u->jitter);
    }
    if (u->outcome == SP_SEND_DROP)
        sp_delivery_state_add_discards(state, SP_DELIVERY_REASON_SEND, u->cats);
    return dsn_state_store(state, u->dsn_key, rl, u->now) < 0 ? -ENOMEM : 1;
}

/* The state is written (an fsync'd replace) only when the answer changed it: a 200 with no
 * limits and no backoff to reset, the common case, costs no disk write. */
int sp_delivery_state_answer(json_t *state, void *answer)
{
    json_t *before = json_deep_copy(state);
    int rc = answer_apply(state, answer);
    if (rc > 0 && before && json_equal(before, state)) rc = 0;
    json_decref(before);
    return rc;
}

/* The shared limits now (a fresh read: other uploaders may have learned something), and
 * whether discards wait to be reported (NULL: not asked). */
double sp_delivery_state_held_until(const sp_ratelimit_t *rl, const sp_delivery_cats_t *c,
                                    double now)
{
    double until = sp_ratelimit_until(rl, -1, now);
    for (int cat = 1; cat < SP_RL_COUNT; cat++) {
        double u = c->n[cat] ? sp_ratelimit_until(rl, cat, now) : 0;
        if (u > until) until = u;
    }
    return until;
}


void sp_delivery_state_limits(json_t *state, const char *dsn_key, sp_ratelimit_t *rl)
{
    sp_ratelimit_init(rl);
    sp_ratelimit_load(rl, dsn_state(state, dsn_key, false));
}

int sp_delivery_sdk_response_parse(char *buf, sp_delivery_sdk_response_t *r)
{
    char *f[4], *p = buf;
    for (int i = 0; i < 4; i++) {
        f[i] = p;
        char *tab = i < 3 ? strchr(p, '\t') : NULL;
        if (i < 3 && !tab) return -EINVAL;
        if (tab) {
            *tab = '\0';
            p = tab + 1;
        }
    }
    char *end;
    double at = strtod(f[0], &end);
    if (end == f[0] || *end || !(at > 0)) return -EINVAL;
    long status = strtol(f[1], &end, 10);
    if (end == f[1] || *end || status < 100 || status > 599) return -EINVAL;
    r->at = at;
    r->status = status;
    r->retry_after = f[2];
    r->rate_limits = f[3];
    return 0;
}

int sp_delivery_state_sdk_response(json_t *state, void *response)
{
    sp_delivery_sdk_response_t *r = response;
    double at = r->at > r->now ? r->now : r->at;
    sp_ratelimit_t rl;
    sp_delivery_state_limits(state, r->dsn_key, &rl);
    double before[SP_RL_COUNT];
    memcpy(before, rl.until, sizeof before);
    sp_ratelimit_apply_response(&rl, r->status, r->rate_limits, r->retry_after, at);
    bool changed = false;
    for (int c = 0; c < SP_RL_COUNT; c++) changed |= rl.until[c] != before[c];
    if (!changed) return 0; /* nothing new: no write */
    return dsn_state_store(state, r->dsn_key, &rl, r->now) < 0 ? -ENOMEM : 1;
}
