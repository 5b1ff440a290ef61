/* resolve: owns the cache of raw frame -> frame id. An entry is live while its epoch is
 * the resolver's (bumped when the frame table starts a new epoch or the cache is half
 * full) and, unless it is final (an ELF file's symbol: JIT code never lands in a file
 * mapping), while its generation is the symbolizer's (bumped when V8's perf map changed).
 * A dead entry is an empty slot, so forgetting is O(1): no walk over the table, no page of
 * it touched. Background (agent) thread only. */
#include "resolve.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "sampler.h"
#include "stats.h"
#include "v8decode.h"

#define SP_RESOLVE_CACHE_BITS 14 /* 2^14 slots; a new epoch when half are used */
#define SP_RESOLVE_CACHE_SLOTS (1u << SP_RESOLVE_CACHE_BITS)

/* What a raw frame is, for the JS frame counters (sp_resolver_count). */
typedef enum {
    CLS_OTHER,     /* native code, V8's other builtins, unknown */
    CLS_DECODED,   /* named by the V8 frame decoder (a synthetic address) */
    CLS_SPARKPLUG, /* JS named by the perf map, by its tier */
    CLS_MAGLEV,
    CLS_TURBOFAN,
    CLS_PM_OTHER,
    CLS_TOO_NEW, /* JS code whose perf-map entry is newer than the sample: left unnamed */
    CLS_ENTRY    /* V8's shared interpreter entry: an interpreted frame, unless named above it */
} frame_class_t;

typedef struct {
    uint64_t tag; /* pc << 1 | return_addr; 0 = never used */
    uint32_t epoch, generation;
    uint32_t id;
    bool final;
    uint8_t cls; /* frame_class_t */
} cache_entry_t;

struct sp_resolver {
    sp_symbolizer_t *sym;
    sp_frames_t *ft;
    cache_entry_t *cache; /* open addressing; most samples repeat a few hundred addresses */
    size_t cache_used;    /* entries added in this epoch */
    uint32_t epoch;
    uint32_t ft_epoch; /* the frame table epoch the cached ids are from */
    /* The newest perf-map entry (its written_after_ns) a live cached answer came from, in
     * generation horizon_gen: a sample older than it (a transaction's, resolved at its
     * end; another thread's, a little out of order) skips the cache, or it could be given
     * the name of code that came to its address after it. */
    uint64_t horizon_ns;
    uint64_t horizon_gen;
    long truncated_id; /* the "[truncated]" frame's id in ft_epoch, or -1 */
};

sp_resolver_t *sp_resolver_new(sp_symbolizer_t *sym, sp_frames_t *ft)
{
    sp_resolver_t *r = sp_mem_calloc(1, sizeof *r);
    if (!r) return NULL;
    r->sym = sym;
    r->ft = ft;
    r->ft_epoch = sp_frames_epoch(ft);
    r->truncated_id = -1;
    return r;
}

void sp_resolver_free(sp_resolver_t *r)
{
    if (!r) return;
    sp_mem_free(r->cache);
    sp_mem_free(r);
}

static void new_epoch(sp_resolver_t *r)
{
    r->epoch++;
    r->cache_used = 0;
    r->horizon_ns = 0;
}

static bool entry_live(const sp_resolver_t *r, const cache_entry_t *e)
{
    return e->tag && e->epoch == r->epoch &&
           (e->final || e->generation == (uint32_t)sp_symbolizer_generation(r->sym));
}

/* The slot for tag: its live entry, or the first dead slot (NULL: no cache). A live copy
 * of tag further on (left when this slot died) resolves the same way, so stopping at the
 * first dead slot is safe. */
static cache_entry_t *cache_slot(sp_resolver_t *r, uint64_t tag)
{
    if (!r->cache) {
        /* Written once now: left to zero pages, every first probe of a page would fault
         * twice (read, then a write that flushes the TLB of every CPU running node). */
        r->cache = sp_mem_alloc(SP_RESOLVE_CACHE_SLOTS * sizeof *r->cache);
        if (!r->cache) return NULL;
        memset(r->cache, 0, SP_RESOLVE_CACHE_SLOTS * sizeof *r->cache);
    }
    if (r->cache_used * 2 >= SP_RESOLVE_CACHE_SLOTS) new_epoch(r); /* keep probes short */
    /* Fibonacci hashing: the top SP_RESOLVE_CACHE_BITS bits of the product index the table. */
    size_t i = (size_t)((tag * 0x9e3779b97f4a7c15ull) >> (64 - SP_RESOLVE_CACHE_BITS));
    while (entry_live(r, &r->cache[i]) && r->cache[i].tag != tag) i = (i + 1) & (SP_RESOLVE_CACHE_SLOTS - 1);
    return &r->cache[i];
}

