/**
 * On a terminal the progress bar hides the cursor until it stops. A second Ctrl-C exits at once,
 * without stopping the bar: the operator's terminal must get its cursor back all the same.
 * Run under a real pseudo-terminal (util-linux `script`), Ctrl-C typed into it as a person would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { seedPackages } from './support/npm-fixtures.js';

const HIDE = '\x1b[?25l';
const SHOW = '\x1b[?25h';

let te: TestEnv;
beforeAll(async () => {
  te = await startTestEnv();
});
afterAll(async () => {
  await te?.stop();
});

describe('a run on a terminal stopped by a second Ctrl-C', () => {
  it('exits 130 with the cursor shown again after the bar hid it', async () => {
    const NAME = 'cursor-pkg';
    await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: NAME, versions: ['1.0.0', '1.0.1'] }]);
    const job = te.writeJob({ name: 'cursor', privateNpm: { packages: [NAME] }, github: false });
    // the publish never answers: the bar is up, and the first Ctrl-C waits for the grace period
    te.sandbox.standIn.addFault({ operation: 'npm:Publish', status: 0, hang: true });
    try {
      // `script` gives the command a pseudo-terminal (stdout and stderr a TTY); what is typed into its stdin reaches it as keys
      const child = te.spawnCli(['run', job], { TERM: 'xterm' }, { shell: 'exec script -qfec "$(printf "%q " "$0" "$@")" /dev/null', stdin: 'pipe' });
      let out = '';
      child.stdout!.on('data', (c: Buffer) => (out += c.toString('latin1')));
      const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
      const until = async (what: () => boolean) => {
        for (let i = 0; i < 600 && !what(); i++) await new Promise((r) => setTimeout(r, 100));
        expect(what(), out.slice(-2000)).toBe(true);
      };
      await until(() => out.includes(HIDE));
      child.stdin?.write('\x03');
      await new Promise((r) => setTimeout(r, 500));
      child.stdin?.write('\x03');
      const code = await exited;
      expect(code, out.slice(-2000)).toBe(130);
      // before: the last thing about the cursor the terminal was told was to hide it
      expect(out.lastIndexOf(SHOW)).toBeGreaterThan(out.lastIndexOf(HIDE));
    } finally {
      te.sandbox.standIn.clearFaults();
    }
  }, 90_000);
});
