/* top: the "sentryprof top" command. Prints a flat table of functions by self samples
 * (leaf frame) and total samples (anywhere on the stack, once per sample under recursion),
 * as percentages of all counted samples; empty stacks count as "(idle)". --by groups the
 * rows by function, function and line (each frame's own line), file or package. The profiles are
 * read by model.c (the CLI's one reader: v1 and v2 payloads, files, batches, filters).
 * Single-threaded.
 */
#include "cli.h"

#include "mem.h"
#include "model.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool parse_count(const char *s, unsigned long *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9') return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

static bool sort_by_total;

static int cmp_fn(const void *a, const void *b)
{
    const sp_cli_top_row_t *x = a, *y = b;
    uint64_t x1 = sort_by_total ? x->total : x->self, y1 = sort_by_total ? y->total : y->self;
    uint64_t x2 = sort_by_total ? x->self : x->total, y2 = sort_by_total ? y->self : y->total;
    if (x1 != y1) return x1 > y1 ? -1 : 1;
    if (x2 != y2) return x2 > y2 ? -1 : 1;
    return strcmp(x->label, y->label);
}

static bool all_digits(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

/* numeric ids in numeric order, others by strcmp */
static int cmp_thread(const void *a, const void *b)
{
    const char *x = (*(const sp_model_thread_t *const *)a)->id, *y = (*(const sp_model_thread_t *const *)b)->id;
    size_t xl = strlen(x), yl = strlen(y);
    if (all_digits(x) && all_digits(y) && xl != yl) return xl < yl ? -1 : 1;
    return strcmp(x, y);
}

void sp_cli_top_threads(const sp_model_t *m, FILE *out)
{
    const sp_model_thread_t **th = sp_cli_calloc(m->nthreads ? m->nthreads : 1, sizeof *th);
    size_t n = 0;
    for (size_t i = 0; i < m->nthreads; i++)
        if (m->thread_used[i]) th[n++] = &m->threads[i];
    if (n) qsort(th, n, sizeof *th, cmp_thread);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%s %s", i ? "," : "", th[i]->id);
        if (th[i]->name) fprintf(out, " (%s)", th[i]->name);
    }
    fprintf(out, "%s\n", n ? "" : " none");
    sp_mem_free(th);
}

/* What a row of --by BY is for function f: its label, its file (JS) or module (native),
 * or its package (the directory under the last node_modules/, node's own code, the app). */
static char *group_label(const sp_model_fn_t *f, const char *cwd, sp_cli_top_by_t by)
{
    if (by == SP_CLI_TOP_BY_FUNCTION || f->kind == SP_MODEL_PSEUDO) return sp_model_label(f, cwd);
    if (f->kind != SP_MODEL_JS) return sp_cli_printf("[native] %s", *f->path ? f->path : "?");
    const char *p = f->path, *nm = NULL;
    if (!*p) return sp_cli_strdup("(no file)");
    if (by == SP_CLI_TOP_BY_FILE) { /* whole paths: node_modules hold many lib/index.js */
        if (strncmp(p, "file://", 7) == 0) p += 7;
        size_t cl = strlen(cwd);
        if (cl > 1 && strncmp(p, cwd, cl) == 0 && p[cl] == '/' && p[cl + 1]) p += cl + 1;
        return sp_cli_strdup(p);
    }
    for (const char *q = strstr(p, "node_modules/"); q; q = strstr(q + 1, "node_modules/")) nm = q;
    if (nm) {
        const char *name = nm + 13, *end = strchr(name, '/');
        if (*name == '@' && end) end = strchr(end + 1, '/'); /* @scope/name */
        return end ? sp_cli_printf("%.*s", (int)(end - name), name) : sp_cli_strdup(name);
    }
    if (strncmp(p, "node:", 5) == 0 || strncmp(p, "internal/", 9) == 0) return sp_cli_strdup("(node)");
    return sp_cli_strdup("(app)");
}

