/* test_transport: the pure step (sent_at refreshed, items kept byte for byte, client_report
 * appended from well-formed discards, gzip that zlib's inflate turns back into the input,
 * URL and auth header in the request) and the send step against a one-shot HTTP server on
 * loopback forked by the test (request line and headers as Sentry wants them, gzip body,
 * X-Sentry-Rate-Limits/Retry-After captured, no redirect followed, refused connection,
 * timeout), plus the status -> outcome table. */
#ifndef _GNU_SOURCE /* configure may pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include "unit.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "dsn.h"
#include "envelope.h"
#include "mem.h"
#include "transport.h"

#ifndef SP_VERSION
#define SP_VERSION "0.0.0"
#endif

#define NOW 1700000000.5 /* 2023-11-14T22:13:20.500Z */
#define NOW_ISO "2023-11-14T22:13:20.500Z"
#define MAX_REQUEST (1u << 20)

/* ---- helpers ---- */

/* gunzip with zlib (16 + MAX_WBITS: gzip wrapper). malloc'd, NUL-terminated. */
static char *gunzip(const char *in, size_t len, size_t *outlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    ck_assert_int_eq(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
    size_t cap = len * 4 + 64, n = 0;
    char *out = malloc(cap + 1);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    int zr;
    do {
        if (n == cap) out = realloc(out, (cap *= 2) + 1);
        zs.next_out = (Bytef *)out + n;
        zs.avail_out = (uInt)(cap - n);
        zr = inflate(&zs, Z_NO_FLUSH);
        n = cap - zs.avail_out;
        ck_assert_msg(zr == Z_OK || zr == Z_STREAM_END || zr == Z_BUF_ERROR, "inflate: %d", zr);
    } while (zr != Z_STREAM_END);
    ck_assert_int_eq(zs.avail_in, 0); /* nothing after the gzip member */
    inflateEnd(&zs);
    out[n] = '\0';
    *outlen = n;
    return out;
}

/* An envelope with a length-delimited payload holding a newline and an item header field
 * besides type and length. */
static void sample_envelope(char **out, size_t *len)
{
    json_t *h = json_pack("{s:s, s:s, s:{s:s, s:s}}", "event_id", "0123456789abcdef0123456789abcdef",
                          "sent_at", "2000-01-01T00:00:00.000Z", "sdk", "name", "sentryprof",
                          "version", "1");
    sp_envelope_t *env = sp_envelope_new(h);
    ck_assert_ptr_nonnull(env);
    ck_assert_int_eq(sp_envelope_add_json(env, "profile_chunk", json_pack("{s:i}", "a", 1),
                                          json_pack("{s:s}", "platform", "node")),
                     0);
    ck_assert_int_eq(sp_envelope_add_raw(env, "attachment", "two\nlines", 9, NULL), 0);
    ck_assert_int_eq(sp_envelope_serialize(env, out, len), 0);
    sp_envelope_free(env);
}

static void parse(const char *data, size_t len, sp_envelope_parsed_t *p)
{
    ck_assert_int_eq(sp_envelope_parse(data, len, p), 0);
}

/* ---- pure step ---- */

START_TEST(for_send_refreshes_sent_at)
{
    char *raw, *out;
    size_t rlen, olen;
    sample_envelope(&raw, &rlen);
    sp_envelope_parsed_t in, got;
    parse(raw, rlen, &in);
    ck_assert_int_eq(sp_transport_envelope_for_send(&in, NULL, NOW, &out, &olen), 0);
    parse(out, olen, &got);
    ck_assert_str_eq(json_string_value(json_object_get(got.header, "sent_at")), NOW_ISO);
    ck_assert_str_eq(json_string_value(json_object_get(got.header, "event_id")),
                     "0123456789abcdef0123456789abcdef");
    ck_assert_ptr_nonnull(json_object_get(got.header, "sdk"));
    ck_assert_uint_eq(got.count, 2);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_str_eq(json_string_value(json_object_get(got.items[i].header, "type")),
                         json_string_value(json_object_get(in.items[i].header, "type")));
        ck_assert_uint_eq(got.items[i].len, in.items[i].len);
        ck_assert_int_eq(memcmp(got.items[i].payload, in.items[i].payload, in.items[i].len), 0);
        ck_assert_int_eq(json_integer_value(json_object_get(got.items[i].header, "length")),
                         (json_int_t)in.items[i].len);
    }
    ck_assert_str_eq(json_string_value(json_object_get(got.items[0].header, "platform")), "node");
    sp_envelope_parsed_free(&got);
    sp_mem_free(out);

    /* An empty or malformed discards list adds nothing. */
    json_t *junk = json_loads("[{\"reason\":\"x\"}, {\"reason\":\"a\",\"category\":\"b\",\"quantity\":0},"
                              " 5, {\"reason\":\"a\",\"category\":\"b\",\"quantity\":\"3\"}]",
                              0, NULL);
    ck_assert_int_eq(sp_transport_envelope_for_send(&in, junk, NOW, &out, &olen), 0);
    parse(out, olen, &got);
    ck_assert_uint_eq(got.count, 2);
    sp_envelope_parsed_free(&got);
    sp_mem_free(out);
    ck_assert_int_eq(sp_transport_envelope_for_send(NULL, junk, NOW, &out, &olen), -ENODATA);
    ck_assert_int_eq(sp_transport_envelope_for_send(NULL, NULL, NOW, &out, &olen), -ENODATA);
    ck_assert_ptr_null(out);
    json_decref(junk);
    sp_envelope_parsed_free(&in);
    sp_mem_free(raw);
}
END_TEST

