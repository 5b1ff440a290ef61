/* perfmap: owns the parsed view of V8's /tmp/perf-<pid>.map (one sp_perfmap_t per map
 * file: its fd, read offset, a partial-line buffer and the live entries) and the JS name
 * splitter. Threads: the background thread only (allocates from the mem arena, does file
 * I/O); a map is not shared between threads, so there are no locks. Reads no environment.
 *
 * Rules:
 * - Live entries sit in one array sorted by start, never overlapping, so a lookup is a
 *   binary search. New lines go to a pending batch; at the end of each feed/refresh the
 *   batch is merged in one O(n + m log m) pass. Every parsed entry gets a sequence number
 *   and, of two overlapping entries, the older one is dropped whole (V8 freed or moved that
 *   code), whether or not the newer one itself survives: the result equals inserting the
 *   entries one by one in file order.
 * - The file is hostile (docs/HAZARDS.md §6): opened O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC, must be a
 *   regular file with one link, owned by our euid and modified no earlier than not_before.
 *   A refusal is not remembered: a stale map becomes valid once V8 truncates it.
 * - Everything is bounded: bytes per refresh, bytes per line, bytes per name, live
 *   entries. Garbage lines are counted (sp_perfmap_malformed), never fatal. Names are kept
 *   valid UTF-8 (they end up in JSON): bytes that are not are replaced by '?'; a line with
 *   control characters (NUL, other binary) is rejected.
 * - Truncation (size below our offset) or replacement (a different inode at the path)
 *   restarts from offset 0 with no entries.
 */
#include "perfmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "mem.h"
#include "utf8.h"

#define SP_PERFMAP_READ_MAX (4u << 20)  /* bytes read per refresh: bounds one refresh's work */
#define SP_PERFMAP_CHUNK (64u << 10)    /* read(2) buffer; lines may span chunks */
#define SP_PERFMAP_KEEP_CAP 4096        /* entries an array keeps room for after a burst */
#define SP_PERFMAP_NAME_MAX 4096        /* bytes per name with its NUL; longer ones are cut */
#define SP_PERFMAP_LINE_MAX (SP_PERFMAP_NAME_MAX + 64) /* bytes kept of one line (two hex
                                                          fields + a full name); the rest of
                                                          a longer line is discarded */
#define SP_PERFMAP_MAX_ENTRIES (1u << 21) /* live + pending; newer entries beyond are dropped */
#define SP_PERFMAP_HEX_MAX 16             /* significant hex digits in a uint64_t */
#define SP_PERFMAP_PATH_CHECK_NS (1000 * SP_NS_PER_MS) /* path looked up at most this often
                                                          while our inode keeps a name */
#define SP_PERFMAP_MOVE_SCAN 512          /* pending entries a move line looks back over */

typedef struct {
    sp_perfmap_entry_t e; /* first member: lookup hands out &ent->e */
    uint64_t seq;
} ent_t;

/* b is a at the same place again: start, size and name. */
static bool same_code(const ent_t *a, const ent_t *b)
{
    return a->e.start == b->e.start && a->e.size == b->e.size && a->e.size &&
           strcmp(a->e.name, b->e.name) == 0;
}

/* What the previous line was: decides whether a non-entry line continues a name. */
enum { PREV_NONE, PREV_ENTRY, PREV_IGNORED };

/* Warnings given at most once per map. */
enum { WARN_LINK = 1, WARN_TYPE = 2, WARN_OWNER = 4, WARN_NLINK = 8, WARN_FULL = 16 };

struct sp_perfmap {
    char *path; /* NULL: feed-only map */
    time_t not_before;
    int fd;
    dev_t dev;
    ino_t ino;
    uint64_t path_checked_ns; /* when the path was last looked up (sp_perfmap_refresh) */
    uint64_t offset; /* bytes of the file consumed */
    uint64_t behind; /* bytes the last refresh left unread (its read budget ran out) */

