/* symbolize: owns the perf map reader, the /proc/self/maps snapshot and one ELF symbol
 * table per mapped file (opened on first use, kept for the process lifetime, at most
 * SP_SYM_MAX_ELF of them), with where the file was mapped when an address was last
 * resolved in it (its image, for the profiles' debug_meta). Background thread only. */
#include "symbolize.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "elfsym.h"
#include "log.h"
#include "mem.h"
#include "perfmap.h"
#include "procmaps.h"
#include "v8image.h"
#include "v8names.h"

#define SP_SYM_MAX_ELF 512
#define SP_SYM_NAME_MAX 1024
#define SP_SYM_PRUNE_GROWTH 20000 /* perf map entries added since the last prune that trigger one */
#define SP_SYM_ANON_REREAD_NS 250000000ull /* maps read again for executable anonymous memory */
#define SP_SYM_COPIES         16 /* anonymous executable mappings checked for V8's builtins */

typedef struct {
    char *path;
    sp_elfsym_t *elf;    /* NULL: not an ELF we can read (remembered, not retried) */
    uint64_t start, end; /* its mappings around the last address resolved in it */
} elf_entry_t;

struct sp_symbolizer {
    uint64_t generation; /* bumped when the perf map changed: JS resolutions may differ */
    sp_perfmap_t *perfmap;
    char *maps_root;
    sp_procmaps_t *maps;
    bool maps_fresh; /* re-read at most once per refresh cycle */
    uint64_t maps_read_ns; /* CLOCK_MONOTONIC of the last read */
    size_t count_at_prune; /* perf map size after the last prune */
    /* Anonymous executable mappings of this snapshot checked for a copy of V8's builtins
     * (v8image.h): base 0 when not one. */
    struct {
        uint64_t lo, hi, base;
    } copies[SP_SYM_COPIES];
    size_t ncopies;
    elf_entry_t elfs[SP_SYM_MAX_ELF];
    size_t nelfs;
    char func[SP_SYM_NAME_MAX];
    char path[SP_SYM_NAME_MAX];
    char exe[SP_SYM_NAME_MAX]; /* the executable, for V8 builtins named by the perf map */
    uint64_t as_of_ns;         /* the sample's time: entries written later name nothing */
    uint64_t last_after_ns;    /* the last perf-map lookup: its entry's written_after_ns */
    bool last_refused;         /* ... it found an entry newer than the sample */
};

sp_symbolizer_t *sp_symbolizer_new(const char *perf_map_path, const char *maps_root,
                                   time_t not_before)
{
    sp_symbolizer_t *sym = sp_mem_calloc(1, sizeof *sym);
    if (!sym) return NULL;
    if (perf_map_path) sym->perfmap = sp_perfmap_new(perf_map_path, not_before);
    if (maps_root) sym->maps_root = sp_mem_strdup(maps_root);
    return sym;
}

/* New JIT code may now sit where resolved addresses pointed. */
static void new_generation(sp_symbolizer_t *sym) { sym->generation++; }

void sp_symbolizer_free(sp_symbolizer_t *sym)
{
    if (!sym) return;
    sp_perfmap_free(sym->perfmap);
    sp_procmaps_free(sym->maps);
    for (size_t i = 0; i < sym->nelfs; i++) {
        sp_elfsym_free(sym->elfs[i].elf);
        sp_mem_free(sym->elfs[i].path);
    }
    sp_mem_free(sym->maps_root);
    sp_mem_free(sym);
}

/* A new snapshot of the process's mappings (at most once per refresh cycle: maps_fresh). */
static void read_maps(sp_symbolizer_t *sym)
{
    sp_procmaps_free(sym->maps);
    sym->maps = sp_procmaps_read(sym->maps_root, 0);
    sym->maps_read_ns = sp_clock_mono_ns();
    sym->maps_fresh = true;
    sym->ncopies = 0;
}

/* A perf map entry is alive while its first byte is in an executable mapping. */
static bool code_mapped(uint64_t start, uint64_t size, void *arg)
{
    const sp_mapping_t *m = sp_procmaps_find(arg, start);
    return m && m->exec;
}

