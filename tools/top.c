/* top: the "sentryprof top" command. Reads profile items (profile_chunk: sample format v2;
 * profile: v1) from envelope files and prints a flat table of functions by self samples
 * (leaf frame) and total samples (anywhere on the stack, once per sample under recursion),
 * as percentages of all counted samples; empty stacks count as "(idle)".
 * Functions are keyed by (kind, name, file or module) in an open-addressing table, across
 * chunks and files, never by frame index (indices are per chunk). Each item is checked whole
 * before it adds anything, so a bad item is one warning line and changes no number.
 * Single-threaded.
 */
#include "cli.h"

#include "batch.h"
#include "mem.h"
#include "spool.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

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

/* ---- function table: open addressing, key -> index into fn[] ---- */

enum { K_JS, K_NATIVE, K_ADDR, K_PSEUDO }; /* K_ADDR: native frame known only by address */

typedef struct {
    char *key;      /* "<kind>\x1f<name>\x1f<path>" */
    char *name;
    char *path;     /* JS: the file as written in the frame; native: the module */
    int kind;
    long line;      /* smallest lineno seen, -1 if none */
    uint64_t self, total;
    uint64_t stamp; /* the last stack that counted this function (recursion counts once) */
    char *label;
} fn_t;

typedef struct {
    fn_t *fn;
    size_t n, cap;
    uint32_t *slots; /* 0 = empty, else index + 1 */
    size_t nslots;   /* power of two */
} fntab_t;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void fntab_rehash(fntab_t *t, size_t nslots)
{
    sp_mem_free(t->slots);
    t->slots = sp_cli_calloc(nslots, sizeof *t->slots);
    t->nslots = nslots;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = hash_str(t->fn[i].key) & (nslots - 1);
        while (t->slots[j]) j = (j + 1) & (nslots - 1);
        t->slots[j] = (uint32_t)(i + 1);
    }
}

static size_t fntab_intern(fntab_t *t, int kind, const char *name, const char *path)
{
    char *key = sp_cli_printf("%d\x1f%s\x1f%s", kind, name, path);
    if (t->nslots == 0 || (t->n + 1) * 10 > t->nslots * 7)
        fntab_rehash(t, t->nslots ? t->nslots * 2 : 256);
    size_t j = hash_str(key) & (t->nslots - 1);
    for (; t->slots[j]; j = (j + 1) & (t->nslots - 1)) {
        if (strcmp(t->fn[t->slots[j] - 1].key, key) == 0) {
            sp_mem_free(key);
            return t->slots[j] - 1;
        }
    }
    SP_GROW(t->fn, t->cap, t->n + 1);
    t->fn[t->n] = (fn_t){.key = key, .name = sp_cli_strdup(name), .path = sp_cli_strdup(path),
                         .kind = kind, .line = -1};
    t->slots[j] = (uint32_t)(t->n + 1);
    return t->n++;
}

static void fntab_free(fntab_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        sp_mem_free(t->fn[i].key);
        sp_mem_free(t->fn[i].name);
        sp_mem_free(t->fn[i].path);
        sp_mem_free(t->fn[i].label);
    }
    sp_mem_free(t->fn);
    sp_mem_free(t->slots);
    *t = (fntab_t){0};
}

/* Maps a frame object to its function (interned). *native: the frame is native code;
 * *line: its JS lineno, or -1. */
static int frame_fn(fntab_t *t, const json_t *frame, bool *native, long *line, size_t *out)
{
    if (!json_is_object(frame)) return -1;
    const char *platform = sp_cli_json_str(frame, "platform");
    const char *function = sp_cli_json_str(frame, "function");
    const char *addr = sp_cli_json_str(frame, "instruction_addr");
    const json_t *lineno = json_object_get(frame, "lineno");
    bool has_line = json_is_number(lineno);
    *line = -1;
    *native = (platform && strcmp(platform, "native") == 0) || (!has_line && addr);
    if (*native) {
        const char *module = sp_cli_json_str(frame, "abs_path");
        if (!module) module = sp_cli_json_str(frame, "module");
        if (!module) module = sp_cli_json_str(frame, "filename");
        int kind = function ? K_NATIVE : K_ADDR;
        const char *name = function ? function : addr ? addr : "??";
        *out = fntab_intern(t, kind, name, module ? module : "");
        return 0;
    }
    const char *file = sp_cli_json_str(frame, "abs_path");
    if (!file) file = sp_cli_json_str(frame, "filename");
    if (!file) file = sp_cli_json_str(frame, "module");
    *out = fntab_intern(t, K_JS, function ? function : "(anonymous)", file ? file : "");
    double v = has_line ? json_number_value(lineno) : -1; /* no cast of out-of-range values */
    if (v >= 0 && v <= INT_MAX) *line = (long)v;
    return 0;
}

