#!/usr/bin/env bash
# npm_package.sh (issue #18): the npm package as a Node user gets it. tools/release.sh packs
# this build (--builddir: the platform tarball and `npm pack` of npm/ with the build in
# prebuilds/linux-x64-gnu/); the package is installed with `npm install <tarball>` into an
# empty folder, offline (a local tarball without dependencies needs no registry); then
#   npx sentryprof run -- node app.js              profiles the quickstart app (tests/apps/hot.js):
#                                                  hotLoop first in `npx sentryprof top`
#   LD_PRELOAD=$(npx sentryprof lib) node app.js   the same with the library alone
# both from the installed package only (SENTRYPROF_LIB unset, the build tree not on any path).
# Also: the release tarball's layout, exit status and a killing signal passed through the
# JS wrapper, and the one-line error on a platform without a build (arm64, musl, macOS,
# glibc below the floor).
. "$(dirname "$0")/lib.sh"
need_node
unset LD_PRELOAD SENTRYPROF_LIB SENTRYPROF_SPOOL_DIR SENTRY_DSN SENTRYPROF_MODE SENTRYPROF_CLI NODE_OPTIONS
nodedir=$(dirname "$(realpath "$NODE")")
NPM=${NPM:-$(command -v "$nodedir/npm" || command -v npm || true)}
NPX=${NPX:-$(command -v "$nodedir/npx" || command -v npx || true)}
if [ -z "$NPM" ] || [ -z "$NPX" ]; then
    not_ok "npm and npx not found: this test packs and installs the npm package (set NPM=, NPX=)"
    finish
fi
# node (the one under test) first on PATH: npx and the apps run it; npm's cache private.
export PATH="$nodedir:$PATH" npm_config_cache="$WORK/npm-cache" npm_config_update_notifier=false \
    npm_config_fund=false npm_config_audit=false

# ---- pack ----
if ! bash "$top_srcdir/tools/release.sh" --builddir "$top_builddir" --out "$WORK/rel" >"$WORK/release.log" 2>&1; then
    sed 's/^/# release: /' "$WORK/release.log" | tail -20
    not_ok "tools/release.sh --builddir failed"
    finish
