/* spool_queue: ready/ and sending/, the upload queue of the spool (layout v1, spool.h):
 * what the uploader (the CLI's `sentryprof upload`) adopts from dead processes, claims,
 * releases or deletes, and the size cap the profiled process enforces as it writes.
 * Every function may run in many processes at once: exclusion is flock(2) on each file. */
#ifndef SP_SPOOL_QUEUE_H
#define SP_SPOOL_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include "fsio.h"
#include "spool.h"

/* Moves to ready/ every open-* file of each run folder whose lock can be taken (its process
 * is gone) and removes the folder; returns sending/ files whose lock is free (their claimer
 * died) to ready/; removes hidden temp run folders older than a minute. Returns the number
 * of files moved to ready/, or a negative errno. */
int sp_spool_queue_adopt(sp_spool_t *spool);

/* A file claimed for upload. While fd >= 0 the claim holds flock(LOCK_EX) on the file,
 * which is in sending/; done or release end the claim (fd -1). */
typedef struct {
    sp_spool_t *spool;
    int fd;
    char name[SP_SPOOL_NAME_MAX];
    long long size; /* bytes, at claim time */
} sp_spool_queue_claim_t;

/* Writes name into ready/ atomically, as sp_spool_commit does in the spool's root: how the
 * uploader turns a claimed batch into single envelopes. 0 or a negative errno. */
int sp_spool_queue_commit(sp_spool_t *spool, const char *name, const void *data, size_t len);
/* For writing many files and making them durable together: writes name's data under a
 * hidden temporary name in ready/ (nobody claims or evicts it), no fsync. Then
 * sp_spool_queue_sync(publish=true) fsyncs them all, renames each to its name and fsyncs
 * ready/ (on the first error the rest are deleted and nothing more is published);
 * publish=false deletes them. 0 or a negative errno. */
int sp_spool_queue_write(sp_spool_t *spool, const char *name, const void *data, size_t len);
int sp_spool_queue_sync(sp_spool_t *spool, const char *const *names, size_t n, bool publish);
/* Deletes ready/<name> (what sp_spool_queue_commit wrote). 0 or a negative errno. */
int sp_spool_queue_remove(sp_spool_t *spool, const char *name);
/* Claims the oldest *.envelope (or *.envelopes batch) file in ready/ whose name sorts
 * after `after` (NULL or "": any): opens it, takes its lock without waiting (a locked
 * file is skipped) and renames it into sending/ while holding the lock, so each file is
 * claimed by exactly one claimer across processes. 0 and *claim, -ENOENT when nothing is left to
 * claim, or a negative errno.
 * `after` lets a caller walk ready/ once, skipping files it released in this pass. */
int sp_spool_queue_claim(sp_spool_t *spool, const char *after, sp_spool_queue_claim_t *claim);
/* A walk of ready/ in name order for one uploader pass that lists the directory once and
 * claims from that list, where sp_spool_queue_claim lists it again for every claim (over N
 * files, N^2 entries read: a ready/ of 3,500 split envelopes drained at ~50 files/s).
 * What was published behind the walk is found by listing again once the list is used up,
 * if anything was claimed from it (a list of files all claimed by others ends the walk). */
typedef struct {
    sp_spool_t *spool;
    sp_fsio_names_t nm;
    size_t next;
    bool listed, claimed; /* claimed: since the last listing */
} sp_spool_queue_walk_t;
void sp_spool_queue_walk_init(sp_spool_queue_walk_t *w, sp_spool_t *spool);
/* As sp_spool_queue_claim(w->spool, after, claim), from the walk's list. */
int sp_spool_queue_walk_claim(sp_spool_queue_walk_t *w, const char *after, sp_spool_queue_claim_t *claim);
void sp_spool_queue_walk_free(sp_spool_queue_walk_t *w);
/* Claims ready/<name> itself (as sp_spool_queue_claim would, without listing ready/): how the
 * uploader sends the files it just split from a batch. 0, -ENOENT (gone or claimed by
 * someone else) or a negative errno. */
