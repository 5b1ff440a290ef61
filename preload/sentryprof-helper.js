'use strict';
// sentryprof's JS helper. libsentryprof.so adds `--require <this file>` to NODE_OPTIONS in
// node processes. It binds the already loaded library through N-API (process.dlopen on the
// path the library put in SENTRYPROF_LIBRARY_PATH) and exposes globalThis.__sentryprof.
// It must never throw into the app, print, or keep the event loop alive.
(function sentryprofHelper() {
  const lib = process.env.SENTRYPROF_LIBRARY_PATH;
  if (!lib || globalThis.__sentryprof) return;
  try {
    const mod = { exports: {} };
    process.dlopen(mod, lib);
    Object.defineProperty(globalThis, '__sentryprof', {
      value: Object.freeze({
        version: mod.exports.version,
        stats: () => mod.exports.stats(),
      }),
      enumerable: false,
      configurable: true,
      writable: false,
    });
  } catch (err) {
    if (process.env.SENTRYPROF_DEBUG === '1') {
      process.stderr.write(`[sentryprof] debug: helper inactive: ${err && err.message}\n`);
    }
  }
})();
