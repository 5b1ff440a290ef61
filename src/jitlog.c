/* jitlog: owns the handler V8 calls with its JIT code events and the perf-map lines it
 * writes (jitlog.h says why there is no flag). Threads: the handler runs on the JS thread
 * whose isolate made the code (node's main thread, each worker), inside V8: it formats
 * one line on the stack and writes it with one write(2) to the map opened O_APPEND, so
 * lines from several isolates never interleave; it calls nothing of V8's. The agent reads
 * the map as it read V8's (perfmap.h). The file is created on the first attach, through
 * mapfile.h (the same rules as the map V8 created for the flag).
 *
 * Which events: CODE_ADDED of machine code (JIT_CODE: Sparkplug, Maglev, TurboFan) for JS
 * functions, scripts and evals, named as V8 names them in its perf map ("JS:*name
 * file:line:col"): what --perf-basic-prof-only-functions wrote, less the entries of
 * interpreted functions, whose addresses are bytecode no pc lies in; and the machine code of
 * regular expressions ("RegExp:[<>&\"]", named as V8's profiler names it) and of
 * WebAssembly functions (WASM_CODE, "JS:wasm-function[20]"), which that map leaves out.
 * Code V8 moves (CODE_MOVED of machine code, code space compaction: none in 9,000 code
 * events with a GC every 10 ms, tens of thousands under --stress-compaction) becomes a
 * move line the reader resolves to the old place's name (perfmap.h): V8's own perf map
 * avoids the question by turning code space compaction off, a flag we do not set.
 *
 * Bytecode (BYTE_CODE) goes in no line: its CODE_ADDED carries a handle to the function V8
 * compiled it for, which v8owner keeps by the bytecode's address (and its CODE_MOVED moves),
 * for the decoder to name interpreted frames whose closure is gone by the decode (when the
 * caller made v8owner's table before attaching: nothing is kept otherwise).
 *
 * The event's layout (v8-callbacks.h, struct JitCodeEvent) is the same from Node 18 to 26:
 * two enums, code_start, code_len, script, user_data, wasm_source_info, then the name. */
#ifndef _GNU_SOURCE /* configure may pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#endif

#include "jitlog.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "mapfile.h"
#include "perfmap.h"
#include "v8owner.h"

#define SP_JITLOG_NAME_MAX 4000 /* bytes of a name written (perfmap.c keeps 4095) */
#define SP_JITLOG_AT_NS    20000 /* a time line before a line when none in the last 20 us */

typedef struct {
    int type;      /* CODE_ADDED 0, CODE_MOVED 1, ... */
    int code_type; /* BYTE_CODE 0, JIT_CODE 1, WASM_CODE 2 */
    uintptr_t code_start;
    size_t code_len;
    void *script, *user_data, *wasm_source_info;
    union {
        struct {
            const char *str;
            size_t len;
        } name;
        uintptr_t new_code_start;
    } u;
    void *isolate;
} jit_event_t;

enum { EV_CODE_ADDED = 0, EV_CODE_MOVED = 1, CT_BYTE_CODE = 0, CT_JIT_CODE = 1, CT_WASM_CODE = 2 };

typedef void *(*get_current_fn)(void);
typedef void (*set_handler_fn)(void *isolate, int options, void (*)(const jit_event_t *));

static struct {
    pthread_once_t sym_once, open_once;
    get_current_fn get_current;
    set_handler_fn set_handler;
    char path[64];
    bool sweep;
    int fd; /* -1 until opened (or refused) */
    FILE *file;
    _Atomic uint64_t lines, events, moves;
    _Atomic uint64_t at_ns; /* the time of the last time line */
} J = {.sym_once = PTHREAD_ONCE_INIT, .open_once = PTHREAD_ONCE_INIT, .fd = -1};

