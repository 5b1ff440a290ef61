/* v8heap: reading V8's heap from outside V8, without ever faulting. Owns the object layout
 * node exports (the v8dbg_* postmortem constants), the fault-proof reads (process_vm_readv
 * on our own pid, /proc/self/mem where that is refused), object types through their maps,
 * and strings. Agent thread only, except sp_v8heap_init (library load, before sampling).
 * v8decode builds on it to name interpreted frames. */
#ifndef SP_V8HEAP_H
#define SP_V8HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Offsets (bytes into an object, from its tagged address minus the tag), instance types and
 * string tags, as node's v8dbg_* constants give them. */
typedef struct {
    int64_t map, map_instance_type, fn_shared, sfi_nosi, sfi_script, script_name, script_line_ends;
    int64_t fa_length, fa_data, str_length, seq1_chars, seq2_chars, cons_first, cons_second,
        thin_actual, sliced_parent, sliced_offset;
    int64_t first_nonstring, repr_mask, enc_mask, seq_tag, cons_tag, thin_tag, sliced_tag,
        one_byte_tag;
    int64_t t_sfi, t_bytecode, t_scope_info, t_script, t_fixed_array;
    /* JSFunction's instance types, [t_fn_first, t_fn_last] (-1: not checked): V8 >= 12
     * exports the range; before, JS_FUNCTION_TYPE and the 16 subtypes after it (class
     * constructors and friends: 2065-2080 on Node 18). */
    int64_t t_fn_first, t_fn_last;
    /* The SFI's function data (-1: not checked): exported on 18/20 (8); on 22-26 the field
     * right after the map (22: function_data; 24, 26: trusted_function_data; measured).
     * For a frame it must be the frame's BytecodeArray, or code made from it (t_code:
     * Sparkplug's; t_interp_data: InterpreterData), never another BytecodeArray, the data
     * of a function never compiled (UncompiledData) or anything else: a JSFunction that
     * moved into the place where the sample's function was fails it. */
    int64_t sfi_data, t_interp_data;
    int64_t si_first_vars, si_ncl;
    /* Source positions of interpreted frames (-1 when this build's layout is not known:
     * frames then keep the function's definition line). bca_header: where the bytecodes
     * start (the frame's offset slot counts from the tagged pointer, header included);
     * bca_length: the bytecodes' length (Smi); bca_spt: the source position table (a
     * ByteArray, or a Smi/undefined until V8 collects positions); ba_data: a ByteArray's
     * bytes; t_byte_array, t_trusted_byte_array: the table's possible types (-1: none);
     * t_oddball: undefined's (-1: unknown). */
    int64_t bca_header, bca_length, bca_spt, ba_data, t_byte_array, t_trusted_byte_array,
        t_oddball;
    int spt_flags; /* the table's format: V8 >= 14 packs flags under the code offset (v8pos.h) */
    /* Optimized code (Maglev, TurboFan), found from its instructions' start (jit_on false
     * where this build's layout is not known: those frames keep the perf map's name).
     * is_header: InstructionStream's header (instructions follow it; 0: none, V8 < 11,
     * where the Code object itself holds the instructions after code_header); is_code: the
     * InstructionStream's pointer to its Code; code_*: the Code's instruction start
     * (-1: none), size (int32), flags (uint32, kind = flags >> kind_shift & kind_mask),
     * source position table and deoptimization data; dd_*: DeoptimizationData indices
     * (dd_sfi: a SharedFunctionInfo, or a SharedFunctionInfoWrapper whose shared_info is at
     * sfiw_shared when t_sfi_wrapper >= 0). t_*: object types accepted for each. */
    bool jit_on;
    int64_t t_code, t_istream, is_header, is_code, code_header;
    int64_t code_istart, code_isize, code_flags, code_spt, code_deopt;
    int64_t kind_mask, kind_shift, kind_baseline;
    int64_t dd_count, dd_literals, dd_sfi, dd_inl_pos, t_sfi_wrapper, sfiw_shared;
    int64_t t_arrays[6]; /* fixed arrays of any trust and weakness (-1: unused) */
    int64_t heap_tag, heap_tag_mask;
    int smi_shift; /* a Smi's value sits above this many low bits */
} sp_v8heap_layout_t;

/* Written once by sp_v8heap_init; read-only afterwards. */
extern sp_v8heap_layout_t sp_v8heap_layout;

/* The fp-relative slots of an interpreted frame (negative byte offsets). */
typedef struct {
    int64_t function, bytecode_array, bytecode_offset, context;
} sp_v8heap_frame_slots_t;

static inline bool sp_v8heap_is_heap(uint64_t w)
{
    return (w & (uint64_t)sp_v8heap_layout.heap_tag_mask) == (uint64_t)sp_v8heap_layout.heap_tag &&
           w > 4096;
}
static inline bool sp_v8heap_is_smi(uint64_t w)
{
    return (w & ((1ull << sp_v8heap_layout.smi_shift) - 1)) == 0;
}
static inline int64_t sp_v8heap_smi(uint64_t w) { return (int64_t)w >> sp_v8heap_layout.smi_shift; }
/* A map word that is not a tagged pointer is a forwarding address: the GC moved the object
 * there (the old copy's map word holds the new copy's untagged address until its page is
 * reused); the tagged pointer of the new copy, or 0 when w is neither. Not a Smi (low 32
 * bits zero: what reused memory often holds; no object starts at a 4 GiB boundary, where a
 * page's header is) and below 2^48 (user space). */
