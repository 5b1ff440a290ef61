/* v8baseline: Sparkplug frames -> their bytecode offset (v8baseline.h says how). Owns the
 * bytecode sizes read from node's symbol table and the cache of walked Sparkplug Code
 * objects (by instruction start); reads the heap only through v8heap. Agent thread only.
 *
 * What is trusted: a Code object's walk only when its table has exactly one entry per
 * bytecode of the frame's BytecodeArray (plus the prologue's) and no pc past the code's
 * end: wrong sizes, another function's code or a moved object almost never walk in step.
 * A walked code is used again while the Code still holds the same table and the frame
 * the same BytecodeArray. */
#include "v8baseline.h"

#include <string.h>

#include "elfsym.h"
#include "log.h"
#include "mem.h"
#include "v8heap.h"
#include "v8image.h"

#define SP_V8BL_SLOTS     512 /* walked Code objects, direct-mapped by start */
#define SP_V8BL_OPS_MIN   150 /* V8 10.2 (Node 18) has 198 bytecodes, 14 has 212 */
#define SP_V8BL_OPS_MAX   512
#define SP_V8BL_BYTES_MAX (4u << 20) /* longest BytecodeArray or offset table walked */
#define SP_V8BL_SIZES_SYM "_ZN2v88internal11interpreter9Bytecodes14kBytecodeSizesE"

typedef struct {
    uint64_t start, size;  /* key: the instructions, as the perf map gives them */
    uint64_t code, spt;    /* the Code object and its table word when walked */
    uint64_t bca;          /* the BytecodeArray it was walked against */
    uint32_t prologue_end; /* pc offsets up to this one are the prologue */
    uint32_t n;            /* bytecodes */
    uint32_t *pc_end;      /* per bytecode: the pc offset its code ends at (ascending) */
    uint32_t *bc_off;      /* per bytecode: its offset in the BytecodeArray */
    bool ok;               /* walked in step; else a failed walk, not retried for this key */
} bl_code_t;

static struct {
    int sizes_state; /* 0 not looked for, 1 set, -1 not found */
    uint32_t count;
    uint8_t sizes[3][SP_V8BL_OPS_MAX];
    bl_code_t *code;
    uint64_t loads, hits;
} B;

bool sp_v8baseline_set_sizes(const uint8_t *sizes, size_t count)
{
    if (count < 4 || count > SP_V8BL_OPS_MAX) return false;
    for (size_t op = 0; op < count; op++)
        for (int s = 0; s < 3; s++) {
            uint8_t v = sizes[(size_t)s * count + op];
            if (v < 1 || v > 32 || (op < 4 && v != 1) ||
                (s && v < sizes[(size_t)(s - 1) * count + op]))
                return false;
        }
    for (int s = 0; s < 3; s++) memcpy(B.sizes[s], sizes + (size_t)s * count, count);
    B.count = (uint32_t)count;
    B.sizes_state = 1;
    return true;
}

/* ---- finding V8's table in node ---- */

__attribute__((cold)) bool sp_v8baseline_load_sizes(void)
{
    if (B.sizes_state) return B.sizes_state > 0;
    B.sizes_state = -1;
    const char *path;
    uint64_t bias, vaddr, size;
    bool file = sp_v8image_file(&path, &bias);
    if (!file ||
        !sp_elfsym_find_object(path, SP_V8BL_SIZES_SYM, 3 * SP_V8BL_OPS_MIN, 3 * SP_V8BL_OPS_MAX,
                               &vaddr, &size) ||
        size % 3) {
        SP_DEBUG(
            "v8 baseline: no bytecode sizes in %s: Sparkplug frames keep their definition line",
            file ? path : "node");
        return false;
    }
    uint8_t t[3 * SP_V8BL_OPS_MAX];
    if (!sp_v8heap_read(bias + vaddr, t, (size_t)size) || !sp_v8baseline_set_sizes(t, size / 3)) {
        SP_DEBUG("v8 baseline: %s: the bytecode sizes table does not look like V8's", path);
        B.sizes_state = -1;
        return false;
    }
    SP_DEBUG("v8 baseline: %u bytecode sizes from %s", B.count, path);
    return true;
}

/* ---- walking one Code object ---- */

static bool vlq(const uint8_t *t, uint32_t n, uint32_t *pos, uint32_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift <= 28; shift += 7) {
        if (*pos >= n) return false;
        uint8_t b = t[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (v > UINT32_MAX) return false;
            *out = (uint32_t)v;
            return true;
        }
    }
    return false;
}

/* One pass over the bytecodes and the table together, each bytecode's end pc and offset
 * into pc_end and bc_off (room for cap = min(nt - 1, len) of them: a table entry takes a
 * byte at least, as a bytecode does). The number of bytecodes, or -1 when the two do not walk in step. */
static int64_t walk(const uint8_t *bc, uint32_t len, const uint8_t *t, uint32_t nt, int64_t isize,
                    uint32_t *prologue_end, uint32_t *pc_end, uint32_t *bc_off, uint32_t cap)
{
    uint32_t pos = 0, pc, delta;
    if (!vlq(t, nt, &pos, &pc)) return -1;
    *prologue_end = pc;
    int64_t n = 0;
    for (uint32_t off = 0; off < len;) {
        uint32_t op = bc[off], prefix = 0, scale = 0;
        if (op < 4) { /* Wide, ExtraWide, DebugBreakWide, DebugBreakExtraWide */
            scale = op & 1 ? 2 : 1;
            prefix = 1;
            if (off + 1 >= len) return -1;
            op = bc[off + 1];
        }
        if (op >= B.count || n >= cap || !vlq(t, nt, &pos, &delta)) return -1;
        pc += delta;
        if (pc > isize) return -1;
        pc_end[n] = pc, bc_off[n] = off;
        n++;
        off += prefix + B.sizes[scale][op];
        if (off > len) return -1;
    }
    return pos == nt ? n : -1;
}

