/* convert: "sentryprof convert --to collapsed|speedscope|cpuprofile|pprof FILE|DIR... -o OUT".
 * Owns the three text exports of the model's selected samples and the output file
 * handling the exports share (written beside OUT and renamed into place, so a failed run
 * never leaves half a file; "-" is stdout).
 *   collapsed   Brendan Gregg's folded stacks, "root;...;leaf COUNT" per distinct stack,
 *               with top's labels as frame names (';' in a name becomes ':'): the counts
 *               add up to top's exactly. flamegraph.pl, inferno, speedscope read it.
 *   speedscope  https://www.speedscope.app/file-format-schema.json: shared frames
 *               (name, file, 1-based line, col), one "sampled" profile per thread in
 *               time order. Each sample weighs the thread's median sampling interval (from
 *               the timestamps, unit nanoseconds), so a gap (a lazy-mode idle stretch, a
 *               paused process) is not charged to the sample before it; without times the
 *               unit is "none" and each sample weighs 1.
 *   cpuprofile  Chrome DevTools' Profiler.Profile: nodes {id, callFrame {functionName,
 *               scriptId, url, lineNumber, columnNumber (0-based, -1 unknown)}, hitCount,
 *               children}, samples (leaf node ids), timeDeltas (µs), startTime/endTime
 *               (µs): one thread per file, the busiest unless --thread says which (a note
 *               line names the others). Each sample weighs the thread's median interval,
 *               as in speedscope's (DevTools would charge a gap to the sample before it):
 *               time starts at the first sample's and advances one interval per sample.
 *   pprof       gzipped profile.proto for go tool pprof, Pyroscope, Parca (pprof.c).
 * Single-threaded.
 */
#include "export.h"

#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- output files ---- */

FILE *sp_export_open(const char *path, char **tmp)
{
    *tmp = NULL;
    if (strcmp(path, "-") == 0) return stdout;
    char *t = sp_cli_printf("%s.XXXXXX", path);
    int fd = mkstemp(t);
    if (fd < 0) {
        sp_cli_err("cannot write %s: %s", path, strerror(errno));
        sp_mem_free(t);
        return NULL;
    }
    mode_t um = umask(0);
    umask(um);
    /* mkstemp's 0600 is for the temp name only; the result gets what open() would give.
     * Should this fail the file stays 0600, which loses nothing. */
    (void)!fchmod(fd, 0666 & ~um);
    FILE *f = fdopen(fd, "w");
    if (!f) {
        sp_cli_err("cannot write %s: %s", path, strerror(errno));
        close(fd);
        unlink(t);
        sp_mem_free(t);
        return NULL;
    }
    *tmp = t;
    return f;
}

int sp_export_close(FILE *f, const char *path, char *tmp, bool ok)
{
    if (f == stdout) return ok && fflush(stdout) == 0 && !ferror(stdout) ? 0 : -1;
    int e = ferror(f) ? EIO : 0;
    if (fclose(f) != 0 && !e) e = errno;
    if (ok && e) sp_cli_err("cannot write %s: %s", path, strerror(e));
    if (ok && !e && rename(tmp, path) != 0) {
        e = errno;
        sp_cli_err("cannot write %s: %s", path, strerror(e));
    }
    if (!ok || e) unlink(tmp);
    sp_mem_free(tmp);
    return ok && !e ? 0 : -1;
}

char *sp_export_thread_name(const sp_model_t *m, uint32_t t)
{
    const sp_model_thread_t *th = &m->threads[t];
    return th->name ? sp_cli_printf("thread %s (%s)", th->id, th->name) : sp_cli_printf("thread %s", th->id);
}

/* ---- collapsed ---- */

static char *collapsed_name(const sp_model_t *m, uint32_t fn, const char *cwd)
{
    char *l = sp_model_label(&m->fn[fn], cwd);
    for (char *p = l; *p; p++)
        if (*p == ';') *p = ':';
        else if (*p == '\n' || *p == '\r') *p = ' ';
    return l;
}

