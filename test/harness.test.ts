/** The test harness itself: every test stops what it started, the CLI processes included. */
import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { startTestEnv } from './support/harness.js';

it("stop() ends the CLI processes a test left running (a failed assertion before it waited for them), then removes the test's folder", async () => {
  const te = await startTestEnv();
  // a CLI process that never ends on its own, as a run a failed test never waited for
  const child = te.spawnCli([], undefined, { nodeArgs: ['-e', 'setInterval(() => {}, 1000)'] });
  await new Promise((r) => child.once('spawn', r));
  await te.stop();
  expect(child.signalCode).toBe('SIGKILL');
  expect(existsSync(te.dir)).toBe(false);
});
