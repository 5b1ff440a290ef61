/* upload: the "sentryprof upload" command, the only place envelopes leave the machine.
 * The preload library never does network I/O inside node (docs/HAZARDS.md section 1): its
 * uploader thread spawns `sentryprof upload --once --quiet --timeout N` and reaps it; a
 * user can run the same command by hand.
 *
 * One pass: parse the DSN (bad: one line, exit 3, nothing touched); adopt what dead
 * processes left (sp_spool_queue_adopt); evict the oldest files above SENTRYPROF_SPOOL_MAX_BYTES
 * (discards "cache_overflow"); then claim ready/ files oldest first and send each (a batch
 * of envelopes, spool_run.h, is first split into single files in ready/), unless
 * Sentry rate-limits one of its categories or the shared backoff is active (the file goes
 * back to ready/ and waits: we keep rate-limited data, docs/SENTRY-FORMAT.md). Pending discards
 * ride along as a client_report item on the next envelope sent, or in their own at the end.
 * Without --once, passes repeat until ready/ is empty or the deadline, sleeping until the
 * earliest limit ends. Every process shares state.json (limits, backoff, discards), so a
 * limit learned by one uploader holds for all of them.
 *
 * Exit status: 0 nothing left in ready/; 4 some left (rate limit, backoff, deadline);
 * 3 bad or missing DSN; 2 usage; 1 any other error.
 * Single-threaded; the CLI process only. Memory through sp_mem (jansson's via main,
 * libcurl's via sp_transport_global_init, zlib's via transport.c).
 * Environment (through config's loader, sp_cli_config): SENTRY_DSN, SENTRYPROF_SPOOL_DIR
 * and TMPDIR (default spool), SENTRYPROF_SPOOL_MAX_BYTES, SENTRYPROF_DEBUG (one debug line
 * per request); libcurl reads its own proxy variables.
 */
#ifndef _GNU_SOURCE /* configure may pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE
#endif
#include "cli.h"

#include "config.h"
#include "dsn.h"
#include "fsio.h"
#include "log.h"
#include "mem.h"
#include "ratelimit.h"
#include "spool.h"
#include "spool_queue.h"
#include "spool_run.h"
#include "spool_state.h"
#include "transport.h"
#include "uploader.h" /* SP_UPLOAD_EXIT_*: the exit codes the library acts on */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define SP_UPLOAD_PROGRESS_FILES 50 /* ready files from which a terminal gets a progress line */

#define SP_UPLOAD_DEFAULT_TIMEOUT 30.0            /* --timeout default, seconds */
#define SP_UPLOAD_MAX_TIMEOUT 86400.0
#define SP_UPLOAD_MIN_REQUEST_MS 200L             /* less time left: do not start a request */
#define SP_UPLOAD_IDLE_WAIT 1.0                   /* seconds between passes that made no progress */
#define SP_UPLOAD_MAX_FILE (64UL << 20)           /* larger files are dropped (Relay refuses them) */
#define SP_UPLOAD_MAX_BATCH (128UL << 20)         /* a batch is sealed at a few MiB (agent.c) */
#define SP_UPLOAD_UNKNOWN_CATEGORY "profile_chunk" /* what an unreadable spool file most likely held */
#define SP_UPLOAD_REASON_SEND "send_error"
#define SP_UPLOAD_REASON_CAP "cache_overflow"

/* The exit codes the library's uploader thread acts on (uploader.h). */
enum {
    UP_EXIT_OK = SP_UPLOAD_EXIT_OK,
    UP_EXIT_ERROR = SP_UPLOAD_EXIT_ERROR,
    UP_EXIT_BAD_DSN = SP_UPLOAD_EXIT_BAD_DSN,
    UP_EXIT_DEFERRED = SP_UPLOAD_EXIT_DEFERRED
};

typedef struct {
    sp_dsn_t dsn;
    char dsn_key[SP_DSN_URL_MAX + SP_DSN_KEY_MAX]; /* its entry in state.json's "dsns" */
    sp_spool_t *spool;
    sp_transport_t *tp;
    bool once, quiet;
    int status_fd;          /* --status-fd: one "<cause>\t<line>" per failed request, or -1 */
    double deadline;        /* CLOCK_MONOTONIC seconds */
    unsigned long sent, dropped, evicted;
    bool error;             /* something other than Sentry's answers went wrong */
    bool stop;              /* end this pass: backoff started or deadline */
    double wake;            /* unix time the earliest deferred file may go; 0: none */
    char last[SP_SPOOL_NAME_MAX + 16]; /* the last file a split batch sent (pass() walks on after it) */
} up_t;

/* ---- small helpers ---- */

