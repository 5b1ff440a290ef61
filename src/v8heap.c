/* v8heap: reads V8's heap from outside V8 (see v8heap.h): node's v8dbg_* layout, reads that
 * never fault, object types, strings. Agent thread only, except sp_v8heap_init.
 *
 * Why every read goes through process_vm_readv: the objects a sample pointed at may have
 * moved or died by the time we look (GC runs between capture and decode), and node
 * replaces any SIGSEGV handler we could install (docs/HAZARDS.md §3), so a plain load could
 * take the host down. process_vm_readv on our own pid returns EFAULT instead; where the
 * kernel refuses it (seccomp), /proc/self/mem is read with pread, which fails the same way.
 *
 * What is trusted: an object's type only from its map's instance type (the map's answer is
 * memoized, the object's map word is read every time). Smis are 32-bit values in the upper
 * half (v8dbg_SmiShiftSize 31); a build with pointer compression (SmiShiftSize 0) is not
 * read at all. */
#include "v8heap.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"

#define SP_V8HEAP_STRING_DEPTH 4  /* cons/thin/sliced nesting followed */
#define SP_V8_MAP_MEMO         64 /* map -> instance type, direct-mapped */
/* lookups before the memo is forgotten (a compaction can move maps; a few thousand
 * lookups is seconds) */
#define SP_V8_MAP_MEMO_USES 4096

sp_v8heap_layout_t sp_v8heap_layout;

static struct {
    int mem_fd; /* /proc/self/mem when process_vm_readv is refused; -1: not opened */
    bool use_mem;
    uint64_t reads;
    struct {
        uint64_t map;
        int type;
    } memo[SP_V8_MAP_MEMO];
    unsigned memo_uses;
} H = {.mem_fd = -1};

/* ---- fault-proof reads ---- */

/* Our pid, cached: a system call costs as much as the read itself (measured here: 1.3 us
 * for getpid, 2.4 us for an 8-byte process_vm_readv). Reset in a fork child, which must
 * never read its parent. */
static pid_t self_pid;
static void forget_pid(void) { self_pid = 0; }

/* Reads the ranges (remote -> local) in one system call: all of them, or false. */
static bool read_ranges(const struct iovec *local, const struct iovec *remote, size_t n)
{
    size_t total = 0;
    if (!n || n > SP_V8HEAP_IOV_MAX) return false;
    for (size_t i = 0; i < n; i++) total += local[i].iov_len;
    H.reads++;
    if (!H.use_mem) {
        if (!self_pid) self_pid = getpid();
        ssize_t got =
            process_vm_readv(self_pid, local, (unsigned long)n, remote, (unsigned long)n, 0);
        if (got != (ssize_t)total) {
            if (got >= 0 || (errno != EPERM && errno != ENOSYS)) return false;
            H.use_mem = true; /* refused (seccomp): /proc/self/mem from now on */
            SP_DEBUG("v8 frames: process_vm_readv refused (%s); reading /proc/self/mem",
                     strerror(errno));
        }
    }
    if (H.use_mem) {
        if (H.mem_fd < 0) H.mem_fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
        if (H.mem_fd < 0) return false;
        for (size_t i = 0; i < n; i++)
            if (pread(H.mem_fd, local[i].iov_base, local[i].iov_len,
                      (off_t)(uintptr_t)remote[i].iov_base) != (ssize_t)local[i].iov_len)
                return false;
    }
    return true;
}

bool sp_v8heap_readv(const uint64_t *addr, void *const *buf, const size_t *len, int n)
{
    struct iovec local[4], remote[4];
    if (n < 0 || n > 4) return false;
    for (int i = 0; i < n; i++) {
        local[i] = (struct iovec){buf[i], len[i]};
        remote[i] = (struct iovec){(void *)(uintptr_t)addr[i], len[i]};
    }
    return read_ranges(local, remote, (size_t)n);
}

bool sp_v8heap_read(uint64_t addr, void *buf, size_t len)
{
    return sp_v8heap_readv(&addr, &buf, &len, 1);
}

bool sp_v8heap_word(uint64_t tagged, int64_t off, uint64_t *w)
{
    return sp_v8heap_read(sp_v8heap_obj(tagged) + (uint64_t)off, w, 8);
}

