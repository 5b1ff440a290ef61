/* v8fn: the JS functions and frames named from V8's heap. Owns the cache of decoded
 * SharedFunctionInfos, the table of named functions and the table of frames (a function at
 * a line and column) that synthetic addresses index; reads the heap only through v8heap
 * (reads that never fault, types from maps). Agent thread only.
 *
 * What is trusted: a cached result only when the SharedFunctionInfo at that address still
 * has the same name/scope-info and script words (a different function moved there would
 * not).
 *
 * Layout without a v8dbg_* symbol (documented fallback): in a ScopeInfo the function name
 * is the first String after the context locals (index first_vars + 2 *
 * context_local_count; the inferred name follows an empty one), the heuristic of
 * OpenTelemetry's profiler. From 75 context locals on (kScopeInfoMaxInlinedLocalNamesSize)
 * V8 keeps their names in one NameToIndexHashTable instead of inline, so the name is at
 * first_vars + 1 + context_local_count: a module's or a big closure's function (the
 * TypeScript compiler's createTypeChecker has thousands) is named too; the slot at
 * first_vars tells which layout it is (a String inline, another object for the table), and
 * a count that does not match it names nothing. The start position sits at slots 3 and 4 when
 * v8dbg_scopeinfo_idx_first_vars is 5 (V8 >= 12.8: Node 24+); before that no line. */
#include "v8fn.h"

#include <string.h>

#include "mem.h"
#include "v8heap.h"
#include "v8pos.h"

#define SP_V8_MAX_LOCALS    75    /* V8's kScopeInfoMaxInlinedLocalNamesSize: inline below it */
#define SP_V8_LOCALS_LIMIT  (1 << 20) /* a context local count beyond this is not believed */
#define SP_V8_CACHE_SLOTS   4096  /* decoded SFIs, direct-mapped */
#define SP_V8_MAX_FNS       65536 /* named functions: beyond this, frames stay unnamed */
#define SP_V8_FN_BUCKETS    16384
#define SP_V8_MAX_FRAMES_T  65536 /* (function, line, column) frames: beyond, the function's */
#define SP_V8_FRAME_BUCKETS 16384
#define SP_V8_ENDS_WINDOW   2048  /* line ends read at once, once a search narrowed to them */
/* The function and frame tables grow in chunks of this many entries, allocated when first
 * needed: ids stay valid and entries never move (sp_v8fn_frame_of hands out pointers), and
 * a process that names 2,000 functions holds 2 chunks each, not 4.6 MiB of empty tables. */
#define SP_V8_CHUNK         1024

typedef struct {
    uint64_t sfi, nosi, script; /* key: the SFI's address and two of its words */
    uint32_t fn;                /* index + 1 into fns; 0: empty */
} cache_t;

typedef struct {
    sp_v8fn_t v;
    uint64_t hash;
    uint32_t next; /* bucket chain, index + 1 */
} fn_entry_t;

/* A frame as profiles show it: a function and the line and column executing in it (or
 * its definition when that is unknown). Synthetic addresses index these; the strings
 * belong to the function's fn_entry_t. */
typedef struct {
    sp_v8fn_t v;
    uint32_t fn; /* index + 1 into fns */
    uint32_t next;
} frame_entry_t;

static struct {
    cache_t *cache;
    fn_entry_t *fns[SP_V8_MAX_FNS / SP_V8_CHUNK];
    uint32_t nfns;
    uint32_t *buckets;
    frame_entry_t *frames[SP_V8_MAX_FRAMES_T / SP_V8_CHUNK];
    uint32_t nframes;
    uint32_t *frame_buckets;
    uint64_t cache_hits;
} D;

/* Entry id (index + 1) of a table: callers pass ids below the table's count. */
static inline fn_entry_t *fn_at(uint32_t id) { return &D.fns[(id - 1) / SP_V8_CHUNK][(id - 1) % SP_V8_CHUNK]; }
static inline frame_entry_t *frame_at(uint32_t id)
{
    return &D.frames[(id - 1) / SP_V8_CHUNK][(id - 1) % SP_V8_CHUNK];
}

/* Room for entry id n + 1 in a chunked table (its chunk allocated): false when out of
 * memory. */
#define CHUNK_ROOM(tab, n) \
    ((tab)[(n) / SP_V8_CHUNK] || ((tab)[(n) / SP_V8_CHUNK] = sp_mem_calloc(SP_V8_CHUNK, sizeof **(tab))))

/* ---- SharedFunctionInfo -> name, script, definition ---- */

