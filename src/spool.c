/* spool: the on-disk queue directory and atomic publication of one file into it.
 *
 * Owns: the spool directory's fd (O_CLOEXEC, opened O_NOFOLLOW), through which every
 * later operation goes (openat/renameat/unlinkat), so a directory swapped for a symlink
 * after sp_spool_open cannot redirect our writes.
 * Threads: the background thread and the CLI. sp_spool_commit/sp_spool_remove may run
 * concurrently on one spool (the temp-name counter is atomic); open/close may not.
 * Never called from the signal handler.
 * Environment: SENTRYPROF_SPOOL_DIR, TMPDIR (sp_spool_default_dir, via secure_getenv).
 * Rules: write to ".tmp-<pid>-<n>-<name>" (dot-prefixed: readers listing *.envelope skip
 * it; pid: a forked child never collides with its parent), fsync, rename into place,
 * fsync the directory; on failure the temp file is unlinked and a negative errno returned.
 * Only the directory's last component is created or checked: its parents are the user's.
 *
 * Layout v1 (spool.h): run folders, ready/, sending/, state.json. Who runs what: the
 * profiled process's background thread owns one run folder (begin/commit/publish/end);
 * the CLI's `sentryprof upload` adopts, claims, caps and keeps state.json. Every process
 * may do any of it concurrently with every other: exclusion is flock(2) only (it dies with
 * its process, kill -9 included, so a lock that can be taken means its owner is gone), and
 * every move is a rename within the spool's filesystem.
 * Lock order: a run's lock or a claim's file lock, then state.json.lock; never two file
 * locks waited for at once (all file locks but the state's are taken LOCK_NB).
 * Why the run folder is built as ".tmp-run-<pid>-<n>" and then renamed: an adopter must
 * never see a run folder before its lock is held. Why claim checks the inode around its
 * rename: the lock is on the file it opened; the name must still be that file.
 */
#ifndef _GNU_SOURCE /* configure's AC_USE_SYSTEM_EXTENSIONS may already pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE /* secure_getenv */
#endif
#include "spool.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "json.h"
#include "log.h"
#include "mem.h"

#define SP_SPOOL_TMP_PREFIX ".tmp-"
#define SP_SPOOL_DIR_MODE 0700
#define SP_SPOOL_FILE_MODE 0600
#define SP_SPOOL_DEFAULT_TMP "/tmp"
#define SP_SPOOL_DIR_ENV "SENTRYPROF_SPOOL_DIR"

#define SP_SPOOL_READY "ready"
#define SP_SPOOL_SENDING "sending"
#define SP_SPOOL_RUN_PREFIX "run-"
#define SP_SPOOL_RUN_TMP_PREFIX SP_SPOOL_TMP_PREFIX "run-"
#define SP_SPOOL_OPEN_PREFIX "open-"
#define SP_SPOOL_LOCK_NAME "lock"
#define SP_SPOOL_STATE_NAME "state.json"
#define SP_SPOOL_STATE_LOCK_NAME "state.json.lock"
#define SP_SPOOL_RUN_NAME_TRIES 16     /* run-<pid>-<start>-<k> suffixes tried on a name clash */
#define SP_SPOOL_STALE_TMP_SECONDS 60  /* a hidden temp run folder older than this is debris */
#define SP_SPOOL_STATE_LOCK_WAIT_MS 2000 /* longest wait for state.json.lock */
#define SP_SPOOL_STATE_LOCK_POLL_MS 5
#define SP_SPOOL_STATE_MAX (1u << 20)  /* a larger state.json is ignored (read as empty) */
#define SP_SPOOL_STATE_MAX_DISCARDS 64 /* distinct (reason, category) pairs kept */

struct sp_spool {
    int dirfd;
    char *dir;
    _Atomic unsigned long counter; /* temp names unique within this process */
};

int sp_spool_default_dir(char *buf, size_t len)
{
    if (!buf || !len) return -EINVAL;
    buf[0] = '\0';
    const char *v = secure_getenv(SP_SPOOL_DIR_ENV);
    int n;
    if (v && *v) {
        n = snprintf(buf, len, "%s", v);
    } else {
        const char *tmp = secure_getenv("TMPDIR");
        if (!tmp || tmp[0] != '/') tmp = SP_SPOOL_DEFAULT_TMP; /* empty or relative: ignored */
        size_t tl = strlen(tmp);
        while (tl > 1 && tmp[tl - 1] == '/') tl--; /* "/tmp/" -> "/tmp", no "//" */
        if (tl == 1) tl = 0;                       /* "/" -> "/sentryprof-<uid>" */
        /* getuid, as config.c's fallback; the ownership check in open uses geteuid. */
        n = snprintf(buf, len, "%.*s/sentryprof-%u", (int)tl, tmp, (unsigned)getuid());
    }
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return -ENAMETOOLONG;
    }
    return 0;
}

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

