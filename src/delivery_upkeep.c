/* delivery_upkeep: what `sentryprof upload` does to the spool before a pass (API in
 * delivery_upkeep.h): adopts what dead processes left, moves stray entries of ready/ aside,
 * and enforces the spool's size cap, each eviction counted as a discard for Sentry's client
 * reports and unsendable files told by name.
 *
 * Owns: nothing (the caller's sp_delivery_t; state.json through spool_state.h).
 * Threads: the CLI's one thread, never in the profiled process (libspnet).
 * Rules: every file dropped is counted and told (one line per cause); nothing rate limited is
 * evicted before an unsendable file.
 */
#ifndef _GNU_SOURCE /* configure may pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE
#endif
#include "delivery_upkeep.h"

#include <string.h>
#include <sys/stat.h>

#include "config.h" /* SP_ENV_SPOOL_MAX_BYTES, named in the lines */
#include "delivery_state.h"
#include "fsio.h"
#include "log.h"
#include "mem.h"
#include "spool_queue.h"
#include "spool_state.h"

typedef struct {
    sp_delivery_t *d;
    json_t *state; /* discards accumulated during eviction */
    int unsendable; /* of them, files too large to be ever sent */
} evict_ctx_t;

static void on_evict(const char *name, int fd, bool unsendable, void *ctx)
{
    evict_ctx_t *e = ctx;
    sp_delivery_cats_t cats;
    char *data = NULL;
    size_t len = 0;
    if (sp_fsio_read_fd(fd, e->d->max_file, &data, &len) == 0)
        sp_delivery_state_categories(data, len, &cats);
    else
        sp_delivery_state_categories(NULL, 0, &cats);
    sp_mem_free(data);
    sp_delivery_state_add_discards(e->state, SP_DELIVERY_REASON_CAP, &cats);
    if (unsendable) {
        struct stat st;
        e->unsendable++;
        if (!e->d->quiet)
            sp_delivery_say(e->d, "ready/%s: %lld bytes, more than Sentry takes; dropped first (spool over %s)",
                name, fstat(fd, &st) == 0 ? (long long)st.st_size : -1LL, SP_ENV_SPOOL_MAX_BYTES);
    }
    SP_DEBUG("upload: evicted ready/%s (spool over %s)", name, SP_ENV_SPOOL_MAX_BYTES);
}

static int upd_merge(json_t *state, void *ctx)
{
    return sp_spool_state_discards_merge(state, json_object_get(ctx, "discards"));
}

static void on_aside(const char *name, const char *what, void *ctx)
{
    sp_delivery_t *d = ctx;
    d->set_aside++;
    sp_delivery_say(d, "ready/%s: %s, not an envelope file; moved to %s/" SP_SPOOL_QUEUE_STRAY "/", name, what,
        sp_spool_dir(d->spool));
}

void sp_delivery_upkeep(sp_delivery_t *d, unsigned long long max_bytes)
{
    int n = sp_spool_queue_adopt(d->spool);
    if (n < 0) {
        sp_delivery_say(d, "cannot adopt files left in %s: %s", sp_spool_dir(d->spool), strerror(-n));
        d->error = true;
    }
    /* A stray entry would be skipped by every claim yet wait for forever: moved aside, told
     * once (it is gone from ready/ after). */
    n = sp_spool_queue_set_aside(d->spool, on_aside, d);
    if (n < 0) SP_DEBUG("upload: cannot move stray entries out of ready/: %s", strerror(-n));
    evict_ctx_t e = {d, json_object(), 0};
    if (!e.state) return;
    n = sp_spool_queue_enforce_cap(d->spool, max_bytes, on_evict, &e);
    if (n < 0) {
        sp_delivery_say(d, "cannot enforce the spool size limit: %s", strerror(-n));
        d->error = true;
    } else if (n > 0) {
        d->evicted += (unsigned long)n;
        int oldest = n - e.unsendable;
        if (!d->quiet && oldest > 0)
            sp_delivery_say(d, "spool over %llu bytes: dropped the %d oldest file%s", max_bytes, oldest,
                oldest == 1 ? "" : "s");
        int rc = sp_spool_state_update(d->spool, upd_merge, e.state);
        if (rc < 0) SP_DEBUG("upload: cannot record discards: %s", strerror(-rc));
    }
    json_decref(e.state);
}
