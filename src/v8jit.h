/* v8jit: optimized (Maglev, TurboFan) frames, expanded into the functions inlined in them.
 * The pc's Code object (through its InstructionStream from V8 11 on) gives the source
 * position table and the deoptimization data: its literals are the inlined functions'
 * SharedFunctionInfos and its InliningPositions say where each was inlined; a pc offset
 * then decodes to the function executing (innermost) and the call sites of the functions
 * it was inlined into. Frames come from v8fn. Agent thread only. */
#ifndef SP_V8JIT_H
#define SP_V8JIT_H

#include <stdbool.h>
#include <stdint.h>

#define SP_V8_INL_MAX 32 /* frames one optimized frame expands to; deeper: unsure (a chain of
                           16 one-line functions, tests/bench/decoder-app.js, inlined 12+ deep) */

/* The frames (v8fn ids) of a captured optimized frame: fn as read from its function slot,
 * pc (the interrupted pc or a caller's return address, looked up alike: the position of
 * the instruction before it, as V8's profiler does) in code the perf map places at
 * [start, start + size). Innermost first into out (SP_V8_INL_MAX of them at most); how
 * many, 0 when anything does not check out (the perf map names it). *exact: every frame
 * has the line executing in it. trust_pc: the perf map placed that code there before the
 * sample, so when fn is no JSFunction any more the code pc is in names the frame alone. */
unsigned sp_v8jit_decode(uint64_t fn, uint64_t pc, uint64_t start, uint64_t size, bool trust_pc,
                         uint32_t *out, bool *exact);

/* Code objects read, frames decoded from the (code, pc offset) cache, frames whose
 * JSFunction the GC had moved since the sample (followed), and frames whose JSFunction was
 * gone (named by their code alone). */
void sp_v8jit_counts(uint64_t *code_loads, uint64_t *chain_hits, uint64_t *forwarded,
                     uint64_t *fn_gone);

/* Forgets the Code objects and the cache. */
void sp_v8jit_reset(void);

#endif
