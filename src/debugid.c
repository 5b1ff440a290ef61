/* debugid: owns the table of script path -> source-map debug id. JS threads write it
 * (sp_debugid_set), the agent thread reads it when it builds a profile; a mutex guards it
 * (never taken in a signal handler). A table entry is never removed: bundles stay loaded.
 * A profile gets an image for each known script its frames name: the exact "abs_path"
 * strings the session wrote, collected in one pass over its frames.
 * Scripts the JS side did not report (a bundle without the plugins' snippet, ESM) are
 * looked at once each, on the agent thread: the app's own .js/.mjs/.cjs files (absolute
 * paths outside node_modules) named by a profile's frames get their last bytes read for a
 * trailing `//# debugId=<uuid>`; at most SP_DEBUGID_CHECKED files, then no more.
 * Native images: each ELF file the symbolizer resolved frames in and that a profile's
 * frames name (the same "abs_path" search), when it has a GNU build id, becomes an image
 * of type "symbolic": the type Relay's profile parser accepts for ELF (its DebugImage enum,
 * relay-profiling/src/debug_image.rs, knows macho, symbolic, sourcemap, proguard and jvm: an
 * "elf" image would fail the whole chunk), with the fields sentry-native's modulefinder
 * gives an ELF image: code_file, image_addr, image_size, debug_id (the build id's first 16
 * bytes as a little-endian GUID) and code_id (the whole build id). A file without a build
 * id gets no image: Relay's schema requires the debug id, and its fallback (a hash of .text)
 * is not computed here. */
#ifndef _GNU_SOURCE /* configure may already pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE /* memmem */
#endif
#include "debugid.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfsym.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "symbolize.h"

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

/* "abs_path":<path as JSON>, the text a frame of path holds (sp_mem), or NULL (not UTF-8). */
static char *needle_of(const char *path, size_t *len)
{
    static const char key[] = "\"abs_path\":";
    json_t *js = json_string(path);
    size_t jl = 0;
    char *jp = js ? sp_json_dump(js, JSON_ENCODE_ANY | SP_JSON_DUMP_FLAGS, &jl) : NULL;
    json_decref(js);
    char *n = jp ? sp_mem_alloc(sizeof key + jl) : NULL;
    if (n) {
        memcpy(n, key, sizeof key - 1);
        memcpy(n + sizeof key - 1, jp, jl);
        *len = sizeof key - 1 + jl;
        n[*len] = '\0';
    }
    sp_mem_free(jp);
    return n;
}

int sp_debugid_set(const char *path, const char *debug_id)
{
    char id[37];
    if (!path || !*path || !debug_id || !valid_id(debug_id, id)) return -EINVAL;
    size_t nl = 0;
    char *needle = needle_of(path, &nl);
    if (!needle) return -EINVAL; /* not UTF-8, or ENOMEM */
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
    entry_t *e = &table[count];
    if (!(e->path = sp_mem_strdup(path))) {
        rc = -ENOMEM;
        goto out;
    }
    e->needle = needle;
    needle = NULL;
    e->needle_len = nl;
    memcpy(e->id, id, sizeof id);
    count++;
out:
    pthread_mutex_unlock(&lock);
    sp_mem_free(needle);
    return rc;
}

/* The distinct "abs_path" strings of a profile's frames, as JSON string contents (escapes
 * kept), found in one pass: a profile names a few dozen files in thousands of frames, and
 * a search of the whole text per known file and per ELF image was 3% of the agent's CPU. */
typedef struct {
    const char *p;
    size_t n;
} path_span_t;
typedef struct {
    path_span_t *at;
    size_t n, cap;
} paths_t;