static double now_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long remaining_ms(const up_t *up)
{
    double r = (up->deadline - now_mono()) * 1000.0;
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

static void note_wake(up_t *up, double until)
{
    if (until > 0 && (up->wake == 0 || until < up->wake)) up->wake = until;
}

/* For the profiled process's uploader thread (--status-fd): one line per failed request,
 * "<cause>\t<what happened and what happens to the data>", which it prints once per cause.
 * Tabs and control bytes in the text become spaces (the line format has no escapes). */
static void status_line(const up_t *up, const char *cause, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void status_line(const up_t *up, const char *cause, const char *fmt, ...)
{
    if (up->status_fd < 0) return;
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s\t", cause);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof buf - 2) len = sizeof buf - 2;
    for (size_t i = (size_t)n; i < len; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) buf[i] = ' ';
    buf[len++] = '\n';
    ssize_t w = write(up->status_fd, buf, len); /* EPIPE: the reader is gone (SIGPIPE ignored) */
    (void)w;
}

static void sleep_until_mono(double t)
{
    double d = t - now_mono();
    if (d <= 0) return;
    struct timespec ts = {(time_t)d, (long)((d - floor(d)) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* SENTRYPROF_SPOOL_MAX_BYTES, as config parsed it (a bad value warned, the default used). */
static unsigned long long spool_max_bytes(void) { return sp_cli_config()->spool_max_bytes; }

/* Items per data category (index SP_RL_*; [SP_RL_ALL] counts items of other types). */
typedef struct {
    json_int_t n[SP_RL_COUNT];
} cats_t;

static void count_categories(const sp_envelope_parsed_t *env, cats_t *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < env->count; i++) {
        int cat = sp_ratelimit_item_category(sp_cli_item_type(env, i));
        c->n[cat > 0 ? cat : SP_RL_ALL]++;
    }
}

/* Adds one discard per item of c (items of untracked types are not reported: Sentry has no
 * category we could name for them). */
static int add_discards(json_t *state, const char *reason, const cats_t *c)
{
    int changed = 0;
    for (int cat = 1; cat < SP_RL_COUNT; cat++) {
        if (!c->n[cat]) continue;
        int r = sp_spool_state_discard_add(state, reason, sp_ratelimit_category_name(cat), c->n[cat]);
        if (r > 0) changed = 1;
    }
    return changed;
}

/* Categories of a file's bytes; an unparseable file counts as one SP_UPLOAD_UNKNOWN_CATEGORY.
 * A batch (spool_run.h) counts every envelope in it. */
static void categories_of(const char *data, size_t len, cats_t *c)
{
    sp_envelope_parsed_t env;
    sp_spool_run_reader_t r;
    if (data && sp_spool_run_reader_init(&r, data, len) == 0) {
        memset(c, 0, sizeof *c);
        const char *e;
        size_t elen;
        while (sp_spool_run_reader_next(&r, &e, &elen)) {
            cats_t one;
            categories_of(e, elen, &one);
            for (int i = 0; i < SP_RL_COUNT; i++) c->n[i] += one.n[i];
        }
        return;
    }
    if (data && len && sp_envelope_parse(data, len, &env) == 0) {
        count_categories(&env, c);
        sp_envelope_parsed_free(&env);
        return;
    }
    memset(c, 0, sizeof *c);
    c->n[sp_ratelimit_category(SP_UPLOAD_UNKNOWN_CATEGORY)] = 1;
}

/* ---- state updates (each one locked read-modify-write of state.json) ---- */

typedef struct {
    const char *reason;
    const cats_t *cats;
} discard_upd_t;

static int upd_discards(json_t *state, void *ctx)
{
    const discard_upd_t *d = ctx;
    return add_discards(state, d->reason, d->cats);
}

static void record_discards(up_t *up, const char *reason, const cats_t *c)
{
    discard_upd_t d = {reason, c};
    int rc = sp_spool_state_update(up->spool, upd_discards, &d);
    if (rc < 0) SP_DEBUG("upload: cannot record discards: %s", strerror(-rc));
}

/* Puts taken discards back (they were not delivered). */
static void put_back(up_t *up, json_t *discards)
{
    if (!discards) return;
    int rc = sp_spool_state_update(up->spool, sp_spool_state_discards_merge, discards);
    if (rc < 0) SP_DEBUG("upload: cannot keep pending discards: %s", strerror(-rc));
}

/* Rate limits and backoff are kept per DSN in state.json ("dsns": {"<scheme>://<key>@<host>
 * [:port][prefix]/<project>": {"rate_limits", "backoff"}}): what one project's Sentry said,
 * or a DSN that failed, must not hold back another DSN sharing the spool (a fixed one). */
#define SP_UPLOAD_STATE_DSNS "dsns"

static json_t *dsn_state(json_t *state, const char *key, bool create)
{
    json_t *all = json_object_get(state, SP_UPLOAD_STATE_DSNS);
    if (!json_is_object(all)) {
        if (!create || !(all = json_object()) || json_object_set_new(state, SP_UPLOAD_STATE_DSNS, all) < 0)
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
    if (json_object_size(ds) == 0) json_object_del(json_object_get(state, SP_UPLOAD_STATE_DSNS), key);
    return 0;
}

static void make_dsn_key(up_t *up)
{
    char port[16] = "";
    if (up->dsn.port) snprintf(port, sizeof port, ":%u", up->dsn.port);
    snprintf(up->dsn_key, sizeof up->dsn_key, "%s://%s@%s%s%s/%s", up->dsn.scheme, up->dsn.public_key,
             up->dsn.host, port, up->dsn.prefix, up->dsn.project_id);
}

typedef struct {
    const char *dsn_key;
    const sp_transport_response_t *resp;
    sp_send_outcome_t outcome;
    const cats_t *cats; /* the envelope's categories */
    double now;
    sp_ratelimit_t rl;  /* out: the state after the update */
} response_upd_t;

static int upd_response_apply(json_t *state, response_upd_t *u)
{
    sp_ratelimit_t *rl = &u->rl;
    sp_ratelimit_init(rl);
    sp_ratelimit_load(rl, dsn_state(state, u->dsn_key, false));
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
        sp_ratelimit_backoff_fail(rl, u->now, jitter());
    }
    if (u->outcome == SP_SEND_DROP) add_discards(state, SP_UPLOAD_REASON_SEND, u->cats);
    return dsn_state_store(state, u->dsn_key, rl, u->now) < 0 ? -ENOMEM : 1;
}

/* The state is written (an fsync'd replace) only when the answer changed it: a 200 with no
 * limits and no backoff to reset, the common case, costs no disk write. */
static int upd_response(json_t *state, void *ctx)
{
    json_t *before = json_deep_copy(state);
    int rc = upd_response_apply(state, ctx);
    if (rc > 0 && before && json_equal(before, state)) rc = 0;
    json_decref(before);
    return rc;
}

/* The shared limits now (a fresh read: other uploaders may have learned something), and
 * whether discards wait to be reported (NULL: not asked). */
static void load_limits_ex(up_t *up, sp_ratelimit_t *rl, bool *discards)
{
    json_t *st = NULL;
    sp_ratelimit_init(rl);
    if (discards) *discards = true; /* unknown: look under the lock */
    if (sp_spool_state_read(up->spool, &st) == 0) {
        sp_ratelimit_load(rl, dsn_state(st, up->dsn_key, false));
        if (discards) *discards = json_array_size(json_object_get(st, "discards")) > 0;
    }
    json_decref(st);
}

static void load_limits(up_t *up, sp_ratelimit_t *rl) { load_limits_ex(up, rl, NULL); }

/* "2026-12-05 11:40:12 UTC" */
static void utc_text(double t, char *buf, size_t len)
{
    time_t s = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&s, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(buf, len, "%.0f (unix time)", t);
}

/* What a failed request means for the data, as one status line (see status_line). */
static void report_failure(const up_t *up, int sent, const sp_transport_response_t *resp,
                           sp_send_outcome_t o, const cats_t *cats, const sp_ratelimit_t *rl)
{
    const char *dir = sp_spool_dir(up->spool);
    char host[SP_DSN_HOST_MAX + 16];
    if (up->dsn.port) snprintf(host, sizeof host, "%s:%u", up->dsn.host, up->dsn.port);
    else snprintf(host, sizeof host, "%s", up->dsn.host);
    char detail[SP_TRANSPORT_MESSAGE_MAX];
    snprintf(detail, sizeof detail, "%s", resp->message);
    for (size_t n = strlen(detail); n && (detail[n - 1] == ' ' || detail[n - 1] == '\n'); n--)
        detail[n - 1] = '\0';
    switch (o) {
    case SP_SEND_OK:
        return;
    case SP_SEND_DROP:
        if (resp->status == 401 || resp->status == 403)
            status_line(up, resp->status == 401 ? "http-401" : "http-403",
                        "Sentry at %s refused the upload: HTTP %ld (%.120s): the public key in "
                        "SENTRY_DSN is wrong or disabled; refused profiles are dropped",
                        host, resp->status, detail);
        else if (resp->status == 404)
            status_line(up, "http-404",
                        "Sentry at %s answered HTTP 404 (%.120s): no such project or path, check "
                        "SENTRY_DSN; refused profiles are dropped", host, detail);
        else if (resp->status == 413)
            status_line(up, "http-413",
                        "Sentry at %s refused a profile as too large (HTTP 413); it was dropped", host);
        else
            status_line(up, "http-4xx", "Sentry at %s refused a profile: HTTP %ld (%.120s); it was dropped",
                        host, resp->status, detail);
        return;
    case SP_SEND_RETRY:
        if (sent != 0)
            status_line(up, "connect", "cannot reach Sentry at %s (%.160s); profiles are kept in %s "
                        "and sent when it answers", host, detail, dir);
        else
            status_line(up, "http-retry", "Sentry at %s answered HTTP %ld; profiles are kept in %s "
                        "and sent again later", host, resp->status, dir);
        return;
    case SP_SEND_RATE_LIMITED: {
        double now = now_unix(), until = sp_ratelimit_until(rl, -1, now);
        const char *what = until > 0 ? "everything" : NULL;
        for (int c = 1; c < SP_RL_COUNT; c++) {
            double u = cats->n[c] ? sp_ratelimit_until(rl, c, now) : 0;
            if (u > until) until = u, what = sp_ratelimit_category_name(c);
        }
        char when[64];
        utc_text(until > 0 ? until : now + SP_RATELIMIT_DEFAULT_SECONDS, when, sizeof when);
        status_line(up, "rate-limit", "Sentry at %s rate-limits %s until %s; profiles are kept in %s "
                    "and sent then", host, what ? what : "profiles", when, dir);
        return;
    }
    }
}

/* ---- sending ---- */

/* POSTs envelope bytes and applies the answer to the shared state. The outcome; *rl gets
 * the limits after the update. */
static sp_send_outcome_t post(up_t *up, const char *what, const char *data, size_t len,
                              const cats_t *cats, sp_ratelimit_t *rl)
{
    sp_transport_request_t req;
    sp_transport_response_t resp;
    int rc = sp_transport_request_init(&req, &up->dsn, data, len);
    if (rc < 0) {
        sp_cli_err("%s: cannot build the request: %s", what, strerror(-rc));
        up->error = true;
        return SP_SEND_RETRY;
    }
    int sent = sp_transport_send(up->tp, &req, remaining_ms(up), &resp); /* 0: a response */
    sp_transport_request_free(&req);
    sp_send_outcome_t o = sp_transport_outcome(sent == 0 ? resp.status : 0);
    if (sent == 0)
        SP_DEBUG("upload: %s: %zu bytes -> HTTP %ld (%s)%s%s%s%s", what, len, resp.status,
                 sp_transport_outcome_name(o), resp.rate_limits[0] ? ", X-Sentry-Rate-Limits: " : "",
                 resp.rate_limits, resp.retry_after[0] ? ", Retry-After: " : "", resp.retry_after);
    else
        SP_DEBUG("upload: %s: %zu bytes -> no response: %s", what, len, resp.message);

    response_upd_t u = {.dsn_key = up->dsn_key, .resp = &resp, .outcome = o, .cats = cats, .now = now_unix()};
    rc = sp_spool_state_update(up->spool, upd_response, &u);
    if (rc < 0) {
        SP_DEBUG("upload: cannot update %s/state.json: %s", sp_spool_dir(up->spool), strerror(-rc));
        /* Still honour the answer in this process. */
        sp_ratelimit_init(&u.rl);
        sp_ratelimit_apply_response(&u.rl, resp.status, resp.rate_limits, resp.retry_after, u.now);
        if (o == SP_SEND_RETRY) sp_ratelimit_backoff_fail(&u.rl, u.now, jitter());
    }
    *rl = u.rl;
    report_failure(up, sent, &resp, o, cats, rl);
    if (o == SP_SEND_DROP && !up->quiet)
        sp_cli_err("%s: Sentry refused it (HTTP %ld%s%s); dropped", what, resp.status,
                   resp.message[0] ? ": " : "", resp.message);
    if (o == SP_SEND_RETRY && !up->quiet) {
        if (sent == 0)
            sp_cli_err("%s: HTTP %ld from Sentry; will retry", what, resp.status);
        else
            sp_cli_err("%s: cannot reach Sentry (%s); will retry", what, resp.message);
    }
    return o;
}

/* Pending discards to attach, unless client reports (category internal) are limited. */
static json_t *take_discards(up_t *up, const sp_ratelimit_t *rl)
{
    if (sp_ratelimit_until(rl, SP_RL_INTERNAL, now_unix()) > 0) return NULL;
    json_t *d = NULL;
    if (sp_spool_state_take_discards(up->spool, &d) < 0) return NULL;
    return d;
}

static void send_claimed(up_t *up, sp_spool_queue_claim_t *cl);

/* ready/ name of envelope i of batch `batch`: "<batch without .envelopes>~NNNN.envelope". */
static void split_name(char *buf, size_t len, const char *batch, size_t i)
{
    int base = (int)(strlen(batch) - (sizeof SP_BATCH_SUFFIX - 1));
    snprintf(buf, len, "%.*s~%04zu" SP_SPOOL_SUFFIX, base, batch, i);
}

/* A claimed batch becomes one ready/ file per envelope, named after it ("<batch>~0001.envelope":
 * sorted right after the batch), made durable together, then the batch goes and the files
 * are claimed by name and sent in order (until a stop: the rest wait in ready/). Sending
 * them one by one keeps every rule of single files (rate limits per envelope, a retry
 * resends nothing already sent). When a file cannot be written, those of this attempt are
 * deleted and the batch goes back whole. Left open: an uploader killed between writing the
 * files and deleting the batch lets the batch be split again later (the names are fixed, so
 * files not sent yet are only rewritten). The claim always ends here. */
static void explode_batch(up_t *up, sp_spool_queue_claim_t *cl)
{
    char what[SP_SPOOL_NAME_MAX + 8];
    snprintf(what, sizeof what, "ready/%s", cl->name);
    char *data = NULL;
    size_t len = 0;
    int rc = sp_spool_queue_claim_read(cl, SP_UPLOAD_MAX_BATCH, &data, &len);
    sp_spool_run_reader_t r;
    if (rc == 0 && sp_spool_run_reader_init(&r, data, len) < 0) rc = -EBADMSG;
    if (rc < 0) {
        if (!up->quiet)
            sp_cli_err("%s: %s; dropped", what, rc == -EFBIG ? "too large" : rc == -EBADMSG ? "not a batch of envelopes" : strerror(-rc));
        cats_t cats;
        categories_of(NULL, 0, &cats);
        record_discards(up, SP_UPLOAD_REASON_SEND, &cats);
        sp_spool_queue_claim_done(cl);
        up->dropped++;
        sp_mem_free(data);
        return;
    }
    size_t n = 0, cap = 0;
    const char *e;
    size_t elen;
    typedef char split_t[SP_SPOOL_NAME_MAX + 16];
    split_t *names = NULL;
    char **ptrs = NULL;
    while (sp_spool_run_reader_next(&r, &e, &elen)) {
        if (n == cap) { /* grown as we go: a batch's count is not in its header */
            size_t ncap = cap ? cap * 2 : 256;
            split_t *nn = sp_mem_realloc(names, ncap * sizeof *nn);
            if (!nn) {
                rc = -ENOMEM;
                goto undo;
            }
            names = nn;
            cap = ncap;
        }
        split_name(names[n], sizeof names[n], cl->name, n);
        /* No fsync per file (two each made the uploader disk-bound at ~40 envelopes/s):
         * all of them are synced together below, before the batch goes. */
        if ((rc = sp_spool_queue_write(up->spool, names[n], e, elen)) < 0) {
            sp_cli_err("%s: cannot write ready/%s: %s", what, names[n], strerror(-rc));
            goto undo;
        }
        n++;
    }
    if (n && (!(ptrs = sp_mem_calloc(n, sizeof *ptrs)))) {
        rc = -ENOMEM;
        goto undo;
    }
    for (size_t i = 0; i < n; i++) ptrs[i] = names[i];
    /* fsync'd together, then renamed to their names: nobody (another uploader's walk,
     * eviction) sees one before it is durable. */
    if (n && (rc = sp_spool_queue_sync(up->spool, (const char *const *)ptrs, n, true)) < 0) {
        sp_cli_err("%s: cannot write the envelopes split from it to ready/: %s", what, strerror(-rc));
        n = 0; /* it deleted them */
        goto undo;
    }
    if (r.torn && !up->quiet) /* a writer killed mid-record, or a power loss before the seal */
        sp_cli_err("%s: %zu bytes after envelope %zu are incomplete; ignored", what, len - r.off, n);
    SP_DEBUG("upload: %s: %zu envelope(s) to send", what, n);
    sp_spool_queue_claim_done(cl);
    sp_mem_free(data);
    /* Send them now, by name: claiming through a walk of ready/ would list the whole
     * directory once per envelope. */
    for (size_t i = 0; i < n && !up->stop; i++) {
        if (remaining_ms(up) < SP_UPLOAD_MIN_REQUEST_MS) {
            up->stop = true;
            break;
        }
        sp_spool_queue_claim_t c2;
        if (sp_spool_queue_claim_name(up->spool, names[i], &c2) == 0) send_claimed(up, &c2);
        snprintf(up->last, sizeof up->last, "%s", names[i]);
    }
    sp_mem_free(ptrs);
    sp_mem_free(names);
    return;
undo:
    up->error = true;
    /* The batch goes back whole: take back what this attempt wrote (still hidden), so a
     * later attempt does not send those envelopes a second time. */
    if (n && !ptrs && (ptrs = sp_mem_calloc(n, sizeof *ptrs)))
        for (size_t i = 0; i < n; i++) ptrs[i] = names[i];
    if (n && ptrs) sp_spool_queue_sync(up->spool, (const char *const *)ptrs, n, false);
    sp_spool_queue_claim_release(cl);
    sp_mem_free(ptrs);
    sp_mem_free(names);
    sp_mem_free(data);
}

/* Handles one claimed file; the claim always ends here. */
static void send_claimed(up_t *up, sp_spool_queue_claim_t *cl)
{
    if (sp_spool_run_is_batch(cl->name)) {
        explode_batch(up, cl);
        return;
    }
    char what[SP_SPOOL_NAME_MAX + 8];
    snprintf(what, sizeof what, "ready/%s", cl->name);
    char *data = NULL;
    size_t len = 0;
    cats_t cats;
    sp_envelope_parsed_t env;
    bool parsed = false;

    int rc = sp_spool_queue_claim_read(cl, SP_UPLOAD_MAX_FILE, &data, &len);
    if (rc < 0 && rc != -EFBIG) {
        sp_cli_err("%s: cannot read it: %s", what, strerror(-rc));
        up->error = true;
        sp_spool_queue_claim_release(cl);
        return;
    }
    if (rc == 0 && len > 0 && sp_envelope_parse(data, len, &env) == 0) parsed = true;
    if (!parsed) {
        /* Torn, foreign or oversized: Sentry could never take it. */
        categories_of(NULL, 0, &cats);
        if (!up->quiet)
            sp_cli_err("%s: %s; dropped", what, rc == -EFBIG ? "too large" : "not a valid envelope");
        record_discards(up, SP_UPLOAD_REASON_SEND, &cats);
        sp_spool_queue_claim_done(cl);
        up->dropped++;
        goto out;
    }
    count_categories(&env, &cats);

    sp_ratelimit_t rl;
    bool pending;
    load_limits_ex(up, &rl, &pending);
    double now = now_unix();
    if (rl.backoff_until > now) {
        note_wake(up, rl.backoff_until);
        up->stop = true;
        sp_spool_queue_claim_release(cl);
        goto out;
    }
    double until = sp_ratelimit_until(&rl, -1, now);
    for (int c = 1; c < SP_RL_COUNT; c++) {
        double u = cats.n[c] ? sp_ratelimit_until(&rl, c, now) : 0;
        if (u > until) until = u;
    }
    if (until > 0) { /* kept until the limit ends (our policy: never drop rate-limited data) */
        SP_DEBUG("upload: %s: rate limited for %.1f s more", what, until - now);
        note_wake(up, until);
        sp_spool_queue_claim_release(cl);
        goto out;
    }
    if (remaining_ms(up) < SP_UPLOAD_MIN_REQUEST_MS) {
        up->stop = true;
        sp_spool_queue_claim_release(cl);
        goto out;
    }

    /* Taking them locks and rewrites state.json: only when the snapshot showed some (one
     * added since is reported with the next envelope). */
    json_t *discards = pending ? take_discards(up, &rl) : NULL;
    char *body = NULL;
    size_t blen = 0;
    rc = sp_transport_envelope_for_send(&env, discards, now_unix(), &body, &blen);
    if (rc < 0) {
        sp_cli_err("%s: cannot prepare it: %s", what, strerror(-rc));
        up->error = true;
        put_back(up, discards);
        json_decref(discards);
        sp_spool_queue_claim_release(cl);
        goto out;
    }
    sp_send_outcome_t o = post(up, what, body, blen, &cats, &rl);
    sp_mem_free(body);
    if (o != SP_SEND_OK) put_back(up, discards);
    json_decref(discards);
    switch (o) {
    case SP_SEND_OK:
        up->sent++;
        sp_spool_queue_claim_done(cl);
        break;
    case SP_SEND_DROP:
        up->dropped++;
        sp_spool_queue_claim_done(cl);
        break;
    case SP_SEND_RATE_LIMITED:
        now = now_unix();
        until = sp_ratelimit_until(&rl, -1, now);
        for (int c = 1; c < SP_RL_COUNT; c++) {
            double u = cats.n[c] ? sp_ratelimit_until(&rl, c, now) : 0;
            if (u > until) until = u;
        }
        note_wake(up, until);
        sp_spool_queue_claim_release(cl);
        break;
    case SP_SEND_RETRY:
        note_wake(up, rl.backoff_until);
        up->stop = true;
        sp_spool_queue_claim_release(cl);
        break;
    }
out:
    if (parsed) sp_envelope_parsed_free(&env);
    sp_mem_free(data);
}

/* Sends pending discards in an envelope of their own (nothing else carried them). */
static void send_client_report(up_t *up)
{
    sp_ratelimit_t rl;
    load_limits(up, &rl);
    double now = now_unix();
    if (rl.backoff_until > now || remaining_ms(up) < SP_UPLOAD_MIN_REQUEST_MS) return;
    json_t *discards = take_discards(up, &rl);
    if (!discards) return;
    char *body = NULL;
    size_t blen = 0;
    if (sp_transport_envelope_for_send(NULL, discards, now, &body, &blen) == 0) {
        cats_t cats = {{0}};
        cats.n[SP_RL_INTERNAL] = 1;
        sp_send_outcome_t o = post(up, "client report", body, blen, &cats, &rl);
        /* A refused report is not retried (it would be refused again); others wait. */
        if (o == SP_SEND_RATE_LIMITED || o == SP_SEND_RETRY) put_back(up, discards);
        if (o == SP_SEND_RETRY) up->stop = true;
    } else {
        put_back(up, discards);
    }
    sp_mem_free(body);
    json_decref(discards);
}

static bool discards_pending(up_t *up)
{
    json_t *st = NULL;
    bool any = sp_spool_state_read(up->spool, &st) == 0 &&
               json_array_size(json_object_get(st, "discards")) > 0;
    json_decref(st);
    return any;
}

/* ---- spool upkeep ---- */

typedef struct {
    json_t *state; /* discards accumulated during eviction */
} evict_ctx_t;

static void on_evict(const char *name, int fd, void *ctx)
{
    evict_ctx_t *e = ctx;
    cats_t cats;
    char *data = NULL;
    size_t len = 0;
    if (sp_fsio_read_fd(fd, SP_UPLOAD_MAX_FILE, &data, &len) == 0) categories_of(data, len, &cats);
    else categories_of(NULL, 0, &cats);
    sp_mem_free(data);
    add_discards(e->state, SP_UPLOAD_REASON_CAP, &cats);
    SP_DEBUG("upload: evicted ready/%s (spool over %s)", name, SP_ENV_SPOOL_MAX_BYTES);
}

static int upd_merge(json_t *state, void *ctx)
{
    return sp_spool_state_discards_merge(state, json_object_get(ctx, "discards"));
}

static void upkeep(up_t *up, unsigned long long max_bytes)
{
    int n = sp_spool_queue_adopt(up->spool);
    if (n < 0) {
        sp_cli_err("cannot adopt files left in %s: %s", sp_spool_dir(up->spool), strerror(-n));
        up->error = true;
    }
    evict_ctx_t e = {json_object()};
    if (!e.state) return;
    n = sp_spool_queue_enforce_cap(up->spool, max_bytes, on_evict, &e);
    if (n < 0) {
        sp_cli_err("cannot enforce the spool size limit: %s", strerror(-n));
        up->error = true;
    } else if (n > 0) {
        up->evicted += (unsigned long)n;
        if (!up->quiet)
            sp_cli_err("spool over %llu bytes: dropped the %d oldest file%s", max_bytes, n,
                       n == 1 ? "" : "s");
        int rc = sp_spool_state_update(up->spool, upd_merge, e.state);
        if (rc < 0) SP_DEBUG("upload: cannot record discards: %s", strerror(-rc));
    }
    json_decref(e.state);
}

/* One walk over ready/, oldest first. */
static void pass(up_t *up)
{
    char after[sizeof up->last] = ""; /* a claimed name, or last: a split file past it */
    up->stop = false;
    while (!up->stop) {
        if (remaining_ms(up) < SP_UPLOAD_MIN_REQUEST_MS) {
            up->stop = true;
            break;
        }
        sp_spool_queue_claim_t cl;
        int rc = sp_spool_queue_claim(up->spool, after, &cl);
        if (rc == -ENOENT) break;
        if (rc < 0) {
            sp_cli_err("cannot claim from %s/ready: %s", sp_spool_dir(up->spool), strerror(-rc));
            up->error = true;
            break;
        }
        snprintf(after, sizeof after, "%s", cl.name);
        up->last[0] = '\0';
        send_claimed(up, &cl);
        sp_cli_progress(up->sent + up->dropped, "%lu sent, %lu dropped", up->sent, up->dropped);
        if (up->last[0]) snprintf(after, sizeof after, "%s", up->last); /* a split batch: past its files */
    }
    if (!up->stop && discards_pending(up)) send_client_report(up);
}

/* ---- the command ---- */

static bool parse_timeout(const char *s, double *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v > 0) || v > SP_UPLOAD_MAX_TIMEOUT) return false;
    *out = v;
    return true;
}

/* "--name VALUE" or "--name=VALUE"; NULL when a is not --name; *bad when VALUE is missing. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, bool *bad)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] != '\0') return NULL;
    if (*i + 1 >= argc) {
        *bad = true;
        return NULL;
    }
    return argv[++*i];
}

int sp_cli_upload(int argc, char **argv)
{
    up_t up = {0};
    up.status_fd = -1;
    const char *spool_arg = NULL, *dsn_arg = NULL;
    double timeout = SP_UPLOAD_DEFAULT_TIMEOUT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool bad = false;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            sp_cli_usage(stdout);
            return 0;
        } else if (strcmp(a, "--once") == 0) {
            up.once = true;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            up.quiet = true;
        } else if ((v = opt_value(argc, argv, &i, "--spool", &bad)) || bad) {
            if (bad || !*v) return sp_cli_bad_usage("upload: --spool needs a directory");
            spool_arg = v;
        } else if ((v = opt_value(argc, argv, &i, "--status-fd", &bad)) || bad) {
            char *end;
            long fd = bad ? -1 : strtol(v, &end, 10);
            if (bad || *end || fd < 3 || fd > 1023 || fcntl((int)fd, F_GETFD) < 0)
                return sp_cli_bad_usage("upload: --status-fd needs an open descriptor >= 3");
            up.status_fd = (int)fd;
            signal(SIGPIPE, SIG_IGN); /* the reader may stop listening before we are done */
        } else if ((v = opt_value(argc, argv, &i, "--dsn", &bad)) || bad) {
            if (bad) return sp_cli_bad_usage("upload: --dsn needs a DSN");
            dsn_arg = v;
        } else if ((v = opt_value(argc, argv, &i, "--timeout", &bad)) || bad) {
            if (bad || !parse_timeout(v, &timeout))
                return sp_cli_bad_usage("upload: --timeout takes seconds in (0, %.0f], got '%s'",
                                        SP_UPLOAD_MAX_TIMEOUT, bad ? "" : v);
        } else {
            return sp_cli_bad_usage("upload: unknown argument '%s'", a);
        }
    }
    up.deadline = now_mono() + timeout;
    if (sp_cli_config()->debug) sp_log_set_level(SP_LOG_DEBUG);

    /* The DSN first: a bad one touches nothing. */
    const char *dsn = dsn_arg ? dsn_arg : sp_cli_config()->has_dsn ? sp_cli_config()->dsn : NULL;
    char why[256];
    if (!dsn || !*dsn) {
        sp_cli_err("no DSN: set %s or pass --dsn", SP_ENV_DSN);
        return UP_EXIT_BAD_DSN;
    }
    if (sp_dsn_parse(dsn, &up.dsn, why, sizeof why) < 0) {
        sp_cli_err("invalid DSN \"%.300s\": %s", dsn, why[0] ? why : "cannot parse it");
        return UP_EXIT_BAD_DSN;
    }
    make_dsn_key(&up);

    char dir[PATH_MAX];
    if (spool_arg) snprintf(dir, sizeof dir, "%s", spool_arg);
    else if (!sp_cli_default_spool(dir, sizeof dir)) return UP_EXIT_ERROR;
    unsigned long long max_bytes = spool_max_bytes();
    if (sp_spool_open(dir, &up.spool) < 0) return UP_EXIT_ERROR; /* it printed why */
    if (sp_transport_global_init() < 0 || sp_transport_new(&up.tp) < 0) {
        sp_cli_err("cannot initialise libcurl");
        sp_spool_close(up.spool);
        return UP_EXIT_ERROR;
    }

    unsigned long left = 0;
    /* a progress line over many files, on a terminal only (cli.h) */
    if (sp_spool_queue_stats(up.spool, &left, NULL) < 0) left = 0;
    sp_cli_progress_begin("uploading:", 0, !up.quiet && up.status_fd < 0 && left >= SP_UPLOAD_PROGRESS_FILES);
    for (;;) {
        unsigned long progress = up.sent + up.dropped;
        up.wake = 0;
        upkeep(&up, max_bytes);
        pass(&up);
        if (sp_spool_queue_stats(up.spool, &left, NULL) < 0) left = 0;
        if (up.once || left == 0 || remaining_ms(&up) < SP_UPLOAD_MIN_REQUEST_MS) break;
        /* Wait for the earliest limit or backoff to end, or (no progress, nothing to wait
         * for: files published behind our walk, or claimed by another uploader) a moment. */
        double wait = up.wake > 0 ? up.wake - now_unix()
                      : up.sent + up.dropped == progress ? SP_UPLOAD_IDLE_WAIT : 0;
        if (now_mono() + wait >= up.deadline) break;
        sleep_until_mono(now_mono() + wait);
    }

    sp_cli_progress_end();
    sp_transport_free(up.tp);
    sp_transport_global_cleanup();
    sp_spool_close(up.spool);
    if (!up.quiet)
        printf("sent %lu, dropped %lu, deferred %lu\n", up.sent, up.dropped + up.evicted, left);
    if (up.error) return UP_EXIT_ERROR;
    return left ? UP_EXIT_DEFERRED : UP_EXIT_OK;
}
