/* symbolize: owns the perf map reader, the /proc/self/maps snapshot and one ELF symbol
 * table per mapped file (opened on first use, kept for the process lifetime, at most
 * SP_SYM_MAX_ELF of them). Background thread only. */
#include "symbolize.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "elfsym.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "perfmap.h"
#include "v8decode.h"

#define SP_SYM_MAX_ELF 512
#define SP_SYM_NAME_MAX 1024
#define SP_SYM_CACHE_BITS 14 /* 2^14 resolved addresses kept; the table is cleared when full */
#define SP_SYM_CACHE_SLOTS (1u << SP_SYM_CACHE_BITS)
#define SP_SYM_PRUNE_GROWTH 20000 /* perf map entries added since the last prune that trigger one */

typedef struct {
    char *path;
    sp_elfsym_t *elf; /* NULL: not an ELF we can read (remembered, not retried) */
} elf_entry_t;

/* A resolved address: the frame with its strings, session key and JSON text, owned by
 * the cache. An entry is live while its epoch is the cache's and, unless it is stable (a
 * frame of an ELF file: JIT code never lands in a file mapping), its generation too; a
 * dead entry is an empty slot whose memory is freed when the slot is reused. So forgetting
 * is O(1): no walk over the table, no page of it touched. */
typedef struct {
    uint64_t tag; /* addr << 1 | return_addr; 0 = never used */
    uint32_t epoch, generation;
    bool stable;
    sp_frame_t f;
    char *strings; /* function, abs_path, module and key, back to back */
} cache_entry_t;

