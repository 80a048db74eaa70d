/**
 * A service that has far less room than the rate the tool was told (another team's CI
 * spending most of the account-wide quota): the run must back off and finish, no version
 * failed, and not keep sending into the wall. Asserted by the stand-in's log (quota 429s,
 * accepted publishes) and the state, never by time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishRequests, startTestEnv, type TestEnv } from './support/harness.js';
import { seedPackages } from './support/npm-fixtures.js';

describe('a service with far less room than the stated quota', () => {
  let te: TestEnv;
  beforeAll(async () => {
    // what the other team leaves of the publish quota: 2 a second
    te = await startTestEnv({ standIn: { quotas: { publish: 2 } } });
  });
  afterAll(async () => {
    await te?.stop();
  });

  it('told 40/s, given 2/s: every version verified, published once, and at most one quota 429 for every two versions (not one or more per version)', async () => {
    const names = ['shared-a', 'shared-b', 'shared-c', 'shared-d'];
    const versions = Array.from({ length: 8 }, (_, i) => `1.0.${i}`);
    await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, names.map((name) => ({ name, versions })));
    // the job's rate stands for the stated quota: it wins over the account's, as a quota read through Service Quotas would
    const job = te.writeJob({ name: 'shared', privateNpm: { packages: names }, github: false, limits: { rates: { publish: 40 } } });
    const summary = await te.run(job);
    expect(summary.exitCode).toBe(0);
    expect(summary.states).toEqual({ verified: names.length * versions.length });
    const accepted = publishRequests(te.sandbox, { succeededOnly: true });
    for (const name of names) for (const v of versions) expect(accepted.get(`${name}@${v}`), `${name}@${v}`).toBe(1);
    const quota429s = te.sandbox.standIn.log.filter((e) => e.status === 429 && e.throttledBy === 'quota');
    expect(quota429s.every((e) => e.operation === 'npm:Publish')).toBe(true);
    // before: the rate never went below a tenth of 40/s (4/s, twice the room), and each success won back 2/s: 33 429s for 32 versions
    expect(quota429s.length).toBeLessThanOrEqual((names.length * versions.length) / 2);
  }, 300_000);
});
