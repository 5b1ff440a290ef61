/* v8decode: names V8 interpreted frames from the slots v8frames captured. Owns the cache of
 * decoded SharedFunctionInfos, the table of named functions, the table of frames (a
 * function at a line and column) that synthetic addresses index, and the cache of
 * (BytecodeArray, offset) -> frame; reads the heap only through v8heap (reads that never fault, types from maps).
 * Agent thread only (sp_v8decode_init: the loading thread, before sampling).
 *
 * What is trusted: a cached result only when the SharedFunctionInfo at that address still
 * has the same name/scope-info and script words (a different function moved there would
 * not); a cached line only for the same SFI, BytecodeArray and offset slot, after this
 * sample's checks of both objects passed. A frame left at its definition line is looked
 * at again every SP_V8_POS_RETRY samples (V8 may collect positions or line ends later).
 *
 * Layout without a v8dbg_* symbol (documented fallback): in a ScopeInfo the function name
 * is the first String after the context locals (index first_vars + 2 *
 * context_local_count; the inferred name follows an empty one), the heuristic of
 * OpenTelemetry's profiler; more than 75 context locals (V8 then keeps the names in a hash
 * table) is not decoded. The start position sits at slots 3 and 4 when
 * v8dbg_scopeinfo_idx_first_vars is 5 (V8 >= 12.8: Node 24+); before that no line. */
#include "v8decode.h"

#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "log.h"
#include "mem.h"
#include "stats.h"
#include "v8frames.h"
#include "v8heap.h"
#include "v8pos.h"

#define SP_V8_MAX_LOCALS   75    /* V8's kScopeInfoMaxInlinedLocalNamesSize */
#define SP_V8_CACHE_SLOTS  4096  /* decoded SFIs, direct-mapped */
#define SP_V8_MAX_FNS      65536 /* named functions: beyond this, frames stay unnamed */
#define SP_V8_FN_BUCKETS   16384
#define SP_V8_GUESS_SLOTS  1024 /* JSFunction -> its SFI last time, direct-mapped */
#define SP_V8_MAX_FRAMES_T 65536 /* (function, line, column) frames: beyond, the function's */
#define SP_V8_FRAME_BUCKETS 16384
#define SP_V8_POS_SLOTS    8192  /* (BytecodeArray, offset) -> frame, direct-mapped */
#define SP_V8_SPT_MAX      65536 /* bytes of a source position table read; longer: unsure */
#define SP_V8_ENDS_WINDOW  2048  /* line ends read at once, once a search narrowed to them */
#define SP_V8_POS_RETRY    256   /* hits of a frame without its line before decoding it again */
#define SP_V8_INL_MAX      12    /* frames one optimized frame expands to; deeper: unsure */

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

typedef struct {
    uint64_t sfi, bca, off; /* key: the frame's SFI, BytecodeArray and offset slot */
    uint32_t fn, frame;     /* the SFI's function (checked anew each sample), its frame */
    uint16_t retry;         /* 0: frame has the executing line; else the definition's, kept
                               for this many more hits (V8 may collect positions meanwhile) */
    uint8_t why;            /* pos_result_t of a definition frame */
} pos_cache_t;

