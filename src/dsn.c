/* dsn: parses SENTRY_DSN. Hand-written (no libcurl), because the preload library checks the
 * DSN at process start with this same code (one warning in the node process, deterministic)
 * and libcurl must never load into node (docs/HAZARDS.md section 1); `sentryprof upload` and
 * `doctor` use it too, so a DSN is accepted or refused identically everywhere.
 *
 * Owns: nothing (pure functions over sp_dsn_t). Threads/processes: any (libsp). Environment: none; the caller
 * reads SENTRY_DSN. Rules (as Sentry's SDKs): scheme http or https; the user part is the
 * public key and is required; a password (the legacy secret key) is ignored; the last path
 * segment is the project id and must not be empty, what precedes it is a path prefix
 * (Sentry behind a sub-path). The key and project id end up in a header and a URL: bytes
 * that could break either are refused.
 */
#include "dsn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef SP_VERSION
#define SP_VERSION "0.0.0"
#endif

#define SP_DSN_CLIENT "sentryprof/" SP_VERSION
#define SP_DSN_SENTRY_VERSION 7
#define SP_DSN_MAX_LEN 4096 /* longer DSNs are refused before parsing */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* Bytes allowed in a public key: what Sentry issues (hex) and then some, but nothing that
 * could end or split the X-Sentry-Auth header value (',', '=', spaces, controls, quotes). */
static bool key_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

/* Bytes allowed in a URL path segment as libcurl hands it back: visible ASCII except the
 * delimiters that would change the URL's shape. */
static bool path_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '/' && c != '?' && c != '#' && c != '\\' && c != '"' &&
           c != '<' && c != '>' && c != '`' && c != '{' && c != '}' && c != '|' && c != '^';
}

/* Lower-cased copy of [p, p+n) into dst (size len); false when it does not fit. */
static bool copy_n(char *dst, size_t len, const char *p, size_t n, bool lower)
{
    if (n >= len) return false;
    for (size_t i = 0; i < n; i++)
        dst[i] = lower && p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] - 'A' + 'a') : p[i];
    dst[n] = '\0';
    return true;
}

/* A host as written in a URL: a registered name of ASCII letters, digits, '-', '.', '_',
 * '~' with no empty label, or an IPv6 literal in brackets. Non-ASCII (an IDN written in
 * Unicode) and percent-encoding are refused: the uploader would retry them forever. */
static const char *host_problem(const char *h, size_t n)
{
    if (!n) return "no host";
    if (h[0] == '[') {
        if (n < 3 || h[n - 1] != ']') return "bad IPv6 address";
        for (size_t i = 1; i + 1 < n; i++) {
            char c = h[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                  c == ':' || c == '.'))
                return "bad IPv6 address";
        }
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c >= 0x80) return "the host is not ASCII (write an international name in its xn-- form)";
        if (c == '.' && (i == 0 || h[i - 1] == '.')) return "the host has an empty label";
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '.' || c == '_' || c == '~'))
            return "the host contains a character a host name cannot have";
    }
    return NULL;
}

#define TOO_LONG() fail(err, errlen, "a part is too long")

/* The authority's user part, auth[0, al): the public key up to '@' (a legacy ":secret" after
 * it is ignored). 0 with *hostport set past the '@', or fail()'s value. */
static int parse_key(const char *auth, size_t al, const char **hostport, sp_dsn_t *out, char *err,
                     size_t errlen)
{
    *hostport = auth + al; /* an empty host, until a key is found */
    const char *at = NULL; /* the user part ends at the authority's last '@' */
    for (size_t i = 0; i < al; i++)
        if (auth[i] == '@') at = auth + i;
    size_t kl = at ? strcspn(auth, ":@") : 0;
    if (!at || !kl || auth + kl > at) return fail(err, errlen, "no public key (the part before '@')");
    for (size_t i = 0; i < kl; i++)
        if (!key_char((unsigned char)auth[i])) return fail(err, errlen, "the public key contains '%c'", auth[i]);
    if (!copy_n(out->public_key, sizeof out->public_key, auth, kl, false)) return TOO_LONG();
    *hostport = at + 1;
    return 0;
}

