/**
 * What old registries hold:
 * - packages published before npm 5 carry only `dist.shasum` (sha1). They still
 *   migrate, checked against sha1 and flagged as weak; a sha1 mismatch is still
 *   EINTEGRITY. The source is a Verdaccio whose stored packument has had
 *   `dist.integrity` removed, as such old packuments look;
 * - tarballs whose package.json spells the version loosely ("v2.0.0"), which
 *   npm normalised when it published them;
 * - a tarball that belongs to another package (EBADSOURCE, never published).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sriFromSha512Hex } from '../src/integrity/hashes.js';
import { publishRequests, startTestEnv, type TestEnv } from './support/harness.js';
import { corruptStoredTarball, escapeName, hashTarball, makeTarball, seedPackages } from './support/npm-fixtures.js';

const NAME = 'old-timer';
const VERSIONS = ['0.9.0', '0.9.1', '1.0.0'];

let te: TestEnv;
let integrity: Map<string, string>;

/** Drop dist.integrity from the stored packument for some versions (Verdaccio keeps it as package.json). */
function stripIntegrity(storageDir: string, name: string, versions: string[]): void {
  const file = join(storageDir, name, 'package.json');
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { versions: Record<string, { dist: Record<string, unknown> }> };
  for (const v of versions) delete doc.versions[v]!.dist.integrity;
  writeFileSync(file, JSON.stringify(doc));
}

