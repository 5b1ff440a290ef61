/* envelope: Sentry envelopes, built and parsed. An envelope is newline-separated JSON:
 * the envelope header line, then for each item a header line (always with "type" and the
 * payload's byte "length") and the payload bytes, each followed by '\n'.
 * Pure functions over memory (no I/O); allocation through sp_mem. Background thread and CLI.
 */
#ifndef SP_ENVELOPE_H
#define SP_ENVELOPE_H

#include <jansson.h>
#include <stddef.h>

typedef struct sp_envelope sp_envelope_t;

/* header: the envelope header object; the envelope takes the reference (may be NULL = {}). */
sp_envelope_t *sp_envelope_new(json_t *header);
void sp_envelope_free(sp_envelope_t *env);

/* Adds an item. payload: a JSON value serialized compactly (reference taken).
 * extra_header: more item-header fields such as {"platform":"node"} (reference taken, may be
 * NULL); "type" and "length" are always set by this function. Returns 0 or -ENOMEM/-EINVAL. */
int sp_envelope_add_json(sp_envelope_t *env, const char *type, json_t *payload, json_t *extra_header);
/* The same with raw payload bytes (copied). */
int sp_envelope_add_raw(sp_envelope_t *env, const char *type, const void *payload, size_t len,
                        json_t *extra_header);

/* Serializes into a new sp_mem buffer (*out, *len; NUL-terminated beyond len). 0 or -errno. */
int sp_envelope_serialize(const sp_envelope_t *env, char **out, size_t *len);

/* Parsing (CLI, tests, ingest checks). Items without "length" end at the next '\n'. */
typedef struct {
    json_t *header;      /* item header (owned by the parsed envelope) */
    const char *payload; /* points into the parsed copy; NUL-terminated */
    size_t len;
} sp_envelope_item_t;

typedef struct {
    json_t *header;      /* envelope header */
    sp_envelope_item_t *items;
    size_t count;
    char *buf;           /* private copy of the input */
} sp_envelope_parsed_t;

/* Returns 0, or -EINVAL for a malformed envelope (bad header JSON, length past the end). */
int sp_envelope_parse(const char *data, size_t len, sp_envelope_parsed_t *out);
void sp_envelope_parsed_free(sp_envelope_parsed_t *parsed);
/* Payload of item i decoded as JSON (new reference) or NULL. */
json_t *sp_envelope_item_json(const sp_envelope_parsed_t *parsed, size_t i);

#endif
