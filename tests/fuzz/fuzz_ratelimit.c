/* Fuzz target: what Sentry's responses say (src/ratelimit.c): an X-Sentry-Rate-Limits
 * value and a Retry-After value (two NUL-separated fields of the input) under any status.
 * Limits stay finite, never before now, never beyond SP_RATELIMIT_MAX_SECONDS from now, and
 * round-trip through state.json. */
#include <errno.h>
#include <math.h>

#include "fuzz.h"
#include "ratelimit.h"

#define NOW 1795549336.0

static void check_sane(const sp_ratelimit_t *rl, const char *what)
{
    for (int c = 0; c < SP_RL_COUNT; c++) {
        double u = rl->until[c];
        SP_FUZZ_CHECK(isfinite(u), "%s: until[%d] = %f", what, c, u);
        SP_FUZZ_CHECK(u == 0 || (u >= NOW && u <= NOW + SP_RATELIMIT_MAX_SECONDS + 1),
                      "%s: until[%d] = now %+f s", what, c, u - NOW);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sp_fuzz_in_t in = {data, size};
    long status = (long)sp_fuzz_u64(&in, 2) % 600;
    char *limits = sp_fuzz_str(&in);
    char *retry = sp_fuzz_str(&in);

    sp_ratelimit_t rl;
    sp_ratelimit_init(&rl);
    int n = sp_ratelimit_apply_header(&rl, limits, NOW);
    SP_FUZZ_CHECK(n >= 0, "apply_header returned %d", n);
    check_sane(&rl, "apply_header");

    double until = -1;
    int rc = sp_ratelimit_parse_retry_after(retry, NOW, &until);
    SP_FUZZ_CHECK(rc == 0 || rc == -EINVAL, "parse_retry_after returned %d", rc);
    if (rc == 0)
        SP_FUZZ_CHECK(isfinite(until) && until >= NOW &&
                          until <= NOW + SP_RATELIMIT_MAX_SECONDS + 1,
                      "Retry-After '%s' gave now %+f s", retry, until - NOW);

    sp_ratelimit_init(&rl);
    sp_ratelimit_apply_response(&rl, status, limits, retry, NOW);
    check_sane(&rl, "apply_response");
    for (int c = -1; c < SP_RL_COUNT; c++) {
        double u = sp_ratelimit_until(&rl, c, NOW);
        SP_FUZZ_CHECK(isfinite(u), "until(%d) = %f", c, u);
    }
    (void)sp_ratelimit_category(limits);
    (void)sp_ratelimit_item_category(retry);

    /* Through state.json and back: the same limits. */
    json_t *state = json_object();
    if (!state) abort();
    SP_FUZZ_CHECK(sp_ratelimit_store(&rl, state, NOW) == 0, "store failed");
    sp_ratelimit_t back;
    sp_ratelimit_init(&back);
    sp_ratelimit_load(&back, state);
    for (int c = -1; c < SP_RL_COUNT;
         c++) /* what is limited at now (ended limits are not stored) */
        SP_FUZZ_CHECK(
            fabs(sp_ratelimit_until(&back, c, NOW) - sp_ratelimit_until(&rl, c, NOW)) < 1e-3,
            "category %d: limited until now %+f s, after the round trip now %+f s", c,
            sp_ratelimit_until(&rl, c, NOW) - NOW, sp_ratelimit_until(&back, c, NOW) - NOW);
    json_decref(state);
    free(limits);
    free(retry);
    return 0;
}
