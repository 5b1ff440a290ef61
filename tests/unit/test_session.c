/* Check tests for src/frames.c, src/session.c and src/profile.c: frames and stacks are deduplicated,
 * JS module names follow Sentry's convention, and the v2 chunk (and its envelope) obeys the
 * rules in docs/SENTRY-FORMAT.md: ids, sorted samples, valid indices, >= 2 samples. */
#include "unit.h"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "debugid.h"
#include "envelope.h"
#include "frames.h"
#include "ids.h"
#include "intern.h"
#include "mem.h"
#include "profile.h"
#include "session.h"

/* The session's frames or stacks text as the JSON array it is written into (new reference). */
static json_t *parsed(const char *text, size_t len)
{
    char *buf = malloc(len + 3);
    ck_assert_ptr_nonnull(buf);
    buf[0] = '[';
    memcpy(buf + 1, text, len);
    buf[len + 1] = ']';
    json_error_t err;
    json_t *a = json_loadb(buf, len + 2, 0, &err);
    free(buf);
    ck_assert_msg(a != NULL, "not JSON: %s", err.text);
    return a;
}

static json_t *frames_of(const sp_session_t *s)
{
    size_t len;
    const char *t = sp_session_frames_text(s, &len);
    return parsed(t, len);
}

/* The frame table the tests' sessions take their frames from (one per forked test). */
static sp_frames_t *table(void)
{
    static sp_frames_t *ft;
    if (!ft) ft = sp_frames_new();
    ck_assert_ptr_nonnull(ft);
    return ft;
}

/* Adds f to session s as the agent does: through the frame table. Its index, or -1. */
static long add_frame(sp_session_t *s, const sp_frame_t *f)
{
    long id = sp_frames_intern(table(), f);
    return id < 0 ? -1 : sp_session_frame(s, table(), (uint32_t)id);
}

static sp_frame_t js(const char *fn, const char *path, int line)
{
    return (sp_frame_t){.function = fn, .abs_path = path, .lineno = line, .colno = 3, .in_app = true};
}

START_TEST(test_frames_dedup)
{
    sp_session_t *s = sp_session_new();
    sp_frame_t a = js("hotLoop", "/app/hot.js", 3), b = js("warm", "/app/hot.js", 9);
    ck_assert_int_eq(add_frame(s, &a), 0);
    ck_assert_int_eq(add_frame(s, &b), 1);
    ck_assert_int_eq(add_frame(s, &a), 0);
    sp_frame_t a2 = js("hotLoop", "/app/hot.js", 4); /* another line: another frame */
    ck_assert_int_eq(add_frame(s, &a2), 2);
    sp_frame_t n = {.function = "Builtins_JSEntry", .abs_path = "/usr/bin/node", .module = "node",
                    .instruction_addr = 0x1234, .kind = SP_FRAME_NATIVE};
    ck_assert_int_eq(add_frame(s, &n), 3);
    json_t *frames = frames_of(s);
    ck_assert_uint_eq(json_array_size(frames), 4);
    ck_assert_uint_eq(sp_session_frame_count(s), 4);
    json_t *f0 = json_array_get(frames, 0);
    ck_assert_str_eq(json_string_value(json_object_get(f0, "function")), "hotLoop");
    ck_assert_str_eq(json_string_value(json_object_get(f0, "platform")), "node");
    ck_assert_str_eq(json_string_value(json_object_get(f0, "module")), "app:hot");
    ck_assert_int_eq(json_integer_value(json_object_get(f0, "lineno")), 3);
    ck_assert(json_is_true(json_object_get(f0, "in_app")));
    json_t *f3 = json_array_get(frames, 3);
    ck_assert_str_eq(json_string_value(json_object_get(f3, "platform")), "native");
    ck_assert_str_eq(json_string_value(json_object_get(f3, "instruction_addr")), "0x1234");
    ck_assert(json_is_false(json_object_get(f3, "in_app")));
    json_decref(frames);
    sp_session_free(s);
}
END_TEST

