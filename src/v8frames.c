/* v8frames: the handler-side capture of V8 JS-frame slots (interpreted and optimized). Signal path:
 * async-signal-safe only (stack loads within bounds, no calls); checked by
 * tests/check-signal-safety.sh. The layout is filled in by v8decode (agent side). */
#include "v8frames.h"

#include "arch.h" /* SP_NO_ASAN, sp_arch_stack_word */

sp_v8_frame_layout_t sp_v8_frame_layout;

SP_NO_ASAN void sp_v8frames_capture(sp_sample_t *s, unsigned k, uintptr_t fp, uintptr_t lo, uintptr_t hi)
{
    const sp_v8_frame_layout_t *l = &sp_v8_frame_layout;
    if (!atomic_load_explicit(&sp_v8_frame_layout.on, memory_order_acquire)) return;
    if (s->nv8 >= SP_V8_MAX_FRAMES || k >= SP_MAX_FRAMES || (fp & 7)) return;
    /* fp + lowest must not wrap and the slots must lie on the stack. An optimized leaf with
     * a small frame (TurboFan: context, function, argc and a few spills) has sp above the
     * interpreted frame's BytecodeArray and offset slots: those are then not read (below sp
     * may be unmapped), and the frame is kept when it has a function and a context. */
    if (fp < lo || fp + (uintptr_t)(intptr_t)l->lowest > fp || fp + (uintptr_t)(intptr_t)l->highest + 8 > hi ||
        fp + (uintptr_t)(intptr_t)l->off_function < lo || fp + (uintptr_t)(intptr_t)l->off_context < lo)
        return;
    uint64_t fn = sp_arch_stack_word(fp + (uintptr_t)(intptr_t)l->off_function);
    if ((fn & l->heap_tag_mask) != l->heap_tag) return;
    uint64_t bca = 0, off = 1; /* neither a heap pointer nor a Smi: not interpreted */
    if (fp + (uintptr_t)(intptr_t)l->lowest >= lo) {
        bca = sp_arch_stack_word(fp + (uintptr_t)(intptr_t)l->off_bytecode_array);
        off = sp_arch_stack_word(fp + (uintptr_t)(intptr_t)l->off_bytecode_offset);
    }
    /* Not interpreted-looking: a frame of optimized code (Maglev, TurboFan: the slots below
     * the function are spill slots) keeps a context object where a typed frame keeps a Smi
     * marker. Its pc tells v8decode which kind it is. */
    if (((bca & l->heap_tag_mask) != l->heap_tag || (off & l->smi_zero_mask) != 0) &&
        (sp_arch_stack_word(fp + (uintptr_t)(intptr_t)l->off_context) & l->heap_tag_mask) !=
            l->heap_tag)
        return;
    sp_v8_slots_t *v = &s->v8[s->nv8++];
    v->frame = (uint16_t)k;
    v->function = fn;
    v->bytecode_array = bca;
    v->bytecode_offset = off;
}
