# Sourced by run.sh and realapp.sh: here, top_srcdir, top_builddir (the tree that holds
# .libs/libsentryprof.so, _build/ when the source tree has none), LIB, and node_of.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../matrix/build-tree.sh"
. "$top_srcdir/tests/matrix/node-cache.sh"
