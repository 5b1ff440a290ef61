/* delivery_text: the status line of a failed upload request (the profiled process's
 * uploader thread prints each cause once: uploader.c). Pure functions; libspnet. */
#ifndef SP_DELIVERY_TEXT_H
#define SP_DELIVERY_TEXT_H

#include "delivery_state.h"
#include "dsn.h"
#include "ratelimit.h"
#include "transport.h"

typedef struct {
    char cause[16];  /* "http-401", "http-403", "http-404", "http-413", "http-4xx", "connect",
                        "http-retry", "rate-limit" */
    char text[1024]; /* what happened and what happens to the data */
} sp_delivery_text_t;

/* The line for a request to dsn's Sentry that ended in outcome o (sent: the transport's
 * result, 0 when Sentry answered resp->status), for an envelope of categories cats, with
 * the limits rl after the answer, the spool in dir, at unix time now. 1 and *out, or 0
 * when there is nothing to say (delivered). */
int sp_delivery_text_failure(const sp_dsn_t *dsn, const char *dir, int sent,
                             const sp_transport_response_t *resp, sp_send_outcome_t o,
                             const sp_delivery_cats_t *cats, const sp_ratelimit_t *rl, double now,
                             sp_delivery_text_t *out);

#endif
