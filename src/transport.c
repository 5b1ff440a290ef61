/* transport: the envelope as it goes on the wire, and one POST of it through libcurl.
 *
 * Owns: a libcurl easy handle per sp_transport_t (reused, so consecutive envelopes share a
 * connection). Threads/processes: the CLI's `sentryprof upload` only (libspnet): libcurl
 * and everything it loads (OpenSSL ...) must never run inside node (docs/HAZARDS.md section 1).
 * Environment: none of ours; libcurl reads http_proxy, https_proxy, no_proxy (its default,
 * deliberately kept) and the usual CA-bundle settings.
 * Rules: TLS verification stays on (libcurl's default); no redirects (an envelope is not
 * re-posted to wherever a 30x points); CURLOPT_NOSIGNAL (no SIGALRM for DNS timeouts);
 * only http and https; request bodies gzip'd; memory through sp_mem (zlib's too, and
 * libcurl's via curl_global_init_mem).
 */
#ifndef _GNU_SOURCE /* configure may pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE /* strcasecmp, strncasecmp */
#endif
#include "transport.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "clock.h"
#include "mem.h"
#include "profile.h"

#ifndef SP_VERSION
#define SP_VERSION "0.0.0"
#endif

#define SP_TRANSPORT_USER_AGENT "sentryprof/" SP_VERSION
#define SP_TRANSPORT_MAX_BODY (64u * 1024u * 1024u) /* largest envelope we gzip */
#define SP_TRANSPORT_MAX_RESPONSE (64u * 1024u)    /* response body bytes read before we stop */
#define SP_TRANSPORT_GZIP_WINDOW (16 + MAX_WBITS)  /* 16: gzip wrapper, not zlib */
#define SP_TRANSPORT_GZIP_MEMLEVEL 8

/* ---- pure step ---- */

