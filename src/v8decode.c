/* v8decode: owns the V8 heap layout read from node's v8dbg_* constants, the cache of
 * decoded SharedFunctionInfos and the table of named functions that synthetic addresses
 * index. Agent thread only (sp_v8decode_init: the loading thread, before sampling).
 *
 * Why every read goes through process_vm_readv: the objects a sample pointed at may have
 * moved or died by the time we look (GC runs between capture and decode), and node
 * replaces any SIGSEGV handler we could install (docs/HAZARDS.md §3), so a plain load could
 * take the host down. process_vm_readv on our own pid returns EFAULT instead; where the
 * kernel refuses it (seccomp), /proc/self/mem is read with pread, which fails the same way.
 *
 * What is trusted: an object's type only from its map's instance type, re-read at every
 * decode; a cached result only when the SharedFunctionInfo at that address still has the
 * same name/scope-info and script words (a different function moved there would not).
 *
 * Layout constants without a v8dbg_* symbol (documented fallbacks):
 *  - ScopeInfo: the function name is the first String after the context locals (index
 *    first_vars + 2 * context_local_count; the inferred name follows an empty one), the
 *    heuristic of OpenTelemetry's profiler; more than 75 context locals (V8 then keeps the
 *    names in a hash table) is not decoded. The start position sits at slots 3 and 4 when
 *    v8dbg_scopeinfo_idx_first_vars is 5 (V8 >= 12.8: Node 24+); before that no line.
 *  - Smis are 32-bit values in the upper half (v8dbg_SmiShiftSize 31); a build with
 *    pointer compression (SmiShiftSize 0) is not decoded at all. */
#include "v8decode.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "v8frames.h"

#define SP_V8_NAME_MAX     512   /* longer names and script paths are not decoded */
#define SP_V8_STRING_DEPTH 4     /* cons/thin/sliced nesting followed */
#define SP_V8_MAX_LOCALS   75    /* V8's kScopeInfoMaxInlinedLocalNamesSize */
#define SP_V8_CACHE_SLOTS  4096  /* decoded SFIs, direct-mapped */
#define SP_V8_MAX_FNS      65536 /* named functions: beyond this, frames stay unnamed */
#define SP_V8_FN_BUCKETS   16384
#define SP_V8_GUESS_SLOTS  1024 /* JSFunction -> its SFI last time, direct-mapped */
#define SP_V8_MAP_MEMO     64   /* map -> instance type, direct-mapped */
#define SP_V8_MAP_MEMO_USES                                                                        \
    4096 /* lookups before the memo is forgotten (a compaction
                                      can move maps; a few thousand lookups is seconds) */

typedef struct {
    int64_t map, map_instance_type, fn_shared, sfi_nosi, sfi_script, script_name, script_line_ends;
    int64_t fa_length, fa_data, str_length, seq1_chars, seq2_chars, cons_first, cons_second,
        thin_actual, sliced_parent, sliced_offset;
    int64_t first_nonstring, repr_mask, enc_mask, seq_tag, cons_tag, thin_tag, sliced_tag,
        one_byte_tag;
    int64_t t_sfi, t_bytecode, t_scope_info, t_script, t_fixed_array;
    int64_t si_first_vars, si_ncl;
    int64_t heap_tag, heap_tag_mask;
    int smi_shift;
} layout_t;

typedef struct {
    uint64_t sfi, nosi, script; /* key: the SFI's address and two of its words */
    uint32_t fn;                /* index + 1 into fns; 0: empty */
} cache_t;

typedef struct {
    sp_v8fn_t v;
    uint64_t hash;
    uint32_t next; /* bucket chain, index + 1 */
} fn_entry_t;

static struct {
    bool on;
    layout_t l;
    int mem_fd; /* /proc/self/mem when process_vm_readv is refused; -1: not opened */
    bool use_mem;
    cache_t *cache;
    uint64_t *guess; /* SP_V8_GUESS_SLOTS pairs (JSFunction, SFI) */
    fn_entry_t *fns;
    uint32_t nfns;
    uint32_t *buckets;
    sp_v8decode_stats_t st;
    struct {
        uint64_t map;
        int type;
    } memo[SP_V8_MAP_MEMO];
    unsigned memo_uses;
} D = {.mem_fd = -1};