static int cmp_line(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool write_collapsed(const sp_model_t *m, FILE *out)
{
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
    uint64_t *weight = sp_cli_calloc(m->nstacks ? m->nstacks : 1, sizeof *weight);
    for (size_t i = 0; i < m->nsamples; i++) weight[m->samples[i].stack]++;
    char **names = sp_cli_calloc(m->nfn ? m->nfn : 1, sizeof *names);
    sp_cli_strvec_t lines = {0};
    char *buf = NULL;
    size_t cap = 0;
    for (uint32_t s = 0; s < m->nstacks; s++) {
        if (!weight[s]) continue;
        uint32_t len;
        const uint32_t *ids = sp_model_stack(m, s, &len);
        size_t n = 0;
        for (uint32_t k = 0; k < len; k++) {
            if (!names[ids[k]]) names[ids[k]] = collapsed_name(m, ids[k], cwd);
            size_t l = strlen(names[ids[k]]);
            SP_GROW(buf, cap, n + l + 2);
            if (k) buf[n++] = ';';
            memcpy(buf + n, names[ids[k]], l);
            n += l;
        }
        SP_GROW(buf, cap, n + 1);
        buf[n] = '\0';
        /* the count goes after a NUL: lines sort and compare by their stack alone */
        sp_cli_strvec_push(&lines, sp_cli_printf("%s%c%llu", buf, '\0', (unsigned long long)weight[s]));
    }
    /* two stacks can print alike (labels shorten paths, ';' turns ':'): one line, counts added */
    if (lines.n) qsort(lines.v, lines.n, sizeof *lines.v, cmp_line);
    for (size_t i = 0; i < lines.n;) {
        unsigned long long c = 0;
        size_t j = i;
        for (; j < lines.n && strcmp(lines.v[j], lines.v[i]) == 0; j++)
            c += strtoull(lines.v[j] + strlen(lines.v[j]) + 1, NULL, 10);
        fprintf(out, "%s %llu\n", lines.v[i], c);
        i = j;
    }
    sp_cli_strvec_free(&lines);
    for (size_t i = 0; i < m->nfn; i++) sp_mem_free(names[i]);
    sp_mem_free(names);
    sp_mem_free(buf);
    sp_mem_free(weight);
    return !ferror(out);
}

/* ---- speedscope ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int64_t sp_export_interval(const sp_model_t *m, size_t lo, size_t hi)
{
    int64_t *d = sp_cli_calloc(hi - lo + 1, sizeof *d);
    size_t n = 0;
    for (size_t i = lo + 1; i < hi; i++)
        if (m->samples[i].has_time && m->samples[i - 1].has_time && m->samples[i].time_ns > m->samples[i - 1].time_ns)
            d[n++] = m->samples[i].time_ns - m->samples[i - 1].time_ns;
    int64_t r = 0;
    if (n) {
        qsort(d, n, sizeof *d, cmp_i64);
        r = d[n / 2];
    }
    sp_mem_free(d);
    return r;
}

static json_t *frame_file(const sp_model_fn_t *f)
{
    return f->kind == SP_MODEL_PSEUDO || !*f->path ? NULL : json_string(f->path);
}

static bool write_speedscope(const sp_model_t *m, FILE *out)
{
    json_t *frames = json_array();
    int64_t *fidx = sp_cli_calloc(m->nfn ? m->nfn : 1, sizeof *fidx);
    for (size_t i = 0; i < m->nfn; i++) fidx[i] = -1;
    json_t *profiles = json_array();
    int64_t t0 = INT64_MAX;
    for (size_t i = 0; i < m->nsamples; i++)
        if (m->samples[i].has_time && m->samples[i].time_ns < t0) t0 = m->samples[i].time_ns;
    for (size_t lo = 0; lo < m->nsamples;) {
        size_t hi = lo;
        uint32_t th = m->samples[lo].thread;
        bool timed = true;
        while (hi < m->nsamples && m->samples[hi].thread == th) timed &= m->samples[hi++].has_time;
        int64_t iv = timed ? sp_export_interval(m, lo, hi) : 0;
        if (timed && iv <= 0) iv = 10101000; /* one sample: the SDK's 99 Hz */
        json_t *samples = json_array(), *weights = json_array();
        for (size_t i = lo; i < hi; i++) {
            uint32_t len;
            const uint32_t *ids = sp_model_stack(m, m->samples[i].stack, &len);
            json_t *st = json_array();
            for (uint32_t k = 0; k < len; k++) {
                uint32_t fn = ids[k];
                if (fidx[fn] < 0) {
                    const sp_model_fn_t *f = &m->fn[fn];
                    json_t *fr = json_pack("{s:s}", "name", f->name);
                    json_t *file = frame_file(f);
                    if (file) json_object_set_new(fr, "file", file);
                    if (f->line >= 0) json_object_set_new(fr, "line", json_integer(f->line));
                    if (f->line >= 0 && f->col >= 0) json_object_set_new(fr, "col", json_integer(f->col));
                    fidx[fn] = (int64_t)json_array_size(frames);
                    json_array_append_new(frames, fr);
                }
                json_array_append_new(st, json_integer(fidx[fn]));
            }
            json_array_append_new(samples, st);
            json_array_append_new(weights, json_integer(timed ? iv : 1));
        }
        int64_t start = timed ? m->samples[lo].time_ns - t0 : 0;
        int64_t end = start + (int64_t)(hi - lo) * (timed ? iv : 1);
        char *name = sp_export_thread_name(m, th);
        json_array_append_new(profiles, json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:o}", "type", "sampled", "name", name,
                                                  "unit", timed ? "nanoseconds" : "none", "startValue",
                                                  (json_int_t)start, "endValue", (json_int_t)end, "samples", samples,
                                                  "weights", weights));
        sp_mem_free(name);
        lo = hi;
    }
    json_t *doc = json_pack("{s:s, s:{s:o}, s:o, s:s, s:i, s:s}", "$schema",
                            "https://www.speedscope.app/file-format-schema.json", "shared", "frames", frames,
                            "profiles", profiles, "name", "sentryprof", "activeProfileIndex", 0, "exporter",
                            "sentryprof " SP_VERSION);
    sp_mem_free(fidx);
    bool ok = doc && json_dumpf(doc, out, JSON_COMPACT) == 0 && fputc('\n', out) != EOF;
    json_decref(doc);
    return ok && !ferror(out);
}

