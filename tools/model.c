/* model: the CLI's one reader of spooled profiles (see model.h). Owns: the function table
 * (open addressing over "<kind>\x1f<name>\x1f<path>"), the stack table (interned
 * root -> leaf sequences of function ids), the line stacks (each frame's own line, so
 * top --by line can tell lines of one function apart), threads, transactions and samples; validation
 * of v1/v2 payloads; walking files, directories and batches; the shared filters.
 * Rules: an item is checked whole before it adds anything; every skipped file or item is
 * one "sentryprof: skipping <path>[ envelope N]: <why>" line on stderr; nothing here exits
 * but out of memory (sp_cli_*). Single-threaded.
 * Transactions: a v1 profile names its own; a v2 sample belongs to the transaction events
 * (contexts.profile.profiler_id) of the same profiler whose [start, end] holds its time
 * (events carry no thread, so every thread's samples in that window).
 */
#include "model.h"

#include "mem.h"
#include "spool.h"
#include "spool_run.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

/* ---- functions ---- */

static void fn_rehash(sp_model_t *m, size_t nslots)
{
    sp_mem_free(m->fnslots);
    m->fnslots = sp_cli_calloc(nslots, sizeof *m->fnslots);
    m->nfnslots = nslots;
    for (size_t i = 0; i < m->nfn; i++) {
        size_t j = hash_bytes(m->fn[i].key, strlen(m->fn[i].key)) & (nslots - 1);
        while (m->fnslots[j]) j = (j + 1) & (nslots - 1);
        m->fnslots[j] = (uint32_t)(i + 1);
    }
}

static uint32_t fn_intern(sp_model_t *m, sp_model_kind_t kind, const char *name, const char *path)
{
    char *key = sp_cli_printf("%d\x1f%s\x1f%s", (int)kind, name, path);
    if (m->nfnslots == 0 || (m->nfn + 1) * 10 > m->nfnslots * 7)
        fn_rehash(m, m->nfnslots ? m->nfnslots * 2 : 256);
    size_t j = hash_bytes(key, strlen(key)) & (m->nfnslots - 1);
    for (; m->fnslots[j]; j = (j + 1) & (m->nfnslots - 1)) {
        if (strcmp(m->fn[m->fnslots[j] - 1].key, key) == 0) {
            sp_mem_free(key);
            return m->fnslots[j] - 1;
        }
    }
    SP_GROW(m->fn, m->fncap, m->nfn + 1);
    m->fn[m->nfn] = (sp_model_fn_t){.key = key, .name = sp_cli_strdup(name), .path = sp_cli_strdup(path),
                                    .kind = kind, .line = -1, .col = -1,
                                    .builtin = kind == SP_MODEL_NATIVE && strncmp(name, "Builtins_", 9) == 0};
    m->fnslots[j] = (uint32_t)(m->nfn + 1);
    return (uint32_t)m->nfn++;
}

/* Maps a frame object to its function (interned). *native: the frame is native code;
 * *line, *col: its JS lineno and colno, or -1. */
static int frame_fn(sp_model_t *m, const json_t *frame, bool *native, long *line, long *col, uint32_t *out)
{
    if (!json_is_object(frame)) return -1;
    const char *platform = sp_cli_json_str(frame, "platform");
    const char *function = sp_cli_json_str(frame, "function");
    const char *addr = sp_cli_json_str(frame, "instruction_addr");
    const json_t *lineno = json_object_get(frame, "lineno");
    const json_t *colno = json_object_get(frame, "colno");
    bool has_line = json_is_number(lineno);
    *line = *col = -1;
    *native = (platform && strcmp(platform, "native") == 0) || (!has_line && addr);
    if (*native) {
        const char *module = sp_cli_json_str(frame, "abs_path");
        if (!module) module = sp_cli_json_str(frame, "module");
        if (!module) module = sp_cli_json_str(frame, "filename");
        sp_model_kind_t kind = function ? SP_MODEL_NATIVE : SP_MODEL_ADDR;
        const char *name = function ? function : addr ? addr : "??";
        *out = fn_intern(m, kind, name, module ? module : "");
        return 0;
    }
    const char *file = sp_cli_json_str(frame, "abs_path");
    if (!file) file = sp_cli_json_str(frame, "filename");
    if (!file) file = sp_cli_json_str(frame, "module");
    *out = fn_intern(m, SP_MODEL_JS, function ? function : "(anonymous)", file ? file : "");
    double v = has_line ? json_number_value(lineno) : -1; /* no cast of out-of-range values */
    if (v >= 0 && v <= INT_MAX) *line = (long)v;
    v = json_is_number(colno) ? json_number_value(colno) : -1;
    if (v >= 0 && v <= INT_MAX) *col = (long)v;
    return 0;
}

/* ---- stacks ---- */

static void stack_rehash(sp_model_t *m, size_t nslots)
{
    sp_mem_free(m->stackslots);
    m->stackslots = sp_cli_calloc(nslots, sizeof *m->stackslots);
    m->nstackslots = nslots;
    for (size_t i = 0; i < m->nstacks; i++) {
        size_t j = hash_bytes(m->stackbuf + m->stackoff[i], m->stacklen[i] * sizeof(uint32_t)) & (nslots - 1);
        while (m->stackslots[j]) j = (j + 1) & (nslots - 1);
        m->stackslots[j] = (uint32_t)(i + 1);
    }
}

