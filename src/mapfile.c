/* mapfile: owns the creation of this process's /tmp/perf-<pid>.map (V8 asks for it with
 * fopen(path, "w"/"w+"); the fopen interposer in preload.c hands it ours), the records of
 * the maps we created (<spool>/perfmaps/<pid>: "<dev> <ino>") and the sweep of maps left
 * by processes that died without removing theirs.
 *
 * Threads: sp_mapfile_open runs on the thread V8 opens the map from (node's main thread;
 * on Node 18 every worker too); everything else on the agent thread. They share only the
 * atomics below. Reads no environment.
 *
 * Rules (docs/HAZARDS.md §6; issue #20 items 1 and 13):
 * - /tmp is shared with other users: the map is created O_CREAT|O_EXCL|O_NOFOLLOW, mode
 *   0600. Something already at the path is replaced only when it is a regular file owned
 *   by our euid (a stale map of an earlier process with our pid); a symlink, FIFO or
 *   another user's file is never opened, written or removed. V8 aborts on a NULL FILE*
 *   or a non-regular file, so it then gets an unnamed temporary file that the agent keeps
 *   empty: no JS names, one warning.
 * - Only maps we created for our own flag are swept: a map written for the user's own
 *   --perf-basic-prof (a perf session reads it after the process exits) has no record.
 *   The record lives in the spool dir (ours, 0700, owner-checked) rather than in the map
 *   (the perf map format has no comment line) or an xattr (tmpfs drops user xattrs).
 *   It names the inode: a map with our pid that is not that file is left alone.
 * - The sweep is bounded (max records per start) and runs on the agent thread, off the
 *   app's path.
 */
#include "mapfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define SP_MAPFILE_RECORDS "perfmaps"
#define SP_MAPFILE_PATH_MAX 64

static atomic_int state;        /* SP_MAPFILE_* */
static atomic_bool sweepable;   /* we created it for our own flag */
static atomic_bool tracked;     /* its record is written */
static atomic_ullong map_dev, map_ino;
static char map_path[SP_MAPFILE_PATH_MAX]; /* written before state becomes OURS */

int sp_mapfile_state(void) { return atomic_load(&state); }

#define SP_MAPFILE_RELEASE_STEP (1u << 20) /* bytes: one fallocate per MiB read, at most */

static int release_fd = -2;          /* agent thread only; -2 not opened yet, -1 given up */
static uint64_t released;            /* agent thread only: bytes punched out of the map */

void sp_mapfile_release(uint64_t read)
{
    if (release_fd == -1 || atomic_load(&state) != SP_MAPFILE_OURS || !atomic_load(&sweepable)) return;
    uint64_t upto = read & ~(uint64_t)(SP_MAPFILE_RELEASE_STEP - 1);
    uint64_t done = released;
    if (upto <= done) return;
    if (release_fd == -2) { /* the file we created, or nothing */
        int fd = open(map_path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && (fstat(fd, &st) != 0 || (unsigned long long)st.st_dev != atomic_load(&map_dev) ||
                        (unsigned long long)st.st_ino != atomic_load(&map_ino))) {
            close(fd);
            fd = -1;
        }
        release_fd = fd;
        if (fd < 0) return;
    }
    if (fallocate(release_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)done, (off_t)(upto - done)) != 0) {
        if (errno == EINTR) return; /* the next pass tries again */
        SP_DEBUG("perf map %s: cannot punch holes (%s): read parts stay on disk", map_path, strerror(errno));
        close(release_fd);
        release_fd = -1;
        return;
    }
    released = upto;
}

/* What V8 gets when the map cannot be ours. Not /dev/null: V8 aborts unless the file is
 * regular. An unnamed temporary file (tmpfile: O_TMPFILE, or O_EXCL and unlinked), in
 * append mode so that sp_mapfile_trim can keep it empty. One per process; later isolates
 * share it. */
static atomic_int sink_fd = -1;

