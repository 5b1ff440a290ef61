#!/bin/sh
# Installs the bench's pinned npm packages (tests/bench/package.json + package-lock.json:
# autocannon) with `npm ci` into DIR (default: _build/_bench-deps next to this script), once
# per lock file, and prints the path of the autocannon binary. test.sh runs it so that CI
# installs what the bench needs; the benches run it themselves when it is missing.
#   tests/bench/deps.sh [DIR]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
DEPS=${1:-$HERE/../../_build/_bench-deps}
AC=$DEPS/node_modules/.bin/autocannon
stamp=$(cat "$HERE/package.json" "$HERE/package-lock.json" | cksum | cut -d' ' -f1)
if [ "$(cat "$DEPS/.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -x "$AC" ]; then
    NPM=${NPM:-$(command -v npm || true)}
    [ -n "$NPM" ] || { echo "bench deps: npm not found (set NPM=...)" >&2; exit 1; }
    mkdir -p "$(dirname "$DEPS")"
    tmp=$(mktemp -d "$DEPS.tmp.XXXXXX")
    cp "$HERE/package.json" "$HERE/package-lock.json" "$tmp/"
    if ! (cd "$tmp" && timeout 300 "$NPM" ci --no-audit --no-fund --prefer-offline --loglevel=error) >"$tmp/npm.log" 2>&1; then
        sed 's/^/bench deps: npm: /' "$tmp/npm.log" | tail -20 >&2
        rm -rf "$tmp"
        echo "bench deps: npm ci of tests/bench/ failed: is the npm registry reachable?" >&2
        exit 1
    fi
    rm -f "$tmp/npm.log"
    rm -rf "$DEPS" && mv "$tmp" "$DEPS" && echo "$stamp" >"$DEPS/.stamp"
fi
echo "$AC"