static uint32_t stack_intern(sp_model_t *m, const uint32_t *ids, uint32_t len)
{
    if (m->nstackslots == 0 || (m->nstacks + 1) * 10 > m->nstackslots * 7)
        stack_rehash(m, m->nstackslots ? m->nstackslots * 2 : 256);
    size_t bytes = len * sizeof *ids;
    size_t j = hash_bytes(ids, bytes) & (m->nstackslots - 1);
    for (; m->stackslots[j]; j = (j + 1) & (m->nstackslots - 1)) {
        size_t k = m->stackslots[j] - 1;
        if (m->stacklen[k] == len && memcmp(m->stackbuf + m->stackoff[k], ids, bytes) == 0) return (uint32_t)k;
    }
    size_t cap = m->stackcap;
    SP_GROW(m->stackoff, cap, m->nstacks + 1);
    SP_GROW(m->stacklen, m->stackcap, m->nstacks + 1);
    SP_GROW(m->stackbuf, m->bufcap, m->nbuf + len);
    memcpy(m->stackbuf + m->nbuf, ids, bytes);
    m->stackoff[m->nstacks] = m->nbuf;
    m->stacklen[m->nstacks] = len;
    m->nbuf += len;
    m->stackslots[j] = (uint32_t)(m->nstacks + 1);
    return (uint32_t)m->nstacks++;
}

/* ---- line stacks: the same interning for any uint32 sequence ---- */

static void seqs_rehash(sp_model_seqs_t *q, size_t nslots)
{
    sp_mem_free(q->slots);
    q->slots = sp_cli_calloc(nslots, sizeof *q->slots);
    q->nslots = nslots;
    for (size_t i = 0; i < q->n; i++) {
        size_t j = hash_bytes(q->buf + q->off[i], q->len[i] * sizeof(uint32_t)) & (nslots - 1);
        while (q->slots[j]) j = (j + 1) & (nslots - 1);
        q->slots[j] = (uint32_t)(i + 1);
    }
}

static uint32_t seqs_intern(sp_model_seqs_t *q, const uint32_t *v, uint32_t len)
{
    if (q->nslots == 0 || (q->n + 1) * 10 > q->nslots * 7) seqs_rehash(q, q->nslots ? q->nslots * 2 : 256);
    size_t bytes = len * sizeof *v;
    size_t j = hash_bytes(v, bytes) & (q->nslots - 1);
    for (; q->slots[j]; j = (j + 1) & (q->nslots - 1)) {
        size_t k = q->slots[j] - 1;
        if (q->len[k] == len && memcmp(q->buf + q->off[k], v, bytes) == 0) return (uint32_t)k;
    }
    size_t cap = q->cap;
    SP_GROW(q->off, cap, q->n + 1);
    SP_GROW(q->len, q->cap, q->n + 1);
    SP_GROW(q->buf, q->bufcap, q->nbuf + len);
    memcpy(q->buf + q->nbuf, v, bytes);
    q->off[q->n] = q->nbuf;
    q->len[q->n] = len;
    q->nbuf += len;
    q->slots[j] = (uint32_t)(q->n + 1);
    return (uint32_t)q->n++;
}

static void seqs_free(sp_model_seqs_t *q)
{
    sp_mem_free(q->buf);
    sp_mem_free(q->off);
    sp_mem_free(q->len);
    sp_mem_free(q->slots);
}

/* ---- threads, names ---- */

static uint32_t thread_intern(sp_model_t *m, const char *tid, const char *name)
{
    for (size_t i = 0; i < m->nthreads; i++) {
        sp_model_thread_t *th = &m->threads[i];
        if (strcmp(th->id, tid) != 0) continue;
        if (!th->name && name) th->name = sp_cli_strdup(name);
        return (uint32_t)i;
    }
    SP_GROW(m->threads, m->tcap, m->nthreads + 1);
    m->threads[m->nthreads] = (sp_model_thread_t){.id = sp_cli_strdup(tid), .name = name ? sp_cli_strdup(name) : NULL};
    return (uint32_t)m->nthreads++;
}

static int32_t name_intern(sp_model_t *m, const char *s)
{
    if (!m->txnindex) m->txnindex = json_object();
    json_t *v = json_object_get(m->txnindex, s);
    if (v) return (int32_t)json_integer_value(v);
    SP_GROW(m->txnnames, m->txnncap, m->ntxnnames + 1);
    m->txnnames[m->ntxnnames] = sp_cli_strdup(s);
    json_object_set_new(m->txnindex, s, json_integer((json_int_t)m->ntxnnames));
    return (int32_t)m->ntxnnames++;
}

static int32_t pid_intern(sp_model_t *m, const char *pid)
{
    for (size_t i = 0; i < m->pids.n; i++)
        if (strcmp(m->pids.v[i], pid) == 0) return (int32_t)i;
    sp_cli_strvec_push(&m->pids, sp_cli_strdup(pid));
    return (int32_t)(m->pids.n - 1);
}

static const char *thread_id(const json_t *v, char *buf, size_t len)
{
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return NULL;
}

/* ---- times ---- */

