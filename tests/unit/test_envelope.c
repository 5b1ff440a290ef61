/* test_envelope: build/serialize/parse round trips, the real @sentry/node envelope shape,
 * and hostile inputs (each must fail with -EINVAL, leak nothing and touch no byte outside
 * the parsed copy). Leaks are checked with sp_mem_in_use(), since sp_mem (and jansson,
 * routed to it as in production) allocate from jemalloc where ASan cannot see them. */
#include "unit.h"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "mem.h"

#ifndef SP_TEST_DATA
#define SP_TEST_DATA "tests/data"
#endif

#define MAX_PARSE (64u * 1024u * 1024u) /* mirrors SP_ENVELOPE_MAX_PARSE */
#define MAX_ITEMS 1000u                 /* mirrors SP_ENVELOPE_MAX_ITEMS */

/* Reads a test data file into malloc'd memory (test memory, not sp_mem). */
static char *slurp(const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", SP_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Every item of a parsed envelope lies inside its private copy and is NUL-terminated. */
static void check_bounds(const sp_envelope_parsed_t *p, size_t len)
{
    for (size_t i = 0; i < p->count; i++) {
        const sp_envelope_item_t *it = &p->items[i];
        ck_assert(it->payload >= p->buf);
        ck_assert(it->payload + it->len <= p->buf + len);
        ck_assert_int_eq(it->payload[it->len], '\0');
        ck_assert(json_is_object(it->header));
    }
}

/* Parses data and expects rc; on success checks bounds. Always frees; asserts no leak. */
static void expect_parse(const char *data, size_t len, int want)
{
    size_t before = sp_mem_in_use();
    sp_envelope_parsed_t p;
    int rc = sp_envelope_parse(data, len, &p);
    ck_assert_int_eq(rc, want);
    if (rc == 0) check_bounds(&p, len);
    else ck_assert(p.header == NULL && p.items == NULL && p.count == 0 && p.buf == NULL);
    sp_envelope_parsed_free(&p);
    ck_assert_uint_eq(sp_mem_in_use(), before);
}

#define EXPECT(lit, want) expect_parse((lit), sizeof(lit) - 1, (want))

static const char *item_type(const sp_envelope_parsed_t *p, size_t i)
{
    return json_string_value(json_object_get(p->items[i].header, "type"));
}

static json_int_t item_length(const sp_envelope_parsed_t *p, size_t i)
{
    return json_integer_value(json_object_get(p->items[i].header, "length"));
}

START_TEST(round_trip_two_items)
{
    size_t before = sp_mem_in_use();
    json_t *hdr = json_pack("{s:s, s:{s:s, s:s}}", "event_id", "e3903dd2f020493ebfb4ba1349f1ee11",
                            "sdk", "name", "sentry.native.sentryprof", "version", "0.1.0");
    json_t *txn = json_pack("{s:s, s:s, s:f, s:f}", "event_id", "e3903dd2f020493ebfb4ba1349f1ee11",
                            "transaction", "GET /", "start_timestamp", 1.5, "timestamp", 2.25);
    json_t *prof = json_pack("{s:s, s:s, s:{s:[{s:i, s:s, s:i}], s:[[i]], s:[{s:s}]}}",
                             "platform", "node", "version", "1", "profile", "samples",
                             "stack_id", 0,
                             "thread_id", "0", "elapsed_since_start_ns", 155000, "stacks", 0,
                             "frames", "function", "main\nline"); /* escaped newline */
    json_t *want_hdr = json_deep_copy(hdr), *want_txn = json_deep_copy(txn),
           *want_prof = json_deep_copy(prof);

    sp_envelope_t *env = sp_envelope_new(hdr);
    ck_assert_ptr_nonnull(env);
    ck_assert_int_eq(sp_envelope_add_json(env, "transaction", txn, NULL), 0);
    /* extra_header's own "type"/"length" must not override ours. */
    ck_assert_int_eq(sp_envelope_add_json(env, "profile", prof,
                                          json_pack("{s:s, s:s, s:i}", "platform", "node", "type",
                                                    "bogus", "length", 3)),
                     0);
    char *out;
    size_t len;
    ck_assert_int_eq(sp_envelope_serialize(env, &out, &len), 0);
    sp_envelope_free(env);
    ck_assert_uint_eq(strlen(out), len);
    ck_assert_int_eq(out[len - 1], '\n');

    /* Compact, "type" then "length" first in each item header. */
    ck_assert_ptr_null(strstr(out, ": "));
    ck_assert_ptr_nonnull(strstr(out, "\n{\"type\":\"transaction\",\"length\":"));
    ck_assert_ptr_nonnull(strstr(out, "\n{\"type\":\"profile\",\"length\":"));
    ck_assert_ptr_nonnull(strstr(out, ",\"platform\":\"node\"}\n"));

    sp_envelope_parsed_t p;
    ck_assert_int_eq(sp_envelope_parse(out, len, &p), 0);
    check_bounds(&p, len);
    ck_assert(json_equal(p.header, want_hdr));
    ck_assert_uint_eq(p.count, 2);
    ck_assert_str_eq(item_type(&p, 0), "transaction");
    ck_assert_str_eq(item_type(&p, 1), "profile");
    ck_assert_str_eq(json_string_value(json_object_get(p.items[1].header, "platform")), "node");
    ck_assert_uint_eq(json_object_size(p.items[1].header), 3);
    for (size_t i = 0; i < 2; i++) ck_assert_int_eq(item_length(&p, i), (json_int_t)p.items[i].len);
    json_t *t = sp_envelope_item_json(&p, 0), *pr = sp_envelope_item_json(&p, 1);
    ck_assert(json_equal(t, want_txn));
    ck_assert(json_equal(pr, want_prof));
    ck_assert_ptr_null(sp_envelope_item_json(&p, 2));
    json_decref(t);
    json_decref(pr);
    sp_envelope_parsed_free(&p);
    sp_envelope_parsed_free(&p); /* idempotent on a freed struct */
    sp_mem_free(out);
    json_decref(want_hdr);
    json_decref(want_txn);
    json_decref(want_prof);
    ck_assert_uint_eq(sp_mem_in_use(), before);
}
END_TEST

START_TEST(raw_payload_with_newlines_and_empty)
{
    size_t before = sp_mem_in_use();
    static const char raw[] = "line one\nline two\n\n{\"not\":\"json\"\n";
    sp_envelope_t *env = sp_envelope_new(NULL);
    ck_assert_ptr_nonnull(env);
    ck_assert_int_eq(sp_envelope_add_raw(env, "attachment", raw, sizeof raw - 1,
                                         json_pack("{s:s}", "filename", "a.txt")),
                     0);
    ck_assert_int_eq(sp_envelope_add_raw(env, "attachment", NULL, 0, NULL), 0);
    ck_assert_int_eq(sp_envelope_add_raw(env, "attachment", "\n", 1, NULL), 0);
    char *out;
    size_t len;
    ck_assert_int_eq(sp_envelope_serialize(env, &out, &len), 0);
    sp_envelope_free(env);
    ck_assert_str_eq(out, "{}\n{\"type\":\"attachment\",\"length\":33,\"filename\":\"a.txt\"}\n"
                          "line one\nline two\n\n{\"not\":\"json\"\n\n"
                          "{\"type\":\"attachment\",\"length\":0}\n\n"
                          "{\"type\":\"attachment\",\"length\":1}\n\n\n");

    sp_envelope_parsed_t p;
    ck_assert_int_eq(sp_envelope_parse(out, len, &p), 0);
    check_bounds(&p, len);
    ck_assert_uint_eq(json_object_size(p.header), 0);
    ck_assert_uint_eq(p.count, 3);
    ck_assert_uint_eq(p.items[0].len, sizeof raw - 1);
    ck_assert_mem_eq(p.items[0].payload, raw, sizeof raw - 1);
    ck_assert_uint_eq(p.items[1].len, 0);
    ck_assert_str_eq(p.items[1].payload, "");
    ck_assert_uint_eq(p.items[2].len, 1);
    ck_assert_str_eq(p.items[2].payload, "\n");
    ck_assert_ptr_null(sp_envelope_item_json(&p, 0)); /* not JSON */
    sp_envelope_parsed_free(&p);
    sp_mem_free(out);
    ck_assert_uint_eq(sp_mem_in_use(), before);
}
END_TEST

START_TEST(empty_envelope)
{
    size_t before = sp_mem_in_use();
    sp_envelope_t *env = sp_envelope_new(json_object());
    char *out;
    size_t len;
    ck_assert_int_eq(sp_envelope_serialize(env, &out, &len), 0);
    ck_assert_str_eq(out, "{}\n");
    sp_envelope_free(env);
    sp_mem_free(out);
    expect_parse("{}", 2, 0);
    expect_parse("{}\n", 3, 0);
    expect_parse(" {\"a\":1} \r\n", 11, 0);
    ck_assert_uint_eq(sp_mem_in_use(), before);
}
END_TEST

START_TEST(optional_trailing_newline_and_no_length)
{
    size_t before = sp_mem_in_use();
    /* Without the final '\n', with and without "length". */
    static const char a[] = "{}\n{\"type\":\"event\",\"length\":7}\n{\"a\":1}";
    static const char b[] = "{}\n{\"type\":\"event\"}\n{\"a\":1}\n{\"type\":\"event\"}\n{\"b\":2}";
    static const char c[] = "{}\n{\"type\":\"event\"}\n{\"a\":1}\n";
    static const char d[] = "{}\n{\"type\":\"event\"}"; /* header at the end: empty payload */
    static const char e[] = "{}\n{\"type\":\"event\",\"length\":0}";
    sp_envelope_parsed_t p;

    ck_assert_int_eq(sp_envelope_parse(a, sizeof a - 1, &p), 0);
    ck_assert_uint_eq(p.count, 1);
    ck_assert_str_eq(p.items[0].payload, "{\"a\":1}");
    sp_envelope_parsed_free(&p);

    ck_assert_int_eq(sp_envelope_parse(b, sizeof b - 1, &p), 0);
    ck_assert_uint_eq(p.count, 2);
    ck_assert_str_eq(p.items[0].payload, "{\"a\":1}");
    ck_assert_str_eq(p.items[1].payload, "{\"b\":2}");
    json_t *j = sp_envelope_item_json(&p, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "b")), 2);
    json_decref(j);
    sp_envelope_parsed_free(&p);

    ck_assert_int_eq(sp_envelope_parse(c, sizeof c - 1, &p), 0);
    ck_assert_uint_eq(p.count, 1);
    ck_assert_uint_eq(p.items[0].len, 7);
    sp_envelope_parsed_free(&p);

    ck_assert_int_eq(sp_envelope_parse(d, sizeof d - 1, &p), 0);
    ck_assert_uint_eq(p.count, 1);
    ck_assert_uint_eq(p.items[0].len, 0);
    sp_envelope_parsed_free(&p);

    ck_assert_int_eq(sp_envelope_parse(e, sizeof e - 1, &p), 0);
    ck_assert_uint_eq(p.count, 1);
    ck_assert_uint_eq(p.items[0].len, 0);
    sp_envelope_parsed_free(&p);
    ck_assert_uint_eq(sp_mem_in_use(), before);
}
END_TEST

