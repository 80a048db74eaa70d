/**
 * targets/pypi against the CodeArtifact stand-in's PyPI endpoint, with real
 * parts: tiny setuptools projects committed and tagged in temporary git
 * repositories are built by builders/python (Debian's `python3 -m build`),
 * uploaded through PypiTarget.publishAsset, read back through the API
 * (ListPackageVersionAssets via the real AWS SDK) and the simple index, and
 * downloaded by the real pip. Failures come from the stand-in's fault rules,
 * token revocation and tampering, and are asserted by error code, by the
 * stand-in's request log and by what it stores.
 * https://docs.aws.amazon.com/codeartifact/latest/ug/python-configure-twine.html
 * https://docs.aws.amazon.com/codeartifact/latest/ug/python-configure-pip.html
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CodeartifactClient, GetAuthorizationTokenCommand, ListPackagesCommand } from '@aws-sdk/client-codeartifact';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPython, type PythonDist } from '../src/builders/python.js';
import { MigrateError } from '../src/errors.js';
import { hashBuffer } from '../src/integrity/hashes.js';
import { CodeArtifact } from '../src/targets/codeartifact.js';
import type { AssetFile, PublishRequest } from '../src/targets/format.js';
import { parseSimpleIndex, PypiTarget } from '../src/targets/pypi.js';
import type { BucketName, RateLimiter } from '../src/types.js';
import { CodeArtifactStandIn } from './support/codeartifact/index.js';
import { failure } from './support/thrown.js';

// Debian's interpreter has build, setuptools and pip; the python3 on PATH does not.
const PYTHON = '/usr/bin/python3';
const DOMAIN = 'acme';
const OWNER = '111122223333';
const REGION = 'us-east-1';
const ACCESS_KEY = 'PYPITESTACCESSKEY';
const REPO = 'pypi-internal';
const NAME = 'Acme.Billing_Lib';
const NORMALISED = 'acme-billing-lib';
const COMMIT_DATE = '2024-02-03T04:05:06Z';

let tmp: string;
let n = 0;
let standIn: CodeArtifactStandIn;
let client: CodeartifactClient;
let limiter: RecordingLimiter;
let ca: CodeArtifact;
let target: PypiTarget;

/** Acme.Billing_Lib 1.2.0, and a rebuild with other bytes under the same file names. */
let main: AssetFile[];
let otherBytes: AssetFile[];
/** fault-lib 0.1.0 and 0.2.0, one per group of fault tests. */
let fault1: AssetFile[];
let fault2: AssetFile[];
/** Another project at the same version as the main one. */
let foreign: AssetFile[];
/** Metadata `Version: 1.0`, tag v1.0.0. */
let loose: AssetFile[];

/** Buckets as the engine's limiter would see them; `onTake` runs inside a take (between preparing a request and sending it). */
class RecordingLimiter implements RateLimiter {
  events: string[] = [];
  onTake?: (names: readonly BucketName[]) => Promise<void> | void;
  async take(names: readonly BucketName[]): Promise<void> {
    this.events.push(`take ${names.join('+')}`);
    await this.onTake?.(names);
  }
  throttled(names: readonly BucketName[]): void {
    this.events.push(`throttled ${names.join('+')}`);
  }
  succeeded(names: readonly BucketName[]): void {
    this.events.push(`succeeded ${names.join('+')}`);
  }
  answered(): void {}
  silent(): void {
    this.events.push('silent');
  }
  unreachable(): void {
    this.events.push('unreachable');
  }
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  // asynchronous on purpose: the stand-in answers from this process
  return new Promise((done) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  const env = { PATH: '/usr/bin:/bin', HOME: tmp, GIT_CONFIG_GLOBAL: join(tmp, 'gitconfig'), GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_DATE: COMMIT_DATE, GIT_COMMITTER_DATE: COMMIT_DATE };
  const r = await run('git', args, { cwd, env });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/**
 * A one-commit repository with a tiny setuptools project, tagged, cloned fresh
 * at the tag and built by builders/python; its files as the engine records
 * them (facts through JSON, as they are stored).
 */
async function built(name: string, tag: string, opts: { version?: string; value?: string } = {}): Promise<AssetFile[]> {
  const repo = join(tmp, `repo-${++n}`);
  const files: Record<string, string> = {
    'pyproject.toml': [
      '[build-system]',
      'requires = ["setuptools"]',
      'build-backend = "setuptools.build_meta"',
      '',
      '[project]',
      `name = "${name}"`,
      `version = "${opts.version ?? tag.replace(/^v/, '')}"`,
      'description = "A tiny package for the PyPI target tests"',
      'requires-python = ">=3.7"',
      '',
    ].join('\n'),
    'src/tiny_mod/__init__.py': `VALUE = ${JSON.stringify(opts.value ?? 'one')}\n`,
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(repo, path)), { recursive: true });
    await writeFile(join(repo, path), content);
  }
  await git(repo, 'init', '-q');
  await git(repo, 'add', '-A');
  await git(repo, 'commit', '-q', '-m', 'release');
  await git(repo, 'tag', tag);
  const checkout = join(tmp, `checkout-${n}`);
  await git(tmp, 'clone', '-q', '--branch', tag, repo, checkout);
  const result = await buildPython({ checkoutDir: checkout, commitTime: new Date(COMMIT_DATE), outDir: join(tmp, `out-${n}`), name, version: tag, python: PYTHON });
  return Promise.all(result.files.map(asset));
}

