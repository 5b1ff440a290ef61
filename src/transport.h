/* transport: delivery of one envelope to Sentry, in two layers.
 *   pure step:  the envelope as sent (sent_at refreshed, pending discards appended as a
 *               client_report item), its gzip body, the endpoint URL and auth header;
 *               no I/O, unit tested.
 *   send step:  one HTTP POST through libcurl, returning the status and the headers that
 *               matter (X-Sentry-Rate-Limits, Retry-After), and what to do about it.
 * Linked into the CLI only (libspnet): libcurl never loads into a profiled process
 * (docs/HAZARDS.md section 1). One sp_transport_t per thread.
 */
#ifndef SP_TRANSPORT_H
#define SP_TRANSPORT_H

#include <jansson.h>
#include <stddef.h>

#include "dsn.h"
#include "envelope.h"

#define SP_TRANSPORT_MAX_TIMEOUT_MS 30000L    /* one request never takes longer */
#define SP_TRANSPORT_CONNECT_TIMEOUT_MS 5000L
#define SP_TRANSPORT_HEADER_MAX 2048          /* bytes kept of X-Sentry-Rate-Limits */
#define SP_TRANSPORT_RETRY_AFTER_MAX 128
#define SP_TRANSPORT_MESSAGE_MAX 256          /* curl error or start of the response body */

/* ---- pure step ---- */

/* The bytes to send for parsed (NULL: an envelope with no items of its own): its header with
 * "sent_at" set to now (Relay corrects clock drift from sent_at, so a file sent an hour after
 * it was written must not say it was sent then), its items unchanged, and when discards is a
 * non-empty array a client_report item {"timestamp", "discarded_events"} built from its
 * well-formed entries. New sp_mem buffer in *out. 0, -ENODATA (nothing to send), or -errno. */
int sp_transport_envelope_for_send(const sp_envelope_parsed_t *parsed, const json_t *discards,
                                   double now, char **out, size_t *len);

/* gzip (RFC 1952) of in, into a new sp_mem buffer. 0 or -ENOMEM/-EFBIG/-EIO. */
int sp_transport_gzip(const void *in, size_t len, char **out, size_t *outlen);

typedef struct {
    char url[SP_DSN_URL_MAX];
    char auth[SP_DSN_AUTH_MAX]; /* the whole X-Sentry-Auth header line */
    char *body;                 /* gzip of the envelope (sp_mem) */
    size_t body_len;
} sp_transport_request_t;

/* Fills req for dsn and the envelope bytes. 0 or -errno; free with sp_transport_request_free. */
int sp_transport_request_init(sp_transport_request_t *req, const sp_dsn_t *dsn,
                              const char *envelope, size_t len);
void sp_transport_request_free(sp_transport_request_t *req);

/* ---- send step ---- */

typedef enum {
    SP_SEND_OK,           /* 2xx: delivered */
    SP_SEND_RATE_LIMITED, /* 429: keep it, send once the limit ends */
    SP_SEND_RETRY,        /* no response, 5xx, 408, 3xx/1xx: keep it, back off */
    SP_SEND_DROP,         /* other 4xx: Sentry will never take it; drop and report */
} sp_send_outcome_t;

typedef struct {
    long status; /* HTTP status; 0 when there was no (complete) response */
    int error;   /* CURLcode of the transfer, 0 on success */
    char message[SP_TRANSPORT_MESSAGE_MAX];
    char rate_limits[SP_TRANSPORT_HEADER_MAX];     /* X-Sentry-Rate-Limits, "" if absent */
    char retry_after[SP_TRANSPORT_RETRY_AFTER_MAX]; /* Retry-After, "" if absent */
} sp_transport_response_t;

/* What a status means (0: no response). */
sp_send_outcome_t sp_transport_outcome(long status);
const char *sp_transport_outcome_name(sp_send_outcome_t o);

/* Once per process before any other thread runs: libcurl's global init, with its memory
 * routed through sp_mem. 0 or -EIO. */
int sp_transport_global_init(void);
void sp_transport_global_cleanup(void);

typedef struct sp_transport sp_transport_t;
int sp_transport_new(sp_transport_t **out);
void sp_transport_free(sp_transport_t *t);

/* POSTs req, waiting at most timeout_ms (clamped to 1..SP_TRANSPORT_MAX_TIMEOUT_MS). Fills
 * *resp in every case; returns 0 when a response arrived (any status), else the negative
 * errno closest to the failure (-ETIMEDOUT, -ECONNREFUSED, -EIO ...). Follows no redirects,
 * verifies TLS, takes proxies from the environment (libcurl's defaults), sends no signals. */
int sp_transport_send(sp_transport_t *t, const sp_transport_request_t *req, long timeout_ms,
                      sp_transport_response_t *resp);

#endif
