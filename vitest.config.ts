import { defineConfig } from 'vitest/config';
import ClosingLineReporter from './test/support/closing-line-reporter.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // real servers, real npm clients and real child processes: generous limits, never timed assertions
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', new ClosingLineReporter()],
  },
});
