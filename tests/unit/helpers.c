/* helpers.c: the shared helpers of unit.h, for every test file of tests/unit/. */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"

bool sp_unit_nofork_requested;

void sp_unit_nofork(void) { sp_unit_nofork_requested = true; }

const char *sp_unit_tmpdir(void)
{
    static char path[4096];
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    int n = snprintf(path, sizeof path, "%s/sp-unit.XXXXXX", base);
    ck_assert_msg(n > 0 && (size_t)n < sizeof path, "TMPDIR too long: %s", base);
    ck_assert_msg(mkdtemp(path) != NULL, "mkdtemp %s failed", path);
    return path;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    remove(path); /* best effort: go on with the rest */
    return 0;
}

void sp_unit_rmtree(const char *path)
{
    if (path && *path) nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void sp_unit_spin_cpu_ms(long ms)
{
    volatile uint64_t sink = 0; /* per call: threads spinning at once share nothing */
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    do {
        for (int i = 0; i < 10000; i++) sink += (uint64_t)i * 2654435761u;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    } while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

char *sp_unit_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf) return NULL;
    if (err) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}