static struct {
    bool on;
    cache_t *cache;
    uint64_t *guess; /* SP_V8_GUESS_SLOTS pairs (JSFunction, SFI) */
    fn_entry_t *fns;
    uint32_t nfns;
    uint32_t *buckets;
    frame_entry_t *frames;
    uint32_t nframes;
    uint32_t *frame_buckets;
    pos_cache_t *pos;
    uint8_t *spt; /* SP_V8_SPT_MAX bytes: the table being decoded */
    struct code_entry *code;  /* SP_V8_CODE_SLOTS optimized Code objects */
    struct chain_entry *chain; /* SP_V8_CHAIN_SLOTS decoded (code, pc offset) */
    uint32_t code_gen;
    sp_v8decode_stats_t st;
} D;

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
        sp_v8heap_smi(ncl_w) > SP_V8_MAX_LOCALS)
        return false;
    if (sp_v8heap_layout.si_first_vars >= 5 && sp_v8heap_is_smi(head[3]) &&
        sp_v8heap_is_smi(head[4]) && sp_v8heap_smi(head[3]) >= 0 &&
        sp_v8heap_smi(head[3]) <= sp_v8heap_smi(head[4]))
        *start = sp_v8heap_smi(head[3]);
    uint64_t slots[6];
    if (!sp_v8heap_read(
            data + 8 * (uint64_t)(sp_v8heap_layout.si_first_vars + 2 * sp_v8heap_smi(ncl_w)), slots,
            sizeof slots))
        return false;
    for (int i = 0; i < 6; i++) {
        if (sp_v8heap_is_smi(slots[i])) continue; /* a saved class variable index, a slot index */
        if (!sp_v8heap_is_heap(slots[i])) return false;
        int t = sp_v8heap_type_of(slots[i]);
        /* Not a string: the end of the names (an undefined inferred name, the outer
         * scope). Fine after the empty function name, unsure before any name. */
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
__attribute__((cold)) static bool script_line(uint64_t script, int64_t pos, int *line, int *col)
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
    if (!D.fns) D.fns = sp_mem_calloc(SP_V8_MAX_FNS, sizeof *D.fns);
    if (!D.buckets) D.buckets = sp_mem_calloc(SP_V8_FN_BUCKETS, sizeof *D.buckets);
    if (!D.fns || !D.buckets) goto fail;
    for (uint32_t i = D.buckets[h % SP_V8_FN_BUCKETS]; i; i = D.fns[i - 1].next) {
        const fn_entry_t *e = &D.fns[i - 1];
        if (e->hash == h && e->v.lineno == line && e->v.colno == col &&
            strcmp(e->v.function, name) == 0 &&
            (e->v.script == script ||
             (e->v.script && script && strcmp(e->v.script, script) == 0))) {
            sp_mem_free(name);
            sp_mem_free(script);
            return i;
        }
    }
    if (D.nfns == SP_V8_MAX_FNS) goto fail;
    fn_entry_t *e = &D.fns[D.nfns++];
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

/* Words of one frame's objects read ahead, for the whole sample in one system call
 * (rewrite): the BytecodeArray's map, the JSFunction's SFI pointer, and the head of the SFI
 * that function had last time (a guess, used only when the pointer read now equals it). */
typedef struct {
    bool read, head_read;
    uint64_t bca_map, sfi, guess;
    uint64_t head[8];
} prefetch_t;

static uint64_t *guess_slot(uint64_t fn)
{
    if (!D.guess) D.guess = sp_mem_calloc(SP_V8_GUESS_SLOTS, 2 * sizeof *D.guess);
    return D.guess ? &D.guess[2 * ((fn * 0x9e3779b97f4a7c15ull) >> 54 & (SP_V8_GUESS_SLOTS - 1))]
                   : NULL;
}

static bool frame_words_ok(uint64_t fn, uint64_t bca, uint64_t offset)
{
    return sp_v8heap_is_heap(fn) && sp_v8heap_is_heap(bca) && sp_v8heap_is_smi(offset) &&
           sp_v8heap_smi(offset) >= 0 && sp_v8heap_smi(offset) <= (1 << 26);
}

__attribute__((cold)) static uint32_t sfi_fn(uint64_t sfi, const uint64_t *sfi_head,
                                             uint64_t *script_out);

/* The function (index + 1 into fns) of a captured frame, 0 when unsure; *sfi_out and
 * *script_out: the SharedFunctionInfo and Script it was read from. */
static uint32_t decode_pf(uint64_t fn, uint64_t bca, uint64_t offset, const prefetch_t *pf,
                          uint64_t *sfi_out, uint64_t *script_out)
{
    uint64_t sfi, sfi_head[8];
    if (!frame_words_ok(fn, bca, offset)) return 0;
    uint64_t bca_map;
    if (pf && pf->read) {
        bca_map = pf->bca_map, sfi = pf->sfi;
    } else { /* one system call for the BytecodeArray's map and the SFI pointer */
        uint64_t at[2] = {sp_v8heap_obj(bca) + (uint64_t)sp_v8heap_layout.map,
                          sp_v8heap_obj(fn) + (uint64_t)sp_v8heap_layout.fn_shared};
        void *into[2] = {&bca_map, &sfi};
        size_t lens[2] = {8, 8};
        if (!sp_v8heap_readv(at, into, lens, 2)) return 0;
    }
    if (sp_v8heap_map_type(bca_map) != sp_v8heap_layout.t_bytecode || !sp_v8heap_is_heap(sfi))
        return 0;
    if (pf && pf->head_read && pf->guess == sfi)
        memcpy(sfi_head, pf->head, sizeof sfi_head);
    else if (!sp_v8heap_read(sp_v8heap_obj(sfi), sfi_head, sizeof sfi_head))
        return 0;
    if (sp_v8heap_map_type(sfi_head[sp_v8heap_layout.map / 8]) != sp_v8heap_layout.t_sfi) return 0;
    uint64_t *g = guess_slot(fn);
    if (g) g[0] = fn, g[1] = sfi;
    *sfi_out = sfi;
    return sfi_fn(sfi, sfi_head, script_out);
}

/* The function (index + 1 into fns) of the SharedFunctionInfo at sfi, whose first words
 * (map checked by the caller) are sfi_head; *script_out: its Script. 0 when unsure. Hot
 * path: the cache hit; the rest runs once per function (cold: built for size). */
static uint32_t sfi_fn(uint64_t sfi, const uint64_t *sfi_head, uint64_t *script_out)
{
    uint64_t nosi = sfi_head[sp_v8heap_layout.sfi_nosi / 8],
             script = sfi_head[sp_v8heap_layout.sfi_script / 8];
    *script_out = script;

    if (!D.cache) D.cache = sp_mem_calloc(SP_V8_CACHE_SLOTS, sizeof *D.cache);
    cache_t *c =
        D.cache ? &D.cache[(sfi * 0x9e3779b97f4a7c15ull) >> 52 & (SP_V8_CACHE_SLOTS - 1)] : NULL;
    if (c && c->fn && c->sfi == sfi && c->nosi == nosi && c->script == script) {
        D.st.cache_hits++;
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
    if (st >= 0 && st < sp_v8heap_layout.first_nonstring && !(path = sp_v8heap_string_dup(sname)))
        goto fail;
    if (start >= 0 && !script_line(script, start, &line, &col)) line = col = 0;
    uint32_t id = intern_fn(name, path, line, col);
    if (id && c) *c = (cache_t){.sfi = sfi, .nosi = nosi, .script = script, .fn = id};
    return id;
fail:
    sp_mem_free(name);
    sp_mem_free(path);
    return 0;
}

/* ---- the executing line ---- */

/* The frame (index + 1 into frames) of function fn at line:col, 0 when the table is full
 * or out of memory. */
__attribute__((cold)) static uint32_t intern_frame(uint32_t fn, int line, int col)
{
    uint64_t h = ((uint64_t)fn * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)(uint32_t)line << 24) ^
                 (uint64_t)(uint32_t)col;
    size_t b = (size_t)((h * 0x9e3779b97f4a7c15ull) >> 40) % SP_V8_FRAME_BUCKETS;
    if (!D.frames) D.frames = sp_mem_calloc(SP_V8_MAX_FRAMES_T, sizeof *D.frames);
    if (!D.frame_buckets) D.frame_buckets = sp_mem_calloc(SP_V8_FRAME_BUCKETS, sizeof *D.frame_buckets);
    if (!D.frames || !D.frame_buckets) return 0;
    for (uint32_t i = D.frame_buckets[b]; i; i = D.frames[i - 1].next) {
        const frame_entry_t *e = &D.frames[i - 1];
        if (e->fn == fn && e->v.lineno == line && e->v.colno == col) return i;
    }
    if (D.nframes == SP_V8_MAX_FRAMES_T) return 0;
    frame_entry_t *e = &D.frames[D.nframes++];
    e->v = D.fns[fn - 1].v;
    e->v.lineno = line;
    e->v.colno = col;
    e->fn = fn;
    e->next = D.frame_buckets[b];
    D.frame_buckets[b] = D.nframes;
    return D.nframes;
}

typedef enum { POS_LINE, POS_NO_TABLE, POS_NO_LINE_ENDS, POS_UNSURE } pos_result_t;

/* Line and column executing in an interpreted frame: the frame's offset slot (raw: the
 * Smi, counted from the BytecodeArray's tagged address, header included, as V8 stores
 * it) -> bytecode offset -> the BytecodeArray's source position table -> script offset ->
 * the script's line ends. V8 spills the offset at calls only, so a leaf's line is the one
 * of its last call, as in V8's own profiler, which reads the same slot. */
static pos_result_t exec_line(uint64_t script, uint64_t bca, uint64_t raw, int *line, int *col)
{
    const sp_v8heap_layout_t *l = &sp_v8heap_layout;
    uint64_t len_w, spt, n_w;
    uint64_t at[2] = {sp_v8heap_obj(bca) + (uint64_t)l->bca_length,
                      sp_v8heap_obj(bca) + (uint64_t)l->bca_spt};
    void *into[2] = {&len_w, &spt};
    size_t lens[2] = {8, 8};
    if (!sp_v8heap_readv(at, into, lens, 2) || !sp_v8heap_is_smi(len_w)) return POS_UNSURE;
    int64_t off = sp_v8heap_smi(raw) - l->bca_header + l->heap_tag;
    if (off < 0 || off >= sp_v8heap_smi(len_w)) return POS_UNSURE;
    /* Not collected yet: Smi zero (V8 >= 12.4) or undefined (before); V8 collects them
     * lazily, when a stack trace, a profiler or a debugger asks. */
    if (sp_v8heap_is_smi(spt)) return POS_NO_TABLE;
    int t = sp_v8heap_type_of(spt);
    if (t >= 0 && t == l->t_oddball) return POS_NO_TABLE;
    if (t < 0 || (t != l->t_byte_array && t != l->t_trusted_byte_array)) return POS_UNSURE;
    if (!sp_v8heap_word(spt, l->fa_length, &n_w) || !sp_v8heap_is_smi(n_w)) return POS_UNSURE;
    int64_t n = sp_v8heap_smi(n_w);
    if (n == 0) return POS_NO_TABLE; /* code that never has positions */
    if (n < 0 || n > SP_V8_SPT_MAX) return POS_UNSURE;
    if (!D.spt) D.spt = sp_mem_alloc(SP_V8_SPT_MAX);
    if (!D.spt || !sp_v8heap_read(sp_v8heap_obj(spt) + (uint64_t)l->ba_data, D.spt, (size_t)n))
        return POS_UNSURE;
    int64_t so;
    int inl;
    if (!sp_v8pos_find(D.spt, (size_t)n, l->spt_flags ? SP_V8POS_FLAGS : SP_V8POS_SIGNED,
                       sp_v8heap_smi(len_w), off, &so, &inl) ||
        inl != -1)
        return POS_UNSURE;
    if (!script_line(script, so, line, col)) return POS_NO_LINE_ENDS;
    return POS_LINE;
}

static void count_miss(pos_result_t r)
{
    if (r == POS_NO_TABLE) D.st.no_table++;
    else if (r == POS_NO_LINE_ENDS) D.st.no_line_ends++;
    else D.st.pos_unsure++;
}

/* The frame a captured interpreted frame of function fn becomes: fn at its executing line
 * when that decodes, else fn at its definition (what frames showed before lines). *exact:
 * which of the two. 0 when the frame table is full. */
static uint32_t frame_at(uint32_t fn, uint64_t sfi, uint64_t script, uint64_t bca, uint64_t raw,
                         bool *exact)
{
    const sp_v8fn_t *def = &D.fns[fn - 1].v;
    *exact = false;
    if (sp_v8heap_layout.bca_spt < 0) return intern_frame(fn, def->lineno, def->colno);
    if (!D.pos) D.pos = sp_mem_calloc(SP_V8_POS_SLOTS, sizeof *D.pos);
    pos_cache_t *c =
        D.pos ? &D.pos[((bca ^ raw * 31) * 0x9e3779b97f4a7c15ull) >> 51 & (SP_V8_POS_SLOTS - 1)]
              : NULL;
    if (c && c->frame && c->sfi == sfi && c->bca == bca && c->off == raw && c->fn == fn &&
        (!c->retry || --c->retry)) {
        D.st.pos_hits++;
        *exact = !c->retry;
        if (!*exact) count_miss((pos_result_t)c->why);
        return c->frame;
    }
    int line = 0, col = 0;
    pos_result_t r = exec_line(script, bca, raw, &line, &col);
    uint32_t id = r == POS_LINE ? intern_frame(fn, line, col) : 0;
    *exact = id != 0;
    if (!id) {
        if (r == POS_LINE) r = POS_UNSURE; /* the frame table is full */
        count_miss(r);
        id = intern_frame(fn, def->lineno, def->colno);
    }
    if (c && id)
        *c = (pos_cache_t){.sfi = sfi, .bca = bca, .off = raw, .fn = fn, .frame = id,
                           .retry = *exact ? 0 : SP_V8_POS_RETRY, .why = (uint8_t)r};
    return id;
}

/* A captured frame -> its frame (index + 1 into frames), 0 when unsure. */
static uint32_t decode_frame(uint64_t fn, uint64_t bca, uint64_t offset, const prefetch_t *pf,
                             bool *exact)
{
    uint64_t sfi, script;
    uint32_t f = decode_pf(fn, bca, offset, pf, &sfi, &script);
    return f ? frame_at(f, sfi, script, bca, offset, exact) : 0;
}

__attribute__((cold)) bool sp_v8decode_frame(uint64_t fn, uint64_t bca, uint64_t offset,
                                            sp_v8fn_t *out)
{
    if (!D.on) return false;
    bool exact;
    uint32_t id = decode_frame(fn, bca, offset, NULL, &exact);
    if (!id) return false;
    *out = D.frames[id - 1].v;
    return true;
}

const sp_v8fn_t *sp_v8decode_lookup(uint64_t addr)
{
    if (!(addr & SP_V8_SYNTH_BIT) || (addr >> 32) != (SP_V8_SYNTH_BIT >> 32)) return NULL;
    uint64_t i = addr & 0xffffffffu;
    return i >= 1 && i <= D.nframes ? &D.frames[i - 1].v : NULL;
}


/* ---- optimized code (Maglev, TurboFan): a native frame and the functions inlined in it ---- */

#define SP_V8_CODE_SLOTS  1024 /* Code objects, direct-mapped by instruction start */
#define SP_V8_CHAIN_SLOTS 2048 /* (code, pc offset) -> its frames, direct-mapped */
#define SP_V8_INL_BYTES   (16 * 4096) /* InliningPositions read at most (16 bytes an id) */
#define SP_V8_LIT_MAX     256  /* inlined functions of one code object decoded at most */

/* One optimized Code object as loaded: trusted for a frame while the Code's position table
 * and deoptimization data words still read the same and the frame's JSFunction still
 * points to the SharedFunctionInfo the code was compiled for. */
typedef struct code_entry {
    uint64_t start, size; /* key: its instructions, as the perf map gives them */
    uint64_t code;        /* the Code object (tagged) */
    uint64_t deopt, spt;  /* its words when loaded (adjacent: one read checks both) */
    uint64_t sfi, script; /* the outermost function's SharedFunctionInfo and Script */
    uint32_t fn;          /* its function; 0: the code did not check out */
    uint32_t gen;         /* which load this is (the chain cache's key) */
    int64_t isize;        /* instruction size */
    uint8_t *table;       /* the position table's bytes */
    uint32_t ntable;
    uint8_t *inl;         /* InliningPositions: {uint64 SourcePosition, int32 function} */
    uint32_t ninl;        /* bytes */
    uint32_t nlit;        /* inlined functions */
    uint32_t *lit_fn;     /* each one's function (0: unsure) */
    uint64_t *lit_script;
} code_entry_t;

typedef struct chain_entry {
    uint64_t start;
    uint32_t gen, off; /* key: the code's load and the pc offset */
    uint8_t n, exact;  /* frames (0: empty), all with the line executing in them */
    uint32_t frames[SP_V8_INL_MAX];
} chain_entry_t;

__attribute__((cold)) static void code_forget(code_entry_t *e)
{
    sp_mem_free(e->table);
    sp_mem_free(e->inl);
    sp_mem_free(e->lit_fn);
    sp_mem_free(e->lit_script);
    memset(e, 0, sizeof *e);
}

static bool type_in(int t, const int64_t *types, int n)
{
    for (int i = 0; i < n; i++)
        if (t >= 0 && types[i] == t) return true;
    return false;
}

/* A byte array's bytes (ByteArray or TrustedByteArray, at most max), in sp_mem memory. */
__attribute__((cold)) static uint8_t *byte_array_dup(uint64_t ba, uint32_t max, uint32_t *n)
{
    const sp_v8heap_layout_t *l = &sp_v8heap_layout;
    uint64_t len_w;
    int64_t types[2] = {l->t_byte_array, l->t_trusted_byte_array};
    if (!sp_v8heap_is_heap(ba) || !type_in(sp_v8heap_type_of(ba), types, 2) ||
        !sp_v8heap_word(ba, l->fa_length, &len_w) || !sp_v8heap_is_smi(len_w))
        return NULL;
    int64_t len = sp_v8heap_smi(len_w);
    if (len < 0 || len > max) return NULL;
    uint8_t *b = sp_mem_alloc(len ? (size_t)len : 1);
    if (b && len && !sp_v8heap_read(sp_v8heap_obj(ba) + (uint64_t)l->ba_data, b, (size_t)len)) {
        sp_mem_free(b);
        return NULL;
    }
    *n = (uint32_t)len;
    return b;
}

/* A SharedFunctionInfo pointer (a weak reference in the literal array, or wrapped) ->
 * its function and script; 0 when unsure. */
__attribute__((cold)) static uint32_t sfi_at(uint64_t w, uint64_t *sfi_out, uint64_t *script)
{
    const sp_v8heap_layout_t *l = &sp_v8heap_layout;
    if ((w & 3) == 3) w &= ~2ull; /* a weak reference: V8's kWeakHeapObjectTag */
    if (!sp_v8heap_is_heap(w)) return 0;
    int t = sp_v8heap_type_of(w);
    if (t >= 0 && t == l->t_sfi_wrapper &&
        (!sp_v8heap_word(w, l->sfiw_shared, &w) || !sp_v8heap_is_heap(w)))
        return 0;
    uint64_t head[8];
    if (!sp_v8heap_read(sp_v8heap_obj(w), head, sizeof head) ||
        sp_v8heap_map_type(head[l->map / 8]) != l->t_sfi)
        return 0;
    *sfi_out = w;
    return sfi_fn(w, head, script);
}

/* Reads the optimized Code object whose instructions start at start into e. Once per code
 * object (cold: built for size). */
__attribute__((cold)) static void code_load(code_entry_t *e, uint64_t start, uint64_t size)
{
    const sp_v8heap_layout_t *l = &sp_v8heap_layout;
    code_forget(e);
    e->start = start;
    e->size = size;
    e->gen = ++D.code_gen;
    D.st.code_loads++;
    uint64_t code;
    if (l->code_header >= 0) { /* V8 10: the instructions follow the Code's header */
        code = start - (uint64_t)l->code_header + (uint64_t)l->heap_tag;
    } else {
        uint64_t is = start - (uint64_t)l->is_header + (uint64_t)l->heap_tag;
        if (sp_v8heap_type_of(is) != l->t_istream || !sp_v8heap_word(is, l->is_code, &code) ||
            !sp_v8heap_is_heap(code))
            return;
    }
    uint8_t head[160];
    int64_t top = l->code_isize;
    if (l->code_flags > top) top = l->code_flags;
    if (l->code_istart > top) top = l->code_istart;
    if (l->code_spt > top) top = l->code_spt;
    if (sp_v8heap_type_of(code) != l->t_code || top + 8 > (int64_t)sizeof head ||
        !sp_v8heap_read(sp_v8heap_obj(code), head, (size_t)top + 8))
        return;
    uint64_t istart = 0, deopt, spt;
    int32_t isize;
    uint32_t flags;
    if (l->code_istart >= 0) memcpy(&istart, head + l->code_istart, 8);
    memcpy(&isize, head + l->code_isize, 4);
    memcpy(&flags, head + l->code_flags, 4);
    memcpy(&deopt, head + l->code_deopt, 8);
    memcpy(&spt, head + l->code_spt, 8);
    int64_t kind = (int64_t)(flags >> l->kind_shift) & l->kind_mask;
    if ((l->code_istart >= 0 && istart != start) || isize <= 0 || (uint64_t)isize > size ||
        kind <= l->kind_baseline)
        return;
    e->code = code, e->deopt = deopt, e->spt = spt, e->isize = isize;
    if (!(e->table = byte_array_dup(spt, SP_V8_SPT_MAX, &e->ntable)) || !e->ntable) return;
    /* DeoptimizationData: a fixed array (of any trust) of at least the indices we read. */
    int64_t need = l->dd_count;
    int64_t idx[] = {l->dd_literals, l->dd_sfi, l->dd_inl_pos};
    for (int i = 0; i < 3; i++)
        if (idx[i] > need) need = idx[i];
    uint64_t dd[34], len_w;
    if (!sp_v8heap_is_heap(deopt) || !type_in(sp_v8heap_type_of(deopt), l->t_arrays, 6) ||
        !sp_v8heap_word(deopt, l->fa_length, &len_w) || !sp_v8heap_is_smi(len_w) ||
        sp_v8heap_smi(len_w) <= need ||
        !sp_v8heap_read(sp_v8heap_obj(deopt) + (uint64_t)l->fa_data, dd, 8 * (size_t)(need + 1)))
        return;
    uint64_t sfi, count_w = dd[l->dd_count];
    uint32_t fn = sfi_at(dd[l->dd_sfi], &sfi, &e->script);
    if (!fn || !sp_v8heap_is_smi(count_w)) return;
    int64_t count = sp_v8heap_smi(count_w);
    if (count < 0 || count > SP_V8_LIT_MAX) return;
    if (count > 0) {
        uint64_t lits = dd[l->dd_literals], lits_len, w[SP_V8_LIT_MAX];
        if (!sp_v8heap_is_heap(lits) || !type_in(sp_v8heap_type_of(lits), l->t_arrays, 6) ||
            !sp_v8heap_word(lits, l->fa_length, &lits_len) || !sp_v8heap_is_smi(lits_len) ||
            sp_v8heap_smi(lits_len) < count ||
            !sp_v8heap_read(sp_v8heap_obj(lits) + (uint64_t)l->fa_data, w, 8 * (size_t)count))
            return;
        e->lit_fn = sp_mem_calloc((size_t)count, sizeof *e->lit_fn);
        e->lit_script = sp_mem_calloc((size_t)count, sizeof *e->lit_script);
        if (!e->lit_fn || !e->lit_script) return;
        e->nlit = (uint32_t)count;
        for (int64_t i = 0; i < count; i++) {
            uint64_t isfi;
            e->lit_fn[i] = sfi_at(w[i], &isfi, &e->lit_script[i]);
        }
        if (!(e->inl = byte_array_dup(dd[l->dd_inl_pos], SP_V8_INL_BYTES, &e->ninl))) return;
    }
    e->sfi = sfi;
    e->fn = fn;
}

/* fn at the line of script position pos in script (its definition when that does not
 * decode: *exact false). 0 when the frame table is full. */
__attribute__((cold)) static uint32_t frame_line(uint32_t fn, uint64_t script, int64_t pos, bool *exact)
{
    int line, col;
    if (pos >= 0 && script_line(script, pos, &line, &col)) return intern_frame(fn, line, col);
    *exact = false;
    return intern_frame(fn, D.fns[fn - 1].v.lineno, D.fns[fn - 1].v.colno);
}

/* The frames code offset off of e runs, innermost first (the inlined function executing,
 * then the functions it was inlined into, each at its call site's line), into out; how
 * many, 0 when unsure. */
__attribute__((cold)) static unsigned code_frames(const code_entry_t *e, int64_t off, uint32_t *out, bool *exact)
{
    int64_t so;
    int id;
    *exact = true;
    if (!sp_v8pos_find(e->table, e->ntable,
                       sp_v8heap_layout.spt_flags ? SP_V8POS_FLAGS : SP_V8POS_SIGNED, e->isize,
                       off, &so, &id))
        return 0;
    unsigned n = 0;
    while (id >= 0) {
        if (n + 1 >= SP_V8_INL_MAX || 16 * (uint64_t)id + 16 > e->ninl) return 0;
        uint64_t pos;
        int32_t f;
        memcpy(&pos, e->inl + 16 * id, 8);
        memcpy(&f, e->inl + 16 * id + 8, 4);
        if (f < 0 || (uint32_t)f >= e->nlit || !e->lit_fn[f]) return 0;
        if (!(out[n++] = frame_line(e->lit_fn[f], e->lit_script[f], so, exact))) return 0;
        /* The call site, in the caller's function: an inlining id below this one. */
        int caller = (int)(pos >> 31 & 0xffff) - 1;
        if ((pos & 1) || caller >= id) return 0;
        so = (int64_t)(pos >> 1 & 0x3fffffff) - 1;
        id = caller;
    }
    if (!(out[n++] = frame_line(e->fn, e->script, so, exact))) return 0;
    return n;
}

/* The frames of a captured optimized frame: the JSFunction in its slot, its pc
 * (return_addr: a caller's, the call is at pc - 1) in code the perf map places at
 * [start, start + size). 0 when anything does not check out (the perf map names it). */
static unsigned decode_jit(uint64_t fn, uint64_t pc, bool return_addr, uint64_t start,
                           uint64_t size, uint32_t *out, bool *exact)
{
    const sp_v8heap_layout_t *l = &sp_v8heap_layout;
    if (!l->jit_on || !sp_v8heap_is_heap(fn) || pc < start || pc - start > size) return 0;
    if (!D.code) D.code = sp_mem_calloc(SP_V8_CODE_SLOTS, sizeof *D.code);
    if (!D.chain) D.chain = sp_mem_calloc(SP_V8_CHAIN_SLOTS, sizeof *D.chain);
    if (!D.code || !D.chain) return 0;
    code_entry_t *e = &D.code[(start * 0x9e3779b97f4a7c15ull) >> 54 & (SP_V8_CODE_SLOTS - 1)];
    /* One read checks the cached code and the frame: the Code's two words and the
     * JSFunction's SharedFunctionInfo. */
    uint64_t words[2], sfi = 0;
    if (e->start != start || e->size != size) code_load(e, start, size);
    if (!e->code) return 0;
    uint64_t at[2] = {sp_v8heap_obj(e->code) + (uint64_t)l->code_deopt,
                      sp_v8heap_obj(fn) + (uint64_t)l->fn_shared};
    void *into[2] = {words, &sfi};
    size_t lens[2] = {16, 8};
    if (!sp_v8heap_readv(at, into, lens, 2) || words[0] != e->deopt || words[1] != e->spt) {
        e->start = 0; /* another object there now (or none): read the code again next time */
        return 0;
    }
    /* The frame is this code's function's (not a caller's, as in a prologue). */
    if (!e->fn || sfi != e->sfi) return 0;
    int64_t off = (int64_t)(pc - start) - (return_addr ? 1 : 0);
    if (off < 0 || off >= e->isize) return 0;
    chain_entry_t *c = &D.chain[((start ^ (uint64_t)off * 0x9e3779b97f4a7c15ull) *
                                  0x9e3779b97f4a7c15ull) >> 53 & (SP_V8_CHAIN_SLOTS - 1)];
    if (c->n && c->start == start && c->gen == e->gen && c->off == (uint32_t)off) {
        memcpy(out, c->frames, c->n * sizeof *out);
        *exact = c->exact;
        D.st.chain_hits++;
        return c->n;
    }
    unsigned n = code_frames(e, off, out, exact);
    if (n) {
        *c = (chain_entry_t){.start = start, .gen = e->gen, .off = (uint32_t)off,
                             .n = (uint8_t)n, .exact = *exact};
        memcpy(c->frames, out, n * sizeof *out);
    }
    return n;
}

__attribute__((cold)) size_t sp_v8decode_jit_frame(uint64_t fn, uint64_t pc, bool return_addr,
                                                   uint64_t start, uint64_t size, sp_v8fn_t *out,
                                                   size_t cap)
{
    uint32_t fr[SP_V8_INL_MAX];
    bool exact;
    if (!D.on) return 0;
    unsigned n = decode_jit(fn, pc, return_addr, start, size, fr, &exact);
    if (n > cap) return 0;
    for (unsigned i = 0; i < n; i++) out[i] = D.frames[fr[i] - 1].v;
    return n;
}

/* ---- samples ---- */

/* What runs at pcs[k]: 1 V8's interpreter entry (InterpreterEntryTrampoline and the
 * InterpreterEnterAt* re-entries, or a function's own copy of it: the frame is the
 * interpreted function's own: rename it), 2 another builtin or bytecode handler running on that JS frame without
 * one of its own (insert the function above it), 0 anything else (a JS function with its
 * own code, native code: leave it). */
/* pcs[k] is the pc of an interrupted context, not a return address: the sample's leaf, or
 * a context another signal handler interrupted (ring.h: sig). */
static bool is_leaf(const sp_sample_t *s, unsigned k)
{
    for (unsigned i = 0; i < s->nsig && i < SP_MAX_SIGFRAMES; i++)
        if (s->sig[i].frame == k) return true;
    return k == 0;
}

/* by frames went in above pcs[k]: the interrupted contexts above it moved up (and those
 * a full stack cut off are gone). */
static void shift_sig(sp_sample_t *s, unsigned k, unsigned by)
{
    unsigned n = 0;
    for (unsigned i = 0; i < s->nsig && i < SP_MAX_SIGFRAMES; i++) {
        sp_sig_ctx_t c = s->sig[i];
        if (c.frame > k) c.frame = (uint16_t)(c.frame + by);
        if (c.frame < s->nframes) s->sig[n++] = c;
    }
    s->nsig = (uint16_t)n;
}

static int pc_kind(sp_symbolizer_t *sym, const sp_sample_t *s, unsigned k, uint64_t *start,
                   uint64_t *size, int *tier)
{
    sp_frame_t f;
    sp_symbolizer_resolve(sym, s->pcs[k], k > 0, &f);
    /* An interpreted function's own copy of the interpreter entry (V8 >= 12 with
     * --interpreted-frames-native-stack): the perf map names the function but not the line
     * executing in it; the frame's slots do. Optimized code (3): its Code object says
     * which functions were inlined where. */
    if (f.kind != SP_FRAME_NATIVE) {
        char t = sp_symbolizer_js_code(sym, s->pcs[k], k > 0, start, size);
        *tier = t == '^' ? 0 : t == '+' ? 1 : t == '*' ? 2 : -1;
        if (*tier > 0) return 3;
        return t == '~';
    }
    if (!f.function) return 0;
    bool builtin = strncmp(f.function, "Builtins_", 9) == 0;
    /* The interpreter's entry points run on the frame they enter (the trampoline built
     * it); other Interpreter* builtins (InterpreterPushArgsThen...) are ordinary callees. */
    if (!is_leaf(s, k) && builtin &&
        (strncmp(f.function, "Builtins_InterpreterEntryTrampoline", 35) == 0 ||
         strncmp(f.function, "Builtins_InterpreterEnterAt", 27) == 0))
        return 1;
    /* The leaf may also be native code that has not (yet) built a frame over the
     * interpreted one: another profiler's signal handler that interrupted it (V8's own
     * SIGPROF sampler under --cpu-prof) or a function's first instructions. A native frame
     * that did build one keeps its own locals in these slots, and they fail the checks. */
    return builtin || is_leaf(s, k) ? 2 : 0;
}

void sp_v8decode_rewrite(sp_sample_t *s, sp_symbolizer_t *sym)
{
    if (!D.on || !s->nv8) return;
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    int kinds[SP_V8_MAX_FRAMES] = {0}, tiers[SP_V8_MAX_FRAMES];
    uint64_t starts[SP_V8_MAX_FRAMES], sizes[SP_V8_MAX_FRAMES];
    prefetch_t pf[SP_V8_MAX_FRAMES];
    struct iovec local[3 * SP_V8_MAX_FRAMES], remote[3 * SP_V8_MAX_FRAMES];
    size_t niov = 0, total = 0;
    unsigned nv8 = s->nv8 < SP_V8_MAX_FRAMES ? s->nv8 : SP_V8_MAX_FRAMES;
    for (unsigned i = 0; i < nv8; i++) {
        const sp_v8_slots_t *v = &s->v8[i];
        memset(&pf[i], 0, sizeof pf[i]);
        kinds[i] = v->frame < s->nframes
                       ? pc_kind(sym, s, v->frame, &starts[i], &sizes[i], &tiers[i])
                       : 0;
        if (kinds[i] != 1 && kinds[i] != 2) continue;
        if (!frame_words_ok(v->function, v->bytecode_array, v->bytecode_offset))
            continue;
#define ADD(dst, addr, n)                                                                          \
    (local[niov] = (struct iovec){(dst), (n)},                                                     \
     remote[niov] = (struct iovec){(void *)(uintptr_t)(addr), (n)}, niov++, total += (n))
        ADD(&pf[i].bca_map, sp_v8heap_obj(v->bytecode_array) + (uint64_t)sp_v8heap_layout.map, 8);
        ADD(&pf[i].sfi, sp_v8heap_obj(v->function) + (uint64_t)sp_v8heap_layout.fn_shared, 8);
        uint64_t *g = guess_slot(v->function);
        if (g && g[0] == v->function && sp_v8heap_is_heap(g[1])) {
            pf[i].guess = g[1];
            ADD(pf[i].head, sp_v8heap_obj(g[1]), sizeof pf[i].head);
        }
#undef ADD
    }
    /* The whole sample's reads in one system call; if any range fails (an object died),
     * each frame reads on its own below. */
    if (sp_v8heap_read_iov(local, remote, niov, total))
        for (unsigned i = 0; i < nv8; i++)
            pf[i].read = kinds[i] == 1 || kinds[i] == 2, pf[i].head_read = pf[i].guess != 0;
    else
        memset(pf, 0, sizeof pf);
    /* From the root end down, so an insertion does not move frames still to visit. */
    for (int i = (int)nv8 - 1; i >= 0; i--) {
        const sp_v8_slots_t *v = &s->v8[i];
        unsigned k = v->frame;
        if (k >= s->nframes) continue;
        int kind = kinds[i];
        if (!kind) continue;
        bool exact;
        if (kind == 3) { /* optimized code */
            uint32_t fr[SP_V8_INL_MAX];
            unsigned n =
                decode_jit(v->function, s->pcs[k], k > 0, starts[i], sizes[i], fr, &exact);
            if (!n) {
                D.st.jit_fallback[tiers[i]]++;
                sp_stats_inc(SP_STAT_V8_JIT_PERF_MAP);
                continue;
            }
            D.st.jit_resolved[tiers[i]]++;
            sp_stats_inc(SP_STAT_V8_JIT_DECODED);
            D.st.jit_inlined += n - 1;
            if (exact) D.st.jit_lines++;
            /* Innermost at k, the functions it was inlined into above it. A full stack
             * loses its root-most frames, and is then marked truncated. */
            unsigned room = SP_MAX_FRAMES - k; /* slots from k on */
            if (n > room) n = room;
            unsigned tail = s->nframes - k - 1u; /* frames above k */
            if (tail > room - n) {
                tail = room - n;
                s->flags |= SP_SAMPLE_TRUNCATED;
            }
            memmove(&s->pcs[k + n], &s->pcs[k + 1], tail * sizeof s->pcs[0]);
            for (unsigned j = 0; j < n; j++) s->pcs[k + j] = SP_V8_SYNTH_BIT | fr[j];
            s->nframes = (uint16_t)(k + n + tail);
            shift_sig(s, k, n - 1);
            continue;
        }
        uint32_t id =
            decode_frame(v->function, v->bytecode_array, v->bytecode_offset, &pf[i], &exact);
        if (!id) {
            D.st.unresolved++;
            sp_stats_inc(SP_STAT_V8_UNNAMED);
            continue;
        }
        uint64_t synth = SP_V8_SYNTH_BIT | id;
        D.st.named++;
        sp_stats_inc(SP_STAT_V8_NAMED);
        if (exact) D.st.lines++;
        if (kind == 1) {
            s->pcs[k] = synth;
            continue;
        }
        /* Insert above pcs[k]: the JS function the builtin runs for. A full stack loses
         * its root-most frame, which is then marked truncated. */
        if (k + 1 >= SP_MAX_FRAMES || (k + 1 < s->nframes && s->pcs[k + 1] == synth)) continue;
        unsigned n = s->nframes < SP_MAX_FRAMES ? s->nframes + 1u : SP_MAX_FRAMES;
        if (n == s->nframes) s->flags |= SP_SAMPLE_TRUNCATED;
        memmove(&s->pcs[k + 2], &s->pcs[k + 1], (n - k - 2) * sizeof s->pcs[0]);
        s->pcs[k + 1] = synth;
        s->nframes = (uint16_t)n;
        shift_sig(s, k, 1);
        D.st.inserted++;
    }
    s->nv8 = 0;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    D.st.samples++;
    D.st.ns += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec));
}