/* The instance type a map says, or -1. Every object's type is still read from its own
 * map word at each decode; what is memoized is the map's answer: the few maps of the
 * types checked here (SharedFunctionInfo, BytecodeArray...) are shared by every object of
 * that type, so this saves a read per check. */
int sp_v8heap_map_type(uint64_t map)
{
    uint16_t t;
    if (!sp_v8heap_is_heap(map)) return -1;
    if (++H.memo_uses >= SP_V8_MAP_MEMO_USES) {
        memset(H.memo, 0, sizeof H.memo);
        H.memo_uses = 0;
    }
    size_t i = (map >> 3) % SP_V8_MAP_MEMO;
    if (H.memo[i].map == map) return H.memo[i].type;
    if (!sp_v8heap_read(sp_v8heap_obj(map) + (uint64_t)sp_v8heap_layout.map_instance_type, &t,
                        sizeof t))
        return -1;
    H.memo[i].map = map;
    H.memo[i].type = t;
    return t;
}

int sp_v8heap_type_of(uint64_t tagged)
{
    uint64_t map;
    if (!sp_v8heap_is_heap(tagged) || !sp_v8heap_word(tagged, sp_v8heap_layout.map, &map))
        return -1;
    return sp_v8heap_map_type(map);
}

bool sp_v8heap_read_iov(const struct iovec *local, const struct iovec *remote, size_t n)
{
    return n && read_ranges(local, remote, n);
}

bool sp_v8heap_fn_head(uint64_t fn, sp_v8heap_fn_head_t *h)
{
    return sp_v8heap_read(sp_v8heap_obj(fn), h->w, sp_v8heap_fn_head_len());
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
    int t = sp_v8heap_type_of(s);
    if (t < 0 || t >= sp_v8heap_layout.first_nonstring || depth > SP_V8HEAP_STRING_DEPTH)
        return false;
    int32_t len;
    if (!sp_v8heap_read(sp_v8heap_obj(s) + (uint64_t)sp_v8heap_layout.str_length, &len,
                        sizeof len) ||
        len < 0)
        return false;
    if (count < 0) count = len - from;
    if (from < 0 || from + count > len || count > SP_V8HEAP_STRING_MAX) return false;
    int64_t repr = t & sp_v8heap_layout.repr_mask;
    if (repr == sp_v8heap_layout.seq_tag) {
        if ((t & sp_v8heap_layout.enc_mask) == sp_v8heap_layout.one_byte_tag) {
            uint8_t tmp[SP_V8HEAP_STRING_MAX];
            if (count && !sp_v8heap_read(sp_v8heap_obj(s) + (uint64_t)sp_v8heap_layout.seq1_chars +
                                             (uint64_t)from,
                                         tmp, (size_t)count))
                return false;
            for (int64_t i = 0; i < count; i++)
                if (!put_utf8(b, tmp[i])) return false;
        } else {
            uint16_t tmp[SP_V8HEAP_STRING_MAX];
            if (count && !sp_v8heap_read(sp_v8heap_obj(s) + (uint64_t)sp_v8heap_layout.seq2_chars +
                                             2 * (uint64_t)from,
                                         tmp, 2 * (size_t)count))
                return false;
            for (int64_t i = 0; i < count; i++)
                if (!put_utf8(b, tmp[i])) return false;
        }
        return true;
    }
    uint64_t w;
    if (repr == sp_v8heap_layout.thin_tag)
        return sp_v8heap_word(s, sp_v8heap_layout.thin_actual, &w) &&
               read_string(w, from, count, b, depth + 1);
    if (repr == sp_v8heap_layout.sliced_tag && sp_v8heap_layout.sliced_parent >= 0) {
        uint64_t off;
        return sp_v8heap_word(s, sp_v8heap_layout.sliced_parent, &w) &&
               sp_v8heap_word(s, sp_v8heap_layout.sliced_offset, &off) && sp_v8heap_is_smi(off) &&
               read_string(w, from + sp_v8heap_smi(off), count, b, depth + 1);
    }
    if (repr == sp_v8heap_layout.cons_tag) {
        uint64_t second;
        int32_t flen;
        if (!sp_v8heap_word(s, sp_v8heap_layout.cons_first, &w) ||
            !sp_v8heap_word(s, sp_v8heap_layout.cons_second, &second) ||
            !sp_v8heap_read(sp_v8heap_obj(w) + (uint64_t)sp_v8heap_layout.str_length, &flen,
                            sizeof flen) ||
            flen < 0 || flen > len)
            return false;
        int64_t a = from < flen ? (from + count < flen ? count : flen - from) : 0;
        if (a && !read_string(w, from, a, b, depth + 1)) return false;
        if (count - a && !read_string(second, from + a - flen, count - a, b, depth + 1))
            return false;
        return true;
    }
    return false; /* external: the characters live behind a C++ object */
}

