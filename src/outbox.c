/* outbox: where the agent's envelopes go: our run folder in the spool (opened on first
 * use), the open batch of transaction envelopes (published after SP_BATCH_SEAL_MS or
 * SP_BATCH_SEAL_BYTES), and the spool cap (SENTRYPROF_SPOOL_MAX_BYTES) enforced as we
 * write. Agent thread only (sp_outbox_atfork_child: the fork child's one thread).
 * Environment: none (the config's spool_dir and spool_max_bytes). */
#include "outbox.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "envelope.h"
#include "fsio.h"
#include "ids.h"
#include "log.h"
#include "mem.h"
#include "spool.h"
#include "spool_queue.h"
#include "spool_run.h"
#include "spool_state.h"
#include "stats.h"
#include "uploader.h"

#define SP_BATCH_SEAL_MS 5000        /* a batch of transaction envelopes is published after this */
#define SP_BATCH_SEAL_BYTES (4u << 20) /* or once it is this large (at most 1/8 of the spool cap) */
#define SP_CAP_CHECK_MS 1000 /* the spool cap is checked at most this often while we write... */
#define SP_CAP_CHECK_SHARE 16 /* ...or once we wrote 1/16 of the cap since the last check */

static struct {
    const sp_config_t *cfg;
    pid_t pid;
    sp_spool_t *spool;
    sp_spool_run_t *run; /* our run folder: open chunks, published into ready/ when closed */
    bool spool_failed;
    char batch[128];         /* the open batch of transaction envelopes ("" when none) */
    uint64_t batch_start_ns; /* monotonic time of its first record */
    size_t batch_bytes;
    unsigned long long cap_written; /* bytes written to the spool since the last cap check */
    uint64_t cap_checked_ns;
} ob;

void sp_outbox_init(const sp_config_t *cfg, pid_t pid)
{
    ob.cfg = cfg;
    ob.pid = pid;
}

/* Opens the spool and our run folder on first use. False when it cannot be written. */
static bool spool_ready(void)
{
    if (ob.run) return true;
    if (ob.spool_failed) return false;
    if (sp_spool_open(ob.cfg->spool_dir, &ob.spool) < 0) {
        ob.spool_failed = true; /* one warning was printed; drops are counted from here */
        return false;
    }
    int rc = sp_spool_run_begin(ob.spool, &ob.run);
    if (rc < 0) {
        /* An existing directory we cannot write (mode 0500, a read-only mount). */
        SP_WARN("spool directory %s cannot be written (%s); profiles are dropped (counted as "
                "spool_errors)", ob.cfg->spool_dir, strerror(-rc));
        ob.spool_failed = true;
        return false;
    }
    return true;
}

static void count_spool_error(const char *name, int rc)
{
    sp_stats_inc(SP_STAT_SPOOL_ERRORS);
    static bool warned;
    if (!warned && rc != -EIO)
        SP_WARN("cannot write %s/%s: %s (counting drops from here on)", ob.cfg->spool_dir,
                name, strerror(-rc));
    warned = true;
}

/* Writes (or rewrites) name in our run folder. */
int sp_outbox_write(const char *name, const char *buf, size_t len)
{
    if (!spool_ready()) {
        sp_stats_inc(SP_STAT_SPOOL_ERRORS);
        return -EIO;
    }
    int rc = sp_spool_run_commit(ob.run, name, buf, len);
    if (rc < 0) count_spool_error(name, rc);
    else ob.cap_written += len;
    return rc;
}

/* Publishes the open batch of transaction envelopes. */
void sp_outbox_seal(void)
{
    if (!ob.batch[0]) return;
    int rc = ob.run ? sp_spool_run_seal(ob.run, ob.batch) : -EIO;
    if (rc == 0) sp_uploader_notify();
    else count_spool_error(ob.batch, rc);
    ob.batch[0] = '\0';
}

/* Appends one transaction envelope to the open batch (opening one when needed): a write()
 * into the page cache, safe from a killed process; the seal makes it durable. */
int sp_outbox_append(const char *buf, size_t len)
{
    if (!spool_ready()) {
        sp_stats_inc(SP_STAT_SPOOL_ERRORS);
        return -EIO;
    }
    if (!ob.batch[0]) {
        char id[33];
        sp_ids_new(id);
        snprintf(ob.batch, sizeof ob.batch, "%lld-%d-txns-%s" SP_BATCH_SUFFIX,
                 (long long)(sp_clock_real_ns() / SP_NS_PER_SEC), (int)ob.pid, id);
        ob.batch_start_ns = sp_clock_mono_ns();
        ob.batch_bytes = 0;
    }
    int rc = sp_spool_run_append(ob.run, ob.batch, buf, len);
    if (rc < 0) {
        count_spool_error(ob.batch, rc);
        sp_outbox_seal(); /* what it holds goes out; the next envelope starts a new batch */
        return rc;
    }
    ob.batch_bytes += len;
    ob.cap_written += len;
    /* Only sealed files can be evicted: with a small cap, seal early. */
    unsigned long long seal = ob.cfg->spool_max_bytes / 8;
    if (seal > SP_BATCH_SEAL_BYTES) seal = SP_BATCH_SEAL_BYTES;
    if (ob.batch_bytes >= seal) {
        sp_outbox_seal();
        sp_outbox_enforce_cap(sp_clock_mono_ns()); /* one pass may write many batches: keep the cap as we go */
    }
    return 0;
}

