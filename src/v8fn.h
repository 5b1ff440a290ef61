/* v8fn: the JS functions and frames named from V8's heap, which both decoders produce
 * (v8decode for interpreted frames, v8jit for optimized ones). A SharedFunctionInfo
 * becomes a function (its name, script and definition line; equal functions share one
 * entry), and a function at a line and column becomes a frame; frames are what synthetic
 * addresses index (v8decode.h: SP_V8_SYNTH_BIT). Ids are index + 1, 0 meaning none.
 * Agent thread only. */
#ifndef SP_V8FN_H
#define SP_V8FN_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *function; /* "" for anonymous */
    const char *script;   /* V8's script name as is (file URL, "node:..."), or NULL */
    int lineno, colno;    /* 1-based; the line and column executing in the frame when they
                             decode, else the function's definition; 0: unknown */
} sp_v8fn_t;

/* The function of the SharedFunctionInfo at sfi, whose first 8 words are sfi_head (its
 * map already checked by the caller); *script_out: its Script. 0 when unsure. */
uint32_t sp_v8fn_of_sfi(uint64_t sfi, const uint64_t *sfi_head, uint64_t *script_out);

/* 1-based line and column of script position pos from the script's line ends, or false
 * (V8 has not computed them, or they do not check out). */
bool sp_v8fn_script_line(uint64_t script, int64_t pos, int *line, int *col);

/* The frame of function fn at line:col, or at its definition; 0 when the table is full or
 * out of memory. */
uint32_t sp_v8fn_frame(uint32_t fn, int line, int col);
uint32_t sp_v8fn_def_frame(uint32_t fn);

/* The frame with this id, or NULL (no such frame). */
const sp_v8fn_t *sp_v8fn_frame_of(uint32_t frame);

/* How many functions and frames, and SharedFunctionInfo cache hits. */
void sp_v8fn_counts(uint32_t *nfns, uint32_t *nframes, uint64_t *cache_hits);

/* Forgets every function and frame (frames handed out before are invalid). */
void sp_v8fn_reset(void);

#endif
