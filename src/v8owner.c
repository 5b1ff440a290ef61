/* v8owner: owns the table bytecode address -> SFI (v8owner.h says what fills it and why).
 * A set-associative table: a key hashes to a set of SP_V8OWNER_WAYS slots, each slot three
 * words (key, SFI, time). Claiming an empty slot is a compare-and-swap on its key, so two
 * isolates never take the same one; replacing a key in a full set is two plain stores, and a
 * race there can pair one writer's key with another's SFI: the reader checks every answer
 * against the heap (v8decode.c, decode_owner), so such a pair names nothing. No allocation
 * after init. The time is stored before the SFI and the SFI before a key it goes with, so
 * a reader that sees an SFI sees a time no older than it (a newer SFI with an older time
 * would let a sample take a name made after it). */
#include "v8owner.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#define SP_V8OWNER_SETS 4096 /* x 4 ways = 16,384 entries, 384 KiB */
#define SP_V8OWNER_WAYS 4

typedef struct {
    _Atomic uint64_t key, sfi, ns;
} owner_slot_t;

static struct {
    pthread_once_t once;
    owner_slot_t *slots; /* SP_V8OWNER_SETS * SP_V8OWNER_WAYS, NULL until init */
    _Atomic uint64_t added, moved, evicted;
} O = {.once = PTHREAD_ONCE_INIT};

static void map_table(void)
{
    /* Anonymous pages: zero, touched only as entries land; not the agent's arena, since JS
     * threads write it from inside V8. */
    void *p = mmap(NULL, sizeof(owner_slot_t) * SP_V8OWNER_SETS * SP_V8OWNER_WAYS,
                   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) O.slots = p;
}

bool sp_v8owner_init(void)
{
    pthread_once(&O.once, map_table);
    return O.slots != NULL;
}

/* Bytecode addresses come in runs a few words apart: mixed (MurmurHash3's finalizer) before
 * their low bits pick a set, or runs crowd some sets and leave others empty. */
static owner_slot_t *set_of(uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return &O.slots[(key & (SP_V8OWNER_SETS - 1)) * SP_V8OWNER_WAYS];
}

static void fill(owner_slot_t *s, uint64_t sfi, uint64_t ns)
{
    atomic_store_explicit(&s->ns, ns, memory_order_relaxed);
    atomic_store_explicit(&s->sfi, sfi, memory_order_release);
}

static void put(uint64_t key, uint64_t sfi, uint64_t ns)
{
    owner_slot_t *set = set_of(key);
    for (int i = 0; i < SP_V8OWNER_WAYS; i++)
        if (atomic_load_explicit(&set[i].key, memory_order_relaxed) == key) {
            fill(&set[i], sfi, ns);
            return;
        }
    for (int i = 0; i < SP_V8OWNER_WAYS; i++) {
        uint64_t empty = 0;
        /* Claimed by its key; until the SFI lands, a reader sees the slot's last SFI, which
         * the check turns down (it owns other bytecode). */
        if (atomic_compare_exchange_strong_explicit(&set[i].key, &empty, key, memory_order_relaxed,
                                                    memory_order_relaxed)) {
            fill(&set[i], sfi, ns);
            return;
        }
    }
    /* A full set: the way the key's own bits pick, so that what survives is spread. */
    owner_slot_t *s = &set[(key >> 4) & (SP_V8OWNER_WAYS - 1)];
    atomic_fetch_add_explicit(&O.evicted, 1, memory_order_relaxed);
    fill(s, sfi, ns);
    atomic_store_explicit(&s->key, key, memory_order_release);
}

void sp_v8owner_add(uint64_t bytecode, uint64_t sfi, uint64_t ns)
{
    if (!O.slots || !bytecode || !sfi) return;
    put(bytecode, sfi, ns);
    atomic_fetch_add_explicit(&O.added, 1, memory_order_relaxed);
}

static owner_slot_t *find(uint64_t key)
{
    owner_slot_t *set = set_of(key);
    for (int i = 0; i < SP_V8OWNER_WAYS; i++)
        if (atomic_load_explicit(&set[i].key, memory_order_acquire) == key) return &set[i];
    return NULL;
}

void sp_v8owner_move(uint64_t from, uint64_t to, uint64_t ns)
{
    if (!O.slots || !from || !to || from == to) return;
    owner_slot_t *s = find(from);
    if (!s) return;
    uint64_t sfi = atomic_load_explicit(&s->sfi, memory_order_relaxed);
    atomic_store_explicit(&s->key, 0, memory_order_relaxed);
    put(to, sfi, ns);
    atomic_fetch_add_explicit(&O.moved, 1, memory_order_relaxed);
}

uint64_t sp_v8owner_find(uint64_t bytecode, uint64_t ns)
{
    if (!O.slots || !bytecode) return 0;
    owner_slot_t *s = find(bytecode);
    if (!s) return 0;
    uint64_t sfi = atomic_load_explicit(&s->sfi, memory_order_acquire);
    return atomic_load_explicit(&s->ns, memory_order_relaxed) <= ns ? sfi : 0;
}

void sp_v8owner_counts(uint64_t *added, uint64_t *moved, uint64_t *evicted, uint64_t *bytes)
{
    *added = atomic_load(&O.added);
    *moved = atomic_load(&O.moved);
    *evicted = atomic_load(&O.evicted);
    *bytes = O.slots ? sizeof(owner_slot_t) * SP_V8OWNER_SETS * SP_V8OWNER_WAYS : 0;
}

void sp_v8owner_clear(void)
{
    if (O.slots) memset(O.slots, 0, sizeof(owner_slot_t) * SP_V8OWNER_SETS * SP_V8OWNER_WAYS);
    atomic_store(&O.added, 0);
    atomic_store(&O.moved, 0);
    atomic_store(&O.evicted, 0);
}
