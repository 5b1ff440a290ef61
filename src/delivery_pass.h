/* delivery_pass: one walk of `sentryprof upload` over ready/ (delivery.h says what the
 * policy does with each file). The CLI's one thread; never in the profiled process. */
#ifndef SP_DELIVERY_PASS_H
#define SP_DELIVERY_PASS_H

#include "delivery.h"

/* One walk over ready/, oldest first (d->wake is reset first), then a client report with
 * the pending discards when nothing else carried them. */
void sp_delivery_pass(sp_delivery_t *d);

#endif
