/* Fuzz target: everything that reads a spool file back. The batch format (src/spool_run.c:
 * sp_spool_run_reader_*), each envelope in it and the input itself as one envelope
 * (src/envelope.c: sp_envelope_parse, sp_envelope_item_json), and the CLI's reader of
 * profiles (tools/model.c: sp_model_load on the input written as a .envelope or a
 * .envelopes file, then the selection, call tree and labels `sentryprof top` builds). A
 * record or item never points outside the input; a bad file is a warning line, never a crash. */
#include <fcntl.h>
#include <unistd.h>

#include "envelope.h"
#include "fuzz.h"
#include "mem.h"
#include "model.h"
#include "spool_run.h"

static char dir[] = "/tmp/sp-fuzz-spool-XXXXXX";
static char one[sizeof dir + 32], batch[sizeof dir + 32];

/* The temp folder goes at exit (libFuzzer's and the replay's): nothing left in /tmp. */
static void cleanup(void)
{
    unlink(one);
    unlink(batch);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (!mkdtemp(dir)) abort();
    atexit(cleanup);
    snprintf(one, sizeof one, "%s/x.envelope", dir);
    snprintf(batch, sizeof batch, "%s/x%s", dir, SP_BATCH_SUFFIX);
    return 0;
}

static void envelope(const char *data, size_t len)
{
    sp_envelope_parsed_t env;
    if (sp_envelope_parse(data, len, &env) != 0) return;
    SP_FUZZ_CHECK(env.header != NULL, "parsed without a header");
    for (size_t i = 0; i < env.count; i++) {
        const sp_envelope_item_t *it = &env.items[i];
        SP_FUZZ_CHECK(it->header != NULL, "item %zu without a header", i);
        SP_FUZZ_CHECK(it->len <= len, "item %zu: %zu bytes in a %zu-byte envelope", i, it->len,
                      len);
        SP_FUZZ_CHECK(it->payload[it->len] == '\0', "item %zu: payload not NUL-terminated", i);
        json_decref(sp_envelope_item_json(&env, i));
    }
    sp_envelope_parsed_free(&env);
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) abort();
    if (size && write(fd, data, size) != (ssize_t)size) abort();
    close(fd);
}

static void model(const char *path)
{
    sp_model_t m = {0};
    sp_cli_strvec_t paths = {0};
    sp_cli_strvec_push(&paths, sp_cli_strdup(path));
    long items = sp_model_load(&m, &paths);
    SP_FUZZ_CHECK(items >= 0, "sp_model_load returned %ld", items);
    sp_model_filter_t f = {0};
    size_t n = sp_model_select(&m, &f);
    SP_FUZZ_CHECK(n <= m.nall, "%zu samples selected of %zu", n, m.nall);
    if (n) {
        uint64_t *self, *total;
        sp_model_counts(&m, &self, &total);
        for (size_t i = 0; i < m.nfn; i++)
            SP_FUZZ_CHECK(self[i] <= total[i] && total[i] <= n,
                          "function %zu: self %llu, total %llu of %zu", i,
                          (unsigned long long)self[i], (unsigned long long)total[i], n);
        sp_mem_free(self);
        sp_mem_free(total);
        for (int rev = 0; rev < 2; rev++) {
            sp_model_tree_t t = {0};
            sp_model_tree(&m, -1, rev, &t);
            SP_FUZZ_CHECK(t.n >= 1 && t.node[0].total == n, "tree root: %llu of %zu samples",
                          t.n ? (unsigned long long)t.node[0].total : 0ull, n);
            sp_model_tree_free(&t);
        }
        for (size_t i = 0; i < m.nfn; i++) sp_mem_free(sp_model_label(&m.fn[i], "/app"));
    }
    sp_model_free(&m);
    sp_cli_strvec_free(&paths);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy that ends exactly with the input, so a read past it is a report. */
    char *copy = malloc(size ? size : 1);
    if (!copy) abort();
    memcpy(copy, data, size);

    sp_spool_run_reader_t r;
    if (sp_spool_run_reader_init(&r, copy, size) == 0) {
        const char *env;
        size_t len, records = 0;
        while (sp_spool_run_reader_next(&r, &env, &len) == 1) {
            SP_FUZZ_CHECK(env >= copy && len <= size && (size_t)(env - copy) <= size - len,
                          "record %zu at %td, %zu bytes, in a %zu-byte batch", records, env - copy,
                          len, size);
            envelope(env, len);
            records++;
        }
        SP_FUZZ_CHECK(r.off <= size, "reader offset %zu past %zu", r.off, size);
    }
    envelope(copy, size);
    free(copy);

    /* The CLI, on the same bytes as a file: a batch when it starts with the batch header. */
    const char *path = size >= sizeof SP_BATCH_HEADER - 1 &&
                               !memcmp(data, SP_BATCH_HEADER, sizeof SP_BATCH_HEADER - 1)
                           ? batch
                           : one;
    write_file(path, data, size);
    model(path);
    unlink(path);
    return 0;
}
