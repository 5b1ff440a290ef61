/* session: the profile being accumulated: deduplicated frames and stacks, and samples
 * (stack, thread, time) of one continuous-profile chunk. Background thread only.
 * Frames and stacks are interned, so a stack seen 1,000 times is stored once. They are
 * kept as the JSON text they will be written as (a frame's text comes from the frame
 * table, built once per frame; a stack is a list of integers): a profile per transaction
 * then costs one copy of that text instead of a tree of JSON objects to build, dump and
 * free. */
#ifndef SP_SESSION_H
#define SP_SESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frames.h"

typedef struct {
    uint32_t stack_id;
    uint32_t thread;  /* index into the session's thread table */
    uint64_t ts_ns;   /* CLOCK_REALTIME nanoseconds */
} sp_session_sample_t;

typedef struct sp_session sp_session_t;

sp_session_t *sp_session_new(void);
void sp_session_free(sp_session_t *s);

/* The session's index of frame id of table ft (its JSON text copied in when new), or -1
 * (out of memory, or an id ft does not hold). A frame's index stays the same for the whole
 * session, even across epochs of ft. */
long sp_session_frame(sp_session_t *s, const sp_frames_t *ft, uint32_t id);
/* Index of the stack of frame indices (leaf first), or -1. */
long sp_session_stack(sp_session_t *s, const uint32_t *frames, size_t n);
/* Appends a sample. thread_id: Sentry's id ("0" main); name for thread_metadata. 0 or -ENOMEM. */
int sp_session_sample(sp_session_t *s, long stack_id, const char *thread_id, const char *name,
                      uint64_t ts_ns);

size_t sp_session_sample_count(const sp_session_t *s);
uint64_t sp_session_first_ns(const sp_session_t *s); /* 0 when empty */

/* Read access for the profile writer, owned by the session. The frames and stacks arrays
 * as JSON text without their brackets ("{...},{...}", "[0,1],[2]"; "" when empty). */
const char *sp_session_frames_text(const sp_session_t *s, size_t *len);
const char *sp_session_stacks_text(const sp_session_t *s, size_t *len);
size_t sp_session_frame_count(const sp_session_t *s);
size_t sp_session_stack_count(const sp_session_t *s);
json_t *sp_session_thread_metadata(const sp_session_t *s); /* {"0": {"name": "main"}} */
/* A thread's id as a JSON string literal, quotes included. */
const char *sp_session_thread_id_json(const sp_session_t *s, uint32_t thread);
const sp_session_sample_t *sp_session_samples(const sp_session_t *s);

#endif
