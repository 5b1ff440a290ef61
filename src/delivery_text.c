/* delivery_text: what a failed upload request means for the data, in the words of one
 * status line (API in delivery_text.h). Pure: no I/O, no clock; any thread (libspnet).
 */
#include "delivery_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* "2026-12-05 11:40:12 UTC" */
static void utc_text(double t, char *buf, size_t len)
{
    time_t s = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&s, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(buf, len, "%.0f (unix time)", t);
}

/* Fills out; 1. */
static int put(sp_delivery_text_t *out, const char *cause, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int put(sp_delivery_text_t *out, const char *cause, const char *fmt, ...)
{
    snprintf(out->cause, sizeof out->cause, "%s", cause);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->text, sizeof out->text, fmt, ap);
    va_end(ap);
    return 1;
}

int sp_delivery_text_failure(const sp_dsn_t *dsn, const char *dir, int sent,
                             const sp_transport_response_t *resp, sp_send_outcome_t o,
                             const sp_delivery_cats_t *cats, const sp_ratelimit_t *rl, double now,
                             sp_delivery_text_t *out)
{
    char host[SP_DSN_HOST_MAX + 16];
    if (dsn->port)
        snprintf(host, sizeof host, "%s:%u", dsn->host, dsn->port);
    else
        snprintf(host, sizeof host, "%s", dsn->host);
    char detail[SP_TRANSPORT_MESSAGE_MAX];
    snprintf(detail, sizeof detail, "%s", resp->message);
    for (size_t n = strlen(detail); n && (detail[n - 1] == ' ' || detail[n - 1] == '\n'); n--)
        detail[n - 1] = '\0';
    switch (o) {
    case SP_SEND_OK:
        return 0;
    case SP_SEND_DROP:
        if (resp->status == 401 || resp->status == 403)
            return put(out, resp->status == 401 ? "http-401" : "http-403",
                       "Sentry at %s refused the upload: HTTP %ld (%.120s): the public key in "
                       "SENTRY_DSN is wrong or disabled; refused profiles are dropped",
                       host, resp->status, detail);
        else if (resp->status == 404)
            return put(out, "http-404",
                       "Sentry at %s answered HTTP 404 (%.120s): no such project or path, check "
                       "SENTRY_DSN; refused profiles are dropped",
                       host, detail);
        else if (resp->status == 413)
            return put(out, "http-413",
                       "Sentry at %s refused a profile as too large (HTTP 413); it was dropped",
                       host);
        else
            return put(out, "http-4xx",
                       "Sentry at %s refused a profile: HTTP %ld (%.120s); it was dropped", host,
                       resp->status, detail);
    case SP_SEND_RETRY:
        if (sent != 0)
            return put(out, "connect",
                       "cannot reach Sentry at %s (%.160s); profiles are kept in %s "
                       "and sent when it answers",
                       host, detail, dir);
        else
            return put(out, "http-retry",
                       "Sentry at %s answered HTTP %ld; profiles are kept in %s "
                       "and sent again later",
                       host, resp->status, dir);
    case SP_SEND_RATE_LIMITED: {
        double until = sp_ratelimit_until(rl, -1, now);
        const char *what = until > 0 ? "everything" : NULL;
        for (int c = 1; c < SP_RL_COUNT; c++) {
            double u = cats->n[c] ? sp_ratelimit_until(rl, c, now) : 0;
            if (u > until) until = u, what = sp_ratelimit_category_name(c);
        }
        char when[64];
        utc_text(until > 0 ? until : now + SP_RATELIMIT_DEFAULT_SECONDS, when, sizeof when);
        return put(out, "rate-limit",
                   "Sentry at %s rate-limits %s until %s; profiles are kept in %s "
                   "and sent then",
                   host, what ? what : "profiles", when, dir);
    }
    }
    return 0;
}
