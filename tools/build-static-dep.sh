#!/bin/sh
# Builds a library that goes statically into libsentryprof.so, from Debian bookworm's
# source of the version Debian ships (the orig tarball: the Debian patches of these two
# touch only hurd, loongarch64 and a test script), position-independent and compiled with
# the glibc floor header (FLOOR_HEADER, `-include`) so its symbol versions stay at the floor.
#   jemalloc 5.3.0  --disable-prof (Debian's build has the heap profiler: it pulls in
#                   libgcc_s for _Unwind_Backtrace and libm for log/exp@GLIBC_2.29),
#                   --disable-libdl (no dlsym(RTLD_NEXT, "pthread_create")), --disable-cxx
#                   (no operator new/delete), --disable-stats (mem.c counts with sallocx)
#   jansson 2.14    static, -fPIC: Debian's libjansson.a is built -fPIE (a PC32 reference to
#                   stdin) and cannot go into a shared object
#   libunwind 1.6.2 static, -fPIC (Debian's libunwind-x86_64.a has R_X86_64_32 relocations
#                   against pthread_mutex_lock), the remote API only: no minidebuginfo (liblzma),
#                   no zlib, no ptrace or coredump accessors, no setjmp; -Os, one section
#                   per function (the library links with --gc-sections)
#   check 0.15.2    static, for the musl build's unit tests only (tests/musl/run.sh)
#
# usage: build-static-dep.sh jemalloc|jansson|libunwind|check OUTDIR FLOOR_HEADER
#   OUTDIR gets lib/<archive> and include/<headers>.
# CC, host_cpu and, in a cross build, host and build (configure's triplets: `make check-arm64`
# builds for aarch64 on x86_64) come from the environment (Makefile); the libraries keep their own
# optimization flags (not the project's CFLAGS: a sanitizer build must not instrument them).
# The source is fetched once with apt's own client (`apt-get source --download-only`, from the
# mirrors apt is configured with, signatures and .dsc hashes checked by apt, into a private
# apt state in the cache folder: the system's apt lists are not touched) and the orig tarball
# is checked against the sha256 below;
# each build is cached by everything that goes into it in $SENTRYPROF_DEPS_CACHE (default
# ~/.cache/sentryprof-deps): the first jemalloc build takes 1-7 minutes, later builds copy
# the result. Offline: put the tarball in the cache folder by hand.
set -eu
name=$1
out=$2
floor_header=$3
CC=${CC:-cc}
cpu=${host_cpu:-$(uname -m)}
cross=""
[ -n "${host:-}" ] && [ -n "${build:-}" ] && [ "$host" != "$build" ] && cross="--host=$host --build=$build"
case "$name" in
jemalloc)
    version=5.3.0
    sha256=2db82d1e7119df3e71b7640219b6dfe84789bc0537983c3b7ac4f7189aecfeaa
    tarball=jemalloc_$version.orig.tar.bz2
    # Debian's page-size choice: 4 KiB on x86, 64 KiB elsewhere (works on 4K and 64K kernels).
    case "$cpu" in
    x86_64 | i?86) lgpage=12 ;;
    *) lgpage=16 ;;
    esac
    config="--with-lg-page=$lgpage --with-lg-hugepage=21 --disable-prof --disable-libdl --disable-cxx --disable-stats --disable-doc"
    target=lib/libjemalloc_pic.a
    make_args=$target
    prepare=true
    headers=include/jemalloc/jemalloc.h
    ;;
jansson)
    version=2.14
    sha256=c739578bf6b764aa0752db9a2fdadcfe921c78f1228c7ec0bb47fa804c55d17b
    tarball=jansson_$version.orig.tar.gz
    config="--disable-shared --enable-static --with-pic"
    prepare="autoreconf -fi" # the orig tarball has no configure script
    target=src/.libs/libjansson.a
    make_args="-C src libjansson.la"
    headers="src/jansson.h src/jansson_config.h"
    ;;
libunwind)
    version=1.6.2
    sha256=4a6aec666991fb45d0889c44aede8ad6eb108071c3554fcdff671f9c94794976
    tarball=libunwind_$version.orig.tar.gz
    config="--disable-shared --enable-static --with-pic --disable-minidebuginfo --disable-zlibdebuginfo --disable-coredump --disable-ptrace --disable-setjmp --disable-documentation --disable-tests --disable-debug-frame --disable-cxx-exceptions"
    # small: every process of a container maps the library (sections the link can drop)
    cflags="-g -Os -ffunction-sections -fdata-sections"
    prepare=true
    target=src/.libs/libunwind-x86_64.a
    make_args="-C src libunwind-x86_64.la"
    headers="include/libunwind.h include/libunwind-x86_64.h include/libunwind-common.h include/libunwind-dynamic.h"
    ;;
check)
    # Only for the musl build's unit tests (tests/musl/run.sh): Debian's libcheck.a is glibc's.
    version=0.15.2
    sha256=8451b68ac5d6f3157b24f22eceff575bcf566264f6d78f3852f89d4e08cf42e1
    tarball=check_$version.orig.tar.gz
    config="--disable-shared --enable-static --disable-subunit --disable-build-docs --disable-timeout-tests"
    prepare=true
    target=src/.libs/libcheck.a
    make_args=
    headers="src/check.h check_stdint.h"
    ;;
