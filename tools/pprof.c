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

/* The profile under construction: its tables, and the arrays protobuf-c's structs point into. */
typedef struct {
    const sp_model_t *m;
    strtab_t st;
    int64_t s_thread, s_tname, s_txn;
    int64_t period, t_lo, t_hi;
    bool *used; /* per model function: on a selected stack */
    Perftools__Profiles__Function *funs, **funp;
    size_t nfun;
    json_t *locidx; /* "fn:line" -> location id */
    Perftools__Profiles__Location *locs, **locp;
    Perftools__Profiles__Line *lines, **linep;
    size_t nlocs, loccap, linecap;
    pkey_t *keys;
    Perftools__Profiles__Sample *smp, **smpp;
    Perftools__Profiles__Label *labels, **labelp;
    int64_t *values;
    size_t nsmp;
    uint64_t *locids; /* each distinct sample's location ids, leaf first */
} pp_t;

/* The period: the median interval over the threads, weighted by their samples; and the
 * time span of the samples. */
static void pp_period(pp_t *b)
{
    const sp_model_t *m = b->m;
    size_t best = 0;
    b->period = 0;
    b->t_lo = INT64_MAX;
    b->t_hi = INT64_MIN;
    for (size_t lo = 0; lo < m->nsamples;) {
        size_t hi = lo;
        while (hi < m->nsamples && m->samples[hi].thread == m->samples[lo].thread) hi++;
        int64_t iv = sp_export_interval(m, lo, hi);
        if (iv > 0 && hi - lo > best) best = hi - lo, b->period = iv;
        lo = hi;
    }
    for (size_t i = 0; i < m->nsamples; i++) {
        if (!m->samples[i].has_time) continue;
        if (m->samples[i].time_ns < b->t_lo) b->t_lo = m->samples[i].time_ns;
        if (m->samples[i].time_ns > b->t_hi) b->t_hi = m->samples[i].time_ns;
    }
    if (b->period <= 0) b->period = 10101000; /* the SDK's 99 Hz */
}

/* Functions: one per function on a selected stack, id = fn + 1 (its smallest line as
 * start_line). */
static void pp_functions(pp_t *b)
{
    const sp_model_t *m = b->m;
    b->used = sp_cli_calloc(m->nfn ? m->nfn : 1, sizeof *b->used);
    for (size_t i = 0; i < m->nsamples; i++) {
        uint32_t len;
        const uint32_t *ids = sp_model_stack(m, m->samples[i].stack, &len);
        for (uint32_t k = 0; k < len; k++) b->used[ids[k]] = true;
    }
    for (size_t i = 0; i < m->nfn; i++) b->nfun += b->used[i];
    b->funs = sp_cli_calloc(b->nfun ? b->nfun : 1, sizeof *b->funs);
    b->funp = sp_cli_calloc(b->nfun ? b->nfun : 1, sizeof *b->funp);
    size_t f = 0;
    for (size_t i = 0; i < m->nfn; i++) {
        if (!b->used[i]) continue;
        const sp_model_fn_t *fn = &m->fn[i];
        perftools__profiles__function__init(&b->funs[f]);
        b->funs[f].id = i + 1;
        b->funs[f].name = b->funs[f].system_name = str_id(&b->st, fn->name);
        b->funs[f].filename = str_id(&b->st, fn->path);
        b->funs[f].start_line = fn->line > 0 ? fn->line : 0;
        b->funp[f] = &b->funs[f];
        f++;
    }
}

/* The id of the location of function fn at line (one per function and line of a frame:
 * each frame's own line, so go tool pprof -lines and -list agree with top --by line),
 * made on first use; ids from 1 in order. */