void sp_symbolizer_set_perf_map(sp_symbolizer_t *sym, const char *perf_map_path, time_t not_before)
{
    if (sym->perfmap) {
        sp_perfmap_free(sym->perfmap);
        sym->perfmap = NULL;
        new_generation(sym);
    }
    sym->count_at_prune = 0;
    if (perf_map_path) sym->perfmap = sp_perfmap_new(perf_map_path, not_before);
}

void sp_symbolizer_refresh(sp_symbolizer_t *sym)
{
    sym->maps_fresh = false;
    if (!sym->perfmap) return;
    int rc = sp_perfmap_refresh(sym->perfmap);
    if (rc > 0) {
        SP_DEBUG("perf map: +%d entries (%zu live)", rc, sp_perfmap_count(sym->perfmap));
        new_generation(sym);
    }
    /* Worker churn leaves the entries of dead isolates behind; drop those whose code pages
     * are gone, once enough have been added to make it worth a /proc read. */
    size_t n = sp_perfmap_count(sym->perfmap);
    if (n >= sym->count_at_prune + SP_SYM_PRUNE_GROWTH) {
        read_maps(sym);
        new_generation(sym);
        if (sym->maps) {
            size_t dropped = sp_perfmap_prune(sym->perfmap, code_mapped, sym->maps);
            SP_DEBUG("perf map: pruned %zu entries of unmapped code (%zu live)", dropped,
                     sp_perfmap_count(sym->perfmap));
        }
        sym->count_at_prune = sp_perfmap_count(sym->perfmap);
    }
}

static const sp_mapping_t *find_mapping(sp_symbolizer_t *sym, uint64_t addr)
{
    const sp_mapping_t *m = sym->maps ? sp_procmaps_find(sym->maps, addr) : NULL;
    /* A library loaded since the last snapshot; or memory the snapshot says is anonymous,
     * which may hold a file now: a worker's isolate reserves its code range, then maps
     * node's embedded builtins into it, and a snapshot taken in between left every
     * interpreted frame of that worker a raw address (4-6 of 20 short-lived workers in the
     * churn fixture). Not executable there: no pc can be, read again at once. Executable:
     * mostly JIT code the perf map has not named yet, so at most every 250 ms. */
    bool stale = !m || (!m->path[0] && (!m->exec || sp_clock_mono_ns() - sym->maps_read_ns >=
                                                        SP_SYM_ANON_REREAD_NS));
    if (stale && !sym->maps_fresh) {
        read_maps(sym);
        m = sym->maps ? sp_procmaps_find(sym->maps, addr) : NULL;
    }
    return m;
}

/* The ELF file mapped at m, its image's extent updated when addr lies outside it (first
 * use, or the file was mapped again elsewhere). A copy of some of its pages elsewhere (V8's
 * embedded builtins, mapped again from node near its code range) is not its image: frames
 * there are named here, and Sentry would place them wrongly from the copy's address. */
static sp_elfsym_t *elf_for(sp_symbolizer_t *sym, const sp_mapping_t *m, uint64_t addr)
{
    elf_entry_t *e = NULL;
    for (size_t i = 0; i < sym->nelfs && !e; i++)
        if (strcmp(sym->elfs[i].path, m->path) == 0) e = &sym->elfs[i];
    if (!e) {
        if (sym->nelfs == SP_SYM_MAX_ELF) return NULL;
        e = &sym->elfs[sym->nelfs];
        if (!(e->path = sp_mem_strdup(m->path))) return NULL;
        e->elf = sp_elfsym_open(m->path, sym->maps_root);
        sym->nelfs++;
    }
    uint64_t start, end;
    if ((addr < e->start || addr >= e->end) && sp_procmaps_extent(sym->maps, m, &start, &end)) {
        e->start = start;
        e->end = end;
    }
    return e->elf;
}