/* Checks a parsed envelope against the captured SDK description. */
static void check_against_sdk(const sp_envelope_parsed_t *p, const json_t *desc, int with_length)
{
    json_t *items = json_object_get(desc, "items");
    ck_assert(json_equal(p->header, json_object_get(desc, "envelope_header")));
    ck_assert_uint_eq(p->count, json_array_size(items));
    ck_assert_uint_eq(p->count, 2);
    for (size_t i = 0; i < p->count; i++) {
        json_t *want = json_array_get(items, i);
        json_t *want_type = json_object_get(json_object_get(want, "item_header"), "type");
        ck_assert_str_eq(item_type(p, i), json_string_value(want_type));
        if (with_length) ck_assert_int_eq(item_length(p, i), (json_int_t)p->items[i].len);
        else ck_assert_ptr_null(json_object_get(p->items[i].header, "length"));
        json_t *got = sp_envelope_item_json(p, i);
        ck_assert_ptr_nonnull(got);
        ck_assert(json_equal(got, json_object_get(want, "payload")));
        json_decref(got);
    }
    ck_assert_str_eq(item_type(p, 0), "transaction");
    ck_assert_str_eq(item_type(p, 1), "profile");
}

START_TEST(real_sdk_envelope)
{
    size_t before = sp_mem_in_use();
    size_t dlen, elen;
    char *dtext = slurp("envelope-sdk-node-1.3.5.json", &dlen);
    json_error_t err;
    json_t *desc = json_loadb(dtext, dlen, 0, &err);
    ck_assert_msg(desc != NULL, "%s", err.text);
    free(dtext);

    /* 1. As @sentry/core 7 writes it: no "length", no trailing newline. */
    char *etext = slurp("envelope-sdk-node-1.3.5.envelope", &elen);
    sp_envelope_parsed_t p;
    ck_assert_int_eq(sp_envelope_parse(etext, elen, &p), 0);
    check_bounds(&p, elen);
    check_against_sdk(&p, desc, 0);
    sp_envelope_parsed_free(&p);
    free(etext);

    /* 2. The same content built through our API, serialized and parsed back. */
    sp_envelope_t *env = sp_envelope_new(json_incref(json_object_get(desc, "envelope_header")));
    ck_assert_ptr_nonnull(env);
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(desc, "items"), i, it) {
        json_t *ih = json_deep_copy(json_object_get(it, "item_header"));
        const char *type = json_string_value(json_object_get(ih, "type"));
        char tbuf[64];
        snprintf(tbuf, sizeof tbuf, "%s", type);
        ck_assert_int_eq(
            sp_envelope_add_json(env, tbuf, json_incref(json_object_get(it, "payload")), ih), 0);
    }
    char *out;
    size_t len;
    ck_assert_int_eq(sp_envelope_serialize(env, &out, &len), 0);
    sp_envelope_free(env);
    ck_assert_int_eq(sp_envelope_parse(out, len, &p), 0);
    check_bounds(&p, len);
    check_against_sdk(&p, desc, 1);
    sp_envelope_parsed_free(&p);
    sp_mem_free(out);
    json_decref(desc);
    ck_assert_uint_eq(sp_mem_in_use(), before);
}
END_TEST

