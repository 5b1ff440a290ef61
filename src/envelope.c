/* envelope: builds and parses Sentry envelopes in memory (no I/O).
 *
 * Owns: an sp_envelope_t keeps the envelope header as JSON and each item already
 * serialized (item header bytes + payload bytes), so serialize is a plain concatenation
 * and a big profile's JSON tree is freed as soon as it is added. A parsed envelope owns a
 * private copy of the input that its items point into.
 * Threads: background (upload/spool) thread and the CLI; no shared state, so callers only
 * need to keep one envelope to one thread. Never called from the signal handler.
 * Environment: none.
 * Rules: all memory through sp_mem (jansson is routed there by the engine); functions that
 * "take a reference" consume it on every path, success or failure; parse input is
 * untrusted (bounded size and item count, every length checked against what remains).
 */
#include "envelope.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "mem.h"

#define SP_ENVELOPE_MAX_PARSE (64u * 1024u * 1024u) /* largest input sp_envelope_parse accepts */
#define SP_ENVELOPE_MAX_ITEMS 1000u                 /* items per parsed envelope */

typedef struct {
    char *hdr; /* serialized item header, no newline */
    size_t hdr_len;
    char *payload; /* payload bytes (never NULL, may be empty) */
    size_t len;
} item_t;

struct sp_envelope {
    json_t *header;
    item_t *items;
    size_t count, cap;
};

sp_envelope_t *sp_envelope_new(json_t *header)
{
    if (header && !json_is_object(header)) {
        json_decref(header);
        return NULL;
    }
    sp_envelope_t *env = sp_mem_calloc(1, sizeof *env);
    if (!env) {
        json_decref(header);
        return NULL;
    }
    env->header = header ? header : json_object();
    if (!env->header) {
        sp_mem_free(env);
        return NULL;
    }
    return env;
}

void sp_envelope_free(sp_envelope_t *env)
{
    if (!env) return;
    for (size_t i = 0; i < env->count; i++) {
        sp_mem_free(env->items[i].hdr);
        sp_mem_free(env->items[i].payload);
    }
    sp_mem_free(env->items);
    json_decref(env->header);
    sp_mem_free(env);
}

/* Compact JSON of v, as envelopes carry it. */
static char *dump(const json_t *v, size_t flags, size_t *len)
{
    return sp_json_dump(v, flags | SP_JSON_DUMP_FLAGS, len);
}

/* Item header with "type" then "length" first (Relay and the SDKs expect them there by
 * convention; JSON order is kept by jansson), then extra's fields except those two. */
static json_t *item_header(const char *type, size_t len, json_t *extra)
{
    if (len > (size_t)INT64_MAX) return NULL;
    json_t *h = json_object();
    if (!h) return NULL;
    if (json_object_set_new(h, "type", json_string(type)) < 0 ||
        json_object_set_new(h, "length", json_integer((json_int_t)len)) < 0)
        goto fail;
    if (extra) {
        const char *key;
        json_t *val;
        json_object_foreach(extra, key, val) {
            if (strcmp(key, "type") == 0 || strcmp(key, "length") == 0) continue;
            if (json_object_set(h, key, val) < 0) goto fail;
        }
    }
    return h;
fail:
    json_decref(h);
    return NULL;
}

/* Appends an item whose payload buffer (sp_mem, len bytes) the envelope takes over. */
static int add_item(sp_envelope_t *env, const char *type, char *payload, size_t len, json_t *extra)
{
    int rc = -ENOMEM;
    char *hdr = NULL;
    size_t hdr_len = 0;
    json_t *h = item_header(type, len, extra);
    if (!h) goto out;
    hdr = dump(h, 0, &hdr_len);
    json_decref(h);
    if (!hdr) goto out;
    if (env->count == env->cap) {
        size_t ncap = env->cap ? env->cap * 2 : 4;
        item_t *n = sp_mem_realloc(env->items, ncap * sizeof *n);
        if (!n) goto out;
        env->items = n;
        env->cap = ncap;
    }
    env->items[env->count++] = (item_t){hdr, hdr_len, payload, len};
    return 0;
out:
    sp_mem_free(hdr);
    sp_mem_free(payload);
    return rc;
}

