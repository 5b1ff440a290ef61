/* v8jit: optimized (Maglev, TurboFan) frames and the functions inlined in them. Owns the
 * cache of loaded Code objects (by instruction start, as the perf map gives it) and the
 * cache of (code, pc offset) -> frames; reads the heap only through v8heap, names
 * functions and frames through v8fn. Agent thread only.
 *
 * What is trusted: a loaded Code object only while its position table and deoptimization
 * data words still read the same and the frame's JSFunction (followed if the GC moved it)
 * points to the SharedFunctionInfo the code was compiled for, or is no JSFunction any more
 * (its memory reused: pc alone says which code runs); a cached frame list only for the
 * same load of the code (its gen) and pc offset. */
#include "v8jit.h"

#include <string.h>

#include "mem.h"
#include "v8fn.h"
#include "v8heap.h"
#include "v8pos.h"

#define SP_V8_CODE_SLOTS  1024 /* Code objects, direct-mapped by instruction start */
#define SP_V8_CHAIN_SLOTS 2048 /* (code, pc offset) -> its frames, direct-mapped */
#define SP_V8_INL_BYTES   (16 * 4096) /* InliningPositions read at most (16 bytes an id) */
#define SP_V8_LIT_MAX     256  /* inlined functions of one code object decoded at most */

/* One optimized Code object as loaded: trusted for a frame while the Code's position table
 * and deoptimization data words still read the same and the frame's JSFunction still
 * points to the SharedFunctionInfo the code was compiled for. */
typedef struct {
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

typedef struct {
    uint64_t start;
    uint32_t gen, off; /* key: the code's load and the pc offset */
    uint8_t n, exact;  /* frames (0: empty), all with the line executing in them */
    uint32_t frames[SP_V8_INL_MAX];
} chain_entry_t;

static struct {
    code_entry_t *code;   /* SP_V8_CODE_SLOTS optimized Code objects */
    chain_entry_t *chain; /* SP_V8_CHAIN_SLOTS decoded (code, pc offset) */
    uint32_t code_gen;
    uint64_t code_loads, chain_hits, forwarded, fn_gone;
} D;

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
    return sp_v8fn_of_sfi(w, head, script);
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
    D.code_loads++;
    sp_v8heap_code_t c;
    if (!sp_v8heap_code_at(start, size, &c) || c.kind <= l->kind_baseline) return;
    uint64_t code = c.code, deopt = c.deopt, spt = c.spt;
    int64_t isize = c.isize;
    e->code = code, e->deopt = deopt, e->spt = spt, e->isize = isize;
    if (!(e->table = sp_v8heap_bytes_dup(spt, SP_V8POS_TABLE_MAX, &e->ntable)) || !e->ntable)
        return;
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
        if (!(e->inl = sp_v8heap_bytes_dup(dd[l->dd_inl_pos], SP_V8_INL_BYTES, &e->ninl))) return;
    }
    e->sfi = sfi;
    e->fn = fn;
}

/* fn at the line of script position pos in script (its definition when that does not
 * decode: *exact false). 0 when the frame table is full. */