int sp_spool_queue_claim_name(sp_spool_t *spool, const char *name, sp_spool_queue_claim_t *claim);
/* Reads the whole claimed file into a new sp_mem buffer (NUL-terminated beyond *len), as
 * sp_fsio_read_fd does for any open file. -EFBIG when it is larger than max. 0 or a
 * negative errno. */
int sp_spool_queue_claim_read(const sp_spool_queue_claim_t *claim, size_t max, char **data,
                              size_t *len);
/* How many envelopes of a claimed batch are done already (sent or dropped by an uploader that
 * died before it finished the batch): an extended attribute of the file, 0 when it has none.
 * Set by sp_spool_queue_claim_set_progress (no fsync: it must outlive the uploader, not the
 * machine); where the filesystem has no user xattrs it returns -errno and the successor
 * sends the batch from its start again (Sentry drops an event_id it has seen). */
size_t sp_spool_queue_claim_progress(const sp_spool_queue_claim_t *claim);
int sp_spool_queue_claim_set_progress(const sp_spool_queue_claim_t *claim, size_t n);
/* Sent or dropped: unlinks the file from sending/ and ends the claim. 0 or a negative errno
 * (the claim ends either way). */
int sp_spool_queue_claim_done(sp_spool_queue_claim_t *claim);
/* Not now: renames the file back to ready/ (same name) and ends the claim. 0 or a negative
 * errno (the claim ends either way; a file left in sending/ goes back through adopt). */
int sp_spool_queue_claim_release(sp_spool_queue_claim_t *claim);

/* The largest ready/ files an uploader sends (Relay refuses larger envelopes; a batch is
 * sealed at a few MiB, agent.c): a larger one can never be sent, so the cap evicts it first. */
#define SP_SPOOL_QUEUE_MAX_FILE  (64UL << 20)
#define SP_SPOOL_QUEUE_MAX_BATCH (128UL << 20)
#define SP_SPOOL_QUEUE_STRAY     "stray" /* <spool>/stray/: what ready/ held that is not ours */

/* Called for each evicted file before it is unlinked, with a read-only fd on it (locked;
 * sp_fsio_read_fd reads it); unsendable: it was over SP_SPOOL_QUEUE_MAX_FILE/_BATCH. */
typedef void (*sp_spool_queue_evict_fn)(const char *name, int fd, bool unsendable, void *ctx);
/* Keeps the spool under max_bytes: counts the bytes of ready/ (its envelope files only:
 * sp_spool_queue_set_aside), sending/ and every run folder's open-* files, and evicts, until
 * the total is at most max_bytes or ready/ is empty, first the ready/ files too large to be
 * ever sent, then the oldest ready/ envelope files (skipping any being claimed). fn may be
 * NULL. Returns how many files were evicted (the caller reports them as discards, reason
 * "cache_overflow"), or a negative errno. */
int sp_spool_queue_enforce_cap(sp_spool_t *spool, unsigned long long max_bytes,
                               sp_spool_queue_evict_fn fn, void *ctx);
/* Number and total size of the envelope files in ready/ (regular files with an envelope or
 * batch name: what an uploader can claim). 0 or a negative errno. */
int sp_spool_queue_stats(sp_spool_t *spool, unsigned long *files, unsigned long long *bytes);

/* Called for each entry moved out of ready/: its name and what it is ("a directory", ...). */
typedef void (*sp_spool_queue_aside_fn)(const char *name, const char *what, void *ctx);
/* Moves every ready/ entry that is not an envelope file (a stray text file, a directory, a
 * FIFO, a symlink, ...: nothing we wrote) to <spool>/stray/, never opening it, so no
 * uploader waits on it again; an entry of that name already in stray/ is left alone. fn may
 * be NULL. How many were moved, or a negative errno. */
int sp_spool_queue_set_aside(sp_spool_t *spool, sp_spool_queue_aside_fn fn, void *ctx);

#endif