/* ---- layout ---- */

__attribute__((cold)) bool sp_v8decode_init_with(bool (*get)(const char *name, int64_t *value))
{
    sp_v8heap_frame_slots_t fp;
    if (!sp_v8heap_init(get, &fp)) return false;
    D.on = true;
    const sp_v8heap_layout_t *l = &sp_v8heap_layout;
    sp_v8_frame_layout_t *fl = &sp_v8_frame_layout;
    fl->off_function = (int32_t)fp.function;
    fl->off_bytecode_array = (int32_t)fp.bytecode_array;
    fl->off_bytecode_offset = (int32_t)fp.bytecode_offset;
    fl->off_context = (int32_t)fp.context;
    int64_t lo = fp.function, hi = fp.function;
    if (fp.context < lo) lo = fp.context;
    if (fp.context > hi) hi = fp.context;
    if (fp.bytecode_array < lo) lo = fp.bytecode_array;
    if (fp.bytecode_offset < lo) lo = fp.bytecode_offset;
    if (fp.bytecode_array > hi) hi = fp.bytecode_array;
    if (fp.bytecode_offset > hi) hi = fp.bytecode_offset;
    fl->lowest = (int32_t)lo;
    fl->highest = (int32_t)hi;
    fl->heap_tag_mask = (uint64_t)l->heap_tag_mask;
    fl->heap_tag = (uint64_t)l->heap_tag;
    fl->smi_zero_mask = (1ull << l->smi_shift) - 1;
    atomic_store_explicit(&fl->on, 1, memory_order_release);
    SP_DEBUG("v8 frames: on (fp slots %d/%d/%d, scope info first vars %lld)", (int)fp.function,
             (int)fp.bytecode_array, (int)fp.bytecode_offset, (long long)l->si_first_vars);
    return true;
}

