/* spool: the on-disk queue of finished envelopes. One file per envelope (or per batch of
 * envelopes, *.envelopes: batch.h), written to a
 * temporary name in the same directory, fsync'd, then renamed into place (readers never
 * see a torn file), directory fsync'd after the rename.
 * The directory is created mode 0700; an existing one is refused (one warning line,
 * -EPERM) when it is a symlink, not a directory, or owned by another user; a mode wider
 * than 0700 is tightened with fchmod. All fds O_CLOEXEC. Background thread and CLI.
 * Default location: ${TMPDIR:-/tmp}/sentryprof-<uid> (SENTRYPROF_SPOOL_DIR overrides).
 *
 * Layout v1 (the run/ready/sending functions below):
 *   <spool>/run-<pid>-<start>/        one per profiled process, which holds flock(LOCK_EX)
 *       lock                          on this file for its lifetime
 *       open-<name>                   a chunk still growing, re-committed atomically, or
 *                                     a batch of envelopes being appended (batch.h)
 *   <spool>/ready/<name>              complete envelopes waiting for upload; <name> starts
 *                                     with the unix time, so names sort by age
 *   <spool>/sending/<name>            claimed: its claimer holds flock(LOCK_EX) on it
 *   <spool>/state.json                uploader state shared by every process (rate limits,
 *   <spool>/state.json.lock           backoff, pending discards), changed under a flock
 *                                     on state.json.lock and replaced atomically
 * A lock that can be taken means its holder is gone (flock dies with the process, also on
 * kill -9): sp_spool_adopt then moves what it left to ready/.
 */
#ifndef SP_SPOOL_H
#define SP_SPOOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SP_SPOOL_SUFFIX ".envelope"
#define SP_SPOOL_NAME_MAX 200 /* file names are shorter than this (temp names must fit NAME_MAX) */

typedef struct sp_spool sp_spool_t;

/* Fills buf with the default spool dir for this uid. 0 or -ENAMETOOLONG. */
int sp_spool_default_dir(char *buf, size_t len);

/* Creates/validates dir and opens it. 0 and *out, or a negative errno (and a warning). */
int sp_spool_open(const char *dir, sp_spool_t **out);
void sp_spool_close(sp_spool_t *spool);
const char *sp_spool_dir(const sp_spool_t *spool);

/* Atomically publishes data as <dir>/<name>; an existing file of that name is replaced
 * atomically (so a chunk can be re-committed as it grows). name must be a plain file name
 * (no '/', not starting with '.'). 0 or a negative errno (-ENOSPC, -EACCES, ...). */
int sp_spool_commit(sp_spool_t *spool, const char *name, const void *data, size_t len);

/* Removes <dir>/<name>. 0 or negative errno. */
int sp_spool_remove(sp_spool_t *spool, const char *name);

/* ---- layout v1: run folders (the profiled process) ---- */

typedef struct sp_spool_run sp_spool_run_t;

/* Creates <spool>/run-<pid>-<unix time>/ (built under a hidden temp name, so it never appears
 * without its lock), takes flock(LOCK_EX) on its lock file and creates ready/ and sending/.
 * The spool must outlive the run. 0 and *out, or a negative errno. */
int sp_spool_run_begin(sp_spool_t *spool, sp_spool_run_t **out);
/* The run folder's name ("run-<pid>-<start>"). */
const char *sp_spool_run_name(const sp_spool_run_t *run);
/* Atomically writes (or replaces) open-<name> in the run folder: temp file, fsync, rename.
 * name: a plain file name as for sp_spool_commit, at most SP_SPOOL_NAME_MAX - 6 bytes.
 * Safe to call concurrently with sp_spool_adopt in other processes. 0 or a negative errno. */
int sp_spool_run_commit(sp_spool_run_t *run, const char *name, const void *data, size_t len);
/* Closes the chunk: renames open-<name> to ready/<name> (replacing a file of that name).
 * 0, -ENOENT when it was never committed, or a negative errno. */
