/* perfmap: reads V8's /tmp/perf-<pid>.map incrementally and answers "which JS function
 * owns this code address". Background thread only (allocates, does file I/O).
 *
 * File format, one entry per line: "<hex start> <hex size> <name>", name = rest of the
 * line and may contain spaces. A name can also be split across lines (a RegExp source
 * with a newline, Node 24): a line that is not an entry continues the previous entry's
 * name (joined with a space) when it directly follows it, else it is counted malformed.
 * Newest entry for an address wins: when a new entry overlaps older ones, the older
 * ones are dead code (V8 moved or freed it) and are dropped.
 *
 * Hostile-file rules (docs/HAZARDS.md §6): opened O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC,
 * must be a regular file owned by our euid, and modified no earlier than `not_before`
 * (a stale map left by an earlier process with the same pid is ignored until V8
 * truncates it). Reads are bounded per refresh; garbage lines are counted, never fatal.
 */
#ifndef SP_PERFMAP_H
#define SP_PERFMAP_H

/* A move line (jitlog writes them for V8's CODE_MOVED events: code space compaction):
 * "<hex new start> <hex size> sentryprof:moved-from:<hex old start>". The entry that starts
 * exactly at the old start with the same size, if any, is added again at the new start
 * under its name; a move of code the map does not name stays an entry that names nothing
 * (sp_perfmap_lookup: NULL), so the dead function an older entry there names is not given
 * to the code now there. Another reader of the file (perf) sees the marker as the name. */
#define SP_PERFMAP_MOVED "sentryprof:moved-from:"

/* A time line (jitlog writes one before a line when none was written in the last 20 us):
 * "0 0 sentryprof:at:<hex CLOCK_MONOTONIC ns>". Every line after it in the file was written
 * after that time, so an entry describes code created or moved there after it: a sample
 * taken earlier at that address ran other code (sp_perfmap_entry_t.written_after_ns). A
 * size of 0 names nothing for another reader (perf). */
#define SP_PERFMAP_AT "sentryprof:at:"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct sp_perfmap sp_perfmap_t;

typedef struct {
    uint64_t start;
    uint64_t size;
    const char *name; /* NUL-terminated, owned by the map; valid until the next refresh/feed */
    uint64_t written_after_ns; /* the last time line before it (CLOCK_MONOTONIC); 0: none */
} sp_perfmap_entry_t;

/* path: the map file; not_before: ignore the file while its mtime is older (0: no check). */
sp_perfmap_t *sp_perfmap_new(const char *path, time_t not_before);
void sp_perfmap_free(sp_perfmap_t *map);

/* Reads what V8 appended since the last call (at most SP_PERFMAP_READ_MAX bytes a call).
 * Returns the number of entries added (>= 0) or a negative errno (-ENOENT while V8 has not
 * created the file yet; -EPERM for a file we refuse: symlink, not regular, other owner, stale).
 * A file that shrank (truncated/recreated) is re-read from the start. */
int sp_perfmap_refresh(sp_perfmap_t *map);

/* Parses bytes as if appended to the file (unit tests and refresh use it). A trailing
 * partial line is kept until its newline arrives. Returns entries added. */
int sp_perfmap_feed(sp_perfmap_t *map, const char *buf, size_t len);

/* Entry containing addr (start <= addr < start+size), or NULL (also for an unresolved move). */
const sp_perfmap_entry_t *sp_perfmap_lookup(sp_perfmap_t *map, uint64_t addr);

/* Drops every live entry for which alive(start, size, arg) is false: code of a dead
 * isolate (an exited worker) whose pages are unmapped. Without this the table grows with
 * every worker ever started. Returns how many were dropped. */
size_t sp_perfmap_prune(sp_perfmap_t *map, bool (*alive)(uint64_t start, uint64_t size, void *arg),
                        void *arg);

size_t sp_perfmap_count(const sp_perfmap_t *map);     /* live entries */
size_t sp_perfmap_malformed(const sp_perfmap_t *map); /* lines rejected so far */
size_t sp_perfmap_moves(const sp_perfmap_t *map);     /* move lines that named moved code */
/* Bytes of the file the last refresh left for the next ones: a worker storm writes faster
 * than one refresh's budget reads; samples of code still unread get no JS name. */
uint64_t sp_perfmap_behind(const sp_perfmap_t *map);
/* Bytes of the file read so far (they will not be read again unless the file is replaced
 * or truncated). */
uint64_t sp_perfmap_offset(const sp_perfmap_t *map);

#endif
