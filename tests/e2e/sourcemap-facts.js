'use strict';
// Facts for tests/e2e/sourcemaps.sh, as JSON: for every profile (v1 item "profile" or v2
// "profile_chunk") in the envelopes under a dir: its release and sourcemap debug images (the
// native images of its native frames, type "symbolic", are counted apart: nativeImages),
// the frames of the bundle's hot function (those whose filename is BUNDLE) with samples
// counted, and each hot frame's line:column mapped back through the bundle's source map
// (the `source-map` package, from NODE_PATH); for every error event: the bundle's frame.
// Usage: node sourcemap-facts.js TOP_SRCDIR INGEST_DIR BUNDLE_PATH
const path = require('path');
const fs = require('fs');
const [, dir, bundle] = process.argv.slice(2);
const { spoolEnvelopes, envelopeItems } = require(path.join(__dirname, '..', 'ingest', 'spoolfile.js'));
const { SourceMapConsumer } = require('source-map');
const map = new SourceMapConsumer(JSON.parse(fs.readFileSync(`${bundle}.map`, 'utf8')));
const out = { profiles: [], errors: [], transactions: [] };
const where = (line, col) => { // 1-based line and column, as in frames
  const p = map.originalPositionFor({ line, column: col - 1, bias: SourceMapConsumer.GREATEST_LOWER_BOUND });
  return { name: p.name, line: p.line, column: p.column };
};
for (const e of spoolEnvelopes(dir)) {
  for (const it of envelopeItems(e.buf)) {
    const p = it.payload;
    if (it.type === 'profile' || it.type === 'profile_chunk') {
      const frames = p.profile.frames;
      const hot = {};
      let samples = 0, onBundle = 0;
      for (const s of p.profile.samples) {
        samples++;
        const st = p.profile.stacks[s.stack_id];
        const i = st.find((k) => frames[k].platform !== 'native');
        if (i === undefined || frames[i].filename !== bundle) continue;
        onBundle++;
        hot[i] = (hot[i] || 0) + 1;
      }
      out.profiles.push({
        type: it.type, release: p.release, samples, onBundle,
        images: p.debug_meta && p.debug_meta.images ? p.debug_meta.images.filter((im) => im.type !== 'symbolic') : null,
        nativeImages: ((p.debug_meta || {}).images || []).filter((im) => im.type === 'symbolic').length,
        hotFrames: Object.entries(hot).map(([i, n]) => ({ ...frames[i], samples: n, original: where(frames[i].lineno, frames[i].colno) })),
      });
    } else if (it.type === 'event') {
      const ex = ((p.exception || {}).values || [])[0] || {};
      const fr = ((ex.stacktrace || {}).frames || []).filter((f) => f.filename === bundle);
      out.errors.push({ release: p.release, frames: fr.map((f) => ({ ...f, original: where(f.lineno, f.colno) })),
        images: ((p.debug_meta || {}).images) || null });
    } else if (it.type === 'transaction') {
      out.transactions.push({ name: p.transaction, release: p.release });
    }
  }
}
console.log(JSON.stringify(out));
