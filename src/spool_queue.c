/* spool_queue: the upload queue, ready/ and sending/ (API in spool_queue.h).
 *
 * Owns: nothing beyond the fds of one call and a claim's fd (flock(LOCK_EX) on the file it
 * claimed, in sending/). Threads: the CLI (adopt, claim, split, cap) and the profiled
 * process's background thread (the cap); any number of processes at once. Never called
 * from the signal handler. Environment: none.
 * Rules: every move is a rename within the spool; a file is claimed by taking its lock
 * without waiting and renaming it into sending/ while holding it, and a lock that can be
 * taken means its holder is gone. Why claim checks the inode around its rename: the lock
 * is on the file it opened; the name must still be that file.
 */
#ifndef _GNU_SOURCE /* configure's AC_USE_SYSTEM_EXTENSIONS may already pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE /* sync_file_range */
#endif
#include "spool_queue.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fsio.h"
#include "log.h"
#include "mem.h"
#include "spool_int.h"
#include "spool_run.h"

/* An envelope file name: what claim and eviction consider (nothing else is ours to send or
 * delete). */
static bool envelope_name(const char *name)
{
    size_t n = strlen(name), m = strlen(SP_SPOOL_SUFFIX);
    return sp_spool_valid_name(name) &&
           ((n > m && strcmp(name + n - m, SP_SPOOL_SUFFIX) == 0) || sp_spool_run_is_batch(name));
}

/* An entry of ready/ an uploader can claim: an envelope name on a regular file (lstat: a
 * symlink is not one). Its size in *size. Nothing is opened (a FIFO would block). */
