/* stats: process-wide counters and the signal handler's time histogram.
 * sp_stats_inc / sp_stats_add / sp_stats_handler_time are async-signal-safe (lock-free
 * atomics on preallocated storage); the rest runs off the signal path. */
#ifndef SP_STATS_H
#define SP_STATS_H

#include <stdint.h>

typedef enum {
    SP_STAT_SIGNALS,          /* handler entries */
    SP_STAT_SAMPLES,          /* samples written to the ring */
    SP_STAT_DROP_RING_FULL,   /* ring had no free slot */
    SP_STAT_DROP_REENTRY,     /* signal arrived while the handler ran on that thread */
    SP_STAT_DROP_NO_THREAD,   /* signal on a thread we do not sample (or a vfork child) */
    SP_STAT_TRUNCATED,        /* walk hit SP_MAX_FRAMES or left the stack bounds */
    SP_STAT_SAMPLES_SYMBOLIZED,
    SP_STAT_CHUNKS_WRITTEN,
    SP_STAT_CHUNKS_SKIPPED,   /* fewer than 2 samples */
    SP_STAT_SPOOL_ERRORS,
    SP_STAT__COUNT
} sp_stat_t;

#define SP_STATS_HIST_BUCKETS 24 /* bucket i: handler time in [2^i, 2^(i+1)) ns */

void sp_stats_inc(sp_stat_t which);              /* Async-signal-safe. */
void sp_stats_add(sp_stat_t which, uint64_t n);  /* Async-signal-safe. */
void sp_stats_handler_time(uint64_t ns);         /* Async-signal-safe. */
uint64_t sp_stats_get(sp_stat_t which);
const char *sp_stats_name(sp_stat_t which);
/* Quantile q (0..1) of the handler-time histogram, as the bucket's upper bound in ns. */
uint64_t sp_stats_handler_quantile(double q);
uint64_t sp_stats_handler_max(void);
void sp_stats_log(void); /* all counters at debug level */

#endif
