#!/usr/bin/env node
'use strict';
// The npm package's `sentryprof` command: finds the prebuilt build for this machine in
// prebuilds/<platform>-<arch>-<libc>/ (bin/sentryprof, lib/libsentryprof.so and the JS helper
// in lib/sentryprof/: the layout the CLI and the library find each other in, see
// tools/release.sh) and runs its CLI with our arguments. Two commands are answered here,
// without starting the CLI:
//   sentryprof lib      the library's absolute path:  LD_PRELOAD=$(npx sentryprof lib) node app.js
//   sentryprof prefix   the folder holding bin/ and lib/ (to copy into an image, examples/)
// A machine without a build (macOS, arm64 for now, glibc older than 2.28) gets one line
// saying which build it would need and which ones the package has, and exit status 1. The
// musl build (linux-x64-musl, when tools/release.sh could build it) is the library only:
// `sentryprof lib` works there, CLI commands say so and exit 1.
// Exit status and signals of the CLI pass through; for a container entrypoint prefer the
// CLI itself ($(sentryprof prefix)/bin/sentryprof run --): one process less, no node.

const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

const PREBUILDS = path.join(__dirname, '..', 'prebuilds');
const GLIBC_FLOOR = [2, 28]; // configure --with-glibc-floor of the x86_64 build

// 'gnu', 'musl' or '' (not Linux). Node's own report says which glibc it runs on
// (header.glibcVersionRuntime); a Linux node without it is a musl build (Alpine).
function detectLibc() {
  if (process.platform !== 'linux') return { libc: '', version: '' };
  let header = {};
  try {
    if ('excludeNetwork' in process.report) process.report.excludeNetwork = true;
    header = process.report.getReport().header || {};
  } catch (e) {
    header = {};
  }
  if (header.glibcVersionRuntime) return { libc: 'gnu', version: String(header.glibcVersionRuntime) };
  return { libc: 'musl', version: '' };
}

function available() {
  try {
    return fs.readdirSync(PREBUILDS).filter((d) => fs.existsSync(path.join(PREBUILDS, d, 'lib', 'libsentryprof.so')));
  } catch (e) {
    return [];
  }
}

function olderThan(version, floor) {
  const v = version.split('.').map((n) => parseInt(n, 10) || 0);
  return v[0] < floor[0] || (v[0] === floor[0] && (v[1] || 0) < floor[1]);
}

// The build for platform/arch/libc: { dir, cli, lib } or an Error saying why there is none.
function buildFor(platform, arch, libc, glibcVersion) {
  const target = `${platform}-${arch}${libc ? '-' + libc : ''}`;
  const have = available();
  const haveText = have.length ? have.join(', ') : 'none';
  if (platform !== 'linux')
    return new Error(`sentryprof: no build for ${target}: sentryprof runs on Linux only (this package has: ${haveText})`);
  if (libc === 'gnu' && glibcVersion && olderThan(glibcVersion, GLIBC_FLOOR))
    return new Error(`sentryprof: glibc ${glibcVersion} is too old: the ${target} build needs glibc ${GLIBC_FLOOR.join('.')} or newer`);
  const dir = path.join(PREBUILDS, target);
  if (!have.includes(target))
    return new Error(`sentryprof: no prebuilt binary for ${target} in this package (it has: ${haveText}); ` +
                     'see the platform table in the README for what is built');
  return { dir, cli: path.join(dir, 'bin', 'sentryprof'), lib: path.join(dir, 'lib', 'libsentryprof.so') };
}

function thisBuild() {
  const { libc, version } = detectLibc();
  return buildFor(process.platform, process.arch, libc, version);
}

// Runs the CLI with args; its exit status (or the signal that killed it) becomes ours.
function runCli(cli, args) {
  const child = spawn(cli, args, { stdio: 'inherit' });
  // Signals sent to this wrapper (docker stop, kill) go on to the CLI (and the app it execs).
  const forwarded = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];
  const handlers = forwarded.map((sig) => {
    const h = () => { try { child.kill(sig); } catch (e) { /* already gone */ } };
    process.on(sig, h);
    return [sig, h];
  });
  child.on('error', (err) => {
    process.stderr.write(`sentryprof: cannot run ${cli}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    for (const [sig, h] of handlers) process.removeListener(sig, h);
    if (signal) {
      process.kill(process.pid, signal); // the same wait status as the CLI's
      return;
    }
    process.exit(code);
  });
}

function main(argv) {
  const build = thisBuild();
  if (build instanceof Error) {
    process.stderr.write(build.message + '\n');
    return 1;
  }
  if (argv[0] === 'lib' || argv[0] === 'prefix') {
    if (argv.length > 1) {
      process.stderr.write(`sentryprof ${argv[0]}: takes no arguments\n`);
      return 2;
    }
    process.stdout.write((argv[0] === 'lib' ? build.lib : build.dir) + '\n');
    return 0;
  }
  if (!fs.existsSync(build.cli)) {
    // The musl build has the library only (its CLI needs libcurl, zlib and protobuf-c for musl).
    process.stderr.write(`sentryprof: the ${path.basename(build.dir)} build has the library only, no CLI: ` +
                         'use LD_PRELOAD=$(npx sentryprof lib) and read or upload its spool with the CLI of a glibc machine\n');
    return 1;
  }
  runCli(build.cli, argv);
  return undefined;
}

if (require.main === module) {
  const rc = main(process.argv.slice(2));
  if (rc !== undefined) process.exitCode = rc;
} else {
  module.exports = { buildFor, detectLibc, thisBuild };
}