/* A clean copy of the well-formed discard entries; NULL when there is none. */
static json_t *clean_discards(const json_t *discards)
{
    if (!json_is_array(discards)) return NULL;
    json_t *out = json_array();
    if (!out) return NULL;
    size_t i;
    json_t *d;
    json_array_foreach(discards, i, d)
    {
        const char *reason = json_string_value(json_object_get(d, "reason"));
        const char *category = json_string_value(json_object_get(d, "category"));
        json_t *q = json_object_get(d, "quantity");
        if (!reason || !*reason || !category || !*category || !json_is_integer(q) ||
            json_integer_value(q) <= 0)
            continue;
        json_array_append_new(out, json_pack("{s:s, s:s, s:I}", "reason", reason, "category",
                                             category, "quantity", json_integer_value(q)));
    }
    if (json_array_size(out) == 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

int sp_transport_envelope_for_send(const sp_envelope_parsed_t *parsed, const json_t *discards,
                                   double now, char **out, size_t *len)
{
    if (!out || !len) return -EINVAL;
    *out = NULL;
    *len = 0;
    json_t *events = clean_discards(discards);
    if (!parsed && !events) return -ENODATA;

    char sent_at[40];
    sp_profile_iso_time((uint64_t)(now * (double)SP_NS_PER_SEC), sent_at, sizeof sent_at);
    json_t *header = parsed && json_is_object(parsed->header) ? json_deep_copy(parsed->header)
                                                              : json_object();
    if (!header || json_object_set_new(header, "sent_at", json_string(sent_at)) < 0) {
        json_decref(header);
        json_decref(events);
        return -ENOMEM;
    }
    if (!parsed && json_object_set_new(header, "sdk", json_pack("{s:s, s:s}", "name", SP_SDK_NAME,
                                                                "version", SP_VERSION)) < 0) {
        json_decref(header);
        json_decref(events);
        return -ENOMEM;
    }
    sp_envelope_t *env = sp_envelope_new(header); /* takes header */
    if (!env) {
        json_decref(events);
        return -ENOMEM;
    }
    int rc = 0;
    for (size_t i = 0; parsed && i < parsed->count && rc == 0; i++) {
        const sp_envelope_item_t *it = &parsed->items[i];
        const char *type = json_string_value(json_object_get(it->header, "type"));
        /* The item header's other fields ("platform" ...) are kept; length is recomputed. */
        rc = sp_envelope_add_raw(env, type, it->payload, it->len, json_incref(it->header));
    }
    if (rc == 0 && events) {
        json_t *report = json_pack("{s:I, s:O}", "timestamp", (json_int_t)now,
                                   "discarded_events", events);
        rc = report ? sp_envelope_add_json(env, "client_report", report, NULL) : -ENOMEM;
    }
    if (rc == 0) rc = sp_envelope_serialize(env, out, len);
    sp_envelope_free(env);
    json_decref(events);
    return rc;
}

/* Not zeroed (zlib initialises what it reads): zeroing a recycled large extent costs
 * jemalloc a madvise per allocation, ~4 per envelope sent. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    if (size && items > SIZE_MAX / size) return NULL;
    return sp_mem_alloc((size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p) { sp_mem_free(p); }

int sp_transport_gzip(const void *in, size_t len, char **out, size_t *outlen)
{
    if (!out || !outlen || (!in && len)) return -EINVAL;
    *out = NULL;
    *outlen = 0;
    if (len > SP_TRANSPORT_MAX_BODY) return -EFBIG;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = z_alloc;
    zs.zfree = z_free;
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, SP_TRANSPORT_GZIP_WINDOW,
                     SP_TRANSPORT_GZIP_MEMLEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    /* deflateBound counts the gzip wrapper once deflateInit2 has set it up: one call does it. */
    uLong cap = deflateBound(&zs, (uLong)len);
    char *buf = sp_mem_alloc(cap);
    if (!buf) {
        deflateEnd(&zs);
        return -ENOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)in; /* zlib's API is not const-correct; it only reads */
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)buf;
    zs.avail_out = (uInt)cap;
    int zr = deflate(&zs, Z_FINISH);
    size_t n = (size_t)zs.total_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END) {
        sp_mem_free(buf);
        return -EIO;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

int sp_transport_request_init(sp_transport_request_t *req, const sp_dsn_t *dsn,
                              const char *envelope, size_t len)
{
    if (!req || !dsn || (!envelope && len)) return -EINVAL;
    memset(req, 0, sizeof *req);
    int rc = sp_dsn_envelope_url(dsn, req->url, sizeof req->url);
    if (rc == 0) rc = sp_dsn_auth_header(dsn, req->auth, sizeof req->auth);
    if (rc == 0) rc = sp_transport_gzip(envelope, len, &req->body, &req->body_len);
    if (rc < 0) sp_transport_request_free(req);
    return rc;
}

void sp_transport_request_free(sp_transport_request_t *req)
{
    if (!req) return;
    sp_mem_free(req->body);
    memset(req, 0, sizeof *req);
}

sp_send_outcome_t sp_transport_outcome(long status)
{
    if (status >= 200 && status < 300) return SP_SEND_OK;
    if (status == 429) return SP_SEND_RATE_LIMITED;
    /* 408 Request Timeout is a proxy's "try again", not a verdict on the envelope. */
    if (status >= 400 && status < 500 && status != 408) return SP_SEND_DROP;
    /* No response, 5xx, and statuses an envelope POST should never get (1xx, 3xx: a
     * redirect we do not follow, e.g. a DSN with http:// in front of an https-only host):
     * keep the file and retry later rather than lose it. */
    return SP_SEND_RETRY;
}

const char *sp_transport_outcome_name(sp_send_outcome_t o)
{
    switch (o) {
    case SP_SEND_OK: return "sent";
    case SP_SEND_RATE_LIMITED: return "rate limited";
    case SP_SEND_RETRY: return "retry";
    case SP_SEND_DROP: return "dropped";
    }
    return "?";
}

/* ---- send step ---- */

struct sp_transport {
    CURL *curl;
};

int sp_transport_global_init(void)
{
    CURLcode c = curl_global_init_mem(CURL_GLOBAL_DEFAULT, sp_mem_alloc, sp_mem_free,
                                      sp_mem_realloc, sp_mem_strdup, sp_mem_calloc);
    return c == CURLE_OK ? 0 : -EIO;
}

void sp_transport_global_cleanup(void) { curl_global_cleanup(); }

int sp_transport_new(sp_transport_t **out)
{
    if (!out) return -EINVAL;
    *out = NULL;
    sp_transport_t *t = sp_mem_calloc(1, sizeof *t);
    if (!t) return -ENOMEM;
    if (!(t->curl = curl_easy_init())) {
        sp_mem_free(t);
        return -ENOMEM;
    }
    *out = t;
    return 0;
}

void sp_transport_free(sp_transport_t *t)
{
    if (!t) return;
    curl_easy_cleanup(t->curl);
    sp_mem_free(t);
}

typedef struct {
    sp_transport_response_t *resp;
    size_t body_seen;
    size_t msg_len;
} xfer_t;

/* Stores header value [v, end) into dst (size cap), appending ", " + value when dst already
 * holds one (a repeated header is the same as one comma-joined list). */
static void store_header(char *dst, size_t cap, const char *v, const char *end)
{
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t have = strlen(dst), n = (size_t)(end - v);
    if (have && have + 2 < cap) {
        memcpy(dst + have, ", ", 2);
        have += 2;
    }
    if (have + n >= cap) n = have + 1 < cap ? cap - have - 1 : 0;
    memcpy(dst + have, v, n);
    dst[have + n] = '\0';
}

static bool header_is(const char *line, size_t len, const char *name, const char **value)
{
    size_t nl = strlen(name);
    if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0) return false;
    *value = line + nl + 1;
    return true;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *data)
{
    xfer_t *x = data;
    size_t len = size * nitems;
    const char *v;
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue, or a proxy's CONNECT): only the last counts. */
        x->resp->rate_limits[0] = '\0';
        x->resp->retry_after[0] = '\0';
    } else if (header_is(line, len, "X-Sentry-Rate-Limits", &v)) {
        store_header(x->resp->rate_limits, sizeof x->resp->rate_limits, v, line + len);
    } else if (header_is(line, len, "Retry-After", &v)) {
        x->resp->retry_after[0] = '\0'; /* a single value: the last one wins */
        store_header(x->resp->retry_after, sizeof x->resp->retry_after, v, line + len);
    }
    return len;
}