async function asset(d: PythonDist): Promise<AssetFile> {
  const bytes = await readFile(d.path);
  const facts = JSON.parse(JSON.stringify({ filetype: d.filetype, pyversion: d.pyversion, metadata: d.metadata })) as Record<string, unknown>;
  return { name: d.filename, path: d.path, size: bytes.length, hashes: hashBuffer(bytes), facts };
}

const sdistOf = (assets: AssetFile[]): AssetFile => assets.find((a) => a.name.endsWith('.tar.gz'))!;
const wheelOf = (assets: AssetFile[]): AssetFile => assets.find((a) => a.name.endsWith('.whl'))!;

function request(name: string, version: string, a: AssetFile, assets: AssetFile[], signal?: AbortSignal): PublishRequest {
  const v = target.targetVersion(version);
  return { name, version: v, coords: target.coordinates(name), asset: a, assets, isLast: a === assets.at(-1), signal };
}

const mark = (): number => standIn.log.at(-1)?.seq ?? 0;
const since = (seq: number) => standIn.log.filter((e) => e.seq > seq).map((e) => [e.operation, e.package, e.version, e.status]);
const stored = (pkg: string, version: string) => standIn.versions(REPO, 'pypi', undefined, pkg).find((v) => v.version === version);

/** A token straight from GetAuthorizationToken, as `aws codeartifact login --tool pip` would get it. */
async function pipToken(): Promise<string> {
  return (await client.send(new GetAuthorizationTokenCommand({ domain: DOMAIN, domainOwner: OWNER }))).authorizationToken!;
}

/** The real pip, isolated from any configuration, downloading from the stand-in only. */
async function pipDownload(spec: string, extra: string[] = []): Promise<{ code: number; stderr: string; dir: string }> {
  const dir = await mkdtemp(join(tmp, 'pip-'));
  const env = { PATH: '/usr/bin:/bin', HOME: join(tmp, 'home'), LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1', PYTHON_KEYRING_BACKEND: 'keyring.backends.null.Keyring' };
  const args = ['-m', 'pip', 'download', '--isolated', '--no-deps', '--no-cache-dir', '--disable-pip-version-check', '--no-input'];
  const r = await run(PYTHON, [...args, '--index-url', standIn.pypiIndexUrl(REPO, await pipToken()), ...extra, spec, '-d', dir], { env });
  return { code: r.code, stderr: r.stderr, dir };
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cam-pypi-target-'));
  await mkdir(join(tmp, 'home'));
  await writeFile(join(tmp, 'gitconfig'), '[user]\n\tname = T\n\temail = t@example.com\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n');
  standIn = await CodeArtifactStandIn.start({ domain: DOMAIN, domainOwner: OWNER, region: REGION, repositories: [REPO, 'pypi-store', 'npm-internal'], accessKeyId: ACCESS_KEY, quotas: false });
  client = new CodeartifactClient({ region: REGION, endpoint: standIn.url, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: 'not-a-secret' }, maxAttempts: 1 });
  limiter = new RecordingLimiter();
  ca = new CodeArtifact({ region: REGION, domain: DOMAIN, domainOwner: OWNER, tokenDurationSeconds: 3600 }, limiter, client);
  target = new PypiTarget(ca, REPO);
  main = await built(NAME, 'v1.2.0');
  otherBytes = await built(NAME, 'v1.2.0', { value: 'two' });
  fault1 = await built('fault-lib', 'v0.1.0');
  fault2 = await built('fault-lib', 'v0.2.0');
  foreign = await built('other-lib', 'v1.2.0');
  loose = await built('loose-lib', 'v1.0.0', { version: '1.0' });
}, 120_000);

afterAll(async () => {
  client?.destroy();
  await standIn?.stop();
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
});

describe('naming', () => {
  it('addresses a project by its PEP 503 name without a namespace, and a version by its PEP 440 normal form', () => {
    expect(target.format).toBe('pypi');
    expect(target.coordinates(NAME)).toEqual({ format: 'pypi', repository: REPO, package: NORMALISED });
    expect(target.coordinates('ACME__billing--lib')).toEqual(target.coordinates(NAME));
    expect(['v1.2.0', '1.0-RC1', 'V2.0.POST1', '1.0+Local_A'].map((v) => target.targetVersion(v))).toEqual(['1.2.0', '1.0rc1', '2.0.post1', '1.0+local.a']);
    expect(() => target.targetVersion('release-2024')).toThrow(expect.objectContaining({ code: 'EVERSION' }));
  });

  it('the builder names the files as setuptools does, not normalised; the target still files them under the normalised name', () => {
    expect(main.map((a) => a.name).sort()).toEqual(['Acme.Billing_Lib-1.2.0-py3-none-any.whl', 'Acme.Billing_Lib-1.2.0.tar.gz']);
  });
});