bool sp_symbolizer_image(const sp_symbolizer_t *sym, size_t i, sp_sym_image_t *out)
{
    if (i >= sym->nelfs) return false;
    const elf_entry_t *e = &sym->elfs[i];
    out->path = e->path;
    out->start = e->start;
    out->size = e->end - e->start;
    out->build_id_len = sp_elfsym_build_id(e->elf, &out->build_id);
    return true;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* in_app as @sentry/node's stack parser decides it (filenameIsInApp) for the same frame of
 * an error event: an absolute or relative path, or a URL, outside node_modules. node's own
 * modules ("node:fs"), "internal/..." and nameless scripts ("evalmachine.<anonymous>")
 * are not the app's code. */
static bool js_in_app(const char *file)
{
    bool url = false;
    if ((file[0] >= 'a' && file[0] <= 'z') || (file[0] >= 'A' && file[0] <= 'Z')) {
        const char *c = file + 1;
        while ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
               *c == '.' || *c == '-' || *c == '+')
            c++;
        url = strncmp(c, "://", 3) == 0;
    }
    bool drive = file[0] >= 'A' && file[0] <= 'Z' && file[1] == ':';
    bool located = file[0] == '/' || file[0] == '.' || drive || url;
    return located && !strstr(file, "node_modules/");
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A script name as @sentry/node's stack parser spells it in an error event's filename:
 * "file://" dropped (ESM modules are named by URL), then decodeURI (escapes of reserved
 * characters, "%2F" say, stay). */
static void script_path(const char *name, size_t len, char *out, size_t cap)
{
    if (len >= 7 && strncmp(name, "file://", 7) == 0) name += 7, len -= 7;
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < cap; i++) {
        int hi, lo;
        if (name[i] == '%' && i + 2 < len && (hi = hexval(name[i + 1])) >= 0 && (lo = hexval(name[i + 2])) >= 0) {
            char c = (char)(hi << 4 | lo);
            if (c && !strchr(";/?:@&=+$,#", c)) {
                out[o++] = c;
                i += 2;
                continue;
            }
        }
        out[o++] = name[i];
    }
    out[o] = '\0';
}


void sp_symbolizer_set_as_of(sp_symbolizer_t *sym, uint64_t ts_ns) { sym->as_of_ns = ts_ns; }

void sp_symbolizer_last_perf_map(const sp_symbolizer_t *sym, uint64_t *after_ns, bool *refused)
{
    *after_ns = sym->last_after_ns;
    *refused = sym->last_refused;
}

/* A perf-map entry for V8's copy of a builtin or bytecode handler (named as native). */
static bool v8_own_code(const sp_v8name_t *js)
{
    return (js->kind_len == 7 && memcmp(js->kind, "Builtin", 7) == 0) ||
           (js->kind_len == 15 && memcmp(js->kind, "BytecodeHandler", 15) == 0);
}

static bool resolve_js(sp_symbolizer_t *sym, uint64_t addr, uint64_t pc, sp_frame_t *f)
{
    sym->last_after_ns = 0;
    sym->last_refused = false;
    const sp_perfmap_entry_t *e = sym->perfmap ? sp_perfmap_lookup(sym->perfmap, addr) : NULL;
    if (!e) return false;
    /* Written after the sample: other code ran at addr then. */
    if (sym->as_of_ns && e->written_after_ns > sym->as_of_ns) {
        sym->last_refused = true;
        return false;
    }
    sym->last_after_ns = e->written_after_ns;
    sp_v8name_t js;
    if (sp_v8names_parse(e->name, &js) < 0) return false;
    /* V8's own code: from Node 22 on, V8 copies its embedded builtins next to the JIT code
     * and logs them in the perf map ("Builtin:CEntry_...", "BytecodeHandler:LdaZero").
     * They are native frames named the way node's ELF symbols name them on older nodes
     * ("Builtins_CEntry_...", "Builtins_LdaZeroHandler"), so self time stays with the JS
     * function that called them on every version. */
    bool handler = js.kind_len == 15 && memcmp(js.kind, "BytecodeHandler", 15) == 0;
    if (v8_own_code(&js)) {
        if (!sym->exe[0]) {
            char link[SP_SYM_NAME_MAX];
            snprintf(link, sizeof link, "%s/proc/self/exe", sym->maps_root ? sym->maps_root : "");
            ssize_t n = readlink(link, sym->exe, sizeof sym->exe - 1);
            if (n > 0) sym->exe[n] = '\0';
            else snprintf(sym->exe, sizeof sym->exe, "node");
        }
        snprintf(sym->func, sizeof sym->func, "Builtins_%.*s%s", (int)js.func_len, js.func,
                 handler ? "Handler" : "");
        f->function = sym->func;
        f->kind = SP_FRAME_NATIVE;
        f->instruction_addr = pc;
        f->abs_path = sym->exe;
        f->module = base_name(sym->exe);
        return true;
    }
    bool regexp = js.kind_len == 6 && memcmp(js.kind, "RegExp", 6) == 0;
    if (regexp) { /* "RegExp: <source>", the way Sentry's Node profiler names them */
        while (js.func_len && js.func[0] == ' ') js.func++, js.func_len--;
        snprintf(sym->func, sizeof sym->func, "RegExp: %.*s", (int)js.func_len, js.func);
    } else {
        snprintf(sym->func, sizeof sym->func, "%.*s", (int)js.func_len, js.func);
    }
    f->function = sym->func;
    if (js.file) {
        script_path(js.file, js.file_len, sym->path, sizeof sym->path);
        f->abs_path = sym->path;
        f->in_app = js_in_app(sym->path);
    } else {
        f->in_app = false;
    }
    f->lineno = js.line;
    f->colno = js.col;
    return true;
}

