/* json: owns nothing beyond the buffer it returns (the caller's, freed with sp_mem_free).
 * Any thread but the signal handler; no shared state. */
#include "json.h"

#include <stdint.h>
#include <string.h>

#include "mem.h"

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

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 when it is not one: no
 * overlong form, no surrogate, nothing above U+10FFFF (what jansson's own check refuses). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

json_t *sp_json_string_utf8(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), bad = 0;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(u + i, n - i);
        if (l)
            i += l;
        else
            bad++, i++;
    }
    if (!bad) return json_stringn(s, n);
    /* Each bad byte becomes U+FFFD (3 bytes). */
    char *fixed = sp_mem_alloc(n + 2 * bad + 1);
    if (!fixed) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(u + i, n - i);
        if (l) {
            memcpy(fixed + o, s + i, l);
            o += l, i += l;
        } else {
            memcpy(fixed + o, "\xef\xbf\xbd", 3);
            o += 3, i++;
        }
    }
    json_t *v = json_stringn(fixed, o);
    sp_mem_free(fixed);
    return v;
}