describe('preflight', () => {
  it('finds the PyPI endpoint and has the token accepted by it', async () => {
    const before = mark();
    await target.preflight();
    // the token probe names no project: nothing is looked up, nothing comes from an upstream
    expect(since(before)).toEqual([
      ['GetRepositoryEndpoint', undefined, undefined, 200],
      ['GetAuthorizationToken', undefined, undefined, 200],
      ['pypi:Unsupported', undefined, undefined, 404],
    ]);
  });

  it('is ETARGETREJECTED (404) for a repository that does not exist, and ETARGETAUTH when every token is refused', async () => {
    const missing = await failure(new PypiTarget(ca, 'no-such-repo').preflight());
    expect([missing.code, missing.status]).toEqual(['ETARGETREJECTED', 404]);

    // Tokens born expired: the first is dropped on its 401, the fresh one is refused too.
    const ca2 = new CodeArtifact({ region: REGION, domain: DOMAIN, domainOwner: OWNER, tokenDurationSeconds: 3600 }, new RecordingLimiter(), client);
    standIn.setTokenTtl(0);
    try {
      const before = mark();
      const refused = await failure(new PypiTarget(ca2, REPO).preflight());
      expect([refused.code, refused.status]).toEqual(['ETARGETAUTH', 401]);
      expect(since(before).filter(([op]) => op === 'pypi:Unsupported')).toEqual([
        ['pypi:Unsupported', undefined, undefined, 401],
        ['pypi:Unsupported', undefined, undefined, 401],
      ]);
      expect(ca2.tokenFetches).toBe(2);
    } finally {
      standIn.setTokenTtl(undefined);
    }
  });
});

describe('checkAssets', () => {
  it('accepts an sdist and a wheel of the project at the version, or wheels alone', async () => {
    await target.checkAssets(NAME, '1.2.0', main);
    await target.checkAssets('acme-billing-lib', 'v1.2.0', main);
    await target.checkAssets(NAME, '1.2', [wheelOf(main)]);
  });

  it('refuses a wheel of another project (EBADBUILD), another version (EVERSION), no wheel, two sdists, a file twice, facts not from the builder', async () => {
    const wrongProject = await failure(target.checkAssets(NAME, '1.2.0', [sdistOf(main), wheelOf(foreign)]));
    expect([wrongProject.code, wrongProject.expected, wrongProject.actual]).toEqual(['EBADBUILD', NORMALISED, 'other-lib']);
    expect(wrongProject.message).toContain(wheelOf(foreign).name);

    expect((await failure(target.checkAssets(NAME, '1.3.0', main))).code).toBe('EVERSION');
    expect((await failure(target.checkAssets(NAME, '1.2.0', [sdistOf(main)]))).code).toBe('EBADBUILD');
    expect((await failure(target.checkAssets(NAME, '1.2.0', [sdistOf(main), { ...sdistOf(otherBytes), name: 'Acme.Billing_Lib-01.2.0.tar.gz' }, wheelOf(main)]))).code).toBe('EBADBUILD');
    expect((await failure(target.checkAssets(NAME, '1.2.0', [...main, wheelOf(otherBytes)]))).code).toBe('EBADBUILD');
    expect((await failure(target.checkAssets(NAME, '1.2.0', [sdistOf(main), { ...wheelOf(main), facts: {} }]))).code).toBe('EBADBUILD');
    // the file name and the recorded facts must agree: a wheel's pyversion is its python tag
    const retagged = { ...wheelOf(main), facts: { ...wheelOf(main).facts, pyversion: 'cp311' } };
    expect((await failure(target.checkAssets(NAME, '1.2.0', [sdistOf(main), retagged]))).code).toBe('EBADBUILD');
    // a wheel file renamed to this project still carries the other project's metadata
    const renamed = { ...wheelOf(foreign), name: wheelOf(main).name };
    expect((await failure(target.checkAssets(NAME, '1.2.0', [sdistOf(main), renamed]))).code).toBe('EBADBUILD');
  });

  it('refuses more files than CodeArtifact keeps for one version (150) before anything is sent: a build of 151 wheels would leave 150 of them on the target', async () => {
    // a build command (or a setup.py writing into {outdir}) may make any number of wheels, each a valid one of this version
    const wheel = wheelOf(main);
    const tagged = (i: number): AssetFile => ({ ...wheel, name: wheel.name.replace(/-py3-none-any\.whl$/, `-${i}-py3-none-any.whl`) });
    const many = (count: number) => [sdistOf(main), ...Array.from({ length: count }, (_, i) => tagged(i + 1))];
    await target.checkAssets(NAME, '1.2.0', many(149));
    const before = mark();
    const e = await failure(target.checkAssets(NAME, '1.2.0', many(150)));
    expect([e.code, e.expected, e.actual]).toEqual(['EBADBUILD', 'at most 150 files', '151 files']);
    expect(since(before)).toEqual([]);
  });

  it('refuses a metadata Name that only lower-cases to the project (a Kelvin sign for k): the upload form would file it under another project', async () => {
    // JavaScript's and Python's lower() make U+212A KELVIN SIGN a "k", so "o\u212A-lib" normalises to ok-lib;
    // twine's safe_name (and ours) turns the sign into "-", and CodeArtifact files "o--lib" under o-lib
    const ok = await built('ok-lib', 'v0.1.0');
    const lying = ok.map((a) => ({ ...a, facts: { ...a.facts, metadata: { ...(a.facts.metadata as object), name: 'o\u212A-lib' } } }));
    const e = await failure(target.checkAssets('ok-lib', '0.1.0', lying));
    expect([e.code, e.expected]).toEqual(['EBADBUILD', 'ok-lib']);
    // the upload itself never sends a name of another project, whatever was recorded
    const before = mark();
    const p = await failure(target.publishAsset(request('ok-lib', 'v0.1.0', wheelOf(lying), lying)));
    expect(p.code).toBe('EBADBUILD');
    expect(since(before)).toEqual([]);
    expect(standIn.versions(REPO, 'pypi', undefined, 'o-lib')).toEqual([]);
  }, 60_000);
});