static FILE *sink(void)
{
    int fd = atomic_load(&sink_fd);
    if (fd >= 0) {
        int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        FILE *f = d >= 0 ? fdopen(d, "a") : NULL;
        if (!f && d >= 0) close(d);
        return f;
    }
    FILE *f = tmpfile();
    if (!f) return NULL;
    int fl = fcntl(fileno(f), F_GETFL);
    if (fl >= 0) fcntl(fileno(f), F_SETFL, fl | O_APPEND);
    fcntl(fileno(f), F_SETFD, FD_CLOEXEC);
    atomic_store(&sink_fd, fileno(f));
    return f;
}

void sp_mapfile_trim(void)
{
    int fd = atomic_load(&sink_fd);
    if (fd >= 0) (void)!ftruncate(fd, 0);
}

static const char *refusal(const struct stat *st)
{
    if (S_ISLNK(st->st_mode)) return "it is a symlink";
    if (!S_ISREG(st->st_mode)) return "it is not a regular file";
    if (st->st_uid != geteuid()) return "it belongs to another user";
    return "it cannot be replaced";
}

FILE *sp_mapfile_open(const char *path, const char *mode, bool ours_to_sweep)
{
    bool plus = strchr(mode, '+') != NULL;
    int acc = plus ? O_RDWR : O_WRONLY;
    if (atomic_load(&state) == SP_MAPFILE_OURS) {
        /* A later isolate (Node 18): append to the file we created, if it still is. */
        int fd = open(path, acc | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            (unsigned long long)st.st_dev == atomic_load(&map_dev) &&
            (unsigned long long)st.st_ino == atomic_load(&map_ino)) {
            FILE *f = fdopen(fd, plus ? "a+" : "a");
            if (f) return f;
        }
        if (fd >= 0) close(fd);
        return sink();
    }
    if (atomic_load(&state) == SP_MAPFILE_REFUSED) return sink();

    const char *why = NULL;
    int fd = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        /* O_APPEND: lines are written whole by one write(2) each, so isolates sharing the
         * file (Node 18) never overwrite each other's lines. */
        fd = open(path, acc | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_APPEND, 0600);
        if (fd >= 0 || errno != EEXIST) break;
        struct stat st;
        if (lstat(path, &st) < 0) continue; /* gone meanwhile: try again */
        if (attempt == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid()) {
            unlink(path); /* an earlier process's map with our pid; retry once */
            continue;
        }
        why = refusal(&st);
        break;
    }
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        FILE *f = fdopen(fd, mode); /* fdopen never truncates: the file is new anyway */
        if (f) {
            snprintf(map_path, sizeof map_path, "%s", path);
            atomic_store(&map_dev, (unsigned long long)st.st_dev);
            atomic_store(&map_ino, (unsigned long long)st.st_ino);
            atomic_store(&sweepable, ours_to_sweep);
            atomic_store(&state, SP_MAPFILE_OURS);
            return f;
        }
    }
    int err = errno;
    if (fd >= 0) {
        close(fd);
        unlink(path); /* we created it: do not leave it behind */
    }
    atomic_store(&state, SP_MAPFILE_REFUSED);
    SP_WARN("not writing V8's perf map %s: %s; JS functions stay unnamed in profiles", path,
            why ? why : strerror(err));
    return sink();
}