/* The frame table: one id per distinct frame text, ids dense; a new epoch (module base
 * changed) empties it, and a session keeps the index it gave a frame across epochs. */
START_TEST(test_frame_table)
{
    sp_frames_t *ft = table();
    sp_frame_t a = js("hotLoop", "/app/hot.js", 3), b = js("warm", "/app/hot.js", 9);
    sp_frame_t n = {.function = "uv_run", .abs_path = "/usr/bin/node", .module = "node",
                    .instruction_addr = 0x42, .kind = SP_FRAME_NATIVE};
    ck_assert_int_eq(sp_frames_intern(ft, &a), 0);
    ck_assert_int_eq(sp_frames_intern(ft, &b), 1);
    ck_assert_int_eq(sp_frames_intern(ft, &n), 2);
    ck_assert_int_eq(sp_frames_intern(ft, &a), 0);
    ck_assert_uint_eq(sp_frames_count(ft), 3);
    size_t len;
    const char *t = sp_frames_json(ft, 2, &len);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t, "{\"function\":\"uv_run\",\"abs_path\":\"/usr/bin/node\",\"filename\":"
                        "\"/usr/bin/node\",\"module\":\"node\",\"instruction_addr\":\"0x42\","
                        "\"in_app\":false,\"platform\":\"native\"}");
    ck_assert_uint_eq(len, strlen(t));
    ck_assert_ptr_null(sp_frames_json(ft, 3, &len));

    sp_session_t *s = sp_session_new();
    ck_assert_int_eq(sp_session_frame(s, ft, 2), 0);
    ck_assert_int_eq(sp_session_frame(s, ft, 0), 1);
    uint32_t epoch = sp_frames_epoch(ft);
    sp_frames_set_module_base(ft, "/app");
    ck_assert_uint_ne(sp_frames_epoch(ft), epoch);
    ck_assert_uint_eq(sp_frames_count(ft), 0);
    long id = sp_frames_intern(ft, &b); /* id 0 now: another frame than before */
    ck_assert_int_eq(id, 0);
    ck_assert_int_eq(sp_session_frame(s, ft, (uint32_t)id), 2);
    id = sp_frames_intern(ft, &n); /* the same text as before under a new id */
    ck_assert_int_eq(sp_session_frame(s, ft, (uint32_t)id), 0);
    ck_assert_uint_eq(sp_session_frame_count(s), 3);
    json_t *frames = frames_of(s);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(frames, 2), "module")), "hot");
    json_decref(frames);
    sp_session_free(s);
}
END_TEST

static const char *module_of(const char *path)
{
    static char buf[256];
    sp_session_t *s = sp_session_new();
    sp_frame_t f = js("f", path, 1);
    add_frame(s, &f);
    json_t *frames = frames_of(s);
    snprintf(buf, sizeof buf, "%s", json_string_value(json_object_get(json_array_get(frames, 0), "module")));
    json_decref(frames);
    sp_session_free(s);
    return buf;
}

START_TEST(test_module_names)
{
    /* As @sentry/profiling-node names them (see the reference envelope). */
    ck_assert_str_eq(module_of("node:internal/modules/cjs/loader"), "node:internal.modules.cjs:loader");
    ck_assert_str_eq(module_of("/app/node_modules/@sentry/core/cjs/hub.js"), "@sentry.core.cjs:hub");
    ck_assert_str_eq(module_of("/srv/app/src/server.mjs"), "srv.app.src:server");
    ck_assert_str_eq(module_of("file:///srv/app/x.js"), "srv.app:x");
    /* With the app's directory known (the helper's dirname(argv[1])): as @sentry/node's
     * createGetModuleFromFilename names the same frames in error events. */
    sp_frames_set_module_base(table(), "/srv/app/");
    ck_assert_str_eq(module_of("/srv/app/src/server.mjs"), "src:server");
    ck_assert_str_eq(module_of("/srv/app/main.cjs"), "main");
    ck_assert_str_eq(module_of("/srv/app/lib/x.ts"), "lib:x.ts"); /* only .js/.mjs/.cjs go */
    ck_assert_str_eq(module_of("/srv/application/x.js"), "x"); /* outside the app: the file */
    ck_assert_str_eq(module_of("/srv/app/node_modules/@scope/pkg/lib/x.js"), "@scope.pkg.lib:x");
    ck_assert_str_eq(module_of("node:internal/modules/cjs/loader"), "loader");
    ck_assert_str_eq(module_of("file:///srv/app/dist/bundle.js"), "dist:bundle");
    sp_frames_set_module_base(table(), NULL);
    ck_assert_str_eq(module_of("node:internal/modules/cjs/loader"), "node:internal.modules.cjs:loader");
}
END_TEST