/* The row of (function, line) for --by line: rows are keyed by label, as for functions. */
static uint32_t line_row(const sp_model_t *m, uint32_t fn, uint32_t line, const char *cwd, json_t *seen, json_t *labels,
                         sp_cli_top_row_t **rows, size_t *n, size_t *cap)
{
    char key[32];
    snprintf(key, sizeof key, "%u:%u", fn, line);
    json_t *v = json_object_get(seen, key);
    if (v) return (uint32_t)json_integer_value(v);
    sp_model_fn_t f = m->fn[fn];
    f.line = line == SP_MODEL_NO_LINE ? -1 : (long)line;
    char *l = sp_model_label(&f, cwd);
    json_t *r = json_object_get(labels, l);
    uint32_t g;
    if (r) {
        g = (uint32_t)json_integer_value(r);
        sp_mem_free(l);
    } else {
        g = (uint32_t)*n;
        json_object_set_new(labels, l, json_integer((json_int_t)g));
        SP_GROW(*rows, *cap, *n + 1);
        (*rows)[(*n)++] = (sp_cli_top_row_t){.label = l};
    }
    json_object_set_new(seen, key, json_integer((json_int_t)g));
    return g;
}

/* --by line: self by the leaf frame's (function, line), total once per sample per row. */
static size_t line_rows(const sp_model_t *m, const char *cwd, sp_cli_top_row_t **out)
{
    json_t *pairs = json_object(), *seen = json_object(), *labels = json_object();
    sp_cli_top_row_t *rows = NULL;
    size_t n = 0, cap = 0;
    /* weight per distinct (stack, line stack) */
    uint32_t *pst = NULL, *pln = NULL;
    uint64_t *pw = NULL;
    size_t np = 0, pcap = 0, pcap2 = 0, pcap3 = 0;
    for (size_t i = 0; i < m->nsamples; i++) {
        char key[32];
        snprintf(key, sizeof key, "%u:%u", m->samples[i].stack, m->samples[i].lines);
        json_t *v = json_object_get(pairs, key);
        if (v) {
            pw[json_integer_value(v)]++;
            continue;
        }
        SP_GROW(pst, pcap, np + 1);
        SP_GROW(pln, pcap2, np + 1);
        SP_GROW(pw, pcap3, np + 1);
        pst[np] = m->samples[i].stack;
        pln[np] = m->samples[i].lines;
        pw[np] = 1;
        json_object_set_new(pairs, key, json_integer((json_int_t)np++));
    }
    uint64_t *stamp = NULL;
    size_t scap = 0;
    for (size_t p = 0; p < np; p++) {
        uint32_t len, llen;
        const uint32_t *ids = sp_model_stack(m, pst[p], &len);
        const uint32_t *lns = sp_model_lines(m, pln[p], &llen);
        for (uint32_t k = 0; k < len; k++) {
            uint32_t g = line_row(m, ids[k], k < llen ? lns[k] : SP_MODEL_NO_LINE, cwd, seen, labels, &rows, &n, &cap);
            if (scap < n) {
                size_t old = scap;
                SP_GROW(stamp, scap, n);
                memset(stamp + old, 0, (scap - old) * sizeof *stamp);
            }
            if (stamp[g] != p + 1) rows[g].total += pw[p]; /* recursion counts once */
            stamp[g] = p + 1;
            if (k + 1 == len) rows[g].self += pw[p];
        }
    }
    json_decref(pairs);
    json_decref(seen);
    json_decref(labels);
    sp_mem_free(pst);
    sp_mem_free(pln);
    sp_mem_free(pw);
    sp_mem_free(stamp);
    *out = rows;
    return n;
}