static bool envelope_file(int readyfd, const char *name, unsigned long long *size)
{
    struct stat st;
    *size = 0;
    if (!envelope_name(name) || fstatat(readyfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        !S_ISREG(st.st_mode))
        return false;
    *size = (unsigned long long)st.st_size;
    return true;
}

/* A file no uploader will ever send: over the size it would send (delivery.c drops it when
 * claimed; until then it must not push valid files out of the cap). */
static bool unsendable_size(const char *name, unsigned long long size)
{
    return size > (sp_spool_run_is_batch(name) ? SP_SPOOL_QUEUE_MAX_BATCH : SP_SPOOL_QUEUE_MAX_FILE);
}

int sp_spool_queue_commit(sp_spool_t *spool, const char *name, const void *data, size_t len)
{
    if (!spool || !sp_spool_valid_name(name) || (!data && len)) return -EINVAL;
    int readyfd = sp_spool_open_sub(spool, SP_SPOOL_READY);
    if (readyfd < 0) return readyfd;
    int rc = sp_spool_write_at(spool, readyfd, name, data, len, true);
    close(readyfd);
    return rc;
}

/* The hidden name a split file is written under until sp_spool_queue_sync publishes it:
 * readers (other uploaders' walks, eviction) skip dot names, so nobody can claim or delete
 * it before it is durable. */
static bool split_tmp(char *buf, size_t len, const char *name)
{
    int k = snprintf(buf, len, SP_SPOOL_TMP_PREFIX "%ld-split-%s", (long)getpid(), name);
    return k > 0 && (size_t)k < len;
}

int sp_spool_queue_write(sp_spool_t *spool, const char *name, const void *data, size_t len)
{
    char tmp[NAME_MAX + 1];
    if (!spool || !sp_spool_valid_name(name) || (!data && len) || !split_tmp(tmp, sizeof tmp, name))
        return -EINVAL;
    int readyfd = sp_spool_open_sub(spool, SP_SPOOL_READY);
    if (readyfd < 0) return readyfd;
    int rc = 0;
    int fd = openat(readyfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                    SP_FSIO_FILE_MODE);
    if (fd < 0) rc = -errno;
    if (rc == 0) rc = sp_fsio_write_all(fd, data, len);
    /* Start the writeback now, so that the fsyncs of sp_spool_queue_sync find the data on
     * its way and one journal commit covers many files. */
    if (rc == 0) sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    if (fd >= 0 && close(fd) < 0 && errno != EINTR && rc == 0) rc = -errno;
    if (rc < 0) unlinkat(readyfd, tmp, 0);
    close(readyfd);
    return rc;
}

int sp_spool_queue_sync(sp_spool_t *spool, const char *const *names, size_t n, bool publish)
{
    if (!spool || (!names && n)) return -EINVAL;
    int readyfd = sp_spool_open_sub(spool, SP_SPOOL_READY);
    if (readyfd < 0) return readyfd;
    int rc = 0;
    char tmp[NAME_MAX + 1];
    for (size_t i = 0; i < n && rc == 0 && publish; i++) {
        if (!sp_spool_valid_name(names[i]) || !split_tmp(tmp, sizeof tmp, names[i])) {
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
        if (!sp_spool_valid_name(names[i]) || !split_tmp(tmp, sizeof tmp, names[i])) continue;
        if (rc == 0 && publish) {
            if (renameat(readyfd, tmp, readyfd, names[i]) < 0)
                rc = -errno;
            else
                published = i + 1;
        }
        if (rc < 0 || !publish) unlinkat(readyfd, tmp, 0);
    }
    if (rc == 0 && publish && fsync(readyfd) < 0 && errno != EINVAL) rc = -errno;
    /* A rename failed half-way (a full directory block), or the directory could not be made
     * durable: take back what went out, so the caller can keep its batch whole (published
     * and kept, they would be sent twice). */
    if (rc < 0)
        for (size_t i = 0; i < published; i++) unlinkat(readyfd, names[i], 0);
    close(readyfd);
    return rc;
}

int sp_spool_queue_remove(sp_spool_t *spool, const char *name)
{
    if (!spool || !sp_spool_valid_name(name)) return -EINVAL;
    int readyfd = sp_spool_open_sub(spool, SP_SPOOL_READY);
    if (readyfd < 0) return readyfd;
    int rc = unlinkat(readyfd, name, 0) < 0 ? -errno : 0;
    close(readyfd);
    return rc;
}

/* Opens ready/ and sending/ (both or neither). 0 or a negative errno. */
static int open_queue(sp_spool_t *spool, int *readyfd, int *sendfd)
{
    *readyfd = sp_spool_open_sub(spool, SP_SPOOL_READY);
    if (*readyfd < 0) return *readyfd;
    *sendfd = sp_spool_open_sub(spool, SP_SPOOL_SENDING);
    if (*sendfd < 0) {
        close(*readyfd);
        return *sendfd;
    }
    return 0;
}

int sp_spool_queue_adopt(sp_spool_t *spool)
{
    if (!spool) return -EINVAL;
    int readyfd, sendfd, qrc = open_queue(spool, &readyfd, &sendfd);
    if (qrc < 0) return qrc;
    int total = 0, err = 0;
    sp_fsio_names_t nm;
    static const char *const prefixes[] = {SP_SPOOL_RUN_PREFIX, SP_SPOOL_RUN_TMP_PREFIX};
    for (size_t p = 0; p < 2; p++) {
        int rc = sp_fsio_list(sp_spool_dirfd(spool), prefixes[p], &nm);
        if (rc < 0) {
            if (!err) err = rc;
            continue;
        }
        for (size_t i = 0; i < nm.n; i++) {
            int r = sp_spool_run_adopt(spool, readyfd, nm.v[i], p == 1);
            if (r > 0)
                total += r;
            else if (r < 0 && !err)
                err = r;
        }
        sp_fsio_names_free(&nm);
    }

    /* sending/ files nobody holds: their claimer died between claim and done/release. */
    int rc = sp_fsio_list(sendfd, "", &nm);
    if (rc < 0 && !err) err = rc;
    for (size_t i = 0; rc == 0 && i < nm.n; i++) {
        int fd = sp_fsio_lock_nb(sendfd, nm.v[i]);
        if (fd < 0) continue; /* claimed (locked) or gone */
        if (sp_fsio_same_file(sendfd, nm.v[i], fd) &&
            renameat(sendfd, nm.v[i], readyfd, nm.v[i]) == 0)
            total++;
        close(fd);
    }
    if (rc == 0) sp_fsio_names_free(&nm);
    close(sendfd);
    close(readyfd);
    if (total) SP_DEBUG("spool: adopted %d file(s) in %s", total, sp_spool_dir(spool));
    return total ? total : err;
}

static void claim_reset(sp_spool_queue_claim_t *claim)
{
    claim->fd = -1;
    claim->name[0] = '\0';
    claim->size = 0;
}

/* Claims ready/<name>: lock without waiting, then rename into sending/ holding the lock.
 * 0, or -ENOENT (gone, being claimed, or swapped under us). */
static int claim_one(int readyfd, int sendfd, const char *name, sp_spool_queue_claim_t *claim)
{
    int fd = sp_fsio_lock_nb(readyfd, name);
    if (fd < 0) return -ENOENT; /* being claimed by someone else, or gone */
    struct stat st;
    /* The lock is on the file we opened; the name must still be that file (a claimer
     * that released it and a publisher of the same name could have swapped it). */
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !sp_fsio_same_file(readyfd, name, fd) ||
        renameat(readyfd, name, sendfd, name) < 0) {
        close(fd);
        return -ENOENT;
    }
    if (!sp_fsio_same_file(sendfd, name, fd)) {
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

int sp_spool_queue_claim(sp_spool_t *spool, const char *after, sp_spool_queue_claim_t *claim)
{
    if (!spool || !claim) return -EINVAL;
    claim->spool = spool;
    claim_reset(claim);
    int readyfd, sendfd, qrc = open_queue(spool, &readyfd, &sendfd);
    if (qrc < 0) return qrc;
    sp_fsio_names_t nm;
    int rc = sp_fsio_list(readyfd, "", &nm);
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
    sp_fsio_names_free(&nm);
out:
    close(sendfd);
    close(readyfd);
    return rc;
}

void sp_spool_queue_walk_init(sp_spool_queue_walk_t *w, sp_spool_t *spool)
{
    *w = (sp_spool_queue_walk_t){.spool = spool};
}

void sp_spool_queue_walk_free(sp_spool_queue_walk_t *w)
{
    if (w->listed) sp_fsio_names_free(&w->nm);
    w->listed = false;
}

int sp_spool_queue_walk_claim(sp_spool_queue_walk_t *w, const char *after, sp_spool_queue_claim_t *claim)
{
    if (!w || !w->spool || !claim) return -EINVAL;
    claim->spool = w->spool;
    claim_reset(claim);
    for (;;) {
        if (!w->listed) {
            int readyfd = sp_spool_open_sub(w->spool, SP_SPOOL_READY);
            if (readyfd < 0) return readyfd;
            int rc = sp_fsio_list(readyfd, "", &w->nm);
            close(readyfd);
            if (rc < 0) return rc;
            w->listed = true;
            w->claimed = false;
            w->next = 0;
        }
        while (w->next < w->nm.n) {
            const char *name = w->nm.v[w->next++];
            if ((after && strcmp(name, after) <= 0) || !envelope_name(name)) continue;
            int rc = sp_spool_queue_claim_name(w->spool, name, claim);
            if (rc == 0) {
                w->claimed = true;
                return 0;
            }
            if (rc != -ENOENT) return rc;
        }
        bool again = w->claimed; /* else: all gone or claimed by others */
        sp_spool_queue_walk_free(w);
        if (!again) return -ENOENT;
    }
}

int sp_spool_queue_claim_name(sp_spool_t *spool, const char *name, sp_spool_queue_claim_t *claim)
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

int sp_spool_queue_claim_read(const sp_spool_queue_claim_t *claim, size_t max, char **data,
                              size_t *len)
{
    if (!claim) return -EINVAL;
    return sp_fsio_read_fd(claim->fd, max, data, len);
}

/* Ends a claim: optional move back to ready/, else unlink; closing releases the lock. */
static int claim_end(sp_spool_queue_claim_t *claim, bool release)
{
    if (!claim || claim->fd < 0 || !claim->spool) return -EINVAL;
    int rc = 0;
    int sendfd = sp_spool_open_sub(claim->spool, SP_SPOOL_SENDING);
    if (sendfd < 0)
        rc = sendfd;
    else if (release) {
        int readyfd = sp_spool_open_sub(claim->spool, SP_SPOOL_READY);
        if (readyfd < 0)
            rc = readyfd;
        else if (renameat(sendfd, claim->name, readyfd, claim->name) < 0)
            rc = -errno;
        if (readyfd >= 0) close(readyfd);
    } else if (unlinkat(sendfd, claim->name, 0) < 0) {
        rc = -errno;
    }
    if (sendfd >= 0) close(sendfd);
    close(claim->fd);
    claim_reset(claim);
    return rc;
}

int sp_spool_queue_claim_done(sp_spool_queue_claim_t *claim) { return claim_end(claim, false); }
int sp_spool_queue_claim_release(sp_spool_queue_claim_t *claim) { return claim_end(claim, true); }

/* The extended attribute holding a claimed batch's progress. */
#define SP_SPOOL_QUEUE_PROGRESS_XATTR "user.sentryprof.sent"

size_t sp_spool_queue_claim_progress(const sp_spool_queue_claim_t *claim)
{
    char buf[24];
    ssize_t n = fgetxattr(claim->fd, SP_SPOOL_QUEUE_PROGRESS_XATTR, buf, sizeof buf - 1);
    if (n <= 0) return 0;
    buf[n] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    return errno || *end || v > SIZE_MAX ? 0 : (size_t)v;
}

int sp_spool_queue_claim_set_progress(const sp_spool_queue_claim_t *claim, size_t n)
{
    char buf[24];
    int k = snprintf(buf, sizeof buf, "%zu", n);
    return fsetxattr(claim->fd, SP_SPOOL_QUEUE_PROGRESS_XATTR, buf, (size_t)k, 0) < 0 ? -errno : 0;
}

int sp_spool_queue_enforce_cap(sp_spool_t *spool, unsigned long long max_bytes,
                               sp_spool_queue_evict_fn fn, void *ctx)
{
    if (!spool) return -EINVAL;
    int readyfd = sp_spool_open_sub(spool, SP_SPOOL_READY);
    if (readyfd < 0) return readyfd;
    unsigned long long total = 0;
    int fd = sp_spool_open_sub(spool, SP_SPOOL_SENDING);
    if (fd >= 0) {
        sp_fsio_add_sizes(fd, "", &total);
        close(fd);
    }
    sp_fsio_names_t runs;
    if (sp_fsio_list(sp_spool_dirfd(spool), SP_SPOOL_RUN_PREFIX, &runs) == 0) {
        for (size_t i = 0; i < runs.n; i++) {
            int rfd = openat(sp_spool_dirfd(spool), runs.v[i],
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (rfd < 0) continue;
            sp_fsio_add_sizes(rfd, SP_SPOOL_OPEN_PREFIX, &total);
            close(rfd);
        }
        sp_fsio_names_free(&runs);
    }
    sp_fsio_names_t nm;
    int rc = sp_fsio_list(readyfd, "", &nm);
    if (rc < 0) {
        close(readyfd);
        return rc;
    }
    unsigned long long *sizes = sp_mem_calloc(nm.n ? nm.n : 1, sizeof *sizes);
    if (!sizes) {
        sp_fsio_names_free(&nm);
        close(readyfd);
        return -ENOMEM;
    }
    bool *ours = sp_mem_calloc(nm.n ? nm.n : 1, sizeof *ours);
    if (!ours) {
        sp_mem_free(sizes);
        sp_fsio_names_free(&nm);
        close(readyfd);
        return -ENOMEM;
    }
    /* Only envelope files count: a stray entry is not ours to delete, and counting it would
     * evict every valid file and stay over the cap (the upload moves it aside). */
    for (size_t i = 0; i < nm.n; i++) {
        ours[i] = envelope_file(readyfd, nm.v[i], &sizes[i]);
        total += sizes[i];
    }
    int evicted = 0;
    /* Pass 0: files too large to be ever sent (one 1 GB file must not evict every valid
     * file before itself); pass 1: the oldest first. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < nm.n && total > max_bytes; i++) {
            if (!ours[i]) continue;
            bool big = unsendable_size(nm.v[i], sizes[i]);
            if (pass == 0 && !big) continue;
            int lfd = sp_fsio_lock_nb(readyfd, nm.v[i]);
            if (lfd < 0) continue; /* being claimed: it is leaving ready/ anyway */
            if (sp_fsio_same_file(readyfd, nm.v[i], lfd)) {
                if (fn) fn(nm.v[i], lfd, big, ctx);
                if (unlinkat(readyfd, nm.v[i], 0) == 0) {
                    total -= sizes[i] < total ? sizes[i] : total;
                    evicted++;
                    ours[i] = false;
                }
            }
            close(lfd);
        }
    }
    sp_mem_free(ours);
    if (evicted) SP_DEBUG("spool: evicted %d file(s) to stay under %llu bytes", evicted, max_bytes);
    sp_mem_free(sizes);
    sp_fsio_names_free(&nm);
    close(readyfd);
    return evicted;
}

int sp_spool_queue_stats(sp_spool_t *spool, unsigned long *files, unsigned long long *bytes)
{
    if (!spool) return -EINVAL;
    int readyfd = sp_spool_open_sub(spool, SP_SPOOL_READY);
    if (readyfd < 0) return readyfd;
    sp_fsio_names_t nm;
    int rc = sp_fsio_list(readyfd, "", &nm);
    if (rc == 0) {
        /* Envelope files only: a stray entry counted here kept every upload waiting for it
         * until its timeout, and the profiled process's uploader retrying forever. */
        unsigned long long b = 0, size;
        unsigned long n = 0;
        for (size_t i = 0; i < nm.n; i++) {
            if (!envelope_file(readyfd, nm.v[i], &size)) continue;
            n++;
            b += size;
        }
        if (files) *files = n;
        if (bytes) *bytes = b;
        sp_fsio_names_free(&nm);
    }
    close(readyfd);
    return rc;
}

/* What a stray entry is, from lstat (for the warning). */
/* renameat2(..., RENAME_NOREPLACE) by its system call: musl has no wrapper (glibc's is the
 * same call). -1 and errno EINVAL on a filesystem without NOREPLACE. */
static int rename_noreplace(int olddirfd, const char *oldname, int newdirfd, const char *newname)
{
    return (int)syscall(SYS_renameat2, olddirfd, oldname, newdirfd, newname, 1 /* RENAME_NOREPLACE */);
}

static const char *entry_kind(int dirfd, const char *name)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return "gone";
    switch (st.st_mode & S_IFMT) {
    case S_IFREG: return "a file without an envelope name";
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO";
    case S_IFLNK: return "a symlink";
    case S_IFSOCK: return "a socket";
    default: return "a device";
    }
}

int sp_spool_queue_set_aside(sp_spool_t *spool, sp_spool_queue_aside_fn fn, void *ctx)
{
    if (!spool) return -EINVAL;
    int readyfd = sp_spool_open_sub(spool, SP_SPOOL_READY);
    if (readyfd < 0) return readyfd;
    sp_fsio_names_t nm;
    int rc = sp_fsio_list(readyfd, "", &nm);
    if (rc < 0) {
        close(readyfd);
        return rc;
    }
    int strayfd = -1, moved = 0;
    unsigned long long size;
    for (size_t i = 0; i < nm.n; i++) {
        if (envelope_file(readyfd, nm.v[i], &size)) continue;
        if (strayfd < 0 && (strayfd = sp_spool_open_sub(spool, SP_SPOOL_QUEUE_STRAY)) < 0) {
            rc = strayfd;
            break;
        }
        const char *what = entry_kind(readyfd, nm.v[i]);
        /* NOREPLACE: a name already set aside stays as it was (this one is still skipped
         * by claims, stats and the cap). */
        int r = rename_noreplace(readyfd, nm.v[i], strayfd, nm.v[i]);
        if (r < 0 && errno == EINVAL) { /* a filesystem without NOREPLACE */
            struct stat st;
            r = fstatat(strayfd, nm.v[i], &st, AT_SYMLINK_NOFOLLOW) == 0
                    ? -1
                    : renameat(readyfd, nm.v[i], strayfd, nm.v[i]);
        }
        if (r < 0) continue;
        moved++;
        if (fn) fn(nm.v[i], what, ctx);
    }
    if (strayfd >= 0) close(strayfd);
    sp_fsio_names_free(&nm);
    close(readyfd);
    return rc < 0 ? rc : moved;
}
