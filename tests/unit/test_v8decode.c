/* v8decode: decoding hand-built V8 objects in the test's own memory, with a layout given
 * by name the way node exports it (v8dbg_*). No node needed. Checks that names, scripts and
 * definition lines come out right, and that a wrong type, a moved object or an unmapped
 * address names nothing and never crashes. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "../fuzz/v8consts.h" /* the layout, shared with the fuzz targets */
#include "frames.h"
#include "resolve.h"
#include "stats.h"
#include "symbolize.h"
#include "unit.h"
#include "v8baseline.h"
#include "v8decode.h"
#include "v8heap.h"
#include "v8owner.h"
#include "v8pos.h"
#include "clock.h"

static bool no_smi_shift;
static const char *override_name; /* a constant the test changes, to override_value */
static int64_t override_value;

static bool get(const char *name, int64_t *value)
{
    if (no_smi_shift && strcmp(name, "v8dbg_SmiShiftSize") == 0) return false;
    if (override_name && strcmp(name, override_name) == 0) {
        *value = override_value;
        return true;
    }
    return sp_fuzz_v8get(name, value);
}

/* A small arena of 8-byte-aligned objects; tagged pointers are address + 1. */
static uint64_t heap[4096];
static size_t top;
static uint64_t *alloc(size_t words)
{
    uint64_t *p = &heap[top];
    top += words;
    ck_assert_uint_le(top, sizeof heap / 8);
    return p;
}
static uint64_t tag(const void *p) { return (uint64_t)(uintptr_t)p + 1; }
static uint64_t smi(int64_t v) { return (uint64_t)v << 32; }

static uint64_t map_of(uint16_t type)
{
    uint64_t *m = alloc(4);
    memcpy((char *)m + 12, &type, 2);
    return tag(m);
}
static uint64_t str(const char *s)
{
    size_t n = strlen(s);
    uint64_t *o = alloc(2 + (n + 8) / 8);
    o[0] = map_of(8); /* one-byte sequential string */
    int32_t len = (int32_t)n;
    memcpy((char *)o + 12, &len, 4);
    memcpy((char *)o + 16, s, n);
    return tag(o);
}
static uint64_t cons(uint64_t a, uint64_t b, int32_t len)
{
    uint64_t *o = alloc(4);
    o[0] = map_of(8 | 1);
    memcpy((char *)o + 12, &len, 4);
    o[2] = a, o[3] = b;
    return tag(o);
}
static uint64_t script(const char *name, const int *ends, int n)
{
    uint64_t *s = alloc(8), *fa = alloc(2 + (size_t)n);
    fa[0] = map_of(175);
    fa[1] = smi(n);
    for (int i = 0; i < n; i++) fa[2 + i] = smi(ends[i]);
    s[0] = map_of(167);
    s[2] = str(name);
    s[7] = tag(fa);
    return tag(s);
}
/* A function: JSFunction -> SFI(name_or_scope_info = nosi, script), and a BytecodeArray. */
static uint64_t *sfi_obj, *bca_obj;
static void function(uint64_t nosi, uint64_t scr, uint64_t *fn, uint64_t *bca)
{
    uint64_t *f = alloc(4), *sfi = alloc(8), *b = alloc(8);
    sfi[0] = map_of(262);
    sfi[2] = nosi;
    sfi[4] = scr;
    sfi[1] = tag(b); /* the SFI's function data: its bytecode */
    f[0] = map_of(2066);
    f[3] = tag(sfi);
    b[0] = map_of(191);
    b[1] = smi(64); /* 64 bytes of bytecode; no source positions yet (Smi zero) */
    *fn = tag(f), *bca = tag(b);
    sfi_obj = sfi, bca_obj = b;
}
/* ScopeInfo (first_vars 5): flags, params, context locals, start, end, then per local a
 * name and an info, then the function name. */
static uint64_t scope_info(int ncl, int64_t start, int64_t end, uint64_t name)
{
    uint64_t *si = alloc(8 + 2 * (size_t)ncl);
    si[0] = map_of(261);
    si[1] = smi(0), si[2] = smi(0), si[3] = smi(ncl), si[4] = smi(start), si[5] = smi(end);
    for (int i = 0; i < ncl; i++) si[6 + i] = str("local"), si[6 + ncl + i] = smi(7);
    si[6 + 2 * ncl] = name;
    si[7 + 2 * ncl] = smi(3);
    return tag(si);
}

static void setup(void)
{
    top = 0;
    memset(heap, 0, sizeof heap);
    sp_v8owner_clear(); /* entries of an earlier test name addresses of this heap */
    sp_v8decode_reset();
    ck_assert(sp_v8decode_init_with(get));
}

START_TEST(test_name_string_and_script)
{
    setup();
    uint64_t fn, bca;
    function(str("handleRequest"), script("/app/server.js", (int[]){5}, 1), &fn, &bca);
    sp_v8fn_t v;
    ck_assert(sp_v8decode_frame(fn, bca, smi(12), &v));
    ck_assert_str_eq(v.function, "handleRequest");
    ck_assert_str_eq(v.script, "/app/server.js");
    ck_assert_int_eq(v.lineno, 0); /* no scope info: no start position */
}
END_TEST

START_TEST(test_scope_info_name_and_line)
{
    setup();
    int ends[] = {10, 20, 30};
    uint64_t fn, bca;
    function(scope_info(2, 25, 29, str("parse")), script("file:///app/m.mjs", ends, 3), &fn, &bca);
    sp_v8fn_t v;
    ck_assert(sp_v8decode_frame(fn, bca, smi(0), &v));
    ck_assert_str_eq(v.function, "parse");
    ck_assert_str_eq(v.script, "file:///app/m.mjs");
    ck_assert_int_eq(v.lineno, 3); /* position 25: after the line ending at 20 */
    ck_assert_int_eq(v.colno, 5);
}
END_TEST

/* From 75 context locals on, V8 keeps their names in one hash table: the function name
 * follows the table and the locals' infos (a module's function, a big closure). A count
 * that does not fit the slot's layout (a String where the table belongs, a table where
 * the names belong) names nothing. */
START_TEST(test_scope_info_names_in_a_hash_table)
{
    for (int ncl = 74; ncl <= 300; ncl += 226) {
        setup();
        bool inlined = ncl < 75;
        int names = inlined ? ncl : 1;
        uint64_t *si = alloc(8 + (size_t)(names + ncl));
        si[0] = map_of(261);
        si[1] = smi(0), si[2] = smi(0), si[3] = smi(ncl), si[4] = smi(3), si[5] = smi(9);
        uint64_t *table = alloc(2);
        table[0] = map_of(175); /* not a string */
        if (inlined)
            for (int i = 0; i < ncl; i++) si[6 + i] = str("local");
        else
            si[6] = tag(table);
        for (int i = 0; i < ncl; i++) si[6 + names + i] = smi(7);
        si[6 + names + ncl] = str("createTypeChecker");
        si[7 + names + ncl] = smi(3);
        uint64_t fn, bca;
        function(tag(si), script("/app/tsc.js", (int[]){9}, 1), &fn, &bca);
        sp_v8fn_t v;
        ck_assert_msg(sp_v8decode_frame(fn, bca, smi(0), &v), "%d context locals: expected a name, saw none", ncl);
        ck_assert_str_eq(v.function, "createTypeChecker");
        /* The other layout's first slot: unsure, nothing named. */
        si[6] = inlined ? tag(table) : str("local");
        sp_v8decode_reset();
        ck_assert(sp_v8decode_init_with(get));
        ck_assert_msg(!sp_v8decode_frame(fn, bca, smi(0), &v), "%d context locals, the other layout: expected no name, saw %s",
                      ncl, v.function);
    }
}
END_TEST

/* A script without a name (eval, new Function: undefined) names the function without a
 * file; a name the GC moved (no object at the address read) names nothing, never the
 * function without its file. */
START_TEST(test_script_name_undefined_or_moved)
{
    setup();
    uint64_t scr = script("/app/a.js", (int[]){9}, 1);
    uint64_t *so = (uint64_t *)(uintptr_t)(scr - 1);
    uint64_t *undef = alloc(2);
    undef[0] = map_of(131);
    so[2] = tag(undef);
    uint64_t fn, bca;
    function(str("evaled"), scr, &fn, &bca);
    sp_v8fn_t v;
    ck_assert(sp_v8decode_frame(fn, bca, smi(0), &v));
    ck_assert_str_eq(v.function, "evaled");
    ck_assert_msg(v.script == NULL, "expected no file, saw %s", v.script);
    uint64_t *moved = alloc(2);
    moved[0] = smi(77); /* what a moved object leaves behind: no map */
    so[2] = tag(moved);
    sp_v8decode_reset();
    ck_assert(sp_v8decode_init_with(get));
    ck_assert_msg(!sp_v8decode_frame(fn, bca, smi(0), &v), "a moved script name: expected no frame, saw %s in %s",
                  v.function, v.script ? v.script : "(no file)");
}
END_TEST

START_TEST(test_empty_name_takes_inferred_name)
{
    setup();
    uint64_t fn, bca;
    uint64_t si = scope_info(0, 0, 5, str(""));
    uint64_t *o = (uint64_t *)(uintptr_t)(si - 1);
    o[7] = smi(0), o[8] = str("obj.method"); /* slot index, then the inferred name */
    function(si, script("/a.js", (int[]){9}, 1), &fn, &bca);
    sp_v8fn_t v;
    ck_assert(sp_v8decode_frame(fn, bca, smi(0), &v));
    ck_assert_str_eq(v.function, "obj.method");
}
END_TEST

