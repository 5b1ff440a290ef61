/* ratelimit: Sentry's rate limits (X-Sentry-Rate-Limits, Retry-After) per data category,
 * and the uploader's exponential backoff after 5xx and network errors.
 *
 * Owns: nothing global; sp_ratelimit_t is a plain struct the caller keeps. The shared copy
 * lives in the spool's state.json (so every uploader process honours what any of them was
 * told); sp_ratelimit_load/store convert, the caller holds the state lock (spool_state.h).
 * Threads/processes: the CLI's `sentryprof upload` only (libspnet, never in the preload
 * library). Environment: none. Time: unix seconds as double, passed in by the caller, so
 * tests need no clock.
 * Rules (docs/SENTRY-FORMAT.md; as sentry-native's and @sentry/core's rate limiters):
 * X-Sentry-Rate-Limits wins whenever present, on any status; only without it does a 429
 * use Retry-After, and a 429 with neither means 60 s for everything. Scope, reason and
 * namespaces do not change what we hold back (one DSN, no metrics). Limits only extend.
 */
#include "ratelimit.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SP_RL_HEADER_MAX_ENTRIES 64 /* entries of one header we look at */
#define SP_RL_ALL_KEY "*"           /* state.json key of the limit on all categories */

static const char *const cat_names[SP_RL_COUNT] = {
    [SP_RL_ALL] = SP_RL_ALL_KEY,
    [SP_RL_TRANSACTION] = "transaction",
    [SP_RL_PROFILE] = "profile",
    [SP_RL_PROFILE_CHUNK] = "profile_chunk",
    [SP_RL_INTERNAL] = "internal",
};

void sp_ratelimit_init(sp_ratelimit_t *rl) { memset(rl, 0, sizeof *rl); }

int sp_ratelimit_category(const char *name)
{
    if (!name) return -1;
    for (int i = 1; i < SP_RL_COUNT; i++)
        if (strcmp(name, cat_names[i]) == 0) return i;
    return -1;
}

const char *sp_ratelimit_category_name(int cat)
{
    return cat >= 0 && cat < SP_RL_COUNT ? cat_names[cat] : "?";
}

int sp_ratelimit_item_category(const char *item_type)
{
    if (!item_type) return -1;
    if (strcmp(item_type, "client_report") == 0) return SP_RL_INTERNAL;
    /* profile_chunk, profile and transaction items are their own categories. */
    int c = sp_ratelimit_category(item_type);
    return c == SP_RL_INTERNAL ? -1 : c;
}

/* A usable delay: finite, not negative, clamped. */
static bool clamp_delay(double *s)
{
    if (!isfinite(*s) || *s < 0) return false;
    if (*s > SP_RATELIMIT_MAX_SECONDS) *s = SP_RATELIMIT_MAX_SECONDS;
    return true;
}

static void extend(sp_ratelimit_t *rl, int cat, double until)
{
    if (until > rl->until[cat]) rl->until[cat] = until;
}

/* Parses a whole (trimmed) number of seconds in [p, end); false when it is not one. */
static bool parse_seconds(const char *p, const char *end, double *out)
{
    while (p < end && isspace((unsigned char)*p)) p++;
    while (end > p && isspace((unsigned char)end[-1])) end--;
    if (p == end || (size_t)(end - p) >= 64) return false;
    char buf[64];
    memcpy(buf, p, (size_t)(end - p));
    buf[end - p] = '\0';
    for (const char *q = buf; *q; q++) /* digits and a point: no sign, hex, exponent, "inf" */
        if (!isdigit((unsigned char)*q) && *q != '.') return false;
    char *stop;
    errno = 0;
    double v = strtod(buf, &stop);
    if (errno || *stop || !clamp_delay(&v)) return false;
    *out = v;
    return true;
}

/* Applies one "retry_after:categories:scope..." entry in [p, end). */
static bool apply_entry(sp_ratelimit_t *rl, const char *p, const char *end, double now)
{
    while (p < end && isspace((unsigned char)*p)) p++;
    if (p == end) return false; /* empty entry ("a, , b") */
    const char *colon = memchr(p, ':', (size_t)(end - p));
    double delay;
    if (!parse_seconds(p, colon ? colon : end, &delay)) delay = SP_RATELIMIT_DEFAULT_SECONDS;
    double until = now + delay;
    const char *cats = colon ? colon + 1 : end;
    const char *cats_end = colon ? memchr(cats, ':', (size_t)(end - cats)) : NULL;
    if (!cats_end) cats_end = end;

    /* Empty (or blank) categories: every category. */
    const char *q = cats;
    while (q < cats_end && isspace((unsigned char)*q)) q++;
    if (q == cats_end) {
        extend(rl, SP_RL_ALL, until);
        return true;
    }
    bool applied = false;
    while (q < cats_end) {
        const char *semi = memchr(q, ';', (size_t)(cats_end - q));
        const char *ce = semi ? semi : cats_end;
        const char *a = q, *b = ce;
        while (a < b && isspace((unsigned char)*a)) a++;
        while (b > a && isspace((unsigned char)b[-1])) b--;
        char name[32];
        if (b > a && (size_t)(b - a) < sizeof name) {
            memcpy(name, a, (size_t)(b - a));
            name[b - a] = '\0';
            int c = sp_ratelimit_category(name); /* unknown categories are ignored */
            if (c > 0) {
                extend(rl, c, until);
                applied = true;
            }
        }
        q = semi ? semi + 1 : cats_end;
    }
    return applied;
}