static uint64_t pp_location(pp_t *b, uint32_t fn, long line)
{
    const sp_model_t *m = b->m;
    char key[48];
    snprintf(key, sizeof key, "%u:%ld", fn, line);
    json_t *id = json_object_get(b->locidx, key);
    if (id) return (uint64_t)json_integer_value(id);
    size_t n = b->nlocs;
    SP_GROW(b->locs, b->loccap, n + 1);
    SP_GROW(b->lines, b->linecap, n + 1);
    perftools__profiles__line__init(&b->lines[n]);
    b->lines[n].function_id = fn + 1;
    b->lines[n].line = line > 0 ? line : 0;
    b->lines[n].column = line > 0 && line == m->fn[fn].line && m->fn[fn].col > 0 ? m->fn[fn].col : 0;
    perftools__profiles__location__init(&b->locs[n]);
    b->locs[n].id = n + 1;
    b->locs[n].n_line = 1;
    b->nlocs = n + 1;
    json_object_set_new(b->locidx, key, json_integer((json_int_t)b->nlocs));
    return b->nlocs;
}

/* Sample s's labels: "thread" (id), "thread_name" and "transaction" when known. */
static void pp_labels(pp_t *b, size_t s, const pkey_t *k)
{
    const sp_model_thread_t *th = &b->m->threads[k->thread];
    Perftools__Profiles__Label *l = &b->labels[3 * s];
    size_t nl = 0;
    perftools__profiles__label__init(&l[nl]);
    l[nl].key = b->s_thread;
    l[nl++].str = str_id(&b->st, th->id);
    if (th->name) {
        perftools__profiles__label__init(&l[nl]);
        l[nl].key = b->s_tname;
        l[nl++].str = str_id(&b->st, th->name);
    }
    if (k->txn >= 0) {
        perftools__profiles__label__init(&l[nl]);
        l[nl].key = b->s_txn;
        l[nl++].str = str_id(&b->st, b->m->txnnames[k->txn]);
    }
    for (size_t q = 0; q < nl; q++) b->labelp[3 * s + q] = &l[q];
    b->smp[s].n_label = nl;
    b->smp[s].label = &b->labelp[3 * s];
}

/* Samples: one per distinct (stack, its lines, thread, transaction), valued [count,
 * count x period]. */
static void pp_samples(pp_t *b)
{
    const sp_model_t *m = b->m;
    b->keys = sp_cli_calloc(m->nsamples ? m->nsamples : 1, sizeof *b->keys);
    for (size_t i = 0; i < m->nsamples; i++)
        b->keys[i] = (pkey_t){m->samples[i].stack, m->samples[i].lines, m->samples[i].thread, m->samples[i].txn};
    if (m->nsamples) qsort(b->keys, m->nsamples, sizeof *b->keys, cmp_key);
    for (size_t i = 0; i < m->nsamples; i++) b->nsmp += i == 0 || cmp_key(&b->keys[i - 1], &b->keys[i]) != 0;
    size_t nsmp = b->nsmp;
    b->smp = sp_cli_calloc(nsmp ? nsmp : 1, sizeof *b->smp);
    b->smpp = sp_cli_calloc(nsmp ? nsmp : 1, sizeof *b->smpp);
    b->labels = sp_cli_calloc(nsmp ? nsmp * 3 : 1, sizeof *b->labels);
    b->labelp = sp_cli_calloc(nsmp ? nsmp * 3 : 1, sizeof *b->labelp);
    b->values = sp_cli_calloc(nsmp ? nsmp * 2 : 1, sizeof *b->values);
    size_t nframes = 0; /* room for every frame of every sample */
    for (size_t i = 0; i < m->nsamples; i++) {
        uint32_t len;
        sp_model_stack(m, m->samples[i].stack, &len);
        nframes += len;
    }
    b->locids = sp_cli_calloc(nframes + 1, sizeof *b->locids);
    size_t nloc = 0, s = 0;
    for (size_t i = 0; i < m->nsamples; s++) {
        size_t j = i;
        while (j < m->nsamples && cmp_key(&b->keys[i], &b->keys[j]) == 0) j++;
        const pkey_t *k = &b->keys[i];
        uint32_t len, nlines;
        const uint32_t *ids = sp_model_stack(m, k->stack, &len);
        const uint32_t *lns = sp_model_lines(m, k->lines, &nlines);
        uint64_t *sl = b->locids + nloc;
        for (uint32_t d = 0; d < len; d++) {
            uint32_t fn = ids[len - 1 - d], ln = nlines == len ? lns[len - 1 - d] : SP_MODEL_NO_LINE;
            sl[d] = pp_location(b, fn, ln != SP_MODEL_NO_LINE ? (long)ln : m->fn[fn].line);
        }
        nloc += len;
        Perftools__Profiles__Sample *sa = &b->smp[s];
        perftools__profiles__sample__init(sa);
        sa->n_location_id = len;
        sa->location_id = sl;
        sa->n_value = 2;
        sa->value = &b->values[2 * s];
        b->values[2 * s] = (int64_t)(j - i);
        b->values[2 * s + 1] = (int64_t)(j - i) * b->period;
        pp_labels(b, s, k);
        b->smpp[s] = sa;
        i = j;
    }
    /* the locations' line pointers, now that the arrays have stopped moving */
    b->locp = sp_cli_calloc(b->nlocs ? b->nlocs : 1, sizeof *b->locp);
    b->linep = sp_cli_calloc(b->nlocs ? b->nlocs : 1, sizeof *b->linep);
    for (size_t q = 0; q < b->nlocs; q++) {
        b->linep[q] = &b->lines[q];
        b->locs[q].line = &b->linep[q];
        b->locp[q] = &b->locs[q];
    }
}

