/**
 * Prints one plain closing line, `tests: N passed, N failed, N skipped`, after
 * vitest's own summary, so CI logs state the count in a runner-neutral form.
 */
import type { Reporter, TestCase, TestModule } from 'vitest/node';

/** A test that did not run because a hook of its suite or file failed (a beforeAll that threw): a failure, not a skip. */
function hookFailed(t: TestCase): boolean {
  for (let p: TestCase['parent'] | undefined = t.parent; p; p = p.type === 'suite' ? p.parent : undefined) {
    if (p.errors().length > 0) return true;
  }
  return false;
}

export default class ClosingLineReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const count = { passed: 0, failed: 0, skipped: 0 };
    for (const m of testModules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') count.passed++;
        else if (state === 'failed' || hookFailed(t)) count.failed++;
        else count.skipped++;
      }
      // a file that failed to load has no tests but must count as a failure
      if (m.state() === 'failed' && ![...m.children.allTests()].length) count.failed++;
    }
    process.stdout.write(`\ntests: ${count.passed} passed, ${count.failed} failed, ${count.skipped} skipped\n`);
  }
}
