/* Fuzz target: /proc/<pid>/maps (src/procmaps.c) as a file under a fake root, as the unit
 * tests point it: any bytes give a table (maybe empty) whose mappings are sorted and
 * well-formed, and sp_procmaps_find answers only with a mapping holding the address. */
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "procmaps.h"

static char root[] = "/tmp/sp-fuzz-procmaps-XXXXXX";
static char path[sizeof root + 32];

/* The fake root goes at exit (libFuzzer's and the replay's): nothing left in /tmp. */
static void cleanup(void)
{
    char d[sizeof root + 32];
    unlink(path);
    snprintf(d, sizeof d, "%s/proc/4242", root);
    rmdir(d);
    snprintf(d, sizeof d, "%s/proc", root);
    rmdir(d);
    rmdir(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char d[sizeof root + 32];
    if (!mkdtemp(root)) abort();
    atexit(cleanup);
    snprintf(d, sizeof d, "%s/proc", root);
    if (mkdir(d, 0700) != 0) abort();
    snprintf(d, sizeof d, "%s/proc/4242", root);
    if (mkdir(d, 0700) != 0) abort();
    snprintf(path, sizeof path, "%s/proc/4242/maps", root);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sp_fuzz_write_file(path, data, size, false);
    sp_procmaps_t *maps = sp_procmaps_read(root, 4242);
    size_t n = sp_procmaps_count(maps);
    /* Overlapping mappings (never from a kernel) may hide each other from find: only a
     * table without overlaps must answer for every address it holds. */
    bool overlap = false;
    for (size_t i = 1; i < n; i++)
        overlap |= sp_procmaps_at(maps, i)->start < sp_procmaps_at(maps, i - 1)->end;
    for (size_t i = 0; i < n; i++) {
        const sp_mapping_t *m = sp_procmaps_at(maps, i);
        SP_FUZZ_CHECK(m && m->path, "mapping %zu: no path", i);
        SP_FUZZ_CHECK(m->start < m->end, "mapping %zu: [0x%llx, 0x%llx)", i,
                      (unsigned long long)m->start, (unsigned long long)m->end);
        if (i)
            SP_FUZZ_CHECK(sp_procmaps_at(maps, i - 1)->start <= m->start, "mapping %zu: not sorted",
                          i);
        (void)strlen(m->path);
        for (uint64_t a = m->start - 1; a != m->start + 2; a++) {
            const sp_mapping_t *f = sp_procmaps_find(maps, a);
            SP_FUZZ_CHECK(!f || (f->start <= a && a < f->end), "find(0x%llx) gave [0x%llx, 0x%llx)",
                          (unsigned long long)a, (unsigned long long)f->start,
                          (unsigned long long)f->end);
        }
        const sp_mapping_t *f = sp_procmaps_find(maps, m->end - 1);
        SP_FUZZ_CHECK(overlap || f != NULL, "find(0x%llx): nothing, mapping %zu holds it",
                      (unsigned long long)(m->end - 1), i);
    }
    SP_FUZZ_CHECK(sp_procmaps_at(maps, n) == NULL, "sp_procmaps_at(count) is not NULL");
    sp_procmaps_free(maps);
    return 0;
}
