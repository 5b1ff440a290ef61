/* profile: owns the mapping from session data to Sentry JSON. No I/O. */
#include "profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#include "envelope.h"
#include "mem.h"

void sp_profile_new_id(char out[33])
{
    unsigned char b[16];
    ssize_t n = getrandom(b, sizeof b, GRND_NONBLOCK);
    if (n != (ssize_t)sizeof b) { /* early boot: fall back to time and address entropy */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uintptr_t)out;
        for (int i = 0; i < 16; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            b[i] = (unsigned char)x;
        }
    }
    b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
    b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
}

void sp_profile_iso_time(uint64_t unix_ns, char *buf, size_t len)
{
    time_t secs = (time_t)(unix_ns / 1000000000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03uZ", base, (unsigned)(unix_ns / 1000000u % 1000u));
}

static int by_time(const void *a, const void *b)
{
    const sp_session_sample_t *x = *(sp_session_sample_t *const *)a, *y = *(sp_session_sample_t *const *)b;
    return x->ts_ns < y->ts_ns ? -1 : x->ts_ns > y->ts_ns;
}

json_t *sp_profile_chunk_json(const sp_session_t *s, const sp_chunk_meta_t *meta)
{
    size_t n = sp_session_sample_count(s);
    const sp_session_sample_t *samples = sp_session_samples(s);
    const sp_session_sample_t **order = sp_mem_calloc(n ? n : 1, sizeof *order);
    json_t *arr = json_array();
    if (!order || !arr) goto fail;
    for (size_t i = 0; i < n; i++) order[i] = &samples[i];
    qsort(order, n, sizeof *order, by_time); /* Relay wants ascending time per thread */
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:I, s:s, s:f}", "stack_id", (json_int_t)order[i]->stack_id,
                              "thread_id", sp_session_thread_id(s, order[i]->thread), "timestamp",
                              (double)order[i]->ts_ns / 1e9);
        if (!o || json_array_append_new(arr, o) < 0) goto fail;
    }
    sp_mem_free(order);
    order = NULL;
    json_t *profile = json_pack("{s:o, s:O, s:O, s:O}", "samples", arr, "stacks",
                                sp_session_stacks(s), "frames", sp_session_frames(s),
                                "thread_metadata", sp_session_thread_metadata(s));
    arr = NULL;
    if (!profile) goto fail;
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:o}", "chunk_id",
                     meta->chunk_id, "profiler_id", meta->profiler_id, "client_sdk", "name",
                     SP_SDK_NAME, "version", SP_VERSION, "platform", "node", "version", "2",
                     "release", meta->release ? meta->release : "", "environment",
                     meta->environment ? meta->environment : "production", "profile", profile);
fail:
    sp_mem_free(order);
    json_decref(arr);
    return NULL;
}

int sp_profile_chunk_envelope(const sp_session_t *s, const sp_chunk_meta_t *meta, char **out,
                              size_t *len)
{
    if (sp_session_sample_count(s) < SP_CHUNK_MIN_SAMPLES) return -ENODATA;
    json_t *payload = sp_profile_chunk_json(s, meta);
    if (!payload) return -ENOMEM;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char sent_at[40];
    sp_profile_iso_time((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, sent_at,
                        sizeof sent_at);
    json_t *header = json_pack("{s:s, s:{s:s, s:s}}", "sent_at", sent_at, "sdk", "name",
                               SP_SDK_NAME, "version", SP_VERSION);
    sp_envelope_t *env = sp_envelope_new(header);
    if (!env) {
        json_decref(payload);
        return -ENOMEM;
    }
    int rc = sp_envelope_add_json(env, "profile_chunk", payload, json_pack("{s:s}", "platform", "node"));
    if (rc == 0) rc = sp_envelope_serialize(env, out, len);
    sp_envelope_free(env);
    return rc;
}
