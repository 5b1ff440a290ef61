/* v8image: the file that holds V8 in this process (node, or libnode) and where it is
 * loaded; V8's embedded builtins in it, and V8's copies of those builtins elsewhere.
 * Agent thread only (file I/O; reads memory only through v8heap, which never faults). */
#ifndef SP_V8IMAGE_H
#define SP_V8IMAGE_H

#include <stdbool.h>
#include <stdint.h>

/* The file that exports node's v8dbg_* constants ("/proc/self/exe" for the executable)
 * and its load bias (runtime address = file vaddr + bias). Found once; false when this
 * process has no V8 (or not one that exports them). */
bool sp_v8image_file(const char **path, uint64_t *bias);

/* V8's embedded builtins' code in that file: runtime start and size in bytes, from the
 * labels V8's generated embedded.S defines (v8_Default_embedded_blob_code_*, .symtab only).
 * Found once; false when absent. */
bool sp_v8image_builtins(uint64_t *start, uint64_t *size);
/* Sets them instead (tests: code of the test binary stands in for node's builtins). */
void sp_v8image_set_builtins(uint64_t start, uint64_t size);

/* Whether the executable anonymous memory [lo, hi) (one mapping of /proc/self/maps) holds
 * V8's copy of the embedded builtins, and where it starts (*base). An isolate whose code
 * range lies more than 2 GiB from node's builtins gets a copy of them at the end of its
 * code range (V8's short builtin calls); V8 maps node's file pages there when it can, and
 * otherwise (V8 10: Node 18) copies the bytes: no file names them then, no perf map entry.
 * Trusted only when the copy's first bytes are the builtins' own, at the mapping's start or
 * where a copy ending on its last page starts. At most two reads of our own memory (the
 * builtins' own first bytes are read once). */
bool sp_v8image_copy_base(uint64_t lo, uint64_t hi, uint64_t *base);

#endif
