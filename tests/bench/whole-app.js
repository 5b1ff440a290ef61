'use strict';
// Whole-process context: a fixed amount of the bench workload (BENCH_UNITS, default 40000),
// the same with and without the shim. Prints nothing; timed from outside.
const { work } = require('./workload');
const total = Number(process.env.BENCH_UNITS || process.argv[2] || 40000);
for (let done = 0; done < total; done += 100) work(100);
