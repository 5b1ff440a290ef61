/* test_perfmap: the perf map reader (src/perfmap.c) and the JS name splitter. Feeds
 * bytes directly, reads hostile files from tests/data/perfmap-*.map, and drives
 * sp_perfmap_refresh against real files in a private temp directory. */
#include "unit.h"
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "perfmap.h"
#include "v8names.h"

#ifndef SP_TEST_DATA
#define SP_TEST_DATA "tests/data"
#endif

#define FEED(m, s) sp_perfmap_feed((m), (s), strlen(s))

static const char *name_at(sp_perfmap_t *m, uint64_t addr)
{
    const sp_perfmap_entry_t *e = sp_perfmap_lookup(m, addr);
    return e ? e->name : NULL;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Whether the line at s starts "<hex> <hex> " (a perf-map entry, not a continuation). */
static bool is_entry_line(const char *s, size_t n)
{
    size_t i = 0;
    for (int field = 0; field < 2; field++) {
        size_t d = i;
        while (i < n && strchr("0123456789abcdefABCDEF", s[i]) && s[i]) i++;
        if (i == d || i >= n || s[i] != ' ') return false;
        i++;
    }
    return true;
}

/* ---- sp_v8names_parse ---- */

#define CK_STRN(p, n, want)                                                                        \
    do {                                                                                           \
        ck_assert_uint_eq((n), strlen(want));                                                      \
        ck_assert_msg(memcmp((p), (want), (n)) == 0, "got '%.*s', want '%s'", (int)(n), (p),     \
                      (want));                                                                     \
    } while (0)

static void check_js(const char *name, const char *kind, char tier, const char *func,
                     const char *file, int line, int col)
{
    sp_v8name_t js;
    ck_assert_int_eq(sp_v8names_parse(name, &js), 0);
    CK_STRN(js.kind, js.kind_len, kind);
    ck_assert_int_eq(js.tier, tier);
    CK_STRN(js.func, js.func_len, func);
    if (file) {
        ck_assert_msg(js.file != NULL, "%s: no file", name);
        CK_STRN(js.file, js.file_len, file);
        ck_assert(js.file >= name && js.file + js.file_len <= name + strlen(name));
    } else {
        ck_assert_msg(js.file == NULL, "%s: unexpected file", name);
    }
    ck_assert_int_eq(js.line, line);
    ck_assert_int_eq(js.col, col);
}

START_TEST(t_jsname_dialects)
{
    check_js("JS:*fib /app/t.js:1:13", "JS", '*', "fib", "/app/t.js", 1, 13);
    check_js("LazyCompile:~Module._load node:internal/modules/cjs/loader:1:2", "LazyCompile", '~',
             "Module._load", "node:internal/modules/cjs/loader", 1, 2);
    check_js("Function:^foo file:///x/y.mjs:3:9", "Function", '^', "foo", "file:///x/y.mjs", 3, 9);
    check_js("InterpretedFunction:bar /a b/c.js:4:5", "InterpretedFunction", 0, "bar", "/a b/c.js",
             4, 5);
    check_js("JS:~ /app/t.js:10:5", "JS", '~', "", "/app/t.js", 10, 5);
    check_js("JS:~get foo /app/t.js:1:1", "JS", '~', "get foo", "/app/t.js", 1, 1);
    check_js("Builtin:ArrayMap", "Builtin", 0, "ArrayMap", NULL, 0, 0);
    check_js("RegExp: (a+)+b", "RegExp", 0, " (a+)+b", NULL, 0, 0);
    check_js("RegExp:a b c", "RegExp", 0, "a b c", NULL, 0, 0);
    check_js("RegExp:~x /y:1:2", "RegExp", 0, "~x /y:1:2", NULL, 0, 0);
    check_js("Script:~ /app/x.js", "Script", '~', "", "/app/x.js", 0, 0);
    check_js("foo bar", "", 0, "foo bar", NULL, 0, 0);
    /* seen in real Node 20 maps */
    check_js("JS:~hotLoop [eval]:1:17", "JS", '~', "hotLoop", "[eval]", 1, 17);
    check_js("JS:~ [eval]-wrapper:6:14", "JS", '~', "", "[eval]-wrapper", 6, 14);
    check_js("JS:*w1Hot [worker eval]:1:10", "JS", '*', "w1Hot", "[worker eval]", 1, 10);
    /* Node 26: on-stack-replacement tiers */
    check_js("JS:o*hotLoop [eval]:1:17", "JS", '*', "hotLoop", "[eval]", 1, 17);
    check_js("JS:o+hotLoop /app/x.js:4:2", "JS", '+', "hotLoop", "/app/x.js", 4, 2);
    /* Node 18 (V8 10): a line without a column */
    check_js("LazyCompile:*hotLoop /app/hot.js:7", "LazyCompile", '*', "hotLoop", "/app/hot.js", 7, 0);
    check_js("LazyCompile:~hotLoop [eval]:1", "LazyCompile", '~', "hotLoop", "[eval]", 1, 0);
    check_js("JS:^ node:internal/validators:161:40", "JS", '^', "", "node:internal/validators",
             161, 40);
    check_js("JS:~get node:internal/bootstrap/node:385:8", "JS", '~', "get",
             "node:internal/bootstrap/node", 385, 8);
    /* new Function / eval code has no script name */
    check_js("JS:~ :1:20", "JS", '~', "", NULL, 1, 20);
    check_js("Eval:~ :1:1", "Eval", '~', "", NULL, 1, 1);
    check_js("JS:^named :3:4", "JS", '^', "named", NULL, 3, 4);
    check_js("BytecodeHandler:DebugBreakWide", "BytecodeHandler", 0, "DebugBreakWide", NULL, 0, 0);
    check_js("JS:+f https://cdn.example/x.js:2:3", "JS", '+', "f", "https://cdn.example/x.js", 2,
             3);
    /* a function whose name starts like a URL scheme stays whole */
    check_js("JS:~get httpAgent /app/a.js:7:1", "JS", '~', "get httpAgent", "/app/a.js", 7, 1);
    /* no tag, no location; lowercase words are not tags */
    check_js("node:internal/x", "", 0, "node:internal/x", NULL, 0, 0);
    check_js("JS:", "JS", 0, "", NULL, 0, 0);
    /* a line/column too long to be one is part of the file */
    check_js("JS:~f /a.js:12345678901:1", "JS", '~', "f", "/a.js:12345678901:1", 0, 0);
}
END_TEST

START_TEST(t_jsname_empty)
{
    sp_v8name_t js;
    ck_assert_int_eq(sp_v8names_parse("", &js), -EINVAL);
    ck_assert_int_eq(sp_v8names_parse(NULL, &js), -EINVAL);
}
END_TEST

/* ---- feeding ---- */

START_TEST(t_feed_lookup)
{
    sp_perfmap_t *m = sp_perfmap_new(NULL, 0);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(FEED(m, "2000 100 JS:~b /app/t.js:2:1\n"
                             "1000 10 JS:*a /app/t.js:1:13\n"
                             "3000 1 Builtin:C\n"),
                     3);
    ck_assert_uint_eq(sp_perfmap_count(m), 3);
    ck_assert_uint_eq(sp_perfmap_malformed(m), 0);
    ck_assert_ptr_null(name_at(m, 0));
    ck_assert_ptr_null(name_at(m, 0xfff));
    ck_assert_str_eq(name_at(m, 0x1000), "JS:*a /app/t.js:1:13");
    ck_assert_str_eq(name_at(m, 0x100f), "JS:*a /app/t.js:1:13");
    ck_assert_ptr_null(name_at(m, 0x1010)); /* start + size */
    ck_assert_ptr_null(name_at(m, 0x1800)); /* between */
    ck_assert_str_eq(name_at(m, 0x2000), "JS:~b /app/t.js:2:1");
    ck_assert_str_eq(name_at(m, 0x20ff), "JS:~b /app/t.js:2:1");
    ck_assert_ptr_null(name_at(m, 0x2100));
    ck_assert_str_eq(name_at(m, 0x3000), "Builtin:C");
    ck_assert_ptr_null(name_at(m, 0x3001));
    ck_assert_ptr_null(name_at(m, UINT64_MAX));
    const sp_perfmap_entry_t *e = sp_perfmap_lookup(m, 0x2050);
    ck_assert_uint_eq(e->start, 0x2000);
    ck_assert_uint_eq(e->size, 0x100);
    /* the very top of the address space: the end must fit in 64 bits */
    ck_assert_int_eq(FEED(m, "fffffffffffffff0 10 Builtin:Wraps\n"), 0);
    ck_assert_int_eq(FEED(m, "fffffffffffffff0 f Builtin:Top\n"), 1);
    ck_assert_str_eq(name_at(m, UINT64_MAX - 1), "Builtin:Top");
    ck_assert_ptr_null(name_at(m, UINT64_MAX));
    sp_perfmap_free(m);
}
END_TEST

START_TEST(t_feed_malformed)
{
    sp_perfmap_t *m = sp_perfmap_new(NULL, 0);
    static const char bin[] = "\x01\x02\xff\x00\x7f junk\n3000 10 JS:~bin\0ary\n";
    ck_assert_int_eq(FEED(m, "garbage\n"), 0);
    ck_assert_int_eq(FEED(m, "zz 10 JS:~x\n"), 0);                     /* non-hex */
    ck_assert_int_eq(FEED(m, "10000000000000000 10 JS:~x\n"), 0);      /* 17 digits */
    ck_assert_int_eq(FEED(m, "1000 ffffffffffffffff1 JS:~x\n"), 0);    /* size overflows */
    ck_assert_int_eq(FEED(m, "ffffffffffffffff 2 JS:~wrap\n"), 0);     /* end wraps */
    ck_assert_int_eq(FEED(m, "1000 10\n1000 10 \n"), 0);                /* no name */
    ck_assert_int_eq(sp_perfmap_feed(m, bin, sizeof bin - 1), 0);      /* binary */
    ck_assert_uint_eq(sp_perfmap_malformed(m), 9);
    ck_assert_uint_eq(sp_perfmap_count(m), 0);

    /* an extremely long garbage line, then a good one */
    size_t n = 1 << 20;
    char *big = malloc(n + 64);
    memset(big, 'x', n);
    strcpy(big + n, "\n1000 10 JS:~good /a.js:1:1\n");
    ck_assert_int_eq(FEED(m, big), 1);
    ck_assert_uint_eq(sp_perfmap_malformed(m), 10);
    ck_assert_str_eq(name_at(m, 0x1005), "JS:~good /a.js:1:1");
    /* the same, fed in pieces so it goes through the partial-line buffer (a fresh map:
     * right after "good" the long line would continue its name) */
    sp_perfmap_t *m2 = sp_perfmap_new(NULL, 0);
    memcpy(big + n, "\n2000 10 JS:~good2 /a.js:1:1\n", 29);
    for (size_t off = 0; off < n + 29; off += 7000)
        sp_perfmap_feed(m2, big + off, n + 29 - off < 7000 ? n + 29 - off : 7000);
    free(big);
    ck_assert_uint_eq(sp_perfmap_malformed(m2), 1);
    ck_assert_uint_eq(sp_perfmap_count(m2), 1);
    ck_assert_str_eq(name_at(m2, 0x2005), "JS:~good2 /a.js:1:1");
    sp_perfmap_free(m2);

    /* zero-size entries are ignored, not malformed; so is their continuation */
    ck_assert_int_eq(FEED(m, "5000 0 JS:~zero\nmore\n"), 0);
    ck_assert_uint_eq(sp_perfmap_malformed(m), 10);
    ck_assert_uint_eq(sp_perfmap_count(m), 1);
    sp_perfmap_free(m);
}
END_TEST

START_TEST(t_feed_hostile_file)
{
    size_t len;
    char *buf = read_all(SP_TEST_DATA "/perfmap-hostile.map", &len);
    sp_perfmap_t *m = sp_perfmap_new(NULL, 0);
    ck_assert_int_eq(sp_perfmap_feed(m, buf, len), 6);
    ck_assert_uint_eq(sp_perfmap_malformed(m), 13);
    ck_assert_uint_eq(sp_perfmap_count(m), 6);
    ck_assert_str_eq(name_at(m, 0x1000), "JS:~good1 /app/a.js:1:1");
    ck_assert_str_eq(name_at(m, 0x200f), "RegExp:a b c");
    ck_assert_str_eq(name_at(m, 0x3000), "JS:~caf\xc3\xa9 /app/u.js:1:1");
    ck_assert_str_eq(name_at(m, 0x5000), "JS:~bad??utf /app/u.js:1:1");
    const char *longname = name_at(m, 0x6000);
    ck_assert_uint_eq(strlen(longname), 4095);
    ck_assert(strncmp(longname, "JS:*nnnn", 8) == 0);
    ck_assert_str_eq(name_at(m, 0xABCDEF), "Builtin:Upper");
    ck_assert_ptr_null(name_at(m, 0x4000)); /* zero-size */

    /* byte by byte gives the same result */
    sp_perfmap_t *m2 = sp_perfmap_new(NULL, 0);
    for (size_t i = 0; i < len; i++) sp_perfmap_feed(m2, buf + i, 1);
    ck_assert_uint_eq(sp_perfmap_malformed(m2), 13);
    ck_assert_uint_eq(sp_perfmap_count(m2), 6);
    ck_assert_str_eq(name_at(m2, 0x200f), "RegExp:a b c");
    ck_assert_str_eq(name_at(m2, 0x6000), longname);
    sp_perfmap_free(m2);
    sp_perfmap_free(m);
    free(buf);
}
END_TEST

START_TEST(t_feed_real_node20)
{
    size_t len;
    char *buf = read_all(SP_TEST_DATA "/perfmap-node20.map", &len);
    size_t lines = 0; /* entries; the other lines continue a name split by a newline */
    for (size_t i = 0; i < len; i++)
        if (i == 0 || buf[i - 1] == '\n') lines += is_entry_line(buf + i, len - i);
    sp_perfmap_t *m = sp_perfmap_new(NULL, 0);
    ck_assert_int_eq(sp_perfmap_feed(m, buf, len), (int)lines);
    ck_assert_uint_eq(sp_perfmap_malformed(m), 0);
    ck_assert_uint_eq(sp_perfmap_count(m), lines);

    const sp_perfmap_entry_t *e = sp_perfmap_lookup(m, 0x7f4144025440 + 0x100);
    ck_assert_ptr_nonnull(e);
    sp_v8name_t js;
    ck_assert_int_eq(sp_v8names_parse(e->name, &js), 0);
    CK_STRN(js.func, js.func_len, "hotLoop");
    CK_STRN(js.file, js.file_len, "/tmp/pmw/hot.js");
    ck_assert_int_eq(js.tier, '*');
    e = sp_perfmap_lookup(m, 0x7f4144024b80);
    ck_assert_int_eq(sp_v8names_parse(e->name, &js), 0);
    CK_STRN(js.func, js.func_len, "get foo");
    ck_assert_int_eq(js.line, 2);
    ck_assert_int_eq(js.col, 18);
    e = sp_perfmap_lookup(m, 0x1a07740);
    ck_assert_int_eq(sp_v8names_parse(e->name, &js), 0);
    CK_STRN(js.kind, js.kind_len, "BytecodeHandler");
    ck_assert_ptr_null(js.file);
    sp_perfmap_free(m);
    free(buf);
}
END_TEST

START_TEST(t_feed_regexp_spaces)
{
    sp_perfmap_t *m = sp_perfmap_new(NULL, 0);
    ck_assert_int_eq(FEED(m, "1000 40 RegExp:^(a b)+ c /x$\n"), 1);
    const char *n = name_at(m, 0x1000);
    ck_assert_str_eq(n, "RegExp:^(a b)+ c /x$");
    sp_v8name_t js;
    ck_assert_int_eq(sp_v8names_parse(n, &js), 0);
    CK_STRN(js.kind, js.kind_len, "RegExp");
    CK_STRN(js.func, js.func_len, "^(a b)+ c /x$");
    ck_assert_ptr_null(js.file);
    sp_perfmap_free(m);
}
END_TEST

START_TEST(t_feed_split_name)
{
    sp_perfmap_t *m = sp_perfmap_new(NULL, 0);
    /* RegExp /a b\nc/ as Node 24 writes it, in one feed */
    ck_assert_int_eq(FEED(m, "1000 10 RegExp:a b\nc\n2000 10 JS:~f /a.js:1:1\n"), 2);
    ck_assert_str_eq(name_at(m, 0x1000), "RegExp:a b c");
    ck_assert_str_eq(name_at(m, 0x2000), "JS:~f /a.js:1:1");
    /* across feeds, after the entry was merged; three lines */
    ck_assert_int_eq(FEED(m, "3000 10 RegExp:x\n"), 1);
    ck_assert_int_eq(FEED(m, "y\n"), 0);
    ck_assert_int_eq(FEED(m, "z\n"), 0);
    ck_assert_str_eq(name_at(m, 0x3000), "RegExp:x y z");
    ck_assert_uint_eq(sp_perfmap_malformed(m), 0);
    /* an empty line continues with a space */
    ck_assert_int_eq(FEED(m, "4000 10 RegExp:p\n\nq\n"), 1);
    ck_assert_str_eq(name_at(m, 0x4000), "RegExp:p  q");
    /* not after an entry-shaped bad line (which never continues a name), nor after a
     * malformed line */
    ck_assert_int_eq(FEED(m, "1 ffffffffffffffffff X\ngarbage\nmore\n"
                             "5000 10 RegExp:r\n1 ffffffffffffffffff X\nrest\n"),
                     1);
    ck_assert_uint_eq(sp_perfmap_malformed(m), 5);
    ck_assert_str_eq(name_at(m, 0x5000), "RegExp:r");
    /* nor at the very start */
    sp_perfmap_t *m2 = sp_perfmap_new(NULL, 0);
    ck_assert_int_eq(FEED(m2, "orphan\n1000 10 JS:~f\n"), 1);
    ck_assert_uint_eq(sp_perfmap_malformed(m2), 1);
    sp_perfmap_free(m2);
    /* a joined name is capped like any other */
    sp_perfmap_t *m3 = sp_perfmap_new(NULL, 0);
    char *big = malloc(3000);
    memset(big, 'q', 2999);
    big[2999] = '\0';
    ck_assert_int_eq(FEED(m3, "1000 10 RegExp:"), 0);
    ck_assert_int_eq(FEED(m3, big), 0);
    ck_assert_int_eq(FEED(m3, "\n"), 1);
    ck_assert_int_eq(FEED(m3, big), 0);
    ck_assert_int_eq(FEED(m3, "\n"), 0);
    ck_assert_uint_eq(strlen(name_at(m3, 0x1000)), 4095);
    ck_assert_int_eq(FEED(m3, "more\n"), 0);
    ck_assert_uint_eq(strlen(name_at(m3, 0x1000)), 4095);
    free(big);
    sp_perfmap_free(m3);
    sp_perfmap_free(m);
}
END_TEST

START_TEST(t_feed_partial_line)
{
    sp_perfmap_t *m = sp_perfmap_new(NULL, 0);
    ck_assert_int_eq(FEED(m, "1000 10 JS:~f"), 0);
    ck_assert_uint_eq(sp_perfmap_count(m), 0);
    ck_assert_int_eq(FEED(m, "oo /a.js:1:1\n20"), 1);
    ck_assert_str_eq(name_at(m, 0x1000), "JS:~foo /a.js:1:1");
    ck_assert_int_eq(FEED(m, "00 1"), 0);
    ck_assert_int_eq(FEED(m, "0 JS:~bar\n"), 1);
    ck_assert_str_eq(name_at(m, 0x200f), "JS:~bar");
    ck_assert_uint_eq(sp_perfmap_malformed(m), 0);
    ck_assert_int_eq(sp_perfmap_feed(m, NULL, 0), 0);
    sp_perfmap_free(m);
}
END_TEST

/* Move lines (jitlog, V8's CODE_MOVED): named code keeps its name at its new place, in the
 * same feed or a later one, through several moves; a move whose old place holds no entry
 * of that exact start and size (code the map never named, a dead function's leftover
 * entry) names nothing there, and the dead entry it overlaps is gone. */
START_TEST(t_feed_code_moved)
{
    sp_perfmap_t *m = sp_perfmap_new(NULL, 0);
    ck_assert_ptr_nonnull(m);
    FEED(m, "1000 100 JS:*f /app/m.js:1:1\n"
            "5000 100 " SP_PERFMAP_MOVED "1000\n"); /* the same feed */
    ck_assert_str_eq(name_at(m, 0x5010), "JS:*f /app/m.js:1:1");
    FEED(m, "9000 100 " SP_PERFMAP_MOVED "5000\n"); /* a later one, a second move */
    ck_assert_str_eq(name_at(m, 0x90ff), "JS:*f /app/m.js:1:1");
    ck_assert_uint_eq(sp_perfmap_moves(m), 2);
    /* the dead function's entry at 0x20000; unnamed code of another size moves there */
    FEED(m, "20000 80 JS:^dead /app/m.js:9:1\n"
            "20000 40 " SP_PERFMAP_MOVED "1000\n");
    ck_assert_ptr_null(name_at(m, 0x20010));
    ck_assert_ptr_null(name_at(m, 0x20050)); /* the older entry went whole */
    /* from a start nobody named, and a garbage old start */
    FEED(m, "30000 40 JS:*g /app/m.js:3:1\n"
            "30000 40 " SP_PERFMAP_MOVED "77777\n"
            "40000 40 " SP_PERFMAP_MOVED "zz\n");
    ck_assert_ptr_null(name_at(m, 0x30010));
    ck_assert_ptr_null(name_at(m, 0x40010));
    ck_assert_uint_eq(sp_perfmap_moves(m), 2);
    ck_assert_uint_eq(sp_perfmap_malformed(m), 0);
    sp_perfmap_free(m);
}
END_TEST

/* Time lines (jitlog): each entry carries the last one's time (the lines after it were
 * written later); one going back (written late by a thread that took its time first) keeps
 * the later one; a garbled one is malformed; none of them is an entry. */
START_TEST(t_feed_time_lines)
{
    sp_perfmap_t *m = sp_perfmap_new(NULL, 0);
    ck_assert_ptr_nonnull(m);
    FEED(m, "1000 100 JS:*old /a.js:1:1\n"
            "0 0 " SP_PERFMAP_AT "64\n"
            "2000 100 JS:*mid /a.js:2:1\n"
            "0 0 " SP_PERFMAP_AT "c8\n"
            "0 0 " SP_PERFMAP_AT "96\n"
            "1000 100 JS:*new /a.js:3:1\n"
            "0 0 " SP_PERFMAP_AT "zz\n"
            "3000 100 " SP_PERFMAP_MOVED "2000\n");
    const sp_perfmap_entry_t *e = sp_perfmap_lookup(m, 0x1010);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e->name, "JS:*new /a.js:3:1");
    ck_assert_uint_eq(e->written_after_ns, 200);
    e = sp_perfmap_lookup(m, 0x2010);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->written_after_ns, 100);
    e = sp_perfmap_lookup(m, 0x3010); /* moved there after the last good time line */
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e->name, "JS:*mid /a.js:2:1");
    ck_assert_uint_eq(e->written_after_ns, 200);
    ck_assert_uint_eq(sp_perfmap_count(m), 3);
    ck_assert_uint_eq(sp_perfmap_malformed(m), 1);
    ck_assert_ptr_null(sp_perfmap_lookup(m, 0));
    sp_perfmap_free(m);

    /* The same code back at the same start and size (a compaction's pages trading places)
     * keeps the time it was first there, in a later feed and within one; another function
     * in between ends that. */
    m = sp_perfmap_new(NULL, 0);
    ck_assert_ptr_nonnull(m);
    FEED(m, "0 0 " SP_PERFMAP_AT "10\n1000 100 JS:*c /a.js:1:1\n5000 100 JS:*e /a.js:5:1\n");
    FEED(m, "0 0 " SP_PERFMAP_AT "20\n2000 100 " SP_PERFMAP_MOVED "1000\n"
            "0 0 " SP_PERFMAP_AT "30\n1000 100 " SP_PERFMAP_MOVED "2000\n");
    e = sp_perfmap_lookup(m, 0x1010);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e->name, "JS:*c /a.js:1:1");
    ck_assert_uint_eq(e->written_after_ns, 0x10);
    FEED(m, "0 0 " SP_PERFMAP_AT "40\n1000 100 JS:*c /a.js:1:1\n1000 100 JS:*c /a.js:1:1\n");
    ck_assert_uint_eq(sp_perfmap_lookup(m, 0x1010)->written_after_ns, 0x10);
    FEED(m, "0 0 " SP_PERFMAP_AT "50\n5000 100 JS:*d /a.js:4:1\n"
            "0 0 " SP_PERFMAP_AT "60\n5000 100 JS:*e /a.js:5:1\n");
    ck_assert_uint_eq(sp_perfmap_lookup(m, 0x5010)->written_after_ns, 0x60);
    FEED(m, "0 0 " SP_PERFMAP_AT "70\n1000 80 JS:*c /a.js:1:1\n"); /* another size */
    ck_assert_uint_eq(sp_perfmap_lookup(m, 0x1010)->written_after_ns, 0x70);
    sp_perfmap_free(m);
}
END_TEST

