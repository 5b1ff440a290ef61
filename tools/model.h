/* model: the one reader of spooled profiles for the CLI (top, convert, flame). Loads
 * profile items (profile_chunk: sample format v2; profile: v1) from envelope files and
 * batches into samples: thread, time in ns (unix epoch), transaction name when known, and
 * a stack of interned functions root -> leaf. Functions are keyed by (kind, name, file or
 * module), never by frame index (indices are per chunk). Each item is checked whole before
 * it adds anything, so a bad item is one warning line and changes no number.
 * Single-threaded; memory through sp_mem (exits on out of memory, like the rest of the CLI).
 */
#ifndef SP_MODEL_H
#define SP_MODEL_H

#include "cli.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SP_MODEL_JS,      /* a JS function (file, line) */
    SP_MODEL_NATIVE,  /* a native symbol (module) */
    SP_MODEL_ADDR,    /* a native frame known only by its address */
    SP_MODEL_PSEUDO,  /* "(idle)": empty stack; "(native)": only native frames, --js-only */
} sp_model_kind_t;

typedef struct {
    char *key;  /* "<kind>\x1f<name>\x1f<path>" */
    char *name;
    char *path; /* JS: the file as written in the frame; native: the module */
    sp_model_kind_t kind;
    bool builtin; /* native code of V8 (Builtins_*, bytecode handlers) */
    long line;    /* smallest lineno seen, -1 if none (each frame's own: sample.lines) */
    long col;     /* colno of the frame with that line, -1 if none */
} sp_model_fn_t;

typedef struct {
    char *id, *name; /* name from thread_metadata, or NULL */
} sp_model_thread_t;

/* Interned sequences of uint32 (the line stacks). */
typedef struct {
    uint32_t *buf; /* sequence k: buf[off[k] .. + len[k]) */
    size_t nbuf, bufcap;
    size_t *off;
    uint32_t *len;
    size_t n, cap;
    uint32_t *slots; /* open addressing: 0 empty, else index + 1 */
    size_t nslots;
} sp_model_seqs_t;

#define SP_MODEL_NO_LINE UINT32_MAX /* a frame without a line in a line stack */

typedef struct {
    uint32_t thread; /* index into threads */
    uint32_t stack;  /* index into stacks */
    uint32_t lines;  /* index into linestacks: each frame's own line, as stack (SP_MODEL_NO_LINE: none) */
    int32_t txn;     /* index into txns, -1 when not known */
    bool has_time;
    int64_t time_ns; /* unix epoch ns */
} sp_model_sample_t;

typedef struct {
    char *profiler_id; /* a transaction of a continuous profile (its event) */
    int32_t name;      /* index into txnnames */
    int64_t start_ns, end_ns;
} sp_model_txn_t;

/* What a caller keeps (all optional). */
typedef struct {
    const char *thread;      /* a thread id */
    const char *transaction; /* a transaction name */
    bool has_since;
    int64_t since_ns; /* samples at or after this time only */
    bool js_only;     /* native frames dropped; a stack of only native frames is "(native)" */
} sp_model_filter_t;

typedef struct {
    sp_model_fn_t *fn;
    size_t nfn, fncap;
    uint32_t *fnslots; /* open addressing: 0 empty, else index + 1 */
    size_t nfnslots;

    uint32_t *stackbuf; /* stack k: stackbuf[stackoff[k] .. + stacklen[k]), function ids root -> leaf */
    size_t nbuf, bufcap;
    size_t *stackoff;
    uint32_t *stacklen;
    size_t nstacks, stackcap;
    uint32_t *stackslots;
    size_t nstackslots;

    sp_model_seqs_t linestacks; /* per frame of a sample's stack: the line of that frame */

    sp_model_thread_t *threads;
    size_t nthreads, tcap;
    char **txnnames; /* interned transaction names */
    size_t ntxnnames, txnncap;
    json_t *txnindex; /* name -> index into txnnames */
    sp_model_txn_t *txns; /* continuous-profile transaction events, by start once selected */
    size_t ntxns, txncap;
    int64_t *txn_maxend; /* txn_maxend[k]: the latest end among txns[0..k] */

    sp_model_sample_t *all; /* every sample read, in file order */
    size_t nall, allcap;
    int32_t *all_pid; /* per sample: index of its chunk's profiler_id in pids, or -1 */
    sp_cli_strvec_t pids;

    sp_model_sample_t *samples; /* what sp_model_select kept, time order within each thread */
    size_t nsamples, scap;
    bool *thread_used; /* per thread: has a selected sample */

    uint64_t items, files; /* profile items and files read (before any filter) */
} sp_model_t;

#define SP_MODEL_PROGRESS_FILES 50 /* a progress line on a terminal from this many files on */

/* Reads FILE|DIR paths (a directory: sp_cli_collect_dir; none: the default spool). Bad
 * files and items are one "sentryprof: skipping ..." line each. Returns the number of
 * profile items read, or -1 after an error line (the default spool path too long).
 * With SP_MODEL_PROGRESS_FILES files or more and stderr a terminal, a progress line
 * ("reading N/M files", rewritten in place) that is gone when it returns. */