/* One raw frame -> its frame ids into ids (room for cap >= 1), innermost first. Returns
 * how many (today always 1), or -1 when out of memory.
 *
 * The seam for the V8 frame decoder (issue #13). Today a raw frame is a code address and
 * becomes one frame: the symbolizer's, or, for a synthetic address the first decoder
 * (v8decode) put into the sample before it got here, the JS function it read from V8's
 * frame slots. A decoder that expands frames goes between the symbolizer and the frame
 * table, as
 *
 *     size_t sp_decoder_frames(sp_decoder_t *d, const sp_raw_frame_t *raw,
 *                              const sp_frame_t *symbolized, sp_frame_t *out, size_t cap);
 *
 * which turns the raw frame (by then carrying the words the handler copied from the JS
 * frame: JSFunction, bytecode array, bytecode offset) and the symbolized frame into
 * 1..cap frames, inlined functions innermost first (strings owned by the decoder until its
 * next call), or 0 to keep the symbolized frame (the perf map stays the fallback). Each of
 * them is interned here, in order. The cache below then keys on the raw words as well as
 * the pc and holds every id a raw frame became; a decoded frame is final only while the
 * code object it was read from is (the decoder says so, as the symbolizer does now). */
static long resolve_raw(sp_resolver_t *r, const sp_raw_frame_t *raw, uint64_t as_of_ns,
                        uint32_t *ids, uint8_t *cls, size_t cap)
{
    if (!cap) return 0;
    uint64_t tag = raw->pc << 1 | (raw->return_addr ? 1 : 0);
    cache_entry_t *e = tag ? cache_slot(r, tag) : NULL;
    uint64_t gen = sp_symbolizer_generation(r->sym);
    if (r->horizon_gen != gen) r->horizon_gen = gen, r->horizon_ns = 0;
    if (as_of_ns < r->horizon_ns) e = NULL; /* an older sample: answers may postdate it */
    if (e && entry_live(r, e)) {
        ids[0] = e->id;
        if (cls) cls[0] = e->cls;
        return 1;
    }
    sp_frame_t f;
    bool final;
    uint8_t c = CLS_OTHER;
    const sp_v8fn_t *v8 = sp_v8decode_lookup(raw->pc); /* named from V8's frame slots */
    if (v8) {
        sp_symbolizer_js_frame(r->sym, v8->function, v8->script, v8->lineno, v8->colno, &f);
        final = true; /* a synthetic address never changes meaning */
        c = CLS_DECODED;
    } else {
        final = sp_symbolizer_resolve(r->sym, raw->pc, raw->return_addr, &f);
        uint64_t after_ns;
        bool refused;
        sp_symbolizer_last_perf_map(r->sym, &after_ns, &refused);
        if (refused) {
            c = CLS_TOO_NEW;
            e = NULL; /* right for this sample only */
        } else if (f.kind == SP_FRAME_JS) {
            char t = sp_symbolizer_js_tier(r->sym, raw->pc, raw->return_addr);
            c = t == '^' ? CLS_SPARKPLUG : t == '+' ? CLS_MAGLEV : t == '*' ? CLS_TURBOFAN : CLS_PM_OTHER;
        } else if (f.function &&
                   (strncmp(f.function, "Builtins_InterpreterEntryTrampoline", 35) == 0 ||
                    strncmp(f.function, "Builtins_InterpreterEnterAt", 27) == 0)) {
            c = CLS_ENTRY;
        }
        if (e && after_ns > r->horizon_ns) r->horizon_ns = after_ns;
    }
    if (cls) cls[0] = c;
    long id = sp_frames_intern(r->ft, &f);
    if (id < 0) return -1;
    ids[0] = (uint32_t)id;
    if (e) {
        *e = (cache_entry_t){.tag = tag,
                             .epoch = r->epoch,
                             .generation = (uint32_t)sp_symbolizer_generation(r->sym),
                             .id = (uint32_t)id,
                             .final = final,
                             .cls = c};
        r->cache_used++;
    }
    return 1;
}

/* sp_resolver_stack, and what each raw frame is into cls (NULL: not asked; else room for
 * cap), frame for frame with ids. */
static long resolve_stack(sp_resolver_t *r, const sp_sample_t *s, uint32_t *ids, uint8_t *cls,
                          size_t cap)
{
    /* Between two stacks no id is held: the table may start over here. */
    sp_frames_trim(r->ft);
    if (r->ft_epoch != sp_frames_epoch(r->ft)) { /* every cached id names another frame now */
        r->ft_epoch = sp_frames_epoch(r->ft);
        r->truncated_id = -1;
        new_epoch(r);
    }
    size_t n = 0;
    long k = 0;
    sp_symbolizer_set_as_of(r->sym, s->ts_ns); /* names as of this sample, for its frames only */
    for (size_t i = 0; i < s->nframes && n < cap; i++) {
        sp_raw_frame_t raw = {.pc = s->pcs[i], .return_addr = i > 0};
        k = resolve_raw(r, &raw, s->ts_ns, ids + n, cls ? cls + n : NULL, cap - n);
        if (k < 0) break;
        n += (size_t)k;
    }
    sp_symbolizer_set_as_of(r->sym, 0);
    if (k < 0) return -1;
    if ((s->flags & SP_SAMPLE_TRUNCATED) && n < cap) { /* the cut-off root end stays visible */
        if (r->truncated_id < 0) {
            sp_frame_t f = {.function = "[truncated]", .kind = SP_FRAME_NATIVE};
            r->truncated_id = sp_frames_intern(r->ft, &f);
        }
        if (r->truncated_id >= 0) { /* else only the marker is lost */
            if (cls) cls[n] = CLS_OTHER;
            ids[n++] = (uint32_t)r->truncated_id;
        }
    }
    return (long)n;
}