    ent_t *live;
    size_t live_n, live_cap;
    ent_t *pend; /* parsed since the last merge, in file order */
    size_t pend_n, pend_cap;
    uint64_t next_seq;
    size_t malformed;
    size_t moves; /* move lines that renamed code at its new place */
    uint64_t at_ns; /* the last time line's time: the lines after it were written later */

    int prev;                     /* PREV_* */
    uint64_t prev_start, prev_seq; /* the entry a continuation line extends */

    char *line; /* SP_PERFMAP_LINE_MAX bytes: the partial line across feeds */
    size_t line_len;
    bool line_long; /* bytes of the current line were discarded */

    char *rbuf; /* SP_PERFMAP_CHUNK bytes, allocated on the first refresh */
    unsigned warned;
};

/* ---- UTF-8 ---- */

/* Copies at most cap bytes of src into dst as valid UTF-8 (bad bytes become '?'), never
 * splitting a character. Returns the bytes written; dst is not terminated. */
static size_t copy_utf8(char *dst, size_t cap, const char *src, size_t n)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, o = 0;
    while (i < n) {
        size_t l = sp_utf8_len(s + i, n - i);
        if (l == 1 && (s[i] < 0x20 || s[i] == 0x7f) && s[i] != '\t') l = 0; /* control: '?' */
        if (l == 0) {
            if (o + 1 > cap) break;
            dst[o++] = '?';
            i++;
            continue;
        }
        if (o + l > cap) break;
        memcpy(dst + o, s + i, l);
        o += l;
        i += l;
    }
    return o;
}

/* ---- line parsing ---- */

enum { LINE_ENTRY, LINE_BAD, LINE_OTHER };

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses hex digits at s[*i]; returns how many there were; *ovf when they exceed 64 bits. */
static size_t parse_hex(const char *s, size_t n, size_t *i, uint64_t *out, bool *ovf)
{
    uint64_t v = 0;
    size_t start = *i, sig = 0;
    int d;
    *ovf = false;
    while (*i < n && (d = hexval(s[*i])) >= 0) {
        if (v || d) sig++;
        if (sig > SP_PERFMAP_HEX_MAX) *ovf = true;
        v = (v << 4) | (uint64_t)d;
        (*i)++;
    }
    *out = v;
    return *i - start;
}

/* Classifies one line. LINE_ENTRY: "<hex> <hex> <name>" with sane numbers. LINE_BAD: it
 * has that shape but a number overflows, start+size wraps, or the name is missing: never
 * a name continuation. LINE_OTHER: anything else. */
static int classify(const char *s, size_t n, uint64_t *start, uint64_t *size, size_t *name_at)
{
    size_t i = 0;
    bool o1, o2;
    if (!parse_hex(s, n, &i, start, &o1) || i >= n || s[i] != ' ') return LINE_OTHER;
    i++;
    if (!parse_hex(s, n, &i, size, &o2)) return LINE_OTHER;
    if (i < n && s[i] != ' ') return LINE_OTHER;
    if (o1 || o2 || i + 1 >= n || *size > UINT64_MAX - *start) return LINE_BAD;
    *name_at = i + 1;
    return LINE_ENTRY;
}

/* NUL means binary garbage (a hole in a file two writers share), not a name. Other
 * control characters are real: V8 writes a name inferred from a computed key as the key
 * holds it (routes['a\x01b'], routes['a\rb']); copy_utf8 turns them into '?'. */
static bool has_control(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

static ent_t *find_live(sp_perfmap_t *m, uint64_t addr)
{
    size_t lo = 0, hi = m->live_n; /* first entry with start > addr */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->live[mid].e.start <= addr) lo = mid + 1;
        else hi = mid;
    }
    return lo ? &m->live[lo - 1] : NULL;
}

/* The entry a continuation line extends: the last one parsed, still pending or already
 * merged (a continuation can arrive in a later feed). It cannot have been dropped: only
 * newer entries drop it, and a continuation comes before any. */
static ent_t *prev_entry(sp_perfmap_t *m)
{
    if (m->pend_n && m->pend[m->pend_n - 1].seq == m->prev_seq) return &m->pend[m->pend_n - 1];
    ent_t *e = find_live(m, m->prev_start);
    return e && e->seq == m->prev_seq ? e : NULL;
}

