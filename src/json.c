/* json: owns nothing beyond the buffer it returns (the caller's, freed with sp_mem_free).
 * Any thread but the signal handler; no shared state. */
#include "json.h"

#include <stdint.h>
#include <string.h>

#include "mem.h"
#include "utf8.h"

/* Growing sp_mem buffer for json_dump_callback: one pass, and the result is ours to
 * free with sp_mem_free whatever allocator jansson was given. */
typedef struct {
    char *buf;
    size_t len, cap;
} dumpbuf_t;

static int dump_cb(const char *chunk, size_t size, void *data)
{
    dumpbuf_t *d = data;
    if (size > SIZE_MAX - d->len - 1) return -1;
    if (d->len + size + 1 > d->cap) {
        size_t ncap = d->cap ? d->cap : 256;
        while (ncap < d->len + size + 1) ncap = ncap > SIZE_MAX / 2 ? d->len + size + 1 : ncap * 2;
        char *n = sp_mem_realloc(d->buf, ncap);
        if (!n) return -1;
        d->buf = n;
        d->cap = ncap;
    }
    memcpy(d->buf + d->len, chunk, size);
    d->len += size;
    d->buf[d->len] = '\0';
    return 0;
}

char *sp_json_dump(const json_t *v, size_t flags, size_t *len)
{
    dumpbuf_t d = {0};
    if (json_dump_callback(v, dump_cb, &d, flags) < 0 || !d.buf) {
        sp_mem_free(d.buf);
        return NULL;
    }
    *len = d.len;
    return d.buf;
}

json_t *sp_json_string_utf8(const char *s)
{
    if (sp_utf8_valid(s)) return json_string(s);
    /* Each bad byte becomes U+FFFD (3 bytes): 3n + 1 always holds the copy whole. */
    size_t n = strlen(s);
    char *fixed = sp_mem_alloc(3 * n + 1);
    if (!fixed) return NULL;
    size_t len = sp_utf8_copy(fixed, 3 * n + 1, s, n, NULL, NULL);
    json_t *v = json_stringn(fixed, len);
    sp_mem_free(fixed);
    return v;
}