describe('file names the upload form would change', () => {
  it('a wheel whose build tag holds a quote, a backslash or a percent sign is EBADBUILD before anything is sent: the form sends it quoted (%22, \\\\), the target would file it under another name', async () => {
    const wheel = wheelOf(main);
    for (const tag of ['1"x', '1\\x', '1%22x']) {
      const odd: AssetFile = { ...wheel, name: wheel.name.replace(/-py3-none-any\.whl$/, `-${tag}-py3-none-any.whl`) };
      const before = mark();
      const e = await failure(target.checkAssets(NAME, '1.2.0', [sdistOf(main), odd]));
      expect([e.code, e.message]).toEqual(['EBADBUILD', expect.stringContaining(odd.name)]);
      expect(since(before)).toEqual([]);
    }
  });
});

describe('publish and verify', () => {
  it('is not verified before it is published (EVERIFY: no page), nor with a file missing (EVERIFY)', async () => {
    const none = await failure(target.verifyWithClient(NAME, '1.2.0', main));
    expect([none.code, none.status]).toEqual(['EVERIFY', 404]);
  });

  it('uploads the sdist and the wheel as twine does: both listed with our SHA-256, the simple index agrees, pip gets the same bytes', async () => {
    const before = mark();
    limiter.events = [];
    for (const a of main) expect(await target.publishAsset(request(NAME, 'v1.2.0', a, main))).toEqual({ kind: 'published' });
    const uploads = standIn.log.filter((e) => e.seq > before && e.operation === 'pypi:Upload');
    expect(uploads.map((e) => [e.method, e.path, e.package, e.version, e.status])).toEqual(
      main.map(() => ['POST', new URL(standIn.pypiEndpoint(REPO)).pathname, NORMALISED, '1.2.0', 200]),
    );
    expect(limiter.events.filter((e) => e.includes('publish'))).toEqual(['take publish+writes', 'succeeded publish+writes', 'take publish+writes', 'succeeded publish+writes']);

    const listed = await ca.versionAssets(target.coordinates(NAME), '1.2.0');
    expect(listed?.map((a) => [a.name, a.size, a.hashes['SHA-256']]).sort()).toEqual(main.map((a) => [a.name, a.size, a.hashes.sha256]).sort());
    const packages = await client.send(new ListPackagesCommand({ domain: DOMAIN, domainOwner: OWNER, repository: REPO, format: 'pypi' }));
    expect(packages.packages?.map((p) => [p.package, p.namespace])).toContainEqual([NORMALISED, undefined]);

    const readsBefore = mark();
    await target.verifyWithClient(NAME, '1.2.0', main);
    expect(since(readsBefore)).toEqual([['pypi:SimpleIndex', NORMALISED, undefined, 200]]);

    // pip takes the wheel by default, the sdist with --no-binary (it then prepares its metadata with the system setuptools)
    const wheel = await pipDownload(`${NAME}==1.2.0`);
    expect(wheel.code, wheel.stderr).toBe(0);
    expect(await readFile(join(wheel.dir, wheelOf(main).name))).toEqual(await readFile(wheelOf(main).path));
    const sdist = await pipDownload(`${NAME}==1.2.0`, ['--no-binary', ':all:', '--no-build-isolation']);
    expect(sdist.code, sdist.stderr).toBe(0);
    expect(await readFile(join(sdist.dir, sdistOf(main).name))).toEqual(await readFile(sdistOf(main).path));
  }, 60_000);

  it('uploads every file under the version the engine reads back, even where the metadata spells it another way (1.0 for v1.0.0)', async () => {
    expect(loose.map((a) => (a.facts.metadata as { version: string }).version)).toEqual(['1.0', '1.0']);
    await target.checkAssets('loose-lib', 'v1.0.0', loose);
    expect(await target.publishAsset(request('loose-lib', 'v1.0.0', sdistOf(loose), loose))).toEqual({ kind: 'published' });
    // only the sdist is there yet: the wheel is not listed, EVERIFY (which the engine retries)
    const partial = await failure(target.verifyWithClient('loose-lib', '1.0.0', loose));
    expect([partial.code, partial.expected]).toEqual(['EVERIFY', wheelOf(loose).name]);
    expect(await target.publishAsset(request('loose-lib', 'v1.0.0', wheelOf(loose), loose))).toEqual({ kind: 'published' });
    expect(standIn.versions(REPO, 'pypi', undefined, 'loose-lib').map((v) => [v.version, v.assets.length])).toEqual([['1.0.0', 2]]);
    expect((await ca.versionAssets(target.coordinates('loose-lib'), target.targetVersion('v1.0.0')))?.map((a) => a.name).sort()).toEqual(loose.map((a) => a.name).sort());
    await target.verifyWithClient('loose-lib', '1.0.0', loose);
    const fetched = await pipDownload('loose-lib==1.0.0');
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(await readFile(join(fetched.dir, wheelOf(loose).name))).toEqual(await readFile(wheelOf(loose).path));
  }, 60_000);

  it('an identical file again is accepted (200: published) and changes nothing, as CodeArtifact documents for PyPI', async () => {
    const revision = stored(NORMALISED, '1.2.0')?.revision;
    const before = mark();
    expect(await target.publishAsset(request(NAME, '1.2.0', wheelOf(main), main))).toEqual({ kind: 'published' });
    expect(since(before)).toEqual([['pypi:Upload', NORMALISED, '1.2.0', 200]]);
    expect(stored(NORMALISED, '1.2.0')?.revision).toBe(revision);
  });

  it('other bytes under a stored file name are `exists` (409): the engine then reads the target, whose bytes are untouched', async () => {
    expect(wheelOf(otherBytes).name).toBe(wheelOf(main).name);
    expect(wheelOf(otherBytes).hashes.sha256).not.toBe(wheelOf(main).hashes.sha256);
    const before = mark();
    expect(await target.publishAsset(request(NAME, '1.2.0', wheelOf(otherBytes), otherBytes))).toEqual({ kind: 'exists' });
    expect(standIn.log.filter((e) => e.seq > before).map((e) => [e.operation, e.status, e.errorType])).toEqual([['pypi:Upload', 409, 'ConflictException']]);
    expect(standIn.assetBytes(REPO, 'pypi', undefined, NORMALISED, '1.2.0', wheelOf(main).name)).toEqual(await readFile(wheelOf(main).path));
    // and pip's view still says ours
    await target.verifyWithClient(NAME, '1.2.0', main);
  });
});

