/* profile: owns the mapping from session data to Sentry JSON. No I/O. */
#include "profile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "debugid.h"
#include "envelope.h"
#include "ids.h"
#include "json.h"
#include "mem.h"

void sp_profile_iso_time(uint64_t unix_ns, char *buf, size_t len)
{
    time_t secs = (time_t)(unix_ns / SP_NS_PER_SEC);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03uZ", base, (unsigned)(unix_ns / SP_NS_PER_MS % 1000u));
}

static int by_time(const void *a, const void *b)
{
    const sp_session_sample_t *x = *(sp_session_sample_t *const *)a, *y = *(sp_session_sample_t *const *)b;
    return x->ts_ns < y->ts_ns ? -1 : x->ts_ns > y->ts_ns;
}

/* The "profile" member's value as JSON text: samples sorted by time (Relay wants them
 * ascending per thread), then the session's stacks and frames text and the thread metadata.
 * v1: samples carry elapsed_since_start_ns from origin; v2: a unix timestamp. Written by
 * hand from integers and strings jansson already encoded; a new sp_mem buffer. */
static char *profile_body(const sp_session_t *s, bool v1, uint64_t origin_real_ns, size_t *len)
{
    size_t n = sp_session_sample_count(s), flen, slen, mlen = 0;
    const char *frames = sp_session_frames_text(s, &flen), *stacks = sp_session_stacks_text(s, &slen);
    const sp_session_sample_t *samples = sp_session_samples(s);
    const sp_session_sample_t **order = sp_mem_calloc(n ? n : 1, sizeof *order);
    char *meta = sp_json_dump(sp_session_thread_metadata(s), SP_JSON_DUMP_FLAGS, &mlen);
    char *out = NULL;
    if (!order || !meta) goto done;
    size_t cap = flen + slen + mlen + 128, o = 0;
    for (size_t i = 0; i < n; i++) {
        order[i] = &samples[i];
        cap += 96 + strlen(sp_session_thread_id_json(s, samples[i].thread));
    }
    qsort(order, n, sizeof *order, by_time);
    if (!(out = sp_mem_alloc(cap))) goto done;
    o += (size_t)snprintf(out + o, cap - o, "{\"samples\":[");
    for (size_t i = 0; i < n; i++) {
        const char *tid = sp_session_thread_id_json(s, order[i]->thread);
        uint64_t ts = order[i]->ts_ns;
        if (v1)
            o += (size_t)snprintf(out + o, cap - o,
                                  "%s{\"stack_id\":%" PRIu32 ",\"thread_id\":%s,\"elapsed_since_start_ns\":%" PRIu64 "}",
                                  i ? "," : "", order[i]->stack_id, tid, ts > origin_real_ns ? ts - origin_real_ns : 0);
        else
            o += (size_t)snprintf(out + o, cap - o,
                                  "%s{\"stack_id\":%" PRIu32 ",\"thread_id\":%s,\"timestamp\":%" PRIu64 ".%09" PRIu64 "}",
                                  i ? "," : "", order[i]->stack_id, tid, ts / SP_NS_PER_SEC, ts % SP_NS_PER_SEC);
    }
    o += (size_t)snprintf(out + o, cap - o, "],\"stacks\":[");
    memcpy(out + o, stacks, slen);
    o += slen;
    o += (size_t)snprintf(out + o, cap - o, "],\"frames\":[");
    memcpy(out + o, frames, flen);
    o += flen;
    o += (size_t)snprintf(out + o, cap - o, "],\"thread_metadata\":");
    memcpy(out + o, meta, mlen);
    o += mlen;
    out[o++] = '}';
    out[o] = '\0';
    *len = o;
done:
    sp_mem_free(order);
    sp_mem_free(meta);
    return out;
}

/* Dumps root (an object, consumed) with "profile": body added as its last member. */
static char *dump_with_profile(json_t *root, const char *body, size_t blen, size_t *len)
{
    size_t rlen = 0;
    char *r = root ? sp_json_dump(root, SP_JSON_DUMP_FLAGS, &rlen) : NULL;
    json_decref(root);
    if (!r || rlen < 2 || r[rlen - 1] != '}') {
        sp_mem_free(r);
        return NULL;
    }
    static const char key[] = "\"profile\":";
    size_t o = rlen - 1, total = o + 1 + (sizeof key - 1) + blen + 1;
    char *out = sp_mem_realloc(r, total + 1);
    if (!out) {
        sp_mem_free(r);
        return NULL;
    }
    if (rlen > 2) out[o++] = ','; /* "{}" has no member to follow */
    memcpy(out + o, key, sizeof key - 1);
    o += sizeof key - 1;
    memcpy(out + o, body, blen);
    o += blen;
    out[o++] = '}';
    out[o] = '\0';
    *len = o;
    return out;
}

