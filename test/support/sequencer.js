const Sequencer = require('@jest/test-sequencer').default;

/**
 * Jest runs the slowest suites first when it has timings from an earlier run, and the largest files
 * first when it has none (a fresh clone, CI). A few small files run long (they drive an outside tool
 * or a browser); started last they would run alone at the end. They go first here, then jest's order.
 */
const LONG_RUNNING = [
  'test/api/schemathesis.test.ts',
  'test/console/console.test.ts',
  'test/workflows/transfer-saga.test.ts',
];

class LongRunningFirst extends Sequencer {
  async sort(tests) {
    const rank = (test) => {
      const i = LONG_RUNNING.findIndex((suffix) => test.path.endsWith(suffix));
      return i === -1 ? LONG_RUNNING.length : i;
    };
    const ordered = await super.sort(tests);
    return [...ordered].sort((a, b) => rank(a) - rank(b));
  }
}

module.exports = LongRunningFirst;
