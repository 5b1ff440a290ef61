/* session: the profile being accumulated: deduplicated frames and stacks, and samples
 * (stack, thread, time) of one continuous-profile chunk. Background thread only.
 * Frames and stacks are interned, so a stack seen 1,000 times is stored once. They are
 * kept as the JSON text they will be written as (jansson builds each frame object once;
 * a stack is a list of integers): a profile per transaction then costs one copy of that
 * text instead of a tree of JSON objects to build, dump and free. */
#ifndef SP_SESSION_H
#define SP_SESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *function;      /* never NULL ("" for an anonymous JS function) */
    const char *abs_path;      /* script path, or the ELF file of a native frame; may be NULL */
    const char *module;        /* may be NULL */
    int lineno, colno;         /* 0: unknown */
    uint64_t instruction_addr; /* native frames; 0: none */
    bool native;
    bool in_app;
    const char *key;           /* optional: sp_session_frame_key(this), precomputed */
    size_t key_len;
    const char *json;          /* optional: sp_session_frame_json(this) as compact text */
    size_t json_len;
} sp_frame_t;

typedef struct {
    uint32_t stack_id;
    uint32_t thread;  /* index into the session's thread table */
    uint64_t ts_ns;   /* CLOCK_REALTIME nanoseconds */
} sp_session_sample_t;

typedef struct sp_session sp_session_t;

sp_session_t *sp_session_new(void);
void sp_session_free(sp_session_t *s);

/* The identity of f inside a session: every field written out. Returns its length. */
size_t sp_session_frame_key(const sp_frame_t *f, char *key, size_t len);
/* The app's directory (dirname of node's main script): JS modules are named relative to it,
 * as @sentry/node names them ("" or NULL: none known). Agent thread; frames built before
 * keep their names (callers forget cached frames). */
void sp_session_set_module_base(const char *dir);
/* The frame object as written into a profile (new reference), or NULL. */
json_t *sp_session_frame_json(const sp_frame_t *f);
/* Index of frame f (added when new), or -1 (out of memory). */
long sp_session_frame(sp_session_t *s, const sp_frame_t *f);
/* The index of the frame remembered for code address tag (addr << 1 | return_addr), or -1:
 * lets the caller skip symbolizing an address the session has already seen. */
long sp_session_frame_of_addr(const sp_session_t *s, uint64_t tag);
void sp_session_remember_addr(sp_session_t *s, uint64_t tag, long index);
void sp_session_forget_addrs(sp_session_t *s);
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