/* "name (file:line)" with a short file: relative to cwd if under it, else its last two
 * components; "[native] name (module)"; "0x7f... (module)"; pseudo functions as is. */
static char *fn_label(const fn_t *f, const char *cwd)
{
    if (f->kind == K_PSEUDO) return sp_cli_strdup(f->name);
    if (f->kind != K_JS) {
        const char *pre = f->kind == K_NATIVE ? "[native] " : "";
        if (!*f->path) return sp_cli_printf("%s%s", pre, f->name);
        return sp_cli_printf("%s%s (%s)", pre, f->name, base_name(f->path));
    }
    if (!*f->path) return sp_cli_strdup(f->name);
    const char *p = f->path;
    if (strncmp(p, "file://", 7) == 0) p += 7;
    size_t cl = strlen(cwd);
    if (cl > 1 && strncmp(p, cwd, cl) == 0 && p[cl] == '/' && p[cl + 1]) {
        p += cl + 1;
    } else {
        const char *last = strrchr(p, '/');
        if (last) {
            const char *prev = last;
            while (prev > p && prev[-1] != '/') prev--;
            if (prev > p) p = prev; /* prev[-1] == '/': keep "dir/file" */
            else if (*p == '/') p = last + 1;
        }
    }
    if (f->line >= 0) return sp_cli_printf("%s (%s:%ld)", f->name, p, f->line);
    return sp_cli_printf("%s (%s)", f->name, p);
}

/* ---- top ---- */

typedef struct {
    char *id, *name; /* name from thread_metadata, or NULL */
} thread_t;

typedef struct {
    fntab_t fns;
    const char *thread; /* --thread filter or NULL */
    bool js_only;
    bool by_total;
    uint64_t samples, items, files, stamp;
    thread_t *threads; /* threads seen among counted samples */
    size_t nthreads, tcap;
} top_t;

static const char *thread_id(const json_t *v, char *buf, size_t len)
{
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return NULL;
}

static void note_thread(top_t *tp, const char *tid, const json_t *meta)
{
    const char *name = sp_cli_json_str(json_object_get(meta, tid), "name");
    for (size_t i = 0; i < tp->nthreads; i++) {
        thread_t *th = &tp->threads[i];
        if (strcmp(th->id, tid) != 0) continue;
        if (!th->name && name) th->name = sp_cli_strdup(name);
        return;
    }
    SP_GROW(tp->threads, tp->tcap, tp->nthreads + 1);
    tp->threads[tp->nthreads++] =
        (thread_t){.id = sp_cli_strdup(tid), .name = name ? sp_cli_strdup(name) : NULL};
}

/* Adds one profile payload (v1 or v2) to the totals. The whole item is checked first, so a
 * bad item adds nothing. 0, or -1 with *why set. */