/* "2026-11-24T19:42:16.000Z" (or +hh:mm) -> ns since the epoch */
static bool parse_iso(const char *s, int64_t *ns)
{
    struct tm tm = {0};
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &n) != 6 || n == 0)
        return false;
    const char *p = s + n;
    double frac = 0;
    if (*p == '.') {
        char *end;
        frac = strtod(p, &end);
        p = end;
    }
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2) return false;
        off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    }
    if (*p) return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || !(frac >= 0 && frac < 1)) return false;
    /* A year far out of range (the fuzzer's -30171673064 s) must not overflow the ns. */
    int64_t whole, total;
    if (__builtin_mul_overflow((int64_t)t - off, 1000000000LL, &whole) ||
        __builtin_add_overflow(whole, (int64_t)llround(frac * 1e9), &total))
        return false;
    *ns = total;
    return true;
}

static bool json_num(const json_t *v, double *out)
{
    if (json_is_number(v)) *out = json_number_value(v);
    else if (json_is_string(v) && *json_string_value(v)) {
        char *end;
        *out = strtod(json_string_value(v), &end);
        if (*end) return false;
    } else return false;
    return isfinite(*out);
}

bool sp_model_parse_since(const char *s, int64_t *ns)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end != s && !errno && isfinite(v) && v >= 0) {
        double unit = 0;
        if (!*end) { /* unix seconds */
            *ns = (int64_t)llround(v * 1e9);
            return true;
        }
        if (!end[1]) unit = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : *end == 'd' ? 86400 : 0;
        if (unit > 0 && end - s <= 12) {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            *ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec - (int64_t)llround(v * unit * 1e9);
            return true;
        }
    }
    return parse_iso(s, ns);
}

int sp_model_filter_arg(sp_model_filter_t *f, const char *cmd, int argc, char **argv, int *i)
{
    static const char *const opts[] = {"--thread", "--transaction", "--since"};
    const char *a = argv[*i];
    if (strcmp(a, "--js-only") == 0) {
        f->js_only = true;
        return 1;
    }
    for (size_t k = 0; k < sizeof opts / sizeof *opts; k++) {
        size_t ol = strlen(opts[k]);
        if (strncmp(a, opts[k], ol) != 0 || (a[ol] && a[ol] != '=')) continue;
        const char *v = a[ol] ? a + ol + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
        if (!v || !*v) {
            sp_cli_bad_usage("%s: %s needs a %s", cmd, opts[k],
                             k == 0 ? "thread id" : k == 1 ? "transaction name" : "time");
            return -1;
        }
        if (k == 0) f->thread = v;
        else if (k == 1) f->transaction = v;
        else if (!sp_model_parse_since(v, &f->since_ns)) {
            sp_cli_bad_usage("%s: --since takes a duration (30s, 10m, 2h, 1d), unix seconds or an ISO 8601 time, got '%s'",
                             cmd, v);
            return -1;
        } else {
            f->has_since = true;
        }
        return 1;
    }
    return 0;
}

/* ---- items ---- */

/* Adds one profile payload (v1 or v2). The whole item is checked first, so a bad item adds
 * nothing. 0, or -1 with *why set. */
/* Every stack's frame indices and every sample's stack_id and thread_id are valid: 0, or
 * -1 with why. */
static int check_refs(const json_t *stacks, const json_t *samples, size_t nfr, char *why, size_t whylen)
{
    size_t nst = json_array_size(stacks);
    char buf[32];
    for (size_t s = 0; s < nst; s++) {
        const json_t *st = json_array_get(stacks, s);
        if (!json_is_array(st)) {
            snprintf(why, whylen, "stack %zu is not an array", s);
            return -1;
        }
        for (size_t k = 0; k < json_array_size(st); k++) {
            const json_t *f = json_array_get(st, k);
            if (!json_is_integer(f) || json_integer_value(f) < 0 || (uint64_t)json_integer_value(f) >= nfr) {
                snprintf(why, whylen, "stack %zu has a bad frame index", s);
                return -1;
            }
        }
    }
    for (size_t i = 0; i < json_array_size(samples); i++) {
        const json_t *sa = json_array_get(samples, i);
        const json_t *sid = json_object_get(sa, "stack_id");
        if (!json_is_integer(sid) || json_integer_value(sid) < 0 || (uint64_t)json_integer_value(sid) >= nst) {
            snprintf(why, whylen, "sample %zu has a bad stack_id", i);
            return -1;
        }
        if (!thread_id(json_object_get(sa, "thread_id"), buf, sizeof buf)) {
            snprintf(why, whylen, "sample %zu has no thread_id", i);
            return -1;
        }
    }
    return 0;
}

