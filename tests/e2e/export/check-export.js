#!/usr/bin/env node
// check-export.js: reads sentryprof's exports the way their consumers do and prints what it
// found as one JSON line (cli_export.sh compares the numbers); exit 1 with the reasons on
// stderr when the file breaks its format's rules.
//   speedscope FILE SCHEMA   validates against speedscope's published file-format schema
//                            (ajv, from the pinned npm package); per profile: samples, unit,
//                            and per frame label the samples it is on (total) and leaf (self)
//   cpuprofile FILE          DevTools' Profiler.Profile rules: unique ids, root, parent and
//                            children agree, every sample a node, hitCount = samples per node,
//                            timeDeltas >= 0 and summing to at most endTime - startTime
//                            (the last sample lasts until endTime); the distinct deltas
//   svg FILE                 the flame graph's frames (<g class="f">): per depth the widest
//                            frame's name; the total samples; per frame kind (data-k) the
//                            hue of its fills (warm, blue, green, grey; mixed if they differ)
//   png FILE                 a screenshot: pixels off the background, colours, highlights
//   speedscope-loader FILE OUT   writes OUT, the script speedscope's own app loads (its
//                            #localProfilePath, as `npx speedscope FILE` does) to import FILE
//                            with its importer, plus a probe of the sandwich view
//   sandwich DOMFILE [NS]    that probe's findings in a --dump-dom of the app: page title,
//                            profile name, per function the Total and Self cells (in samples
//                            of NS nanoseconds when they display as a whole number of them)
'use strict';
const fs = require('fs');
const path = require('path');

const [mode, file, extra] = process.argv.slice(2);
const errors = [];
const fail = (m) => errors.push(m);
const done = (out) => {
    if (errors.length) {
        for (const e of errors.slice(0, 20)) console.error(`check-export ${mode}: ${e}`);
        process.exit(1);
    }
    console.log(JSON.stringify(out));
};

