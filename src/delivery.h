/* delivery: the upload policy of `sentryprof upload`: which spool file goes next, what
 * Sentry's answer means for it and for every other uploader sharing the spool.
 *
 * One pass (sp_delivery_pass, delivery_pass.h) claims ready/ files oldest first and for each one: sends a
 * batch of envelopes (spool_run.h) envelope by envelope from memory, its progress kept on
 * the batch file, and turns what must wait into single files in ready/ tried by name;
 * drops (counted as discards "send_error", one warning line) what Sentry could never take
 * (torn, foreign, too large, or a permanent 4xx); holds back (releases to ready/, noting
 * when it may go) what a rate limit of one of its categories or the shared backoff covers;
 * sends the rest, each with the pending discards as a client report. Upkeep
 * (sp_delivery_upkeep) adopts what dead processes left and evicts the oldest files above
 * the spool cap (discards "cache_overflow"). Rate limits and backoff live per DSN in
 * state.json (spool_state.h), so a limit learned by one uploader holds for all of them.
 *
 * The I/O toward Sentry and the user goes through callbacks (sp_delivery_io_t), so the
 * policy runs in unit tests against a scripted Sentry. Linked into the CLI and the tests
 * only (libspnet). Single-threaded per sp_delivery_t; never in the profiled process.
 */
#ifndef SP_DELIVERY_H
#define SP_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>

#include "delivery_state.h"
#include "dsn.h"
#include "spool.h"
#include "spool_queue.h"
#include "transport.h"

#define SP_DELIVERY_MAX_FILE       SP_SPOOL_QUEUE_MAX_FILE  /* larger files are dropped */
#define SP_DELIVERY_MAX_BATCH      SP_SPOOL_QUEUE_MAX_BATCH /* (spool_queue.h: the cap evicts them first) */
#define SP_DELIVERY_MIN_REQUEST_MS 200L          /* less time left: do not start a request */
/* A request once started waits this long past the deadline for its answer: cut at the
 * deadline, one Sentry had accepted was sent again (Sentry dedups events by id, not profile
 * chunks). So an upload ends at most this long after its --timeout. */
#define SP_DELIVERY_INFLIGHT_GRACE_MS 3000L

typedef struct {
    /* POSTs req (the gzip'd envelope; the plain bytes are envelope/len) within timeout_ms:
     * 0 when Sentry answered (resp->status), else a negative errno (resp->message: why). */
    int (*send)(void *ctx, const sp_transport_request_t *req, const char *envelope, size_t len,
                long timeout_ms, sp_transport_response_t *resp);
    /* One line for the user (the CLI's stderr). */
    void (*say)(void *ctx, const char *line);
    /* A failed request for the profiled process's uploader thread: its cause ("http-401",
     * "connect", "rate-limit" ...) and one line saying what happens to the data. May be NULL. */
    void (*status)(void *ctx, const char *cause, const char *text);
    /* After each claimed file. May be NULL. */
    void (*progress)(void *ctx, unsigned long sent, unsigned long dropped);
    void *ctx;
} sp_delivery_io_t;

typedef struct {
    /* set by sp_delivery_init; max_file/max_batch may be lowered afterwards (tests) */
    sp_spool_t *spool;
    sp_dsn_t dsn;
    char dsn_key[SP_DSN_URL_MAX + SP_DSN_KEY_MAX]; /* its entry in state.json's "dsns" */
    sp_delivery_io_t io;
    bool quiet;      /* only the lines that report errors of our own */
    double deadline; /* CLOCK_MONOTONIC seconds: no request starts later */
    size_t max_file, max_batch;
    /* results, over every pass */
    unsigned long sent, dropped, evicted, set_aside;
    bool error; /* something other than Sentry's answers went wrong */
    bool told_no_space; /* a batch could not be split for lack of space: said once */
    /* per pass */
    bool stop;                         /* end this pass: backoff started or deadline */
    double wake;                       /* unix time the earliest held file may go; 0: none */
    char last[SP_SPOOL_NAME_MAX + 16]; /* the last file a split batch sent: the walk goes on */
} sp_delivery_t;

/* Sets d up for dsn over spool (which must outlive it). */
void sp_delivery_init(sp_delivery_t *d, sp_spool_t *spool, const sp_dsn_t *dsn,
                      const sp_delivery_io_t *io, bool quiet, double deadline);
/* One line for the user (d->io.say), formatted. */
void sp_delivery_say(const sp_delivery_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Milliseconds left before d->deadline (0 when past). */
long sp_delivery_remaining_ms(const sp_delivery_t *d);

/* ready/ name of envelope i of batch `batch`: "<batch without .envelopes>~NNNN.envelope",
 * which sorts right after the batch. */
void sp_delivery_split_name(char *buf, size_t len, const char *batch, size_t i);

#endif