/* ---- fault-proof reads ---- */

/* Our pid, cached: a system call costs as much as the read itself (measured here: 1.3 us
 * for getpid, 2.4 us for an 8-byte process_vm_readv). Reset in a fork child, which must
 * never read its parent. */
static pid_t self_pid;
static void forget_pid(void) { self_pid = 0; }

/* Reads n ranges in one system call: all of them, or false. */
static bool rdv(const uint64_t *addr, void *const *buf, const size_t *len, int n)
{
    D.st.reads++;
    if (!D.use_mem) {
        struct iovec local[4], remote[4];
        size_t total = 0;
        for (int i = 0; i < n; i++) {
            local[i] = (struct iovec){buf[i], len[i]};
            remote[i] = (struct iovec){(void *)(uintptr_t)addr[i], len[i]};
            total += len[i];
        }
        if (!self_pid) self_pid = getpid();
        ssize_t got =
            process_vm_readv(self_pid, local, (unsigned long)n, remote, (unsigned long)n, 0);
        if (got == (ssize_t)total) return true;
        if (got >= 0 || (errno != EPERM && errno != ENOSYS)) return false;
        D.use_mem = true; /* refused (seccomp): /proc/self/mem from now on */
        SP_DEBUG("v8 frames: process_vm_readv refused (%s); reading /proc/self/mem",
                 strerror(errno));
    }
    if (D.mem_fd < 0) D.mem_fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
    if (D.mem_fd < 0) return false;
    for (int i = 0; i < n; i++)
        if (pread(D.mem_fd, buf[i], len[i], (off_t)addr[i]) != (ssize_t)len[i]) return false;
    return true;
}

static bool rd(uint64_t addr, void *buf, size_t len) { return rdv(&addr, &buf, &len, 1); }

static bool is_heap(uint64_t w)
{
    return (w & (uint64_t)D.l.heap_tag_mask) == (uint64_t)D.l.heap_tag && w > 4096;
}
static bool is_smi(uint64_t w) { return (w & ((1ull << D.l.smi_shift) - 1)) == 0; }
static int64_t smi(uint64_t w) { return (int64_t)w >> D.l.smi_shift; }
static uint64_t obj(uint64_t tagged) { return tagged - (uint64_t)D.l.heap_tag; }

static bool rd_word(uint64_t tagged, int64_t off, uint64_t *w)
{
    return rd(obj(tagged) + (uint64_t)off, w, 8);
}

/* The instance type of a tagged heap object (its map's), or -1. */
/* The instance type a map says, or -1. Every object's type is still read from its own
 * map word at each decode; what is memoized is the map's answer: the few maps of the
 * types checked here (SharedFunctionInfo, BytecodeArray...) are shared by every object of
 * that type, so this saves a read per check. */
static int map_type(uint64_t map)
{
    uint16_t t;
    if (!is_heap(map)) return -1;
    if (++D.memo_uses >= SP_V8_MAP_MEMO_USES) {
        memset(D.memo, 0, sizeof D.memo);
        D.memo_uses = 0;
    }
    size_t i = (map >> 3) % SP_V8_MAP_MEMO;
    if (D.memo[i].map == map) return D.memo[i].type;
    if (!rd(obj(map) + (uint64_t)D.l.map_instance_type, &t, sizeof t)) return -1;
    D.memo[i].map = map;
    D.memo[i].type = t;
    return t;
}

static int type_of(uint64_t tagged)
{
    uint64_t map;
    if (!is_heap(tagged) || !rd_word(tagged, D.l.map, &map)) return -1;
    return map_type(map);
}

/* ---- strings ---- */

typedef struct {
    char *buf;
    size_t len, cap;
} sbuf_t;