static int check_args(const sp_envelope_t *env, const char *type, const json_t *extra)
{
    if (!env || !type || !*type) return -EINVAL;
    if (extra && !json_is_object(extra)) return -EINVAL;
    return 0;
}

int sp_envelope_add_json(sp_envelope_t *env, const char *type, json_t *payload,
                         json_t *extra_header)
{
    int rc = check_args(env, type, extra_header);
    if (rc == 0 && !payload) rc = -EINVAL;
    char *bytes = NULL;
    size_t n = 0;
    if (rc == 0) {
        /* ENCODE_ANY: a payload may legitimately be an array or scalar. */
        bytes = dump(payload, JSON_ENCODE_ANY, &n);
        if (!bytes) rc = -ENOMEM;
    }
    json_decref(payload);
    if (rc == 0) rc = add_item(env, type, bytes, n, extra_header);
    json_decref(extra_header);
    return rc;
}

int sp_envelope_add_raw(sp_envelope_t *env, const char *type, const void *payload, size_t len,
                        json_t *extra_header)
{
    int rc = check_args(env, type, extra_header);
    if (rc == 0 && !payload && len) rc = -EINVAL;
    char *copy = NULL;
    if (rc == 0) {
        copy = sp_mem_alloc(len + 1);
        if (!copy) {
            rc = -ENOMEM;
        } else {
            if (len) memcpy(copy, payload, len);
            copy[len] = '\0';
        }
    }
    if (rc == 0) rc = add_item(env, type, copy, len, extra_header);
    json_decref(extra_header);
    return rc;
}

/* a += b, failing on size_t overflow. */
static int add_size(size_t *a, size_t b)
{
    if (*a > SIZE_MAX - b) return -EOVERFLOW;
    *a += b;
    return 0;
}

int sp_envelope_serialize(const sp_envelope_t *env, char **out, size_t *len)
{
    if (!env || !out || !len) return -EINVAL;
    *out = NULL;
    *len = 0;
    size_t head_len = 0;
    char *head = dump(env->header, 0, &head_len);
    if (!head) return -ENOMEM;

    int rc = 0;
    size_t total = head_len + 1;
    for (size_t i = 0; i < env->count && rc == 0; i++) {
        rc = add_size(&total, env->items[i].hdr_len);
        if (rc == 0) rc = add_size(&total, env->items[i].len);
        if (rc == 0) rc = add_size(&total, 2); /* both newlines */
    }
    if (rc == 0) rc = add_size(&total, 1); /* NUL */
    char *buf = rc == 0 ? sp_mem_alloc(total) : NULL;
    if (rc == 0 && !buf) rc = -ENOMEM;
    if (rc < 0) {
        sp_mem_free(head);
        return rc;
    }

    char *p = buf;
    memcpy(p, head, head_len);
    p += head_len;
    *p++ = '\n';
    sp_mem_free(head);
    for (size_t i = 0; i < env->count; i++) {
        const item_t *it = &env->items[i];
        memcpy(p, it->hdr, it->hdr_len);
        p += it->hdr_len;
        *p++ = '\n';
        if (it->len) memcpy(p, it->payload, it->len);
        p += it->len;
        *p++ = '\n';
    }
    *p = '\0';
    *out = buf;
    *len = (size_t)(p - buf);
    return 0;
}

/* ---- parsing ---- */

