/* batch: the spool's batch file format, several envelopes in one file.
 *
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
#ifndef SP_BATCH_H
#define SP_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#define SP_BATCH_SUFFIX ".envelopes"
#define SP_BATCH_HEADER "{\"sentryprof_envelopes\":1}\n"
#define SP_BATCH_RECORD_MAX (64u << 20) /* a length above this is garbage, not a record */

/* True when name ends in SP_BATCH_SUFFIX. */
bool sp_batch_is_name(const char *name);

/* Writes the "<len>\n" that opens a record into buf (at least 24 bytes). Its length. */
size_t sp_batch_record_head(char *buf, size_t len);

typedef struct {
    const char *data;
    size_t len, off;
    bool torn; /* set once the walk stops at an incomplete or malformed record */
} sp_batch_reader_t;

/* Starts reading a batch held in memory. 0, or -1 when the header is not format v1. */
int sp_batch_reader_init(sp_batch_reader_t *r, const char *data, size_t len);
/* The next complete record: 1 with *env and *env_len set (pointing into the buffer), 0 at the end
 * (r->torn says whether bytes were left over). */
int sp_batch_next(sp_batch_reader_t *r, const char **env, size_t *env_len);

#endif