static void code_forget(bl_code_t *e)
{
    sp_mem_free(e->pc_end);
    sp_mem_free(e->bc_off);
    memset(e, 0, sizeof *e);
}

__attribute__((cold)) static void code_load(bl_code_t *e, uint64_t bca, uint64_t start,
                                            uint64_t size)
{
    const sp_v8heap_layout_t *l = &sp_v8heap_layout;
    code_forget(e);
    e->start = start, e->size = size, e->bca = bca;
    B.loads++;
    sp_v8heap_code_t c;
    uint64_t len_w;
    if (!sp_v8heap_code_at(start, size, &c) || c.kind != l->kind_baseline || l->bca_header < 0 ||
        sp_v8heap_type_of(bca) != l->t_bytecode || !sp_v8heap_word(bca, l->bca_length, &len_w) ||
        !sp_v8heap_is_smi(len_w) || sp_v8heap_smi(len_w) <= 0 ||
        sp_v8heap_smi(len_w) > SP_V8BL_BYTES_MAX)
        return;
    e->code = c.code, e->spt = c.spt;
    uint32_t len = (uint32_t)sp_v8heap_smi(len_w), nt = 0;
    uint8_t *bc = sp_mem_alloc(len), *t = sp_v8heap_bytes_dup(c.spt, SP_V8BL_BYTES_MAX, &nt);
    uint32_t cap = nt > 1 ? (nt - 1 < len ? nt - 1 : len) : 0;
    if (bc && t && cap && sp_v8heap_read(sp_v8heap_obj(bca) + (uint64_t)l->bca_header, bc, len) &&
        (e->pc_end = sp_mem_alloc((size_t)cap * sizeof *e->pc_end)) &&
        (e->bc_off = sp_mem_alloc((size_t)cap * sizeof *e->bc_off))) {
        int64_t n = walk(bc, len, t, nt, c.isize, &e->prologue_end, e->pc_end, e->bc_off, cap);
        if (n > 0) {
            e->n = (uint32_t)n;
            e->ok = true;
        }
    }
    sp_mem_free(bc);
    sp_mem_free(t);
}

static bl_code_t *code_slot(uint64_t start)
{
    return &B.code[(start * 0x9e3779b97f4a7c15ull) >> 55 & (SP_V8BL_SLOTS - 1)];
}

bool sp_v8baseline_plan(uint64_t bca, uint64_t start, uint64_t size, sp_v8baseline_pre_t *pre)
{
    const sp_v8heap_layout_t *l = &sp_v8heap_layout;
    memset(pre, 0, sizeof *pre);
    if (B.sizes_state <= 0 || !l->jit_on || !B.code) return false;
    const bl_code_t *e = code_slot(start);
    if (e->start != start || e->size != size || e->bca != bca || !e->code) return false;
    pre->code = e->code;
    pre->at = sp_v8heap_obj(e->code) + (uint64_t)l->code_spt;
    return true;
}

int64_t sp_v8baseline_offset(uint64_t bca, uint64_t pc, bool return_addr, uint64_t start,
                             uint64_t size, const sp_v8baseline_pre_t *pre)
{
    const sp_v8heap_layout_t *l = &sp_v8heap_layout;
    if (B.sizes_state <= 0 || !l->jit_on || !sp_v8heap_is_heap(bca) || pc < start ||
        pc - start >= size)
        return SP_V8BASELINE_UNSURE;
    if (!B.code && !(B.code = sp_mem_calloc(SP_V8BL_SLOTS, sizeof *B.code)))
        return SP_V8BASELINE_UNSURE;
    bl_code_t *e = code_slot(start);
    uint64_t spt = 0;
    /* The same code and frame: walked before (or failed before: not Sparkplug code, or
     * not in step; tried again only once another code or array takes the slot). Its
     * position table pointer, read ahead with the sample's other words when planned. */
    bool same = e->start == start && e->size == size && e->bca == bca;
    bool spt_read =
        same && e->code &&
        (pre && pre->read && pre->code == e->code ? (spt = pre->spt, true)
                                                  : sp_v8heap_word(e->code, l->code_spt, &spt));
    if (same && (!e->code || (spt_read && spt == e->spt)))
        B.hits++;
    else
        code_load(e, bca, start, size);
    if (!e->ok) return SP_V8BASELINE_UNSURE;
    /* V8 (Code::GetBytecodeOffsetForBaselinePC): the first bytecode whose code ends at or
     * after the pc offset; a return address ends its call's bytecode. An interrupted pc is
     * the next instruction to run: it lies in the bytecode whose code ends after it. */
    uint64_t key = pc - start + (return_addr ? 0 : 1);
    if (key <= e->prologue_end) return SP_V8BASELINE_ENTRY;
    uint32_t lo = 0, hi = e->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (e->pc_end[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < e->n ? (int64_t)e->bc_off[lo] : SP_V8BASELINE_UNSURE;
}

uint64_t sp_v8baseline_code(uint64_t bca, uint64_t start, uint64_t size)
{
    if (!B.code) return 0;
    const bl_code_t *e = code_slot(start);
    return e->start == start && e->size == size && e->bca == bca && e->ok ? e->code : 0;
}

void sp_v8baseline_counts(uint64_t *code_loads, uint64_t *hits)
{
    *code_loads = B.loads;
    *hits = B.hits;
}

__attribute__((cold)) void sp_v8baseline_reset(void)
{
    if (B.code)
        for (int i = 0; i < SP_V8BL_SLOTS; i++) code_forget(&B.code[i]);
    sp_mem_free(B.code);
    memset(&B, 0, sizeof B);
}
