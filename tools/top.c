/* top: the "sentryprof top" command. Prints a flat table of functions by self samples
 * (leaf frame) and total samples (anywhere on the stack, once per sample under recursion),
 * as percentages of all counted samples; empty stacks count as "(idle)". The profiles are
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

size_t sp_cli_top_rows(const sp_model_t *m, bool by_total, sp_cli_top_row_t **out)
{
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
    uint64_t *self, *total;
    sp_model_counts(m, &self, &total);
    sp_cli_top_row_t *rows = sp_cli_calloc(m->nfn ? m->nfn : 1, sizeof *rows);
    size_t n = 0;
    for (size_t i = 0; i < m->nfn; i++) {
        if (!total[i]) continue;
        rows[n++] = (sp_cli_top_row_t){.label = sp_model_label(&m->fn[i], cwd), .self = self[i], .total = total[i]};
    }
    sort_by_total = by_total;
    if (n) qsort(rows, n, sizeof *rows, cmp_fn);
    sp_mem_free(self);
    sp_mem_free(total);
    *out = (sp_cli_top_row_t *)rows;
    return n;
}

void sp_cli_top_rows_free(sp_cli_top_row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) sp_mem_free((char *)rows[i].label);
    sp_mem_free(rows);
}

static void top_print(const sp_model_t *m, bool by_total, unsigned long limit)
{
    printf("sentryprof top: %llu %s, %llu %s, %zu %s, threads:", (unsigned long long)m->files,
           m->files == 1 ? "file" : "files", (unsigned long long)m->items, m->items == 1 ? "chunk" : "chunks",
           m->nsamples, m->nsamples == 1 ? "sample" : "samples");
    sp_cli_top_threads(m, stdout);
    printf("   SELF%%     SELF  TOTAL%%    TOTAL  FUNCTION\n");
    sp_cli_top_row_t *rows;
    size_t n = sp_cli_top_rows(m, by_total, &rows);
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
    bool by_total = false;
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
    top_print(&m, by_total, limit);
    if (m.nsamples == 0) sp_cli_model_no_samples(&filt);
out:
    sp_cli_strvec_free(&paths);
    sp_model_free(&m);
    return rc;
}
