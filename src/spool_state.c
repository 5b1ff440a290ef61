/* spool_state: state.json, the uploader state shared by every process (format and API in
 * spool_state.h).
 *
 * Owns: the lock fd of one update (flock(LOCK_EX) on state.json.lock, waited for at most
 * SP_SPOOL_STATE_LOCK_WAIT_MS). Threads: the CLI and the profiled process's background
 * thread (cap evictions count discards), any number of processes at once; never the signal
 * handler. Environment: none.
 * Rules: read-modify-write under the lock, written back atomically (spool.h), so readers
 * need no lock; a file that is missing, too large, malformed or of another version reads as
 * a fresh state (a debug line, never a failure). Lock order: after any file lock the caller
 * holds (a run's, a claim's); nothing is locked inside it.
 */
#ifndef _GNU_SOURCE /* configure's AC_USE_SYSTEM_EXTENSIONS may already pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE
#endif
#include "spool_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "fsio.h"
#include "log.h"
#include "mem.h"
#include "spool_int.h"

#define SP_SPOOL_STATE_NAME         "state.json"
#define SP_SPOOL_STATE_LOCK_NAME    "state.json.lock"
#define SP_SPOOL_STATE_LOCK_WAIT_MS 2000 /* longest wait for state.json.lock */
#define SP_SPOOL_STATE_LOCK_POLL_MS 5
#define SP_SPOOL_STATE_MAX          (1u << 20) /* a larger state.json is ignored (read as empty) */
#define SP_SPOOL_STATE_MAX_DISCARDS 64         /* distinct (reason, category) pairs kept */

static json_t *state_new(void) { return json_pack("{s:i}", "version", SP_SPOOL_STATE_VERSION); }

/* Reads state.json; anything missing, too large or malformed reads as a fresh state. */
static int state_load(sp_spool_t *spool, json_t **out)
{
    *out = NULL;
    json_t *st = NULL;
    int fd = openat(sp_spool_dirfd(spool), SP_SPOOL_STATE_NAME,
                    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
        struct stat sb;
        if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
            (unsigned long long)sb.st_size <= SP_SPOOL_STATE_MAX) {
            size_t size = (size_t)sb.st_size, n = 0;
            char *buf = sp_mem_alloc(size);
            if (!buf) {
                close(fd);
                return -ENOMEM;
            }
            while (n < size) {
                ssize_t r = read(fd, buf + n, size - n);
                if (r < 0 && errno == EINTR) continue;
                if (r <= 0) break;
                n += (size_t)r;
            }
            st = json_loadb(buf, n, JSON_REJECT_DUPLICATES, NULL);
            sp_mem_free(buf);
        }
        close(fd);
    }
    if (st && (!json_is_object(st) ||
               json_integer_value(json_object_get(st, "version")) != SP_SPOOL_STATE_VERSION)) {
        SP_DEBUG("spool: %s/" SP_SPOOL_STATE_NAME " is not a version %d state; starting afresh",
                 sp_spool_dir(spool), SP_SPOOL_STATE_VERSION);
        json_decref(st);
        st = NULL;
    }
    if (!st && !(st = state_new())) return -ENOMEM;
    *out = st;
    return 0;
}

int sp_spool_state_read(sp_spool_t *spool, json_t **out)
{
    if (!spool || !out) return -EINVAL;
    return state_load(spool, out);
}

/* flock(LOCK_EX) on state.json.lock, polled for at most SP_SPOOL_STATE_LOCK_WAIT_MS: a
 * blocked uploader must still meet its deadline. fd or negative errno. */
