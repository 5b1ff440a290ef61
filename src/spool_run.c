/* spool_run: a profiled process's run folder, and the *.envelopes batch format (API and
 * format in spool_run.h).
 *
 * Owns: the run folder's fd, its lock fd (flock(LOCK_EX) for the run's lifetime) and the
 * open batch's fd. Threads: the profiled process's background thread (one run at a time,
 * no concurrent calls on one run); sp_spool_run_adopt runs in the CLI, in any number of
 * processes at once; the batch format's functions are pure (any thread, not the signal
 * handler: snprintf). Environment: none.
 * Rules: every file in the folder is published atomically (spool.h); a batch is appended to
 * in place, and a torn append is cut off again so the file stays well-formed.
 * Why the run folder is built as ".tmp-run-<pid>-<n>" and then renamed: an adopter must
 * never see a run folder before its lock is held.
 */
#ifndef _GNU_SOURCE /* configure's AC_USE_SYSTEM_EXTENSIONS may already pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE
#endif
#include "spool_run.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fsio.h"
#include "log.h"
#include "mem.h"
#include "spool_int.h"

#define SP_SPOOL_RUN_NAME_TRIES    16 /* run-<pid>-<start>-<k> suffixes tried on a name clash */
#define SP_SPOOL_STALE_TMP_SECONDS 60 /* a hidden temp run folder older than this is debris */

struct sp_spool_run {
    sp_spool_t *spool;
    int dirfd;  /* the run folder (stays valid across its rename into place) */
    int lockfd; /* flock(LOCK_EX) held for the run's lifetime */
    char name[64];
    int batch_fd;             /* the open batch being appended to, or -1 */
    off_t batch_size;         /* its length after the last complete record */
    char batch[NAME_MAX + 1]; /* its file name, open-<name> */
};

bool sp_spool_run_is_batch(const char *name)
{
    size_t n = strlen(name), m = sizeof SP_BATCH_SUFFIX - 1;
    return n > m && strcmp(name + n - m, SP_BATCH_SUFFIX) == 0;
}

size_t sp_spool_run_record_head(char *buf, size_t len)
{
    int k = snprintf(buf, 24, "%zu\n", len);
    return k > 0 ? (size_t)k : 0;
}

int sp_spool_run_reader_init(sp_spool_run_reader_t *r, const char *data, size_t len)
{
    size_t h = sizeof SP_BATCH_HEADER - 1;
    *r = (sp_spool_run_reader_t){.data = data, .len = len};
    if (!data || len < h || memcmp(data, SP_BATCH_HEADER, h) != 0) return -1;
    r->off = h;
    return 0;
}

int sp_spool_run_reader_next(sp_spool_run_reader_t *r, const char **env, size_t *env_len)
{
    if (r->torn || r->off >= r->len) return 0;
    size_t p = r->off, n = 0;
    while (p < r->len && r->data[p] >= '0' && r->data[p] <= '9' && p - r->off < 10)
        n = n * 10 + (size_t)(r->data[p++] - '0');
    /* digits, then "\n", then n bytes, then "\n"; anything else is a torn or foreign tail */
    if (p == r->off || p >= r->len || r->data[p] != '\n' || n == 0 || n > SP_BATCH_RECORD_MAX ||
        r->len - (p + 1) < n + 1 || r->data[p + 1 + n] != '\n') {
        r->torn = true;
        return 0;
    }
    *env = r->data + p + 1;
    *env_len = n;
    r->off = p + 1 + n + 1;
    return 1;
}

