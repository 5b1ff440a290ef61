/* test_symbolize: code address -> frame (src/symbolize.c) against a fake proc root: a
 * <root>/proc/self/maps written here (the test binary's own mappings copied from the real
 * one, plus an anonymous JIT region and a [vdso]), a <root>/proc/self/exe link and a V8
 * perf map in the same directory. Checks JS frames (name, script, line, column, in_app),
 * V8 builtins named as node's ELF symbols with the executable as their file, ELF symbols
 * (final answers), unnamed code by mapping, return addresses looked up at addr-1, the
 * generation moving when the perf map grows, and the native images (ELF files by build id)
 * a profile's debug_meta lists for its native frames, sized from the fake maps. */
#include "unit.h"

#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "debugid.h"
#include "frames.h"
#include "ids.h"
#include "mem.h"
#include "perfmap.h"
#include "profile.h"
#include "resolve.h"
#include "session.h"
#include "stats.h"
#include "symbolize.h"
#include "v8image.h"

#define JIT_START 0x7e0000000000ull /* the fake anonymous executable region */
#define JIT_END 0x7e0000100000ull
#define VDSO_START 0x7e0000200000ull
#define COPY_START 0x7d0000000000ull /* a copy of the test binary's pages, not its image */
#define LATE_START 0x7c0000000000ull /* anonymous at first, a copy of the binary later */

/* A function of the test binary the symbolizer must name from its ELF symbols. */
int sp_test_symbolize_marker(int n);
__attribute__((noinline, noclone)) int sp_test_symbolize_marker(int n)
{
    volatile int acc = 0;
    for (int i = 0; i < n; i++) acc += i;
    return acc;
}

static char root[PATH_MAX], perf_map[PATH_MAX + 16];
static uint64_t image_start, image_end; /* the test binary's run of lines in the fake maps */

