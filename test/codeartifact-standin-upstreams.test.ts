/**
 * The stand-in's upstreams, external connections, origin controls, package groups, STS, Service
 * Quotas and per-operation quotas, driven by the real clients: the AWS SDK v3
 * (client-codeartifact, client-sts, client-service-quotas), the npm CLI and Debian's pip. The
 * public registries are local (public-registries.ts): a Verdaccio behind a recording proxy plays
 * npmjs, a small PyPI plays pypi.org. Everything listens on 127.0.0.1 and stops in afterAll.
 * Failures are asserted by status, error type and what ends up stored or logged.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AssociateExternalConnectionCommand,
  CodeartifactClient,
  CreatePackageGroupCommand,
  CreateRepositoryCommand,
  DescribePackageCommand,
  DescribePackageGroupCommand,
  DescribeRepositoryCommand,
  GetAssociatedPackageGroupCommand,
  GetAuthorizationTokenCommand,
  GetPackageVersionAssetCommand,
  ListPackageGroupsCommand,
  ListPackagesCommand,
  ListPackageVersionAssetsCommand,
  ListPackageVersionsCommand,
  ListRepositoriesInDomainCommand,
  PublishPackageVersionCommand,
  PutPackageOriginConfigurationCommand,
  UpdatePackageGroupOriginConfigurationCommand,
  UpdateRepositoryCommand,
} from '@aws-sdk/client-codeartifact';
import { GetServiceQuotaCommand, ListAWSDefaultServiceQuotasCommand, ListServiceQuotasCommand, ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodeArtifactStandIn } from './support/codeartifact/index.js';
import { escapeName, hashTarball, makeTarball } from './support/npm-fixtures.js';
import { startPublicRegistries, type PublicRegistries } from './support/public-registries.js';
import { makeWheel } from './support/pypi-public.js';
import { SANDBOX_ACCESS_KEY, SANDBOX_DOMAIN, SANDBOX_OWNER, SANDBOX_REGION, SANDBOX_SECRET_KEY, startSandbox, type Sandbox } from './support/sandbox.js';
import { sandboxRepositoryLayout } from './support/sandbox-layout.js';

const PYTHON = '/usr/bin/python3';
const domainArgs = { domain: SANDBOX_DOMAIN, domainOwner: SANDBOX_OWNER };
const credentials = { accessKeyId: SANDBOX_ACCESS_KEY, secretAccessKey: SANDBOX_SECRET_KEY };
const EXTERNAL_NPM = { domainEntryPoint: { externalConnectionName: 'public:npmjs' }, originType: 'EXTERNAL' };
const EXTERNAL_PYPI = { domainEntryPoint: { externalConnectionName: 'public:pypi' }, originType: 'EXTERNAL' };

let tmp: string;
let publicRegs: PublicRegistries;
let sandbox: Sandbox;
let standIn: CodeArtifactStandIn;
let client: CodeartifactClient;
let token: string;

const npmRef = (repository: string, name: string) => {
  const m = /^(?:@([^/]+)\/)?(.+)$/.exec(name);
  return { ...domainArgs, repository, format: 'npm' as const, ...(m?.[1] === undefined ? {} : { namespace: m[1] }), package: m?.[2] ?? name };
};
const sri512 = (bytes: Buffer): string => `sha512-${createHash('sha512').update(bytes).digest('base64')}`;

async function failure(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (err) {
    return err as Error & Record<string, unknown>;
  }
  throw new Error('expected a failure');
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Asynchronous on purpose: the stand-in answers from this process. */
function run(cmd: string, args: string[], opts: { cwd?: string; env: NodeJS.ProcessEnv }): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

/**
 * The real npm CLI against one repository endpoint: a private userconfig, a fresh cache, no
 * npm_config_* inherited, no retries (npm retries an EINTEGRITY download for a minute otherwise).
 */
async function npm(args: string[], repo: string, cwd: string, endpoint = standIn.npmEndpoint(repo), authToken = token): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_')) env[k] = v;
  const npmrc = path.join(cwd, '.test-npmrc');
  await writeFile(npmrc, [`registry=${endpoint}`, `${endpoint.replace(/^http:/, '')}:_authToken=${authToken}`, 'update-notifier=false', 'audit=false', 'fund=false', 'fetch-retries=0'].join('\n') + '\n');
  return run('npm', [...args, '--userconfig', npmrc, '--cache', path.join(cwd, '.npm-cache'), '--loglevel', 'error'], { cwd, env });
}

/** A fresh project depending on `deps`, installed with `npm install` (or `npm ci` when a lockfile is given). */
async function npmInstall(repo: string, deps: Record<string, string>, lockfile?: unknown): Promise<RunResult & { dir: string }> {
  const dir = await mkdtemp(path.join(tmp, 'project-'));
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, dependencies: deps }));
  if (lockfile !== undefined) await writeFile(path.join(dir, 'package-lock.json'), JSON.stringify(lockfile));
  const result = await npm([lockfile === undefined ? 'install' : 'ci'], repo, dir);
  return { ...result, dir };
}

async function npmPublishFile(repo: string, name: string, version: string): Promise<RunResult> {
  const dir = await mkdtemp(path.join(tmp, 'publish-'));
  const file = path.join(dir, `${name.replace('/', '-')}-${version}.tgz`);
  await writeFile(file, await makeTarball(name, version, { extraFiles: { 'origin.txt': 'internal' } }));
  return npm(['publish', file], repo, dir);
}