START_TEST(t_feed_address_reuse)
{
    sp_perfmap_t *m = sp_perfmap_new(NULL, 0);
    ck_assert_int_eq(FEED(m, "1000 100 JS:~old\n2000 100 JS:~keep\n"), 2);
    /* same start, in a later feed */
    ck_assert_int_eq(FEED(m, "1000 100 JS:~new\n"), 1);
    ck_assert_uint_eq(sp_perfmap_count(m), 2);
    ck_assert_str_eq(name_at(m, 0x1000), "JS:~new");
    /* overlapping the end of one and the start of another: both older go */
    ck_assert_int_eq(FEED(m, "1080 1000 JS:~span\n"), 1);
    ck_assert_uint_eq(sp_perfmap_count(m), 1);
    ck_assert_ptr_null(name_at(m, 0x1000));
    ck_assert_str_eq(name_at(m, 0x1080), "JS:~span");
    ck_assert_ptr_null(name_at(m, 0x2000 + 0x80)); /* "keep" is gone too */
    /* within one feed: a later line wins */
    ck_assert_int_eq(FEED(m, "5000 10 JS:~a\n5000 20 JS:~b\n5008 4 JS:~c\n"), 1);
    ck_assert_uint_eq(sp_perfmap_count(m), 2);
    ck_assert_ptr_null(name_at(m, 0x5000));
    ck_assert_str_eq(name_at(m, 0x5009), "JS:~c");
    ck_assert_ptr_null(name_at(m, 0x5010));
    /* a newer small entry inside an older big one: the big one goes whole */
    ck_assert_int_eq(FEED(m, "8000 1000 JS:~big\n"), 1);
    ck_assert_int_eq(FEED(m, "8800 10 JS:~small\n"), 1);
    ck_assert_ptr_null(name_at(m, 0x8000));
    ck_assert_str_eq(name_at(m, 0x8808), "JS:~small");
    ck_assert_ptr_null(name_at(m, 0x8fff));
    /* an older entry can die from a newer one that itself died: in file order y, x, t
     * with t over x and x over y, only t is left */
    ck_assert_int_eq(FEED(m, "10f 10 JS:~y\n105 10 JS:~x\n100 a JS:~t\n"), 1);
    ck_assert_str_eq(name_at(m, 0x100), "JS:~t");
    ck_assert_ptr_null(name_at(m, 0x10a));
    ck_assert_ptr_null(name_at(m, 0x110));
    /* adjacent entries do not overlap */
    ck_assert_int_eq(FEED(m, "20000 10 JS:~l\n20010 10 JS:~r\n"), 2);
    ck_assert_str_eq(name_at(m, 0x2000f), "JS:~l");
    ck_assert_str_eq(name_at(m, 0x20010), "JS:~r");
    ck_assert_uint_eq(sp_perfmap_count(m), 6); /* span, c, small, t, l, r */
    sp_perfmap_free(m);
}
END_TEST

