/**
 * GenericTarget and the SDK calls under it, against the CodeArtifact stand-in (the real
 * AWS SDK on the wire), with Go module versions built by buildGoModule from a real tagged
 * repository. A version's assets go up one at a time: `.zip` and `.mod` with `unfinished`,
 * `.info` last, which publishes it
 * (https://docs.aws.amazon.com/codeartifact/latest/APIReference/API_PublishPackageVersion.html).
 * Asserted on what the target then says (DescribePackageVersion, ListPackageVersionAssets),
 * on the stored bytes and on the stand-in's request log.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Limiter } from '../src/engine/limiter.js';
import { MigrateError } from '../src/errors.js';
import { hashBuffer } from '../src/integrity/hashes.js';
import { CodeArtifact } from '../src/targets/codeartifact.js';
import type { AssetFile, PublishRequest, PublishResult } from '../src/targets/format.js';
import { GenericTarget } from '../src/targets/generic.js';
import { buildHelloVersions, GENERIC_REPO, MODULE, MODULE_V2, QUIET, startGoTarget, type BuiltVersion, type GoTarget } from './support/go-modules.js';

let tmp: string;
let target: GoTarget;
let generic: GenericTarget;
let built: Map<string, BuiltVersion>;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cam-generic-'));
  target = await startGoTarget();
  generic = new GenericTarget(target.ca, GENERIC_REPO);
  built = await buildHelloVersions(tmp);
});
afterAll(async () => {
  await target?.stop();
  await rm(tmp, { recursive: true, force: true });
});

function version(key: string): BuiltVersion {
  const v = built.get(key);
  if (!v) throw new Error(`no built version ${key}`);
  return v;
}

function request(module: string, v: string, assets: readonly AssetFile[], index: number, isLast = index === assets.length - 1): PublishRequest {
  return { name: module, version: v, coords: generic.coordinates(module), asset: assets[index]!, assets, isLast };
}

/** What the engine does for one version: every asset in order, the last one publishing it. */
async function publishAll(module: string, v: string, assets: readonly AssetFile[]): Promise<PublishResult[]> {
  const results: PublishResult[] = [];
  for (let i = 0; i < assets.length; i++) results.push(await generic.publishAsset(request(module, v, assets, i)));
  return results;
}

const publishes = (v: string) => target.standIn.log.filter((e) => e.operation === 'PublishPackageVersion' && e.query.version === v);

async function codeOf(p: Promise<unknown>): Promise<MigrateError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof MigrateError) return e;
    throw e;
  }
  throw new Error('expected a MigrateError');
}

describe('GenericTarget basics', () => {
  it('maps a module path to generic coordinates (namespace = host, package = the rest with + for /) and keeps the version', () => {
    expect(generic.format).toBe('generic');
    expect(generic.coordinates(MODULE)).toEqual({ format: 'generic', repository: GENERIC_REPO, namespace: 'git.acme.example', package: 'Platform+Hello' });
    expect(generic.coordinates(MODULE_V2).package).toBe('Platform+Hello+v2');
    expect(generic.targetVersion('v2.0.0+incompatible')).toBe('v2.0.0+incompatible');
  });

  it('preflight: passes for the generic repository, ETARGETSETUP for a missing one or refused credentials', async () => {
    await generic.preflight();
    expect(target.standIn.log.some((e) => e.operation === 'GetRepositoryEndpoint' && e.query.format === 'generic' && e.status === 200)).toBe(true);

    const missing = await codeOf(new GenericTarget(target.ca, 'go-nowhere').preflight());
    expect(missing.code).toBe('ETARGETSETUP');
    expect(missing.status).toBe(404);
    expect(missing.hint).toContain('target.repositories.generic.internal');

    const badClient = new CodeartifactClient({ region: 'us-east-1', endpoint: target.standIn.url, credentials: { accessKeyId: 'NOTTHEKEY', secretAccessKey: 'x' }, maxAttempts: 1, logger: QUIET });
    try {
      const ca = new CodeArtifact(target.ca.config, new Limiter({ publish: 100, getAsset: 100, list: 100, reads: 100, writes: 100 }), badClient);
      const refused = await codeOf(new GenericTarget(ca, GENERIC_REPO).preflight());
      expect(refused.code).toBe('ETARGETSETUP');
      expect(refused.status).toBe(403);
    } finally {
      badClient.destroy();
    }
  });
});