/* The function name kept in a ScopeInfo (see the top of the file), and its start
 * position (-1: unknown). */
__attribute__((cold)) static bool scope_info_name(uint64_t si, char **name, int64_t *start)
{
    uint64_t head[5];
    uint64_t data = sp_v8heap_obj(si) + (uint64_t)sp_v8heap_layout.map + 8;
    *start = -1;
    if (!sp_v8heap_read(data, head, sizeof head)) return false;
    uint64_t ncl_w = head[sp_v8heap_layout.si_ncl];
    if (!sp_v8heap_is_smi(ncl_w) || sp_v8heap_smi(ncl_w) < 0 ||
        sp_v8heap_smi(ncl_w) > SP_V8_LOCALS_LIMIT)
        return false;
    int64_t ncl = sp_v8heap_smi(ncl_w);
    bool inlined = ncl < SP_V8_MAX_LOCALS;
    if (ncl > 0) { /* the first local's name inline, or the names' hash table */
        uint64_t first;
        if (!sp_v8heap_read(data + 8 * (uint64_t)sp_v8heap_layout.si_first_vars, &first, 8) ||
            !sp_v8heap_is_heap(first))
            return false;
        int t = sp_v8heap_type_of(first);
        if (t < 0 || (t < sp_v8heap_layout.first_nonstring) != inlined) return false;
    }
    if (sp_v8heap_layout.si_first_vars >= 5 && sp_v8heap_is_smi(head[3]) &&
        sp_v8heap_is_smi(head[4]) && sp_v8heap_smi(head[3]) >= 0 &&
        sp_v8heap_smi(head[3]) <= sp_v8heap_smi(head[4]))
        *start = sp_v8heap_smi(head[3]);
    uint64_t slots[6];
    if (!sp_v8heap_read(data + 8 * (uint64_t)(sp_v8heap_layout.si_first_vars + (inlined ? ncl : 1) + ncl),
                        slots, sizeof slots))
        return false;
    for (int i = 0; i < 6; i++) {
        if (sp_v8heap_is_smi(slots[i])) continue; /* a saved class variable index, a slot index */
        if (!sp_v8heap_is_heap(slots[i])) return false;
        int t = sp_v8heap_type_of(slots[i]);
        /* Not a string: the end of the names (an undefined inferred name, the outer
         * scope). Fine after the empty function name, unsure before any name, but for
         * undefined: a function with no shared name (a method with a computed key, as
         * [kHybridDispatch]() in node's event_target) keeps only the undefined inferred
         * name, and V8 names it "" too. */
        if (t >= 0 && t == sp_v8heap_layout.t_oddball && !*name) return (*name = sp_mem_strdup("")) != NULL;
        if (t < 0 || t >= sp_v8heap_layout.first_nonstring) return *name != NULL;
        char *n = sp_v8heap_string_dup(slots[i]);
        if (!n) return false;
        if (*n || *name) { /* a non-empty name, or the empty one when no inferred name follows */
            if (!*n) {
                sp_mem_free(n);
                return true;
            }
            sp_mem_free(*name);
            *name = n;
            return true;
        }
        *name = n; /* empty: V8 names the function by the inferred name if one follows */
    }
    return *name != NULL;
}

/* 1-based line and column of script position pos from the script's line_ends, or false
 * (V8 has not computed them). A binary search over the heap narrows to at most
 * SP_V8_ENDS_WINDOW ends, which are read at once (one read for most scripts). */
