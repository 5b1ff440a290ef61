/* jitlog: V8's JIT code events (v8::Isolate::SetJitCodeEventHandler, exported by node on
 * every major) written as perf-map lines, in place of the --perf-basic-prof-only-functions
 * flag. Any non-default V8 flag changes V8's flag hash, which makes V8 reject the code
 * cache node ships for its own JS modules: every internal module is then compiled from
 * source and its cache made anew (+23 ms for a script requiring 24 of node's modules,
 * +3.5 ms for `node -e 0`, on a machine where plain `node -e 0` takes 19 ms). The events
 * need no flag. */
#ifndef SP_JITLOG_H
#define SP_JITLOG_H

#include <stdbool.h>
#include <stdint.h>

/* Whether node exports what the events need (v8::Isolate::GetCurrent and
 * SetJitCodeEventHandler). Any thread, also before main. */
bool sp_jitlog_available(void);

/* Where the lines go: the perf map at path, created on the first attach (mapfile.h:
 * O_EXCL|O_NOFOLLOW, 0600; ours_to_sweep as there). Call once, before any attach. */
void sp_jitlog_init(const char *path, bool ours_to_sweep);

/* On a JS thread whose isolate is entered (an N-API call): has V8 report that isolate's
 * new code to us. 0, or a negative errno (-ENOSYS: not available; -EIO: no map file). */
int sp_jitlog_attach(void);

/* Lines written, events seen (of every kind) and of those CODE_MOVED, for stats. */
void sp_jitlog_counts(uint64_t *lines, uint64_t *events, uint64_t *moves);

#endif