static const char *const hostile_files[] = {
    "envelope-truncated.envelope",
    "envelope-length-too-large.envelope",
    "envelope-length-negative.envelope",
    "envelope-length-not-integer.envelope",
    "envelope-length-float.envelope",
    "envelope-length-short.envelope",
    "envelope-length-huge.envelope",
    "envelope-header-not-object.envelope",
    "envelope-header-bad-json.envelope",
    "envelope-header-trailing-garbage.envelope",
    "envelope-item-header-no-type.envelope",
    "envelope-item-header-type-number.envelope",
    "envelope-item-header-type-empty.envelope",
    "envelope-item-header-not-object.envelope",
    "envelope-item-header-bad-json.envelope",
    "envelope-item-header-nul.envelope",
    "envelope-blank-item-line.envelope",
    "envelope-garbage.envelope",
    "envelope-empty.envelope",
};

START_TEST(hostile_file)
{
    size_t len;
    char *data = slurp(hostile_files[_i], &len);
    /* An exact-size heap copy so ASan sees any read past the input. */
    char *exact = malloc(len ? len : 1);
    memcpy(exact, data, len);
    size_t before = sp_mem_in_use();
    sp_envelope_parsed_t p;
    int rc = sp_envelope_parse(exact, len, &p);
    ck_assert_msg(rc == -EINVAL, "%s: rc %d", hostile_files[_i], rc);
    sp_envelope_parsed_free(&p);
    ck_assert_uint_eq(sp_mem_in_use(), before);
    free(exact);
    free(data);
}
END_TEST