/* The name of the entry that starts exactly at old with the moved code's size: the newest
 * pending one, else the live one. NULL: none; the code was never named, or it is code the
 * map does not name (a stub, a handler) sitting where a named function's code died, whose
 * size then almost never matches. */
static const char *moved_name(sp_perfmap_t *m, uint64_t old, uint64_t size)
{
    /* The last SP_PERFMAP_MOVE_SCAN pending lines only: a compaction reports tens of
     * thousands of moves, mostly of code never named, and a full scan per move would cost
     * the agent O(n^2) in one refresh. Code added and moved in the same refresh further
     * back stays unnamed at its new place (never misnamed). */
    size_t stop = m->pend_n > SP_PERFMAP_MOVE_SCAN ? m->pend_n - SP_PERFMAP_MOVE_SCAN : 0;
    for (size_t i = m->pend_n; i-- > stop;)
        if (m->pend[i].e.start == old) return m->pend[i].e.size == size ? m->pend[i].e.name : NULL;
    ent_t *e = find_live(m, old);
    return e && e->e.start == old && e->e.size == size ? e->e.name : NULL;
}

static void add_entry(sp_perfmap_t *m, uint64_t start, uint64_t size, const char *name, size_t n)
{
    static const size_t ak = sizeof SP_PERFMAP_AT - 1;
    if (size == 0 && start == 0 && n > ak && memcmp(name, SP_PERFMAP_AT, ak) == 0) {
        uint64_t at = 0;
        size_t i = ak;
        bool ovf = false;
        /* One going back was written late by a thread that took its time before another's
         * line: what follows it was written after both. */
        if (parse_hex(name, n, &i, &at, &ovf) && !ovf && i == n) {
            if (at > m->at_ns) m->at_ns = at;
        } else {
            m->malformed++;
        }
        m->prev = PREV_IGNORED;
        return;
    }
    if (size == 0) { /* nothing can be inside it; its continuation lines go with it */
        m->prev = PREV_IGNORED;
        return;
    }
    static const size_t mk = sizeof SP_PERFMAP_MOVED - 1;
    if (n > mk && memcmp(name, SP_PERFMAP_MOVED, mk) == 0) { /* a move: the old entry's name */
        uint64_t old = 0;
        size_t i = mk;
        bool ovf = false;
        const char *was = NULL;
        if (parse_hex(name, n, &i, &old, &ovf) && !ovf && i == n) was = moved_name(m, old, size);
        if (was) { /* named code at its new place */
            m->moves++;
            name = was;
            n = strlen(was);
        } /* else kept as is: unnamed code lives there now, not the dead function an older
             entry names (sp_perfmap_lookup finds nothing there) */
    }
    m->prev = PREV_IGNORED; /* until it is stored: a dropped entry's continuation goes too */
    if (m->live_n + m->pend_n >= SP_PERFMAP_MAX_ENTRIES) {
        if (!(m->warned & WARN_FULL)) {
            m->warned |= WARN_FULL;
            SP_WARN("perf map %s: more than %u entries, ignoring new ones",
                    m->path ? m->path : "(fed)", SP_PERFMAP_MAX_ENTRIES);
        }
        return;
    }
    if (m->pend_n == m->pend_cap) {
        size_t cap = m->pend_cap ? m->pend_cap * 2 : 256;
        ent_t *p = sp_mem_realloc(m->pend, cap * sizeof *p);
        if (!p) return;
        m->pend = p;
        m->pend_cap = cap;
    }
    size_t keep = n < SP_PERFMAP_NAME_MAX - 1 ? n : SP_PERFMAP_NAME_MAX - 1;
    char *copy = sp_mem_alloc(keep + 1);
    if (!copy) return;
    copy[copy_utf8(copy, keep, name, n)] = '\0';
    ent_t *e = &m->pend[m->pend_n++];
    e->e.start = start;
    e->e.size = size;
    e->e.name = copy;
    e->e.written_after_ns = m->at_ns;
    e->seq = m->next_seq++;
    m->prev = PREV_ENTRY;
    m->prev_start = start;
    m->prev_seq = e->seq;
}

