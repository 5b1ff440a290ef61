/* delivery_upkeep: the spool's upkeep before an upload pass (adopt, set aside, size cap). */
#ifndef SP_DELIVERY_UPKEEP_H
#define SP_DELIVERY_UPKEEP_H

#include "delivery.h"

/* Adopts what dead processes left, moves stray ready/ entries to stray/ (one line each),
 * then evicts the oldest ready/ files above max_bytes (unsendable ones first), each eviction
 * counted as a discard. */
void sp_delivery_upkeep(sp_delivery_t *d, unsigned long long max_bytes);

#endif