START_TEST(hostile_inline)
{
    EXPECT("", -EINVAL);
    expect_parse(NULL, 0, -EINVAL);
    EXPECT("\n", -EINVAL);
    EXPECT("null\n", -EINVAL);
    EXPECT("42", -EINVAL);
    EXPECT("{}\n{\"type\":\"a\",\"length\":2}\n{}", 0); /* control: valid */
    EXPECT("{}\n{\"type\":\"a\",\"length\":3}\n{}", -EINVAL);
    EXPECT("{}\n{\"type\":\"a\",\"length\":-9223372036854775807}\n", -EINVAL);
    EXPECT("{}\n{\"type\":\"a\",\"length\":18446744073709551616}\n", -EINVAL);
    EXPECT("{}\n{\"type\":\"a\",\"length\":null}\n{}", -EINVAL);
    EXPECT("{}\n{\"type\":null}\n{}", -EINVAL);
    EXPECT("{}\n\n", -EINVAL);
    EXPECT("{\"a\":1}{\"b\":2}\n", -EINVAL);
    /* An embedded NUL in the payload is data when "length" covers it. */
    EXPECT("{}\n{\"type\":\"a\",\"length\":3}\na\0b\n", 0);
    ck_assert_int_eq(sp_envelope_parse("{}", 2, NULL), -EINVAL);
}
END_TEST