static int top_add(top_t *tp, const json_t *payload, char *why, size_t whylen)
{
    const json_t *prof = json_object_get(payload, "profile");
    const json_t *samples = json_object_get(prof, "samples");
    const json_t *stacks = json_object_get(prof, "stacks");
    const json_t *frames = json_object_get(prof, "frames");
    const json_t *meta = json_object_get(prof, "thread_metadata");
    if (!json_is_object(payload) || !json_is_object(prof)) {
        snprintf(why, whylen, "no \"profile\" object");
        return -1;
    }
    if (!json_is_array(samples) || !json_is_array(stacks) || !json_is_array(frames)) {
        snprintf(why, whylen, "profile lacks samples, stacks or frames arrays");
        return -1;
    }
    size_t nfr = json_array_size(frames), nst = json_array_size(stacks);
    size_t nsa = json_array_size(samples);
    size_t *fid = sp_cli_calloc(nfr ? nfr : 1, sizeof *fid);
    bool *nat = sp_cli_calloc(nfr ? nfr : 1, sizeof *nat);
    long *line = sp_cli_calloc(nfr ? nfr : 1, sizeof *line);
    uint64_t *weight = sp_cli_calloc(nst ? nst : 1, sizeof *weight);
    int rc = -1;
    char buf[32];

    for (size_t i = 0; i < nfr; i++) {
        if (frame_fn(&tp->fns, json_array_get(frames, i), &nat[i], &line[i], &fid[i]) < 0) {
            snprintf(why, whylen, "frame %zu is not an object", i);
            goto out;
        }
    }
    for (size_t s = 0; s < nst; s++) {
        const json_t *st = json_array_get(stacks, s);
        if (!json_is_array(st)) {
            snprintf(why, whylen, "stack %zu is not an array", s);
            goto out;
        }
        for (size_t k = 0; k < json_array_size(st); k++) {
            const json_t *f = json_array_get(st, k);
            if (!json_is_integer(f) || json_integer_value(f) < 0 ||
                (uint64_t)json_integer_value(f) >= nfr) {
                snprintf(why, whylen, "stack %zu has a bad frame index", s);
                goto out;
            }
        }
    }
    for (size_t i = 0; i < nsa; i++) {
        const json_t *sa = json_array_get(samples, i);
        const json_t *sid = json_object_get(sa, "stack_id");
        if (!json_is_integer(sid) || json_integer_value(sid) < 0 ||
            (uint64_t)json_integer_value(sid) >= nst) {
            snprintf(why, whylen, "sample %zu has a bad stack_id", i);
            goto out;
        }
        if (!thread_id(json_object_get(sa, "thread_id"), buf, sizeof buf)) {
            snprintf(why, whylen, "sample %zu has no thread_id", i);
            goto out;
        }
    }

    /* valid: from here on the item counts */
    for (size_t i = 0; i < nfr; i++) {
        fn_t *f = &tp->fns.fn[fid[i]];
        if (line[i] >= 0 && (f->line < 0 || line[i] < f->line)) f->line = line[i];
    }
    uint64_t counted = 0;
    for (size_t i = 0; i < nsa; i++) {
        const json_t *sa = json_array_get(samples, i);
        const char *tid = thread_id(json_object_get(sa, "thread_id"), buf, sizeof buf);
        if (tp->thread && strcmp(tid, tp->thread) != 0) continue;
        weight[json_integer_value(json_object_get(sa, "stack_id"))]++;
        note_thread(tp, tid, meta);
        counted++;
    }
    for (size_t s = 0; s < nst; s++) {
        uint64_t w = weight[s];
        if (!w) continue;
        const json_t *st = json_array_get(stacks, s);
        uint64_t stamp = ++tp->stamp;
        bool leaf = true;
        for (size_t k = 0; k < json_array_size(st); k++) {
            size_t fi = (size_t)json_integer_value(json_array_get(st, k));
            if (tp->js_only && nat[fi]) continue;
            fn_t *f = &tp->fns.fn[fid[fi]];
            if (leaf) f->self += w;
            leaf = false;
            if (f->stamp != stamp) f->total += w;
            f->stamp = stamp;
        }
        if (leaf) { /* nothing left: idle, or only native frames under --js-only */
            const char *pseudo = json_array_size(st) ? "(native)" : "(idle)";
            fn_t *f = &tp->fns.fn[fntab_intern(&tp->fns, K_PSEUDO, pseudo, "")];
            f->self += w;
            f->total += w;
        }
    }
    tp->samples += counted;
    tp->items++;
    rc = 0;
out:
    sp_mem_free(fid);
    sp_mem_free(nat);
    sp_mem_free(line);
    sp_mem_free(weight);
    return rc;
}

typedef struct {
    top_t *tp;
    const char *path;
    size_t read;
} top_file_t;

/* One envelope of a file into the totals; warnings for it or its bad items. */
static int top_envelope(const sp_envelope_parsed_t *env, const char *bad, size_t index, size_t len, void *arg)
{
    (void)len;
    top_file_t *tf = arg;
    char where[64] = "", why[256];
    if (sp_batch_is_name(tf->path)) snprintf(where, sizeof where, " envelope %zu", index);
    if (!env) {
        sp_cli_err("skipping %s%s: %s", tf->path, where, bad);
        return 0;
    }
    for (size_t i = 0; i < env->count; i++) {
        const char *type = sp_cli_item_type(env, i);
        if (!sp_cli_is_profile(type)) continue;
        json_t *payload = sp_envelope_item_json(env, i);
        if (!payload) {
            sp_cli_err("skipping %s%s: item %zu (%s): payload is not valid JSON", tf->path, where, i, type);
            continue;
        }
        if (top_add(tf->tp, payload, why, sizeof why) < 0)
            sp_cli_err("skipping %s%s: item %zu (%s): %s", tf->path, where, i, type, why);
        else
            tf->read++;
        json_decref(payload);
    }
    return 0;
}

/* Reads one file (an envelope or a batch of them) into the totals. Returns the number of
 * profile items read. */
static size_t top_file(top_t *tp, const char *path)
{
    top_file_t tf = {tp, path, 0};
    char why[256];
    long n = sp_cli_each_envelope(path, top_envelope, &tf, why, sizeof why);
    if (n < 0 || why[0]) sp_cli_err("%s %s: %s", n < 0 ? "skipping" : "reading", path, why);
    if (tf.read) tp->files++;
    return tf.read;
}

static const fn_t *sort_fns;
static bool sort_by_total;

static int cmp_fn(const void *a, const void *b)
{
    const fn_t *x = &sort_fns[*(const size_t *)a], *y = &sort_fns[*(const size_t *)b];
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
    const char *x = ((const thread_t *)a)->id, *y = ((const thread_t *)b)->id;
    size_t xl = strlen(x), yl = strlen(y);
    if (all_digits(x) && all_digits(y) && xl != yl) return xl < yl ? -1 : 1;
    return strcmp(x, y);
}