static json_t *images_for(const char *path)
{
    sp_session_t *s = sp_session_new();
    sp_frame_t f = js("f", path, 1);
    add_frame(s, &f);
    size_t len;
    const char *t = sp_session_frames_text(s, &len);
    json_t *images = sp_debugid_images(t, len, NULL);
    sp_session_free(s);
    return images;
}

/* An ELF file's debug id from its GNU build id: the first 16 bytes as a little-endian
 * GUID (Relay's example in relay-event-schema's debugmeta.rs, and the libgcc one of its
 * docs); a build id shorter than 16 bytes is padded with zeros (Relay's perfetto import). */
START_TEST(test_debug_id_of_build_id)
{
    static const struct {
        const char *build_id, *debug_id;
    } cases[] = {
        {"f1c3bcc0279865fe3058404b2831d9e64135386c", "c0bcc3f1-9827-fe65-3058-404b2831d9e6"},
        {"68220ae2c65d65c1b6aaa12fa6765a6ec2f5f434", "e20a2268-5dc6-c165-b6aa-a12fa6765a6e"},
        {"aabbccdd", "ddccbbaa-0000-0000-0000-000000000000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t id[20];
        size_t n = strlen(cases[i].build_id) / 2;
        for (size_t k = 0; k < n; k++) {
            unsigned b;
            ck_assert_int_eq(sscanf(cases[i].build_id + 2 * k, "%2x", &b), 1);
            id[k] = (uint8_t)b;
        }
        char out[37];
        sp_debugid_of_build_id(id, n, out);
        ck_assert_msg(strcmp(out, cases[i].debug_id) == 0,
                      "build id %s: expected debug id %s, saw %s", cases[i].build_id,
                      cases[i].debug_id, out);
    }
}
END_TEST

START_TEST(test_debug_images)
{
    sp_debugid_reset();
    ck_assert_int_eq(sp_debugid_set("/app/dist/bundle.js", "4F8A1C2E-7B3D-4E9F-A16C-5D2E8B9F0A71"), 0);
    ck_assert_int_eq(sp_debugid_set("/app/dist/other.js", "not-a-uuid"), -EINVAL);
    ck_assert_int_eq(sp_debugid_set("", "4f8a1c2e7b3d4e9fa16c5d2e8b9f0a71"), -EINVAL);
    json_t *im = images_for("/app/dist/bundle.js");
    ck_assert_uint_eq(json_array_size(im), 1);
    json_t *i0 = json_array_get(im, 0);
    ck_assert_str_eq(json_string_value(json_object_get(i0, "type")), "sourcemap");
    ck_assert_str_eq(json_string_value(json_object_get(i0, "code_file")), "/app/dist/bundle.js");
    ck_assert_str_eq(json_string_value(json_object_get(i0, "debug_id")), "4f8a1c2e-7b3d-4e9f-a16c-5d2e8b9f0a71");
    json_decref(im);
    /* a longer path with the same prefix is another script */
    im = images_for("/app/dist/bundle.js.bak");
    ck_assert_uint_eq(json_array_size(im), 0);
    json_decref(im);
    /* a path the frames' JSON escapes (a quote, a backslash) is found as it is written */
    ck_assert_int_eq(sp_debugid_set("/app/dist/we\"ird\\x.js", "4f8a1c2e7b3d4e9fa16c5d2e8b9f0a72"),
                     0);
    im = images_for("/app/dist/we\"ird\\x.js");
    ck_assert_uint_eq(json_array_size(im), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(im, 0), "code_file")),
                     "/app/dist/we\"ird\\x.js");
    json_decref(im);
    /* frames of several files: each known one gets its image, once */
    {
        sp_session_t *s = sp_session_new();
        const char *files[] = {"/app/a.js", "/app/dist/bundle.js", "/app/b.js",
                               "/app/dist/bundle.js"};
        for (int i = 0; i < 4; i++) {
            sp_frame_t f = js(i == 3 ? "g" : "f", files[i], i + 1);
            add_frame(s, &f);
        }
        for (int i = 0; i < 200; i++) { /* more files than the first allocation holds */
            char file[32];
            snprintf(file, sizeof file, "/app/lib/m%d.js", i);
            sp_frame_t f = js("h", file, 1);
            add_frame(s, &f);
        }
        sp_frame_t late = js("late", "/app/dist/bundle.js", 99);
        add_frame(s, &late);
        size_t len;
        const char *t = sp_session_frames_text(s, &len);
        im = sp_debugid_images(t, len, NULL);
        sp_session_free(s);
        ck_assert_uint_eq(json_array_size(im), 1);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(im, 0), "code_file")),
                         "/app/dist/bundle.js");
        json_decref(im);
    }

    /* a script of the app the JS side did not report: its trailing debugId comment */
    char dir[] = "/tmp/sp-debugid.XXXXXX", path[64], nm[96];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/plain.js", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("function a(){}\n//# sourceMappingURL=plain.js.map\n//# debugId=0123abcd-0000-4000-8000-00000000beef\n", f);
    fclose(f);
    im = images_for(path);
    ck_assert_uint_eq(json_array_size(im), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(im, 0), "debug_id")),
                     "0123abcd-0000-4000-8000-00000000beef");
    json_decref(im);
    /* node_modules files are not looked at */
    snprintf(nm, sizeof nm, "%s/node_modules", dir);
    ck_assert_int_eq(mkdir(nm, 0700), 0);
    snprintf(nm + strlen(nm), sizeof nm - strlen(nm), "/dep.js");
    ck_assert_int_eq(rename(path, nm), 0);
    im = images_for(nm);
    ck_assert_uint_eq(json_array_size(im), 0);
    json_decref(im);
    ck_assert_int_eq(unlink(nm), 0);
    *strrchr(nm, '/') = '\0';
    ck_assert_int_eq(rmdir(nm), 0);
    ck_assert_int_eq(rmdir(dir), 0);
    sp_debugid_reset();
}
END_TEST