/* The records directory in spool_dir, created if needed; -1 when it is not ours. */
static int records_dir(const char *spool_dir, bool create)
{
    if (!spool_dir || !*spool_dir) return -1;
    if (create) mkdir(spool_dir, 0700);
    int d = open(spool_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d < 0) return -1;
    struct stat st;
    if (fstat(d, &st) < 0 || st.st_uid != geteuid()) {
        close(d);
        return -1;
    }
    if (create) mkdirat(d, SP_MAPFILE_RECORDS, 0700);
    int r = openat(d, SP_MAPFILE_RECORDS, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(d);
    if (r < 0) return -1;
    if (fstat(r, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 0022)) {
        close(r);
        return -1;
    }
    return r;
}

void sp_mapfile_track(const char *spool_dir)
{
    if (atomic_load(&tracked) || atomic_load(&state) != SP_MAPFILE_OURS || !atomic_load(&sweepable))
        return;
    atomic_store(&tracked, true); /* one attempt: a spool we cannot write gets no record */
    int r = records_dir(spool_dir, true);
    if (r < 0) {
        SP_DEBUG("cannot record perf map %s in %s/%s: it stays if this process is killed",
                 map_path, spool_dir, SP_MAPFILE_RECORDS);
        return;
    }
    char name[24], text[64];
    snprintf(name, sizeof name, "%d", (int)getpid());
    int n = snprintf(text, sizeof text, "%llu %llu\n", atomic_load(&map_dev), atomic_load(&map_ino));
    int fd = openat(r, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, text, (size_t)n) != n) SP_DEBUG("cannot record perf map %s", map_path);
    if (fd >= 0) close(fd);
    close(r);
}

/* Removes path if it is the regular file of ours with that device and inode. */
static bool remove_if(const char *path, unsigned long long dev, unsigned long long ino)
{
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (unsigned long long)st.st_dev != dev || (unsigned long long)st.st_ino != ino)
        return false;
    return unlink(path) == 0;
}

void sp_mapfile_give_to(unsigned uid)
{
    if (atomic_load(&state) != SP_MAPFILE_OURS || geteuid() != 0) return;
    struct stat st;
    /* Only the file we created (a path swapped since is left alone; the small window
     * between the check and the chown is root's own /tmp entry, 0600, not a link). */
    if (lstat(map_path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
        (unsigned long long)st.st_dev != atomic_load(&map_dev) ||
        (unsigned long long)st.st_ino != atomic_load(&map_ino))
        return;
    if (fchownat(AT_FDCWD, map_path, (uid_t)uid, (gid_t)-1, AT_SYMLINK_NOFOLLOW) < 0)
        SP_DEBUG("cannot hand perf map %s to uid %u: %s", map_path, uid, strerror(errno));
}

void sp_mapfile_remove(const char *spool_dir)
{
    if (atomic_load(&state) != SP_MAPFILE_OURS) return;
    remove_if(map_path, atomic_load(&map_dev), atomic_load(&map_ino));
    if (!atomic_load(&tracked)) return;
    int r = records_dir(spool_dir, false);
    if (r < 0) return;
    char name[24];
    snprintf(name, sizeof name, "%d", (int)getpid());
    unlinkat(r, name, 0);
    close(r);
}

int sp_mapfile_sweep(const char *spool_dir, const char *map_dir, int max)
{
    int r = records_dir(spool_dir, false);
    if (r < 0) return 0;
    int dup_fd = dup(r);
    DIR *dir = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!dir) {
        if (dup_fd >= 0) close(dup_fd);
        close(r);
        return 0;
    }
    int removed = 0, seen = 0;
    struct dirent *de;
    while (seen < max && (de = readdir(dir))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (de->d_name[0] < '1' || de->d_name[0] > '9' || *end || pid <= 0 || pid > INT32_MAX) continue;
        seen++;
        if (pid == getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive */
        char text[64] = "";
        int fd = openat(r, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t n = read(fd, text, sizeof text - 1);
            text[n > 0 ? n : 0] = '\0';
            close(fd);
        }
        unsigned long long dev, ino;
        char path[PATH_MAX];
        if (sscanf(text, "%llu %llu", &dev, &ino) == 2) {
            snprintf(path, sizeof path, "%s/perf-%ld.map", map_dir, pid);
            if (remove_if(path, dev, ino)) {
                removed++;
                SP_DEBUG("removed %s, left by process %ld", path, pid);
            }
        }
        unlinkat(r, de->d_name, 0);
    }
    closedir(dir);
    close(r);
    return removed;
}
