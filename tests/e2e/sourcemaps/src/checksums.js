// The original source of dist/bundle.js (tests/e2e/sourcemaps.sh): what a bundler with
// Sentry's plugin minified into one line, with a source map and a debug id.
function computeChecksums(ms, fail) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) {
    for (let i = 0; i < 1000; i++) x = (x * 33 + i) % 1000033;
  }
  if (fail) throw new Error(`checksum failed at ${x}`);
  return x;
}

module.exports = { computeChecksums };
