# Sourced by tests/matrix/run.sh and tests/fidelity/lib.sh (scripts one folder below tests/,
# which set `here` to their own folder first): top_srcdir, top_builddir (the tree that holds
# .libs/libsentryprof.so, _build/ when the source tree has none) and LIB.
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
if [ -z "${top_builddir:-}" ]; then
    top_builddir=$top_srcdir
    [ ! -f "$top_srcdir/.libs/libsentryprof.so" ] && [ -f "$top_srcdir/_build/.libs/libsentryprof.so" ] &&
        top_builddir=$top_srcdir/_build
fi
LIB="$top_builddir/.libs/libsentryprof.so"