__attribute__((cold)) static uint32_t frame_line(uint32_t fn, uint64_t script, int64_t pos, bool *exact)
{
    int line, col;
    if (pos >= 0 && sp_v8fn_script_line(script, pos, &line, &col))
        return sp_v8fn_frame(fn, line, col);
    *exact = false;
    return sp_v8fn_def_frame(fn);
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

static code_entry_t *code_slot(uint64_t start)
{
    return &D.code[(start * 0x9e3779b97f4a7c15ull) >> 54 & (SP_V8_CODE_SLOTS - 1)];
}

static bool tables(void)
{
    if (!D.code) D.code = sp_mem_calloc(SP_V8_CODE_SLOTS, sizeof *D.code);
    if (!D.chain) D.chain = sp_mem_calloc(SP_V8_CHAIN_SLOTS, sizeof *D.chain);
    return D.code && D.chain;
}

/* The Code entry for [start, start + size), loaded now if its slot holds another. */
static code_entry_t *code_entry(uint64_t start, uint64_t size)
{
    code_entry_t *e = code_slot(start);
    if (e->start != start || e->size != size) code_load(e, start, size);
    return e;
}

bool sp_v8jit_plan(uint64_t fn, uint64_t start, uint64_t size, sp_v8jit_pre_t *pre)
{
    const sp_v8heap_layout_t *l = &sp_v8heap_layout;
    memset(pre, 0, sizeof *pre);
    if (!sp_v8heap_layout.jit_on || !sp_v8heap_is_heap(fn) || !tables()) return false;
    const code_entry_t *e = code_entry(start, size);
    if (!e->code) return false;
    pre->code = e->code;
    pre->at[0] = sp_v8heap_obj(e->code) + (uint64_t)l->code_deopt;
    pre->len[0] = 16;
    pre->into[0] = pre->code_words;
    pre->n = 2;
    pre->at[1] = sp_v8heap_obj(fn);
    pre->len[1] = sp_v8heap_fn_head_len();
    pre->into[1] = pre->fn_head.w;
    return true;
}

/* The loaded Code object at [start, start + size) (read now if the slot holds another),
 * when it still checks out and is the code of the frame's JSFunction fn (not a caller's, as
 * in a prologue); NULL otherwise. One read checks both: the Code's two words and the
 * JSFunction's map word and SharedFunctionInfo, done ahead for the whole sample when pre
 * was read for this code. */
static code_entry_t *code_of_frame(uint64_t fn, uint64_t start, uint64_t size, bool trust_pc,
                                   const sp_v8jit_pre_t *pre)
{
    code_entry_t *e = code_entry(start, size);
    if (!e->code) return NULL;
    uint64_t words[2] = {0, 0}, sfi = 0, fn_map = 0;
    sp_v8jit_pre_t own;
    if (!(pre && pre->read && pre->code == e->code)) {
        if (!sp_v8jit_plan(fn, start, size, &own)) return NULL;
        own.read = sp_v8heap_readv(own.at, own.into, own.len, (int)own.n);
        pre = &own;
    }
    bool read = pre->read;
    if (read) {
        words[0] = pre->code_words[0], words[1] = pre->code_words[1];
        fn_map = sp_v8heap_fn_head_map(&pre->fn_head);
        sfi = sp_v8heap_fn_head_sfi(&pre->fn_head);
    }
    if (!read || words[0] != e->deopt || words[1] != e->spt) {
        e->start = 0; /* another object there now (or none): read the code again next time */
        return NULL;
    }
    /* A scavenge since the sample moved the frame's closure (a server's per-request
     * callbacks are young: under express 19% of optimized frames failed this check): its
     * old copy's map word is the new copy's address until the page is reused. */
    uint64_t moved = sp_v8heap_forwarded(fn_map);
    if (moved) {
        D.forwarded++;
        sp_v8heap_fn_head_t head;
        if (!sp_v8heap_fn_head(moved, &head)) return NULL;
        fn_map = sp_v8heap_fn_head_map(&head), sfi = sp_v8heap_fn_head_sfi(&head);
    }
    if (!e->fn) return NULL;
    if (sfi == e->sfi) return e;
    /* Another JSFunction there: the frame runs another function's code (a callee's
     * prologue, before its frame is built), or the code at start is not the sampled one. */
    if (!trust_pc || sp_v8heap_is_fn_type(sp_v8heap_map_type(fn_map))) return NULL;
    /* No JSFunction there any more (a later scavenge reused the page): pc alone says which
     * code runs, a live Code object that starts at start and holds pc, placed there before
     * the sample (trust_pc: its perf-map entry is older). */
    D.fn_gone++;
    return e;
}

unsigned sp_v8jit_decode(uint64_t fn, uint64_t pc, uint64_t start, uint64_t size, bool trust_pc,
                         const sp_v8jit_pre_t *pre, uint32_t *out, bool *exact)
{
    if (!sp_v8heap_layout.jit_on || !sp_v8heap_is_heap(fn) || pc < start || pc - start > size ||
        !tables())
        return 0;
    const code_entry_t *e = code_of_frame(fn, start, size, trust_pc, pre);
    if (!e) return 0;
    /* V8's profiler takes the last table entry strictly before a pc (lower_bound, then one
     * back), the interrupted one too: for a return address that is the call, for the
     * interrupted pc the instruction that just retired. The same rule here, or an inlined
     * region's first instruction, where a timer's skid lands often, changes function
     * (inline fixture, Node 26: hashAll 7-10% self against V8's 2%, mix 6 points low). */
    int64_t off = (int64_t)(pc - start);
    if (off > 0) off--;
    if (off < 0 || off >= e->isize) return 0;
    chain_entry_t *c = &D.chain[((start ^ (uint64_t)off * 0x9e3779b97f4a7c15ull) *
                                  0x9e3779b97f4a7c15ull) >> 53 & (SP_V8_CHAIN_SLOTS - 1)];
    if (c->n && c->start == start && c->gen == e->gen && c->off == (uint32_t)off) {
        memcpy(out, c->frames, c->n * sizeof *out);
        *exact = c->exact;
        D.chain_hits++;
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

void sp_v8jit_counts(uint64_t *code_loads, uint64_t *chain_hits, uint64_t *forwarded,
                     uint64_t *fn_gone)
{
    *fn_gone = D.fn_gone;
    *code_loads = D.code_loads;
    *chain_hits = D.chain_hits;
    *forwarded = D.forwarded;
}

__attribute__((cold)) void sp_v8jit_reset(void)
{
    if (D.code)
        for (int i = 0; i < SP_V8_CODE_SLOTS; i++) code_forget(&D.code[i]);
    sp_mem_free(D.code);
    sp_mem_free(D.chain);
    memset(&D, 0, sizeof D);
}
