/* procmaps: owns sp_procmaps_t, one snapshot of <root>/proc/<pid>/maps. The file is read
 * whole into one buffer that also holds the path strings (parsed in place), and the
 * mappings are kept sorted by start for a binary search.
 * Threads: background threads only (allocates, file I/O); a snapshot is read-only after
 * sp_procmaps_read, so threads may share one. Environment: none.
 * Rules: the file is untrusted (a fake root in tests, any future kernel): bounded size,
 * malformed lines skipped and counted in a debug line, never a crash. */
#include "procmaps.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"

#define SP_PROCMAPS_INITIAL_BYTES (16u * 1024)       /* first read buffer; grows by doubling */
#define SP_PROCMAPS_MAX_BYTES (64u * 1024 * 1024)    /* a maps file larger than this is refused */

struct sp_procmaps {
    sp_mapping_t *v;
    size_t n;
    char *text; /* the file's bytes, NUL-split: paths point in here */
};

/* Reads the whole file into a NUL-terminated sp_mem buffer. 0 or a negative errno. */
static int read_all(const char *path, char **out, size_t *out_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -errno;
    int rc = 0;
    size_t cap = SP_PROCMAPS_INITIAL_BYTES, len = 0;
    char *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) { /* /proc files are regular (size 0); anything else is a fake */
        rc = -EINVAL;
        goto out;
    }
    buf = sp_mem_alloc(cap);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    for (;;) {
        if (len + 1 >= cap) {
            if (cap >= SP_PROCMAPS_MAX_BYTES) {
                rc = -EFBIG;
                goto out;
            }
            char *nb = sp_mem_realloc(buf, cap * 2);
            if (!nb) {
                rc = -ENOMEM;
                goto out;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = -errno;
            goto out;
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    buf[len] = '\0';
out:
    close(fd);
    if (rc) {
        sp_mem_free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

/* Parses 1..16 hex digits; NULL when there are none or too many. */
static char *parse_hex(char *p, uint64_t *v)
{
    uint64_t x = 0;
    int digits = 0;
    for (;; p++, digits++) {
        int d;
        if (*p >= '0' && *p <= '9') d = *p - '0';
        else if (*p >= 'a' && *p <= 'f') d = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F') d = *p - 'A' + 10;
        else break;
        if (digits == 16) return NULL;
        x = (x << 4) | (uint64_t)d;
    }
    if (digits == 0) return NULL;
    *v = x;
    return p;
}

/* "start-end perms offset dev inode   path": path is the rest of the line, may be empty and
 * may contain spaces; "(deleted)" and "[vdso]"-style names are kept as they are. */
static bool parse_maps_line(char *p, sp_mapping_t *m)
{
    uint64_t start, end, off, scratch;
    if (!(p = parse_hex(p, &start)) || *p++ != '-') return false;
    if (!(p = parse_hex(p, &end)) || *p++ != ' ') return false;
    /* Checked in order, so a short line stops at its NUL. */
    if ((p[0] != 'r' && p[0] != '-') || (p[1] != 'w' && p[1] != '-') ||
        (p[2] != 'x' && p[2] != '-') || (p[3] != 'p' && p[3] != 's') || p[4] != ' ')
        return false;
    bool exec = p[2] == 'x';
    p += 5;
    if (!(p = parse_hex(p, &off)) || *p++ != ' ') return false;
    if (!(p = parse_hex(p, &scratch)) || *p++ != ':') return false; /* device major:minor */
    if (!(p = parse_hex(p, &scratch))) return false;
    if (*p != ' ') return false;
    while (*p == ' ') p++;
    if (*p < '0' || *p > '9') return false; /* inode */
    while (*p >= '0' && *p <= '9') p++;
    if (*p != ' ' && *p != '\0') return false;
    while (*p == ' ') p++;
    if (start >= end) return false;
    m->start = start;
    m->end = end;
    m->offset = off;
    m->exec = exec;
    m->path = p;
    return true;
}

static int cmp_mapping(const void *a, const void *b)
{
    const sp_mapping_t *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

sp_procmaps_t *sp_procmaps_read(const char *root, int pid)
{
    char path[PATH_MAX], pidbuf[24];
    if (pid < 0) return NULL;
    if (pid == 0) snprintf(pidbuf, sizeof pidbuf, "self");
    else snprintf(pidbuf, sizeof pidbuf, "%d", pid);
    int n = snprintf(path, sizeof path, "%s/proc/%s/maps", root ? root : "", pidbuf);
    if (n < 0 || (size_t)n >= sizeof path) return NULL;

    sp_procmaps_t *maps = sp_mem_calloc(1, sizeof *maps);
    if (!maps) return NULL;
    size_t len = 0;
    int rc = read_all(path, &maps->text, &len);
    if (rc) {
        SP_DEBUG("procmaps: cannot read %s: %s", path, strerror(-rc));
        sp_mem_free(maps);
        return NULL;
    }
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += maps->text[i] == '\n';
    maps->v = sp_mem_calloc(lines, sizeof *maps->v);
    if (!maps->v) {
        sp_procmaps_free(maps);
        return NULL;
    }
    size_t bad = 0;
    char *line = maps->text;
    while (*line) {
        char *nl = strchr(line, '\n');
        char *next = nl ? nl + 1 : line + strlen(line);
        if (nl) *nl = '\0';
        if (*line) {
            if (parse_maps_line(line, &maps->v[maps->n])) maps->n++;
            else bad++;
        }
        line = next;
    }
    if (bad) SP_DEBUG("procmaps: %s: skipped %zu malformed lines", path, bad);
    /* The kernel writes them sorted; fakes and future kernels need not. */
    qsort(maps->v, maps->n, sizeof *maps->v, cmp_mapping);
    return maps;
}

void sp_procmaps_free(sp_procmaps_t *maps)
{
    if (!maps) return;
    sp_mem_free(maps->v);
    sp_mem_free(maps->text);
    sp_mem_free(maps);
}

const sp_mapping_t *sp_procmaps_find(const sp_procmaps_t *maps, uint64_t addr)
{
    if (!maps || maps->n == 0) return NULL;
    size_t lo = 0, hi = maps->n; /* first mapping with start > addr */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (maps->v[mid].start <= addr) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return NULL;
    const sp_mapping_t *m = &maps->v[lo - 1];
    return addr < m->end ? m : NULL;
}

size_t sp_procmaps_count(const sp_procmaps_t *maps) { return maps ? maps->n : 0; }

const sp_mapping_t *sp_procmaps_at(const sp_procmaps_t *maps, size_t i)
{
    return maps && i < maps->n ? &maps->v[i] : NULL;
}

bool sp_procmaps_extent(const sp_procmaps_t *maps, const sp_mapping_t *m, uint64_t *start,
                        uint64_t *end)
{
    size_t i = (size_t)(m - maps->v), j = i;
    while (i > 0 && strcmp(maps->v[i - 1].path, m->path) == 0) i--;
    while (j + 1 < maps->n && strcmp(maps->v[j + 1].path, m->path) == 0) j++;
    *start = maps->v[i].start;
    *end = maps->v[j].end;
    return maps->v[i].offset == 0;
}