long sp_resolver_stack(sp_resolver_t *r, const sp_sample_t *s, uint32_t *ids, size_t cap)
{
    return resolve_stack(r, s, ids, NULL, cap);
}

/* pcs[k] is the pc of an interrupted context: the leaf, or one another signal handler
 * interrupted (the decoder puts a leaf's interpreted function above it, not in its place). */
static bool leaf_at(const sp_sample_t *s, size_t k)
{
    for (unsigned i = 0; i < s->nsig && i < SP_MAX_SIGFRAMES; i++)
        if (s->sig[i].frame == k) return true;
    return k == 0;
}

void sp_resolver_count(sp_resolver_t *r, const sp_sample_t *s, sp_resolved_t *out)
{
    uint32_t own[SP_MAX_FRAMES + 1];
    uint32_t *ids = out ? out->ids : own;
    uint8_t cls[SP_MAX_FRAMES + 1];
    long n = resolve_stack(r, s, ids, cls, SP_MAX_FRAMES + 1);
    if (out) out->n = n, out->epoch = sp_frames_epoch(r->ft);
    if (n <= 0) return;
    uint64_t by[CLS_ENTRY + 1] = {0};
    for (long i = 0; i < n; i++) {
        /* The interpreter's entry as a leaf (or interrupted by another handler) runs for
         * the function the decoder put right above it; anywhere else the decoder renames
         * it, so one left there is a nameless interpreted frame. */
        if (cls[i] == CLS_ENTRY && leaf_at(s, (size_t)i) && i + 1 < n && cls[i + 1] == CLS_DECODED)
            continue;
        by[cls[i]]++;
    }
    static const sp_stat_t stat_of[] = {
        [CLS_DECODED] = SP_STAT_JS_DECODED,   [CLS_SPARKPLUG] = SP_STAT_JS_PM_SPARKPLUG,
        [CLS_MAGLEV] = SP_STAT_JS_PM_MAGLEV,  [CLS_TURBOFAN] = SP_STAT_JS_PM_TURBOFAN,
        [CLS_PM_OTHER] = SP_STAT_JS_PM_OTHER, [CLS_TOO_NEW] = SP_STAT_JS_PM_TOO_NEW,
        [CLS_ENTRY] = SP_STAT_JS_UNNAMED,
    };
    for (int c = CLS_DECODED; c <= CLS_ENTRY; c++)
        if (by[c]) sp_stats_add(stat_of[c], by[c]);
    if (by[CLS_ENTRY]) sp_stats_inc(SP_STAT_SAMPLES_UNNAMED);
}

int sp_resolver_add_sample(sp_resolver_t *r, sp_session_t *sess, const sp_sample_t *s,
                           const sp_resolved_t *pre, uint64_t real_ns)
{
    uint32_t frames[SP_MAX_FRAMES + 1];
    long n;
    if (pre && pre->n >= 0 && pre->epoch == sp_frames_epoch(r->ft)) {
        n = pre->n;
        memcpy(frames, pre->ids, (size_t)n * sizeof *frames);
    } else {
        n = sp_resolver_stack(r, s, frames, SP_MAX_FRAMES + 1);
    }
    for (long i = 0; i < n; i++) {
        long idx = sp_session_frame(sess, r->ft, frames[i]);
        if (idx < 0) {
            n = -1;
            break;
        }
        frames[i] = (uint32_t)idx;
    }
    if (n < 0) { /* out of memory: the sample is lost, and counted */
        sp_stats_inc(SP_STAT_DROP_AGENT_OOM);
        return -ENOMEM;
    }
    long stack = sp_session_stack(sess, frames, (size_t)n);
    char thread_id[SP_THREAD_ID_LEN], name[SP_THREAD_NAME_LEN];
    if (!sp_sampler_thread_info((pid_t)s->tid, thread_id, name, sizeof name)) {
        snprintf(thread_id, sizeof thread_id, "%u", s->tid);
        name[0] = '\0';
    }
    if (sp_session_sample(sess, stack, thread_id, name, real_ns) != 0) {
        sp_stats_inc(SP_STAT_DROP_AGENT_OOM); /* no stack or no room: both out of memory */
        return -ENOMEM;
    }
    sp_stats_inc(SP_STAT_SAMPLES_SYMBOLIZED);
    return 0;
}