describe('faults', () => {
  const FAULT = 'fault-lib';

  it('429 with Retry-After is ETHROTTLED with retryAfterMs, the buckets slow down, nothing is stored', async () => {
    standIn.addFault({ operation: 'pypi:Upload', package: FAULT, version: '0.1.0', status: 429, retryAfterSeconds: 3, times: 1 });
    limiter.events = [];
    const e = await failure(target.publishAsset(request(FAULT, 'v0.1.0', wheelOf(fault1), fault1)));
    expect([e.code, e.status, e.retryAfterMs]).toEqual(['ETHROTTLED', 429, 3000]);
    expect(limiter.events).toContain('throttled publish+writes');
    expect(standIn.log.at(-1)).toMatchObject({ operation: 'pypi:Upload', package: FAULT, status: 429, errorType: 'ThrottlingException' });
    expect(stored(FAULT, '0.1.0')).toBeUndefined();
  });

  it('revoked tokens: one 401, a fresh token, then the upload goes through', async () => {
    const fetches = ca.tokenFetches;
    standIn.revokeTokens();
    const before = mark();
    expect(await target.publishAsset(request(FAULT, 'v0.1.0', wheelOf(fault1), fault1))).toEqual({ kind: 'published' });
    expect(since(before)).toEqual([
      ['pypi:Upload', FAULT, '0.1.0', 401],
      ['GetAuthorizationToken', undefined, undefined, 200],
      ['pypi:Upload', FAULT, '0.1.0', 200],
    ]);
    expect(ca.tokenFetches).toBe(fetches + 1);
    expect(stored(FAULT, '0.1.0')?.assets.map((a) => a.name)).toEqual([wheelOf(fault1).name]);
  });

  it('500 after the file was stored (a lost answer) is `unknown`, and the file IS on the target with our SHA-256', async () => {
    standIn.addFault({ operation: 'pypi:Upload', package: FAULT, version: '0.1.0', status: 500, afterApply: true, times: 1 });
    const result = await target.publishAsset(request(FAULT, 'v0.1.0', sdistOf(fault1), fault1));
    expect(result.kind).toBe('unknown');
    expect(result.kind === 'unknown' && [result.error.code, result.error.status]).toEqual(['ETARGET', 500]);
    const listed = await ca.versionAssets(target.coordinates(FAULT), '0.1.0');
    expect(listed?.find((a) => a.name === sdistOf(fault1).name)?.hashes['SHA-256']).toBe(sdistOf(fault1).hashes.sha256);
    await target.verifyWithClient(FAULT, '0.1.0', fault1);
  });

  it('500 before anything was stored is `unknown` too, and the file is not there', async () => {
    standIn.addFault({ operation: 'pypi:Upload', package: FAULT, version: '0.2.0', status: 500, times: 1 });
    const before = mark();
    const result = await target.publishAsset(request(FAULT, 'v0.2.0', wheelOf(fault2), fault2));
    expect(result.kind === 'unknown' && [result.error.code, result.error.status]).toEqual(['ETARGET', 500]);
    expect(since(before)).toEqual([['pypi:Upload', FAULT, '0.2.0', 500]]);
    expect(await ca.versionAssets(target.coordinates(FAULT), '0.2.0')).toBeUndefined();
    expect((await failure(target.verifyWithClient(FAULT, '0.2.0', fault2))).code).toBe('EVERIFY');
  });

  it('a body that fails mid-stream (the file changed after it was hashed) is `unknown`, and the server stores nothing', async () => {
    const sdist = sdistOf(fault2);
    const original = await readFile(sdist.path);
    // Between preparing the request and sending it (inside the bucket wait), the blob gets other bytes of the same size.
    limiter.onTake = async (names) => {
      if (!names.includes('publish')) return;
      limiter.onTake = undefined;
      await writeFile(sdist.path, Buffer.alloc(original.length, 0x5a));
    };
    const before = mark();
    try {
      const result = await target.publishAsset(request(FAULT, 'v0.2.0', sdist, fault2));
      expect(result.kind).toBe('unknown');
      expect(result.kind === 'unknown' && result.error.code).toBe('ETARGET');
      expect(result.kind === 'unknown' && (result.error.cause as MigrateError).code).toBe('ELOCAL');
    } finally {
      limiter.onTake = undefined;
      await writeFile(sdist.path, original);
    }
    // the stand-in never got a whole request, so it neither stored nor logged one
    await new Promise((r) => setTimeout(r, 50));
    expect(since(before).filter(([op]) => op === 'pypi:Upload')).toEqual([]);
    expect(stored(FAULT, '0.2.0')).toBeUndefined();
    // with its bytes back, the same file goes through
    expect(await target.publishAsset(request(FAULT, 'v0.2.0', sdist, fault2))).toEqual({ kind: 'published' });
  });

  it('a blob that is not the one recorded is EBLOBMISSING before anything is sent', async () => {
    const before = mark();
    const changed = { ...wheelOf(fault2), hashes: { ...wheelOf(fault2).hashes, sha256: '0'.repeat(64) } };
    expect((await failure(target.publishAsset(request(FAULT, 'v0.2.0', changed, fault2)))).code).toBe('EBLOBMISSING');
    const gone = { ...wheelOf(fault2), path: join(tmp, 'no-such-blob') };
    expect((await failure(target.publishAsset(request(FAULT, 'v0.2.0', gone, fault2)))).code).toBe('EBLOBMISSING');
    expect(since(before).filter(([op]) => op === 'pypi:Upload')).toEqual([]);
  });

  it('a 400 from the endpoint is ETARGETREJECTED naming the file and quoting the server', async () => {
    standIn.addFault({ operation: 'pypi:Upload', package: FAULT, version: '0.2.0', status: 400, times: 1 });
    const e = await failure(target.publishAsset(request(FAULT, 'v0.2.0', wheelOf(fault2), fault2)));
    expect([e.code, e.status]).toEqual(['ETARGETREJECTED', 400]);
    expect(e.message).toContain(wheelOf(fault2).name);
    expect(e.message).toContain('Injected fault for pypi:Upload');
    expect(stored(FAULT, '0.2.0')?.assets.map((a) => a.name)).toEqual([sdistOf(fault2).name]);
  });

  it('verifyWithClient is EVERIFY when the index lists another file of the version (a wheel with a build tag pip would prefer)', async () => {
    const name = 'extra-file-lib';
    const files = await built(name, 'v3.0.0');
    for (const a of files) expect(await target.publishAsset(request(name, 'v3.0.0', a, files))).toEqual({ kind: 'published' });
    await target.verifyWithClient(name, '3.0.0', files);
    // someone else's wheel added to the version, as twine would: pip ranks a build tag above ours
    const theirs = { ...wheelOf(files), name: wheelOf(files).name.replace('-3.0.0-', '-3.0.0-1-') };
    expect(await target.publishAsset(request(name, 'v3.0.0', theirs, [theirs]))).toEqual({ kind: 'published' });
    const e = await failure(target.verifyWithClient(name, '3.0.0', files));
    expect([e.code, e.actual]).toEqual(['EVERIFY', theirs.name]);
    expect(e.message).toContain('pip may install it instead of ours');
  });

  it('verifyWithClient is EVERIFY for an sdist of the version in any archive pip takes (.tar.bz2, .tgz), uploaded under another spelling of it', async () => {
    const name = 'spelled-lib';
    const files = await built(name, 'v4.0.0');
    for (const a of files) expect(await target.publishAsset(request(name, 'v4.0.0', a, files))).toEqual({ kind: 'published' });
    await target.verifyWithClient(name, '4.0.0', files);
    // the target's version 4.0 is another version than 4.0.0 (the API check never reads it); pip takes both for ==4.0.0
    const theirs = { ...sdistOf(files), name: 'spelled_lib-4.0.tar.bz2' };
    expect(await target.publishAsset(request(name, '4.0', theirs, [theirs]))).toEqual({ kind: 'published' });
    const e = await failure(target.verifyWithClient(name, '4.0.0', files));
    expect([e.code, e.actual]).toEqual(['EVERIFY', theirs.name]);
  }, 60_000);

  it('verifyWithClient is EMISMATCH when the target lists other bytes under our file name', async () => {
    standIn.replaceAssetBytes(REPO, 'pypi', undefined, NORMALISED, '1.2.0', wheelOf(main).name, await readFile(wheelOf(otherBytes).path));
    const e = await failure(target.verifyWithClient(NAME, '1.2.0', main));
    expect([e.code, e.expected, e.actual]).toEqual(['EMISMATCH', wheelOf(main).hashes.sha256, wheelOf(otherBytes).hashes.sha256]);
  });
});

