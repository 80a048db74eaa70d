import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  corruptStoredTarball,
  escapeName,
  hashTarball,
  historyOf,
  makeTarball,
  publishVersion,
  seedPackages,
  type SeedPackage,
} from './support/npm-fixtures.js';
import { startRegistry, type RunningRegistry } from './support/verdaccio.js';

const run = promisify(execFile);

const HISTORY = historyOf(30, { prereleasesEvery: 6 });
const STABLE = HISTORY.filter((v) => semver.prerelease(v) === null);
const BETAS = HISTORY.filter((v) => v.includes('-beta.'));
const LATEST = STABLE[STABLE.length - 2]!; // not the highest: an explicit tag must win
const NEXT = HISTORY[HISTORY.length - 1]!;
const BETA = BETAS[BETAS.length - 1]!;
const DEPRECATED = STABLE[1]!;
const DEPRECATION = 'critical bug, use a newer version';

function seedFor(name: string): SeedPackage {
  return {
    name,
    versions: HISTORY,
    distTags: { latest: LATEST, next: NEXT, beta: BETA },
    deprecated: { [DEPRECATED]: DEPRECATION },
  };
}
const PACKAGES = ['@acme/widgets', 'left-padder'];

interface Packument {
  name: string;
  'dist-tags': Record<string, string>;
  versions: Record<string, { deprecated?: string; dist: { integrity: string; shasum: string; tarball: string } }>;
}

async function getJson(url: string, token?: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

async function getBytes(url: string, token: string): Promise<Buffer> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

const sri = (bytes: Buffer) => `sha512-${createHash('sha512').update(bytes).digest('base64')}`;

let root: string;
let open: RunningRegistry; // private npm registry: anonymous reads allowed
let ghp: RunningRegistry; // GitHub Packages stand-in: reads need a token
const seeded = new Map<RunningRegistry, Map<string, Map<string, string>>>();

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'cam-verdaccio-'));
  [open, ghp] = await Promise.all([
    startRegistry({ dir: path.join(root, 'open'), requireAuthForReads: false }),
    startRegistry({ dir: path.join(root, 'ghp'), requireAuthForReads: true, user: 'octocat', password: 'hunter22' }),
  ]);
  const pkgs = PACKAGES.map(seedFor);
  const [a, b] = await Promise.all([seedPackages(open.url, open.token, pkgs), seedPackages(ghp.url, ghp.token, pkgs)]);
  seeded.set(open, a);
  seeded.set(ghp, b);
}, 40_000);

