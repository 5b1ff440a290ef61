/* ring: owns the sample cells. Called from the signal handler (reserve, publish):
 * async-signal-safe only: no allocation, no locks, a bounded number of CAS retries.
 * The consumer (pop) is the agent thread; pop is also safe with several consumers.
 * Memory ordering: a cell's seq is the hand-off; producers store it with release after
 * writing the sample, consumers load it with acquire before reading. The seqs live in
 * their own array: the cells (5.4 KiB each) are then not written until first used, so a
 * process that takes few samples (node -e 0) faults in only the first 128, which the agent
 * does ahead of the handler (sp_ring_prefault), never the whole ring. */
#include "ring.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"

#define SP_RING_PREFAULT_CELLS  128 /* cells faulted in ahead of the handler (~0.7 MiB) */
#define SP_RING_PREFAULT_STACKS 32  /* stack-copy slots ahead (256 KiB) */

#define SP_RING_CAS_TRIES 64 /* contention bound before a producer gives up (drop) */
#define SP_RING_STACK_TRIES 4 /* stack slots tried before a sample goes without a copy */

struct sp_ring {
    size_t mask;
    _Alignas(64) _Atomic uint64_t head; /* next cell to reserve */
    _Alignas(64) _Atomic uint64_t tail; /* next cell to pop */
    _Atomic uint64_t *seq;              /* per cell: the hand-off (see the top) */
    sp_sample_t *cells;                 /* not zeroed: a cell is written before it is read */
    /* The stack-copy pool (ring.h): SP_STACK_COPY bytes per slot, not zeroed (untouched
     * pages cost no RSS); a slot is claimed by CAS on its flag and freed by the pop that
     * copies it out. Claims go round in order, and pops free slots in about that order,
     * so the slot after the last claimed is the one most likely free. */
    uint8_t *stacks;
    _Atomic uint32_t *stack_taken;
    size_t stack_mask;
    _Alignas(64) _Atomic uint64_t stack_next;
    size_t cells_faulted, stacks_faulted; /* sp_ring_prefault's progress (agent thread) */
};

sp_ring_t *sp_ring_new(size_t capacity)
{
    size_t cap = 2;
    while (cap < capacity) cap <<= 1;
    sp_ring_t *r = sp_mem_calloc(1, sizeof *r);
    if (!r) return NULL;
    r->seq = sp_mem_alloc(cap * sizeof *r->seq);
    r->cells = sp_mem_alloc(cap * sizeof *r->cells);
    size_t nstacks = cap / SP_RING_STACK_SHARE ? cap / SP_RING_STACK_SHARE : 1;
    r->stacks = sp_mem_alloc(nstacks * SP_STACK_COPY);
    r->stack_taken = sp_mem_calloc(nstacks, sizeof *r->stack_taken);
    if (!r->seq || !r->cells || !r->stacks || !r->stack_taken) {
        sp_ring_free(r);
        return NULL;
    }
    r->mask = cap - 1;
    r->stack_mask = nstacks - 1;
    for (size_t i = 0; i < cap; i++) atomic_init(&r->seq[i], i);
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return r;
}

void sp_ring_prefault(sp_ring_t *ring)
{
    if (!ring) return;
    /* Cells and slots are used in order, round the ring: the next ones are those the
     * handler will touch first. Once every one was used (a lap), nothing is left to do. */
    size_t ncells = ring->mask + 1, nstacks = ring->stack_mask + 1;
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    uint64_t next = atomic_load_explicit(&ring->stack_next, memory_order_relaxed);
    size_t cells =
        head + SP_RING_PREFAULT_CELLS < ncells ? (size_t)head + SP_RING_PREFAULT_CELLS : ncells;
    size_t stacks =
        next + SP_RING_PREFAULT_STACKS < nstacks ? (size_t)next + SP_RING_PREFAULT_STACKS : nstacks;
    if (cells <= ring->cells_faulted && stacks <= ring->stacks_faulted) return;
    if (cells > ring->cells_faulted) {
        sp_mem_populate(ring->cells + ring->cells_faulted,
                        (cells - ring->cells_faulted) * sizeof *ring->cells);
        ring->cells_faulted = cells;
    }
    if (stacks > ring->stacks_faulted) {
        sp_mem_populate(ring->stacks + ring->stacks_faulted * SP_STACK_COPY,
                        (stacks - ring->stacks_faulted) * SP_STACK_COPY);
        ring->stacks_faulted = stacks;
    }
}