/* Every prefix and every single-byte corruption of a valid envelope: 0 or -EINVAL, never
 * a crash, out-of-bounds payload or leak. */
START_TEST(truncations_and_flips)
{
    sp_envelope_t *env = sp_envelope_new(json_pack("{s:s}", "event_id", "abc"));
    sp_envelope_add_json(env, "transaction", json_pack("{s:s}", "transaction", "x\ny"), NULL);
    sp_envelope_add_raw(env, "attachment", "a\nb\n", 4, NULL);
    sp_envelope_add_json(env, "profile", json_pack("[i,i]", 1, 2), NULL);
    char *out;
    size_t len;
    ck_assert_int_eq(sp_envelope_serialize(env, &out, &len), 0);
    sp_envelope_free(env);
    size_t before = sp_mem_in_use();
    for (size_t n = 0; n <= len; n++) {
        char *exact = malloc(n ? n : 1);
        memcpy(exact, out, n);
        sp_envelope_parsed_t p;
        int rc = sp_envelope_parse(exact, n, &p);
        ck_assert_msg(rc == 0 || rc == -EINVAL, "prefix %zu: %d", n, rc);
        if (rc == 0) check_bounds(&p, n);
        sp_envelope_parsed_free(&p);
        free(exact);
    }
    static const char flips[] = {'\n', '\0', '"', '{', '}', '9', '-', 'x', ' '};
    for (size_t at = 0; at < len; at++) {
        for (size_t f = 0; f < sizeof flips; f++) {
            char *exact = malloc(len);
            memcpy(exact, out, len);
            exact[at] = flips[f];
            sp_envelope_parsed_t p;
            int rc = sp_envelope_parse(exact, len, &p);
            ck_assert_msg(rc == 0 || rc == -EINVAL, "flip %zu: %d", at, rc);
            if (rc == 0) check_bounds(&p, len);
            sp_envelope_parsed_free(&p);
            free(exact);
        }
    }
    ck_assert_uint_eq(sp_mem_in_use(), before);
    sp_mem_free(out);
}
END_TEST

