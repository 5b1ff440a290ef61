/* procmaps: a snapshot of /proc/<pid>/maps (under a root prefix, so tests can point it at a
 * fake proc tree), sorted, to map an address to its mapping (file path, start, offset,
 * perms). Background threads only (file I/O, allocation). */
#ifndef SP_PROCMAPS_H
#define SP_PROCMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t start, end;   /* [start, end) */
    uint64_t offset;       /* file offset of start */
    bool exec;             /* 'x' in perms */
    const char *path;      /* "" for anonymous; "[vdso]", "[stack]" etc. kept as-is */
} sp_mapping_t;

typedef struct sp_procmaps sp_procmaps_t;

/* Reads <root>/proc/<pid>/maps; root NULL or "" means the real root; pid 0 means "self". */
sp_procmaps_t *sp_procmaps_read(const char *root, int pid);
void sp_procmaps_free(sp_procmaps_t *maps);
const sp_mapping_t *sp_procmaps_find(const sp_procmaps_t *maps, uint64_t addr);
size_t sp_procmaps_count(const sp_procmaps_t *maps);
const sp_mapping_t *sp_procmaps_at(const sp_procmaps_t *maps, size_t i);
/* Where the object mapped at m (one of maps' mappings) lies: from the first to the last of
 * the run of neighbouring mappings of its path, as Sentry's native SDK sizes an image. True
 * when the run starts at file offset 0 (the file as the loader mapped it, not a copy of
 * some of its pages mapped elsewhere, as V8 maps node's embedded builtins). */
bool sp_procmaps_extent(const sp_procmaps_t *maps, const sp_mapping_t *m, uint64_t *start,
                        uint64_t *end);

#endif