describe('a file that cannot be read once the upload began', () => {
  it('(a folder where the blob was: stat says 4 KiB, reading fails) is EBLOBMISSING naming the asset: no unhandled error ends the process, no request waits for the rest of its body', async () => {
    const asset: AssetFile = { name: 'v0.0.1.zip', path: tmp, size: 4096, hashes: { md5: '0'.repeat(32), sha1: '0'.repeat(40), sha256: '0'.repeat(64), sha512: '0'.repeat(128) }, facts: {} };
    const e = await codeOf(generic.publishAsset({ name: 'git.acme.example/unreadable', version: 'v0.0.1', coords: generic.coordinates('git.acme.example/unreadable'), asset, assets: [asset], isLast: true }));
    expect(e.code).toBe('EBLOBMISSING');
    expect(e.message).toMatch(/v0\.0\.1\.zip: the file to upload cannot be read: EISDIR/);
    expect(target.standIn.log.filter((x) => x.operation === 'PublishPackageVersion' && x.query.package === 'unreadable' && x.status < 300)).toEqual([]);
  });
});

describe('publishing a Go module version as three assets', () => {
  it('.zip and .mod keep it Unfinished, .info publishes it; the listing has our SHA-256 of each', async () => {
    const { build, assets } = version(`${MODULE}@v1.0.0`);
    const coords = generic.coordinates(MODULE);
    expect(assets.map((a) => a.name)).toEqual(['v1.0.0.zip', 'v1.0.0.mod', 'v1.0.0.info']);

    expect(await generic.publishAsset(request(MODULE, 'v1.0.0', assets, 0))).toEqual({ kind: 'published' });
    expect((await target.ca.describeVersion(coords, 'v1.0.0'))?.status).toBe('Unfinished');
    expect(await generic.publishAsset(request(MODULE, 'v1.0.0', assets, 1))).toEqual({ kind: 'published' });
    expect((await target.ca.describeVersion(coords, 'v1.0.0'))?.status).toBe('Unfinished');
    // Unfinished versions are not what clients get (cam goproxy lists Published only)
    expect((await target.ca.listVersions(coords)).get('v1.0.0')?.status).toBe('Unfinished');
    expect(await generic.publishAsset(request(MODULE, 'v1.0.0', assets, 2))).toEqual({ kind: 'published' });

    const after = await target.ca.describeVersion(coords, 'v1.0.0');
    expect(after).toMatchObject({ status: 'Published', originType: 'INTERNAL' });
    const listed = await target.ca.versionAssets(coords, 'v1.0.0');
    expect(listed?.map((a) => [a.name, a.size, a.hashes['SHA-256']])).toEqual(assets.map((a) => [a.name, a.size, a.hashes.sha256]));
    expect(target.standIn.assetBytes(GENERIC_REPO, 'generic', 'git.acme.example', 'Platform+Hello', 'v1.0.0', 'v1.0.0.zip')).toEqual(await readFile(build.zip.path));

    // on the wire: unfinished=true on the first two, absent on the last (absent = publish it)
    const sent = publishes('v1.0.0');
    expect(sent.map((e) => [e.query.asset, e.query.unfinished, e.status])).toEqual([
      ['v1.0.0.zip', 'true', 200],
      ['v1.0.0.mod', 'true', 200],
      ['v1.0.0.info', undefined, 200],
    ]);
    expect(sent.every((e) => e.query.format === 'generic' && e.query.namespace === 'git.acme.example' && e.query.package === 'Platform+Hello')).toBe(true);
  });

  it('the same bytes again are accepted; other bytes under a stored name are a 409: exists, and nothing changes', async () => {
    const { assets } = version(`${MODULE}@v1.0.0`);
    const coords = generic.coordinates(MODULE);
    const before = await target.ca.describeVersion(coords, 'v1.0.0');
    expect(await generic.publishAsset(request(MODULE, 'v1.0.0', assets, 0, false))).toEqual({ kind: 'published' });

    const other = join(tmp, 'other.zip');
    const bytes = randomBytes(4096);
    await writeFile(other, bytes);
    const forged: AssetFile = { ...assets[0]!, path: other, size: bytes.length, hashes: hashBuffer(bytes) };
    const seen = publishes('v1.0.0').length;
    expect(await generic.publishAsset({ ...request(MODULE, 'v1.0.0', assets, 0), asset: forged })).toEqual({ kind: 'exists' });
    expect(publishes('v1.0.0').slice(seen).map((e) => e.status)).toEqual([409]);
    // a Published version takes no new asset either
    expect(await generic.publishAsset({ ...request(MODULE, 'v1.0.0', assets, 0), asset: { ...forged, name: 'v1.0.0.extra' } })).toEqual({ kind: 'exists' });

    const after = await target.ca.describeVersion(coords, 'v1.0.0');
    expect(after).toEqual(before);
    expect((await target.ca.versionAssets(coords, 'v1.0.0'))?.map((a) => a.hashes['SHA-256'])).toEqual(assets.map((a) => a.hashes.sha256));
  });

  it('a run that dies after the .zip leaves an Unfinished version listing it; the next pass sends the rest and the version completes', async () => {
    const { assets } = version(`${MODULE}@v1.1.0`);
    const coords = generic.coordinates(MODULE);
    expect(await generic.publishAsset(request(MODULE, 'v1.1.0', assets, 0))).toEqual({ kind: 'published' });
    // --- the run dies here. The next one reads the target first:
    expect((await target.ca.describeVersion(coords, 'v1.1.0'))?.status).toBe('Unfinished');
    const landed = await target.ca.versionAssets(coords, 'v1.1.0');
    expect(landed?.map((a) => [a.name, a.hashes['SHA-256']])).toEqual([['v1.1.0.zip', assets[0]!.hashes.sha256]]);
    // ...and sends what is missing; sending the .zip again too is harmless (same bytes)
    expect(await publishAll(MODULE, 'v1.1.0', assets)).toEqual([{ kind: 'published' }, { kind: 'published' }, { kind: 'published' }]);
    expect((await target.ca.describeVersion(coords, 'v1.1.0'))?.status).toBe('Published');
    expect((await target.ca.versionAssets(coords, 'v1.1.0'))?.map((a) => a.hashes['SHA-256'])).toEqual(assets.map((a) => a.hashes.sha256));
  });

  it('the last asset lands but its answer is lost: unknown, and the target shows the version Published with every asset', async () => {
    const { assets } = version(`${MODULE}@v1.2.0-rc.1`);
    const coords = generic.coordinates(MODULE);
    await generic.publishAsset(request(MODULE, 'v1.2.0-rc.1', assets, 0));
    await generic.publishAsset(request(MODULE, 'v1.2.0-rc.1', assets, 1));
    target.standIn.addFault({ operation: 'PublishPackageVersion', version: 'v1.2.0-rc.1', status: 500, afterApply: true, times: 1 });
    const r = await generic.publishAsset(request(MODULE, 'v1.2.0-rc.1', assets, 2));
    expect(r.kind).toBe('unknown');
    expect(r.kind === 'unknown' && r.error.code).toBe('ETARGET');
    expect(r.kind === 'unknown' && r.error.subject).toBe(`${MODULE}@v1.2.0-rc.1`);
    // what the engine reads to settle it: Published, and our three hashes
    expect((await target.ca.describeVersion(coords, 'v1.2.0-rc.1'))?.status).toBe('Published');
    expect((await target.ca.versionAssets(coords, 'v1.2.0-rc.1'))?.map((a) => a.hashes['SHA-256'])).toEqual(assets.map((a) => a.hashes.sha256));
  });

  it('every asset there but still Unfinished (the last one sent with unfinished): finishVersion publishes it, once', async () => {
    const { assets } = version(`${MODULE_V2}@v2.0.0`);
    const coords = generic.coordinates(MODULE_V2);
    for (let i = 0; i < assets.length; i++) expect(await generic.publishAsset(request(MODULE_V2, 'v2.0.0', assets, i, false))).toEqual({ kind: 'published' });
    expect((await target.ca.describeVersion(coords, 'v2.0.0'))?.status).toBe('Unfinished');
    expect(await target.ca.finishVersion(coords, 'v2.0.0')).toEqual({ ok: true, status: 'Published' });
    expect((await target.ca.describeVersion(coords, 'v2.0.0'))?.status).toBe('Published');
    // expected status Unfinished: a Published version is left alone
    expect(await target.ca.finishVersion(coords, 'v2.0.0')).toMatchObject({ ok: false, errorCode: 'MISMATCHED_STATUS' });
  });

  it('streams a multi-megabyte asset from its file, with the length and SHA-256 the service checks', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const path = join(tmp, 'big.bin');
    await writeFile(path, bytes);
    const asset: AssetFile = { name: 'v0.0.1.zip', path, size: bytes.length, hashes: hashBuffer(bytes), facts: {} };
    const coords = generic.coordinates('git.acme.example/big');
    expect(await generic.publishAsset({ name: 'git.acme.example/big', version: 'v0.0.1', coords, asset, assets: [asset], isLast: true })).toEqual({ kind: 'published' });
    const listed = await target.ca.versionAssets(coords, 'v0.0.1');
    expect(listed?.[0]).toMatchObject({ name: 'v0.0.1.zip', size: bytes.length });
    expect(listed?.[0]?.hashes['SHA-256']).toBe(createHash('sha256').update(bytes).digest('hex'));

    // and read back through GetPackageVersionAsset as a stream, with its headers
    const d = await target.ca.getAsset(coords, 'v0.0.1', 'v0.0.1.zip');
    const chunks: Buffer[] = [];
    for await (const c of d.stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    expect(d).toMatchObject({ assetName: 'v0.0.1.zip', version: 'v0.0.1', revision: (await target.ca.describeVersion(coords, 'v0.0.1'))?.revision });
  });
});

