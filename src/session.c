/* session: owns one chunk's frames, stacks, samples and thread table. Frames are keyed by
 * every field that is written out, so two frames are merged only when the profile could not
 * tell them apart anyway. Background thread only. */
#include "session.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "intern.h"
#include "mem.h"

#define SP_SESSION_MAX_THREADS 1024

/* Comma-separated JSON values, growing. */
typedef struct {
    char *buf;
    size_t len, cap, count;
} text_t;

/* Frame index by code address (tag: addr << 1 | return_addr), so each address of a session
 * is symbolized and its key hashed once, not once per sample. */
typedef struct {
    uint64_t tag; /* 0: empty */
    uint32_t index;
} addr_slot_t;

struct sp_session {
    addr_slot_t *addrs;
    size_t addrs_cap, addrs_used; /* power of two; at most half full */
    sp_intern_t *frame_keys, *stack_keys;
    text_t frames, stacks;
    json_t *threads_meta;
    sp_session_sample_t *samples;
    size_t nsamples, cap;
    char *thread_ids[SP_SESSION_MAX_THREADS];
    char *thread_ids_json[SP_SESSION_MAX_THREADS];
    uint32_t nthreads;
};

sp_session_t *sp_session_new(void)
{
    sp_session_t *s = sp_mem_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->frame_keys = sp_intern_new();
    s->stack_keys = sp_intern_new();
    s->threads_meta = json_object();
    if (!s->frame_keys || !s->stack_keys || !s->threads_meta) {
        sp_session_free(s);
        return NULL;
    }
    return s;
}

void sp_session_free(sp_session_t *s)
{
    if (!s) return;
    sp_mem_free(s->addrs);
    sp_intern_free(s->frame_keys);
    sp_intern_free(s->stack_keys);
    sp_mem_free(s->frames.buf);
    sp_mem_free(s->stacks.buf);
    json_decref(s->threads_meta);
    for (uint32_t i = 0; i < s->nthreads; i++) {
        sp_mem_free(s->thread_ids[i]);
        sp_mem_free(s->thread_ids_json[i]);
    }
    sp_mem_free(s->samples);
    sp_mem_free(s);
}

/* Makes room for n more bytes (and a NUL). */
static int text_reserve(text_t *t, size_t n)
{
    if (t->len + n + 1 <= t->cap) return 0;
    size_t ncap = t->cap ? t->cap : 1024;
    while (ncap < t->len + n + 1) ncap *= 2;
    char *b = sp_mem_realloc(t->buf, ncap);
    if (!b) return -1;
    t->buf = b;
    t->cap = ncap;
    return 0;
}

/* Appends one JSON value (with its separating comma). */
static int text_add(text_t *t, const char *v, size_t n)
{
    if (text_reserve(t, n + 1) < 0) return -1;
    if (t->count) t->buf[t->len++] = ',';
    memcpy(t->buf + t->len, v, n);
    t->len += n;
    t->buf[t->len] = '\0';
    t->count++;
    return 0;
}

/* The app's base directory for module names (sp_session_set_module_base): "" until the
 * JS helper hands over dirname(process.argv[1]). Agent thread only. */
static char module_base[1024];

void sp_session_set_module_base(const char *dir)
{
    snprintf(module_base, sizeof module_base, "%s", dir ? dir : "");
    size_t n = strlen(module_base);
    while (n > 1 && module_base[n - 1] == '/') module_base[--n] = '\0';
}

/* Sentry's `module` for a script path, as @sentry/node's stack parser derives it for the
 * same frame of an error event (createGetModuleFromFilename, base = dirname(argv[1])):
 * ".../node_modules/@scope/pkg/lib/x.js" -> "@scope.pkg.lib:x"; a file under the base
 * "<base>/src/x.js" -> "src:x", "<base>/x.js" -> "x"; anything else, node's own modules
 * included, its file name ("node:internal/modules/cjs/loader" -> "loader"). Only .js, .mjs
 * and .cjs lose their extension. Without a base (no helper), the whole directory is dotted
 * ("/srv/app/x.js" -> "srv.app:x"), as before the helper says where the app lives. */
static void js_module_name(const char *path, char *out, size_t len)
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

/* The module written for f: its own, or derived from a script path. */
static const char *frame_module(const sp_frame_t *f, char *buf, size_t len)
{
    if (f->module || f->native || !f->abs_path || !*f->abs_path) return f->module;
    js_module_name(f->abs_path, buf, len);
    return buf;
}

