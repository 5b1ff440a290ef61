'use strict';
// Prints facts about samples whose leaf is native code in glibc (libc.so.6), as JSON:
// { samples, glibcLeaves, withJs: of those, how many have a JS frame (platform "node") on
//   their stack, withFn: {fn: count of glibc leaves whose stack holds fn}, unnamedGlibc: glibc
//   leaves left as an address }, and about the native images of debug_meta: images: count of
//   "symbolic" images per chunk, imageBytes: their JSON bytes per chunk, nativeFrames: native
//   frames of a file (abs_path and instruction_addr), inImage: of those, inside an image of
//   their file, builtinCopies: outside it but V8's builtins copied out of node, outside: the
//   others (function and file), noImage: files without an image, libc: libc's image.
// Usage: node native-leaf-facts.js FN,FN FILE...
const path = require('path');
const { spoolEnvelopes } = require(path.join(__dirname, '..', 'ingest', 'spoolfile.js'));
const [fnList, ...files] = process.argv.slice(2);
const fns = fnList.split(',');
let samples = 0, glibcLeaves = 0, withJs = 0;
const withFn = Object.fromEntries(fns.map((f) => [f, 0]));
const leaves = Object.create(null); // keyed by function names
const images = [], imageBytes = [], outside = [], noImage = new Set();
let nativeFrames = 0, inImage = 0, builtinCopies = 0, unnamedGlibc = 0, libc = null;
for (const { buf } of spoolEnvelopes(...files)) {
  for (const line of buf.toString('utf8').split('\n')) {
    if (!line.startsWith('{"chunk_id"')) continue;
    const { profile, debug_meta: dm } = JSON.parse(line);
    const native = ((dm && dm.images) || []).filter((im) => im.type === 'symbolic');
    images.push(native.length);
    imageBytes.push(native.reduce((n, im) => n + JSON.stringify(im).length + 1, 0));
    for (const im of native) if (/\/libc\.so/.test(im.code_file)) libc = im;
    for (const f of profile.frames) {
      if (f.platform !== 'native' || !f.abs_path || !f.instruction_addr) continue;
      nativeFrames++;
      const a = BigInt(f.instruction_addr);
      const mine = native.filter((im) => im.code_file === f.abs_path);
      if (!mine.length) noImage.add(f.abs_path);
      if (mine.some((im) => a >= BigInt(im.image_addr) && a < BigInt(im.image_addr) + BigInt(im.image_size))) inImage++;
      else if (/^Builtins_/.test(f.function)) builtinCopies++;
      else if (outside.length < 10) outside.push(`${f.function} ${f.instruction_addr} (${f.abs_path})`);
    }
    for (const s of profile.samples) {
      const stack = profile.stacks[s.stack_id].map((i) => profile.frames[i]);
      samples++;
      const leaf = stack[0];
      if (!leaf || leaf.platform !== 'native' || !/libc\.so/.test(leaf.module || leaf.package || leaf.abs_path || '')) continue;
      glibcLeaves++;
      if (/^0x/.test(leaf.function)) unnamedGlibc++;
      leaves[leaf.function] = (leaves[leaf.function] || 0) + 1;
      if (stack.some((f) => f.platform === 'node')) withJs++;
      for (const fn of fns) if (stack.some((f) => f.function === fn && f.platform === 'node')) withFn[fn]++;
    }
  }
}
console.log(JSON.stringify({
  samples, glibcLeaves, withJs, withFn, unnamedGlibc, leaves,
  images, imageBytes, nativeFrames, inImage, builtinCopies, outside, noImage: [...noImage], libc,
}));