START_TEST(test_empty_name_without_inferred_name)
{
    setup();
    uint64_t fn, bca;
    uint64_t si = scope_info(1, 0, 5, str(""));
    uint64_t *o = (uint64_t *)(uintptr_t)(si - 1);
    uint64_t *undef = alloc(2);
    undef[0] = map_of(131); /* an oddball: the inferred name slot holds undefined */
    o[9] = smi(0), o[10] = tag(undef);
    function(si, script("/a.js", (int[]){9}, 1), &fn, &bca);
    sp_v8fn_t v;
    ck_assert(sp_v8decode_frame(fn, bca, smi(0), &v));
    ck_assert_str_eq(v.function, "");
    /* undefined where the name belongs: a function with no shared name (a method with a
     * computed key: node's event_target [kHybridDispatch]() on Node 18-24 keeps a Smi, a
     * Smi, then undefined there). V8 names it "" too. */
    o[8] = tag(undef);
    sp_v8decode_reset();
    ck_assert(sp_v8decode_init_with(get));
    ck_assert(sp_v8decode_frame(fn, bca, smi(0), &v));
    ck_assert_str_eq(v.function, "");
    /* Another object where the name belongs (here a ScopeInfo): unsure, nothing named. */
    o[8] = si;
    sp_v8decode_reset();
    ck_assert(sp_v8decode_init_with(get));
    ck_assert(!sp_v8decode_frame(fn, bca, smi(0), &v));
}
END_TEST

/* GC moves objects between the sample and its decode: the old copy's map word then holds
 * the new copy's untagged address. The decoder follows it (a JSFunction and a
 * BytecodeArray both moved); an object that is not a JSFunction where the slot points (its
 * memory reused) names nothing, even when its word at JSFunction::shared is an SFI. */
START_TEST(test_moved_and_reused_objects)
{
    setup();
    uint64_t fn, bca;
    function(str("moved"), script("/app/g.js", (int[]){9}, 1), &fn, &bca);
    uint64_t *newf = (uint64_t *)(uintptr_t)(fn - 1), *newb = bca_obj;
    uint64_t *oldf = alloc(4), *oldb = alloc(8);
    oldf[0] = (uint64_t)(uintptr_t)newf; /* forwarding: the new copy's untagged address */
    oldf[3] = 0;                         /* whatever the old copy still holds */
    oldb[0] = (uint64_t)(uintptr_t)newb;
    sp_v8fn_t v;
    ck_assert(sp_v8decode_frame(tag(oldf), tag(oldb), smi(0), &v));
    ck_assert_str_eq(v.function, "moved");
    sp_v8decode_stats_t st;
    sp_v8decode_get_stats(&st);
    ck_assert_uint_eq(st.forwarded, 1);
    /* A Smi where the map word was (reused memory) is no forwarding address, whatever
     * address its bits would make */
    ck_assert_uint_eq(sp_v8heap_forwarded(smi(0x1234)), 0);
    ck_assert_uint_eq(sp_v8heap_forwarded((uint64_t)(uintptr_t)newf), fn);
    ck_assert_uint_eq(sp_v8heap_forwarded(1ull << 48), 0);
    /* reused: a FixedArray whose third word is an SFI pointer */
    uint64_t *other = alloc(4);
    other[0] = map_of(175);
    other[3] = newf[3];
    ck_assert(!sp_v8decode_frame(tag(other), bca, smi(0), &v));
    /* a class constructor's type (within JSFunction's range) is a function */
    newf[0] = map_of(2070);
    ck_assert(sp_v8decode_frame(fn, bca, smi(0), &v));
    /* A JSFunction now where the sample's was, whose SFI's code is not the frame's: another
     * BytecodeArray, or UncompiledData (never run). Its Sparkplug code or InterpreterData
     * is the same function's. */
    uint64_t *sfi = (uint64_t *)(uintptr_t)(newf[3] - 1), *data = alloc(2);
    uint64_t keep = sfi[1];
    uint64_t other_bca, other_fn;
    function(str("other"), script("/app/o.js", (int[]){9}, 1), &other_fn, &other_bca);
    sfi[1] = other_bca;
    sp_v8decode_reset();
    ck_assert(sp_v8decode_init_with(get));
    ck_assert(!sp_v8decode_frame(fn, bca, smi(0), &v));
    data[0] = map_of(202); /* UncompiledDataWithoutPreparseData (Node 22) */
    sfi[1] = tag(data);
    ck_assert(!sp_v8decode_frame(fn, bca, smi(0), &v));
    sp_v8decode_get_stats(&st);
    ck_assert_uint_eq(st.data_mismatch, 2);
    data[0] = map_of(207); /* InterpreterData */
    ck_assert(sp_v8decode_frame(fn, bca, smi(0), &v));
    sfi[1] = keep;
    ck_assert(sp_v8decode_frame(fn, bca, smi(0), &v));
}
END_TEST

START_TEST(test_cons_string_name)
{
    setup();
    uint64_t fn, bca;
    function(cons(str("get "), str("value"), 9), script("/a.js", (int[]){9}, 1), &fn, &bca);
    sp_v8fn_t v;
    ck_assert(sp_v8decode_frame(fn, bca, smi(0), &v));
    ck_assert_str_eq(v.function, "get value");
}
END_TEST

START_TEST(test_wrong_types_name_nothing)
{
    setup();
    uint64_t fn, bca;
    sp_v8fn_t v;
    function(str("f"), script("/a.js", (int[]){9}, 1), &fn, &bca);
    ck_assert(!sp_v8decode_frame(fn, fn, smi(0), &v));   /* not a BytecodeArray */
    ck_assert(!sp_v8decode_frame(bca, bca, smi(0), &v)); /* not a JSFunction -> SFI */
    ck_assert(!sp_v8decode_frame(fn, bca, fn, &v));      /* offset not a Smi */
    sfi_obj[4] = str("not a script");
    ck_assert(!sp_v8decode_frame(fn, bca, smi(0), &v));
}
END_TEST

START_TEST(test_unmapped_memory_never_faults)
{
    setup();
    void *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(page, MAP_FAILED);
    uint64_t bad = tag(page);
    uint64_t fn, bca;
    function(str("f"), script("/a.js", (int[]){9}, 1), &fn, &bca);
    sp_v8fn_t v;
    ck_assert(!sp_v8decode_frame(bad, bca, smi(0), &v));
    ck_assert(!sp_v8decode_frame(fn, bad, smi(0), &v));
    sfi_obj[2] = bad; /* name pointer into a hole */
    ck_assert(!sp_v8decode_frame(fn, bca, smi(0), &v));
    munmap(page, 4096);
}
END_TEST

START_TEST(test_cache_sees_a_different_function_at_the_same_address)
{
    setup();
    uint64_t fn, bca;
    function(str("first"), script("/a.js", (int[]){9}, 1), &fn, &bca);
    sp_v8fn_t v;
    ck_assert(sp_v8decode_frame(fn, bca, smi(0), &v));
    ck_assert_str_eq(v.function, "first");
    sfi_obj[2] = str("second"); /* GC moved another function's SFI to this address */
    ck_assert(sp_v8decode_frame(fn, bca, smi(0), &v));
    ck_assert_str_eq(v.function, "second");
}
END_TEST

START_TEST(test_synthetic_addresses)
{
    setup();
    ck_assert_ptr_null(sp_v8decode_lookup(0x401000));
    ck_assert_ptr_null(sp_v8decode_lookup(SP_V8_SYNTH_BIT | 1)); /* nothing named yet */
}
END_TEST

/* A symbolizer reading a perf map of the given lines, in a new temporary folder (into dir:
 * the caller removes it). */
static sp_symbolizer_t *map_symbolizer(char *dir, size_t dir_len, const char *lines)
{
    char path[4200];
    snprintf(dir, dir_len, "%s", sp_unit_tmpdir());
    snprintf(path, sizeof path, "%s/perf-1.map", dir);
    FILE *f = fopen(path, "we");
    ck_assert_ptr_nonnull(f);
    fputs(lines, f);
    ck_assert_int_eq(fclose(f), 0);
    sp_symbolizer_t *sym = sp_symbolizer_new(path, NULL, 0);
    ck_assert_ptr_nonnull(sym);
    sp_symbolizer_refresh(sym);
    return sym;
}

/* The JS frame counters (resolve: sp_resolver_count): each frame of a sample counted by
 * where its name comes from, after the decoder's rewrite; V8's shared interpreter entry is
 * a nameless interpreted frame unless it is the leaf with its function named above it. */
