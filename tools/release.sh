#!/usr/bin/env bash
# Builds the release files of this platform into OUT (default ./release):
#   sentryprof-VERSION.tar.gz                  the source (`make dist`; what the build below is made from)
#   sentryprof-VERSION-CPU-linux-LIBC.tar.gz   the prebuilt binaries, one folder:
#       bin/sentryprof                 the CLI (stripped)
#       lib/libsentryprof.so           the LD_PRELOAD library (stripped)
#       lib/sentryprof/*.js            the JS helper, found next to the library
#       share/man/man1/sentryprof.1, README.md, LICENSE
#     the layout `make install` makes: the CLI finds the library at bin/../lib, the library
#     the CLI at lib/../bin and the helper at lib/sentryprof/ (preload.c, uploader.c), so the
#     folder works wherever it is unpacked (e.g. /opt/sentryprof or /usr/local).
#   sentryprof-VERSION-CPU-linux-LIBC-debug.tar.gz   lib/.debug/libsentryprof.so.debug (gdb)
#   sentryprof-VERSION-CPU-linux-musl.tar.gz   when musl-gcc is installed: the library built
#       for musl and the JS helper (lib/ only: no CLI for musl), from `make check-musl`
#   sentryprof-VERSION.tgz                     the npm package (npm/, `npm pack`) with this
#       build in prebuilds/<node platform>-<node arch>-<libc>/ (bin/ and lib/ as above), and
#       every other platform's binaries tarball of the same version already in OUT (so a
#       second run with --host aarch64-linux-gnu makes the package with both; make release)
#
# usage: tools/release.sh [--out DIR] [--builddir DIR] [--host TRIPLET]
#   default: make dist, unpack, configure with --enable-werror and the CLI's jansson,
#     protobuf-c and zlib linked statically (its only shared libraries are then libcurl and
#     libc), build, install into a staging folder, pack. Needs what the build needs
#     (tools/install-deps.sh) and npm. A few minutes.
#   --host aarch64-linux-gnu: cross-build for arm64 (gcc-aarch64-linux-gnu and the :arm64 dev
#     packages, tools/install-deps.sh --arm64); the packed CLI is tried under qemu-aarch64.
#   --builddir DIR: pack an existing configured build tree instead (the test
#     tests/e2e/npm_package.sh does this: seconds); no source tarball then.
# Nothing is published: the files are left in OUT.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=$PWD/release
builddir=
host=
given_builddir=
while [ $# -gt 0 ]; do
    case "$1" in
    --host) host=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --builddir) builddir=$(cd "$2" && pwd); given_builddir=1; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "release.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sp-release.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
say() { echo "release: $*"; }

if [ -z "$builddir" ]; then
    # The source tarball first: the binaries are built from it, not from this checkout.
    [ -x "$src/configure" ] || (cd "$src" && ./autogen.sh >/dev/null 2>&1)
    mkdir "$tmp/dist" && (cd "$tmp/dist" && "$src/configure" -q && make -s dist) >"$tmp/dist.log" 2>&1 ||
        { tail -30 "$tmp/dist.log"; echo "release: make dist failed" >&2; exit 1; }
    tarball=$(ls "$tmp"/dist/sentryprof-*.tar.gz)
    cp "$tarball" "$out/"
    say "source: $out/${tarball##*/}"
    tar -xzf "$tarball" -C "$tmp"
    srcdir=$(ls -d "$tmp"/sentryprof-*/) && srcdir=${srcdir%/}
    # Static jansson, protobuf-c and zlib for the CLI (Debian's .a files; the library has its
    # own PIC jansson anyway): one fewer thing for an image to install.
    cross=()
    if [ -n "$host" ]; then
        cross=(--host="$host")
        export PKG_CONFIG_LIBDIR=/usr/lib/$host/pkgconfig:/usr/share/pkgconfig
    fi
    static() {
        local a
        a=$(pkg-config --variable=libdir "$1")/$2
        [ -f "$a" ] || { echo "release: $a not found (Debian package $3)" >&2; exit 1; }
        echo "$a"
    }
    builddir=$srcdir/_build
    mkdir "$builddir"
    say "building in $builddir"
    (cd "$builddir" && "$srcdir/configure" -q --enable-werror --prefix=/usr/local "${cross[@]}" \
        JANSSON_LIBS="$(static jansson libjansson.a libjansson-dev)" \
        PROTOBUF_C_LIBS="$(static libprotobuf-c libprotobuf-c.a libprotobuf-c-dev)" \
        ZLIB_LIBS="$(static zlib libz.a zlib1g-dev)" &&
        make -s -j"$jobs") >"$tmp/build.log" 2>&1 ||
        { tail -30 "$tmp/build.log"; echo "release: the build failed" >&2; exit 1; }
fi

mkvar() { sed -n "s/^$1 = //p" "$builddir/Makefile" | head -1; }
version=$(mkvar PACKAGE_VERSION)
cpu=$(mkvar host_cpu)
os=$(mkvar host_os)
case "$os" in
linux-gnu*) libc=gnu ;;
linux-musl*) libc=musl ;;
*) echo "release: host $cpu-$os: only Linux (glibc or musl) builds are packed" >&2; exit 1 ;;
esac
case "$cpu" in
x86_64) node_arch=x64 ;;
aarch64) node_arch=arm64 ;;
*) echo "release: no Node.js arch name for $cpu" >&2; exit 1 ;;
esac
name=sentryprof-$version-$cpu-linux-$libc