bool sp_v8decode_init(void) { return sp_v8decode_init_with(sp_v8heap_dlsym_get); }

bool sp_v8decode_enabled(void) { return D.on; }

__attribute__((cold)) void sp_v8decode_reset(void)
{
    atomic_store(&sp_v8_frame_layout.on, 0);
    for (uint32_t i = 0; i < D.nfns; i++) {
        sp_mem_free((char *)D.fns[i].v.function);
        sp_mem_free((char *)D.fns[i].v.script);
    }
    sp_mem_free(D.fns);
    sp_mem_free(D.buckets);
    sp_mem_free(D.frames);
    sp_mem_free(D.frame_buckets);
    sp_mem_free(D.pos);
    sp_mem_free(D.spt);
    sp_mem_free(D.cache);
    sp_mem_free(D.guess);
    if (D.code)
        for (int i = 0; i < SP_V8_CODE_SLOTS; i++) code_forget(&D.code[i]);
    sp_mem_free(D.code);
    sp_mem_free(D.chain);
    memset(&D, 0, sizeof D);
    sp_v8heap_reset();
}

void sp_v8decode_get_stats(sp_v8decode_stats_t *out)
{
    *out = D.st;
    out->reads = sp_v8heap_reads();
}

__attribute__((cold)) void sp_v8decode_log_stats(void)
{
    if (!D.on) return;
    SP_DEBUG(
        "v8 frames: %llu named (%llu put back under a builtin), %llu left unnamed, %u functions, "
        "%u frames; lines: %llu executing, definition for %llu (%llu positions not collected, "
        "%llu scripts without line ends, %llu unsure), %llu position cache hits; "
        "%llu heap reads, %llu cache hits; %.1f us CPU per sample with captured slots (%llu)",
        (unsigned long long)D.st.named, (unsigned long long)D.st.inserted,
        (unsigned long long)D.st.unresolved, D.nfns, D.nframes, (unsigned long long)D.st.lines,
        (unsigned long long)(D.st.no_table + D.st.no_line_ends + D.st.pos_unsure),
        (unsigned long long)D.st.no_table, (unsigned long long)D.st.no_line_ends,
        (unsigned long long)D.st.pos_unsure, (unsigned long long)D.st.pos_hits,
        (unsigned long long)sp_v8heap_reads(),
        (unsigned long long)D.st.cache_hits,
        D.st.samples ? (double)D.st.ns / 1000.0 / (double)D.st.samples : 0.0,
        (unsigned long long)D.st.samples);
    SP_DEBUG("v8 frames: optimized code %s: Maglev %llu decoded / %llu perf map, TurboFan "
             "%llu decoded / %llu perf map; %llu inlined frames added, %llu code objects read",
             sp_v8heap_layout.jit_on ? "on" : "off", (unsigned long long)D.st.jit_resolved[1],
             (unsigned long long)D.st.jit_fallback[1], (unsigned long long)D.st.jit_resolved[2],
             (unsigned long long)D.st.jit_fallback[2], (unsigned long long)D.st.jit_inlined,
             (unsigned long long)D.st.code_loads);
}