static bool put_utf8(sbuf_t *b, uint32_t c)
{
    char tmp[3];
    size_t n;
    if (c < 0x80)
        tmp[0] = (char)c, n = 1;
    else if (c < 0x800)
        tmp[0] = (char)(0xc0 | c >> 6), tmp[1] = (char)(0x80 | (c & 0x3f)), n = 2;
    else {
        if (c >= 0xd800 && c < 0xe000) c = 0xfffd; /* lone surrogate halves */
        tmp[0] = (char)(0xe0 | c >> 12), tmp[1] = (char)(0x80 | ((c >> 6) & 0x3f)),
        tmp[2] = (char)(0x80 | (c & 0x3f)), n = 3;
    }
    if (b->len + n >= b->cap) return false;
    memcpy(b->buf + b->len, tmp, n);
    b->len += n;
    return true;
}

/* Appends chars [from, from+count) of string s. External strings are not readable. */
static bool read_string(uint64_t s, int64_t from, int64_t count, sbuf_t *b, int depth)
{
    int t = type_of(s);
    if (t < 0 || t >= D.l.first_nonstring || depth > SP_V8_STRING_DEPTH) return false;
    int32_t len;
    if (!rd(obj(s) + (uint64_t)D.l.str_length, &len, sizeof len) || len < 0) return false;
    if (count < 0) count = len - from;
    if (from < 0 || from + count > len || count > SP_V8_NAME_MAX) return false;
    int64_t repr = t & D.l.repr_mask;
    if (repr == D.l.seq_tag) {
        if ((t & D.l.enc_mask) == D.l.one_byte_tag) {
            uint8_t tmp[SP_V8_NAME_MAX];
            if (count &&
                !rd(obj(s) + (uint64_t)D.l.seq1_chars + (uint64_t)from, tmp, (size_t)count))
                return false;
            for (int64_t i = 0; i < count; i++)
                if (!put_utf8(b, tmp[i])) return false;
        } else {
            uint16_t tmp[SP_V8_NAME_MAX];
            if (count &&
                !rd(obj(s) + (uint64_t)D.l.seq2_chars + 2 * (uint64_t)from, tmp, 2 * (size_t)count))
                return false;
            for (int64_t i = 0; i < count; i++)
                if (!put_utf8(b, tmp[i])) return false;
        }
        return true;
    }
    uint64_t w;
    if (repr == D.l.thin_tag)
        return rd_word(s, D.l.thin_actual, &w) && read_string(w, from, count, b, depth + 1);
    if (repr == D.l.sliced_tag && D.l.sliced_parent >= 0) {
        uint64_t off;
        return rd_word(s, D.l.sliced_parent, &w) && rd_word(s, D.l.sliced_offset, &off) &&
               is_smi(off) && read_string(w, from + smi(off), count, b, depth + 1);
    }
    if (repr == D.l.cons_tag) {
        uint64_t second;
        int32_t flen;
        if (!rd_word(s, D.l.cons_first, &w) || !rd_word(s, D.l.cons_second, &second) ||
            !rd(obj(w) + (uint64_t)D.l.str_length, &flen, sizeof flen) || flen < 0 || flen > len)
            return false;
        int64_t a = from < flen ? (from + count < flen ? count : flen - from) : 0;
        if (a && !read_string(w, from, a, b, depth + 1)) return false;
        if (count - a && !read_string(second, from + a - flen, count - a, b, depth + 1))
            return false;
        return true;
    }
    return false; /* external: the characters live behind a C++ object */
}

static char *dup_string(uint64_t s)
{
    char tmp[SP_V8_NAME_MAX * 3 + 1];
    sbuf_t b = {tmp, 0, sizeof tmp};
    if (!read_string(s, 0, -1, &b, 0)) return NULL;
    tmp[b.len] = '\0';
    return sp_mem_strdup(tmp);
}

/* ---- SharedFunctionInfo -> name, script, definition ---- */

/* The function name kept in a ScopeInfo (see the top of the file), and its start
 * position (-1: unknown). */