START_TEST(test_js_frame_counters)
{
    setup();
    uint64_t fn, bca;
    function(str("decoded"), script("/a.js", (int[]){9}, 1), &fn, &bca);
    sp_v8fn_t v;
    ck_assert(sp_v8decode_frame(fn, bca, smi(0), &v)); /* frame 1 now */
    const uint64_t synth = SP_V8_SYNTH_BIT | 1, entry = 0x7000000, sp = 0x7001000,
                   mg = 0x7002000, tf = 0x7003000, pm = 0x7004000;
    char dir[4096], map[512];
    snprintf(map, sizeof map,
             "%llx 100 Builtin:InterpreterEntryTrampoline\n%llx 100 JS:^sp /a.js:1:1\n"
             "%llx 100 JS:+mg /a.js:2:1\n%llx 100 JS:*tf /a.js:3:1\n%llx 100 JS:~own /a.js:4:1\n",
             (unsigned long long)entry, (unsigned long long)sp, (unsigned long long)mg,
             (unsigned long long)tf, (unsigned long long)pm);
    sp_symbolizer_t *sym = map_symbolizer(dir, sizeof dir, map);
    sp_frames_t *ft = sp_frames_new();
    ck_assert_ptr_nonnull(ft);
    sp_resolver_t *r = sp_resolver_new(sym, ft);
    ck_assert_ptr_nonnull(r);
    const sp_stat_t which[] = {SP_STAT_JS_DECODED,   SP_STAT_JS_PM_SPARKPLUG, SP_STAT_JS_PM_MAGLEV,
                               SP_STAT_JS_PM_TURBOFAN, SP_STAT_JS_PM_OTHER,   SP_STAT_JS_UNNAMED,
                               SP_STAT_SAMPLES_UNNAMED};
    uint64_t before[7];
    for (int i = 0; i < 7; i++) before[i] = sp_stats_get(which[i]);

    static sp_sample_t s; /* a leaf entry with its function above: named; one further up: not */
    const uint64_t pcs[] = {entry + 8, synth, sp + 9, mg + 9, tf + 9, pm + 9, entry + 9, 0x1234};
    memcpy(s.pcs, pcs, sizeof pcs);
    s.nframes = 8;
    sp_resolver_count(r, &s, NULL);
    s.pcs[1] = 0x1234; /* a leaf entry without its function: nameless too */
    s.pcs[6] = synth;
    sp_resolver_count(r, &s, NULL);
    s.pcs[0] = 0x1234, s.pcs[1] = synth; /* nothing nameless */
    sp_resolver_count(r, &s, NULL);

    const uint64_t want[7] = {4, 3, 3, 3, 3, 2, 2};
    const char *names[7] = {"decoded", "Sparkplug", "Maglev", "TurboFan", "other", "unnamed", "samples unnamed"};
    for (int i = 0; i < 7; i++)
        ck_assert_msg(sp_stats_get(which[i]) - before[i] == want[i], "%s: expected %llu, saw %llu",
                      names[i], (unsigned long long)want[i],
                      (unsigned long long)(sp_stats_get(which[i]) - before[i]));
    sp_resolver_free(r);
    sp_frames_free(ft);
    sp_symbolizer_free(sym);
    sp_unit_rmtree(dir);
}
END_TEST

START_TEST(test_unknown_layout_stays_off)
{
    sp_v8decode_reset();
    no_smi_shift = true;
    ck_assert(!sp_v8decode_init_with(get));
    no_smi_shift = false;
    ck_assert(!sp_v8decode_enabled());
    sp_v8fn_t v;
    ck_assert(!sp_v8decode_frame(1, 1, 0, &v));
}
END_TEST

/* A JSFunction's map word and SFI pointer are read as one range from its start: a layout
 * where the map is not first, or the SFI pointer is further than that range, is refused
 * (the perf map names frames), never read past. */
START_TEST(test_far_function_head_stays_off)
{
    static const struct {
        const char *name;
        int64_t value;
    } bad[] = {{"v8dbg_class_JSFunction__shared__SharedFunctionInfo", 64},
               {"v8dbg_class_JSFunction__shared__SharedFunctionInfo", 28},
               {"v8dbg_class_JSFunction__shared__SharedFunctionInfo", 0},
               {"v8dbg_class_HeapObject__map__Map", 8}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sp_v8decode_reset();
        override_name = bad[i].name, override_value = bad[i].value;
        bool on = sp_v8decode_init_with(get);
        override_name = NULL;
        ck_assert_msg(!on && !sp_v8decode_enabled(),
                      "%s = %lld: expected the decoder off, saw it on", bad[i].name,
                      (long long)bad[i].value);
    }
    setup(); /* the real layout (SFI pointer 24 bytes in) still decodes */
    uint64_t fn, bca;
    function(str("handleRequest"), script("/app/server.js", (int[]){5}, 1), &fn, &bca);
    sp_v8fn_t v;
    ck_assert(sp_v8decode_frame(fn, bca, smi(12), &v));
    ck_assert_str_eq(v.function, "handleRequest");
}
END_TEST

/* ---- source positions (v8pos) on synthetic bytes ---- */

/* One VLQ number (7 bits a byte, low first, bit 7 = more) of u into p; returns bytes. */
static size_t put_u(uint8_t *p, uint64_t u)
{
    size_t n = 0;
    do {
        p[n] = (uint8_t)(u & 0x7f);
        u >>= 7;
        if (u) p[n] |= 0x80;
        n++;
    } while (u);
    return n;
}
static uint64_t zz(int64_t v) { return (uint64_t)v << 1 ^ (uint64_t)(v >> 63); }
/* A table of (code offset, script offset, statement?) entries, in V8's encoding of format f,
 * starting from code offset -1 and position 0 as V8 does. */
static size_t table(uint8_t *t, sp_v8pos_format_t f, const int64_t (*e)[3], size_t n)
{
    size_t len = 0;
    int64_t code = -1, pos = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t dc = e[i][0] - code, raw = (e[i][1] + 1) << 1, dp = raw - pos;
        if (f == SP_V8POS_FLAGS)
            len += put_u(t + len, (uint64_t)dc << 2 | (uint64_t)(e[i][2] != 0));
        else
            len += put_u(t + len, zz(e[i][2] ? dc : -dc - 1));
        len += put_u(t + len, zz(dp));
        code = e[i][0], pos = raw;
    }
    return len;
}

static const int64_t entries[][3] = {
    {-1, 100, 0}, {0, 120, 1}, {4, 700, 0}, {9, 130, 1}, {300, 70000, 1}, {301, 5, 0},
};

START_TEST(test_vlq_both_formats)
{
    for (int f = SP_V8POS_SIGNED; f <= SP_V8POS_FLAGS; f++) {
        uint8_t t[64];
        size_t n = table(t, (sp_v8pos_format_t)f, entries, 6);
        int64_t so;
        int inl;
        static const int64_t want[][2] = {{0, 120}, {3, 120}, {4, 700}, {8, 700}, {9, 130},
                                          {299, 130}, {300, 70000}, {400, 5}};
        for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
            ck_assert_msg(sp_v8pos_find(t, n, (sp_v8pos_format_t)f, 1000, want[i][0], &so, &inl),
                          "format %d: offset %lld: expected a position, saw none", f,
                          (long long)want[i][0]);
            ck_assert_msg(so == want[i][1] && inl == -1,
                          "format %d: offset %lld: expected script offset %lld, saw %lld (inl %d)",
                          f, (long long)want[i][0], (long long)want[i][1], (long long)so, inl);
        }
        /* the function entry (-1) answers for nothing below offset 0 */
        ck_assert(sp_v8pos_find(t, n, (sp_v8pos_format_t)f, 1000, -1, &so, &inl) && so == 100);
        /* a code offset at or past the code's length: not this table (or another format) */
        ck_assert(!sp_v8pos_find(t, n, (sp_v8pos_format_t)f, 301, 0, &so, &inl));
        /* cut short in the middle of a number */
        ck_assert(!sp_v8pos_find(t, n - 1, (sp_v8pos_format_t)f, 1000, 0, &so, &inl));
    }
}
END_TEST

START_TEST(test_vlq_garbage_and_inlining)
{
    uint8_t t[32];
    int64_t so;
    int inl;
    memset(t, 0xff, sizeof t); /* a number that never ends */
    ck_assert(!sp_v8pos_find(t, sizeof t, SP_V8POS_SIGNED, 1000, 0, &so, &inl));
    ck_assert(!sp_v8pos_find(t, 0, SP_V8POS_SIGNED, 1000, 0, &so, &inl)); /* empty */
    /* an inlined function's position: the id comes back (callers decide what to do) */
    size_t n = put_u(t, zz(0)); /* statement at -1 + 1 = 0 */
    n += put_u(t + n, zz((int64_t)(2ll << 31 | (42 + 1) << 1)));
    ck_assert(sp_v8pos_find(t, n, SP_V8POS_SIGNED, 10, 0, &so, &inl));
    ck_assert_int_eq(so, 42);
    ck_assert_int_eq(inl, 1);
    /* an external (wasm) position: not a script offset */
    n = put_u(t, zz(0));
    n += put_u(t + n, zz(7));
    ck_assert(!sp_v8pos_find(t, n, SP_V8POS_SIGNED, 10, 0, &so, &inl));
}
END_TEST

