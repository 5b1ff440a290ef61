/* Fuzz target: V8's perf map (src/perfmap.c) read two ways, both must agree with the
 * file's rules and never crash: fed in pieces (sp_perfmap_feed, cut where the input says,
 * so a line or a UTF-8 sequence is split across calls), and read incrementally from a real
 * file with sp_perfmap_refresh while it grows, shrinks (V8 recreated it) and grows again.
 * After each, every lookup answer must contain the address asked for. */
#include <stdbool.h>
#include <unistd.h>

#include "fuzz.h"
#include "perfmap.h"

static char dir[] = "/tmp/sp-fuzz-perfmap-XXXXXX";
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
    snprintf(path, sizeof path, "%s/perf.map", dir);
    return 0;
}

static void check_lookups(sp_perfmap_t *m, const uint8_t *data, size_t size)
{
    /* Addresses from the input's words, and each one's neighbours. */
    for (size_t i = 0; i + 8 <= size && i < 256; i += 8) {
        uint64_t a;
        memcpy(&a, data + i, 8);
        for (int d = -1; d <= 1; d++) {
            const sp_perfmap_entry_t *e = sp_perfmap_lookup(m, a + (uint64_t)d);
            if (!e) continue;
            SP_FUZZ_CHECK(e->name != NULL, "an entry without a name");
            SP_FUZZ_CHECK(e->start <= a + (uint64_t)d && a + (uint64_t)d - e->start < e->size,
                          "lookup(0x%llx) gave [0x%llx, +0x%llx)",
                          (unsigned long long)(a + (uint64_t)d), (unsigned long long)e->start,
                          (unsigned long long)e->size);
            (void)strlen(e->name);
        }
    }
}

static bool odd_alive(uint64_t start, uint64_t size, void *arg)
{
    (void)size, (void)arg;
    return (start >> 4) & 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t cut1 = size * data[0] / 256, cut2 = cut1 + (size - cut1) * data[1] / 256;
    const uint8_t *text = data + 2;
    size_t len = size - 2;
    cut1 = cut1 > len ? len : cut1;
    cut2 = cut2 > len ? len : cut2;

    /* In memory, three pieces. */
    sp_perfmap_t *m = sp_perfmap_new(NULL, 0);
    if (!m) abort();
    int a = sp_perfmap_feed(m, (const char *)text, cut1);
    int b = sp_perfmap_feed(m, (const char *)text + cut1, cut2 - cut1);
    int c = sp_perfmap_feed(m, (const char *)text + cut2, len - cut2);
    SP_FUZZ_CHECK(a >= 0 && b >= 0 && c >= 0, "feed returned %d %d %d", a, b, c);
    check_lookups(m, text, len);
    size_t before = sp_perfmap_count(m);
    size_t dropped = sp_perfmap_prune(m, odd_alive, NULL);
    SP_FUZZ_CHECK(dropped <= before && sp_perfmap_count(m) == before - dropped,
                  "prune: %zu before, %zu dropped, %zu after", before, dropped,
                  sp_perfmap_count(m));
    check_lookups(m, text, len);
    sp_perfmap_free(m);

    /* From a file that grows, is recreated shorter, and grows again. */
    m = sp_perfmap_new(path, 0);
    if (!m) abort();
    sp_fuzz_write_file(path, text, cut2, false);
    int r1 = sp_perfmap_refresh(m);
    sp_fuzz_write_file(path, text + cut2, len - cut2, true);
    int r2 = sp_perfmap_refresh(m);
    sp_fuzz_write_file(path, text, cut1, false);
    int r3 = sp_perfmap_refresh(m);
    sp_fuzz_write_file(path, text + cut1, cut2 - cut1, true);
    int r4 = sp_perfmap_refresh(m);
    SP_FUZZ_CHECK(r1 >= 0 && r2 >= 0 && r3 >= 0 && r4 >= 0, "refresh returned %d %d %d %d", r1, r2,
                  r3, r4);
    check_lookups(m, text, len);
    sp_perfmap_free(m);
    unlink(path);
    return 0;
}