if (mode === 'speedscope') {
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    const Ajv = require(path.join(process.env.EXPORT_NODE_MODULES, 'ajv'));
    const ajv = new Ajv({ allErrors: true, strict: false });
    const schema = JSON.parse(fs.readFileSync(extra, 'utf8'));
    if (!ajv.validate(schema, doc)) for (const e of ajv.errors) fail(`schema: ${e.instancePath} ${e.message}`);
    const frames = doc.shared.frames;
    const out = { profiles: {} };
    for (const p of doc.profiles) {
        if (p.type !== 'sampled') fail(`profile ${p.name} is ${p.type}`);
        if (p.samples.length !== p.weights.length) fail(`profile ${p.name}: samples and weights differ in length`);
        const w0 = p.weights[0];
        const total = Object.create(null), self = Object.create(null); // keyed by frame labels
        let sum = 0;
        p.samples.forEach((st, i) => {
            sum += p.weights[i];
            const seen = new Set();
            st.forEach((fi, k) => {
                if (!(fi >= 0 && fi < frames.length)) return fail(`profile ${p.name}: frame ${fi} out of range`);
                const f = frames[fi];
                const label = f.file ? `${f.name} ${path.basename(f.file)}:${f.line ?? ''}` : f.name;
                if (!seen.has(label)) total[label] = (total[label] || 0) + p.weights[i] / w0;
                seen.add(label);
                if (k === st.length - 1) self[label] = (self[label] || 0) + p.weights[i] / w0;
            });
        });
        if (p.endValue - p.startValue !== sum) fail(`profile ${p.name}: endValue - startValue ${p.endValue - p.startValue} != sum of weights ${sum}`);
        out.profiles[p.name] = { samples: p.samples.length, unit: p.unit, total, self };
    }
    done(out);
} else if (mode === 'cpuprofile') {
    const p = JSON.parse(fs.readFileSync(file, 'utf8'));
    const byId = new Map();
    for (const n of p.nodes) {
        if (byId.has(n.id)) fail(`node id ${n.id} twice`);
        byId.set(n.id, n);
        const cf = n.callFrame;
        if (!cf || typeof cf.functionName !== 'string' || typeof cf.url !== 'string' ||
            typeof cf.scriptId !== 'string' || !Number.isInteger(cf.lineNumber) || !Number.isInteger(cf.columnNumber))
            fail(`node ${n.id}: bad callFrame ${JSON.stringify(cf)}`);
    }
    const root = p.nodes[0];
    if (!root || root.callFrame.functionName !== '(root)' || root.parent !== undefined) fail('first node is not the root');
    let childLinks = 0;
    for (const n of p.nodes) {
        for (const c of n.children || []) {
            childLinks++;
            const k = byId.get(c);
            if (!k) fail(`node ${n.id}: child ${c} is not a node`);
            else if (k.parent !== n.id) fail(`node ${c}: parent ${k.parent}, but listed under ${n.id}`);
        }
        if (n !== root && !(byId.get(n.parent)?.children || []).includes(n.id)) fail(`node ${n.id}: not among its parent's children`);
    }
    if (childLinks !== p.nodes.length - 1) fail(`${childLinks} child links for ${p.nodes.length} nodes`);
    if (p.samples.length !== p.timeDeltas.length) fail('samples and timeDeltas differ in length');
    const hits = new Map();
    for (const s of p.samples) {
        if (!byId.has(s)) fail(`sample ${s} is not a node`);
        hits.set(s, (hits.get(s) || 0) + 1);
    }
    for (const n of p.nodes) if ((n.hitCount || 0) !== (hits.get(n.id) || 0)) fail(`node ${n.id}: hitCount ${n.hitCount} but ${hits.get(n.id) || 0} samples`);
    let sum = 0;
    for (const d of p.timeDeltas) {
        if (!(d >= 0)) fail(`negative time delta ${d}`);
        sum += d;
    }
    // DevTools: sample i lasts until sample i+1, the last one until endTime
    if (sum > p.endTime - p.startTime) fail(`timeDeltas sum to ${sum}, past endTime - startTime ${p.endTime - p.startTime}`);
    // self samples per function, as top counts them
    const self = Object.create(null); // keyed by function names
    for (const s of p.samples) {
        const cf = byId.get(s)?.callFrame;
        if (cf) self[cf.functionName] = (self[cf.functionName] || 0) + 1;
    }
    done({ nodes: p.nodes.length, samples: p.samples.length, span: p.endTime - p.startTime, last: p.endTime - p.startTime - sum,
        deltas: [...new Set(p.timeDeltas.slice(1))].sort((a, b) => a - b), self });
} else if (mode === 'svg') {
    const text = fs.readFileSync(file, 'utf8');
    const re = /<g class="f"([^>]*)>(?:<title>[^<]*<\/title>)?<rect [^>]*fill="rgb\((\d+),(\d+),(\d+)\)"/g;
    const attr = (s, k) => (s.match(new RegExp(` ${k}="([^"]*)"`)) || [])[1];
    const widest = {};
    // the colour family of each frame kind (data-k): the hue its fills have, every one
    const hue = (r, g, b) => r === g && g === b ? 'grey' : r > g && g > b ? 'warm' : b > r && b > g ? 'blue' : g > r && g > b ? 'green' : 'other';
    const families = {};
    let frames = 0;
    let m;
    while ((m = re.exec(text))) {
        frames++;
        const k = attr(m[1], 'data-k'), h = hue(+m[2], +m[3], +m[4]);
        families[k] = families[k] === undefined || families[k] === h ? h : 'mixed';
        const d = +attr(m[1], 'data-d'), w = +attr(m[1], 'data-s');
        const name = attr(m[1], 'data-n');
        if (!widest[d] || w > widest[d].w) widest[d] = { w, name, tie: false };
        else if (w === widest[d].w) widest[d].tie = true;
    }
    const total = +(text.match(/data-total="(\d+)"/) || [])[1];
    if (!frames || frames !== (text.match(/<g class="f"/g) || []).length) fail('no frames, or a frame without a rgb() fill');
    if (!/<script[\s>]/.test(text)) fail('no script');
    done({ frames, total, widest, families });
} else if (mode === 'png') {
    // a headless Chromium screenshot: how many pixels differ from the background (the
    // top-left pixel), how many distinct colours, how many search-highlight pixels
    const buf = fs.readFileSync(file);
    if (buf.readUInt32BE(0) !== 0x89504e47) fail('not a PNG');
    let off = 8, w = 0, h = 0, depth = 0, ctype = 0;
    const idat = [];
    while (off < buf.length) {
        const len = buf.readUInt32BE(off), type = buf.toString('latin1', off + 4, off + 8);
        const data = buf.subarray(off + 8, off + 8 + len);
        if (type === 'IHDR') { w = data.readUInt32BE(0); h = data.readUInt32BE(4); depth = data[8]; ctype = data[9]; }
        if (type === 'IDAT') idat.push(data);
        off += 12 + len;
    }
    if (depth !== 8 || (ctype !== 2 && ctype !== 6)) fail(`unsupported PNG: depth ${depth}, colour type ${ctype}`);
    const bpp = ctype === 6 ? 4 : 3, stride = w * bpp;
    const raw = require('zlib').inflateSync(Buffer.concat(idat));
    const px = Buffer.alloc(h * stride);
    for (let y = 0; y < h; y++) {
        const f = raw[y * (stride + 1)], src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
        for (let x = 0; x < stride; x++) {
            const a = x >= bpp ? px[y * stride + x - bpp] : 0, b = y ? px[(y - 1) * stride + x] : 0;
            const c = x >= bpp && y ? px[(y - 1) * stride + x - bpp] : 0;
            let v = src[x];
            if (f === 1) v += a;
            else if (f === 2) v += b;
            else if (f === 3) v += (a + b) >> 1;
            else if (f === 4) { const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c); v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c; }
            px[y * stride + x] = v & 255;
        }
    }
    const bg = px.readUIntBE(0, 3);
    let nonbg = 0, magenta = 0;
    const colours = new Set();
    for (let i = 0; i < h * w; i++) {
        const r = px[i * bpp], g = px[i * bpp + 1], b = px[i * bpp + 2];
        const v = (r << 16) | (g << 8) | b;
        if (v !== bg) nonbg++;
        if (r === 230 && g === 0 && b === 230) magenta++;
        colours.add(v);
    }
    done({ width: w, height: h, nonbg, colours: colours.size, magenta });
} else if (mode === 'speedscope-loader') {
    // the script speedscope's own app loads for `#localProfilePath=OUT` (what its CLI,
    // `npx speedscope FILE`, writes: the file in base64 for speedscope.loadFileFromBase64,
    // which runs the app's importer), then a probe: once the sandwich view has rows (or
    // after 20 s), a <pre id="sp-probe"> with the page title and its text, for --dump-dom
    const b64 = fs.readFileSync(file).toString('base64');
    const probe = function () {
        var tries = 0;
        (function poll() {
            var text = document.body.innerText || '';
            if (!/Symbol Name\n[^\n]/.test(text) && ++tries < 100) return setTimeout(poll, 200);
            var p = document.createElement('pre');
            p.id = 'sp-probe';
            p.textContent = JSON.stringify({ title: document.title, text: text });
            document.body.appendChild(p);
        })();
    };
    fs.writeFileSync(extra, `speedscope.loadFileFromBase64(${JSON.stringify(path.basename(file))}, ${JSON.stringify(b64)});\n(${probe})();\n`);
} else if (mode === 'sandwich') {
    // the probe's page (a --dump-dom of speedscope's app, sandwich view): the title, the
    // toolbar's profile name, per function the Total and Self cells as speedscope shows them
    const html = fs.readFileSync(file, 'utf8');
    const m = html.match(/<pre id="sp-probe">([^<]*)<\/pre>/);
    if (!m) fail('no probe output in the page (the profile did not load)');
    const unesc = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
    const probe = m ? JSON.parse(unesc(m[1])) : { title: '', text: '' };
    const lines = probe.text.split('\n');
    const at = lines.findIndex((l) => /^Total\tSelf\tSymbol Name$/.test(l));
    if (at < 0) fail(`no sandwich table in: ${probe.text.slice(0, 300)}`);
    // a cell in samples of `extra` ns each: the k whose k x extra displays as the cell (the
    // cell's last digit is rounded: within half of it), else the cell as shown
    const units = { s: 1e9, ms: 1e6, '\u00b5s': 1e3, ns: 1 };
    const samples = (cell) => {
        const c = cell.replace(/^\t/, '').replace(/ \(.*\)$/, '');
        const mm = c.match(/^([0-9]+)\.([0-9]+)(s|ms|\u00b5s|ns)$/);
        if (!extra || !mm) return c;
        const ns = +(mm[1] + '.' + mm[2]) * units[mm[3]], half = 0.5 * Math.pow(10, -mm[2].length) * units[mm[3]];
        const k = Math.round(ns / +extra);
        return Math.abs(k * +extra - ns) <= half * (1 + 1e-9) ? k : c;
    };
    const rows = {};
    for (let i = at + 1; at >= 0 && i + 2 < lines.length; i += 3)
        rows[lines[i + 2].replace(/^\t/, '')] = { total: samples(lines[i]), self: samples(lines[i + 1]) };
    // the toolbar's middle line: the profile's name (and "(i/n)" with several)
    done({ title: probe.title, profile: at > 2 ? lines[1] : '', rows });
} else {
    console.error('usage: check-export.js speedscope|cpuprofile|svg|png|sandwich FILE [SCHEMA|NS] | speedscope-loader FILE OUT');
    process.exit(2);
}