START_TEST(test_line_from_ends)
{
    static const int64_t ends[] = {9, 20, 20, 35}; /* "line 1\n", ..., an empty line 3 */
    int line, col;
    ck_assert(sp_v8pos_line(ends, 4, 0, &line, &col) && line == 1 && col == 1);
    ck_assert(sp_v8pos_line(ends, 4, 9, &line, &col) && line == 1 && col == 10);
    ck_assert(sp_v8pos_line(ends, 4, 10, &line, &col) && line == 2 && col == 1);
    ck_assert(sp_v8pos_line(ends, 4, 20, &line, &col) && line == 2 && col == 11);
    ck_assert(sp_v8pos_line(ends, 4, 21, &line, &col) && line == 4 && col == 1);
    ck_assert(sp_v8pos_line(ends, 4, 35, &line, &col) && line == 4 && col == 15);
    ck_assert(!sp_v8pos_line(ends, 4, 36, &line, &col)); /* past the source */
    ck_assert(!sp_v8pos_line(ends, 0, 0, &line, &col));
    /* ends that are no line ends (a heap that changed under the read): refused, never a
     * negative or overflowed column */
    static const int64_t bad[] = {-2147483648ll, 2147483647ll};
    ck_assert(!sp_v8pos_line(bad, 2, 6, &line, &col));
    static const int64_t neg[] = {-5, 3};
    ck_assert(!sp_v8pos_line(neg, 2, 2, &line, &col));
}
END_TEST

/* ---- the executing line through the heap ---- */

/* A ByteArray holding bytes (V8 >= 12.4: TrustedByteArray, type 212). */
static uint64_t byte_array(const uint8_t *b, size_t n)
{
    uint64_t *o = alloc(2 + (n + 7) / 8);
    o[0] = map_of(212);
    o[1] = smi((int64_t)n);
    memcpy(o + 2, b, n);
    return tag(o);
}
/* The frame slot V8 keeps for bytecode offset off: counted from the tagged pointer. */
static uint64_t slot(int64_t off) { return smi(off + 64 - 1); }

START_TEST(test_executing_line)
{
    setup();
    /* "function f() {\n  a();\n  b();\n}\n": line ends at 14, 21, 28, 30 */
    int ends[] = {14, 21, 28, 30};
    static const int64_t e[][3] = {{-1, 11, 0}, {0, 17, 1}, {6, 24, 1}, {12, 29, 1}};
    uint8_t t[64];
    size_t n = table(t, SP_V8POS_SIGNED, e, 4);
    uint64_t fn, bca;
    function(scope_info(0, 11, 30, str("f")), script("/app/l.js", ends, 4), &fn, &bca);
    sp_v8fn_t v;
    /* no table yet (V8 collects positions lazily): the definition line, as before (and
     * that offset is looked at again only after a few hundred more samples) */
    ck_assert(sp_v8decode_frame(fn, bca, slot(5), &v));
    ck_assert_int_eq(v.lineno, 1);
    ck_assert_int_eq(v.colno, 12);
    bca_obj[3] = byte_array(t, n);
    ck_assert(sp_v8decode_frame(fn, bca, slot(3), &v));
    ck_assert_msg(v.lineno == 2 && v.colno == 3, "offset 3: expected 2:3, saw %d:%d", v.lineno,
                  v.colno);
    ck_assert_str_eq(v.function, "f");
    ck_assert(sp_v8decode_frame(fn, bca, slot(7), &v));
    ck_assert_msg(v.lineno == 3 && v.colno == 3, "offset 7: expected 3:3, saw %d:%d", v.lineno,
                  v.colno);
    /* an offset past the bytecode: unsure of the line, the function stays named */
    ck_assert(sp_v8decode_frame(fn, bca, slot(64), &v));
    ck_assert_int_eq(v.lineno, 1);
    /* a table that is not a byte array: the definition line */
    bca_obj[3] = str("not a table");
    ck_assert(sp_v8decode_frame(fn, bca, slot(9), &v));
    ck_assert_int_eq(v.lineno, 1);
    sp_v8decode_stats_t st;
    sp_v8decode_get_stats(&st);
    ck_assert_msg(st.pos_unsure >= 2, "expected the unsure lines counted, saw %llu",
                  (unsigned long long)st.pos_unsure);
}
END_TEST

START_TEST(test_same_line_is_one_frame)
{
    setup();
    int ends[] = {14, 21, 28, 30};
    static const int64_t e[][3] = {{0, 17, 1}, {2, 19, 0}, {6, 24, 1}};
    uint8_t t[64];
    size_t n = table(t, SP_V8POS_SIGNED, e, 3);
    uint64_t fn, bca;
    function(str("g"), script("/app/l.js", ends, 4), &fn, &bca);
    bca_obj[3] = byte_array(t, n);
    sp_v8fn_t a, b;
    ck_assert(sp_v8decode_frame(fn, bca, slot(0), &a));
    ck_assert(sp_v8decode_frame(fn, bca, slot(1), &b));
    /* offsets 0 and 1 share a position: one frame, the same strings */
    ck_assert(a.lineno == b.lineno && a.colno == b.colno && a.function == b.function);
    ck_assert(sp_v8decode_frame(fn, bca, slot(2), &b));
    ck_assert(b.lineno == 2 && b.colno == 5 && b.function == a.function);
}
END_TEST

/* ---- optimized code: inlined functions ---- */

/* A position table of (code offset, script offset, inlining id) entries (V8 <= 13). */
static size_t table_inl(uint8_t *t, const int64_t (*e)[3], size_t n)
{
    size_t len = 0;
    int64_t code = -1, pos = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t raw = (e[i][1] + 1) << 1 | (e[i][2] + 1) << 31;
        len += put_u(t + len, zz(e[i][0] - code));
        len += put_u(t + len, zz(raw - pos));
        code = e[i][0], pos = raw;
    }
    return len;
}
static uint64_t sfi_of(uint64_t fn) { return ((uint64_t *)(uintptr_t)(fn - 1))[3]; }

/* Optimized code of the function whose SFI is outer, inlining the functions of the SFIs in
 * lits: InstructionStream -> Code -> position table t, DeoptimizationData (outer, the
 * inlined functions, InliningPositions inl: {SourcePosition, function index} each).
 * Returns the instruction start; *code_out, *dd_out: the Code and its data. */
static uint64_t opt_code(uint64_t outer, const uint64_t *lits, int nlits, const uint8_t *t,
                         size_t n, const int64_t (*inl)[3], int ninl, uint32_t kind,
                         uint64_t **code_out, uint64_t **dd_out)
{
    uint64_t *is = alloc(8), *code = alloc(8), *dd = alloc(10), *la = alloc(2 + (size_t)nlits);
    is[0] = map_of(151);
    is[1] = tag(code);
    uint64_t start = (uint64_t)(uintptr_t)&is[8]; /* never read: only pcs point there */
    la[0] = map_of(175);
    la[1] = smi(nlits);
    for (int i = 0; i < nlits; i++) la[2 + i] = lits[i] | 2; /* weak references */
    uint8_t ip[16 * 8] = {0};
    for (int i = 0; i < ninl; i++) {
        uint64_t pos = (uint64_t)(inl[i][0] + 1) << 1 | (uint64_t)(inl[i][1] + 1) << 31;
        int32_t f = (int32_t)inl[i][2];
        memcpy(ip + 16 * i, &pos, 8);
        memcpy(ip + 16 * i + 8, &f, 4);
    }
    dd[0] = map_of(175);
    dd[1] = smi(8);
    dd[2 + 1] = smi(nlits);
    dd[2 + 2] = tag(la);
    dd[2 + 6] = outer;
    dd[2 + 7] = byte_array(ip, 16 * (size_t)ninl);
    code[0] = map_of(150);
    code[1] = tag(dd);
    code[2] = byte_array(t, n);
    code[5] = start;
    int32_t isize = 200;
    memcpy((char *)code + 48, &isize, 4);
    memcpy((char *)code + 52, &kind, 4);
    *code_out = code;
    *dd_out = dd;
    return start;
}

/* "function a() {\n  b();\n  c();\n}\n..." a calls b on line 2 and c on line 3; b's body
 * is on line 6, c's on line 7. */
static const int ends7[] = {14, 21, 28, 30, 45, 60, 70};
static const int64_t a_table[][3] = {{0, 12, -1}, {10, 50, 0}, {20, 65, 1}, {30, 29, -1}};
static const int64_t a_inl[][3] = {{17, -1, 0}, {24, -1, 1}}; /* {call site, caller id, fn} */

static void expect_frames(const sp_v8fn_t *v, size_t n, const char *want)
{
    char seen[128] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(seen + strlen(seen), sizeof seen - strlen(seen), "%s%s:%d", i ? " " : "",
                 v[i].function, v[i].lineno);
    ck_assert_msg(strcmp(seen, want) == 0, "expected frames \"%s\", saw \"%s\"", want, seen);
}

/* After setup(): functions a, b and c of one script (ends7), and what a's optimized code
 * with b and c inlined is made of (opt_code): its position table (a_table) and literals. */
typedef struct {
    uint64_t fa, fb, fc;
    uint8_t t[64];
    size_t n;
    uint64_t lits[2];
} abc_t;

static void abc_setup(abc_t *x)
{
    setup();
    uint64_t scr = script("/app/i.js", ends7, 7), bca;
    function(str("a"), scr, &x->fa, &bca);
    function(str("b"), scr, &x->fb, &bca);
    function(str("c"), scr, &x->fc, &bca);
    x->n = table_inl(x->t, a_table, 4);
    x->lits[0] = sfi_of(x->fb);
    x->lits[1] = sfi_of(x->fc);
}