/* Random entries fed in random batches must match inserting them one by one into a
 * plain list that drops every older overlapping entry. */
typedef struct {
    uint64_t start, size;
    int id;
} ref_t;

START_TEST(t_feed_matches_reference)
{
    enum { N = 3000 };
    static ref_t ref[N];
    size_t nref = 0;
    unsigned seed = 12345;
    sp_perfmap_t *m = sp_perfmap_new(NULL, 0);
    char line[128];
    char *batch = malloc(N * sizeof line);
    size_t blen = 0;
    for (int id = 0; id < N; id++) {
        seed = seed * 1103515245u + 12345u;
        uint64_t start = (seed >> 8) % 20000;
        seed = seed * 1103515245u + 12345u;
        uint64_t size = 1 + (seed >> 8) % ((seed >> 4) % 8 == 0 ? 2000 : 40);
        size_t w = 0;
        for (size_t i = 0; i < nref; i++) {
            bool overlaps = ref[i].start < start + size && start < ref[i].start + ref[i].size;
            if (!overlaps) ref[w++] = ref[i];
        }
        nref = w;
        ref[nref++] = (ref_t){start, size, id};
        blen += (size_t)snprintf(batch + blen, sizeof line, "%lx %lx f%d\n",
                                 (unsigned long)start, (unsigned long)size, id);
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 8) % 50 == 0 || id == N - 1) {
            sp_perfmap_feed(m, batch, blen);
            blen = 0;
        }
    }
    free(batch);
    ck_assert_uint_eq(sp_perfmap_count(m), nref);
    for (size_t i = 0; i < nref; i++) {
        snprintf(line, sizeof line, "f%d", ref[i].id);
        ck_assert_str_eq(name_at(m, ref[i].start), line);
        ck_assert_str_eq(name_at(m, ref[i].start + ref[i].size - 1), line);
    }
    sp_perfmap_free(m);
}
END_TEST

