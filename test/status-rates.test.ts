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
  job = withoutRates(te.writeJob({ name: 'rated', privateNpm: { packages: ['@acme/rated'] }, github: false }));
}, 120_000);

/** No rates in the job: they come from the account's quotas. */
function withoutRates(file: string): string {
  const doc = parse(readFileSync(file, 'utf8')) as { limits?: Record<string, unknown> };
  doc.limits = { ...doc.limits, rates: undefined };
  writeFileSync(file, stringify(doc));
  return file;
}

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
    // the rerun's own summary (run --json, and a report's estimate) says the same, and where they come from
    expect(rerun.rates.publish).toMatchObject({ rate: 40, source: 'account' });
    expect(rerun.ratesFrom).toMatchObject({ run: expect.any(Number) });
    expect(rerun.quotaNote).toMatch(/nothing was sent to CodeArtifact, so its quotas were not read: the rates are those run \d+ read/);
    // the quotas raised since: the next run with work reads them again
    te.sandbox.standIn.setQuotas({ publish: 45 });
    await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: '@acme/rated', versions: ['9.0.0'] }]);
    const more = await te.run(job);
    expect(more.outcomes).toMatchObject({ published: 1 });
    expect(more.rates.publish).toMatchObject({ rate: 45, source: 'account' });
    expect(more.ratesFrom).toBeUndefined();
    expect(readStatus(job, te.stateDir).rates?.publish).toMatchObject({ rate: 45, source: 'account' });
  });

  it('a job whose first run has nothing to send (a plan without the target) says the defaults are unread, not read', async () => {
    const other = withoutRates(te.writeJob({ name: 'rated-first', privateNpm: { packages: ['@acme/rated'] }, github: false }));
    const first = await te.run(other, { dryRun: true, noTarget: true });
    expect(first.ratesFrom).toBeNull();
    expect(first.rates.publish).toMatchObject({ rate: 10, source: 'default' });
    expect(first.quotaNote).toMatch(/quotas were not read: CodeArtifact's defaults/);
  });

  it("an account's reads quota raised past what one authorization token carries: reads run at what fits beside the publishes, the quota said; a job's own rate is taken as it is", async () => {
    te.sandbox.standIn.setQuotas({ publish: 40, reads: 2000 });
    const job2 = withoutRates(te.writeJob({ name: 'rated-token', privateNpm: { packages: ['@acme/rated'] }, github: false }));
    const run = await te.run(job2, { dryRun: true });
    // the stand-in lists "Requests per second using a single authentication token" at 1,200, as AWS does
    expect(run.rates.reads).toMatchObject({ rate: 1160, source: 'account', quota: 2000 });
    expect(run.rates.publish).toMatchObject({ rate: 40, source: 'account' });
    expect(run.rates.writes).not.toHaveProperty('quota');
    expect(readStatus(job2, te.stateDir).rates?.reads).toMatchObject({ rate: 1160, quota: 2000 });

    const own = parse(readFileSync(job2, 'utf8')) as { limits: Record<string, unknown> };
    own.limits.rates = { reads: 2000 };
    writeFileSync(job2, stringify(own));
    const told = await te.run(job2, { dryRun: true });
    expect(told.rates.reads).toMatchObject({ rate: 2000, source: 'job' });
    expect(told.rates.reads).not.toHaveProperty('quota');
  });
});
