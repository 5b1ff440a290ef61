/* preload internals: what the three files of the library's front share.
 *   preload.c    the constructor (the "run here?" decision, NODE_OPTIONS), engine start and
 *                stop, fork, exit
 *   interpose.c  fopen/fopen64: the two files V8 opens (perf map, isolate log)
 *   napi.c       the N-API module the JS helper binds (the helper's only way in)
 * Nothing here is exported but through SP_EXPORT (preload/exports.map). */
#ifndef SP_PRELOAD_H
#define SP_PRELOAD_H

#include <stdbool.h>

#include "config.h"

#define SP_EXPORT __attribute__((visibility("default")))

/* The configuration the constructor loaded (zeroes before, and in a process left out). */
const sp_config_t *sp_preload_config(void);
/* True in the process whose constructor started the engine (not in a fork child). */
bool sp_preload_active(void);
/* A default-fatal signal (fatal.h), on the flush thread: what the destructor would have
 * done, within budget_ms in all (the process dies right after). */
void sp_preload_flush_before_death(int budget_ms);
/* On a JS thread being registered (napi.c): V8's code events of its isolate go to the perf
 * map, when this process writes the map that way (jitlog.h). */
void sp_preload_attach_jit_events(void);
/* Who writes this process's perf map (preload.c says the values). */
const char *sp_preload_perf_map_source(void);

/* interpose.c. Called by the constructor once NODE_OPTIONS is prepared: from here on this
 * pid's perf map is opened by sp_mapfile_open (own_perf_map: we asked V8 for it, so it is
 * removed at exit unless kept). node_options: as the process got it (a V8 log the user
 * asked for there is left where V8 puts it). */
void sp_interpose_prepare(bool own_perf_map, bool keep_perf_map, const char *node_options);
/* The engine runs in this pid: isolate logs we caused go to a temporary file. */
void sp_interpose_engine_started(void);

#endif