/* Joins a continuation line to the previous entry's name with one space. */
static void continue_name(sp_perfmap_t *m, const char *s, size_t n)
{
    ent_t *e = prev_entry(m);
    if (!e) return;
    size_t old = strlen(e->e.name);
    if (old + 1 >= SP_PERFMAP_NAME_MAX - 1) return; /* already full */
    size_t room = SP_PERFMAP_NAME_MAX - 1 - old - 1;
    size_t add = n < room ? n : room;
    char *name = sp_mem_realloc((char *)e->e.name, old + 1 + add + 1);
    if (!name) return;
    name[old] = ' ';
    name[old + 1 + copy_utf8(name + old + 1, add, s, n)] = '\0';
    e->e.name = name;
}

static void do_line(sp_perfmap_t *m, const char *s, size_t n)
{
    uint64_t start = 0, size = 0;
    size_t name_at = 0;
    if (has_control(s, n)) {
        m->malformed++;
        m->prev = PREV_NONE;
        return;
    }
    switch (classify(s, n, &start, &size, &name_at)) {
    case LINE_ENTRY:
        add_entry(m, start, size, s + name_at, n - name_at);
        return;
    case LINE_OTHER:
        if (m->prev == PREV_ENTRY) {
            continue_name(m, s, n);
            return;
        }
        if (m->prev == PREV_IGNORED) return;
        /* fall through */
    default:
        m->malformed++;
        m->prev = PREV_NONE;
    }
}

/* Keeps bytes of an unfinished line, up to SP_PERFMAP_LINE_MAX. */
static void stash(sp_perfmap_t *m, const char *s, size_t n)
{
    size_t room = SP_PERFMAP_LINE_MAX - m->line_len;
    if (n > room) {
        m->line_long = true;
        n = room;
    }
    memcpy(m->line + m->line_len, s, n);
    m->line_len += n;
}

/* Splits bytes into lines and parses them into the pending batch (no merge). */
static void parse_bytes(sp_perfmap_t *m, const char *buf, size_t len)
{
    while (len) {
        const char *nl = memchr(buf, '\n', len);
        size_t piece = nl ? (size_t)(nl - buf) : len;
        if (!nl) {
            stash(m, buf, piece);
            return;
        }
        if (m->line_len || m->line_long) {
            stash(m, buf, piece);
            do_line(m, m->line, m->line_len);
            m->line_len = 0;
            m->line_long = false;
        } else {
            do_line(m, buf, piece < SP_PERFMAP_LINE_MAX ? piece : SP_PERFMAP_LINE_MAX);
        }
        buf += piece + 1;
        len -= piece + 1;
    }
}

/* ---- merging ---- */

typedef struct {
    uint64_t seq, end;
    size_t idx;
} heap_t;

typedef struct {
    uint64_t start, end;
} span_t;

static int cmp_ent(const void *a, const void *b)
{
    const ent_t *x = a, *y = b;
    if (x->e.start != y->e.start) return x->e.start < y->e.start ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void heap_push(heap_t *h, size_t *n, heap_t v)
{
    size_t i = (*n)++;
    while (i && h[(i - 1) / 2].seq < v.seq) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

static void heap_pop(heap_t *h, size_t *n)
{
    heap_t v = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1].seq > h[c].seq) c++;
        if (h[c].seq <= v.seq) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = v;
}

static void drop_names(ent_t *e, size_t n)
{
    for (size_t i = 0; i < n; i++) sp_mem_free((char *)e[i].e.name);
}

/* Merges the pending batch into the live array. All pending entries are newer than all
 * live ones. (1) Within the batch, a sweep by start with a max-heap of seq over the
 * entries still "open" at the sweep point finds each entry's newest overlapper: all open
 * entries contain the sweep point, so they overlap each other and only the newest can
 * survive. (2) A live entry dies when it meets any batch entry (dead or not), found with
 * the union of batch spans. (3) The survivors of both are merged from the back. Every
 * allocation happens first, so on -ENOMEM nothing changed and the batch stays pending.
 * Returns how many batch entries survived. */
