/**
 * The npm path's package metadata against a target that lies or lags: a packument served
 * from a stale cache, dist-tags and packuments of the wrong shape, tag names that are
 * Object.prototype's own. The metadata must never be recorded in sync when it is not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashTarball, makeTarball, publishVersion, seedPackages } from './support/npm-fixtures.js';
import { startTestEnv, type TestEnv } from './support/harness.js';

let te: TestEnv;
const REPO = 'npm-internal';

beforeAll(async () => {
  te = await startTestEnv();
  const { privateNpm } = te.sandbox;
  await seedPackages(privateNpm.url, privateNpm.token, [
    { name: 'stale-pack', versions: ['1.0.0', '1.0.1', '1.1.0'], deprecated: { '1.0.1': 'use 1.1.0' } },
    { name: 'proto-tags', versions: ['1.0.0', '1.1.0'] },
    { name: 'race-pack', versions: ['1.0.0', '1.1.0'] },
    { name: 'write-pack', versions: ['1.0.0', '1.0.1', '1.1.0'], deprecated: { '1.0.1': 'use 1.1.0' } },
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

  it('the packument behind a cache that ?write=true goes past (as npm deprecate reads it): the deprecation is set in the first run', async () => {
    const standIn = te.sandbox.standIn;
    standIn.addFault({ operation: 'npm:GetPackument', package: 'write-pack', omitVersion: '1.0.1', unlessWrite: true, status: 200 });
    try {
      const s = await te.run(te.writeJob({ name: 'write', privateNpm: { packages: ['write-pack'] }, github: false }));
      expect(s.failures).toEqual([]);
      expect(s.metadataOutOfSync).toEqual([]);
      expect(standIn.versions(REPO, 'npm', undefined, 'write-pack').find((v) => v.version === '1.0.1')?.deprecated).toBe('use 1.1.0');
      expect(metaOf('write', 'write-pack')).toEqual(['done']);
    } finally {
      standIn.clearFaults();
    }
  }, 120_000);

  it('target dist-tags named after Object.prototype members (constructor, toString) are removed like any tag the source lacks', async () => {
    const first = await te.run(te.writeJob({ name: 'proto-a', privateNpm: { packages: ['proto-tags'] }, github: false }));
    expect(first.failures).toEqual([]);
    const ep = te.sandbox.descriptor.codeartifact.npmEndpoint;
    const token = await te.targetToken();
    for (const tag of ['constructor', 'toString']) {
      const res = await fetch(`${ep}-/package/proto-tags/dist-tags/${tag}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify('1.0.0') });
      expect(res.status).toBe(200);
    }
    // a second job (its own state) meets the versions on the target and syncs the tags again
    const second = await te.run(te.writeJob({ name: 'proto-b', privateNpm: { packages: ['proto-tags'] }, github: false }));
    expect(second.failures).toEqual([]);
    expect(second.metadata.find((m) => m.package === 'proto-tags')?.error).toBeUndefined();
    expect(te.sandbox.standIn.distTags(REPO, 'proto-tags')).toEqual({ latest: '1.1.0' });
  }, 120_000);

  it('dist-tags or a packument of the wrong shape: ETARGET saying so, no tag removed, never in sync', async () => {
    const standIn = te.sandbox.standIn;
    const first = await te.run(te.writeJob({ name: 'shapes-a', privateNpm: { packages: ['bad-shapes'] }, github: false }));
    expect(first.failures).toEqual([]);
    const cases: [string, unknown, RegExp][] = [
      ['npm:GetDistTags', 'latest', /dist-tags are not a map/],
      ['npm:GetDistTags', ['1.0.0'], /dist-tags are not a map/],
      ['npm:GetDistTags', null, /dist-tags are not a map/],
      ['npm:GetPackument', { name: 'bad-shapes', versions: { '1.0.0': 'x', '1.1.0': {} } }, /packument has no "versions" object/],
      ['npm:GetPackument', ['x'], /packument has no "versions" object/],
    ];
    for (const [i, [operation, body, message]] of cases.entries()) {
      const name = `shapes-${i}`;
      const since = standIn.log.at(-1)?.seq ?? 0;
      standIn.addFault({ operation, package: 'bad-shapes', status: 200, body });
      try {
        // one retry: what a lying peer answers it answers again
        const s = await te.run(te.writeJob({ name, privateNpm: { packages: ['bad-shapes'] }, github: false, limits: { retries: 1 } }));
        const meta = s.metadata.find((m) => m.package === 'bad-shapes');
        expect(meta?.error, `${operation} ${JSON.stringify(body)}`).toMatch(/^ETARGET: /);
        expect(meta?.error).toMatch(message);
        expect(metaOf(name, 'bad-shapes')).toEqual(['failed']);
        expect(standIn.log.filter((e) => e.seq > since && (e.operation === 'npm:DeleteDistTag' || e.operation === 'npm:UpdateMetadata'))).toEqual([]);
      } finally {
        standIn.clearFaults();
      }
    }
    expect(standIn.distTags(REPO, 'bad-shapes')).toEqual({ latest: '1.1.0' });
  }, 240_000);

  it('someone else publishes other bytes between our listing and our publish: the 409 is a conflict with their hash, never verified', async () => {
    const standIn = te.sandbox.standIn;
    const theirs = await makeTarball('race-pack', '1.1.0', { extraFiles: { 'NOTICE.txt': 'published by someone else\n' } });
    await publishVersion(te.sandbox.descriptor.codeartifact.npmEndpoint, await te.targetToken(), 'race-pack', '1.1.0', theirs);
    const since = standIn.log.at(-1)?.seq ?? 0;
    // the listing read before their publish landed
    standIn.addFault({ operation: 'ListPackageVersions', package: 'race-pack', status: 200, body: { format: 'npm', package: 'race-pack', versions: [] } });
    try {
      const s = await te.run(te.writeJob({ name: 'race', privateNpm: { packages: ['race-pack'] }, github: false }));
      expect(s.conflicts).toEqual([expect.objectContaining({ package: 'race-pack', version: '1.1.0', code: 'ECONFLICT', targetSha512: Buffer.from(hashTarball(theirs).integrity.slice(7), 'base64').toString('hex') })]);
      const state = te.openState('race');
      try {
        expect(Object.fromEntries(state.itemsOf('npm', 'race-pack').map((r) => [r.version, r.state]))).toEqual({ '1.0.0': 'verified', '1.1.0': 'conflict' });
      } finally {
        state.close();
      }
      // the publish was sent (the listing hid their version) and refused: the 409 path, not the comparison's
      expect(standIn.log.filter((e) => e.seq > since && e.operation === 'npm:Publish' && e.package === 'race-pack' && e.version === '1.1.0').map((e) => e.status)).toEqual([409]);
      expect(standIn.assetBytes(REPO, 'npm', undefined, 'race-pack', '1.1.0', 'package.tgz')).toEqual(theirs);
    } finally {
      standIn.clearFaults();
    }
  }, 120_000);
});
