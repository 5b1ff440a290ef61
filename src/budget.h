/* budget: the process-wide token bucket of the HTTP auto-instrumentation
 * (SENTRYPROF_HTTP_TRANSACTIONS_PER_SECOND): at most `rate` transactions a second, one
 * second's worth of burst, whichever JS thread serves the request. */
#ifndef SP_BUDGET_H
#define SP_BUDGET_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    pthread_mutex_t mu;
    double rate;  /* tokens per second; <= 0: none ever */
    double burst; /* the most tokens held: one second's worth, at least 1 */
    double tokens;
    uint64_t refilled_ns; /* the clock (any monotonic ns) at the last refill */
} sp_budget_t;

/* A full bucket at now_ns. */
void sp_budget_init(sp_budget_t *b, double rate, uint64_t now_ns);
/* Takes one token if there is one (refilling for the time since the last refill first). */
bool sp_budget_take(sp_budget_t *b, uint64_t now_ns);
/* Puts a token taken by sp_budget_take back (nothing came of it), up to the burst. */
void sp_budget_give_back(sp_budget_t *b);

#endif
