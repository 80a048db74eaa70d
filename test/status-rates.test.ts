/**
 * `status` says "the rate each quota bucket ran at in the last run that read them" (README,
 * `status <job>`). A rerun with nothing to do reads no quotas: its summary's rates are the
 * built-in defaults it never ran at, and status must not take them for the account's.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStatus } from '../src/cli/status.js';
import { seedPackages, historyOf } from './support/npm-fixtures.js';
import { startTestEnv, type TestEnv } from './support/harness.js';

let te: TestEnv;
let job: string;

beforeAll(async () => {
  te = await startTestEnv();
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: '@acme/rated', versions: historyOf(3) }]);
  job = te.writeJob({ name: 'rated', privateNpm: { packages: ['@acme/rated'] }, github: false });
  const doc = parse(readFileSync(job, 'utf8')) as { limits?: Record<string, unknown> };
  // no rates in the job: they come from the account's quotas
  doc.limits = { ...doc.limits, rates: undefined };
  writeFileSync(job, stringify(doc));
}, 120_000);

afterAll(async () => {
  await te?.stop();
});

describe('status: the rates of the last run that read them', () => {
  it('a rerun with nothing to do does not replace the account quotas the run before read', async () => {
    te.sandbox.standIn.setQuotas({ publish: 40 });
    const first = await te.run(job);
    expect(first.exitCode).toBe(0);
    expect(first.rates.publish).toMatchObject({ rate: 40, source: 'account' });
    expect(readStatus(job, te.stateDir).rates?.publish).toMatchObject({ rate: 40, source: 'account' });

    // nothing left to do: no quota is read
    const rerun = await te.run(job);
    expect(rerun.outcomes).toEqual({});
    expect(readStatus(job, te.stateDir).rates?.publish).toMatchObject({ rate: 40, source: 'account' });
  });
});