/* Keeps the start of the response body (Relay explains 4xx there); stops reading after
 * SP_TRANSPORT_MAX_RESPONSE bytes (the transfer then ends with CURLE_WRITE_ERROR). */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *data)
{
    xfer_t *x = data;
    size_t len = size * nmemb;
    if (x->body_seen + len > SP_TRANSPORT_MAX_RESPONSE) return 0;
    x->body_seen += len;
    char *msg = x->resp->message;
    size_t room = sizeof x->resp->message - 1 - x->msg_len;
    size_t n = len < room ? len : room;
    for (size_t i = 0; i < n; i++) { /* one printable line */
        unsigned char c = (unsigned char)ptr[i];
        msg[x->msg_len++] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
    }
    msg[x->msg_len] = '\0';
    return len;
}

static int errno_of(CURLcode c)
{
    switch (c) {
    case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
    case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return -EHOSTUNREACH;
    case CURLE_OUT_OF_MEMORY: return -ENOMEM;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING: return -ECONNRESET;
    default: return -EIO;
    }
}

int sp_transport_send(sp_transport_t *t, const sp_transport_request_t *req, long timeout_ms,
                      sp_transport_response_t *resp)
{
    if (!t || !req || !resp) return -EINVAL;
    memset(resp, 0, sizeof *resp);
    if (timeout_ms < 1) timeout_ms = 1;
    if (timeout_ms > SP_TRANSPORT_MAX_TIMEOUT_MS) timeout_ms = SP_TRANSPORT_MAX_TIMEOUT_MS;
    long connect_ms = timeout_ms < SP_TRANSPORT_CONNECT_TIMEOUT_MS ? timeout_ms
                                                                   : SP_TRANSPORT_CONNECT_TIMEOUT_MS;
    CURL *c = t->curl;
    curl_easy_reset(c); /* keeps the connection cache, forgets the previous request's options */
    char errbuf[CURL_ERROR_SIZE] = "";
    xfer_t x = {resp, 0, 0};
    struct curl_slist *h = NULL, *n;
    static const char *const fixed[] = {
        "Content-Type: application/x-sentry-envelope",
        "Content-Encoding: gzip",
        "Expect:", /* no 100-continue round trip (and its 1 s wait) for large bodies */
    };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        if (!(n = curl_slist_append(h, fixed[i]))) goto nomem;
        h = n;
    }
    if (!(n = curl_slist_append(h, req->auth))) goto nomem;
    h = n;

    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, SP_TRANSPORT_USER_AGENT);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: the string form; the bitmask one is deprecated */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);

    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL); /* errbuf is about to go out of scope */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    resp->error = (int)cc;
    /* A failed transfer counts as no response, unless it failed only because we stopped
     * reading an over-long response body (the status line and headers were complete). */
    if (cc == CURLE_OK || (cc == CURLE_WRITE_ERROR && status > 0)) {
        resp->status = status;
        return 0;
    }
    resp->status = 0;
    resp->rate_limits[0] = resp->retry_after[0] = '\0';
    snprintf(resp->message, sizeof resp->message, "%s",
             errbuf[0] ? errbuf : curl_easy_strerror(cc));
    return errno_of(cc);
nomem:
    curl_slist_free_all(h);
    snprintf(resp->message, sizeof resp->message, "out of memory");
    return -ENOMEM;
}