long sp_model_load(sp_model_t *m, const sp_cli_strvec_t *paths);
/* Fills m->samples with the samples that pass f, in thread then time order (file order for
 * samples without a time). Returns how many. */
size_t sp_model_select(sp_model_t *m, const sp_model_filter_t *f);
void sp_model_free(sp_model_t *m);

/* The lines of a sample's frames (sample.lines), aligned with its stack. */
static inline const uint32_t *sp_model_lines(const sp_model_t *m, uint32_t lines, uint32_t *len)
{
    *len = m->linestacks.len[lines];
    return m->linestacks.buf + m->linestacks.off[lines];
}
/* Function id of the stack's frames; leaf is the last. */
static inline const uint32_t *sp_model_stack(const sp_model_t *m, uint32_t stack, uint32_t *len)
{
    *len = m->stacklen[stack];
    return m->stackbuf + m->stackoff[stack];
}
/* "name (file:line)" with a short file (relative to cwd if under it, else its last two
 * components), "[native] name (module)", "0x7f... (module)", pseudo functions as is.
 * A new sp_mem string. */
char *sp_model_label(const sp_model_fn_t *f, const char *cwd);
/* The file shortened the way the label does ("" if none). A new sp_mem string. */
char *sp_model_short_path(const sp_model_fn_t *f, const char *cwd);
/* Self (leaf) and total (anywhere on the stack, once per sample) counts per function over
 * the selected samples: two new arrays of m->nfn. */
void sp_model_counts(const sp_model_t *m, uint64_t **self, uint64_t **total);

/* Parses --since: a duration before now ("90s", "10m", "2h", "1d"), unix seconds
 * ("1795549336.5") or an ISO 8601 UTC time ("2026-11-25T19:00:00Z"). */
bool sp_model_parse_since(const char *s, int64_t *ns);
/* Parses the shared filter options at argv[*i]: --thread, --transaction, --since, --js-only
 * (as "--opt V" or "--opt=V"). 1: consumed (maybe argv[*i+1] too), 0: not a filter option,
 * -1: bad value (a usage line is printed, cmd names the command). */
int sp_model_filter_arg(sp_model_filter_t *f, const char *cmd, int argc, char **argv, int *i);

/* A call tree of the selected samples: node 0 is the root (fn UINT32_MAX); a node's
 * children are the functions called under it (reverse: its callers, leaves at the top). */
typedef struct {
    uint32_t fn, parent, depth;
    uint32_t first_child, next_sibling; /* UINT32_MAX: none; children sorted by label on request */
    uint64_t total, self;
} sp_model_node_t;

typedef struct {
    sp_model_node_t *node;
    size_t n, cap;
    uint32_t *slots; /* (parent, fn) -> node + 1 */
    size_t nslots;
    uint32_t *sample_node; /* per selected sample in the tree: its leaf node (reverse: root frame), else UINT32_MAX */
} sp_model_tree_t;

/* Builds the tree of the selected samples of thread (index into m->threads; -1: all). */
void sp_model_tree(const sp_model_t *m, long thread, bool reverse, sp_model_tree_t *t);
/* Orders every node's children by cmp of their function ids. */
void sp_model_tree_sort(sp_model_tree_t *t, int (*cmp)(uint32_t fa, uint32_t fb, void *arg), void *arg);
void sp_model_tree_free(sp_model_tree_t *t);

/* One line on stderr saying no sample passed the filter f. */
void sp_cli_model_no_samples(const sp_model_filter_t *f);
/* sp_model_load then sp_model_select, for the commands that need at least one sample: 0, or
 * -1 after one error line (nothing readable, or nothing passed the filter). */
int sp_model_load_selected(sp_model_t *m, const sp_cli_strvec_t *paths, const sp_model_filter_t *f);

/* top.c, for the commands that print its table too. */
typedef struct {
    const char *label; /* sp_model_label */
    uint64_t self, total;
} sp_cli_top_row_t;
typedef enum { SP_CLI_TOP_BY_FUNCTION, SP_CLI_TOP_BY_FILE, SP_CLI_TOP_BY_PACKAGE, SP_CLI_TOP_BY_LINE } sp_cli_top_by_t;
/* Rows with samples, hottest first (by self or total): one per function label, JS file or
 * native module, package (under node_modules/, "(node)", "(app)"), or function and line
 * of the frame ("name (file:line)" with each frame's own line). Returns how many. */
size_t sp_cli_top_rows(const sp_model_t *m, bool by_total, sp_cli_top_by_t by, sp_cli_top_row_t **rows);
void sp_cli_top_rows_free(sp_cli_top_row_t *rows, size_t n);
/* " 0 (main), 1 (worker)\n": the threads with selected samples, numeric ids in order. */
void sp_cli_top_threads(const sp_model_t *m, FILE *out);

#endif