void sp_symbolizer_js_frame(sp_symbolizer_t *sym, const char *function, const char *script,
                            int lineno, int colno, sp_frame_t *f)
{
    memset(f, 0, sizeof *f);
    snprintf(sym->func, sizeof sym->func, "%s", function);
    f->function = sym->func;
    if (script) {
        script_path(script, strlen(script), sym->path, sizeof sym->path);
        f->abs_path = sym->path;
        f->in_app = js_in_app(sym->path);
    }
    f->lineno = lineno;
    f->colno = colno;
}

/* Whether the anonymous executable mapping m holds V8's copy of its builtins (checked once
 * per mapping of a snapshot), and the address in node's image of the byte at addr. */
static bool builtins_copy(sp_symbolizer_t *sym, const sp_mapping_t *m, uint64_t addr,
                          uint64_t *in_image)
{
    size_t i = 0;
    while (i < sym->ncopies && (sym->copies[i].lo != m->start || sym->copies[i].hi != m->end)) i++;
    if (i == sym->ncopies) {
        if (i == SP_SYM_COPIES)
            i = (size_t)(m->start >> 12) % SP_SYM_COPIES; /* evict one */
        else
            sym->ncopies++;
        uint64_t base;
        if (!sp_v8image_copy_base(m->start, m->end, &base)) base = 0;
        sym->copies[i].lo = m->start, sym->copies[i].hi = m->end, sym->copies[i].base = base;
    }
    uint64_t start, size, base = sym->copies[i].base;
    if (!base || addr < base || !sp_v8image_builtins(&start, &size) || addr - base >= size)
        return false;
    *in_image = start + (addr - base);
    return true;
}

/* Names addr (inside m, a mapping of an ELF file) from that file's symbols; the frame's
 * file and module are the file either way. */
static bool resolve_in_file(sp_symbolizer_t *sym, const sp_mapping_t *m, uint64_t addr,
                            sp_frame_t *f)
{
    snprintf(sym->path, sizeof sym->path, "%s", m->path);
    f->abs_path = sym->path;
    f->module = base_name(sym->path);
    sp_elfsym_t *elf = elf_for(sym, m, addr);
    uint64_t vaddr;
    const char *name;
    if (!elf || !sp_elfsym_to_vaddr(elf, m, addr, &vaddr) ||
        !(name = sp_elfsym_lookup(elf, vaddr, NULL)))
        return false;
    snprintf(sym->func, sizeof sym->func, "%s", name);
    f->function = sym->func;
    return true;
}

