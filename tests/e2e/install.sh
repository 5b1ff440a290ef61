#!/usr/bin/env bash
# `make install` lays out the library, the helper next to it, the CLI and its man page, and
# the installed library finds its helper relative to its own location.
. "$(dirname "$0")/lib.sh"
need_node
dest="$WORK/inst"
# flock: npm_package.sh runs make install in this build tree too, maybe at the same time
# (make check -j); two makes in one tree race on its generated headers.
flock "$top_builddir/.install.lock" make -s -C "$top_builddir" install DESTDIR="$dest" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; }
lib=$(find "$dest" -name libsentryprof.so -type f | head -1)
cli=$(find "$dest" -path '*/bin/sentryprof' -type f | head -1)
check "library installed" test -n "$lib"
check "helper installed beside it" test -f "$(dirname "$lib")/sentryprof/sentryprof-helper.js"
check "CLI installed" test -x "$cli"
man1=$(find "$dest" -path '*/share/man/man1/sentryprof.1' -type f | head -1)
check "man page installed (share/man/man1/sentryprof.1)" test -n "$man1"
check "the installed man page covers every command (flame, convert, top, list, run, upload, doctor)" \
    bash -c "for c in flame convert top list run upload doctor; do grep -q \"^\\.B \$c\$\" '$man1' || exit 1; done"
check "installed library is stripped (no .symtab, no .debug_*)" \
    bash -c "! readelf -SW '$lib' | grep -Eq ' \.(symtab|debug_[a-z]*) '"
check "its debug info installed beside it (.debug/libsentryprof.so.debug, named by .gnu_debuglink)" \
    bash -c "readelf -SW '$(dirname "$lib")/.debug/libsentryprof.so.debug' | grep -q ' \.debug_info ' &&
             readelf -p .gnu_debuglink '$lib' | grep -q libsentryprof.so.debug"
check "no static archive or libtool archive left to confuse LD_PRELOAD users" \
    test -z "$(find "$dest" -name 'libsentryprof.a')"
got=$(SENTRYPROF_SPOOL_DIR="$WORK/spool" LD_PRELOAD="$lib" "$NODE" -p 'typeof __sentryprof + " " + __sentryprof.stats().active')
check "installed library loads its helper in node ($got)" test "$got" = "object 1"
got=$(SENTRYPROF_SPOOL_DIR="$WORK/spool" "$cli" run "$NODE" -p 'typeof __sentryprof')
check "installed CLI finds the installed library (bin/../lib) and runs node under it" test "$got" = object
finish
