/* test_perfmap_dialects: real perf-map lines of every Node.js major in the test matrix
 * (tests/data/perfmap-node{18,20,22,24,26}.map, captured by tests/matrix/capture-perfmaps.sh
 * from tests/matrix/perfmap-names.js) fed to the perf map reader: no line is malformed,
 * every entry lands, and the functions of the fixture split into the right kind, tier,
 * function, file, line and column.
 *
 * The dialects: Node 18 (V8 10) tags LazyCompile:/Function:/Script:/Eval: and writes
 * "file:line" without a column; Node 20+ write "JS:<tier>name file:line:col"; Node 24+
 * add Maglev/TurboFan code that is not context-specialized ("+'", "*'") and log a RegExp
 * as "RegExp.> src: '<source>' flags: '<flags>'" with the source's newlines raw, so the
 * entry continues on the next line; Node 26 adds on-stack-replacement tiers ("o+", "o*")
 * and "RegExp.<". In every version a name inferred from a computed key keeps whatever the
 * key holds: spaces, " /" (route tables: routes['GET /users/:id']), ":1:2", tabs, UTF-8,
 * control characters and newlines. Paths may hold spaces (file:// URLs escape them). */
#include "unit.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfmap.h"
#include "v8names.h"

#ifndef SP_TEST_DATA
#define SP_TEST_DATA "tests/data"
#endif

#define NAMES "/app/dir with space/names.js" /* the fixture, as the capture rewrote it */
#define VMSCRIPT "/app/dir with space/vm script.js"
#define ESM "file:///app/dir%20with%20space/esm%20module.mjs"
#define WORKER "[worker eval]"

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
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* Length of "<hex> <hex> " at the start of s, or 0 when the line is not an entry. */
static size_t entry_prefix(const char *s, size_t n)
{
    size_t i = 0;
    for (int field = 0; field < 2; field++) {
        size_t d = i;
        while (i < n && s[i] && strchr("0123456789abcdef", s[i])) i++;
        if (i == d || i >= n || s[i] != ' ') return 0;
        i++;
    }
    return i;
}

/* Start address of the entry whose name, up to the end of its first line, is raw. */
static bool find_raw(const char *buf, size_t len, const char *raw, uint64_t *start)
{
    size_t rl = strlen(raw);
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t p = entry_prefix(buf + i, end - i);
        if (p && end - i - p == rl && memcmp(buf + i + p, raw, rl) == 0) {
            *start = strtoull(buf + i, NULL, 16);
            return true;
        }
        i = end + 1;
    }
    return false;
}

typedef struct {
    const char *raw; /* the name as V8 wrote it, up to its first newline */
    const char *kind;
    char tier;
    const char *func;
    const char *file; /* NULL: no location */
    int line, col;
} want_t;

static void check_want(sp_perfmap_t *m, const char *map, const char *buf, size_t len,
                       const want_t *w)
{
    uint64_t start;
    ck_assert_msg(find_raw(buf, len, w->raw, &start), "%s: no entry named '%s'", map, w->raw);
    const sp_perfmap_entry_t *e = sp_perfmap_lookup(m, start);
    ck_assert_msg(e != NULL && e->start == start, "%s: '%s' at %llx not in the map", map, w->raw,
                  (unsigned long long)start);
    sp_v8name_t js;
    ck_assert_int_eq(sp_v8names_parse(e->name, &js), 0);
#define SAME(p, n, want) ((n) == strlen(want) && memcmp((p), (want), (n)) == 0)
    ck_assert_msg(SAME(js.kind, js.kind_len, w->kind), "%s: '%s': kind '%.*s', want '%s'", map,
                  e->name, (int)js.kind_len, js.kind, w->kind);
    ck_assert_msg(js.tier == w->tier, "%s: '%s': tier '%c', want '%c'", map, e->name,
                  js.tier ? js.tier : '0', w->tier ? w->tier : '0');
    ck_assert_msg(SAME(js.func, js.func_len, w->func), "%s: '%s': func '%.*s', want '%s'", map,
                  e->name, (int)js.func_len, js.func, w->func);
    if (w->file)
        ck_assert_msg(js.file && SAME(js.file, js.file_len, w->file),
                      "%s: '%s': file '%.*s', want '%s'", map, e->name,
                      js.file ? (int)js.file_len : 6, js.file ? js.file : "(none)", w->file);
    else
        ck_assert_msg(js.file == NULL, "%s: '%s': unexpected file", map, e->name);
    ck_assert_msg(js.line == w->line && js.col == w->col, "%s: '%s': %d:%d, want %d:%d", map,
                  e->name, js.line, js.col, w->line, w->col);
#undef SAME
}

