/* spool_state: state.json, the uploader state every process shares (layout v1, spool.h).
 * {"version":1,
 *  "dsns":{"<scheme>://<key>@<host>[:port][prefix]/<project>": {   (per DSN: delivery.h)
 *      "rate_limits":{"<category>|*": <until, unix seconds>, ...}, (ratelimit.h)
 *      "backoff":{"until": <unix seconds>, "attempts": <n>}},      (ratelimit.h)
 *   ...},
 *  "discards":[{"reason":..., "category":..., "quantity":<n>}, ...]} (client reports)
 * A missing, unreadable or other-version file reads as {"version":1}.
 * Changed under a flock on state.json.lock and replaced atomically; any thread, any
 * process (never the signal handler). */
#ifndef SP_SPOOL_STATE_H
#define SP_SPOOL_STATE_H

#include <jansson.h>

#include "spool.h"

#define SP_SPOOL_STATE_VERSION 1

/* Changes the state under its lock: loads it, calls fn(state, ctx), and writes it back
 * atomically when fn returns > 0 (0: unchanged; < 0: error, nothing written). Waits at most
 * a couple of seconds for the lock (-EWOULDBLOCK). fn's negative value or a negative errno,
 * else 0. Any thread, any process. */
typedef int (*sp_spool_state_fn)(json_t *state, void *ctx);
int sp_spool_state_update(sp_spool_t *spool, sp_spool_state_fn fn, void *ctx);
/* A snapshot of the state (new reference in *out; no lock needed: it is replaced
 * atomically). 0 or a negative errno. */
int sp_spool_state_read(sp_spool_t *spool, json_t **out);
/* Adds quantity to the pending discard (reason, category) in a state object: pure JSON, for
 * use inside an update. Entries are bounded (new pairs beyond the bound are ignored).
 * 1 when changed, 0 when not (quantity 0, bound), or -EINVAL/-ENOMEM. */
int sp_spool_state_discard_add(json_t *state, const char *reason, const char *category,
                               json_int_t quantity);
/* Adds every entry of a discards array (as sp_spool_state_take_discards returns, or the
 * "discards" of another state object) with sp_spool_state_discard_add: 1 when state changed,
 * else 0. Pure JSON, for use inside an update (it has the update callback's shape). */
int sp_spool_state_discards_merge(json_t *state, void *discards);
/* The same as one locked update of the shared state. 0 or a negative errno. */
int sp_spool_state_add_discard(sp_spool_t *spool, const char *reason, const char *category,
                               json_int_t quantity);
/* Removes every pending discard from the shared state and returns them (a new array
 * reference in *out, NULL when there were none), so that concurrent uploaders never report
 * the same discards twice. Put them back with sp_spool_state_discard_add if they could not be
 * delivered. 0 or a negative errno. */
int sp_spool_state_take_discards(sp_spool_t *spool, json_t **out);

#endif