/* ---- cpuprofile ---- */

static json_t *call_frame(const sp_model_t *m, uint32_t fn, json_t *scripts)
{
    if (fn == UINT32_MAX)
        return json_pack("{s:s, s:s, s:s, s:i, s:i}", "functionName", "(root)", "scriptId", "0", "url", "",
                         "lineNumber", -1, "columnNumber", -1);
    const sp_model_fn_t *f = &m->fn[fn];
    char *url = f->kind == SP_MODEL_PSEUDO ? sp_cli_strdup("")
                : f->kind == SP_MODEL_JS && f->path[0] == '/' ? sp_cli_printf("file://%s", f->path)
                                                               : sp_cli_strdup(f->path);
    json_t *id = json_object_get(scripts, url);
    if (!id && *url) {
        char num[24];
        snprintf(num, sizeof num, "%zu", json_object_size(scripts) + 1);
        json_object_set_new(scripts, url, json_string(num));
        id = json_object_get(scripts, url);
    }
    json_t *cf = json_pack("{s:s, s:s, s:s, s:I, s:I}", "functionName",
                           f->kind == SP_MODEL_JS && strcmp(f->name, "(anonymous)") == 0 ? "" : f->name, "scriptId",
                           id ? json_string_value(id) : "0", "url", url, "lineNumber",
                           (json_int_t)(f->line > 0 ? f->line - 1 : -1), "columnNumber",
                           (json_int_t)(f->line > 0 && f->col > 0 ? f->col - 1 : -1));
    sp_mem_free(url);
    return cf;
}