void sp_ring_free(sp_ring_t *ring)
{
    if (!ring) return;
    sp_mem_free(ring->stacks);
    sp_mem_free(ring->stack_taken);
    sp_mem_free(ring->cells);
    sp_mem_free(ring->seq);
    sp_mem_free(ring);
}

size_t sp_ring_capacity(const sp_ring_t *ring) { return ring->mask + 1; }

sp_sample_t *sp_ring_reserve(sp_ring_t *ring, uint64_t *ticket)
{
    uint64_t pos = atomic_load_explicit(&ring->head, memory_order_relaxed);
    for (int tries = 0; tries < SP_RING_CAS_TRIES; tries++) {
        uint64_t seq = atomic_load_explicit(&ring->seq[pos & ring->mask], memory_order_acquire);
        int64_t dif = (int64_t)(seq - pos);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&ring->head, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed)) {
                *ticket = pos;
                sp_sample_t *c = &ring->cells[pos & ring->mask];
                c->stack_slot = 0; /* the pop frees the slot a cell names: never a stale one */
                c->stack_len = 0;
                return c;
            }
        } else if (dif < 0) {
            return NULL; /* full: the consumer has not freed this cell yet */
        } else {
            pos = atomic_load_explicit(&ring->head, memory_order_relaxed);
        }
    }
    return NULL;
}

void sp_ring_publish(sp_ring_t *ring, uint64_t ticket)
{
    atomic_store_explicit(&ring->seq[ticket & ring->mask], ticket + 1, memory_order_release);
}

uint8_t *sp_ring_stack(sp_ring_t *ring, sp_sample_t *cell)
{
    for (int tries = 0; tries < SP_RING_STACK_TRIES; tries++) {
        size_t i = atomic_fetch_add_explicit(&ring->stack_next, 1, memory_order_relaxed) & ring->stack_mask;
        uint32_t free_ = 0;
        /* acquire: the pop that freed the slot has finished reading it */
        if (atomic_compare_exchange_strong_explicit(&ring->stack_taken[i], &free_, 1,
                                                    memory_order_acquire, memory_order_relaxed)) {
            cell->stack_slot = (uint16_t)(i + 1);
            return ring->stacks + i * SP_STACK_COPY;
        }
    }
    return NULL;
}

bool sp_ring_idle(const sp_ring_t *ring)
{
    return atomic_load_explicit(&ring->head, memory_order_acquire) ==
           atomic_load_explicit(&ring->tail, memory_order_acquire);
}

bool sp_ring_pop(sp_ring_t *ring, sp_sample_t *out) { return sp_ring_pop_stack(ring, out, NULL); }

bool sp_ring_pop_stack(sp_ring_t *ring, sp_sample_t *out, uint8_t *stack)
{
    uint64_t pos = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    for (;;) {
        const sp_sample_t *c = &ring->cells[pos & ring->mask];
        uint64_t seq = atomic_load_explicit(&ring->seq[pos & ring->mask], memory_order_acquire);
        int64_t dif = (int64_t)(seq - (pos + 1));
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&ring->tail, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed)) {
                /* Copy only the used parts of the slot records and of the frame array. */
                size_t n = c->nframes <= SP_MAX_FRAMES ? c->nframes : SP_MAX_FRAMES;
                size_t nv8 = c->nv8 <= SP_V8_MAX_FRAMES ? c->nv8 : SP_V8_MAX_FRAMES;
                memcpy(out, c, offsetof(sp_sample_t, pcs));
                memcpy(out->pcs, c->pcs, n * sizeof(uint64_t));
                memcpy(out->v8, c->v8, nv8 * sizeof(sp_v8_slots_t));
                out->nframes = (uint16_t)n;
                out->nv8 = (uint16_t)nv8;
                size_t slot = out->stack_slot;
                size_t len = slot && slot <= ring->stack_mask + 1 && out->stack_len <= SP_STACK_COPY
                                 ? out->stack_len
                                 : 0;
                if (stack && len) memcpy(stack, ring->stacks + (slot - 1) * SP_STACK_COPY, len);
                out->stack_len = stack ? (uint16_t)len : 0;
                out->stack_slot = 0;
                /* release: the copy above is done before a producer can claim the slot */
                if (slot && slot <= ring->stack_mask + 1)
                    atomic_store_explicit(&ring->stack_taken[slot - 1], 0, memory_order_release);
                atomic_store_explicit(&ring->seq[pos & ring->mask], pos + ring->mask + 1, memory_order_release);
                return true;
            }
        } else if (dif < 0) {
            return false; /* empty, or the next cell is reserved but not yet published */
        } else {
            pos = atomic_load_explicit(&ring->tail, memory_order_relaxed);
        }
    }
}
