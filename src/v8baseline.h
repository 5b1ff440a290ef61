/* v8baseline: Sparkplug (baseline) frames -> the bytecode executing in them. Sparkplug
 * code keeps the interpreter's frame (JSFunction and BytecodeArray slots; the offset slot
 * holds the feedback vector instead), and its Code object a bytecode offset table: one
 * VLQ pc delta per bytecode, in bytecode order, after one for the prologue. Walking the
 * bytecodes needs their sizes, which V8 keeps in Bytecodes::kBytecodeSizes, a data symbol
 * of node's .symtab on every major from 18 to 26 (a local symbol from 24 on, so not
 * reachable through dlsym). Agent thread only. */
#ifndef SP_V8BASELINE_H
#define SP_V8BASELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* V8's kFunctionEntryBytecodeOffset: a pc in the prologue (before the first bytecode). */
#define SP_V8BASELINE_ENTRY (-1)
/* No answer: the tables are missing or did not check out. */
#define SP_V8BASELINE_UNSURE (-2)

/* Bytecode sizes: count opcodes for each of the three operand scales (single, double,
 * quadruple), row after row, as V8's table lays them out. false (and nothing kept) when
 * they do not look like V8's: the four prefix bytecodes of size 1, every size in [1, 32],
 * a size never shrinking with the scale. */
bool sp_v8baseline_set_sizes(const uint8_t *sizes, size_t count);

/* Finds kBytecodeSizes in the file that holds node's v8dbg_* constants (the executable, or
 * libnode) and sets it; once (later calls return the first answer). false when it is not
 * there: Sparkplug frames keep their definition line. */
bool sp_v8baseline_load_sizes(void);

/* The word sp_v8baseline_offset checks first for code walked before (its Code object's
 * position table pointer: still the one walked?), planned so the caller reads it with the
 * rest of a sample in one system call: one system call a Sparkplug frame otherwise. */
typedef struct {
    uint64_t code; /* the Code object it is read for; 0: nothing planned */
    uint64_t at;   /* where */
    uint64_t spt;  /* the word, once read */
    bool read;     /* set by the caller once it was read */
} sp_v8baseline_pre_t;

/* Plans *pre for the Sparkplug code at [start, start + size) with the frame's
 * BytecodeArray bca: false (pre->code 0) when that code was not walked before. */
bool sp_v8baseline_plan(uint64_t bca, uint64_t start, uint64_t size, sp_v8baseline_pre_t *pre);

/* The bytecode offset executing at pc (a return address when return_addr) in the Sparkplug
 * code whose instructions the perf map puts at [start, start + size), for the frame's
 * BytecodeArray bca; SP_V8BASELINE_ENTRY in the prologue, SP_V8BASELINE_UNSURE when the
 * Code object is not baseline code, its table does not walk in step with bca's bytecodes
 * (another function's code, a moved object, wrong sizes) or no sizes are set. pre: the
 * word sp_v8baseline_plan planned for the same code, read (NULL, not read, or planned for
 * another Code object: read now). */
int64_t sp_v8baseline_offset(uint64_t bca, uint64_t pc, bool return_addr, uint64_t start,
                             uint64_t size, const sp_v8baseline_pre_t *pre);

/* The Code object of the Sparkplug code at [start, start + size) for bca, as the last
 * sp_v8baseline_offset for it found it (its table walking in step with bca's bytecodes);
 * 0 otherwise. */
uint64_t sp_v8baseline_code(uint64_t bca, uint64_t start, uint64_t size);

/* Code objects walked, and answers from the cache of walked code. */
void sp_v8baseline_counts(uint64_t *code_loads, uint64_t *hits);

/* Forgets the sizes and the cache (tests; library unload). */
void sp_v8baseline_reset(void);

#endif