afterAll(async () => {
  await Promise.all([open?.stop(), ghp?.stop()]);
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe('historyOf', () => {
  it('is a strictly increasing semver history with prereleases', () => {
    expect(HISTORY).toHaveLength(30);
    for (const v of HISTORY) expect(semver.valid(v)).toBe(v);
    expect([...HISTORY].sort(semver.compare)).toEqual(HISTORY);
    expect(new Set(HISTORY).size).toBe(HISTORY.length);
    expect(HISTORY).toContain('1.0.0-beta.1');
    expect(HISTORY).toContain('1.0.0');
    expect(HISTORY.filter((v) => semver.prerelease(v) !== null).length).toBeGreaterThanOrEqual(6);
  });
});

describe.each([
  ['private registry', () => open],
  ['auth-for-reads registry', () => ghp],
])('%s', (_label, registry) => {
  it.each(PACKAGES)('serves every version, tag, deprecation and tarball of %s', async (name) => {
    const reg = registry();
    const { status, body } = await getJson(`${reg.url}${escapeName(name)}`, reg.token);
    expect(status).toBe(200);
    const doc = body as Packument;
    expect(Object.keys(doc.versions).sort(semver.compare)).toEqual(HISTORY);
    expect(doc['dist-tags']).toMatchObject({ latest: LATEST, next: NEXT, beta: BETA });
    expect(doc.versions[DEPRECATED]?.deprecated).toBe(DEPRECATION);
    expect(Object.values(doc.versions).filter((v) => v.deprecated !== undefined)).toHaveLength(1);

    const expected = seeded.get(reg)?.get(name);
    expect(expected?.size).toBe(HISTORY.length);
    for (const version of HISTORY) {
      const dist = doc.versions[version]!.dist;
      expect(dist.integrity).toBe(expected?.get(version));
      expect(dist.tarball.startsWith(reg.url)).toBe(true);
      const bytes = await getBytes(dist.tarball, reg.token);
      expect(sri(bytes)).toBe(dist.integrity);
      expect(createHash('sha1').update(bytes).digest('hex')).toBe(dist.shasum);
    }
  });
});

describe('auth', () => {
  it('refuses anonymous reads on the auth-for-reads registry and accepts the token', async () => {
    for (const name of PACKAGES) {
      const anon = await getJson(`${ghp.url}${escapeName(name)}`);
      expect([401, 403]).toContain(anon.status);
      const authed = await getJson(`${ghp.url}${escapeName(name)}`, ghp.token);
      expect(authed.status).toBe(200);
    }
  });

  it('allows anonymous reads on the private registry but not anonymous publishes', async () => {
    const anon = await getJson(`${open.url}${escapeName('left-padder')}`);
    expect(anon.status).toBe(200);
    const tarball = await makeTarball('anon-publish', '1.0.0');
    await expect(publishVersion(open.url, 'not-a-token', 'anon-publish', '1.0.0', tarball)).rejects.toThrow(
      /HTTP 40[13]/,
    );
    expect((await getJson(`${open.url}anon-publish`, open.token)).status).toBe(404);
  });
});

describe('corruptStoredTarball', () => {
  it.each([
    ['@acme/broken', () => open],
    ['broken', () => ghp],
  ])('makes the served bytes of %s mismatch dist.integrity', async (name, registry) => {
    const reg = registry();
    const tarball = await makeTarball(name, '1.0.0', { padBytes: 64 * 1024 });
    const { integrity } = hashTarball(tarball);
    await publishVersion(reg.url, reg.token, name, '1.0.0', tarball);
    const doc = (await getJson(`${reg.url}${escapeName(name)}`, reg.token)).body as Packument;
    const dist = doc.versions['1.0.0']!.dist;
    expect(dist.integrity).toBe(integrity);
    expect(sri(await getBytes(dist.tarball, reg.token))).toBe(integrity);

    await corruptStoredTarball(reg.storageDir, name, '1.0.0');

    const served = await getBytes(dist.tarball, reg.token);
    expect(served.length).toBe(tarball.length);
    expect(sri(served)).not.toBe(integrity);
    // the packument still advertises the original hash
    const again = (await getJson(`${reg.url}${escapeName(name)}`, reg.token)).body as Packument;
    expect(again.versions['1.0.0']!.dist.integrity).toBe(integrity);
  });
});

describe('the real npm client', () => {
  it.each(PACKAGES)('sees every version of %s on the auth-for-reads registry', async (name) => {
    const work = await mkdtemp(path.join(root, 'npm-'));
    const userconfig = path.join(work, '.npmrc');
    const host = new URL(ghp.url).host;
    await writeFile(userconfig, `//${host}/:_authToken=${ghp.token}\n`);
    // Drop npm_config_* inherited from `npx vitest` so only our flags and .npmrc count.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
    const { stdout } = await run(
      'npm',
      [
        'view',
        name,
        'versions',
        '--json',
        '--registry',
        ghp.url,
        '--userconfig',
        userconfig,
        '--cache',
        path.join(work, 'cache'),
        '--no-update-notifier',
        '--fetch-retries=0',
      ],
      { env: { ...env, NO_COLOR: '1' }, cwd: work, timeout: 20_000 },
    );
    expect(JSON.parse(stdout)).toEqual(HISTORY);
  }, 25_000);
});
