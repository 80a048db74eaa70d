/**
 * The read-only commands (status, report, ledger export) as a careless operator ends them: Ctrl-C,
 * SIGTERM, or the terminal closed (SIGHUP) while they work. A state they may not read in place
 * (not in WAL mode, an older release's, a read-only mount) is read from a private copy in the temp
 * folder: the stop must not leave that copy of every internal package's record behind (nothing
 * else ever removes it), and the exit code says the command was interrupted (130).
 */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { exitOf, watch } from './support/child.js';
import { historyOf, seedPackages } from './support/npm-fixtures.js';

let te: TestEnv;
let job: string;
/** A state directory holding a copy of the job's state in rollback-journal mode: read through a private copy. */
let copied: string;

beforeAll(async () => {
  te = await startTestEnv();
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: '@acme/many', versions: historyOf(120) }]);
  job = te.writeJob({ name: 'signals', privateNpm: { packages: ['@acme/many'] }, github: false });
  const r = await te.cli(['run', job, '--json']);
  expect(r.code, r.stderr).toBe(0);
  copied = join(te.dir, 'copied-state');
  mkdirSync(copied);
  copyFileSync(join(te.stateDir, 'signals.sqlite'), join(copied, 'signals.sqlite'));
  const db = new Database(join(copied, 'signals.sqlite'));
  db.pragma('journal_mode = DELETE');
  db.close();
}, 180_000);

afterAll(async () => {
  await te?.stop();
});

const privateCopies = (tmp: string) => readdirSync(tmp).filter((n) => n.startsWith('codeartifact-migrate-read-'));

describe('a stop while a read-only command reads a private copy of the state', () => {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`ledger export to a reader that stalls, then ${signal}: exit 130, no stack trace, and the private copy in the temp folder is removed`, async () => {
      const tmp = join(te.dir, `tmp-${signal}`);
      mkdirSync(tmp);
      // stdout is a pipe nobody reads: the export (far more than a pipe holds) waits on it, its copy open
      const child = watch(te.spawnCli(['--state-dir', copied, 'ledger', 'export', job], { TMPDIR: tmp }));
      child.proc.stdout!.removeAllListeners('data');
      child.proc.stdout!.pause();
      while (privateCopies(tmp).length === 0 && !child.done()) await new Promise((r) => setTimeout(r, 20));
      expect(child.done(), child.stderr()).toBe(false);
      child.proc.kill(signal);
      const code = await exitOf(child);
      expect(privateCopies(tmp)).toEqual([]);
      expect(code, child.stderr()).toBe(130);
      expect(child.stderr()).not.toMatch(/^\s+at .+[(:]\d+/m);
    });
  }
});
