/* frames: owns the frame table (each distinct frame's JSON text, by id) and the app's
 * module base the JS module names are derived from. Frames are told apart by their JSON
 * text, so two frames share an id only when a profile could not tell them apart anyway.
 * The table is emptied (a new epoch) when it reaches SP_FRAMES_MAX frames, so JIT churn
 * cannot grow it without bound. Background (agent) thread only. */
#include "frames.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "intern.h"
#include "json.h"
#include "mem.h"

#define SP_FRAMES_MAX 16384 /* frames kept before the table starts over (sp_frames_trim) */

typedef struct {
    char *json;
    size_t len;
    uint64_t hash;
} entry_t;

struct sp_frames {
    entry_t *entries; /* by id */
    size_t count, entries_cap;
    uint32_t *slots; /* open addressing, id + 1 (0: empty); at most half full */
    size_t slots_cap; /* power of two */
    uint32_t epoch;
    char module_base[1024]; /* "" until the JS helper hands over dirname(process.argv[1]) */
};

sp_frames_t *sp_frames_new(void) { return sp_mem_calloc(1, sizeof(sp_frames_t)); }

static void clear(sp_frames_t *ft)
{
    for (size_t i = 0; i < ft->count; i++) sp_mem_free(ft->entries[i].json);
    ft->count = 0;
    if (ft->slots) memset(ft->slots, 0, ft->slots_cap * sizeof *ft->slots);
    ft->epoch++;
}

void sp_frames_free(sp_frames_t *ft)
{
    if (!ft) return;
    clear(ft);
    sp_mem_free(ft->entries);
    sp_mem_free(ft->slots);
    sp_mem_free(ft);
}

size_t sp_frames_count(const sp_frames_t *ft) { return ft->count; }
uint32_t sp_frames_epoch(const sp_frames_t *ft) { return ft->epoch; }

bool sp_frames_trim(sp_frames_t *ft)
{
    if (ft->count < SP_FRAMES_MAX) return false;
    clear(ft);
    return true;
}

const char *sp_frames_json(const sp_frames_t *ft, uint32_t id, size_t *len)
{
    if (id >= ft->count) return NULL;
    *len = ft->entries[id].len;
    return ft->entries[id].json;
}

void sp_frames_set_module_base(sp_frames_t *ft, const char *dir)
{
    snprintf(ft->module_base, sizeof ft->module_base, "%s", dir ? dir : "");
    size_t n = strlen(ft->module_base);
    while (n > 1 && ft->module_base[n - 1] == '/') ft->module_base[--n] = '\0';
    clear(ft);
}

/* Sentry's `module` for a script path, as @sentry/node's stack parser derives it for the
 * same frame of an error event (createGetModuleFromFilename, base = dirname(argv[1])):
 * ".../node_modules/@scope/pkg/lib/x.js" -> "@scope.pkg.lib:x"; a file under the base
 * "<base>/src/x.js" -> "src:x", "<base>/x.js" -> "x"; anything else, node's own modules
 * included, its file name ("node:internal/modules/cjs/loader" -> "loader"). Only .js, .mjs
 * and .cjs lose their extension. Without a base (no helper), the whole directory is dotted
 * ("/srv/app/x.js" -> "srv.app:x"), as before the helper says where the app lives. */
static void js_module_name(const char *path, const char *module_base, char *out, size_t len)
{
    const char *p = path, *nm = NULL;
    if (strncmp(p, "file://", 7) == 0) p += 7;
    const char *slash = strrchr(p, '/');
    const char *base = slash ? slash + 1 : p;
    const char *dot = strrchr(base, '.');
    size_t base_len = strlen(base);
    if (dot && (strcmp(dot, ".js") == 0 || strcmp(dot, ".mjs") == 0 || strcmp(dot, ".cjs") == 0))
        base_len = (size_t)(dot - base);
    const char *dir_end = slash ? slash : p; /* the directory is [p, dir_end) */
    for (const char *q = p; (q = strstr(q, "/node_modules")) && q < dir_end; q++) nm = q;
    const char *d = NULL; /* the dotted part of the directory, [d, dir_end) */
    if (nm) {
        d = nm + strlen("/node_modules");
        if (d < dir_end && *d == '/') d++;
    } else if (module_base[0]) {
        size_t bl = strlen(module_base);
        if ((size_t)(dir_end - p) >= bl && strncmp(p, module_base, bl) == 0 &&
            (p + bl == dir_end || p[bl] == '/' || strcmp(module_base, "/") == 0))
            d = p + bl + (p + bl < dir_end && p[bl] == '/' ? 1 : 0);
        else
            d = dir_end; /* outside the app: the file name alone */
    } else {
        d = p;
        if (strncmp(d, "node:", 5) != 0)
            while (d < dir_end && *d == '/') d++;
    }
    size_t o = 0;
    for (const char *c = d; c < dir_end && o + 1 < len; c++) out[o++] = *c == '/' ? '.' : *c;
    if (o < len) out[o] = '\0';
    size_t at = o < len ? o : len - 1;
    snprintf(out + at, len - at, "%s%.*s", d < dir_end ? ":" : "", (int)base_len, base);
}

