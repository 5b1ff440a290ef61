/* Check tests for src/utf8.c: valid text passes unchanged, each byte that is not UTF-8
 * becomes one U+FFFD, a copy that does not fit stops on a character boundary (never half a
 * character, never past cap), and what was replaced or cut is reported. */
#include "unit.h"

#include <string.h>

#include "utf8.h"

#define FFFD "\xef\xbf\xbd"

static const char *copy(const char *src, size_t cap, size_t *bad, bool *cut)
{
    static char buf[64];
    ck_assert_uint_le(cap, sizeof buf);
    size_t n = sp_utf8_copy(buf, cap, src, strlen(src), bad, cut);
    ck_assert_msg(n == strlen(buf) && n < cap, "returned length %zu, buffer holds %zu, cap %zu", n, strlen(buf), cap);
    ck_assert_msg(sp_utf8_valid(buf), "the copy of '%s' is not valid UTF-8", src);
    return buf;
}

START_TEST(test_copy)
{
    static const struct {
        const char *in;
        size_t cap;
        const char *out;
        size_t bad;
        bool cut;
    } cases[] = {
        {"plain 1.0", 64, "plain 1.0", 0, false},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 64, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0, false},
        {"caf\xe9-1.0", 64, "caf" FFFD "-1.0", 1, false},            /* Latin-1 */
        {"de_DE.\xc3", 64, "de_DE." FFFD, 1, false},                  /* cut before us */
        {"\xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80", 64,                /* overlong, surrogate, > U+10FFFF */
         FFFD FFFD " " FFFD FFFD FFFD " " FFFD FFFD FFFD FFFD, 9, false},
        {"\xc3\xa9\xc3\xa9\xc3\xa9", 6, "\xc3\xa9\xc3\xa9", 0, true}, /* 5 bytes of room: 2 whole */
        {"ab\xe2\x82\xac", 5, "ab", 0, true},                        /* the euro does not fit */
        {"a\xff", 4, "a", 0, true},                                  /* nor its replacement (not counted: not written) */
        {"", 1, "", 0, false},
        {"x", 1, "", 0, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t bad = 99;
        bool cut = !cases[i].cut;
        const char *out = copy(cases[i].in, cases[i].cap, &bad, &cut);
        ck_assert_msg(strcmp(out, cases[i].out) == 0, "case %zu: expected '%s', saw '%s'", i, cases[i].out, out);
        ck_assert_msg(cut == cases[i].cut, "case %zu: expected cut %d, saw %d", i, cases[i].cut, cut);
        ck_assert_msg(bad == cases[i].bad, "case %zu: expected %zu bad bytes, saw %zu", i, cases[i].bad, bad);
    }
}
END_TEST

/* Every byte value at every position of a short string: the copy is always valid, never
 * longer than cap - 1, and equal to the input exactly when the input was valid and fitted. */
START_TEST(test_every_byte)
{
    char in[4] = "a?b";
    for (int pos = 0; pos < 3; pos++)
        for (int c = 1; c < 256; c++) {
            in[pos] = (char)c;
            bool valid = sp_utf8_valid(in);
            size_t bad;
            bool cut;
            const char *out = copy(in, 64, &bad, &cut);
            ck_assert_msg(!cut && (strcmp(out, in) == 0) == valid && (bad == 0) == valid,
                          "byte 0x%02x at %d: valid %d, copy equal %d, bad %zu", c, pos, valid, strcmp(out, in) == 0, bad);
            in[pos] = "a?b"[pos];
        }
}
END_TEST

SP_UNIT_SUITE(utf8)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_copy);
    tcase_add_test(tc, test_every_byte);
    suite_add_tcase(s, tc);
    return s;
}