/* false when out of memory (then the paths found so far). */
static bool named_paths(const char *text, size_t len, paths_t *out)
{
    static const char key[] = "\"abs_path\":\"";
    const char *p = text, *end = text + len;
    while (p < end && (p = memmem(p, (size_t)(end - p), key, sizeof key - 1))) {
        p += sizeof key - 1;
        const char *q = p;
        while (q < end && *q != '"') q += *q == '\\' ? 2 : 1;
        if (q >= end) break;
        size_t n = (size_t)(q - p), i = out->n;
        /* the file of the frame before first: a function's neighbours share it */
        if (!(i && out->at[i - 1].n == n && memcmp(out->at[i - 1].p, p, n) == 0))
            for (i = 0; i < out->n && (out->at[i].n != n || memcmp(out->at[i].p, p, n) != 0); i++)
                ;
        if (i == out->n) {
            if (out->n == out->cap) {
                size_t cap = out->cap ? 2 * out->cap : 64;
                void *at = sp_mem_realloc(out->at, cap * sizeof *out->at);
                if (!at) return false;
                out->at = at;
                out->cap = cap;
            }
            out->at[out->n].p = p;
            out->at[out->n++].n = n;
        }
        p = q + 1;
    }
    return true;
}

/* Whether the frames name the file whose needle ("abs_path":<path as JSON>) this is. */
static bool names(const paths_t *paths, const char *needle, size_t nl)
{
    static const char key[] = "\"abs_path\":\"";
    if (nl < sizeof key) return false;
    const char *c = needle + sizeof key - 1;
    size_t n = nl - (sizeof key - 1) - 1; /* the content, without its closing quote */
    for (size_t i = 0; i < paths->n; i++)
        if (paths->at[i].n == n && memcmp(paths->at[i].p, c, n) == 0) return true;
    return false;
}

#define SP_DEBUGID_IMAGES  512 /* ELF images whose needle is kept (the symbolizer's max) */
#define SP_DEBUGID_CHECKED 4096 /* script files looked at for a trailing debugId comment */
#define SP_DEBUGID_TAIL 256      /* bytes read from a script's end */

/* Paths already looked at (agent thread only): open addressing, twice the cap. */
static char *checked[SP_DEBUGID_CHECKED * 2];
static size_t nchecked;

static uint64_t hash(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    return h;
}

/* true the first time path (n bytes) is seen; false when seen before or the set is full. */
static bool first_look(const char *p, size_t n)
{
    size_t cap = sizeof checked / sizeof *checked, i = (size_t)(hash(p, n) & (cap - 1));
    while (checked[i]) {
        if (strlen(checked[i]) == n && memcmp(checked[i], p, n) == 0) return false;
        i = (i + 1) & (cap - 1);
    }
    if (nchecked >= SP_DEBUGID_CHECKED) return false;
    if (!(checked[i] = sp_mem_alloc(n + 1))) return false;
    memcpy(checked[i], p, n);
    checked[i][n] = '\0';
    nchecked++;
    return true;
}

static bool script_of_app(const char *p, size_t n)
{
    static const char *const ext[] = {".js", ".mjs", ".cjs"};
    if (n < 4 || p[0] != '/' || memmem(p, n, "/node_modules/", 14)) return false;
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t el = strlen(ext[i]);
        if (n > el && memcmp(p + n - el, ext[i], el) == 0) return true;
    }
    return false;
}

/* The debug id a script's last bytes name (`//# debugId=<uuid>` then only whitespace). */
static void look_at_tail(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return;
    struct stat st;
    char buf[SP_DEBUGID_TAIL + 1];
    ssize_t got = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        off_t off = st.st_size > SP_DEBUGID_TAIL ? st.st_size - SP_DEBUGID_TAIL : 0;
        got = pread(fd, buf, SP_DEBUGID_TAIL, off);
    }
    close(fd);
    if (got <= 0) return;
    buf[got] = '\0';
    size_t end = (size_t)got;
    while (end && isspace((unsigned char)buf[end - 1])) end--;
    static const char key[] = "//# debugId=";
    if (end < sizeof key - 1 + 36) return;
    const char *id = buf + end - 36;
    if (memcmp(id - (sizeof key - 1), key, sizeof key - 1) != 0) return;
    char idz[37];
    memcpy(idz, id, 36);
    idz[36] = '\0';
    sp_debugid_set(path, idz); /* ignores a malformed id */
}

