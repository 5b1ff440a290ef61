/* spool: the spool directory, and atomic publication of one file into it (API in spool.h).
 *
 * Owns: the spool directory's fd (O_CLOEXEC, opened O_NOFOLLOW), through which every
 * later operation goes (openat/renameat/unlinkat), so a directory swapped for a symlink
 * after sp_spool_open cannot redirect our writes; and the counter that makes temp names
 * unique within the process.
 * Threads: the background thread and the CLI. sp_spool_commit/sp_spool_remove may run
 * concurrently on one spool (the temp-name counter is atomic); open/close may not.
 * Never called from the signal handler.
 * Environment: none (the default directory is config's: sp_config_spool_dir).
 * Rules: write to ".tmp-<pid>-<n>-<name>" (dot-prefixed: readers listing *.envelope skip
 * it; pid: a forked child never collides with its parent), fsync, rename into place,
 * fsync the directory; on failure the temp file is unlinked and a negative errno returned.
 * Only the directory's last component is created or checked: its parents are the user's.
 *
 * Layout v1 (spool.h) is kept by spool_run (run folders, batches), spool_queue (ready/,
 * sending/) and spool_state (state.json), through spool_int.h. Who runs what: the
 * profiled process's background thread owns one run folder (begin/commit/publish/end);
 * the CLI's `sentryprof upload` adopts, claims, caps and keeps state.json. Every process
 * may do any of it concurrently with every other: exclusion is flock(2) only (it dies with
 * its process, kill -9 included, so a lock that can be taken means its owner is gone), and
 * every move is a rename within the spool's filesystem.
 * Lock order: a run's lock or a claim's file lock, then state.json.lock; never two file
 * locks waited for at once (all file locks but the state's are taken LOCK_NB).
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsio.h"
#include "log.h"
#include "mem.h"
#include "spool_int.h"

#define SP_SPOOL_DIR_MODE SP_FSIO_DIR_MODE

struct sp_spool {
    int dirfd;
    char *dir;
    _Atomic unsigned long counter; /* temp names unique within this process */
};

/* Why an existing path cannot be our spool dir, from lstat (for the warning only; the
 * decision is made on the opened fd). */
static const char *lstat_reason(const char *dir)
{
    struct stat st;
    if (lstat(dir, &st) < 0) return NULL;
    if (S_ISLNK(st.st_mode)) return "it is a symlink";
    if (!S_ISDIR(st.st_mode)) return "it is not a directory";
    return NULL;
}

/* Opens dir (O_NOFOLLOW) and checks it is a directory of ours: the fd (its stat in *st), or
 * a negative errno after one warning line (-EPERM: refused; -ENOENT quietly when quiet_enoent). */
static int open_checked(const char *dir, struct stat *st, bool quiet_enoent)
{
    int rc;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        const char *why = lstat_reason(dir);
        if (why || rc == -ELOOP || rc == -ENOTDIR) {
            SP_WARN("spool directory \"%s\" refused: %s", dir,
                    why            ? why
                    : rc == -ELOOP ? "it is a symlink"
                                   : "it is not a directory");
            return -EPERM;
        }
        if (rc != -ENOENT || !quiet_enoent)
            SP_WARN("spool directory \"%s\": cannot open it: %s", dir, strerror(-rc));
        return rc;
    }
    if (fstat(fd, st) < 0) {
        rc = -errno;
        SP_WARN("spool directory \"%s\": cannot stat it: %s", dir, strerror(-rc));
        goto fail;
    }
    if (!S_ISDIR(st->st_mode)) { /* O_DIRECTORY makes this unreachable; kept as the rule */
        SP_WARN("spool directory \"%s\" refused: it is not a directory", dir);
        rc = -EPERM;
        goto fail;
    }
    if (st->st_uid != geteuid()) {
        /* Another user's directory could be read or swapped under us: never use it. */
        SP_WARN("spool directory \"%s\" refused: owned by uid %u, not %u", dir, (unsigned)st->st_uid,
                (unsigned)geteuid());
        rc = -EPERM;
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return rc;
}

int sp_spool_check(const char *dir)
{
    if (!dir || !*dir || strlen(dir) >= PATH_MAX) return -EINVAL;
    struct stat st;
    int fd = open_checked(dir, &st, true);
    if (fd < 0) return fd;
    close(fd);
    return 0;
}