/* The hash of frame texts and stacks: every byte counts, the tail after the last whole
 * word too, and the length; keys that differ by one byte anywhere land apart; the intern
 * finds each of 4096 keys back at its index. */
START_TEST(test_intern_hash)
{
    char a[40], b[40];
    for (size_t n = 1; n <= sizeof a; n++)
        for (size_t i = 0; i < n; i++) {
            memset(a, 'x', sizeof a);
            memcpy(b, a, sizeof b);
            b[i] = 'y';
            ck_assert_msg(
                sp_intern_hash(a, n) != sp_intern_hash(b, n),
                "keys of %zu bytes differing at byte %zu: expected other hashes, saw the same", n,
                i);
        }
    ck_assert(sp_intern_hash("a", 1) != sp_intern_hash("a\0", 2));
    ck_assert(sp_intern_hash("", 0) != sp_intern_hash("\0", 1));
    ck_assert_uint_eq(sp_intern_hash(NULL, 0), sp_intern_hash("", 0)); /* an empty stack's key */
    sp_intern_t *in = sp_intern_new();
    ck_assert_ptr_nonnull(in);
    char key[64];
    for (int i = 0; i < 4096; i++) {
        int n = snprintf(key, sizeof key, "{\"function\":\"f%d\",\"lineno\":%d}", i, i % 7);
        bool added = false;
        ck_assert_int_eq(sp_intern_get(in, key, (size_t)n, &added), i);
        ck_assert(added);
    }
    for (int i = 0; i < 4096; i++) {
        int n = snprintf(key, sizeof key, "{\"function\":\"f%d\",\"lineno\":%d}", i, i % 7);
        bool added = true;
        ck_assert_int_eq(sp_intern_get(in, key, (size_t)n, &added), i);
        ck_assert(!added);
    }
    sp_intern_free(in);
}
END_TEST