*) echo "build-static-dep: unknown library $name" >&2; exit 1 ;;
esac
dir=${tarball%%_*}
cache=${SENTRYPROF_DEPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sentryprof-deps}

# apt-get source with a private state: deb-src lines for every repository and suite apt
# already uses (apt-get indextargets), lists and caches in a temporary folder.
fetch_source() {
    apt_dir=$(mktemp -d "$cache/apt.XXXXXX")
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/src"
    { apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null | sort -u |
        while read -r uri suite; do echo "deb-src $uri $suite main"; done; } >"$apt_dir/sources.list"
    if [ ! -s "$apt_dir/sources.list" ]; then
        # No lists downloaded yet (apt-get update never ran): the configured sources, one-line
        # (sources.list) and deb822 (*.sources) styles.
        { sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) \([^ ]*\) .*/deb-src \2 \3 main/p' \
              /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
          for f in /etc/apt/sources.list.d/*.sources; do
              [ -f "$f" ] || continue
              awk '/^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) s[i - 1] = $i; n = NF - 1 }
                   /^$/ { for (i = 1; i <= n; i++) print "deb-src " u " " s[i] " main"; n = 0 }
                   END { for (i = 1; i <= n; i++) print "deb-src " u " " s[i] " main" }' "$f"
          done; } | sort -u >"$apt_dir/sources.list"
    fi
    if [ ! -s "$apt_dir/sources.list" ]; then
        rm -rf "$apt_dir"
        echo "build-static-dep: apt has no Debian repository configured (put $tarball in $cache by hand)" >&2
        return 1
    fi
    set -- -o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
        -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache" -o APT::Sandbox::User=root -qq
    echo "build-static-dep: apt-get source $dir (once)" >&2
    if ! apt-get "$@" update >"$apt_dir/log" 2>&1 ||
       ! (cd "$apt_dir/src" && apt-get "$@" source --download-only "$dir") >>"$apt_dir/log" 2>&1 ||
       [ ! -f "$apt_dir/src/$tarball" ]; then
        tail -n 5 "$apt_dir/log" >&2
        rm -rf "$apt_dir"
        echo "build-static-dep: cannot fetch the source of $dir with apt-get (put $tarball in $cache by hand)" >&2
        return 1
    fi
    mv -f "$apt_dir/src/$tarball" "$cache/$tarball.new"
    rm -rf "$apt_dir"
}

mkdir -p "$cache"
if ! echo "$sha256  $cache/$tarball" | sha256sum -c --status 2>/dev/null; then
    fetch_source || exit 1
    if ! echo "$sha256  $cache/$tarball.new" | sha256sum -c --status; then
        rm -f "$cache/$tarball.new"
        echo "build-static-dep: Debian's $tarball does not have the expected sha256 $sha256" >&2
        exit 1
    fi
    mv -f "$cache/$tarball.new" "$cache/$tarball"
fi

key=$( { echo "$name $version $sha256 $cpu $config${cflags:+ $cflags} $CC${cross:+ $cross}"; $CC --version 2>&1 | head -1;
         cat "$floor_header"; } | sha256sum | cut -c1-16)
built="$cache/$name-$version-$key"
if [ ! -f "$built/lib/$(basename $target)" ]; then
    echo "build-static-dep: building $name $version (once; cached in $built)" >&2
    work=$(mktemp -d "$cache/build.XXXXXX")
    tar -xf "$cache/$tarball" -C "$work"
    src="$work/$name-$version"
    # The floor header goes to C files only where the library has assembler sources
    # (libunwind's getcontext.S): the preprocessor would pass its __asm__ lines to `as`.
    # (CCASFLAGS defaults to CFLAGS: set apart.)
    if [ "$name" = libunwind ]; then set -- CFLAGS="$cflags -include $floor_header" CCASFLAGS="-g -O2"
    else set -- CPPFLAGS="-include $floor_header"; fi
    # shellcheck disable=SC2086
    if ! (cd "$src" && $prepare >"$work/configure.log" 2>&1 && ./configure -q $config $cross CC="$CC" "$@" \
              >>"$work/configure.log" 2>&1 &&
          make -j"$(nproc)" $make_args >"$work/make.log" 2>&1); then
        tail -n 30 "$work/configure.log" "$work/make.log" >&2 || true
        echo "build-static-dep: $name failed to build in $work" >&2
        exit 1
    fi
    mkdir -p "$work/result/lib" "$work/result/include/$name"
    cp "$src/$target" "$work/result/lib/"
    for h in $headers; do cp "$src/$h" "$work/result/include/$name/"; done
    rm -rf "$built"
    mv "$work/result" "$built"
    rm -rf "$work"
fi
mkdir -p "$out/lib" "$out/include"
cp "$built/lib/$(basename $target)" "$out/lib/"
cp -r "$built/include/$name" "$out/include/"