/* The profile message around the tables, packed and gzipped into out. */
static bool pp_write(pp_t *b, FILE *out)
{
    Perftools__Profiles__ValueType vt[2], period_type;
    Perftools__Profiles__ValueType *vtp[2] = {&vt[0], &vt[1]};
    perftools__profiles__value_type__init(&vt[0]);
    vt[0].type = str_id(&b->st, "samples");
    vt[0].unit = str_id(&b->st, "count");
    perftools__profiles__value_type__init(&vt[1]);
    vt[1].type = str_id(&b->st, "cpu");
    vt[1].unit = str_id(&b->st, "nanoseconds");
    perftools__profiles__value_type__init(&period_type);
    period_type.type = vt[1].type;
    period_type.unit = vt[1].unit;
    Perftools__Profiles__Profile p;
    perftools__profiles__profile__init(&p);
    p.n_sample_type = 2;
    p.sample_type = vtp;
    p.n_sample = b->nsmp;
    p.sample = b->smpp;
    p.n_location = b->nlocs;
    p.location = b->locp;
    p.n_function = b->nfun;
    p.function = b->funp;
    p.n_string_table = b->st.n;
    p.string_table = b->st.table;
    p.period_type = &period_type;
    p.period = b->period;
    if (b->t_lo <= b->t_hi) {
        p.time_nanos = b->t_lo;
        p.duration_nanos = b->t_hi - b->t_lo + b->period;
    }
    size_t size = perftools__profiles__profile__get_packed_size(&p);
    uint8_t *buf = sp_cli_realloc(NULL, size ? size : 1);
    perftools__profiles__profile__pack(&p, buf);
    bool ok = gzip_write(buf, size, out);
    sp_mem_free(buf);
    return ok;
}

static void pp_free(pp_t *b)
{
    void *arrays[] = {b->used, b->funs, b->funp, b->locs, b->locp, b->lines, b->linep, b->keys,
                      b->smp, b->smpp, b->labels, b->labelp, b->values, b->locids, b->st.table};
    for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++) sp_mem_free(arrays[i]);
    json_decref(b->locidx);
    json_decref(b->st.index);
}

bool sp_export_pprof(const sp_model_t *m, FILE *out)
{
    pp_t b = {.m = m, .st = {.index = json_object()}, .locidx = json_object()};
    /* the string table's first strings, in the order go tool pprof users are used to */
    str_id(&b.st, "");
    str_id(&b.st, "samples");
    str_id(&b.st, "count");
    str_id(&b.st, "cpu");
    str_id(&b.st, "nanoseconds");
    b.s_thread = str_id(&b.st, "thread");
    b.s_tname = str_id(&b.st, "thread_name");
    b.s_txn = str_id(&b.st, "transaction");
    pp_period(&b);
    pp_functions(&b);
    pp_samples(&b);
    bool ok = pp_write(&b, out);
    pp_free(&b);
    return ok;
}
