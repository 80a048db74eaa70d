/**
 * For the generic-target and goproxy tests: the CodeArtifact stand-in with a generic
 * repository (`go-internal`, as the sandbox names it), real Go module versions built by
 * `buildGoModule` from a tiny tagged git repository, and the real Go toolchain
 * (Debian's /usr/bin/go 1.19, offline) to run against `cam goproxy`.
 *
 * The stand-in is started on its own rather than through startTestEnv: these tests need
 * neither the Verdaccio registries nor the engine, only the control plane.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import { stringify } from 'yaml';
import { buildGoModule, type GoModuleBuild } from '../../src/builders/go.js';
import { Limiter } from '../../src/engine/limiter.js';
import { hashBuffer } from '../../src/integrity/hashes.js';
import { CodeArtifact } from '../../src/targets/codeartifact.js';
import { GenericTarget } from '../../src/targets/generic.js';
import type { AssetFile } from '../../src/targets/format.js';
import { CodeArtifactStandIn } from './codeartifact/index.js';

export const GO = '/usr/bin/go';
export const GENERIC_REPO = 'go-internal';
const DOMAIN = 'acme';
const OWNER = '111122223333';
const REGION = 'us-east-1';
/** Fake credentials only the stand-in accepts. */
const ACCESS_KEY = 'SANDBOXACCESSKEY';
const SECRET_KEY = 'sandbox-secret-key';
/** As CodeArtifact's own client: without a logger the SDK prints a warning for every failed streamed upload. */
export const QUIET = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Mixed case on purpose: the GOPROXY URLs escape it (`!platform/!hello`). */
export const MODULE = 'git.acme.example/Platform/Hello';
export const MODULE_V2 = `${MODULE}/v2`;

export interface GoTarget {
  standIn: CodeArtifactStandIn;
  client: CodeartifactClient;
  ca: CodeArtifact;
  /** Environment a child process needs to reach the stand-in through the SDK's default chain. */
  awsEnv: Record<string, string>;
  /** A job file naming the generic repository (and a source, which the schema requires). */
  writeJob(dir: string, opts?: { repository?: string }): Promise<string>;
  stop(): Promise<void>;
}

export async function startGoTarget(): Promise<GoTarget> {
  const standIn = await CodeArtifactStandIn.start({ domain: DOMAIN, domainOwner: OWNER, region: REGION, repositories: [GENERIC_REPO, 'npm-internal'], accessKeyId: ACCESS_KEY, quotas: false });
  const client = new CodeartifactClient({ region: REGION, endpoint: standIn.url, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }, maxAttempts: 1, logger: QUIET });
  const rates = { publish: 1000, getAsset: 1000, list: 1000, reads: 2000, writes: 1000 };
  const ca = new CodeArtifact({ region: REGION, domain: DOMAIN, domainOwner: OWNER, tokenDurationSeconds: 900 }, new Limiter(rates), client);
  return {
    standIn,
    client,
    ca,
    awsEnv: { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY, AWS_REGION: REGION, AWS_ENDPOINT_URL_CODEARTIFACT: standIn.url, AWS_EC2_METADATA_DISABLED: 'true' },
    async writeJob(dir, opts = {}) {
      const file = join(dir, `goproxy-${opts.repository ?? GENERIC_REPO}.yaml`);
      const job = {
        name: 'goproxy-test',
        target: { region: REGION, domain: DOMAIN, domainOwner: OWNER, repositories: { generic: { internal: opts.repository ?? GENERIC_REPO } } },
        sources: [{ id: 'hello', kind: 'git', url: 'file:///nowhere/hello.git', format: 'go' }],
        limits: { rates },
      };
      await writeFile(file, stringify(job));
      return file;
    },
    async stop() {
      client.destroy();
      await standIn.stop();
    },
  };
}

/**
 * `git.acme.example/big@v0.0.1` published to `target`'s generic repository (its zip written in
 * `dir`): a 16 MiB zip, more than the socket buffers hold, so a download stays in flight while
 * its client dawdles. Its bytes.
 */
