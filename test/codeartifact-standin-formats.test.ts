/**
 * The stand-in's PyPI endpoints, generic packages and package version statuses, driven by the real
 * clients: Debian's twine 4.0.2 uploads sdists and wheels built by `/usr/bin/python3 -m build`,
 * Debian's pip downloads them back, and the AWS SDK v3 publishes generic assets and changes
 * statuses. Everything runs in the sandbox the other tests use (startSandbox), on 127.0.0.1.
 * Failures are asserted by status, error type and what ends up stored or logged.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CodeartifactClient,
  DescribePackageVersionCommand,
  DescribeRepositoryCommand,
  DeletePackageVersionsCommand,
  DisposePackageVersionsCommand,
  GetAuthorizationTokenCommand,
  GetPackageVersionAssetCommand,
  GetRepositoryEndpointCommand,
  ListPackagesCommand,
  ListPackageVersionAssetsCommand,
  ListPackageVersionsCommand,
  PublishPackageVersionCommand,
  UpdatePackageVersionsStatusCommand,
} from '@aws-sdk/client-codeartifact';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CodeArtifactStandIn } from './support/codeartifact/index.js';
import { SANDBOX_ACCESS_KEY, SANDBOX_DOMAIN, SANDBOX_OWNER, SANDBOX_SECRET_KEY, startSandbox, type Sandbox } from './support/sandbox.js';

// Debian's interpreter has build, pip and twine's dependencies; the python3 on PATH does not.
const PYTHON = '/usr/bin/python3';
const TWINE = '/usr/bin/twine';
const domainArgs = { domain: SANDBOX_DOMAIN, domainOwner: SANDBOX_OWNER };
const PYPI = 'pypi-internal';
const GENERIC = 'go-internal';

let sandbox: Sandbox;
let standIn: CodeArtifactStandIn;
let client: CodeartifactClient;
let tmp: string;
let token: string;

interface Built {
  sdist: string;
  wheel: string;
}
/** The project under test, its rebuild with other bytes under the same file names, and extras. */
let main: Built;
let otherBytes: Built;
let py311Wheel: string;
let faultPkg: Built;

const hex = (algorithm: string, bytes: Buffer): string => createHash(algorithm).update(bytes).digest('hex');
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

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

/** Asynchronous on purpose: the stand-in answers from this process, so a blocking spawn would deadlock. */
function run(cmd: string, args: string[], cwd?: string): Promise<RunResult> {
  // A clean environment: no proxy, pip or twine settings from the machine, no keyring prompts.
  const env = {
    PATH: '/usr/bin:/bin',
    HOME: path.join(tmp, 'home'),
    LANG: 'C.UTF-8',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHON_KEYRING_BACKEND: 'keyring.backends.null.Keyring',
  };
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

/** A tiny setuptools project built with `python3 -m build --no-isolation` (no network needed). */
async function buildProject(name: string, opts: { version?: string; value?: string; pythonTag?: string } = {}): Promise<Built> {
  const dir = await mkdtemp(path.join(tmp, 'project-'));
  await mkdir(path.join(dir, 'src', 'demo_mod'), { recursive: true });
  await writeFile(
    path.join(dir, 'pyproject.toml'),
    [
      '[build-system]',
      'requires = ["setuptools"]',
      'build-backend = "setuptools.build_meta"',
      '',
      '[project]',
      `name = "${name}"`,
      `version = "${opts.version ?? '1.0.0'}"`,
      'description = "A tiny package for stand-in tests"',
      'requires-python = ">=3.7"',
      'license = {text = "MIT"}',
      '',
    ].join('\n'),
  );
  await writeFile(path.join(dir, 'src', 'demo_mod', '__init__.py'), `VALUE = ${JSON.stringify(opts.value ?? 'one')}\n`);
  if (opts.pythonTag !== undefined) await writeFile(path.join(dir, 'setup.cfg'), `[bdist_wheel]\npython_tag = ${opts.pythonTag}\n`);
  const out = path.join(dir, 'dist');
  const built = await run(PYTHON, ['-m', 'build', '--no-isolation', '--outdir', out, dir], dir);
  expect(built.code, built.stderr).toBe(0);
  const files = await readdir(out);
  const pick = (suffix: string): string => path.join(out, files.find((f) => f.endsWith(suffix)) ?? `missing${suffix}`);
  return { sdist: pick('.tar.gz'), wheel: pick('.whl') };
}

/**
 * `twine upload --repository-url <endpoint> -u aws -p <token> --non-interactive`, as documented for CodeArtifact;
 * the token joined to its option: the stand-in's tokens are random base64url, and one in 64 starts with `-`,
 * which argparse would read as the next option.
 */
const twine = (files: string[], password = token, repo = PYPI): Promise<RunResult> =>
  run(TWINE, ['upload', '--repository-url', standIn.pypiEndpoint(repo), '-u', 'aws', `--password=${password}`, '--non-interactive', '--disable-progress-bar', ...files]);

/** `pip download` from the stand-in only: isolated from any pip configuration, no cache. */
async function pipDownload(spec: string, extra: string[] = [], indexUrl = standIn.pypiIndexUrl(PYPI, token)): Promise<RunResult & { dir: string }> {
  const dir = await mkdtemp(path.join(tmp, 'download-'));
  const args = ['-m', 'pip', 'download', '--isolated', '--no-cache-dir', '--disable-pip-version-check', '--no-input', '--no-deps'];
  const result = await run(PYTHON, [...args, '--index-url', indexUrl, ...extra, spec, '-d', dir]);
  return { ...result, dir };
}

const pypiGet = (suffix: string, authorization: string | null = basic('aws', token)): Promise<Response> =>
  fetch(`${standIn.pypiEndpoint(PYPI)}${suffix}`, { redirect: 'manual', headers: authorization === null ? {} : { authorization } });

const logged = (operation: string, pkg: string): { status: number; version?: string; errorType?: string }[] =>
  standIn.log.filter((e) => e.operation === operation && e.package === pkg);

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'ca-formats-'));
  await mkdir(path.join(tmp, 'home'));
  sandbox = await startSandbox({ dir: path.join(tmp, 'sandbox'), standIn: { quotas: false, dataDir: path.join(tmp, 'assets') } });
  standIn = sandbox.standIn;
  client = new CodeartifactClient({
    region: sandbox.descriptor.codeartifact.region,
    endpoint: standIn.url,
    credentials: { accessKeyId: SANDBOX_ACCESS_KEY, secretAccessKey: SANDBOX_SECRET_KEY },
    maxAttempts: 1,
  });
  token = (await client.send(new GetAuthorizationTokenCommand(domainArgs))).authorizationToken ?? '';
  main = await buildProject('My_Pkg.Name');
  otherBytes = await buildProject('My_Pkg.Name', { value: 'two' });
  py311Wheel = (await buildProject('My_Pkg.Name', { pythonTag: 'py311' })).wheel;
  faultPkg = await buildProject('fault-pkg', { version: '0.1.0' });
}, 120_000);

