/* v8pos: decodes V8 source position tables (see v8pos.h for the format). Owns nothing;
 * pure functions, any thread but the signal handler. Every number is bounds-checked: the
 * bytes come from V8's heap, read while the mutator runs, and may be stale or another
 * object's. */
#include "v8pos.h"

#include <stdint.h>

#define SP_V8POS_MAX_VLQ 10 /* bytes of one number: 64 bits in 7-bit groups */

/* One zig-zag VLQ number at *i; false when it runs off the end or past 64 bits. */
static bool vlq(const uint8_t *t, size_t len, size_t *i, int64_t *v)
{
    uint64_t u = 0;
    for (int k = 0; k < SP_V8POS_MAX_VLQ; k++) {
        if (*i >= len) return false;
        uint8_t b = t[(*i)++];
        u |= (uint64_t)(b & 0x7f) << (7 * k);
        if (!(b & 0x80)) {
            *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            return true;
        }
    }
    return false;
}

bool sp_v8pos_find(const uint8_t *table, size_t len, sp_v8pos_format_t format, int64_t code_len,
                   int64_t off, int64_t *script_offset, int *inlining_id)
{
    int64_t code = -1, pos = 0; /* V8 starts at the function entry's offset, -1 */
    bool found = false;
    size_t i = 0;
    while (i < len) {
        int64_t dc, dp;
        if (!vlq(table, len, &i, &dc) || !vlq(table, len, &i, &dp)) return false;
        if (format == SP_V8POS_FLAGS) {
            /* an unsigned number: undo the zig-zag vlq() applied */
            uint64_t u = ((uint64_t)dc << 1) ^ (dc < 0 ? UINT64_MAX : 0); /* unsigned: no UB, no signed shift */
            dc = (int64_t)(u >> 2);
        } else if (dc < 0) {
            dc = -(dc + 1); /* an expression position: the same offset rules */
        }
        code += dc;
        pos += dp;
        if (code >= code_len || code > (1ll << 30) || pos < 0 || pos >= (1ll << 47)) return false;
        if (code > off) continue; /* ascending: applies to later offsets only; check the rest */
        if (pos & 1) return false; /* external (wasm) positions are not script offsets */
        int64_t so = (pos >> 1 & ((1ll << 30) - 1)) - 1;
        *script_offset = so;
        *inlining_id = (int)(pos >> 31 & 0xffff) - 1;
        found = so >= 0; /* kNoSourcePosition: nothing to say for this offset */
    }
    return found;
}

bool sp_v8pos_line(const int64_t *ends, size_t n, int64_t pos, int *line, int *col)
{
    if (!n || pos < 0 || pos > ends[n - 1]) return false;
    size_t lo = 0, hi = n; /* the first end >= pos */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ends[mid] < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    int64_t start = lo ? ends[lo - 1] + 1 : 0;
    /* ends as V8 keeps them are sorted positions (>= 0); read from a heap that changed
     * under us they can be anything: a negative end made the column overflow an int (the
     * fuzzer's column -2147483643) */
    if (start < 0 || start > pos || pos - start >= INT32_MAX || lo >= (size_t)1 << 30) return false;
    *line = (int)lo + 1;
    *col = (int)(pos - start) + 1;
    return true;
}
