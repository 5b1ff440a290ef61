/* debugid: owns the table of script path -> source-map debug id. JS threads write it
 * (sp_debugid_set), the agent thread reads it when it builds a profile; a mutex guards it
 * (never taken in a signal handler). A table entry is never removed: bundles stay loaded.
 * A profile gets an image for each known script its frames name, found by the exact
 * "abs_path":"<path>" text the session wrote (few bundles, one search each). */
#ifndef _GNU_SOURCE /* configure may already pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE /* memmem */
#endif
#include "debugid.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "envelope.h"
#include "mem.h"

typedef struct {
    char *path;
    char *needle; /* "abs_path":<path as JSON> */
    size_t needle_len;
    char id[37];
} entry_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry_t table[SP_DEBUGID_MAX];
static size_t count;

/* 32 hex digits, optionally dashed 8-4-4-4-12: lowercased into out. */
static bool valid_id(const char *id, char out[37])
{
    size_t n = strlen(id), hex = 0;
    if (n != 32 && n != 36) return false;
    for (size_t i = 0; i < n; i++) {
        bool dash_pos = n == 36 && (i == 8 || i == 13 || i == 18 || i == 23);
        if (dash_pos ? id[i] != '-' : !isxdigit((unsigned char)id[i])) return false;
        hex += !dash_pos;
        out[i] = (char)tolower((unsigned char)id[i]);
    }
    out[n] = '\0';
    return hex == 32;
}

int sp_debugid_set(const char *path, const char *debug_id)
{
    char id[37];
    if (!path || !*path || !debug_id || !valid_id(debug_id, id)) return -EINVAL;
    json_t *js = json_string(path);
    size_t jl = 0;
    char *jp = js ? sp_envelope_json_dump(js, JSON_ENCODE_ANY | SP_ENVELOPE_DUMP_FLAGS, &jl) : NULL;
    json_decref(js);
    if (!jp) return -EINVAL; /* not UTF-8 */
    int rc = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < count; i++)
        if (strcmp(table[i].path, path) == 0) {
            memcpy(table[i].id, id, sizeof id); /* a rebuilt bundle at the same path */
            goto out;
        }
    if (count == SP_DEBUGID_MAX) {
        rc = -ENOSPC;
        goto out;
    }
    static const char key[] = "\"abs_path\":";
    entry_t *e = &table[count];
    e->path = sp_mem_strdup(path);
    e->needle = sp_mem_alloc(sizeof key + jl);
    if (!e->path || !e->needle) {
        sp_mem_free(e->path);
        sp_mem_free(e->needle);
        e->path = e->needle = NULL;
        rc = -ENOMEM;
        goto out;
    }
    memcpy(e->needle, key, sizeof key - 1);
    memcpy(e->needle + sizeof key - 1, jp, jl);
    e->needle_len = sizeof key - 1 + jl;
    e->needle[e->needle_len] = '\0';
    memcpy(e->id, id, sizeof id);
    count++;
out:
    pthread_mutex_unlock(&lock);
    sp_mem_free(jp);
    return rc;
}

/* Whether text holds needle followed by a JSON delimiter (not a longer path). */
static bool names(const char *text, size_t len, const char *needle, size_t nl)
{
    const char *p = text, *end = text + len;
    while (p < end && (p = memmem(p, (size_t)(end - p), needle, nl))) {
        const char *after = p + nl;
        if (after == end || *after == ',' || *after == '}') return true;
        p++;
    }
    return false;
}

json_t *sp_debugid_images(const char *frames_text, size_t len)
{
    json_t *images = json_array();
    if (!images) return NULL;
    if (!frames_text || !len) return images;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < count; i++) {
        const entry_t *e = &table[i];
        if (!names(frames_text, len, e->needle, e->needle_len)) continue;
        json_array_append_new(images, json_pack("{s:s, s:s, s:s}", "type", "sourcemap", "code_file", e->path,
                                                "debug_id", e->id));
    }
    pthread_mutex_unlock(&lock);
    return images;
}

void sp_debugid_reset(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < count; i++) {
        sp_mem_free(table[i].path);
        sp_mem_free(table[i].needle);
        table[i].path = table[i].needle = NULL;
    }
    count = 0;
    pthread_mutex_unlock(&lock);
}
