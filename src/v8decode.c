/* v8decode: names V8 interpreted frames from the slots v8frames captured, and rewrites each
 * sample's captured frames into synthetic addresses (optimized ones through v8jit). Owns
 * the switch (the layout read at start), the guesses JSFunction -> SharedFunctionInfo, the
 * cache of (BytecodeArray, offset) -> frame, each thread's last sample's frames and the
 * decoders' counters; functions and frames come from v8fn; reads the heap only through
 * v8heap (reads that never fault, types from maps). Agent thread only (sp_v8decode_init:
 * the loading thread, before sampling).
 *
 * What is trusted: a cached line only for the same SFI, BytecodeArray and offset slot,
 * after this sample's checks of both objects passed. A frame left at its definition line
 * is looked at again every SP_V8_POS_RETRY samples (V8 may collect positions or line ends
 * later). A frame of the thread's last sample (at most a second old) with the same return
 * address, slots and code, without a read: the GC rewrites the slots of the objects it
 * moves (find_same says why that is enough). */
#include "v8decode.h"

#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "mem.h"
#include "stats.h"
#include "v8baseline.h"
#include "v8frames.h"
#include "v8heap.h"
#include "v8jit.h"
#include "v8owner.h"
#include "v8pos.h"

#define SP_V8_GUESS_SLOTS  1024 /* JSFunction -> its SFI last time, direct-mapped */
#define SP_V8_POS_SLOTS    8192 /* (BytecodeArray, offset) -> frame, direct-mapped */
#define SP_V8_POS_RETRY    256  /* hits of a frame without its line before decoding it again */
#define SP_V8_TIME_EVERY   8    /* samples per one timed with the thread CPU clock */
#define SP_V8_TIME_ALL     256  /* ... after the first ones, each timed */
#define SP_V8_LAST_THREADS 16   /* threads whose last sample's frames are kept (by tid) */
#define SP_V8_LAST_IDS     512  /* frames those decoded to, per thread */
#define SP_V8_LAST_MAX_NS  1000000000ull /* ... and only while at most 1 s old */

typedef struct {
    uint64_t sfi, bca, off; /* key: the frame's SFI, BytecodeArray and offset slot */
    uint32_t fn, frame;     /* the SFI's function (checked anew each sample), its frame */
    uint16_t retry;         /* 0: frame has the executing line; else the definition's, kept
                               for this many more hits (V8 may collect positions meanwhile) */
    uint8_t why;            /* pos_result_t of a definition frame */
} pos_cache_t;

/* One captured frame of a thread's last sample and what it decoded to (kept only when
 * decoded with its executing line; n 0 otherwise). */
typedef struct {
    uint64_t pc, fn, bca, off, start, size; /* the return address, the slots, the code */
    uint8_t kind, tier, n;
    uint16_t ids_at; /* its n frame ids at ids[ids_at] */
} last_frame_t;

typedef struct {
    uint64_t ts_ns;
    uint32_t tid;
    uint16_t n, nids;
    last_frame_t f[SP_V8_MAX_FRAMES]; /* as the sample's v8[] */
    uint32_t ids[SP_V8_LAST_IDS];
} last_sample_t;

static struct {
    bool on;
    uint64_t sample_ns; /* the time of the sample being decoded (CLOCK_MONOTONIC) */
    /* The last sample of up to SP_V8_LAST_THREADS threads, and one being built. */
    last_sample_t *last[SP_V8_LAST_THREADS], *next;
    uint64_t *guess; /* SP_V8_GUESS_SLOTS pairs (JSFunction, SFI) */
    pos_cache_t *pos;
    uint8_t *spt; /* SP_V8POS_TABLE_MAX bytes: the table being decoded */
    sp_v8decode_stats_t st;
} D;

/* ---- JSFunction -> SharedFunctionInfo -> function ---- */

/* Words of one frame's objects read ahead, for the whole sample in one system call
 * (rewrite): the BytecodeArray's map, the JSFunction's SFI pointer, and the head of the SFI
 * that function had last time (a guess, used only when the pointer read now equals it). */