/** The links pip's own parser (pip 23, Debian's) reads from a page: file name, sha256, yanked. */
async function pipLinks(html: string): Promise<Array<[string, string, boolean]>> {
  const file = join(tmp, `index-${++n}.html`);
  await writeFile(file, html);
  const py = [
    'import json, sys',
    'from pip._internal.index.collector import IndexContent, parse_links',
    "page = IndexContent(open(sys.argv[1], 'rb').read(), 'text/html', encoding='utf-8', url='https://h/simple/x/')",
    "print(json.dumps([[l.filename, l.url.split('#sha256=')[1], l.is_yanked] for l in parse_links(page)]))",
  ].join('\n');
  const r = await run(PYTHON, ['-c', py, file]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Array<[string, string, boolean]>;
}

describe('parseSimpleIndex', () => {
  it('reads PEP 503 anchors: escaped hrefs, single quotes, extra attributes, the text as the file name', () => {
    const html = `<!DOCTYPE html><html><body>
      <a href="1.0/a_b-1.0.tar.gz#sha256=ABCDEF" data-requires-python="&gt;=3.7">a_b-1.0.tar.gz</a><br/>
      <A class='x' HREF='../../f/a_b-1.0-py3-none-any.whl#sha256=0123'>
        a_b-1.0-py3-none-any.whl </A>
      <a href="x/y%2Bz-1.0.tar.gz?a=1&amp;b=2#md5=ff"></a>
      <a name="no-href">ignored</a>
    </body></html>`;
    expect(parseSimpleIndex(html)).toEqual([
      { filename: 'a_b-1.0.tar.gz', hrefName: 'a_b-1.0.tar.gz', href: '1.0/a_b-1.0.tar.gz', hashes: { sha256: 'abcdef' }, yanked: false },
      { filename: 'a_b-1.0-py3-none-any.whl', hrefName: 'a_b-1.0-py3-none-any.whl', href: '../../f/a_b-1.0-py3-none-any.whl', hashes: { sha256: '0123' }, yanked: false },
      { filename: 'y+z-1.0.tar.gz', hrefName: 'y+z-1.0.tar.gz', href: 'x/y%2Bz-1.0.tar.gz?a=1&b=2', hashes: { md5: 'ff' }, yanked: false },
    ]);
  });

  it("sees the links pip's own parser sees, no others: a quoted '>' or 'href=' inside another attribute, links in a comment or a script, a yanked file", async () => {
    // what a lying index can do: hide a file pip will take from the check, or show the check a link pip never sees
    const html = `<!DOCTYPE html><html><body>
      <a data-requires-python=">=3.7" href="1.0/hidden-1.0-1-py3-none-any.whl#sha256=aa">hidden-1.0-1-py3-none-any.whl</a>
      <a title=' href="1.0/decoy-1.0.tar.gz#sha256=bb"' href="1.0/real-1.0.tar.gz#sha256=cc">real-1.0.tar.gz</a>
      <!-- <a href="1.0/commented-1.0.tar.gz#sha256=dd">commented-1.0.tar.gz</a> -->
      <script>document.write('<a href="1.0/scripted-1.0.tar.gz#sha256=ee">scripted-1.0.tar.gz</a>')</script>
      <a href="1.0/yanked-1.0-py3-none-any.whl#sha256=ff" data-yanked="">yanked-1.0-py3-none-any.whl</a>
      <a href="1.0/kept-1.0-py3-none-any.whl#sha256=0a">kept-1.0-py3-none-any.whl</a>
    </body></html>`;
    const pips = await pipLinks(html);
    expect(pips.map(([f]) => f)).toEqual(['hidden-1.0-1-py3-none-any.whl', 'real-1.0.tar.gz', 'yanked-1.0-py3-none-any.whl', 'kept-1.0-py3-none-any.whl']);
    expect(parseSimpleIndex(html).map((l) => [l.hrefName, l.hashes.sha256, l.yanked])).toEqual(pips);
  });

  it("names each link's file as pip does from its href: character references with or without ';', a trailing slash, an escape escaped twice, white space pip drops", async () => {
    // each href below is a file pip takes as lib-1.0.tar.gz (with this sha256): a lying index could list it beside ours,
    // other bytes under our file name, and the check must see that link as naming our file too
    const hrefs = [
      '1.0/lib-1.0.tar.gz/#sha256=a1',
      'x&sol;lib-1.0.tar.gz#sha256=a2',
      'lib-1.0.tar.gz&num;sha256=a3',
      'lib-1.0.tar.gz&#35sha256=a4',
      'lib-1.0.tar&#x2Egz#sha256=a5',
      'lib%252D1.0.tar.gz#sha256=a6',
      'x%FF/lib%252D1.0.tar.gz#sha256=a0',
      'https:lib-1.0.tar.gz#sha256=b2',
      'x-y:1.0/lib-1.0.tar.gz#sha256=b3',
      ' \tlib-1.0.tar.gz#sha256=a7',
      'lib-1.0.tar\n.gz#sha256=a8',
      'lib&#1;-1.0&period;tar.gz#sha256=a9',
      'https://h/1.0/lib-1.0.tar.gz?x=&#47;y&constructor;#sha256=b1',
    ];
    const html = hrefs.map((h) => `<a href="${h}">decoy</a>`).join('\n');
    const pips = await pipLinks(html);
    expect(pips.map(([f]) => f)).toEqual(hrefs.map(() => 'lib-1.0.tar.gz'));
    expect(parseSimpleIndex(html).map((l) => [l.hrefName, l.hashes.sha256, l.yanked])).toEqual(pips);
  });

  it("reads no hash from a link whose query names one too: pip takes that one first, never the fragment's", async () => {
    // pip searches the whole URL for the first `<algorithm>=` (its path escaped, so only the query and the fragment
    // count): `?x&sha256=…#sha256=<ours>` is a link pip checks against the query's value, and refuses our bytes
    const html = '<a href="1.0/f-1.0.tar.gz?x&sha256=bad#sha256=f1">f-1.0.tar.gz</a><a href="1.0/e-1.0.tar.gz?x=1#sha256=e1">e-1.0.tar.gz</a>';
    const script = [
      'import json, sys',
      'from pip._internal.index.collector import IndexContent, parse_links',
      "page = IndexContent(open(sys.argv[1], 'rb').read(), 'text/html', encoding='utf-8', url='https://h/simple/hashes/')",
      'print(json.dumps([[l.filename, l.hash_name, l.hash] for l in parse_links(page)]))',
    ].join('\n');
    const file = join(tmp, `index-${++n}.html`);
    await writeFile(file, html);
    const r = await run(PYTHON, ['-c', script, file]);
    expect(r.code, r.stderr).toBe(0);
    const pips = JSON.parse(r.stdout) as Array<[string, string, string]>;
    expect(pips[0]![2]).not.toBe('f1');
    expect(pips[1]).toEqual(['e-1.0.tar.gz', 'sha256', 'e1']);
    expect(parseSimpleIndex(html).map((l) => [l.hrefName, l.hashes])).toEqual([
      ['f-1.0.tar.gz', {}],
      ['e-1.0.tar.gz', { sha256: 'e1' }],
    ]);
  });

  it('a self-closing <script/> or <style/> holds no text for pip: the links after it are read, as pip reads them', async () => {
    // html.parser takes `<script/>` as a start-end tag; only `<script>` (or a '/' inside an unquoted value) starts raw text
    const html = `<script/><a href="1.0/a-1.0.tar.gz#sha256=a1">a-1.0.tar.gz</a>
      <style x="y" /><a href="1.0/b-1.0.tar.gz#sha256=b1">b-1.0.tar.gz</a>
      <script src=x/><a href="1.0/hidden-1.0.tar.gz#sha256=c1">hidden-1.0.tar.gz</a></script>
      <a href="1.0/c-1.0.tar.gz#sha256=d1">c-1.0.tar.gz</a>`;
    const pips = await pipLinks(html);
    expect(pips.map(([f]) => f)).toEqual(['a-1.0.tar.gz', 'b-1.0.tar.gz', 'c-1.0.tar.gz']);
    expect(parseSimpleIndex(html).map((l) => [l.hrefName, l.hashes.sha256, l.yanked])).toEqual(pips);
  });

  it("a tag that never ends ends the page, for pip and for the check alike; so do 50,000 of them, each read once", async () => {
    // no '>' after the second tag: pip waits for the rest of it, and so reads no link past it
    const html = `<a href="1.0/before-1.0.tar.gz#sha256=aa">before-1.0.tar.gz</a>
      <a href="1.0/open-1.0.tar.gz#sha256=bb" title=never-closed
      a href=1.0/after-1.0.tar.gz#sha256=cc after-1.0.tar.gz`;
    expect((await pipLinks(html)).map(([f]) => f)).toEqual(['before-1.0.tar.gz']);
    expect(parseSimpleIndex(html).map((l) => l.hrefName)).toEqual(['before-1.0.tar.gz']);
    // 50,000 unclosed tags and 50,000 anchors without their </a>: each once, whatever the page's size
    expect(parseSimpleIndex(`<a href="1.0/x-1.0.tar.gz#sha256=aa">${'<a x'.repeat(50_000)}`).map((l) => l.hrefName)).toEqual(['x-1.0.tar.gz']);
    expect(parseSimpleIndex('<a href="1.0/y-1.0.tar.gz#sha256=bb">'.repeat(50_000))).toHaveLength(50_000);
  });

  it('keeps the href\'s file name beside the text: pip goes by the href (a decoy anchor text cannot stand in for our file)', () => {
    const html = '<a href="../../files/lib-1.0.tar.gz#sha256=bbbb">decoy</a><a href="../../files/blob#sha256=aaaa">lib-1.0.tar.gz</a>';
    expect(parseSimpleIndex(html).map((l) => [l.filename, l.hrefName, l.hashes.sha256])).toEqual([
      ['decoy', 'lib-1.0.tar.gz', 'bbbb'],
      ['lib-1.0.tar.gz', 'blob', 'aaaa'],
    ]);
  });
});