START_TEST(for_send_client_report)
{
    char *raw, *out;
    size_t rlen, olen;
    sample_envelope(&raw, &rlen);
    sp_envelope_parsed_t in, got;
    parse(raw, rlen, &in);
    json_t *d = json_loads("[{\"reason\":\"cache_overflow\",\"category\":\"profile_chunk\",\"quantity\":3},"
                           " {\"bad\":1},"
                           " {\"reason\":\"send_error\",\"category\":\"profile\",\"quantity\":1}]",
                           0, NULL);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(sp_transport_envelope_for_send(&in, d, NOW, &out, &olen), 0);
    parse(out, olen, &got);
    ck_assert_uint_eq(got.count, 3);
    ck_assert_str_eq(json_string_value(json_object_get(got.items[2].header, "type")), "client_report");
    json_t *rep = sp_envelope_item_json(&got, 2);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(json_integer_value(json_object_get(rep, "timestamp")), (json_int_t)NOW);
    json_t *ev = json_object_get(rep, "discarded_events");
    ck_assert_uint_eq(json_array_size(ev), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ev, 0), "reason")), "cache_overflow");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ev, 0), "category")), "profile_chunk");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(ev, 0), "quantity")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ev, 1), "reason")), "send_error");
    json_decref(rep);
    sp_envelope_parsed_free(&got);
    sp_mem_free(out);

    /* Standalone: a header with sent_at and sdk, one item. */
    ck_assert_int_eq(sp_transport_envelope_for_send(NULL, d, NOW, &out, &olen), 0);
    parse(out, olen, &got);
    ck_assert_uint_eq(got.count, 1);
    ck_assert_str_eq(json_string_value(json_object_get(got.header, "sent_at")), NOW_ISO);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got.header, "sdk"), "name")),
                     "sentryprof");
    ck_assert_str_eq(json_string_value(json_object_get(got.items[0].header, "type")), "client_report");
    sp_envelope_parsed_free(&got);
    sp_mem_free(out);
    json_decref(d);
    sp_envelope_parsed_free(&in);
    sp_mem_free(raw);
}
END_TEST

START_TEST(gzip_round_trip)
{
    static const size_t sizes[] = {0, 1, 100, 65536, 3u << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        char *in = malloc(n + 1);
        unsigned x = 12345;
        for (size_t i = 0; i < n; i++) { /* half compressible, half noise */
            x = x * 1103515245u + 12345u;
            in[i] = (i & 1024) ? (char)(x >> 16) : (char)('a' + i % 7);
        }
        char *gz;
        size_t gzlen, outlen;
        ck_assert_int_eq(sp_transport_gzip(in, n, &gz, &gzlen), 0);
        ck_assert_uint_ge(gzlen, 18); /* header + trailer */
        ck_assert_int_eq((unsigned char)gz[0], 0x1f);
        ck_assert_int_eq((unsigned char)gz[1], 0x8b);
        char *back = gunzip(gz, gzlen, &outlen);
        ck_assert_uint_eq(outlen, n);
        ck_assert_int_eq(memcmp(back, in, n), 0);
        free(back);
        sp_mem_free(gz);
        free(in);
    }
    char *gz;
    size_t gzlen;
    ck_assert_int_eq(sp_transport_gzip(NULL, 5, &gz, &gzlen), -EINVAL);
}
END_TEST

