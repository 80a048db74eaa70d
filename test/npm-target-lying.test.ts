/**
 * The npm path's package metadata against a target that lies or lags: a packument served
 * from a stale cache, dist-tags and packuments of the wrong shape, tag names that are
 * Object.prototype's own. The metadata must never be recorded in sync when it is not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedPackages } from './support/npm-fixtures.js';
import { startTestEnv, type TestEnv } from './support/harness.js';

let te: TestEnv;
const REPO = 'npm-internal';

beforeAll(async () => {
  te = await startTestEnv();
  const { privateNpm } = te.sandbox;
  await seedPackages(privateNpm.url, privateNpm.token, [
    { name: 'stale-pack', versions: ['1.0.0', '1.0.1', '1.1.0'], deprecated: { '1.0.1': 'use 1.1.0' } },
    { name: 'proto-tags', versions: ['1.0.0', '1.1.0'] },
    { name: 'bad-shapes', versions: ['1.0.0', '1.1.0'], deprecated: { '1.0.0': 'old' } },
  ]);
}, 120_000);

afterAll(async () => {
  await te?.stop();
});

const metaOf = (job: string, name: string) => {
  const state = te.openState(job);
  try {
    return state.packagesNamed('npm', name).map((p) => p.meta_state);
  } finally {
    state.close();
  }
};

describe('npm metadata against a lying or lagging target', () => {
  it('a packument served without a version (a stale cache): its deprecation is not called in sync, and a rerun applies it', async () => {
    const standIn = te.sandbox.standIn;
    standIn.addFault({ operation: 'npm:GetPackument', package: 'stale-pack', omitVersion: '1.0.1', status: 200 });
    const job = te.writeJob({ name: 'stale', privateNpm: { packages: ['stale-pack'] }, github: false });
    try {
      const first = await te.run(job);
      expect(first.failures).toEqual([]);
      expect(standIn.versions(REPO, 'npm', undefined, 'stale-pack').find((v) => v.version === '1.0.1')?.deprecated).toBeUndefined();
      // never `done`: that would leave the deprecation off the target on every rerun
      expect(metaOf('stale', 'stale-pack')).not.toContain('done');
      expect(first.metadataOutOfSync.map((m) => m.reason).join('\n')).toMatch(/1\.0\.1/);
    } finally {
      standIn.clearFaults();
    }
    const second = await te.run(job);
    expect(second.failures).toEqual([]);
    expect(standIn.versions(REPO, 'npm', undefined, 'stale-pack').find((v) => v.version === '1.0.1')?.deprecated).toBe('use 1.1.0');
    expect(metaOf('stale', 'stale-pack')).toEqual(['done']);
  }, 120_000);
});
