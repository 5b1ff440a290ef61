/* fsio: filesystem primitives for the spool (API in fsio.h).
 *
 * Owns: nothing but the fds it opens and returns. Threads: the background thread and the
 * CLI; every function is reentrant (no shared state). Never called from the signal handler.
 * Environment: none.
 * Rules: every open is O_CLOEXEC and O_NOFOLLOW (a symlink planted in the spool is never
 * followed); new files are O_EXCL under a temporary name, written, optionally fsync'd, and
 * renamed into place, so readers never see a torn file; the directory is fsync'd after the
 * rename to make it durable. close(2) errors count (NFS reports deferred write errors there).
 */
#ifndef _GNU_SOURCE /* configure's AC_USE_SYSTEM_EXTENSIONS may already pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE
#endif
#include "fsio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* renameat */
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"

int sp_fsio_write_all(int fd, const char *p, size_t len)
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

int sp_fsio_write_atomic(int dirfd, const char *tmp, const char *name, const void *data, size_t len,
                         bool sync)
{
    int rc = 0;
    int fd =
        openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, SP_FSIO_FILE_MODE);
    if (fd < 0) return -errno;

    rc = sp_fsio_write_all(fd, data, len);
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

int sp_fsio_open_dir(int dirfd, const char *sub, bool create)
{
    /* Open first: it exists but once, and the uploader opens ready/ several times per
     * envelope. */
    int fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT || !create) return fd < 0 ? -errno : fd;
    if (mkdirat(dirfd, sub, SP_FSIO_DIR_MODE) < 0 && errno != EEXIST) return -errno;
    fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int sp_fsio_lock_nb(int dirfd, const char *name)
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

bool sp_fsio_same_file(int dirfd, const char *name, int fd)
{
    struct stat a, b;
    if (fstat(fd, &a) < 0 || fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0) return false;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int sp_fsio_read_fd(int fd, size_t max, char **data, size_t *len)
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

bool sp_fsio_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

void sp_fsio_names_free(sp_fsio_names_t *nm)
{
    for (size_t i = 0; i < nm->n; i++) sp_mem_free(nm->v[i]);
    sp_mem_free(nm->v);
    *nm = (sp_fsio_names_t){0};
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends a copy of name to out. 0 or -ENOMEM. */
static int names_push(sp_fsio_names_t *out, const char *name)
{
    if (out->n == out->cap) {
        size_t ncap = out->cap ? out->cap * 2 : 32;
        char **nv = sp_mem_realloc(out->v, ncap * sizeof *nv);
        if (!nv) return -ENOMEM;
        out->v = nv;
        out->cap = ncap;
    }
    if (!(out->v[out->n] = sp_mem_strdup(name))) return -ENOMEM;
    out->n++;
    return 0;
}

int sp_fsio_list(int dirfd, const char *prefix, sp_fsio_names_t *out)
{
    *out = (sp_fsio_names_t){0};
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
    while (rc == 0 && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (nm[0] == '.' && prefix[0] != '.') continue;
        if (!strcmp(nm, ".") || !strcmp(nm, "..") || !sp_fsio_has_prefix(nm, prefix)) continue;
        rc = names_push(out, nm);
    }
    closedir(d);
    if (rc < 0) {
        sp_fsio_names_free(out);
        return rc;
    }
    if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_name);
    return 0;
}

void sp_fsio_add_sizes(int dirfd, const char *prefix, unsigned long long *total)
{
    sp_fsio_names_t nm;
    if (sp_fsio_list(dirfd, prefix, &nm) < 0) return;
    for (size_t i = 0; i < nm.n; i++) {
        struct stat st;
        if (fstatat(dirfd, nm.v[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            *total += (unsigned long long)st.st_size;
    }
    sp_fsio_names_free(&nm);
}