START_TEST(test_inlined_frames_at_their_call_sites)
{
    abc_t x;
    abc_setup(&x);
    uint64_t fa = x.fa, fb = x.fb, *code, *dd;
    uint64_t start = opt_code(sfi_of(fa), x.lits, 2, x.t, x.n, a_inl, 2, 13, &code, &dd);
    sp_v8fn_t v[8];
    /* the leaf in b's inlined body: b at its line, a at the call site's */
    size_t n = sp_v8decode_jit_frame(fa, start + 12, start, 256, v, 8);
    expect_frames(v, n, "b:6 a:2");
    n = sp_v8decode_jit_frame(fa, start + 22, start, 256, v, 8);
    expect_frames(v, n, "c:7 a:3");
    /* a pc at the first byte of c's region (an interrupted pc or a return address): the
     * instruction before it, b's, as V8's profiler looks it up */
    n = sp_v8decode_jit_frame(fa, start + 20, start, 256, v, 8);
    expect_frames(v, n, "b:6 a:2");
    n = sp_v8decode_jit_frame(fa, start + 21, start, 256, v, 8);
    expect_frames(v, n, "c:7 a:3");
    /* the code's first byte has nothing before it: its own entry */
    n = sp_v8decode_jit_frame(fa, start, start, 256, v, 8);
    expect_frames(v, n, "a:1");
    n = sp_v8decode_jit_frame(fa, start + 35, start, 256, v, 8);
    expect_frames(v, n, "a:4");
    ck_assert_str_eq(v[0].script, "/app/i.js");
    /* the frame's function is not the code's (a frame not built yet): the perf map's */
    ck_assert_uint_eq(sp_v8decode_jit_frame(fb, start + 12, start, 256, v, 8), 0);
    /* a pc outside the code, past its instructions */
    ck_assert_uint_eq(sp_v8decode_jit_frame(fa, start + 300, start, 256, v, 8), 0);
    ck_assert_uint_eq(sp_v8decode_jit_frame(fa, start - 1, start, 256, v, 8), 0);
    /* too little room for the frames */
    ck_assert_uint_eq(sp_v8decode_jit_frame(fa, start + 12, start, 256, v, 1), 0);
    sp_v8decode_stats_t st;
    sp_v8decode_get_stats(&st);
    ck_assert_msg(st.code_loads == 1 && st.chain_hits >= 1,
                  "expected the code read once and decoded frames cached, saw %llu loads, %llu hits",
                  (unsigned long long)st.code_loads, (unsigned long long)st.chain_hits);
}
END_TEST

/* ---- Sparkplug frames: pc -> bytecode offset (v8baseline) ---- */

/* Eight opcodes: 0-3 the prefixes (Wide, ExtraWide and their debug-break forms), 4 of one
 * byte, 5 and 7 with one operand, 6 with two; each row a scale (single, double, quadruple). */
static const uint8_t bl_sizes[3 * 8] = {1, 1, 1, 1, 1, 2, 3, 2, 1, 1, 1, 1,
                                        1, 3, 5, 3, 1, 1, 1, 1, 1, 5, 9, 5};
/* Bytecodes at offsets 0 (op 5), 2 (op 6), 5 (Wide, op 5 with a 2-byte operand), 9 (op 4). */
static const uint8_t bl_code[10] = {5, 1, 6, 1, 2, 0, 5, 1, 0, 4};
/* The code: a prologue to pc offset 10, then the bytecodes' code ends at 17, 22, 31, 34. */
static const uint32_t bl_deltas[5] = {10, 7, 5, 9, 3};

/* A BytecodeArray of n bytes (data at +64, as the layout says), its position table t. */
static uint64_t bl_bca(const uint8_t *b, size_t n, const uint8_t *t, size_t tn)
{
    uint64_t *o = alloc(8 + (n + 7) / 8);
    o[0] = map_of(191);
    o[1] = smi((int64_t)n);
    if (t) o[3] = byte_array(t, tn);
    memcpy(o + 8, b, n);
    return tag(o);
}
static uint64_t bl_start_code(uint64_t fn, const uint32_t *deltas, size_t nd, uint32_t kind,
                              uint64_t **code)
{
    uint8_t t[32];
    size_t n = 0;
    for (size_t i = 0; i < nd; i++) n += put_u(t + n, deltas[i]);
    uint64_t *dd;
    return opt_code(sfi_of(fn), NULL, 0, t, n, NULL, 0, kind, code, &dd);
}
static uint64_t bl_start(uint64_t fn, const uint32_t *deltas, size_t nd, uint32_t kind)
{
    uint64_t *code;
    return bl_start_code(fn, deltas, nd, kind, &code);
}

/* The decoder with bl_sizes, a function f, its BytecodeArray of bl_code and its Sparkplug
 * code of bl_deltas; returns the code's start. */
static uint64_t bl_fixture(uint64_t *fn, uint64_t *bca)
{
    setup();
    ck_assert(sp_v8baseline_set_sizes(bl_sizes, 8));
    uint64_t unused;
    function(str("f"), script("/app/b.js", (int[]){9}, 1), fn, &unused);
    *bca = bl_bca(bl_code, sizeof bl_code, NULL, 0);
    return bl_start(*fn, bl_deltas, 5, 11);
}

START_TEST(test_baseline_sizes_checked)
{
    setup();
    ck_assert(sp_v8baseline_set_sizes(bl_sizes, 8));
    uint8_t bad[3 * 8];
    memcpy(bad, bl_sizes, sizeof bad);
    bad[2] = 2; /* a prefix of two bytes */
    ck_assert(!sp_v8baseline_set_sizes(bad, 8));
    memcpy(bad, bl_sizes, sizeof bad);
    bad[8 + 6] = 2; /* shrinks with the scale */
    ck_assert(!sp_v8baseline_set_sizes(bad, 8));
    memcpy(bad, bl_sizes, sizeof bad);
    bad[5] = 0;
    ck_assert(!sp_v8baseline_set_sizes(bad, 8));
    ck_assert(!sp_v8baseline_set_sizes(bl_sizes, 3));
}
END_TEST

START_TEST(test_baseline_offsets)
{
    uint64_t fn, bca, start = bl_fixture(&fn, &bca);
    static const struct {
        uint64_t off;
        bool ret;
        int64_t want;
    } at[] = {
        {0, false, SP_V8BASELINE_ENTRY},
        {9, false, SP_V8BASELINE_ENTRY},
        {10, true, SP_V8BASELINE_ENTRY}, /* a call that ends the prologue */
        {10, false, 0},
        {16, false, 0},
        {17, true, 0},
        {17, false, 2},
        {22, true, 2},
        {22, false, 5}, /* the Wide prefix's offset, as V8's iterator reports it */
        {31, true, 5},
        {33, false, 9},
        {34, true, 9},
        {34, false, SP_V8BASELINE_UNSURE}, /* past the last bytecode's code */
    };
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        int64_t got = sp_v8baseline_offset(bca, start + at[i].off, at[i].ret, start, 256, NULL);
        ck_assert_msg(got == at[i].want, "pc offset %llu (%s): expected bytecode %lld, saw %lld",
                      (unsigned long long)at[i].off, at[i].ret ? "return address" : "leaf",
                      (long long)at[i].want, (long long)got);
    }
    uint64_t loads, hits;
    sp_v8baseline_counts(&loads, &hits);
    ck_assert_msg(loads == 1, "expected the code walked once, saw %llu walks",
                  (unsigned long long)loads);
}
END_TEST

/* The code's word read ahead with the sample (sp_v8baseline_plan) is what the check uses:
 * the same answer and no new walk when it matches, a new walk when it does not; a word
 * planned for another Code object, or not read, is not used (read now). */
START_TEST(test_baseline_word_read_ahead)
{
    uint64_t fn, bca, start = bl_fixture(&fn, &bca), loads, hits;
    sp_v8baseline_pre_t pre;
    ck_assert(!sp_v8baseline_plan(bca, start, 256, &pre)); /* not walked yet */
    ck_assert_int_eq(pre.code, 0);
    ck_assert_int_eq(sp_v8baseline_offset(bca, start + 17, false, start, 256, NULL), 2);
    ck_assert(sp_v8baseline_plan(bca, start, 256, &pre));
    ck_assert(!sp_v8baseline_plan(bca + 8, start, 256, &pre)); /* another array */
    ck_assert(sp_v8baseline_plan(bca, start, 256, &pre));
    memcpy(&pre.spt, (const void *)(uintptr_t)pre.at, sizeof pre.spt); /* the caller's read */
    pre.read = true;
    ck_assert_int_eq(sp_v8baseline_offset(bca, start + 22, false, start, 256, &pre), 5);
    sp_v8baseline_counts(&loads, &hits);
    ck_assert_msg(loads == 1, "a matching word read ahead: expected no new walk, saw %llu walks",
                  (unsigned long long)loads);
    sp_v8baseline_pre_t stale = pre;
    stale.spt ^= 8; /* another table there when read */
    ck_assert_int_eq(sp_v8baseline_offset(bca, start + 22, false, start, 256, &stale), 5);
    sp_v8baseline_counts(&loads, &hits);
    ck_assert_msg(loads == 2,
                  "a word read ahead that differs: expected the code walked again, saw %llu walks",
                  (unsigned long long)loads);
    sp_v8baseline_pre_t other = stale;
    other.code = pre.code + 64; /* planned for another Code object: ignored */
    ck_assert_int_eq(sp_v8baseline_offset(bca, start + 22, false, start, 256, &other), 5);
    other = stale, other.read = false; /* not read: ignored */
    ck_assert_int_eq(sp_v8baseline_offset(bca, start + 22, false, start, 256, &other), 5);
    sp_v8baseline_counts(&loads, &hits);
    ck_assert_msg(loads == 2, "words not to use: expected them ignored (no walk), saw %llu walks",
                  (unsigned long long)loads);
}
END_TEST