static int merge(sp_perfmap_t *m)
{
    size_t np = m->pend_n;
    if (np == 0) return 0;
    size_t need = m->live_n + np;
    if (need > m->live_cap) {
        size_t cap = m->live_cap ? m->live_cap : 256;
        while (cap < need) cap *= 2;
        ent_t *p = sp_mem_realloc(m->live, cap * sizeof *p);
        if (!p) return -ENOMEM;
        m->live = p;
        m->live_cap = cap;
    }
    heap_t *heap = sp_mem_alloc(np * sizeof *heap);
    span_t *spans = sp_mem_alloc(np * sizeof *spans);
    bool *first = sp_mem_alloc(np * sizeof *first);
    if (!heap || !spans || !first) {
        sp_mem_free(heap);
        sp_mem_free(spans);
        sp_mem_free(first);
        return -ENOMEM;
    }

    ent_t *p = m->pend;
    qsort(p, np, sizeof *p, cmp_ent);
    /* The same code again where it was (a compaction's pages trade places: under
     * --stress-compaction most moves put a function back at the very start and size it had,
     * under the same name): the entry keeps the older one's time, so a sample taken in
     * between is still named (the reader's time rule, sp_perfmap_entry_t). first[i]: the
     * batch's first entry at its start, or the same code as it all along since: only such
     * an entry may carry on a live one's time. */
    for (size_t i = 0; i < np; i++) {
        bool again = i && same_code(&p[i - 1], &p[i]);
        if (again) p[i].e.written_after_ns = p[i - 1].e.written_after_ns;
        first[i] = !i || p[i - 1].e.start != p[i].e.start || (again && first[i - 1]);
    }

    size_t ns = 0; /* union of batch spans; touching spans may join, harmlessly */
    for (size_t i = 0; i < np; i++) {
        uint64_t s = p[i].e.start, e = s + p[i].e.size;
        if (ns && s <= spans[ns - 1].end) {
            if (e > spans[ns - 1].end) spans[ns - 1].end = e;
        } else {
            spans[ns++] = (span_t){s, e};
        }
    }

    size_t hn = 0; /* (1); a dead entry gets size 0, the heap keeps its real end */
    for (size_t i = 0; i < np; i++) {
        uint64_t s = p[i].e.start;
        while (hn && heap[0].end <= s) heap_pop(heap, &hn);
        bool dead = false;
        if (hn) {
            if (heap[0].seq > p[i].seq) dead = true;
            else p[heap[0].idx].e.size = 0;
        }
        heap_push(heap, &hn, (heap_t){p[i].seq, s + p[i].e.size, i});
        if (dead) p[i].e.size = 0;
    }

    size_t kept = 0;
    for (size_t i = 0; i < np; i++) {
        if (p[i].e.size) {
            first[kept] = first[i];
            p[kept++] = p[i];
        } else {
            sp_mem_free((char *)p[i].e.name);
        }
    }

    ent_t *l = m->live; /* (2): both sorted, live ends ascend too */
    size_t nl = 0, u = 0, q = 0;
    for (size_t i = 0; i < m->live_n; i++) {
        uint64_t s = l[i].e.start, e = s + l[i].e.size;
        while (u < ns && spans[u].end <= s) u++;
        if (u < ns && spans[u].start < e) {
            /* replaced: by the same code at the same place first, it keeps this one's time */
            while (q < kept && p[q].e.start < s) q++;
            if (q < kept && first[q] && same_code(&l[i], &p[q]))
                p[q].e.written_after_ns = l[i].e.written_after_ns;
            sp_mem_free((char *)l[i].e.name);
        } else {
            l[nl++] = l[i];
        }
    }

    size_t i = nl, j = kept, k = nl + kept; /* (3) */
    while (j) {
        if (i && l[i - 1].e.start > p[j - 1].e.start) l[--k] = l[--i];
        else l[--k] = p[--j];
    }
    m->live_n = nl + kept;
    m->pend_n = 0;
    sp_mem_free(heap);
    sp_mem_free(spans);
    sp_mem_free(first);
    return kept > (size_t)INT32_MAX ? INT32_MAX : (int)kept;
}

