/* test_dsn: DSN parsing through libcurl's URL API (keys, secrets, ports, IPv6 hosts, path
 * prefixes, query and fragment), every refusal with its reason, and the envelope URL and
 * X-Sentry-Auth header derived from a DSN. */
#include "unit.h"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "mem.h"

#ifndef SP_VERSION
#define SP_VERSION "0.0.0"
#endif

static void parse_ok(const char *text, sp_dsn_t *d)
{
    char err[128] = "unset";
    int rc = sp_dsn_parse(text, d, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: rc %d: %s", text, rc, err);
    ck_assert_str_eq(err, "");
}

static void expect_url(const sp_dsn_t *d, const char *want)
{
    char url[SP_DSN_URL_MAX];
    ck_assert_int_eq(sp_dsn_envelope_url(d, url, sizeof url), 0);
    ck_assert_str_eq(url, want);
}

START_TEST(plain_dsn)
{
    sp_dsn_t d;
    parse_ok("https://0123456789abcdef0123456789abcdef@o42.ingest.sentry.io/4505", &d);
    ck_assert_str_eq(d.scheme, "https");
    ck_assert_str_eq(d.public_key, "0123456789abcdef0123456789abcdef");
    ck_assert_str_eq(d.host, "o42.ingest.sentry.io");
    ck_assert_uint_eq(d.port, 0);
    ck_assert_str_eq(d.prefix, "");
    ck_assert_str_eq(d.project_id, "4505");
    expect_url(&d, "https://o42.ingest.sentry.io/api/4505/envelope/");

    char auth[SP_DSN_AUTH_MAX];
    ck_assert_int_eq(sp_dsn_auth_header(&d, auth, sizeof auth), 0);
    ck_assert_str_eq(auth, "X-Sentry-Auth: Sentry sentry_version=7, sentry_client=sentryprof/" SP_VERSION
                           ", sentry_key=0123456789abcdef0123456789abcdef");
}
END_TEST

START_TEST(port_prefix_secret)
{
    sp_dsn_t d;
    parse_ok("http://pub:secret@127.0.0.1:9000/sentry/sub/7", &d);
    ck_assert_str_eq(d.scheme, "http");
    ck_assert_str_eq(d.public_key, "pub"); /* the secret is not the key */
    ck_assert_str_eq(d.host, "127.0.0.1");
    ck_assert_uint_eq(d.port, 9000);
    ck_assert_str_eq(d.prefix, "/sentry/sub");
    ck_assert_str_eq(d.project_id, "7");
    expect_url(&d, "http://127.0.0.1:9000/sentry/sub/api/7/envelope/");

    /* An explicit default port is kept as written. */
    parse_ok("https://k@example.com:443/1", &d);
    expect_url(&d, "https://example.com:443/api/1/envelope/");
}
END_TEST

START_TEST(ipv6_query_fragment_case)
{
    sp_dsn_t d;
    parse_ok("http://key@[::1]:8080/3", &d);
    ck_assert_str_eq(d.host, "[::1]");
    expect_url(&d, "http://[::1]:8080/api/3/envelope/");

    parse_ok("https://key@host.example/5?timeout=1#frag", &d); /* query and fragment ignored */
    ck_assert_str_eq(d.project_id, "5");
    expect_url(&d, "https://host.example/api/5/envelope/");

    parse_ok("https://key@xn--bcher-kva.example/1", &d); /* an IDN in its ASCII form */
    ck_assert_str_eq(d.host, "xn--bcher-kva.example");
    parse_ok("http://key@my_service:9000/1", &d); /* a compose service name */
    ck_assert_str_eq(d.host, "my_service");
    ck_assert_uint_eq(d.port, 9000);

    parse_ok("HTTPS://key@Host.Example/abc", &d); /* a non-numeric id is accepted */
    ck_assert_str_eq(d.scheme, "https");
    ck_assert_str_eq(d.project_id, "abc");
}
END_TEST

/* Every malformed DSN: -EINVAL, a reason, *out cleared. */
START_TEST(refusals)
{
    static const struct {
        const char *dsn, *reason_part;
    } bad[] = {
        {"", "empty"},
        {"ftp://key@host/1", "scheme"},
        {"file:///etc/passwd", "scheme"},
        {"https://host.example/1", "public key"},
        {"https://@host.example/1", "public key"},
        {"https://:secret@host.example/1", "public key"},
        {"https://key@host.example/", "project"},
        {"https://key@host.example", "project"},
        {"https://key@host.example/prefix/", "project"},
        {"https://key@host.example:0/1", "port"},
        {"https://ke,y@host.example/1", "public key"},
        {"https://ke%0dy@host.example/1", "public key"}, /* percent-encoded CR stays encoded */
        {"https://key @host.example/1", "spaces"},
        {"https://key@host.example/1\r\nX-Evil: 1", "control"},
        {"https://key@host.example/1 ", "spaces"},
        {"not a dsn", "spaces"},
        {"just-text", NULL},
        {"https://key@/1", NULL},
        {"garbage", "not a URL"},
        {"https://sentry.io/123", "public key"},
        {"ftp://key@sentry.io/123", "scheme"},
        {"https://key@b\xc3\xbc" "cher.example/1", "ASCII"}, /* IDN: retried forever before */
        {"https://key@ex%41mple.com/1", "host"},
        {"https://key@a..b/1", "host"},
        {"https://key@[::1/1", "IPv6"},
        {"https://key@host:99999/1", "port"},
        {"https://key@host:8x/1", "port"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sp_dsn_t d;
        memset(&d, 'x', sizeof d);
        char err[128] = "";
        int rc = sp_dsn_parse(bad[i].dsn, &d, err, sizeof err);
        ck_assert_msg(rc == -EINVAL, "%s: rc %d", bad[i].dsn, rc);
        ck_assert_msg(err[0] != '\0', "%s: no reason", bad[i].dsn);
        if (bad[i].reason_part)
            ck_assert_msg(strstr(err, bad[i].reason_part), "%s: reason '%s' lacks '%s'", bad[i].dsn,
                          err, bad[i].reason_part);
        ck_assert_str_eq(d.host, "");
        ck_assert_str_eq(d.public_key, "");
    }
    char err[64];
    ck_assert_int_eq(sp_dsn_parse(NULL, &(sp_dsn_t){0}, err, sizeof err), -EINVAL);
    ck_assert_int_eq(sp_dsn_parse("https://k@h/1", NULL, err, sizeof err), -EINVAL);
    sp_dsn_t d;
    ck_assert_int_eq(sp_dsn_parse("https://k@h/1", &d, NULL, 0), 0); /* no err buffer: fine */
    ck_assert_int_eq(sp_dsn_parse("ftp://k@h/1", &d, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(too_long)
{
    char *big = malloc(8192);
    memset(big, 'a', 8191);
    big[8191] = '\0';
    memcpy(big, "https://k@h/", 12);
    sp_dsn_t d;
    char err[128];
    ck_assert_int_eq(sp_dsn_parse(big, &d, err, sizeof err), -EINVAL);

    /* Fits the overall limit, not the key field. */
    char dsn[600];
    int n = snprintf(dsn, sizeof dsn, "https://");
    for (int i = 0; i < 300; i++) dsn[n++] = 'k';
    snprintf(dsn + n, sizeof dsn - (size_t)n, "@h/1");
    ck_assert_int_eq(sp_dsn_parse(dsn, &d, err, sizeof err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "too long"));
    free(big);
}
END_TEST

START_TEST(small_buffers)
{
    sp_dsn_t d;
    parse_ok("https://key@host.example/42", &d);
    char buf[16];
    ck_assert_int_eq(sp_dsn_envelope_url(&d, buf, sizeof buf), -ENAMETOOLONG);
    ck_assert_str_eq(buf, "");
    ck_assert_int_eq(sp_dsn_auth_header(&d, buf, sizeof buf), -ENAMETOOLONG);
    ck_assert_str_eq(buf, "");
    ck_assert_int_eq(sp_dsn_envelope_url(NULL, buf, sizeof buf), -EINVAL);
}
END_TEST

SP_UNIT_SUITE(dsn)
{
    json_set_alloc_funcs(sp_mem_alloc, sp_mem_free); /* as the CLI does */
    Suite *s = suite_create("dsn");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, plain_dsn);
    tcase_add_test(tc, port_prefix_secret);
    tcase_add_test(tc, ipv6_query_fragment_case);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, too_long);
    tcase_add_test(tc, small_buffers);
    suite_add_tcase(s, tc);
    return s;
}
