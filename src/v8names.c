/* v8names: owns nothing; parses V8's perf-map names (see v8names.h for the dialects).
 * Any thread but the signal handler; no state. */
#include "v8names.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>


static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Parses a run of 1-9 digits ending at end, preceded by ':'. Returns where the ':' is. */
static const char *tail_number(const char *begin, const char *end, int *out)
{
    const char *p = end;
    while (p > begin && is_digit(p[-1]) && end - p < 9) p--;
    if (p == end || p == begin || p[-1] != ':') return NULL; /* also: more than 9 digits */
    int v = 0;
    for (const char *q = p; q < end; q++) v = v * 10 + (*q - '0');
    *out = v;
    return p - 1;
}

/* Splits ":<line>:<col>" off the end of [file, end); the file left may be empty (code
 * from eval or new Function: "JS:~ :1:20"). False when there is none. */
static bool split_line_col(const char *file, const char *end, const char **file_end, int *line,
                           int *col)
{
    const char *c = tail_number(file, end, col);
    const char *l = c ? tail_number(file, c, line) : NULL;
    const char *d = c;
    while (d && d > file && d[-1] >= '0' && d[-1] <= '9') d--;
    bool number_before = d && d < c && d > file && d[-1] == ':'; /* ":<too big>:<n>" */
    if (!l && c && !number_before) { /* Node 18 (V8 10) writes "file:line" without a column */
        *line = *col;
        *col = 0;
        l = c;
    }
    if (!l) return false;
    *file_end = l;
    return true;
}

/* Where the location starts (the space before it) in [p, end), or NULL. */
static const char *find_location(const char *p, const char *end)
{
    /* " [": node names code without a file "[eval]", "[worker eval]", "[eval]-wrapper" */
    /* A name inferred from a computed key may hold a mark itself (routes['GET /users']:
     * "routes.GET /users /app/r.js:3:9"), so the last mark followed by a line wins; with
     * no line anywhere, the first mark. */
    static const char *const marks[] = {" /", " node:", " file://", " http://", " https://", " ["};
    const char *first = NULL, *last = NULL;
    for (const char *q = p; q < end; q++) {
        if (*q != ' ') continue;
        for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
            size_t ml = strlen(marks[i]);
            if ((size_t)(end - q) < ml || memcmp(q, marks[i], ml) != 0) continue;
            if (!first) first = q;
            const char *fe;
            int l, c;
            if (split_line_col(q + 1, end, &fe, &l, &c)) last = q;
            break;
        }
    }
    if (last || first) return last ? last : first;
    /* "[eval]:1:17", "evalmachine.<anonymous>:1:1", ":1:20" (no script name): after the
     * last space, if it ends in a line and column */
    const char *sp = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == ' ') sp = q;
    const char *fe;
    int l, c;
    if (sp && split_line_col(sp + 1, end, &fe, &l, &c)) return sp;
    return NULL;
}

int sp_v8names_parse(const char *name, sp_v8name_t *out)
{
    if (!name || !out || !*name) return -EINVAL;
    size_t n = strlen(name);
    const char *end = name + n, *p = name;
    memset(out, 0, sizeof *out);
    out->kind = end; /* "" inside the caller's string */

    /* V8's tags are capitalised words: "JS:", "LazyCompile:", "BytecodeHandler:" */
    size_t t = 0;
    if (name[0] >= 'A' && name[0] <= 'Z')
        while (t < n && is_alnum(name[t])) t++;
    if (t && t < n && name[t] == ':') {
        out->kind = name;
        out->kind_len = t;
        p = name + t + 1;
    }
    /* V8 >= 13 (Node 24+): "RegExp.> src: '<source>' flags: '<flags>'" ('>' or '<'); the
     * source keeps its newlines, so the name may have been joined from several lines */
    static const char rx_src[] = " src: '", rx_flags[] = "' flags: '";
    if (!out->kind_len && n > 8 + sizeof rx_src - 1 && memcmp(name, "RegExp.", 7) == 0 &&
        memcmp(name + 8, rx_src, sizeof rx_src - 1) == 0) {
        out->kind = name;
        out->kind_len = 6;
        const char *src = name + 8 + sizeof rx_src - 1, *stop = end;
        for (const char *q = src; q + sizeof rx_flags - 1 <= end; q++) /* the last one */
            if (memcmp(q, rx_flags, sizeof rx_flags - 1) == 0) stop = q;
        if (stop == end && stop > src && stop[-1] == '\'') stop--;
        out->func = src;
        out->func_len = (size_t)(stop - src);
        return 0;
    }
    if (out->kind_len == 6 && memcmp(name, "RegExp", 6) == 0) { /* "RegExp:" + source */
        out->func = p;
        out->func_len = (size_t)(end - p);
        return 0;
    }
    /* Tier: '~' interpreted, '^' baseline, '+' maglev, '*' turbofan; Node 26 prefixes
     * on-stack-replacement code with 'o' ("o+", "o*"). */
    if (out->kind_len && p + 1 < end && p[0] == 'o' && (p[1] == '^' || p[1] == '+' || p[1] == '*')) p++;
    if (out->kind_len && p < end && (*p == '~' || *p == '^' || *p == '+' || *p == '*'))
        out->tier = *p++;
    /* V8 >= 13 (Node 24+) marks Maglev/TurboFan code not specialized to its context "+'" "*'" */
    if ((out->tier == '+' || out->tier == '*') && p < end && *p == '\'') p++;

    const char *loc = find_location(p, end);
    out->func = p;
    out->func_len = (size_t)((loc ? loc : end) - p);
    if (loc) {
        const char *file = loc + 1, *fe;
        int l, c;
        out->file = file;
        if (split_line_col(file, end, &fe, &l, &c)) {
            out->file_len = (size_t)(fe - file);
            out->line = l;
            out->col = c;
        } else {
            out->file_len = (size_t)(end - file);
        }
        if (out->file_len == 0) out->file = NULL; /* a script without a name */
    }
    return 0;
}