typedef struct {
    bool read, head_read;
    uint64_t bca_map, guess;
    uint64_t code; /* a Sparkplug frame's Code object, checked (sp_v8baseline_code; 0: none) */
    sp_v8heap_fn_head_t fn_head;
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

/* A Sparkplug frame's slots: a function and a BytecodeArray (checked when read), and in
 * the offset slot the feedback vector (a heap object) where an interpreted frame keeps a
 * Smi. */
static bool baseline_words_ok(const sp_v8_slots_t *v)
{
    return sp_v8heap_is_heap(v->function) && sp_v8heap_is_heap(v->bytecode_array) &&
           sp_v8heap_is_heap(v->bytecode_offset);
}

/* The map words of fn and bca and fn's SFI pointer, in one system call. */
static bool read_heads(uint64_t fn, uint64_t bca, uint64_t *fn_map, uint64_t *bca_map,
                       uint64_t *sfi)
{
    sp_v8heap_fn_head_t head;
    uint64_t at[2] = {sp_v8heap_obj(bca) + (uint64_t)sp_v8heap_layout.map, sp_v8heap_obj(fn)};
    void *into[2] = {bca_map, head.w};
    size_t lens[2] = {8, sp_v8heap_fn_head_len()};
    if (!sp_v8heap_readv(at, into, lens, 2)) return false;
    *fn_map = sp_v8heap_fn_head_map(&head);
    *sfi = sp_v8heap_fn_head_sfi(&head);
    return true;
}

/* The SFI's function data agrees with the frame's BytecodeArray (v8heap.h, sfi_data), or
 * is the frame's own Sparkplug Code object (code; 0: none known), which says no less and
 * costs no read. */
static bool data_fits(const uint64_t *sfi_head, uint64_t bca, uint64_t code)
{
    const sp_v8heap_layout_t *l = &sp_v8heap_layout;
    if (l->sfi_data < 0) return true;
    uint64_t fd = sfi_head[l->sfi_data / 8];
    if (fd == bca || (code && fd == code)) return true;
    int t = sp_v8heap_type_of(fd);
    if (t >= 0 && (t == l->t_interp_data || (l->t_code > 0 && t == l->t_code))) return true;
    D.st.data_mismatch++;
    return false;
}

/* ---- a frame whose closure is gone ---- */

/* sfi (its first 8 words into head; where the GC moved it, when it did) is a
 * SharedFunctionInfo whose function data is the BytecodeArray bca, or the frame's own
 * Sparkplug code (code; 0: none), or Sparkplug code made from bca. */
static bool owns(uint64_t *sfi, uint64_t bca, uint64_t code, uint64_t *head)
{
    const sp_v8heap_layout_t *l = &sp_v8heap_layout;
    if (!*sfi || !sp_v8heap_is_heap(*sfi) ||
        !sp_v8heap_read(sp_v8heap_obj(*sfi), head, 8 * sizeof *head))
        return false;
    uint64_t moved = sp_v8heap_forwarded(head[l->map / 8]);
    if (moved && !sp_v8heap_read(sp_v8heap_obj(*sfi = moved), head, 8 * sizeof *head)) return false;
    if (sp_v8heap_map_type(head[l->map / 8]) != l->t_sfi) return false;
    uint64_t fd = head[l->sfi_data / 8], fd_bca;
    /* Its Sparkplug code since (Node 22+ compiles it in batches while frames of the function
     * still run in the interpreter): that code's bytecode, in the slot optimized code keeps
     * its deoptimization data in. */
    return fd == bca || (code && fd == code) ||
           (l->jit_on && l->t_code > 0 && sp_v8heap_type_of(fd) == l->t_code &&
            sp_v8heap_word(fd, l->code_deopt, &fd_bca) && fd_bca == bca);
}

/* The function of a frame whose closure is gone by the decode (a scavenge moved it and the
 * old copy's memory was reused, or another function now sits there), from its
 * BytecodeArray bca (checked, where it is now): through the SFI V8 reported compiling it
 * (v8owner.h), only when it still owns bca (owns). bca_moved: bca is where the GC moved the
 * sample's BytecodeArray since. */
static uint32_t decode_owner(uint64_t bca, bool bca_moved, uint64_t code, uint64_t *sfi_out,
                             uint64_t *script_out)
{
    const sp_v8heap_layout_t *l = &sp_v8heap_layout;
    uint64_t head[8];
    if (l->sfi_data < 0 || l->bca_header <= 0) return 0;
    /* Where the sample's BytecodeArray still is, only an owner reported before the sample
     * (v8owner.h says why); one the GC moved since, whose new place the old copy told, is
     * the frame's own, and its owner is the SFI whose data it is, whenever reported. */
    uint64_t sfi = sp_v8owner_find(sp_v8heap_obj(bca) + (uint64_t)l->bca_header,
                                   bca_moved ? UINT64_MAX : D.sample_ns);
    if (!owns(&sfi, bca, code, head)) {
        D.st.owner_missed++;
        return 0;
    }
    D.st.owner_named++;
    sp_stats_inc(SP_STAT_V8_OWNER_NAMED);
    *sfi_out = sfi;
    return sp_v8fn_of_sfi(sfi, head, script_out);
}

/* The function (a v8fn id) of a captured frame, 0 when unsure; *sfi_out and
 * *script_out: the SharedFunctionInfo and Script it was read from; *bcap: the frame's
 * BytecodeArray where it is now (moved by the GC since the sample, or as captured). */
static uint32_t decode_pf(uint64_t fn, uint64_t *bcap, uint64_t offset, const prefetch_t *pf,
                          uint64_t *sfi_out, uint64_t *script_out)
{
    uint64_t sfi, sfi_head[8], bca = *bcap;
    uint64_t code = pf ? pf->code : 0;
    bool bca_moved = false, fn_gone = false;
    if (!frame_words_ok(fn, bca, offset)) return 0;
    uint64_t bca_map, fn_map;
    if (pf && pf->read)
        bca_map = pf->bca_map, fn_map = sp_v8heap_fn_head_map(&pf->fn_head),
        sfi = sp_v8heap_fn_head_sfi(&pf->fn_head);
    else if (!read_heads(fn, bca, &fn_map, &bca_map, &sfi))
        return 0;
    /* The GC moved an object since the sample was taken (a scavenge moves young closures,
     * compaction anything): the old copy's map word is the new copy's address until its
     * page is reused. Follow it once; a copy whose memory was reused fails the types. */
    uint64_t nfn = sp_v8heap_forwarded(fn_map), nbca = sp_v8heap_forwarded(bca_map);
    if (nfn || nbca) {
        D.st.forwarded++;
        pf = NULL; /* the guess was for the old copy's SFI pointer */
        if (read_heads(nfn ? nfn : fn, nbca ? nbca : bca, &fn_map, &bca_map, &sfi)) {
            if (nfn) fn = nfn;
            if (nbca) bca = nbca, bca_moved = true;
        } else if (nbca) {
            /* What looked like the closure's new place is not readable (reused memory):
             * the closure is gone, the BytecodeArray may still be found. */
            if (!sp_v8heap_read(sp_v8heap_obj(nbca) + (uint64_t)sp_v8heap_layout.map, &bca_map, 8))
                return 0;
            bca = nbca, bca_moved = true, fn_gone = true;
        } else {
            fn_gone = true; /* bca_map as read before */
        }
    }
    if (sp_v8heap_map_type(bca_map) != sp_v8heap_layout.t_bytecode) return 0;
    *bcap = bca;
    /* A JSFunction (not whatever now sits where one was) whose SFI has this code. */
    if (fn_gone || !sp_v8heap_is_fn_type(sp_v8heap_map_type(fn_map)) || !sp_v8heap_is_heap(sfi))
        return decode_owner(bca, bca_moved, code, sfi_out, script_out);
    if (pf && pf->head_read && pf->guess == sfi)
        memcpy(sfi_head, pf->head, sizeof sfi_head);
    else if (!sp_v8heap_read(sp_v8heap_obj(sfi), sfi_head, sizeof sfi_head))
        return decode_owner(bca, bca_moved, code, sfi_out, script_out);
    if (sp_v8heap_map_type(sfi_head[sp_v8heap_layout.map / 8]) != sp_v8heap_layout.t_sfi ||
        !data_fits(sfi_head, bca, code))
        return decode_owner(bca, bca_moved, code, sfi_out, script_out);
    uint64_t *g = guess_slot(fn);
    if (g) g[0] = fn, g[1] = sfi;
    *sfi_out = sfi;
    return sp_v8fn_of_sfi(sfi, sfi_head, script_out);
}

/* ---- the executing line ---- */

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
    if (n < 0 || n > SP_V8POS_TABLE_MAX) return POS_UNSURE;
    if (!D.spt) D.spt = sp_mem_alloc(SP_V8POS_TABLE_MAX);
    if (!D.spt || !sp_v8heap_read(sp_v8heap_obj(spt) + (uint64_t)l->ba_data, D.spt, (size_t)n))
        return POS_UNSURE;
    int64_t so;
    int inl;
    if (!sp_v8pos_find(D.spt, (size_t)n, l->spt_flags ? SP_V8POS_FLAGS : SP_V8POS_SIGNED,
                       sp_v8heap_smi(len_w), off, &so, &inl) ||
        inl != -1)
        return POS_UNSURE;
    if (!sp_v8fn_script_line(script, so, line, col)) return POS_NO_LINE_ENDS;
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
    *exact = false;
    if (sp_v8heap_layout.bca_spt < 0) return sp_v8fn_def_frame(fn);
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
    uint32_t id = r == POS_LINE ? sp_v8fn_frame(fn, line, col) : 0;
    *exact = id != 0;
    if (!id) {
        if (r == POS_LINE) r = POS_UNSURE; /* the frame table is full */
        count_miss(r);
        id = sp_v8fn_def_frame(fn);
    }
    if (c && id)
        *c = (pos_cache_t){.sfi = sfi, .bca = bca, .off = raw, .fn = fn, .frame = id,
                           .retry = *exact ? 0 : SP_V8_POS_RETRY, .why = (uint8_t)r};
    return id;
}

