/* utf8: owns nothing; pure functions over the caller's memory (see utf8.h). No libc call
 * beyond memcpy: callers include the perf-map reader and the JS threads' transaction
 * starts, which must not allocate. */
#include "utf8.h"

#include <string.h>

#define SP_UTF8_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD, 3 bytes */

size_t sp_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if (c == 0xED) len = 3, hi = 0x9F; /* no UTF-16 surrogates */
    else if (c >= 0xE1 && c <= 0xEF) len = 3;
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F;
    else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

size_t sp_utf8_copy(char *dst, size_t cap, const char *src, size_t n, size_t *bad, bool *cut)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, o = 0, nbad = 0;
    while (i < n) {
        size_t l = sp_utf8_len(s + i, n - i);
        const unsigned char *from = s + i;
        size_t out = l;
        if (l == 0) { /* one bad byte: one replacement character */
            from = (const unsigned char *)SP_UTF8_REPLACEMENT;
            out = sizeof SP_UTF8_REPLACEMENT - 1;
        }
        if (o + out >= cap) break; /* room for the NUL */
        memcpy(dst + o, from, out);
        o += out;
        i += l ? l : 1;
        nbad += l == 0;
    }
    dst[o] = '\0';
    if (bad) *bad = nbad;
    if (cut) *cut = i < n;
    return o;
}

bool sp_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0, l; i < n; i += l)
        if (!(l = sp_utf8_len(p + i, n - i))) return false;
    return true;
}