/* ---- byte arrays and Code objects (v8jit, v8baseline) ---- */

__attribute__((cold)) uint8_t *sp_v8heap_bytes_dup(uint64_t ba, uint32_t max, uint32_t *n)
{
    const sp_v8heap_layout_t *l = &sp_v8heap_layout;
    uint64_t len_w;
    int t = sp_v8heap_is_heap(ba) ? sp_v8heap_type_of(ba) : -1;
    if (t < 0 || (t != l->t_byte_array && t != l->t_trusted_byte_array) ||
        !sp_v8heap_word(ba, l->fa_length, &len_w) || !sp_v8heap_is_smi(len_w))
        return NULL;
    int64_t len = sp_v8heap_smi(len_w);
    if (len < 0 || len > max) return NULL;
    uint8_t *b = sp_mem_alloc(len ? (size_t)len : 1);
    if (b && len && !sp_v8heap_read(sp_v8heap_obj(ba) + (uint64_t)l->ba_data, b, (size_t)len)) {
        sp_mem_free(b);
        return NULL;
    }
    if (b) *n = (uint32_t)len;
    return b;
}

__attribute__((cold)) bool sp_v8heap_code_at(uint64_t start, uint64_t size, sp_v8heap_code_t *out)
{
    const sp_v8heap_layout_t *l = &sp_v8heap_layout;
    uint64_t code;
    if (!l->jit_on) return false;
    if (l->code_header >= 0) { /* V8 10: the instructions follow the Code's header */
        code = start - (uint64_t)l->code_header + (uint64_t)l->heap_tag;
    } else {
        uint64_t is = start - (uint64_t)l->is_header + (uint64_t)l->heap_tag;
        if (sp_v8heap_type_of(is) != l->t_istream || !sp_v8heap_word(is, l->is_code, &code) ||
            !sp_v8heap_is_heap(code))
            return false;
    }
    uint8_t head[160];
    int64_t top = l->code_isize;
    if (l->code_flags > top) top = l->code_flags;
    if (l->code_istart > top) top = l->code_istart;
    if (l->code_spt > top) top = l->code_spt;
    if (l->code_deopt > top) top = l->code_deopt;
    if (sp_v8heap_type_of(code) != l->t_code || top + 8 > (int64_t)sizeof head ||
        !sp_v8heap_read(sp_v8heap_obj(code), head, (size_t)top + 8))
        return false;
    uint64_t istart = 0;
    int32_t isize;
    uint32_t flags;
    if (l->code_istart >= 0) memcpy(&istart, head + l->code_istart, 8);
    memcpy(&isize, head + l->code_isize, 4);
    memcpy(&flags, head + l->code_flags, 4);
    memcpy(&out->deopt, head + l->code_deopt, 8);
    memcpy(&out->spt, head + l->code_spt, 8);
    if ((l->code_istart >= 0 && istart != start) || isize <= 0 || (uint64_t)isize > size)
        return false;
    out->code = code;
    out->isize = isize;
    out->kind = (int64_t)(flags >> l->kind_shift) & l->kind_mask;
    return true;
}

char *sp_v8heap_string_dup(uint64_t s)
{
    char tmp[SP_V8HEAP_STRING_MAX * 3 + 1];
    sbuf_t b = {tmp, 0, sizeof tmp};
    if (!read_string(s, 0, -1, &b, 0)) return NULL;
    tmp[b.len] = '\0';
    return sp_mem_strdup(tmp);
}

/* ---- layout ---- */

