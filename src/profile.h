/* profile: turns a session into Sentry's profile formats and wraps them in envelopes.
 * v2 continuous chunk (item type "profile_chunk", samples with unix-seconds timestamps);
 * see docs/SENTRY-FORMAT.md. Pure functions; background thread and tests. */
#ifndef SP_PROFILE_H
#define SP_PROFILE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"
#include "symbolize.h"
#include "txn.h"

#define SP_SDK_NAME "sentryprof"
#define SP_CHUNK_MIN_SAMPLES 2   /* Relay drops chunks with fewer */

typedef struct {
    char chunk_id[33];    /* 32 lowercase hex */
    char profiler_id[33]; /* one per process */
    const char *release;
    const char *environment;
    const char *sdk_name;    /* client_sdk and envelope sdk; NULL: sentryprof's own. An app's */
    const char *sdk_version; /* Sentry SDK that we serve as its profiler names itself here */
    const char *sdk_package; /* its npm package ("npm:@sentry/node"): envelope sdk.packages */
    const sp_symbolizer_t *symbolizer; /* the native images of debug_meta; NULL: none */
} sp_chunk_meta_t;

/* RFC 3339 UTC with milliseconds: "2026-11-25T19:00:00.123Z". */
void sp_profile_iso_time(uint64_t unix_ns, char *buf, size_t len);

/* The v2 chunk payload as compact JSON text (an sp_mem buffer, *len bytes), samples
 * sorted by time; NULL on ENOMEM. */
char *sp_profile_chunk_text(const sp_session_t *s, const sp_chunk_meta_t *meta, size_t *len);
/* A complete envelope holding that chunk; *out is an sp_mem buffer. 0 or -errno
 * (-ENODATA when the session has fewer than SP_CHUNK_MIN_SAMPLES samples). */
int sp_profile_chunk_envelope(const sp_session_t *s, const sp_chunk_meta_t *meta, char **out,
                              size_t *len);

/* What a v1 profile says about where it ran. */
typedef struct {
    const char *release;
    const char *environment;
    const char *node_version; /* "20.20.2"; "" when unknown */
    const char *locale;       /* device.locale (config's LANG); NULL or "": "C" */
    const sp_symbolizer_t *symbolizer; /* the native images of debug_meta; NULL: none */
} sp_profile_env_t;

/* The v1 profile payload alone as compact JSON text (an sp_mem buffer, *len bytes; NULL
 * with < 2 samples or on ENOMEM); profile_id receives its event_id. */
char *sp_profile_txn_text(const sp_session_t *s, const sp_txn_t *t, uint64_t origin_real_ns,
                          const sp_profile_env_t *env, char profile_id[33], size_t *len);

/* A v1 transaction profile (item "profile") plus its transaction event (item
 * "transaction") in one envelope, as Relay requires. s holds the transaction's samples
 * (realtime ns); origin_real_ns is the transaction start on the same clock. 0 or -errno
 * (-ENODATA: fewer than 2 samples). */
int sp_profile_txn_envelope(const sp_session_t *s, const sp_txn_t *t, uint64_t origin_real_ns,
                            const sp_profile_env_t *env, char **out, size_t *len);

/* The transaction event alone. Continuous mode: profiler_id points it at the continuous
 * profile (contexts.profile.profiler_id). Transaction mode, a transaction too short for a
 * profile: profiler_id NULL, no profile context (so Sentry's counts and percentiles still
 * see it). 0 or -errno. */
int sp_profile_txn_event_envelope(const sp_txn_t *t, const char *profiler_id,
                                  const sp_profile_env_t *env, char **out, size_t *len);

#endif
