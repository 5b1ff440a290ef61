#!/bin/sh
# Installs the bench's pinned npm packages with `npm ci`, once per lock file, into DIR
# (default: _build/_bench-deps next to this script):
#   tests/bench/package.json + package-lock.json   autocannon, express   -> DIR
#   tests/bench/sdk7/  (only with --anchors)      @sentry/node 7 + @sentry/profiling-node 1.3.5 -> DIR/sdk7
#   tests/bench/sdk11/ (only with --anchors)      @sentry/node 11 + @sentry/profiling-node 11   -> DIR/sdk11
# and prints the path of the autocannon binary. test.sh runs it (without --anchors) so that CI
# installs what the benches need; the benches run it themselves when something is missing.
# The SDK folders are separate installs: two majors of @sentry/node cannot share one
# node_modules (each profiling package requires "@sentry/node" by name).
#   tests/bench/deps.sh [--anchors] [DIR]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ANCHORS=0
if [ "${1:-}" = --anchors ]; then ANCHORS=1; shift; fi
DEPS=${1:-$HERE/../../_build/_bench-deps}

# install SRC DEST CHECK: npm ci of SRC's package files into DEST unless DEST holds the same
# lock already (stamp) and CHECK exists there.
install() {
    src=$1 dest=$2 check=$3
    stamp=$(cat "$src/package.json" "$src/package-lock.json" | cksum | cut -d' ' -f1)
    if [ "$(cat "$dest/.stamp" 2>/dev/null)" = "$stamp" ] && [ -e "$dest/$check" ]; then return 0; fi
    NPM=${NPM:-$(command -v npm || true)}
    [ -n "$NPM" ] || { echo "bench deps: npm not found (set NPM=...)" >&2; exit 1; }
    mkdir -p "$(dirname "$dest")"
    tmp=$(mktemp -d "$dest.tmp.XXXXXX")
    cp "$src/package.json" "$src/package-lock.json" "$tmp/"
    if ! (cd "$tmp" && timeout 300 "$NPM" ci --no-audit --no-fund --prefer-offline --loglevel=error) >"$tmp/npm.log" 2>&1; then
        sed 's/^/bench deps: npm: /' "$tmp/npm.log" | tail -20 >&2
        rm -rf "$tmp"
        echo "bench deps: npm ci of $src failed: is the npm registry reachable?" >&2
        exit 1
    fi
    rm -f "$tmp/npm.log"
    # The SDK folders live inside DEST: keep them across a reinstall of the top folder.
    for sub in sdk7 sdk11; do [ -d "$dest/$sub" ] && mv "$dest/$sub" "$tmp/$sub"; done
    rm -rf "$dest" && mv "$tmp" "$dest" && echo "$stamp" >"$dest/.stamp"
}
install "$HERE" "$DEPS" node_modules/.bin/autocannon
if [ "$ANCHORS" = 1 ]; then
    install "$HERE/sdk7" "$DEPS/sdk7" node_modules/@sentry/profiling-node/package.json
    install "$HERE/sdk11" "$DEPS/sdk11" node_modules/@sentry/profiling-node/package.json
fi
echo "$DEPS/node_modules/.bin/autocannon"