/* A captured frame -> its frame (a v8fn id), 0 when unsure. */
static uint32_t decode_frame(uint64_t fn, uint64_t bca, uint64_t offset, const prefetch_t *pf,
                             bool *exact)
{
    uint64_t sfi, script;
    uint32_t f = decode_pf(fn, &bca, offset, pf, &sfi, &script);
    return f ? frame_at(f, sfi, script, bca, offset, exact) : 0;
}

/* The offset slot an interpreted frame would hold at bytecode offset off (exec_line's raw). */
static uint64_t raw_of(int64_t off)
{
    const sp_v8heap_layout_t *l = &sp_v8heap_layout;
    return (uint64_t)(off + l->bca_header - l->heap_tag) << sp_v8heap_layout.smi_shift;
}

/* A Sparkplug frame -> its frame: the function at the line of the bytecode its pc (a return
 * address when ret) runs, from the code's offset table; at its definition line in the
 * prologue or when the table did not check out (off). 0 when unsure. */
static uint32_t decode_baseline(const sp_v8_slots_t *v, int64_t off, const prefetch_t *pf,
                                bool *exact)
{
    if (off >= 0) return decode_frame(v->function, v->bytecode_array, raw_of(off), pf, exact);
    uint64_t sfi, script, bca = v->bytecode_array;
    *exact = false;
    uint32_t f = decode_pf(v->function, &bca, raw_of(0), pf, &sfi, &script);
    if (!f) return 0;
    return sp_v8fn_def_frame(f);
}

__attribute__((cold)) bool sp_v8decode_frame(uint64_t fn, uint64_t bca, uint64_t offset,
                                            sp_v8fn_t *out)
{
    if (!D.on) return false;
    D.sample_ns = sp_clock_mono_ns();
    bool exact;
    uint32_t id = decode_frame(fn, bca, offset, NULL, &exact);
    if (!id) return false;
    *out = *sp_v8fn_frame_of(id);
    return true;
}

__attribute__((cold)) size_t sp_v8decode_jit_frame(uint64_t fn, uint64_t pc, uint64_t start,
                                                   uint64_t size, sp_v8fn_t *out, size_t cap)
{
    uint32_t fr[SP_V8_INL_MAX];
    bool exact;
    if (!D.on) return 0;
    unsigned n = sp_v8jit_decode(fn, pc, start, size, true, NULL, fr, &exact);
    if (n > cap) return 0;
    for (unsigned i = 0; i < n; i++) out[i] = *sp_v8fn_frame_of(fr[i]);
    return n;
}