/* The fixture's functions: written by V8 as "<kind>:~<raw> NAMES:<line>[:<col>]". */
typedef struct {
    const char *raw, *func;
    int line, col;
} fixture_t;

static const fixture_t fixture[] = {
    {"run", "run", 28, 30},
    {"Widget", "Widget", 8, 1},
    {"#secret", "#secret", 9, 10},
    {"get size", "get size", 10, 11},
    {"set size", "set size", 11, 11},
    {"make", "make", 12, 14},
    {"load", "load", 13, 13},
    {"gen", "gen", 14, 7},
    {"", "", 15, 20}, /* [Symbol.iterator]() has no name in the map */
    {"routes.GET /users/:id", "routes.GET /users/:id", 18, 37},
    {"routes.colon:1:2", "routes.colon:1:2", 20, 32},
    {"routes.tab\there", "routes.tab\there", 21, 32},
    {"routes.uni \xe2\x98\x83 \xc3\xa9", "routes.uni \xe2\x98\x83 \xc3\xa9", 22, 30},
    {"routes.ctl\x01x", "routes.ctl?x", 23, 31}, /* control characters become '?' */
    {"routes.cr\rx", "routes.cr?x", 24, 28},
    {"routes.[bracket] x", "routes.[bracket] x", 25, 34},
    {"arrow", "arrow", 26, 15},
    {"anon", "anon", 27, 24},
    {"", "", 41, 54}, /* the arrow given to import().then */
    {"hotLoop", "hotLoop", 44, 17},
};

/* One map file: fed whole, then fed again one byte at a time (lines and split names
 * across feeds), checked against the fixture and the version's own lines. has_ctl: the
 * file has the fixture's names with control characters (perfmap-node20.map does not: its
 * older test in test_perfmap.c counts every line as an entry). */
static void check_map(int major, bool has_ctl, const want_t *extra, size_t nextra)
{
    char path[256];
    snprintf(path, sizeof path, SP_TEST_DATA "/perfmap-node%d.map", major);
    size_t len;
    char *buf = read_all(path, &len);
    size_t entries = 0;
    for (size_t i = 0; i < len; i++)
        if (i == 0 || buf[i - 1] == '\n') entries += entry_prefix(buf + i, len - i) != 0;

    for (int pass = 0; pass < 2; pass++) {
        sp_perfmap_t *m = sp_perfmap_new(NULL, 0);
        ck_assert_ptr_nonnull(m);
        if (pass == 0) {
            ck_assert_int_eq(sp_perfmap_feed(m, buf, len), (int)entries);
        } else {
            for (size_t i = 0; i < len; i++) sp_perfmap_feed(m, buf + i, 1);
        }
        ck_assert_msg(sp_perfmap_malformed(m) == 0, "%s: %zu malformed lines", path,
                      sp_perfmap_malformed(m));
        ck_assert_msg(sp_perfmap_count(m) == entries, "%s: %zu live entries, want %zu", path,
                      sp_perfmap_count(m), entries);

        bool v18 = major < 20; /* V8 10: LazyCompile: tag, no column */
        for (size_t i = 0; i < sizeof fixture / sizeof *fixture; i++) {
            const fixture_t *f = &fixture[i];
            if (!has_ctl && strpbrk(f->raw, "\x01\r")) continue;
            char raw[256];
            if (v18)
                snprintf(raw, sizeof raw, "LazyCompile:~%s " NAMES ":%d", f->raw, f->line);
            else
                snprintf(raw, sizeof raw, "JS:~%s " NAMES ":%d:%d", f->raw, f->line, f->col);
            want_t w = {raw, v18 ? "LazyCompile" : "JS", '~', f->func, NAMES, f->line,
                        v18 ? 0 : f->col};
            check_want(m, path, buf, len, &w);
        }
        /* routes['line\nbreak']: the name goes on on the next line, joined with a space */
        want_t split = {v18 ? "LazyCompile:~routes.line" : "JS:~routes.line",
                        v18 ? "LazyCompile" : "JS", '~', "routes.line break", NAMES, 19,
                        v18 ? 0 : 34};
        check_want(m, path, buf, len, &split);
        for (size_t i = 0; i < nextra; i++) check_want(m, path, buf, len, &extra[i]);
        sp_perfmap_free(m);
    }
    free(buf);
}