int sp_spool_run_begin(sp_spool_t *spool, sp_spool_run_t **out)
{
    if (!spool || !out) return -EINVAL;
    *out = NULL;
    int rc;
    /* ready/ and sending/ first: publish and the uploader need them. */
    int fd = sp_spool_open_sub(spool, SP_SPOOL_READY);
    if (fd < 0) return fd;
    close(fd);
    if ((fd = sp_spool_open_sub(spool, SP_SPOOL_SENDING)) < 0) return fd;
    close(fd);

    sp_spool_run_t *run = sp_mem_calloc(1, sizeof *run);
    if (!run) return -ENOMEM;
    run->spool = spool;
    run->dirfd = run->lockfd = run->batch_fd = -1;

    char tmp[NAME_MAX + 1];
    for (int tries = 0;; tries++) {
        unsigned long n = sp_spool_next_id(spool);
        snprintf(tmp, sizeof tmp, SP_SPOOL_RUN_TMP_PREFIX "%ld-%lu", (long)getpid(), n);
        if (mkdirat(sp_spool_dirfd(spool), tmp, SP_FSIO_DIR_MODE) == 0) break;
        /* EEXIST: debris of an earlier process with our pid; another counter value. */
        if (errno != EEXIST || tries >= SP_SPOOL_RUN_NAME_TRIES) {
            rc = -errno;
            goto fail_free;
        }
    }
    run->dirfd =
        openat(sp_spool_dirfd(spool), tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (run->dirfd < 0) {
        rc = -errno;
        goto fail_rmdir;
    }
    run->lockfd = openat(run->dirfd, SP_SPOOL_LOCK_NAME,
                         O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, SP_FSIO_FILE_MODE);
    if (run->lockfd < 0) {
        rc = -errno;
        goto fail_rmdir;
    }
    if (flock(run->lockfd, LOCK_EX | LOCK_NB) < 0) { /* a new file: nobody else has it */
        rc = -errno;
        goto fail_rmdir;
    }

    long long start = (long long)time(NULL);
    for (int k = 0;; k++) {
        if (k == 0)
            snprintf(run->name, sizeof run->name, SP_SPOOL_RUN_PREFIX "%ld-%lld", (long)getpid(),
                     start);
        else
            snprintf(run->name, sizeof run->name, SP_SPOOL_RUN_PREFIX "%ld-%lld-%d", (long)getpid(),
                     start, k);
        /* rename(2) replaces an empty directory of that name: harmless, since a live run's
         * folder always holds its lock file. A non-empty one fails and we try the next. */
        if (renameat(sp_spool_dirfd(spool), tmp, sp_spool_dirfd(spool), run->name) == 0) break;
        if ((errno != EEXIST && errno != ENOTEMPTY) || k >= SP_SPOOL_RUN_NAME_TRIES) {
            rc = -errno;
            goto fail_rmdir;
        }
    }
    if (fsync(sp_spool_dirfd(spool)) < 0 && errno != EINVAL) {
        /* The folder exists and is locked; only its durability is in doubt: keep going. */
        SP_DEBUG("spool: fsync of %s after creating %s: %s", sp_spool_dir(spool), run->name,
                 strerror(errno));
    }
    *out = run;
    return 0;

fail_rmdir:
    if (run->lockfd >= 0) unlinkat(run->dirfd, SP_SPOOL_LOCK_NAME, 0);
    unlinkat(sp_spool_dirfd(spool), tmp, AT_REMOVEDIR);
fail_free:
    if (run->lockfd >= 0) close(run->lockfd);
    if (run->dirfd >= 0) close(run->dirfd);
    sp_mem_free(run);
    return rc;
}

const char *sp_spool_run_name(const sp_spool_run_t *run) { return run ? run->name : NULL; }

/* "open-<name>" into buf; false when name is not valid or too long. */
static bool open_name(char *buf, size_t len, const char *name)
{
    if (!sp_spool_valid_name(name)) return false;
    int k = snprintf(buf, len, SP_SPOOL_OPEN_PREFIX "%s", name);
    return k > 0 && (size_t)k < len && (size_t)k < SP_SPOOL_NAME_MAX;
}

int sp_spool_run_commit(sp_spool_run_t *run, const char *name, const void *data, size_t len)
{
    char full[NAME_MAX + 1];
    if (!run || !open_name(full, sizeof full, name) || (!data && len)) return -EINVAL;
    return sp_spool_write_at(run->spool, run->dirfd, full, data, len, true);
}

/* Moves open-<name> (in run folder rfd) to ready/<name>. */
static int publish_at(int rfd, int readyfd, const char *full)
{
    const char *name = full + strlen(SP_SPOOL_OPEN_PREFIX);
    if (!sp_spool_valid_name(name)) return -EINVAL;
    if (renameat(rfd, full, readyfd, name) < 0) return -errno;
    /* Lost in a crash, the rename leaves the file in the run folder, which adopt publishes. */
    fsync(readyfd);
    return 0;
}

int sp_spool_run_publish(sp_spool_run_t *run, const char *name)
{
    char full[NAME_MAX + 1];
    if (!run || !open_name(full, sizeof full, name)) return -EINVAL;
    int readyfd = sp_spool_open_sub(run->spool, SP_SPOOL_READY);
    if (readyfd < 0) return readyfd;
    int rc = publish_at(run->dirfd, readyfd, full);
    close(readyfd);
    return rc;
}

int sp_spool_run_remove(sp_spool_run_t *run, const char *name)
{
    char full[NAME_MAX + 1];
    if (!run || !open_name(full, sizeof full, name)) return -EINVAL;
    return unlinkat(run->dirfd, full, 0) < 0 ? -errno : 0;
}

/* Closes the open batch; sync: fsync it first (its records become durable). */
static int batch_close(sp_spool_run_t *run, bool sync)
{
    if (run->batch_fd < 0) return 0;
    int rc = 0;
    if (sync && fsync(run->batch_fd) < 0 && errno != EINVAL) rc = -errno;
    close(run->batch_fd);
    run->batch_fd = -1;
    run->batch[0] = '\0';
    return rc;
}

int sp_spool_run_append(sp_spool_run_t *run, const char *name, const void *data, size_t len)
{
    char full[NAME_MAX + 1];
    if (!run || !sp_spool_run_is_batch(name) || !open_name(full, sizeof full, name) || !data ||
        !len || len > SP_BATCH_RECORD_MAX)
        return -EINVAL;
    if (run->batch_fd >= 0 && strcmp(run->batch, full) != 0) batch_close(run, true);
    if (run->batch_fd < 0) {
        /* Never recreated over an existing one: that would drop its records. */
        if (faccessat(run->dirfd, full, F_OK, AT_SYMLINK_NOFOLLOW) == 0) return -EEXIST;
        /* Created like every spool file (temp name, fsync, rename), holding just the header:
         * the batch exists whole or not at all. */
        int rc = sp_spool_write_at(run->spool, run->dirfd, full, SP_BATCH_HEADER,
                                   sizeof SP_BATCH_HEADER - 1, true);
        if (rc < 0) return rc;
        run->batch_fd = openat(run->dirfd, full, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
        if (run->batch_fd < 0) return -errno;
        run->batch_size = (off_t)(sizeof SP_BATCH_HEADER - 1);
        snprintf(run->batch, sizeof run->batch, "%s", full);
    }
    char head[24];
    size_t hl = sp_spool_run_record_head(head, len);
    struct iovec iov[3] = {{head, hl}, {(void *)data, len}, {"\n", 1}};
    size_t want = hl + len + 1, done = 0;
    int rc = 0;
    while (done < want) {
        ssize_t w = writev(run->batch_fd, iov, 3);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            rc = w < 0 ? -errno : -EIO;
            break;
        }
        done += (size_t)w;
        /* A short write (a full disk): skip what was written and go on with the rest. */
        for (int i = 0; i < 3 && w > 0; i++) {
            size_t k = (size_t)w < iov[i].iov_len ? (size_t)w : iov[i].iov_len;
            iov[i].iov_base = (char *)iov[i].iov_base + k;
            iov[i].iov_len -= k;
            w -= (ssize_t)k;
        }
    }
    if (rc < 0) {
        /* Cut the torn record off, so later records are not lost behind it. */
        if (ftruncate(run->batch_fd, run->batch_size) < 0) batch_close(run, false);
        return rc;
    }
    run->batch_size += (off_t)want;
    return 0;
}

int sp_spool_run_seal(sp_spool_run_t *run, const char *name)
{
    char full[NAME_MAX + 1];
    if (!run || !open_name(full, sizeof full, name)) return -EINVAL;
    int rc = strcmp(run->batch, full) == 0 ? batch_close(run, true) : 0;
    if (rc < 0) return rc;
    return sp_spool_run_publish(run, name);
}

/* Publishes every open-* file of run folder rfd and deletes its temp files. Returns the
 * number published, or the first negative errno (after trying every file). */
static int drain_run(int rfd, int readyfd)
{
    sp_fsio_names_t nm;
    int rc = sp_fsio_list(rfd, SP_SPOOL_OPEN_PREFIX, &nm);
    if (rc < 0) return rc;
    int moved = 0, err = 0;
    for (size_t i = 0; i < nm.n; i++) {
        int r = publish_at(rfd, readyfd, nm.v[i]);
        if (r == 0)
            moved++;
        else if (r != -ENOENT && !err)
            err = r; /* ENOENT: someone else moved it */
    }
    sp_fsio_names_free(&nm);
    /* A temp file is a commit cut short (its process died, or failed mid-write). */
    if (sp_fsio_list(rfd, SP_SPOOL_TMP_PREFIX, &nm) == 0) {
        for (size_t i = 0; i < nm.n; i++) unlinkat(rfd, nm.v[i], 0);
        sp_fsio_names_free(&nm);
    }
    return err ? err : moved;
}

int sp_spool_run_end(sp_spool_run_t *run)
{
    if (!run) return -EINVAL;
    batch_close(run, true); /* if its fsync fails, its records are still whole for readers */
    int rc = 0;
    int readyfd = sp_spool_open_sub(run->spool, SP_SPOOL_READY);
    if (readyfd < 0)
        rc = readyfd;
    else {
        int r = drain_run(run->dirfd, readyfd);
        close(readyfd);
        if (r < 0) rc = r;
    }
    if (rc == 0) {
        /* Unlink the lock while holding it: an adopter that opened it before gets the lock
         * of an empty, removed folder and finds nothing to do. */
        unlinkat(run->dirfd, SP_SPOOL_LOCK_NAME, 0);
        if (unlinkat(sp_spool_dirfd(run->spool), run->name, AT_REMOVEDIR) < 0) rc = -errno;
    }
    sp_spool_run_abandon(run); /* closing the lock fd releases the lock */
    return rc;
}

void sp_spool_run_abandon(sp_spool_run_t *run)
{
    if (!run) return;
    if (run->batch_fd >= 0) close(run->batch_fd);
    if (run->lockfd >= 0) close(run->lockfd);
    if (run->dirfd >= 0) close(run->dirfd);
    sp_mem_free(run);
}

int sp_spool_run_adopt(sp_spool_t *spool, int readyfd, const char *name, bool hidden_tmp)
{
    int rfd = openat(sp_spool_dirfd(spool), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (rfd < 0) return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 0 : -errno;
    int lockfd = sp_fsio_lock_nb(rfd, SP_SPOOL_LOCK_NAME);
    int rc = 0;
    if (lockfd == -EWOULDBLOCK) goto out; /* alive */
    if (lockfd < 0 && lockfd != -ENOENT) {
        rc = lockfd;
        goto out;
    }
    if (hidden_tmp) {
        /* A folder still being set up has no lock yet (or just took it): only old ones are
         * debris of a process that died during sp_spool_run_begin. */
        struct stat st;
        if (fstat(rfd, &st) < 0 || time(NULL) - st.st_mtime < SP_SPOOL_STALE_TMP_SECONDS) goto out;
    }
    /* Lock held, or no lock file: a folder whose run ended or is being adopted (both hold
     * no open-* files by then) or debris. */
    rc = drain_run(rfd, readyfd);
    if (rc >= 0) {
        unlinkat(rfd, SP_SPOOL_LOCK_NAME, 0);
        unlinkat(sp_spool_dirfd(spool), name,
                 AT_REMOVEDIR); /* may race another adopter: harmless */
    }
out:
    if (lockfd >= 0) close(lockfd);
    close(rfd);
    return rc;
}