int sp_spool_open(const char *dir, sp_spool_t **out)
{
    if (!out) return -EINVAL;
    *out = NULL;
    if (!dir || !*dir || strlen(dir) >= PATH_MAX) {
        SP_WARN("spool directory \"%s\" refused: empty or too long", dir ? dir : "(null)");
        return -EINVAL;
    }

    int rc;
    if (mkdir(dir, SP_SPOOL_DIR_MODE) < 0 && errno != EEXIST) {
        rc = -errno;
        SP_WARN("spool directory \"%s\": cannot create it: %s", dir, strerror(-rc));
        return rc;
    }
    struct stat st = {0}; /* filled by open_checked when it returns an fd */
    int fd = open_checked(dir, &st, false);
    if (fd < 0) return fd;
    if (st.st_mode & 07777 & ~(mode_t)SP_SPOOL_DIR_MODE) {
        /* Profiles hold code paths and environment details: owner only. Only widening bits
         * are dropped; a narrower mode is the user's choice and fails loudly on commit. */
        if (fchmod(fd, st.st_mode & SP_SPOOL_DIR_MODE) < 0) {
            rc = -errno;
            SP_WARN("spool directory \"%s\": mode %03o is too open and chmod failed: %s", dir,
                    (unsigned)(st.st_mode & 07777), strerror(-rc));
            goto fail;
        }
    }

    sp_spool_t *sp = sp_mem_calloc(1, sizeof *sp);
    char *copy = sp_mem_strdup(dir);
    if (!sp || !copy) {
        sp_mem_free(sp);
        sp_mem_free(copy);
        rc = -ENOMEM;
        goto fail;
    }
    sp->dirfd = fd;
    sp->dir = copy;
    atomic_init(&sp->counter, 0);
    *out = sp;
    return 0;
fail:
    close(fd);
    return rc;
}

void sp_spool_close(sp_spool_t *spool)
{
    if (!spool) return;
    close(spool->dirfd);
    sp_mem_free(spool->dir);
    sp_mem_free(spool);
}

const char *sp_spool_dir(const sp_spool_t *spool) { return spool ? spool->dir : NULL; }

/* A plain file name: non-empty, shorter than SP_SPOOL_NAME_MAX, no '/', no leading '.'
 * (hides temp files and excludes "." and ".."). NUL cannot occur inside a C string; the
 * length bound is checked without reading past it. */
bool sp_spool_valid_name(const char *name)
{
    if (!name || !name[0] || name[0] == '.') return false;
    size_t n = strnlen(name, SP_SPOOL_NAME_MAX);
    if (n >= SP_SPOOL_NAME_MAX) return false;
    return memchr(name, '/', n) == NULL;
}

int sp_spool_dirfd(const sp_spool_t *spool) { return spool->dirfd; }

unsigned long sp_spool_next_id(sp_spool_t *spool) { return atomic_fetch_add(&spool->counter, 1); }

int sp_spool_write_at(sp_spool_t *spool, int dirfd, const char *name, const void *data, size_t len,
                      bool sync)
{
    char tmp[NAME_MAX + 1];
    unsigned long n = sp_spool_next_id(spool);
    int k = snprintf(tmp, sizeof tmp, SP_SPOOL_TMP_PREFIX "%ld-%lu-%s", (long)getpid(), n, name);
    if (k < 0 || (size_t)k >= sizeof tmp) return -ENAMETOOLONG;
    return sp_fsio_write_atomic(dirfd, tmp, name, data, len, sync);
}

int sp_spool_open_sub(sp_spool_t *spool, const char *sub)
{
    return sp_fsio_open_dir(spool->dirfd, sub, true);
}

int sp_spool_commit(sp_spool_t *spool, const char *name, const void *data, size_t len)
{
    if (!spool || !sp_spool_valid_name(name) || (!data && len)) return -EINVAL;
    return sp_spool_write_at(spool, spool->dirfd, name, data, len, true);
}

int sp_spool_remove(sp_spool_t *spool, const char *name)
{
    if (!spool || !sp_spool_valid_name(name)) return -EINVAL;
    /* No directory fsync: a removal lost in a crash only means a re-send, which Sentry
     * de-duplicates by event id. */
    if (unlinkat(spool->dirfd, name, 0) < 0) return -errno;
    return 0;
}