size_t sp_session_frame_key(const sp_frame_t *f, char *key, size_t len)
{
    char module_buf[512];
    const char *module = frame_module(f, module_buf, sizeof module_buf);
    /* The fields as written, separated by a byte that cannot occur in them. */
    int n = snprintf(key, len, "%d\x1f%s\x1f%s\x1f%s\x1f%d\x1f%d\x1f%" PRIx64, f->native,
                     f->function, f->abs_path ? f->abs_path : "", module ? module : "", f->lineno,
                     f->colno, f->native ? f->instruction_addr : 0);
    if (n < 0) return 0;
    return (size_t)n < len ? (size_t)n : len - 1;
}

long sp_session_frame(sp_session_t *s, const sp_frame_t *f)
{
    char key_buf[2048];
    const char *key = f->key;
    size_t key_len = f->key_len;
    if (!key) { /* a symbolizer cache hit brings its key; otherwise build it */
        key_len = sp_session_frame_key(f, key_buf, sizeof key_buf);
        key = key_buf;
    }
    bool added;
    long idx = sp_intern_get(s->frame_keys, key, key_len, &added);
    if (idx < 0 || !added) return idx;

    /* A symbolizer cache hit brings the frame's JSON text too. */
    int rc;
    if (f->json) {
        rc = text_add(&s->frames, f->json, f->json_len);
    } else {
        json_t *o = sp_session_frame_json(f);
        size_t n = 0;
        char *txt = o ? sp_json_dump(o, SP_JSON_DUMP_FLAGS, &n) : NULL;
        json_decref(o);
        rc = txt ? text_add(&s->frames, txt, n) : -1;
        sp_mem_free(txt);
    }
    if (rc < 0) { /* a kept key would give this index to the next frame's text */
        sp_intern_forget_last(s->frame_keys);
        return -1;
    }
    return idx;
}

json_t *sp_session_frame_json(const sp_frame_t *f)
{
    char module_buf[512];
    const char *module = frame_module(f, module_buf, sizeof module_buf);
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "function", json_string(f->function));
    if (f->abs_path && *f->abs_path) {
        json_object_set_new(o, "abs_path", json_string(f->abs_path));
        json_object_set_new(o, "filename", json_string(f->abs_path));
    }
    if (module && *module) json_object_set_new(o, "module", json_string(module));
    if (f->lineno > 0) json_object_set_new(o, "lineno", json_integer(f->lineno));
    if (f->colno > 0) json_object_set_new(o, "colno", json_integer(f->colno));
    if (f->native && f->instruction_addr) {
        char addr[24];
        snprintf(addr, sizeof addr, "0x%" PRIx64, f->instruction_addr);
        json_object_set_new(o, "instruction_addr", json_string(addr));
    }
    json_object_set_new(o, "in_app", json_boolean(f->in_app));
    json_object_set_new(o, "platform", json_string(f->native ? "native" : "node"));
    return o;
}

