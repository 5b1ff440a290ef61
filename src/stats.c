/* stats: owns the counters. Writers include the signal handler, so every update is a
 * relaxed atomic on static storage; readers (agent, debug log) tolerate slight skew. */
#include "stats.h"

#include <stdatomic.h>

#include "log.h"

static _Atomic uint64_t counters[SP_STAT__COUNT];
static _Atomic uint64_t hist[SP_STATS_HIST_BUCKETS];
static _Atomic uint64_t hist_max;

static const char *const names[SP_STAT__COUNT] = {
    [SP_STAT_SIGNALS] = "signals",
    [SP_STAT_SAMPLES] = "samples",
    [SP_STAT_DROP_RING_FULL] = "dropped_ring_full",
    [SP_STAT_DROP_REENTRY] = "dropped_reentry",
    [SP_STAT_DROP_NO_THREAD] = "dropped_no_thread",
    [SP_STAT_TRUNCATED] = "truncated",
    [SP_STAT_SAMPLES_SYMBOLIZED] = "samples_symbolized",
    [SP_STAT_CHUNKS_WRITTEN] = "chunks_written",
    [SP_STAT_CHUNKS_SKIPPED] = "chunks_skipped_too_few_samples",
    [SP_STAT_SPOOL_ERRORS] = "spool_errors",
};

void sp_stats_inc(sp_stat_t which) { atomic_fetch_add_explicit(&counters[which], 1, memory_order_relaxed); }
void sp_stats_add(sp_stat_t which, uint64_t n)
{
    atomic_fetch_add_explicit(&counters[which], n, memory_order_relaxed);
}
uint64_t sp_stats_get(sp_stat_t which) { return atomic_load_explicit(&counters[which], memory_order_relaxed); }
const char *sp_stats_name(sp_stat_t which) { return names[which]; }

void sp_stats_handler_time(uint64_t ns)
{
    int b = ns ? 63 - __builtin_clzll(ns) : 0;
    if (b >= SP_STATS_HIST_BUCKETS) b = SP_STATS_HIST_BUCKETS - 1;
    atomic_fetch_add_explicit(&hist[b], 1, memory_order_relaxed);
    uint64_t m = atomic_load_explicit(&hist_max, memory_order_relaxed);
    while (ns > m && !atomic_compare_exchange_weak_explicit(&hist_max, &m, ns, memory_order_relaxed,
                                                            memory_order_relaxed)) {
    }
}

uint64_t sp_stats_handler_quantile(double q)
{
    uint64_t total = 0, seen = 0;
    for (int i = 0; i < SP_STATS_HIST_BUCKETS; i++) total += atomic_load(&hist[i]);
    if (!total) return 0;
    for (int i = 0; i < SP_STATS_HIST_BUCKETS; i++) {
        seen += atomic_load(&hist[i]);
        if ((double)seen >= q * (double)total) return (uint64_t)2 << i;
    }
    return (uint64_t)2 << (SP_STATS_HIST_BUCKETS - 1);
}

uint64_t sp_stats_handler_max(void) { return atomic_load(&hist_max); }

void sp_stats_log(void)
{
    for (int i = 0; i < SP_STAT__COUNT; i++)
        SP_DEBUG("stat %s=%llu", names[i], (unsigned long long)sp_stats_get((sp_stat_t)i));
    SP_DEBUG("stat handler_ns p50<=%llu p99<=%llu max=%llu",
             (unsigned long long)sp_stats_handler_quantile(0.5),
             (unsigned long long)sp_stats_handler_quantile(0.99),
             (unsigned long long)sp_stats_handler_max());
}