__attribute__((cold)) bool sp_v8decode_baseline_frame(uint64_t fn, uint64_t bca, uint64_t pc,
                                                      bool return_addr, uint64_t start,
                                                      uint64_t size, sp_v8fn_t *out)
{
    if (!D.on) return false;
    D.sample_ns = sp_clock_mono_ns();
    sp_v8_slots_t v = {.function = fn, .bytecode_array = bca};
    bool exact;
    uint32_t id = decode_baseline(&v, sp_v8baseline_offset(bca, pc, return_addr, start, size, NULL),
                                  NULL, &exact);
    if (!id) return false;
    *out = *sp_v8fn_frame_of(id);
    return true;
}

const sp_v8fn_t *sp_v8decode_lookup(uint64_t addr)
{
    if (!(addr & SP_V8_SYNTH_BIT) || (addr >> 32) != (SP_V8_SYNTH_BIT >> 32)) return NULL;
    return sp_v8fn_frame_of((uint32_t)(addr & 0xffffffffu));
}

/* ---- samples ---- */

/* What runs at pcs[k]: 1 V8's interpreter entry (InterpreterEntryTrampoline and the
 * InterpreterEnterAt* re-entries, or a function's own copy of it: the frame is the
 * interpreted function's own: rename it), 2 another builtin or bytecode handler running on that JS frame without
 * one of its own (insert the function above it), 3 optimized code, 4 Sparkplug code, 5 JIT
 * code the perf map does not name, 0 anything else (native code: leave it). */
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
                   uint64_t *size, int *tier, bool *trust_pc)
{
    /* An interpreted function's own copy of the interpreter entry (V8 >= 12 with
     * --interpreted-frames-native-stack): the perf map names the function but not the line
     * executing in it; the frame's slots do. Optimized code (3): its Code object says
     * which functions were inlined where. */
    char t;
    uint64_t after = 0;
    if (sp_symbolizer_is_js(sym, s->pcs[k], k > 0, &t, start, size, &after)) {
        *tier = t == '^' ? 0 : t == '+' ? 1 : t == '*' ? 2 : -1;
        *trust_pc = after <= s->ts_ns;
        if (*tier > 0) return 3;
        /* Sparkplug code (4): the interpreter's frame, its offset in the code's table. */
        if (*tier == 0 && sp_v8heap_layout.jit_on) {
            sp_v8baseline_load_sizes(); /* once: node's symbol table */
            return 4;
        }
        return t == '~';
    }
    sp_frame_t f;
    sp_symbolizer_resolve(sym, s->pcs[k], k > 0, &f);
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
    if (is_leaf(s, k) || builtin) return 2;
    /* JIT code the perf map does not name, in anonymous memory: compiled before the code
     * events were attached to this isolate (node's bootstrap: its module loader, the HTTP
     * parser's helpers, compiled with Sparkplug on Node 22+ before the helper loads), or
     * whose entry is not read yet. The frame's slots name its function, at its definition
     * line (5); a native frame's slots fail the checks. */
    if (f.module && strcmp(f.module, "[anon]") == 0 && sp_v8heap_layout.jit_on) return 5;
    return 0;
}

/* What one captured frame of a sample is, found before any frame is rewritten. */
typedef struct {
    int kind, tier;       /* pc_kind's answer, and an optimized frame's tier */
    uint64_t start, size; /* optimized code: where the perf map places it */
    bool trust_pc;        /* ... by an entry older than the sample: the code pc is in is the
                             one the sample ran (v8jit may go by it alone) */
    prefetch_t pf;
    sp_v8jit_pre_t jit; /* an optimized frame's words read ahead */
    sp_v8baseline_pre_t bl; /* a Sparkplug frame's code word read ahead */
    unsigned jit_same;  /* 1 + the frame whose words those are (recursion: same function
                           and code), 0: its own */
    const last_frame_t *same; /* the same frame in the thread's last sample, decoded: its
                                 frames are this one's, no read (NULL: decode it) */
} slot_plan_t;

/* Reads of many frames, gathered into one system call (at most 4 ranges a frame: an
 * interpreted frame's 3, a Sparkplug frame's 3 and its code's word). */
_Static_assert(4 * SP_V8_MAX_FRAMES <= SP_V8HEAP_IOV_MAX, "a sample's reads fit one call");
typedef struct {
    struct iovec local[4 * SP_V8_MAX_FRAMES], remote[4 * SP_V8_MAX_FRAMES];
    size_t n;
} read_batch_t;

static void batch_add(read_batch_t *b, void *dst, uint64_t addr, size_t n)
{
    b->local[b->n] = (struct iovec){dst, n};
    b->remote[b->n] = (struct iovec){(void *)(uintptr_t)addr, n};
    b->n++;
}

/* An interpreted frame's words to read ahead (prefetch_t), into b. */
static void plan_prefetch(const sp_v8_slots_t *v, prefetch_t *pf, read_batch_t *b)
{
    const sp_v8heap_layout_t *l = &sp_v8heap_layout;
    batch_add(b, &pf->bca_map, sp_v8heap_obj(v->bytecode_array) + (uint64_t)l->map, 8);
    batch_add(b, pf->fn_head.w, sp_v8heap_obj(v->function), sp_v8heap_fn_head_len());
    uint64_t *g = guess_slot(v->function);
    if (g && g[0] == v->function && sp_v8heap_is_heap(g[1])) {
        pf->guess = g[1];
        batch_add(b, pf->head, sp_v8heap_obj(g[1]), sizeof pf->head);
    }
}

/* An optimized frame's words (v8jit's check) to read ahead, into b; a frame of the same
 * function in the same code as an earlier one (recursion) shares that one's. */
