/**
 * `cam rewrite-lockfiles` on a yarn berry lockfile, proved with the real yarn 4
 * (@yarnpkg/cli-dist, a devDependency: tests never reach registry.npmjs.org).
 *
 * A registry behind a proxy: yarn asks the proxy (npmRegistryServer), whose packuments
 * name tarballs on the registries behind it (the sandbox's public registry, and the
 * private one for @acme). Those are no conventional tarball URL of npmRegistryServer,
 * so the real yarn writes each into its resolution (`::__archiveUrl=`), and downloads
 * from there whatever npmRegistryServer says. After `rewrite-lockfiles --write`, with
 * .yarnrc.yml pointed at npm-shared (token from the environment), the proxy stopped
 * and yarn's cache emptied, `yarn install --immutable` must accept the lockfile as it
 * is, fetch every tarball from npm-shared and find every checksum valid.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { makeTarball, publishVersion } from './support/npm-fixtures.js';
import { cleanEnv, publishWithDeps, run } from './fixtures/warm/project.js';

// resolved, never fetched: a missing devDependency fails here, loudly
const YARN = createRequire(import.meta.url).resolve('@yarnpkg/cli-dist/bin/yarn.js');

let te: TestEnv;
let job: string;
let app: string;
let npmShared: string;
let proxy: { url: string; log: string[]; stop(): Promise<void> };
let original: string;

const PACKAGES = ['@acme/ybcore@1.0.0', '@pubscope/yb-c@3.1.0', 'yb-a@1.0.0', 'yb-b@1.0.0', 'yb-b@2.0.0'];

/** A proxy in front of two registries, passing their tarball URLs through as they are (it forwards with their own Host). */
async function startProxy(routes: { scope: string; to: string }[], fallback: string): Promise<typeof proxy> {
  const log: string[] = [];
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    log.push(path);
    const decoded = decodeURIComponent(path);
    const target = new URL(routes.find((r) => decoded.startsWith(`/${r.scope}/`))?.to ?? fallback);
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path, headers: { ...req.headers, host: target.host } }, (upstream) => {
      res.writeHead(upstream.statusCode ?? 502, upstream.headers);
      upstream.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  let stopped = false;
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    stop: () =>
      stopped
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            stopped = true;
            server.closeAllConnections();
            server.close(() => resolve());
          }),
  };
}

/** The real yarn in `cwd`, with nothing of this machine's: its own HOME, no global cache, no telemetry, never immutable unless asked. */
function yarn(args: string[], cwd: string, extraEnv: Record<string, string> = {}) {
  const home = join(te.dir, 'yarn-home');
  mkdirSync(home, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...cleanEnv(), HOME: home, XDG_CONFIG_HOME: home, ...extraEnv };
  for (const k of Object.keys(env)) if (k.startsWith('YARN_') || k === 'CI' || k.startsWith('GITHUB_')) delete env[k];
  Object.assign(env, {
    YARN_ENABLE_TELEMETRY: '0',
    YARN_ENABLE_GLOBAL_CACHE: '0',
    YARN_ENABLE_PROGRESS_BARS: '0',
    YARN_ENABLE_COLORS: '0',
    YARN_ENABLE_IMMUTABLE_INSTALLS: '0',
    YARN_HTTP_RETRY: '0',
    YARN_IGNORE_PATH: '1',
    ...extraEnv,
  });
  return run(process.execPath, [YARN, ...args], { cwd, env });
}

const yarnrc = (lines: Record<string, unknown>) =>
  // npmMinimalAgeGate: yarn 4.18 holds back a version published less than a day ago, as every version here is
  // enableMirror: no copy of a package in yarn's global folder either, every one downloaded
  stringify({ nodeLinker: 'node-modules', enableGlobalCache: false, enableMirror: false, enableTelemetry: false, unsafeHttpWhitelist: ['127.0.0.1'], npmMinimalAgeGate: '0', ...lines });

const resolutions = (text: string) => [...text.matchAll(/^ {2}resolution: "(.*)"$/gm)].map((m) => m[1]!);
const archiveOf = (resolution: string) => decodeURIComponent(/::(?:.*&)?__archiveUrl=([^&]*)/.exec(resolution)?.[1] ?? '');