int sp_ratelimit_apply_header(sp_ratelimit_t *rl, const char *header, double now)
{
    if (!rl || !header) return 0;
    int applied = 0, entries = 0;
    const char *p = header;
    while (*p && entries++ < SP_RL_HEADER_MAX_ENTRIES) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        if (apply_entry(rl, p, end, now)) applied++;
        if (!comma) break;
        p = comma + 1;
    }
    return applied;
}

int sp_ratelimit_parse_retry_after(const char *value, double now, double *until)
{
    if (!value || !until) return -EINVAL;
    double delay;
    if (parse_seconds(value, value + strlen(value), &delay)) {
        *until = now + delay;
        return 0;
    }
    /* An HTTP date (RFC 9110: IMF-fixdate, or the obsolete RFC 850 and asctime forms). */
    const char *p = value;
    while (isspace((unsigned char)*p)) p++;
    if (!isalpha((unsigned char)*p)) return -EINVAL; /* every HTTP date starts with a day name */
    time_t t = curl_getdate(p, NULL);
    if (t == (time_t)-1) return -EINVAL;
    delay = (double)t - now;
    if (delay < 0) delay = 0; /* already past */
    if (!clamp_delay(&delay)) return -EINVAL;
    *until = now + delay;
    return 0;
}

void sp_ratelimit_apply_response(sp_ratelimit_t *rl, long status, const char *rate_limits,
                                 const char *retry_after, double now)
{
    if (!rl) return;
    if (rate_limits && *rate_limits) {
        sp_ratelimit_apply_header(rl, rate_limits, now);
        return;
    }
    if (status != 429) return;
    double until;
    if (!retry_after || !*retry_after || sp_ratelimit_parse_retry_after(retry_after, now, &until) < 0)
        until = now + SP_RATELIMIT_DEFAULT_SECONDS;
    extend(rl, SP_RL_ALL, until);
}

double sp_ratelimit_until(const sp_ratelimit_t *rl, int cat, double now)
{
    if (!rl) return 0;
    double u = rl->until[SP_RL_ALL];
    if (cat > 0 && cat < SP_RL_COUNT && rl->until[cat] > u) u = rl->until[cat];
    return u > now ? u : 0;
}

double sp_ratelimit_backoff_fail(sp_ratelimit_t *rl, double now, double jitter)
{
    if (rl->backoff_attempts < 1000) rl->backoff_attempts++;
    double d = SP_BACKOFF_BASE_SECONDS;
    for (unsigned i = 1; i < rl->backoff_attempts && d < SP_BACKOFF_MAX_SECONDS; i++) d *= 2;
    if (d > SP_BACKOFF_MAX_SECONDS) d = SP_BACKOFF_MAX_SECONDS;
    if (!(jitter >= 0) || jitter >= 1) jitter = 0.5; /* also NaN */
    double delay = d / 2 + d / 2 * jitter;
    rl->backoff_until = now + delay;
    return delay;
}

void sp_ratelimit_backoff_reset(sp_ratelimit_t *rl)
{
    rl->backoff_attempts = 0;
    rl->backoff_until = 0;
}

/* A non-negative finite number from v, or 0. */
static double num(const json_t *v)
{
    double d = json_is_number(v) ? json_number_value(v) : 0;
    return isfinite(d) && d > 0 ? d : 0;
}

void sp_ratelimit_load(sp_ratelimit_t *rl, const json_t *state)
{
    sp_ratelimit_init(rl);
    const json_t *lim = json_object_get(state, "rate_limits");
    for (int i = 0; i < SP_RL_COUNT; i++) rl->until[i] = num(json_object_get(lim, cat_names[i]));
    const json_t *bo = json_object_get(state, "backoff");
    rl->backoff_until = num(json_object_get(bo, "until"));
    double a = num(json_object_get(bo, "attempts"));
    rl->backoff_attempts = a > 1000 ? 1000 : (unsigned)a;
}

int sp_ratelimit_store(const sp_ratelimit_t *rl, json_t *state, double now)
{
    json_t *lim = json_object();
    if (!lim) return -ENOMEM;
    for (int i = 0; i < SP_RL_COUNT; i++) {
        if (rl->until[i] <= now) continue;
        if (json_object_set_new(lim, cat_names[i], json_real(rl->until[i])) < 0) goto nomem;
    }
    if (json_object_size(lim) == 0) {
        json_decref(lim);
        json_object_del(state, "rate_limits");
    } else if (json_object_set_new(state, "rate_limits", lim) < 0) {
        return -ENOMEM;
    }
    if (rl->backoff_attempts == 0 && rl->backoff_until <= now) {
        json_object_del(state, "backoff");
        return 0;
    }
    json_t *bo = json_pack("{s:f, s:i}", "until", rl->backoff_until, "attempts",
                           (int)rl->backoff_attempts);
    if (!bo || json_object_set_new(state, "backoff", bo) < 0) return -ENOMEM;
    return 0;
nomem:
    json_decref(lim);
    return -ENOMEM;
}
