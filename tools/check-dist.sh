#!/bin/sh
# `make check-dist`: the source tarball holds exactly what git tracks, plus what autotools
# generate (configure, Makefile.in, aclocal.m4, build-aux/, m4/*.m4). Not in it on purpose:
# .ci/ (this repository's CI), .gitignore and m4/.keep. Prints each difference.
# usage: check-dist.sh SRCDIR TARBALL
set -eu
srcdir=$1
tarball=$2
if ! git -C "$srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "check-dist: $srcdir is not a git checkout: nothing to compare the tarball with (skipped)"
    exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sp-check-dist.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
git -C "$srcdir" ls-files | grep -v -E '^(\.ci/|\.gitignore$|m4/\.keep$)' | LC_ALL=C sort >"$tmp/git"
tar -tzf "$tarball" | sed 's|^[^/]*/||' | grep -v -E '(^|/)$' |
    grep -v -E '^(configure|Makefile\.in|aclocal\.m4|build-aux/[^/]*|m4/[^/]*\.m4)$' | LC_ALL=C sort >"$tmp/dist"
missing=$(LC_ALL=C comm -23 "$tmp/git" "$tmp/dist")
extra=$(LC_ALL=C comm -13 "$tmp/git" "$tmp/dist")
[ -z "$missing" ] || printf 'check-dist: tracked by git, missing from %s (EXTRA_DIST in Makefile.am):\n%s\n' "$tarball" "$missing"
[ -z "$extra" ] || printf 'check-dist: in %s, not tracked by git (a build or test leftover: dist-hook in Makefile.am):\n%s\n' "$tarball" "$extra"
[ -z "$missing" ] && [ -z "$extra" ] || exit 1
echo "check-dist: $(wc -l <"$tmp/dist") files, the same as git tracks (+ what autotools generate)"