static bool write_cpuprofile(const sp_model_t *m, FILE *out, bool thread_given)
{
    /* the busiest thread */
    uint64_t *count = sp_cli_calloc(m->nthreads ? m->nthreads : 1, sizeof *count);
    for (size_t i = 0; i < m->nsamples; i++) count[m->samples[i].thread]++;
    size_t best = 0, used = 0;
    for (size_t t = 0; t < m->nthreads; t++) {
        if (count[t]) used++;
        if (count[t] > count[best]) best = t;
    }
    if (used > 1 && !thread_given) {
        char *name = sp_export_thread_name(m, (uint32_t)best);
        sp_cli_err("note: a .cpuprofile holds one thread: wrote %s (%llu samples) of %zu; choose with --thread", name,
                   (unsigned long long)count[best], used);
        sp_mem_free(name);
    }
    sp_mem_free(count);
    sp_model_tree_t t;
    sp_model_tree(m, (long)best, false, &t);
    json_t *scripts = json_object();
    json_t *nodes = json_array();
    for (size_t i = 0; i < t.n; i++) {
        const sp_model_node_t *nd = &t.node[i];
        json_t *kids = json_array();
        for (uint32_t c = nd->first_child; c != UINT32_MAX; c = t.node[c].next_sibling)
            json_array_append_new(kids, json_integer((json_int_t)c + 1));
        json_t *o = json_pack("{s:I, s:o, s:I, s:o}", "id", (json_int_t)i + 1, "callFrame", call_frame(m, nd->fn, scripts),
                              "hitCount", (json_int_t)nd->self, "children", kids);
        if (i) json_object_set_new(o, "parent", json_integer((json_int_t)nd->parent + 1));
        json_array_append_new(nodes, o);
    }
    /* DevTools (and speedscope's importer of this format) charge a sample with the time up
     * to the next one: a gap (between chunks or files, a lazy-mode idle stretch) would go to
     * the sample before it, and samples of overlapping runs of a thread would get none. So,
     * as in the speedscope export, each sample weighs the thread's median interval: time
     * starts at the first sample's and advances one interval per sample; endTime is one
     * interval after the last, so it gets its interval too. */
    size_t lo = 0;
    while (lo < m->nsamples && m->samples[lo].thread != best) lo++; /* the model sorts by thread */
    size_t hi = lo;
    while (hi < m->nsamples && m->samples[hi].thread == best) hi++;
    int64_t iv_us = (sp_export_interval(m, lo, hi) + 500) / 1000; /* ns to the nearest µs */
    if (iv_us <= 0) iv_us = 10101; /* no two timed samples: the SDK's 99 Hz */
    json_t *samples = json_array(), *deltas = json_array();
    int64_t start = -1, prev = 0;
    for (size_t i = lo; i < hi; i++) {
        if (t.sample_node[i] == UINT32_MAX) continue;
        const sp_model_sample_t *s = &m->samples[i];
        if (start < 0)
            start = prev = s->has_time ? s->time_ns / 1000 : 0; /* µs */
        else
            prev += iv_us;
        json_array_append_new(samples, json_integer((json_int_t)t.sample_node[i] + 1));
        json_array_append_new(deltas,
                              json_integer((json_int_t)(json_array_size(deltas) ? iv_us : 0)));
    }
    if (start < 0)
        start = prev = 0;
    else
        prev += iv_us;
    json_t *doc = json_pack("{s:o, s:I, s:I, s:o, s:o}", "nodes", nodes, "startTime", (json_int_t)start, "endTime",
                            (json_int_t)prev, "samples", samples, "timeDeltas", deltas);
    json_decref(scripts);
    sp_model_tree_free(&t);
    bool ok = doc && json_dumpf(doc, out, JSON_COMPACT) == 0 && fputc('\n', out) != EOF;
    json_decref(doc);
    return ok && !ferror(out);
}

/* ---- the command ---- */

int sp_cli_convert(int argc, char **argv)
{
    sp_model_t m = {0};
    sp_model_filter_t filt = {0};
    sp_cli_strvec_t paths = {0};
    const char *to = NULL, *outp = NULL;
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
        } else if (strcmp(a, "--to") == 0 || strncmp(a, "--to=", 5) == 0) {
            to = a[4] ? a + 5 : (i + 1 < argc ? argv[++i] : "");
        } else if (strcmp(a, "-o") == 0 || strncmp(a, "--output=", 9) == 0 || strcmp(a, "--output") == 0) {
            outp = a[1] == 'o' ? (i + 1 < argc ? argv[++i] : "") : a[8] ? a + 9 : (i + 1 < argc ? argv[++i] : "");
        } else if ((fr = sp_model_filter_arg(&filt, "convert", argc, argv, &i)) != 0) {
            if (fr < 0) {
                rc = 2;
                goto out;
            }
        } else {
            rc = sp_cli_bad_usage("convert: unknown option '%s'", a);
            goto out;
        }
    }
    if (!to) {
        rc = sp_cli_bad_usage("convert: --to collapsed|speedscope|cpuprofile|pprof is required");
        goto out;
    }
    if (strcmp(to, "collapsed") != 0 && strcmp(to, "speedscope") != 0 && strcmp(to, "cpuprofile") != 0 &&
        strcmp(to, "pprof") != 0) {
        rc = sp_cli_bad_usage("convert: --to takes collapsed, speedscope, cpuprofile or pprof, got '%s'", to);
        goto out;
    }
    if (!outp || !*outp) {
        rc = sp_cli_bad_usage("convert: -o OUT is required (- for standard output)");
        goto out;
    }
    if (sp_model_load_selected(&m, &paths, &filt) < 0) {
        rc = 1;
        goto out;
    }
    char *tmp;
    FILE *f = sp_export_open(outp, &tmp);
    if (!f) {
        rc = 1;
        goto out;
    }
    bool ok = strcmp(to, "collapsed") == 0    ? write_collapsed(&m, f)
              : strcmp(to, "speedscope") == 0 ? write_speedscope(&m, f)
              : strcmp(to, "pprof") == 0      ? sp_export_pprof(&m, f)
                                              : write_cpuprofile(&m, f, filt.thread != NULL);
    if (sp_export_close(f, outp, tmp, ok) < 0) {
        if (!ok) sp_cli_err("cannot write %s", outp);
        rc = 1;
    }
out:
    sp_cli_strvec_free(&paths);
    sp_model_free(&m);
    return rc;
}