/** What libnpmpublish PUTs, sent as-is: the status tells what the repository decided. */
async function npmPublishRaw(repo: string, name: string, version: string, tarball: Buffer): Promise<number> {
  const { integrity, shasum } = hashTarball(tarball);
  const body = {
    _id: name,
    name,
    'dist-tags': { latest: version },
    versions: { [version]: { name, version, _id: `${name}@${version}`, dist: { integrity, shasum, tarball: `${standIn.npmEndpoint(repo)}${name}/-/${name.split('/').pop()}-${version}.tgz` } } },
    _attachments: { [`${name}-${version}.tgz`]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } },
  };
  const res = await fetch(`${standIn.npmEndpoint(repo)}${escapeName(name)}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

/** GET on a repository endpoint with the token. */
async function endpointGet(url: string, authToken = token): Promise<{ status: number; bytes: Buffer; json: () => Record<string, unknown> }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${authToken}`, accept: 'application/json' } });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, bytes, json: () => JSON.parse(bytes.toString('utf8')) as Record<string, unknown> };
}
const packumentUrl = (repo: string, name: string, endpoint = standIn.npmEndpoint(repo)): string => `${endpoint}${escapeName(name)}`;
const tarballUrl = (repo: string, name: string, version: string, endpoint = standIn.npmEndpoint(repo)): string =>
  `${endpoint}${name}/-/${name.split('/').pop()}-${version}.tgz`;

const versionsOf = async (repository: string, name: string, c = client) =>
  (await c.send(new ListPackageVersionsCommand(npmRef(repository, name)))).versions?.map((v) => ({ version: v.version, origin: v.origin })) ?? [];
const packageNames = async (repository: string, c = client) =>
  ((await c.send(new ListPackagesCommand({ ...domainArgs, repository, maxResults: 1000 }))).packages ?? []).map((p) => (p.namespace === undefined ? p.package : `@${p.namespace}/${p.package}`));
const publicRequestsFor = (name: string): number => publicRegs.npm.log.filter((e) => e.path.startsWith(`/${escapeName(name)}`) || e.path.startsWith(`/${name}/`)).length;

/** `pip download` through a repository: isolated from any pip configuration, no cache. */
async function pipDownload(repo: string, spec: string): Promise<RunResult & { dir: string }> {
  const dir = await mkdtemp(path.join(tmp, 'pip-'));
  const env = { PATH: '/usr/bin:/bin', HOME: path.join(tmp, 'home'), LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1', PYTHON_KEYRING_BACKEND: 'keyring.backends.null.Keyring' };
  const args = ['-m', 'pip', 'download', '--isolated', '--no-cache-dir', '--disable-pip-version-check', '--no-input', '--no-deps'];
  const result = await run(PYTHON, [...args, '--index-url', standIn.pypiIndexUrl(repo, token), spec, '-d', dir], { env });
  return { ...result, dir };
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'ca-upstreams-'));
  await mkdir(path.join(tmp, 'home'));
  publicRegs = await startPublicRegistries({ dir: path.join(tmp, 'public') });
  sandbox = await startSandbox({
    dir: path.join(tmp, 'sandbox'),
    standIn: { quotas: false, repositories: sandboxRepositoryLayout(), externalConnections: publicRegs.externalConnections },
  });
  standIn = sandbox.standIn;
  client = new CodeartifactClient({ region: SANDBOX_REGION, endpoint: standIn.url, credentials, maxAttempts: 1 });
  token = (await client.send(new GetAuthorizationTokenCommand(domainArgs))).authorizationToken ?? '';
}, 120_000);

afterAll(async () => {
  client?.destroy();
  await sandbox?.stop();
  await publicRegs?.stop();
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
});