/** Publish `tarball` as name@version whatever its package.json says, the way an old registry may hold it. */
async function publishAs(name: string, version: string, tarball: Buffer): Promise<void> {
  const { integrity, shasum } = hashTarball(tarball);
  const { url, token } = te.sandbox.privateNpm;
  const file = `${name}-${version}.tgz`;
  const res = await fetch(`${url}${escapeName(name)}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      _id: name,
      name,
      'dist-tags': { latest: version },
      versions: { [version]: { name, version, _id: `${name}@${version}`, dist: { integrity, shasum, tarball: `${url}${name}/-/${file}` } } },
      _attachments: { [file]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } },
    }),
  });
  expect(res.status).toBeLessThan(300);
}

beforeAll(async () => {
  te = await startTestEnv();
  await publishAs('loose-version', '2.0.0', await makeTarball('loose-version', 'v2.0.0'));
  await publishAs('wrong-tarball', '1.0.0', await makeTarball('somebody-else', '1.0.0'));
  const seeded = await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: NAME, versions: VERSIONS }, { name: 'old-and-broken', versions: ['0.1.0'] }]);
  integrity = seeded.get(NAME)!;
  stripIntegrity(te.sandbox.privateNpm.storageDir, NAME, ['0.9.0', '0.9.1']);
  stripIntegrity(te.sandbox.privateNpm.storageDir, 'old-and-broken', ['0.1.0']);
  await corruptStoredTarball(te.sandbox.privateNpm.storageDir, 'old-and-broken', '0.1.0');
});

afterAll(async () => {
  await te?.stop();
});

describe('sources with sha1 only', () => {
  it('the source really serves those versions without dist.integrity', async () => {
    const res = await fetch(`${te.sandbox.privateNpm.url}${NAME}`, { headers: { accept: 'application/json' } });
    const doc = (await res.json()) as { versions: Record<string, { dist: { integrity?: string; shasum?: string } }> };
    expect(doc.versions['0.9.0']!.dist.integrity).toBeUndefined();
    expect(doc.versions['0.9.0']!.dist.shasum).toMatch(/^[0-9a-f]{40}$/);
    expect(doc.versions['1.0.0']!.dist.integrity).toMatch(/^sha512-/);
  });

  it('migrates them byte for byte, flags them as weak, and fails a sha1 mismatch with EINTEGRITY', async () => {
    const summary = await te.run(te.writeJob({ name: 'weak', privateNpm: { packages: [NAME, 'old-and-broken'] }, github: false }));
    expect(summary.states).toEqual({ verified: 3, failed: 1 });
    expect(summary.failures.map((f) => [f.package, f.version, f.code])).toEqual([['old-and-broken', '0.1.0', 'EINTEGRITY']]);
    expect(summary.weakIntegrity).toEqual(
      expect.arrayContaining([
        { package: NAME, version: '0.9.0' },
        { package: NAME, version: '0.9.1' },
      ]),
    );
    expect(summary.weakIntegrity).not.toContainEqual({ package: NAME, version: '1.0.0' });
    // the failure names the algorithm it could check
    expect(summary.failures[0]!.message).toContain('sha1');
    expect(publishRequests(te.sandbox).has('old-and-broken@0.1.0')).toBe(false);

    const state = te.openState('weak');
    try {
      for (const v of VERSIONS) {
        const row = state.items('package = ? AND version = ?', NAME, v)[0]!;
        expect(row.integrity_weak, v).toBe(v === '1.0.0' ? 0 : 1);
        // the bytes on the target are the source's: their sha512 is what the source computed at publish time
        expect(sriFromSha512Hex(row.sha512!)).toBe(integrity.get(v));
        const stored = te.sandbox.standIn.versions('npm-internal', 'npm', undefined, NAME).find((s) => s.version === v)!;
        expect(stored.assets[0]!.hashes['SHA-512']).toBe(row.sha512);
      }
    } finally {
      state.close();
    }
  });
});

describe('tarballs that do not say exactly what the registry lists', () => {
  it('a loosely spelled version is migrated with its bytes unchanged; a tarball of another package is EBADSOURCE', async () => {
    const summary = await te.run(te.writeJob({ name: 'loose', privateNpm: { packages: ['loose-version', 'wrong-tarball'] }, github: false }));
    expect(summary.failures.map((f) => [f.package, f.version, f.code])).toEqual([['wrong-tarball', '1.0.0', 'EBADSOURCE']]);
    expect(summary.states).toEqual({ verified: 1, failed: 1 });
    expect(publishRequests(te.sandbox).has('wrong-tarball@1.0.0')).toBe(false);
    const [stored] = te.sandbox.standIn.versions('npm-internal', 'npm', undefined, 'loose-version');
    expect(stored?.version).toBe('2.0.0');
    const state = te.openState('loose');
    try {
      expect(state.items("package = 'loose-version'")[0]!.sha512).toBe(stored!.assets[0]!.hashes['SHA-512']);
    } finally {
      state.close();
    }
  });
});

describe('a source that changes a version after it was migrated', () => {
  it('is reported (summary and status), never republished, and the target keeps the migrated bytes', async () => {
    await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: 'shifty', versions: ['1.0.0', '1.0.1'] }]);
    const job = te.writeJob({ name: 'shifty', privateNpm: { packages: ['shifty'] }, github: false });
    const first = await te.run(job);
    expect(first.states).toEqual({ verified: 2 });
    expect(first.sourceChanged).toEqual([]);
    const before = te.sandbox.standIn.versions('npm-internal', 'npm', undefined, 'shifty').find((v) => v.version === '1.0.1')!;

    // the registry now declares other bytes for 1.0.1 (as a republish or a tampered store would)
    const file = join(te.sandbox.privateNpm.storageDir, 'shifty', 'package.json');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { versions: Record<string, { dist: Record<string, unknown> }> };
    const other = hashTarball(await makeTarball('shifty', '1.0.1', { extraFiles: { 'evil.js': 'steal()' } }));
    doc.versions['1.0.1']!.dist.integrity = other.integrity;
    doc.versions['1.0.1']!.dist.shasum = other.shasum;
    writeFileSync(file, JSON.stringify(doc));

    const since = te.sandbox.standIn.log.length;
    const second = await te.run(job);
    expect(second.exitCode).toBe(0);
    expect(second.sourceChanged).toEqual([{ package: 'shifty', version: '1.0.1', migratedSha512: before.assets[0]!.hashes['SHA-512'], detail: expect.stringContaining(other.integrity) }]);
    expect(te.sandbox.standIn.log.slice(since).filter((e) => e.method === 'PUT')).toEqual([]);
    const after = te.sandbox.standIn.versions('npm-internal', 'npm', undefined, 'shifty').find((v) => v.version === '1.0.1')!;
    expect(after.assets[0]!.hashes['SHA-512']).toBe(before.assets[0]!.hashes['SHA-512']);

    // reported once by the run that found it, and by status for good
    expect((await te.run(job)).sourceChanged).toEqual([]);
    const r = await te.cli(['status', job, '--json']);
    const status = JSON.parse(r.stdout) as { sourceChanged: { package: string; version: string }[] };
    expect(status.sourceChanged).toMatchObject([{ package: 'shifty', version: '1.0.1' }]);
  });
});