START_TEST(test_stacks_dedup)
{
    sp_session_t *s = sp_session_new();
    uint32_t st1[] = {0, 1, 2}, st2[] = {0, 1}, st3[] = {0, 1, 2};
    ck_assert_int_eq(sp_session_stack(s, st1, 3), 0);
    ck_assert_int_eq(sp_session_stack(s, st2, 2), 1);
    ck_assert_int_eq(sp_session_stack(s, st3, 3), 0);
    ck_assert_int_eq(sp_session_stack(s, NULL, 0), 2); /* an empty stack is a stack too */
    uint32_t big[] = {4294967295u, 10, 0};
    ck_assert_int_eq(sp_session_stack(s, big, 3), 3);
    size_t len;
    const char *t = sp_session_stacks_text(s, &len);
    ck_assert_str_eq(t, "[0,1,2],[0,1],[],[4294967295,10,0]");
    ck_assert_uint_eq(len, strlen(t));
    ck_assert_uint_eq(sp_session_stack_count(s), 4);
    sp_session_free(s);
}
END_TEST

static sp_session_t *two_thread_session(void)
{
    sp_session_t *s = sp_session_new();
    sp_frame_t a = js("hotLoop", "/app/hot.js", 3);
    uint32_t fr[] = {(uint32_t)add_frame(s, &a)};
    long st = sp_session_stack(s, fr, 1);
    /* Out of order on purpose: the writer must sort by time. */
    ck_assert_int_eq(sp_session_sample(s, st, "0", "main", 1795549336100000000ull), 0);
    ck_assert_int_eq(sp_session_sample(s, st, "0", "main", 1795549336000000000ull), 0);
    ck_assert_int_eq(sp_session_sample(s, st, "1", "worker 1", 1795549336050000000ull), 0);
    return s;
}

START_TEST(test_chunk_json)
{
    sp_session_t *s = two_thread_session();
    sp_chunk_meta_t meta = {.release = "r1", .environment = "staging"};
    sp_ids_new(meta.chunk_id);
    sp_ids_new(meta.profiler_id);
    ck_assert_uint_eq(strlen(meta.chunk_id), 32);
    ck_assert_str_ne(meta.chunk_id, meta.profiler_id);
    size_t len;
    char *text = sp_profile_chunk_text(s, &meta, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, strlen(text));
    json_error_t err;
    json_t *p = json_loadb(text, len, 0, &err);
    ck_assert_msg(p != NULL, "chunk is not JSON: %s", err.text);
    sp_mem_free(text);
    ck_assert_str_eq(json_string_value(json_object_get(p, "version")), "2");
    ck_assert_str_eq(json_string_value(json_object_get(p, "platform")), "node");
    ck_assert_str_eq(json_string_value(json_object_get(p, "release")), "r1");
    ck_assert_str_eq(json_string_value(json_object_get(p, "environment")), "staging");
    ck_assert_str_eq(json_string_value(json_object_get(p, "chunk_id")), meta.chunk_id);
    json_t *sdk = json_object_get(p, "client_sdk");
    ck_assert_str_eq(json_string_value(json_object_get(sdk, "name")), SP_SDK_NAME);
    json_t *prof = json_object_get(p, "profile");
    json_t *samples = json_object_get(prof, "samples");
    ck_assert_uint_eq(json_array_size(samples), 3);
    double prev = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *smp = json_array_get(samples, i);
        double ts = json_real_value(json_object_get(smp, "timestamp"));
        ck_assert(ts >= prev);
        prev = ts;
        ck_assert(json_is_string(json_object_get(smp, "thread_id")));
        ck_assert_int_eq(json_integer_value(json_object_get(smp, "stack_id")), 0);
    }
    ck_assert(prev > 1795549336.0 && prev < 1795549336.2);
    json_t *meta_obj = json_object_get(prof, "thread_metadata");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(meta_obj, "0"), "name")), "main");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(meta_obj, "1"), "name")), "worker 1");
    json_decref(p);
    sp_session_free(s);
}
END_TEST

