/* test_delivery: the upload policy (src/delivery.c) against a scripted Sentry: claim order
 * and the walk's cursor, batches split into single envelopes sent in order, files over a
 * size cap and permanent 4xx answers dropped (counted as discards, one warning line each),
 * rate-limited categories held back while others go, 429 and 5xx answers, and the client
 * report that carries the discards. Each test works in its own mkdtemp spool. */
#ifndef _GNU_SOURCE /* configure may pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "delivery.h"
#include "delivery_pass.h"
#include "delivery_upkeep.h"
#include "delivery_state.h"
#include "delivery_text.h"
#include "envelope.h"
#include "mem.h"
#include "spool_queue.h"
#include "spool_run.h"
#include "spool_state.h"
#include "unit.h"

#define PATHBUF      512
#define MAX_REQUESTS 32

static char base[256]; /* this test's scratch directory */
static char dir[280];  /* the spool in it */

/* ---- the scripted Sentry and the captured output ---- */

typedef struct {
    long status; /* 0: no response (connection refused) */
    const char *rate_limits, *retry_after;
} answer_t;

static struct {
    const answer_t *script; /* answers in order; past the end: 200 */
    size_t n_script;
    size_t n; /* requests seen */
    char *bodies[MAX_REQUESTS];
    char said[8192];   /* the lines for the user, each ending in '\n' */
    char status[4096]; /* "<cause>|" for each status line */
    long latency_ms[MAX_REQUESTS]; /* request i is taken, and answered this long after it
                                      started: a shorter timeout_ms sees no answer */
} fake;

static int fake_send(void *ctx, const sp_transport_request_t *req, const char *envelope, size_t len,
                     long timeout_ms, sp_transport_response_t *resp)
{
    (void)ctx, (void)req;
    ck_assert_int_gt(timeout_ms, 0);
    ck_assert_uint_lt(fake.n, MAX_REQUESTS);
    fake.bodies[fake.n] = strndup(envelope, len);
    answer_t a = fake.n < fake.n_script ? fake.script[fake.n] : (answer_t){200, NULL, NULL};
    fake.n++;
    memset(resp, 0, sizeof *resp);
    if (fake.latency_ms[fake.n - 1] > timeout_ms) {
        snprintf(resp->message, sizeof resp->message, "Operation timed out");
        return -ETIMEDOUT;
    }
    snprintf(resp->rate_limits, sizeof resp->rate_limits, "%s", a.rate_limits ? a.rate_limits : "");
    snprintf(resp->retry_after, sizeof resp->retry_after, "%s", a.retry_after ? a.retry_after : "");
    if (!a.status) {
        snprintf(resp->message, sizeof resp->message, "Connection refused");
        return -ECONNREFUSED;
    }
    resp->status = a.status;
    snprintf(resp->message, sizeof resp->message, "%s", a.status == 200 ? "" : "refused");
    return 0;
}

static void fake_say(void *ctx, const char *line)
{
    (void)ctx;
    size_t n = strlen(fake.said);
    snprintf(fake.said + n, sizeof fake.said - n, "%s\n", line);
}

static void fake_status(void *ctx, const char *cause, const char *text)
{
    (void)ctx, (void)text;
    size_t n = strlen(fake.status);
    snprintf(fake.status + n, sizeof fake.status - n, "%s|", cause);
}

static const sp_delivery_io_t fake_io = {.send = fake_send, .say = fake_say, .status = fake_status};

static void script(const answer_t *a, size_t n)
{
    fake.script = a;
    fake.n_script = n;
}

/* ---- fixtures ---- */

static void setup(void)
{
    memset(&fake, 0, sizeof fake);
    snprintf(base, sizeof base, "%s", sp_unit_tmpdir());
    snprintf(dir, sizeof dir, "%s/spool", base);
}

