/* symbolize: code address -> frame (function, file, line and column, module, address,
 * kind). JS frames come from V8's perf map, native frames from the ELF symbols of the
 * mapped objects; anything else stays "0x..." in the module (mapping) it belongs to. It
 * knows nothing of frame ids, JSON or sessions (the frame table and the resolver do).
 * Background thread only: it reads files and allocates. */
#ifndef SP_SYMBOLIZE_H
#define SP_SYMBOLIZE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "frames.h"

typedef struct sp_symbolizer sp_symbolizer_t;

/* perf_map_path: V8's map (NULL: none); maps_root: prefix for /proc (NULL: real root);
 * not_before: ignore a perf map older than this (the process start). */
sp_symbolizer_t *sp_symbolizer_new(const char *perf_map_path, const char *maps_root,
                                   time_t not_before);
void sp_symbolizer_free(sp_symbolizer_t *sym);

/* Reads what V8 appended to the perf map, and forgets the /proc maps snapshot so new
 * libraries are seen. Call before resolving a batch of samples. */
void sp_symbolizer_refresh(sp_symbolizer_t *sym);

/* Starts reading V8's perf map at perf_map_path (once V8 has created it), or stops reading
 * any (NULL: V8 does not write to the file at the path; JS frames stay unresolved and that
 * file is never opened). */
void sp_symbolizer_set_perf_map(sp_symbolizer_t *sym, const char *perf_map_path, time_t not_before);
/* Resolves addr into one frame *f. return_addr: addr is a return address (the call is at
 * addr-1). Strings in *f stay valid until the next call on sym. Returns true when the
 * answer is final (a symbol of an ELF file), false when it may change with the next
 * sp_symbolizer_generation (JS code, V8's builtin copies, unknown addresses). No cache:
 * callers that resolve an address often remember the answer (sp_resolver). */
bool sp_symbolizer_resolve(sp_symbolizer_t *sym, uint64_t addr, bool return_addr, sp_frame_t *f);

/* As sp_symbolizer_resolve, from V8's perf map alone: true when it names addr (a JS
 * function, or V8's own code as a native frame), false with *f cleared otherwise. Reads
 * no /proc file and no ELF symbol table, so it suits words that are not known to be code
 * (the word at a frameless leaf's sp). */
bool sp_symbolizer_resolve_perf_map(sp_symbolizer_t *sym, uint64_t addr, bool return_addr,
                                    sp_frame_t *f);

/* The time of the sample being resolved (CLOCK_MONOTONIC ns; 0: none, as the resolver
 * leaves it between samples): until set again a perf-map entry written after it (its last
 * time line, perfmap.h SP_PERFMAP_AT) names nothing for sp_symbolizer_resolve: JS code
 * created or moved to that address since, not the code the sample ran there, so the
 * address stays unresolved. sp_symbolizer_js_code answers whatever the time (the V8 frame
 * decoder checks V8's objects itself, and is told how new the entry is). */
void sp_symbolizer_set_as_of(sp_symbolizer_t *sym, uint64_t ts_ns);
/* What the last sp_symbolizer_resolve made of the perf map: *after_ns the written_after_ns
 * of the entry it named JS code from (0: none, or a map without time lines), *refused
 * whether it left an entry alone as newer than the sample. */
void sp_symbolizer_last_perf_map(const sp_symbolizer_t *sym, uint64_t *after_ns, bool *refused);

/* The tier V8's perf map gives the JS code at addr ('~' interpreted: with
 * --interpreted-frames-native-stack, a per-function copy of the interpreter's entry; '^'
 * Sparkplug, '+' Maglev, '*' TurboFan), or 0 (not JS code, or no tier named). */
char sp_symbolizer_js_tier(sp_symbolizer_t *sym, uint64_t addr, bool return_addr);
/* The same, and where the perf map says the code at addr starts and how long it is (the
 * V8 frame decoder finds V8's Code object from its instructions' start), and the entry's
 * written_after_ns (any of the three NULL: not asked). */
char sp_symbolizer_js_code(sp_symbolizer_t *sym, uint64_t addr, bool return_addr, uint64_t *start,
                           uint64_t *size, uint64_t *written_after_ns);
/* Whether the perf map names JS code at addr (an entry that parses, not V8's copy of a
 * builtin or bytecode handler: those resolve as native frames), and its tier as above:
 * sp_symbolizer_resolve's JS-or-not answer from one lookup, without building the frame.
 * start, size and written_after_ns as for sp_symbolizer_js_code (NULL: not asked). */
bool sp_symbolizer_is_js(sp_symbolizer_t *sym, uint64_t addr, bool return_addr, char *tier,
                         uint64_t *start, uint64_t *size, uint64_t *written_after_ns);

/* The JS frame of function (may be "") defined in script (V8's script name: a path, a file
 * URL or "node:..."; NULL: none) at lineno:colno (0: unknown), named and placed as frames
 * from the perf map are (the V8 frame decoder's names go through here). Strings in *f as
 * for sp_symbolizer_resolve. */
void sp_symbolizer_js_frame(sp_symbolizer_t *sym, const char *function, const char *script,
                            int lineno, int colno, sp_frame_t *f);

/* An ELF file native frames were resolved in: where it is mapped (as of the last address
 * resolved in it) and its GNU build id (build_id_len 0: none known). */
typedef struct {
    const char *path; /* as the frames' abs_path names it; valid while sym lives */
    uint64_t start, size;
    const uint8_t *build_id;
    size_t build_id_len;
} sp_sym_image_t;
/* The i-th of them (i = 0, 1, ...; at most one per path); false past the last. */
bool sp_symbolizer_image(const sp_symbolizer_t *sym, size_t i, sp_sym_image_t *out);

/* Changes whenever an address resolved before may resolve differently now (new JIT code
 * may sit where old code was): callers that remember non-final resolutions forget them. */
uint64_t sp_symbolizer_generation(const sp_symbolizer_t *sym);
/* Bytes of V8's perf map not read yet (sp_perfmap_behind); 0 without a map. */
uint64_t sp_symbolizer_perf_map_behind(const sp_symbolizer_t *sym);
/* Bytes of it read so far (sp_perfmap_offset); 0 without a map. */
uint64_t sp_symbolizer_perf_map_read(const sp_symbolizer_t *sym);

#endif
