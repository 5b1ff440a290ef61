/* stats: process-wide counters and the signal handler's time histogram.
 * sp_stats_inc / sp_stats_add / sp_stats_handler_time are async-signal-safe (lock-free
 * atomics on preallocated storage); the rest runs off the signal path. */
#ifndef SP_STATS_H
#define SP_STATS_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    SP_STAT_SIGNALS,          /* handler entries */
    SP_STAT_SAMPLES,          /* samples written to the ring */
    SP_STAT_OUTSIDE_PROFILE,  /* eager mode: the thread had no active profile; discarded */
    SP_STAT_DROP_RING_FULL,   /* ring had no free slot */
    SP_STAT_DROP_REENTRY,     /* signal arrived while the handler ran on that thread */
    SP_STAT_DROP_NO_THREAD,   /* signal on a thread we do not sample (or a vfork child) */
    SP_STAT_TRUNCATED,        /* walk hit SP_MAX_FRAMES */
    SP_STAT_OFF_STACK,        /* interrupted sp outside the thread's stack: leaf only */
    SP_STAT_THREADS_REGISTERED,
    SP_STAT_THREADS_UNREGISTERED,
    SP_STAT_TIMER_ERRORS,     /* timer_create/settime failed */
    SP_STAT_HANDLER_REPLACED, /* someone else took our signal: sampling stopped */
    SP_STAT_SAMPLES_SYMBOLIZED,
    SP_STAT_CHUNKS_WRITTEN,
    SP_STAT_CHUNKS_SKIPPED,   /* fewer than 2 samples */
    SP_STAT_SPOOL_ERRORS,
    SP_STAT_TXN_PROFILES,     /* transaction profiles built (spooled, or for an SDK in JS) */
    SP_STAT_TXN_TOO_SHORT,    /* finished transactions with < 2 samples: no profile */
    SP_STAT_TXN_NO_PROFILE,   /* ... of which spooled as a transaction event alone */
    SP_STAT_SPOOL_EVICTED,    /* spool files the agent deleted to stay under the size cap */
    SP_STAT_DROP_AGENT_OOM,   /* samples the agent could not add to a profile (no memory) */
    SP_STAT_TXN_ABANDONED,    /* left running by a thread that exited: slot freed, no profile */
    SP_STAT_TXN_TABLE_FULL,   /* starts refused: SP_MAX_TXNS already running */
    SP_STAT_ENVELOPE_ERRORS,  /* envelopes that could not be built (no memory, text JSON refuses) */
    SP_STAT_STACK_COPIES,     /* samples with a native leaf whose stack top the handler copied */
    SP_STAT_STACK_POOL_FULL,  /* ... that went without a copy: the ring's stack pool was taken */
    SP_STAT_NATIVE_UNWOUND,   /* ... the agent unwound through .eh_frame (libunwind) */
    SP_STAT_NATIVE_KEPT,      /* ... whose callers were kept: joined the frame-pointer walk or reached the stack's end */
    SP_STAT_NATIVE_LOST,      /* ... whose unwind ended inside the copy without joining */
    SP_STAT_SIGFRAMES,        /* samples walked on through another handler's signal frame */
    SP_STAT_SIGFRAME_STOPS,   /* samples whose walk stopped at a signal frame it could not read */
    /* The V8 frame decoder (v8decode), counted by the agent thread as it rewrites samples: */
    SP_STAT_V8_NAMED,         /* interpreted frames named from their frame slots */
    SP_STAT_V8_UNNAMED,       /* captured frames whose checks failed: left as they were */
    SP_STAT_V8_JIT_DECODED,   /* optimized (Maglev, TurboFan) frames decoded from their Code */
    SP_STAT_V8_JIT_PERF_MAP,  /* ... left to the perf map's name */
    /* Sparkplug frames named from their slots and their code's offset table, or left to
     * the perf map's name: */
    SP_STAT_V8_BASELINE_DECODED,
    SP_STAT_V8_BASELINE_PERF_MAP,
    /* Every JS frame of the samples that went into profiles, by where its name came from
     * (counted by resolve, per frame of each sample, after the decoder's rewrite): */
    SP_STAT_JS_DECODED,       /* named by the V8 frame decoder (inlined functions: one each) */
    SP_STAT_JS_PM_SPARKPLUG,  /* named by the perf map: Sparkplug code */
    SP_STAT_JS_PM_MAGLEV,     /* ... Maglev code */
    SP_STAT_JS_PM_TURBOFAN,   /* ... TurboFan code */
    SP_STAT_JS_PM_OTHER,      /* ... no tier, or an interpreted function's own trampoline copy */
    SP_STAT_JS_PM_TOO_NEW,    /* JS code whose perf-map entry was written after the sample (code
                                 created or moved to its address since): left unnamed */
    SP_STAT_JS_UNNAMED,       /* interpreted frames left as V8's shared interpreter entry */
    SP_STAT_SAMPLES_UNNAMED,  /* samples with at least one such frame */
    SP_STAT_V8_OWNER_NAMED,   /* frames named through their bytecode (v8owner.h) */
    SP_STAT__COUNT
} sp_stat_t;

void sp_stats_inc(sp_stat_t which);              /* Async-signal-safe. */
void sp_stats_add(sp_stat_t which, uint64_t n);  /* Async-signal-safe. */
/* One handler run of ns nanoseconds; after_warmup: the process has sampled for >= 1 s
 * (first calls fault in pages and are reported apart). Async-signal-safe. */
void sp_stats_handler_time(uint64_t ns, bool after_warmup);
uint64_t sp_stats_get(sp_stat_t which);
const char *sp_stats_name(sp_stat_t which);
/* Quantile q (0..1) of the handler-time histogram: the containing bucket's upper bound in
 * ns (125 ns resolution below 16 us, powers of two above). 0 when empty. */
uint64_t sp_stats_handler_quantile(double q);
uint64_t sp_stats_handler_count(void);
uint64_t sp_stats_handler_total_ns(void);
uint64_t sp_stats_handler_max(void);
uint64_t sp_stats_handler_max_after_warmup(void);
void sp_stats_log(void); /* all counters at debug level */

#endif