struct sp_symbolizer {
    cache_entry_t *cache; /* open addressing; most samples repeat a few hundred addresses */
    size_t cache_used; /* entries added in this epoch */
    uint32_t epoch;      /* bumped to forget every entry (the table is half full) */
    uint32_t generation; /* bumped when the perf map changed: JIT-derived entries are stale */
    bool resolved_stable; /* set by resolve_uncached: the frame came from an ELF file */
    sp_perfmap_t *perfmap;
    char *maps_root;
    sp_procmaps_t *maps;
    bool maps_fresh; /* re-read at most once per refresh cycle */
    size_t count_at_prune; /* perf map size after the last prune */
    elf_entry_t elfs[SP_SYM_MAX_ELF];
    size_t nelfs;
    char func[SP_SYM_NAME_MAX];
    char path[SP_SYM_NAME_MAX];
    char exe[SP_SYM_NAME_MAX]; /* the executable, for V8 builtins named by the perf map */
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

static void entry_release(cache_entry_t *e)
{
    sp_mem_free(e->strings);
    sp_mem_free((char *)e->f.json);
    e->strings = NULL;
    e->f.json = NULL;
}

static bool entry_live(const sp_symbolizer_t *sym, const cache_entry_t *e)
{
    return e->tag && e->epoch == sym->epoch && (e->stable || e->generation == sym->generation);
}

/* New JIT code may now sit where cached addresses pointed: forget what the perf map said. */
static void cache_new_generation(sp_symbolizer_t *sym) { sym->generation++; }

static void cache_new_epoch(sp_symbolizer_t *sym)
{
    sym->epoch++;
    sym->generation++;
    sym->cache_used = 0;
}

void sp_symbolizer_free(sp_symbolizer_t *sym)
{
    if (!sym) return;
    if (sym->cache)
        for (size_t i = 0; i < SP_SYM_CACHE_SLOTS; i++) entry_release(&sym->cache[i]);
    sp_mem_free(sym->cache);
    sp_perfmap_free(sym->perfmap);
    sp_procmaps_free(sym->maps);
    for (size_t i = 0; i < sym->nelfs; i++) {
        sp_elfsym_free(sym->elfs[i].elf);
        sp_mem_free(sym->elfs[i].path);
    }
    sp_mem_free(sym->maps_root);
    sp_mem_free(sym);
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
        cache_new_generation(sym);
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
        cache_new_generation(sym);
    }
    /* Worker churn leaves the entries of dead isolates behind; drop those whose code pages
     * are gone, once enough have been added to make it worth a /proc read. */
    size_t n = sp_perfmap_count(sym->perfmap);
    if (n >= sym->count_at_prune + SP_SYM_PRUNE_GROWTH) {
        sp_procmaps_free(sym->maps);
        sym->maps = sp_procmaps_read(sym->maps_root, 0);
        sym->maps_fresh = true;
        cache_new_generation(sym);
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
    if (!m && !sym->maps_fresh) { /* a library loaded since the last snapshot */
        sp_procmaps_free(sym->maps);
        sym->maps = sp_procmaps_read(sym->maps_root, 0);
        sym->maps_fresh = true;
        m = sym->maps ? sp_procmaps_find(sym->maps, addr) : NULL;
    }
    return m;
}

static sp_elfsym_t *elf_for(sp_symbolizer_t *sym, const char *path)
{
    for (size_t i = 0; i < sym->nelfs; i++)
        if (strcmp(sym->elfs[i].path, path) == 0) return sym->elfs[i].elf;
    if (sym->nelfs == SP_SYM_MAX_ELF) return NULL;
    elf_entry_t *e = &sym->elfs[sym->nelfs];
    e->path = sp_mem_strdup(path);
    if (!e->path) return NULL;
    e->elf = sp_elfsym_open(path);
    sym->nelfs++;
    return e->elf;
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

static bool resolve_js(sp_symbolizer_t *sym, uint64_t addr, uint64_t pc, sp_frame_t *f)
{
    if (!sym->perfmap) return false;
    const sp_perfmap_entry_t *e = sp_perfmap_lookup(sym->perfmap, addr);
    if (!e) return false;
    sp_jsname_t js;
    if (sp_jsname_parse(e->name, &js) < 0) return false;
    /* V8's own code: from Node 22 on, V8 copies its embedded builtins next to the JIT code
     * and logs them in the perf map ("Builtin:CEntry_...", "BytecodeHandler:LdaZero").
     * They are native frames named the way node's ELF symbols name them on older nodes
     * ("Builtins_CEntry_...", "Builtins_LdaZeroHandler"), so self time stays with the JS
     * function that called them on every version. */
    bool builtin = js.kind_len == 7 && memcmp(js.kind, "Builtin", 7) == 0;
    bool handler = js.kind_len == 15 && memcmp(js.kind, "BytecodeHandler", 15) == 0;
    if (builtin || handler) {
        if (!sym->exe[0]) {
            ssize_t n = readlink("/proc/self/exe", sym->exe, sizeof sym->exe - 1);
            if (n > 0) sym->exe[n] = '\0';
            else snprintf(sym->exe, sizeof sym->exe, "node");
        }
        snprintf(sym->func, sizeof sym->func, "Builtins_%.*s%s", (int)js.func_len, js.func,
                 handler ? "Handler" : "");
        f->function = sym->func;
        f->native = true;
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

static void resolve_uncached(sp_symbolizer_t *sym, uint64_t addr, bool return_addr, sp_frame_t *f);

/* Copies f (strings included) into a cache slot and points f at the copies. */
static void cache_put(sp_symbolizer_t *sym, cache_entry_t *e, uint64_t tag, sp_frame_t *f)
{
    char key[2048];
    size_t key_len = sp_session_frame_key(f, key, sizeof key);
    size_t lf = strlen(f->function) + 1, lp = f->abs_path ? strlen(f->abs_path) + 1 : 0,
           lm = f->module ? strlen(f->module) + 1 : 0;
    char *p = sp_mem_alloc(lf + lp + lm + key_len + 1);
    if (!p) return;
    entry_release(e); /* a dead entry's memory goes when its slot is reused */
    e->strings = p;
    e->tag = tag;
    e->epoch = sym->epoch;
    e->generation = sym->generation;
    e->stable = sym->resolved_stable;
    e->f = *f;
    e->f.function = memcpy(p, f->function, lf);
    p += lf;
    e->f.abs_path = f->abs_path ? memcpy(p, f->abs_path, lp) : NULL;
    p += lp;
    e->f.module = f->module ? memcpy(p, f->module, lm) : NULL;
    p += lm;
    memcpy(p, key, key_len);
    p[key_len] = '\0';
    e->f.key = p;
    e->f.key_len = key_len;
    json_t *o = sp_session_frame_json(&e->f); /* built and dumped once, copied into profiles */
    e->f.json = o ? sp_json_dump(o, SP_JSON_DUMP_FLAGS, &e->f.json_len) : NULL;
    json_decref(o);
    sym->cache_used++;
    *f = e->f;
}

void sp_symbolizer_resolve(sp_symbolizer_t *sym, uint64_t addr, bool return_addr, sp_frame_t *f)
{
    uint64_t tag = addr << 1 | (return_addr ? 1 : 0);
    if (!sym->cache) {
        /* Written once now: left to zero pages, every first probe of a page would fault
         * twice (read, then a write that flushes the TLB of every CPU running node). */
        sym->cache = sp_mem_alloc(SP_SYM_CACHE_SLOTS * sizeof *sym->cache);
        if (sym->cache) memset(sym->cache, 0, SP_SYM_CACHE_SLOTS * sizeof *sym->cache);
    }
    if (!sym->cache || !tag) {
        resolve_uncached(sym, addr, return_addr, f);
        return;
    }
    if (sym->cache_used * 2 >= SP_SYM_CACHE_SLOTS) cache_new_epoch(sym); /* keep probes short */
    /* The first live entry of tag, or the first dead slot: a live copy of tag further on
     * (left when this slot died) resolves the same way, so stopping here is safe. */
    /* Fibonacci hashing: the top SP_SYM_CACHE_BITS bits of the product index the table. */
    size_t i = (size_t)((tag * 0x9e3779b97f4a7c15ull) >> (64 - SP_SYM_CACHE_BITS));
    while (entry_live(sym, &sym->cache[i]) && sym->cache[i].tag != tag) i = (i + 1) & (SP_SYM_CACHE_SLOTS - 1);
    if (entry_live(sym, &sym->cache[i])) {
        *f = sym->cache[i].f;
        return;
    }
    resolve_uncached(sym, addr, return_addr, f);
    cache_put(sym, &sym->cache[i], tag, f);
}

static void resolve_uncached(sp_symbolizer_t *sym, uint64_t addr, bool return_addr, sp_frame_t *f)
{
    uint64_t lookup = return_addr && addr ? addr - 1 : addr;
    memset(f, 0, sizeof *f); /* key and json stay NULL: only cache entries carry them */
    sym->resolved_stable = false;
    const sp_v8fn_t *v8 = sp_v8decode_lookup(addr); /* named from V8's frame slots */
    if (v8) {
        snprintf(sym->func, sizeof sym->func, "%s", v8->function);
        f->function = sym->func;
        if (v8->script) {
            script_path(v8->script, strlen(v8->script), sym->path, sizeof sym->path);
            f->abs_path = sym->path;
            f->in_app = js_in_app(sym->path);
        }
        f->lineno = v8->lineno;
        f->colno = v8->colno;
        sym->resolved_stable = true; /* a synthetic address never changes meaning */
        return;
    }
    if (resolve_js(sym, lookup, addr, f)) return;

    f->native = true;
    f->instruction_addr = addr;
    const sp_mapping_t *m = find_mapping(sym, lookup);
    if (m && m->path[0] == '/') {
        snprintf(sym->path, sizeof sym->path, "%s", m->path);
        f->abs_path = sym->path;
        f->module = base_name(sym->path);
        sp_elfsym_t *elf = elf_for(sym, m->path);
        uint64_t vaddr;
        const char *name;
        if (elf && sp_elfsym_to_vaddr(elf, m, lookup, &vaddr) &&
            (name = sp_elfsym_lookup(elf, vaddr, NULL))) {
            snprintf(sym->func, sizeof sym->func, "%s", name);
            f->function = sym->func;
            sym->resolved_stable = true;
            return;
        }
    } else if (m && m->path[0]) {
        f->module = m->path; /* [vdso], [heap], ... */
    } else {
        f->module = m ? "[anon]" : "[unknown]";
    }
    snprintf(sym->func, sizeof sym->func, "0x%" PRIx64, addr);
    f->function = sym->func;
}

uint64_t sp_symbolizer_generation(const sp_symbolizer_t *sym) { return sym->generation; }

void sp_symbolizer_forget(sp_symbolizer_t *sym)
{
    if (sym) cache_new_generation(sym);
}