int sp_spool_open(const char *dir, sp_spool_t **out)
{
    if (!out) return -EINVAL;
    *out = NULL;
    if (!dir || !*dir || strlen(dir) >= PATH_MAX) {
        SP_WARN("spool directory \"%s\" refused: empty or too long", dir ? dir : "(null)");
        return -EINVAL;
    }

    int rc;
    int fd = -1;
    if (mkdir(dir, SP_SPOOL_DIR_MODE) < 0 && errno != EEXIST) {
        rc = -errno;
        SP_WARN("spool directory \"%s\": cannot create it: %s", dir, strerror(-rc));
        return rc;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        const char *why = lstat_reason(dir);
        if (why || rc == -ELOOP || rc == -ENOTDIR) {
            SP_WARN("spool directory \"%s\" refused: %s", dir,
                    why ? why : rc == -ELOOP ? "it is a symlink" : "it is not a directory");
            return -EPERM;
        }
        SP_WARN("spool directory \"%s\": cannot open it: %s", dir, strerror(-rc));
        return rc;
    }

    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        SP_WARN("spool directory \"%s\": cannot stat it: %s", dir, strerror(-rc));
        goto fail;
    }
    if (!S_ISDIR(st.st_mode)) { /* O_DIRECTORY makes this unreachable; kept as the rule */
        SP_WARN("spool directory \"%s\" refused: it is not a directory", dir);
        rc = -EPERM;
        goto fail;
    }
    if (st.st_uid != geteuid()) {
        /* Another user's directory could be read or swapped under us: never use it. */
        SP_WARN("spool directory \"%s\" refused: owned by uid %u, not %u", dir,
                (unsigned)st.st_uid, (unsigned)geteuid());
        rc = -EPERM;
        goto fail;
    }
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
static int valid_name(const char *name)
{
    if (!name || !name[0] || name[0] == '.') return 0;
    size_t n = strnlen(name, SP_SPOOL_NAME_MAX);
    if (n >= SP_SPOOL_NAME_MAX) return 0;
    return memchr(name, '/', n) == NULL;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (w == 0) return -EIO; /* no progress and no error: do not spin */
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Atomic write of name in dirfd: temp file, fsync, rename over name, fsync the directory.
 * Without sync: temp file and rename only (the caller makes a set of files durable at once). */
static int write_at(sp_spool_t *spool, int dirfd, const char *name, const void *data, size_t len,
                    bool sync)
{
    char tmp[NAME_MAX + 1];
    unsigned long n = atomic_fetch_add(&spool->counter, 1);
    int k = snprintf(tmp, sizeof tmp, SP_SPOOL_TMP_PREFIX "%ld-%lu-%s", (long)getpid(), n, name);
    if (k < 0 || (size_t)k >= sizeof tmp) return -ENAMETOOLONG;

    int rc = 0;
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                    SP_SPOOL_FILE_MODE);
    if (fd < 0) return -errno;

    rc = write_all(fd, data, len);
    if (rc == 0 && sync && fsync(fd) < 0) rc = -errno;
    /* close can report deferred write errors (NFS); EINTR still closes on Linux. */
    if (close(fd) < 0 && errno != EINTR && rc == 0) rc = -errno;
    if (rc == 0 && renameat(dirfd, tmp, dirfd, name) < 0) rc = -errno;
    if (rc < 0) {
        unlinkat(dirfd, tmp, 0);
        return rc;
    }
    if (!sync) return 0;
    /* The rename is durable only once the directory is synced. Some filesystems cannot
     * sync a directory (EINVAL): the file is in place, which is the best they offer. The
     * file is visible either way; an error here lets the caller re-commit (harmless). */
    if (fsync(dirfd) < 0 && errno != EINVAL) return -errno;
    return 0;
}

static int commit_at(sp_spool_t *spool, int dirfd, const char *name, const void *data, size_t len)
{
    return write_at(spool, dirfd, name, data, len, true);
}

int sp_spool_commit(sp_spool_t *spool, const char *name, const void *data, size_t len)
{
    if (!spool || !valid_name(name) || (!data && len)) return -EINVAL;
    return commit_at(spool, spool->dirfd, name, data, len);
}

