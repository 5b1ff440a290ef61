/* v8owner: which SharedFunctionInfo each BytecodeArray belongs to, as V8's code events
 * report it: the CODE_ADDED event of bytecode (BYTE_CODE) carries a handle to the function
 * V8 compiled it for, and CODE_MOVED of bytecode where old space compaction put it. V8's own
 * profiler names interpreted frames the same way (its code map is keyed by the bytecode's
 * address). The decoder asks when a frame's closure is gone by the time it decodes: a
 * scavenge moved it and the old copy's memory was reused (per-request closures of a
 * server: a scavenge every few ms, a decode every 100 ms; GC stress).
 *
 * Threads: written by the JS threads inside V8's code-event callback (any number of
 * isolates at once: lock-free, bounded, no allocation, no system call), read by the agent.
 * An entry read while another thread writes it may be torn: the reader never trusts an
 * answer before checking the SFI's function data is the frame's BytecodeArray itself.
 *
 * Each entry keeps when it was put (CLOCK_MONOTONIC, as samples): only an entry older than
 * a sample may name it. Otherwise a frame whose bytecode compaction moved away after the
 * sample, where new bytecode of another function was made before the decode, would be
 * named after that function (whose data is the new bytecode at the frame's old address). */
#ifndef SP_V8OWNER_H
#define SP_V8OWNER_H

#include <stdbool.h>
#include <stdint.h>

/* The table, once (any thread but the callback's: it maps memory). False when it could
 * not be had: every call below then does nothing (or finds nothing). */
bool sp_v8owner_init(void);

/* V8 made bytecode whose first byte is at bytecode, for the SFI (a tagged pointer) sfi, at
 * ns. A full set of slots forgets one of its entries. Lock-free, no system call. */
void sp_v8owner_add(uint64_t bytecode, uint64_t sfi, uint64_t ns);

/* V8 moved the bytecode at from to to (compaction), at ns. */
void sp_v8owner_move(uint64_t from, uint64_t to, uint64_t ns);

/* The SFI last reported for the bytecode at bytecode, if reported at or before ns; 0 when
 * none. */
uint64_t sp_v8owner_find(uint64_t bytecode, uint64_t ns);

/* Entries added, moves applied, live entries forgotten for want of room; the table's size in
 * bytes (0 until init). */
void sp_v8owner_counts(uint64_t *added, uint64_t *moved, uint64_t *evicted, uint64_t *bytes);

/* Tests: forget every entry (the table stays). */
void sp_v8owner_clear(void);

#endif