afterAll(async () => {
  client?.destroy();
  await sandbox?.stop();
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
});

describe('the sandbox', () => {
  it('has the PyPI and generic repositories, and names the PyPI endpoint GetRepositoryEndpoint returns', async () => {
    const c = sandbox.descriptor.codeartifact;
    for (const repository of ['pypi-internal', 'pypi-store', 'pypi-shared', 'go-internal']) {
      expect(c.repositories).toContain(repository);
      const described = await client.send(new DescribeRepositoryCommand({ ...domainArgs, repository }));
      expect(described.repository?.name).toBe(repository);
    }
    const ep = await client.send(new GetRepositoryEndpointCommand({ ...domainArgs, repository: PYPI, format: 'pypi' }));
    expect(ep.repositoryEndpoint).toBe(c.pypiEndpoint);
    expect(c.pypiEndpoint).toBe(`${standIn.url}/d/${SANDBOX_DOMAIN}-${SANDBOX_OWNER}/pypi/${PYPI}/`);
    expect(c.genericRepository).toBe(GENERIC);
  });
});

describe('PyPI endpoint, with the real twine and pip', () => {
  const ref = { ...domainArgs, repository: PYPI, format: 'pypi' as const, package: 'my-pkg-name' };

  it('twine uploads an sdist and a wheel; the API lists them under the normalised name; pip downloads the same bytes', async () => {
    const uploaded = await twine([main.sdist, main.wheel]);
    expect(uploaded.code, uploaded.stderr + uploaded.stdout).toBe(0);
    expect(logged('pypi:Upload', 'my-pkg-name')).toEqual([
      expect.objectContaining({ status: 200, version: '1.0.0' }),
      expect.objectContaining({ status: 200, version: '1.0.0' }),
    ]);

    const packages = await client.send(new ListPackagesCommand({ ...domainArgs, repository: PYPI, format: 'pypi' }));
    expect(packages.packages?.map((p) => [p.package, p.namespace])).toEqual([['my-pkg-name', undefined]]);
    const versions = await client.send(new ListPackageVersionsCommand(ref));
    expect(versions.versions).toEqual([expect.objectContaining({ version: '1.0.0', status: 'Published', origin: expect.objectContaining({ originType: 'INTERNAL' }) })]);
    const described = await client.send(new DescribePackageVersionCommand({ ...ref, packageVersion: '1.0.0' }));
    expect(described.packageVersion).toMatchObject({
      format: 'pypi',
      packageName: 'my-pkg-name',
      displayName: 'my-pkg-name',
      version: '1.0.0',
      summary: 'A tiny package for stand-in tests',
      licenses: [{ name: 'MIT' }],
      status: 'Published',
      origin: { originType: 'INTERNAL', domainEntryPoint: { repositoryName: PYPI } },
    });
    expect(described.packageVersion?.namespace).toBeUndefined();
    // The API wants the normalised name; the name as written in the project is another package.
    expect((await failure(client.send(new DescribePackageVersionCommand({ ...ref, package: 'My_Pkg.Name', packageVersion: '1.0.0' })))).name).toBe(
      'ResourceNotFoundException',
    );

    // Upload order: twine 4.0.2 sends wheels before sdists, whatever the order on its command line.
    const assets = await client.send(new ListPackageVersionAssetsCommand({ ...ref, packageVersion: '1.0.0' }));
    const expected = await Promise.all(
      [main.wheel, main.sdist].map(async (file) => {
        const bytes = await readFile(file);
        const hashes = { MD5: hex('md5', bytes), 'SHA-1': hex('sha1', bytes), 'SHA-256': hex('sha256', bytes), 'SHA-512': hex('sha512', bytes) };
        return { name: path.basename(file), size: bytes.length, hashes };
      }),
    );
    expect(assets.assets).toEqual(expected);
    const viaApi = await client.send(new GetPackageVersionAssetCommand({ ...ref, packageVersion: '1.0.0', asset: path.basename(main.wheel) }));
    expect(Buffer.from((await viaApi.asset?.transformToByteArray()) ?? [])).toEqual(await readFile(main.wheel));

    // pip prefers the wheel; --no-binary makes it take the sdist (whose metadata it prepares with the system setuptools).
    const wheel = await pipDownload('My_Pkg.Name==1.0.0');
    expect(wheel.code, wheel.stderr).toBe(0);
    expect(await readFile(path.join(wheel.dir, path.basename(main.wheel)))).toEqual(await readFile(main.wheel));
    const sdist = await pipDownload('My_Pkg.Name==1.0.0', ['--no-binary', ':all:', '--no-build-isolation']);
    expect(sdist.code, sdist.stderr).toBe(0);
    expect(await readFile(path.join(sdist.dir, path.basename(main.sdist)))).toEqual(await readFile(main.sdist));
    expect(logged('pypi:SimpleIndex', 'my-pkg-name').map((e) => e.status)).toEqual([200, 200]);
    expect(logged('pypi:Download', 'my-pkg-name')).toEqual([
      expect.objectContaining({ status: 200, version: '1.0.0' }),
      expect.objectContaining({ status: 200, version: '1.0.0' }),
    ]);
  }, 60_000);

  it('serves PEP 503 pages: sha256 fragments, redirects to the normalised name, no root /simple/', async () => {
    const page = await pypiGet('simple/my-pkg-name/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    for (const file of [main.sdist, main.wheel]) {
      const name = path.basename(file);
      expect(html).toContain(`href="1.0.0/${encodeURIComponent(name)}#sha256=${hex('sha256', await readFile(file))}"`);
    }
    expect(html).toContain('data-requires-python="&gt;=3.7"');

    const renamed = await pypiGet('simple/My_Pkg.Name/');
    expect(renamed.status).toBe(301);
    expect(renamed.headers.get('location')).toBe(`${standIn.pypiEndpoint(PYPI)}simple/my-pkg-name/`);
    expect((await pypiGet('simple/my-pkg-name')).headers.get('location')).toBe(`${standIn.pypiEndpoint(PYPI)}simple/my-pkg-name/`);
    expect((await pypiGet('simple/')).status).toBe(404);
    expect((await pypiGet('simple/no-such-project/')).status).toBe(404);
    expect((await pypiGet(`simple/my-pkg-name/1.0.0/${path.basename(main.wheel)}`)).status).toBe(200);
    expect((await pypiGet('simple/my-pkg-name/9.9.9/nothing.whl')).status).toBe(404);
    expect(standIn.log.at(-1)).toMatchObject({ operation: 'pypi:Download', package: 'my-pkg-name', version: '9.9.9', status: 404 });
  });

  it('answers 401 with WWW-Authenticate without valid aws:<token> credentials; twine and pip then fail', async () => {
    for (const authorization of [null, basic('aws', 'not-a-token'), basic('someone', token), `Bearer ${token}`]) {
      const denied = await pypiGet('simple/my-pkg-name/', authorization);
      expect(denied.status).toBe(401);
      expect(denied.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    }
    let mark = standIn.log.at(-1)?.seq ?? 0;
    const anonymous = await pipDownload('My_Pkg.Name==1.0.0', [], `${standIn.pypiEndpoint(PYPI)}simple/`);
    expect(anonymous.code).not.toBe(0);
    const pipSaw = standIn.log.filter((e) => e.seq > mark);
    expect(pipSaw).toContainEqual(expect.objectContaining({ operation: 'pypi:SimpleIndex', package: 'my-pkg-name', status: 401, errorType: 'Unauthorized' }));
    expect(pipSaw.every((e) => e.status === 401)).toBe(true);

    standIn.revokeTokens();
    try {
      mark = standIn.log.at(-1)?.seq ?? 0;
      const revoked = await twine([faultPkg.wheel]);
      expect(revoked.code).not.toBe(0);
      expect(standIn.log.filter((e) => e.seq > mark).map((e) => [e.operation, e.package, e.status])).toEqual([['pypi:Upload', 'fault-pkg', 401]]);
      expect(standIn.versions(PYPI, 'pypi', undefined, 'fault-pkg')).toEqual([]);
    } finally {
      // The other tests need a live token whatever happened here.
      token = (await client.send(new GetAuthorizationTokenCommand(domainArgs))).authorizationToken ?? '';
    }
  }, 60_000);

  it('refuses other bytes under a stored file name (409), accepts the same file again, adds a new wheel to the version', async () => {
    const before = (await client.send(new DescribePackageVersionCommand({ ...ref, packageVersion: '1.0.0' }))).packageVersion?.revision;
    expect(path.basename(otherBytes.wheel)).toBe(path.basename(main.wheel));
    expect(await readFile(otherBytes.wheel)).not.toEqual(await readFile(main.wheel));
    const conflicting = await twine([otherBytes.wheel]);
    expect(conflicting.code).not.toBe(0);
    expect(standIn.log.at(-1)).toMatchObject({ operation: 'pypi:Upload', package: 'my-pkg-name', status: 409, errorType: 'ConflictException' });
    expect(standIn.assetBytes(PYPI, 'pypi', undefined, 'my-pkg-name', '1.0.0', path.basename(main.wheel))).toEqual(await readFile(main.wheel));

    const again = await twine([main.wheel]);
    expect(again.code, again.stderr).toBe(0);
    expect(standIn.log.at(-1)).toMatchObject({ operation: 'pypi:Upload', status: 200 });
    expect((await client.send(new DescribePackageVersionCommand({ ...ref, packageVersion: '1.0.0' }))).packageVersion?.revision).toBe(before);

    const added = await twine([py311Wheel]);
    expect(added.code, added.stderr).toBe(0);
    const assets = await client.send(new ListPackageVersionAssetsCommand({ ...ref, packageVersion: '1.0.0' }));
    expect(assets.assets?.map((a) => a.name)).toEqual([path.basename(main.wheel), path.basename(main.sdist), 'My_Pkg.Name-1.0.0-py311-none-any.whl']);
    expect(assets.versionRevision).not.toBe(before);
    // pip on CPython 3.11 ranks py311 above py3, so it now fetches the new wheel.
    const fetched = await pipDownload('My_Pkg.Name==1.0.0', ['--only-binary', ':all:']);
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(await readFile(path.join(fetched.dir, path.basename(py311Wheel)))).toEqual(await readFile(py311Wheel));
  }, 60_000);

  it('checks the form: digests that do not match the bytes, a missing digest or a wrong filetype are 400 and store nothing', async () => {
    const bytes = await readFile(faultPkg.wheel);
    const filename = 'digest_test-2.0.0-py3-none-any.whl';
    const good: Record<string, string> = {
      ':action': 'file_upload',
      protocol_version: '1',
      name: 'Digest_Test',
      version: '2.0.0',
      filetype: 'bdist_wheel',
      pyversion: 'py3',
      metadata_version: '2.1',
      summary: 'crafted',
      md5_digest: hex('md5', bytes),
      sha256_digest: hex('sha256', bytes),
    };
    // BLAKE2b-256 as CPython computes it, the way twine does.
    const blake = await run(PYTHON, ['-c', `import hashlib; print(hashlib.blake2b(open(${JSON.stringify(faultPkg.wheel)}, 'rb').read(), digest_size=32).hexdigest())`]);
    good['blake2_256_digest'] = blake.stdout.trim();
    const post = (fields: Record<string, string | undefined>): Promise<Response> => {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) if (v !== undefined) form.append(k, v);
      form.append('content', new Blob([bytes]), filename);
      return fetch(standIn.pypiEndpoint(PYPI), { method: 'POST', body: form, headers: { authorization: basic('aws', token) } });
    };
    const wrong = '0'.repeat(64);
    for (const bad of [
      { sha256_digest: wrong },
      { blake2_256_digest: wrong },
      { md5_digest: '0'.repeat(32) },
      { sha256_digest: undefined },
      { filetype: 'sdist' },
      { ':action': 'submit' },
    ]) {
      const refused = await post({ ...good, ...bad });
      expect(refused.status, JSON.stringify(bad)).toBe(400);
      expect(standIn.log.at(-1)).toMatchObject({ operation: 'pypi:Upload', package: 'digest-test', status: 400 });
    }
    expect(standIn.versions(PYPI, 'pypi', undefined, 'digest-test')).toEqual([]);
    // The same form with the right digests goes through (so the refusals above are about the digests).
    expect((await post(good)).status).toBe(200);
    expect(standIn.versions(PYPI, 'pypi', undefined, 'digest-test').map((v) => [v.version, v.assets.map((a) => a.name)])).toEqual([['2.0.0', [filename]]]);
  });

  it('applies fault rules, afterApply included, and quotas like the npm endpoint; twine and pip retry 5xx', async () => {
    // A response lost after the upload was stored: twine retries the 503 and the retry is accepted as identical.
    const mark = standIn.log.at(-1)?.seq ?? 0;
    standIn.addFault({ operation: 'pypi:Upload', package: 'fault-pkg', status: 503, afterApply: true, times: 1 });
    const uploaded = await twine([faultPkg.wheel]);
    expect(uploaded.code, uploaded.stderr).toBe(0);
    const attempts = standIn.log.filter((e) => e.seq > mark && e.operation === 'pypi:Upload');
    expect(attempts.map((e) => [e.package, e.version, e.status])).toEqual([
      ['fault-pkg', '0.1.0', 503],
      ['fault-pkg', '0.1.0', 200],
    ]);
    const stored = standIn.versions(PYPI, 'pypi', undefined, 'fault-pkg');
    expect(stored.map((v) => v.assets.length)).toEqual([1]);
    // Stored by the attempt that was answered 503, before the retry arrived.
    expect(stored[0]?.publishedTime.getTime()).toBeLessThan(attempts[1]?.at ?? 0);

    standIn.addFault({ operation: 'pypi:Download', package: 'fault-pkg', version: '0.1.0', status: 503, times: 1 });
    // pip's urllib3 retries a 503 by itself.
    const fetched = await pipDownload('fault-pkg==0.1.0');
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(await readFile(path.join(fetched.dir, path.basename(faultPkg.wheel)))).toEqual(await readFile(faultPkg.wheel));
    expect(logged('pypi:Download', 'fault-pkg').map((e) => [e.status, e.errorType])).toEqual([
      [503, 'InternalServerException'],
      [200, undefined],
    ]);
    standIn.clearFaults();

    standIn.setQuotas({ getAsset: 1 });
    try {
      const file = `simple/fault-pkg/0.1.0/${path.basename(faultPkg.wheel)}`;
      expect((await pypiGet(file)).status).toBe(200);
      const throttled = await pypiGet(file);
      expect(throttled.status).toBe(429);
      expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(standIn.log.at(-1)).toMatchObject({ operation: 'pypi:Download', status: 429, errorType: 'ThrottlingException' });
    } finally {
      standIn.setQuotas(false);
    }
  }, 60_000);

  it('follows version statuses: Unlisted files stay downloadable but leave the index, Archived ones are gone', async () => {
    const file = `simple/fault-pkg/0.1.0/${path.basename(faultPkg.wheel)}`;
    const setStatus = (targetStatus: 'Published' | 'Unlisted' | 'Archived') =>
      client.send(new UpdatePackageVersionsStatusCommand({ ...ref, package: 'fault-pkg', versions: ['0.1.0'], targetStatus }));
    await setStatus('Unlisted');
    expect((await pypiGet('simple/fault-pkg/')).status).toBe(404);
    expect((await pypiGet(file)).status).toBe(200);
    await setStatus('Archived');
    expect((await pypiGet(file)).status).toBe(404);
    expect((await pipDownload('fault-pkg==0.1.0')).code).not.toBe(0);
    await setStatus('Published');
    expect((await pypiGet('simple/fault-pkg/')).status).toBe(200);
    expect((await pypiGet(file)).status).toBe(200);
  }, 60_000);

  it('replaceAssetBytes simulates tampering: with keepHashes the index keeps the old sha256 and pip refuses the file', async () => {
    const name = path.basename(faultPkg.wheel);
    const original = await readFile(faultPkg.wheel);
    const listed = standIn.replaceAssetBytes(PYPI, 'pypi', undefined, 'fault-pkg', '0.1.0', name, Buffer.from('tampered'), { keepHashes: true });
    expect(listed.hashes['SHA-256']).toBe(hex('sha256', original));
    const served = Buffer.from(await (await pypiGet(`simple/fault-pkg/0.1.0/${name}`)).arrayBuffer());
    expect(served.toString()).toBe('tampered');
    const refused = await pipDownload('fault-pkg==0.1.0');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/hash/i);

    // Without keepHashes the listing describes the new bytes.
    const relisted = standIn.replaceAssetBytes(PYPI, 'pypi', undefined, 'fault-pkg', '0.1.0', name, Buffer.from('tampered again'));
    const assets = await client.send(new ListPackageVersionAssetsCommand({ ...ref, package: 'fault-pkg', packageVersion: '0.1.0' }));
    expect(assets.assets?.[0]?.hashes?.['SHA-256']).toBe(hex('sha256', Buffer.from('tampered again')));
    expect(relisted.size).toBe('tampered again'.length);
  }, 60_000);
});

