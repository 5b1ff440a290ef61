/* utf8: valid UTF-8 out of arbitrary bytes. Everything we put into JSON (jansson refuses
 * a string that is not UTF-8, and a whole envelope with it) comes through here when it can
 * be anything: environment variables, names cut to a fixed buffer. A leaf; pure functions,
 * any thread, no allocation, no locale. */
#ifndef SP_UTF8_H
#define SP_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when s[0] does not start one
 * (overlong forms, UTF-16 surrogates, code points above U+10FFFF and sequences cut by n
 * are not valid). n >= 1. */
size_t sp_utf8_len(const unsigned char *s, size_t n);

/* src's first n bytes into dst (cap >= 1 bytes, NUL-terminated) as valid UTF-8: each byte
 * that starts no valid sequence becomes U+FFFD, and the copy stops before a character that
 * does not fit, never in the middle of one. Returns the length written. *bad (if not NULL):
 * the bytes replaced; *cut (if not NULL): true when not all of src fitted. */
size_t sp_utf8_copy(char *dst, size_t cap, const char *src, size_t n, size_t *bad, bool *cut);

/* Whether s (NUL-terminated) is valid UTF-8 as it is. */
bool sp_utf8_valid(const char *s);

#endif
