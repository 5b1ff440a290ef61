/* agent: the background thread that turns raw samples into profiles on disk: drains the
 * ring, symbolizes, accumulates the current chunk, re-commits it to the spool every
 * commit_seconds (a SIGTERM'd node runs no destructor: docs/HAZARDS.md §5) and starts a new
 * chunk every chunk_seconds. It never runs JS, starts with every signal blocked and is
 * never sampled. */
#ifndef SP_AGENT_H
#define SP_AGENT_H

#include <stdbool.h>
#include <time.h>

#include "config.h"
#include "ring.h"

typedef struct {
    const sp_config_t *cfg;
    sp_ring_t *ring;
    const char *perf_map_path; /* NULL: no JS symbols */
    bool remove_perf_map;      /* unlink the perf map at stop (we asked V8 for it) */
    time_t process_start;
    int tick_ms; /* how often the ring is drained; 0: every 100 ms (tests set a long one) */
} sp_agent_opts_t;

/* Starts the thread. 0 or a negative errno. */
int sp_agent_start(const sp_agent_opts_t *opts);
/* Drains what is left, spools every finished transaction, commits the open chunk and
 * joins, waiting at most timeout_ms. When that is not enough, the agent spools nothing more
 * and one line says how many finished transactions were dropped (issue #20 item 5). */
void sp_agent_stop(int timeout_ms);
/* node's version ("20.20.2") for the profiles' runtime block; from the JS helper. */
void sp_agent_set_runtime(const char *node_version);
/* JS side of the SDK integration: the v1 profile built for transaction event_id. Returns
 * 1 and *json (an sp_mem string, or NULL when it had too few samples) once ready, 0 while
 * not ready (or unknown). The caller frees *json with sp_mem_free. */
int sp_agent_take_profile(const char *event_id, char **json);
/* Makes the agent run its next pass now (a JS caller is waiting for a profile). */
void sp_agent_wake(void);
/* A transaction started: ends the agent's idle tick (one futex call, only when idle).
 * to_js: its v1 profile goes back to JS (an SDK's): samples are retained for it in
 * continuous mode too. */
void sp_agent_txn_started(bool to_js);
/* Starts/stops continuous profiling (chunks) from a JS thread: an app's Sentry SDK decides
 * (transaction profiles, profileLifecycle, startProfiler/stopProfiler). Stopping closes the
 * open chunk (published for upload), or drops it when discard_uncommitted and it never
 * reached the spool. Returns the previous state. */
bool sp_agent_set_continuous(bool on, bool discard_uncommitted);
bool sp_agent_continuous(void);
/* This process's profiler_id (32 hex): the continuous profile transactions point to. */
const char *sp_agent_profiler_id(void);
/* Release, environment and SDK name/version an app's Sentry SDK uses: they replace the
 * environment's values (SENTRY_RELEASE, SENTRY_ENVIRONMENT) from the agent's next pass on.
 * Empty strings keep what is there. */
void sp_agent_set_sdk(const char *release, const char *environment, const char *sdk_name,
                      const char *sdk_version, const char *sdk_package);
/* The app's directory (dirname of node's main script, from the JS helper): JS frames get
 * `module` names relative to it, as @sentry/node names the same frames in error events.
 * Applied from the agent's next pass on; frames already symbolized are resolved again. */
void sp_agent_set_module_base(const char *dir);
/* CPU time the agent thread has used (its thread CPU clock), ns. */
uint64_t sp_agent_cpu_ns(void);
/* Bytes of V8's perf map the agent had not read yet at its last pass (a worker storm can
 * write faster than one pass reads): samples of that code are named once it catches up. */
uint64_t sp_agent_perf_map_behind(void);
/* A JS thread whose environment is being torn down (it has stopped being sampled): waits up
 * to timeout_ms for the agent to take its last samples out of the ring while its isolate
 * still exists. The agent reads V8's objects to name JS frames; once node disposes of the
 * isolate (the main thread's natural exit, a worker's end) those reads fail and the last
 * ~60 ms of samples kept only a nameless interpreter frame. Not on the agent thread.
 * true: the agent made the two passes in time (or has stopped); false: timed out, or not
 * running. The passes follow each other without the agent's tick between them. */
bool sp_agent_drain_wait(int timeout_ms);
/* In a fork child: the thread does not exist there; forget it without touching its state. */
void sp_agent_atfork_child(void);

#endif
