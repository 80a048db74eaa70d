/**
 * The CodeArtifact stand-in, driven by the real AWS SDK v3 client and the real npm CLI.
 * Failures are asserted by error type / status and by what ends up stored or logged.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CodeartifactClient,
  DescribePackageCommand,
  DescribePackageVersionCommand,
  DescribeRepositoryCommand,
  GetAuthorizationTokenCommand,
  GetPackageVersionAssetCommand,
  GetRepositoryEndpointCommand,
  ListPackagesCommand,
  ListPackageVersionAssetsCommand,
  ListPackageVersionsCommand,
  PublishPackageVersionCommand,
  PutPackageOriginConfigurationCommand,
} from '@aws-sdk/client-codeartifact';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodeArtifactStandIn } from './support/codeartifact/index.js';

const run = promisify(execFile);
const DOMAIN = 'acme';
const OWNER = '111122223333';
// not shaped like a real key (AKIA…): a fake credential must never look like a leaked one
const ACCESS_KEY = 'STANDINTESTACCESSKEY';
const credentials = { accessKeyId: ACCESS_KEY, secretAccessKey: 'stand-in-secret' };
const domainArgs = { domain: DOMAIN, domainOwner: OWNER };

let standIn: CodeArtifactStandIn;
let client: CodeartifactClient;
let tmp: string;
let token: string;

const hex = (algorithm: string, bytes: Buffer): string => createHash(algorithm).update(bytes).digest('hex');
const sri = (bytes: Buffer): string => `sha512-${createHash('sha512').update(bytes).digest('base64')}`;

/** Rejection of a promise, as the error it threw (fails when it resolves). */
async function failure(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (err) {
    return err as Error & Record<string, unknown>;
  }
  throw new Error('expected a failure');
}

/** A real npm tarball: `package/package.json` (+ optional extra file to change the bytes). */
async function makeTarball(name: string, version: string, extra = ''): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmp, 'pkg-'));
  await mkdir(path.join(dir, 'package'));
  await writeFile(
    path.join(dir, 'package', 'package.json'),
    JSON.stringify({ name, version, description: `${name} for tests`, license: 'MIT', main: 'index.js' }, null, 2),
  );
  await writeFile(path.join(dir, 'package', 'index.js'), `module.exports = ${JSON.stringify(name + extra)};\n`);
  const file = path.join(dir, 'out.tgz');
  await tar.create({ gzip: true, cwd: dir, portable: true, file }, ['package']);
  return readFile(file);
}

/** The body libnpmpublish PUTs: one version, one attachment named `<name>-<version>.tgz`. */
function publishBody(repo: string, name: string, version: string, tgz: Buffer, dist: Record<string, unknown> = {}): unknown {
  const base = name.split('/').pop() ?? name;
  return {
    _id: name,
    name,
    description: `${name} for tests`,
    'dist-tags': { latest: version },
    versions: {
      [version]: {
        name,
        version,
        description: `${name} for tests`,
        license: 'MIT',
        _id: `${name}@${version}`,
        dist: { integrity: sri(tgz), shasum: hex('sha1', tgz), tarball: `${standIn.npmEndpoint(repo)}${name}/-/${base}-${version}.tgz`, ...dist },
      },
    },
    access: null,
    _attachments: { [`${name}-${version}.tgz`]: { content_type: 'application/octet-stream', data: tgz.toString('base64'), length: tgz.length } },
  };
}