describe('the domain layout', () => {
  it('DescribeRepository and ListRepositoriesInDomain show internal, store with its external connection, shared listing internal then store', async () => {
    const listed = await client.send(new ListRepositoriesInDomainCommand(domainArgs));
    expect(listed.repositories?.map((r) => r.name)).toEqual(['go-internal', 'npm-internal', 'npm-shared', 'npm-store', 'pypi-internal', 'pypi-shared', 'pypi-store']);
    expect(listed.repositories?.[0]).toMatchObject({ domainName: SANDBOX_DOMAIN, domainOwner: SANDBOX_OWNER, administratorAccount: SANDBOX_OWNER });
    expect(listed.repositories?.[0]?.createdTime).toBeInstanceOf(Date);
    const page = await client.send(new ListRepositoriesInDomainCommand({ ...domainArgs, repositoryPrefix: 'npm', maxResults: 2 }));
    expect(page.repositories?.map((r) => r.name)).toEqual(['npm-internal', 'npm-shared']);
    const rest = await client.send(new ListRepositoriesInDomainCommand({ ...domainArgs, repositoryPrefix: 'npm', maxResults: 2, nextToken: page.nextToken }));
    expect(rest.repositories?.map((r) => r.name)).toEqual(['npm-store']);

    const describe = async (repository: string) => (await client.send(new DescribeRepositoryCommand({ ...domainArgs, repository }))).repository;
    for (const [format, connection] of [['npm', 'public:npmjs'], ['pypi', 'public:pypi']] as const) {
      expect(await describe(`${format}-internal`)).toMatchObject({ upstreams: [], externalConnections: [] });
      expect(await describe(`${format}-store`)).toMatchObject({ upstreams: [], externalConnections: [{ externalConnectionName: connection, packageFormat: format, status: 'Available' }] });
      expect(await describe(`${format}-shared`)).toMatchObject({
        upstreams: [{ repositoryName: `${format}-internal` }, { repositoryName: `${format}-store` }],
        externalConnections: [],
      });
    }
    expect(await describe('go-internal')).toMatchObject({ upstreams: [], externalConnections: [] });
  });

  it('a layout built wrong shows in the API, behaves wrong, and is fixed with AssociateExternalConnection and UpdateRepository', async () => {
    const wrong = await CodeArtifactStandIn.start({
      ...domainArgs,
      region: SANDBOX_REGION,
      accessKeyId: SANDBOX_ACCESS_KEY,
      quotas: false,
      repositories: sandboxRepositoryLayout({ storeWithoutConnection: true, sharedListsStoreFirst: true }),
      externalConnections: publicRegs.externalConnections,
    });
    const wc = new CodeartifactClient({ region: SANDBOX_REGION, endpoint: wrong.url, credentials, maxAttempts: 1 });
    try {
      const wtoken = (await wc.send(new GetAuthorizationTokenCommand(domainArgs))).authorizationToken ?? '';
      const store = (await wc.send(new DescribeRepositoryCommand({ ...domainArgs, repository: 'npm-store' }))).repository;
      expect(store?.externalConnections).toEqual([]);
      const shared = (await wc.send(new DescribeRepositoryCommand({ ...domainArgs, repository: 'npm-shared' }))).repository;
      expect(shared?.upstreams).toEqual([{ repositoryName: 'npm-store' }, { repositoryName: 'npm-internal' }]);

      await publicRegs.npm.publish('layout-demo', '2.0.0', { extraFiles: { 'origin.txt': 'public' } });
      const internal = await makeTarball('layout-demo', '2.0.0', { extraFiles: { 'origin.txt': 'internal' } });
      const shadow = await makeTarball('layout-shadow', '1.0.0', { extraFiles: { 'origin.txt': 'internal' } });
      const published = await publicRegs.npm.publish('layout-shadow', '1.0.0', { extraFiles: { 'origin.txt': 'public' } });
      for (const [name, version, tgz] of [['layout-demo', '2.0.0', internal], ['layout-shadow', '1.0.0', shadow]] as const) {
        const { integrity, shasum } = hashTarball(tgz);
        const body = {
          name,
          versions: { [version]: { name, version, dist: { integrity, shasum } } },
          'dist-tags': { latest: version },
          _attachments: { [`${name}-${version}.tgz`]: { data: tgz.toString('base64'), length: tgz.length } },
        };
        const res = await fetch(`${wrong.npmEndpoint('npm-internal')}${name}`, { method: 'PUT', headers: { authorization: `Bearer ${wtoken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
        expect(res.status).toBe(200);
      }
      // No connection: nothing public through the store.
      expect((await endpointGet(packumentUrl('npm-store', 'layout-shadow', wrong.npmEndpoint('npm-store')), wtoken)).status).toBe(404);
      const associated = await wc.send(new AssociateExternalConnectionCommand({ ...domainArgs, repository: 'npm-store', externalConnection: 'public:npmjs' }));
      expect(associated.repository?.externalConnections).toEqual([{ externalConnectionName: 'public:npmjs', packageFormat: 'npm', status: 'Available' }]);
      // Store before internal: the public bytes shadow the internal version, and shared keeps them.
      const shadowed = await endpointGet(tarballUrl('npm-shared', 'layout-shadow', '1.0.0', wrong.npmEndpoint('npm-shared')), wtoken);
      expect(shadowed.status).toBe(200);
      expect(shadowed.bytes).toEqual(published.tarball);
      expect(await versionsOf('npm-shared', 'layout-shadow', wc)).toEqual([{ version: '1.0.0', origin: EXTERNAL_NPM }]);

      const fixed = await wc.send(new UpdateRepositoryCommand({ ...domainArgs, repository: 'npm-shared', upstreams: [{ repositoryName: 'npm-internal' }, { repositoryName: 'npm-store' }] }));
      expect(fixed.repository?.upstreams).toEqual([{ repositoryName: 'npm-internal' }, { repositoryName: 'npm-store' }]);
      const own = await endpointGet(tarballUrl('npm-shared', 'layout-demo', '2.0.0', wrong.npmEndpoint('npm-shared')), wtoken);
      expect(own.bytes).toEqual(internal);
      expect(await versionsOf('npm-shared', 'layout-demo', wc)).toEqual([{ version: '2.0.0', origin: { domainEntryPoint: { repositoryName: 'npm-internal' }, originType: 'INTERNAL' } }]);

      // What the service refuses.
      const again = await failure(wc.send(new AssociateExternalConnectionCommand({ ...domainArgs, repository: 'npm-store', externalConnection: 'public:npmjs' })));
      expect(again.name).toBe('ConflictException');
      const second = await failure(wc.send(new AssociateExternalConnectionCommand({ ...domainArgs, repository: 'npm-store', externalConnection: 'public:pypi' })));
      expect(second.name).toBe('ValidationException');
      const unknown = await failure(wc.send(new AssociateExternalConnectionCommand({ ...domainArgs, repository: 'pypi-store', externalConnection: 'public:nope' })));
      expect(unknown.name).toBe('ValidationException');
      const cycle = await failure(wc.send(new UpdateRepositoryCommand({ ...domainArgs, repository: 'npm-internal', upstreams: [{ repositoryName: 'npm-shared' }] })));
      expect(cycle.name).toBe('ValidationException');
      const exists = await failure(wc.send(new CreateRepositoryCommand({ ...domainArgs, repository: 'npm-shared' })));
      expect(exists.name).toBe('ConflictException');
      expect(exists.resourceType).toBe('repository');
      const missing = await failure(wc.send(new CreateRepositoryCommand({ ...domainArgs, repository: 'team-shared', upstreams: [{ repositoryName: 'nope' }] })));
      expect(missing.name).toBe('ResourceNotFoundException');
      const created = await wc.send(new CreateRepositoryCommand({ ...domainArgs, repository: 'team-shared', description: 'a team', upstreams: [{ repositoryName: 'npm-shared' }] }));
      expect(created.repository).toMatchObject({ name: 'team-shared', description: 'a team', upstreams: [{ repositoryName: 'npm-shared' }], externalConnections: [] });
      // Two levels down: retained in team-shared, not in npm-shared (an intermediate).
      const deep = await endpointGet(tarballUrl('team-shared', 'layout-demo', '2.0.0', wrong.npmEndpoint('team-shared')), wtoken);
      expect(deep.bytes).toEqual(internal);
      expect(await versionsOf('team-shared', 'layout-demo', wc)).toHaveLength(1);
    } finally {
      wc.destroy();
      await wrong.stop();
    }
  }, 60_000);
});

describe('npm through npm-shared', () => {
  it('npm install of a public package caches it in store and shared (origin EXTERNAL); a second install asks the public registry nothing', async () => {
    await publicRegs.npm.publish('left-pad-demo', '1.0.0');
    const latest = await publicRegs.npm.publish('left-pad-demo', '1.1.0');
    const first = await npmInstall('npm-shared', { 'left-pad-demo': '^1.0.0' });
    expect(first.code, first.stderr).toBe(0);
    const installed = JSON.parse(await readFile(path.join(first.dir, 'node_modules', 'left-pad-demo', 'package.json'), 'utf8')) as { version: string };
    expect(installed.version).toBe('1.1.0');
    const lock = JSON.parse(await readFile(path.join(first.dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved: string; integrity: string }> };
    expect(lock.packages['node_modules/left-pad-demo']).toMatchObject({ resolved: tarballUrl('npm-shared', 'left-pad-demo', '1.1.0'), integrity: latest.integrity });

    for (const repository of ['npm-store', 'npm-shared']) {
      expect(await versionsOf(repository, 'left-pad-demo')).toEqual([{ version: '1.1.0', origin: EXTERNAL_NPM }]);
      const external = await client.send(new ListPackageVersionsCommand({ ...npmRef(repository, 'left-pad-demo'), originType: 'EXTERNAL' }));
      expect(external.versions).toHaveLength(1);
      const internalOnly = await client.send(new ListPackageVersionsCommand({ ...npmRef(repository, 'left-pad-demo'), originType: 'INTERNAL' }));
      expect(internalOnly.versions).toEqual([]);
      const asset = await client.send(new GetPackageVersionAssetCommand({ ...npmRef(repository, 'left-pad-demo'), packageVersion: '1.1.0', asset: 'package.tgz' }));
      expect(Buffer.from((await asset.asset?.transformToByteArray()) ?? [])).toEqual(latest.tarball);
    }
    expect(await packageNames('npm-internal')).not.toContain('left-pad-demo');
    const tarballEntry = standIn.log.find((e) => e.operation === 'npm:GetTarball' && e.package === 'left-pad-demo' && e.repository === 'npm-shared');
    expect(tarballEntry?.upstreamRequests).toEqual([expect.stringMatching(/^GET http:\/\/127\.0\.0\.1:\d+\/left-pad-demo\/-\/left-pad-demo-1\.1\.0\.tgz 200$/)]);

    const publicBefore = publicRequestsFor('left-pad-demo');
    const seqBefore = standIn.log.at(-1)?.seq ?? 0;
    const second = await npmInstall('npm-shared', { 'left-pad-demo': '1.1.0' });
    expect(second.code, second.stderr).toBe(0);
    expect(publicRequestsFor('left-pad-demo')).toBe(publicBefore);
    const secondRequests = standIn.log.filter((e) => e.seq > seqBefore);
    expect(secondRequests.map((e) => [e.operation, e.status])).toEqual(expect.arrayContaining([['npm:GetTarball', 200]]));
    expect(secondRequests.every((e) => e.upstreamRequests === undefined)).toBe(true);
  }, 60_000);

  it('searches internal before store: an internal version shadows a public one with the same number, until the store blocks the name', async () => {
    await publicRegs.npm.publish('shadowed-name', '1.0.0', { extraFiles: { 'origin.txt': 'public' } });
    await publicRegs.npm.publish('shadowed-name', '1.1.0', { extraFiles: { 'origin.txt': 'public' } });
    const internal = await npmPublishFile('npm-internal', 'shadowed-name', '1.0.0');
    expect(internal.code, internal.stderr).toBe(0);

    const installed = await npmInstall('npm-shared', { 'shadowed-name': '1.0.0' });
    expect(installed.code, installed.stderr).toBe(0);
    expect(await readFile(path.join(installed.dir, 'node_modules', 'shadowed-name', 'origin.txt'), 'utf8')).toBe('internal');
    expect(await versionsOf('npm-shared', 'shadowed-name')).toEqual([{ version: '1.0.0', origin: { domainEntryPoint: { repositoryName: 'npm-internal' }, originType: 'INTERNAL' } }]);
    // Retained from internal: shared's package gets the defaults of a package that came from upstream.
    const sharedPkg = await client.send(new DescribePackageCommand(npmRef('npm-shared', 'shadowed-name')));
    expect(sharedPkg.package?.originConfiguration?.restrictions).toEqual({ publish: 'BLOCK', upstream: 'ALLOW' });
    expect(await packageNames('npm-store')).not.toContain('shadowed-name');

    // The packument merges what internal has with what the store reaches: the public 1.1.0 is there.
    const merged = await endpointGet(packumentUrl('npm-shared', 'shadowed-name'));
    expect(Object.keys(merged.json()['versions'] as object).sort()).toEqual(['1.0.0', '1.1.0']);
    // Hardening: the store may not ingest the name any more.
    await client.send(new PutPackageOriginConfigurationCommand({ ...npmRef('npm-store', 'shadowed-name'), restrictions: { publish: 'ALLOW', upstream: 'BLOCK' } }));
    const hardened = await endpointGet(packumentUrl('npm-shared', 'shadowed-name'));
    expect(Object.keys(hardened.json()['versions'] as object)).toEqual(['1.0.0']);
    expect((await endpointGet(tarballUrl('npm-shared', 'shadowed-name', '1.1.0'))).status).toBe(404);
  }, 60_000);

  it('upstream BLOCK on a package stops the fetch-through: 404, and the public registry is not asked', async () => {
    await publicRegs.npm.publish('upstream-blocked', '1.0.0');
    await client.send(new PutPackageOriginConfigurationCommand({ ...npmRef('npm-shared', 'upstream-blocked'), restrictions: { publish: 'ALLOW', upstream: 'BLOCK' } }));
    const before = publicRequestsFor('upstream-blocked');
    const refused = await npmInstall('npm-shared', { 'upstream-blocked': '1.0.0' });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/E404/);
    expect(publicRequestsFor('upstream-blocked')).toBe(before);
    const viaShared = standIn.log.filter((e) => e.package === 'upstream-blocked' && e.repository === 'npm-shared' && e.operation.startsWith('npm:'));
    expect(viaShared.map((e) => [e.operation, e.status])).toEqual([['npm:GetPackument', 404]]);
    expect((await endpointGet(tarballUrl('npm-shared', 'upstream-blocked', '1.0.0'))).status).toBe(404);

    // The store has no such setting: through it the package comes.
    expect((await endpointGet(packumentUrl('npm-store', 'upstream-blocked'))).status).toBe(200);
    await client.send(new PutPackageOriginConfigurationCommand({ ...npmRef('npm-store', 'upstream-blocked'), restrictions: { publish: 'BLOCK', upstream: 'BLOCK' } }));
    expect((await endpointGet(packumentUrl('npm-store', 'upstream-blocked'))).status).toBe(404);
    expect((await endpointGet(tarballUrl('npm-store', 'upstream-blocked', '1.0.0'))).status).toBe(404);
    expect(await versionsOf('npm-store', 'upstream-blocked')).toEqual([]);
  }, 60_000);

  it('a package group blocking external upstreams for @acme/* stops public @acme packages, not internal ones', async () => {
    await publicRegs.npm.publish('@acme/public-thing', '1.0.0');
    const core = await npmPublishFile('npm-internal', '@acme/core', '3.0.0');
    expect(core.code, core.stderr).toBe(0);
    const associated = (name: string, namespace?: string) =>
      client.send(new GetAssociatedPackageGroupCommand({ ...domainArgs, format: 'npm', ...(namespace === undefined ? {} : { namespace }), package: name }));
    expect((await associated('public-thing', 'acme')).packageGroup?.pattern).toBe('/*');

    const created = await client.send(new CreatePackageGroupCommand({ ...domainArgs, packageGroup: '/npm/acme/*', description: 'our scope' }));
    expect(created.packageGroup).toMatchObject({ pattern: '/npm/acme/*', description: 'our scope', parent: { pattern: '/*' }, domainName: SANDBOX_DOMAIN });
    const updated = await client.send(new UpdatePackageGroupOriginConfigurationCommand({ ...domainArgs, packageGroup: '/npm/acme/*', restrictions: { EXTERNAL_UPSTREAM: 'BLOCK' } }));
    expect(updated.packageGroup?.originConfiguration?.restrictions).toMatchObject({
      EXTERNAL_UPSTREAM: { mode: 'BLOCK', effectiveMode: 'BLOCK', repositoriesCount: 0 },
      PUBLISH: { mode: 'INHERIT', effectiveMode: 'ALLOW', inheritedFrom: { pattern: '/*' } },
      INTERNAL_UPSTREAM: { mode: 'INHERIT', effectiveMode: 'ALLOW' },
    });
    expect(await associated('public-thing', 'acme')).toMatchObject({ packageGroup: { pattern: '/npm/acme/*' }, associationType: 'STRONG' });
    expect((await associated('left-pad-demo')).packageGroup?.pattern).toBe('/*');
    expect((await client.send(new ListPackageGroupsCommand(domainArgs))).packageGroups?.map((g) => g.pattern)).toEqual(['/*', '/npm/acme/*']);
    expect((await client.send(new DescribePackageGroupCommand({ ...domainArgs, packageGroup: '/npm/acme/*' }))).packageGroup?.arn).toBe(
      `arn:aws:codeartifact:${SANDBOX_REGION}:${SANDBOX_OWNER}:package-group/${SANDBOX_DOMAIN}/npm/acme/*`,
    );
    expect((await failure(client.send(new CreatePackageGroupCommand({ ...domainArgs, packageGroup: '/npm/acme/*' })))).name).toBe('ConflictException');
    expect((await failure(client.send(new CreatePackageGroupCommand({ ...domainArgs, packageGroup: '/npm/acme' })))).name).toBe('ValidationException');
    expect((await failure(client.send(new DescribePackageGroupCommand({ ...domainArgs, packageGroup: '/npm/other/*' })))).name).toBe('ResourceNotFoundException');

    const before = publicRequestsFor('@acme/public-thing');
    const blocked = await npmInstall('npm-shared', { '@acme/public-thing': '1.0.0' });
    expect(blocked.code).not.toBe(0);
    expect((await endpointGet(packumentUrl('npm-store', '@acme/public-thing'))).status).toBe(404);
    expect(publicRequestsFor('@acme/public-thing')).toBe(before);
    const internal = await npmInstall('npm-shared', { '@acme/core': '3.0.0' });
    expect(internal.code, internal.stderr).toBe(0);
    expect(await versionsOf('npm-shared', '@acme/core')).toEqual([{ version: '3.0.0', origin: { domainEntryPoint: { repositoryName: 'npm-internal' }, originType: 'INTERNAL' } }]);

    // The package says ALLOW, the group BLOCK: the default (strictest) blocks; `package` lets the package's win.
    await client.send(new PutPackageOriginConfigurationCommand({ ...npmRef('npm-store', '@acme/public-thing'), restrictions: { publish: 'BLOCK', upstream: 'ALLOW' } }));
    expect((await endpointGet(packumentUrl('npm-store', '@acme/public-thing'))).status).toBe(404);
    standIn.setOriginPrecedence('package');
    try {
      expect((await endpointGet(packumentUrl('npm-store', '@acme/public-thing'))).status).toBe(200);
    } finally {
      standIn.setOriginPrecedence('strictest');
    }
    // ALLOW_SPECIFIC_REPOSITORIES: only the listed repositories may ingest.
    const specific = await client.send(
      new UpdatePackageGroupOriginConfigurationCommand({
        ...domainArgs,
        packageGroup: '/npm/acme/*',
        restrictions: { EXTERNAL_UPSTREAM: 'ALLOW_SPECIFIC_REPOSITORIES' },
        addAllowedRepositories: [{ repositoryName: 'npm-store', originRestrictionType: 'EXTERNAL_UPSTREAM' }],
      }),
    );
    expect(specific.allowedRepositoryUpdates).toEqual({ EXTERNAL_UPSTREAM: { ADDED: ['npm-store'] } });
    expect(specific.packageGroup?.originConfiguration?.restrictions?.['EXTERNAL_UPSTREAM']).toMatchObject({ mode: 'ALLOW_SPECIFIC_REPOSITORIES', repositoriesCount: 1 });
    const allowed = await endpointGet(tarballUrl('npm-shared', '@acme/public-thing', '1.0.0'));
    expect(allowed.status).toBe(200);
    expect(await versionsOf('npm-store', '@acme/public-thing')).toEqual([{ version: '1.0.0', origin: EXTERNAL_NPM }]);
  }, 90_000);

  it('publish BLOCK refuses a publish: an ingested package by default, an internal name when set; a version upstream is a 409', async () => {
    await publicRegs.npm.publish('ingested-pkg', '1.0.0');
    expect((await endpointGet(tarballUrl('npm-store', 'ingested-pkg', '1.0.0'))).status).toBe(200);
    const described = await client.send(new DescribePackageCommand(npmRef('npm-store', 'ingested-pkg')));
    expect(described.package?.originConfiguration?.restrictions).toEqual({ publish: 'BLOCK', upstream: 'ALLOW' });
    const refused = await npmPublishFile('npm-store', 'ingested-pkg', '2.0.0');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/E403/);
    expect(standIn.log.filter((e) => e.operation === 'npm:Publish' && e.package === 'ingested-pkg').map((e) => [e.status, e.errorType])).toEqual([[403, 'AccessDeniedException']]);
    expect(await versionsOf('npm-store', 'ingested-pkg')).toEqual([{ version: '1.0.0', origin: EXTERNAL_NPM }]);

    const fresh = await npmPublishFile('npm-internal', 'fresh-internal', '1.0.0');
    expect(fresh.code, fresh.stderr).toBe(0);
    expect((await client.send(new DescribePackageCommand(npmRef('npm-internal', 'fresh-internal')))).package?.originConfiguration?.restrictions).toEqual({ publish: 'ALLOW', upstream: 'BLOCK' });
    await client.send(new PutPackageOriginConfigurationCommand({ ...npmRef('npm-internal', 'locked-internal'), restrictions: { publish: 'BLOCK', upstream: 'BLOCK' } }));
    const locked = await npmPublishFile('npm-internal', 'locked-internal', '1.0.0');
    expect(locked.code).not.toBe(0);
    expect(await versionsOf('npm-internal', 'locked-internal')).toEqual([]);

    // With upstream ALLOW, a version the repository reaches upstream cannot be published over.
    const upstreamVersion = await publicRegs.npm.publish('conflict-demo', '1.0.0');
    await client.send(new PutPackageOriginConfigurationCommand({ ...npmRef('npm-shared', 'conflict-demo'), restrictions: { publish: 'ALLOW', upstream: 'ALLOW' } }));
    const other = await makeTarball('conflict-demo', '1.0.0', { extraFiles: { 'origin.txt': 'internal' } });
    expect(other).not.toEqual(upstreamVersion.tarball);
    expect(await npmPublishRaw('npm-shared', 'conflict-demo', '1.0.0', other)).toBe(409);
    expect(await npmPublishRaw('npm-shared', 'conflict-demo', '1.0.1', await makeTarball('conflict-demo', '1.0.1'))).toBe(200);
  }, 90_000);

  it('ingests asynchronously when asked: the client gets the tarball at once, ListPackageVersions shows it later', async () => {
    const pub = await publicRegs.npm.publish('delayed-pkg', '1.0.0');
    // 3 s, not 0.3: the listing below must come before it, also on a loaded machine
    standIn.setIngestionDelay(3000);
    try {
      const got = await endpointGet(tarballUrl('npm-shared', 'delayed-pkg', '1.0.0'));
      expect(got.bytes).toEqual(pub.tarball);
      expect((await failure(client.send(new ListPackageVersionsCommand(npmRef('npm-store', 'delayed-pkg'))))).name).toBe('ResourceNotFoundException');
      await standIn.whenIngested();
      expect(await versionsOf('npm-store', 'delayed-pkg')).toEqual([{ version: '1.0.0', origin: EXTERNAL_NPM }]);
      expect(await versionsOf('npm-shared', 'delayed-pkg')).toEqual([{ version: '1.0.0', origin: EXTERNAL_NPM }]);
    } finally {
      standIn.setIngestionDelay(0);
    }
  });
});

describe('a public registry misbehaving', () => {
  it('a package the public registry refuses is 404 through the store', async () => {
    await publicRegs.npm.publish('blocked-pkg', '1.0.0');
    publicRegs.npm.block('blocked-pkg');
    expect((await endpointGet(packumentUrl('npm-store', 'blocked-pkg'))).status).toBe(404);
    expect((await endpointGet(tarballUrl('npm-store', 'blocked-pkg', '1.0.0'))).status).toBe(404);
    const entry = standIn.log.findLast((e) => e.package === 'blocked-pkg' && e.operation === 'npm:GetTarball');
    expect(entry).toMatchObject({ status: 404, upstreamRequests: [expect.stringMatching(/blocked-pkg 404$/)] });
    const install = await npmInstall('npm-store', { 'blocked-pkg': '1.0.0' });
    expect(install.code).not.toBe(0);
    expect(install.stderr).toMatch(/E404/);
    expect(await packageNames('npm-store')).not.toContain('blocked-pkg');
  }, 60_000);

  it('a tampered public tarball is served with its other bytes; npm ci with the lockfile refuses it (EINTEGRITY)', async () => {
    const original = await publicRegs.npm.publish('tampered-pkg', '1.0.0');
    const other = publicRegs.npm.tamper('tampered-pkg', '1.0.0');
    const lockfile = {
      name: 'consumer',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'consumer', version: '1.0.0', dependencies: { 'tampered-pkg': '1.0.0' } },
        'node_modules/tampered-pkg': { version: '1.0.0', resolved: tarballUrl('npm-shared', 'tampered-pkg', '1.0.0'), integrity: original.integrity },
      },
    };
    const ci = await npmInstall('npm-shared', { 'tampered-pkg': '1.0.0' }, lockfile);
    expect(ci.code).not.toBe(0);
    expect(ci.stderr).toMatch(/EINTEGRITY/);
    const served = await endpointGet(tarballUrl('npm-shared', 'tampered-pkg', '1.0.0'));
    expect(served.bytes).toEqual(other);
    expect(sri512(served.bytes)).not.toBe(original.integrity);
    // What the store ingested is what it got; its hashes describe those bytes, not the packument's.
    const stored = await client.send(new ListPackageVersionAssetsCommand({ ...npmRef('npm-store', 'tampered-pkg'), packageVersion: '1.0.0' }));
    expect(stored.assets?.[0]?.hashes?.['SHA-512']).toBe(createHash('sha512').update(other).digest('hex'));
  }, 60_000);
});

describe('pip through pypi-shared', () => {
  it('pip downloads a public wheel through pypi-shared: cached in store and shared with origin EXTERNAL; a second download asks pypi nothing', async () => {
    const wheel = await makeWheel('Public_Py', '1.0.0');
    publicRegs.pypi.addFile('Public_Py', wheel.filename, wheel.bytes, { requiresPython: '>=3.7' });
    const first = await pipDownload('pypi-shared', 'Public.Py==1.0.0');
    expect(first.code, first.stderr).toBe(0);
    expect(await readFile(path.join(first.dir, wheel.filename))).toEqual(wheel.bytes);
    for (const repository of ['pypi-store', 'pypi-shared']) {
      const listed = await client.send(new ListPackageVersionsCommand({ ...domainArgs, repository, format: 'pypi', package: 'public-py' }));
      expect(listed.versions?.map((v) => ({ version: v.version, origin: v.origin }))).toEqual([{ version: '1.0.0', origin: EXTERNAL_PYPI }]);
      const assets = await client.send(new ListPackageVersionAssetsCommand({ ...domainArgs, repository, format: 'pypi', package: 'public-py', packageVersion: '1.0.0' }));
      expect(assets.assets?.map((a) => a.name)).toEqual([wheel.filename]);
    }
    const publicBefore = publicRegs.pypi.log.length;
    const second = await pipDownload('pypi-shared', 'public-py==1.0.0');
    expect(second.code, second.stderr).toBe(0);
    expect(await readFile(path.join(second.dir, wheel.filename))).toEqual(wheel.bytes);
    expect(publicRegs.pypi.log.length).toBe(publicBefore);
  }, 60_000);

  it('upstream BLOCK on a project and a project the public index refuses are 404 for pip', async () => {
    for (const project of ['py-blocked', 'py-refused']) {
      const wheel = await makeWheel(project, '1.0.0');
      publicRegs.pypi.addFile(project, wheel.filename, wheel.bytes);
    }
    await client.send(new PutPackageOriginConfigurationCommand({ ...domainArgs, repository: 'pypi-shared', format: 'pypi', package: 'py-blocked', restrictions: { publish: 'ALLOW', upstream: 'BLOCK' } }));
    const blocked = await pipDownload('pypi-shared', 'py-blocked==1.0.0');
    expect(blocked.code).not.toBe(0);
    expect(standIn.log.filter((e) => e.package === 'py-blocked' && e.operation.startsWith('pypi:')).map((e) => [e.operation, e.status])).toEqual([['pypi:SimpleIndex', 404]]);
    expect(publicRegs.pypi.log.some((e) => e.path.includes('py-blocked'))).toBe(false);

    publicRegs.pypi.block('py-refused');
    const refused = await pipDownload('pypi-store', 'py-refused==1.0.0');
    expect(refused.code).not.toBe(0);
    expect(standIn.log.filter((e) => e.package === 'py-refused').map((e) => [e.operation, e.status])).toEqual([['pypi:SimpleIndex', 404]]);
    expect(publicRegs.pypi.log.filter((e) => e.path.includes('py-refused')).map((e) => e.status)).toEqual([404]);
  }, 60_000);
});

describe('STS and Service Quotas on the same port', () => {
  it('GetCallerIdentity answers the account and ARN of the access key, also via AWS_ENDPOINT_URL_STS; an unknown key is InvalidClientTokenId', async () => {
    const sts = new STSClient({ region: SANDBOX_REGION, endpoint: standIn.url, credentials, maxAttempts: 1 });
    try {
      const id = await sts.send(new GetCallerIdentityCommand({}));
      expect(id.Account).toBe(SANDBOX_OWNER);
      expect(id.Arn).toBe(`arn:aws:iam::${SANDBOX_OWNER}:user/codeartifact-migrate`);
      expect(id.UserId).toMatch(/^AIDA[A-Z2-7]{17}$/);
      expect(standIn.log.at(-1)).toMatchObject({ operation: 'sts:GetCallerIdentity', status: 200, method: 'POST', path: '/' });
    } finally {
      sts.destroy();
    }
    process.env['AWS_ENDPOINT_URL_STS'] = standIn.url;
    const viaEnv = new STSClient({ region: SANDBOX_REGION, credentials, maxAttempts: 1 });
    try {
      expect((await viaEnv.send(new GetCallerIdentityCommand({}))).Account).toBe(SANDBOX_OWNER);
    } finally {
      delete process.env['AWS_ENDPOINT_URL_STS'];
      viaEnv.destroy();
    }
    const stranger = new STSClient({ region: SANDBOX_REGION, endpoint: standIn.url, credentials: { accessKeyId: 'OTHERKEY', secretAccessKey: 'x' }, maxAttempts: 1 });
    try {
      const denied = await failure(stranger.send(new GetCallerIdentityCommand({})));
      expect(denied.name).toBe('InvalidClientTokenId');
      expect((denied.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(403);
    } finally {
      stranger.destroy();
    }
  });

  it('ListServiceQuotas and GetServiceQuota report the applied values under the real codes; AccessDeniedException when the principal may not read them', async () => {
    const sq = new ServiceQuotasClient({ region: SANDBOX_REGION, endpoint: standIn.url, credentials, maxAttempts: 1 });
    standIn.setQuotas({ listVersions: 150, publish: 7 });
    try {
      const all: { QuotaCode?: string; QuotaName?: string; Value?: number }[] = [];
      let NextToken: string | undefined;
      do {
        const page = await sq.send(new ListServiceQuotasCommand({ ServiceCode: 'codeartifact', MaxResults: 5, NextToken }));
        expect((page.Quotas ?? []).length).toBeLessThanOrEqual(5);
        all.push(...(page.Quotas ?? []));
        NextToken = page.NextToken;
      } while (NextToken !== undefined);
      const byCode = new Map(all.map((q) => [q.QuotaCode, q]));
      expect(byCode.size).toBe(all.length);
      expect(byCode.get('L-CBBCDF5C')).toMatchObject({ QuotaName: 'ListPackageVersions requests per second', Value: 150 });
      expect(byCode.get('L-6010CAF9')).toMatchObject({ QuotaName: 'ListPackages requests per second', Value: 200 });
      expect(byCode.get('L-3072382D')).toMatchObject({ QuotaName: 'ListPackageVersionAssets requests per second', Value: 200 });
      expect(byCode.get('L-3E27C79F')).toMatchObject({ QuotaName: 'PublishPackageVersion requests per second', Value: 7, Adjustable: true, Period: { PeriodValue: 1, PeriodUnit: 'SECOND' } });
      expect(byCode.get('L-6C12FB34')).toMatchObject({ QuotaName: 'GetPackageVersionAsset requests per second', Value: 50 });
      expect(byCode.get('L-F39CF68A')).toMatchObject({ QuotaName: 'Read requests per second from a single AWS account', Value: 800 });
      expect(byCode.get('L-A649E766')).toMatchObject({ QuotaName: 'Write requests per second from a single AWS account', Value: 100 });
      expect(byCode.get('L-0B362111')).toMatchObject({ QuotaName: 'GetAuthorizationToken requests per second', Value: 40 });
      expect(byCode.get('L-5B2BD2E1')).toMatchObject({ QuotaName: 'Assets per package version', Value: 150, Adjustable: false });

      const one = await sq.send(new GetServiceQuotaCommand({ ServiceCode: 'codeartifact', QuotaCode: 'L-3E27C79F' }));
      expect(one.Quota).toMatchObject({ ServiceCode: 'codeartifact', QuotaCode: 'L-3E27C79F', Value: 7, QuotaArn: `arn:aws:servicequotas:${SANDBOX_REGION}:${SANDBOX_OWNER}:codeartifact/L-3E27C79F` });
      const defaults = await sq.send(new ListAWSDefaultServiceQuotasCommand({ ServiceCode: 'codeartifact' }));
      expect(defaults.Quotas?.find((q) => q.QuotaCode === 'L-3E27C79F')?.Value).toBe(10);
      expect((await failure(sq.send(new GetServiceQuotaCommand({ ServiceCode: 'codeartifact', QuotaCode: 'L-00000000' })))).name).toBe('NoSuchResourceException');
      expect((await failure(sq.send(new ListServiceQuotasCommand({ ServiceCode: 'ec2' })))).name).toBe('NoSuchResourceException');

      standIn.setServiceQuotasReadable(false);
      const denied = await failure(sq.send(new ListServiceQuotasCommand({ ServiceCode: 'codeartifact' })));
      expect(denied.name).toBe('AccessDeniedException');
      expect((await failure(sq.send(new GetServiceQuotaCommand({ ServiceCode: 'codeartifact', QuotaCode: 'L-3E27C79F' })))).name).toBe('AccessDeniedException');
      expect(standIn.log.at(-1)).toMatchObject({ operation: 'servicequotas:GetServiceQuota', errorType: 'AccessDeniedException' });
      // The same switch for a sandbox run out of process.
      const admin = await fetch(`${standIn.url}/__admin/config`, { method: 'POST', body: JSON.stringify({ serviceQuotasReadable: true }) });
      expect(admin.status).toBe(200);
      expect((await sq.send(new GetServiceQuotaCommand({ ServiceCode: 'codeartifact', QuotaCode: 'L-3E27C79F' }))).Quota?.Value).toBe(7);
    } finally {
      standIn.setServiceQuotasReadable(true);
      standIn.setQuotas(false);
      sq.destroy();
    }
  });
});

describe('quotas per operation', () => {
  it('201 ListPackageVersions in one second: the 201st is throttled by its quota, ListPackages in the same second are not; the log tells a quota from a fault', async () => {
    const ref = { ...domainArgs, repository: 'go-internal', format: 'generic' as const, namespace: 'q', package: 'probe' };
    const bytes = Buffer.from('probe');
    await client.send(new PublishPackageVersionCommand({ ...ref, packageVersion: '1.0.0', assetName: 'probe.bin', assetContent: bytes, assetSHA256: createHash('sha256').update(bytes).digest('hex') }));
    const now = Date.now();
    standIn.setQuotaClock(() => now); // one frozen second: exactly a bucket's worth of tokens
    standIn.setQuotas({});
    const seqBefore = standIn.log.at(-1)?.seq ?? 0;
    try {
      const outcomes: string[] = [];
      for (let i = 0; i < 201; i++) {
        outcomes.push(await client.send(new ListPackageVersionsCommand(ref)).then(() => 'ok', (e: Error) => e.name));
      }
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(200);
      expect(outcomes.at(-1)).toBe('ThrottlingException');
      for (let i = 0; i < 50; i++) await client.send(new ListPackagesCommand({ ...domainArgs, repository: 'go-internal' }));
      await client.send(new ListPackageVersionAssetsCommand({ ...ref, packageVersion: '1.0.0' }));

      standIn.addFault({ operation: 'ListPackages', status: 429, retryAfterSeconds: 1, times: 1 });
      expect((await failure(client.send(new ListPackagesCommand({ ...domainArgs, repository: 'go-internal' })))).name).toBe('ThrottlingException');
      const throttled = standIn.log.filter((e) => e.seq > seqBefore && e.status === 429);
      expect(throttled.map((e) => [e.operation, e.throttledBy, e.quota])).toEqual([
        ['ListPackageVersions', 'quota', 'listVersions'],
        ['ListPackages', 'fault', undefined],
      ]);
      expect(throttled.every((e) => e.errorType === 'ThrottlingException')).toBe(true);
    } finally {
      standIn.clearFaults();
      standIn.setQuotaClock(undefined);
      standIn.setQuotas(false);
    }
    // The old shared `list` setting still sets the three List quotas.
    standIn.setQuotas({ list: 5, listAssets: 9 });
    expect(standIn.appliedQuotas()).toMatchObject({ listPackages: 5, listVersions: 5, listAssets: 9, reads: 800 });
    standIn.setQuotas(false);
  }, 60_000);
});