describe('generic packages through PublishPackageVersion', () => {
  const base = { ...domainArgs, repository: GENERIC, format: 'generic' as const, namespace: 'acme', package: 'widget' };
  const publish = (version: string, asset: string, bytes: Buffer, unfinished?: boolean, sha = hex('sha256', bytes)) =>
    client.send(new PublishPackageVersionCommand({ ...base, packageVersion: version, assetName: asset, assetContent: bytes, assetSHA256: sha, unfinished }));
  const files = { 'v1.2.3.info': Buffer.from('{"Version":"v1.2.3"}'), 'v1.2.3.mod': Buffer.from('module example.com/widget\n'), 'v1.2.3.zip': randomBytes(4096) };
  const names = Object.keys(files) as (keyof typeof files)[];

  it('keeps a version Unfinished with the assets so far when a run stops between two assets, and publishes it on resume', async () => {
    const first = await publish('v1.2.3', names[0] as string, files[names[0] as keyof typeof files], true);
    expect(first).toMatchObject({ status: 'Unfinished', asset: { name: 'v1.2.3.info', hashes: { 'SHA-256': hex('sha256', files['v1.2.3.info']) } } });
    // The second asset never arrives (the run dies): the stand-in keeps what it got.
    standIn.addFault({ operation: 'PublishPackageVersion', package: 'widget', version: 'v1.2.3', status: 500, times: 1 });
    expect((await failure(publish('v1.2.3', 'v1.2.3.mod', files['v1.2.3.mod'], true))).name).toBe('InternalServerException');
    const described = await client.send(new DescribePackageVersionCommand({ ...base, packageVersion: 'v1.2.3' }));
    expect(described.packageVersion?.status).toBe('Unfinished');
    expect((await client.send(new ListPackageVersionsCommand({ ...base, status: 'Unfinished' }))).versions?.map((v) => v.version)).toEqual(['v1.2.3']);
    expect((await client.send(new ListPackageVersionsCommand({ ...base, status: 'Published' }))).versions).toEqual([]);
    expect((await client.send(new ListPackageVersionAssetsCommand({ ...base, packageVersion: 'v1.2.3' }))).assets?.map((a) => a.name)).toEqual(['v1.2.3.info']);

    // Resume: the first asset again (identical: accepted, still Unfinished), then the rest, the last without `unfinished`.
    expect((await publish('v1.2.3', 'v1.2.3.info', files['v1.2.3.info'], true)).status).toBe('Unfinished');
    expect((await publish('v1.2.3', 'v1.2.3.mod', files['v1.2.3.mod'], true)).status).toBe('Unfinished');
    const last = await publish('v1.2.3', 'v1.2.3.zip', files['v1.2.3.zip']);
    expect(last.status).toBe('Published');
    const listed = await client.send(new ListPackageVersionsCommand(base));
    expect(listed.versions?.map((v) => [v.version, v.status])).toEqual([['v1.2.3', 'Published']]);
  });

  it('serves each asset through GetPackageVersionAsset with X-AssetName, X-PackageVersion and X-PackageVersionRevision', async () => {
    const revision = (await client.send(new DescribePackageVersionCommand({ ...base, packageVersion: 'v1.2.3' }))).packageVersion?.revision;
    const assets = await client.send(new ListPackageVersionAssetsCommand({ ...base, packageVersion: 'v1.2.3' }));
    expect(assets.assets?.map((a) => [a.name, a.size, a.hashes?.['SHA-512']])).toEqual(names.map((n) => [n, files[n].length, hex('sha512', files[n])]));
    for (const name of names) {
      const out = await client.send(new GetPackageVersionAssetCommand({ ...base, packageVersion: 'v1.2.3', asset: name }));
      expect(Buffer.from((await out.asset?.transformToByteArray()) ?? [])).toEqual(files[name]);
      expect([out.assetName, out.packageVersion, out.packageVersionRevision]).toEqual([name, 'v1.2.3', revision]);
    }
    const stale = await failure(client.send(new GetPackageVersionAssetCommand({ ...base, packageVersion: 'v1.2.3', asset: 'v1.2.3.zip', packageVersionRevision: 'other' })));
    expect(stale.name).toBe('ResourceNotFoundException');
  });

  it('refuses other bytes (409), late assets (409), a wrong x-amz-content-sha256 and invalid names (400)', async () => {
    const changed = await failure(publish('v1.2.3', 'v1.2.3.zip', randomBytes(16)));
    expect(changed.name).toBe('ConflictException');
    expect(changed.resourceType).toBe('asset');
    // Identical bytes are fine, and `unfinished` does not take a Published version back.
    expect((await publish('v1.2.3', 'v1.2.3.zip', files['v1.2.3.zip'], true)).status).toBe('Published');
    expect((await failure(publish('v1.2.3', 'v1.2.3.extra', Buffer.from('late')))).name).toBe('ConflictException');
    const mismatch = await failure(publish('v9.0.0', 'a.bin', Buffer.from('a'), false, hex('sha256', Buffer.from('b'))));
    expect(mismatch.name).toBe('ValidationException');
    for (const asset of ['.', '..', ' lead', 'trail ', 'two  spaces', 'a/b', 'tab\tname', 'quote"s', 'star*', 'x'.repeat(256)]) {
      expect((await failure(publish('v9.0.0', asset, Buffer.from('a'), true))).name, asset).toBe('ValidationException');
    }
    for (const [field, value] of [['package', 'a/b'], ['packageVersion', 'has space'], ['namespace', 'a#b']] as const) {
      const bad = client.send(new PublishPackageVersionCommand({ ...base, packageVersion: 'v9.0.0', [field]: value, assetName: 'a', assetContent: Buffer.from('a'), assetSHA256: hex('sha256', Buffer.from('a')), unfinished: true }));
      expect((await failure(bad)).name, field).toBe('ValidationException');
    }
    const noNamespace = client.send(new PublishPackageVersionCommand({ ...base, namespace: undefined, packageVersion: 'v9.0.0', assetName: 'a', assetContent: Buffer.from('a'), assetSHA256: hex('sha256', Buffer.from('a')) }));
    expect((await failure(noNamespace)).name).toBe('ValidationException');
    expect(standIn.versions(GENERIC, 'generic', 'acme', 'widget').map((v) => v.version)).toEqual(['v1.2.3']);
    // What the rules allow: letters of any script, the listed punctuation, single inner spaces.
    for (const asset of ['a b.txt', 'x~!@^&()-_+[]{};,.y', 'ünïcødé-名前.bin']) {
      expect((await publish('v9.0.0', asset, Buffer.from(asset), true)).asset?.name).toBe(asset);
    }
  });

  it('refuses a generic read without its namespace (400), as the model says the namespace is required for generic packages', async () => {
    const reads = [
      () => client.send(new DescribePackageVersionCommand({ ...base, namespace: undefined, packageVersion: 'v1.2.3' })),
      () => client.send(new ListPackageVersionsCommand({ ...base, namespace: undefined })),
      () => client.send(new ListPackageVersionAssetsCommand({ ...base, namespace: undefined, packageVersion: 'v1.2.3' })),
      () => client.send(new GetPackageVersionAssetCommand({ ...base, namespace: undefined, packageVersion: 'v1.2.3', asset: 'v1.2.3.zip' })),
    ];
    for (const read of reads) expect((await failure(read())).name).toBe('ValidationException');
  });

  it('takes at most 150 assets per version', async () => {
    const v = 'v0.0.150';
    for (let i = 0; i < 150; i++) await publish(v, `part-${i}.bin`, Buffer.from(String(i)), true);
    const over = await failure(publish(v, 'part-150.bin', Buffer.from('150'), true));
    expect(over.name).toBe('ServiceQuotaExceededException');
    expect((over.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(402);
    expect(standIn.versions(GENERIC, 'generic', 'acme', 'widget').find((x) => x.version === v)?.assets.length).toBe(150);
  }, 30_000);
});

describe('version statuses through UpdatePackageVersionsStatus and DisposePackageVersions', () => {
  const base = { ...domainArgs, repository: GENERIC, format: 'generic' as const, namespace: 'acme', package: 'widget' };
  const describeStatus = async (version: string) =>
    (await client.send(new DescribePackageVersionCommand({ ...base, packageVersion: version }))).packageVersion;

  it('archives a version and publishes it again; Describe, List and GetPackageVersionAsset follow', async () => {
    const before = await describeStatus('v1.2.3');
    const archived = await client.send(new UpdatePackageVersionsStatusCommand({ ...base, versions: ['v1.2.3'], targetStatus: 'Archived' }));
    const after = await describeStatus('v1.2.3');
    expect(archived.successfulVersions).toEqual({ 'v1.2.3': { status: 'Archived', revision: after?.revision } });
    expect(archived.failedVersions).toEqual({});
    expect(after?.status).toBe('Archived');
    expect(after?.revision).not.toBe(before?.revision);
    expect((await client.send(new ListPackageVersionsCommand({ ...base, status: 'Archived' }))).versions?.map((v) => [v.version, v.status])).toEqual([['v1.2.3', 'Archived']]);
    const gone = await failure(client.send(new GetPackageVersionAssetCommand({ ...base, packageVersion: 'v1.2.3', asset: 'v1.2.3.zip' })));
    expect(gone.name).toBe('ResourceNotFoundException');
    expect(standIn.log.findLast((e) => e.operation === 'UpdatePackageVersionsStatus')).toMatchObject({ method: 'POST', path: '/v1/package/versions/update_status', version: 'v1.2.3', status: 200 });

    const restored = await client.send(new UpdatePackageVersionsStatusCommand({ ...base, versions: ['v1.2.3'], expectedStatus: 'Archived', targetStatus: 'Published' }));
    expect(restored.successfulVersions?.['v1.2.3']?.status).toBe('Published');
    expect((await describeStatus('v1.2.3'))?.status).toBe('Published');
    const out = await client.send(new GetPackageVersionAssetCommand({ ...base, packageVersion: 'v1.2.3', asset: 'v1.2.3.mod' }));
    expect(Buffer.from((await out.asset?.transformToByteArray()) ?? []).toString()).toBe('module example.com/widget\n');
  });

  it('fails versions one by one (NOT_FOUND, MISMATCHED_STATUS, MISMATCHED_REVISION) and refuses targets it cannot set', async () => {
    const revision = (await describeStatus('v1.2.3'))?.revision ?? '';
    const mixed = await client.send(
      new UpdatePackageVersionsStatusCommand({ ...base, versions: ['v1.2.3', 'v0.0.150', 'v404'], expectedStatus: 'Unfinished', targetStatus: 'Unlisted' }),
    );
    expect(Object.keys(mixed.successfulVersions ?? {})).toEqual(['v0.0.150']);
    expect(mixed.failedVersions?.['v1.2.3']?.errorCode).toBe('MISMATCHED_STATUS');
    expect(mixed.failedVersions?.['v404']?.errorCode).toBe('NOT_FOUND');
    expect((await describeStatus('v0.0.150'))?.status).toBe('Unlisted');
    expect((await describeStatus('v1.2.3'))?.revision).toBe(revision);

    const stale = await client.send(new UpdatePackageVersionsStatusCommand({ ...base, versions: ['v1.2.3'], versionRevisions: { 'v1.2.3': 'stale' }, targetStatus: 'Unlisted' }));
    expect(stale.failedVersions?.['v1.2.3']?.errorCode).toBe('MISMATCHED_REVISION');
    // Unfinished -> Published is how a generic version left Unfinished gets finished without another asset.
    const finished = await client.send(new UpdatePackageVersionsStatusCommand({ ...base, versions: ['v9.0.0'], targetStatus: 'Published' }));
    expect(finished.successfulVersions?.['v9.0.0']?.status).toBe('Published');
    for (const targetStatus of ['Disposed', 'Unfinished', 'Deleted'] as const) {
      const refused = await failure(client.send(new UpdatePackageVersionsStatusCommand({ ...base, versions: ['v1.2.3'], targetStatus })));
      expect(refused.name, targetStatus).toBe('ValidationException');
    }
  });

  it('disposes versions (assets deleted, not restorable); the in-process helper sets any status', async () => {
    const disposed = await client.send(new DisposePackageVersionsCommand({ ...base, versions: ['v0.0.150'] }));
    expect(disposed.successfulVersions?.['v0.0.150']?.status).toBe('Disposed');
    expect((await client.send(new ListPackageVersionAssetsCommand({ ...base, packageVersion: 'v0.0.150' }))).assets).toEqual([]);
    const back = await client.send(new UpdatePackageVersionsStatusCommand({ ...base, versions: ['v0.0.150'], targetStatus: 'Published' }));
    expect(back.failedVersions?.['v0.0.150']?.errorCode).toBe('NOT_ALLOWED');

    const set = standIn.setVersionStatus(GENERIC, 'generic', 'acme', 'widget', 'v9.0.0', 'Unlisted');
    expect(set.status).toBe('Unlisted');
    expect((await describeStatus('v9.0.0'))?.status).toBe('Unlisted');
    expect(() => standIn.setVersionStatus(GENERIC, 'generic', 'acme', 'widget', 'v404', 'Archived')).toThrow();
    // The same for out-of-process users of the sandbox.
    const admin = await fetch(`${standIn.url}/__admin/version-status`, {
      method: 'POST',
      body: JSON.stringify({ repository: GENERIC, format: 'generic', namespace: 'acme', package: 'widget', version: 'v9.0.0', status: 'Archived' }),
    });
    expect(admin.status).toBe(200);
    expect((await describeStatus('v9.0.0'))?.status).toBe('Archived');
  });

  it('deletes versions: gone from the listings and not found, reported Deleted; a version it does not hold is NOT_FOUND', async () => {
    const deleted = await client.send(new DeletePackageVersionsCommand({ ...base, versions: ['v1.2.3', 'v404'] }));
    expect(deleted.successfulVersions?.['v1.2.3']?.status).toBe('Deleted');
    expect(deleted.failedVersions?.['v404']?.errorCode).toBe('NOT_FOUND');
    const listed = await client.send(new ListPackageVersionsCommand({ ...base }));
    expect(listed.versions?.map((v) => v.version)).not.toContain('v1.2.3');
    expect((await failure(client.send(new DescribePackageVersionCommand({ ...base, packageVersion: 'v1.2.3' })))).name).toBe('ResourceNotFoundException');
  });
});