/* The item's stacks as the model's stacks and line sequences (gstack/glines, per stack). */
static void intern_stacks(sp_model_t *m, const json_t *stacks, const uint32_t *fid, const long *line,
                          uint32_t *gstack, uint32_t *glines)
{
    uint32_t *ids = NULL, *lns = NULL;
    size_t idcap = 0, lncap = 0;
    for (size_t s = 0; s < json_array_size(stacks); s++) {
        const json_t *st = json_array_get(stacks, s);
        uint32_t len = (uint32_t)json_array_size(st);
        SP_GROW(ids, idcap, len + 1);
        SP_GROW(lns, lncap, len + 1);
        for (uint32_t k = 0; k < len; k++) { /* JSON: leaf first; ours: root first */
            json_int_t fr = json_integer_value(json_array_get(st, k));
            ids[len - 1 - k] = fid[fr];
            lns[len - 1 - k] = line[fr] >= 0 ? (uint32_t)line[fr] : SP_MODEL_NO_LINE;
        }
        if (len == 0) {
            ids[len] = fn_intern(m, SP_MODEL_PSEUDO, "(idle)", "");
            lns[len++] = SP_MODEL_NO_LINE;
        }
        gstack[s] = stack_intern(m, ids, len);
        glines[s] = seqs_intern(&m->linestacks, lns, len);
    }
    sp_mem_free(ids);
    sp_mem_free(lns);
}

/* The item's samples into the model: thread, stack, lines, transaction (v1) or profiler
 * (v2), and time. */
static void add_samples(sp_model_t *m, const json_t *payload, bool v1, const uint32_t *gstack,
                        const uint32_t *glines)
{
    const json_t *prof = json_object_get(payload, "profile");
    const json_t *samples = json_object_get(prof, "samples");
    const json_t *meta = json_object_get(prof, "thread_metadata");
    int64_t base = 0;
    bool has_base = v1 && parse_iso(sp_cli_json_str(payload, "timestamp") ? sp_cli_json_str(payload, "timestamp") : "", &base);
    (void)has_base; /* without it v1 times count from 0: still a timeline, never --since material */
    int32_t txn = -1, pid = -1;
    if (v1) {
        const char *tn = sp_cli_json_str(json_object_get(payload, "transaction"), "name");
        if (tn) txn = name_intern(m, tn);
    } else {
        const char *p = sp_cli_json_str(payload, "profiler_id");
        if (p) pid = pid_intern(m, p);
    }
    char buf[32];
    for (size_t i = 0; i < json_array_size(samples); i++) {
        const json_t *sa = json_array_get(samples, i);
        const char *tid = thread_id(json_object_get(sa, "thread_id"), buf, sizeof buf);
        double t;
        sp_model_sample_t smp = {
            .thread = thread_intern(m, tid, sp_cli_json_str(json_object_get(meta, tid), "name")),
            .stack = gstack[json_integer_value(json_object_get(sa, "stack_id"))],
            .lines = glines[json_integer_value(json_object_get(sa, "stack_id"))],
            .txn = txn,
        };
        if (json_num(json_object_get(sa, v1 ? "elapsed_since_start_ns" : "timestamp"), &t)) {
            smp.has_time = true;
            smp.time_ns = v1 ? base + (int64_t)llround(t) : (int64_t)llround(t * 1e9);
        }
        size_t cap = m->allcap;
        SP_GROW(m->all_pid, cap, m->nall + 1);
        SP_GROW(m->all, m->allcap, m->nall + 1);
        m->all_pid[m->nall] = pid;
        m->all[m->nall++] = smp;
    }
}

static int model_add(sp_model_t *m, const json_t *payload, bool v1, char *why, size_t whylen)
{
    const json_t *prof = json_object_get(payload, "profile");
    const json_t *samples = json_object_get(prof, "samples");
    const json_t *stacks = json_object_get(prof, "stacks");
    const json_t *frames = json_object_get(prof, "frames");
    if (!json_is_object(payload) || !json_is_object(prof)) {
        snprintf(why, whylen, "no \"profile\" object");
        return -1;
    }
    if (!json_is_array(samples) || !json_is_array(stacks) || !json_is_array(frames)) {
        snprintf(why, whylen, "profile lacks samples, stacks or frames arrays");
        return -1;
    }
    size_t nfr = json_array_size(frames), nst = json_array_size(stacks);
    uint32_t *fid = sp_cli_calloc(nfr ? nfr : 1, sizeof *fid);
    bool *nat = sp_cli_calloc(nfr ? nfr : 1, sizeof *nat);
    long *line = sp_cli_calloc(nfr ? nfr : 1, sizeof *line);
    long *col = sp_cli_calloc(nfr ? nfr : 1, sizeof *col);
    uint32_t *gstack = sp_cli_calloc(nst ? nst : 1, sizeof *gstack);
    uint32_t *glines = sp_cli_calloc(nst ? nst : 1, sizeof *glines);
    int rc = -1;

    for (size_t i = 0; i < nfr; i++) {
        if (frame_fn(m, json_array_get(frames, i), &nat[i], &line[i], &col[i], &fid[i]) < 0) {
            snprintf(why, whylen, "frame %zu is not an object", i);
            goto out;
        }
    }
    if (check_refs(stacks, samples, nfr, why, whylen) < 0) goto out;

    /* valid: from here on the item counts */
    for (size_t i = 0; i < nfr; i++) {
        sp_model_fn_t *f = &m->fn[fid[i]];
        if (line[i] >= 0 && (f->line < 0 || line[i] < f->line)) {
            f->line = line[i];
            f->col = col[i];
        }
    }
    intern_stacks(m, stacks, fid, line, gstack, glines);
    add_samples(m, payload, v1, gstack, glines);
    m->items++;
    rc = 0;
out:
    sp_mem_free(fid);
    sp_mem_free(nat);
    sp_mem_free(line);
    sp_mem_free(col);
    sp_mem_free(gstack);
    sp_mem_free(glines);
    return rc;
}