async function npmRequest(method: string, url: string, body?: unknown, auth: string | null = token): Promise<{ status: number; json: unknown; headers: Headers }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (auth !== null) headers['authorization'] = `Bearer ${auth}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : (JSON.parse(text) as unknown), headers: res.headers };
}

const escaped = (name: string): string => name.replace('/', '%2f');
const publishNpm = (repo: string, name: string, version: string, tgz: Buffer, dist?: Record<string, unknown>) =>
  npmRequest('PUT', `${standIn.npmEndpoint(repo)}${escaped(name)}`, publishBody(repo, name, version, tgz, dist));

async function freshToken(): Promise<string> {
  const out = await client.send(new GetAuthorizationTokenCommand(domainArgs));
  return out.authorizationToken ?? '';
}

/** The real npm CLI with a private userconfig and cache, and no npm_config_* inherited from npx/vitest. */
async function npm(args: string[], cwd: string, repo: string, cache = 'npm-cache'): Promise<string> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_')) env[k] = v;
  const ep = standIn.npmEndpoint(repo);
  const npmrc = path.join(tmp, `npmrc-${repo}`);
  await writeFile(
    npmrc,
    [`registry=${ep}`, `${ep.replace(/^http:/, '')}:_authToken=${token}`, 'update-notifier=false', 'audit=false', 'fund=false'].join('\n') + '\n',
  );
  const { stdout } = await run('npm', [...args, '--userconfig', npmrc, '--cache', path.join(tmp, cache), '--loglevel', 'error'], {
    cwd,
    env,
  });
  return stdout;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'ca-standin-'));
  standIn = await CodeArtifactStandIn.start({
    domain: DOMAIN,
    domainOwner: OWNER,
    repositories: ['npm-internal', 'npm-store', 'npm-shared'],
    accessKeyId: ACCESS_KEY,
    quotas: false,
    dataDir: path.join(tmp, 'assets'),
  });
  // maxAttempts 1: the SDK would otherwise retry throttles and 5xx by itself.
  client = new CodeartifactClient({ region: 'us-east-1', endpoint: standIn.url, credentials, maxAttempts: 1 });
  token = await freshToken();
});

afterAll(async () => {
  client?.destroy();
  await standIn?.stop();
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
});

describe('control plane through the AWS SDK', () => {
  it('issues tokens whose expiration the SDK reads as a Date, and types its errors', async () => {
    const before = Date.now();
    const out = await client.send(new GetAuthorizationTokenCommand({ ...domainArgs, durationSeconds: 900 }));
    expect(out.authorizationToken).toMatch(/^\S{64,}$/);
    expect(out.expiration).toBeInstanceOf(Date);
    expect(Math.abs((out.expiration?.getTime() ?? 0) - (before + 900_000))).toBeLessThan(5_000);
    const defaulted = await client.send(new GetAuthorizationTokenCommand(domainArgs));
    expect((defaulted.expiration?.getTime() ?? 0) - before).toBeGreaterThan(43_100_000);

    const stranger = new CodeartifactClient({ region: 'us-east-1', endpoint: standIn.url, maxAttempts: 1, credentials: { accessKeyId: 'AKIAOTHER', secretAccessKey: 'x' } });
    const denied = await failure(stranger.send(new GetAuthorizationTokenCommand(domainArgs)));
    stranger.destroy();
    expect(denied.name).toBe('AccessDeniedException');
    expect((denied.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(403);

    const badDuration = await failure(client.send(new GetAuthorizationTokenCommand({ ...domainArgs, durationSeconds: 60 })));
    expect(badDuration.name).toBe('ValidationException');
    expect(badDuration.reason).toBe('FIELD_VALIDATION_FAILED');
    const otherDomain = await failure(client.send(new GetAuthorizationTokenCommand({ domain: 'other', domainOwner: OWNER })));
    expect(otherDomain.name).toBe('ResourceNotFoundException');
    expect(otherDomain.resourceType).toBe('domain');
  });

  it('answers GetRepositoryEndpoint and DescribeRepository, also via AWS_ENDPOINT_URL_CODEARTIFACT', async () => {
    process.env['AWS_ENDPOINT_URL_CODEARTIFACT'] = standIn.url;
    const viaEnv = new CodeartifactClient({ region: 'us-east-1', credentials, maxAttempts: 1 });
    try {
      const ep = await viaEnv.send(new GetRepositoryEndpointCommand({ ...domainArgs, repository: 'npm-store', format: 'npm' }));
      expect(ep.repositoryEndpoint).toBe(standIn.npmEndpoint('npm-store'));
      expect(ep.repositoryEndpoint).toBe(`${standIn.url}/d/acme-111122223333/npm/npm-store/`);
    } finally {
      delete process.env['AWS_ENDPOINT_URL_CODEARTIFACT'];
      viaEnv.destroy();
    }
    const pypi = await client.send(new GetRepositoryEndpointCommand({ ...domainArgs, repository: 'npm-store', format: 'pypi' }));
    expect(pypi.repositoryEndpoint).toBe(`${standIn.url}/d/acme-111122223333/pypi/npm-store/`);
    const repo = await client.send(new DescribeRepositoryCommand({ ...domainArgs, repository: 'npm-shared' }));
    expect(repo.repository).toMatchObject({ name: 'npm-shared', domainName: DOMAIN, domainOwner: OWNER, arn: `arn:aws:codeartifact:us-east-1:${OWNER}:repository/acme/npm-shared` });
    expect(repo.repository?.createdTime).toBeInstanceOf(Date);
    const missing = await failure(client.send(new DescribeRepositoryCommand({ ...domainArgs, repository: 'nope' })));
    expect(missing.name).toBe('ResourceNotFoundException');
    expect(missing.resourceType).toBe('repository');
    const badFormat = await failure(client.send(new GetRepositoryEndpointCommand({ ...domainArgs, repository: 'npm-store', format: 'go' as 'npm' })));
    expect(badFormat.name).toBe('ValidationException');
  });
});

describe('npm publish through the endpoint, read back through the API', () => {
  let tgz: Buffer;

  it('stores a PUT with _attachments as one Published version with asset package.tgz and its hashes', async () => {
    tgz = await makeTarball('@acme/core', '1.0.0');
    const res = await publishNpm('npm-store', '@acme/core', '1.0.0', tgz);
    expect(res.status).toBe(200);

    const key = { ...domainArgs, repository: 'npm-store', format: 'npm' as const, namespace: 'acme', package: 'core' };
    const listed = await client.send(new ListPackageVersionsCommand(key));
    expect(listed.defaultDisplayVersion).toBe('1.0.0');
    expect(listed.versions).toEqual([
      { version: '1.0.0', status: 'Published', revision: expect.any(String), origin: { domainEntryPoint: { repositoryName: 'npm-store' }, originType: 'INTERNAL' } },
    ]);
    const assets = await client.send(new ListPackageVersionAssetsCommand({ ...key, packageVersion: '1.0.0' }));
    expect(assets.assets).toEqual([
      { name: 'package.tgz', size: tgz.length, hashes: { MD5: hex('md5', tgz), 'SHA-1': hex('sha1', tgz), 'SHA-256': hex('sha256', tgz), 'SHA-512': hex('sha512', tgz) } },
    ]);
    const described = await client.send(new DescribePackageVersionCommand({ ...key, packageVersion: '1.0.0' }));
    expect(described.packageVersion).toMatchObject({ displayName: '@acme/core', packageName: 'core', namespace: 'acme', status: 'Published', summary: '@acme/core for tests', licenses: [{ name: 'MIT' }] });
    expect(described.packageVersion?.publishedTime).toBeInstanceOf(Date);
    const asset = await client.send(new GetPackageVersionAssetCommand({ ...key, packageVersion: '1.0.0', asset: 'package.tgz' }));
    expect(Buffer.from((await asset.asset?.transformToByteArray()) ?? [])).toEqual(tgz);
    expect(asset.assetName).toBe('package.tgz');

    const pkg = await client.send(new DescribePackageCommand(key));
    // First version published directly: publish ALLOW, upstream BLOCK.
    expect(pkg.package?.originConfiguration?.restrictions).toEqual({ publish: 'ALLOW', upstream: 'BLOCK' });
    const packages = await client.send(new ListPackagesCommand({ ...domainArgs, repository: 'npm-store', namespace: 'ac' }));
    expect(packages.packages?.map((p) => `${p.namespace}/${p.package}`)).toEqual(['acme/core']);
    const missing = await failure(client.send(new DescribePackageVersionCommand({ ...key, packageVersion: '9.9.9' })));
    expect(missing.name).toBe('ResourceNotFoundException');
    expect(standIn.versions('npm-store', 'npm', 'acme', 'core').map((v) => v.version)).toEqual(['1.0.0']);
  });

  it('accepts an identical republish, refuses other bytes with 409 and a lying integrity with 400', async () => {
    const revision = standIn.versions('npm-store', 'npm', 'acme', 'core')[0]?.revision;
    expect((await publishNpm('npm-store', '@acme/core', '1.0.0', tgz)).status).toBe(200);
    const other = await makeTarball('@acme/core', '1.0.0', ' changed');
    const conflict = await publishNpm('npm-store', '@acme/core', '1.0.0', other);
    expect(conflict.status).toBe(409);
    expect(conflict.json).toEqual({ error: expect.any(String) });
    const lying = await publishNpm('npm-store', '@acme/core', '1.0.1', other, { integrity: sri(tgz) });
    expect(lying.status).toBe(400);
    const badSha = await publishNpm('npm-store', '@acme/core', '1.0.1', other, { shasum: hex('sha1', tgz) });
    expect(badSha.status).toBe(400);

    const stored = standIn.versions('npm-store', 'npm', 'acme', 'core');
    expect(stored.map((v) => [v.version, v.revision])).toEqual([['1.0.0', revision]]);
    expect(standIn.assetBytes('npm-store', 'npm', 'acme', 'core', '1.0.0', 'package.tgz')).toEqual(tgz);
  });

  it('serves dist-tags and deprecation over the registry protocol', async () => {
    const ep = standIn.npmEndpoint('npm-store');
    expect((await publishNpm('npm-store', '@acme/core', '1.1.0', await makeTarball('@acme/core', '1.1.0'))).status).toBe(200);
    expect((await npmRequest('PUT', `${ep}-/package/${escaped('@acme/core')}/dist-tags/beta`, '1.0.0')).status).toBe(200);
    expect((await npmRequest('PUT', `${ep}-/package/@acme/core/dist-tags/next`, '7.0.0')).status).toBe(404);
    expect((await npmRequest('GET', `${ep}-/package/${escaped('@acme/core')}/dist-tags`)).json).toEqual({ latest: '1.1.0', beta: '1.0.0' });
    expect((await npmRequest('DELETE', `${ep}-/package/${escaped('@acme/core')}/dist-tags/beta`)).status).toBe(200);
    expect(standIn.distTags('npm-store', '@acme/core')).toEqual({ latest: '1.1.0' });

    const packument = (await npmRequest('GET', `${ep}${escaped('@acme/core')}`)).json as Record<string, Record<string, Record<string, unknown>>>;
    const v100 = packument['versions']?.['1.0.0'];
    expect(v100?.['dist']).toEqual({ tarball: `${ep}@acme/core/-/core-1.0.0.tgz`, shasum: hex('sha1', tgz), integrity: sri(tgz) });
    expect(packument['time']?.['1.0.0']).toMatch(/^\d{4}-\d\d-\d\dT/);
    const tarball = await fetch(`${ep}@acme/core/-/core-1.0.0.tgz`, { headers: { authorization: `Bearer ${token}` } });
    expect(Buffer.from(await tarball.arrayBuffer())).toEqual(tgz);

    // `npm deprecate` PUTs the packument back without _attachments.
    const deprecate = (message: string | undefined) => {
      const body = structuredClone(packument) as Record<string, Record<string, Record<string, unknown>>>;
      const doc = body['versions']?.['1.0.0'] ?? {};
      if (message === undefined) delete doc['deprecated'];
      else doc['deprecated'] = message;
      return npmRequest('PUT', `${ep}${escaped('@acme/core')}`, body);
    };
    expect((await deprecate('use 1.1.0')).status).toBe(200);
    expect(standIn.versions('npm-store', 'npm', 'acme', 'core').map((v) => v.deprecated)).toEqual(['use 1.1.0', undefined]);
    expect((await deprecate('')).status).toBe(200);
    expect(standIn.versions('npm-store', 'npm', 'acme', 'core')[0]?.deprecated).toBeUndefined();
    const unknown = await npmRequest('PUT', `${ep}${escaped('@acme/core')}`, { name: '@acme/core', versions: { '3.0.0': { deprecated: 'x' } } });
    expect(unknown.status).toBe(400);
    expect(standIn.log.at(-1)).toMatchObject({ operation: 'npm:UpdateMetadata', package: '@acme/core', namespace: 'acme', version: '3.0.0', status: 400 });
  });

  it('works for the real npm CLI: publish, view, dist-tag, deprecate, install', async () => {
    const project = await mkdtemp(path.join(tmp, 'consumer-'));
    const tgzFile = path.join(project, 'widget-2.0.0.tgz');
    await writeFile(tgzFile, await makeTarball('@acme/widget', '2.0.0'));
    await npm(['publish', tgzFile], project, 'npm-internal');
    expect(standIn.log.at(-1)).toMatchObject({ operation: 'npm:Publish', package: '@acme/widget', version: '2.0.0', status: 200 });

    const view = JSON.parse(await npm(['view', '@acme/widget', '--json'], project, 'npm-internal')) as Record<string, unknown>;
    expect(view).toMatchObject({ name: '@acme/widget', version: '2.0.0', 'dist-tags': { latest: '2.0.0' } });
    await npm(['dist-tag', 'add', '@acme/widget@2.0.0', 'stable'], project, 'npm-internal');
    expect(standIn.distTags('npm-internal', '@acme/widget')).toEqual({ latest: '2.0.0', stable: '2.0.0' });
    await npm(['deprecate', '@acme/widget@2.0.0', 'superseded'], project, 'npm-internal');
    expect(standIn.versions('npm-internal', 'npm', 'acme', 'widget')[0]?.deprecated).toBe('superseded');

    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, dependencies: { '@acme/widget': '2.0.0' } }));
    // A cache of its own: `npm publish` cached the tarball, and the install must fetch it from the endpoint.
    await npm(['install'], project, 'npm-internal', 'install-cache');
    const installed = JSON.parse(await readFile(path.join(project, 'node_modules', '@acme', 'widget', 'package.json'), 'utf8')) as { version: string };
    expect(installed.version).toBe('2.0.0');
    expect(standIn.log.some((e) => e.operation === 'npm:GetTarball' && e.package === '@acme/widget' && e.version === '2.0.0' && e.status === 200)).toBe(true);
  }, 60_000);
});

describe('tokens on the npm endpoint', () => {
  it('answers 401 once a token expires or is revoked, and logs it', async () => {
    const url = `${standIn.npmEndpoint('npm-store')}${escaped('@acme/core')}`;
    standIn.setTokenTtl(1);
    const shortLived = await freshToken();
    standIn.setTokenTtl(undefined);
    expect((await npmRequest('GET', url, undefined, shortLived)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_100));
    const expired = await npmRequest('GET', url, undefined, shortLived);
    expect(expired.status).toBe(401);
    expect(expired.json).toEqual({ error: expect.any(String) });
    expect((await npmRequest('GET', url, undefined, null)).status).toBe(401);
    expect(standIn.log.at(-1)).toMatchObject({ operation: 'npm:GetPackument', status: 401 });

    standIn.revokeTokens();
    expect((await npmRequest('GET', url)).status).toBe(401);
    token = await freshToken();
    expect((await npmRequest('GET', url)).status).toBe(200);
  });
});

describe('generic packages through PublishPackageVersion', () => {
  const base = { ...domainArgs, repository: 'npm-shared', format: 'generic' as const, namespace: 'tools', package: 'cli' };
  const publish = (version: string, asset: string, bytes: Buffer, unfinished?: boolean, sha = hex('sha256', bytes)) =>
    client.send(new PublishPackageVersionCommand({ ...base, packageVersion: version, assetName: asset, assetContent: bytes, assetSHA256: sha, unfinished }));

  it('publishes assets, keeps Unfinished until the last one, refuses other bytes and late additions', async () => {
    const a = Buffer.from('first asset');
    const b = Buffer.from('second asset');
    const first = await publish('1.0.0', 'cli-linux.tar.gz', a, true);
    expect(first).toMatchObject({ status: 'Unfinished', asset: { name: 'cli-linux.tar.gz', size: a.length, hashes: { 'SHA-256': hex('sha256', a) } } });
    const last = await publish('1.0.0', 'cli-darwin.tar.gz', b);
    expect(last.status).toBe('Published');
    expect(last.versionRevision).not.toBe(first.versionRevision);
    const assets = await client.send(new ListPackageVersionAssetsCommand({ ...base, packageVersion: '1.0.0' }));
    expect(assets.assets?.map((x) => x.name)).toEqual(['cli-linux.tar.gz', 'cli-darwin.tar.gz']);

    expect((await publish('1.0.0', 'cli-darwin.tar.gz', b)).status).toBe('Published'); // identical: accepted
    const changed = await failure(publish('1.0.0', 'cli-darwin.tar.gz', Buffer.from('other bytes')));
    expect(changed.name).toBe('ConflictException');
    expect(changed.resourceType).toBe('asset');
    const late = await failure(publish('1.0.0', 'cli-windows.zip', b));
    expect(late.name).toBe('ConflictException');
    const mismatch = await failure(publish('1.0.1', 'x.bin', a, false, hex('sha256', b)));
    expect(mismatch.name).toBe('ValidationException');
    const npmFormat = await failure(client.send(new PublishPackageVersionCommand({ ...base, format: 'npm', packageVersion: '1.0.0', assetName: 'x', assetContent: a, assetSHA256: hex('sha256', a) })));
    expect(npmFormat.name).toBe('ValidationException');
    expect(standIn.versions('npm-shared', 'generic', 'tools', 'cli').map((v) => [v.version, v.status, v.assets.length])).toEqual([['1.0.0', 'Published', 2]]);
  });

  it('honours origin configuration set before the first version', async () => {
    const blocked = { ...base, package: 'blocked' };
    const put = await client.send(new PutPackageOriginConfigurationCommand({ ...blocked, restrictions: { publish: 'BLOCK', upstream: 'ALLOW' } }));
    expect(put.originConfiguration?.restrictions).toEqual({ publish: 'BLOCK', upstream: 'ALLOW' });
    const versions = await client.send(new ListPackageVersionsCommand(blocked));
    expect(versions.versions).toEqual([]);
    const refused = await failure(client.send(new PublishPackageVersionCommand({ ...blocked, packageVersion: '1.0.0', assetName: 'a', assetContent: Buffer.from('a'), assetSHA256: hex('sha256', Buffer.from('a')) })));
    expect(refused.name).toBe('AccessDeniedException');
    const listed = await client.send(new ListPackagesCommand({ ...domainArgs, repository: 'npm-shared', publish: 'BLOCK' }));
    expect(listed.packages?.map((p) => p.package)).toEqual(['blocked']);
  });

  it('paginates with next-token', async () => {
    for (const v of ['2.0.0', '2.0.1', '2.0.2']) await publish(v, 'a.bin', Buffer.from(v));
    const seen: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await client.send(new ListPackageVersionsCommand({ ...base, maxResults: 2, nextToken }));
      expect((page.versions ?? []).length).toBeLessThanOrEqual(2);
      seen.push(...(page.versions ?? []).map((v) => v.version ?? ''));
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    expect(seen).toEqual(['1.0.0', '2.0.0', '2.0.1', '2.0.2']);
  });
});

describe('quotas', () => {
  it('throttles with 429 + Retry-After, which the SDK surfaces as ThrottlingException and honours when retrying', async () => {
    standIn.setQuotas({ publish: 1 });
    try {
      const bytes = Buffer.from('quota');
      const send = (c: CodeartifactClient, version: string) =>
        c.send(new PublishPackageVersionCommand({ ...domainArgs, repository: 'npm-shared', format: 'generic', namespace: 'q', package: 'q', packageVersion: version, assetName: 'q.bin', assetContent: bytes, assetSHA256: hex('sha256', bytes) }));
      await send(client, '1.0.0');
      const throttled = await failure(send(client, '1.0.1'));
      expect(throttled.name).toBe('ThrottlingException');
      expect(throttled.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect((throttled.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(429);

      // npm publishes draw on the same bucket.
      const npmThrottled = await publishNpm('npm-store', 'quota-pkg', '1.0.0', await makeTarball('quota-pkg', '1.0.0'));
      expect(npmThrottled.status).toBe(429);
      expect(Number(npmThrottled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(npmThrottled.json).toEqual({ error: expect.any(String) });
      expect(standIn.versions('npm-store', 'npm', undefined, 'quota-pkg')).toEqual([]);

      // A retrying client waits for Retry-After and gets through.
      const retrying = new CodeartifactClient({ region: 'us-east-1', endpoint: standIn.url, credentials, maxAttempts: 3 });
      const seqBefore = standIn.log.at(-1)?.seq ?? 0;
      await send(retrying, '1.0.1');
      retrying.destroy();
      const attempts = standIn.log.filter((e) => e.seq > seqBefore && e.operation === 'PublishPackageVersion').map((e) => e.status);
      expect(attempts.at(-1)).toBe(200);
      expect(standIn.log.filter((e) => e.status === 429).every((e) => e.errorType === 'ThrottlingException')).toBe(true);
    } finally {
      standIn.setQuotas(false);
    }
  }, 15_000);
});

describe('fault injection', () => {
  const key = { ...domainArgs, repository: 'npm-store', format: 'npm' as const, namespace: 'acme', package: 'core' };

  it('fires the first matching rule, `times` times, with its status, type and Retry-After', async () => {
    standIn.addFault({ operation: 'ListPackageVersions', package: '@acme/core', status: 500, times: 1 });
    standIn.addFault({ operation: 'GetPackageVersionAsset', status: 429, retryAfterSeconds: 7, times: 1 });
    standIn.addFault({ operation: 'DescribePackageVersion', status: 409, errorType: 'ConflictException', times: 1 });
    const ise = await failure(client.send(new ListPackageVersionsCommand(key)));
    expect(ise.name).toBe('InternalServerException');
    expect((await client.send(new ListPackageVersionsCommand(key))).versions?.length).toBe(2);
    const throttled = await failure(client.send(new GetPackageVersionAssetCommand({ ...key, packageVersion: '1.0.0', asset: 'package.tgz' })));
    expect(throttled.name).toBe('ThrottlingException');
    expect(throttled.retryAfterSeconds).toBe(7);
    expect((await failure(client.send(new DescribePackageVersionCommand({ ...key, packageVersion: '1.0.0' })))).name).toBe('ConflictException');
    standIn.clearFaults();
  });

  it('afterApply stores the publish and then answers the error (a lost response)', async () => {
    standIn.addFault({ operation: 'npm:Publish', package: '@acme/lost', version: '1.0.0', status: 502, afterApply: true, times: 1 });
    const tgz = await makeTarball('@acme/lost', '1.0.0');
    const lost = await publishNpm('npm-store', '@acme/lost', '1.0.0', tgz);
    expect(lost.status).toBe(502);
    expect(standIn.versions('npm-store', 'npm', 'acme', 'lost').map((v) => v.version)).toEqual(['1.0.0']);
    expect((await publishNpm('npm-store', '@acme/lost', '1.0.0', tgz)).status).toBe(200); // the retry is a no-op

    const bytes = Buffer.from('generic lost');
    standIn.addFault({ operation: 'PublishPackageVersion', status: 500, afterApply: true, times: 1 });
    const ref = { ...domainArgs, repository: 'npm-shared', format: 'generic' as const, namespace: 'tools', package: 'lost', packageVersion: '1.0.0' };
    const publishing = new PublishPackageVersionCommand({ ...ref, assetName: 'l.bin', assetContent: bytes, assetSHA256: hex('sha256', bytes) });
    expect((await failure(client.send(publishing))).name).toBe('InternalServerException');
    const assets = await client.send(new ListPackageVersionAssetsCommand(ref));
    expect(assets.assets?.map((a) => a.hashes?.['SHA-256'])).toEqual([hex('sha256', bytes)]);
    expect(standIn.log.filter((e) => e.status === 502 || e.status === 500).map((e) => e.operation)).toEqual(
      expect.arrayContaining(['npm:Publish', 'PublishPackageVersion']),
    );
  });
});

describe('request log and admin controls', () => {
  it('logs every request in order with its final status; admin requests are not logged', async () => {
    const seqs = standIn.log.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    const token = standIn.log.find((e) => e.operation === 'GetAuthorizationToken');
    expect(token).toMatchObject({ method: 'POST', path: '/v1/authorization-token', query: { domain: DOMAIN, 'domain-owner': OWNER }, status: 200 });
    expect(standIn.log.find((e) => e.operation === 'npm:Publish' && e.status === 409)).toMatchObject({ package: '@acme/core', namespace: 'acme', version: '1.0.0', repository: 'npm-store', format: 'npm', errorType: 'ConflictException' });

    const before = standIn.log.length;
    const admin = (await (await fetch(`${standIn.url}/__admin/log`)).json()) as unknown[];
    expect(admin.length).toBe(before);
    const config = await fetch(`${standIn.url}/__admin/config`, {
      method: 'POST',
      body: JSON.stringify({ latencyMs: 0, faults: [{ operation: 'DescribeRepository', status: 503, times: 1 }] }),
    });
    expect(config.status).toBe(200);
    const unavailable = await failure(client.send(new DescribeRepositoryCommand({ ...domainArgs, repository: 'npm-store' })));
    expect((unavailable.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(503);
    expect((await fetch(`${standIn.url}/__admin/revoke-tokens`, { method: 'POST' })).status).toBe(200);
    expect((await npmRequest('GET', `${standIn.npmEndpoint('npm-store')}${escaped('@acme/core')}`)).status).toBe(401);
    expect(standIn.log.length).toBe(before + 2);
    expect(standIn.log.some((e) => e.path.startsWith('/__admin'))).toBe(false);
  });

  it('applies latency before handling and stop() closes idle and in-flight connections', async () => {
    const other = await CodeArtifactStandIn.start({ domain: DOMAIN, domainOwner: OWNER, repositories: ['r1'], accessKeyId: ACCESS_KEY, latencyMs: 150 });
    const quick = new CodeartifactClient({ region: 'us-east-1', endpoint: other.url, credentials, maxAttempts: 1 });
    const t0 = Date.now();
    await quick.send(new DescribeRepositoryCommand({ ...domainArgs, repository: 'r1' }));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    quick.destroy();

    // One keep-alive socket left idle, one request parked in a long latency sleep.
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      http.get(`${other.url}/__admin/log`, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
    other.setLatency(60_000);
    const parked = new Promise<string>((resolve) => {
      http.get(`${other.url}/d/acme-111122223333/npm/r1/x`, (res) => resolve(String(res.statusCode))).on('error', (err) => resolve(err.message));
    });
    // parked: in the stand-in's latency sleep (a fixed 50 ms wait, on a loaded machine, could stop it before the request came)
    await expect.poll(() => (other as unknown as { sleeping: Set<unknown> }).sleeping.size).toBe(1);
    const t1 = Date.now();
    await other.stop();
    // a stop that waited for the parked request would wait for ever (its latency sleep is
    // dropped, so it is never answered): a hang check with room for a loaded machine, not a speed
    expect(Date.now() - t1).toBeLessThan(10_000);
    expect(await parked).toMatch(/socket hang up|ECONNRESET/);
    agent.destroy();
  });
});
