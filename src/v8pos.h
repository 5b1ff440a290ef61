/* v8pos: V8's source position tables, decoded from their bytes. A table (the
 * BytecodeArray's for interpreted code) is a run of entries, each two VLQ numbers (7 value
 * bits a byte, bit 7 = more): the code offset delta and the zig-zag source position
 * delta, starting from code offset -1 (kFunctionEntryBytecodeOffset: the function entry's
 * stack check) and position 0. The code offset delta is a zig-zag number, negative for
 * an expression position (-delta-1), up to V8 13 (SP_V8POS_SIGNED; Node 18-24), and
 * delta << 2 | is_breakable << 1 | is_statement from V8 14 (SP_V8POS_FLAGS; measured on
 * Node 26, V8 14.6). A source position holds the script offset + 1 in bits 1..30 and the
 * inlining id + 1 in bits 31..46 (bit 0: an external, wasm, position). Layout from v8/v8
 * src/codegen/source-position-table.cc and src/codegen/source-position.h. Pure functions
 * over bytes: any thread but the signal handler. */
#ifndef SP_V8POS_H
#define SP_V8POS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest table the decoders read from the heap (bytes); a longer one is unsure. */
#define SP_V8POS_TABLE_MAX 65536

/* The script position of code offset off: the last entry whose code offset is <= off, as
 * V8's profiler looks it up (its line table uses every entry, statement or expression).
 * true and *script_offset (0-based, script characters) and *inlining_id (-1: the
 * function's own code) when found; false when the table has no such entry or its bytes do
 * not decode (a truncated number, a value out of range, offsets going backwards, an
 * external position). */
typedef enum { SP_V8POS_SIGNED, SP_V8POS_FLAGS } sp_v8pos_format_t;

/* ... The whole table is checked, not only up to off: every code offset must be below
 * code_len (the code's length: a table read with the wrong format, or another object's
 * bytes, rarely passes). */
bool sp_v8pos_find(const uint8_t *table, size_t len, sp_v8pos_format_t format, int64_t code_len,
                   int64_t off, int64_t *script_offset, int *inlining_id);

/* 1-based line and column of script offset pos, given the offsets of the script's line
 * ends (ascending, as V8's Script::line_ends keeps them: the position of each '\n', the
 * last one the source length). false when pos is past the last end or ends are not
 * ascending where the search looks. */
bool sp_v8pos_line(const int64_t *ends, size_t n, int64_t pos, int *line, int *col);

#endif