static void write_file(const char *path, const char *mode, const char *text)
{
    FILE *f = fopen(path, mode);
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* The fake tree: maps = our executable's real lines + a JIT region + [vdso]. */
static void make_root(void)
{
    snprintf(root, sizeof root, "%s", sp_unit_tmpdir());
    char path[PATH_MAX + 64], exe[PATH_MAX] = "";
    snprintf(path, sizeof path, "%s/proc", root);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/proc/self", root);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ck_assert_int_gt(n, 0);
    exe[n] = '\0';
    snprintf(path, sizeof path, "%s/proc/self/exe", root);
    ck_assert_int_eq(symlink("/opt/node-v22/bin/node", path), 0);

    FILE *real = fopen("/proc/self/maps", "re");
    ck_assert_ptr_nonnull(real);
    snprintf(path, sizeof path, "%s/proc/self/maps", root);
    FILE *fake = fopen(path, "we");
    ck_assert_ptr_nonnull(fake);
    char line[PATH_MAX + 128];
    int copied = 0;
    image_start = image_end = 0;
    while (fgets(line, sizeof line, real)) {
        const char *p = strchr(line, '/');
        uint64_t a, b;
        if (p && strncmp(p, exe, (size_t)n) == 0 && p[n] == '\n') {
            fputs(line, fake), copied++;
            ck_assert_int_eq(sscanf(line, "%" SCNx64 "-%" SCNx64, &a, &b), 2);
            if (!image_start) image_start = a;
            image_end = b;
        }
    }
    fclose(real);
    /* A reserved gap of the same file right after it (part of its image), then anonymous
     * memory, then a copy of one of its pages elsewhere (not its image). */
    fprintf(fake, "%" PRIx64 "-%" PRIx64 " ---p 00100000 08:01 42 %s\n", image_end,
            image_end + 0x1000, exe);
    fprintf(fake, "%" PRIx64 "-%" PRIx64 " rw-p 00000000 00:00 0 \n", image_end + 0x1000,
            image_end + 0x3000);
    fprintf(fake, "%" PRIx64 "-%" PRIx64 " r-xp 00001000 08:01 42 %s\n", (uint64_t)COPY_START,
            (uint64_t)COPY_START + 0x1000, exe);
    image_end += 0x1000;
    fprintf(fake, "%" PRIx64 "-%" PRIx64 " ---p 00000000 00:00 0 \n", (uint64_t)LATE_START,
            (uint64_t)LATE_START + 0x1000);
    fprintf(fake, "%" PRIx64 "-%" PRIx64 " r-xp 00000000 00:00 0 \n", (uint64_t)JIT_START, (uint64_t)JIT_END);
    fprintf(fake, "%" PRIx64 "-%" PRIx64 " r-xp 00000000 00:00 0                          [vdso]\n",
            (uint64_t)VDSO_START, (uint64_t)VDSO_START + 0x2000);
    ck_assert_int_eq(fclose(fake), 0);
    ck_assert_msg(copied > 0, "expected the test binary %s in /proc/self/maps, saw none", exe);

    snprintf(perf_map, sizeof perf_map, "%s/perf-1.map", root);
    write_file(perf_map, "w",
               "7e0000001000 100 JS:*hotLoop /app/hot.js:15:3\n"
               "7e0000002000 80 LazyCompile:~load file:///srv/app/node_modules/x/i.js:2:9\n"
               "7e0000003000 40 Builtin:CEntry_Return1\n"
               "7e0000004000 40 BytecodeHandler:LdaZero\n");
}

static sp_symbolizer_t *new_symbolizer(void)
{
    make_root();
    sp_symbolizer_t *sym = sp_symbolizer_new(perf_map, root, 0);
    ck_assert_ptr_nonnull(sym);
    sp_symbolizer_refresh(sym);
    return sym;
}

START_TEST(t_js_frames)
{
    sp_symbolizer_t *sym = new_symbolizer();
    sp_frame_t f;
    ck_assert_msg(!sp_symbolizer_resolve(sym, 0x7e0000001010ull, false, &f),
                  "expected a JS frame not to be final (the perf map may change)");
    ck_assert_int_eq(f.kind, SP_FRAME_JS);
    ck_assert_str_eq(f.function, "hotLoop");
    ck_assert_str_eq(f.abs_path, "/app/hot.js");
    ck_assert_int_eq(f.lineno, 15);
    ck_assert_int_eq(f.colno, 3);
    ck_assert(f.in_app);
    ck_assert_ptr_null(f.module); /* derived from the path by the frame table */
    ck_assert_uint_eq(f.instruction_addr, 0);

    sp_symbolizer_resolve(sym, 0x7e0000002000ull, false, &f); /* an ESM URL in node_modules */
    ck_assert_str_eq(f.function, "load");
    ck_assert_str_eq(f.abs_path, "/srv/app/node_modules/x/i.js");
    ck_assert(!f.in_app);

    /* A return address is looked up at addr-1: the call is in the entry before. */
    sp_symbolizer_resolve(sym, 0x7e0000002000ull, true, &f);
    ck_assert_msg(strncmp(f.function, "0x", 2) == 0, "expected 0x7e0000001fff unnamed (no entry), saw %s",
                  f.function);
    sp_symbolizer_resolve(sym, 0x7e0000001100ull, true, &f);
    ck_assert_str_eq(f.function, "hotLoop");
    sp_symbolizer_free(sym);
    sp_unit_rmtree(root);
}
END_TEST

START_TEST(t_v8_builtins)
{
    sp_symbolizer_t *sym = new_symbolizer();
    sp_frame_t f;
    sp_symbolizer_resolve(sym, 0x7e0000003004ull, false, &f);
    ck_assert_int_eq(f.kind, SP_FRAME_NATIVE);
    ck_assert_str_eq(f.function, "Builtins_CEntry_Return1");
    ck_assert_str_eq(f.abs_path, "/opt/node-v22/bin/node"); /* <root>/proc/self/exe */
    ck_assert_str_eq(f.module, "node");
    ck_assert_uint_eq(f.instruction_addr, 0x7e0000003004ull);
    sp_symbolizer_resolve(sym, 0x7e0000004000ull, false, &f);
    ck_assert_str_eq(f.function, "Builtins_LdaZeroHandler");
    /* the decoder's one-lookup question agrees with resolve: these are not JS code, the
     * perf map's JS entries are, with their tier and extent; no entry is not */
    char tier = 0;
    uint64_t start = 0, size = 0;
    ck_assert(!sp_symbolizer_is_js(sym, 0x7e0000003004ull, false, &tier, NULL, NULL, NULL));
    ck_assert(!sp_symbolizer_is_js(sym, 0x7e0000004000ull, false, &tier, NULL, NULL, NULL));
    ck_assert(sp_symbolizer_is_js(sym, 0x7e0000001010ull, false, &tier, &start, &size, NULL));
    ck_assert_int_eq(tier, '*');
    ck_assert_uint_eq(start, 0x7e0000001000ull);
    ck_assert_uint_eq(size, 0x100);
    ck_assert(sp_symbolizer_is_js(sym, 0x7e0000002000ull, false, &tier, NULL, NULL, NULL));
    ck_assert_int_eq(tier, '~');
    ck_assert(!sp_symbolizer_is_js(sym, 0x7e0000050000ull, false, &tier, NULL, NULL, NULL));
    sp_symbolizer_free(sym);
    sp_unit_rmtree(root);
}
END_TEST

START_TEST(t_native_frames)
{
    sp_symbolizer_t *sym = new_symbolizer();
    sp_frame_t f;
    uint64_t pc = (uint64_t)(uintptr_t)&sp_test_symbolize_marker + 4;
    ck_assert_msg(sp_symbolizer_resolve(sym, pc, false, &f), "expected an ELF symbol to be final");
    ck_assert_int_eq(f.kind, SP_FRAME_NATIVE);
    ck_assert_str_eq(f.function, "sp_test_symbolize_marker");
    ck_assert_ptr_nonnull(f.abs_path);
    ck_assert_uint_eq(f.instruction_addr, pc);
    ck_assert(!f.in_app);

    ck_assert(!sp_symbolizer_resolve(sym, 0x7e0000050000ull, false, &f)); /* JIT, no entry */
    ck_assert_str_eq(f.function, "0x7e0000050000");
    ck_assert_str_eq(f.module, "[anon]");
    sp_symbolizer_resolve(sym, VDSO_START + 0x10, false, &f);
    ck_assert_str_eq(f.module, "[vdso]");
    sp_symbolizer_resolve(sym, 0x10, false, &f); /* in no mapping */
    ck_assert_str_eq(f.function, "0x10");
    ck_assert_str_eq(f.module, "[unknown]");
    ck_assert_ptr_null(f.abs_path);
    sp_symbolizer_free(sym);
    sp_unit_rmtree(root);
}
END_TEST

/* Memory that was anonymous in the last snapshot and holds a file now (a worker's isolate
 * reserves its code range, then maps node's embedded builtins into it): the next refresh
 * cycle reads the maps again instead of leaving the address raw for good. */
START_TEST(t_anon_becomes_file)
{
    sp_symbolizer_t *sym = new_symbolizer();
    sp_frame_t f;
    sp_symbolizer_resolve(sym, LATE_START + 0x10, false, &f);
    ck_assert_ptr_null(f.abs_path); /* anonymous in the snapshot */
    char path[PATH_MAX + 64], exe[PATH_MAX] = "", *text;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ck_assert_int_gt(n, 0);
    exe[n] = '\0';
    snprintf(path, sizeof path, "%s/proc/self/maps", root);
    FILE *in = fopen(path, "re");
    ck_assert_ptr_nonnull(in);
    size_t cap = 1 << 20, len = fread(text = malloc(cap), 1, cap - 1, in);
    fclose(in);
    text[len] = '\0';
    char want[64], *at;
    snprintf(want, sizeof want, "%" PRIx64 "-", (uint64_t)LATE_START);
    ck_assert_ptr_nonnull(at = strstr(text, want));
    *at = '\0';
    char *rest = strchr(at + 1, '\n') + 1;
    FILE *out = fopen(path, "we");
    ck_assert_ptr_nonnull(out);
    fprintf(out, "%s%" PRIx64 "-%" PRIx64 " r-xp 00001000 08:01 42 %s\n%s", text,
            (uint64_t)LATE_START, (uint64_t)LATE_START + 0x1000, exe, rest);
    ck_assert_int_eq(fclose(out), 0);
    free(text);
    sp_symbolizer_refresh(sym); /* the agent's next pass */
    sp_symbolizer_resolve(sym, LATE_START + 0x10, false, &f);
    ck_assert_msg(f.abs_path && strcmp(f.abs_path, exe) == 0,
                  "expected the address in %s once mapped, saw %s", exe,
                  f.abs_path ? f.abs_path : "(none)");
    sp_symbolizer_free(sym);
    sp_unit_rmtree(root);
}
END_TEST

/* V8's copy of its embedded builtins in anonymous memory (Node 18's workers, whose code
 * range lies far from node): named from node's own symbols, at the copy's address. Here
 * the test binary's code around a marker function stands in for the builtins; the copy is
 * found at the start of its mapping or ending on its last page, and not trusted when its
 * first bytes differ. */
START_TEST(t_builtins_copy)
{
    const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    const uint64_t start = (uint64_t)(uintptr_t)&sp_test_symbolize_marker, size = page + 100;
    const uint64_t span = 2 * page; /* size rounded up to pages */
    uint8_t *mem = mmap(NULL, 2 * span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(mem != MAP_FAILED);
    sp_v8image_set_builtins(start, size);
    /* where: the copy's place in the mapping [mem, mem + 2 * span); bad: its first byte
     * changed; named: whether the marker is named at the copy's address. */
    const struct {
        uint64_t where;
        bool bad, named;
    } cases[] = {{0, false, true}, {span, false, true}, {0, true, false}, {page, false, false}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memset(mem, 0xcc, 2 * span);
        memcpy(mem + cases[c].where, (const void *)(uintptr_t)start, size);
        if (cases[c].bad) mem[cases[c].where] ^= 1;
        sp_symbolizer_t *sym = new_symbolizer();
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/proc/self/maps", root);
        FILE *maps = fopen(path, "ae");
        ck_assert_ptr_nonnull(maps);
        fprintf(maps, "%" PRIxPTR "-%" PRIxPTR " r-xp 00000000 00:00 0 \n", (uintptr_t)mem,
                (uintptr_t)(mem + 2 * span));
        ck_assert_int_eq(fclose(maps), 0);
        sp_symbolizer_refresh(sym);
        uint64_t pc = (uint64_t)(uintptr_t)mem + cases[c].where + 4;
        sp_frame_t f;
        bool named = sp_symbolizer_resolve(sym, pc, false, &f);
        ck_assert_msg(named == cases[c].named &&
                          (!named || strcmp(f.function, "sp_test_symbolize_marker") == 0),
                      "case %zu: expected %s, saw %s (%s)", c,
                      cases[c].named ? "sp_test_symbolize_marker" : "a raw address", f.function,
                      f.module ? f.module : "no module");
        ck_assert_uint_eq(f.instruction_addr, pc);
        if (named)
            ck_assert_ptr_nonnull(f.abs_path); /* the test binary, as node for V8's */
        else
            ck_assert_str_eq(f.module, "[anon]");
        /* Past the builtins' end, inside the mapping: not theirs. */
        if (cases[c].named && cases[c].where + size + 8 < 2 * span) {
            ck_assert(!sp_symbolizer_resolve(
                sym, (uint64_t)(uintptr_t)mem + cases[c].where + size + 8, false, &f));
        }
        sp_symbolizer_free(sym);
        sp_unit_rmtree(root);
    }
    sp_v8image_set_builtins(0, 0);
    munmap(mem, 2 * span);
}
END_TEST

/* The ELF file a native frame lies in becomes a "symbolic" image of the profile's
 * debug_meta (addr and size from the fake maps: its run of lines, a gap of the same file
 * included, a copy elsewhere not), with debug_id and code_id from its build id; a profile
 * whose frames do not name it does not list it. */
START_TEST(t_native_images)
{
    sp_symbolizer_t *sym = new_symbolizer();
    sp_sym_image_t im;
    ck_assert(!sp_symbolizer_image(sym, 0, &im)); /* nothing resolved yet */
    sp_frame_t f;
    uint64_t pc = (uint64_t)(uintptr_t)&sp_test_symbolize_marker + 4;
    ck_assert(sp_symbolizer_resolve(sym, pc, false, &f));
    sp_frames_t *ft = sp_frames_new();
    sp_session_t *s = sp_session_new();
    long id = sp_frames_intern(ft, &f);
    ck_assert_int_ge(id, 0);
    ck_assert_int_ge(sp_session_frame(s, ft, (uint32_t)id), 0);
    sp_symbolizer_resolve(sym, COPY_START + 0x10, false, &f); /* the copy: the same file */
    ck_assert_ptr_nonnull(f.abs_path);
    ck_assert(!sp_symbolizer_image(sym, 1, &im)); /* one file, one image */
    ck_assert(sp_symbolizer_image(sym, 0, &im));
    ck_assert_str_eq(im.path, f.abs_path);
    ck_assert_msg(im.start == image_start && im.size == image_end - image_start,
                  "expected the image at 0x%" PRIx64 ", 0x%" PRIx64
                  " bytes (the fake maps' run), saw 0x%" PRIx64 ", 0x%" PRIx64,
                  image_start, image_end - image_start, im.start, im.size);
    ck_assert_uint_eq(im.build_id_len, 20); /* the toolchain's default: sha1 */

    sp_chunk_meta_t meta = {.release = "r", .symbolizer = sym};
    sp_ids_new(meta.chunk_id);
    sp_ids_new(meta.profiler_id);
    size_t len;
    char *text = sp_profile_chunk_text(s, &meta, &len);
    ck_assert_ptr_nonnull(text);
    json_t *p = json_loadb(text, len, 0, NULL);
    sp_mem_free(text);
    json_t *images = json_object_get(json_object_get(p, "debug_meta"), "images");
    ck_assert_uint_eq(json_array_size(images), 1);
    json_t *i0 = json_array_get(images, 0);
    char want_addr[24], want_id[37], want_code[41];
    snprintf(want_addr, sizeof want_addr, "0x%" PRIx64, image_start);
    sp_debugid_of_build_id(im.build_id, im.build_id_len, want_id);
    for (size_t k = 0; k < 20; k++) sprintf(want_code + 2 * k, "%02x", im.build_id[k]);
    ck_assert_str_eq(json_string_value(json_object_get(i0, "type")), "symbolic");
    ck_assert_str_eq(json_string_value(json_object_get(i0, "code_file")), im.path);
    ck_assert_str_eq(json_string_value(json_object_get(i0, "image_addr")), want_addr);
    ck_assert_int_eq(json_integer_value(json_object_get(i0, "image_size")),
                     (json_int_t)(image_end - image_start));
    ck_assert_str_eq(json_string_value(json_object_get(i0, "debug_id")), want_id);
    ck_assert_str_eq(json_string_value(json_object_get(i0, "code_id")), want_code);
    json_decref(p);
    sp_session_free(s);

    /* A profile of JS frames only: no native image. */
    s = sp_session_new();
    sp_symbolizer_resolve(sym, 0x7e0000001010ull, false, &f);
    ck_assert_int_ge(sp_session_frame(s, ft, (uint32_t)sp_frames_intern(ft, &f)), 0);
    size_t flen;
    const char *frames = sp_session_frames_text(s, &flen);
    images = sp_debugid_images(frames, flen, sym);
    ck_assert_uint_eq(json_array_size(images), 0);
    json_decref(images);
    sp_session_free(s);
    sp_frames_free(ft);
    sp_symbolizer_free(sym);
    sp_unit_rmtree(root);
}
END_TEST

/* New perf map entries move the generation (callers forget non-final answers) and are
 * seen after the next refresh. */
START_TEST(t_generation)
{
    sp_symbolizer_t *sym = new_symbolizer();
    uint64_t g = sp_symbolizer_generation(sym);
    sp_symbolizer_refresh(sym); /* nothing new */
    ck_assert_uint_eq(sp_symbolizer_generation(sym), g);
    sp_frame_t f;
    sp_symbolizer_resolve(sym, 0x7e0000005000ull, false, &f);
    ck_assert_str_eq(f.function, "0x7e0000005000");
    write_file(perf_map, "a", "7e0000005000 40 JS:^later /app/later.js:7:1\n");
    sp_symbolizer_refresh(sym);
    ck_assert_uint_ne(sp_symbolizer_generation(sym), g);
    sp_symbolizer_resolve(sym, 0x7e0000005000ull, false, &f);
    ck_assert_str_eq(f.function, "later");
    ck_assert_int_eq(f.lineno, 7);
    sp_symbolizer_free(sym);
    sp_unit_rmtree(root);
}
END_TEST

/* Code jitlog's map places at an address after a sample (its time line is later) is not
 * what the sample ran there: the address stays unnamed for that sample, named for a later
 * one; the resolver's cache does not give an older sample a later sample's answer. The
 * decoder's lookup still answers, with the entry's time. */
START_TEST(t_entry_newer_than_sample)
{
    sp_symbolizer_t *sym = new_symbolizer();
    write_file(perf_map, "a",
               "0 0 " SP_PERFMAP_AT "3e8\n7e0000006000 40 JS:*moved /app/m.js:4:1\n");
    sp_symbolizer_refresh(sym);
    sp_frame_t f;
    uint64_t after;
    bool refused;
    sp_symbolizer_set_as_of(sym, 999);
    sp_symbolizer_resolve(sym, 0x7e0000006010ull, false, &f);
    ck_assert_msg(f.kind != SP_FRAME_JS,
                  "expected no JS frame for a sample before the entry, saw %s", f.function);
    sp_symbolizer_last_perf_map(sym, &after, &refused);
    ck_assert(refused);
    /* the decoder's question (where code starts, its tier) is answered, with the age */
    ck_assert_int_eq(sp_symbolizer_js_code(sym, 0x7e0000006010ull, false, NULL, NULL, &after), '*');
    ck_assert_uint_eq(after, 1000);
    sp_symbolizer_resolve(sym, 0x7e0000001010ull, false, &f); /* an entry without a time: named */
    ck_assert_str_eq(f.function, "hotLoop");
    sp_symbolizer_set_as_of(sym, 1000);
    sp_symbolizer_resolve(sym, 0x7e0000006010ull, false, &f);
    ck_assert_str_eq(f.function, "moved");
    sp_symbolizer_last_perf_map(sym, &after, &refused);
    ck_assert(!refused);
    ck_assert_uint_eq(after, 1000);

    /* Through the resolver: a sample after the entry first (its answer cached), then one
     * before it at the same pc: not named, and counted. */
    sp_frames_t *ft = sp_frames_new();
    sp_resolver_t *r = ft ? sp_resolver_new(sym, ft) : NULL;
    ck_assert_ptr_nonnull(r);
    static sp_sample_t s;
    s.pcs[0] = 0x7e0000006010ull;
    s.nframes = 1;
    uint64_t too_new = sp_stats_get(SP_STAT_JS_PM_TOO_NEW),
             named = sp_stats_get(SP_STAT_JS_PM_TURBOFAN);
    s.ts_ns = 5000;
    sp_resolver_count(r, &s, NULL);
    s.ts_ns = 500;
    sp_resolver_count(r, &s, NULL);
    s.ts_ns = 6000;
    sp_resolver_count(r, &s, NULL);
    ck_assert_msg(sp_stats_get(SP_STAT_JS_PM_TURBOFAN) - named == 2 &&
                      sp_stats_get(SP_STAT_JS_PM_TOO_NEW) - too_new == 1,
                  "expected 2 samples named and 1 too old for the entry, saw %llu and %llu",
                  (unsigned long long)(sp_stats_get(SP_STAT_JS_PM_TURBOFAN) - named),
                  (unsigned long long)(sp_stats_get(SP_STAT_JS_PM_TOO_NEW) - too_new));
    sp_resolver_free(r);
    sp_frames_free(ft);
    sp_symbolizer_free(sym);
    sp_unit_rmtree(root);
}
END_TEST

/* The ids sp_resolver_count keeps for a sample are what it goes into a session with
 * (resolved once, not again at the transaction's end), the same frames a fresh resolution
 * gives; from another epoch of the frame table they are not used: resolved again. */
START_TEST(t_resolved_ids_reused)
{
    sp_symbolizer_t *sym = new_symbolizer();
    sp_frames_t *ft = sp_frames_new();
    sp_resolver_t *r = ft ? sp_resolver_new(sym, ft) : NULL;
    ck_assert_ptr_nonnull(r);
    static sp_sample_t s, other;
    static sp_resolved_t res, res_other;
    s.pcs[0] = 0x7e0000001010ull, s.pcs[1] = 0x7e0000002010ull, s.nframes = 2, s.ts_ns = 5000;
    other.pcs[0] = 0x7e0000002010ull, other.nframes = 1, other.ts_ns = 5000;
    sp_resolver_count(r, &s, &res);
    sp_resolver_count(r, &other, &res_other);
    ck_assert_int_eq(res.n, 2);
    ck_assert_int_eq(res_other.n, 1);
    sp_session_t *kept = sp_session_new(), *fresh = sp_session_new(), *stale = sp_session_new(),
                 *shown = sp_session_new();
    ck_assert_int_eq(sp_resolver_add_sample(r, kept, &s, &res, 1), 0);
    ck_assert_int_eq(sp_resolver_add_sample(r, fresh, &s, NULL, 1), 0);
    size_t a, b;
    const char *ka = sp_session_frames_text(kept, &a), *fa = sp_session_frames_text(fresh, &b);
    ck_assert_msg(a == b && memcmp(ka, fa, a) == 0, "frames with kept ids: expected %.*s, saw %.*s",
                  (int)b, fa, (int)a, ka);
    /* the kept ids are what is used: other's ids given with s's pcs make other's stack */
    ck_assert_int_eq(sp_resolver_add_sample(r, shown, &s, &res_other, 1), 0);
    ck_assert_uint_eq(sp_session_frame_count(shown), 1);
    /* a new epoch of the frame table: the kept ids name nothing now, s is resolved again */
    sp_frames_set_module_base(ft, "");
    ck_assert_int_eq(sp_resolver_add_sample(r, stale, &s, &res, 1), 0);
    const char *sa = sp_session_frames_text(stale, &a);
    ck_assert_msg(a == b && memcmp(sa, fa, a) == 0, "frames after a new epoch: expected %.*s, saw %.*s",
                  (int)b, fa, (int)a, sa);
    sp_session_free(kept);
    sp_session_free(fresh);
    sp_session_free(stale);
    sp_session_free(shown);
    sp_resolver_free(r);
    sp_frames_free(ft);
    sp_symbolizer_free(sym);
    sp_unit_rmtree(root);
}
END_TEST

SP_UNIT_SUITE(symbolize)
{
    Suite *s = suite_create("symbolize");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, t_js_frames);
    tcase_add_test(tc, t_v8_builtins);
    tcase_add_test(tc, t_native_frames);
    tcase_add_test(tc, t_generation);
    tcase_add_test(tc, t_entry_newer_than_sample);
    tcase_add_test(tc, t_resolved_ids_reused);
    tcase_add_test(tc, t_native_images);
    tcase_add_test(tc, t_anon_becomes_file);
    tcase_add_test(tc, t_builtins_copy);
    suite_add_tcase(s, tc);
    return s;
}
