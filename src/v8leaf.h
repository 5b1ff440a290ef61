/* v8leaf: puts back the caller a frameless leaf hides. A V8 builtin or bytecode handler
 * that has not built a frame (String(i), a regexp's exec, an IC, the interpreter's
 * handlers) runs with rbp still on its caller's frame, so the frame-pointer walk goes from
 * there to the caller's caller and the JS function that called the builtin is lost. Its
 * return address is then the word at the interrupted sp, which the handler records
 * (ring.h: sp_word, and per interrupted context in sig[]); this module inserts it above the
 * leaf when it is a return address into JS code (V8's perf map names it, and a call
 * instruction ends right there) that the walk does not have already. Agent thread only. */
#ifndef SP_V8LEAF_H
#define SP_V8LEAF_H

#include <stdint.h>

#include "ring.h"
#include "symbolize.h"

typedef struct {
    uint64_t leaves;   /* leaves looked at: a V8 builtin with its JS caller not after it */
    uint64_t inserted; /* ... whose JS caller was put back from the word at sp */
    uint64_t no_call;  /* ... whose word at sp named JS code but followed no call */
    uint64_t reads;    /* code reads (system calls) to check for that call */
} sp_v8leaf_stats_t;

/* Rewrites s in place: for the leaf (pcs[0]) and each context another signal handler
 * interrupted (sig[]), inserts the JS caller its word at sp names, when that checks out.
 * Run after sp_v8decode_rewrite (which names interpreted frames from their slots: a leaf it
 * already put its function above is left alone). A full stack loses its root-most frame,
 * marked truncated. */
void sp_v8leaf_repair(sp_sample_t *s, sp_symbolizer_t *sym);

void sp_v8leaf_get_stats(sp_v8leaf_stats_t *out);
void sp_v8leaf_log_stats(void);
/* Forgets the cache of checked return addresses (tests; library unload). */
void sp_v8leaf_reset(void);

#endif