#define N(a) (sizeof(a) / sizeof *(a))

START_TEST(t_node18)
{
    static const want_t extra[] = {
        {"Builtin:ArrayMap", "Builtin", 0, "ArrayMap", NULL, 0, 0},
        {"BytecodeHandler:LdaZero", "BytecodeHandler", 0, "LdaZero", NULL, 0, 0},
        {"Eval:~ /app/dir with space/main.js:1", "Eval", '~', "", "/app/dir with space/main.js", 1, 0},
        {"Function:~ /app/dir with space/main.js:1", "Function", '~', "", "/app/dir with space/main.js", 1, 0},
        {"Function:~vmFn " VMSCRIPT ":1", "Function", '~', "vmFn", VMSCRIPT, 1, 0},
        {"Script:~ " VMSCRIPT ":1", "Script", '~', "", VMSCRIPT, 1, 0},
        {"RegExp:multi\\nline|x y", "RegExp", 0, "multi\\nline|x y", NULL, 0, 0},
        {"RegExp: (a+)+b \\/x$", "RegExp", 0, " (a+)+b \\/x$", NULL, 0, 0},
        {"Function:^hotLoop " NAMES ":44", "Function", '^', "hotLoop", NAMES, 44, 0},
        {"LazyCompile:*hotLoop " NAMES ":44", "LazyCompile", '*', "hotLoop", NAMES, 44, 0},
        {"Script:~ " ESM ":1", "Script", '~', "", ESM, 1, 0},
        {"LazyCompile:~esmFn " ESM ":1", "LazyCompile", '~', "esmFn", ESM, 1, 0},
        {"LazyCompile:~ [worker eval]-wrapper:6", "LazyCompile", '~', "", "[worker eval]-wrapper", 6, 0},
        {"LazyCompile:~workerHot " WORKER ":1", "LazyCompile", '~', "workerHot", WORKER, 1, 0},
        {"LazyCompile:*workerHot " WORKER ":1", "LazyCompile", '*', "workerHot", WORKER, 1, 0},
        {"LazyCompile:~get hasLoadedAnyUserCJSModule node:internal/modules/cjs/loader:73",
         "LazyCompile", '~', "get hasLoadedAnyUserCJSModule", "node:internal/modules/cjs/loader", 73, 0},
    };
    check_map(18, true, extra, N(extra));
}
END_TEST

/* Node 20 and 22 write the same dialect. */
static const want_t v20_extra[] = {
    {"Eval:~ /app/dir with space/main.js:1:1", "Eval", '~', "", "/app/dir with space/main.js", 1, 1},
    {"JS:~vmFn " VMSCRIPT ":1:15", "JS", '~', "vmFn", VMSCRIPT, 1, 15},
    {"RegExp:multi\\nline|x y", "RegExp", 0, "multi\\nline|x y", NULL, 0, 0},
    {"RegExp: (a+)+b \\/x$", "RegExp", 0, " (a+)+b \\/x$", NULL, 0, 0},
    {"JS:^hotLoop " NAMES ":44:17", "JS", '^', "hotLoop", NAMES, 44, 17},
    {"JS:*hotLoop " NAMES ":44:17", "JS", '*', "hotLoop", NAMES, 44, 17},
    {"Script:~ " ESM ":1:1", "Script", '~', "", ESM, 1, 1},
    {"JS:~esmFn " ESM ":1:22", "JS", '~', "esmFn", ESM, 1, 22},
    {"JS:~ [worker eval]-wrapper:6:14", "JS", '~', "", "[worker eval]-wrapper", 6, 14},
    {"JS:~workerHot " WORKER ":1:19", "JS", '~', "workerHot", WORKER, 1, 19},
    {"JS:*workerHot " WORKER ":1:19", "JS", '*', "workerHot", WORKER, 1, 19},
};