int sp_spool_remove(sp_spool_t *spool, const char *name)
{
    if (!spool || !valid_name(name)) return -EINVAL;
    /* No directory fsync: a removal lost in a crash only means a re-send, which Sentry
     * de-duplicates by event id. */
    if (unlinkat(spool->dirfd, name, 0) < 0) return -errno;
    return 0;
}

/* ==== layout v1: run folders, ready/, sending/, state.json ==== */

struct sp_spool_run {
    sp_spool_t *spool;
    int dirfd;  /* the run folder (stays valid across its rename into place) */
    int lockfd; /* flock(LOCK_EX) held for the run's lifetime */
    char name[64];
    int batch_fd;  /* the open batch being appended to, or -1 */
    off_t batch_size; /* its length after the last complete record */
    char batch[NAME_MAX + 1]; /* its file name, open-<name> */
};

/* Opens (creating when missing) the subdirectory sub of the spool. fd or negative errno. */
static int open_sub(sp_spool_t *spool, const char *sub)
{
    /* Open first: it exists but once, and the uploader opens ready/ several times per
     * envelope. */
    int fd = openat(spool->dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT) return fd < 0 ? -errno : fd;
    if (mkdirat(spool->dirfd, sub, SP_SPOOL_DIR_MODE) < 0 && errno != EEXIST) return -errno;
    fd = openat(spool->dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* An envelope file name: what claim and eviction consider (nothing else is ours to send or
 * delete). */
static bool envelope_name(const char *name)
{
    size_t n = strlen(name), m = strlen(SP_SPOOL_SUFFIX);
    return valid_name(name) &&
           ((n > m && strcmp(name + n - m, SP_SPOOL_SUFFIX) == 0) || sp_batch_is_name(name));
}

typedef struct {
    char **v;
    size_t n, cap;
} names_t;

static void names_free(names_t *nm)
{
    for (size_t i = 0; i < nm->n; i++) sp_mem_free(nm->v[i]);
    sp_mem_free(nm->v);
    *nm = (names_t){0};
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of dirfd whose names start with prefix ("" = all but hidden ones), sorted.
 * Hidden names (leading '.') are listed only when prefix itself starts with '.'. */
static int list_names(int dirfd, const char *prefix, names_t *out)
{
    *out = (names_t){0};
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (nm[0] == '.' && prefix[0] != '.') continue;
        if (!strcmp(nm, ".") || !strcmp(nm, "..") || !has_prefix(nm, prefix)) continue;
        if (out->n == out->cap) {
            size_t ncap = out->cap ? out->cap * 2 : 32;
            char **nv = sp_mem_realloc(out->v, ncap * sizeof *nv);
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            out->v = nv;
            out->cap = ncap;
        }
        if (!(out->v[out->n] = sp_mem_strdup(nm))) {
            rc = -ENOMEM;
            break;
        }
        out->n++;
    }
    closedir(d);
    if (rc < 0) {
        names_free(out);
        return rc;
    }
    if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_name);
    return 0;
}

/* Does name in dirfd still refer to the file open as fd? */
static bool same_file(int dirfd, const char *name, int fd)
{
    struct stat a, b;
    if (fstat(fd, &a) < 0 || fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0) return false;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Takes name's lock without waiting: an fd holding flock(LOCK_EX) on it, -EWOULDBLOCK when
 * another open file holds it, or another negative errno (-ENOENT ...). */
static int lock_file_nb(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -errno;
    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EINTR) continue;
        int rc = errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
        close(fd);
        return rc;
    }
    return fd;
}

