/* pprof: "sentryprof convert --to pprof": the model's selected samples as a gzipped
 * profile.proto (tools/profile.proto, packed by protobuf-c, compressed by zlib), which
 * go tool pprof, Grafana Pyroscope and Parca read. Sample types [samples/count,
 * cpu/nanoseconds] (the second is count x the sampling period: the median interval between
 * a thread's samples), period_type cpu/nanoseconds; one Function per function (JS file or
 * native module as filename, its smallest line as start_line), one Location per function
 * and line of a frame (each frame's own line, as top --by line counts them); one Sample
 * per distinct (stack, lines, thread, transaction) with labels "thread" (id),
 * "thread_name" and "transaction" when known. Single-threaded.
 */
#include "export.h"

#include "mem.h"
#include "profile.pb-c.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct {
    json_t *index; /* string -> its index in table */
    char **table;
    size_t n, cap;
} strtab_t;

static int64_t str_id(strtab_t *st, const char *s)
{
    json_t *v = json_object_get(st->index, s);
    if (v) return json_integer_value(v);
    SP_GROW(st->table, st->cap, st->n + 1);
    st->table[st->n] = (char *)s; /* borrowed: the model or a literal outlives the table */
    json_object_set_new(st->index, s, json_integer((json_int_t)st->n));
    return (int64_t)st->n++;
}

typedef struct {
    uint32_t stack, lines, thread;
    int32_t txn;
} pkey_t;

static int cmp_key(const void *a, const void *b)
{
    const pkey_t *x = a, *y = b;
    if (x->stack != y->stack) return x->stack < y->stack ? -1 : 1;
    if (x->lines != y->lines) return x->lines < y->lines ? -1 : 1;
    if (x->thread != y->thread) return x->thread < y->thread ? -1 : 1;
    return x->txn < y->txn ? -1 : x->txn > y->txn;
}

/* gzip of data into out; false on a zlib or write error */
static bool gzip_write(const uint8_t *data, size_t len, FILE *out)
{
    z_stream z = {0};
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
    uint8_t buf[65536];
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len; /* profiles are far below 4 GiB: the model holds them in memory as JSON first */
    int rc;
    do {
        z.next_out = buf;
        z.avail_out = sizeof buf;
        rc = deflate(&z, Z_FINISH);
        if (rc == Z_STREAM_ERROR) break;
        if (fwrite(buf, 1, sizeof buf - z.avail_out, out) != sizeof buf - z.avail_out) rc = Z_ERRNO;
    } while (rc == Z_OK);
    deflateEnd(&z);
    return rc == Z_STREAM_END && !ferror(out);
}