__attribute__((cold)) bool sp_v8fn_script_line(uint64_t script, int64_t pos, int *line, int *col)
{
    uint64_t ends, len_w;
    if (!sp_v8heap_word(script, sp_v8heap_layout.script_line_ends, &ends) ||
        !sp_v8heap_is_heap(ends) || sp_v8heap_type_of(ends) != sp_v8heap_layout.t_fixed_array ||
        !sp_v8heap_word(ends, sp_v8heap_layout.fa_length, &len_w) || !sp_v8heap_is_smi(len_w))
        return false;
    int64_t n = sp_v8heap_smi(len_w), lo = 0, hi = n; /* the first end >= pos is in [lo, hi] */
    if (n <= 0 || n > (1 << 24) || pos < 0) return false;
    uint64_t data = sp_v8heap_obj(ends) + (uint64_t)sp_v8heap_layout.fa_data;
    while (hi - lo > SP_V8_ENDS_WINDOW) {
        int64_t mid = lo + (hi - lo) / 2;
        uint64_t w;
        if (!sp_v8heap_read(data + 8 * (uint64_t)mid, &w, 8) || !sp_v8heap_is_smi(w))
            return false;
        if (sp_v8heap_smi(w) < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* ends[lo - 1] (< pos: where the line starts) through ends[hi] */
    int64_t w0 = lo > 0 ? lo - 1 : 0, w1 = hi < n ? hi + 1 : n;
    uint64_t raw[SP_V8_ENDS_WINDOW + 2];
    int64_t vals[SP_V8_ENDS_WINDOW + 2];
    if (!sp_v8heap_read(data + 8 * (uint64_t)w0, raw, 8 * (size_t)(w1 - w0))) return false;
    for (int64_t i = 0; i < w1 - w0; i++) {
        if (!sp_v8heap_is_smi(raw[i])) return false;
        vals[i] = sp_v8heap_smi(raw[i]);
    }
    int l, c;
    if (!sp_v8pos_line(vals, (size_t)(w1 - w0), pos, &l, &c)) return false;
    if (w0 > 0 && l < 2) return false; /* the window's first end is not below pos: not sorted */
    *line = (int)w0 + l;
    *col = c;
    return true;
}

static uint64_t fnv(const char *s, uint64_t h)
{
    for (; s && *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

/* The named-function table: equal functions share one entry (one frame in a profile).
 * Takes ownership of name and script. 0 when full or out of memory. */
__attribute__((cold)) static uint32_t intern_fn(char *name, char *script, int line, int col)
{
    uint64_t h = fnv(script, fnv(name, 0xcbf29ce484222325ull) * 31 + 1) ^
                 ((uint64_t)line << 20 | (uint64_t)col);
    if (!D.buckets) D.buckets = sp_mem_calloc(SP_V8_FN_BUCKETS, sizeof *D.buckets);
    if (!D.buckets) goto fail;
    for (uint32_t i = D.buckets[h % SP_V8_FN_BUCKETS]; i; i = fn_at(i)->next) {
        const fn_entry_t *e = fn_at(i);
        if (e->hash == h && e->v.lineno == line && e->v.colno == col &&
            strcmp(e->v.function, name) == 0 &&
            (e->v.script == script ||
             (e->v.script && script && strcmp(e->v.script, script) == 0))) {
            sp_mem_free(name);
            sp_mem_free(script);
            return i;
        }
    }
    if (D.nfns == SP_V8_MAX_FNS || !CHUNK_ROOM(D.fns, D.nfns)) goto fail;
    fn_entry_t *e = fn_at(++D.nfns);
    e->v = (sp_v8fn_t){.function = name, .script = script, .lineno = line, .colno = col};
    e->hash = h;
    e->next = D.buckets[h % SP_V8_FN_BUCKETS];
    D.buckets[h % SP_V8_FN_BUCKETS] = D.nfns;
    return D.nfns;
fail:
    sp_mem_free(name);
    sp_mem_free(script);
    return 0;
}

/* The function (index + 1 into fns) of the SharedFunctionInfo at sfi, whose first words
 * (map checked by the caller) are sfi_head; *script_out: its Script. 0 when unsure. Hot
 * path: the cache hit; the rest runs once per function (cold: built for size). */
__attribute__((cold)) uint32_t sp_v8fn_of_sfi(uint64_t sfi, const uint64_t *sfi_head,
                                             uint64_t *script_out)
{
    uint64_t nosi = sfi_head[sp_v8heap_layout.sfi_nosi / 8],
             script = sfi_head[sp_v8heap_layout.sfi_script / 8];
    *script_out = script;

    if (!D.cache) D.cache = sp_mem_calloc(SP_V8_CACHE_SLOTS, sizeof *D.cache);
    cache_t *c =
        D.cache ? &D.cache[(sfi * 0x9e3779b97f4a7c15ull) >> 52 & (SP_V8_CACHE_SLOTS - 1)] : NULL;
    if (c && c->fn && c->sfi == sfi && c->nosi == nosi && c->script == script) {
        D.cache_hits++;
        return c->fn;
    }

    char *name = NULL, *path = NULL;
    int64_t start = -1;
    int line = 0, col = 0;
    int nt = sp_v8heap_is_heap(nosi) ? sp_v8heap_type_of(nosi) : -1;
    if (nt >= 0 && nt < sp_v8heap_layout.first_nonstring)
        name = sp_v8heap_string_dup(nosi);
    else if (nt == sp_v8heap_layout.t_scope_info && !scope_info_name(nosi, &name, &start)) {
        /* It may have kept the empty name before giving up (found by fuzzing, a leak per
         * sample: tests/fuzz/corpus/v8decode/crash-scope-info-leak). */
        sp_mem_free(name);
        name = NULL;
    } else if (nt != sp_v8heap_layout.t_scope_info && sp_v8heap_is_smi(nosi))
        name = sp_mem_strdup(""); /* no name kept */
    if (!name) goto fail;
    if (sp_v8heap_type_of(script) != sp_v8heap_layout.t_script) goto fail;
    uint64_t sname;
    if (!sp_v8heap_word(script, sp_v8heap_layout.script_name, &sname)) goto fail;
    int st = sp_v8heap_is_heap(sname) ? sp_v8heap_type_of(sname) : -1;
    if (st >= 0 && st < sp_v8heap_layout.first_nonstring) {
        if (!(path = sp_v8heap_string_dup(sname))) goto fail;
    } else if (st < 0 || st != sp_v8heap_layout.t_oddball) {
        /* Only undefined means a script without a name (eval, new Function). Anything else
         * is a name string the GC moved since it was read (its old place holds no object
         * now), and named without its file the frame would be another function's; the
         * cache would keep that for good. */
        goto fail;
    }
    if (start >= 0 && !sp_v8fn_script_line(script, start, &line, &col)) line = col = 0;
    uint32_t id = intern_fn(name, path, line, col);
    if (id && c) *c = (cache_t){.sfi = sfi, .nosi = nosi, .script = script, .fn = id};
    return id;
fail:
    sp_mem_free(name);
    sp_mem_free(path);
    return 0;
}

/* ---- frames ---- */

/* The frame (index + 1 into frames) of function fn at line:col, 0 when the table is full
 * or out of memory. */
__attribute__((cold)) uint32_t sp_v8fn_frame(uint32_t fn, int line, int col)
{
    uint64_t h = ((uint64_t)fn * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)(uint32_t)line << 24) ^
                 (uint64_t)(uint32_t)col;
    size_t b = (size_t)((h * 0x9e3779b97f4a7c15ull) >> 40) % SP_V8_FRAME_BUCKETS;
    if (!D.frame_buckets) D.frame_buckets = sp_mem_calloc(SP_V8_FRAME_BUCKETS, sizeof *D.frame_buckets);
    if (!D.frame_buckets) return 0;
    for (uint32_t i = D.frame_buckets[b]; i; i = frame_at(i)->next) {
        const frame_entry_t *e = frame_at(i);
        if (e->fn == fn && e->v.lineno == line && e->v.colno == col) return i;
    }
    if (D.nframes == SP_V8_MAX_FRAMES_T || !CHUNK_ROOM(D.frames, D.nframes))
        return 0;
    frame_entry_t *e = frame_at(++D.nframes);
    e->v = fn_at(fn)->v;
    e->v.lineno = line;
    e->v.colno = col;
    e->fn = fn;
    e->next = D.frame_buckets[b];
    D.frame_buckets[b] = D.nframes;
    return D.nframes;
}


__attribute__((cold)) uint32_t sp_v8fn_def_frame(uint32_t fn)
{
    return sp_v8fn_frame(fn, fn_at(fn)->v.lineno, fn_at(fn)->v.colno);
}

const sp_v8fn_t *sp_v8fn_frame_of(uint32_t frame)
{
    return frame >= 1 && frame <= D.nframes ? &frame_at(frame)->v : NULL;
}

void sp_v8fn_counts(uint32_t *nfns, uint32_t *nframes, uint64_t *cache_hits)
{
    *nfns = D.nfns;
    *nframes = D.nframes;
    *cache_hits = D.cache_hits;
}

__attribute__((cold)) void sp_v8fn_reset(void)
{
    for (uint32_t i = 1; i <= D.nfns; i++) {
        sp_mem_free((char *)fn_at(i)->v.function);
        sp_mem_free((char *)fn_at(i)->v.script);
    }
    for (size_t i = 0; i < SP_V8_MAX_FNS / SP_V8_CHUNK; i++) sp_mem_free(D.fns[i]);
    sp_mem_free(D.buckets);
    for (size_t i = 0; i < SP_V8_MAX_FRAMES_T / SP_V8_CHUNK; i++) sp_mem_free(D.frames[i]);
    sp_mem_free(D.frame_buckets);
    sp_mem_free(D.cache);
    memset(&D, 0, sizeof D);
}