static void find_symbols(void)
{
    J.get_current = (get_current_fn)dlsym(RTLD_DEFAULT, "_ZN2v87Isolate10GetCurrentEv");
    J.set_handler = (set_handler_fn)dlsym(
        RTLD_DEFAULT, "_ZN2v87Isolate22SetJitCodeEventHandlerENS_19JitCodeEventOptionsEPFvPKNS_12JitCodeEventEE");
}

bool sp_jitlog_available(void)
{
    pthread_once(&J.sym_once, find_symbols);
    return J.get_current && J.set_handler;
}

void sp_jitlog_init(const char *path, bool ours_to_sweep)
{
    snprintf(J.path, sizeof J.path, "%s", path);
    J.sweep = ours_to_sweep;
}

static void open_map(void)
{
    if (!*J.path) return;
    J.file = sp_mapfile_open(J.path, "w", J.sweep); /* warns once when refused */
    if (J.file && sp_mapfile_state() == SP_MAPFILE_OURS) J.fd = fileno(J.file);
}

/* The names of function code (V8's CodeEventLogger): "JS:", and "Script:"/"Eval:"
 * (top-level code); "Function:"/"LazyCompile:" in older V8s; and of regular expressions. */
static bool function_code(const char *s, size_t n)
{
    /* a regular expression's machine code: "RegExp:<source>", V8 >= 13 "RegExp.> src:
     * '<source>' flags: '<flags>'" (v8names.h) */
    static const char *const prefixes[] = {
        "JS:", "Script:", "Eval:", "Function:", "LazyCompile:", "RegExp:", "RegExp."};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        size_t k = strlen(prefixes[i]);
        if (n >= k && memcmp(s, prefixes[i], k) == 0) return true;
    }
    return false;
}

/* A WebAssembly function's name without the "-<index>-<tier>" V8 appends
 * ("JS:wasm-function[20]-20-liftoff"): one function, one name, whichever tier compiled it.
 * The length to keep. */
static size_t wasm_name_len(const char *s, size_t n)
{
    size_t i = n;
    while (i > 0 && s[i - 1] >= 'a' && s[i - 1] <= 'z') i--;
    if (i == n || i == 0 || s[--i] != '-') return n;
    size_t d = i;
    while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9') i--;
    if (i == d || i == 0 || s[--i] != '-') return n;
    return i;
}

/* One line, one write(2), errno kept. */
static void write_line(const char *line, size_t n)
{
    int saved = errno;
    ssize_t w;
    do w = write(J.fd, line, n);
    while (w < 0 && errno == EINTR);
    errno = saved;
    if (w > 0) atomic_fetch_add_explicit(&J.lines, 1, memory_order_relaxed);
}

/* CLOCK_MONOTONIC in ns (samples' clock); 0 when it fails, and errno kept then too: we run
 * inside V8. */
static uint64_t mono_ns(void)
{
    int saved = errno;
    uint64_t now = sp_clock_mono_ns();
    errno = saved;
    return now;
}

/* A time line (perfmap.h, SP_PERFMAP_AT) before the line about to be written, unless one
 * was written in the last SP_JITLOG_AT_NS: the agent then knows which entries are newer
 * than a sample and does not give a sample the name of code created or moved to its
 * address after it (GC stress, an HTTP server: 12-16% of the frames named wrong). The
 * time is taken before the line is written, so every line after it is later. */
static void write_time(void)
{
    uint64_t now = mono_ns();
    if (!now) return;
    uint64_t last = atomic_load_explicit(&J.at_ns, memory_order_relaxed);
    if (now - last < SP_JITLOG_AT_NS ||
        !atomic_compare_exchange_strong_explicit(&J.at_ns, &last, now, memory_order_relaxed,
                                                 memory_order_relaxed))
        return; /* recent enough, or another thread writes one now */
    char line[64];
    int n = snprintf(line, sizeof line, "0 0 " SP_PERFMAP_AT "%llx\n", (unsigned long long)now);
    if (n > 0 && (size_t)n < sizeof line) write_line(line, (size_t)n);
}

