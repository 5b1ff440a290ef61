# Sourced by run.sh and realapp.sh: here, top_srcdir, top_builddir (the tree that holds
# .libs/libsentryprof.so, _build/ when the source tree has none), LIB, and node_of.
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
if [ -z "${top_builddir:-}" ]; then
    top_builddir=$top_srcdir
    [ ! -f "$top_srcdir/.libs/libsentryprof.so" ] && [ -f "$top_srcdir/_build/.libs/libsentryprof.so" ] &&
        top_builddir=$top_srcdir/_build
fi
LIB="$top_builddir/.libs/libsentryprof.so"
. "$top_srcdir/tests/matrix/node-cache.sh"
