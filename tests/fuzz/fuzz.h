/* fuzz: what every fuzz target shares. A target is one file tests/fuzz/fuzz_<name>.c that
 * defines LLVMFuzzerTestOneInput and calls our real parsing entry points; it is linked
 * either with libFuzzer (`make fuzz`: clang -fsanitize=fuzzer,address,undefined) or with
 * tests/fuzz/replay.c (`make check`: each file of its corpus tests/fuzz/corpus/<name>/ run
 * once, so a crasher found once stays a regression test without clang). */
#ifndef SP_FUZZ_H
#define SP_FUZZ_H

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken promise: what was expected and what was seen, then abort() (libFuzzer saves
 * the input as a crasher; the replay driver fails). */
#define SP_FUZZ_CHECK(cond, ...)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Writes data to path (our own temp folder's file: never follows a link), replacing it or
 * appended; any failure aborts, since a target that cannot write its input tests nothing. */
static inline void sp_fuzz_write_file(const char *path, const uint8_t *data, size_t n, bool append)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
    if (fd < 0) abort();
    while (n) {
        ssize_t w = write(fd, data, n);
        if (w <= 0) abort();
        data += w;
        n -= (size_t)w;
    }
    close(fd);
}

/* Cuts the input into NUL-terminated strings at '\0' bytes (the last one runs to the end):
 * a reader of fields, so one input can carry several strings. */
typedef struct {
    const uint8_t *p;
    size_t left;
} sp_fuzz_in_t;

/* The next field as a new malloc'd NUL-terminated string (never NULL: "" at the end). */
static inline char *sp_fuzz_str(sp_fuzz_in_t *in)
{
    const uint8_t *nul = in->left ? memchr(in->p, 0, in->left) : NULL;
    size_t n = nul ? (size_t)(nul - in->p) : in->left;
    char *s = malloc(n + 1);
    if (!s) abort();
    if (n) memcpy(s, in->p, n);
    s[n] = '\0';
    in->p += n + (nul ? 1 : 0);
    in->left -= n + (nul ? 1 : 0);
    return s;
}

/* The next n bytes as an integer (little-endian; missing bytes are 0). */
static inline uint64_t sp_fuzz_u64(sp_fuzz_in_t *in, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && in->left; i++, in->p++, in->left--)
        v |= (uint64_t)*in->p << (8 * i);
    return v;
}

#endif
