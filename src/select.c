/* select: owns the "is this node process ours?" decision (select.h has the syntax and the
 * rules). No allocation, no locks: it runs in the preload constructor of every node
 * process, before anything of ours exists, and in the CLI (doctor).
 * Why argv and not process.argv: the decision is taken before node runs a line of JS, so
 * that an excluded process gets nothing (no NODE_OPTIONS change, thread or signal). */
#include "select.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "nodeargs.h"

#define SP_SELECT_CMDLINE_MAX 32768 /* bytes of /proc/self/cmdline read */
#define SP_SELECT_ARGS_MAX 1024     /* arguments considered */
#define SP_SELECT_PATTERN_MAX 512   /* one glob */

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

typedef struct {
    const char *script, *resolved, *line; /* resolved/line: NULL when not needed/available */
} target_t;

/* Does one glob match the target? (select.h: by file name, path or command line) */
static bool glob_matches(const char *g, const target_t *t)
{
    if (strchr(g, ' ')) return t->line && fnmatch(g, t->line, 0) == 0;
    if (strchr(g, '/'))
        return fnmatch(g, t->script, 0) == 0 || (t->resolved && fnmatch(g, t->resolved, 0) == 0);
    return fnmatch(g, base_name(t->script), 0) == 0;
}

/* The first glob of list that matches; copied into hit. */
static bool list_matches(const char *list, const target_t *t, char *hit, size_t hitlen)
{
    if (!list) return false;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ":,");
        if (n && n < SP_SELECT_PATTERN_MAX) {
            char g[SP_SELECT_PATTERN_MAX];
            memcpy(g, p, n);
            g[n] = '\0';
            if (glob_matches(g, t)) {
                snprintf(hit, hitlen, "%s", g);
                return true;
            }
        }
        p += n;
        if (*p) p++;
    }
    return false;
}

static bool needs(const char *list, char c)
{
    return list && strchr(list, c) != NULL;
}

void sp_select_decide(int argc, char *const argv[], const char *include, const char *exclude,
                      sp_select_t *out)
{
    if (include && !*include) include = NULL;
    if (exclude && !*exclude) exclude = NULL;
    const char *label = NULL;
    int m = sp_nodeargs_main(argc, argv, &label);
    snprintf(out->script, sizeof out->script, "%s", m >= 0 ? argv[m] : label);
    target_t t = {.script = out->script};
    char resolved[PATH_MAX], line[1024];
    if (m >= 0 && (needs(include, '/') || needs(exclude, '/')) && realpath(argv[m], resolved))
        t.resolved = resolved;
    if (m >= 0 && (needs(include, ' ') || needs(exclude, ' '))) {
        size_t o = 0;
        line[0] = '\0';
        for (int i = m; i < argc && o + 1 < sizeof line; i++) {
            int k = snprintf(line + o, sizeof line - o, "%s%s", i > m ? " " : "", argv[i]);
            if (k < 0) break;
            o += (size_t)k;
        }
        if (o >= sizeof line) o = sizeof line - 1;
        line[o] = '\0';
        t.line = line;
    }
    char hit[SP_SELECT_PATTERN_MAX];
    if (list_matches(exclude, &t, hit, sizeof hit)) {
        out->profile = false;
        snprintf(out->rule, sizeof out->rule, SP_ENV_EXCLUDE " pattern '%s'", hit);
    } else if (include) {
        out->profile = list_matches(include, &t, hit, sizeof hit);
        if (out->profile) snprintf(out->rule, sizeof out->rule, SP_ENV_INCLUDE " pattern '%s'", hit);
        else snprintf(out->rule, sizeof out->rule, "no " SP_ENV_INCLUDE " pattern matches");
    } else if (list_matches(SP_SELECT_DEFAULT_EXCLUDE, &t, hit, sizeof hit)) {
        out->profile = false;
        snprintf(out->rule, sizeof out->rule,
                 "package-manager CLI '%s', excluded by default (" SP_ENV_INCLUDE " overrides)", hit);
    } else {
        out->profile = true;
        snprintf(out->rule, sizeof out->rule, "default: every node process but package managers");
    }
}

void sp_select_self(const char *include, const char *exclude, sp_select_t *out)
{
    static char buf[SP_SELECT_CMDLINE_MAX]; /* constructor only: single-threaded */
    static char *argv[SP_SELECT_ARGS_MAX];
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t n = 0;
    if (fd >= 0) {
        ssize_t r;
        while ((size_t)n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - (size_t)n)) > 0)
            n += r;
        close(fd);
    }
    if (n <= 0) {
        out->profile = true;
        snprintf(out->script, sizeof out->script, "?");
        snprintf(out->rule, sizeof out->rule, "/proc/self/cmdline unreadable: profiled");
        return;
    }
    buf[n] = '\0';
    int argc = 0;
    for (char *p = buf; p < buf + n && argc < SP_SELECT_ARGS_MAX; p += strlen(p) + 1) argv[argc++] = p;
    sp_select_decide(argc, argv, include, exclude, out);
}