START_TEST(t_feed_100k)
{
    enum { N = 100000 };
    size_t cap = (size_t)N * 48, len = 0;
    char *buf = malloc(cap);
    /* a stride coprime with N scatters the starts, so the batch needs sorting */
    for (unsigned i = 0; i < N; i++) {
        unsigned k = (i * 7919u) % N;
        len += (size_t)snprintf(buf + len, cap - len, "%x 20 JS:*f%u /app/t.js:%u:1\n",
                                0x100000u + k * 0x40u, k, k + 1);
    }
    sp_perfmap_t *m = sp_perfmap_new(NULL, 0);
    ck_assert_int_eq(sp_perfmap_feed(m, buf, len), N);
    ck_assert_uint_eq(sp_perfmap_count(m), N);
    size_t hits = 0, want = 0;
    for (unsigned i = 0; i < N; i++) {
        uint64_t addr = 0x100000u + (uint64_t)((i * 104729u) % N) * 0x40u + (i & 0x3f);
        hits += sp_perfmap_lookup(m, addr) != NULL;
        want += (i & 0x3f) < 0x20; /* 20..3f fall between entries */
    }
    ck_assert_uint_eq(hits, want);
    free(buf);
    sp_perfmap_free(m);
    ck_assert_uint_eq(sp_perfmap_count(NULL), 0);
}
END_TEST

