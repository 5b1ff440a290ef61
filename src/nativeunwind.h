/* nativeunwind: recovers the callers of a native leaf without frame pointers (glibc,
 * libstdc++, addons) from the stack top the handler copied, with libunwind's remote API over
 * the loaded objects' .eh_frame, and joins them to the frame-pointer walk of the sample.
 * Agent thread only. */
#ifndef SP_NATIVEUNWIND_H
#define SP_NATIVEUNWIND_H

#include <stdbool.h>
#include <stdint.h>

#include "ring.h"

typedef struct sp_nativeunwind sp_nativeunwind_t;

/* Reads the loaded objects and publishes the ranges the handler copies the stack for
 * (sp_unwind_set_nofp). NULL when out of memory (then no copies are made). */
sp_nativeunwind_t *sp_nativeunwind_new(void);
/* Stops the copies and frees. */
void sp_nativeunwind_free(sp_nativeunwind_t *nu);
/* Rereads the loaded objects when the loader loaded or unloaded one since (cheap otherwise;
 * nothing for nu NULL). Call before a batch of samples. */
void sp_nativeunwind_refresh(sp_nativeunwind_t *nu);
/* When s carries a stack copy (s->stack_len bytes at stack) and its leaf is native code with
 * unwind info: replaces the leaf end of s->pcs by the frames unwound from the copy, joined
 * to the frame-pointer walk (the V8 slot records move with their frames). True when s
 * changed. Counts SP_STAT_NATIVE_*. */
bool sp_nativeunwind_apply(sp_nativeunwind_t *nu, sp_sample_t *s, const uint8_t *stack);

#endif