int sp_spool_run_begin(sp_spool_t *spool, sp_spool_run_t **out)
{
    if (!spool || !out) return -EINVAL;
    *out = NULL;
    int rc;
    /* ready/ and sending/ first: publish and the uploader need them. */
    int fd = open_sub(spool, SP_SPOOL_READY);
    if (fd < 0) return fd;
    close(fd);
    if ((fd = open_sub(spool, SP_SPOOL_SENDING)) < 0) return fd;
    close(fd);

    sp_spool_run_t *run = sp_mem_calloc(1, sizeof *run);
    if (!run) return -ENOMEM;
    run->spool = spool;
    run->dirfd = run->lockfd = run->batch_fd = -1;

    char tmp[NAME_MAX + 1];
    for (int tries = 0;; tries++) {
        unsigned long n = atomic_fetch_add(&spool->counter, 1);
        snprintf(tmp, sizeof tmp, SP_SPOOL_RUN_TMP_PREFIX "%ld-%lu", (long)getpid(), n);
        if (mkdirat(spool->dirfd, tmp, SP_SPOOL_DIR_MODE) == 0) break;
        /* EEXIST: debris of an earlier process with our pid; another counter value. */
        if (errno != EEXIST || tries >= SP_SPOOL_RUN_NAME_TRIES) {
            rc = -errno;
            goto fail_free;
        }
    }
    run->dirfd = openat(spool->dirfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (run->dirfd < 0) {
        rc = -errno;
        goto fail_rmdir;
    }
    run->lockfd = openat(run->dirfd, SP_SPOOL_LOCK_NAME,
                         O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, SP_SPOOL_FILE_MODE);
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
            snprintf(run->name, sizeof run->name, SP_SPOOL_RUN_PREFIX "%ld-%lld-%d",
                     (long)getpid(), start, k);
        /* rename(2) replaces an empty directory of that name: harmless, since a live run's
         * folder always holds its lock file. A non-empty one fails and we try the next. */
        if (renameat(spool->dirfd, tmp, spool->dirfd, run->name) == 0) break;
        if ((errno != EEXIST && errno != ENOTEMPTY) || k >= SP_SPOOL_RUN_NAME_TRIES) {
            rc = -errno;
            goto fail_rmdir;
        }
    }
    if (fsync(spool->dirfd) < 0 && errno != EINVAL) {
        /* The folder exists and is locked; only its durability is in doubt: keep going. */
        SP_DEBUG("spool: fsync of %s after creating %s: %s", spool->dir, run->name,
                 strerror(errno));
    }
    *out = run;
    return 0;

fail_rmdir:
    if (run->lockfd >= 0) unlinkat(run->dirfd, SP_SPOOL_LOCK_NAME, 0);
    unlinkat(spool->dirfd, tmp, AT_REMOVEDIR);
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
    if (!valid_name(name)) return false;
    int k = snprintf(buf, len, SP_SPOOL_OPEN_PREFIX "%s", name);
    return k > 0 && (size_t)k < len && (size_t)k < SP_SPOOL_NAME_MAX;
}

int sp_spool_run_commit(sp_spool_run_t *run, const char *name, const void *data, size_t len)
{
    char full[NAME_MAX + 1];
    if (!run || !open_name(full, sizeof full, name) || (!data && len)) return -EINVAL;
    return commit_at(run->spool, run->dirfd, full, data, len);
}

/* Moves open-<name> (in run folder rfd) to ready/<name>. */
static int publish_at(sp_spool_t *spool, int rfd, int readyfd, const char *full)
{
    const char *name = full + strlen(SP_SPOOL_OPEN_PREFIX);
    if (!valid_name(name)) return -EINVAL;
    if (renameat(rfd, full, readyfd, name) < 0) return -errno;
    /* Lost in a crash, the rename leaves the file in the run folder, which adopt publishes. */
    fsync(readyfd);
    return 0;
}