export async function publishBigModule(target: GoTarget, dir: string): Promise<Buffer> {
  const big = randomBytes(16 * 1024 * 1024);
  const path = join(dir, 'big.zip');
  await writeFile(path, big);
  const generic = new GenericTarget(target.ca, GENERIC_REPO);
  const asset = { name: 'v0.0.1.zip', path, size: big.length, hashes: hashBuffer(big), facts: {} };
  const r = await generic.publishAsset({ name: 'git.acme.example/big', version: 'v0.0.1', coords: generic.coordinates('git.acme.example/big'), asset, assets: [asset], isLast: true });
  if (r.kind !== 'published') throw new Error(`publishing git.acme.example/big@v0.0.1: ${JSON.stringify(r)}`);
  return big;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function gitEnv(home: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.com' };
}

async function git(dir: string, home: string, args: string[], date?: string): Promise<string> {
  const env = { ...gitEnv(home), ...(date ? { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } : {}) };
  const r = await run('git', args, { cwd: dir, env });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A built version as the engine hands it to a target: `.zip`, `.mod`, `.info`, in upload order. */
export interface BuiltVersion {
  build: GoModuleBuild;
  assets: AssetFile[];
}

async function assetFiles(dir: string, build: GoModuleBuild): Promise<AssetFile[]> {
  const file = async (name: string, bytes: Buffer): Promise<AssetFile> => {
    const path = join(dir, `${build.modulePath.replace(/\//g, '_')}@${name}`);
    await writeFile(path, bytes);
    return { name, path, size: bytes.length, hashes: hashBuffer(bytes), facts: {} };
  };
  return [
    { name: build.assets.zip, path: build.zip.path, size: build.zip.size, hashes: build.zip.hashes, facts: { h1: build.zip.h1 } },
    { ...(await file(build.assets.mod, build.mod.bytes)), facts: { h1: build.mod.h1 } },
    await file(build.assets.info, build.info.bytes),
  ];
}

/**
 * One repository, four tags: v1.0.0, v1.1.0 and v1.2.0-rc.1 of `MODULE` at the root, then
 * go.mod moves to `MODULE/v2` and v2.0.0 is tagged (a major version on its own branch of
 * history, the "major branch" layout of https://go.dev/ref/mod#major-version-suffixes).
 * Each tag is checked out clean and built as `run` would build it.
 */
export async function buildHelloVersions(tmp: string): Promise<Map<string, BuiltVersion>> {
  const repo = join(tmp, 'repos', 'hello');
  const out = join(tmp, 'built');
  await mkdir(repo, { recursive: true });
  await mkdir(out, { recursive: true });
  await git(repo, tmp, ['init', '-q', '-b', 'main']);
  const tags: { tag: string; module: string; body: string; date: string }[] = [
    { tag: 'v1.0.0', module: MODULE, body: 'one', date: '2021-03-04T05:06:07Z' },
    { tag: 'v1.1.0', module: MODULE, body: 'one point one', date: '2021-04-04T05:06:07Z' },
    { tag: 'v1.2.0-rc.1', module: MODULE, body: 'a candidate', date: '2021-05-04T05:06:07Z' },
    { tag: 'v2.0.0', module: MODULE_V2, body: 'two', date: '2021-06-04T05:06:07Z' },
  ];
  for (const t of tags) {
    const files: Record<string, string> = {
      'go.mod': `module ${t.module}\n\ngo 1.19\n`,
      'hello.go': `package hello\n\n// Hello says which version this is.\nfunc Hello() string { return ${JSON.stringify(t.body)} }\n`,
      LICENSE: 'Copyright Acme. All rights reserved.\n',
    };
    for (const [name, content] of Object.entries(files)) {
      await mkdir(dirname(join(repo, name)), { recursive: true });
      await writeFile(join(repo, name), content);
    }
    await git(repo, tmp, ['add', '-A']);
    await git(repo, tmp, ['commit', '-q', '-m', t.tag], t.date);
    await git(repo, tmp, ['tag', t.tag]);
  }
  const built = new Map<string, BuiltVersion>();
  for (const t of tags) {
    await git(repo, tmp, ['checkout', '-q', t.tag]);
    const commitTime = new Date(Number((await git(repo, tmp, ['log', '-1', '--format=%ct'])).trim()) * 1000);
    const build = await buildGoModule({ checkoutDir: repo, subdir: '', version: t.tag, commitTime, zipPath: join(out, `${t.module.replace(/\//g, '_')}@${t.tag}.zip`) });
    built.set(`${build.modulePath}@${t.tag}`, { build, assets: await assetFiles(out, build) });
  }
  return built;
}

export interface GoDownload {
  Path: string;
  Version: string;
  Error?: string;
  Info?: string;
  GoMod?: string;
  Zip?: string;
  Sum?: string;
  GoModSum?: string;
}

/** The real go command, offline, with its own GOPATH (module cache) and no user configuration. */
export function goEnv(tmp: string, proxyUrl: string, gopath: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: tmp,
    GOPROXY: proxyUrl,
    GOSUMDB: 'off',
    GOPATH: gopath,
    GOMODCACHE: join(gopath, 'pkg', 'mod'),
    GOCACHE: join(tmp, 'gocache'),
    GOFLAGS: '-mod=mod -modcacherw',
    GO111MODULE: 'on',
    GOTOOLCHAIN: 'local',
    GOENV: 'off',
  };
}