fi
version=$(sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile")
tgz=$WORK/rel/sentryprof-$version.tgz
plat=$WORK/rel/sentryprof-$version-x86_64-linux-gnu.tar.gz
check "release.sh wrote the npm package and the x86_64 tarball ($(ls "$WORK/rel" | tr '\n' ' '))" test -f "$tgz" -a -f "$plat"
tar -tvzf "$plat" >"$WORK/plat.list"
for f in bin/sentryprof lib/libsentryprof.so lib/sentryprof/sentryprof-helper.js share/man/man1/sentryprof.1; do
    check "platform tarball has sentryprof-$version-x86_64-linux-gnu/$f" grep -q " sentryprof-$version-x86_64-linux-gnu/$f\$" "$WORK/plat.list"
done
check "platform tarball: no libtool archive, no debug file (those are in -debug.tar.gz)" \
    bash -c "! grep -Eq '\.la\$|\.debug' '$WORK/plat.list'"
tar -tvzf "$tgz" >"$WORK/npm.list"
check "npm package: the CLI executable in prebuilds/linux-x64-gnu/bin/" \
    grep -Eq '^-rwx.* package/prebuilds/linux-x64-gnu/bin/sentryprof$' "$WORK/npm.list"
check "npm package: the library and its JS helper beside it" \
    bash -c "grep -q ' package/prebuilds/linux-x64-gnu/lib/libsentryprof.so\$' '$WORK/npm.list' &&
             grep -q ' package/prebuilds/linux-x64-gnu/lib/sentryprof/sentryprof-helper.js\$' '$WORK/npm.list'"

# ---- install into an empty folder, offline ----
mkdir "$WORK/proj" "$WORK/app"
cp "$APPS/hot.js" "$WORK/app/app.js"
cd "$WORK/proj"
if "$NPM" install --offline --loglevel=error "$tgz" >"$WORK/npm-install.log" 2>&1; then
    ok "npm install --offline <tarball> into an empty folder"
else
    sed 's/^/# npm: /' "$WORK/npm-install.log" | tail -20
    not_ok "npm install --offline <tarball> into an empty folder"
    finish
fi
npx_() { "$NPX" --no --offline sentryprof "$@"; }
lib=$(npx_ lib 2>"$WORK/lib.err")
check "npx sentryprof lib: the installed package's library ($lib $(head -c 200 "$WORK/lib.err"))" \
    test "$lib" = "$WORK/proj/node_modules/sentryprof/prebuilds/linux-x64-gnu/lib/libsentryprof.so" -a -f "$lib"
prefix=$(npx_ prefix)
check "npx sentryprof prefix: the folder with bin/sentryprof ($prefix)" test -x "$prefix/bin/sentryprof"

# top_row SPOOL: the first function of `npx sentryprof top` (all threads, self time)
top_row() { npx_ top -n 3 --json "$1" | "$NODE" -e 'const t = JSON.parse(require("fs").readFileSync(0, "utf8"));
    process.stdout.write(t.rows.map(r => r.name + " " + r.self).join("; "))'; }

# ---- npx sentryprof run -- node app.js ----
out=$(npx_ run --spool "$WORK/spool-run" -- node "$WORK/app/app.js" 0.7 2>"$WORK/run.err"); rc=$?
check "npx sentryprof run -- node app.js: the app ran (rc $rc, out [$out], err [$(head -c 300 "$WORK/run.err")])" \
    test "$rc" = 0 -a "$out" = "hot.js done ok"
rows=$(top_row "$WORK/spool-run")
check "npx sentryprof top: hotLoop first (saw: $rows)" grep -q '^hotLoop (app/app.js:[0-9]*) ' <<<"$rows"

# ---- LD_PRELOAD=$(npx sentryprof lib) node app.js ----
out=$(LD_PRELOAD=$(npx_ lib) SENTRYPROF_SPOOL_DIR="$WORK/spool-preload" node "$WORK/app/app.js" 0.7 2>"$WORK/pre.err"); rc=$?
check "LD_PRELOAD=\$(npx sentryprof lib) node app.js: the app ran (rc $rc, out [$out], err [$(head -c 300 "$WORK/pre.err")])" \
    test "$rc" = 0 -a "$out" = "hot.js done ok"
rows=$(top_row "$WORK/spool-preload")
check "and profiled it: hotLoop first (saw: $rows)" grep -q '^hotLoop (app/app.js:[0-9]*) ' <<<"$rows"
got=$(LD_PRELOAD=$lib SENTRYPROF_SPOOL_DIR="$WORK/spool-preload" node -p 'typeof __sentryprof')
check "the packaged library finds its JS helper beside it (typeof __sentryprof: $got)" test "$got" = object

# ---- the wrapper passes exit status and signals through ----
npx_ run --spool "$WORK/spool-rc" -- node -e 'process.exit(7)' 2>/dev/null; rc=$?
check "npx sentryprof run: the app's exit status 7 comes back (saw $rc)" test "$rc" = 7
{ "$WORK/proj/node_modules/.bin/sentryprof" run --spool "$WORK/spool-rc" -- sh -c 'kill -TERM $$'; } 2>/dev/null; rc=$? # no "Terminated" line
check "node_modules/.bin/sentryprof run: an app killed by SIGTERM gives 143 (saw $rc)" test "$rc" = 143
npx_ version >"$WORK/version" 2>&1
check "npx sentryprof version: the CLI's ($(cat "$WORK/version"))" test "$(cat "$WORK/version")" = "sentryprof $version"

# ---- a platform without a build: one clear line ----
cat >"$WORK/platforms.js" <<'JS'
const m = require(process.argv[2]);
for (const [p, a, l, v] of [['linux', 'arm64', 'gnu', '2.36'], ['linux', 'x64', 'musl', ''],
                            ['darwin', 'arm64', '', ''], ['linux', 'x64', 'gnu', '2.27'], ['linux', 'x64', 'gnu', '2.28']]) {
  const r = m.buildFor(p, a, l, v);
  console.log(`${p}-${a}-${l}-${v}: ${r instanceof Error ? r.message : 'build ' + require('path').basename(r.dir)}`);
}
JS
node "$WORK/platforms.js" "$WORK/proj/node_modules/sentryprof" >"$WORK/platforms" 2>&1
msg() { grep "^$1: " "$WORK/platforms" | sed "s/^$1: //"; }
check "linux arm64: 'no prebuilt binary for linux-arm64-gnu', names what the package has ($(msg linux-arm64-gnu-2.36))" \
    grep -q '^sentryprof: no prebuilt binary for linux-arm64-gnu in this package (it has: linux-x64-gnu)' <<<"$(msg linux-arm64-gnu-2.36)"
check "linux x64 musl: no prebuilt binary for linux-x64-musl ($(msg linux-x64-musl-))" \
    grep -q '^sentryprof: no prebuilt binary for linux-x64-musl ' <<<"$(msg linux-x64-musl-)"
check "macOS: Linux only ($(msg darwin-arm64--))" grep -q 'runs on Linux only' <<<"$(msg darwin-arm64--)"
check "glibc 2.27: too old, needs 2.28 ($(msg linux-x64-gnu-2.27))" \
    grep -q '^sentryprof: glibc 2.27 is too old: .* needs glibc 2.28 or newer' <<<"$(msg linux-x64-gnu-2.27)"
check "glibc 2.28: the x64 build ($(msg linux-x64-gnu-2.28))" test "$(msg linux-x64-gnu-2.28)" = "build linux-x64-gnu"
finish
