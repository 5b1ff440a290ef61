/* v8frames: the signal handler's part of V8 frame decoding. For each frame of the
 * frame-pointer walk it copies the fixed slots V8 keeps below fp in an interpreted frame
 * (JSFunction, BytecodeArray, bytecode offset; offsets from node's v8dbg_off_fp_*
 * constants, set by v8decode before sampling), when they look like one: two tagged heap
 * pointers and a Smi, or a function and a context (an optimized frame). Only stack words inside [lo, hi) are read, never the heap: what the
 * words point to is checked later, off the signal path (v8decode). */
#ifndef SP_V8FRAMES_H
#define SP_V8FRAMES_H

#include <stdatomic.h>
#include <stdint.h>

#include "ring.h"

/* The frame layout the handler needs. Written once by sp_v8decode_init before `on` is
 * set (release); read by the handler after an acquire load of `on`. */
typedef struct {
    _Atomic int on;
    int32_t off_function, off_bytecode_array, off_bytecode_offset; /* fp-relative, < 0 */
    int32_t off_context; /* fp-relative: a context object in JS frames, a Smi in typed ones */
    int32_t lowest, highest;          /* the slot range [fp+lowest, fp+highest+8) */
    uint64_t heap_tag_mask, heap_tag; /* tagged pointer: (w & mask) == tag */
    uint64_t smi_zero_mask;           /* Smi: (w & mask) == 0 (tag and the 32 low bits) */
} sp_v8_frame_layout_t;

extern sp_v8_frame_layout_t sp_v8_frame_layout;

/* Records the slots of the frame at fp as frame index k of s, if they look like a JS
 * frame: a function (tagged pointer) with a BytecodeArray and a Smi offset (interpreted),
 * or with a context object (optimized code; the other two words are then whatever the
 * code spilled there). lo, hi: readable stack range. Async-signal-safe; bounded (four
 * loads). */
void sp_v8frames_capture(sp_sample_t *s, unsigned k, uintptr_t fp, uintptr_t lo, uintptr_t hi);

#endif
