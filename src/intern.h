/* intern: byte-string keys -> dense indices 0, 1, 2, ... in insertion order (frames and
 * stacks of a profile are deduplicated through it). Open addressing, keys copied into the
 * private arena. Background thread only. */
#ifndef SP_INTERN_H
#define SP_INTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sp_intern sp_intern_t;

/* A 64-bit hash of n bytes, eight at a time (the frame table's and the intern's: frame
 * texts are 150-300 bytes, hashed per new frame of every profile). Not for adversaries:
 * keys are compared in full. */
uint64_t sp_intern_hash(const void *p, size_t n);

sp_intern_t *sp_intern_new(void);
void sp_intern_free(sp_intern_t *in);
/* Index of key, inserting it when absent (*added set accordingly, may be NULL).
 * Returns -1 when out of memory. */
long sp_intern_get(sp_intern_t *in, const void *key, size_t len, bool *added);
size_t sp_intern_count(const sp_intern_t *in);
/* Takes back the key the last sp_intern_get added (its caller could not store what the
 * index stands for, e.g. out of memory): the next key gets that index again. */
void sp_intern_forget_last(sp_intern_t *in);

#endif
