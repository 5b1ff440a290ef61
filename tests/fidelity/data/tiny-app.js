'use strict';
// Source of the functions in tiny.cpuprofile (tests/fidelity/selftest.sh): the matching
// rule reads where each function begins and ends from here.
const table = [1, 2, 3].map((x) => x * 2);

function work() {
  return table.map(function (x) {
    return x + 1;
  });
}

module.exports = work();
