'use strict';
// Two anonymous arrows on one line (tests/fidelity/selftest.sh): V8's profile gives both one key.
const units = [() => Math.sqrt(2), () => Math.sqrt(3)];
module.exports = units;
