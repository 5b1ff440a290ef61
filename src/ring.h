/* ring: a bounded lock-free multi-producer queue of fixed-size sample records (Vyukov's
 * sequence-numbered cells). Producers are signal handlers on sampled threads: they reserve
 * a cell, write the sample in place and publish it; a full ring drops the sample (the
 * caller counts it), never blocks. The consumer is the agent thread.
 * The record carries raw words besides PCs (the word at the interrupted sp, or arm64's link
 * register) so stack
 * repair can happen off the hot path (docs/HAZARDS.md §9). */
#ifndef SP_RING_H
#define SP_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SP_MAX_FRAMES 128 /* deeper stacks are cut and marked truncated */
/* V8 JS-frame slot records per sample (v8frames): one for every frame a walk can keep, so
 * a deep stack's outer JS frames are decoded too (the TypeScript compiler checking a
 * project averages ~80 JS frames a sample: with 32 records its outer frames fell back to the
 * perf map, or stayed V8's nameless interpreter entry). A cell's records past nv8 are never written or
 * copied, so shallow stacks touch no more memory than before. */
#define SP_V8_MAX_FRAMES SP_MAX_FRAMES
/* Bytes of the stack top (from the interrupted sp up) a sample can carry, for the agent to
 * unwind native code without frame pointers through its .eh_frame (nativeunwind.h): what
 * perf's --call-graph dwarf copies by default. Only samples whose leaf is such code copy
 * (a native leaf outside node's own binary), so the copies come from a pool of their own,
 * a quarter of the ring's cells (SP_RING_STACK_SHARE): a slot per cell would make 8 of
 * every 13 KiB of the ring's memory buffers that JS leaves never use. A sample that finds
 * the pool taken goes without a copy, and is counted. */
#define SP_STACK_COPY 8192
#define SP_RING_STACK_SHARE 4

/* The callee-saved registers of the interrupted context (besides pc, sp and rbp): what
 * .eh_frame rules may need to restore a caller's frame. */
enum { SP_REG_RBX, SP_REG_R12, SP_REG_R13, SP_REG_R14, SP_REG_R15, SP_NREGS };
#define SP_MAX_SIGFRAMES 4  /* signal frames walked through per sample (nested handlers) */

enum {
    SP_SAMPLE_TRUNCATED = 1u << 0, /* walk stopped early: depth limit or bad frame pointer */
    SP_SAMPLE_OFF_STACK = 1u << 1, /* interrupted sp outside the thread's known stack */
    SP_SAMPLE_SIGFRAME = 1u << 2,  /* walked on through a signal frame (unwind.h) */
    SP_SAMPLE_SIGFRAME_STOP = 1u << 3, /* stopped at a signal frame it could not read */
    SP_SAMPLE_SCANNED = 1u << 4,   /* pcs[1..] follow a frame chain found by scanning the stack
                                      copy (a native leaf's rbp led nowhere): a guess that the
                                      agent keeps only where its unwind meets it */
};

/* The fixed slots of a frame that looked like a V8 interpreted frame (v8frames.h):
 * raw words, decoded off the signal path. frame: the index in pcs whose code runs on
 * that frame (its pc is in V8's interpreter or a builtin it called). */
typedef struct {
    uint16_t frame;
    uint64_t function, bytecode_array, bytecode_offset;
} sp_v8_slots_t;

/* A context another signal handler interrupted, read from the kernel's signal frame
 * (unwind.h): pcs[frame] is the pc it was at plus one (so that, read as a return address
 * like its neighbours, it resolves to the instruction itself), sp and sp_word its stack
 * pointer and the word there (a frameless leaf's return address, as for the sample's own
 * sp_word). */
typedef struct {
    uint16_t frame;
    uint64_t sp, sp_word;
} sp_sig_ctx_t;

