/* mapfile: V8's /tmp/perf-<pid>.map as a file we create for V8 (the fopen interposer hands
 * V8 our FILE*), the record of the maps we created, and the sweep of the maps that killed
 * processes left behind (issue #20, items 1 and 13). */
#ifndef SP_MAPFILE_H
#define SP_MAPFILE_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum {
    SP_MAPFILE_NONE = 0, /* V8 has not opened the map (yet) */
    SP_MAPFILE_OURS,     /* we created it, O_EXCL, mode 0600 */
    SP_MAPFILE_REFUSED,  /* the path held something not ours: V8 writes to a temp file */
};

/* Opens path (this process's perf map) for V8 instead of fopen(path, mode). The first
 * open creates the file O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, replacing only a stale
 * regular file of our own; anything else at the path (a symlink, FIFO, another user's
 * file) is never touched: V8 gets an unnamed temporary file (V8 aborts on NULL and on
 * /dev/null) and one warning is printed. Later opens (Node 18 opens it once per isolate)
 * append to the file we created, or get that temporary file.
 * ours_to_sweep: we asked V8 for the map (not the user), so sp_mapfile_track records it
 * for the sweep. Any thread; NULL only when not even a temporary file can be created. */
FILE *sp_mapfile_open(const char *path, const char *mode, bool ours_to_sweep);
/* Agent thread: empties the temporary file V8 writes to when the map was refused. */
void sp_mapfile_trim(void);
/* Agent thread: gives the file system back the blocks of the map's first `read` bytes,
 * which the agent has parsed and will not read again (a hole punched in place: V8 keeps
 * writing at its offset, the size is unchanged). Only for a map we created for our own
 * flag (nobody else reads it; it is removed at exit): worker churn writes ~40 KB of map
 * per worker, and /tmp is often memory. In steps of at least 1 MiB; stops for good where
 * the file system cannot punch holes. */
void sp_mapfile_release(uint64_t read);
/* SP_MAPFILE_* for this process. */
int sp_mapfile_state(void);

/* Any thread, just before this process gives up root for uid (setuid and its kin,
 * interposed: issue #20 item 3): hands the map we created to uid, so the process can still
 * remove it at exit (a root-owned file in sticky /tmp is not the dropped process's to
 * unlink). Nothing when the map is not ours or we are not root. */
void sp_mapfile_give_to(unsigned uid);
/* Agent thread. Records the map we created (once) under <spool_dir>/perfmaps/<pid>, so a
 * later process can remove it if this one dies without doing so. */
void sp_mapfile_track(const char *spool_dir);
/* Agent thread, at exit: removes the map if it is still the file we created, and its
 * record. */
void sp_mapfile_remove(const char *spool_dir);
/* Agent thread, at start: removes the maps recorded under <spool_dir>/perfmaps/ whose
 * process is gone (kill(pid, 0) == ESRCH) and that are still the file recorded (regular,
 * ours, same device and inode), and their records; at most max records. Returns the
 * number of maps removed. map_dir: where the maps are ("/tmp"; tests may pass another). */
int sp_mapfile_sweep(const char *spool_dir, const char *map_dir, int max);
#endif