char *sp_profile_chunk_text(const sp_session_t *s, const sp_chunk_meta_t *meta, size_t *len)
{
    size_t blen;
    char *body = profile_body(s, false, 0, &blen);
    if (!body) return NULL;
    /* measurements and debug_meta as @sentry/profiling-node sends them (measurements
     * empty: no memory/cpu series), so a chunk has the same shape as its; debug_meta holds
     * the source-map debug ids of the bundles its frames name and its native images. */
    size_t flen;
    const char *frames = sp_session_frames_text(s, &flen);
    json_t *images = sp_debugid_images(frames, flen, meta->symbolizer);
    json_t *root = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:{}, s:{s:o}}", "chunk_id",
                             meta->chunk_id, "profiler_id", meta->profiler_id, "client_sdk", "name",
                             meta->sdk_name ? meta->sdk_name : SP_SDK_NAME, "version",
                             meta->sdk_name && meta->sdk_version ? meta->sdk_version : SP_VERSION, "platform", "node", "version", "2",
                             "release", meta->release ? meta->release : "", "environment",
                             meta->environment ? meta->environment : "production", "measurements",
                             "debug_meta", "images", images ? images : json_array());
    char *out = dump_with_profile(root, body, blen, len);
    sp_mem_free(body);
    return out;
}

int sp_profile_chunk_envelope(const sp_session_t *s, const sp_chunk_meta_t *meta, char **out,
                              size_t *len)
{
    if (sp_session_sample_count(s) < SP_CHUNK_MIN_SAMPLES) return -ENODATA;
    size_t plen;
    char *payload = sp_profile_chunk_text(s, meta, &plen);
    if (!payload) return -ENOMEM;
    char sent_at[40];
    sp_profile_iso_time(sp_clock_real_ns(), sent_at, sizeof sent_at);
    char event_id[33];
    sp_ids_new(event_id);
    json_t *header = json_pack("{s:s, s:s, s:{s:s, s:s}}", "event_id", event_id, "sent_at", sent_at, "sdk",
                               "name", meta->sdk_name ? meta->sdk_name : SP_SDK_NAME, "version",
                               meta->sdk_name && meta->sdk_version ? meta->sdk_version : SP_VERSION);
    if (header && meta->sdk_name && meta->sdk_package && *meta->sdk_package)
        json_object_set_new(json_object_get(header, "sdk"), "packages",
                            json_pack("[{s:s, s:s}]", "name", meta->sdk_package, "version",
                                      meta->sdk_version ? meta->sdk_version : ""));
    sp_envelope_t *env = sp_envelope_new(header);
    if (!env) {
        sp_mem_free(payload);
        return -ENOMEM;
    }
    int rc = sp_envelope_add_raw(env, "profile_chunk", payload, plen, json_pack("{s:s}", "platform", "node"));
    sp_mem_free(payload);
    if (rc == 0) rc = sp_envelope_serialize(env, out, len);
    sp_envelope_free(env);
    return rc;
}

/* os, device and runtime blocks of a v1 profile (Relay requires architecture, os name and
 * version). Architecture uses node's naming ("x64"), like @sentry/profiling-node. */
/* uname once: it does not change while we run, and a profile is built per transaction. */
static struct utsname *host(void)
{
    static struct utsname u;
    static int state; /* 0 unknown, 1 ok, -1 failed; only the agent thread builds profiles */
    if (!state) state = uname(&u) == 0 ? 1 : -1;
    return state > 0 ? &u : NULL;
}

static json_t *os_json(void)
{
    struct utsname *u = host();
    if (!u) return json_pack("{s:s, s:s}", "name", "linux", "version", "");
    return json_pack("{s:s, s:s, s:s}", "name", "linux", "version", u->release, "build_number", u->version);
}

static json_t *device_json(const sp_profile_env_t *env)
{
    struct utsname *u = host();
    const char *machine = u ? u->machine : "x86_64";
    const char *arch = strcmp(machine, "x86_64") == 0 ? "x64" : strcmp(machine, "aarch64") == 0 ? "arm64" : machine;
    const char *locale = env->locale; /* config read LANG once: no getenv on this thread */
    return json_pack("{s:s, s:s, s:s, s:s, s:b}", "locale", locale && *locale ? locale : "C",
                     "model", machine, "manufacturer", "Linux", "architecture", arch, "is_emulator", 0);
}

static json_t *envelope_header(const char *event_id)
{
    char sent_at[40];
    sp_profile_iso_time(sp_clock_real_ns(), sent_at, sizeof sent_at);
    return json_pack("{s:s, s:s, s:{s:s, s:s}}", "event_id", event_id, "sent_at", sent_at, "sdk",
                     "name", SP_SDK_NAME, "version", SP_VERSION);
}

static double secs(uint64_t ns) { return (double)ns / (double)SP_NS_PER_SEC; }

/* profile_id links a v1 profile; profiler_id a continuous one. At most one is set; neither:
 * a transaction sent without a profile. */
