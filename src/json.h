/* json: JSON text out of jansson values, into sp_mem buffers. A leaf: the envelope, the
 * frame table, the session, profiles, debug ids and the spool state all write JSON
 * through it. Pure function over memory; any thread but the signal handler. */
#ifndef SP_JSON_H
#define SP_JSON_H

#include <jansson.h>
#include <stddef.h>

/* JSON of v (jansson flags) in a new NUL-terminated sp_mem buffer, whatever allocator
 * jansson was given; NULL on error. */
char *sp_json_dump(const json_t *v, size_t flags, size_t *len);
/* A JSON string of s (NUL-terminated) that jansson always takes: a byte that does not
 * start a valid UTF-8 sequence becomes U+FFFD, so text from outside (a native symbol, a
 * script path, a module name) is written with its frame, never dropped (json_string gives
 * NULL for it, and a NULL value silently leaves the member out). NULL only on ENOMEM. */
json_t *sp_json_string_utf8(const char *s);

/* The flags profiles and envelopes are written with: compact, keys in insertion order. */
#define SP_JSON_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

#endif
