/* dsn: a Sentry DSN, {scheme}://{public_key}[:{secret}]@{host}[:{port}][/{prefix}]/{project_id},
 * parsed without libcurl, and what the transport derives from it: the envelope
 * endpoint and the X-Sentry-Auth header. Fixed-size fields, nothing to free.
 * In libsp: the preload library validates SENTRY_DSN at start with it. Any thread.
 */
#ifndef SP_DSN_H
#define SP_DSN_H

#include <stddef.h>

#define SP_DSN_KEY_MAX 128     /* public key bytes + NUL */
#define SP_DSN_HOST_MAX 256    /* host as written in a URL (IPv6 in brackets) + NUL */
#define SP_DSN_PREFIX_MAX 1024 /* path before the project id + NUL */
#define SP_DSN_PROJECT_MAX 128 /* project id + NUL */
#define SP_DSN_URL_MAX 2048    /* buffer for sp_dsn_envelope_url */
#define SP_DSN_AUTH_MAX 512    /* buffer for sp_dsn_auth_header */
#define SP_DSN_AUTH_HEADER "X-Sentry-Auth"

typedef struct {
    char scheme[8]; /* "http" or "https" */
    char public_key[SP_DSN_KEY_MAX];
    char host[SP_DSN_HOST_MAX];
    unsigned port;                  /* 0: the scheme's default */
    char prefix[SP_DSN_PREFIX_MAX]; /* "" or "/a/b": the path before /<project_id> */
    char project_id[SP_DSN_PROJECT_MAX];
} sp_dsn_t;

/* Parses dsn into *out. 0, or -EINVAL with a one-phrase reason in err ("the scheme must be
 * http or https", ...), or -ENOMEM. The secret (password), query and fragment are ignored. */
int sp_dsn_parse(const char *dsn, sp_dsn_t *out, char *err, size_t errlen);

/* "{scheme}://{host}[:{port}]{prefix}/api/{project_id}/envelope/" into buf.
 * 0 or -ENAMETOOLONG. */
int sp_dsn_envelope_url(const sp_dsn_t *dsn, char *buf, size_t len);

/* The whole header line, "X-Sentry-Auth: Sentry sentry_version=7,
 * sentry_client=sentryprof/<SP_VERSION>, sentry_key=<public key>", into buf.
 * 0 or -ENAMETOOLONG. */
int sp_dsn_auth_header(const sp_dsn_t *dsn, char *buf, size_t len);

#endif