static bool scope_info_name(uint64_t si, char **name, int64_t *start)
{
    uint64_t head[5];
    uint64_t data = obj(si) + (uint64_t)D.l.map + 8;
    *start = -1;
    if (!rd(data, head, sizeof head)) return false;
    uint64_t ncl_w = head[D.l.si_ncl];
    if (!is_smi(ncl_w) || smi(ncl_w) < 0 || smi(ncl_w) > SP_V8_MAX_LOCALS) return false;
    if (D.l.si_first_vars >= 5 && is_smi(head[3]) && is_smi(head[4]) && smi(head[3]) >= 0 &&
        smi(head[3]) <= smi(head[4]))
        *start = smi(head[3]);
    uint64_t slots[6];
    if (!rd(data + 8 * (uint64_t)(D.l.si_first_vars + 2 * smi(ncl_w)), slots, sizeof slots))
        return false;
    for (int i = 0; i < 6; i++) {
        if (is_smi(slots[i])) continue; /* a saved class variable index, a slot index */
        if (!is_heap(slots[i])) return false;
        int t = type_of(slots[i]);
        /* Not a string: the end of the names (an undefined inferred name, the outer
         * scope). Fine after the empty function name, unsure before any name. */
        if (t < 0 || t >= D.l.first_nonstring) return *name != NULL;
        char *n = dup_string(slots[i]);
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
 * (V8 has not computed them). */
static bool script_line(uint64_t script, int64_t pos, int *line, int *col)
{
    uint64_t ends, len_w;
    if (!rd_word(script, D.l.script_line_ends, &ends) || !is_heap(ends) ||
        type_of(ends) != D.l.t_fixed_array || !rd_word(ends, D.l.fa_length, &len_w) ||
        !is_smi(len_w))
        return false;
    int64_t n = smi(len_w), lo = 0, hi = n; /* first entry >= pos */
    if (n <= 0 || n > (1 << 24)) return false;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        uint64_t w;
        if (!rd(obj(ends) + (uint64_t)D.l.fa_data + 8 * (uint64_t)mid, &w, 8) || !is_smi(w))
            return false;
        if (smi(w) < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    int64_t line_start = 0;
    if (lo > 0) {
        uint64_t w;
        if (!rd(obj(ends) + (uint64_t)D.l.fa_data + 8 * (uint64_t)(lo - 1), &w, 8) || !is_smi(w))
            return false;
        line_start = smi(w) + 1;
    }
    *line = (int)lo + 1;
    *col = (int)(pos - line_start) + 1;
    return true;
}

static uint64_t fnv(const char *s, uint64_t h)
{
    for (; s && *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

/* The named-function table: equal functions share one entry (one frame in a profile).
 * Takes ownership of name and script. 0 when full or out of memory. */
static uint32_t intern_fn(char *name, char *script, int line, int col)
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

/* Decodes a captured frame into a named-function index (1-based), 0 when unsure. */
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
    return is_heap(fn) && is_heap(bca) && is_smi(offset) && smi(offset) >= 0 &&
           smi(offset) <= (1 << 26);
}

static uint32_t decode_pf(uint64_t fn, uint64_t bca, uint64_t offset, const prefetch_t *pf)
{
    uint64_t sfi, sfi_head[8];
    if (!frame_words_ok(fn, bca, offset)) return 0;
    uint64_t bca_map;
    if (pf && pf->read) {
        bca_map = pf->bca_map, sfi = pf->sfi;
    } else { /* one system call for the BytecodeArray's map and the SFI pointer */
        uint64_t at[2] = {obj(bca) + (uint64_t)D.l.map, obj(fn) + (uint64_t)D.l.fn_shared};
        void *into[2] = {&bca_map, &sfi};
        size_t lens[2] = {8, 8};
        if (!rdv(at, into, lens, 2)) return 0;
    }
    if (map_type(bca_map) != D.l.t_bytecode || !is_heap(sfi)) return 0;
    if (pf && pf->head_read && pf->guess == sfi)
        memcpy(sfi_head, pf->head, sizeof sfi_head);
    else if (!rd(obj(sfi), sfi_head, sizeof sfi_head))
        return 0;
    if (map_type(sfi_head[D.l.map / 8]) != D.l.t_sfi) return 0;
    uint64_t *g = guess_slot(fn);
    if (g) g[0] = fn, g[1] = sfi;
    uint64_t nosi = sfi_head[D.l.sfi_nosi / 8], script = sfi_head[D.l.sfi_script / 8];

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
    int nt = is_heap(nosi) ? type_of(nosi) : -1;
    if (nt >= 0 && nt < D.l.first_nonstring)
        name = dup_string(nosi);
    else if (nt == D.l.t_scope_info && !scope_info_name(nosi, &name, &start))
        name = NULL;
    else if (nt != D.l.t_scope_info && is_smi(nosi))
        name = sp_mem_strdup(""); /* no name kept */
    if (!name) goto fail;
    if (type_of(script) != D.l.t_script) goto fail;
    uint64_t sname;
    if (!rd_word(script, D.l.script_name, &sname)) goto fail;
    int st = is_heap(sname) ? type_of(sname) : -1;
    if (st >= 0 && st < D.l.first_nonstring && !(path = dup_string(sname))) goto fail;
    if (start >= 0 && !script_line(script, start, &line, &col)) line = col = 0;
    uint32_t id = intern_fn(name, path, line, col);
    if (id && c) *c = (cache_t){.sfi = sfi, .nosi = nosi, .script = script, .fn = id};
    return id;
fail:
    sp_mem_free(name);
    sp_mem_free(path);
    return 0;
}

bool sp_v8decode_frame(uint64_t fn, uint64_t bca, uint64_t offset, sp_v8fn_t *out)
{
    if (!D.on) return false;
    uint32_t id = decode_pf(fn, bca, offset, NULL);
    if (!id) return false;
    *out = D.fns[id - 1].v;
    return true;
}

const sp_v8fn_t *sp_v8decode_lookup(uint64_t addr)
{
    if (!(addr & SP_V8_SYNTH_BIT) || (addr >> 32) != (SP_V8_SYNTH_BIT >> 32)) return NULL;
    uint64_t i = addr & 0xffffffffu;
    return i >= 1 && i <= D.nfns ? &D.fns[i - 1].v : NULL;
}

/* ---- samples ---- */

/* What runs at pcs[k]: 1 V8's interpreter entry (InterpreterEntryTrampoline and the
 * InterpreterEnterAt* re-entries: the frame is the interpreted function's own: rename it), 2 another builtin or bytecode handler running on that JS frame without
 * one of its own (insert the function above it), 0 anything else (a JS function with its
 * own code, native code: leave it). */
static int pc_kind(sp_symbolizer_t *sym, const sp_sample_t *s, unsigned k)
{
    sp_frame_t f;
    sp_symbolizer_resolve(sym, s->pcs[k], k > 0, &f);
    if (f.kind != SP_FRAME_NATIVE || !f.function) return 0;
    bool builtin = strncmp(f.function, "Builtins_", 9) == 0;
    /* The interpreter's entry points run on the frame they enter (the trampoline built
     * it); other Interpreter* builtins (InterpreterPushArgsThen...) are ordinary callees. */
    if (k > 0 && builtin &&
        (strncmp(f.function, "Builtins_InterpreterEntryTrampoline", 35) == 0 ||
         strncmp(f.function, "Builtins_InterpreterEnterAt", 27) == 0))
        return 1;
    /* The leaf may also be native code that has not (yet) built a frame over the
     * interpreted one: another profiler's signal handler that interrupted it (V8's own
     * SIGPROF sampler under --cpu-prof) or a function's first instructions. A native frame
     * that did build one keeps its own locals in these slots, and they fail the checks. */
    return builtin || k == 0 ? 2 : 0;
}

void sp_v8decode_rewrite(sp_sample_t *s, sp_symbolizer_t *sym)
{
    if (!D.on || !s->nv8) return;
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    int kinds[SP_V8_MAX_FRAMES] = {0};
    prefetch_t pf[SP_V8_MAX_FRAMES];
    struct iovec local[3 * SP_V8_MAX_FRAMES], remote[3 * SP_V8_MAX_FRAMES];
    size_t niov = 0, total = 0;
    unsigned nv8 = s->nv8 < SP_V8_MAX_FRAMES ? s->nv8 : SP_V8_MAX_FRAMES;
    for (unsigned i = 0; i < nv8; i++) {
        const sp_v8_slots_t *v = &s->v8[i];
        memset(&pf[i], 0, sizeof pf[i]);
        kinds[i] = v->frame < s->nframes ? pc_kind(sym, s, v->frame) : 0;
        if (!kinds[i] || !frame_words_ok(v->function, v->bytecode_array, v->bytecode_offset))
            continue;
#define ADD(dst, addr, n)                                                                          \
    (local[niov] = (struct iovec){(dst), (n)},                                                     \
     remote[niov] = (struct iovec){(void *)(uintptr_t)(addr), (n)}, niov++, total += (n))
        ADD(&pf[i].bca_map, obj(v->bytecode_array) + (uint64_t)D.l.map, 8);
        ADD(&pf[i].sfi, obj(v->function) + (uint64_t)D.l.fn_shared, 8);
        uint64_t *g = guess_slot(v->function);
        if (g && g[0] == v->function && is_heap(g[1])) {
            pf[i].guess = g[1];
            ADD(pf[i].head, obj(g[1]), sizeof pf[i].head);
        }
#undef ADD
    }
    /* The whole sample's reads in one system call; if any range fails (an object died),
     * each frame reads on its own below. */
    if (niov && !D.use_mem) {
        D.st.reads++;
        if (!self_pid) self_pid = getpid();
        if (process_vm_readv(self_pid, local, niov, remote, niov, 0) == (ssize_t)total)
            for (unsigned i = 0; i < nv8; i++)
                pf[i].read = kinds[i] != 0, pf[i].head_read = pf[i].guess != 0;
        else
            memset(pf, 0, sizeof pf);
    }
    /* From the root end down, so an insertion does not move frames still to visit. */
    for (int i = (int)nv8 - 1; i >= 0; i--) {
        const sp_v8_slots_t *v = &s->v8[i];
        unsigned k = v->frame;
        if (k >= s->nframes) continue;
        int kind = kinds[i];
        if (!kind) continue;
        uint32_t id = decode_pf(v->function, v->bytecode_array, v->bytecode_offset, &pf[i]);
        if (!id) {
            D.st.unresolved++;
            continue;
        }
        uint64_t synth = SP_V8_SYNTH_BIT | id;
        D.st.named++;
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
        D.st.inserted++;
    }
    s->nv8 = 0;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    D.st.samples++;
    D.st.ns += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec));
}

/* ---- layout ---- */

static bool dlsym_get(const char *name, int64_t *value)
{
    const void *p = dlsym(RTLD_DEFAULT, name);
    if (!p) return false;
    /* Constants are ints, except the few 64-bit masks (read as their low 32 bits, which
     * hold them). */
    *value = *(const int32_t *)p;
    return true;
}

/* The first of names that exists. */
static bool get_any(bool (*get)(const char *, int64_t *), const char *const *names, int64_t *v)
{
    for (; *names; names++)
        if (get(*names, v)) return true;
    return false;
}

#define ONE(...) ((const char *const[]){__VA_ARGS__, NULL})

bool sp_v8decode_init_with(bool (*get)(const char *name, int64_t *value))
{
    layout_t l;
    int64_t fp_fn, fp_bca, fp_off, smi_shift, heap_tag, heap_mask;
    const char *missing = NULL;
#define NEED(dst, ...)                                                                             \
    do {                                                                                           \
        if (!missing && !get_any(get, ONE(__VA_ARGS__), &(dst))) missing = ONE(__VA_ARGS__)[0];    \
    } while (0)
    NEED(fp_fn, "v8dbg_off_fp_function");
    NEED(fp_bca, "v8dbg_off_fp_bytecode_array");
    NEED(fp_off, "v8dbg_off_fp_bytecode_offset");
    NEED(smi_shift, "v8dbg_SmiShiftSize");
    NEED(heap_tag, "v8dbg_HeapObjectTag");
    NEED(heap_mask, "v8dbg_HeapObjectTagMask");
    NEED(l.map, "v8dbg_class_HeapObject__map__Map");
    NEED(l.map_instance_type, "v8dbg_class_Map__instance_type__uint16_t");
    NEED(l.fn_shared, "v8dbg_class_JSFunction__shared__SharedFunctionInfo");
    NEED(l.sfi_nosi, "v8dbg_class_SharedFunctionInfo__name_or_scope_info__Object",
         "v8dbg_class_SharedFunctionInfo__name_or_scope_info__Tagged_Object_",
         "v8dbg_class_SharedFunctionInfo__name_or_scope_info__Tagged_NameOrScopeInfoT_");
    NEED(l.sfi_script, "v8dbg_class_SharedFunctionInfo__script_or_debug_info__HeapObject",
         "v8dbg_class_SharedFunctionInfo__raw_script__Tagged_Object_",
         "v8dbg_class_SharedFunctionInfo__script__Tagged_HeapObject_");
    NEED(l.script_name, "v8dbg_class_Script__name__Object");
    NEED(l.script_line_ends, "v8dbg_class_Script__line_ends__Object");
    NEED(l.fa_length, "v8dbg_class_FixedArrayBase__length__SMI");
    NEED(l.fa_data, "v8dbg_class_FixedArray__data__uintptr_t");
    NEED(l.str_length, "v8dbg_class_String__length__int32_t");
    NEED(l.seq1_chars, "v8dbg_class_SeqOneByteString__chars__char");
    NEED(l.seq2_chars, "v8dbg_class_SeqTwoByteString__chars__char");
    NEED(l.cons_first, "v8dbg_class_ConsString__first__String");
    NEED(l.cons_second, "v8dbg_class_ConsString__second__String");
    NEED(l.thin_actual, "v8dbg_class_ThinString__actual__String");
    NEED(l.first_nonstring, "v8dbg_FirstNonstringType");
    NEED(l.repr_mask, "v8dbg_StringRepresentationMask");
    NEED(l.enc_mask, "v8dbg_StringEncodingMask");
    NEED(l.seq_tag, "v8dbg_SeqStringTag");
    NEED(l.cons_tag, "v8dbg_ConsStringTag");
    NEED(l.thin_tag, "v8dbg_ThinStringTag");
    NEED(l.one_byte_tag, "v8dbg_OneByteStringTag");
    NEED(l.t_sfi, "v8dbg_type_SharedFunctionInfo__SHARED_FUNCTION_INFO_TYPE");
    NEED(l.t_bytecode, "v8dbg_type_BytecodeArray__BYTECODE_ARRAY_TYPE");
    NEED(l.t_scope_info, "v8dbg_type_ScopeInfo__SCOPE_INFO_TYPE");
    NEED(l.t_script, "v8dbg_type_Script__SCRIPT_TYPE");
    NEED(l.t_fixed_array, "v8dbg_type_FixedArray__FIXED_ARRAY_TYPE");
    NEED(l.si_first_vars, "v8dbg_scopeinfo_idx_first_vars");
    NEED(l.si_ncl, "v8dbg_scopeinfo_idx_ncontextlocals");
#undef NEED
    if (missing) {
        SP_DEBUG("v8 frames: off (node exports no %s): interpreted frames stay unnamed", missing);
        return false;
    }
    /* Optional: sliced strings are rare in names. */
    if (!get("v8dbg_SlicedStringTag", &l.sliced_tag) ||
        !get("v8dbg_class_SlicedString__parent__String", &l.sliced_parent) ||
        !get("v8dbg_class_SlicedString__offset__SMI", &l.sliced_offset))
        l.sliced_tag = -1, l.sliced_parent = -1;
    if (smi_shift != 31 || l.si_ncl < 0 || l.si_ncl > 4 || l.si_first_vars < 0 ||
        l.si_first_vars > 8 || l.map < 0 || l.map > 56 || l.map & 7 || l.sfi_nosi < 0 ||
        l.sfi_nosi > 56 || l.sfi_script < 0 || l.sfi_script > 56 ||
        (l.sfi_nosi | l.sfi_script) & 7 || fp_fn >= 0 || fp_bca >= 0 || fp_off >= 0 ||
        fp_fn < -128 || fp_bca < -128 || fp_off < -128) {
        SP_DEBUG("v8 frames: off (a V8 layout this decoder does not know: SmiShiftSize %lld)",
                 (long long)smi_shift);
        return false;
    }
    l.smi_shift = (int)smi_shift + 1;
    l.heap_tag = heap_tag;
    l.heap_tag_mask = heap_mask;
    D.l = l;
    D.on = true;
    static bool atfork_set;
    if (!atfork_set) atfork_set = pthread_atfork(NULL, NULL, forget_pid) == 0;

    sp_v8_frame_layout_t *fl = &sp_v8_frame_layout;
    fl->off_function = (int32_t)fp_fn;
    fl->off_bytecode_array = (int32_t)fp_bca;
    fl->off_bytecode_offset = (int32_t)fp_off;
    int32_t lo = (int32_t)fp_fn, hi = (int32_t)fp_fn;
    if (fp_bca < lo) lo = (int32_t)fp_bca;
    if (fp_off < lo) lo = (int32_t)fp_off;
    if (fp_bca > hi) hi = (int32_t)fp_bca;
    if (fp_off > hi) hi = (int32_t)fp_off;
    fl->lowest = lo;
    fl->highest = hi;
    fl->heap_tag_mask = (uint64_t)heap_mask;
    fl->heap_tag = (uint64_t)heap_tag;
    fl->smi_zero_mask = (1ull << l.smi_shift) - 1;
    atomic_store_explicit(&fl->on, 1, memory_order_release);
    SP_DEBUG("v8 frames: on (fp slots %d/%d/%d, scope info first vars %lld)", (int)fp_fn,
             (int)fp_bca, (int)fp_off, (long long)l.si_first_vars);
    return true;
}

bool sp_v8decode_init(void) { return sp_v8decode_init_with(dlsym_get); }

bool sp_v8decode_enabled(void) { return D.on; }

void sp_v8decode_reset(void)
{
    atomic_store(&sp_v8_frame_layout.on, 0);
    for (uint32_t i = 0; i < D.nfns; i++) {
        sp_mem_free((char *)D.fns[i].v.function);
        sp_mem_free((char *)D.fns[i].v.script);
    }
    sp_mem_free(D.fns);
    sp_mem_free(D.buckets);
    sp_mem_free(D.cache);
    sp_mem_free(D.guess);
    if (D.mem_fd >= 0) close(D.mem_fd);
    memset(&D, 0, sizeof D);
    self_pid = 0;
    D.mem_fd = -1;
}

void sp_v8decode_get_stats(sp_v8decode_stats_t *out) { *out = D.st; }

void sp_v8decode_log_stats(void)
{
    if (!D.on) return;
    SP_DEBUG(
        "v8 frames: %llu named (%llu put back under a builtin), %llu left unnamed, %u functions, "
        "%llu heap reads, %llu cache hits; %.1f us CPU per sample with captured slots (%llu)",
        (unsigned long long)D.st.named, (unsigned long long)D.st.inserted,
        (unsigned long long)D.st.unresolved, D.nfns, (unsigned long long)D.st.reads,
        (unsigned long long)D.st.cache_hits,
        D.st.samples ? (double)D.st.ns / 1000.0 / (double)D.st.samples : 0.0,
        (unsigned long long)D.st.samples);
}