beforeAll(async () => {
  te = await startTestEnv({ publicRegistries: true });
  const pub = te.sandbox.publicRegistries!;
  npmShared = te.sandbox.standIn.npmEndpoint('npm-shared');
  await publishWithDeps(pub.npm, 'yb-b', '1.0.0');
  await publishWithDeps(pub.npm, 'yb-b', '2.0.0');
  await publishWithDeps(pub.npm, 'yb-a', '1.0.0', { 'yb-b': '^1.0.0' });
  await publishWithDeps(pub.npm, '@pubscope/yb-c', '3.1.0');
  // an internal package: on the private registry, the same bytes in npm-internal (as a run leaves it)
  const core = await makeTarball('@acme/ybcore', '1.0.0');
  await publishVersion(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, '@acme/ybcore', '1.0.0', core);
  await publishVersion(te.sandbox.descriptor.codeartifact.npmEndpoint, await te.targetToken(), '@acme/ybcore', '1.0.0', core);
  proxy = await startProxy([{ scope: '@acme', to: te.sandbox.privateNpm.url }], pub.npm.url);

  app = join(te.dir, 'projects/berry');
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'berry-app', version: '1.0.0', private: true, dependencies: { 'yb-a': '1.0.0', 'yb-b': '2.0.0', '@pubscope/yb-c': '3.1.0', '@acme/ybcore': '1.0.0' } }, null, 2)}\n`);
  writeFileSync(join(app, '.yarnrc.yml'), yarnrc({ npmRegistryServer: proxy.url }));
  const r = await yarn(['install'], app);
  if (r.code !== 0) throw new Error(`yarn install through the proxy failed:\n${r.stdout}\n${r.stderr}`);
  original = readFileSync(join(app, 'yarn.lock'), 'utf8');

  job = te.writeJob({ name: 'berry', privateNpm: { packages: ['@acme/ybcore'] }, github: false });
  const doc = parse(readFileSync(job, 'utf8')) as Record<string, unknown>;
  doc.warm = { lockfiles: ['projects/berry/yarn.lock'] };
  writeFileSync(job, stringify(doc));
}, 300_000);

afterAll(async () => {
  await proxy?.stop();
  await te?.stop();
});

describe('rewrite-lockfiles on a real yarn berry lockfile, installed by the real yarn', () => {
  it('the real yarn writes each tarball URL of a registry behind a proxy into its resolution (::__archiveUrl=)', () => {
    const pub = te.sandbox.publicRegistries!.npm.url;
    const npm = resolutions(original).filter((r) => r.includes('@npm:'));
    expect(npm.map((r) => r.replace(/::.*/, '').replace(/@npm:/, '@')).sort()).toEqual(PACKAGES);
    for (const r of npm) {
      const url = archiveOf(r);
      expect(url.startsWith(r.startsWith('@acme/') ? te.sandbox.privateNpm.url : pub), r).toBe(true);
    }
    expect(original).toMatch(/checksum: 10c0\/[0-9a-f]{128}/);
  });

  it('after --write, with npmRegistryServer at npm-shared and the old registry gone, `yarn install --immutable` takes the lockfile as it is, every tarball from npm-shared, every checksum valid', async () => {
    const w = await te.cli(['rewrite-lockfiles', job, '--write', '--json']);
    expect(w.code, w.stderr).toBe(0);
    // what the user is told to set in .yarnrc.yml, which is what is set below and nothing more
    const notes = (JSON.parse(w.stdout) as { files: { notes: string[] }[] }).files[0]!.notes.join('\n');
    for (const setting of ['npmRegistryServer', 'npmAuthToken', 'npmAlwaysAuth: true', 'npmScopes']) expect(notes).toContain(setting);
    const rewritten = readFileSync(join(app, 'yarn.lock'), 'utf8');
    const npm = resolutions(rewritten).filter((r) => r.includes('@npm:'));
    for (const r of npm) expect(archiveOf(r).startsWith(npmShared), r).toBe(true);
    // nothing but the resolutions changed: every checksum is the one yarn wrote
    expect(rewritten.replace(/^ {2}resolution: .*$/gm, '')).toBe(original.replace(/^ {2}resolution: .*$/gm, ''));

    // the old registry is gone, and nothing of the first install is left to use
    await proxy.stop();
    for (const p of ['.yarn', 'node_modules']) rmSync(join(app, p), { recursive: true, force: true });
    writeFileSync(join(app, '.yarnrc.yml'), yarnrc({ npmRegistryServer: npmShared, npmAuthToken: '${CAM_TEST_YARN_TOKEN}', npmAlwaysAuth: true }));
    const token = await te.targetToken();
    const since = te.sandbox.standIn.log.length;
    const proxied = proxy.log.length;
    const r = await yarn(['install', '--immutable'], app, { CAM_TEST_YARN_TOKEN: token });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(readFileSync(join(app, 'yarn.lock'), 'utf8')).toBe(rewritten);
    expect(JSON.parse(readFileSync(join(app, 'node_modules/yb-a/node_modules/yb-b/package.json'), 'utf8')).version).toBe('1.0.0');
    expect(JSON.parse(readFileSync(join(app, 'node_modules/yb-b/package.json'), 'utf8')).version).toBe('2.0.0');
    expect(existsSync(join(app, 'node_modules/@acme/ybcore/package.json'))).toBe(true);
    const tarballs = te.sandbox.standIn.log.slice(since).filter((e) => e.operation === 'npm:GetTarball');
    expect(tarballs.every((e) => e.repository === 'npm-shared' && e.status === 200)).toBe(true);
    expect(tarballs.map((e) => `${e.package}@${e.version}`).sort()).toEqual(PACKAGES);
    expect(proxy.log.length).toBe(proxied);

    // and yarn's own check of the cache against the lockfile's checksums, every tarball fetched again
    const check = await yarn(['install', '--immutable', '--check-cache'], app, { CAM_TEST_YARN_TOKEN: token });
    expect(check.code, `${check.stdout}\n${check.stderr}`).toBe(0);
    expect(readFileSync(join(app, 'yarn.lock'), 'utf8')).toBe(rewritten);

    // npmAlwaysAuth is needed: without it yarn downloads an unscoped package anonymously, which npm-shared refuses
    expect((await fetch(`${npmShared}yb-a/-/yb-a-1.0.0.tgz`)).status).toBe(401);
    rmSync(join(app, '.yarn'), { recursive: true, force: true });
    writeFileSync(join(app, '.yarnrc.yml'), yarnrc({ npmRegistryServer: npmShared, npmAuthToken: '${CAM_TEST_YARN_TOKEN}' }));
    const anonymous = await yarn(['install', '--immutable'], app, { CAM_TEST_YARN_TOKEN: token });
    expect(anonymous.code).toBe(1);
    expect(anonymous.stdout).toContain('yb-a@npm:1.0.0::__archiveUrl=');
    expect(anonymous.stdout).toContain('Invalid authentication (as an anonymous user)');
    writeFileSync(join(app, '.yarnrc.yml'), yarnrc({ npmRegistryServer: npmShared, npmAuthToken: '${CAM_TEST_YARN_TOKEN}', npmAlwaysAuth: true }));

    // hardened mode (yarn turns it on for a public repository's pull requests): every resolution
    // checked against what npm-shared answers, the cache emptied again. (These are all ranges'. A
    // dist-tag's (`"x": "latest"`) is refused there, YN0078 Invalid resolution, as it is in a lockfile
    // not rewritten: for a tag yarn wants the very reference npm-shared's packument gives, which
    // here has no __archiveUrl, and against CodeArtifact one with `:443` in it.)
    rmSync(join(app, '.yarn'), { recursive: true, force: true });
    const hardened = await yarn(['install', '--immutable'], app, { CAM_TEST_YARN_TOKEN: token, YARN_ENABLE_HARDENED_MODE: '1' });
    expect(hardened.code, `${hardened.stdout}\n${hardened.stderr}`).toBe(0);
    expect(readFileSync(join(app, 'yarn.lock'), 'utf8')).toBe(rewritten);
  });
});