int sp_spool_run_publish(sp_spool_run_t *run, const char *name);
/* Appends one envelope as a record to the batch open-<name> (name ends in
 * SP_BATCH_SUFFIX, batch.h), creating it atomically with its header on first use; the file
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
 * sp_spool_adopt. 0 or the first negative errno. No commit may run concurrently. */
int sp_spool_run_end(sp_spool_run_t *run);
/* Frees run and closes its fds without publishing, removing or unlocking anything: for a
 * fork()ed child, whose inherited lock fd shares the parent's lock (closing our copy does
 * not release it; flock(LOCK_UN) would). */
void sp_spool_run_abandon(sp_spool_run_t *run);

/* ---- layout v1: the uploader's side (the CLI) ---- */

/* Moves to ready/ every open-* file of each run folder whose lock can be taken (its process
 * is gone) and removes the folder; returns sending/ files whose lock is free (their claimer
 * died) to ready/; removes hidden temp run folders older than a minute. Returns the number
 * of files moved to ready/, or a negative errno. */
int sp_spool_adopt(sp_spool_t *spool);

/* A file claimed for upload. While fd >= 0 the claim holds flock(LOCK_EX) on the file,
 * which is in sending/; done or release end the claim (fd -1). */
typedef struct {
    sp_spool_t *spool;
    int fd;
    char name[SP_SPOOL_NAME_MAX];
    long long size; /* bytes, at claim time */
} sp_spool_claim_t;

/* Writes name into ready/ atomically, as sp_spool_commit does in the spool's root: how the
 * uploader turns a claimed batch into single envelopes. 0 or a negative errno. */
int sp_spool_ready_commit(sp_spool_t *spool, const char *name, const void *data, size_t len);
/* For writing many files and making them durable together: writes name's data under a
 * hidden temporary name in ready/ (nobody claims or evicts it), no fsync. Then
 * sp_spool_ready_sync(publish=true) fsyncs them all, renames each to its name and fsyncs
 * ready/ (on the first error the rest are deleted and nothing more is published);
 * publish=false deletes them. 0 or a negative errno. */
int sp_spool_ready_write(sp_spool_t *spool, const char *name, const void *data, size_t len);
int sp_spool_ready_sync(sp_spool_t *spool, const char *const *names, size_t n, bool publish);
/* Deletes ready/<name> (what sp_spool_ready_commit wrote). 0 or a negative errno. */
int sp_spool_ready_remove(sp_spool_t *spool, const char *name);
/* Claims the oldest *.envelope (or *.envelopes batch) file in ready/ whose name sorts
 * after `after` (NULL or "": any): opens it, takes its lock without waiting (a locked
 * file is skipped) and renames it into sending/ while holding the lock, so each file is
 * claimed by exactly one claimer across processes. 0 and *claim, -ENOENT when nothing is left to claim, or a negative errno.
 * `after` lets a caller walk ready/ once, skipping files it released in this pass. */
int sp_spool_claim(sp_spool_t *spool, const char *after, sp_spool_claim_t *claim);
/* Claims ready/<name> itself (as sp_spool_claim would, without listing ready/): how the
 * uploader sends the files it just split from a batch. 0, -ENOENT (gone or claimed by
 * someone else) or a negative errno. */
int sp_spool_claim_name(sp_spool_t *spool, const char *name, sp_spool_claim_t *claim);
/* Reads the whole claimed file into a new sp_mem buffer (NUL-terminated beyond *len).
 * -EFBIG when it is larger than max. 0 or a negative errno. */
int sp_spool_claim_read(const sp_spool_claim_t *claim, size_t max, char **data, size_t *len);
/* The same for any open regular file (from offset 0): e.g. the fd sp_spool_evict_fn gets. */
int sp_spool_read_fd(int fd, size_t max, char **data, size_t *len);
/* Sent or dropped: unlinks the file from sending/ and ends the claim. 0 or a negative errno
 * (the claim ends either way). */