START_TEST(request_init)
{
    sp_dsn_t dsn;
    ck_assert_int_eq(sp_dsn_parse("http://pubkey@127.0.0.1:9/pre/42", &dsn, NULL, 0), 0);
    char *raw;
    size_t rlen, outlen;
    sample_envelope(&raw, &rlen);
    sp_transport_request_t req;
    ck_assert_int_eq(sp_transport_request_init(&req, &dsn, raw, rlen), 0);
    ck_assert_str_eq(req.url, "http://127.0.0.1:9/pre/api/42/envelope/");
    ck_assert_str_eq(req.auth, "X-Sentry-Auth: Sentry sentry_version=7, sentry_client=sentryprof/" SP_VERSION
                               ", sentry_key=pubkey");
    char *back = gunzip(req.body, req.body_len, &outlen);
    ck_assert_uint_eq(outlen, rlen);
    ck_assert_int_eq(memcmp(back, raw, rlen), 0);
    free(back);
    sp_transport_request_free(&req);
    ck_assert_ptr_null(req.body);
    sp_transport_request_free(&req); /* twice is harmless */
    sp_mem_free(raw);
}
END_TEST

START_TEST(outcomes)
{
    ck_assert_int_eq(sp_transport_outcome(200), SP_SEND_OK);
    ck_assert_int_eq(sp_transport_outcome(202), SP_SEND_OK);
    ck_assert_int_eq(sp_transport_outcome(429), SP_SEND_RATE_LIMITED);
    static const long drop[] = {400, 401, 403, 404, 413, 415, 499};
    for (size_t i = 0; i < sizeof drop / sizeof *drop; i++)
        ck_assert_int_eq(sp_transport_outcome(drop[i]), SP_SEND_DROP);
    static const long retry[] = {0, 100, 301, 302, 307, 408, 500, 502, 503, 504, 599};
    for (size_t i = 0; i < sizeof retry / sizeof *retry; i++)
        ck_assert_int_eq(sp_transport_outcome(retry[i]), SP_SEND_RETRY);
}
END_TEST

/* ---- send step: a one-shot HTTP server on loopback ---- */

typedef struct {
    int port;
    pid_t pid;
    char capture[64]; /* the raw request the server received */
} fake_t;

/* Reads one HTTP request (headers, then Content-Length bytes) from fd into buf. */
static size_t read_request(int fd, char *buf, size_t cap)
{
    size_t n = 0, want = 0;
    char *hdr_end = NULL;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r <= 0) break;
        n += (size_t)r;
        if (!hdr_end) {
            buf[n < cap ? n : cap - 1] = '\0';
            hdr_end = strstr(buf, "\r\n\r\n");
            if (hdr_end) {
                const char *cl = strcasestr(buf, "\r\nContent-Length:");
                want = (size_t)(hdr_end + 4 - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
            }
        }
        if (hdr_end && n >= want) break;
    }
    return n;
}

/* Starts a server that answers one request with response (NULL: never answers). */
static void fake_start(fake_t *f, const char *response)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(s, 4), 0);
    socklen_t al = sizeof a;
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
    f->port = ntohs(a.sin_port);
    snprintf(f->capture, sizeof f->capture, "/tmp/sp-test-transport-%d", (int)getpid());
    unlink(f->capture);
    f->pid = fork();
    ck_assert_int_ge(f->pid, 0);
    if (f->pid == 0) {
        int c = accept(s, NULL, NULL);
        if (c < 0) _exit(1);
        char *buf = malloc(MAX_REQUEST);
        size_t n = read_request(c, buf, MAX_REQUEST);
        int out = open(f->capture, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out >= 0) {
            if (write(out, buf, n) != (ssize_t)n) _exit(1);
            close(out);
        }
        if (!response) {
            sleep(30); /* the client times out first; the test kills us */
            _exit(0);
        }
        size_t rl = strlen(response);
        if (write(c, response, rl) != (ssize_t)rl) _exit(1);
        shutdown(c, SHUT_WR);
        char drain[256];
        while (read(c, drain, sizeof drain) > 0) {}
        _exit(0);
    }
    close(s);
}

static void fake_stop(fake_t *f)
{
    kill(f->pid, SIGKILL);
    waitpid(f->pid, NULL, 0);
}

