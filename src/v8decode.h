/* v8decode: names V8 interpreted frames from the slots v8frames captured, off the signal
 * path, with the line executing in each (the bytecode offset through the BytecodeArray's
 * source position table, v8pos; the function's definition line when V8 keeps no table
 * or line ends for it), and expands optimized (Maglev, TurboFan) frames into the
 * functions inlined in them (v8jit), each at its executing line (innermost) or call site
 * (callers); the functions and frames named are v8fn's. At start it reads the layout node
 * exports (the v8dbg_* postmortem constants, with dlsym); per sample it checks every
 * captured frame against the heap (JSFunction -> SharedFunctionInfo, BytecodeArray, each
 * object's map -> instance type), reading only through process_vm_readv on our own pid (a
 * moved or freed object reads as garbage or fails, never faults), and turns what it names
 * into a synthetic code address that the symbolizer resolves to the JS frame
 * (sp_v8decode_lookup). Anything it is unsure of keeps today's frame (the interpreter
 * trampoline). Agent thread only, except sp_v8decode_init (library load, before sampling
 * starts). */
#ifndef SP_V8DECODE_H
#define SP_V8DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "ring.h"
#include "symbolize.h"
#include "v8fn.h"

/* Synthetic addresses: bit 62 set (no user-space code address has it), the low bits an
 * index into the table of named functions. */
#define SP_V8_SYNTH_BIT (1ull << 62)

typedef struct {
    uint64_t named;      /* frames named from V8's slots */
    uint64_t unresolved; /* captured frames left as they were (failed checks) */
    uint64_t inserted;   /* of named: a leaf's JS function put back under a builtin */
    uint64_t reads;      /* heap reads (syscalls) */
    uint64_t forwarded;  /* frames whose JSFunction or BytecodeArray the GC had moved since
                            the sample: read at the new place the old copy points to */
    uint64_t data_mismatch; /* frames whose function's code is not the frame's bytecode:
                               another function now where the sample's was (unnamed) */
    uint64_t owner_named;   /* of named: the closure gone, named through the SFI V8 reported
                              compiling the frame's bytecode for (v8owner.h) */
    uint64_t owner_missed;  /* ... asked, and no SFI that still has that bytecode */
    uint64_t cache_hits;
    uint64_t lines;        /* of named: with the line executing in the frame */
    uint64_t no_table;     /* named frames left at the definition line: positions not collected */
    uint64_t no_line_ends; /* ... the script has no line ends (V8 computes them lazily) */
    uint64_t pos_unsure;   /* ... anything else did not check out */
    uint64_t pos_hits;     /* executing lines from the position cache */
    uint64_t samples, ns;  /* samples rewritten, and the agent thread's CPU time spent on
                             them (after the first SP_V8_TIME_ALL, an estimate: one in SP_V8_TIME_EVERY timed) */
    /* Compiled frames, by the perf map's tier (index 0 Sparkplug, 1 Maglev, 2 TurboFan):
     * decoded (Sparkplug: the interpreter's slots and the code's bytecode offset table;
     * optimized: the Code object, inlined functions expanded), or left to the perf map (a
     * check failed, or this build's layout is unknown). */
    uint64_t jit_resolved[3], jit_fallback[3];
    uint64_t baseline_lines; /* decoded Sparkplug frames at their executing line */
    uint64_t jit_inlined; /* frames added for inlined functions */
    uint64_t jit_lines;   /* decoded optimized frames whose every line decoded */
    uint64_t code_loads;  /* Code objects read */
    uint64_t chain_hits;  /* decoded frames from the (code, pc offset) cache */
    uint64_t jit_fn_gone; /* decoded optimized frames whose JSFunction was no longer there
                             (the GC reused its memory): named by the code pc is in */
    uint64_t reused;      /* frames decoded as in the thread's last sample (the same return
                             address, slots and code): no read */
    uint64_t unnamed_code; /* frames in JIT code the perf map does not name (compiled before
                              the code events were attached): named from their slots, at
                              the function's definition line */
} sp_v8decode_stats_t;

/* Reads the layout from the running executable and turns on the handler-side capture.
 * false (and one debug line saying why) when node's constants are missing or the layout is
 * one this decoder does not know (pointer compression): frames stay as today. */
bool sp_v8decode_init(void);
bool sp_v8decode_enabled(void);

/* Rewrites s in place: each captured interpreted frame whose checks pass becomes (or, under
 * a frameless builtin leaf, gets inserted as) a synthetic address. sym: to tell what code
 * each pc is in. */
void sp_v8decode_rewrite(sp_sample_t *s, sp_symbolizer_t *sym);

/* The function behind a synthetic address, or NULL (addr is not one). */
const sp_v8fn_t *sp_v8decode_lookup(uint64_t addr);

void sp_v8decode_get_stats(sp_v8decode_stats_t *out);
void sp_v8decode_log_stats(void);

/* The same from another source of constants: get(name) -> true and *value when the
 * constant exists (unit tests describe hand-built objects in their own memory). */
bool sp_v8decode_init_with(bool (*get)(const char *name, int64_t *value));

/* Decodes one captured frame: fn and bca as read from the slots (of a sample taken now).
 * true and *out (valid until sp_v8decode_reset) when every check passed. */
bool sp_v8decode_frame(uint64_t fn, uint64_t bca, uint64_t offset, sp_v8fn_t *out);

/* Decodes one captured optimized (Maglev, TurboFan) frame: fn as read from its function
 * slot, pc (interrupted or a caller's return address: looked up alike, as V8 does) in code
 * the perf map places at [start, start + size). The frames it runs, innermost first
 * (inlined functions, then the functions they were inlined into at their call sites'
 * lines), into out (valid until sp_v8decode_reset); how many (<= cap), 0 when anything
 * does not check out. */
size_t sp_v8decode_jit_frame(uint64_t fn, uint64_t pc, uint64_t start, uint64_t size,
                             sp_v8fn_t *out, size_t cap);

/* Decodes one captured Sparkplug frame: fn and bca as read from its slots (now), pc (return_addr:
 * a caller's return address) in the code the perf map places at [start, start + size).
 * The function at the line of the bytecode running there (its definition line in the
 * prologue or when the code's table does not check out) into *out (valid until
 * sp_v8decode_reset); false when the function does not check out. */
bool sp_v8decode_baseline_frame(uint64_t fn, uint64_t bca, uint64_t pc, bool return_addr,
                                uint64_t start, uint64_t size, sp_v8fn_t *out);

/* Forgets the layout, the caches and the named functions (tests; library unload). */
void sp_v8decode_reset(void);

#endif
