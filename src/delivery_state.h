/* delivery_state: the upload policy's view of state.json and of a spool file's bytes
 * (delivery.h runs the policy; spool_state.h owns the file and its lock).
 *
 * state.json's "dsns" member keeps rate limits and backoff per DSN ("dsns":
 * {"<scheme>://<key>@<host>[:port][prefix]/<project>": {"rate_limits", "backoff"}},
 * ratelimit.h): what one project's Sentry said, or a DSN that failed, must not hold back
 * another DSN sharing the spool (a fixed one). Discards are counted per data category.
 * Pure functions: no I/O, no clock, no randomness; any thread. Linked into the CLI and the
 * tests only (libspnet).
 */
#ifndef SP_DELIVERY_STATE_H
#define SP_DELIVERY_STATE_H

#include <jansson.h>
#include <stddef.h>

#include "dsn.h"
#include "envelope.h"
#include "ratelimit.h"
#include "transport.h"

#define SP_DELIVERY_STATE_DSNS       "dsns" /* state.json: {"dsns": {"<dsn key>": {limits}}} */
#define SP_DELIVERY_UNKNOWN_CATEGORY "profile_chunk" /* what an unreadable file most likely held */
#define SP_DELIVERY_REASON_SEND      "send_error"
#define SP_DELIVERY_REASON_CAP       "cache_overflow"

/* Items per data category (index SP_RL_*; [SP_RL_ALL] counts items of other types). */
typedef struct {
    json_int_t n[SP_RL_COUNT];
} sp_delivery_cats_t;

/* The categories of a parsed envelope's items. */
void sp_delivery_state_count(const sp_envelope_parsed_t *env, sp_delivery_cats_t *c);
/* The categories of a spool file's bytes: every envelope of a batch, the items of an
 * envelope, or (unparseable, or data NULL) one SP_DELIVERY_UNKNOWN_CATEGORY. */
void sp_delivery_state_categories(const char *data, size_t len, sp_delivery_cats_t *c);
/* Adds one discard per item of c to a state object (untracked types are not reported:
 * Sentry has no category we could name for them). 1 when it changed, else 0. */
int sp_delivery_state_add_discards(json_t *state, const char *reason, const sp_delivery_cats_t *c);

/* "<scheme>://<key>@<host>[:port][prefix]/<project>": a DSN's entry in state.json. */
void sp_delivery_state_dsn_key(const sp_dsn_t *dsn, char *buf, size_t len);
/* The limits and backoff state holds for dsn_key (none when it holds nothing). */
void sp_delivery_state_limits(json_t *state, const char *dsn_key, sp_ratelimit_t *rl);
/* Until when (unix seconds) rl holds back a file with categories c: the latest limit of
 * "all" and of its categories, 0 when none. (Backoff is separate: rl->backoff_until.) */
double sp_delivery_state_held_until(const sp_ratelimit_t *rl, const sp_delivery_cats_t *c,
                                    double now);

/* One answer of Sentry (or none) to a request carrying an envelope of categories cats. */
typedef struct {
    const char *dsn_key;
    const sp_transport_response_t *resp;
    sp_send_outcome_t outcome;
    const sp_delivery_cats_t *cats;
    double now;        /* unix seconds */
    double jitter;     /* in [0, 1): spreads the backoff of uploaders that failed together */
    sp_ratelimit_t rl; /* out: the DSN's limits after the answer */
} sp_delivery_answer_t;
/* Applies an answer (sp_delivery_answer_t *) to the state, as an sp_spool_state_fn: its
 * limits and Retry-After; a 429 that limits none of the envelope's categories holds them
 * for the default time (else it would be retried at once, forever); a success ends the
 * backoff, a retryable failure extends it; a permanent refusal counts the envelope's items
 * as discards "send_error". 1 when the state changed (to be written), 0 when not, or
 * -ENOMEM. */
int sp_delivery_state_answer(json_t *state, void *answer);

/* An answer Sentry gave the app's own SDK for the same DSN (`sentryprof upload
 * --sdk-response`, relayed by the library: uploader.h): its limits apply to our files too.
 * Only the limits: the SDK's failures are not ours to back off from, and a 429 without
 * headers holds everything for Retry-After (else 60 s), as the SDK's transport does. */
typedef struct {
    const char *dsn_key;
    double at;  /* unix seconds when the SDK got it (Retry-After counts from there) */
    long status;
    const char *retry_after, *rate_limits;
    double now; /* unix seconds */
} sp_delivery_sdk_response_t;
/* Parses "AT\tSTATUS\tRETRY_AFTER\tRATE_LIMITS" (changing buf; r points into it; dsn_key and
 * now are left alone). An AT in the future is taken as now. 0 or -EINVAL. */
int sp_delivery_sdk_response_parse(char *buf, sp_delivery_sdk_response_t *r);
/* Applies one (sp_delivery_sdk_response_t *) to the state, as an sp_spool_state_fn: 1 when
 * the state changed, 0 when not, or -ENOMEM. */
int sp_delivery_state_sdk_response(json_t *state, void *response);
#endif