int sp_spool_claim_done(sp_spool_claim_t *claim);
/* Not now: renames the file back to ready/ (same name) and ends the claim. 0 or a negative
 * errno (the claim ends either way; a file left in sending/ goes back through adopt). */
int sp_spool_claim_release(sp_spool_claim_t *claim);

/* Called for each evicted file before it is unlinked, with a read-only fd on it (locked). */
typedef void (*sp_spool_evict_fn)(const char *name, int fd, void *ctx);
/* Keeps the spool under max_bytes: counts the bytes of ready/, sending/ and every run
 * folder's open-* files, and evicts the oldest ready/ *.envelope files (skipping any being
 * claimed)
 * until the total is at most max_bytes or ready/ is empty. fn may be NULL. Returns how many
 * files were evicted (the caller reports them as discards, reason "cache_overflow"), or a
 * negative errno. */
int sp_spool_enforce_cap(sp_spool_t *spool, unsigned long long max_bytes, sp_spool_evict_fn fn,
                         void *ctx);
/* Number and total size of the files in ready/. 0 or a negative errno. */
int sp_spool_ready_stats(sp_spool_t *spool, unsigned long *files, unsigned long long *bytes);

/* ---- layout v1: state.json ----
 * {"version":1,
 *  "dsns":{"<scheme>://<key>@<host>[:port][prefix]/<project>": {   (per DSN: tools/upload.c)
 *      "rate_limits":{"<category>|*": <until, unix seconds>, ...}, (ratelimit.h)
 *      "backoff":{"until": <unix seconds>, "attempts": <n>}},      (ratelimit.h)
 *   ...},
 *  "discards":[{"reason":..., "category":..., "quantity":<n>}, ...]} (client reports)
 * A missing, unreadable or other-version file reads as {"version":1}. */
#define SP_SPOOL_STATE_VERSION 1

/* Changes the state under its lock: loads it, calls fn(state, ctx), and writes it back
 * atomically when fn returns > 0 (0: unchanged; < 0: error, nothing written). Waits at most
 * a couple of seconds for the lock (-EWOULDBLOCK). fn's negative value or a negative errno,
 * else 0. Any thread, any process. */
typedef int (*sp_spool_state_fn)(json_t *state, void *ctx);
int sp_spool_state_update(sp_spool_t *spool, sp_spool_state_fn fn, void *ctx);
/* A snapshot of the state (new reference in *out; no lock needed: it is replaced
 * atomically). 0 or a negative errno. */
int sp_spool_state_read(sp_spool_t *spool, json_t **out);
/* Adds quantity to the pending discard (reason, category) in a state object: pure JSON, for
 * use inside an update. Entries are bounded (new pairs beyond the bound are ignored).
 * 1 when changed, 0 when not (quantity 0, bound), or -EINVAL/-ENOMEM. */
int sp_spool_state_discard_add(json_t *state, const char *reason, const char *category,
                               json_int_t quantity);
/* Adds every entry of a discards array (as sp_spool_state_take_discards returns, or the
 * "discards" of another state object) with sp_spool_state_discard_add: 1 when state changed,
 * else 0. Pure JSON, for use inside an update (it has the update callback's shape). */
int sp_spool_state_discards_merge(json_t *state, void *discards);
/* The same as one locked update of the shared state. 0 or a negative errno. */
int sp_spool_state_add_discard(sp_spool_t *spool, const char *reason, const char *category,
                               json_int_t quantity);
/* Removes every pending discard from the shared state and returns them (a new array
 * reference in *out, NULL when there were none), so that concurrent uploaders never report
 * the same discards twice. Put them back with sp_spool_state_discard_add if they could not be
 * delivered. 0 or a negative errno. */
int sp_spool_state_take_discards(sp_spool_t *spool, json_t **out);

#endif