/* ---- refresh from files ---- */

static char tmpdir[64];
static char mappath[128];

static void tmp_setup(void)
{
    strcpy(tmpdir, "/tmp/sp-perfmap-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(mappath, sizeof mappath, "%s/perf-1.map", tmpdir);
}

static void tmp_teardown(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
}

static void write_file(const char *path, const char *mode, const char *s)
{
    FILE *f = fopen(path, mode);
    ck_assert_ptr_nonnull(f);
    fputs(s, f);
    fclose(f);
}

START_TEST(t_refresh_incremental)
{
    sp_perfmap_t *m = sp_perfmap_new(mappath, 0);
    ck_assert_int_eq(sp_perfmap_refresh(m), -ENOENT);
    write_file(mappath, "w", "1000 10 JS:~a /a.js:1:1\n2000 10 JS:~b /a.js:2:1\n3000 10 JS:~c");
    ck_assert_int_eq(sp_perfmap_refresh(m), 2);
    ck_assert_int_eq(sp_perfmap_refresh(m), 0);
    write_file(mappath, "a", " /a.js:3:1\n4000 10 RegExp:x\n");
    ck_assert_int_eq(sp_perfmap_refresh(m), 2);
    write_file(mappath, "a", "y\n1000 8 JS:*a /a.js:1:1\n");
    ck_assert_int_eq(sp_perfmap_refresh(m), 1);
    ck_assert_uint_eq(sp_perfmap_count(m), 4);
    ck_assert_str_eq(name_at(m, 0x3000), "JS:~c /a.js:3:1");
    ck_assert_str_eq(name_at(m, 0x4000), "RegExp:x y");
    ck_assert_str_eq(name_at(m, 0x1000), "JS:*a /a.js:1:1");
    ck_assert_ptr_null(name_at(m, 0x1008));
    ck_assert_uint_eq(sp_perfmap_malformed(m), 0);
    /* the path disappears: keep what we have and keep reading the open file */
    ck_assert_int_eq(unlink(mappath), 0);
    ck_assert_int_eq(sp_perfmap_refresh(m), 0);
    ck_assert_uint_eq(sp_perfmap_count(m), 4);
    sp_perfmap_free(m);
}
END_TEST

START_TEST(t_refresh_truncate)
{
    sp_perfmap_t *m = sp_perfmap_new(mappath, 0);
    write_file(mappath, "w", "1000 10 JS:~a\n2000 10 JS:~b\n3000 10 JS:~c\n");
    ck_assert_int_eq(sp_perfmap_refresh(m), 3);
    /* V8 of a new process with the same pid truncates with fopen("w") */
    write_file(mappath, "w", "5000 10 JS:~new\n");
    ck_assert_int_eq(sp_perfmap_refresh(m), 1);
    ck_assert_uint_eq(sp_perfmap_count(m), 1);
    ck_assert_ptr_null(name_at(m, 0x1000));
    ck_assert_str_eq(name_at(m, 0x5000), "JS:~new");
    /* a partial line does not survive a truncation */
    write_file(mappath, "a", "6000 10 JS:~par");
    ck_assert_int_eq(sp_perfmap_refresh(m), 0);
    write_file(mappath, "w", "tial\n7000 10 JS:~x\n");
    ck_assert_int_eq(sp_perfmap_refresh(m), 1);
    ck_assert_uint_eq(sp_perfmap_malformed(m), 1);
    ck_assert_uint_eq(sp_perfmap_count(m), 1);
    /* replaced by a new file (another inode) at the path: re-read from 0 */
    char other[160];
    snprintf(other, sizeof other, "%s/other", tmpdir);
    write_file(other, "w", "8000 10 JS:~a\n8100 10 JS:~b\n8200 10 JS:~c\n9000 10 JS:~d\n");
    ck_assert_int_eq(rename(other, mappath), 0);
    ck_assert_int_eq(sp_perfmap_refresh(m), 4);
    ck_assert_uint_eq(sp_perfmap_count(m), 4);
    ck_assert_ptr_null(name_at(m, 0x7000));
    sp_perfmap_free(m);
}
END_TEST

/* A file put at the path while ours keeps another name (so its link count does not say
 * so): noticed by the path's lookup, at most a second later. */
START_TEST(t_refresh_replaced_kept_linked)
{
    write_file(mappath, "w", "1000 10 JS:~a\n");
    sp_perfmap_t *m = sp_perfmap_new(mappath, 0);
    ck_assert_int_eq(sp_perfmap_refresh(m), 1);
    char kept[160], other[160];
    snprintf(kept, sizeof kept, "%s/kept", tmpdir);
    snprintf(other, sizeof other, "%s/other", tmpdir);
    ck_assert_int_eq(link(mappath, kept), 0);
    write_file(other, "w", "8000 10 JS:~b\n9000 10 JS:~c\n");
    ck_assert_int_eq(rename(other, mappath), 0);
    struct timespec pause = {1, 100 * 1000 * 1000};
    nanosleep(&pause, NULL);
    int rc = sp_perfmap_refresh(m);
    ck_assert_msg(rc == 2, "refresh a second after the path was replaced: expected the new file's 2 entries, saw %d", rc);
    ck_assert_ptr_null(name_at(m, 0x1000));
    ck_assert_str_eq(name_at(m, 0x9000), "JS:~c");
    ck_assert_int_eq(unlink(kept), 0);
    sp_perfmap_free(m);
}
END_TEST

START_TEST(t_refresh_read_max)
{
    /* more than SP_PERFMAP_READ_MAX (4 MiB): needs two refreshes */
    enum { N = 200000 };
    FILE *f = fopen(mappath, "w");
    for (unsigned i = 0; i < N; i++)
        fprintf(f, "%x 10 JS:~fn%06u /app/x.js:1:1\n", 0x10000 + i * 0x10, i);
    fclose(f);
    struct stat st;
    ck_assert_int_eq(stat(mappath, &st), 0);
    ck_assert_int_gt(st.st_size, 4 << 20);
    sp_perfmap_t *m = sp_perfmap_new(mappath, 0);
    int a = sp_perfmap_refresh(m);
    ck_assert_int_gt(a, 0);
    ck_assert_int_lt(a, N);
    int b = sp_perfmap_refresh(m);
    ck_assert_int_eq(a + b, N);
    ck_assert_int_eq(sp_perfmap_refresh(m), 0);
    ck_assert_uint_eq(sp_perfmap_count(m), N);
    ck_assert_uint_eq(sp_perfmap_malformed(m), 0);
    sp_perfmap_free(m);
}
END_TEST

START_TEST(t_refresh_symlink)
{
    char target[160];
    snprintf(target, sizeof target, "%s/target", tmpdir);
    write_file(target, "w", "1000 10 JS:~a\n");
    ck_assert_int_eq(symlink(target, mappath), 0);
    sp_perfmap_t *m = sp_perfmap_new(mappath, 0);
    int rc = sp_perfmap_refresh(m);
    ck_assert_msg(rc == -EPERM || rc == -ELOOP, "rc %d", rc);
    ck_assert_uint_eq(sp_perfmap_count(m), 0);
    sp_perfmap_free(m);
}
END_TEST

START_TEST(t_refresh_swapped_for_symlink)
{
    write_file(mappath, "w", "1000 10 JS:~a\n");
    sp_perfmap_t *m = sp_perfmap_new(mappath, 0);
    ck_assert_int_eq(sp_perfmap_refresh(m), 1);
    char target[160];
    snprintf(target, sizeof target, "%s/target", tmpdir);
    write_file(target, "w", "1000 10 JS:~evil\n");
    ck_assert_int_eq(unlink(mappath), 0);
    ck_assert_int_eq(symlink(target, mappath), 0);
    int rc = sp_perfmap_refresh(m);
    ck_assert_msg(rc == -EPERM || rc == -ELOOP, "rc %d", rc);
    ck_assert_uint_eq(sp_perfmap_count(m), 0);
    sp_perfmap_free(m);
}
END_TEST

START_TEST(t_refresh_not_regular)
{
    ck_assert_int_eq(mkdir(mappath, 0700), 0);
    sp_perfmap_t *m = sp_perfmap_new(mappath, 0);
    ck_assert_int_eq(sp_perfmap_refresh(m), -EPERM);
    ck_assert_int_eq(rmdir(mappath), 0);
    ck_assert_int_eq(mkfifo(mappath, 0600), 0); /* O_NONBLOCK: no hang */
    ck_assert_int_eq(sp_perfmap_refresh(m), -EPERM);
    sp_perfmap_free(m);
}
END_TEST

START_TEST(t_refresh_hardlink)
{
    char other[160];
    snprintf(other, sizeof other, "%s/secret", tmpdir);
    write_file(other, "w", "1000 10 not really a map\n");
    ck_assert_int_eq(link(other, mappath), 0);
    sp_perfmap_t *m = sp_perfmap_new(mappath, 0);
    ck_assert_int_eq(sp_perfmap_refresh(m), -EPERM);
    sp_perfmap_free(m);
}
END_TEST

START_TEST(t_refresh_other_owner)
{
    if (geteuid() != 0) return; /* only root can give a file away */
    write_file(mappath, "w", "1000 10 JS:~a\n");
    ck_assert_int_eq(chown(mappath, 65534, 65534), 0);
    sp_perfmap_t *m = sp_perfmap_new(mappath, 0);
    ck_assert_int_eq(sp_perfmap_refresh(m), -EPERM);
    sp_perfmap_free(m);
}
END_TEST

START_TEST(t_refresh_stale)
{
    write_file(mappath, "w", "1000 10 JS:~stale\n");
    time_t now = time(NULL);
    struct timeval tv[2] = {{now - 3600, 0}, {now - 3600, 0}};
    ck_assert_int_eq(utimes(mappath, tv), 0);
    sp_perfmap_t *m = sp_perfmap_new(mappath, now - 60);
    ck_assert_int_eq(sp_perfmap_refresh(m), -EPERM);
    ck_assert_int_eq(sp_perfmap_refresh(m), -EPERM);
    ck_assert_uint_eq(sp_perfmap_count(m), 0);
    /* V8 truncates and writes it: now it is ours */
    write_file(mappath, "w", "2000 10 JS:~fresh\n");
    ck_assert_int_eq(sp_perfmap_refresh(m), 1);
    ck_assert_str_eq(name_at(m, 0x2000), "JS:~fresh");
    ck_assert_ptr_null(name_at(m, 0x1000));
    sp_perfmap_free(m);
}
END_TEST

START_TEST(t_refresh_args)
{
    sp_perfmap_t *m = sp_perfmap_new(NULL, 0);
    ck_assert_int_eq(sp_perfmap_refresh(m), -EINVAL);
    ck_assert_int_eq(sp_perfmap_refresh(NULL), -EINVAL);
    ck_assert_int_eq(sp_perfmap_feed(NULL, "x", 1), -EINVAL);
    ck_assert_ptr_null(sp_perfmap_lookup(NULL, 0));
    sp_perfmap_free(m);
    sp_perfmap_free(NULL);
    /* every byte goes back to the arena */
    size_t before = sp_mem_in_use();
    m = sp_perfmap_new(NULL, 0);
    FEED(m, "1000 10 RegExp:a\nb\n2000 10 JS:~x\n1000 20 JS:~y\npartial");
    sp_perfmap_free(m);
    ck_assert_uint_eq(sp_mem_in_use(), before);
}
END_TEST

SP_UNIT_SUITE(perfmap)
{
    Suite *s = suite_create("perfmap");
    TCase *tc = tcase_create("jsname");
    tcase_add_test(tc, t_jsname_dialects);
    tcase_add_test(tc, t_jsname_empty);
    suite_add_tcase(s, tc);

    tc = tcase_create("feed");
    tcase_add_test(tc, t_feed_lookup);
    tcase_add_test(tc, t_feed_malformed);
    tcase_add_test(tc, t_feed_hostile_file);
    tcase_add_test(tc, t_feed_real_node20);
    tcase_add_test(tc, t_feed_regexp_spaces);
    tcase_add_test(tc, t_feed_split_name);
    tcase_add_test(tc, t_feed_partial_line);
    tcase_add_test(tc, t_feed_address_reuse);
    tcase_add_test(tc, t_feed_code_moved);
    tcase_add_test(tc, t_feed_time_lines);
    tcase_add_test(tc, t_feed_matches_reference);
    tcase_add_test(tc, t_feed_100k);
    suite_add_tcase(s, tc);

    tc = tcase_create("refresh");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, t_refresh_incremental);
    tcase_add_test(tc, t_refresh_truncate);
    tcase_add_test(tc, t_refresh_replaced_kept_linked);
    tcase_add_test(tc, t_refresh_read_max);
    tcase_add_test(tc, t_refresh_symlink);
    tcase_add_test(tc, t_refresh_swapped_for_symlink);
    tcase_add_test(tc, t_refresh_not_regular);
    tcase_add_test(tc, t_refresh_hardlink);
    tcase_add_test(tc, t_refresh_other_owner);
    tcase_add_test(tc, t_refresh_stale);
    tcase_add_test(tc, t_refresh_args);
    suite_add_tcase(s, tc);
    return s;
}
