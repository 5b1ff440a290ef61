/* spool_int: what the spool's own modules (spool_run, spool_queue, spool_state) share:
 * the names of layout v1 (spool.h) and access to the spool's directory fd. Not for use
 * outside the spool. */
#ifndef SP_SPOOL_INT_H
#define SP_SPOOL_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "spool.h"

#define SP_SPOOL_TMP_PREFIX     ".tmp-" /* hidden: readers listing *.envelope skip it */
#define SP_SPOOL_READY          "ready"
#define SP_SPOOL_SENDING        "sending"
#define SP_SPOOL_RUN_PREFIX     "run-"
#define SP_SPOOL_RUN_TMP_PREFIX SP_SPOOL_TMP_PREFIX "run-"
#define SP_SPOOL_OPEN_PREFIX    "open-"
#define SP_SPOOL_LOCK_NAME      "lock"

/* The spool directory's fd (owned by the spool). */
int sp_spool_dirfd(const sp_spool_t *spool);
/* A number unique within this process for this spool (temp names). */
unsigned long sp_spool_next_id(sp_spool_t *spool);
/* A plain file name: non-empty, shorter than SP_SPOOL_NAME_MAX, no '/', no leading '.'. */
bool sp_spool_valid_name(const char *name);
/* Atomic write of name in dirfd (the spool or a folder in it) under a temp name
 * ".tmp-<pid>-<n>-<name>" (pid: a forked child never collides with its parent); sync as
 * sp_fsio_write_atomic. 0 or a negative errno. */
int sp_spool_write_at(sp_spool_t *spool, int dirfd, const char *name, const void *data, size_t len,
                      bool sync);
/* Opens (creating when missing) the subdirectory sub of the spool. fd or negative errno. */
int sp_spool_open_sub(sp_spool_t *spool, const char *sub);

#endif
