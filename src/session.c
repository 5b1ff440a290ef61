/* session: owns one chunk's frames, stacks, samples and thread table. Frames are keyed by
 * their JSON text (from the frame table), so two frames are merged only when the profile
 * could not tell them apart anyway. Background thread only. */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "intern.h"
#include "json.h"
#include "mem.h"

#define SP_SESSION_MAX_THREADS 1024

/* Comma-separated JSON values, growing. */
typedef struct {
    char *buf;
    size_t len, cap, count;
} text_t;

/* Frame index by frame table id (tag: id + 1), so each frame's text is hashed once a
 * session, not once per sample. */
typedef struct {
    uint32_t tag; /* 0: empty */
    uint32_t index;
} id_slot_t;

struct sp_session {
    id_slot_t *ids;
    size_t ids_cap, ids_used; /* power of two; at most half full */
    uint32_t ids_epoch;       /* the frame table epoch the ids are from */
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
    sp_mem_free(s->ids);
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

/* The session's index of frame id (id + 1 as the tag), or the empty slot where it goes. */
static size_t id_slot(const id_slot_t *a, size_t cap, uint32_t tag)
{
    size_t i = (size_t)((tag * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
    while (a[i].tag && a[i].tag != tag) i = (i + 1) & (cap - 1);
    return i;
}

/* Remembers that frame id maps to index (a lost shortcut when out of memory: the frame's
 * text is found again through frame_keys). */
static void remember_id(sp_session_t *s, uint32_t tag, uint32_t index)
{
    if ((s->ids_used + 1) * 2 > s->ids_cap) {
        size_t ncap = s->ids_cap ? s->ids_cap * 2 : 256;
        id_slot_t *na = sp_mem_calloc(ncap, sizeof *na);
        if (!na) return;
        for (size_t i = 0; i < s->ids_cap; i++)
            if (s->ids[i].tag) na[id_slot(na, ncap, s->ids[i].tag)] = s->ids[i];
        sp_mem_free(s->ids);
        s->ids = na;
        s->ids_cap = ncap;
    }
    id_slot_t *e = &s->ids[id_slot(s->ids, s->ids_cap, tag)];
    if (!e->tag) s->ids_used++;
    *e = (id_slot_t){.tag = tag, .index = index};
}

long sp_session_frame(sp_session_t *s, const sp_frames_t *ft, uint32_t id)
{
    if (s->ids_epoch != sp_frames_epoch(ft)) { /* the ids we remember name other frames now */
        if (s->ids) memset(s->ids, 0, s->ids_cap * sizeof *s->ids);
        s->ids_used = 0;
        s->ids_epoch = sp_frames_epoch(ft);
    }
    uint32_t tag = id + 1;
    if (s->ids) {
        const id_slot_t *e = &s->ids[id_slot(s->ids, s->ids_cap, tag)];
        if (e->tag) return (long)e->index;
    }
    size_t len;
    const char *json = sp_frames_json(ft, id, &len);
    if (!json) return -1;
    /* By text, not by id: a frame the table forgot and took back under another id (a new
     * epoch) keeps its index in this session. */
    bool added;
    long idx = sp_intern_get(s->frame_keys, json, len, &added);
    if (idx < 0) return -1;
    if (added && text_add(&s->frames, json, len) < 0) {
        sp_intern_forget_last(s->frame_keys); /* a kept key would give this index to the next frame's text */
        return -1;
    }
    remember_id(s, tag, (uint32_t)idx);
    return idx;
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
