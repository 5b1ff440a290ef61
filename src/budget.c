/* budget: the process-wide token bucket of the HTTP auto-instrumentation (API in budget.h).
 *
 * Owns: nothing but the caller's sp_budget_t. Threads: every JS thread of the process
 * (through the N-API bridge, preload/napi.c), never the signal handler: a mutex guards the
 * bucket (one request takes it for a few arithmetic operations). Environment: none (the
 * rate comes from config).
 * Rules: the caller passes the clock, so tests need none; the clock only moves forward
 * here (a smaller now_ns refills nothing).
 * Why in C and not in the helper's JS: the helper runs once per JS thread, so a bucket
 * there was a budget per thread; a worker pool serving HTTP multiplied it.
 */
#include "budget.h"

void sp_budget_init(sp_budget_t *b, double rate, uint64_t now_ns)
{
    pthread_mutex_init(&b->mu, NULL);
    b->rate = rate > 0 ? rate : 0;
    b->burst = b->rate >= 1 ? b->rate : 1;
    b->tokens = b->rate > 0 ? b->burst : 0;
    b->refilled_ns = now_ns;
}

bool sp_budget_take(sp_budget_t *b, uint64_t now_ns)
{
    if (b->rate <= 0) return false;
    pthread_mutex_lock(&b->mu);
    if (now_ns > b->refilled_ns) {
        /* refilled on every take, capped at the burst: after an idle minute the bucket
         * holds one second's worth, not a minute's */
        double t = b->tokens + (double)(now_ns - b->refilled_ns) * b->rate / 1e9;
        b->tokens = t < b->burst ? t : b->burst;
        b->refilled_ns = now_ns;
    }
    bool ok = b->tokens >= 1;
    if (ok) b->tokens -= 1;
    pthread_mutex_unlock(&b->mu);
    return ok;
}

void sp_budget_give_back(sp_budget_t *b)
{
    if (b->rate <= 0) return;
    pthread_mutex_lock(&b->mu);
    b->tokens = b->tokens + 1 < b->burst ? b->tokens + 1 : b->burst;
    pthread_mutex_unlock(&b->mu);
}