/* Whatever does not walk in step names no bytecode: another function's bytecodes, a table
 * with an entry too many or too few, optimized code, no sizes. */
START_TEST(test_baseline_not_in_step)
{
    uint64_t fn, bca, start = bl_fixture(&fn, &bca);
    static const uint8_t other[10] = {5, 1, 5, 1, 5, 1, 5, 1, 4, 4}; /* six bytecodes */
    uint64_t bca2 = bl_bca(other, sizeof other, NULL, 0);
    ck_assert_int_eq(sp_v8baseline_offset(bca2, start + 20, false, start, 256, NULL),
                     SP_V8BASELINE_UNSURE);
    static const uint32_t more[6] = {10, 7, 5, 9, 3, 4}, fewer[4] = {10, 7, 5, 9};
    ck_assert_int_eq(sp_v8baseline_offset(bca, bl_start(fn, more, 6, 11) + 20, false, 0, 0, NULL),
                     SP_V8BASELINE_UNSURE); /* pc outside [start, start + size) */
    uint64_t s2 = bl_start(fn, more, 6, 11), s3 = bl_start(fn, fewer, 4, 11);
    ck_assert_int_eq(sp_v8baseline_offset(bca, s2 + 20, false, s2, 256, NULL),
                     SP_V8BASELINE_UNSURE);
    ck_assert_int_eq(sp_v8baseline_offset(bca, s3 + 20, false, s3, 256, NULL),
                     SP_V8BASELINE_UNSURE);
    uint64_t s4 = bl_start(fn, bl_deltas, 5, 13); /* TurboFan's kind */
    ck_assert_int_eq(sp_v8baseline_offset(bca, s4 + 20, false, s4, 256, NULL),
                     SP_V8BASELINE_UNSURE);
    static const uint8_t cut[9] = {5, 1, 6, 1, 2, 0, 5, 1, 0}; /* the Wide operand cut off */
    uint64_t bca3 = bl_bca(cut, sizeof cut, NULL, 0);
    ck_assert_int_eq(sp_v8baseline_offset(bca3, start + 20, false, start, 256, NULL),
                     SP_V8BASELINE_UNSURE);
    ck_assert_int_eq(sp_v8baseline_offset(fn, start + 20, false, start, 256, NULL),
                     SP_V8BASELINE_UNSURE);
    sp_v8baseline_reset(); /* no sizes */
    ck_assert_int_eq(sp_v8baseline_offset(bca, start + 20, false, start, 256, NULL),
                     SP_V8BASELINE_UNSURE);
}
END_TEST

/* The decoder with bl_sizes and "function f() {\n  a();\n  b();\n}\n" in /app/l.js:
 * bytecodes 0-4 on line 2, 5 on line 3 (the BytecodeArray's position table says so), and
 * its Sparkplug code of bl_deltas (*code: its Code object); returns the code's start. */
static uint64_t bl_lines_fixture(uint64_t *fn, uint64_t *bca, uint64_t **code)
{
    setup();
    ck_assert(sp_v8baseline_set_sizes(bl_sizes, 8));
    int ends[] = {14, 21, 28, 30};
    static const int64_t e[][3] = {{-1, 11, 0}, {0, 17, 1}, {5, 24, 1}, {9, 29, 1}};
    uint8_t t[64];
    size_t n = table(t, SP_V8POS_SIGNED, e, 4);
    uint64_t unused;
    function(scope_info(0, 11, 30, str("f")), script("/app/l.js", ends, 4), fn, &unused);
    *bca = bl_bca(bl_code, sizeof bl_code, t, n);
    return bl_start_code(*fn, bl_deltas, 5, 11, code);
}

/* Through the decoder: the function at the line of the bytecode its pc runs, at its
 * definition in the prologue or when the code does not check out. */
START_TEST(test_baseline_frame_lines)
{
    uint64_t fn, bca, *code;
    uint64_t start = bl_lines_fixture(&fn, &bca, &code);
    sfi_obj[1] = bca; /* its function data */
    sp_v8fn_t v;
    ck_assert(sp_v8decode_baseline_frame(fn, bca, start + 17, true, start, 256, &v));
    ck_assert_msg(v.lineno == 2 && v.colno == 3, "bytecode 0: expected 2:3, saw %d:%d", v.lineno,
                  v.colno);
    ck_assert_str_eq(v.function, "f");
    ck_assert(sp_v8decode_baseline_frame(fn, bca, start + 31, true, start, 256, &v));
    ck_assert_msg(v.lineno == 3 && v.colno == 3, "bytecode 5: expected 3:3, saw %d:%d", v.lineno,
                  v.colno);
    ck_assert(sp_v8decode_baseline_frame(fn, bca, start + 3, false, start, 256, &v));
    ck_assert_msg(v.lineno == 1, "prologue: expected the definition line 1, saw %d", v.lineno);
    ck_assert(sp_v8decode_baseline_frame(fn, bca, start + 50, false, start, 256, &v));
    ck_assert_msg(v.lineno == 1, "past the bytecodes: expected the definition line 1, saw %d",
                  v.lineno);
    ck_assert(!sp_v8decode_baseline_frame(fn, fn, start + 17, true, start, 256,
                                          &v)); /* no BytecodeArray */
}
END_TEST

/* A Sparkplug frame through the sample rewrite, as the agent decodes it: named at the
 * line its bytecode runs, the first time (its code walked) and again (the code's word read
 * with the sample's other words). An SFI whose function data is the frame's own baseline
 * Code object (as V8 keeps it) fits without reading that object's type: the second
 * sample's reads are one system call. */
START_TEST(test_baseline_frame_in_a_sample)
{
    uint64_t fn, bca, *code;
    uint64_t start = bl_lines_fixture(&fn, &bca, &code);
    sfi_obj[1] = tag(code); /* its function data: the baseline code */
    char dir[4096], map[64];
    snprintf(map, sizeof map, "%llx 100 JS:^f /app/l.js:1:1\n", (unsigned long long)start);
    sp_symbolizer_t *sym = map_symbolizer(dir, sizeof dir, map);
    uint64_t *feedback = alloc(2);
    feedback[0] = map_of(200);
    for (int round = 0; round < 2; round++) {
        static sp_sample_t s;
        memset(&s, 0, sizeof s);
        /* Another thread each round: the same frame again on one thread takes no read at
         * all (test_frames_as_in_the_last_sample). */
        s.pcs[0] = 0x1234, s.pcs[1] = start + 17, s.nframes = 2, s.ts_ns = 1, s.tid = 1 + round;
        s.nv8 = 1;
        s.v8[0] = (sp_v8_slots_t){
            .frame = 1, .function = fn, .bytecode_array = bca, .bytecode_offset = tag(feedback)};
        uint64_t reads = sp_v8heap_reads();
        sp_v8decode_rewrite(&s, sym);
        const sp_v8fn_t *v = sp_v8decode_lookup(s.pcs[1]);
        ck_assert_msg(v && strcmp(v->function, "f") == 0 && v->lineno == 2,
                      "round %d: expected f at line 2, saw %s at %d", round,
                      v ? v->function : "nothing", v ? v->lineno : 0);
        if (round == 1)
            ck_assert_msg(
                sp_v8heap_reads() - reads == 1,
                "a Sparkplug frame seen before: expected its reads in one system call, saw %llu",
                (unsigned long long)(sp_v8heap_reads() - reads));
    }
    sp_symbolizer_free(sym);
    sp_unit_rmtree(dir);
}
END_TEST

/* One sample through the rewrite: leaf pcs[0], then frame 1 at pc1 with the slots given;
 * the heap reads it took. */
static uint64_t rewrite_one(sp_symbolizer_t *sym, sp_sample_t *s, uint32_t tid, uint64_t ts,
                            uint64_t pc1, uint64_t fn, uint64_t bca, uint64_t off)
{
    memset(s, 0, sizeof *s);
    s->pcs[0] = 0x1234, s->pcs[1] = pc1, s->pcs[2] = 0x5678, s->nframes = 3;
    s->ts_ns = ts, s->tid = tid;
    s->nv8 = 1;
    s->v8[0] =
        (sp_v8_slots_t){.frame = 1, .function = fn, .bytecode_array = bca, .bytecode_offset = off};
    uint64_t reads = sp_v8heap_reads();
    sp_v8decode_rewrite(s, sym);
    return sp_v8heap_reads() - reads;
}

/* A frame still on a thread's stack since its last sample (the same return address, slots
 * and code) decodes as it did, with no read: a sample's deeper frames mostly are. Decoded
 * again: at another pc, with another slot, on another thread, more than a second later,
 * or as the leaf. */