bool sp_symbolizer_resolve(sp_symbolizer_t *sym, uint64_t addr, bool return_addr, sp_frame_t *f)
{
    uint64_t lookup = return_addr && addr ? addr - 1 : addr;
    memset(f, 0, sizeof *f);
    if (resolve_js(sym, lookup, addr, f)) return false;

    f->kind = SP_FRAME_NATIVE;
    f->instruction_addr = addr;
    const sp_mapping_t *m = find_mapping(sym, lookup);
    uint64_t in_image;
    if (m && !m->path[0] && m->exec && builtins_copy(sym, m, lookup, &in_image)) {
        /* V8's copy of its builtins: named from node's own, at the copy's address. */
        const sp_mapping_t *im = find_mapping(sym, in_image);
        if (im && im->path[0] == '/' && resolve_in_file(sym, im, in_image, f)) return true;
        f->abs_path = NULL;
        m = find_mapping(sym, lookup); /* the snapshot may be a new one */
    }
    if (m && m->path[0] == '/') {
        /* JIT code never lands in a file mapping: an ELF symbol is final. */
        if (resolve_in_file(sym, m, lookup, f)) return true;
    } else if (m && m->path[0]) {
        f->module = m->path; /* [vdso], [heap], ... */
    } else {
        f->module = m ? "[anon]" : "[unknown]";
    }
    snprintf(sym->func, sizeof sym->func, "0x%" PRIx64, addr);
    f->function = sym->func;
    return false;
}

bool sp_symbolizer_resolve_perf_map(sp_symbolizer_t *sym, uint64_t addr, bool return_addr,
                                    sp_frame_t *f)
{
    memset(f, 0, sizeof *f);
    if (resolve_js(sym, return_addr && addr ? addr - 1 : addr, addr, f)) return true;
    memset(f, 0, sizeof *f);
    return false;
}

/* The perf map's entry for the code at addr, parsed into *js; NULL when none parses. */
static const sp_perfmap_entry_t *js_entry(sp_symbolizer_t *sym, uint64_t addr, bool return_addr,
                                          sp_v8name_t *js)
{
    const sp_perfmap_entry_t *e =
        sym->perfmap ? sp_perfmap_lookup(sym->perfmap, return_addr && addr ? addr - 1 : addr)
                     : NULL;
    return e && sp_v8names_parse(e->name, js) == 0 ? e : NULL;
}

static void js_extent(const sp_perfmap_entry_t *e, uint64_t *start, uint64_t *size,
                      uint64_t *written_after_ns)
{
    if (start) *start = e->start;
    if (size) *size = e->size;
    if (written_after_ns) *written_after_ns = e->written_after_ns;
}

char sp_symbolizer_js_code(sp_symbolizer_t *sym, uint64_t addr, bool return_addr, uint64_t *start,
                           uint64_t *size, uint64_t *written_after_ns)
{
    sp_v8name_t js;
    const sp_perfmap_entry_t *e = js_entry(sym, addr, return_addr, &js);
    if (!e) return 0;
    js_extent(e, start, size, written_after_ns);
    return js.tier;
}

bool sp_symbolizer_is_js(sp_symbolizer_t *sym, uint64_t addr, bool return_addr, char *tier,
                         uint64_t *start, uint64_t *size, uint64_t *written_after_ns)
{
    sp_v8name_t js;
    const sp_perfmap_entry_t *e = js_entry(sym, addr, return_addr, &js);
    if (!e || v8_own_code(&js)) return false; /* resolve_js names these as native frames */
    *tier = js.tier;
    js_extent(e, start, size, written_after_ns);
    return true;
}

char sp_symbolizer_js_tier(sp_symbolizer_t *sym, uint64_t addr, bool return_addr)
{
    return sp_symbolizer_js_code(sym, addr, return_addr, NULL, NULL, NULL);
}

uint64_t sp_symbolizer_generation(const sp_symbolizer_t *sym) { return sym->generation; }
uint64_t sp_symbolizer_perf_map_behind(const sp_symbolizer_t *sym) { return sp_perfmap_behind(sym->perfmap); }
uint64_t sp_symbolizer_perf_map_read(const sp_symbolizer_t *sym) { return sp_perfmap_offset(sym->perfmap); }