typedef struct {
    uint64_t ts_ns;    /* CLOCK_MONOTONIC */
    uint32_t tid;      /* kernel thread id */
    uint16_t nframes;  /* valid entries in pcs */
    uint16_t flags;    /* SP_SAMPLE_* */
    uint64_t sp;       /* interrupted stack pointer */
    uint64_t sp_word;  /* the return address when the leaf has not built its frame record:
                          the word at sp on x86_64, the link register on arm64 (src/arch.h) */
    uint64_t fp;       /* interrupted frame pointer */
    uint16_t stack_len; /* bytes of stack copied from sp (sp_ring_stack): 0 = none */
    uint16_t stack_slot; /* the ring's: the pool slot + 1 holding the copy, 0 = none */
    uint64_t regs[SP_NREGS]; /* SP_REG_*: valid when stack_len > 0 */
    uint16_t nsig;     /* valid entries in sig */
    sp_sig_ctx_t sig[SP_MAX_SIGFRAMES];
    uint16_t nv8;      /* valid entries in v8 */
    /* pcs before v8, v8 last: a sample writes the head of each, and with the 1 KiB of pcs
     * first, a typical one (30 frames, 10 slot records) stays within ~1.5 KiB of the cell's
     * start: one or two pages, not three. In the ring's first lap every cell is a fresh
     * page, faulted in by the signal handler. */
    uint64_t pcs[SP_MAX_FRAMES]; /* leaf first; pcs[0] is the interrupted pc, the rest
                                    are return addresses (or, at sig[].frame, a pc another
                                    signal handler interrupted, plus one) */
    sp_v8_slots_t v8[SP_V8_MAX_FRAMES];
} sp_sample_t;

typedef struct sp_ring sp_ring_t;

/* capacity is rounded up to a power of two (>= 2); the stack pool has a quarter as many
 * slots (at least one). Allocated up front; a cell's pages are touched when it is first
 * used. */
sp_ring_t *sp_ring_new(size_t capacity);
void sp_ring_free(sp_ring_t *ring);
size_t sp_ring_capacity(const sp_ring_t *ring);

/* Producer: a cell to fill, or NULL when full. *ticket must be passed to publish.
 * Async-signal-safe. */
sp_sample_t *sp_ring_reserve(sp_ring_t *ring, uint64_t *ticket);
/* Producer: makes the reserved cell visible to the consumer. Async-signal-safe. */
void sp_ring_publish(sp_ring_t *ring, uint64_t ticket);

/* Producer: SP_STACK_COPY bytes from the pool for the reserved cell, where the handler may
 * copy the stack top (then it sets stack_len); NULL when the pool has no free slot.
 * The slot is the cell's until it is popped. Async-signal-safe, bounded. */
uint8_t *sp_ring_stack(sp_ring_t *ring, sp_sample_t *cell);

/* Whether no cell is reserved or published and not yet popped: nothing in the ring and no
 * producer writing. Any thread. */
bool sp_ring_idle(const sp_ring_t *ring);

/* Faults in the pages of the next cells and stack-copy slots the handler will use (agent
 * thread, each pass; nothing once every one was used): otherwise the handler takes a page
 * fault on each one's first use, 1,024 cells and 256 stack copies, which at 1 kHz made most
 * of its p99 in a 10 s run. Only a little ahead, so a short process does not pay the whole
 * ring's 7 MiB. MADV_POPULATE_WRITE leaves their contents as they are, so a handler
 * writing a cell meanwhile is not disturbed; before Linux 5.14 nothing happens. */
void sp_ring_prefault(sp_ring_t *ring);

/* Consumer: copies the oldest published sample into *out. false when none is ready. */
bool sp_ring_pop(sp_ring_t *ring, sp_sample_t *out);
/* The same, and the sample's stack copy into stack (SP_STACK_COPY bytes); stack NULL: the
 * copy is dropped (out->stack_len = 0). */
bool sp_ring_pop_stack(sp_ring_t *ring, sp_sample_t *out, uint8_t *stack);

#endif