static void plan_jit(const sp_sample_t *s, unsigned i, slot_plan_t *plan, read_batch_t *b)
{
    const sp_v8_slots_t *v = &s->v8[i];
    slot_plan_t *p = &plan[i];
    for (unsigned j = 0; j < i; j++)
        if (plan[j].kind == 3 && plan[j].jit.code && s->v8[j].function == v->function &&
            plan[j].start == p->start && plan[j].size == p->size) {
            p->jit_same = j + 1;
            return;
        }
    if (!sp_v8jit_plan(v->function, p->start, p->size, &p->jit)) return;
    for (unsigned r = 0; r < p->jit.n; r++)
        batch_add(b, p->jit.into[r], p->jit.at[r], p->jit.len[r]);
}

/* ---- frames still on the stack since the thread's last sample ----
 * Most of a sample's frames are the last sample's: the same function still running at the
 * same call, deeper ones change. A frame with the same return address, the same slots and
 * code is decoded as it was, with no read. The slots prove it: the GC rewrites a frame's
 * slots when it moves an object they point to, so a slot unchanged since the last sample
 * still points to the object it pointed to then, or (after a move and the memory's reuse)
 * to another closure of the same BytecodeArray; and a live frame keeps its code alive.
 * Only frames with a return address (not a leaf, which may sit in a prologue), and only
 * answers with their executing line (a definition line is looked at again later). */

/* The slot of thread tid's last sample (another thread's may hold it). */
static last_sample_t **last_slot(uint32_t tid)
{
    _Static_assert((SP_V8_LAST_THREADS & (SP_V8_LAST_THREADS - 1)) == 0, "a power of two");
    return &D.last[(tid * 0x9e3779b9u) >> 28 & (SP_V8_LAST_THREADS - 1)];
}

static last_sample_t *last_of(uint32_t tid)
{
    last_sample_t *l = *last_slot(tid);
    return l && l->tid == tid ? l : NULL;
}

static bool same_words(const last_frame_t *f, const sp_sample_t *s, const sp_v8_slots_t *v,
                       const slot_plan_t *p)
{
    /* An optimized frame's words below the function are its code's spill slots: what runs
     * there is said by its pc, its code and its function alone. */
    bool slots = p->kind == 3 || (f->bca == v->bytecode_array && f->off == v->bytecode_offset);
    return f->pc == s->pcs[v->frame] && f->fn == v->function && slots && f->kind == p->kind &&
           f->start == p->start && f->size == p->size;
}

/* Marks the frames the thread's last sample had, decoded: from the root end, while the
 * frames are the same (a frame kept without an answer is decoded again). */
static void find_same(const sp_sample_t *s, unsigned nv8, slot_plan_t *plan)
{
    const last_sample_t *l = last_of(s->tid);
    if (!l || s->ts_ns < l->ts_ns || s->ts_ns - l->ts_ns > SP_V8_LAST_MAX_NS) return;
    for (int i = (int)nv8 - 1, j = (int)l->n - 1; i >= 0 && j >= 0; i--, j--) {
        const sp_v8_slots_t *v = &s->v8[i];
        slot_plan_t *p = &plan[i];
        const last_frame_t *f = &l->f[j];
        if (v->frame >= s->nframes || !same_words(f, s, v, p)) break;
        if (f->n && (p->kind == 1 || p->kind == 3 || p->kind == 4) && !is_leaf(s, v->frame))
            p->same = f;
    }
}

/* What each of the first nv8 captured frames of s is, and the words their decoding reads
 * first, read ahead: the whole sample's reads in one system call; if any range fails (an
 * object died), each frame reads on its own later. */
static void plan_sample(const sp_sample_t *s, sp_symbolizer_t *sym, unsigned nv8,
                        slot_plan_t *plan)
{
    read_batch_t b;
    b.n = 0;
    for (unsigned i = 0; i < nv8; i++) {
        const sp_v8_slots_t *v = &s->v8[i];
        slot_plan_t *p = &plan[i];
        memset(p, 0, sizeof *p);
        if (v->frame < s->nframes)
            p->kind = pc_kind(sym, s, v->frame, &p->start, &p->size, &p->tier, &p->trust_pc);
    }
    find_same(s, nv8, plan);
    for (unsigned i = 0; i < nv8; i++) {
        const sp_v8_slots_t *v = &s->v8[i];
        slot_plan_t *p = &plan[i];
        if (p->same) continue;
        if (((p->kind == 1 || p->kind == 2) &&
             frame_words_ok(v->function, v->bytecode_array, v->bytecode_offset)) ||
            ((p->kind == 2 || p->kind == 4 || p->kind == 5) && baseline_words_ok(v))) {
            plan_prefetch(v, &p->pf, &b);
            if (p->kind == 4 && sp_v8baseline_plan(v->bytecode_array, p->start, p->size, &p->bl))
                batch_add(&b, &p->bl.spt, p->bl.at, sizeof p->bl.spt);
        } else if (p->kind == 3) {
            plan_jit(s, i, plan, &b);
        }
    }
    bool read = sp_v8heap_read_iov(b.local, b.remote, b.n);
    for (unsigned i = 0; i < nv8; i++) {
        /* plan[0, nv8) was cleared by the loop above; cppcheck cannot see it */
        /* cppcheck-suppress uninitvar */
        slot_plan_t *p = &plan[i];
        prefetch_t *pf = &p->pf;
        if (read) {
            pf->read = p->kind == 1 || p->kind == 2 || p->kind == 4 || p->kind == 5;
            pf->head_read = pf->guess != 0;
        } else {
            memset(pf, 0, sizeof *pf);
        }
        if (p->jit_same) p->jit = plan[p->jit_same - 1].jit;
        p->jit.read = read && p->jit.code;
        p->bl.read = read && p->bl.code;
    }
}

/* Puts the n frames fr (innermost first) in place of pcs[k], the ones above it moving up.
 * A full stack loses its root-most frames, and is then marked truncated. */