size_t sp_cli_top_rows(const sp_model_t *m, bool by_total, sp_cli_top_by_t by, sp_cli_top_row_t **out)
{
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
    if (by == SP_CLI_TOP_BY_LINE) {
        size_t n = line_rows(m, cwd, out);
        sort_by_total = by_total;
        if (n) qsort(*out, n, sizeof **out, cmp_fn);
        return n;
    }
    /* functions -> rows: one row per distinct label, so total counts a sample once per row
     * even when several of its functions share the row */
    json_t *index = json_object();
    uint32_t *group = sp_cli_calloc(m->nfn ? m->nfn : 1, sizeof *group);
    sp_cli_top_row_t *rows = sp_cli_calloc(m->nfn ? m->nfn : 1, sizeof *rows);
    size_t n = 0;
    for (size_t i = 0; i < m->nfn; i++) {
        char *l = group_label(&m->fn[i], cwd, by);
        json_t *v = json_object_get(index, l);
        if (v) {
            group[i] = (uint32_t)json_integer_value(v);
            sp_mem_free(l);
            continue;
        }
        json_object_set_new(index, l, json_integer((json_int_t)n));
        group[i] = (uint32_t)n;
        rows[n++] = (sp_cli_top_row_t){.label = l};
    }
    json_decref(index);
    uint64_t *weight = sp_cli_calloc(m->nstacks ? m->nstacks : 1, sizeof *weight);
    uint64_t *stamp = sp_cli_calloc(n ? n : 1, sizeof *stamp);
    for (size_t i = 0; i < m->nsamples; i++) weight[m->samples[i].stack]++;
    uint64_t st = 0;
    for (uint32_t s = 0; s < m->nstacks; s++) {
        if (!weight[s]) continue;
        uint32_t len;
        const uint32_t *ids = sp_model_stack(m, s, &len);
        st++;
        for (uint32_t k = 0; k < len; k++) {
            uint32_t g = group[ids[k]];
            if (stamp[g] != st) rows[g].total += weight[s]; /* recursion counts once */
            stamp[g] = st;
        }
        if (len) rows[group[ids[len - 1]]].self += weight[s];
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].total) rows[kept++] = rows[i];
        else sp_mem_free((char *)rows[i].label);
    }
    sort_by_total = by_total;
    if (kept) qsort(rows, kept, sizeof *rows, cmp_fn);
    sp_mem_free(weight);
    sp_mem_free(stamp);
    sp_mem_free(group);
    *out = rows;
    return kept;
}

void sp_cli_top_rows_free(sp_cli_top_row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) sp_mem_free((char *)rows[i].label);
    sp_mem_free(rows);
}

static const char *const by_names[] = {"function", "file", "package", "line"};