bool sp_export_pprof(const sp_model_t *m, FILE *out)
{
    strtab_t st = {.index = json_object()};
    str_id(&st, "");
    int64_t s_samples = str_id(&st, "samples"), s_count = str_id(&st, "count");
    int64_t s_cpu = str_id(&st, "cpu"), s_ns = str_id(&st, "nanoseconds");
    int64_t s_thread = str_id(&st, "thread"), s_tname = str_id(&st, "thread_name");
    int64_t s_txn = str_id(&st, "transaction");

    /* the period: median interval over the threads, weighted by their samples */
    int64_t period = 0;
    size_t best = 0;
    int64_t t_lo = INT64_MAX, t_hi = INT64_MIN;
    for (size_t lo = 0; lo < m->nsamples;) {
        size_t hi = lo;
        while (hi < m->nsamples && m->samples[hi].thread == m->samples[lo].thread) hi++;
        int64_t iv = sp_export_interval(m, lo, hi);
        if (iv > 0 && hi - lo > best) best = hi - lo, period = iv;
        lo = hi;
    }
    for (size_t i = 0; i < m->nsamples; i++) {
        if (!m->samples[i].has_time) continue;
        if (m->samples[i].time_ns < t_lo) t_lo = m->samples[i].time_ns;
        if (m->samples[i].time_ns > t_hi) t_hi = m->samples[i].time_ns;
    }
    if (period <= 0) period = 10101000; /* the SDK's 99 Hz */

    /* functions: one per function on a selected stack, id = fn + 1 (its smallest line as
     * start_line); locations: one per function and line of a frame (each frame's own line,
     * so go tool pprof -lines and -list agree with top --by line), ids from 1 in order */
    bool *used = sp_cli_calloc(m->nfn ? m->nfn : 1, sizeof *used);
    for (size_t i = 0; i < m->nsamples; i++) {
        uint32_t len;
        const uint32_t *ids = sp_model_stack(m, m->samples[i].stack, &len);
        for (uint32_t k = 0; k < len; k++) used[ids[k]] = true;
    }
    size_t nfun = 0;
    for (size_t i = 0; i < m->nfn; i++) nfun += used[i];
    Perftools__Profiles__Function *funs = sp_cli_calloc(nfun ? nfun : 1, sizeof *funs);
    Perftools__Profiles__Function **funp = sp_cli_calloc(nfun ? nfun : 1, sizeof *funp);
    size_t f = 0;
    for (size_t i = 0; i < m->nfn; i++) {
        if (!used[i]) continue;
        const sp_model_fn_t *fn = &m->fn[i];
        perftools__profiles__function__init(&funs[f]);
        funs[f].id = i + 1;
        funs[f].name = funs[f].system_name = str_id(&st, fn->name);
        funs[f].filename = str_id(&st, fn->path);
        funs[f].start_line = fn->line > 0 ? fn->line : 0;
        funp[f] = &funs[f];
        f++;
    }
    json_t *locidx = json_object(); /* "fn:line" -> location id */
    Perftools__Profiles__Location *locs = NULL;
    Perftools__Profiles__Line *lines = NULL;
    size_t nlocs = 0, loccap = 0, linecap = 0;
    /* samples: one per distinct (stack, its lines, thread, transaction) */
    pkey_t *keys = sp_cli_calloc(m->nsamples ? m->nsamples : 1, sizeof *keys);
    for (size_t i = 0; i < m->nsamples; i++)
        keys[i] = (pkey_t){m->samples[i].stack, m->samples[i].lines, m->samples[i].thread,
                           m->samples[i].txn};
    if (m->nsamples) qsort(keys, m->nsamples, sizeof *keys, cmp_key);
    size_t nsmp = 0;
    for (size_t i = 0; i < m->nsamples; i++) nsmp += i == 0 || cmp_key(&keys[i - 1], &keys[i]) != 0;
    Perftools__Profiles__Sample *smp = sp_cli_calloc(nsmp ? nsmp : 1, sizeof *smp);
    Perftools__Profiles__Sample **smpp = sp_cli_calloc(nsmp ? nsmp : 1, sizeof *smpp);
    Perftools__Profiles__Label *labels = sp_cli_calloc(nsmp ? nsmp * 3 : 1, sizeof *labels);
    Perftools__Profiles__Label **labelp = sp_cli_calloc(nsmp ? nsmp * 3 : 1, sizeof *labelp);
    int64_t *values = sp_cli_calloc(nsmp ? nsmp * 2 : 1, sizeof *values);
    /* each distinct sample's location ids, leaf first: room for every frame of every sample */
    size_t nframes = 0;
    for (size_t i = 0; i < m->nsamples; i++) {
        uint32_t len;
        sp_model_stack(m, m->samples[i].stack, &len);
        nframes += len;
    }
    uint64_t *locids = sp_cli_calloc(nframes + 1, sizeof *locids);
    size_t nloc = 0, s = 0;
    for (size_t i = 0; i < m->nsamples; s++) {
        size_t j = i;
        while (j < m->nsamples && cmp_key(&keys[i], &keys[j]) == 0) j++;
        const pkey_t *k = &keys[i];
        uint32_t len, nlines;
        const uint32_t *ids = sp_model_stack(m, k->stack, &len);
        const uint32_t *lns = sp_model_lines(m, k->lines, &nlines);
        uint64_t *sl = locids + nloc;
        for (uint32_t d = 0; d < len; d++) {
            uint32_t fn = ids[len - 1 - d],
                     ln = nlines == len ? lns[len - 1 - d] : SP_MODEL_NO_LINE;
            long line = ln != SP_MODEL_NO_LINE ? (long)ln : m->fn[fn].line;
            char key[48];
            snprintf(key, sizeof key, "%u:%ld", fn, line);
            json_t *id = json_object_get(locidx, key);
            if (!id) { /* a new location: its one line */
                SP_GROW(locs, loccap, nlocs + 1);
                SP_GROW(lines, linecap, nlocs + 1);
                perftools__profiles__line__init(&lines[nlocs]);
                lines[nlocs].function_id = fn + 1;
                lines[nlocs].line = line > 0 ? line : 0;
                lines[nlocs].column =
                    line > 0 && line == m->fn[fn].line && m->fn[fn].col > 0 ? m->fn[fn].col : 0;
                perftools__profiles__location__init(&locs[nlocs]);
                locs[nlocs].id = nlocs + 1;
                locs[nlocs].n_line = 1;
                json_object_set_new(locidx, key, json_integer((json_int_t)++nlocs));
                id = json_object_get(locidx, key);
            }
            sl[d] = (uint64_t)json_integer_value(id);
        }
        nloc += len;
        Perftools__Profiles__Sample *sa = &smp[s];
        perftools__profiles__sample__init(sa);
        sa->n_location_id = len;
        sa->location_id = sl;
        sa->n_value = 2;
        sa->value = &values[2 * s];
        values[2 * s] = (int64_t)(j - i);
        values[2 * s + 1] = (int64_t)(j - i) * period;
        const sp_model_thread_t *th = &m->threads[k->thread];
        size_t nl = 0;
        Perftools__Profiles__Label *l = &labels[3 * s];
        perftools__profiles__label__init(&l[nl]);
        l[nl].key = s_thread;
        l[nl++].str = str_id(&st, th->id);
        if (th->name) {
            perftools__profiles__label__init(&l[nl]);
            l[nl].key = s_tname;
            l[nl++].str = str_id(&st, th->name);
        }
        if (k->txn >= 0) {
            perftools__profiles__label__init(&l[nl]);
            l[nl].key = s_txn;
            l[nl++].str = str_id(&st, m->txnnames[k->txn]);
        }
        for (size_t q = 0; q < nl; q++) labelp[3 * s + q] = &l[q];
        sa->n_label = nl;
        sa->label = &labelp[3 * s];
        smpp[s] = sa;
        i = j;
    }

    /* the locations' line pointers, now that the arrays have stopped moving */
    Perftools__Profiles__Location **locp = sp_cli_calloc(nlocs ? nlocs : 1, sizeof *locp);
    Perftools__Profiles__Line **linep = sp_cli_calloc(nlocs ? nlocs : 1, sizeof *linep);
    for (size_t q = 0; q < nlocs; q++) {
        linep[q] = &lines[q];
        locs[q].line = &linep[q];
        locp[q] = &locs[q];
    }

    Perftools__Profiles__ValueType vt[2], period_type;
    Perftools__Profiles__ValueType *vtp[2] = {&vt[0], &vt[1]};
    perftools__profiles__value_type__init(&vt[0]);
    vt[0].type = s_samples;
    vt[0].unit = s_count;
    perftools__profiles__value_type__init(&vt[1]);
    vt[1].type = s_cpu;
    vt[1].unit = s_ns;
    perftools__profiles__value_type__init(&period_type);
    period_type.type = s_cpu;
    period_type.unit = s_ns;
    Perftools__Profiles__Profile p;
    perftools__profiles__profile__init(&p);
    p.n_sample_type = 2;
    p.sample_type = vtp;
    p.n_sample = nsmp;
    p.sample = smpp;
    p.n_location = nlocs;
    p.location = locp;
    p.n_function = nfun;
    p.function = funp;
    p.n_string_table = st.n;
    p.string_table = st.table;
    p.period_type = &period_type;
    p.period = period;
    if (t_lo <= t_hi) {
        p.time_nanos = t_lo;
        p.duration_nanos = t_hi - t_lo + period;
    }
    size_t size = perftools__profiles__profile__get_packed_size(&p);
    uint8_t *buf = sp_cli_realloc(NULL, size ? size : 1);
    perftools__profiles__profile__pack(&p, buf);
    bool ok = gzip_write(buf, size, out);

    sp_mem_free(buf);
    sp_mem_free(used);
    sp_mem_free(funs);
    sp_mem_free(funp);
    sp_mem_free(locs);
    sp_mem_free(locp);
    sp_mem_free(lines);
    sp_mem_free(linep);
    sp_mem_free(keys);
    sp_mem_free(smp);
    sp_mem_free(smpp);
    sp_mem_free(labels);
    sp_mem_free(labelp);
    sp_mem_free(values);
    sp_mem_free(locids);
    json_decref(locidx);
    sp_mem_free(st.table);
    json_decref(st.index);
    return ok;
}