static int state_lock(sp_spool_t *spool)
{
    int fd = openat(sp_spool_dirfd(spool), SP_SPOOL_STATE_LOCK_NAME,
                    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, SP_FSIO_FILE_MODE);
    if (fd < 0) return -errno;
    for (int waited = 0;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
        if (errno == EINTR) continue;
        if (errno != EWOULDBLOCK || waited >= SP_SPOOL_STATE_LOCK_WAIT_MS) {
            int rc = errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
            close(fd);
            return rc;
        }
        struct timespec ts = {0, SP_SPOOL_STATE_LOCK_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
        waited += SP_SPOOL_STATE_LOCK_POLL_MS;
    }
}

int sp_spool_state_update(sp_spool_t *spool, sp_spool_state_fn fn, void *ctx)
{
    if (!spool || !fn) return -EINVAL;
    int lockfd = state_lock(spool);
    if (lockfd < 0) return lockfd;
    json_t *st = NULL;
    int rc = state_load(spool, &st);
    if (rc == 0) {
        rc = fn(st, ctx);
        if (rc > 0) {
            size_t len;
            char *buf = sp_json_dump(st, JSON_COMPACT | JSON_SORT_KEYS, &len);
            if (!buf)
                rc = -ENOMEM;
            else if (len > SP_SPOOL_STATE_MAX)
                rc = -EFBIG; /* would not be read back */
            else
                rc = sp_spool_write_at(spool, sp_spool_dirfd(spool), SP_SPOOL_STATE_NAME, buf, len,
                                       true);
            sp_mem_free(buf);
        }
    }
    json_decref(st);
    close(lockfd);
    return rc < 0 ? rc : 0;
}

int sp_spool_state_discard_add(json_t *state, const char *reason, const char *category,
                               json_int_t quantity)
{
    if (!json_is_object(state) || !reason || !*reason || !category || !*category || quantity < 0)
        return -EINVAL;
    if (quantity == 0) return 0;
    json_t *arr = json_object_get(state, "discards");
    if (!json_is_array(arr)) {
        if (!(arr = json_array()) || json_object_set_new(state, "discards", arr) < 0)
            return -ENOMEM;
    }
    size_t i;
    json_t *d;
    json_array_foreach(arr, i, d)
    {
        const char *r = json_string_value(json_object_get(d, "reason"));
        const char *c = json_string_value(json_object_get(d, "category"));
        if (!r || !c || strcmp(r, reason) || strcmp(c, category)) continue;
        json_int_t q = json_integer_value(json_object_get(d, "quantity"));
        if (q < 0) q = 0;
        q = q > INT64_MAX - quantity ? INT64_MAX : q + quantity; /* saturate */
        return json_object_set_new(d, "quantity", json_integer(q)) < 0 ? -ENOMEM : 1;
    }
    if (json_array_size(arr) >= SP_SPOOL_STATE_MAX_DISCARDS) return 0;
    json_t *e = json_pack("{s:s, s:s, s:I}", "reason", reason, "category", category, "quantity",
                          (json_int_t)quantity);
    if (!e || json_array_append_new(arr, e) < 0) return -ENOMEM;
    return 1;
}

int sp_spool_state_discards_merge(json_t *state, void *discards)
{
    int changed = 0;
    size_t i;
    json_t *d;
    json_array_foreach((json_t *)discards, i, d)
    {
        if (sp_spool_state_discard_add(state, json_string_value(json_object_get(d, "reason")),
                                       json_string_value(json_object_get(d, "category")),
                                       json_integer_value(json_object_get(d, "quantity"))) > 0)
            changed = 1;
    }
    return changed;
}

typedef struct {
    const char *reason, *category;
    json_int_t quantity;
} discard_ctx_t;

static int add_discard_fn(json_t *state, void *ctx)
{
    discard_ctx_t *d = ctx;
    return sp_spool_state_discard_add(state, d->reason, d->category, d->quantity);
}

int sp_spool_state_add_discard(sp_spool_t *spool, const char *reason, const char *category,
                               json_int_t quantity)
{
    discard_ctx_t d = {reason, category, quantity};
    return sp_spool_state_update(spool, add_discard_fn, &d);
}

static int take_discards_fn(json_t *state, void *ctx)
{
    json_t **out = ctx;
    json_t *arr = json_object_get(state, "discards");
    if (!json_is_array(arr) || json_array_size(arr) == 0) return 0;
    *out = json_incref(arr);
    json_object_del(state, "discards");
    return 1;
}

int sp_spool_state_take_discards(sp_spool_t *spool, json_t **out)
{
    if (!out) return -EINVAL;
    *out = NULL;
    int rc = sp_spool_state_update(spool, take_discards_fn, out);
    if (rc < 0) {
        json_decref(*out); /* the state was not written: the discards are still there */
        *out = NULL;
    }
    return rc;
}
