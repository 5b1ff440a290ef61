/* Fuzz target: JSON written from arbitrary bytes (src/json.c and what writes through it).
 * The input gives SENTRY_RELEASE, SENTRY_ENVIRONMENT and LANG (read by the real config
 * loader, src/config.c, with its truncation), a frame's function, script path and module
 * (src/frames.c), a thread name and a transaction name. Whatever the bytes (invalid UTF-8,
 * control characters, a multi-byte character cut by a length limit), every frame must be
 * written as a JSON object with its "function", and the chunk envelope and the transaction
 * profile envelope must be built and be valid JSON item by item (issue #20 item 4: a bad
 * release used to lose every envelope). Checked by parsing everything back with jansson. */
#include <jansson.h>

#include "config.h"
#include "envelope.h"
#include "frames.h"
#include "fuzz.h"
#include "mem.h"
#include "profile.h"
#include "session.h"
#include "utf8.h"

static void check_json(const char *what, const char *text, size_t len)
{
    json_error_t err;
    json_t *v = json_loadb(text, len, 0, &err);
    SP_FUZZ_CHECK(v != NULL, "%s is not valid JSON: %s: %.*s", what, err.text,
                  (int)(len > 300 ? 300 : len), text);
    SP_FUZZ_CHECK(json_is_object(v), "%s is not a JSON object", what);
    json_decref(v);
}

static void check_envelope(const char *what, const char *buf, size_t len)
{
    sp_envelope_parsed_t env;
    SP_FUZZ_CHECK(sp_envelope_parse(buf, len, &env) == 0, "%s does not parse as an envelope", what);
    for (size_t i = 0; i < env.count; i++) check_json(what, env.items[i].payload, env.items[i].len);
    sp_envelope_parsed_free(&env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sp_fuzz_in_t in = {data, size};
    char *release = sp_fuzz_str(&in), *environment = sp_fuzz_str(&in), *lang = sp_fuzz_str(&in);
    char *function = sp_fuzz_str(&in), *script = sp_fuzz_str(&in), *module = sp_fuzz_str(&in);
    char *thread = sp_fuzz_str(&in), *txn_name = sp_fuzz_str(&in);
    setenv(SP_ENV_RELEASE, release, 1);
    setenv(SP_ENV_ENVIRONMENT, environment, 1);
    setenv("LANG", lang, 1);
    sp_config_t cfg;
    sp_config_load(&cfg);

    sp_frames_t *ft = sp_frames_new();
    sp_session_t *s = sp_session_new();
    if (!ft || !s) abort();
    sp_frames_set_module_base(ft, script[0] == '/' ? "/app" : NULL);
    sp_frame_t frames[3] = {
        {.function = function,
         .abs_path = script,
         .lineno = 3,
         .colno = 7,
         .kind = SP_FRAME_JS,
         .in_app = true},
        {.function = function,
         .abs_path = script,
         .module = module,
         .instruction_addr = 0x401000,
         .kind = SP_FRAME_NATIVE},
        {.function = txn_name, .abs_path = NULL, .module = script, .kind = SP_FRAME_JS},
    };
    uint32_t ids[3];
    for (int i = 0; i < 3; i++) {
        long id = sp_frames_intern(ft, &frames[i]);
        SP_FUZZ_CHECK(id >= 0, "frame %d: sp_frames_intern returned %ld", i, id);
        size_t len;
        const char *text = sp_frames_json(ft, (uint32_t)id, &len);
        SP_FUZZ_CHECK(text != NULL, "frame %d: no JSON text", i);
        check_json("a frame", text, len);
        json_t *v = json_loadb(text, len, 0, NULL);
        SP_FUZZ_CHECK(json_is_string(json_object_get(v, "function")),
                      "frame %d has no \"function\": %.*s", i, (int)len, text);
        json_decref(v);
        long sid = sp_session_frame(s, ft, (uint32_t)id);
        SP_FUZZ_CHECK(sid >= 0, "sp_session_frame returned %ld", sid);
        ids[i] = (uint32_t)sid;
    }
    long st = sp_session_stack(s, ids, 3);
    SP_FUZZ_CHECK(st >= 0, "sp_session_stack returned %ld", st);
    SP_FUZZ_CHECK(sp_session_sample(s, st, "0", thread, 1795549336000000000ull) == 0,
                  "first sample refused");
    SP_FUZZ_CHECK(sp_session_sample(s, st, "0", thread, 1795549336010000000ull) == 0,
                  "second sample refused");

    char *buf = NULL;
    size_t len = 0;
    sp_chunk_meta_t meta = {.release = cfg.release, .environment = cfg.environment};
    snprintf(meta.chunk_id, sizeof meta.chunk_id, "%032d", 1);
    snprintf(meta.profiler_id, sizeof meta.profiler_id, "%032d", 2);
    int rc = sp_profile_chunk_envelope(s, &meta, &buf, &len);
    SP_FUZZ_CHECK(rc == 0, "the chunk envelope was not built (%d)", rc);
    check_envelope("the chunk envelope", buf, len);
    sp_mem_free(buf);

    sp_txn_t t = {.start_real_ns = 1795549336000000000ull, .end_ns = 20000000};
    /* As sp_txn_start and sp_txn_set_name copy a name in (src/txn.c): valid UTF-8, cut on a
     * character boundary. */
    sp_utf8_copy(t.name, sizeof t.name, txn_name, strlen(txn_name), NULL, NULL);
    snprintf(t.op, sizeof t.op, "http.server");
    snprintf(t.event_id, sizeof t.event_id, "%032d", 3);
    snprintf(t.trace_id, sizeof t.trace_id, "%032d", 4);
    snprintf(t.span_id, sizeof t.span_id, "%016d", 5);
    snprintf(t.thread_id, sizeof t.thread_id, "0");
    sp_profile_env_t env = {.release = cfg.release,
                            .environment = cfg.environment,
                            .node_version = "22.0.0",
                            .locale = cfg.locale};
    rc = sp_profile_txn_envelope(s, &t, t.start_real_ns, &env, &buf, &len);
    SP_FUZZ_CHECK(rc == 0, "the transaction profile envelope was not built (%d)", rc);
    check_envelope("the transaction profile envelope", buf, len);
    sp_mem_free(buf);

    sp_session_free(s);
    sp_frames_free(ft);
    free(release), free(environment), free(lang), free(function), free(script), free(module),
        free(thread), free(txn_name);
    return 0;
}