static json_t *transaction_event(const sp_txn_t *t, const char *profile_id, const char *profiler_id,
                                 const sp_profile_env_t *env)
{
    double start = secs(t->start_real_ns), end = secs(t->start_real_ns + (t->end_ns - t->start_ns));
    const char *status = t->status[0] ? t->status : "ok";
    json_t *trace = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}}", "trace_id", t->trace_id, "span_id",
                              t->span_id, "op", t->op, "status", status, "data", "sentry.origin",
                              "auto.sentryprof");
    if (t->parent_span_id[0]) json_object_set_new(trace, "parent_span_id", json_string(t->parent_span_id));
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:f, s:f, s:s, s:s, s:{s:s, s:s}, s:[], s:{s:o, s:{s:s, s:s}}}",
                           "event_id", t->event_id, "type", "transaction", "platform", "node",
                           "transaction", t->name, "start_timestamp", start, "timestamp", end,
                           "release", env->release ? env->release : "", "environment",
                           env->environment ? env->environment : "production", "sdk", "name",
                           SP_SDK_NAME, "version", SP_VERSION, "spans", "contexts", "trace", trace,
                           "runtime", "name", "node", "version", env->node_version ? env->node_version : "");
    if (ev && (profile_id || profiler_id)) {
        json_t *ctx = json_object_get(ev, "contexts");
        json_object_set_new(ctx, "profile", json_pack("{s:s}", profile_id ? "profile_id" : "profiler_id",
                                                      profile_id ? profile_id : profiler_id));
    }
    if (ev && t->http_status) {
        char code[16];
        snprintf(code, sizeof code, "%d", t->http_status);
        json_object_set_new(ev, "tags", json_pack("{s:s}", "http.status_code", code));
    }
    return ev;
}

char *sp_profile_txn_text(const sp_session_t *s, const sp_txn_t *t, uint64_t origin_real_ns,
                          const sp_profile_env_t *env, char profile_id[33], size_t *len)
{
    if (sp_session_sample_count(s) < SP_CHUNK_MIN_SAMPLES) return NULL;
    size_t blen;
    char *body = profile_body(s, true, origin_real_ns, &blen);
    if (!body) return NULL;
    char ts[40];
    sp_ids_new(profile_id);
    sp_profile_iso_time(t->start_real_ns, ts, sizeof ts);
    json_t *root = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:o, s:o, s:{s:s, s:s, s:s, s:s}}",
        "event_id", profile_id, "platform", "node", "version", "1", "timestamp", ts, "release",
        env->release ? env->release : "", "environment", env->environment ? env->environment : "production",
        "runtime", "name", "node", "version", env->node_version ? env->node_version : "", "os", os_json(),
        "device", device_json(env), "transaction", "name", t->name, "id", t->event_id, "trace_id",
        t->trace_id, "active_thread_id", t->thread_id);
    /* Source maps: the debug ids of the bundles the frames name (as getDebugImagesForResources
     * in @sentry/profiling-node); profiling-node always writes debug_meta, so do we. */
    size_t flen;
    const char *frames = sp_session_frames_text(s, &flen);
    json_t *images = sp_debugid_images(frames, flen, env->symbolizer);
    if (root) json_object_set_new(root, "debug_meta", json_pack("{s:o}", "images", images ? images : json_array()));
    char *out = dump_with_profile(root, body, blen, len);
    sp_mem_free(body);
    return out;
}

int sp_profile_txn_envelope(const sp_session_t *s, const sp_txn_t *t, uint64_t origin_real_ns,
                            const sp_profile_env_t *env, char **out, size_t *len)
{
    if (sp_session_sample_count(s) < SP_CHUNK_MIN_SAMPLES) return -ENODATA;
    char profile_id[33];
    size_t plen = 0;
    char *profile = sp_profile_txn_text(s, t, origin_real_ns, env, profile_id, &plen);
    json_t *event = profile ? transaction_event(t, profile_id, NULL, env) : NULL;
    sp_envelope_t *e = event ? sp_envelope_new(envelope_header(t->event_id)) : NULL;
    if (!e) {
        sp_mem_free(profile);
        json_decref(event);
        return -ENOMEM;
    }
    int rc = sp_envelope_add_json(e, "transaction", event, NULL);
    if (rc == 0) rc = sp_envelope_add_raw(e, "profile", profile, plen, NULL);
    sp_mem_free(profile);
    if (rc == 0) rc = sp_envelope_serialize(e, out, len);
    sp_envelope_free(e);
    return rc;
}

int sp_profile_txn_event_envelope(const sp_txn_t *t, const char *profiler_id,
                                  const sp_profile_env_t *env, char **out, size_t *len)
{
    json_t *event = transaction_event(t, NULL, profiler_id, env);
    sp_envelope_t *e = sp_envelope_new(envelope_header(t->event_id));
    if (!event || !e) {
        json_decref(event);
        sp_envelope_free(e);
        return -ENOMEM;
    }
    int rc = sp_envelope_add_json(e, "transaction", event, NULL);
    if (rc == 0) rc = sp_envelope_serialize(e, out, len);
    sp_envelope_free(e);
    return rc;
}
