/* v8jit: optimized (Maglev, TurboFan) frames, expanded into the functions inlined in them.
 * The pc's Code object (through its InstructionStream from V8 11 on) gives the source
 * position table and the deoptimization data: its literals are the inlined functions'
 * SharedFunctionInfos and its InliningPositions say where each was inlined; a pc offset
 * then decodes to the function executing (innermost) and the call sites of the functions
 * it was inlined into. Frames come from v8fn. Agent thread only. */
#ifndef SP_V8JIT_H
#define SP_V8JIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "v8heap.h"

#define SP_V8_INL_MAX 32 /* frames one optimized frame expands to; deeper: unsure (a chain of
                           16 one-line functions, tests/bench/decoder-app.js, inlined 12+ deep) */

/* What the check of one optimized frame reads (the Code's position table and
 * deoptimization data words, the JSFunction's SharedFunctionInfo and map word), planned
 * by sp_v8jit_plan so the caller reads it with the rest of a sample in one system call:
 * at the sample's 20-40 frames one 2.4 us system call each was a third of the agent's CPU. */
typedef struct {
    uint64_t code;     /* the Code object the words are read for; 0: nothing planned */
    unsigned n;        /* ranges: the Code's words, then the JSFunction's head */
    uint64_t at[2];    /* where */
    size_t len[2];
    void *into[2];               /* into the words below */
    uint64_t code_words[2];      /* deoptimization data, position table */
    sp_v8heap_fn_head_t fn_head; /* the JSFunction's map word and SFI pointer */
    bool read;         /* set by the caller once every range was read */
} sp_v8jit_pre_t;

/* Plans *pre for an optimized frame: fn as read from its function slot, its code at
 * [start, start + size) (loaded now if not yet). False: nothing to read (the code does not
 * check out; sp_v8jit_decode answers 0 for it). pre must not move before it is used. */
bool sp_v8jit_plan(uint64_t fn, uint64_t start, uint64_t size, sp_v8jit_pre_t *pre);

/* The frames (v8fn ids) of a captured optimized frame: fn as read from its function slot,
 * pc (the interrupted pc or a caller's return address, looked up alike: the position of
 * the instruction before it, as V8's profiler does) in code the perf map places at
 * [start, start + size). Innermost first into out (SP_V8_INL_MAX of them at most); how
 * many, 0 when anything does not check out (the perf map names it). *exact: every frame
 * has the line executing in it. trust_pc: the perf map placed that code there before the
 * sample, so when fn is no JSFunction any more the code pc is in names the frame alone.
 * pre: the words sp_v8jit_plan planned for the same fn and code, read (NULL, or not read:
 * read them now). */
unsigned sp_v8jit_decode(uint64_t fn, uint64_t pc, uint64_t start, uint64_t size, bool trust_pc,
                         const sp_v8jit_pre_t *pre, uint32_t *out, bool *exact);

/* Code objects read, frames decoded from the (code, pc offset) cache, frames whose
 * JSFunction the GC had moved since the sample (followed), and frames whose JSFunction was
 * gone (named by their code alone). */
void sp_v8jit_counts(uint64_t *code_loads, uint64_t *chain_hits, uint64_t *forwarded,
                     uint64_t *fn_gone);

/* Forgets the Code objects and the cache. */
void sp_v8jit_reset(void);

#endif
