/* spool: the on-disk queue of finished envelopes: its directory, and atomic publication of
 * one file into it. One file per envelope (or per batch of envelopes, *.envelopes:
 * spool_run.h), written to a temporary name in the same directory, fsync'd, then renamed into place (readers never
 * see a torn file), directory fsync'd after the rename.
 * The directory is created mode 0700; an existing one is refused (one warning line,
 * -EPERM) when it is a symlink, not a directory, or owned by another user; a mode wider
 * than 0700 is tightened with fchmod. All fds O_CLOEXEC. Background thread and CLI.
 * Default location: ${TMPDIR:-/tmp}/sentryprof-<uid> (SENTRYPROF_SPOOL_DIR overrides).
 *
 * Layout v1 (its modules: spool_run.h the run folders and the batch format, spool_queue.h
 * ready/ and sending/, spool_state.h state.json; fsio.h the primitives under all of them):
 *   <spool>/run-<pid>-<start>/        one per profiled process, which holds flock(LOCK_EX)
 *       lock                          on this file for its lifetime
 *       open-<name>                   a chunk still growing, re-committed atomically, or
 *                                     a batch of envelopes being appended (spool_run.h)
 *   <spool>/ready/<name>              complete envelopes waiting for upload; <name> starts
 *                                     with the unix time, so names sort by age
 *   <spool>/sending/<name>            claimed: its claimer holds flock(LOCK_EX) on it
 *   <spool>/stray/<name>              what an uploader found in ready/ that is not an
 *                                     envelope file (moved aside once, never opened)
 *   <spool>/state.json                uploader state shared by every process (rate limits,
 *   <spool>/state.json.lock           backoff, pending discards), changed under a flock
 *                                     on state.json.lock and replaced atomically
 * A lock that can be taken means its holder is gone (flock dies with the process, also on
 * kill -9): sp_spool_queue_adopt then moves what it left to ready/.
 */
#ifndef SP_SPOOL_H
#define SP_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

#define SP_SPOOL_SUFFIX   ".envelope"
#define SP_SPOOL_NAME_MAX 200 /* file names are shorter than this (temp names must fit NAME_MAX) */

typedef struct sp_spool sp_spool_t;

/* Creates/validates dir and opens it. 0 and *out, or a negative errno (and a warning). */
int sp_spool_open(const char *dir, sp_spool_t **out);
void sp_spool_close(sp_spool_t *spool);
/* The checks of sp_spool_open without creating or changing anything (for readers such as
 * `sentryprof list`): 0 when dir is a directory of ours, -ENOENT (quietly) when missing,
 * else a negative errno after one warning line (-EPERM: a symlink, not a directory, or
 * owned by another user). */
int sp_spool_check(const char *dir);
const char *sp_spool_dir(const sp_spool_t *spool);

/* Atomically publishes data as <dir>/<name>; an existing file of that name is replaced
 * atomically (so a chunk can be re-committed as it grows). name must be a plain file name
 * (no '/', not starting with '.'). 0 or a negative errno (-ENOSPC, -EACCES, ...). */
int sp_spool_commit(sp_spool_t *spool, const char *name, const void *data, size_t len);

/* Removes <dir>/<name>. 0 or negative errno. */
int sp_spool_remove(sp_spool_t *spool, const char *name);

#endif
