/**
 * Flags that contradict each other, as a careless operator combines them: the command must
 * refuse the combination (ECONFIG, exit 2) before it asks or writes anything, rather than
 * do half of what each flag promises.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { historyOf, seedPackages } from './support/npm-fixtures.js';

let te: TestEnv;
let job: string;

beforeAll(async () => {
  te = await startTestEnv();
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: '@acme/core', versions: historyOf(2) }]);
  job = te.writeJob({ github: false, privateNpm: { packages: ['@acme/core'] } });
  const first = await te.cli(['run', job, '--json']);
  expect(first.code, first.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await te?.stop();
});

function pointNpmAt(repository: string): void {
  const doc = parse(readFileSync(job, 'utf8')) as { target: { repositories: { npm: { internal: string } } } };
  doc.target.repositories.npm.internal = repository;
  writeFileSync(job, stringify(doc));
}

describe('plan --no-target --retarget', () => {
  // --retarget checks the new repositories exist before the state moves (a typo is ETARGETSETUP,
  // nothing moved); --no-target asks AWS nothing. Together the state moved, unchecked, to a
  // mistyped repository: every verified version was reset and a retarget ledger entry named it.
  it('is refused (ECONFIG, exit 2) naming both flags; the state still records its target and every version as it was, nothing asked of the target', async () => {
    pointNpmAt('npm-intrenal');
    try {
      const before = te.openState();
      const counts = before.counts();
      const ledger = before.db.prepare('SELECT count(*) AS n FROM ledger').get();
      before.close();
      const since = te.sandbox.standIn.log.length;
      const r = await te.cli(['plan', job, '--no-target', '--retarget', '--json']);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      const error = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('ECONFIG');
      expect(error.message).toContain('--retarget');
      expect(error.message).toContain('--no-target');
      expect(r.stderr).not.toMatch(/^\s{4}at /m);
      expect(te.sandbox.standIn.log.length).toBe(since);
      const after = te.openState();
      try {
        expect(after.recordedTarget()!.repositories.npm).toBe('npm-internal');
        expect(after.counts()).toEqual(counts);
        expect(after.db.prepare('SELECT count(*) AS n FROM ledger').get()).toEqual(ledger);
      } finally {
        after.close();
      }
    } finally {
      pointNpmAt('npm-internal');
    }
  });
});