START_TEST(t_node20)
{
    check_map(20, false, v20_extra, N(v20_extra));
}
END_TEST

START_TEST(t_node22)
{
    static const want_t extra[] = {
        {"Builtin:ArrayMap", "Builtin", 0, "ArrayMap", NULL, 0, 0},
        {"JS:^get hasSubscribers node:diagnostics_channel:214:21", "JS", '^', "get hasSubscribers",
         "node:diagnostics_channel", 214, 21},
    };
    check_map(22, true, v20_extra, N(v20_extra));
    check_map(22, true, extra, N(extra));
}
END_TEST

/* Node 24 and 26: Maglev, non-context-specialized tiers, the new RegExp form. */
static const want_t v24_extra[] = {
    {"Builtin:ArrayMap", "Builtin", 0, "ArrayMap", NULL, 0, 0},
    {"JS:~vmFn " VMSCRIPT ":1:15", "JS", '~', "vmFn", VMSCRIPT, 1, 15},
    {"JS:~esmFn " ESM ":1:22", "JS", '~', "esmFn", ESM, 1, 22},
    {"JS:+'isPosixPathSeparator node:path:69:30", "JS", '+', "isPosixPathSeparator", "node:path", 69, 30},
    {"JS:*'now node:internal/perf/performance:137:6", "JS", '*', "now", "node:internal/perf/performance", 137, 6},
    {"JS:*' node:internal/validators:547:51", "JS", '*', "", "node:internal/validators", 547, 51},
    {"JS:^hotLoop " NAMES ":44:17", "JS", '^', "hotLoop", NAMES, 44, 17},
    {"JS:~workerHot " WORKER ":1:19", "JS", '~', "workerHot", WORKER, 1, 19},
};

START_TEST(t_node24)
{
    static const want_t extra[] = {
        {"JS:+hotLoop " NAMES ":44:17", "JS", '+', "hotLoop", NAMES, 44, 17},
        {"JS:*hotLoop " NAMES ":44:17", "JS", '*', "hotLoop", NAMES, 44, 17},
        {"JS:+workerHot " WORKER ":1:19", "JS", '+', "workerHot", WORKER, 1, 19},
        /* the source's newline splits the entry; the source comes back joined by a space */
        {"RegExp.> src: 'multi", "RegExp", 0, "multi line|x y", NULL, 0, 0},
        {"RegExp.> src: ' (a+)+b /x$' flags: ''", "RegExp", 0, " (a+)+b /x$", NULL, 0, 0},
    };
    check_map(24, true, v24_extra, N(v24_extra));
    check_map(24, true, extra, N(extra));
}
END_TEST

START_TEST(t_node26)
{
    static const want_t extra[] = {
        {"JS:o+hotLoop " NAMES ":44:17", "JS", '+', "hotLoop", NAMES, 44, 17},
        {"JS:o*hotLoop " NAMES ":44:17", "JS", '*', "hotLoop", NAMES, 44, 17},
        {"JS:o*workerHot " WORKER ":1:19", "JS", '*', "workerHot", WORKER, 1, 19},
        {"RegExp.< src: 'multi", "RegExp", 0, "multi line|x y", NULL, 0, 0},
        {"RegExp.< src: ' (a+)+b /x$' flags: ''", "RegExp", 0, " (a+)+b /x$", NULL, 0, 0},
    };
    check_map(26, true, v24_extra, N(v24_extra));
    check_map(26, true, extra, N(extra));
}
END_TEST

SP_UNIT_SUITE(perfmap_dialects)
{
    Suite *s = suite_create("perfmap_dialects");
    TCase *tc = tcase_create("node");
    tcase_add_test(tc, t_node18);
    tcase_add_test(tc, t_node20);
    tcase_add_test(tc, t_node22);
    tcase_add_test(tc, t_node24);
    tcase_add_test(tc, t_node26);
    suite_add_tcase(s, tc);
    return s;
}
