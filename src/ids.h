/* ids: random ids for events, traces, spans, chunks and the profiler. A leaf module (it
 * includes nothing of ours), so txn, agent and profile can all use it without a cycle. */
#ifndef SP_IDS_H
#define SP_IDS_H

/* 32 random lowercase hex digits (a version 4 UUID without dashes) + NUL. Any thread but a
 * signal handler; costs nanoseconds (no system call after the first per thread). */
void sp_ids_new(char out[33]);

#endif