bool sp_v8heap_dlsym_get(const char *name, int64_t *value)
{
    if (strcmp(name, "sp_v8_major") == 0) {
        const char *(*version)(void) =
            (const char *(*)(void))dlsym(RTLD_DEFAULT, "_ZN2v82V810GetVersionEv");
        const char *v = version ? version() : NULL;
        if (!v || *v < '1' || *v > '9') return false;
        *value = strtol(v, NULL, 10);
        return true;
    }
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

/* Where optimized code keeps what the decoder needs. Builds export only part of it
 * (docs/V8-FRAMES.md); the rest follows from the fields around it, as measured on each
 * Node major (each fallback below names the builds it was checked on), and every object
 * read through it is type-checked, so a wrong guess loses frames' inlining, never names
 * them wrongly. */
__attribute__((cold)) static void jit_layout(bool (*get)(const char *, int64_t *), sp_v8heap_layout_t *l)
{
    int64_t major = 0, v;
    l->jit_on = false;
    for (int i = 0; i < 6; i++) l->t_arrays[i] = -1;
    if (!get("sp_v8_major", &major) || major < 10 || major > 14) return;
    if (!get("v8dbg_type_Code__CODE_TYPE", &l->t_code) ||
        !get("v8dbg_CodeKindFieldMask", &l->kind_mask) ||
        !get("v8dbg_CodeKindFieldShift", &l->kind_shift) ||
        !get("v8dbg_CodeKindBaseline", &l->kind_baseline))
        return;
    l->t_istream = -1;
    l->is_header = 0;
    l->is_code = 8; /* InstructionStream: map, code (V8 11.3-14.6: Node 20-26) */
    l->code_istart = -1;
    if (get("v8dbg_type_InstructionStream__INSTRUCTION_STREAM_TYPE", &l->t_istream)) {
        if (!get("v8dbg_class_InstructionStream__instruction_start__uintptr_t", &l->is_header))
            return;
        if (get("v8dbg_class_Code__instruction_start__Address", &l->code_istart)) {
            /* V8 >= 12 (Node 22-26): map, ..., deoptimization data, position table,
             * wrapper, instruction start (measured on 22, 24, 26). */
            if (!get("v8dbg_class_Code__instruction_size__int", &l->code_isize) ||
                !get("v8dbg_class_Code__flags__uint32_t", &l->code_flags))
                return;
            l->code_spt = l->code_istart - 24;
            l->code_deopt = l->code_spt - 8;
        } else if (get("v8dbg_class_Code__source_position_table__ByteArray", &l->code_spt) &&
                   get("v8dbg_class_Code__deoptimization_data__FixedArray", &l->code_deopt)) {
            /* V8 11.3 (Node 20): position table, bytecode offset table, instruction start,
             * flags, two 16-bit fields, instruction size (measured on 20). */
            l->code_istart = l->code_spt + 16;
            l->code_flags = l->code_istart + 8;
            l->code_isize = l->code_flags + 8;
        } else
            return;
        l->code_header = -1;
    } else {
        /* V8 10 (Node 18): the Code object holds its instructions after its header;
         * position table and deoptimization data sit before the instruction size
         * (measured on 18). */
        if (!get("v8dbg_class_Code__instruction_start__uintptr_t", &l->code_header) ||
            !get("v8dbg_class_Code__instruction_size__int", &l->code_isize) ||
            !get("v8dbg_class_Code__flags__uint32_t", &l->code_flags))
            return;
        l->code_spt = l->code_isize - 16;
        l->code_deopt = l->code_spt - 8;
    }
    /* DeoptimizationData indices (V8 10 exports none: Node 18's were measured). */
    if (!get("v8dbg_DeoptimizationDataInlinedFunctionCountIndex", &l->dd_count)) l->dd_count = 1;
    if (!get("v8dbg_DeoptimizationDataLiteralArrayIndex", &l->dd_literals)) l->dd_literals = 2;
    if (!get("v8dbg_DeoptimizationDataInliningPositionsIndex", &l->dd_inl_pos)) l->dd_inl_pos = 7;
    l->t_sfi_wrapper = -1;
    if (get("v8dbg_DeoptimizationDataWrappedSharedFunctionInfoIndex", &l->dd_sfi)) {
        if (!get("v8dbg_type_SharedFunctionInfoWrapper__SHARED_FUNCTION_INFO_WRAPPER_TYPE",
                 &l->t_sfi_wrapper) ||
            !get("v8dbg_class_SharedFunctionInfoWrapper__shared_info__Tagged_SharedFunctionInfo_",
                 &l->sfiw_shared))
            return;
    } else if (!get("v8dbg_DeoptimizationDataSharedFunctionInfoIndex", &l->dd_sfi))
        l->dd_sfi = 6;
    static const char *const arrays[6] = {
        "v8dbg_type_FixedArray__FIXED_ARRAY_TYPE",
        "v8dbg_type_WeakFixedArray__WEAK_FIXED_ARRAY_TYPE",
        "v8dbg_type_TrustedFixedArray__TRUSTED_FIXED_ARRAY_TYPE",
        "v8dbg_type_TrustedWeakFixedArray__TRUSTED_WEAK_FIXED_ARRAY_TYPE",
        "v8dbg_type_ProtectedFixedArray__PROTECTED_FIXED_ARRAY_TYPE",
        "v8dbg_type_ProtectedWeakFixedArray__PROTECTED_WEAK_FIXED_ARRAY_TYPE"};
    for (int i = 0; i < 6; i++)
        if (get(arrays[i], &v)) l->t_arrays[i] = v;
    int64_t offs[] = {l->code_isize, l->code_flags, l->code_spt, l->code_deopt, l->is_code};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++)
        if (offs[i] < 8 || offs[i] > 128) return;
    if (l->dd_count < 0 || l->dd_count > 32 || l->dd_literals < 0 || l->dd_literals > 32 ||
        l->dd_sfi < 0 || l->dd_sfi > 32 || l->dd_inl_pos < 0 || l->dd_inl_pos > 32 ||
        l->kind_mask <= 0 || l->kind_mask > 255 || l->kind_shift < 0 || l->kind_shift > 24)
        return;
    l->jit_on = true;
}

