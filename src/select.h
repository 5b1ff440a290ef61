/* select: which node processes are profiled. LD_PRELOAD reaches every process of a
 * container, npm and yarn included; this decides, from node's command line alone, whether
 * this one is ours. Pure functions over argv (unit tested); sp_select_self reads
 * /proc/self/cmdline. Threads: the preload constructor (single-threaded) and the CLI.
 *
 * Syntax of SENTRYPROF_INCLUDE / SENTRYPROF_EXCLUDE: fnmatch(3) globs separated by ':' or
 * ','. A glob without '/' is matched against the main script's file name ("app.js",
 * "npm-cli.js"), one with '/' against its path as given on the command line and as
 * resolved ('*' also matches '/' there), one with a space against the script and its arguments joined by single spaces ("server.js --worker *").
 * The main script is the first argument after node's own options; `node -e`/`-p` is
 * "[eval]", no script at all (REPL, stdin) is "[stdin]".
 *
 * Rules, first match wins:
 *   1. SENTRYPROF_EXCLUDE matches                 -> not profiled
 *   2. SENTRYPROF_INCLUDE is set: it matches      -> profiled (also a package manager)
 *                                 it does not     -> not profiled
 *   3. a package-manager CLI (SP_SELECT_DEFAULT_EXCLUDE: npm, npx, yarn, pnpm, corepack)
 *                                                 -> not profiled
 *   4. anything else                              -> profiled
 */
#ifndef SP_SELECT_H
#define SP_SELECT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* The package managers' entry points, by file name: the shebang scripts on PATH (npm ...),
 * what they link to (npm-cli.js ...), corepack's shims and yarn berry's releases. */
#define SP_SELECT_DEFAULT_EXCLUDE                                                               \
    "npm,npx,npm-cli.js,npx-cli.js,yarn,yarnpkg,yarn.js,yarn.cjs,yarn-*.cjs,pnpm,pnpx,pnpm.cjs," \
    "pnpm.mjs,pnpm.js,pnpx.cjs,pnpx.mjs,corepack,corepack.cjs"

typedef struct {
    bool profile;      /* the verdict */
    char script[512];  /* the main script as found ("[eval]", "[stdin]") */
    char rule[640];    /* which rule decided, one line for people ("SENTRYPROF_EXCLUDE 'x'") */
} sp_select_t;

/* Decides for node's argv with the given INCLUDE/EXCLUDE values (NULL or "": unset). */
void sp_select_decide(int argc, char *const argv[], const char *include, const char *exclude,
                      sp_select_t *out);

/* The same for this process: argv from /proc/self/cmdline, include/exclude as config read
 * them (sp_config_load_gate). Unreadable cmdline: profiled ("cmdline unreadable"). */
void sp_select_self(const char *include, const char *exclude, sp_select_t *out);

#endif