/* Every path the frames name not looked at yet, when it is one of the app's scripts. */
static void discover(const paths_t *paths)
{
    char path[1024];
    for (size_t i = 0; i < paths->n; i++) {
        const char *p = paths->at[i].p;
        size_t n = paths->at[i].n;
        /* an escaped character: not a plain path (and the JS side names such bundles) */
        if (n < sizeof path && !memchr(p, '\\', n) && script_of_app(p, n) && first_look(p, n)) {
            memcpy(path, p, n);
            path[n] = '\0';
            look_at_tail(path);
        }
    }
}

void sp_debugid_of_build_id(const uint8_t *id, size_t n, char out[37])
{
    uint8_t b[16] = {0}; /* a shorter build id is padded with zeros, as Relay does */
    memcpy(b, id, n < 16 ? n : 16);
    static const uint8_t order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    char *o = out;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
        o += sprintf(o, "%02x", b[order[i]]);
    }
}

/* The needle of each ELF image of the symbolizer, by index (agent thread only): an image
 * keeps its index and path, so each needle is made once. */
static struct {
    char *path, *needle;
    size_t len;
} image_needles[SP_DEBUGID_IMAGES];

static const char *image_needle(size_t i, const char *path, size_t *len)
{
    if (i >= SP_DEBUGID_IMAGES) return NULL;
    typeof(image_needles[0]) *n = &image_needles[i];
    if (!n->path || strcmp(n->path, path) != 0) {
        sp_mem_free(n->path);
        sp_mem_free(n->needle);
        n->needle = needle_of(path, &n->len);
        n->path = n->needle ? sp_mem_strdup(path) : NULL;
        if (!n->path) return NULL;
    }
    *len = n->len;
    return n->needle;
}

/* Appends the native image of every ELF file of sym that the frames name. */
static void native_images(json_t *images, const paths_t *paths, const sp_symbolizer_t *sym)
{
    sp_sym_image_t im;
    for (size_t i = 0; sym && sp_symbolizer_image(sym, i, &im); i++) {
        size_t nl = 0;
        const char *needle = im.build_id_len && im.size ? image_needle(i, im.path, &nl) : NULL;
        if (needle && names(paths, needle, nl)) {
            char debug_id[37], code_id[2 * SP_ELFSYM_BUILD_ID_MAX + 1], addr[20];
            sp_debugid_of_build_id(im.build_id, im.build_id_len, debug_id);
            for (size_t k = 0; k < im.build_id_len; k++)
                sprintf(code_id + 2 * k, "%02x", im.build_id[k]);
            snprintf(addr, sizeof addr, "0x%" PRIx64, im.start);
            json_array_append_new(images, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "type",
                                                    "symbolic", "code_file", im.path, "debug_id",
                                                    debug_id, "code_id", code_id, "image_addr",
                                                    addr, "image_size", (json_int_t)im.size));
        }
    }
}

json_t *sp_debugid_images(const char *frames_text, size_t len, const sp_symbolizer_t *sym)
{
    json_t *images = json_array();
    if (!images) return NULL;
    if (!frames_text || !len) return images;
    paths_t found = {0}, *paths = &found;
    static bool warned; /* agent thread only */
    if (!named_paths(frames_text, len, paths) && !warned) {
        warned = true;
        SP_WARN("out of memory: profiles may miss some of their debug images");
    }
    discover(paths);
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < count; i++) {
        const entry_t *e = &table[i];
        if (!names(paths, e->needle, e->needle_len)) continue;
        json_array_append_new(images, json_pack("{s:s, s:s, s:s}", "type", "sourcemap", "code_file", e->path,
                                                "debug_id", e->id));
    }
    pthread_mutex_unlock(&lock);
    native_images(images, paths, sym);
    sp_mem_free(found.at);
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
    for (size_t i = 0; i < sizeof checked / sizeof *checked; i++) {
        sp_mem_free(checked[i]);
        checked[i] = NULL;
    }
    nchecked = 0;
    for (size_t i = 0; i < SP_DEBUGID_IMAGES; i++) {
        sp_mem_free(image_needles[i].needle);
        sp_mem_free(image_needles[i].path);
        image_needles[i].needle = image_needles[i].path = NULL;
    }
}