/* Once, at load (cold: built for size, as every once-per-object path of the decoder). */
__attribute__((cold)) bool sp_v8heap_init(bool (*get)(const char *name, int64_t *value),
                                          sp_v8heap_frame_slots_t *slots)
{
    sp_v8heap_layout_t l;
    memset(&l, 0, sizeof l);
    int64_t fp_fn, fp_bca, fp_off, fp_ctx, smi_shift, heap_tag, heap_mask;
    const char *missing = NULL;
#define NEED(dst, ...)                                                                             \
    do {                                                                                           \
        if (!missing && !get_any(get, ONE(__VA_ARGS__), &(dst))) missing = ONE(__VA_ARGS__)[0];    \
    } while (0)
    NEED(fp_fn, "v8dbg_off_fp_function");
    NEED(fp_bca, "v8dbg_off_fp_bytecode_array");
    NEED(fp_off, "v8dbg_off_fp_bytecode_offset");
    NEED(fp_ctx, "v8dbg_off_fp_context");
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
    /* Optional: JSFunction's types (v8heap.h). */
    l.t_fn_first = l.t_fn_last = -1;
    if (get("v8dbg_FirstJSFunctionType", &l.t_fn_first) &&
        get("v8dbg_LastJSFunctionType", &l.t_fn_last)) {
    } else if (get("v8dbg_type_JSFunction__JS_FUNCTION_TYPE", &l.t_fn_first)) {
        l.t_fn_last = l.t_fn_first + 16;
    } else {
        l.t_fn_first = l.t_fn_last = -1;
    }
    if (l.t_fn_first < 0 || l.t_fn_last < l.t_fn_first || l.t_fn_last > 0xffff)
        l.t_fn_first = l.t_fn_last = -1;
    /* Optional: the SFI's function data and the types a frame's may have (v8heap.h). */
    if (!get("v8dbg_class_SharedFunctionInfo__function_data__Object", &l.sfi_data))
        l.sfi_data = l.sfi_nosi >= 16 ? 8 : -1;
    if (l.sfi_data < 8 || l.sfi_data > 56 || (l.sfi_data & 7) ||
        !get("v8dbg_type_InterpreterData__INTERPRETER_DATA_TYPE", &l.t_interp_data))
        l.sfi_data = l.t_interp_data = -1;
    /* Optional: sliced strings are rare in names. */
    if (!get("v8dbg_SlicedStringTag", &l.sliced_tag) ||
        !get("v8dbg_class_SlicedString__parent__String", &l.sliced_parent) ||
        !get("v8dbg_class_SlicedString__offset__SMI", &l.sliced_offset))
        l.sliced_tag = -1, l.sliced_parent = -1;
    /* Optional: where the BytecodeArray keeps its source position table. No build exports
     * it (docs/V8-FRAMES.md), so it follows from the fields around it: V8 >= 12.4 (Node
     * 22+) lays BytecodeArray out in C++ as map, length, wrapper, source_position_table,
     * handler_table, constant_pool (the wrapper's constant exists only there); before,
     * BytecodeArray is a FixedArrayBase (map, length) followed by constant_pool,
     * handler_table, source_position_table. */
    int64_t wrapper, parent;
    l.bca_spt = l.bca_header = l.bca_length = l.ba_data = -1;
    l.t_byte_array = l.t_trusted_byte_array = -1;
    if (!get("v8dbg_type_Oddball__ODDBALL_TYPE", &l.t_oddball)) l.t_oddball = -1;
    if (get("v8dbg_class_BytecodeArray__data__uintptr_t", &l.bca_header) &&
        get("v8dbg_type_ByteArray__BYTE_ARRAY_TYPE", &l.t_byte_array)) {
        if (get("v8dbg_class_BytecodeArray__wrapper__Tagged_BytecodeWrapper_", &wrapper) &&
            get("v8dbg_class_BytecodeArray__length__SMI", &l.bca_length))
            l.bca_spt = wrapper + 8;
        else if (get("v8dbg_parent_BytecodeArray__FixedArrayBase", &parent))
            l.bca_length = l.fa_length, l.bca_spt = l.fa_length + 24;
        get("v8dbg_type_TrustedByteArray__TRUSTED_BYTE_ARRAY_TYPE", &l.t_trusted_byte_array);
        l.ba_data = l.fa_length + 8; /* ByteArray, TrustedByteArray: map, length, bytes */
        int64_t major;
        if (!get("sp_v8_major", &major) || major < 8) l.bca_spt = -1; /* the table's format */
        else l.spt_flags = major >= 14;
        if (l.bca_spt < 16 || l.bca_spt > 64 || (l.bca_spt & 7) || l.bca_length < 8 ||
            l.bca_length > 56 || (l.bca_length & 7) || l.bca_header < l.bca_spt + 8 ||
            l.bca_header > 128)
            l.bca_spt = -1;
    }
    jit_layout(get, &l);
    if (smi_shift != 31 || l.si_ncl < 0 || l.si_ncl > 4 || l.si_first_vars < 0 ||
        l.si_first_vars > 8 || l.map != 0 || l.fn_shared <= 0 || l.fn_shared & 7 ||
        l.fn_shared / 8 >= SP_V8HEAP_FN_HEAD_MAX || l.sfi_nosi < 0 || l.sfi_nosi > 56 ||
        l.sfi_script < 0 || l.sfi_script > 56 || (l.sfi_nosi | l.sfi_script) & 7 || fp_fn >= 0 ||
        fp_bca >= 0 || fp_off >= 0 || fp_fn < -128 || fp_bca < -128 || fp_off < -128 ||
        fp_ctx >= 0 || fp_ctx < -128) {
        SP_DEBUG("v8 frames: off (a V8 layout this decoder does not know: SmiShiftSize %lld)",
                 (long long)smi_shift);
        return false;
    }
    l.smi_shift = (int)smi_shift + 1;
    l.heap_tag = heap_tag;
    l.heap_tag_mask = heap_mask;
    sp_v8heap_layout = l;
    static bool atfork_set;
    if (!atfork_set) atfork_set = pthread_atfork(NULL, NULL, forget_pid) == 0;
    *slots = (sp_v8heap_frame_slots_t){fp_fn, fp_bca, fp_off, fp_ctx};
    return true;
}

uint64_t sp_v8heap_reads(void) { return H.reads; }

void sp_v8heap_reset(void)
{
    if (H.mem_fd >= 0) close(H.mem_fd);
    memset(&H, 0, sizeof H);
    H.mem_fd = -1;
    memset(&sp_v8heap_layout, 0, sizeof sp_v8heap_layout);
    self_pid = 0;
}