describe('what each failure becomes', () => {
  const fresh = () => version(`${MODULE}@v1.0.0`).assets;
  const coords = () => generic.coordinates('git.acme.example/failures');

  it('throttled: throws ETHROTTLED with the Retry-After; nothing stored', async () => {
    target.standIn.addFault({ operation: 'PublishPackageVersion', version: 'v0.1.0', status: 429, retryAfterSeconds: 2, times: 1 });
    const e = await codeOf(generic.publishAsset({ ...request('git.acme.example/failures', 'v0.1.0', fresh(), 0), coords: coords() }));
    expect(e.code).toBe('ETHROTTLED');
    expect(e.retryAfterMs).toBe(2000);
    expect(await target.ca.describeVersion(coords(), 'v0.1.0')).toBeUndefined();
  });

  it('refused credentials: throws ETARGETAUTH naming the version and asset', async () => {
    const badClient = new CodeartifactClient({ region: 'us-east-1', endpoint: target.standIn.url, credentials: { accessKeyId: 'NOTTHEKEY', secretAccessKey: 'x' }, maxAttempts: 1, logger: QUIET });
    try {
      const ca = new CodeArtifact(target.ca.config, new Limiter({ publish: 100, getAsset: 100, list: 100, reads: 100, writes: 100 }), badClient);
      const g = new GenericTarget(ca, GENERIC_REPO);
      const e = await codeOf(g.publishAsset({ ...request('git.acme.example/failures', 'v0.1.0', fresh(), 0), coords: coords() }));
      expect(e.code).toBe('ETARGETAUTH');
      expect(e.status).toBe(403);
      expect(e.message).toContain('v1.0.0.zip');
    } finally {
      badClient.destroy();
    }
    expect(await target.ca.describeVersion(coords(), 'v0.1.0')).toBeUndefined();
  });

  it('a 5xx or a dropped connection: unknown (it may have landed)', async () => {
    target.standIn.addFault({ operation: 'PublishPackageVersion', version: 'v0.1.0', status: 503, times: 1 });
    const r = await generic.publishAsset({ ...request('git.acme.example/failures', 'v0.1.0', fresh(), 0), coords: coords() });
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'ETARGET', status: 503 } });
  });

  it('a Validation error (the bytes do not match the SHA-256 recorded for them): ETARGETREJECTED naming the asset; nothing stored', async () => {
    const assets = fresh();
    const wrong: AssetFile = { ...assets[1]!, hashes: { ...assets[1]!.hashes, sha256: createHash('sha256').update('something else').digest('hex') } };
    const e = await codeOf(generic.publishAsset({ ...request('git.acme.example/failures', 'v0.2.0', assets, 1), asset: wrong, coords: coords() }));
    expect(e.code).toBe('ETARGETREJECTED');
    expect(e.status).toBe(400);
    expect(e.message).toContain('v1.0.0.mod');
    expect(await target.ca.describeVersion(coords(), 'v0.2.0')).toBeUndefined();
  });

  it('the file is gone before the upload: EBLOBMISSING, nothing sent', async () => {
    const seen = target.standIn.log.length;
    const gone: AssetFile = { ...fresh()[2]!, path: join(tmp, 'no-such-file') };
    const e = await codeOf(generic.publishAsset({ ...request('git.acme.example/failures', 'v0.3.0', fresh(), 2), asset: gone, coords: coords() }));
    expect(e.code).toBe('EBLOBMISSING');
    expect(target.standIn.log.length).toBe(seen);
  });

  it('cut off by the stop before it is sent: unknown EINTERRUPTED, nothing sent', async () => {
    const seen = target.standIn.log.length;
    const r = await generic.publishAsset({ ...request('git.acme.example/failures', 'v0.4.0', fresh(), 0), coords: coords(), signal: AbortSignal.abort() });
    expect(r).toMatchObject({ kind: 'unknown', error: { code: 'EINTERRUPTED' } });
    expect(target.standIn.log.length).toBe(seen);
  });
});
