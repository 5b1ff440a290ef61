/* dsn: parses SENTRY_DSN with libcurl's URL API (curl_url, CURLUPART_*), so the URL rules
 * (IPv6 literals, ports, percent-encoding) are libcurl's, the same code that will connect.
 *
 * Owns: nothing (pure functions over sp_dsn_t). Threads/processes: the CLI's
 * `sentryprof upload` (libspnet, never the preload library). Environment: none; the caller
 * reads SENTRY_DSN. Rules (as Sentry's SDKs): scheme http or https; the user part is the
 * public key and is required; a password (the legacy secret key) is ignored; the last path
 * segment is the project id and must not be empty, what precedes it is a path prefix
 * (Sentry behind a sub-path). The key and project id end up in a header and a URL: bytes
 * that could break either are refused.
 */
#include "dsn.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Copies src into dst (size len); false when it does not fit. */
static bool copy(char *dst, size_t len, const char *src)
{
    size_t n = strlen(src);
    if (n >= len) return false;
    memcpy(dst, src, n + 1);
    return true;
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

    CURLU *u = curl_url();
    if (!u) return -ENOMEM;
    char *scheme = NULL, *user = NULL, *host = NULL, *port = NULL, *path = NULL;
    int rc = -EINVAL;
    /* Any scheme parses, so a wrong one gets our reason rather than libcurl's. */
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, dsn, CURLU_NON_SUPPORT_SCHEME);
    if (uc != CURLUE_OK) {
        rc = uc == CURLUE_OUT_OF_MEMORY ? -ENOMEM : fail(err, errlen, "%s", curl_url_strerror(uc));
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        rc = fail(err, errlen, "the scheme must be http or https");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_OK || !*user) {
        rc = fail(err, errlen, "no public key (the part before '@')");
        goto out;
    }
    for (const char *p = user; *p; p++) {
        if (!key_char((unsigned char)*p)) {
            rc = fail(err, errlen, "the public key contains '%c'", *p);
            goto out;
        }
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
        rc = fail(err, errlen, "no host");
        goto out;
    }
    uc = curl_url_get(u, CURLUPART_PORT, &port, 0);
    if (uc == CURLUE_OK) {
        char *end;
        unsigned long pn = strtoul(port, &end, 10);
        if (*end || pn == 0 || pn > 65535) {
            rc = fail(err, errlen, "bad port");
            goto out;
        }
        out->port = (unsigned)pn;
    } else if (uc != CURLUE_NO_PORT) {
        rc = fail(err, errlen, "bad port");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        rc = fail(err, errlen, "no path");
        goto out;
    }
    char *slash = strrchr(path, '/'); /* libcurl's path always starts with '/' */
    const char *project = slash ? slash + 1 : path;
    if (!*project) {
        rc = fail(err, errlen, "no project id (the last part of the path)");
        goto out;
    }
    for (const char *p = project; *p; p++) {
        if (!path_char((unsigned char)*p)) {
            rc = fail(err, errlen, "the project id contains '%c'", *p);
            goto out;
        }
    }
    if (slash) *slash = '\0'; /* path is now the prefix: "" or "/a/b" */
    if (!copy(out->scheme, sizeof out->scheme, scheme) ||
        !copy(out->public_key, sizeof out->public_key, user) ||
        !copy(out->host, sizeof out->host, host) ||
        !copy(out->prefix, sizeof out->prefix, path) ||
        !copy(out->project_id, sizeof out->project_id, project)) {
        rc = fail(err, errlen, "a part is too long");
        goto out;
    }
    rc = 0;
out:
    curl_free(scheme);
    curl_free(user);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    if (rc < 0) memset(out, 0, sizeof *out);
    return rc;
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
