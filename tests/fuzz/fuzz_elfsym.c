/* Fuzz target: the ELF symbol reader (src/elfsym.c) on any bytes written to a file: an
 * ELF that is truncated, has offsets and sizes past the end, overlapping or looping tables,
 * or no string terminator gives an empty table or fewer symbols, never a read outside what
 * it read from the file. Every symbol it indexes is looked up (names must be strings), the
 * address translation runs against a fake mapping, and every name goes through the
 * demangler too. */
#include <unistd.h>

#include "elfsym.h"
#include "fuzz.h"

static char dir[] = "/tmp/sp-fuzz-elfsym-XXXXXX";
static char path[sizeof dir + 16];

/* The temp folder goes at exit (libFuzzer's and the replay's): nothing left in /tmp. */
static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (!mkdtemp(dir)) abort();
    atexit(cleanup);
    snprintf(path, sizeof path, "%s/lib.so", dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sp_fuzz_write_file(path, data, size, false);
    sp_elfsym_t *elf = sp_elfsym_open(path, NULL);
    if (elf) {
        size_t n = sp_elfsym_count(elf);
        /* Addresses: every 8-byte word of the input (symbol values live there) and its
         * neighbours; each answer is a NUL-terminated name at or below the address. */
        for (size_t i = 0; i + 8 <= size && i < 4096; i += 8) {
            uint64_t a;
            memcpy(&a, data + i, 8);
            for (uint64_t v = a - 1; v != a + 2; v++) {
                uint64_t start = 0;
                const char *name = sp_elfsym_lookup(elf, v, &start);
                if (!name) continue;
                SP_FUZZ_CHECK(start <= v, "lookup(0x%llx) gave a symbol at 0x%llx",
                              (unsigned long long)v, (unsigned long long)start);
                char buf[256];
                (void)sp_demangle(name, buf, sizeof buf);
            }
            sp_mapping_t m = {.start = a & ~0xfffull,
                              .end = (a & ~0xfffull) + 0x10000,
                              .offset = a >> 32,
                              .exec = true,
                              .path = path};
            uint64_t va;
            (void)sp_elfsym_to_vaddr(elf, &m, m.start + (a & 0xfff), &va);
        }
        (void)n;
        sp_elfsym_free(elf);
    }
    /* The demangler on the raw input as a name (NUL-terminated copy). */
    char *name = malloc(size + 1);
    if (!name) abort();
    memcpy(name, data, size);
    name[size] = '\0';
    char small[16], big[1024];
    (void)sp_demangle(name, small, sizeof small);
    (void)sp_demangle(name, big, sizeof big);
    free(name);
    return 0;
}
