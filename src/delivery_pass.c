/* delivery_pass: one walk of `sentryprof upload` over ready/ (API in delivery_pass.h):
 * claim order and cursor, and batch files: sent envelope by envelope from memory, their
 * progress kept on the batch file, what must wait split into single files tried by name.
 * Each envelope and file goes through delivery's sending steps (delivery_int.h).
 *
 * Owns: nothing beyond the claims of one call (the sp_delivery_t is the caller's).
 * Threads: the CLI's one thread; any number of uploader processes share the spool (each
 * file is claimed by one of them: spool_queue.h). Never in the profiled process (libspnet).
 */
#ifndef _GNU_SOURCE /* configure may pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE
#endif
#include "delivery_pass.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "delivery_int.h"
#include "log.h"
#include "mem.h"
#include "spool_queue.h"
#include "spool_run.h"

static void send_claimed(sp_delivery_t *d, sp_spool_queue_claim_t *cl);

typedef char split_t[SP_SPOOL_NAME_MAX + 16];

/* A full disk (or quota): the split is put off, not an error (the caller says so once). */
static bool no_space(int rc) { return rc == -ENOSPC || rc == -EDQUOT; }

/* Writes every envelope of batch r (claimed as `batch`) into ready/ under its split name,
 * hidden, then makes them durable together and publishes them. 0 with the names in *out
 * (sp_mem; *n of them, maybe 0), or a negative errno after an error line, with nothing of
 * this attempt left in ready/. */
