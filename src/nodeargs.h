/* nodeargs: reads node's command line the way node does: node's own options first, then the
 * main script, then the app's arguments. One parser for every question asked of argv: which
 * script runs (select.c), whether node's options ask V8 for a log (preload's isolate-log
 * redirection) and for its perf map (preload: whose map it is). Pure functions, no
 * allocation: the preload constructor and the CLI. */
#ifndef SP_NODEARGS_H
#define SP_NODEARGS_H

#include <stdbool.h>
#include <stddef.h>

/* Index in argv of node's main script (argv[0] is node itself), or -1: eval (*label
 * "[eval]": -e/-p/--eval/--print) or none (*label "[stdin]": REPL, "-"). Options that take
 * their value as the next argument ("-r x") skip it; "--" ends node's options. */
int sp_nodeargs_main(int argc, char *const argv[], const char **label);

/* True when node's own options in args (NUL-separated, n bytes: /proc/self/cmdline, argv[0]
 * first) ask V8 for a log of its own (--log*, --prof*). Only node's options count: the scan
 * stops at the script, after the code of -e/-p, at "-" and at "--", so `node server.js
 * --log-level=info` is the app's argument, not V8's. */
bool sp_nodeargs_want_v8_log(const char *args, size_t n);

/* True when node's own options in args (read as sp_nodeargs_want_v8_log reads them) ask V8
 * for its perf map (--perf-basic-prof*, --perf-prof*, also with '_'): nothing of ours is on
 * the command line, so such a flag is the user's, whose map a perf session reads after the
 * process exits. */
bool sp_nodeargs_want_perf_map(const char *args, size_t n);

#endif
