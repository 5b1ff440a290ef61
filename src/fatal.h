/* fatal: the last flush before a default-fatal signal ends the process. `docker stop` and
 * Kubernetes send SIGTERM; a node app with no listener for it dies without running any
 * destructor (docs/HAZARDS.md section 5), so its open chunk, pending transaction profiles and
 * perf map would be left behind. For SIGTERM, SIGINT and SIGHUP whose disposition is the
 * default (SIG_DFL, or node's own "reset the terminal and re-raise" handler for SIGINT and
 * SIGTERM) we install a handler that has our threads flush, waits a bounded time, then puts
 * the previous disposition back and re-raises: the process still dies by the same signal
 * (wait status, exit code 128+n, core dumps unchanged).
 * An app that later adds a listener (process.on('SIGTERM')) gets libuv's handler installed
 * over ours and keeps full control: we never chain into a handler that might not exit. */
#ifndef SP_FATAL_H
#define SP_FATAL_H

#include <stdbool.h>

#define SP_FATAL_SIGTERM 1 /* bits of sp_fatal_arm's mask */
#define SP_FATAL_SIGINT 2
#define SP_FATAL_SIGHUP 4

/* The work done once, on a thread of ours with every signal blocked, when the first such
 * signal arrives: flush within budget_ms (the handler waits at most that, plus a margin). */
typedef void (*sp_fatal_flush_fn)(int budget_ms);

/* Takes over the signals in mask whose current disposition is the default one (see above).
 * Creates the flush thread on first use. Call on a JS thread once node has set up its own
 * signal handling (the main thread's registration), never before main. budget_ms <= 0:
 * nothing is armed. Returns the mask of signals armed. */
int sp_fatal_arm(int mask, int budget_ms, sp_fatal_flush_fn flush);
/* Signals armed now (ours still installed), as a mask. */
int sp_fatal_armed(void);

#endif
