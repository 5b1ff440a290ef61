/* stats: owns the counters. Writers include the signal handler, so every update is a
 * relaxed atomic on static storage; readers (agent, debug log, bench) tolerate skew. */
#include "stats.h"

#include <stdatomic.h>

#include "log.h"

#define LINEAR_STEP_NS 125 /* fine buckets below 16 us: the cost bar is ~2 us */
#define LINEAR_BUCKETS 128
#define LOG_BUCKETS 24 /* 16 us * 2^i */
#define HIST_BUCKETS (LINEAR_BUCKETS + LOG_BUCKETS)

static _Atomic uint64_t counters[SP_STAT__COUNT];
static _Atomic uint64_t hist[HIST_BUCKETS];
static _Atomic uint64_t hist_total_ns, hist_max, hist_max_warm;

static const char *const names[SP_STAT__COUNT] = {
    [SP_STAT_SIGNALS] = "signals",
    [SP_STAT_SAMPLES] = "samples",
    [SP_STAT_OUTSIDE_PROFILE] = "discarded_outside_profile",
    [SP_STAT_DROP_RING_FULL] = "dropped_ring_full",
    [SP_STAT_DROP_REENTRY] = "dropped_reentry",
    [SP_STAT_DROP_NO_THREAD] = "dropped_no_thread",
    [SP_STAT_TRUNCATED] = "truncated",
    [SP_STAT_OFF_STACK] = "off_stack",
    [SP_STAT_THREADS_REGISTERED] = "threads_registered",
    [SP_STAT_THREADS_UNREGISTERED] = "threads_unregistered",
    [SP_STAT_TIMER_ERRORS] = "timer_errors",
    [SP_STAT_HANDLER_REPLACED] = "handler_replaced",
    [SP_STAT_SAMPLES_SYMBOLIZED] = "samples_symbolized",
    [SP_STAT_CHUNKS_WRITTEN] = "chunks_written",
    [SP_STAT_CHUNKS_SKIPPED] = "chunks_skipped_too_few_samples",
    [SP_STAT_SPOOL_ERRORS] = "spool_errors",
    [SP_STAT_TXN_PROFILES] = "transaction_profiles",
    [SP_STAT_TXN_TOO_SHORT] = "transactions_too_short",
    [SP_STAT_TXN_NO_PROFILE] = "transactions_without_profile",
    [SP_STAT_SPOOL_EVICTED] = "spool_files_evicted",
    [SP_STAT_DROP_AGENT_OOM] = "dropped_agent_oom",
    [SP_STAT_TXN_ABANDONED] = "transactions_abandoned",
    [SP_STAT_TXN_TABLE_FULL] = "transactions_table_full",
    [SP_STAT_ENVELOPE_ERRORS] = "envelopes_not_built",
    [SP_STAT_STACK_COPIES] = "native_stack_copies",
    [SP_STAT_STACK_POOL_FULL] = "native_stack_pool_full",
    [SP_STAT_NATIVE_UNWOUND] = "native_unwound",
    [SP_STAT_NATIVE_KEPT] = "native_callers_kept",
    [SP_STAT_NATIVE_LOST] = "native_callers_lost",
    [SP_STAT_SIGFRAMES] = "signal_frames_walked",
    [SP_STAT_SIGFRAME_STOPS] = "signal_frame_stops",
    [SP_STAT_V8_NAMED] = "v8_frames_named",
    [SP_STAT_V8_UNNAMED] = "v8_frames_unnamed",
    [SP_STAT_V8_JIT_DECODED] = "v8_optimized_decoded",
    [SP_STAT_V8_JIT_PERF_MAP] = "v8_optimized_perf_map",
    [SP_STAT_V8_BASELINE_DECODED] = "v8_sparkplug_decoded",
    [SP_STAT_V8_BASELINE_PERF_MAP] = "v8_sparkplug_perf_map",
    [SP_STAT_JS_DECODED] = "js_frames_decoded",
    [SP_STAT_JS_PM_SPARKPLUG] = "js_frames_perf_map_sparkplug",
    [SP_STAT_JS_PM_MAGLEV] = "js_frames_perf_map_maglev",
    [SP_STAT_JS_PM_TURBOFAN] = "js_frames_perf_map_turbofan",
    [SP_STAT_JS_PM_OTHER] = "js_frames_perf_map_other",
    [SP_STAT_JS_PM_TOO_NEW] = "js_frames_perf_map_too_new",
    [SP_STAT_JS_UNNAMED] = "js_frames_interpreter_unnamed",
    [SP_STAT_SAMPLES_UNNAMED] = "samples_interpreter_unnamed",
    [SP_STAT_V8_OWNER_NAMED] = "v8_frames_named_by_bytecode",
};

void sp_stats_inc(sp_stat_t which) { atomic_fetch_add_explicit(&counters[which], 1, memory_order_relaxed); }
void sp_stats_add(sp_stat_t which, uint64_t n)
{
    atomic_fetch_add_explicit(&counters[which], n, memory_order_relaxed);
}
uint64_t sp_stats_get(sp_stat_t which) { return atomic_load_explicit(&counters[which], memory_order_relaxed); }
const char *sp_stats_name(sp_stat_t which) { return names[which]; }

static void raise_max(_Atomic uint64_t *m, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(m, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(m, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed)) {
    }
}

static uint64_t bucket_upper(int b)
{
    if (b < LINEAR_BUCKETS) return (uint64_t)(b + 1) * LINEAR_STEP_NS;
    return (uint64_t)LINEAR_BUCKETS * LINEAR_STEP_NS << (b - LINEAR_BUCKETS + 1);
}

void sp_stats_handler_time(uint64_t ns, bool after_warmup)
{
    int b;
    if (ns < (uint64_t)LINEAR_BUCKETS * LINEAR_STEP_NS) {
        b = (int)(ns / LINEAR_STEP_NS);
    } else {
        b = LINEAR_BUCKETS;
        while (b < HIST_BUCKETS - 1 && ns >= bucket_upper(b)) b++;
    }
    atomic_fetch_add_explicit(&hist[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hist_total_ns, ns, memory_order_relaxed);
    raise_max(&hist_max, ns);
    if (after_warmup) raise_max(&hist_max_warm, ns);
}

uint64_t sp_stats_handler_count(void)
{
    uint64_t total = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) total += atomic_load(&hist[i]);
    return total;
}

uint64_t sp_stats_handler_quantile(double q)
{
    uint64_t total = sp_stats_handler_count(), seen = 0;
    if (!total) return 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += atomic_load(&hist[i]);
        if ((double)seen >= q * (double)total) return bucket_upper(i);
    }
    return bucket_upper(HIST_BUCKETS - 1);
}

uint64_t sp_stats_handler_total_ns(void) { return atomic_load(&hist_total_ns); }
uint64_t sp_stats_handler_max(void) { return atomic_load(&hist_max); }
uint64_t sp_stats_handler_max_after_warmup(void) { return atomic_load(&hist_max_warm); }

void sp_stats_log(void)
{
    for (int i = 0; i < SP_STAT__COUNT; i++)
        SP_DEBUG("stat %s=%llu", names[i], (unsigned long long)sp_stats_get((sp_stat_t)i));
    SP_DEBUG("stat handler_ns p50<=%llu p99<=%llu max=%llu max_after_1s=%llu total=%llu",
             (unsigned long long)sp_stats_handler_quantile(0.5),
             (unsigned long long)sp_stats_handler_quantile(0.99),
             (unsigned long long)sp_stats_handler_max(),
             (unsigned long long)sp_stats_handler_max_after_warmup(),
             (unsigned long long)sp_stats_handler_total_ns());
}
