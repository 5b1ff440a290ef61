/* export: what the profile exports (convert.c, flame.c) share: output files written beside
 * their final name and renamed into place, thread display names. Single-threaded.
 */
#ifndef SP_EXPORT_H
#define SP_EXPORT_H

#include "model.h"

#include <stdbool.h>
#include <stdio.h>

/* Opens a temporary file beside path ("-": stdout). NULL after an error line. */
FILE *sp_export_open(const char *path, char **tmp);
/* Closes f; ok and written: renamed to path, 0. Else removed, -1 (an error line if the
 * write itself failed). Frees tmp. */
int sp_export_close(FILE *f, const char *path, char *tmp, bool ok);
/* "thread 0 (main)" or "thread 7": a new sp_mem string. */
char *sp_export_thread_name(const sp_model_t *m, uint32_t thread);

/* The median gap between consecutive timed samples [lo, hi) of one thread (m->samples); 0
 * if there is none. */
int64_t sp_export_interval(const sp_model_t *m, size_t lo, size_t hi);
/* --to pprof (pprof.c): gzipped profile.proto. false on a write error. */
bool sp_export_pprof(const sp_model_t *m, FILE *out);

/* The flame graph SVG of m's selected samples written to path (run --open). 0, or -1
 * after an error line. */
int sp_export_flame_file(const sp_model_t *m, const char *path, const char *title);

int sp_cli_convert(int argc, char **argv); /* convert.c */
int sp_cli_flame(int argc, char **argv);   /* flame.c */

#endif
