/* mem: profiler-owned memory from a private jemalloc arena (mallocx/dallocx with
 * MALLOCX_ARENA and an explicit per-thread tcache), never from the app's heap, and counted.
 * Not async-signal-safe: the signal path only touches memory preallocated here. */
#ifndef SP_MEM_H
#define SP_MEM_H

#include <stddef.h>

void *sp_mem_alloc(size_t n);               /* NULL on failure */
void *sp_mem_calloc(size_t count, size_t n); /* zeroed; NULL on failure or overflow */
void *sp_mem_realloc(void *p, size_t n);    /* like realloc; p may be NULL */
void sp_mem_free(void *p);                  /* p may be NULL */
char *sp_mem_strdup(const char *s);
char *sp_mem_strndup(const char *s, size_t n);
/* Faults in, writable, the pages [p, p + len) lies in, keeping their contents
 * (MADV_POPULATE_WRITE; nothing before Linux 5.14): memory the signal handler will write is
 * then no page fault there. */
void sp_mem_populate(void *p, size_t len);
size_t sp_mem_in_use(void);   /* bytes currently allocated through this module */
size_t sp_mem_peak(void);     /* the largest sp_mem_in_use() seen */
unsigned sp_mem_arena(void);  /* the private arena's index (for tests) */
/* Tests: the allocations after the next n succeed return NULL; n < 0 turns that off. */
void sp_mem_fail_after(long n);
/* Allocations left before the armed failure (0: failing now; -1: none armed). Tests only. */
long sp_mem_fail_pending(void);

#endif
