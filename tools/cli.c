/* cli: the helpers the sentryprof tool's commands share (see cli.h): error lines,
 * allocation that exits on failure, string vectors, and envelope files found in a spool
 * directory (and its run folders) and read whole, up to SP_CLI_MAX_FILE.
 * Single-threaded. Environment: through config only (sp_cli_config).
 */
#include "cli.h"

#include "mem.h"
#include "spool.h"
#include "spool_run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#define SP_CLI_MAX_FILE (64UL << 20) /* larger files are skipped (sp_envelope_parse's limit) */

/* The progress line: only on a terminal, only when asked for (many files), at most every
 * 100 ms; erased before any error line and at the end, so stderr reads the same as without. */
static struct {
    bool on, shown;
    char what[64];
    size_t total;
    struct timespec last;
} progress;

void sp_cli_progress_begin(const char *what, size_t total, bool want)
{
    progress.on = want && isatty(STDERR_FILENO);
    progress.shown = false;
    snprintf(progress.what, sizeof progress.what, "%s", what);
    progress.total = total;
    progress.last = (struct timespec){0, 0};
}

void sp_cli_progress(size_t done, const char *fmt, ...)
{
    if (!progress.on) return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ms = (int64_t)(now.tv_sec - progress.last.tv_sec) * 1000 + (now.tv_nsec - progress.last.tv_nsec) / 1000000;
    if (progress.shown && ms < 100 && done != progress.total) return;
    progress.last = now;
    fprintf(stderr, "\rsentryprof: %s ", progress.what);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    } else {
        fprintf(stderr, "%zu/%zu files", done, progress.total);
    }
    fputs("\033[K", stderr);
    progress.shown = true;
}

void sp_cli_progress_clear(void)
{
    if (progress.shown) fputs("\r\033[K", stderr);
    progress.shown = false;
}

void sp_cli_progress_end(void)
{
    sp_cli_progress_clear();
    progress.on = false;
}

void sp_cli_err(const char *fmt, ...)
{
    sp_cli_progress_clear();
    /* One line whatever the values hold (a DSN with a newline): control bytes escaped. */
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fputs("sentryprof: ", stderr);
    for (const unsigned char *p = (const unsigned char *)buf; *p; p++) {
        if (*p >= 0x20 && *p != 0x7f) fputc(*p, stderr);
        else if (*p == '\n') fputs("\\n", stderr);
        else if (*p == '\r') fputs("\\r", stderr);
        else if (*p == '\t') fputs("\\t", stderr);
        else fprintf(stderr, "\\x%02x", *p);
    }
    fputc('\n', stderr);
}

void *sp_cli_realloc(void *p, size_t n)
{
    void *q = sp_mem_realloc(p, n);
    if (!q) {
        sp_cli_err("out of memory");
        exit(1);
    }
    return q;
}

void *sp_cli_calloc(size_t count, size_t n)
{
    void *p = sp_mem_calloc(count, n);
    if (!p) {
        sp_cli_err("out of memory");
        exit(1);
    }
    return p;
}

char *sp_cli_strdup(const char *s)
{
    char *d = sp_mem_strdup(s);
    if (!d) {
        sp_cli_err("out of memory");
        exit(1);
    }
    return d;
}

char *sp_cli_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = sp_cli_realloc(NULL, (size_t)(n < 0 ? 0 : n) + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void *sp_cli_grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return p;
    size_t n = *cap ? *cap : 16;
    while (n < need) n *= 2;
    *cap = n;
    return sp_cli_realloc(p, n * elem);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

const char *sp_cli_json_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s && *s ? s : NULL;
}

/* ---- envelope files ---- */

void sp_cli_strvec_push(sp_cli_strvec_t *sv, char *s)
{
    SP_GROW(sv->v, sv->cap, sv->n + 1);
    sv->v[sv->n++] = s;
}