START_TEST(test_frames_as_in_the_last_sample)
{
    uint64_t fn, bca, *code;
    uint64_t start = bl_lines_fixture(&fn, &bca, &code);
    sfi_obj[1] = tag(code);
    char dir[4096], map[64];
    snprintf(map, sizeof map, "%llx 100 JS:^f /app/l.js:1:1\n", (unsigned long long)start);
    sp_symbolizer_t *sym = map_symbolizer(dir, sizeof dir, map);
    uint64_t *feedback = alloc(2), *feedback2 = alloc(2);
    feedback[0] = feedback2[0] = map_of(200);
    static sp_sample_t s;
    const struct {
        uint32_t tid;
        uint64_t ts, pc, off;
        bool leaf, reused;
        int line;
    } steps[] = {
        {7, 1, 17, tag(feedback), false, false, 2},                  /* first seen */
        {7, 2, 17, tag(feedback), false, true, 2},                   /* the same frame */
        {7, 3, 17, tag(feedback), false, true, 2},                   /* and again */
        {7, 4, 31, tag(feedback), false, false, 3},                  /* another pc */
        {7, 5, 31, tag(feedback2), false, false, 3},                 /* another slot */
        {8, 6, 31, tag(feedback2), false, false, 3},                 /* another thread */
        {8, 6 + 2000000000ull, 31, tag(feedback2), false, false, 3}, /* 2 s later */
        /* the leaf (its pc not a return address: the next bytecode's line) */
        {8, 6 + 2000000001ull, 31, tag(feedback2), true, false, 4},
        {8, 6 + 2000000002ull, 31, tag(feedback2), true, false, 4}, /* ... never kept */
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        sp_v8decode_stats_t before, after;
        sp_v8decode_get_stats(&before);
        uint64_t reads;
        unsigned at = 1;
        if (steps[i].leaf) { /* the frame as the leaf: pcs[0], not a return address */
            memset(&s, 0, sizeof s);
            s.pcs[0] = start + steps[i].pc, s.pcs[1] = 0x5678, s.nframes = 2;
            s.ts_ns = steps[i].ts, s.tid = steps[i].tid, s.nv8 = 1;
            s.v8[0] = (sp_v8_slots_t){
                .frame = 0, .function = fn, .bytecode_array = bca, .bytecode_offset = steps[i].off};
            uint64_t r0 = sp_v8heap_reads();
            sp_v8decode_rewrite(&s, sym);
            reads = sp_v8heap_reads() - r0;
            at = 0;
        } else {
            reads = rewrite_one(sym, &s, steps[i].tid, steps[i].ts, start + steps[i].pc, fn, bca,
                                steps[i].off);
        }
        sp_v8decode_get_stats(&after);
        const sp_v8fn_t *v = sp_v8decode_lookup(s.pcs[at]);
        ck_assert_msg(v && strcmp(v->function, "f") == 0 && v->lineno == steps[i].line,
                      "step %zu: expected f at line %d, saw %s at %d", i, steps[i].line,
                      v ? v->function : "nothing", v ? v->lineno : 0);
        bool reused = after.reused > before.reused;
        ck_assert_msg(reused == steps[i].reused && (reads == 0) == steps[i].reused,
                      "step %zu: expected %s, saw %llu reads (%s)", i,
                      steps[i].reused ? "the last sample's frame, no read" : "a decode with reads",
                      (unsigned long long)reads, reused ? "reused" : "decoded");
        ck_assert_uint_eq(after.jit_resolved[0] - before.jit_resolved[0], 1); /* counted alike */
    }
    sp_symbolizer_free(sym);
    sp_unit_rmtree(dir);
}
END_TEST

/* An optimized frame: the words below its function are spill slots, which change while it
 * runs; the same pc, function and code decode as before (inlined frames included). Another
 * function in its slot is decoded again (and refused: the code is a's). */
START_TEST(test_optimized_frame_as_in_the_last_sample)
{
    abc_t x;
    abc_setup(&x);
    uint64_t *code, *dd;
    uint64_t start = opt_code(sfi_of(x.fa), x.lits, 2, x.t, x.n, a_inl, 2, 13, &code, &dd);
    char dir[4096], map[64];
    snprintf(map, sizeof map, "%llx 100 JS:*a /app/i.js:1:1\n", (unsigned long long)start);
    sp_symbolizer_t *sym = map_symbolizer(dir, sizeof dir, map);
    static sp_sample_t s;
    for (int round = 0; round < 3; round++) {
        sp_v8decode_stats_t before, after;
        sp_v8decode_get_stats(&before);
        uint64_t fn = round == 2 ? x.fb : x.fa;
        uint64_t reads =
            rewrite_one(sym, &s, 9, 1 + (uint64_t)round, start + 12, fn,
                        0x1111 * (uint64_t)(round + 1), 0x2222 * (uint64_t)(round + 3));
        sp_v8decode_get_stats(&after);
        if (round == 2) {
            ck_assert_msg(reads > 0 && after.reused == before.reused,
                          "another function in the slot: expected a decode with reads, saw %llu",
                          (unsigned long long)reads);
            ck_assert_uint_eq(s.pcs[1], start + 12); /* left to the perf map */
            continue;
        }
        sp_v8fn_t v[2] = {*sp_v8decode_lookup(s.pcs[1]), *sp_v8decode_lookup(s.pcs[2])};
        expect_frames(v, 2, "b:6 a:2");
        ck_assert_uint_eq(s.pcs[3], 0x5678);
        ck_assert_msg((round == 1) == (reads == 0 && after.reused == before.reused + 1),
                      "round %d: %llu reads, %llu reused", round, (unsigned long long)reads,
                      (unsigned long long)(after.reused - before.reused));
        ck_assert_uint_eq(after.jit_inlined - before.jit_inlined, 1); /* counted alike */
    }
    sp_symbolizer_free(sym);
    sp_unit_rmtree(dir);
}
END_TEST

/* A frame in JIT code the perf map does not name (anonymous executable memory: code
 * compiled before V8's code events were attached, as node's bootstrap code on Node 22+):
 * its function from its slots, at its definition line. A native frame there (slots that
 * fail the checks) stays as walked, and a leaf there is not such a frame. */
START_TEST(test_frame_in_code_the_perf_map_does_not_name)
{
    uint64_t fn, bca, *code;
    bl_lines_fixture(&fn, &bca, &code);
    sfi_obj[1] = tag(code); /* its function data: its (Sparkplug) code */
    char dir[4096];
    sp_symbolizer_t *sym = map_symbolizer(dir, sizeof dir, "");
    uint8_t *jit = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(jit != MAP_FAILED);
    const uint64_t pc = (uint64_t)(uintptr_t)jit + 100;
    uint64_t *feedback = alloc(2);
    feedback[0] = map_of(200);
    static sp_sample_t s;
    sp_v8decode_stats_t before, after;
    sp_v8decode_get_stats(&before);
    rewrite_one(sym, &s, 5, 1, pc, fn, bca, tag(feedback));
    sp_v8decode_get_stats(&after);
    const sp_v8fn_t *v = sp_v8decode_lookup(s.pcs[1]);
    ck_assert_msg(v && strcmp(v->function, "f") == 0 && v->lineno == 1,
                  "expected f at its definition line 1, saw %s at %d", v ? v->function : "nothing",
                  v ? v->lineno : 0);
    ck_assert_uint_eq(after.unnamed_code - before.unnamed_code, 1);
    /* slots that are no function's: left as walked */
    rewrite_one(sym, &s, 5, 2, pc, tag(feedback), bca, tag(feedback));
    ck_assert_uint_eq(s.pcs[1], pc);
    /* the leaf there: not named this way */
    memset(&s, 0, sizeof s);
    s.pcs[0] = pc, s.pcs[1] = 0x5678, s.nframes = 2, s.ts_ns = 3, s.tid = 5, s.nv8 = 1;
    s.v8[0] = (sp_v8_slots_t){
        .frame = 0, .function = fn, .bytecode_array = bca, .bytecode_offset = tag(feedback)};
    sp_v8decode_get_stats(&before);
    sp_v8decode_rewrite(&s, sym);
    sp_v8decode_get_stats(&after);
    ck_assert_uint_eq(after.unnamed_code, before.unnamed_code);
    munmap(jit, 4096);
    sp_symbolizer_free(sym);
    sp_unit_rmtree(dir);
}
END_TEST