static int split_batch(sp_delivery_t *d, const char *what, const char *batch,
                       sp_spool_run_reader_t *r, size_t first, split_t **out, size_t *count)
{
    size_t n = 0, cap = 0;
    const char *e;
    size_t elen;
    split_t *names = NULL;
    char **ptrs = NULL;
    int rc = 0;
    while (sp_spool_run_reader_next(r, &e, &elen)) {
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
        sp_delivery_split_name(names[n], sizeof names[n], batch, first + n);
        /* No fsync per file (two each made the uploader disk-bound at ~40 envelopes/s):
         * all of them are synced together below, before the batch goes. */
        if ((rc = sp_spool_queue_write(d->spool, names[n], e, elen)) < 0) {
            if (!no_space(rc)) sp_delivery_say(d, "%s: cannot write ready/%s: %s", what, names[n], strerror(-rc));
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
    if (n && (rc = sp_spool_queue_sync(d->spool, (const char *const *)ptrs, n, true)) < 0) {
        if (!no_space(rc))
            sp_delivery_say(d, "%s: cannot write the envelopes split from it to ready/: %s", what, strerror(-rc));
        goto undo; /* it deleted them, unless ready/ itself could not be opened: again below */
    }
    sp_mem_free(ptrs);
    *out = names;
    *count = n;
    return 0;
undo:
    /* Take back what this attempt wrote (still hidden), so a later attempt does not send
     * those envelopes a second time: one by one, with no allocation (out of memory here,
     * they would stay in ready/ as temporary files). */
    for (size_t i = 0; i < n; i++) {
        const char *one = names[i];
        sp_spool_queue_sync(d->spool, &one, 1, false);
    }
    sp_mem_free(ptrs);
    sp_mem_free(names);
    return rc;
}

/* Records that n envelopes of a claimed batch are done (an uploader killed half-way through
 * must not make its successor send them again); said once where it cannot be kept. */
static void sent_store(const sp_spool_queue_claim_t *cl, size_t n)
{
    static bool told; /* the CLI's one thread */
    int rc = sp_spool_queue_claim_set_progress(cl, n);
    if (rc < 0 && !told) {
        told = true;
        SP_DEBUG("upload: cannot record a batch's progress on ready/%s (%s): an uploader killed "
                 "half-way through a batch makes the next one send it from its start",
                 cl->name, strerror(-rc));
    }
}

/* A claimed batch is sent envelope by envelope straight from memory, in order; its progress
 * is kept on the batch file (sent_store) so that an uploader killed half-way does not make
 * its successor send those envelopes again. At the first envelope that must wait, that one
 * and the rest become one ready/ file each, named after the batch ("<batch>~0001.envelope":
 * sorted right after it), made durable together; then the batch goes and those files are
 * claimed by name and tried in order like any single file (rate limits per envelope, a retry
 * resends nothing already sent). One file per envelope for all of them cost a create, an
 * fsync and an unlink each: the uploader was bound by the filesystem at ~200 envelopes/s.
 * When a file cannot be written, those of this attempt are deleted and the batch goes back
 * whole (its progress with it). The claim always ends here. */
static void explode_batch(sp_delivery_t *d, sp_spool_queue_claim_t *cl)
{
    char what[SP_SPOOL_NAME_MAX + 8];
    snprintf(what, sizeof what, "ready/%s", cl->name);
    char *data = NULL;
    size_t len = 0;
    int rc = sp_spool_queue_claim_read(cl, d->max_batch, &data, &len);
    sp_spool_run_reader_t r = {0};
    if (rc == 0 && sp_spool_run_reader_init(&r, data, len) < 0) rc = -EBADMSG;
    if (rc < 0) {
        if (!d->quiet)
            sp_delivery_say(d, "%s: %s; dropped", what,
                rc == -EFBIG     ? "too large"
                : rc == -EBADMSG ? "not a batch of envelopes"
                                 : strerror(-rc));
        sp_delivery_drop_file(d, cl);
        sp_mem_free(data);
        return;
    }
    size_t done = sp_spool_queue_claim_progress(cl), i = 0;
    if (done) SP_DEBUG("upload: %s: %zu envelope(s) sent before, by an uploader that stopped", what, done);
    const char *e;
    size_t elen;
    split_t name;
    for (;;) {
        size_t at = r.off;
        if (!sp_spool_run_reader_next(&r, &e, &elen)) break;
        if (i < done) { /* sent before */
            i++;
            continue;
        }
        sp_delivery_split_name(name, sizeof name, cl->name, i);
        if (d->stop || sp_delivery_remaining_ms(d) < SP_DELIVERY_MIN_REQUEST_MS ||
            !sp_delivery_send_from_batch(d, name, e, elen)) {
            r.off = at; /* this one and the rest wait as files of their own */
            break;
        }
        sent_store(cl, ++i);
        if (d->io.progress) d->io.progress(d->io.ctx, d->sent, d->dropped);
    }
    split_t *names = NULL;
    size_t n = 0;
    if ((rc = split_batch(d, what, cl->name, &r, i, &names, &n)) < 0) {
        /* Issue #20 item 15: a batch whose rest is larger than the free space cannot be split;
         * it was an error line every pass (each second with `sentryprof upload`). It stays
         * whole with its progress and its rest is sent from it, straight from memory (no
         * space needed), once Sentry takes it: said once per upload run, not an error. */
        if (no_space(rc)) {
            if (!d->told_no_space && !d->quiet)
                sp_delivery_say(d, "%s: no space left to split it (%s); it stays whole and its envelopes from "
                       "number %zu on are sent from it once Sentry takes them",
                    what, strerror(-rc), i + 1);
            d->told_no_space = true;
        } else {
            d->error = true;
        }
        sp_spool_queue_claim_release(cl); /* the batch goes back whole */
        sp_mem_free(data);
        return;
    }
    if (r.torn && !d->quiet) /* a writer killed mid-record, or a power loss before the seal */
        sp_delivery_say(d, "%s: %zu bytes after envelope %zu are incomplete; ignored", what, len - r.off, i + n);
    SP_DEBUG("upload: %s: %zu envelope(s) sent from it, %zu left as files", what, i - done, n);
    sp_spool_queue_claim_done(cl);
    sp_mem_free(data);
    /* Try them now, by name: claiming through a walk of ready/ would list the whole
     * directory once per envelope. */
    for (size_t k = 0; k < n && !d->stop; k++) {
        if (sp_delivery_remaining_ms(d) < SP_DELIVERY_MIN_REQUEST_MS) {
            d->stop = true;
            break;
        }
        sp_spool_queue_claim_t c2;
        if (sp_spool_queue_claim_name(d->spool, names[k], &c2) == 0) send_claimed(d, &c2);
        snprintf(d->last, sizeof d->last, "%s", names[k]);
    }
    sp_mem_free(names);
}

/* Handles one claimed file; the claim always ends here. */
static void send_claimed(sp_delivery_t *d, sp_spool_queue_claim_t *cl)
{
    if (sp_spool_run_is_batch(cl->name))
        explode_batch(d, cl);
    else
        sp_delivery_send_file(d, cl);
}

void sp_delivery_pass(sp_delivery_t *d)
{
    char after[sizeof d->last] = ""; /* a claimed name, or last: a split file past it */
    d->stop = false;
    d->wake = 0;
    while (!d->stop) {
        if (sp_delivery_remaining_ms(d) < SP_DELIVERY_MIN_REQUEST_MS) {
            d->stop = true;
            break;
        }
        sp_spool_queue_claim_t cl;
        int rc = sp_spool_queue_claim(d->spool, after, &cl);
        if (rc == -ENOENT) break;
        if (rc < 0) {
            sp_delivery_say(d, "cannot claim from %s/ready: %s", sp_spool_dir(d->spool), strerror(-rc));
            d->error = true;
            break;
        }
        snprintf(after, sizeof after, "%s", cl.name);
        d->last[0] = '\0';
        send_claimed(d, &cl);
        if (d->io.progress) d->io.progress(d->io.ctx, d->sent, d->dropped);
        if (d->last[0]) /* a split batch: walk on past its files */
            snprintf(after, sizeof after, "%s", d->last);
    }
    if (!d->stop) sp_delivery_send_discards(d);
}