static void teardown(void)
{
    for (size_t i = 0; i < fake.n; i++) free(fake.bodies[i]);
    sp_unit_rmtree(base);
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A delivery over a fresh spool in dir, with a minute to go. */
static sp_delivery_t *start(sp_delivery_t *d)
{
    sp_spool_t *sp = NULL;
    ck_assert_int_eq(sp_spool_open(dir, &sp), 0);
    sp_dsn_t dsn;
    char why[128];
    ck_assert_int_eq(sp_dsn_parse("http://pub@127.0.0.1:9/42", &dsn, why, sizeof why), 0);
    sp_delivery_init(d, sp, &dsn, &fake_io, false, mono_now() + 60);
    return d;
}

static double real_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void finish(sp_delivery_t *d) { sp_spool_close(d->spool); }

/* An envelope with one item of the given type, told apart by its event id. */
static char *envelope(const char *id, const char *type)
{
    char *s = NULL;
    ck_assert_int_ge(
        asprintf(&s, "{\"event_id\":\"%s\"}\n{\"type\":\"%s\"}\n{\"n\":1}\n", id, type), 0);
    return s;
}

static void put_ready(const char *name, const char *data, size_t len)
{
    char p[PATHBUF];
    snprintf(p, sizeof p, "%s/ready", dir);
    mkdir(dir, 0700);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/ready/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void put_envelope(const char *name, const char *id, const char *type)
{
    char *e = envelope(id, type);
    put_ready(name, e, strlen(e));
    free(e);
}

/* A batch file holding one envelope per id (all of type type); torn: a cut record after them. */
static void put_batch(const char *name, const char *const *ids, size_t n, const char *type,
                      bool torn)
{
    char buf[4096];
    size_t o = (size_t)snprintf(buf, sizeof buf, "%s", SP_BATCH_HEADER);
    for (size_t i = 0; i < n; i++) {
        char *e = envelope(ids[i], type);
        o += sp_spool_run_record_head(buf + o, strlen(e));
        memcpy(buf + o, e, strlen(e));
        o += strlen(e);
        buf[o++] = '\n';
        free(e);
    }
    if (torn) o += (size_t)snprintf(buf + o, sizeof buf - o, "500\n{\"event_id\":");
    ck_assert_uint_lt(o, sizeof buf);
    put_ready(name, buf, o);
}

static int count_ready(void)
{
    char p[PATHBUF];
    snprintf(p, sizeof p, "%s/ready", dir);
    DIR *d = opendir(p);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static bool in_ready(const char *name)
{
    char p[PATHBUF];
    snprintf(p, sizeof p, "%s/ready/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* Request i carried the envelope with event id id. */
static void expect_sent(size_t i, const char *id)
{
    char want[64];
    snprintf(want, sizeof want, "\"event_id\":\"%s\"", id);
    ck_assert_msg(i < fake.n, "request %zu: expected one carrying %s, saw only %zu request(s)", i,
                  id, fake.n);
    ck_assert_msg(strstr(fake.bodies[i], want) != NULL, "request %zu: expected %s, saw: %.200s", i,
                  id, fake.bodies[i]);
}

/* The pending discard (reason, category) in state.json: its quantity, 0 when none. */
static json_int_t pending_discard(sp_delivery_t *d, const char *reason, const char *category)
{
    json_t *st = NULL;
    ck_assert_int_eq(sp_spool_state_read(d->spool, &st), 0);
    json_int_t q = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(st, "discards"), i, e)
    {
        if (!strcmp(json_string_value(json_object_get(e, "reason")), reason) &&
            !strcmp(json_string_value(json_object_get(e, "category")), category))
            q = json_integer_value(json_object_get(e, "quantity"));
    }
    json_decref(st);
    return q;
}

/* A state update that sets every member of ctx (a JSON object) in the state. */
static int merge_state(json_t *state, void *ctx)
{
    return json_object_update(state, ctx) == 0 ? 1 : -ENOMEM;
}

/* ---- claim order and cursor ---- */

START_TEST(claim_order_oldest_first)
{
    put_envelope("300-c.envelope", "c", "transaction");
    put_envelope("100-a.envelope", "a", "transaction");
    put_envelope("200-b.envelope", "b", "profile_chunk");
    put_ready("150-notes.txt", "x", 1); /* not ours to send */
    sp_delivery_t d;
    sp_delivery_pass(start(&d));
    ck_assert_uint_eq(fake.n, 3);
    expect_sent(0, "a");
    expect_sent(1, "b");
    expect_sent(2, "c");
    ck_assert_uint_eq(d.sent, 3);
    ck_assert_uint_eq(d.dropped, 0);
    ck_assert(!d.error);
    ck_assert_int_eq(count_ready(), 1); /* only the foreign file */
    ck_assert_str_eq(fake.said, "");
    finish(&d);
}
END_TEST

/* A file released in this pass (rate limited) is not claimed again by the same walk, and
 * the walk goes on past it. */
START_TEST(cursor_skips_released)
{
    put_envelope("100-a.envelope", "a", "transaction");
    put_envelope("200-b.envelope", "b", "profile_chunk");
    put_envelope("300-c.envelope", "c", "transaction");
    static const answer_t ans[] = {{429, "60:transaction:key", NULL}};
    script(ans, 1);
    sp_delivery_t d;
    start(&d);
    double t0 = real_now();
    sp_delivery_pass(&d);
    double t1 = real_now();
    /* a: 429 for transactions, released; b goes; c is held without a request */
    ck_assert_uint_eq(fake.n, 2);
    expect_sent(0, "a");
    expect_sent(1, "b");
    ck_assert_uint_eq(d.sent, 1);
    ck_assert(in_ready("100-a.envelope") && in_ready("300-c.envelope") &&
              !in_ready("200-b.envelope"));
    /* the limit runs 60 s from the answer (stored in whole seconds: 1 s of slack) */
    ck_assert_msg(d.wake >= t0 + 59 && d.wake <= t1 + 61,
                  "wake 60 s after the 429 ([%.1f, %.1f] s after the pass began), saw %.1f s", 59.0,
                  t1 - t0 + 61, d.wake - t0);
    ck_assert(!d.stop);
    ck_assert_ptr_nonnull(strstr(fake.status, "rate-limit|"));
    finish(&d);
}
END_TEST

/* ---- batches ---- */

START_TEST(batch_split_sent_in_order)
{
    static const char *const ids[] = {"x0", "x1", "x2"};
    put_batch("100-x.envelopes", ids, 3, "transaction", false);
    put_envelope("200-y.envelope", "y", "transaction");
    sp_delivery_t d;
    sp_delivery_pass(start(&d));
    ck_assert_uint_eq(fake.n, 4);
    expect_sent(0, "x0");
    expect_sent(1, "x1");
    expect_sent(2, "x2");
    expect_sent(3, "y");
    ck_assert_uint_eq(d.sent, 4);
    ck_assert_int_eq(count_ready(), 0);
    ck_assert_str_eq(fake.said, "");
    finish(&d);
}
END_TEST

/* Rate limited half-way: the split files not sent wait in ready/ under their names, the
 * batch itself is gone (never sent twice). */
START_TEST(batch_split_rest_waits)
{
    static const char *const ids[] = {"x0", "x1", "x2"};
    put_batch("100-x.envelopes", ids, 3, "transaction", false);
    static const answer_t ans[] = {{200, NULL, NULL}, {429, "60:transaction:key", NULL}};
    script(ans, 2);
    sp_delivery_t d;
    sp_delivery_pass(start(&d));
    ck_assert_uint_eq(fake.n, 2);
    ck_assert_uint_eq(d.sent, 1);
    char name[SP_SPOOL_NAME_MAX + 16];
    ck_assert(!in_ready("100-x.envelopes"));
    sp_delivery_split_name(name, sizeof name, "100-x.envelopes", 0);
    ck_assert_str_eq(name, "100-x~0000.envelope");
    ck_assert(!in_ready(name));
    sp_delivery_split_name(name, sizeof name, "100-x.envelopes", 1);
    ck_assert(in_ready(name));
    sp_delivery_split_name(name, sizeof name, "100-x.envelopes", 2);
    ck_assert(in_ready(name));
    finish(&d);
}
END_TEST

/* An uploader killed half-way through a batch left how many envelopes it sent on the batch
 * file: its successor sends only the rest. */
START_TEST(batch_resumes_after_a_dead_uploader)
{
    static const char *const ids[] = {"x0", "x1", "x2"};
    put_batch("100-x.envelopes", ids, 3, "transaction", false);
    char p[PATHBUF];
    snprintf(p, sizeof p, "%s/ready/100-x.envelopes", dir);
    if (setxattr(p, "user.sentryprof.sent", "2", 1, 0) < 0) {
        fprintf(stderr, "batch_resumes_after_a_dead_uploader: no user xattrs here (%s): skipped\n",
                strerror(errno));
        return;
    }
    sp_delivery_t d;
    sp_delivery_pass(start(&d));
    ck_assert_msg(fake.n == 1, "expected 1 request (x2; x0 and x1 were sent before), saw %zu",
                  (size_t)fake.n);
    expect_sent(0, "x2");
    ck_assert_uint_eq(d.sent, 1);
    ck_assert_int_eq(count_ready(), 0);
    finish(&d);
}
END_TEST

/* Sent straight from the batch, no file per envelope: a failure to retry later leaves that
 * envelope and the ones after it as files of their own, nothing sent twice. */
START_TEST(batch_retry_leaves_the_rest)
{
    static const char *const ids[] = {"x0", "x1", "x2"};
    put_batch("100-x.envelopes", ids, 3, "transaction", false);
    static const answer_t ans[] = {{200, NULL, NULL}, {503, NULL, NULL}};
    script(ans, 2);
    sp_delivery_t d;
    sp_delivery_pass(start(&d));
    ck_assert_uint_eq(fake.n, 2);
    expect_sent(0, "x0");
    expect_sent(1, "x1");
    ck_assert_uint_eq(d.sent, 1);
    ck_assert(d.stop);
    char name[SP_SPOOL_NAME_MAX + 16];
    ck_assert(!in_ready("100-x.envelopes"));
    sp_delivery_split_name(name, sizeof name, "100-x.envelopes", 0);
    ck_assert_msg(!in_ready(name), "x0 was sent: no file for it");
    sp_delivery_split_name(name, sizeof name, "100-x.envelopes", 1);
    ck_assert_msg(in_ready(name), "x1 (answered 503) waits in ready/%s", name);
    sp_delivery_split_name(name, sizeof name, "100-x.envelopes", 2);
    ck_assert_msg(in_ready(name), "x2 (not tried) waits in ready/%s", name);
    ck_assert_int_eq(count_ready(), 2);
    finish(&d);
}
END_TEST

START_TEST(batch_over_size_cap_dropped)
{
    static const char *const ids[] = {"x0", "x1", "x2"};
    put_batch("100-x.envelopes", ids, 3, "transaction", false);
    put_envelope("200-y.envelope", "y", "transaction");
    sp_delivery_t d;
    start(&d)->max_batch = 64; /* the batch is larger */
    sp_delivery_pass(&d);
    ck_assert_uint_eq(d.dropped, 1);
    ck_assert_uint_eq(d.sent, 1);
    ck_assert_ptr_nonnull(strstr(fake.said, "ready/100-x.envelopes: too large; dropped\n"));
    /* counted as one file of unknown content: one profile_chunk, reported with y */
    ck_assert_uint_eq(fake.n, 1);
    expect_sent(0, "y");
    ck_assert_ptr_nonnull(strstr(fake.bodies[0], "\"send_error\""));
    ck_assert_int_eq(pending_discard(&d, "send_error", "profile_chunk"), 0); /* delivered */
    ck_assert_int_eq(count_ready(), 0);
    finish(&d);
}
END_TEST

START_TEST(file_over_size_cap_dropped)
{
    put_envelope("100-a.envelope", "a", "transaction");
    sp_delivery_t d;
    start(&d)->max_file = 8;
    sp_delivery_pass(&d);
    ck_assert_uint_eq(d.dropped, 1);
    ck_assert_ptr_nonnull(strstr(fake.said, "ready/100-a.envelope: too large; dropped\n"));
    /* nothing else went: the discard goes in a client report of its own */
    ck_assert_uint_eq(fake.n, 1);
    ck_assert_ptr_nonnull(strstr(fake.bodies[0], "\"client_report\""));
    ck_assert_ptr_nonnull(strstr(fake.bodies[0], "\"send_error\""));
    ck_assert_int_eq(count_ready(), 0);
    finish(&d);
}
END_TEST

/* Issue #20 item 8: a FIFO (or any stray entry) in ready/ is moved aside with one line,
 * never opened, and leaves nothing "waiting": the envelope beside it goes, and the spool
 * counts as empty (an upload no longer runs to its timeout for it). */
START_TEST(stray_entry_moved_aside_once)
{
    put_envelope("100-a.envelope", "a", "transaction");
    char p[PATHBUF];
    snprintf(p, sizeof p, "%s/ready/200-b.envelope", dir);
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    sp_delivery_t d;
    start(&d);
    sp_delivery_upkeep(&d, 1ULL << 30);
    sp_delivery_pass(&d);
    expect_sent(0, "a");
    ck_assert_msg(strstr(fake.said, "ready/200-b.envelope: a FIFO, not an envelope file; moved to ") != NULL,
                  "expected one line saying the FIFO was moved aside, saw: %s", fake.said);
    unsigned long left = 99;
    ck_assert_int_eq(sp_spool_queue_stats(d.spool, &left, NULL), 0);
    ck_assert_msg(left == 0, "expected nothing left to send, saw %lu", left);
    size_t said = strlen(fake.said);
    sp_delivery_upkeep(&d, 1ULL << 30);
    ck_assert_msg(strlen(fake.said) == said, "the second upkeep said more: %s", fake.said + said);
    snprintf(p, sizeof p, "%s/stray/200-b.envelope", dir);
    struct stat st;
    ck_assert(lstat(p, &st) == 0 && S_ISFIFO(st.st_mode));
    finish(&d);
}
END_TEST

/* Issue #20 item 7, as the upload tells it: over the cap, the file too large to be ever
 * sent goes first, with a line of its own; the valid envelope older than it stays. */
START_TEST(cap_drops_unsendable_first)
{
    put_envelope("100-a.envelope", "a", "transaction");
    char p[PATHBUF];
    snprintf(p, sizeof p, "%s/ready/900-huge.envelope", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)1 << 30), 0);
    close(fd);
    sp_delivery_t d;
    start(&d);
    sp_delivery_upkeep(&d, 1000);
    ck_assert_uint_eq(d.evicted, 1);
    ck_assert(in_ready("100-a.envelope") && !in_ready("900-huge.envelope"));
    ck_assert_msg(strstr(fake.said, "ready/900-huge.envelope: 1073741824 bytes, more than Sentry takes; dropped first") != NULL &&
                      strstr(fake.said, "oldest") == NULL,
                  "expected one line about the 1 GB file and none about the oldest, saw: %s", fake.said);
    finish(&d);
}
END_TEST

/* Issue #20 item 9: near the deadline (the exit-time uploader's 2 s), a request Sentry
 * accepted but answered after the deadline was taken for a failure and the envelope sent
 * again by the next uploader. A request once started gets SP_DELIVERY_INFLIGHT_GRACE_MS
 * past the deadline for its answer: an answer 2 s late still settles it, sent once. */
START_TEST(late_answer_not_sent_twice)
{
    put_envelope("100-a.envelope", "a", "profile_chunk");
    fake.latency_ms[0] = 2000;
    sp_delivery_t d;
    start(&d)->deadline = mono_now() + 0.5; /* time to start a request, not to see its answer */
    sp_delivery_pass(&d);
    finish(&d);
    char p[PATHBUF]; /* the next uploader, once any backoff of the first has ended */
    snprintf(p, sizeof p, "%s/state.json", dir);
    unlink(p);
    sp_delivery_t d2;
    start(&d2);
    sp_delivery_pass(&d2);
    finish(&d2);
    size_t times = 0;
    for (size_t i = 0; i < fake.n; i++) times += strstr(fake.bodies[i], "\"event_id\":\"a\"") != NULL;
    ck_assert_msg(times == 1 && count_ready() == 0,
                  "envelope accepted by Sentry with its answer 2 s later, 0.5 s before the deadline: "
                  "expected it sent once and gone from ready/, saw it sent %zu times, %d file(s) left",
                  times, count_ready());
}
END_TEST

START_TEST(batch_torn_tail_warned)
{
    static const char *const ids[] = {"x0", "x1"};
    put_batch("100-x.envelopes", ids, 2, "transaction", true);
    sp_delivery_t d;
    sp_delivery_pass(start(&d));
    ck_assert_uint_eq(d.sent, 2);
    ck_assert_ptr_nonnull(strstr(fake.said, "ready/100-x.envelopes: "));
    ck_assert_ptr_nonnull(strstr(fake.said, " bytes after envelope 2 are incomplete; ignored\n"));
    finish(&d);
}
END_TEST

/* ---- Sentry's answers ---- */

START_TEST(permanent_4xx_discarded)
{
    put_envelope("100-a.envelope", "a", "transaction");
    put_envelope("200-b.envelope", "b", "transaction");
    static const answer_t ans[] = {{400, NULL, NULL}, {401, NULL, NULL}};
    script(ans, 2);
    sp_delivery_t d;
    sp_delivery_pass(start(&d));
    ck_assert_uint_eq(d.dropped, 2);
    ck_assert_uint_eq(d.sent, 0);
    ck_assert_int_eq(count_ready(), 0); /* dropped: Sentry will never take them */
    ck_assert_ptr_nonnull(strstr(
        fake.said, "ready/100-a.envelope: Sentry refused it (HTTP 400: refused); dropped\n"));
    ck_assert_ptr_nonnull(strstr(
        fake.said, "ready/200-b.envelope: Sentry refused it (HTTP 401: refused); dropped\n"));
    ck_assert_str_eq(fake.status, "http-4xx|http-401|");
    /* b carried a's discard (refused: put back); then the report went on its own */
    ck_assert_uint_eq(fake.n, 3);
    ck_assert_ptr_nonnull(strstr(fake.bodies[1], "\"send_error\""));
    ck_assert_ptr_nonnull(strstr(fake.bodies[2], "\"client_report\""));
    ck_assert_ptr_nonnull(strstr(fake.bodies[2], "\"quantity\":2"));
    ck_assert_int_eq(pending_discard(&d, "send_error", "transaction"), 0);
    finish(&d);
}
END_TEST

/* Discards stay pending when the report cannot go (network down). */
START_TEST(discards_kept_when_unsent)
{
    put_envelope("100-a.envelope", "a", "transaction");
    static const answer_t ans[] = {{404, NULL, NULL}, {0, NULL, NULL}};
    script(ans, 2);
    sp_delivery_t d;
    sp_delivery_pass(start(&d));
    ck_assert_uint_eq(d.dropped, 1);
    ck_assert_uint_eq(fake.n, 2);
    ck_assert_int_eq(pending_discard(&d, "send_error", "transaction"), 1);
    ck_assert_str_eq(fake.status, "http-404|connect|");
    finish(&d);
}
END_TEST

START_TEST(rate_limited_category_held)
{
    put_envelope("100-a.envelope", "a", "transaction");
    put_envelope("200-b.envelope", "b", "profile_chunk");
    sp_delivery_t d;
    start(&d);
    /* another uploader learned a transaction limit: it holds for us too */
    double now = (double)time(NULL);
    sp_ratelimit_t rl;
    sp_ratelimit_init(&rl);
    rl.until[SP_RL_TRANSACTION] = now + 100;
    json_t *st = json_object(), *dsns = json_object(), *ds = json_object();
    ck_assert_int_eq(sp_ratelimit_store(&rl, ds, now), 0);
    json_object_set_new(dsns, d.dsn_key, ds);
    json_object_set_new(st, SP_DELIVERY_STATE_DSNS, dsns);
    ck_assert_int_eq(sp_spool_state_update(d.spool, merge_state, st), 0);
    json_decref(st);

    sp_delivery_pass(&d);
    ck_assert_uint_eq(fake.n, 1);
    expect_sent(0, "b");
    ck_assert(in_ready("100-a.envelope")); /* kept, never dropped */
    ck_assert_uint_eq(d.dropped, 0);
    ck_assert_msg(d.wake > now + 90 && d.wake < now + 110, "wake in ~100 s, saw %+.1f s",
                  d.wake - now);
    ck_assert_str_eq(fake.said, "");
    finish(&d);
}
END_TEST

/* What Sentry told the app's own SDK (`--sdk-response`, relayed by the library) holds our
 * files of that category back; a malformed value is refused; the SDK's answers never start
 * a backoff of ours. */
START_TEST(sdk_response_holds_category)
{
    put_envelope("100-a.envelope", "a", "transaction");
    put_envelope("200-b.envelope", "b", "profile_chunk");
    sp_delivery_t d;
    start(&d);
    double now = (double)time(NULL);
    char bad1[] = "x\t200\t\t60:profile_chunk:key", bad2[] = "1000\t200\t60:profile_chunk",
         bad3[] = "1000\t99\t\t";
    sp_delivery_sdk_response_t r = {.dsn_key = d.dsn_key, .now = now};
    ck_assert_int_eq(sp_delivery_sdk_response_parse(bad1, &r), -EINVAL);
    ck_assert_int_eq(sp_delivery_sdk_response_parse(bad2, &r), -EINVAL);
    ck_assert_int_eq(sp_delivery_sdk_response_parse(bad3, &r), -EINVAL);
    /* the SDK heard it 10 s ago: 60 s from then */
    char ok[128];
    snprintf(ok, sizeof ok, "%.3f\t200\t\t60:profile_chunk:key", now - 10);
    ck_assert_int_eq(sp_delivery_sdk_response_parse(ok, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.rate_limits, "60:profile_chunk:key");
    ck_assert_int_eq(sp_spool_state_update(d.spool, sp_delivery_state_sdk_response, &r), 0);
    /* the same answer again changes nothing (no write) */
    json_t *st = json_object();
    ck_assert_int_eq(sp_delivery_state_sdk_response(st, &r), 1);
    ck_assert_int_eq(sp_delivery_state_sdk_response(st, &r), 0);
    json_decref(st);

    sp_delivery_pass(&d);
    ck_assert_uint_eq(fake.n, 1); /* the transaction went, the chunk waits */
    expect_sent(0, "a");
    ck_assert(in_ready("200-b.envelope"));
    ck_assert_msg(d.wake > now + 45 && d.wake < now + 55, "wake ~50 s from now, saw %+.1f s",
                  d.wake - now);
    sp_ratelimit_t rl;
    json_t *state = NULL;
    ck_assert_int_eq(sp_spool_state_read(d.spool, &state), 0);
    sp_delivery_state_limits(state, d.dsn_key, &rl);
    json_decref(state);
    ck_assert_msg(rl.backoff_until == 0, "no backoff from the SDK's answer, saw until %.0f", rl.backoff_until);

    /* a 429 without headers: everything, Retry-After from when the SDK got it */
    char all[128];
    snprintf(all, sizeof all, "%.3f\t429\t30\t", now);
    ck_assert_int_eq(sp_delivery_sdk_response_parse(all, &r), 0);
    st = json_object();
    ck_assert_int_eq(sp_delivery_state_sdk_response(st, &r), 1);
    sp_delivery_state_limits(st, d.dsn_key, &rl);
    json_decref(st);
    ck_assert_msg(sp_ratelimit_until(&rl, -1, now) >= now + 29 && sp_ratelimit_until(&rl, -1, now) <= now + 31,
                  "all held ~30 s, saw %+.1f s", sp_ratelimit_until(&rl, -1, now) - now);
    finish(&d);
}
END_TEST

START_TEST(retry_backs_off_and_stops)
{
    put_envelope("100-a.envelope", "a", "transaction");
    put_envelope("200-b.envelope", "b", "transaction");
    static const answer_t ans[] = {{503, NULL, NULL}};
    script(ans, 1);
    sp_delivery_t d;
    start(&d);
    double t0 = real_now();
    sp_delivery_pass(&d);
    double t1 = real_now();
    ck_assert_uint_eq(fake.n, 1);
    ck_assert(d.stop);
    ck_assert_int_eq(count_ready(), 2);
    ck_assert_ptr_nonnull(
        strstr(fake.said, "ready/100-a.envelope: HTTP 503 from Sentry; will retry\n"));
    ck_assert_str_eq(fake.status, "http-retry|");
    /* first failure: half to all of the base delay after the answer (bounds from the clock
     * around the pass, so a slow machine cannot break them) */
    ck_assert_msg(d.wake >= t0 + SP_BACKOFF_BASE_SECONDS / 2 &&
                      d.wake <= t1 + SP_BACKOFF_BASE_SECONDS,
                  "backoff wake in [%.2f, %.2f] s after the pass began, saw %.2f s",
                  SP_BACKOFF_BASE_SECONDS / 2, t1 - t0 + SP_BACKOFF_BASE_SECONDS, d.wake - t0);
    json_t *st = NULL;
    sp_ratelimit_t rl;
    ck_assert_int_eq(sp_spool_state_read(d.spool, &st), 0);
    sp_delivery_state_limits(st, d.dsn_key, &rl);
    json_decref(st);
    ck_assert_uint_eq(rl.backoff_attempts, 1); /* shared through state.json */
    finish(&d);
}
END_TEST

/* A backoff another uploader started holds this one: no request, the pass stops. */
START_TEST(shared_backoff_holds_pass)
{
    put_envelope("100-a.envelope", "a", "transaction");
    sp_delivery_t d;
    start(&d);
    double now = real_now();
    sp_ratelimit_t rl;
    sp_ratelimit_init(&rl);
    rl.backoff_until = now + 100;
    rl.backoff_attempts = 3;
    json_t *st = json_object(), *dsns = json_object(), *ds = json_object();
    ck_assert_int_eq(sp_ratelimit_store(&rl, ds, now), 0);
    json_object_set_new(dsns, d.dsn_key, ds);
    json_object_set_new(st, SP_DELIVERY_STATE_DSNS, dsns);
    ck_assert_int_eq(sp_spool_state_update(d.spool, merge_state, st), 0);
    json_decref(st);

    sp_delivery_pass(&d);
    ck_assert_uint_eq(fake.n, 0);
    ck_assert(d.stop);
    ck_assert(in_ready("100-a.envelope"));
    ck_assert_msg(d.wake > now + 99 && d.wake < now + 101, "wake in 100 s, saw %+.1f s",
                  d.wake - now);
    finish(&d);
}
END_TEST

/* ---- pure parts ---- */

START_TEST(held_until_and_categories)
{
    sp_delivery_cats_t c;
    char *e = envelope("a", "transaction");
    sp_delivery_state_categories(e, strlen(e), &c);
    free(e);
    ck_assert_int_eq(c.n[SP_RL_TRANSACTION], 1);
    ck_assert_int_eq(c.n[SP_RL_PROFILE_CHUNK], 0);
    sp_delivery_state_categories("garbage", 7, &c); /* unreadable: one profile_chunk */
    ck_assert_int_eq(c.n[SP_RL_PROFILE_CHUNK], 1);

    sp_ratelimit_t rl;
    sp_ratelimit_init(&rl);
    rl.until[SP_RL_PROFILE] = 1000;
    sp_delivery_cats_t tx = {{0}};
    tx.n[SP_RL_TRANSACTION] = 1;
    ck_assert(sp_delivery_state_held_until(&rl, &tx, 500) == 0);
    rl.until[SP_RL_ALL] = 800;
    ck_assert(sp_delivery_state_held_until(&rl, &tx, 500) == 800);
    rl.until[SP_RL_TRANSACTION] = 900;
    ck_assert(sp_delivery_state_held_until(&rl, &tx, 500) == 900);
    ck_assert(sp_delivery_state_held_until(&rl, &tx, 950) == 0);

    sp_dsn_t dsn;
    char why[64], key[SP_DSN_URL_MAX + SP_DSN_KEY_MAX];
    ck_assert_int_eq(sp_dsn_parse("https://k@o1.example.com:8443/a/7", &dsn, why, sizeof why), 0);
    sp_delivery_state_dsn_key(&dsn, key, sizeof key);
    ck_assert_str_eq(key, "https://k@o1.example.com:8443/a/7");
}
END_TEST

/* What one answer changes in state.json, without a spool: limits per DSN, the default hold
 * of a 429 that names none of the envelope's categories, backoff, discards of a refusal,
 * and no write at all for a plain 200. */
START_TEST(answer_updates_state)
{
    json_t *st = json_pack("{s:i}", "version", 1);
    sp_delivery_cats_t tx = {{0}};
    tx.n[SP_RL_TRANSACTION] = 2;
    sp_transport_response_t resp = {.status = 429};
    snprintf(resp.rate_limits, sizeof resp.rate_limits, "30:metric_bucket:key");
    sp_delivery_answer_t a = {.dsn_key = "k1",
                              .resp = &resp,
                              .outcome = SP_SEND_RATE_LIMITED,
                              .cats = &tx,
                              .now = 1000,
                              .jitter = 0.5};
    ck_assert_int_eq(sp_delivery_state_answer(st, &a), 1);
    ck_assert_msg(a.rl.until[SP_RL_TRANSACTION] == 1000 + SP_RATELIMIT_DEFAULT_SECONDS,
                  "transactions held until %.0f, saw %.0f", 1000 + SP_RATELIMIT_DEFAULT_SECONDS,
                  a.rl.until[SP_RL_TRANSACTION]);
    sp_ratelimit_t rl;
    sp_delivery_state_limits(st, "k1", &rl);
    ck_assert(sp_delivery_state_held_until(&rl, &tx, 1001) == 1000 + SP_RATELIMIT_DEFAULT_SECONDS);
    sp_delivery_state_limits(st, "k2", &rl); /* another DSN: not held */
    ck_assert(sp_delivery_state_held_until(&rl, &tx, 1001) == 0);

    resp = (sp_transport_response_t){.status = 503};
    a = (sp_delivery_answer_t){.dsn_key = "k1",
                               .resp = &resp,
                               .outcome = SP_SEND_RETRY,
                               .cats = &tx,
                               .now = 1001,
                               .jitter = 0.5};
    ck_assert_int_eq(sp_delivery_state_answer(st, &a), 1);
    ck_assert_uint_eq(a.rl.backoff_attempts, 1);
    ck_assert(a.rl.backoff_until > 1001);

    resp = (sp_transport_response_t){.status = 400};
    a = (sp_delivery_answer_t){.dsn_key = "k1",
                               .resp = &resp,
                               .outcome = SP_SEND_DROP,
                               .cats = &tx,
                               .now = 1002,
                               .jitter = 0.5};
    ck_assert_int_eq(sp_delivery_state_answer(st, &a), 1);
    json_t *d0 = json_array_get(json_object_get(st, "discards"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(d0, "reason")), "send_error");
    ck_assert_str_eq(json_string_value(json_object_get(d0, "category")), "transaction");
    ck_assert_int_eq(json_integer_value(json_object_get(d0, "quantity")), 2);

    resp = (sp_transport_response_t){.status = 200};
    a = (sp_delivery_answer_t){.dsn_key = "k1",
                               .resp = &resp,
                               .outcome = SP_SEND_OK,
                               .cats = &tx,
                               .now = 1003,
                               .jitter = 0.5};
    ck_assert_int_eq(sp_delivery_state_answer(st, &a), 1); /* the backoff ends */
    ck_assert_uint_eq(a.rl.backoff_attempts, 0);
    ck_assert_int_eq(sp_delivery_state_answer(st, &a), 0); /* nothing left to change */
    json_decref(st);
}
END_TEST

/* The status lines the profiled process's uploader thread prints once per cause. */
START_TEST(failure_text)
{
    sp_dsn_t dsn;
    char why[64];
    ck_assert_int_eq(sp_dsn_parse("https://k@o1.example.com:8443/7", &dsn, why, sizeof why), 0);
    sp_delivery_cats_t tx = {{0}};
    tx.n[SP_RL_TRANSACTION] = 1;
    sp_ratelimit_t rl;
    sp_ratelimit_init(&rl);
    sp_delivery_text_t t;
    sp_transport_response_t resp = {.status = 200};
    ck_assert_int_eq(sp_delivery_text_failure(&dsn, "/s", 0, &resp, SP_SEND_OK, &tx, &rl, 0, &t),
                     0);

    resp = (sp_transport_response_t){.status = 401};
    snprintf(resp.message, sizeof resp.message, "bad key \n");
    ck_assert_int_eq(sp_delivery_text_failure(&dsn, "/s", 0, &resp, SP_SEND_DROP, &tx, &rl, 0, &t),
                     1);
    ck_assert_str_eq(t.cause, "http-401");
    ck_assert_str_eq(t.text,
                     "Sentry at o1.example.com:8443 refused the upload: HTTP 401 (bad key): "
                     "the public key in SENTRY_DSN is wrong or disabled; refused profiles "
                     "are dropped");

    resp = (sp_transport_response_t){.status = 0};
    snprintf(resp.message, sizeof resp.message, "Connection refused");
    ck_assert_int_eq(
        sp_delivery_text_failure(&dsn, "/s", -ECONNREFUSED, &resp, SP_SEND_RETRY, &tx, &rl, 0, &t),
        1);
    ck_assert_str_eq(t.cause, "connect");
    ck_assert_str_eq(t.text, "cannot reach Sentry at o1.example.com:8443 (Connection refused); "
                             "profiles are kept in /s and sent when it answers");

    rl.until[SP_RL_TRANSACTION] = 86400 + 3600; /* 1970-01-02 01:00:00 UTC */
    resp = (sp_transport_response_t){.status = 429};
    ck_assert_int_eq(
        sp_delivery_text_failure(&dsn, "/s", 0, &resp, SP_SEND_RATE_LIMITED, &tx, &rl, 86400, &t),
        1);
    ck_assert_str_eq(t.cause, "rate-limit");
    ck_assert_str_eq(t.text, "Sentry at o1.example.com:8443 rate-limits transaction until "
                             "1970-01-02 01:00:00 UTC; profiles are kept in /s and sent then");
}
END_TEST

SP_UNIT_SUITE(delivery)
{
    json_set_alloc_funcs(sp_mem_alloc, sp_mem_free); /* as the CLI does */
    Suite *s = suite_create("delivery");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, claim_order_oldest_first);
    tcase_add_test(tc, cursor_skips_released);
    tcase_add_test(tc, batch_split_sent_in_order);
    tcase_add_test(tc, batch_split_rest_waits);
    tcase_add_test(tc, batch_resumes_after_a_dead_uploader);
    tcase_add_test(tc, batch_retry_leaves_the_rest);
    tcase_add_test(tc, batch_over_size_cap_dropped);
    tcase_add_test(tc, file_over_size_cap_dropped);
    tcase_add_test(tc, stray_entry_moved_aside_once);
    tcase_add_test(tc, cap_drops_unsendable_first);
    tcase_add_test(tc, late_answer_not_sent_twice);
    tcase_add_test(tc, batch_torn_tail_warned);
    tcase_add_test(tc, permanent_4xx_discarded);
    tcase_add_test(tc, discards_kept_when_unsent);
    tcase_add_test(tc, rate_limited_category_held);
    tcase_add_test(tc, sdk_response_holds_category);
    tcase_add_test(tc, retry_backs_off_and_stops);
    tcase_add_test(tc, shared_backoff_holds_pass);
    tcase_add_test(tc, held_until_and_categories);
    tcase_add_test(tc, answer_updates_state);
    tcase_add_test(tc, failure_text);
    suite_add_tcase(s, tc);
    return s;
}