START_TEST(test_inlined_checks)
{
    abc_t x;
    abc_setup(&x);
    uint64_t fa = x.fa, *code, *dd;
    sp_v8fn_t v[8];
    /* Sparkplug code (kind = baseline): its table maps to bytecode, not source */
    uint64_t start = opt_code(sfi_of(fa), x.lits, 2, x.t, x.n, a_inl, 2, 11, &code, &dd);
    ck_assert_uint_eq(sp_v8decode_jit_frame(fa, start + 12, start, 256, v, 8), 0);
    /* a caller's inlining id not below its callee's: not V8's data */
    static const int64_t loop[][3] = {{17, 0, 0}, {24, -1, 1}};
    start = opt_code(sfi_of(fa), x.lits, 2, x.t, x.n, loop, 2, 13, &code, &dd);
    ck_assert_uint_eq(sp_v8decode_jit_frame(fa, start + 12, start, 256, v, 8), 0);
    /* the function index past the literals */
    static const int64_t past[][3] = {{17, -1, 2}, {24, -1, 1}};
    start = opt_code(sfi_of(fa), x.lits, 2, x.t, x.n, past, 2, 13, &code, &dd);
    ck_assert_uint_eq(sp_v8decode_jit_frame(fa, start + 12, start, 256, v, 8), 0);
    size_t k = sp_v8decode_jit_frame(fa, start + 22, start, 256, v, 8); /* c's is fine */
    expect_frames(v, k, "c:7 a:3");
    /* the Code replaced by another object at the same place: read again, checked again */
    start = opt_code(sfi_of(fa), x.lits, 2, x.t, x.n, a_inl, 2, 13, &code, &dd);
    k = sp_v8decode_jit_frame(fa, start + 12, start, 256, v, 8);
    expect_frames(v, k, "b:6 a:2");
    code[1] = str("not deoptimization data");
    ck_assert_uint_eq(sp_v8decode_jit_frame(fa, start + 12, start, 256, v, 8), 0);
    /* an instruction start whose InstructionStream is unmapped memory: no fault */
    void *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(page != MAP_FAILED);
    uint64_t bad = (uint64_t)(uintptr_t)page + 64;
    ck_assert_uint_eq(sp_v8decode_jit_frame(fa, bad + 12, bad, 256, v, 8), 0);
    munmap(page, 4096);
}
END_TEST

/* The frame's JSFunction after a scavenge (a server's per-request closures are young):
 * moved (followed to its new copy), gone (its memory holds another kind of object now: the
 * code pc is in names the frame), or another function there (refused: the code may not be
 * the sampled one, or pc is in a callee's prologue). */
START_TEST(test_inlined_closure_moved_or_gone)
{
    abc_t x;
    abc_setup(&x);
    uint64_t fa = x.fa, fb = x.fb, *code, *dd;
    uint64_t start = opt_code(sfi_of(fa), x.lits, 2, x.t, x.n, a_inl, 2, 13, &code, &dd);
    sp_v8fn_t v[8];
    sp_v8decode_stats_t st;
    uint64_t *newf = (uint64_t *)(uintptr_t)(fa - 1), *oldf = alloc(8);
    oldf[0] = (uint64_t)(uintptr_t)newf; /* forwarding: the new copy's untagged address */
    size_t k = sp_v8decode_jit_frame(tag(oldf), start + 12, start, 256, v, 8);
    expect_frames(v, k, "b:6 a:2");
    sp_v8decode_get_stats(&st);
    ck_assert_uint_eq(st.forwarded, 1);
    ck_assert_uint_eq(st.jit_fn_gone, 0);
    /* gone: a FixedArray there now */
    uint64_t *other = alloc(8);
    other[0] = map_of(175);
    k = sp_v8decode_jit_frame(tag(other), start + 22, start, 256, v, 8);
    expect_frames(v, k, "c:7 a:3");
    sp_v8decode_get_stats(&st);
    ck_assert_uint_eq(st.jit_fn_gone, 1);
    /* another function there: refused, the perf map names the frame */
    ck_assert_uint_eq(sp_v8decode_jit_frame(fb, start + 35, start, 256, v, 8), 0);
    /* moved onto another function's copy: refused as well */
    oldf[0] = (uint64_t)(uintptr_t)(fb - 1);
    ck_assert_uint_eq(sp_v8decode_jit_frame(tag(oldf), start + 35, start, 256, v, 8), 0);
    sp_v8decode_get_stats(&st);
    ck_assert_uint_eq(st.jit_fn_gone, 1);
}
END_TEST

/* A frame whose closure is gone by the decode (a scavenge moved it, its old memory holds
 * something else now): named through the SFI V8 reported compiling its bytecode for, while
 * that SFI's code is still the frame's bytecode (or Sparkplug code made from it), and only
 * from an entry made before the sample unless the bytecode itself moved since. */
START_TEST(test_closure_gone_named_through_bytecode_owner)
{
    setup();
    ck_assert(sp_v8owner_init());
    uint64_t fn, bca, ofn, obca;
    function(str("handler"), script("/app/h.js", (int[]){9}, 1), &fn, &bca);
    uint64_t *sfi = sfi_obj, *b = bca_obj;
    function(str("other"), script("/app/o.js", (int[]){9}, 1), &ofn, &obca);
    uint64_t first = (uint64_t)(uintptr_t)b + 64; /* the first bytecode (BytecodeArray data) */
    uint64_t *gone = alloc(4);
    gone[0] = map_of(175); /* a FixedArray where the closure was */
    sp_v8fn_t v;
    sp_v8decode_stats_t st;
    ck_assert(!sp_v8decode_frame(tag(gone), bca, smi(0), &v)); /* no owner reported */
    sp_v8owner_add(first, tag(sfi), 1);
    ck_assert(sp_v8decode_frame(tag(gone), bca, smi(0), &v));
    ck_assert_str_eq(v.function, "handler");
    ck_assert_str_eq(v.script, "/app/h.js");
    /* another function's closure where the sample's was: its code is other bytecode */
    ck_assert(sp_v8decode_frame(ofn, bca, smi(0), &v));
    ck_assert_str_eq(v.function, "handler");
    sp_v8decode_get_stats(&st);
    ck_assert_uint_eq(st.owner_named, 2);
    /* reported after the sample: compaction may have moved the frame's bytecode away and
     * another function's taken its place */
    sp_v8owner_add(first, tag(sfi), sp_clock_mono_ns() + 1000000000000ull);
    ck_assert(!sp_v8decode_frame(tag(gone), bca, smi(0), &v));
    /* ... unless the sample's BytecodeArray moved since: its old copy says it is this one */
    uint64_t *oldb = alloc(8);
    oldb[0] = (uint64_t)(uintptr_t)b;
    ck_assert(sp_v8decode_frame(tag(gone), tag(oldb), smi(0), &v));
    ck_assert_str_eq(v.function, "handler");
    sp_v8owner_add(first, tag(sfi), 1);
    /* the owner's code is other bytecode now (flushed and compiled anew): refused */
    sfi[1] = obca;
    ck_assert(!sp_v8decode_frame(tag(gone), bca, smi(0), &v));
    /* Sparkplug code made from the frame's bytecode: named; from other bytecode: refused */
    uint64_t *code = alloc(8);
    code[0] = map_of(150);
    code[1] = bca; /* where optimized code keeps its deoptimization data */
    sfi[1] = tag(code);
    ck_assert(sp_v8decode_frame(tag(gone), bca, smi(0), &v));
    ck_assert_str_eq(v.function, "handler");
    code[1] = obca;
    ck_assert(!sp_v8decode_frame(tag(gone), bca, smi(0), &v));
    /* no SFI where the owner was */
    sfi[1] = bca;
    sfi[0] = map_of(175);
    ck_assert(!sp_v8decode_frame(tag(gone), bca, smi(0), &v));
    sp_v8decode_get_stats(&st);
    ck_assert_uint_eq(st.owner_named, 4);
    ck_assert_uint_eq(st.owner_missed, 5);
}
END_TEST

SP_UNIT_SUITE(v8decode)
{
    Suite *s = suite_create("v8decode");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_name_string_and_script);
    tcase_add_test(tc, test_inlined_frames_at_their_call_sites);
    tcase_add_test(tc, test_inlined_checks);
    tcase_add_test(tc, test_inlined_closure_moved_or_gone);
    tcase_add_test(tc, test_baseline_sizes_checked);
    tcase_add_test(tc, test_baseline_offsets);
    tcase_add_test(tc, test_baseline_word_read_ahead);
    tcase_add_test(tc, test_baseline_frame_in_a_sample);
    tcase_add_test(tc, test_frames_as_in_the_last_sample);
    tcase_add_test(tc, test_optimized_frame_as_in_the_last_sample);
    tcase_add_test(tc, test_frame_in_code_the_perf_map_does_not_name);
    tcase_add_test(tc, test_baseline_not_in_step);
    tcase_add_test(tc, test_baseline_frame_lines);
    tcase_add_test(tc, test_scope_info_name_and_line);
    tcase_add_test(tc, test_scope_info_names_in_a_hash_table);
    tcase_add_test(tc, test_script_name_undefined_or_moved);
    tcase_add_test(tc, test_empty_name_takes_inferred_name);
    tcase_add_test(tc, test_empty_name_without_inferred_name);
    tcase_add_test(tc, test_cons_string_name);
    tcase_add_test(tc, test_moved_and_reused_objects);
    tcase_add_test(tc, test_closure_gone_named_through_bytecode_owner);
    tcase_add_test(tc, test_wrong_types_name_nothing);
    tcase_add_test(tc, test_unmapped_memory_never_faults);
    tcase_add_test(tc, test_cache_sees_a_different_function_at_the_same_address);
    tcase_add_test(tc, test_synthetic_addresses);
    tcase_add_test(tc, test_unknown_layout_stays_off);
    tcase_add_test(tc, test_far_function_head_stays_off);
    tcase_add_test(tc, test_js_frame_counters);
    tcase_add_test(tc, test_vlq_both_formats);
    tcase_add_test(tc, test_vlq_garbage_and_inlining);
    tcase_add_test(tc, test_line_from_ends);
    tcase_add_test(tc, test_executing_line);
    tcase_add_test(tc, test_same_line_is_one_frame);
    suite_add_tcase(s, tc);
    return s;
}