/* One line [start, end of line) as a JSON object, or NULL. */
static json_t *parse_object_line(const char *start, size_t n)
{
    json_error_t err;
    json_t *v = json_loadb(start, n, 0, &err);
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

/* Length of the line starting at p (bytes before the next '\n' or the end). */
static size_t line_len(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? (size_t)(nl - p) : (size_t)(end - p);
}

void sp_envelope_parsed_free(sp_envelope_parsed_t *parsed)
{
    if (!parsed) return;
    for (size_t i = 0; i < parsed->count; i++) json_decref(parsed->items[i].header);
    sp_mem_free(parsed->items);
    json_decref(parsed->header);
    sp_mem_free(parsed->buf);
    memset(parsed, 0, sizeof *parsed);
}

/* Parses one item at *pos into it (header reference owned by it on success). Payloads
 * are NUL-terminated in place by overwriting the '\n' that ends them (or buf[len]). */
static int parse_item(char *buf, size_t len, size_t *pos, sp_envelope_item_t *it)
{
    char *p = buf + *pos, *end = buf + len;
    size_t hl = line_len(p, end);
    json_t *h = parse_object_line(p, hl);
    if (!h) return -EINVAL;
    const char *type = json_string_value(json_object_get(h, "type"));
    if (!type || !*type) goto bad;
    p += hl;
    if (p < end) p++; /* the header's '\n' */

    size_t plen;
    json_t *jl = json_object_get(h, "length");
    if (jl) {
        if (!json_is_integer(jl)) goto bad;
        json_int_t l = json_integer_value(jl);
        if (l < 0 || (uint64_t)l > (uint64_t)(end - p)) goto bad;
        plen = (size_t)l;
        /* After an explicit length only '\n' or the end may follow; anything else means
         * the length is wrong and the rest would be misread. */
        if (p + plen < end && p[plen] != '\n') goto bad;
    } else {
        plen = line_len(p, end);
    }
    it->header = h;
    it->payload = p;
    it->len = plen;
    p += plen;
    if (p < end) *p++ = '\0'; /* was '\n' */
    *pos = (size_t)(p - buf);
    return 0;
bad:
    json_decref(h);
    return -EINVAL;
}

int sp_envelope_parse(const char *data, size_t len, sp_envelope_parsed_t *out)
{
    if (!out) return -EINVAL;
    memset(out, 0, sizeof *out);
    if (!data && len) return -EINVAL;
    if (len > SP_ENVELOPE_MAX_PARSE) return -EFBIG;

    int rc = -ENOMEM;
    size_t pos = 0;
    out->buf = sp_mem_alloc(len + 1);
    if (!out->buf) goto fail;
    if (len) memcpy(out->buf, data, len);
    out->buf[len] = '\0';

    rc = -EINVAL;
    pos = line_len(out->buf, out->buf + len);
    out->header = parse_object_line(out->buf, pos);
    if (!out->header) goto fail;
    if (pos < len) pos++;

    size_t cap = 0;
    while (pos < len) {
        if (out->count == SP_ENVELOPE_MAX_ITEMS) {
            rc = -EINVAL;
            goto fail;
        }
        if (out->count == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            if (ncap > SP_ENVELOPE_MAX_ITEMS) ncap = SP_ENVELOPE_MAX_ITEMS;
            sp_envelope_item_t *n = sp_mem_realloc(out->items, ncap * sizeof *n);
            if (!n) {
                rc = -ENOMEM;
                goto fail;
            }
            out->items = n;
            cap = ncap;
        }
        rc = parse_item(out->buf, len, &pos, &out->items[out->count]);
        if (rc < 0) goto fail;
        out->count++;
    }
    return 0;
fail:
    SP_DEBUG("envelope: parse failed (%d) at byte %zu of %zu", rc, pos, len);
    sp_envelope_parsed_free(out);
    return rc;
}

json_t *sp_envelope_item_json(const sp_envelope_parsed_t *parsed, size_t i)
{
    if (!parsed || i >= parsed->count) return NULL;
    const sp_envelope_item_t *it = &parsed->items[i];
    return json_loadb(it->payload, it->len, JSON_DECODE_ANY, NULL);
}