START_TEST(test_txn_profile_text)
{
    sp_session_t *s = two_thread_session();
    sp_frame_t q = js("say \"hi\"\n", "/app/x.js", 2); /* escaped by jansson, once */
    uint32_t fr[] = {(uint32_t)add_frame(s, &q)};
    ck_assert_int_eq(sp_session_sample(s, sp_session_stack(s, fr, 1), "w\"1", "odd", 1795549336200000000ull), 0);
    sp_txn_t t = {.start_real_ns = 1795549336000000000ull};
    snprintf(t.name, sizeof t.name, "GET /x");
    snprintf(t.event_id, sizeof t.event_id, "%032d", 7);
    snprintf(t.trace_id, sizeof t.trace_id, "%032d", 8);
    snprintf(t.thread_id, sizeof t.thread_id, "0");
    sp_profile_env_t env = {.release = "r", .environment = "e", .node_version = "22.0.0"};
    char id[33];
    size_t len;
    char *text = sp_profile_txn_text(s, &t, 1795549336000000000ull, &env, id, &len);
    ck_assert_ptr_nonnull(text);
    json_error_t err;
    json_t *p = json_loadb(text, len, 0, &err);
    ck_assert_msg(p != NULL, "profile is not JSON: %s", err.text);
    ck_assert_str_eq(json_string_value(json_object_get(p, "event_id")), id);
    ck_assert_str_eq(json_string_value(json_object_get(p, "version")), "1");
    json_t *prof = json_object_get(p, "profile");
    json_t *samples = json_object_get(prof, "samples");
    ck_assert_uint_eq(json_array_size(samples), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(samples, 0), "elapsed_since_start_ns")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(samples, 3), "elapsed_since_start_ns")), 200000000);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(samples, 3), "thread_id")), "w\"1");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(prof, "frames"), 1), "function")),
                     "say \"hi\"\n");
    ck_assert_uint_eq(json_array_size(json_object_get(prof, "stacks")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(prof, "thread_metadata"), "w\"1"), "name")), "odd");
    json_decref(p);
    sp_mem_free(text);
    sp_session_free(s);
}
END_TEST

START_TEST(test_chunk_envelope)
{
    sp_session_t *s = two_thread_session();
    sp_chunk_meta_t meta = {.release = "", .environment = "production"};
    sp_ids_new(meta.chunk_id);
    sp_ids_new(meta.profiler_id);
    char *buf;
    size_t len;
    ck_assert_int_eq(sp_profile_chunk_envelope(s, &meta, &buf, &len), 0);
    sp_envelope_parsed_t env;
    ck_assert_int_eq(sp_envelope_parse(buf, len, &env), 0);
    ck_assert_uint_eq(env.count, 1);
    ck_assert_str_eq(json_string_value(json_object_get(env.items[0].header, "type")), "profile_chunk");
    ck_assert_str_eq(json_string_value(json_object_get(env.items[0].header, "platform")), "node");
    ck_assert(json_is_string(json_object_get(env.header, "sent_at")));
    json_t *p = sp_envelope_item_json(&env, 0);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(json_string_value(json_object_get(p, "profiler_id")), meta.profiler_id);
    json_decref(p);
    sp_envelope_parsed_free(&env);
    sp_mem_free(buf);
    sp_session_free(s);
}
END_TEST