static void splice_frames(sp_sample_t *s, unsigned k, const uint32_t *fr, unsigned n)
{
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
}

/* Inserts synth above pcs[k]: the JS function a builtin runs for. A full stack loses its
 * root-most frame, which is then marked truncated. */
static void insert_above(sp_sample_t *s, unsigned k, uint64_t synth)
{
    if (k + 1 >= SP_MAX_FRAMES || (k + 1 < s->nframes && s->pcs[k + 1] == synth)) return;
    unsigned n = s->nframes < SP_MAX_FRAMES ? s->nframes + 1u : SP_MAX_FRAMES;
    if (n == s->nframes) s->flags |= SP_SAMPLE_TRUNCATED;
    memmove(&s->pcs[k + 2], &s->pcs[k + 1], (n - k - 2) * sizeof s->pcs[0]);
    s->pcs[k + 1] = synth;
    s->nframes = (uint16_t)n;
    shift_sig(s, k, 1);
    D.st.inserted++;
}

/* A decoded optimized frame of tier 1 (Maglev) or 2 (TurboFan), n frames with its inlined
 * functions; a decoded Sparkplug frame. */
static void count_jit(int tier, unsigned n, bool exact)
{
    D.st.jit_resolved[tier]++;
    sp_stats_inc(SP_STAT_V8_JIT_DECODED);
    D.st.jit_inlined += n - 1;
    if (exact) D.st.jit_lines++;
}
static void count_baseline(bool exact)
{
    D.st.jit_resolved[0]++;
    sp_stats_inc(SP_STAT_V8_BASELINE_DECODED);
    if (exact) D.st.baseline_lines++;
}

/* An optimized frame at pcs[k] -> the functions it runs (inlined ones expanded), or left to
 * the perf map. */
static unsigned rewrite_jit(sp_sample_t *s, const sp_v8_slots_t *v, const slot_plan_t *p,
                            bool *exact)
{
    unsigned k = v->frame;
    uint32_t fr[SP_V8_INL_MAX];
    unsigned n =
        sp_v8jit_decode(v->function, s->pcs[k], p->start, p->size, p->trust_pc, &p->jit, fr, exact);
    if (!n) {
        D.st.jit_fallback[p->tier]++;
        sp_stats_inc(SP_STAT_V8_JIT_PERF_MAP);
        return 0;
    }
    count_jit(p->tier, n, *exact);
    splice_frames(s, k, fr, n);
    return n;
}

/* An interpreted frame at pcs[k] -> renamed (kind 1: the interpreter's entry) or inserted
 * above it (kind 2: a builtin running on its frame). Whether it was. */
static bool rewrite_interpreted(sp_sample_t *s, const sp_v8_slots_t *v, const slot_plan_t *p,
                                bool *exact)
{
    unsigned k = v->frame;
    uint32_t id = decode_frame(v->function, v->bytecode_array, v->bytecode_offset, &p->pf, exact);
    if (!id) {
        D.st.unresolved++;
        sp_stats_inc(SP_STAT_V8_UNNAMED);
        return false;
    }
    uint64_t synth = SP_V8_SYNTH_BIT | id;
    D.st.named++;
    sp_stats_inc(SP_STAT_V8_NAMED);
    if (*exact) D.st.lines++;
    if (p->kind == 1)
        s->pcs[k] = synth;
    else
        insert_above(s, k, synth);
    return true;
}

/* A Sparkplug frame at pcs[k] -> renamed, or left to the perf map. Whether it was. */
static bool rewrite_baseline(sp_sample_t *s, const sp_v8_slots_t *v, const slot_plan_t *p,
                             bool *exact)
{
    unsigned k = v->frame;
    uint32_t id = 0;
    *exact = false;
    if (baseline_words_ok(v)) {
        int64_t off =
            sp_v8baseline_offset(v->bytecode_array, s->pcs[k], k > 0, p->start, p->size, &p->bl);
        prefetch_t pf = p->pf; /* with the Code object the offset was found in */
        pf.code = sp_v8baseline_code(v->bytecode_array, p->start, p->size);
        id = decode_baseline(v, off, &pf, exact);
    }
    if (!id) {
        D.st.jit_fallback[0]++;
        sp_stats_inc(SP_STAT_V8_BASELINE_PERF_MAP);
        return false;
    }
    count_baseline(*exact);
    s->pcs[k] = SP_V8_SYNTH_BIT | id;
    return true;
}

/* The word at sp of the context whose pc is pcs[k] (the leaf's, or one another handler
 * interrupted), 0 when not recorded. */
static uint64_t word_at_sp(const sp_sample_t *s, unsigned k)
{
    if (k == 0) return s->sp_word;
    for (unsigned i = 0; i < s->nsig && i < SP_MAX_SIGFRAMES; i++)
        if (s->sig[i].frame == k) return s->sig[i].sp_word;
    return 0;
}

/* A builtin leaf (kind 2) running on a compiled frame's fp: a builtin that builds no frame
 * of its own, called from Sparkplug code (which calls builtins for most operations) or from
 * Maglev/TurboFan code. The word at sp is then the return address into that code, and the
 * function(s) running there go above the builtin: a Sparkplug frame at the bytecode that
 * called it, only when the code's table walks in step with the frame's BytecodeArray; an
 * optimized one with its inlined functions expanded, only when the code is the frame's
 * function's (v8jit checks its SFI). Either check tells a return address into this
 * function's code from a value that happens to point into some code. false: nothing done. */