/* The frame object as written into a profile, as compact JSON text (sp_mem), or NULL. */
static char *frame_json(const sp_frames_t *ft, const sp_frame_t *f, size_t *len)
{
    bool native = f->kind == SP_FRAME_NATIVE;
    char module_buf[512];
    const char *module = f->module;
    if (!module && !native && f->abs_path && *f->abs_path) {
        js_module_name(f->abs_path, ft->module_base, module_buf, sizeof module_buf);
        module = module_buf;
    }
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "function", sp_json_string_utf8(f->function));
    if (f->abs_path && *f->abs_path) {
        json_object_set_new(o, "abs_path", sp_json_string_utf8(f->abs_path));
        json_object_set_new(o, "filename", sp_json_string_utf8(f->abs_path));
    }
    if (module && *module) json_object_set_new(o, "module", sp_json_string_utf8(module));
    if (f->lineno > 0) json_object_set_new(o, "lineno", json_integer(f->lineno));
    if (f->colno > 0) json_object_set_new(o, "colno", json_integer(f->colno));
    if (native && f->instruction_addr) {
        char addr[24];
        snprintf(addr, sizeof addr, "0x%" PRIx64, f->instruction_addr);
        json_object_set_new(o, "instruction_addr", json_string(addr));
    }
    json_object_set_new(o, "in_app", json_boolean(f->in_app));
    json_object_set_new(o, "platform", json_string(native ? "native" : "node"));
    char *text = sp_json_dump(o, SP_JSON_DUMP_FLAGS, len);
    json_decref(o);
    return text;
}

/* The slot holding text (hash h), or the empty slot where it would go. */
static size_t find_slot(const sp_frames_t *ft, uint64_t h, const char *text, size_t len)
{
    size_t i = h & (ft->slots_cap - 1);
    for (uint32_t v; (v = ft->slots[i]); i = (i + 1) & (ft->slots_cap - 1)) {
        const entry_t *e = &ft->entries[v - 1];
        if (e->hash == h && e->len == len && memcmp(e->json, text, len) == 0) break;
    }
    return i;
}

/* Room for one more frame: entries and a table at most half full after the insertion. */
static int reserve(sp_frames_t *ft)
{
    if (ft->count == ft->entries_cap) {
        size_t ncap = ft->entries_cap ? ft->entries_cap * 2 : 256;
        entry_t *ne = sp_mem_realloc(ft->entries, ncap * sizeof *ne);
        if (!ne) return -1;
        ft->entries = ne;
        ft->entries_cap = ncap;
    }
    if ((ft->count + 1) * 2 <= ft->slots_cap) return 0;
    size_t ncap = ft->slots_cap ? ft->slots_cap * 2 : 512;
    uint32_t *ns = sp_mem_calloc(ncap, sizeof *ns);
    if (!ns) return -1;
    for (size_t id = 0; id < ft->count; id++) {
        size_t i = ft->entries[id].hash & (ncap - 1);
        while (ns[i]) i = (i + 1) & (ncap - 1);
        ns[i] = (uint32_t)id + 1;
    }
    sp_mem_free(ft->slots);
    ft->slots = ns;
    ft->slots_cap = ncap;
    return 0;
}

long sp_frames_intern(sp_frames_t *ft, const sp_frame_t *f)
{
    size_t len;
    char *text = frame_json(ft, f, &len);
    if (!text) return -1;
    if (reserve(ft) < 0) {
        sp_mem_free(text);
        return -1;
    }
    uint64_t h = sp_intern_hash(text, len);
    size_t i = find_slot(ft, h, text, len);
    if (ft->slots[i]) {
        sp_mem_free(text);
        return (long)ft->slots[i] - 1;
    }
    ft->entries[ft->count] = (entry_t){.json = text, .len = len, .hash = h};
    ft->slots[i] = (uint32_t)++ft->count;
    return (long)ft->count - 1;
}
