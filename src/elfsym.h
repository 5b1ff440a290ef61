/* elfsym: native symbols:
 *  - sp_elfsym_*: one ELF file's function symbols (.symtab if present, else .dynsym), sorted
 *    by address, with the PT_LOAD table to turn a runtime address into a file vaddr.
 * Background thread only (file I/O, allocation). The ELF file is read with pread, never
 * mapped, and every offset/size read from it is bounds-checked: a truncated or garbage
 * file, also one truncated while we hold it, yields an empty table or unnamed frames,
 * never a crash. C++ names are demangled with __cxa_demangle looked up at run time
 * (dlsym, so there is no link dependency on libstdc++); without it names stay mangled.
 */
#ifndef SP_ELFSYM_H
#define SP_ELFSYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "procmaps.h" /* sp_mapping_t */

typedef struct sp_elfsym sp_elfsym_t;

#define SP_ELFSYM_BUILD_ID_MAX 32 /* longer build ids are not kept (GNU ld: 20 bytes, sha1) */

/* Opens an ELF file and indexes its STT_FUNC (and STT_GNU_IFUNC) symbols with nonzero
 * address. NULL when the file is not a readable 64-bit ELF (a warning is the caller's call).
 * A file without .symtab takes its symbols from <root>/usr/lib/debug/.build-id/xx/yyyy.debug
 * when that file exists and has the same build id (root NULL or "": the real root). */
sp_elfsym_t *sp_elfsym_open(const char *path, const char *root);
/* The file's GNU build id: its length (0: none) and *id its bytes, owned by elf. */
size_t sp_elfsym_build_id(const sp_elfsym_t *elf, const uint8_t **id);
void sp_elfsym_free(sp_elfsym_t *elf);
size_t sp_elfsym_count(const sp_elfsym_t *elf);

/* Runtime address inside mapping m (which maps this file) -> the file's virtual address,
 * using the PT_LOAD segment containing m->offset. Returns false when no segment matches. */
bool sp_elfsym_to_vaddr(const sp_elfsym_t *elf, const sp_mapping_t *m, uint64_t addr,
                        uint64_t *vaddr);

/* The function symbol containing vaddr: a symbol with a size contains [value, value+size);
 * a zero-size symbol covers up to the next symbol. Returns the (demangled, when C++) name
 * owned by elf, or NULL. *sym_start (may be NULL) gets the symbol's vaddr. */
const char *sp_elfsym_lookup(sp_elfsym_t *elf, uint64_t vaddr, uint64_t *sym_start);

/* A data symbol (STT_OBJECT, local or global, .symtab else .dynsym) of the file at path
 * by its exact (mangled) name, among those of size in [min_size, max_size] (the bound keeps
 * the names read few): its file vaddr and size. One pass over the symbol table, a chunk at
 * a time; the file is not kept open. false when absent or unreadable. */
bool sp_elfsym_find_object(const char *path, const char *name, uint64_t min_size, uint64_t max_size,
                           uint64_t *vaddr, uint64_t *size);

/* A label (STT_NOTYPE of size 0, as an assembler file defines them: V8's
 * v8_Default_embedded_blob_code_ in node) of the file at path by its exact name: its file
 * vaddr. Otherwise as sp_elfsym_find_object. */
bool sp_elfsym_find_label(const char *path, const char *name, uint64_t *vaddr);

/* Demangles an Itanium C++ name into buf (truncated to fit). Returns buf, or NULL when the
 * name is not mangled or no demangler is available. */
const char *sp_demangle(const char *mangled, char *buf, size_t buflen);

#endif