START_TEST(test_too_few_samples)
{
    sp_session_t *s = sp_session_new();
    sp_frame_t a = js("f", "/a.js", 1);
    uint32_t fr[] = {(uint32_t)add_frame(s, &a)};
    sp_session_sample(s, sp_session_stack(s, fr, 1), "0", "main", 1);
    sp_chunk_meta_t meta = {0};
    char *buf = NULL;
    size_t len;
    ck_assert_int_eq(sp_profile_chunk_envelope(s, &meta, &buf, &len), -ENODATA);
    ck_assert_ptr_null(buf);
    sp_session_free(s);
}
END_TEST

START_TEST(test_iso_time)
{
    char buf[40];
    sp_profile_iso_time(1795549336933233000ull, buf, sizeof buf);
    ck_assert_str_eq(buf, "2026-11-24T19:42:16.933Z");
}
END_TEST

/* Out of memory while a frame or a stack is added: the call fails, and the session stays as
 * if it had never been made (the key is not kept), so later indices still point at the
 * right frames. Each allocation the call makes is failed in turn. */
START_TEST(test_oom_keeps_indices)
{
    int failures = 0;
    table(); /* made before any allocation fails */
    for (long k = 0; k < 12; k++) {
        sp_session_t *s = sp_session_new();
        ck_assert_ptr_nonnull(s);
        sp_frame_t a = js("a", "/app/a.js", 1), b = js("b", "/app/b.js", 2);
        sp_mem_fail_after(k);
        long ia = add_frame(s, &a);
        sp_mem_fail_after(-1);
        if (ia < 0) failures++;
        ia = add_frame(s, &a); /* again, memory back */
        long ib = add_frame(s, &b);
        ck_assert_msg(ia == 0 && ib == 1 && sp_session_frame_count(s) == 2,
                      "frame after a failure at allocation %ld: expected indices 0 1 and 2 frames, saw %ld %ld and %zu",
                      k, ia, ib, sp_session_frame_count(s));
        json_t *fr = frames_of(s);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(fr, ib), "function")), "b");
        json_decref(fr);

        uint32_t st1[] = {0}, st2[] = {1, 0};
        sp_mem_fail_after(k);
        long i1 = sp_session_stack(s, st1, 1);
        sp_mem_fail_after(-1);
        if (i1 < 0) failures++;
        i1 = sp_session_stack(s, st1, 1);
        long i2 = sp_session_stack(s, st2, 2);
        ck_assert_msg(i1 == 0 && i2 == 1 && sp_session_stack_count(s) == 2,
                      "stack after a failure at allocation %ld: expected indices 0 1 and 2 stacks, saw %ld %ld and %zu",
                      k, i1, i2, sp_session_stack_count(s));
        sp_session_free(s);
    }
    ck_assert_msg(failures >= 2, "expected injected failures in both calls, saw %d", failures);
}
END_TEST

SP_UNIT_SUITE(session)
{
    json_set_alloc_funcs(sp_mem_alloc, sp_mem_free);
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_frames_dedup);
    tcase_add_test(tc, test_frame_table);
    tcase_add_test(tc, test_module_names);
    tcase_add_test(tc, test_debug_images);
    tcase_add_test(tc, test_debug_id_of_build_id);
    tcase_add_test(tc, test_intern_hash);
    tcase_add_test(tc, test_stacks_dedup);
    tcase_add_test(tc, test_chunk_json);
    tcase_add_test(tc, test_txn_profile_text);
    tcase_add_test(tc, test_chunk_envelope);
    tcase_add_test(tc, test_too_few_samples);
    tcase_add_test(tc, test_iso_time);
    tcase_add_test(tc, test_oom_keeps_indices);
    suite_add_tcase(s, tc);
    return s;
}
