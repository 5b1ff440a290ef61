/* intern: owns its keys. Linear probing at <= 50% load; sp_intern_hash. Background thread. */
#include "intern.h"

#include <stdint.h>
#include <string.h>

#include "mem.h"

typedef struct {
    uint64_t hash;
    char *key; /* NULL: empty slot */
    size_t len;
    long index;
} slot_t;

struct sp_intern {
    slot_t *slots;
    size_t cap; /* power of two */
    size_t count;
    size_t last; /* slot of the key added last; valid while count > 0 */
};

uint64_t sp_intern_hash(const void *p, size_t n)
{
    /* A word at a time, multiply and fold (one multiply per 8 bytes, where byte-wise
     * FNV-1a took one per byte); the final mix spreads the last word into the low bits
     * the tables index by. */
    const unsigned char *b = p;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
    for (; n >= 8; b += 8, n -= 8) {
        memcpy(&w, b, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    w = 0;
    if (n) memcpy(&w, b, n); /* an empty key may come as NULL */
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

sp_intern_t *sp_intern_new(void)
{
    sp_intern_t *in = sp_mem_calloc(1, sizeof *in);
    if (!in) return NULL;
    in->cap = 256;
    in->slots = sp_mem_calloc(in->cap, sizeof *in->slots);
    if (!in->slots) {
        sp_mem_free(in);
        return NULL;
    }
    return in;
}

void sp_intern_free(sp_intern_t *in)
{
    if (!in) return;
    for (size_t i = 0; i < in->cap; i++) sp_mem_free(in->slots[i].key);
    sp_mem_free(in->slots);
    sp_mem_free(in);
}

static int grow(sp_intern_t *in)
{
    size_t ncap = in->cap * 2;
    slot_t *ns = sp_mem_calloc(ncap, sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i < in->cap; i++) {
        if (!in->slots[i].key) continue;
        size_t j = in->slots[i].hash & (ncap - 1);
        while (ns[j].key) j = (j + 1) & (ncap - 1);
        ns[j] = in->slots[i];
    }
    sp_mem_free(in->slots);
    in->slots = ns;
    in->cap = ncap;
    return 0;
}

long sp_intern_get(sp_intern_t *in, const void *key, size_t len, bool *added)
{
    if (added) *added = false;
    if ((in->count + 1) * 2 > in->cap && grow(in) < 0) return -1;
    uint64_t h = sp_intern_hash(key, len);
    size_t j = h & (in->cap - 1);
    while (in->slots[j].key) {
        slot_t *s = &in->slots[j];
        if (s->hash == h && s->len == len && (!len || memcmp(s->key, key, len) == 0)) return s->index;
        j = (j + 1) & (in->cap - 1);
    }
    char *copy = sp_mem_alloc(len ? len : 1);
    if (!copy) return -1;
    if (len) memcpy(copy, key, len); /* key may be NULL for the empty stack */
    in->slots[j] = (slot_t){.hash = h, .key = copy, .len = len, .index = (long)in->count};
    in->count++;
    in->last = j;
    if (added) *added = true;
    return in->slots[j].index;
}

size_t sp_intern_count(const sp_intern_t *in) { return in->count; }

void sp_intern_forget_last(sp_intern_t *in)
{
    /* Emptying its slot is enough: no key was placed after it, so no probe chain passes
     * over it (a grow happens before an insertion, never after). */
    slot_t *s = &in->slots[in->last];
    if (!in->count || !s->key || s->index != (long)in->count - 1) return;
    sp_mem_free(s->key);
    *s = (slot_t){0};
    in->count--;
}