/* A transaction event of a continuous profile: its window, for the samples of that profiler. */
static void model_txn_event(sp_model_t *m, const json_t *ev)
{
    const char *name = sp_cli_json_str(ev, "transaction");
    const char *pid = sp_cli_json_str(json_object_get(json_object_get(ev, "contexts"), "profile"), "profiler_id");
    double start, end;
    if (!name || !pid || !json_num(json_object_get(ev, "start_timestamp"), &start) ||
        !json_num(json_object_get(ev, "timestamp"), &end) || end < start)
        return;
    SP_GROW(m->txns, m->txncap, m->ntxns + 1);
    m->txns[m->ntxns++] = (sp_model_txn_t){.name = name_intern(m, name), .profiler_id = sp_cli_strdup(pid),
                                           .start_ns = (int64_t)llround(start * 1e9),
                                           .end_ns = (int64_t)llround(end * 1e9)};
}

typedef struct {
    sp_model_t *m;
    const char *path;
    size_t read;
} file_ctx_t;

static int model_envelope(const sp_envelope_parsed_t *env, const char *bad, size_t index, size_t len, void *arg)
{
    (void)len;
    file_ctx_t *fc = arg;
    char where[64] = "", why[256];
    if (sp_spool_run_is_batch(fc->path)) snprintf(where, sizeof where, " envelope %zu", index);
    if (!env) {
        sp_cli_progress_clear();
        sp_cli_err("skipping %s%s: %s", fc->path, where, bad);
        return 0;
    }
    for (size_t i = 0; i < env->count; i++) {
        const char *type = sp_cli_item_type(env, i);
        bool txn = strcmp(type, "transaction") == 0;
        if (!sp_cli_is_profile(type) && !txn) continue;
        json_t *payload = sp_envelope_item_json(env, i);
        if (txn) {
            if (payload) model_txn_event(fc->m, payload);
        } else if (!payload) {
            sp_cli_progress_clear();
            sp_cli_err("skipping %s%s: item %zu (%s): payload is not valid JSON", fc->path, where, i, type);
        } else if (model_add(fc->m, payload, strcmp(type, "profile") == 0, why, sizeof why) < 0) {
            sp_cli_progress_clear();
            sp_cli_err("skipping %s%s: item %zu (%s): %s", fc->path, where, i, type, why);
        } else {
            fc->read++;
        }
        json_decref(payload);
    }
    return 0;
}

static size_t model_file(sp_model_t *m, const char *path)
{
    file_ctx_t fc = {m, path, 0};
    char why[256];
    long n = sp_cli_each_envelope(path, model_envelope, &fc, why, sizeof why);
    if (n < 0 || why[0]) {
        sp_cli_progress_clear();
        sp_cli_err("%s %s: %s", n < 0 ? "skipping" : "reading", path, why);
    }
    if (fc.read) m->files++;
    return fc.read;
}

long sp_model_load(sp_model_t *m, const sp_cli_strvec_t *paths)
{
    char dir[PATH_MAX];
    const char *def[1];
    const char *const *pv = (const char *const *)paths->v;
    size_t np = paths->n;
    if (np == 0) {
        if (!sp_cli_default_spool_checked(dir, sizeof dir)) return -1;
        def[0] = dir;
        pv = def;
        np = 1;
    }
    sp_cli_strvec_t files = {0};
    for (size_t i = 0; i < np; i++) {
        struct stat st;
        if (stat(pv[i], &st) != 0) {
            sp_cli_err("skipping %s: %s", pv[i], strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            size_t before = files.n;
            int e = sp_cli_collect_dir(&files, pv[i], 0);
            if (e < 0) sp_cli_err("skipping %s: %s", pv[i], strerror(-e));
            else if (files.n == before)
                sp_cli_err("skipping %s: no *%s or *%s files", pv[i], SP_SPOOL_SUFFIX, SP_BATCH_SUFFIX);
        } else {
            /* A file named on the command line: the user's choice, links included (the
             * reader itself never follows one). */
            char *real = realpath(pv[i], NULL);
            sp_cli_strvec_push(&files, sp_cli_strdup(real ? real : pv[i]));
            free(real);
        }
    }
    sp_cli_progress_begin("reading", files.n, files.n >= SP_MODEL_PROGRESS_FILES);
    long items = 0;
    for (size_t j = 0; j < files.n; j++) {
        sp_cli_progress(j, NULL);
        items += (long)model_file(m, files.v[j]);
    }
    sp_cli_progress(files.n, NULL);
    sp_cli_progress_end();
    sp_cli_strvec_free(&files);
    return items;
}

/* ---- selection ---- */

/* The innermost (latest-starting) transaction of the sample's profiler holding its time;
 * want >= 0: only one with that name. -1 if none. txns are sorted by start: a binary
 * search finds the last that starts by then, and the walk back ends where no earlier one
 * lasts that long (txn_maxend), so short, mostly disjoint requests cost a few steps. */
static int32_t txn_of(const sp_model_t *m, size_t i, int32_t want)
{
    const sp_model_sample_t *s = &m->all[i];
    if (m->all_pid[i] < 0 || !s->has_time || m->ntxns == 0) return -1;
    const char *pid = m->pids.v[m->all_pid[i]];
    size_t lo = 0, hi = m->ntxns; /* first index starting after the sample */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->txns[mid].start_ns <= s->time_ns) lo = mid + 1;
        else hi = mid;
    }
    for (size_t k = lo; k-- > 0 && m->txn_maxend[k] >= s->time_ns;) {
        const sp_model_txn_t *t = &m->txns[k];
        if (t->end_ns < s->time_ns || strcmp(t->profiler_id, pid) != 0) continue;
        if (want >= 0 && t->name != want) continue;
        return (int32_t)k;
    }
    return -1;
}

