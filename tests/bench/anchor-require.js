'use strict';
// Startup workload of tests/bench/anchors.js (issue 19): requires every module of DIR (the
// driver writes N small CommonJS modules there once: a few functions, a class, a JSON
// table each), what an app's startup spends loading its dependencies.
//   node anchor-require.js DIR
const fs = require('fs');
const path = require('path');
const dir = process.argv[2];
let n = 0;
for (const f of fs.readdirSync(dir).sort()) if (f.endsWith('.js')) n += require(path.join(dir, f)).k;
if (!(n > 0)) process.exit(1);