/* The SharedFunctionInfo of a bytecode's CODE_ADDED (a tagged pointer, 0: none): the
 * event's script is a v8::Local<v8::UnboundScript> of the function's SFI, set when the
 * function belongs to a script (JitLogger::LogRecordedBuffer, V8 10-14). A Local is the
 * address of a handle slot (8-aligned), or with direct handles the tagged pointer itself. */
static uint64_t sfi_of(const jit_event_t *e)
{
    uintptr_t h = (uintptr_t)e->script;
    if (!h) return 0;
    return h & 1 ? h : *(const uint64_t *)h;
}

static void on_code_event(const jit_event_t *e)
{
    atomic_fetch_add_explicit(&J.events, 1, memory_order_relaxed);
    if (e->code_type == CT_BYTE_CODE) {
        if (e->type != EV_CODE_ADDED && e->type != EV_CODE_MOVED) return;
        uint64_t now = mono_ns();
        if (!now) return;
        if (e->type == EV_CODE_ADDED)
            sp_v8owner_add((uintptr_t)e->code_start, sfi_of(e), now);
        else
            sp_v8owner_move((uintptr_t)e->code_start, (uintptr_t)e->u.new_code_start, now);
        return;
    }
    if (e->type == EV_CODE_MOVED && e->code_type == CT_JIT_CODE) {
        /* Code space compaction moved machine code: the reader names the new place after
         * the old one (perfmap.h). Without it the map goes stale: 38,000 moves in a 1-s
         * run under --stress-compaction, where the frames the map named were mostly
         * wrong. */
        atomic_fetch_add_explicit(&J.moves, 1, memory_order_relaxed);
        if (J.fd < 0 || !e->code_len) return;
        write_time();
        char line[96];
        int n =
            snprintf(line, sizeof line, "%lx %zx " SP_PERFMAP_MOVED "%lx\n",
                     (unsigned long)e->u.new_code_start, e->code_len, (unsigned long)e->code_start);
        if (n > 0 && (size_t)n < sizeof line) write_line(line, (size_t)n);
        return;
    }
    /* WebAssembly functions too (node's fetch parses HTTP with undici's llhttp, compiled to
     * WebAssembly): otherwise raw addresses under every fetch. */
    bool wasm = e->code_type == CT_WASM_CODE;
    if (e->type != EV_CODE_ADDED || (e->code_type != CT_JIT_CODE && !wasm) || J.fd < 0 ||
        !e->u.name.str || (!wasm && !function_code(e->u.name.str, e->u.name.len)))
        return;
    write_time();
    char line[SP_JITLOG_NAME_MAX + 48];
    size_t n = wasm ? wasm_name_len(e->u.name.str, e->u.name.len) : e->u.name.len;
    if (n > SP_JITLOG_NAME_MAX) n = SP_JITLOG_NAME_MAX;
    int head = snprintf(line, sizeof line, "%lx %zx ", (unsigned long)e->code_start, e->code_len);
    if (head <= 0) return;
    memcpy(line + head, e->u.name.str, n);
    for (size_t i = 0; i < n; i++) /* one line whatever the name holds */
        if (line[head + i] == '\n' || line[head + i] == '\r') line[head + i] = ' ';
    line[head + n] = '\n';
    write_line(line, (size_t)head + n + 1);
}

int sp_jitlog_attach(void)
{
    if (!sp_jitlog_available()) return -ENOSYS;
    pthread_once(&J.open_once, open_map);
    if (J.fd < 0) return -EIO;
    void *isolate = J.get_current();
    if (!isolate) return -ESRCH;
    J.set_handler(isolate, 0 /* kJitCodeEventDefault */, on_code_event);
    return 0;
}

void sp_jitlog_counts(uint64_t *lines, uint64_t *events, uint64_t *moves)
{
    *lines = atomic_load(&J.lines);
    *events = atomic_load(&J.events);
    *moves = atomic_load(&J.moves);
}
