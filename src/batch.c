/* batch: framing and reading of *.envelopes batch files (format in batch.h). Pure code on
 * caller buffers: no allocation, no I/O, any thread (not the signal handler: snprintf). */
#include "batch.h"

#include <stdio.h>
#include <string.h>

bool sp_batch_is_name(const char *name)
{
    size_t n = strlen(name), m = sizeof SP_BATCH_SUFFIX - 1;
    return n > m && strcmp(name + n - m, SP_BATCH_SUFFIX) == 0;
}

size_t sp_batch_record_head(char *buf, size_t len)
{
    int k = snprintf(buf, 24, "%zu\n", len);
    return k > 0 ? (size_t)k : 0;
}

int sp_batch_reader_init(sp_batch_reader_t *r, const char *data, size_t len)
{
    size_t h = sizeof SP_BATCH_HEADER - 1;
    *r = (sp_batch_reader_t){.data = data, .len = len};
    if (!data || len < h || memcmp(data, SP_BATCH_HEADER, h) != 0) return -1;
    r->off = h;
    return 0;
}

int sp_batch_next(sp_batch_reader_t *r, const char **env, size_t *env_len)
{
    if (r->torn || r->off >= r->len) return 0;
    size_t p = r->off, n = 0;
    while (p < r->len && r->data[p] >= '0' && r->data[p] <= '9' && p - r->off < 10)
        n = n * 10 + (size_t)(r->data[p++] - '0');
    /* digits, then "\n", then n bytes, then "\n"; anything else is a torn or foreign tail */
    if (p == r->off || p >= r->len || r->data[p] != '\n' || n == 0 || n > SP_BATCH_RECORD_MAX ||
        r->len - (p + 1) < n + 1 || r->data[p + 1 + n] != '\n') {
        r->torn = true;
        return 0;
    }
    *env = r->data + p + 1;
    *env_len = n;
    r->off = p + 1 + n + 1;
    return 1;
}
