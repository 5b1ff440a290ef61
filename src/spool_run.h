/* spool_run: a profiled process's run folder in the spool (layout v1, spool.h), and the
 * batch file format its transaction envelopes are appended to.
 *
 * Batches (*.envelopes).
 * Why: one file per transaction cost ~200 us of agent CPU (create, fsync, rename, two
 * directory fsyncs) against ~9 us for appending to an open file; a service profiling 100
 * transactions a second would pay 2% of a CPU in the filesystem alone. The agent appends each
 * transaction envelope to the run's open batch and seals it (fsync, publish) about once a
 * second; every record is in the page cache as soon as write() returns, so a killed process
 * (kill -9, SIGTERM with no handler) loses none of them.
 *
 * Format v1 (name *.envelopes):
 *   {"sentryprof_envelopes":1}\n          header: the format's version
 *   <N>\n<N bytes: one Sentry envelope>\n  a record, repeated
 * A torn tail (a writer killed mid-record, or a power loss before the seal's fsync) ends
 * the list: readers keep the complete records before it. Pure functions, any thread. */
#ifndef SP_SPOOL_RUN_H
#define SP_SPOOL_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "spool.h"

/* ---- the batch format: pure functions on caller buffers, any thread ---- */

#define SP_BATCH_SUFFIX     ".envelopes"
#define SP_BATCH_HEADER     "{\"sentryprof_envelopes\":1}\n"
#define SP_BATCH_RECORD_MAX (64u << 20) /* a length above this is garbage, not a record */

/* True when name ends in SP_BATCH_SUFFIX. */
bool sp_spool_run_is_batch(const char *name);

/* Writes the "<len>\n" that opens a record into buf (at least 24 bytes). Its length. */
size_t sp_spool_run_record_head(char *buf, size_t len);

typedef struct {
    const char *data;
    size_t len, off;
    bool torn; /* set once the walk stops at an incomplete or malformed record */
} sp_spool_run_reader_t;

/* Starts reading a batch held in memory. 0, or -1 when the header is not format v1. */
int sp_spool_run_reader_init(sp_spool_run_reader_t *r, const char *data, size_t len);
/* The next complete record: 1 with *env and *env_len set (pointing into the buffer), 0 at the end
 * (r->torn says whether bytes were left over). */
int sp_spool_run_reader_next(sp_spool_run_reader_t *r, const char **env, size_t *env_len);

/* ---- the run folder (the profiled process's background thread) ---- */

typedef struct sp_spool_run sp_spool_run_t;

/* Creates <spool>/run-<pid>-<unix time>/ (built under a hidden temp name, so it never appears
 * without its lock), takes flock(LOCK_EX) on its lock file and creates ready/ and sending/.
 * The spool must outlive the run. 0 and *out, or a negative errno. */
int sp_spool_run_begin(sp_spool_t *spool, sp_spool_run_t **out);
/* The run folder's name ("run-<pid>-<start>"). */
const char *sp_spool_run_name(const sp_spool_run_t *run);
/* Atomically writes (or replaces) open-<name> in the run folder: temp file, fsync, rename.
 * name: a plain file name as for sp_spool_commit, at most SP_SPOOL_NAME_MAX - 6 bytes.
 * Safe to call concurrently with sp_spool_queue_adopt in other processes. 0 or a negative errno. */
int sp_spool_run_commit(sp_spool_run_t *run, const char *name, const void *data, size_t len);
/* Closes the chunk: renames open-<name> to ready/<name> (replacing a file of that name).
 * 0, -ENOENT when it was never committed, or a negative errno. */
int sp_spool_run_publish(sp_spool_run_t *run, const char *name);
/* Appends one envelope as a record to the batch open-<name> (name ends in
 * SP_BATCH_SUFFIX, below), creating it atomically with its header on first use; the file
 * stays open for the next append. Appending to another name seals nothing: it closes the
 * previous batch (fsync'd) and leaves it in the run folder. A failed write is cut off again,
 * so the batch stays well-formed; after a failure the caller seals the batch and goes on in
 * a new one (a closed batch is never reopened: -EEXIST). 0 or a negative errno. */
int sp_spool_run_append(sp_spool_run_t *run, const char *name, const void *data, size_t len);
/* Closes the batch: fsync, close, then publish as sp_spool_run_publish. */
int sp_spool_run_seal(sp_spool_run_t *run, const char *name);
/* Deletes open-<name> without publishing it. 0 or a negative errno. */
int sp_spool_run_remove(sp_spool_run_t *run, const char *name);
/* Ends the run: publishes every open-* file, removes the folder, releases the lock and
 * frees run (always, also on error). If a publish fails the folder is left for a later
 * sp_spool_queue_adopt. 0 or the first negative errno. No commit may run concurrently. */
int sp_spool_run_end(sp_spool_run_t *run);
/* Frees run and closes its fds without publishing, removing or unlocking anything: for a
 * fork()ed child, whose inherited lock fd shares the parent's lock (closing our copy does
 * not release it; flock(LOCK_UN) would). */
void sp_spool_run_abandon(sp_spool_run_t *run);

/* ---- for spool_queue: adopting what a dead process left ---- */

/* Adopts the run folder name (in the spool's root) when its process is gone: publishes
 * its open-* files into ready/ (readyfd), deletes its temp files and removes it.
 * hidden_tmp: a folder still being built (".tmp-run-*"), adopted only once older than a
 * minute. The number of files moved, 0 when its process is alive, or a negative errno. */
int sp_spool_run_adopt(sp_spool_t *spool, int readyfd, const char *name, bool hidden_tmp);

#endif