# Installed into a staging folder, then the prefix becomes the tarball's folder. Under the
# build tree's install lock: tests/e2e/install.sh may run make install in it at the same time
# (make check -j), and two makes in one tree race on its generated headers.
flock "$builddir/.install.lock" make -s -C "$builddir" install DESTDIR="$tmp/stage" prefix=/usr/local >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; echo "release: make install failed" >&2; exit 1; }
pkg=$tmp/$name
mv "$tmp/stage/usr/local" "$pkg"
rm -f "$pkg"/lib/*.la
mkdir -p "$tmp/$name-debug/lib"
mv "$pkg/lib/.debug" "$tmp/$name-debug/lib/"
STRIP=$(mkvar STRIP)
${STRIP:-strip} "$pkg/bin/sentryprof"
cp "$src/README.md" "$src/LICENSE" "$pkg/"
for f in bin/sentryprof lib/libsentryprof.so lib/sentryprof/sentryprof-helper.js; do
    [ -f "$pkg/$f" ] || { echo "release: $f missing from the install" >&2; exit 1; }
done
run_here=()
[ "$cpu" = "$(uname -m)" ] || run_here=(qemu-"$cpu" -L "/usr/$cpu-linux-$libc")
"${run_here[@]}" "$pkg/bin/sentryprof" version >/dev/null || { echo "release: the packed CLI does not run here" >&2; exit 1; }
pack() { # pack FOLDER: FOLDER.tar.gz in $out, reproducible owner and order
    tar --owner=0 --group=0 --numeric-owner --sort=name -czf "$out/$1.tar.gz" -C "$tmp" "$1"
    say "$out/$1.tar.gz"
}
pack "$name"
pack "$name-debug"

# musl (issue #18), when musl-gcc is here (Debian musl-tools), not with --builddir or --host: the
# library built for musl by `make check-musl` (tests/musl/run.sh, which runs its unit suites
# too), packed with the JS helper; no CLI (it would need libcurl, zlib and protobuf-c built
# for musl). Not tested with node here: no musl Node.js on the npm registry.
musl=
if [ -z "$given_builddir" ] && [ -z "$host" ] && [ "$libc" = gnu ] && command -v musl-gcc >/dev/null 2>&1; then
    if make -s -C "$builddir" check-musl >"$tmp/musl.log" 2>&1; then
        musl=sentryprof-$version-$cpu-linux-musl
        mkdir -p "$tmp/$musl/lib"
        strip -o "$tmp/$musl/lib/libsentryprof.so" "$builddir/_build-musl/libsentryprof.so"
        cp -a "$pkg/lib/sentryprof" "$tmp/$musl/lib/"
        cp "$src/README.md" "$src/LICENSE" "$tmp/$musl/"
        pack "$musl"
    else
        tail -20 "$tmp/musl.log"
        say "musl: make check-musl failed, no musl build packed"
    fi
fi

# The npm package: npm/ plus this build in prebuilds/.
npm_version=$(node -p 'require(process.argv[1]).version' "$src/npm/package.json")
[ "$npm_version" = "$version" ] ||
    { echo "release: npm/package.json has version $npm_version, configure.ac $version" >&2; exit 1; }
cp -r "$src/npm" "$tmp/npm"
cp "$src/LICENSE" "$tmp/npm/"
rm -rf "$tmp/npm/prebuilds"
mkdir -p "$tmp/npm/prebuilds/linux-$node_arch-$libc"
cp -a "$pkg/bin" "$pkg/lib" "$tmp/npm/prebuilds/linux-$node_arch-$libc/"
prebuilds="linux-$node_arch-$libc"
if [ -n "$musl" ]; then
    mkdir -p "$tmp/npm/prebuilds/linux-$node_arch-musl"
    cp -a "$tmp/$musl/lib" "$tmp/npm/prebuilds/linux-$node_arch-musl/"
    prebuilds="$prebuilds linux-$node_arch-musl (library only)"
fi
# The other platforms built before into OUT (same version): their bin/ and lib/ too (lib/
# only for musl, which has no CLI).
for t in "$out"/sentryprof-"$version"-*-linux-*.tar.gz; do
    [ -f "$t" ] || continue
    b=${t##*/} && b=${b%.tar.gz}
    case "$b" in "$name" | "$musl" | *-debug) continue ;; esac
    rest=${b#sentryprof-"$version"-} # CPU-linux-LIBC
    case "${rest%%-*}" in x86_64) a=x64 ;; aarch64) a=arm64 ;; *) continue ;; esac
    d="$tmp/npm/prebuilds/linux-$a-${rest##*-}"
    parts="$b/bin $b/lib" && [ "${rest##*-}" = musl ] && parts="$b/lib"
    # shellcheck disable=SC2086
    mkdir -p "$d" && tar -xzf "$t" -C "$tmp/npm" $parts && mv "$tmp/npm/$b"/* "$d/" && rm -rf "${tmp:?}/npm/$b" ||
        { echo "release: cannot add $t to the npm package" >&2; exit 1; }
    prebuilds="$prebuilds linux-$a-${rest##*-}"
done
tgz=$(cd "$tmp/npm" && npm pack --silent --pack-destination "$out" | tail -1)
say "$out/$tgz (npm package, prebuilds: $prebuilds)"