static size_t addr_slot(const addr_slot_t *a, size_t cap, uint64_t tag)
{
    size_t i = (size_t)((tag * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
    while (a[i].tag && a[i].tag != tag) i = (i + 1) & (cap - 1);
    return i;
}

long sp_session_frame_of_addr(const sp_session_t *s, uint64_t tag)
{
    if (!s->addrs || !tag) return -1;
    const addr_slot_t *e = &s->addrs[addr_slot(s->addrs, s->addrs_cap, tag)];
    return e->tag ? (long)e->index : -1;
}

void sp_session_forget_addrs(sp_session_t *s)
{
    if (s->addrs) memset(s->addrs, 0, s->addrs_cap * sizeof *s->addrs);
    s->addrs_used = 0;
}

void sp_session_remember_addr(sp_session_t *s, uint64_t tag, long index)
{
    if (!tag || index < 0) return;
    if ((s->addrs_used + 1) * 2 > s->addrs_cap) {
        size_t ncap = s->addrs_cap ? s->addrs_cap * 2 : 256;
        addr_slot_t *na = sp_mem_calloc(ncap, sizeof *na);
        if (!na) return; /* only a lost shortcut */
        for (size_t i = 0; i < s->addrs_cap; i++)
            if (s->addrs[i].tag) na[addr_slot(na, ncap, s->addrs[i].tag)] = s->addrs[i];
        sp_mem_free(s->addrs);
        s->addrs = na;
        s->addrs_cap = ncap;
    }
    addr_slot_t *e = &s->addrs[addr_slot(s->addrs, s->addrs_cap, tag)];
    if (!e->tag) s->addrs_used++;
    *e = (addr_slot_t){.tag = tag, .index = (uint32_t)index};
}

long sp_session_stack(sp_session_t *s, const uint32_t *frames, size_t n)
{
    bool added;
    long idx = sp_intern_get(s->stack_keys, frames, n * sizeof *frames, &added);
    if (idx < 0 || !added) return idx;
    /* "[1,2,3]": at most 10 digits and a comma per index */
    if (text_reserve(&s->stacks, n * 11 + 3) < 0) {
        sp_intern_forget_last(s->stack_keys); /* as for frames */
        return -1;
    }
    char *p = s->stacks.buf + s->stacks.len;
    if (s->stacks.count) *p++ = ',';
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i) *p++ = ',';
        char digits[10];
        int k = 0;
        uint32_t v = frames[i];
        do digits[k++] = (char)('0' + v % 10); while ((v /= 10));
        while (k) *p++ = digits[--k];
    }
    *p++ = ']';
    *p = '\0';
    s->stacks.len = (size_t)(p - s->stacks.buf);
    s->stacks.count++;
    return idx;
}

static long thread_index(sp_session_t *s, const char *thread_id, const char *name)
{
    for (uint32_t i = 0; i < s->nthreads; i++)
        if (strcmp(s->thread_ids[i], thread_id) == 0) return i;
    if (s->nthreads == SP_SESSION_MAX_THREADS) return -1;
    char *copy = sp_mem_strdup(thread_id);
    json_t *str = json_string(thread_id);
    size_t n;
    char *enc = str ? sp_json_dump(str, JSON_ENCODE_ANY | SP_JSON_DUMP_FLAGS, &n) : NULL;
    json_decref(str);
    if (!copy || !enc) {
        sp_mem_free(copy);
        sp_mem_free(enc);
        return -1;
    }
    s->thread_ids[s->nthreads] = copy;
    s->thread_ids_json[s->nthreads] = enc;
    json_t *meta = json_object();
    if (name && *name) json_object_set_new(meta, "name", json_string(name));
    json_object_set_new(s->threads_meta, thread_id, meta);
    return s->nthreads++;
}

int sp_session_sample(sp_session_t *s, long stack_id, const char *thread_id, const char *name,
                      uint64_t ts_ns)
{
    if (stack_id < 0) return -EINVAL;
    long t = thread_index(s, thread_id, name);
    if (t < 0) return -ENOMEM;
    if (s->nsamples == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 1024;
        sp_session_sample_t *ns = sp_mem_realloc(s->samples, ncap * sizeof *ns);
        if (!ns) return -ENOMEM;
        s->samples = ns;
        s->cap = ncap;
    }
    s->samples[s->nsamples++] =
        (sp_session_sample_t){.stack_id = (uint32_t)stack_id, .thread = (uint32_t)t, .ts_ns = ts_ns};
    return 0;
}

size_t sp_session_sample_count(const sp_session_t *s) { return s->nsamples; }
uint64_t sp_session_first_ns(const sp_session_t *s) { return s->nsamples ? s->samples[0].ts_ns : 0; }
const char *sp_session_frames_text(const sp_session_t *s, size_t *len)
{
    *len = s->frames.len;
    return s->frames.buf ? s->frames.buf : "";
}
const char *sp_session_stacks_text(const sp_session_t *s, size_t *len)
{
    *len = s->stacks.len;
    return s->stacks.buf ? s->stacks.buf : "";
}
size_t sp_session_frame_count(const sp_session_t *s) { return s->frames.count; }
size_t sp_session_stack_count(const sp_session_t *s) { return s->stacks.count; }
const char *sp_session_thread_id_json(const sp_session_t *s, uint32_t thread)
{
    return thread < s->nthreads ? s->thread_ids_json[thread] : "\"0\"";
}
json_t *sp_session_thread_metadata(const sp_session_t *s) { return s->threads_meta; }
const sp_session_sample_t *sp_session_samples(const sp_session_t *s) { return s->samples; }