static void top_print(top_t *tp, unsigned long limit)
{
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
    printf("sentryprof top: %llu %s, %llu %s, %llu %s, threads:",
           (unsigned long long)tp->files, tp->files == 1 ? "file" : "files",
           (unsigned long long)tp->items, tp->items == 1 ? "chunk" : "chunks",
           (unsigned long long)tp->samples, tp->samples == 1 ? "sample" : "samples");
    if (tp->nthreads) qsort(tp->threads, tp->nthreads, sizeof *tp->threads, cmp_thread);
    for (size_t i = 0; i < tp->nthreads; i++) {
        printf("%s %s", i ? "," : "", tp->threads[i].id);
        if (tp->threads[i].name) printf(" (%s)", tp->threads[i].name);
    }
    printf("%s\n", tp->nthreads ? "" : " none");

    printf("   SELF%%     SELF  TOTAL%%    TOTAL  FUNCTION\n");
    fntab_t *t = &tp->fns;
    size_t *idx = sp_cli_calloc(t->n ? t->n : 1, sizeof *idx);
    size_t m = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (!t->fn[i].total) continue;
        t->fn[i].label = fn_label(&t->fn[i], cwd);
        idx[m++] = i;
    }
    sort_fns = t->fn;
    sort_by_total = tp->by_total;
    qsort(idx, m, sizeof *idx, cmp_fn);
    double all = tp->samples ? (double)tp->samples : 1.0;
    for (size_t r = 0; r < m && (limit == 0 || r < limit); r++) {
        const fn_t *f = &t->fn[idx[r]];
        printf("%7.2f%%%9llu%7.2f%%%9llu  %s\n", 100.0 * (double)f->self / all,
               (unsigned long long)f->self, 100.0 * (double)f->total / all,
               (unsigned long long)f->total, f->label);
    }
    sp_mem_free(idx);
}

int sp_cli_top(int argc, char **argv)
{
    top_t tp = {0};
    unsigned long limit = SP_CLI_TOP_DEFAULT;
    sp_cli_strvec_t paths = {0};
    bool opts = true;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
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
        } else if (strcmp(a, "--thread") == 0 || strncmp(a, "--thread=", 9) == 0) {
            tp.thread = a[8] ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!tp.thread || !*tp.thread) {
                rc = sp_cli_bad_usage("top: --thread needs a thread id");
                goto out;
            }
        } else if (strcmp(a, "--sort") == 0 || strncmp(a, "--sort=", 7) == 0) {
            const char *v = a[6] ? a + 7 : (i + 1 < argc ? argv[++i] : "");
            if (strcmp(v, "self") != 0 && strcmp(v, "total") != 0) {
                rc = sp_cli_bad_usage("top: --sort takes self or total, got '%s'", v);
                goto out;
            }
            tp.by_total = strcmp(v, "total") == 0;
        } else if (strcmp(a, "--js-only") == 0) {
            tp.js_only = true;
        } else {
            rc = sp_cli_bad_usage("top: unknown option '%s'", a);
            goto out;
        }
    }
    if (paths.n == 0) {
        char dir[PATH_MAX];
        if (!sp_cli_default_spool(dir, sizeof dir)) {
            rc = 1;
            goto out;
        }
        sp_cli_strvec_push(&paths, sp_cli_strdup(dir));
    }

    size_t items = 0;
    for (size_t i = 0; i < paths.n; i++) {
        struct stat st;
        if (stat(paths.v[i], &st) != 0) {
            sp_cli_err("skipping %s: %s", paths.v[i], strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            sp_cli_strvec_t files = {0};
            int e = sp_cli_collect_dir(&files, paths.v[i], 0);
            if (e < 0) sp_cli_err("skipping %s: %s", paths.v[i], strerror(-e));
            else if (files.n == 0)
                sp_cli_err("skipping %s: no *%s or *%s files", paths.v[i], SP_SPOOL_SUFFIX, SP_BATCH_SUFFIX);
            for (size_t j = 0; j < files.n; j++) items += top_file(&tp, files.v[j]);
            sp_cli_strvec_free(&files);
        } else {
            items += top_file(&tp, paths.v[i]);
        }
    }
    if (items == 0) {
        sp_cli_err("no profiles could be read");
        rc = 1;
        goto out;
    }
    top_print(&tp, limit);
    if (tp.samples == 0)
        sp_cli_err("no samples%s%s", tp.thread ? " for thread " : "", tp.thread ? tp.thread : "");
out:
    sp_cli_strvec_free(&paths);
    fntab_free(&tp.fns);
    for (size_t i = 0; i < tp.nthreads; i++) {
        sp_mem_free(tp.threads[i].id);
        sp_mem_free(tp.threads[i].name);
    }
    sp_mem_free(tp.threads);
    return rc;
}
