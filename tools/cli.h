/* cli: what the sentryprof tool's commands share: error lines, allocation that ends the
 * tool on failure (a CLI may exit; the library never does), growable arrays, finding and
 * reading envelope files. All memory through sp_mem. Single-threaded (the CLI only).
 */
#ifndef SP_CLI_H
#define SP_CLI_H

#include "config.h"
#include "envelope.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define SP_CLI_TOP_DEFAULT 20 /* rows printed by top without -n */

/* A progress line on stderr, rewritten in place: "sentryprof: WHAT done/total files", or
 * WHAT and fmt's text. Only when want and stderr is a terminal; at most every 100 ms (and
 * at done == total); sp_cli_err erases it first, sp_cli_progress_end at the end. */
void sp_cli_progress_begin(const char *what, size_t total, bool want);
void sp_cli_progress(size_t done, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sp_cli_progress_clear(void);
void sp_cli_progress_end(void);

/* "sentryprof: <message>\n" on stderr (erasing a progress line first). */
void sp_cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* sp_mem allocation; out of memory is one error line and exit(1). */
void *sp_cli_realloc(void *p, size_t n);
void *sp_cli_calloc(size_t count, size_t n);
char *sp_cli_strdup(const char *s);
char *sp_cli_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *sp_cli_grow(void *p, size_t *cap, size_t need, size_t elem);
/* Makes room for need elements in array a of capacity cap. */
#define SP_GROW(a, cap, need) ((a) = sp_cli_grow((a), &(cap), (need), sizeof *(a)))

typedef struct {
    char **v; /* owned strings */
    size_t n, cap;
} sp_cli_strvec_t;

void sp_cli_strvec_push(sp_cli_strvec_t *sv, char *s); /* takes s */
void sp_cli_strvec_free(sp_cli_strvec_t *sv);

/* The string member key of obj, or NULL when missing, not a string or empty. */
const char *sp_cli_json_str(const json_t *obj, const char *key);

/* Appends every *.envelope and *.envelopes (a batch, spool_run.h) in dir, and with depth 0 in
 * its immediate subdirectories (run folders), skipping names that start with '.'; sorted
 * by path. 0 or -errno. */
int sp_cli_collect_dir(sp_cli_strvec_t *out, const char *dir, int depth);

/* Reads and parses one envelope file. 0, or -1 with a reason in why. */
int sp_cli_load_envelope(const char *path, sp_envelope_parsed_t *env, char *why, size_t whylen);
/* Called for each envelope of a spool file: index counts from 0, len is its size in bytes;
 * env is NULL when that envelope does not parse (bad says why). Nonzero stops the walk. */
typedef int (*sp_cli_envelope_fn)(const sp_envelope_parsed_t *env, const char *bad, size_t index,
                                  size_t len, void *arg);
/* Walks a spool file: a single envelope, or each complete envelope of a batch (fn NULL:
 * only counts them). Returns how many were visited, or -1 with a reason in why (unreadable, not an envelope or a batch). A
 * batch that ends in an incomplete record (its writer was killed mid-write) also gets a
 * reason in why, with the complete ones visited. */
long sp_cli_each_envelope(const char *path, sp_cli_envelope_fn fn, void *arg, char *why, size_t whylen);
/* Item i's "type", or "?". */
const char *sp_cli_item_type(const sp_envelope_parsed_t *env, size_t i);
/* profile_chunk (v2) or profile (v1). */
bool sp_cli_is_profile(const char *type);

/* true if list (words separated by any of the characters in seps) holds word. */
bool sp_cli_has_word(const char *list, const char *seps, const char *word);

/* The environment, read once by config's loader (sp_config_load_cli) when main starts
 * the command; warnings only for the variables the command named (sentryprof.c). */
void sp_cli_config_load(const char *const *warn_for);
const sp_config_t *sp_cli_config(void);

/* Default spool directory into buf (config's: SENTRYPROF_SPOOL_DIR or under TMPDIR);
 * false after an error line. */
bool sp_cli_default_spool(char *buf, size_t len);
/* sp_cli_default_spool for the readers (list, top, convert, flame): also refuses, with the
 * library's and upload's warning line, a default spool that is a symlink or another user's
 * (anyone could have put files there for us to read). A missing one passes. */
bool sp_cli_default_spool_checked(char *buf, size_t len);

/* Usage text (sentryprof.c). */
void sp_cli_usage(FILE *out);
/* "sentryprof: <message> (see sentryprof --help)" on stderr; returns exit status 2. */
int sp_cli_bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The commands. Each returns the process exit status. */
int sp_cli_top(int argc, char **argv); /* top.c */
int sp_cli_upload(int argc, char **argv); /* upload.c */
int sp_cli_doctor(int argc, char **argv); /* doctor.c */
int sp_cli_run(int argc, char **argv);    /* run.c */

/* libsentryprof.so for run and doctor: $SENTRYPROF_LIB, next to this executable's build
 * tree or install prefix, SP_LIBDIR (sentryprof.c). 0 with its absolute path in out, or
 * -1 with the reason in why (NULL: printed as an error line). */
int sp_cli_find_lib(char *out, size_t len, char *why, size_t whylen);

#endif
