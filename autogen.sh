#!/bin/sh
# Regenerates the build system from configure.ac and Makefile.am.
set -e
cd "$(dirname "$0")"
for tool in autoreconf libtoolize pkg-config; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "autogen.sh: $tool not found: apt-get install -y autoconf automake libtool pkg-config" >&2
    exit 1
  }
done
mkdir -p m4
exec autoreconf --install --force --warnings=all