int sp_spool_run_publish(sp_spool_run_t *run, const char *name)
{
    char full[NAME_MAX + 1];
    if (!run || !open_name(full, sizeof full, name)) return -EINVAL;
    int readyfd = open_sub(run->spool, SP_SPOOL_READY);
    if (readyfd < 0) return readyfd;
    int rc = publish_at(run->spool, run->dirfd, readyfd, full);
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
    if (!run || !sp_batch_is_name(name) || !open_name(full, sizeof full, name) || !data || !len ||
        len > SP_BATCH_RECORD_MAX)
        return -EINVAL;
    if (run->batch_fd >= 0 && strcmp(run->batch, full) != 0) batch_close(run, true);
    if (run->batch_fd < 0) {
        /* Never recreated over an existing one: that would drop its records. */
        if (faccessat(run->dirfd, full, F_OK, AT_SYMLINK_NOFOLLOW) == 0) return -EEXIST;
        /* Created like every spool file (temp name, fsync, rename), holding just the header:
         * the batch exists whole or not at all. */
        int rc = commit_at(run->spool, run->dirfd, full, SP_BATCH_HEADER, sizeof SP_BATCH_HEADER - 1);
        if (rc < 0) return rc;
        run->batch_fd = openat(run->dirfd, full, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
        if (run->batch_fd < 0) return -errno;
        run->batch_size = (off_t)(sizeof SP_BATCH_HEADER - 1);
        snprintf(run->batch, sizeof run->batch, "%s", full);
    }
    char head[24];
    size_t hl = sp_batch_record_head(head, len);
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

int sp_spool_ready_commit(sp_spool_t *spool, const char *name, const void *data, size_t len)
{
    if (!spool || !valid_name(name) || (!data && len)) return -EINVAL;
    int readyfd = open_sub(spool, SP_SPOOL_READY);
    if (readyfd < 0) return readyfd;
    int rc = commit_at(spool, readyfd, name, data, len);
    close(readyfd);
    return rc;
}

/* The hidden name a split file is written under until sp_spool_ready_sync publishes it:
 * readers (other uploaders' walks, eviction) skip dot names, so nobody can claim or delete
 * it before it is durable. */
static bool split_tmp(char *buf, size_t len, const char *name)
{
    int k = snprintf(buf, len, SP_SPOOL_TMP_PREFIX "%ld-split-%s", (long)getpid(), name);
    return k > 0 && (size_t)k < len;
}

int sp_spool_ready_write(sp_spool_t *spool, const char *name, const void *data, size_t len)
{
    char tmp[NAME_MAX + 1];
    if (!spool || !valid_name(name) || (!data && len) || !split_tmp(tmp, sizeof tmp, name)) return -EINVAL;
    int readyfd = open_sub(spool, SP_SPOOL_READY);
    if (readyfd < 0) return readyfd;
    int rc = 0;
    int fd = openat(readyfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, SP_SPOOL_FILE_MODE);
    if (fd < 0) rc = -errno;
    if (rc == 0) rc = write_all(fd, data, len);
    /* Start the writeback now, so that the fsyncs of sp_spool_ready_sync find the data on
     * its way and one journal commit covers many files. */
    if (rc == 0) sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    if (fd >= 0 && close(fd) < 0 && errno != EINTR && rc == 0) rc = -errno;
    if (rc < 0) unlinkat(readyfd, tmp, 0);
    close(readyfd);
    return rc;
}

int sp_spool_ready_sync(sp_spool_t *spool, const char *const *names, size_t n, bool publish)
{
    if (!spool || (!names && n)) return -EINVAL;
    int readyfd = open_sub(spool, SP_SPOOL_READY);
    if (readyfd < 0) return readyfd;
    int rc = 0;
    char tmp[NAME_MAX + 1];
    for (size_t i = 0; i < n && rc == 0 && publish; i++) {
        if (!valid_name(names[i]) || !split_tmp(tmp, sizeof tmp, names[i])) {
            rc = -EINVAL;
            break;
        }
        int fd = openat(readyfd, tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || (fsync(fd) < 0 && errno != EINVAL)) rc = -errno;
        if (fd >= 0) close(fd);
    }
    /* Durable (or given up): publish them under their names, or delete them. */
    size_t published = 0;
    for (size_t i = 0; i < n; i++) {
        if (!valid_name(names[i]) || !split_tmp(tmp, sizeof tmp, names[i])) continue;
        if (rc == 0 && publish) {
            if (renameat(readyfd, tmp, readyfd, names[i]) < 0) rc = -errno;
            else published = i + 1;
        }
        if (rc < 0 || !publish) unlinkat(readyfd, tmp, 0);
    }
    /* A rename failed half-way (a full directory block): take back what went out, so the
     * caller can keep its batch whole. */
    if (rc < 0)
        for (size_t i = 0; i < published; i++) unlinkat(readyfd, names[i], 0);
    if (rc == 0 && publish && fsync(readyfd) < 0 && errno != EINVAL) rc = -errno;
    close(readyfd);
    return rc;
}

int sp_spool_ready_remove(sp_spool_t *spool, const char *name)
{
    if (!spool || !valid_name(name)) return -EINVAL;
    int readyfd = open_sub(spool, SP_SPOOL_READY);
    if (readyfd < 0) return readyfd;
    int rc = unlinkat(readyfd, name, 0) < 0 ? -errno : 0;
    close(readyfd);
    return rc;
}

/* Publishes every open-* file of run folder rfd and deletes its temp files. Returns the
 * number published, or the first negative errno (after trying every file). */
static int drain_run(sp_spool_t *spool, int rfd, int readyfd)
{
    names_t nm;
    int rc = list_names(rfd, SP_SPOOL_OPEN_PREFIX, &nm);
    if (rc < 0) return rc;
    int moved = 0, err = 0;
    for (size_t i = 0; i < nm.n; i++) {
        int r = publish_at(spool, rfd, readyfd, nm.v[i]);
        if (r == 0) moved++;
        else if (r != -ENOENT && !err) err = r; /* ENOENT: someone else moved it */
    }
    names_free(&nm);
    /* A temp file is a commit cut short (its process died, or failed mid-write). */
    if (list_names(rfd, SP_SPOOL_TMP_PREFIX, &nm) == 0) {
        for (size_t i = 0; i < nm.n; i++) unlinkat(rfd, nm.v[i], 0);
        names_free(&nm);
    }
    return err ? err : moved;
}

int sp_spool_run_end(sp_spool_run_t *run)
{
    if (!run) return -EINVAL;
    batch_close(run, true); /* if its fsync fails, its records are still whole for readers */
    int rc = 0;
    int readyfd = open_sub(run->spool, SP_SPOOL_READY);
    if (readyfd < 0) rc = readyfd;
    else {
        int r = drain_run(run->spool, run->dirfd, readyfd);
        close(readyfd);
        if (r < 0) rc = r;
    }
    if (rc == 0) {
        /* Unlink the lock while holding it: an adopter that opened it before gets the lock
         * of an empty, removed folder and finds nothing to do. */
        unlinkat(run->dirfd, SP_SPOOL_LOCK_NAME, 0);
        if (unlinkat(run->spool->dirfd, run->name, AT_REMOVEDIR) < 0) rc = -errno;
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

/* ---- uploader side ---- */

/* Adopts run folder name when its owner is gone. Files moved, 0 when alive, or -errno. */
static int adopt_run(sp_spool_t *spool, int readyfd, const char *name, bool hidden_tmp)
{
    int rfd = openat(spool->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (rfd < 0) return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 0 : -errno;
    int lockfd = lock_file_nb(rfd, SP_SPOOL_LOCK_NAME);
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
    rc = drain_run(spool, rfd, readyfd);
    if (rc >= 0) {
        unlinkat(rfd, SP_SPOOL_LOCK_NAME, 0);
        unlinkat(spool->dirfd, name, AT_REMOVEDIR); /* may race another adopter: harmless */
    }
out:
    if (lockfd >= 0) close(lockfd);
    close(rfd);
    return rc;
}

/* Opens ready/ and sending/ (both or neither). 0 or a negative errno. */
static int open_queue(sp_spool_t *spool, int *readyfd, int *sendfd)
{
    *readyfd = open_sub(spool, SP_SPOOL_READY);
    if (*readyfd < 0) return *readyfd;
    *sendfd = open_sub(spool, SP_SPOOL_SENDING);
    if (*sendfd < 0) {
        close(*readyfd);
        return *sendfd;
    }
    return 0;
}

int sp_spool_adopt(sp_spool_t *spool)
{
    if (!spool) return -EINVAL;
    int readyfd, sendfd, qrc = open_queue(spool, &readyfd, &sendfd);
    if (qrc < 0) return qrc;
    int total = 0, err = 0;
    names_t nm;
    static const char *const prefixes[] = {SP_SPOOL_RUN_PREFIX, SP_SPOOL_RUN_TMP_PREFIX};
    for (size_t p = 0; p < 2; p++) {
        int rc = list_names(spool->dirfd, prefixes[p], &nm);
        if (rc < 0) {
            if (!err) err = rc;
            continue;
        }
        for (size_t i = 0; i < nm.n; i++) {
            int r = adopt_run(spool, readyfd, nm.v[i], p == 1);
            if (r > 0) total += r;
            else if (r < 0 && !err) err = r;
        }
        names_free(&nm);
    }

    /* sending/ files nobody holds: their claimer died between claim and done/release. */
    int rc = list_names(sendfd, "", &nm);
    if (rc < 0 && !err) err = rc;
    for (size_t i = 0; rc == 0 && i < nm.n; i++) {
        int fd = lock_file_nb(sendfd, nm.v[i]);
        if (fd < 0) continue; /* claimed (locked) or gone */
        if (same_file(sendfd, nm.v[i], fd) && renameat(sendfd, nm.v[i], readyfd, nm.v[i]) == 0)
            total++;
        close(fd);
    }
    if (rc == 0) names_free(&nm);
    close(sendfd);
    close(readyfd);
    if (total) SP_DEBUG("spool: adopted %d file(s) in %s", total, spool->dir);
    return total ? total : err;
}

static void claim_reset(sp_spool_claim_t *claim)
{
    claim->fd = -1;
    claim->name[0] = '\0';
    claim->size = 0;
}

/* Claims ready/<name>: lock without waiting, then rename into sending/ holding the lock.
 * 0, or -ENOENT (gone, being claimed, or swapped under us). */
static int claim_one(int readyfd, int sendfd, const char *name, sp_spool_claim_t *claim)
{
    int fd = lock_file_nb(readyfd, name);
    if (fd < 0) return -ENOENT; /* being claimed by someone else, or gone */
    struct stat st;
    /* The lock is on the file we opened; the name must still be that file (a claimer
     * that released it and a publisher of the same name could have swapped it). */
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !same_file(readyfd, name, fd) ||
        renameat(readyfd, name, sendfd, name) < 0) {
        close(fd);
        return -ENOENT;
    }
    if (!same_file(sendfd, name, fd)) {
        /* Swapped between the check and the rename: what we moved is not ours. */
        renameat(sendfd, name, readyfd, name);
        close(fd);
        return -ENOENT;
    }
    claim->fd = fd;
    snprintf(claim->name, sizeof claim->name, "%s", name);
    claim->size = (long long)st.st_size;
    return 0;
}

int sp_spool_claim(sp_spool_t *spool, const char *after, sp_spool_claim_t *claim)
{
    if (!spool || !claim) return -EINVAL;
    claim->spool = spool;
    claim_reset(claim);
    int readyfd, sendfd, qrc = open_queue(spool, &readyfd, &sendfd);
    if (qrc < 0) return qrc;
    names_t nm;
    int rc = list_names(readyfd, "", &nm);
    if (rc < 0) goto out;
    rc = -ENOENT;
    for (size_t i = 0; i < nm.n; i++) {
        const char *name = nm.v[i];
        if ((after && strcmp(name, after) <= 0) || !envelope_name(name)) continue;
        if (claim_one(readyfd, sendfd, name, claim) == 0) {
            rc = 0;
            break;
        }
    }
    names_free(&nm);
out:
    close(sendfd);
    close(readyfd);
    return rc;
}

int sp_spool_claim_name(sp_spool_t *spool, const char *name, sp_spool_claim_t *claim)
{
    if (!spool || !claim || !name || !envelope_name(name)) return -EINVAL;
    claim->spool = spool;
    claim_reset(claim);
    int readyfd, sendfd, qrc = open_queue(spool, &readyfd, &sendfd);
    if (qrc < 0) return qrc;
    int rc = claim_one(readyfd, sendfd, name, claim);
    close(sendfd);
    close(readyfd);
    return rc;
}

int sp_spool_claim_read(const sp_spool_claim_t *claim, size_t max, char **data, size_t *len)
{
    if (!claim) return -EINVAL;
    return sp_spool_read_fd(claim->fd, max, data, len);
}

int sp_spool_read_fd(int fd, size_t max, char **data, size_t *len)
{
    if (fd < 0 || !data || !len) return -EINVAL;
    *data = NULL;
    *len = 0;
    struct stat st;
    if (fstat(fd, &st) < 0) return -errno;
    if (!S_ISREG(st.st_mode)) return -EINVAL;
    if ((unsigned long long)st.st_size > max) return -EFBIG;
    size_t size = (size_t)st.st_size, n = 0;
    char *buf = sp_mem_alloc(size + 1);
    if (!buf) return -ENOMEM;
    while (n < size) {
        ssize_t r = pread(fd, buf + n, size - n, (off_t)n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int rc = -errno;
            sp_mem_free(buf);
            return rc;
        }
        if (r == 0) break; /* shorter than fstat said: files here are never truncated */
        n += (size_t)r;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

/* Ends a claim: optional move back to ready/, else unlink; closing releases the lock. */
static int claim_end(sp_spool_claim_t *claim, bool release)
{
    if (!claim || claim->fd < 0 || !claim->spool) return -EINVAL;
    int rc = 0;
    int sendfd = open_sub(claim->spool, SP_SPOOL_SENDING);
    if (sendfd < 0) rc = sendfd;
    else if (release) {
        int readyfd = open_sub(claim->spool, SP_SPOOL_READY);
        if (readyfd < 0) rc = readyfd;
        else if (renameat(sendfd, claim->name, readyfd, claim->name) < 0) rc = -errno;
        if (readyfd >= 0) close(readyfd);
    } else if (unlinkat(sendfd, claim->name, 0) < 0) {
        rc = -errno;
    }
    if (sendfd >= 0) close(sendfd);
    close(claim->fd);
    claim_reset(claim);
    return rc;
}

int sp_spool_claim_done(sp_spool_claim_t *claim) { return claim_end(claim, false); }
int sp_spool_claim_release(sp_spool_claim_t *claim) { return claim_end(claim, true); }

/* Adds the sizes of dirfd's regular entries with the given prefix to *total. */
static void add_sizes(int dirfd, const char *prefix, unsigned long long *total)
{
    names_t nm;
    if (list_names(dirfd, prefix, &nm) < 0) return;
    for (size_t i = 0; i < nm.n; i++) {
        struct stat st;
        if (fstatat(dirfd, nm.v[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            *total += (unsigned long long)st.st_size;
    }
    names_free(&nm);
}

int sp_spool_enforce_cap(sp_spool_t *spool, unsigned long long max_bytes, sp_spool_evict_fn fn,
                         void *ctx)
{
    if (!spool) return -EINVAL;
    int readyfd = open_sub(spool, SP_SPOOL_READY);
    if (readyfd < 0) return readyfd;
    unsigned long long total = 0;
    int fd = open_sub(spool, SP_SPOOL_SENDING);
    if (fd >= 0) {
        add_sizes(fd, "", &total);
        close(fd);
    }
    names_t runs;
    if (list_names(spool->dirfd, SP_SPOOL_RUN_PREFIX, &runs) == 0) {
        for (size_t i = 0; i < runs.n; i++) {
            int rfd = openat(spool->dirfd, runs.v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (rfd < 0) continue;
            add_sizes(rfd, SP_SPOOL_OPEN_PREFIX, &total);
            close(rfd);
        }
        names_free(&runs);
    }
    names_t nm;
    int rc = list_names(readyfd, "", &nm);
    if (rc < 0) {
        close(readyfd);
        return rc;
    }
    unsigned long long *sizes = sp_mem_calloc(nm.n ? nm.n : 1, sizeof *sizes);
    if (!sizes) {
        names_free(&nm);
        close(readyfd);
        return -ENOMEM;
    }
    for (size_t i = 0; i < nm.n; i++) {
        struct stat st;
        if (fstatat(readyfd, nm.v[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            sizes[i] = (unsigned long long)st.st_size;
        total += sizes[i];
    }
    int evicted = 0;
    for (size_t i = 0; i < nm.n && total > max_bytes; i++) { /* oldest first */
        if (!envelope_name(nm.v[i])) continue;
        int lfd = lock_file_nb(readyfd, nm.v[i]);
        if (lfd < 0) continue; /* being claimed: it is leaving ready/ anyway */
        if (same_file(readyfd, nm.v[i], lfd)) {
            if (fn) fn(nm.v[i], lfd, ctx);
            if (unlinkat(readyfd, nm.v[i], 0) == 0) {
                total -= sizes[i] < total ? sizes[i] : total;
                evicted++;
            }
        }
        close(lfd);
    }
    if (evicted) SP_DEBUG("spool: evicted %d file(s) to stay under %llu bytes", evicted, max_bytes);
    sp_mem_free(sizes);
    names_free(&nm);
    close(readyfd);
    return evicted;
}

int sp_spool_ready_stats(sp_spool_t *spool, unsigned long *files, unsigned long long *bytes)
{
    if (!spool) return -EINVAL;
    int readyfd = open_sub(spool, SP_SPOOL_READY);
    if (readyfd < 0) return readyfd;
    names_t nm;
    int rc = list_names(readyfd, "", &nm);
    if (rc == 0) {
        unsigned long long b = 0;
        for (size_t i = 0; i < nm.n; i++) {
            struct stat st;
            if (fstatat(readyfd, nm.v[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
                b += (unsigned long long)st.st_size;
        }
        if (files) *files = (unsigned long)nm.n;
        if (bytes) *bytes = b;
        names_free(&nm);
    }
    close(readyfd);
    return rc;
}

/* ---- state.json ---- */

static json_t *state_new(void)
{
    return json_pack("{s:i}", "version", SP_SPOOL_STATE_VERSION);
}

/* Reads state.json; anything missing, too large or malformed reads as a fresh state. */
static int state_load(sp_spool_t *spool, json_t **out)
{
    *out = NULL;
    json_t *st = NULL;
    int fd = openat(spool->dirfd, SP_SPOOL_STATE_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
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
                 spool->dir, SP_SPOOL_STATE_VERSION);
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
    int fd = openat(spool->dirfd, SP_SPOOL_STATE_LOCK_NAME,
                    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, SP_SPOOL_FILE_MODE);
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
            if (!buf) rc = -ENOMEM;
            else if (len > SP_SPOOL_STATE_MAX) rc = -EFBIG; /* would not be read back */
            else rc = commit_at(spool, spool->dirfd, SP_SPOOL_STATE_NAME, buf, len);
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
        if (!(arr = json_array()) || json_object_set_new(state, "discards", arr) < 0) return -ENOMEM;
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
