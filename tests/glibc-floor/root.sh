#!/usr/bin/env bash
# The Debian 11 (bullseye, glibc 2.31) root of `make check-glibc-floor` (issue #18): made
# once with debootstrap from the Debian mirror apt uses, cached, its path printed on stdout.
# test.sh starts this in the background at its beginning, so the download overlaps the
# build and `make check`; run.sh calls it again (it waits on the lock, then finds the root).
#
# As small as the checks allow: --variant=minbase (no Priority: important), plus the shared
# libraries of the `sentryprof` CLI as bullseye ships them (libcurl4 7.74, libjansson4 2.13,
# libprotobuf-c1 1.3; zlib1g is in minbase), and --foreign: debootstrap's first stage only
# (download, unpack the Priority: required packages; the second stage, dpkg installing
# every package inside the root, makes nothing these checks run: they need the files, the
# ld.so cache and /bin/sh). The packages of the second stage (the CLI's libraries and what
# they need, debootstrap/base in the root) are unpacked here with dpkg-deb, then ldconfig.
# The root's marker file holds the arguments it was made with: other arguments (a changed
# package list) make it again. Needs root (debootstrap, chroot) and the network once.
# usage: root.sh   (SENTRYPROF_BULLSEYE_ROOT: where; default ~/.cache/sentryprof-bullseye/root)
set -euo pipefail
root=${SENTRYPROF_BULLSEYE_ROOT:-$HOME/.cache/sentryprof-bullseye/root}
include=libcurl4,libjansson4,libprotobuf-c1
args="bullseye --variant=minbase --foreign --include=$include"
[ "$(id -u)" = 0 ] || { echo "root.sh: debootstrap and chroot need root" >&2; exit 77; }
mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock 9
if [ -x "$root/bin/sh" ] && [ "$(cat "$root/.sentryprof-root" 2>/dev/null)" = "$args" ]; then
    echo "$root"
    exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap not found: apt-get install debootstrap" >&2; exit 99; }
# The mirror apt uses (deb822 .sources or a one-line sources.list).
mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs: *\([^ ]*debian\)\/*$/\1/p' | head -1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb \(\[[^]]*\] \)\?\(http[^ ]*debian\)\/* .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -1)
[ -n "$mirror" ] || { echo "no Debian mirror configured for apt: cannot debootstrap" >&2; exit 99; }
rm -rf "$root.tmp" "$root"
start=$(date +%s)
# shellcheck disable=SC2086
debootstrap --variant=minbase --foreign --include="$include" \
    bullseye "$root.tmp" "$mirror" >"$root.log" 2>&1 ||
    { tail -20 "$root.log" >&2; rm -rf "$root.tmp"; exit 99; }
# What the second stage would have made that the checks use: the base packages' files,
# /bin/sh (dash's postinst makes the link when the package has none) and the ld.so cache.
# The .debs go then (the root is the cache).
for p in $(cat "$root.tmp/debootstrap/base"); do
    deb=$(awk -v p="$p" '$1 == p { print $2 }' "$root.tmp/debootstrap/debpaths")
    [ -n "$deb" ] && dpkg-deb -x "$root.tmp$deb" "$root.tmp" ||
        { echo "root.sh: cannot unpack $p ($deb)" >&2; rm -rf "$root.tmp"; exit 99; }
done
rm -f "$root.tmp"/var/cache/apt/archives/*.deb
[ -e "$root.tmp/bin/sh" ] || ln -s dash "$root.tmp/bin/sh"
# The first stage leaves /proc a symlink to the host's (for its own use): a directory, so
# run.sh mounts a proc inside the root (a symlink makes /proc/self a loop there: ELOOP).
if [ -L "$root.tmp/proc" ]; then rm "$root.tmp/proc" && mkdir "$root.tmp/proc"; fi
chroot "$root.tmp" /sbin/ldconfig
echo "$args" >"$root.tmp/.sentryprof-root"
mv "$root.tmp" "$root"
echo "root.sh: debootstrap $args from $mirror: $(( $(date +%s) - start )) s, $(du -sm "$root" | cut -f1) MB" >&2
echo "$root"
