/* v8names: the names V8 gives JS code in its perf map, split into kind, tier, function and
 * location. V8 changes these dialects with almost every Node major ("LazyCompile:~f"
 * before Node 20, "JS:~f" after, "Builtin:", "BytecodeHandler:", split RegExp sources in
 * Node 24...), so they live here, apart from the perf map file reader (perfmap.c).
 * Pure functions over strings; any thread but the signal handler. */
#ifndef SP_V8NAMES_H
#define SP_V8NAMES_H

#include <stddef.h>

/* A JS name split into parts. Pointers point into the string given to sp_v8names_parse. */
typedef struct {
    const char *kind;  /* "JS", "LazyCompile", "Function", "InterpretedFunction", "Builtin",
                          "RegExp", "Script", "Eval", "Stub", ... or "" when no tag */
    size_t kind_len;
    char tier;         /* one of '~' '^' '+' '*' or 0 */
    const char *func;  /* function name, may be empty ("" = anonymous) */
    size_t func_len;
    const char *file;  /* script path/URL, NULL when the name has no location */
    size_t file_len;
    int line, col;     /* 0 when unknown */
} sp_v8name_t;

/* Splits a perf-map name such as "JS:*fib /app/t.js:1:13", "LazyCompile:~f file:///x.mjs:3:9",
 * "Builtin:ArrayMap", "RegExp:a b c", "JS:~ node:internal/main:1:1". The location is a
 * trailing "<file>:<line>:<col>"; the file starts at the first " /", " node:", " file:"
 * or " http" (so function names with spaces such as "get foo" stay whole), else after the
 * last space. Returns 0, or -EINVAL for an empty name. */
int sp_v8names_parse(const char *name, sp_v8name_t *out);

#endif