static void top_json(const sp_model_t *m, bool by_total, sp_cli_top_by_t by, unsigned long limit)
{
    json_t *threads = json_array(), *rowsj = json_array();
    for (size_t i = 0; i < m->nthreads; i++) {
        if (!m->thread_used[i]) continue;
        json_t *t = json_pack("{s:s}", "id", m->threads[i].id);
        if (m->threads[i].name) json_object_set_new(t, "name", json_string(m->threads[i].name));
        json_array_append_new(threads, t);
    }
    sp_cli_top_row_t *rows;
    size_t n = sp_cli_top_rows(m, by_total, by, &rows);
    double all = m->nsamples ? (double)m->nsamples : 1.0;
    for (size_t r = 0; r < n && (limit == 0 || r < limit); r++)
        json_array_append_new(rowsj, json_pack("{s:s, s:I, s:I, s:f, s:f}", "name", rows[r].label, "self",
                                               (json_int_t)rows[r].self, "total", (json_int_t)rows[r].total, "self_pct",
                                               100.0 * (double)rows[r].self / all, "total_pct",
                                               100.0 * (double)rows[r].total / all));
    sp_cli_top_rows_free(rows, n);
    json_t *doc = json_pack("{s:I, s:I, s:I, s:s, s:o, s:o}", "files", (json_int_t)m->files, "chunks",
                            (json_int_t)m->items, "samples", (json_int_t)m->nsamples, "by", by_names[by], "threads",
                            threads, "rows", rowsj);
    if (doc) json_dumpf(doc, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    putchar('\n');
    json_decref(doc);
}

static void top_print(const sp_model_t *m, bool by_total, sp_cli_top_by_t by, unsigned long limit)
{
    static const char *const heads[] = {"FUNCTION", "FILE", "PACKAGE", "LINE"};
    printf("sentryprof top: %llu %s, %llu %s, %zu %s, threads:", (unsigned long long)m->files,
           m->files == 1 ? "file" : "files", (unsigned long long)m->items, m->items == 1 ? "chunk" : "chunks",
           m->nsamples, m->nsamples == 1 ? "sample" : "samples");
    sp_cli_top_threads(m, stdout);
    printf("   SELF%%     SELF  TOTAL%%    TOTAL  %s\n", heads[by]);
    sp_cli_top_row_t *rows;
    size_t n = sp_cli_top_rows(m, by_total, by, &rows);
    double all = m->nsamples ? (double)m->nsamples : 1.0;
    for (size_t r = 0; r < n && (limit == 0 || r < limit); r++) {
        const sp_cli_top_row_t *f = &rows[r];
        printf("%7.2f%%%9llu%7.2f%%%9llu  %s\n", 100.0 * (double)f->self / all, (unsigned long long)f->self,
               100.0 * (double)f->total / all, (unsigned long long)f->total, f->label);
    }
    sp_cli_top_rows_free(rows, n);
}

int sp_cli_top(int argc, char **argv)
{
    sp_model_t m = {0};
    sp_model_filter_t filt = {0};
    bool by_total = false, json = false;
    sp_cli_top_by_t by = SP_CLI_TOP_BY_FUNCTION;
    unsigned long limit = SP_CLI_TOP_DEFAULT;
    sp_cli_strvec_t paths = {0};
    bool opts = true;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int fr;
        if (!opts || a[0] != '-' || !a[1]) {
            sp_cli_strvec_push(&paths, sp_cli_strdup(a));
        } else if (strcmp(a, "--") == 0) {
            opts = false;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            sp_cli_usage(stdout);
            goto out;
        } else if (strncmp(a, "-n", 2) == 0) {
            const char *v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            if (!parse_count(v, &limit)) {
                rc = sp_cli_bad_usage("top: -n needs a count, got '%s'", v ? v : "");
                goto out;
            }
        } else if ((fr = sp_model_filter_arg(&filt, "top", argc, argv, &i)) != 0) {
            if (fr < 0) {
                rc = 2;
                goto out;
            }
        } else if (strcmp(a, "--sort") == 0 || strncmp(a, "--sort=", 7) == 0) {
            const char *v = a[6] ? a + 7 : (i + 1 < argc ? argv[++i] : "");
            if (strcmp(v, "self") != 0 && strcmp(v, "total") != 0) {
                rc = sp_cli_bad_usage("top: --sort takes self or total, got '%s'", v);
                goto out;
            }
            by_total = strcmp(v, "total") == 0;
        } else if (strcmp(a, "--by") == 0 || strncmp(a, "--by=", 5) == 0) {
            const char *v = a[4] ? a + 5 : (i + 1 < argc ? argv[++i] : "");
            size_t k = 0;
            while (k < 4 && strcmp(v, by_names[k]) != 0) k++;
            if (k == 4) {
                rc = sp_cli_bad_usage("top: --by takes function, line, file or package, got '%s'", v);
                goto out;
            }
            by = (sp_cli_top_by_t)k;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else {
            rc = sp_cli_bad_usage("top: unknown option '%s'", a);
            goto out;
        }
    }
    long items = sp_model_load(&m, &paths);
    if (items < 0) {
        rc = 1;
        goto out;
    }
    if (items == 0) {
        sp_cli_err("no profiles could be read");
        rc = 1;
        goto out;
    }
    sp_model_select(&m, &filt);
    if (json) top_json(&m, by_total, by, limit);
    else top_print(&m, by_total, by, limit);
    if (m.nsamples == 0) sp_cli_model_no_samples(&filt);
out:
    sp_cli_strvec_free(&paths);
    sp_model_free(&m);
    return rc;
}