static bool rewrite_compiled_leaf(sp_sample_t *s, sp_symbolizer_t *sym, const sp_v8_slots_t *v,
                                  const slot_plan_t *p)
{
    unsigned k = v->frame;
    uint64_t w = word_at_sp(s, k), start, size;
    if (w < 0x10000 || (w & SP_V8_SYNTH_BIT)) return false;
    uint64_t after = 0;
    char t = sp_symbolizer_js_code(sym, w, true, &start, &size, &after);
    bool exact;
    if (t == '^') {
        if (!baseline_words_ok(v)) return false;
        int64_t off = sp_v8baseline_offset(v->bytecode_array, w, true, start, size, NULL);
        uint32_t id = off == SP_V8BASELINE_UNSURE ? 0 : decode_baseline(v, off, &p->pf, &exact);
        if (!id) return false;
        count_baseline(exact);
        insert_above(s, k, SP_V8_SYNTH_BIT | id);
        return true;
    }
    if (t != '+' && t != '*') return false;
    uint32_t fr[SP_V8_INL_MAX];
    unsigned n = sp_v8jit_decode(v->function, w, start, size, after <= s->ts_ns, NULL, fr, &exact);
    if (!n) return false;
    count_jit(t == '+' ? 1 : 2, n, exact);
    for (unsigned j = n; j-- > 0;) insert_above(s, k, SP_V8_SYNTH_BIT | fr[j]);
    return true;
}

/* A frame in JIT code the perf map does not name (kind 5) -> its function at its
 * definition line, from its slots as a Sparkplug frame's (the offset slot: the feedback
 * vector), or left as walked. */
static void rewrite_unnamed_code(sp_sample_t *s, const sp_v8_slots_t *v, const slot_plan_t *p)
{
    bool exact;
    uint32_t id =
        baseline_words_ok(v) ? decode_baseline(v, SP_V8BASELINE_UNSURE, &p->pf, &exact) : 0;
    if (!id) return;
    D.st.unnamed_code++;
    s->pcs[v->frame] = SP_V8_SYNTH_BIT | id;
}

/* The frames a kept frame decoded to, in place of pcs[k], counted as a decode. */
static void reuse_frame(sp_sample_t *s, const sp_v8_slots_t *v, const slot_plan_t *p,
                        const last_sample_t *l)
{
    const last_frame_t *f = p->same;
    const uint32_t *ids = &l->ids[f->ids_at];
    if (f->n == 1)
        s->pcs[v->frame] = SP_V8_SYNTH_BIT | ids[0];
    else
        splice_frames(s, v->frame, ids, f->n);
    D.st.reused++;
    if (p->kind == 3) {
        count_jit(p->tier, f->n, true);
    } else if (p->kind == 4) {
        count_baseline(true);
    } else {
        D.st.named++, D.st.lines++;
        sp_stats_inc(SP_STAT_V8_NAMED);
    }
}

/* Keeps frame i of s (its slots and plan; the n frames it decoded to at pcs[k], with their
 * executing line: exact) in the record of the sample being decoded. */
static void keep_frame(last_sample_t *next, const sp_sample_t *s, unsigned i, uint64_t pc,
                       const slot_plan_t *p, unsigned n, bool exact)
{
    const sp_v8_slots_t *v = &s->v8[i];
    last_frame_t *f = &next->f[i];
    *f = (last_frame_t){.pc = pc,
                        .fn = v->function,
                        .bca = v->bytecode_array,
                        .off = v->bytecode_offset,
                        .start = p->start,
                        .size = p->size,
                        .kind = (uint8_t)p->kind,
                        .tier = (uint8_t)p->tier};
    /* A full stack may have cut the frames spliced in: not kept. */
    if (!exact || !n || n > SP_V8_INL_MAX || next->nids + n > SP_V8_LAST_IDS ||
        s->nframes >= SP_MAX_FRAMES)
        return;
    f->n = (uint8_t)n;
    f->ids_at = next->nids;
    for (unsigned j = 0; j < n; j++)
        next->ids[next->nids++] = (uint32_t)(s->pcs[v->frame + j] & 0xffffffffu);
}

/* The record being built becomes the thread's last sample. */
static void keep_sample(const sp_sample_t *s, unsigned nv8)
{
    last_sample_t **slot = last_slot(s->tid);
    last_sample_t *n = D.next;
    n->ts_ns = s->ts_ns;
    n->tid = s->tid;
    n->n = (uint16_t)nv8;
    D.next = *slot;
    *slot = n;
}