/* ---- the spool cap (SENTRYPROF_SPOOL_MAX_BYTES), enforced here in every mode: with no
 * DSN nothing else would (200 req/s wrote ~630 MB an hour). The oldest published files go
 * first; open files (our batch, a chunk) and files being sent are counted but kept. The
 * evicted items are recorded in state.json as discards ("cache_overflow"), which the next
 * upload reports to Sentry. One warning line per process; every file counted in stats. */

/* Sentry's data category of an item type we write, or NULL. */
static const char *item_category(const char *type)
{
    static const char *const known[] = {"transaction", "profile", "profile_chunk"};
    for (size_t i = 0; type && i < sizeof known / sizeof *known; i++)
        if (strcmp(type, known[i]) == 0) return known[i];
    return NULL;
}

static void count_items(json_t *state, const char *data, size_t len)
{
    sp_envelope_parsed_t env;
    if (sp_envelope_parse(data, len, &env) != 0) return;
    for (size_t i = 0; i < env.count; i++) {
        const char *cat = item_category(json_string_value(json_object_get(env.items[i].header, "type")));
        if (cat) sp_spool_state_discard_add(state, "cache_overflow", cat, 1);
    }
    sp_envelope_parsed_free(&env);
}

static void on_evict(const char *name, int fd, bool unsendable, void *ctx)
{
    json_t *state = ctx;
    char *data = NULL;
    size_t len = 0;
    if (sp_fsio_read_fd(fd, 64u << 20, &data, &len) == 0) {
        sp_spool_run_reader_t r;
        if (sp_spool_run_reader_init(&r, data, len) == 0) {
            const char *e;
            size_t elen;
            while (sp_spool_run_reader_next(&r, &e, &elen)) count_items(state, e, elen);
        } else {
            count_items(state, data, len);
        }
    }
    sp_mem_free(data);
    sp_stats_inc(SP_STAT_SPOOL_EVICTED);
    static bool warned_big;
    if (unsendable && !warned_big) /* not one of ours: tell whoever put it there */
        SP_WARN("spool %s: ready/%s is larger than Sentry takes; deleted first to stay under %s "
                "(said once)", ob.cfg->spool_dir, name, SP_ENV_SPOOL_MAX_BYTES);
    warned_big = warned_big || unsendable;
    SP_DEBUG("spool: evicted ready/%s (over %s)", name, SP_ENV_SPOOL_MAX_BYTES);
}

void sp_outbox_enforce_cap(uint64_t now)
{
    unsigned long long cap = ob.cfg->spool_max_bytes;
    if (!ob.spool || !ob.cap_written) return;
    if (ob.cap_written < cap / SP_CAP_CHECK_SHARE && now - ob.cap_checked_ns < SP_CAP_CHECK_MS * SP_NS_PER_MS)
        return;
    ob.cap_written = 0;
    ob.cap_checked_ns = now;
    json_t *state = json_object();
    if (!state) return;
    /* Down to 3/4 of the cap: what we write before the next check (a batch of up to 1/8
     * of it, which cannot be evicted while open, or 1/16 of it elsewhere) still fits. */
    int n = sp_spool_queue_enforce_cap(ob.spool, cap - cap / 4, on_evict, state);
    if (n > 0) {
        static bool warned;
        if (!warned)
            SP_WARN("spool %s is over %s=%llu bytes: deleting the oldest files (counted in "
                    "__sentryprof.stats().spool_files_evicted and reported to Sentry as discards; said once)",
                    ob.cfg->spool_dir, SP_ENV_SPOOL_MAX_BYTES, cap);
        warned = true;
        if (json_array_size(json_object_get(state, "discards")))
            sp_spool_state_update(ob.spool, sp_spool_state_discards_merge, json_object_get(state, "discards"));
    }
    json_decref(state);
}


int sp_outbox_publish(const char *name)
{
    int rc = ob.run ? sp_spool_run_publish(ob.run, name) : -EIO;
    if (rc == 0) sp_uploader_notify();
    return rc;
}

void sp_outbox_remove(const char *name)
{
    if (ob.run) sp_spool_run_remove(ob.run, name);
}

bool sp_outbox_batch_open(void) { return ob.batch[0] != '\0'; }

void sp_outbox_tick(uint64_t now)
{
    if (ob.batch[0] && now - ob.batch_start_ns >= SP_BATCH_SEAL_MS * SP_NS_PER_MS) sp_outbox_seal();
}

void sp_outbox_end(void)
{
    sp_outbox_seal();
    if (ob.run) sp_spool_run_end(ob.run); /* anything left open goes to ready/ */
    ob.run = NULL;
}

void sp_outbox_atfork_child(void)
{
    if (ob.run) sp_spool_run_abandon(ob.run); /* the parent still holds its lock */
    ob.run = NULL;
    ob.batch[0] = '\0'; /* the parent's: it seals it */
}