/* The captured request, malloc'd; *body points at its body. */
static char *captured(const fake_t *f, size_t *len, char **body)
{
    int fd = open(f->capture, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    struct stat st;
    fstat(fd, &st);
    char *buf = malloc((size_t)st.st_size + 1);
    ck_assert_int_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
    close(fd);
    unlink(f->capture);
    buf[st.st_size] = '\0';
    *len = (size_t)st.st_size;
    char *e = strstr(buf, "\r\n\r\n");
    ck_assert_ptr_nonnull(e);
    *body = e + 4;
    return buf;
}

/* Header value (case-insensitive name) from a raw request, copied into out. */
static bool header(const char *req, const char *name, char *out, size_t len)
{
    const char *end = strstr(req, "\r\n\r\n");
    for (const char *p = strstr(req, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        size_t nl = strlen(name);
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ') v++;
            size_t vl = strcspn(v, "\r");
            snprintf(out, len, "%.*s", (int)vl, v);
            return true;
        }
    }
    return false;
}

static void make_request(sp_transport_request_t *req, int port, char **raw, size_t *rlen)
{
    char text[128];
    snprintf(text, sizeof text, "http://pubkey:secret@127.0.0.1:%d/prefix/42", port);
    sp_dsn_t dsn;
    ck_assert_int_eq(sp_dsn_parse(text, &dsn, NULL, 0), 0);
    sample_envelope(raw, rlen);
    ck_assert_int_eq(sp_transport_request_init(req, &dsn, *raw, *rlen), 0);
}

START_TEST(send_request_shape)
{
    fake_t f;
    fake_start(&f, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    sp_transport_request_t req;
    char *raw;
    size_t rlen;
    make_request(&req, f.port, &raw, &rlen);
    sp_transport_t *t;
    ck_assert_int_eq(sp_transport_new(&t), 0);
    sp_transport_response_t resp;
    ck_assert_int_eq(sp_transport_send(t, &req, 5000, &resp), 0);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_int_eq(resp.error, 0);
    ck_assert_str_eq(resp.rate_limits, "");
    ck_assert_str_eq(resp.retry_after, "");
    fake_stop(&f);

    size_t len;
    char *body, *got = captured(&f, &len, &body);
    ck_assert_msg(strncmp(got, "POST /prefix/api/42/envelope/ HTTP/1.1\r\n", 40) == 0, "%.60s", got);
    char v[512];
    ck_assert(header(got, "Content-Type", v, sizeof v));
    ck_assert_str_eq(v, "application/x-sentry-envelope");
    ck_assert(header(got, "Content-Encoding", v, sizeof v));
    ck_assert_str_eq(v, "gzip");
    ck_assert(header(got, "X-Sentry-Auth", v, sizeof v));
    ck_assert_str_eq(v, "Sentry sentry_version=7, sentry_client=sentryprof/" SP_VERSION ", sentry_key=pubkey");
    ck_assert(header(got, "User-Agent", v, sizeof v));
    ck_assert_str_eq(v, "sentryprof/" SP_VERSION);
    ck_assert(!header(got, "Expect", v, sizeof v));
    ck_assert(!header(got, "Authorization", v, sizeof v)); /* the DSN's secret is not sent */
    size_t blen = len - (size_t)(body - got), outlen;
    char *plain = gunzip(body, blen, &outlen);
    ck_assert_uint_eq(outlen, rlen);
    ck_assert_int_eq(memcmp(plain, raw, rlen), 0);
    free(plain);
    free(got);
    sp_transport_free(t);
    sp_transport_request_free(&req);
    sp_mem_free(raw);
}
END_TEST

START_TEST(send_rate_limit_headers)
{
    fake_t f;
    fake_start(&f, "HTTP/1.1 429 Too Many Requests\r\n"
                   "x-sentry-rate-limits: 60:profile_chunk:key\r\n"
                   "X-Sentry-Rate-Limits: 5::organization\r\n"
                   "Retry-After: 5\r\n"
                   "Content-Length: 0\r\nConnection: close\r\n\r\n");
    sp_transport_request_t req;
    char *raw;
    size_t rlen;
    make_request(&req, f.port, &raw, &rlen);
    sp_transport_t *t;
    ck_assert_int_eq(sp_transport_new(&t), 0);
    sp_transport_response_t resp;
    ck_assert_int_eq(sp_transport_send(t, &req, 5000, &resp), 0);
    ck_assert_int_eq(resp.status, 429);
    ck_assert_int_eq(sp_transport_outcome(resp.status), SP_SEND_RATE_LIMITED);
    ck_assert_str_eq(resp.rate_limits, "60:profile_chunk:key, 5::organization"); /* both joined */
    ck_assert_str_eq(resp.retry_after, "5");
    fake_stop(&f);
    unlink(f.capture);
    sp_transport_free(t);
    sp_transport_request_free(&req);
    sp_mem_free(raw);
}
END_TEST

START_TEST(send_no_redirect_and_4xx_body)
{
    fake_t f;
    fake_start(&f, "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\n"
                   "Content-Length: 0\r\nConnection: close\r\n\r\n");
    sp_transport_request_t req;
    char *raw;
    size_t rlen;
    make_request(&req, f.port, &raw, &rlen);
    sp_transport_t *t;
    ck_assert_int_eq(sp_transport_new(&t), 0);
    sp_transport_response_t resp;
    ck_assert_int_eq(sp_transport_send(t, &req, 5000, &resp), 0);
    ck_assert_int_eq(resp.status, 302); /* not followed */
    ck_assert_int_eq(sp_transport_outcome(resp.status), SP_SEND_RETRY);
    fake_stop(&f);
    unlink(f.capture);

    /* The same handle again: a 400 whose body explains why. */
    fake_start(&f, "HTTP/1.1 400 Bad Request\r\nContent-Length: 27\r\nConnection: close\r\n\r\n"
                   "{\"detail\":\"invalid\nthing\"}\n");
    sp_transport_request_free(&req);
    sp_mem_free(raw);
    make_request(&req, f.port, &raw, &rlen);
    ck_assert_int_eq(sp_transport_send(t, &req, 5000, &resp), 0);
    ck_assert_int_eq(resp.status, 400);
    ck_assert_str_eq(resp.message, "{\"detail\":\"invalid thing\"} "); /* one printable line */
    fake_stop(&f);
    unlink(f.capture);
    sp_transport_free(t);
    sp_transport_request_free(&req);
    sp_mem_free(raw);
}
END_TEST

START_TEST(send_refused_and_timeout)
{
    /* A port nobody listens on. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &al);
    close(s);
    sp_transport_request_t req;
    char *raw;
    size_t rlen;
    make_request(&req, ntohs(a.sin_port), &raw, &rlen);
    sp_transport_t *t;
    ck_assert_int_eq(sp_transport_new(&t), 0);
    sp_transport_response_t resp;
    ck_assert_int_eq(sp_transport_send(t, &req, 5000, &resp), -ECONNREFUSED);
    ck_assert_int_eq(resp.status, 0);
    ck_assert_str_ne(resp.message, "");
    ck_assert_int_eq(sp_transport_outcome(resp.status), SP_SEND_RETRY);
    sp_transport_request_free(&req);
    sp_mem_free(raw);

    /* A server that never answers: the timeout bounds the wait. */
    fake_t f;
    fake_start(&f, NULL);
    make_request(&req, f.port, &raw, &rlen);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(sp_transport_send(t, &req, 400, &resp), -ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_msg(took >= 0.35 && took < 3.0, "took %.3f s", took);
    ck_assert_int_eq(resp.status, 0);
    fake_stop(&f);
    unlink(f.capture);
    sp_transport_free(t);
    sp_transport_request_free(&req);
    sp_mem_free(raw);
}
END_TEST

SP_UNIT_SUITE(transport)
{
    json_set_alloc_funcs(sp_mem_alloc, sp_mem_free); /* as the CLI does */
    if (sp_transport_global_init() < 0) {
        fprintf(stderr, "transport: sp_transport_global_init failed\n");
        exit(EXIT_FAILURE);
    }
    atexit(sp_transport_global_cleanup);
    /* A proxy in the environment would intercept the loopback requests. */
    static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                          "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof *proxies; i++) unsetenv(proxies[i]);
    Suite *s = suite_create("transport");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, for_send_refreshes_sent_at);
    tcase_add_test(tc, for_send_client_report);
    tcase_add_test(tc, gzip_round_trip);
    tcase_add_test(tc, request_init);
    tcase_add_test(tc, outcomes);
    suite_add_tcase(s, tc);
    tc = tcase_create("send");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, send_request_shape);
    tcase_add_test(tc, send_rate_limit_headers);
    tcase_add_test(tc, send_no_redirect_and_4xx_body);
    tcase_add_test(tc, send_refused_and_timeout);
    suite_add_tcase(s, tc);
    return s;
}
