/* log: formats one line and writes it to stderr in a single write(2), so lines from
 * several threads never interleave, and escapes control bytes so one call is one line. Rate-limited: after SP_LOG_BURST lines, only
 * debug mode keeps printing, so a broken environment cannot flood the app's stderr.
 * Threads: any except the signal handler. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SP_LOG_BURST 50 /* warning lines per process before we go quiet */

static _Atomic int log_level = SP_LOG_WARN;
static _Atomic unsigned log_lines;

void sp_log_set_level(int level) { atomic_store(&log_level, level); }
int sp_log_get_level(void) { return atomic_load_explicit(&log_level, memory_order_relaxed); }

void sp_log_write(int level, const char *fmt, ...)
{
    int saved = errno;
    if (level < SP_LOG_DEBUG && atomic_fetch_add(&log_lines, 1) >= SP_LOG_BURST &&
        sp_log_get_level() < SP_LOG_DEBUG) {
        errno = saved;
        return;
    }
    char buf[1024];
    static const char *const tags[] = {"error: ", "warning: ", "", "debug: "};
    int n = snprintf(buf, sizeof buf, "[sentryprof] %s", tags[level & 3]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof buf - 2) len = sizeof buf - 2;
    /* One line, whatever the values in it hold: control bytes (a newline in an environment
     * variable, an HTTP body) are escaped as \n, \r, \t or \xNN. */
    char out[sizeof buf * 4 + 2];
    size_t o = 0;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c >= 0x20 && c != 0x7f) {
            out[o++] = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            out[o++] = '\\';
            out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else {
            out[o++] = '\\', out[o++] = 'x', out[o++] = hex[c >> 4], out[o++] = hex[c & 15];
        }
    }
    out[o++] = '\n';
    ssize_t w = write(STDERR_FILENO, out, o);
    (void)w;
    errno = saved;
}