void sp_cli_strvec_free(sp_cli_strvec_t *sv)
{
    for (size_t i = 0; i < sv->n; i++) sp_mem_free(sv->v[i]);
    sp_mem_free(sv->v);
    *sv = (sp_cli_strvec_t){0};
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int sp_cli_collect_dir(sp_cli_strvec_t *out, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return -errno;
    sp_cli_strvec_t names = {0};
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.') sp_cli_strvec_push(&names, sp_cli_strdup(de->d_name));
    closedir(d);
    if (names.n) qsort(names.v, names.n, sizeof *names.v, cmp_str);
    for (size_t i = 0; i < names.n; i++) {
        char *path = sp_cli_printf("%s%s%s", dir, ends_with(dir, "/") ? "" : "/", names.v[i]);
        struct stat st;
        bool named = ends_with(names.v[i], SP_SPOOL_SUFFIX) || sp_spool_run_is_batch(names.v[i]);
        /* lstat: a link planted in a spool (x.envelope -> /etc/shadow) is never followed. */
        if (lstat(path, &st) != 0) {
            /* gone since the listing */
        } else if (S_ISLNK(st.st_mode)) {
            if (named) sp_cli_err("skipping %s: a symlink (not followed)", path);
        } else if (S_ISREG(st.st_mode) && named) {
            sp_cli_strvec_push(out, path);
            continue;
        } else if (depth == 0 && S_ISDIR(st.st_mode)) {
            sp_cli_collect_dir(out, path, 1);
        }
        sp_mem_free(path);
    }
    sp_cli_strvec_free(&names);
    return 0;
}

/* Reads a whole regular file into a new sp_mem buffer. 0, or -errno / -EFBIG. */
static int read_all(const char *path, char **data, size_t *len)
{
    /* O_NOFOLLOW: the paths come from directory walks (a link swapped in after the walk's
     * lstat is not followed either) or were resolved by the caller; O_NONBLOCK: a FIFO. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0) return errno == ELOOP ? -ELOOP : -errno;
    int rc = 0;
    char *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        goto out;
    }
    if ((unsigned long)st.st_size > SP_CLI_MAX_FILE) {
        rc = -EFBIG;
        goto out;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    buf = sp_cli_realloc(NULL, cap);
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > SP_CLI_MAX_FILE) {
                rc = -EFBIG;
                goto out;
            }
            buf = sp_cli_realloc(buf, cap *= 2);
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = -errno;
            goto out;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    buf = NULL;
out:
    sp_mem_free(buf);
    close(fd);
    return rc;
}

int sp_cli_load_envelope(const char *path, sp_envelope_parsed_t *env, char *why, size_t whylen)
{
    char *data = NULL;
    size_t len = 0;
    int rc = read_all(path, &data, &len);
    if (rc < 0) {
        snprintf(why, whylen, "%s", rc == -EFBIG    ? "file too large"
                                    : rc == -EINVAL ? "not a regular file"
                                    : rc == -ELOOP  ? "a symlink (not followed)"
                                                    : strerror(-rc));
        return -1;
    }
    if (len == 0) {
        sp_mem_free(data);
        snprintf(why, whylen, "empty file");
        return -1;
    }
    rc = sp_envelope_parse(data, len, env);
    sp_mem_free(data);
    if (rc < 0) {
        snprintf(why, whylen, "%s", rc == -EFBIG ? "file too large" : "not a valid envelope");
        return -1;
    }
    return 0;
}

long sp_cli_each_envelope(const char *path, sp_cli_envelope_fn fn, void *arg, char *why, size_t whylen)
{
    why[0] = '\0';
    const char *slash = strrchr(path, '/');
    if (!sp_spool_run_is_batch(slash ? slash + 1 : path)) {
        sp_envelope_parsed_t env;
        if (sp_cli_load_envelope(path, &env, why, whylen) < 0) return -1;
        struct stat st;
        if (fn) fn(&env, NULL, 0, stat(path, &st) == 0 ? (size_t)st.st_size : 0, arg);
        sp_envelope_parsed_free(&env);
        return 1;
    }
    char *data = NULL;
    size_t len = 0;
    int rc = read_all(path, &data, &len);
    if (rc < 0) {
        snprintf(why, whylen, "%s", rc == -EFBIG ? "file too large" : strerror(-rc));
        return -1;
    }
    sp_spool_run_reader_t r;
    if (sp_spool_run_reader_init(&r, data, len) < 0) {
        sp_mem_free(data);
        snprintf(why, whylen, "not a batch of envelopes (no \"sentryprof_envelopes\" header)");
        return -1;
    }
    long n = 0;
    const char *e;
    size_t elen;
    while (sp_spool_run_reader_next(&r, &e, &elen)) {
        int stop = 0;
        sp_envelope_parsed_t env;
        if (fn && sp_envelope_parse(e, elen, &env) == 0) {
            stop = fn(&env, NULL, (size_t)n, elen, arg);
            sp_envelope_parsed_free(&env);
        } else if (fn) {
            stop = fn(NULL, "not a valid envelope", (size_t)n, elen, arg);
        }
        n++;
        if (stop) break;
    }
    if (r.torn)
        snprintf(why, whylen, "%zu bytes after envelope %ld are incomplete (ignored)", len - r.off, n);
    sp_mem_free(data);
    return n;
}

const char *sp_cli_item_type(const sp_envelope_parsed_t *env, size_t i)
{
    const char *t = sp_cli_json_str(env->items[i].header, "type");
    return t ? t : "?";
}

bool sp_cli_is_profile(const char *type)
{
    return strcmp(type, "profile_chunk") == 0 || strcmp(type, "profile") == 0;
}

int sp_cli_bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sentryprof: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see sentryprof --help)\n", stderr);
    return 2;
}

static sp_config_t cli_config;
static bool cli_config_loaded;

void sp_cli_config_load(const char *const *warn_for)
{
    sp_config_load_cli(&cli_config, warn_for);
    cli_config_loaded = true;
}

const sp_config_t *sp_cli_config(void)
{
    if (!cli_config_loaded) sp_cli_config_load(NULL);
    return &cli_config;
}

bool sp_cli_default_spool(char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s", sp_cli_config()->spool_dir);
    if (n < 0 || (size_t)n >= len) {
        sp_cli_err("spool directory path too long");
        return false;
    }
    return true;
}

bool sp_cli_default_spool_checked(char *buf, size_t len)
{
    if (!sp_cli_default_spool(buf, len)) return false;
    int rc = sp_spool_check(buf);
    return rc == 0 || rc == -ENOENT; /* refused: it said why */
}

/* true if list (words separated by any of seps) holds word */
bool sp_cli_has_word(const char *list, const char *seps, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, seps);
        if (n == wl && memcmp(p, word, wl) == 0) return true;
        p += n;
        if (*p) p++;
    }
    return false;
}
