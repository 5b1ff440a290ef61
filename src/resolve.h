/* resolve: one sample's raw stack (code addresses from the unwinder) -> frame ids of the
 * frame table, leaf first. The stage between the ring and the session:
 *
 *     raw frame --symbolize--> frame --(decode)--> frame(s) --frame table--> ids --> session
 *
 * It remembers what each raw frame resolved to, so an address is symbolized and its frame
 * built once, not once per sample. Background (agent) thread only. */
#ifndef SP_RESOLVE_H
#define SP_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frames.h"
#include "ring.h"
#include "session.h"
#include "symbolize.h"

/* One frame as the unwinder captured it. */
typedef struct {
    uint64_t pc;
    bool return_addr; /* pc is a return address (every frame but the interrupted one) */
} sp_raw_frame_t;

typedef struct sp_resolver sp_resolver_t;

/* sym and ft are borrowed: they outlive the resolver. */
sp_resolver_t *sp_resolver_new(sp_symbolizer_t *sym, sp_frames_t *ft);
void sp_resolver_free(sp_resolver_t *r);

/* The frame ids of sample s's stack into ids (at most cap), leaf first, with a
 * "[truncated]" frame at the root end when the walk was cut short. Returns how many, or -1
 * when out of memory (the sample is lost: the caller counts it). The ids stay valid until
 * the next call (this call may start a new epoch of the frame table, never the next
 * sp_frames_intern). */
long sp_resolver_stack(sp_resolver_t *r, const sp_sample_t *s, uint32_t *ids, size_t cap);

/* A sample's stack as resolved: the frame ids of sp_resolver_stack, usable for that
 * sample while the frame table is in the same epoch (sp_resolver_add_sample checks). */
typedef struct {
    uint32_t epoch;
    long n; /* ids; -1: not resolved (out of memory) */
    uint32_t ids[SP_MAX_FRAMES + 1];
} sp_resolved_t;

/* Counts the JS frames of sample s by where their names come from (stats: js_frames_*,
 * samples_interpreter_unnamed). The agent calls it once per sample it takes from the ring,
 * after the V8 frame decoder's rewrite. The stack's ids go into *out (NULL: not kept), so
 * the sample is not resolved again when it goes into a session. */
void sp_resolver_count(sp_resolver_t *r, const sp_sample_t *s, sp_resolved_t *out);

/* Sample s into session sess: the session's indices of its frames, its stack, and the
 * sample at real_ns (CLOCK_REALTIME) on its thread. pre: s as sp_resolver_count resolved
 * it (NULL, or from another epoch of the frame table: resolved now). 0, or -ENOMEM (the
 * sample is lost). Counted in stats either way (samples_symbolized, drop_agent_oom). */
int sp_resolver_add_sample(sp_resolver_t *r, sp_session_t *sess, const sp_sample_t *s,
                           const sp_resolved_t *pre, uint64_t real_ns);

#endif