/* [hostport, end): a host name, IPv4 or [IPv6] address, then maybe ":port". */
static int parse_host_port(const char *hostport, const char *end, sp_dsn_t *out, char *err, size_t errlen)
{
    size_t hpl = (size_t)(end - hostport), hl = hpl;
    const char *port = NULL;
    if (hpl && hostport[0] == '[') {
        const char *close = memchr(hostport, ']', hpl);
        hl = close ? (size_t)(close - hostport) + 1 : hpl;
        if (hl < hpl) {
            if (hostport[hl] != ':') return fail(err, errlen, "bad port");
            port = hostport + hl + 1;
        }
    } else {
        const char *colon = memchr(hostport, ':', hpl);
        if (colon) {
            hl = (size_t)(colon - hostport);
            port = colon + 1;
        }
    }
    const char *why = host_problem(hostport, hl);
    if (why) return fail(err, errlen, "%s", why);
    if (!copy_n(out->host, sizeof out->host, hostport, hl, false)) return TOO_LONG();
    if (!port) return 0;
    size_t pl = (size_t)(end - port);
    unsigned long pn = 0;
    bool ok = pl > 0 && pl <= 5;
    for (size_t i = 0; ok && i < pl; i++) {
        ok = port[i] >= '0' && port[i] <= '9';
        pn = pn * 10 + (unsigned long)(port[i] - '0');
    }
    if (!ok || pn == 0 || pn > 65535) return fail(err, errlen, "bad port");
    out->port = (unsigned)pn;
    return 0;
}

/* The path: {prefix}/{project_id}; query and fragment are ignored. */
static int parse_path(const char *path, sp_dsn_t *out, char *err, size_t errlen)
{
    size_t pl = strcspn(path, "?#");
    const char *slash = NULL;
    for (size_t i = 0; i < pl; i++) {
        if (path[i] == '/') slash = path + i;
        else if (!path_char((unsigned char)path[i])) return fail(err, errlen, "the path contains '%c'", path[i]);
    }
    if (!slash || slash + 1 == path + pl) return fail(err, errlen, "no project id (the last part of the path)");
    if (!copy_n(out->prefix, sizeof out->prefix, path, (size_t)(slash - path), false) ||
        !copy_n(out->project_id, sizeof out->project_id, slash + 1, (size_t)(path + pl - slash - 1), false))
        return TOO_LONG();
    return 0;
}

int sp_dsn_parse(const char *dsn, sp_dsn_t *out, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!out) return -EINVAL;
    memset(out, 0, sizeof *out);
    if (!dsn || !*dsn) return fail(err, errlen, "empty");
    if (strlen(dsn) > SP_DSN_MAX_LEN) return fail(err, errlen, "longer than %d bytes", SP_DSN_MAX_LEN);
    for (const char *p = dsn; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return fail(err, errlen, "contains spaces or control characters");

    /* {scheme}:// */
    const char *sep = strstr(dsn, "://");
    size_t sl = sep ? (size_t)(sep - dsn) : 0;
    if (!sep || !sl || strcspn(dsn, ":/?#@") != sl)
        return fail(err, errlen, "not a URL of the form {scheme}://{public_key}@{host}/{project_id}");
    if (!((sl == 4 && strncasecmp(dsn, "http", 4) == 0) || (sl == 5 && strncasecmp(dsn, "https", 5) == 0)))
        return fail(err, errlen, "the scheme must be http or https");
    copy_n(out->scheme, sizeof out->scheme, dsn, sl, true);

    /* authority: up to the first '/', '?' or '#' */
    const char *auth = sep + 3, *hostport = NULL;
    size_t al = strcspn(auth, "/?#");
    int rc;
    if ((rc = parse_key(auth, al, &hostport, out, err, errlen)) < 0 ||
        (rc = parse_host_port(hostport, auth + al, out, err, errlen)) < 0 ||
        (rc = parse_path(auth + al, out, err, errlen)) < 0) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    return 0;
}

int sp_dsn_envelope_url(const sp_dsn_t *dsn, char *buf, size_t len)
{
    if (!dsn || !buf || !len) return -EINVAL;
    char port[16] = ""; /* ":" + up to 10 digits */
    if (dsn->port) snprintf(port, sizeof port, ":%u", dsn->port);
    int n = snprintf(buf, len, "%s://%s%s%s/api/%s/envelope/", dsn->scheme, dsn->host, port,
                     dsn->prefix, dsn->project_id);
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return -ENAMETOOLONG;
    }
    return 0;
}

int sp_dsn_auth_header(const sp_dsn_t *dsn, char *buf, size_t len)
{
    if (!dsn || !buf || !len) return -EINVAL;
    int n = snprintf(buf, len,
                     SP_DSN_AUTH_HEADER ": Sentry sentry_version=%d, sentry_client=" SP_DSN_CLIENT
                                        ", sentry_key=%s",
                     SP_DSN_SENTRY_VERSION, dsn->public_key);
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return -ENAMETOOLONG;
    }
    return 0;
}