START_TEST(too_many_items)
{
    /* MAX_ITEMS items parse; one more is rejected. */
    const char *item = "{\"type\":\"a\",\"length\":0}\n\n";
    size_t ilen = strlen(item);
    size_t cap = 3 + (MAX_ITEMS + 1) * ilen;
    char *buf = malloc(cap);
    memcpy(buf, "{}\n", 3);
    for (size_t i = 0; i <= MAX_ITEMS; i++) memcpy(buf + 3 + i * ilen, item, ilen);
    size_t before = sp_mem_in_use();
    sp_envelope_parsed_t p;
    ck_assert_int_eq(sp_envelope_parse(buf, cap - ilen, &p), 0);
    ck_assert_uint_eq(p.count, MAX_ITEMS);
    sp_envelope_parsed_free(&p);
    expect_parse(buf, cap, -EINVAL);
    ck_assert_uint_eq(sp_mem_in_use(), before);
    free(buf);
}
END_TEST

START_TEST(too_big)
{
    size_t len = MAX_PARSE + 1;
    char *buf = calloc(1, len); /* untouched pages: cheap */
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, "{}\n", 3);
    expect_parse(buf, len, -EFBIG);
    free(buf);
}
END_TEST

START_TEST(bad_arguments)
{
    size_t before = sp_mem_in_use();
    ck_assert_ptr_null(sp_envelope_new(json_string("not an object"))); /* ref consumed */
    sp_envelope_t *env = sp_envelope_new(NULL);
    ck_assert_int_eq(sp_envelope_add_json(NULL, "a", json_object(), NULL), -EINVAL);
    ck_assert_int_eq(sp_envelope_add_json(env, NULL, json_object(), NULL), -EINVAL);
    ck_assert_int_eq(sp_envelope_add_json(env, "", json_object(), json_object()), -EINVAL);
    ck_assert_int_eq(sp_envelope_add_json(env, "a", NULL, json_object()), -EINVAL);
    ck_assert_int_eq(sp_envelope_add_json(env, "a", json_object(), json_array()), -EINVAL);
    ck_assert_int_eq(sp_envelope_add_raw(env, "a", NULL, 3, NULL), -EINVAL);
    ck_assert_int_eq(sp_envelope_add_raw(env, "a", "x", 1, json_integer(1)), -EINVAL);
    char *out;
    size_t len;
    ck_assert_int_eq(sp_envelope_serialize(NULL, &out, &len), -EINVAL);
    ck_assert_int_eq(sp_envelope_serialize(env, &out, &len), 0);
    ck_assert_str_eq(out, "{}\n"); /* failed adds left nothing behind */
    sp_mem_free(out);
    sp_envelope_free(env);
    sp_envelope_free(NULL);
    sp_envelope_parsed_free(NULL);
    ck_assert_ptr_null(sp_envelope_item_json(NULL, 0));
    ck_assert_uint_eq(sp_mem_in_use(), before);
}
END_TEST

SP_UNIT_SUITE(envelope)
{
    json_set_alloc_funcs(sp_mem_alloc, sp_mem_free); /* as the engine does */
    Suite *s = suite_create("envelope");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, round_trip_two_items);
    tcase_add_test(tc, raw_payload_with_newlines_and_empty);
    tcase_add_test(tc, empty_envelope);
    tcase_add_test(tc, optional_trailing_newline_and_no_length);
    tcase_add_test(tc, real_sdk_envelope);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    TCase *th = tcase_create("hostile");
    tcase_set_timeout(th, 120);
    tcase_add_loop_test(th, hostile_file, 0, (int)(sizeof hostile_files / sizeof hostile_files[0]));
    tcase_add_test(th, hostile_inline);
    tcase_add_test(th, truncations_and_flips);
    tcase_add_test(th, too_many_items);
    tcase_add_test(th, too_big);
    suite_add_tcase(s, th);
    return s;
}
