#!/bin/sh
# Installs what is missing, builds, profiles the bundled example app (tests/apps/hot.js)
# with no DSN and prints where its time went. The profile stays in _demo/spool, its flame
# graph in _demo/flame.svg.
set -e
cd "$(dirname "$0")"
tools/install-deps.sh
[ -x configure ] || ./autogen.sh >/dev/null 2>&1
# The same build tree as test.sh (_build/), so the two commands can follow each other.
mkdir -p _build
(cd _build && { [ -f Makefile ] || ../configure -q; } && make -s -j"$(nproc)" >/dev/null)
rm -rf _demo && mkdir -p _demo
echo "== running: sentryprof run node tests/apps/hot.js (no DSN: profiles go to _demo/spool)"
SENTRYPROF_SPOOL_DIR="$PWD/_demo/spool" _build/tools/sentryprof run node tests/apps/hot.js 3
echo "== sentryprof top _demo/spool"
_build/tools/sentryprof top -n 15 _demo/spool
# The README's picture, docs/flame-quickstart.svg, is this file from one such run.
_build/tools/sentryprof flame --title "sentryprof flame: tests/apps/hot.js (quickstart.sh)" -o _demo/flame.svg _demo/spool
echo "== flame graph: $PWD/_demo/flame.svg (open it in a browser)"
echo "== next, profile your own app: _build/tools/sentryprof run node app.js   (then: _build/tools/sentryprof top)"
