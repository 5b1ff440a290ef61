/* threadscan: SENTRYPROF_THREADS=all: finds the native threads (libuv pool, V8 platform
 * workers) no JS helper registered and registers them with the sampler, and forgets the
 * registered ones that exited. Agent thread only. */
#ifndef SP_THREADSCAN_H
#define SP_THREADSCAN_H

/* One scan of /proc/self/task (the calling thread is never registered). */
void sp_threadscan_run(void);

#endif