/* Gives back the arrays a burst grew (a worker storm reads 64k entries per refresh, then
 * prunes nearly all): the arena stays flat between bursts. Capacity stays a power of two
 * times 256, so merge's growth rule still holds. */
static void shrink(sp_perfmap_t *m)
{
    if (!m->pend_n && m->pend_cap > SP_PERFMAP_KEEP_CAP) {
        sp_mem_free(m->pend);
        m->pend = NULL;
        m->pend_cap = 0;
    }
    if (m->live_cap > SP_PERFMAP_KEEP_CAP && m->live_cap / 4 > m->live_n) {
        size_t cap = m->live_cap;
        while (cap > SP_PERFMAP_KEEP_CAP && cap / 4 > m->live_n) cap /= 2;
        ent_t *p = sp_mem_realloc(m->live, cap * sizeof *p);
        if (p) { /* on failure the larger array is as good */
            m->live = p;
            m->live_cap = cap;
        }
    }
}

/* ---- public API ---- */

sp_perfmap_t *sp_perfmap_new(const char *path, time_t not_before)
{
    sp_perfmap_t *m = sp_mem_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->fd = -1;
    m->not_before = not_before;
    m->line = sp_mem_alloc(SP_PERFMAP_LINE_MAX);
    if (path) m->path = sp_mem_strdup(path);
    if (!m->line || (path && !m->path)) {
        sp_perfmap_free(m);
        return NULL;
    }
    return m;
}

/* Forgets everything read from the file: entries, partial line, offset. */
static void restart(sp_perfmap_t *m)
{
    drop_names(m->live, m->live_n);
    drop_names(m->pend, m->pend_n);
    m->live_n = m->pend_n = 0;
    m->offset = 0;
    m->line_len = 0;
    m->line_long = false;
    m->prev = PREV_NONE;
    m->at_ns = 0;
}

static void close_file(sp_perfmap_t *m)
{
    if (m->fd >= 0) close(m->fd);
    m->fd = -1;
}

void sp_perfmap_free(sp_perfmap_t *m)
{
    if (!m) return;
    close_file(m);
    restart(m);
    sp_mem_free(m->live);
    sp_mem_free(m->pend);
    sp_mem_free(m->line);
    sp_mem_free(m->rbuf);
    sp_mem_free(m->path);
    sp_mem_free(m);
}

static int refuse(sp_perfmap_t *m, unsigned why, const char *what)
{
    if (!(m->warned & why)) {
        m->warned |= why;
        SP_WARN("not reading perf map %s: %s", m->path, what);
    }
    return -EPERM;
}