static int cmp_txn(const void *a, const void *b)
{
    const sp_model_txn_t *x = a, *y = b;
    return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

static uint32_t js_only_stack(sp_model_t *m, uint32_t stack)
{
    uint32_t len;
    const uint32_t *src = sp_model_stack(m, stack, &len);
    uint32_t *ids = sp_cli_calloc(len + 1, sizeof *ids);
    uint32_t n = 0;
    for (uint32_t k = 0; k < len; k++) {
        sp_model_kind_t kind = m->fn[src[k]].kind;
        if (kind != SP_MODEL_NATIVE && kind != SP_MODEL_ADDR) ids[n++] = src[k];
    }
    if (n == 0) ids[n++] = fn_intern(m, SP_MODEL_PSEUDO, "(native)", "");
    uint32_t r = stack_intern(m, ids, n);
    sp_mem_free(ids);
    return r;
}

/* The line stack matching js_only_stack(stack): the lines of the frames it keeps. */
static uint32_t js_only_lines(sp_model_t *m, uint32_t stack, uint32_t lines)
{
    uint32_t len, llen;
    const uint32_t *src = sp_model_stack(m, stack, &len);
    const uint32_t *ln = sp_model_lines(m, lines, &llen);
    uint32_t *v = sp_cli_calloc(len + 1, sizeof *v);
    uint32_t n = 0;
    for (uint32_t k = 0; k < len && k < llen; k++) {
        sp_model_kind_t kind = m->fn[src[k]].kind;
        if (kind != SP_MODEL_NATIVE && kind != SP_MODEL_ADDR) v[n++] = ln[k];
    }
    if (n == 0) v[n++] = SP_MODEL_NO_LINE;
    uint32_t r = seqs_intern(&m->linestacks, v, n);
    sp_mem_free(v);
    return r;
}

size_t sp_model_select(sp_model_t *m, const sp_model_filter_t *f)
{
    static const sp_model_filter_t none;
    if (!f) f = &none;
    int32_t want_name = -2; /* the interned name to match; -1: a name no transaction has */
    if (f->transaction) {
        json_t *v = m->txnindex ? json_object_get(m->txnindex, f->transaction) : NULL;
        want_name = v ? (int32_t)json_integer_value(v) : -1;
    }
    if (m->ntxns && !m->txn_maxend) {
        qsort(m->txns, m->ntxns, sizeof *m->txns, cmp_txn);
        m->txn_maxend = sp_cli_calloc(m->ntxns, sizeof *m->txn_maxend);
        for (size_t k = 0; k < m->ntxns; k++)
            m->txn_maxend[k] = k && m->txn_maxend[k - 1] > m->txns[k].end_ns ? m->txn_maxend[k - 1] : m->txns[k].end_ns;
    }
    size_t nstacks0 = m->nstacks;
    uint32_t *remap = NULL;
    if (f->js_only) {
        remap = sp_cli_calloc(nstacks0 ? nstacks0 : 1, sizeof *remap);
        for (size_t k = 0; k < nstacks0; k++) remap[k] = UINT32_MAX;
    }
    sp_mem_free(m->thread_used);
    m->thread_used = sp_cli_calloc(m->nthreads ? m->nthreads : 1, sizeof *m->thread_used);
    m->nsamples = 0;
    for (size_t i = 0; i < m->nall; i++) {
        sp_model_sample_t s = m->all[i];
        if (f->thread && strcmp(m->threads[s.thread].id, f->thread) != 0) continue;
        if (f->has_since && (!s.has_time || s.time_ns < f->since_ns)) continue;
        if (m->all_pid[i] >= 0) {
            /* the transaction shown is the innermost; a filter matches any holding the time */
            int32_t k = txn_of(m, i, -1);
            s.txn = k >= 0 ? m->txns[k].name : -1;
            if (f->transaction && (want_name < 0 || txn_of(m, i, want_name) < 0)) continue;
        } else if (f->transaction && (s.txn < 0 || s.txn != want_name)) {
            continue;
        }
        if (remap) {
            s.lines = js_only_lines(m, s.stack, s.lines);
            if (remap[s.stack] == UINT32_MAX) remap[s.stack] = js_only_stack(m, s.stack);
            s.stack = remap[s.stack];
        }
        SP_GROW(m->samples, m->scap, m->nsamples + 1);
        m->samples[m->nsamples++] = s;
        m->thread_used[s.thread] = true;
    }
    sp_mem_free(remap);
    /* by thread, then time: a stable merge sort, so samples without a time (or with equal
     * times) keep file order */
    if (m->nsamples > 1) {
        sp_model_sample_t *tmp = sp_cli_calloc(m->nsamples, sizeof *tmp);
        for (size_t w = 1; w < m->nsamples; w *= 2) {
            for (size_t lo = 0; lo < m->nsamples; lo += 2 * w) {
                size_t mid = lo + w < m->nsamples ? lo + w : m->nsamples;
                size_t hi = lo + 2 * w < m->nsamples ? lo + 2 * w : m->nsamples;
                size_t a = lo, b = mid, o = lo;
                while (a < mid && b < hi) {
                    const sp_model_sample_t *x = &m->samples[a], *y = &m->samples[b];
                    bool take_b = y->thread < x->thread ||
                                  (y->thread == x->thread && x->has_time && y->has_time && y->time_ns < x->time_ns);
                    tmp[o++] = take_b ? m->samples[b++] : m->samples[a++];
                }
                while (a < mid) tmp[o++] = m->samples[a++];
                while (b < hi) tmp[o++] = m->samples[b++];
            }
            memcpy(m->samples, tmp, m->nsamples * sizeof *tmp);
        }
        sp_mem_free(tmp);
    }
    return m->nsamples;
}

void sp_model_counts(const sp_model_t *m, uint64_t **self_out, uint64_t **total_out)
{
    uint64_t *self = sp_cli_calloc(m->nfn ? m->nfn : 1, sizeof *self);
    uint64_t *total = sp_cli_calloc(m->nfn ? m->nfn : 1, sizeof *total);
    uint64_t *weight = sp_cli_calloc(m->nstacks ? m->nstacks : 1, sizeof *weight);
    uint64_t *stamp = sp_cli_calloc(m->nfn ? m->nfn : 1, sizeof *stamp);
    for (size_t i = 0; i < m->nsamples; i++) weight[m->samples[i].stack]++;
    uint64_t st = 0;
    for (uint32_t s = 0; s < m->nstacks; s++) {
        if (!weight[s]) continue;
        uint32_t len;
        const uint32_t *ids = sp_model_stack(m, s, &len);
        st++;
        for (uint32_t k = 0; k < len; k++) {
            if (stamp[ids[k]] != st) total[ids[k]] += weight[s]; /* recursion counts once */
            stamp[ids[k]] = st;
        }
        if (len) self[ids[len - 1]] += weight[s];
    }
    sp_mem_free(weight);
    sp_mem_free(stamp);
    *self_out = self;
    *total_out = total;
}

/* ---- call tree ---- */

static uint64_t node_key(uint32_t parent, uint32_t fn) { return (uint64_t)parent << 32 | fn; }

static void tree_rehash(sp_model_tree_t *t, size_t nslots)
{
    sp_mem_free(t->slots);
    t->slots = sp_cli_calloc(nslots, sizeof *t->slots);
    t->nslots = nslots;
    for (size_t i = 1; i < t->n; i++) {
        uint64_t k = node_key(t->node[i].parent, t->node[i].fn);
        size_t j = hash_bytes(&k, sizeof k) & (nslots - 1);
        while (t->slots[j]) j = (j + 1) & (nslots - 1);
        t->slots[j] = (uint32_t)(i + 1);
    }
}

static uint32_t tree_child(sp_model_tree_t *t, uint32_t parent, uint32_t fn)
{
    if (t->nslots == 0 || (t->n + 1) * 10 > t->nslots * 7) tree_rehash(t, t->nslots ? t->nslots * 2 : 256);
    uint64_t k = node_key(parent, fn);
    size_t j = hash_bytes(&k, sizeof k) & (t->nslots - 1);
    for (; t->slots[j]; j = (j + 1) & (t->nslots - 1)) {
        const sp_model_node_t *nd = &t->node[t->slots[j] - 1];
        if (nd->parent == parent && nd->fn == fn) return t->slots[j] - 1;
    }
    SP_GROW(t->node, t->cap, t->n + 1);
    sp_model_node_t *p = &t->node[parent];
    t->node[t->n] = (sp_model_node_t){.fn = fn, .parent = parent, .depth = p->depth + 1,
                                      .first_child = UINT32_MAX, .next_sibling = p->first_child};
    p->first_child = (uint32_t)t->n;
    t->slots[j] = (uint32_t)(t->n + 1);
    return (uint32_t)t->n++;
}

void sp_model_tree(const sp_model_t *m, long thread, bool reverse, sp_model_tree_t *t)
{
    *t = (sp_model_tree_t){0};
    SP_GROW(t->node, t->cap, 1);
    t->node[0] = (sp_model_node_t){.fn = UINT32_MAX, .parent = UINT32_MAX, .first_child = UINT32_MAX,
                                   .next_sibling = UINT32_MAX};
    t->n = 1;
    t->sample_node = sp_cli_calloc(m->nsamples ? m->nsamples : 1, sizeof *t->sample_node);
    for (size_t i = 0; i < m->nsamples; i++) {
        const sp_model_sample_t *s = &m->samples[i];
        t->sample_node[i] = UINT32_MAX;
        if (thread >= 0 && s->thread != (uint32_t)thread) continue;
        uint32_t len;
        const uint32_t *ids = sp_model_stack(m, s->stack, &len);
        uint32_t at = 0;
        t->node[0].total++;
        for (uint32_t k = 0; k < len; k++) {
            at = tree_child(t, at, ids[reverse ? len - 1 - k : k]);
            t->node[at].total++;
        }
        t->node[at].self++;
        t->sample_node[i] = at;
    }
}

static int (*tree_cmp)(uint32_t, uint32_t, void *);
static void *tree_cmp_arg;
static const sp_model_node_t *tree_nodes;

static int cmp_node(const void *a, const void *b)
{
    return tree_cmp(tree_nodes[*(const uint32_t *)a].fn, tree_nodes[*(const uint32_t *)b].fn, tree_cmp_arg);
}

void sp_model_tree_sort(sp_model_tree_t *t, int (*cmp)(uint32_t fa, uint32_t fb, void *arg), void *arg)
{
    uint32_t *kids = NULL;
    size_t cap = 0;
    tree_cmp = cmp;
    tree_cmp_arg = arg;
    tree_nodes = t->node;
    for (size_t i = 0; i < t->n; i++) {
        size_t n = 0;
        for (uint32_t c = t->node[i].first_child; c != UINT32_MAX; c = t->node[c].next_sibling) {
            SP_GROW(kids, cap, n + 1);
            kids[n++] = c;
        }
        if (n < 2) continue;
        qsort(kids, n, sizeof *kids, cmp_node);
        t->node[i].first_child = kids[0];
        for (size_t k = 0; k < n; k++) t->node[kids[k]].next_sibling = k + 1 < n ? kids[k + 1] : UINT32_MAX;
    }
    sp_mem_free(kids);
}

void sp_model_tree_free(sp_model_tree_t *t)
{
    sp_mem_free(t->node);
    sp_mem_free(t->slots);
    sp_mem_free(t->sample_node);
    *t = (sp_model_tree_t){0};
}

void sp_cli_model_no_samples(const sp_model_filter_t *f)
{
    sp_cli_err("no samples%s%s%s%s%s", f->thread ? " for thread " : "", f->thread ? f->thread : "",
               f->transaction ? " in transaction " : "", f->transaction ? f->transaction : "",
               f->has_since ? " since the given time" : "");
}

int sp_model_load_selected(sp_model_t *m, const sp_cli_strvec_t *paths, const sp_model_filter_t *f)
{
    long items = sp_model_load(m, paths);
    if (items <= 0) {
        if (items == 0) sp_cli_err("no profiles could be read");
        return -1;
    }
    if (sp_model_select(m, f) == 0) {
        sp_cli_model_no_samples(f);
        return -1;
    }
    return 0;
}

/* ---- labels ---- */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

char *sp_model_short_path(const sp_model_fn_t *f, const char *cwd)
{
    if (f->kind == SP_MODEL_PSEUDO || !*f->path) return sp_cli_strdup("");
    if (f->kind != SP_MODEL_JS) return sp_cli_strdup(base_name(f->path));
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
    return sp_cli_strdup(p);
}

char *sp_model_label(const sp_model_fn_t *f, const char *cwd)
{
    if (f->kind == SP_MODEL_PSEUDO) return sp_cli_strdup(f->name);
    char *p = sp_model_short_path(f, cwd);
    char *r;
    if (f->kind != SP_MODEL_JS) {
        const char *pre = f->kind == SP_MODEL_NATIVE ? "[native] " : "";
        r = *p ? sp_cli_printf("%s%s (%s)", pre, f->name, p) : sp_cli_printf("%s%s", pre, f->name);
    } else if (!*p) {
        r = sp_cli_strdup(f->name);
    } else if (f->line >= 0) {
        r = sp_cli_printf("%s (%s:%ld)", f->name, p, f->line);
    } else {
        r = sp_cli_printf("%s (%s)", f->name, p);
    }
    sp_mem_free(p);
    return r;
}

void sp_model_free(sp_model_t *m)
{
    for (size_t i = 0; i < m->nfn; i++) {
        sp_mem_free(m->fn[i].key);
        sp_mem_free(m->fn[i].name);
        sp_mem_free(m->fn[i].path);
    }
    for (size_t i = 0; i < m->nthreads; i++) {
        sp_mem_free(m->threads[i].id);
        sp_mem_free(m->threads[i].name);
    }
    for (size_t i = 0; i < m->ntxnnames; i++) sp_mem_free(m->txnnames[i]);
    for (size_t i = 0; i < m->ntxns; i++) sp_mem_free(m->txns[i].profiler_id);
    json_decref(m->txnindex);
    sp_mem_free(m->txn_maxend);
    sp_mem_free(m->fn);
    sp_mem_free(m->fnslots);
    sp_mem_free(m->stackbuf);
    sp_mem_free(m->stackoff);
    sp_mem_free(m->stacklen);
    sp_mem_free(m->stackslots);
    seqs_free(&m->linestacks);
    sp_mem_free(m->threads);
    sp_mem_free(m->txnnames);
    sp_mem_free(m->txns);
    sp_mem_free(m->all);
    sp_mem_free(m->all_pid);
    sp_cli_strvec_free(&m->pids);
    sp_mem_free(m->samples);
    sp_mem_free(m->thread_used);
    *m = (sp_model_t){0};
}
