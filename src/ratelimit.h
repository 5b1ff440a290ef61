/* ratelimit: what Sentry told us to hold back, and our own retry backoff. Pure functions
 * over a small struct (no I/O, no clock: callers pass "now" as unix seconds), plus its
 * round trip through the spool's shared state.json (spool_state.h). Linked into the CLI only
 * (libspnet). Single-threaded use per struct.
 */
#ifndef SP_RATELIMIT_H
#define SP_RATELIMIT_H

#include <jansson.h>
#include <stdbool.h>

/* The categories we track. SP_RL_ALL is the limit without categories ("all"). */
enum {
    SP_RL_ALL = 0,
    SP_RL_TRANSACTION,
    SP_RL_PROFILE,
    SP_RL_PROFILE_CHUNK,
    SP_RL_INTERNAL, /* client reports */
    SP_RL_COUNT
};

#define SP_RATELIMIT_DEFAULT_SECONDS 60.0   /* 429 with no usable header; bad retry_after */
#define SP_RATELIMIT_MAX_SECONDS (31 * 86400.0) /* longer limits are clamped */
#define SP_BACKOFF_BASE_SECONDS 1.0
#define SP_BACKOFF_MAX_SECONDS 300.0

typedef struct {
    double until[SP_RL_COUNT]; /* unix seconds; a category is limited while now < until */
    double backoff_until;      /* unix seconds: no request at all before this */
    unsigned backoff_attempts; /* consecutive failures (5xx, network) */
} sp_ratelimit_t;

void sp_ratelimit_init(sp_ratelimit_t *rl);

/* Category index for a Sentry data category name ("profile_chunk" ...), or -1 for one we
 * do not track. */
int sp_ratelimit_category(const char *name);
/* Name of category index cat ("*" for SP_RL_ALL). */
const char *sp_ratelimit_category_name(int cat);
/* Data category of an envelope item type: profile_chunk, profile, transaction, and
 * client_report -> internal; -1 for other types (only an "all" limit applies to them). */
int sp_ratelimit_item_category(const char *item_type);

/* Applies an X-Sentry-Rate-Limits value ("retry_after:cat1;cat2:scope[:reason[:ns]], ...";
 * empty categories = all; unknown categories ignored; a bad retry_after means 60 s).
 * Limits only ever extend. Returns how many limits were applied. */
int sp_ratelimit_apply_header(sp_ratelimit_t *rl, const char *header, double now);
/* Parses a Retry-After value (delay seconds, or an HTTP date) into an absolute unix time.
 * 0, or -EINVAL when it is neither. */
int sp_ratelimit_parse_retry_after(const char *value, double now, double *until);
/* Everything one response says: X-Sentry-Rate-Limits when present (any status); else for
 * 429 Retry-After, else 60 s, for all categories. header values may be NULL or "". */
void sp_ratelimit_apply_response(sp_ratelimit_t *rl, long status, const char *rate_limits,
                                 const char *retry_after, double now);

/* When category cat (or everything) is limited: the later "until" of cat and SP_RL_ALL if
 * that is after now, else 0. cat -1 checks only SP_RL_ALL. */
double sp_ratelimit_until(const sp_ratelimit_t *rl, int cat, double now);

/* A failed attempt (5xx, network): attempts+1 and backoff_until = now + delay, where delay is
 * min(max, base * 2^(attempts-1)) scaled by [0.5, 1) with jitter in [0, 1) ("equal jitter":
 * never zero, spread across uploaders). Returns the delay. */
double sp_ratelimit_backoff_fail(sp_ratelimit_t *rl, double now, double jitter);
/* A success: no backoff. */
void sp_ratelimit_backoff_reset(sp_ratelimit_t *rl);

/* Reads rate_limits and backoff from a state.json object (missing or bad members: none). */
void sp_ratelimit_load(sp_ratelimit_t *rl, const json_t *state);
/* Writes rl into state (replacing rate_limits and backoff), leaving out limits that ended
 * before now. 0 or -ENOMEM. */
int sp_ratelimit_store(const sp_ratelimit_t *rl, json_t *state, double now);

#endif