static inline uint64_t sp_v8heap_forwarded(uint64_t w)
{
    uint64_t t = w + (uint64_t)sp_v8heap_layout.heap_tag;
    return !(w & (uint64_t)sp_v8heap_layout.heap_tag_mask) && w > 4096 && (w & 0xffffffffu) &&
                   w < (1ull << 48) && sp_v8heap_is_heap(t)
               ? t
               : 0;
}
/* Whether instance type t is a JSFunction's (always, where the range is not known). */
static inline bool sp_v8heap_is_fn_type(int t)
{
    return sp_v8heap_layout.t_fn_first < 0 ||
           (t >= sp_v8heap_layout.t_fn_first && t <= sp_v8heap_layout.t_fn_last);
}

/* The untagged address of a tagged heap pointer. */
static inline uint64_t sp_v8heap_obj(uint64_t tagged)
{
    return tagged - (uint64_t)sp_v8heap_layout.heap_tag;
}

/* A JSFunction's head, its first words: the map word (at 0) and the SharedFunctionInfo
 * pointer, 24 (Node 18, 20) or 32 bytes (22-26) further. Read as one range, a range fewer
 * for the kernel to pin a page for; sp_v8heap_init refuses a layout where they are not
 * that close. */
#define SP_V8HEAP_FN_HEAD_MAX 8
typedef struct {
    uint64_t w[SP_V8HEAP_FN_HEAD_MAX];
} sp_v8heap_fn_head_t;
static inline size_t sp_v8heap_fn_head_len(void) { return (size_t)sp_v8heap_layout.fn_shared + 8; }
static inline uint64_t sp_v8heap_fn_head_map(const sp_v8heap_fn_head_t *h) { return h->w[0]; }
static inline uint64_t sp_v8heap_fn_head_sfi(const sp_v8heap_fn_head_t *h)
{
    return h->w[sp_v8heap_layout.fn_shared / 8];
}
/* Reads the head of the JSFunction fn (tagged). */
bool sp_v8heap_fn_head(uint64_t fn, sp_v8heap_fn_head_t *h);

/* Reads n (<= 4) ranges in one system call: all of them, or false. Never faults. */
bool sp_v8heap_readv(const uint64_t *addr, void *const *buf, const size_t *len, int n);
bool sp_v8heap_read(uint64_t addr, void *buf, size_t len);
/* Many ranges (at most SP_V8HEAP_IOV_MAX) in one system call: true when all were read;
 * false (nothing trusted) otherwise (callers then read one by one). */
#define SP_V8HEAP_IOV_MAX 512
bool sp_v8heap_read_iov(const struct iovec *local, const struct iovec *remote, size_t n);
/* The word at byte offset off of the tagged object. */
bool sp_v8heap_word(uint64_t tagged, int64_t off, uint64_t *w);

/* The instance type a map says, or -1 (memoized per map: see v8heap.c). */
int sp_v8heap_map_type(uint64_t map);
/* The instance type of a tagged heap object (its map's), or -1. */
int sp_v8heap_type_of(uint64_t tagged);
static inline bool sp_v8heap_is_string_type(int t)
{
    return t >= 0 && t < sp_v8heap_layout.first_nonstring;
}
/* A V8 string (sequential, cons, thin or sliced; not external) as UTF-8 in sp_mem memory,
 * or NULL (unreadable, not a string, longer than SP_V8HEAP_STRING_MAX characters). */
#define SP_V8HEAP_STRING_MAX 512
char *sp_v8heap_string_dup(uint64_t s);

/* A byte array's bytes (ByteArray or TrustedByteArray, at most max) in sp_mem memory, and
 * their count in *n; NULL when ba is not one, is longer, or does not read. */
uint8_t *sp_v8heap_bytes_dup(uint64_t ba, uint32_t max, uint32_t *n);

/* A Code object as read: its tagged address, the words of its deoptimization data (or, in
 * baseline code, interpreter data) and position table (baseline: the bytecode offset
 * table), its instruction size and its kind (CodeKind). */
typedef struct {
    uint64_t code, deopt, spt;
    int64_t isize, kind;
} sp_v8heap_code_t;

/* The Code object whose instructions start at start (size bytes, as the perf map places
 * them): through the InstructionStream before it (V8 >= 11) or the Code header (V8 10),
 * both type-checked; it must say the same instruction start and a size within size. */
bool sp_v8heap_code_at(uint64_t start, uint64_t size, sp_v8heap_code_t *out);

/* Reads the layout from get (name -> value; false when the constant does not exist) and
 * the interpreted frame's slots into *slots. false, with one debug line saying why, when a
 * constant is missing or the layout is one this reader does not know (pointer
 * compression). */
bool sp_v8heap_init(bool (*get)(const char *name, int64_t *value), sp_v8heap_frame_slots_t *slots);

/* The constants of the running executable (dlsym), for sp_v8heap_init; besides node's
 * v8dbg_* symbols, "sp_v8_major" is V8's major version (v8::V8::GetVersion). */
bool sp_v8heap_dlsym_get(const char *name, int64_t *value);

/* Heap reads so far (system calls). */
uint64_t sp_v8heap_reads(void);

/* Forgets the layout and closes /proc/self/mem (tests; library unload). */
void sp_v8heap_reset(void);

#endif
