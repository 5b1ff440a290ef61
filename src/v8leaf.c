/* v8leaf: the JS caller of a frameless leaf, from the word at its sp. Owns the cache of
 * return addresses checked for the call instruction before them. Agent thread only.
 *
 * What is trusted: the word at sp only when the leaf is one of V8's builtins (embedded
 * code, "Builtins_*": about 40% of them never build a frame, and bytecode handlers run on
 * the interpreted frame), the word is code V8's perf map names as JS, and a call
 * instruction ends right before it (read from our own memory through v8heap, which never
 * faults). A builtin that built a frame keeps rbp, locals or pushed registers at sp, none
 * of which passes all three. The check is cached per address until the perf map changes
 * (new code may sit where old code was). */
#include "v8leaf.h"

#include <string.h>

#include "log.h"
#include "mem.h"
#include "v8decode.h"
#include "v8heap.h"

#define SP_V8LEAF_SLOTS  1024    /* checked return addresses, direct-mapped */
#define SP_MIN_CODE_ADDR 0x10000 /* as unwind.c: below this a word is not code */

typedef struct {
    uint64_t addr, generation;
    bool call;
} call_entry_t;

static struct {
    call_entry_t *cache;
    sp_v8leaf_stats_t st;
} L;

#if defined(__aarch64__)
/* arm64: the instruction before the return address is BL imm26 or BLR Xn. */
static bool ends_in_call(const uint8_t b[8])
{
    uint32_t insn = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
    return (insn & 0xFC000000u) == 0x94000000u || (insn & 0xFFFFFC1Fu) == 0xD63F0000u;
}
#else
/* True when an x86_64 call instruction ends where b (the 8 bytes before a return address)
 * ends: call rel32 (E8), or call r/m64 (FF /2) in any addressing form, REX optional. V8's
 * code calls builtins both ways (rel32, or through the builtin table off the root
 * register); the interpreter calls its handlers through a register. */
static bool ends_in_call(const uint8_t b[8])
{
    if (b[3] == 0xE8) return true;
    for (int p = 0; p <= 6; p++) {
        int q = (b[p] & 0xF0) == 0x40 ? p + 1 : p; /* REX prefix */
        if (q > 6 || b[q] != 0xFF) continue;
        uint8_t m = b[q + 1];
        if (((m >> 3) & 7) != 2) continue; /* FF /2: call */
        int mod = m >> 6, rm = m & 7, len = 2;
        if (mod != 3 && rm == 4) { /* SIB byte */
            if (q + 2 > 7) continue;
            len++;
            if (mod == 0 && (b[q + 2] & 7) == 5) len += 4;
        }
        if (mod == 1) len += 1;
        else if (mod == 2 || (mod == 0 && rm == 5)) len += 4;
        if (q + len == 8) return true;
    }
    return false;
}
#endif

static bool after_call(uint64_t addr, uint64_t generation)
{
    if (!L.cache) L.cache = sp_mem_calloc(SP_V8LEAF_SLOTS, sizeof *L.cache);
    call_entry_t *e =
        L.cache ? &L.cache[(addr * 0x9e3779b97f4a7c15ull) >> 54 & (SP_V8LEAF_SLOTS - 1)] : NULL;
    if (e && e->addr == addr && e->generation == generation) return e->call;
    uint8_t b[8];
    L.st.reads++;
    bool call = sp_v8heap_read(addr - 8, b, sizeof b) && ends_in_call(b);
    if (e) *e = (call_entry_t){.addr = addr, .generation = generation, .call = call};
    return call;
}

/* The leaf of one context: pcs[k] (a return address when k > 0: a signal handler's
 * interrupted pc is stored plus one), w the word at its sp. */
static void repair_one(sp_sample_t *s, sp_symbolizer_t *sym, unsigned k, uint64_t w)
{
    if (k >= s->nframes || k + 1 >= SP_MAX_FRAMES || w < SP_MIN_CODE_ADDR || (w & SP_V8_SYNTH_BIT))
        return;
    /* v8decode named the leaf from its frame slots: not a builtin, and no address to look
     * up (resolving one would reread /proc/self/maps for an address in no mapping). */
    if (s->pcs[k] & SP_V8_SYNTH_BIT) return;
    /* Already there, or v8decode put the leaf's interpreted function above it. */
    if (k + 1 < s->nframes && (s->pcs[k + 1] == w || (s->pcs[k + 1] & SP_V8_SYNTH_BIT))) return;
    /* w is any stack word (a pointer into the heap, a number): the perf map alone says
     * whether it is JS code, with no /proc read for the words that are not. Asked first,
     * as the cheaper question, so the leaf's ELF lookup is made only for samples with JS code
     * at sp. */
    sp_frame_t f;
    if (!sp_symbolizer_resolve_perf_map(sym, w, true, &f) || f.kind == SP_FRAME_NATIVE) return;
    sp_symbolizer_resolve(sym, s->pcs[k], k > 0, &f);
    if (f.kind != SP_FRAME_NATIVE || !f.function || strncmp(f.function, "Builtins_", 9) != 0)
        return;
    L.st.leaves++;
    if (!after_call(w, sp_symbolizer_generation(sym))) {
        L.st.no_call++;
        return;
    }
    unsigned n = s->nframes < SP_MAX_FRAMES ? s->nframes + 1u : SP_MAX_FRAMES;
    if (n == s->nframes) s->flags |= SP_SAMPLE_TRUNCATED;
    memmove(&s->pcs[k + 2], &s->pcs[k + 1], (n - k - 2) * sizeof s->pcs[0]);
    s->pcs[k + 1] = w;
    s->nframes = (uint16_t)n;
    for (unsigned j = 0; j < s->nsig && j < SP_MAX_SIGFRAMES; j++)
        if (s->sig[j].frame > k) s->sig[j].frame++;
    L.st.inserted++;
}

void sp_v8leaf_repair(sp_sample_t *s, sp_symbolizer_t *sym)
{
    /* From the root end down, so an insertion does not move a context still to visit. */
    for (int i = (int)(s->nsig < SP_MAX_SIGFRAMES ? s->nsig : SP_MAX_SIGFRAMES) - 1; i >= 0; i--)
        repair_one(s, sym, s->sig[i].frame, s->sig[i].sp_word);
    repair_one(s, sym, 0, s->sp_word);
}

void sp_v8leaf_get_stats(sp_v8leaf_stats_t *out) { *out = L.st; }

void sp_v8leaf_log_stats(void)
{
    if (!L.st.leaves) return;
    SP_DEBUG("v8 leaves: %llu builtin leaves with a JS word at sp, %llu callers put back, %llu "
             "not after a call; %llu code reads",
             (unsigned long long)L.st.leaves, (unsigned long long)L.st.inserted,
             (unsigned long long)L.st.no_call, (unsigned long long)L.st.reads);
}

void sp_v8leaf_reset(void)
{
    sp_mem_free(L.cache);
    memset(&L, 0, sizeof L);
}
