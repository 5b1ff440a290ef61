/* delivery_int: delivery's sending steps that its walk over ready/ (delivery_pass) takes,
 * one envelope or file at a time. Not for use outside delivery's own modules. */
#ifndef SP_DELIVERY_INT_H
#define SP_DELIVERY_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "delivery.h"
#include "spool_queue.h"

/* A claimed single-envelope file: sent unless it must wait, or dropped when Sentry could
 * never take it; the claim always ends here. */
void sp_delivery_send_file(sp_delivery_t *d, sp_spool_queue_claim_t *cl);

/* Sends envelope e (elen bytes) of a claimed batch, named `name` for messages, straight
 * from memory. Whether it is done with (sent, or dropped because Sentry can never take
 * it); false when it must wait (held back, rate limited, a failure to retry later, not
 * prepared). */
bool sp_delivery_send_from_batch(sp_delivery_t *d, const char *name, const char *e, size_t elen);

/* A claimed file Sentry could never take (the caller said why): its discard recorded, the
 * claim done, counted as dropped. */
void sp_delivery_drop_file(sp_delivery_t *d, sp_spool_queue_claim_t *cl);

/* Sends the pending discards in a client report of their own, when there are any. */
void sp_delivery_send_discards(sp_delivery_t *d);

#endif
