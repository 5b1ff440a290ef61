/* fsio: the filesystem primitives the spool is built from. Everything goes through a
 * directory fd (openat/renameat/unlinkat, O_NOFOLLOW, O_CLOEXEC), so a directory swapped
 * for a symlink after it was opened cannot redirect a write. Errors are negative errnos.
 * Any thread, never the signal handler (allocates, blocks on I/O). */
#ifndef SP_FSIO_H
#define SP_FSIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SP_FSIO_DIR_MODE  0700 /* every directory we create: owner only */
#define SP_FSIO_FILE_MODE 0600 /* every file we create: owner only */

/* write(2) until all of p is written (EINTR retried; no progress is -EIO). 0 or -errno. */
int sp_fsio_write_all(int fd, const char *p, size_t len);

/* Atomic write of name in dirfd: data goes to tmp (created O_EXCL, so never someone else's
 * file), then with sync: fsync, rename over name, fsync dirfd; without: rename only (the
 * caller makes a set of files durable at once). tmp is unlinked on failure. 0 or -errno. */
int sp_fsio_write_atomic(int dirfd, const char *tmp, const char *name, const void *data, size_t len,
                         bool sync);

/* Opens the directory sub of dirfd (O_NOFOLLOW), creating it (SP_FSIO_DIR_MODE) when
 * missing and create is set. fd or -errno. */
int sp_fsio_open_dir(int dirfd, const char *sub, bool create);

/* Takes name's lock without waiting: an fd holding flock(LOCK_EX) on it, -EWOULDBLOCK
 * when another open file holds it, or another negative errno (-ENOENT ...). */
int sp_fsio_lock_nb(int dirfd, const char *name);

/* Does name in dirfd still refer to the file open as fd? */
bool sp_fsio_same_file(int dirfd, const char *name, int fd);

/* Reads the whole regular file open as fd (from offset 0) into a new sp_mem buffer,
 * NUL-terminated beyond *len. -EFBIG when it is larger than max. 0 or -errno. */
int sp_fsio_read_fd(int fd, size_t max, char **data, size_t *len);

/* A sorted list of directory entries. */
typedef struct {
    char **v;
    size_t n, cap;
} sp_fsio_names_t;

/* The entries of dirfd whose names start with prefix ("" = all but hidden ones), sorted.
 * Hidden names (leading '.') are listed only when prefix itself starts with '.'.
 * 0 (free with sp_fsio_names_free) or -errno (nothing to free). */
int sp_fsio_list(int dirfd, const char *prefix, sp_fsio_names_t *out);
void sp_fsio_names_free(sp_fsio_names_t *nm);

/* Sum of the sizes of dirfd's regular entries whose names start with prefix (as listed by
 * sp_fsio_list), added to *total. */
void sp_fsio_add_sizes(int dirfd, const char *prefix, unsigned long long *total);

bool sp_fsio_has_prefix(const char *s, const char *prefix);

#endif