/* Opens the map and checks it (docs/HAZARDS.md §6). Leaves m->fd open only on success. */
static int open_checked(sp_perfmap_t *m)
{
    int fd = open(m->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        if (err == ELOOP) return refuse(m, WARN_LINK, "it is a symlink");
        return -err;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0) rc = -errno;
    else if (!S_ISREG(st.st_mode)) rc = refuse(m, WARN_TYPE, "not a regular file");
    else if (st.st_uid != geteuid()) rc = refuse(m, WARN_OWNER, "owned by another user");
    else if (st.st_nlink != 1) rc = refuse(m, WARN_NLINK, "it has other hard links");
    else if (m->not_before && st.st_mtime < m->not_before) {
        /* left by an earlier process with our pid; V8 truncating it makes it fresh */
        SP_DEBUG("perf map %s older than this process, waiting", m->path);
        rc = -EPERM;
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    m->fd = fd;
    m->dev = st.st_dev;
    m->ino = st.st_ino;
    return 0;
}

int sp_perfmap_refresh(sp_perfmap_t *m)
{
    if (!m || !m->path) return -EINVAL;
    struct stat st;
    if (m->fd >= 0) {
        if (fstat(m->fd, &st) < 0) return -errno;
        /* A different inode at the path (or a symlink now) is a new file. A missing path
         * keeps our fd: V8 still writes to the inode it opened. The path is looked up at
         * once when our inode lost its last name (renamed over, removed), else at most
         * every SP_PERFMAP_PATH_CHECK_NS (a name it kept elsewhere): a lookup every pass
         * was 5% of the agent thread's CPU at 99 Hz, the fstat costs next to nothing. */
        uint64_t now = sp_clock_mono_ns();
        if (st.st_nlink == 0 || now - m->path_checked_ns >= SP_PERFMAP_PATH_CHECK_NS) {
            m->path_checked_ns = now;
            struct stat ps;
            if (lstat(m->path, &ps) == 0 && (ps.st_dev != m->dev || ps.st_ino != m->ino)) {
                SP_DEBUG("perf map %s replaced, re-reading", m->path);
                close_file(m);
                restart(m);
            }
        }
    }
    if (m->fd < 0) {
        int rc = open_checked(m);
        if (rc < 0) return rc;
        m->path_checked_ns = sp_clock_mono_ns();
        if (fstat(m->fd, &st) < 0) return -errno;
    }
    if (!m->rbuf && !(m->rbuf = sp_mem_alloc(SP_PERFMAP_CHUNK))) return -ENOMEM;

    if ((uint64_t)st.st_size < m->offset) {
        SP_DEBUG("perf map %s truncated, re-reading", m->path);
        restart(m);
    }

    int rc = 0;
    size_t budget = SP_PERFMAP_READ_MAX;
    while (budget) {
        size_t want = budget < SP_PERFMAP_CHUNK ? budget : SP_PERFMAP_CHUNK;
        ssize_t r = pread(m->fd, m->rbuf, want, (off_t)m->offset);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            if (errno != EAGAIN) rc = -errno;
            break;
        }
        if (r == 0) break;
        m->offset += (uint64_t)r;
        budget -= (size_t)r;
        parse_bytes(m, m->rbuf, (size_t)r);
    }
    m->behind = (uint64_t)st.st_size > m->offset ? (uint64_t)st.st_size - m->offset : 0;
    int added = merge(m);
    shrink(m);
    if (rc < 0) return rc;
    return added;
}

int sp_perfmap_feed(sp_perfmap_t *m, const char *buf, size_t len)
{
    if (!m || (!buf && len)) return -EINVAL;
    parse_bytes(m, buf, len);
    return merge(m);
}

const sp_perfmap_entry_t *sp_perfmap_lookup(sp_perfmap_t *m, uint64_t addr)
{
    if (!m) return NULL;
    ent_t *e = find_live(m, addr);
    if (!e || addr - e->e.start >= e->e.size) return NULL;
    /* An unresolved move: code the map does not name lives there now. */
    if (e->e.name[0] == 's' &&
        strncmp(e->e.name, SP_PERFMAP_MOVED, sizeof SP_PERFMAP_MOVED - 1) == 0)
        return NULL;
    return &e->e;
}

size_t sp_perfmap_prune(sp_perfmap_t *m, bool (*alive)(uint64_t start, uint64_t size, void *arg),
                        void *arg)
{
    if (!m) return 0;
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < m->live_n; i++) { /* order is preserved, so no re-sort */
        ent_t *e = &m->live[i];
        if (alive(e->e.start, e->e.size, arg)) {
            m->live[kept++] = *e;
        } else {
            sp_mem_free((char *)e->e.name);
            dropped++;
        }
    }
    m->live_n = kept;
    if (dropped && m->prev == PREV_ENTRY) m->prev = PREV_NONE; /* its entry may be gone */
    shrink(m);
    return dropped;
}

size_t sp_perfmap_count(const sp_perfmap_t *m) { return m ? m->live_n : 0; }
size_t sp_perfmap_malformed(const sp_perfmap_t *m) { return m ? m->malformed : 0; }
size_t sp_perfmap_moves(const sp_perfmap_t *m) { return m ? m->moves : 0; }
uint64_t sp_perfmap_behind(const sp_perfmap_t *m) { return m ? m->behind : 0; }
uint64_t sp_perfmap_offset(const sp_perfmap_t *m) { return m ? m->offset : 0; }