void sp_v8decode_rewrite(sp_sample_t *s, sp_symbolizer_t *sym)
{
    if (!D.on || !s->nv8) return;
    D.sample_ns = s->ts_ns;
    /* The thread's CPU clock is a system call (no vDSO): one sample in SP_V8_TIME_EVERY
     * is timed and its time scaled, the decoder's cost without two calls a sample; the
     * first ones, which load node's symbols and V8's code, each count once. */
    uint64_t weight = D.st.samples < SP_V8_TIME_ALL          ? 1
                      : D.st.samples % SP_V8_TIME_EVERY == 0 ? SP_V8_TIME_EVERY
                                                             : 0;
    bool timed = weight > 0;
    struct timespec t0, t1;
    if (timed) clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    slot_plan_t plan[SP_V8_MAX_FRAMES];
    unsigned nv8 = s->nv8 < SP_V8_MAX_FRAMES ? s->nv8 : SP_V8_MAX_FRAMES;
    plan_sample(s, sym, nv8, plan);
    const last_sample_t *last = last_of(s->tid);
    last_sample_t *next = D.next ? D.next : (D.next = sp_mem_alloc(sizeof *D.next));
    if (next) next->nids = 0;
    /* From the root end down, so an insertion does not move frames still to visit. */
    for (int i = (int)nv8 - 1; i >= 0; i--) {
        const sp_v8_slots_t *v = &s->v8[i];
        const slot_plan_t *p = &plan[i];
        uint64_t pc = v->frame < s->nframes ? s->pcs[v->frame] : 0;
        unsigned n = 0;
        bool exact = false;
        if (v->frame >= s->nframes || !p->kind) {
            /* nothing to do */
        } else if (p->same) {
            reuse_frame(s, v, p, last);
            n = p->same->n, exact = true;
        } else if (p->kind == 3) {
            n = rewrite_jit(s, v, p, &exact);
        } else if (p->kind == 4) {
            n = rewrite_baseline(s, v, p, &exact);
        } else if (p->kind == 5) {
            rewrite_unnamed_code(s, v, p);
        } else if (p->kind != 2 || sp_v8heap_is_smi(v->bytecode_offset)) {
            n = rewrite_interpreted(s, v, p, &exact) && p->kind == 1;
        } else {
            rewrite_compiled_leaf(s, sym, v, p);
        }
        if (next) keep_frame(next, s, (unsigned)i, pc, p, is_leaf(s, v->frame) ? 0 : n, exact);
    }
    if (next) keep_sample(s, nv8);
    s->nv8 = 0;
    D.st.samples++;
    if (!timed) return;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    D.st.ns +=
        weight * (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec));
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
    int64_t lo = fp.function;
    int64_t hi = lo;
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
    sp_v8fn_reset();
    sp_v8jit_reset();
    sp_v8baseline_reset();
    sp_mem_free(D.pos);
    sp_mem_free(D.spt);
    sp_mem_free(D.guess);
    for (int i = 0; i < SP_V8_LAST_THREADS; i++) sp_mem_free(D.last[i]);
    sp_mem_free(D.next);
    memset(&D, 0, sizeof D);
    sp_v8heap_reset();
}

void sp_v8decode_get_stats(sp_v8decode_stats_t *out)
{
    uint32_t nfns, nframes;
    *out = D.st;
    out->reads = sp_v8heap_reads();
    sp_v8fn_counts(&nfns, &nframes, &out->cache_hits);
    uint64_t jit_forwarded;
    sp_v8jit_counts(&out->code_loads, &out->chain_hits, &jit_forwarded, &out->jit_fn_gone);
    out->forwarded += jit_forwarded;
}

__attribute__((cold)) void sp_v8decode_log_stats(void)
{
    if (!D.on) return;
    sp_v8decode_stats_t st;
    uint32_t nfns, nframes;
    uint64_t hits, o_added, o_moved, o_evicted, o_bytes;
    sp_v8decode_get_stats(&st);
    sp_v8owner_counts(&o_added, &o_moved, &o_evicted, &o_bytes);
    sp_v8fn_counts(&nfns, &nframes, &hits);
    SP_DEBUG(
        "v8 frames: %llu named (%llu put back under a builtin), %llu left unnamed, %u functions, "
        "%u frames; lines: %llu executing, definition for %llu (%llu positions not collected, "
        "%llu scripts without line ends, %llu unsure), %llu position cache hits; "
        "%llu heap reads, %llu cache hits, %llu moved objects followed, %llu functions whose "
        "code is not the frame's, %llu named through their bytecode's owner (%llu asked in "
        "vain; %llu owners reported, %llu moved, %llu forgotten for room), %llu frames as in the "
        "thread's last sample, %llu in code the "
        "perf map does not name; %.1f us CPU per "
        "sample with captured slots (%llu; after the first %d one in %d timed)",
        (unsigned long long)st.named, (unsigned long long)st.inserted,
        (unsigned long long)st.unresolved, nfns, nframes, (unsigned long long)st.lines,
        (unsigned long long)(st.no_table + st.no_line_ends + st.pos_unsure),
        (unsigned long long)st.no_table, (unsigned long long)st.no_line_ends,
        (unsigned long long)st.pos_unsure, (unsigned long long)st.pos_hits,
        (unsigned long long)st.reads, (unsigned long long)st.cache_hits,
        (unsigned long long)st.forwarded, (unsigned long long)st.data_mismatch,
        (unsigned long long)st.owner_named, (unsigned long long)st.owner_missed,
        (unsigned long long)o_added, (unsigned long long)o_moved, (unsigned long long)o_evicted,
        (unsigned long long)st.reused, (unsigned long long)st.unnamed_code,
        st.samples ? (double)st.ns / 1000.0 / (double)st.samples : 0.0,
        (unsigned long long)st.samples, SP_V8_TIME_ALL, SP_V8_TIME_EVERY);
    uint64_t bl_loads, bl_hits;
    sp_v8baseline_counts(&bl_loads, &bl_hits);
    SP_DEBUG("v8 frames: Sparkplug %llu decoded (%llu at their executing line) / %llu perf "
             "map; %llu code objects walked, %llu cache hits",
             (unsigned long long)st.jit_resolved[0], (unsigned long long)st.baseline_lines,
             (unsigned long long)st.jit_fallback[0], (unsigned long long)bl_loads,
             (unsigned long long)bl_hits);
    SP_DEBUG("v8 frames: optimized code %s: Maglev %llu decoded / %llu perf map, TurboFan "
             "%llu decoded / %llu perf map; %llu inlined frames added, %llu code objects read, "
             "%llu frames whose JSFunction was gone",
             sp_v8heap_layout.jit_on ? "on" : "off", (unsigned long long)st.jit_resolved[1],
             (unsigned long long)st.jit_fallback[1], (unsigned long long)st.jit_resolved[2],
             (unsigned long long)st.jit_fallback[2], (unsigned long long)st.jit_inlined,
             (unsigned long long)st.code_loads, (unsigned long long)st.jit_fn_gone);
}
