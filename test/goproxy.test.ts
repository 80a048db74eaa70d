/**
 * `cam goproxy` against the CodeArtifact stand-in, driven by the REAL Go toolchain
 * (Debian's /usr/bin/go 1.19, offline: GOPROXY is our server and nothing else, GOSUMDB off).
 * Module versions are built by buildGoModule from a real tagged repository and published
 * through GenericTarget exactly as `run` does (.zip, .mod unfinished, .info last); go must
 * then download every one with the h1 hashes the builder computed, list the versions, see
 * what is not there as "not found", and refuse a zip tampered on the target against go.sum.
 * https://go.dev/ref/mod#goproxy-protocol  https://go.dev/ref/mod#go-sum-files
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { buildGoModule } from '../src/builders/go.js';
import { goproxyCommand } from '../src/cli/goproxy.js';
import { MigrateError } from '../src/errors.js';
import { hashBuffer } from '../src/integrity/hashes.js';
import { compareGoVersions, latestVersion, listableVersions, noSumDbPrefixes, parseGoProxyPath, unescapeGo, versionsForPath } from '../src/goproxy/protocol.js';
import { allowedHost } from '../src/goproxy/callers.js';
import { startGoProxy, type GoProxy } from '../src/goproxy/server.js';
import { zipHasEntry } from '../src/goproxy/zip-entries.js';
import { MAX_MAJOR_MODULES_CHECKED } from '../src/goproxy/handler.js';
import { GenericTarget } from '../src/targets/generic.js';
import { buildHelloVersions, GENERIC_REPO, GO, goEnv, MODULE, MODULE_V2, publishBigModule, run, startGoTarget, type BuiltVersion, type GoDownload, type GoTarget } from './support/go-modules.js';
import { getWithHost, stalledClient } from './support/http-host.js';

const ROOT = resolve(import.meta.dirname, '..');
/** `--import tsx` by absolute URL: the child runs in a temp folder. */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** The escaped form go puts in URLs: upper case as !lower (module.EscapePath). */
const ESCAPED = 'git.acme.example/!platform/!hello';

let tmp: string;
let target: GoTarget;
let built: Map<string, BuiltVersion>;
let proxy: GoProxy;
let jobFile: string;
let n = 0;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cam-goproxy-'));
  target = await startGoTarget();
  built = await buildHelloVersions(tmp);
  const generic = new GenericTarget(target.ca, GENERIC_REPO);
  for (const [key, { build, assets }] of built) {
    for (let i = 0; i < assets.length; i++) {
      const r = await generic.publishAsset({ name: build.modulePath, version: build.version, coords: generic.coordinates(build.modulePath), asset: assets[i]!, assets, isLast: i === assets.length - 1 });
      if (r.kind !== 'published') throw new Error(`publishing ${key}: ${JSON.stringify(r)}`);
    }
  }
  jobFile = await target.writeJob(tmp);
  proxy = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client });
});
afterAll(async () => {
  await proxy?.stop();
  await target?.stop();
  await rm(tmp, { recursive: true, force: true });
});

function version(key: string): BuiltVersion {
  const v = built.get(key);
  if (!v) throw new Error(`no built version ${key}`);
  return v;
}

/** `go <args>` with a fresh module cache, from `cwd` (a consumer module, or an empty folder). */
async function go(args: string[], opts: { cwd?: string; gopath?: string } = {}) {
  const cwd = opts.cwd ?? join(tmp, `cwd-${++n}`);
  await mkdir(cwd, { recursive: true });
  return run(GO, args, { cwd, env: goEnv(tmp, proxy.url, opts.gopath ?? join(tmp, `gopath-${++n}`)) });
}

async function goDownload(mod: string, opts: { cwd?: string; gopath?: string } = {}): Promise<GoDownload> {
  const r = await go(['mod', 'download', '-json', mod], opts);
  if (r.stdout.trim() === '') throw new Error(`go mod download ${mod} printed nothing: ${r.stderr}`);
  return JSON.parse(r.stdout) as GoDownload;
}

async function get(path: string, init?: RequestInit): Promise<{ status: number; body: string; type: string | null }> {
  const res = await fetch(`${proxy.url}${path}`, init);
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

/** The 16 MiB module (publishBigModule), published once for the file. */
let bigPublished: Promise<Buffer> | undefined;
const publishBig = (): Promise<Buffer> => (bigPublished ??= publishBigModule(target, tmp));

/** Read what a stalled client was sent, to the end of the connection: its size (headers included). */
function drain(s: Socket): Promise<number> {
  return new Promise((done, fail) => {
    let n = 0;
    const timer = setTimeout(() => fail(new Error('the connection was not closed')), 10_000);
    s.on('data', (c: Buffer) => (n += c.length));
    s.once('close', () => {
      clearTimeout(timer);
      done(n);
    });
    s.resume();
  });
}

/**
 * `mod@v` with one Go file (built here, not from git), published as `run` publishes a version: .zip, .mod, then .info.
 * Its go.mod is `goMod`, else none: the .mod is then the one go synthesises (the module line alone).
 */
async function publishSmallModule(mod: string, v: string, goMod?: Buffer) {
  const zip = new yazl.ZipFile();
  if (goMod) zip.addBuffer(goMod, `${mod}@${v}/go.mod`);
  zip.addBuffer(Buffer.from('package small\n'), `${mod}@${v}/small.go`);
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream as AsyncIterable<Buffer>) chunks.push(c);
  const files: [string, Buffer][] = [
    [`${v}.zip`, Buffer.concat(chunks)],
    [`${v}.mod`, goMod ?? Buffer.from(`module ${mod}\n`)],
    [`${v}.info`, Buffer.from(JSON.stringify({ Version: v, Time: '2021-03-04T05:06:07Z' }))],
  ];
  const assets = await Promise.all(
    files.map(async ([name, bytes]) => {
      const path = join(tmp, `small-${++n}-${name}`);
      await writeFile(path, bytes);
      return { name, path, size: bytes.length, hashes: hashBuffer(bytes), facts: {} };
    }),
  );
  const generic = new GenericTarget(target.ca, GENERIC_REPO);
  for (let i = 0; i < assets.length; i++) {
    expect(await generic.publishAsset({ name: mod, version: v, coords: generic.coordinates(mod), asset: assets[i]!, assets, isLast: i === assets.length - 1 })).toEqual({ kind: 'published' });
  }
  return assets;
}

/** How many CodeArtifact requests the stand-in has seen. */
const requestCount = () => target.standIn.log.length;

describe('the GOPROXY protocol, pure parts', () => {
  it('unescapes module paths and versions as x/mod does, and refuses what go never sends', () => {
    expect(unescapeGo('git.acme.example/!platform/!hello')).toBe(MODULE);
    expect(unescapeGo('v1.0.0-!r!c.1')).toBe('v1.0.0-RC.1');
    expect(unescapeGo('git.acme.example/Platform')).toBeUndefined();
    expect(unescapeGo('a/!')).toBeUndefined();
    expect(unescapeGo('a/!1')).toBeUndefined();
    expect(parseGoProxyPath(`/${ESCAPED}/@v/list`)).toEqual({ kind: 'list', module: MODULE });
    expect(parseGoProxyPath(`/${ESCAPED}/v2/@v/v2.0.0.zip`)).toEqual({ kind: 'file', module: MODULE_V2, version: 'v2.0.0', ext: 'zip' });
    expect(parseGoProxyPath('/example.com/m/@v/v2.0.0+incompatible.info')).toEqual({ kind: 'file', module: 'example.com/m', version: 'v2.0.0+incompatible', ext: 'info' });
    expect(parseGoProxyPath(`/${ESCAPED}/@latest`)).toEqual({ kind: 'latest', module: MODULE });
    expect(parseGoProxyPath('/git.acme.example/Platform/@v/list').kind).toBe('bad');
    expect(parseGoProxyPath('/nodot/m/@v/list').kind).toBe('bad');
    expect(parseGoProxyPath('/example.com/../m/@v/list').kind).toBe('bad');
    // percent-encoded, the same: decoded before the path is checked, so no element escapes the module path
    expect(parseGoProxyPath('/example.com/%2e%2e/m/@v/list').kind).toBe('bad');
    expect(parseGoProxyPath('/example.com/m/@v/..%2f..%2fv1.0.0.info').kind).toBe('not-found');
    expect(parseGoProxyPath('/example.com/m/@v/v1.0.0.info%00').kind).toBe('not-found');
    expect(parseGoProxyPath('/example.com/%ff/@v/list').kind).toBe('bad');
    expect(parseGoProxyPath('/example.com/m+n/@v/list').kind).toBe('bad');
    expect(parseGoProxyPath('/example.com/m/@v/master.info').kind).toBe('not-found');
    expect(parseGoProxyPath('/example.com/m/@v/v1.2.info').kind).toBe('not-found');
    expect(parseGoProxyPath('/sumdb/sum.golang.org/supported').kind).toBe('not-found');
    // longer than CodeArtifact's 255 characters for a package name or a version: it cannot be there
    expect(parseGoProxyPath(`/example.com/${'a'.repeat(256)}/@v/list`).kind).toBe('not-found');
    expect(parseGoProxyPath(`/example.com/${'a'.repeat(255)}/@v/list`).kind).toBe('list');
    expect(parseGoProxyPath(`/example.com/m/@v/v1.0.0-${'a'.repeat(250)}.zip`).kind).toBe('not-found');
  });

  it('takes only a loopback name in Host (DNS rebinding), with or without a port; no Host is no browser', () => {
    for (const ok of ['127.0.0.1:8085', '127.0.0.1', 'localhost:8085', 'LOCALHOST', '[::1]:8085', '[::1]', undefined]) expect(allowedHost(ok), String(ok)).toBe(true);
    for (const bad of ['attacker.example:8085', 'attacker.example', '127.0.0.1.attacker.example', 'localhost.attacker.example:8085', '0.0.0.0:8085', '10.0.0.5:8085', '', '127.0.0.1:8085:1', '[::1]x']) expect(allowedHost(bad), bad).toBe(false);
  });

  it('lists tagged versions in semver order without pseudo-versions; @latest is the highest release, else the highest prerelease', () => {
    const versions = ['v1.10.0', 'v1.2.0', 'v1.2.0-rc.1', 'v0.0.0-20210304050607-abcdefabcdef', 'v2.0.0+incompatible', 'latest'];
    expect(listableVersions(versions)).toEqual(['v1.2.0-rc.1', 'v1.2.0', 'v1.10.0', 'v2.0.0+incompatible']);
    expect(latestVersion(versions)).toBe('v2.0.0+incompatible');
    expect(latestVersion(['v1.0.0', 'v1.1.0-rc.1'])).toBe('v1.0.0');
    expect(latestVersion(['v1.1.0-rc.1', 'v1.1.0-beta.2'])).toBe('v1.1.0-rc.1');
    expect(latestVersion(['v0.0.0-20210304050607-abcdefabcdef'])).toBe('v0.0.0-20210304050607-abcdefabcdef');
    expect(latestVersion([])).toBeUndefined();
    expect(['v1.0.0', 'v1.0.0-a'].sort(compareGoVersions)).toEqual(['v1.0.0-a', 'v1.0.0']);
    // golang.org/x/mod/semver's own test order (semver_test.go), canonical versions only
    const goOrder = ['v1.0.0-alpha', 'v1.0.0-alpha.1', 'v1.0.0-alpha.beta', 'v1.0.0-beta', 'v1.0.0-beta.2', 'v1.0.0-beta.11', 'v1.0.0-rc.1', 'v1.0.0', 'v1.2.0', 'v1.2.3-456', 'v1.2.3-456.789', 'v1.2.3-456-789', 'v1.2.3-456a', 'v1.2.3-pre', 'v1.2.3-pre.1', 'v1.2.3-zzz', 'v1.2.3', 'v1.2.3+incompatible'];
    expect([...goOrder].reverse().sort(compareGoVersions)).toEqual(goOrder);
    // numbers past what a JS number holds exactly are versions to Go: one such version must not break the module's list
    const huge = ['v1.0.9007199254740993', 'v1.1.0', 'v1.0.9007199254740992', 'v1.0.10'];
    expect(listableVersions(huge)).toEqual(['v1.0.10', 'v1.0.9007199254740992', 'v1.0.9007199254740993', 'v1.1.0']);
    expect(latestVersion(huge)).toBe('v1.1.0');
    expect(latestVersion(['v1.0.0', 'v99999999999999999999.0.0-rc.1'])).toBe('v1.0.0');
    expect(noSumDbPrefixes([MODULE_V2, MODULE, 'git.acme.example/Platform/HelloWorld', MODULE])).toEqual([MODULE, 'git.acme.example/Platform/HelloWorld']);
    // only the major version the module path allows (module.CheckPathMajor), as go checks it
    expect(versionsForPath('example.com/m', ['v0.1.0', 'v1.0.0', 'v2.0.0', 'v2.0.0+incompatible', 'main'])).toEqual(['v0.1.0', 'v1.0.0', 'v2.0.0+incompatible']);
    expect(versionsForPath('example.com/m/v3', ['v1.0.0', 'v3.0.0-rc.1', 'v3.1.0'])).toEqual(['v3.0.0-rc.1', 'v3.1.0']);
    expect(versionsForPath('gopkg.in/yaml.v2', ['v1.0.0', 'v2.4.0'])).toEqual(['v2.4.0']);
  });

  it('zipHasEntry reads the central directory (zip64 too), not names found in the data, and keeps only its tail', async () => {
    const zipOf = async (add: (z: yazl.ZipFile) => void, chunk = 1 << 16, zip64 = false) => {
      const z = new yazl.ZipFile();
      add(z);
      z.end({ forceZip64Format: zip64, comment: '' });
      const parts: Buffer[] = [];
      for await (const c of z.outputStream as AsyncIterable<Buffer>) parts.push(c);
      const bytes = Buffer.concat(parts);
      const chunks = Array.from({ length: Math.ceil(bytes.length / chunk) }, (_, i) => bytes.subarray(i * chunk, (i + 1) * chunk));
      return { chunks, sha256: hashBuffer(bytes).sha256, size: bytes.length };
    };
    const limits = (z: { sha256: string }, maxTail = 1 << 20) => ({ maxBytes: 1 << 30, maxTail, sha256: z.sha256 });
    // a zip stored, uncompressed, inside another: its central directory names m@v1.0.0/go.mod, the outer one does not
    const inner = await zipOf((z) => z.addBuffer(Buffer.from('module m\n'), 'm@v1.0.0/go.mod', { compress: false }));
    const outer = await zipOf((z) => {
      z.addBuffer(Buffer.concat(inner.chunks), 'm@v1.0.0/testdata/inner.zip', { compress: false });
      z.addReadStreamLazy('m@v1.0.0/a.go', { size: 10, compress: true }, (cb) => cb(null, Readable.from([Buffer.from('package a\n')])));
    });
    expect(await zipHasEntry(Readable.from(inner.chunks), 'm@v1.0.0/go.mod', limits(inner))).toBe(true);
    expect(await zipHasEntry(Readable.from(outer.chunks), 'm@v1.0.0/go.mod', limits(outer))).toBe(false);
    expect(await zipHasEntry(Readable.from(outer.chunks), 'm@v1.0.0/a.go', limits(outer))).toBe(true);
    // bytes other than the listed ones, or more than allowed: it cannot say
    expect(await zipHasEntry(Readable.from(inner.chunks), 'm@v1.0.0/go.mod', { ...limits(inner), sha256: outer.sha256 })).toBeUndefined();
    expect(await zipHasEntry(Readable.from(inner.chunks), 'm@v1.0.0/go.mod', { ...limits(inner), maxBytes: inner.size - 1 })).toBeUndefined();
    // zip64 end records (yazl writes them past 65535 entries; forced here on a few hundred)
    const many = await zipOf((z) => {
      for (let i = 0; i < 500; i++) z.addBuffer(Buffer.alloc(0), `m@v1.0.0/f${String(i).padStart(5, '0')}.go`, { compress: false, forceZip64Format: true });
      z.addBuffer(Buffer.from('module m\n'), 'm@v1.0.0/go.mod', { forceZip64Format: true });
    }, 1000, true);
    expect(await zipHasEntry(Readable.from(many.chunks), 'm@v1.0.0/go.mod', limits(many, 64 << 10))).toBe(true);
    expect(await zipHasEntry(Readable.from(many.chunks), 'm@v1.0.0/go.sum', limits(many, 64 << 10))).toBe(false);
    // a central directory larger than the tail kept: it cannot say
    expect(await zipHasEntry(Readable.from(many.chunks), 'm@v1.0.0/go.mod', limits(many, 4 << 10))).toBeUndefined();
  });
});

describe('the proxy over HTTP', () => {
  it('names the repository, the modules it holds as GONOSUMDB, and the environment go needs', () => {
    expect(proxy.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(proxy.repository).toBe(GENERIC_REPO);
    expect(proxy.modulePrefixes).toEqual([MODULE]);
    expect(proxy.goEnv).toEqual({ GOPROXY: proxy.url, GONOPROXY: 'none', GONOSUMDB: MODULE, GOFLAGS: '-mod=mod' });
  });

  it("the printed variables send go to the proxy even when the user's go env holds GOPRIVATE for the company's modules (go env -w)", async () => {
    // GONOPROXY defaults to GOPRIVATE: without its own value go fetches those modules from git and never
    // asks the proxy (git.acme.example does not resolve here: the download fails instead of passing unseen)
    const goenv = join(tmp, 'user-go-env');
    await writeFile(goenv, 'GOPRIVATE=git.acme.example\n');
    const cwd = join(tmp, `cwd-${++n}`);
    await mkdir(cwd, { recursive: true });
    const env = { ...goEnv(tmp, proxy.url, join(tmp, `gopath-${++n}`)), GOENV: goenv, GIT_TERMINAL_PROMPT: '0', ...proxy.goEnv };
    const r = await run(GO, ['mod', 'download', '-json', `${MODULE}@v1.0.0`], { cwd, env });
    const d = JSON.parse(r.stdout) as GoDownload;
    expect(d.Error).toBeUndefined();
    expect(d.Sum).toBe(version(`${MODULE}@v1.0.0`).build.zip.h1);
  });

  it('serves the list, the three files byte for byte, and @latest; 404 for what is not there, 400 for malformed paths', async () => {
    const list = await get(`/${ESCAPED}/@v/list`);
    expect(list).toMatchObject({ status: 200, body: 'v1.0.0\nv1.1.0\nv1.2.0-rc.1\n' });
    expect((await get(`/${ESCAPED}/v2/@v/list`)).body).toBe('v2.0.0\n');

    const v110 = version(`${MODULE}@v1.1.0`).build;
    const zip = await fetch(`${proxy.url}/${ESCAPED}/@v/v1.1.0.zip`);
    expect(zip.status).toBe(200);
    expect(zip.headers.get('content-type')).toBe('application/zip');
    expect(Buffer.from(await zip.arrayBuffer()).equals(await readFile(v110.zip.path))).toBe(true);
    expect(await get(`/${ESCAPED}/@v/v1.1.0.mod`)).toMatchObject({ status: 200, body: v110.mod.bytes.toString() });
    expect(await get(`/${ESCAPED}/@v/v1.1.0.info`)).toMatchObject({ status: 200, body: v110.info.bytes.toString(), type: 'application/json' });
    // @latest: the highest release, not the newer release candidate
    expect(JSON.parse((await get(`/${ESCAPED}/@latest`)).body)).toMatchObject({ Version: 'v1.1.0' });

    expect((await get(`/${ESCAPED}/@v/v1.9.9.info`)).status).toBe(404);
    expect((await get(`/${ESCAPED}/@v/master.info`)).status).toBe(404);
    expect((await get('/git.acme.example/!nobody/@v/list')).status).toBe(404);
    expect((await get('/git.acme.example/!nobody/@latest')).status).toBe(404);
    expect((await get('/git.acme.example/Platform/Hello/@v/list')).status).toBe(400);
    expect((await get('/')).status).toBe(404);
    expect((await get(`/${ESCAPED}/@v/list`, { method: 'POST' })).status).toBe(405);
  });

  it('HEAD is answered as GET without the body: the same status and headers, and a zip is not downloaded from CodeArtifact for it', async () => {
    const v110 = version(`${MODULE}@v1.1.0`).build;
    const zipBytes = await readFile(v110.zip.path);
    const downloads = () => target.standIn.log.filter((e) => e.operation === 'GetPackageVersionAsset').length;
    const before = downloads();
    const zip = await fetch(`${proxy.url}/${ESCAPED}/@v/v1.1.0.zip`, { method: 'HEAD' });
    expect(zip.status).toBe(200);
    expect(zip.headers.get('content-type')).toBe('application/zip');
    expect(zip.headers.get('content-length')).toBe(String(zipBytes.length));
    expect(await zip.text()).toBe('');
    expect(downloads()).toBe(before);
    const list = await fetch(`${proxy.url}/${ESCAPED}/@v/list`, { method: 'HEAD' });
    expect(list.status).toBe(200);
    expect(list.headers.get('content-length')).toBe(String('v1.0.0\nv1.1.0\nv1.2.0-rc.1\n'.length));
    expect((await fetch(`${proxy.url}/${ESCAPED}/@latest`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${proxy.url}/${ESCAPED}/@v/v1.9.9.info`, { method: 'HEAD' })).status).toBe(404);
    // the GET that follows on the same keep-alive connection is whole: a HEAD left no stray body behind
    expect(Buffer.from(await (await fetch(`${proxy.url}/${ESCAPED}/@v/v1.1.0.zip`)).arrayBuffer()).equals(zipBytes)).toBe(true);
    const post = await get(`/${ESCAPED}/@v/list`, { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('a version still Unfinished on the target (a run stopped half-way) is neither listed nor served, although its .zip is there', async () => {
    const generic = new GenericTarget(target.ca, GENERIC_REPO);
    const { assets } = version(`${MODULE}@v1.0.0`);
    const zip = { ...assets[0]!, name: 'v1.3.0.zip' };
    expect(await generic.publishAsset({ name: MODULE, version: 'v1.3.0', coords: generic.coordinates(MODULE), asset: zip, assets: [zip], isLast: false })).toEqual({ kind: 'published' });
    expect((await get(`/${ESCAPED}/@v/list`)).body).toBe('v1.0.0\nv1.1.0\nv1.2.0-rc.1\n');
    const notYet = await get(`/${ESCAPED}/@v/v1.3.0.zip`);
    expect(notYet.status).toBe(404);
    expect(notYet.body).toContain('Unfinished');
  });

  it('Unlisted: left out of the list and @latest, still served to a build pinned to it; Archived: not served', async () => {
    const ns = 'git.acme.example';
    const pkg = 'Platform+Hello';
    try {
      target.standIn.setVersionStatus(GENERIC_REPO, 'generic', ns, pkg, 'v1.1.0', 'Unlisted');
      expect((await get(`/${ESCAPED}/@v/list`)).body).toBe('v1.0.0\nv1.2.0-rc.1\n');
      expect(JSON.parse((await get(`/${ESCAPED}/@latest`)).body)).toMatchObject({ Version: 'v1.0.0' });
      const pinned = await goDownload(`${MODULE}@v1.1.0`);
      expect(pinned.Error).toBeUndefined();
      expect(pinned.Sum).toBe(version(`${MODULE}@v1.1.0`).build.zip.h1);
      target.standIn.setVersionStatus(GENERIC_REPO, 'generic', ns, pkg, 'v1.1.0', 'Archived');
      const archived = await get(`/${ESCAPED}/@v/v1.1.0.mod`);
      expect(archived.status).toBe(404);
      expect(archived.body).toContain('Archived');
    } finally {
      target.standIn.setVersionStatus(GENERIC_REPO, 'generic', ns, pkg, 'v1.1.0', 'Published');
    }
    expect((await get(`/${ESCAPED}/@v/list`)).body).toBe('v1.0.0\nv1.1.0\nv1.2.0-rc.1\n');
  });
});

describe('when CodeArtifact fails, or the client hangs up', () => {
  it('a throttle is waited out and retried; a failure that persists is a 502 with one log line, and go says so', async () => {
    const errors: string[] = [];
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client, onError: (l) => errors.push(l) });
    try {
      target.standIn.addFault({ operation: 'ListPackageVersions', package: 'git.acme.example/Platform+Hello', status: 429, retryAfterSeconds: 1, times: 1 });
      const throttled = await fetch(`${p.url}/${ESCAPED}/@v/list`);
      expect(throttled.status).toBe(200);
      expect(await throttled.text()).toBe('v1.0.0\nv1.1.0\nv1.2.0-rc.1\n');
      expect(target.standIn.log.filter((e) => e.operation === 'ListPackageVersions').map((e) => e.status).slice(-2)).toEqual([429, 200]);
      expect(errors).toEqual([]);

      target.standIn.addFault({ operation: 'DescribePackageVersion', package: 'git.acme.example/Platform+Hello', status: 500 });
      const failed = await fetch(`${p.url}/${ESCAPED}/@v/v1.0.0.info`);
      expect(failed.status).toBe(502);
      expect(await failed.text()).toContain('ETARGET');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain('/@v/v1.0.0.info');
      const r = await run(GO, ['mod', 'download', '-json', `${MODULE}@v1.0.0`], { cwd: tmp, env: goEnv(tmp, p.url, join(tmp, 'gopath-502')) });
      expect(r.code).not.toBe(0);
      expect((JSON.parse(r.stdout) as GoDownload).Error).toContain('502 Bad Gateway');
    } finally {
      target.standIn.clearFaults();
      await p.stop();
    }
  });

  it('credentials that expire while serving: a 502 naming ETARGETCREDENTIALS, and a log line that says to renew them and restart the proxy (not "rerun")', async () => {
    const errors: string[] = [];
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client, onError: (l) => errors.push(l) });
    try {
      target.standIn.addFault({ operation: 'ListPackageVersions', status: 403, errorType: 'ExpiredTokenException', message: 'The security token included in the request is expired' });
      const res = await fetch(`${p.url}/${ESCAPED}/@v/list`);
      expect(res.status).toBe(502);
      expect(await res.text()).toContain('ETARGETCREDENTIALS');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain('ETARGETCREDENTIALS');
      expect(errors[0]).toContain('start it again');
      expect(errors[0]).not.toContain('rerun');
    } finally {
      target.standIn.clearFaults();
      await p.stop();
    }
  });

  it('a repository deleted while the proxy serves is a 502 for every module, not "not found": GOPROXY=<proxy>,direct must not quietly fetch internal modules from their origin', async () => {
    // a repository of its own (the stand-in's npm-internal, unused here), deleted half-way
    const repo = 'npm-internal';
    const generic = new GenericTarget(target.ca, repo);
    const { build, assets } = version(`${MODULE}@v1.0.0`);
    for (let i = 0; i < assets.length; i++) {
      expect(await generic.publishAsset({ name: MODULE, version: build.version, coords: generic.coordinates(MODULE), asset: assets[i]!, assets, isLast: i === assets.length - 1 })).toEqual({ kind: 'published' });
    }
    const errors: string[] = [];
    const p = await startGoProxy({ job: await target.writeJob(tmp, { repository: repo }), port: 0, codeartifactClient: target.client, onError: (l) => errors.push(l) });
    try {
      expect((await fetch(`${p.url}/${ESCAPED}/@v/list`)).status).toBe(200);
      target.standIn.deleteRepository(repo);
      for (const path of [`/${ESCAPED}/@v/list`, `/${ESCAPED}/@latest`, `/${ESCAPED}/@v/v1.0.0.info`, `/${ESCAPED}/@v/v1.0.0.zip`, '/git.acme.example/!nobody/@v/list']) {
        expect((await fetch(`${p.url}${path}`)).status, path).toBe(502);
      }
      expect(errors.length).toBeGreaterThanOrEqual(5);
      // go stops at the 502 instead of moving on to the next entry (off stands for direct here: nothing is fetched)
      const r = await run(GO, ['mod', 'download', '-json', `${MODULE}@v1.0.0`], { cwd: tmp, env: goEnv(tmp, `${p.url},off`, join(tmp, 'gopath-deleted')) });
      expect(r.code).not.toBe(0);
      const d = JSON.parse(r.stdout) as GoDownload;
      expect(d.Error).toContain('502 Bad Gateway');
      expect(d.Error).not.toContain('GOPROXY=off');
    } finally {
      await p.stop();
    }
  });

  it('a client that hangs up in the middle of a zip costs nothing: no error logged, the next request is served', async () => {
    // a zip large enough to be in flight when the client goes (go's own limit is 500 MB)
    const big = await publishBig();

    const errors: string[] = [];
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client, onError: (l) => errors.push(l) });
    try {
      const controller = new AbortController();
      const res = await fetch(`${p.url}/git.acme.example/big/@v/v0.0.1.zip`, { signal: controller.signal });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const first = await reader.read();
      expect(first.value!.length).toBeLessThan(big.length);
      controller.abort();
      await expect(reader.read()).rejects.toThrow();
      const again = await fetch(`${p.url}/git.acme.example/big/@v/v0.0.1.zip`);
      expect(Buffer.from(await again.arrayBuffer()).equals(big)).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await p.stop();
    }
  });
});

describe('hostile and careless clients, a stuck or changed target', () => {
  it('answers only to a loopback name in Host: a web page that rebinds its own name to 127.0.0.1 reads nothing, and CodeArtifact is not asked', async () => {
    const port = new URL(proxy.url).port;
    const before = requestCount();
    const rebound = await getWithHost(proxy.url, `/${ESCAPED}/@v/list`, `rebind.attacker.example:${port}`);
    expect(rebound.status).toBe(421);
    expect(rebound.body).not.toContain('v1.0.0');
    expect((await getWithHost(proxy.url, `/${ESCAPED}/@v/v1.1.0.zip`, 'attacker.example')).status).toBe(421);
    expect(requestCount()).toBe(before);
    expect(await getWithHost(proxy.url, `/${ESCAPED}/@v/list`, `localhost:${port}`)).toMatchObject({ status: 200, body: 'v1.0.0\nv1.1.0\nv1.2.0-rc.1\n' });
    expect((await getWithHost(proxy.url, `/${ESCAPED}/@v/list`, `127.0.0.1:${port}`)).status).toBe(200);
  });

  it('does not answer a web page that points the browser at the proxy itself (Origin, Sec-Fetch-Site): it cannot probe which modules exist, and CodeArtifact is not asked', async () => {
    const before = requestCount();
    const fromPages: Record<string, string>[] = [{ 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' }, { 'sec-fetch-site': 'same-site' }, { origin: 'https://attacker.example' }, { origin: 'null' }];
    for (const headers of fromPages) {
      for (const path of [`/${ESCAPED}/@v/list`, `/${ESCAPED}/@v/v1.1.0.zip`, '/git.acme.example/!nobody/@v/list']) {
        const res = await get(path, { headers });
        expect(res.status, `${JSON.stringify(headers)} ${path}`).toBe(403);
        expect(res.body).not.toContain('v1.0.0');
      }
    }
    expect(requestCount()).toBe(before);
    // a URL typed in the address bar, and go (neither header), are answered
    expect((await get(`/${ESCAPED}/@v/list`, { headers: { 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate' } })).status).toBe(200);
    expect((await get(`/${ESCAPED}/@v/list`)).status).toBe(200);
  });

  it('a module path or version too long for CodeArtifact is "not found" (go goes on to the next proxy), not a 502: nothing is asked, nothing logged', async () => {
    const errors: string[] = [];
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client, onError: (l) => errors.push(l) });
    try {
      const before = requestCount();
      const long = `git.acme.example/${'a'.repeat(300)}`;
      for (const path of [`/${long}/@v/list`, `/${long}/@latest`, `/${long}/@v/v1.0.0.zip`, `/${ESCAPED}/@v/v1.0.0-${'a'.repeat(300)}.info`]) {
        expect((await fetch(`${p.url}${path}`)).status, path).toBe(404);
      }
      expect(requestCount()).toBe(before);
      // GOPROXY=<proxy>,off: go moves on to the next entry only after a 404 or 410
      const r = await run(GO, ['mod', 'download', '-json', `${long}@v1.0.0`], { cwd: tmp, env: goEnv(tmp, `${p.url},off`, join(tmp, 'gopath-long')) });
      expect(r.code).not.toBe(0);
      expect((JSON.parse(r.stdout) as GoDownload).Error).toContain('module lookup disabled by GOPROXY=off');
      expect(errors).toEqual([]);
    } finally {
      await p.stop();
    }
  });

  it("a zip CodeArtifact kept sending while this process was busy past the idle time is served whole, nothing logged: this process's own stall is not CodeArtifact's silence", async () => {
    const big = await publishBig();
    const errors: string[] = [];
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client, onError: (l) => errors.push(l), idleTimeoutMs: 500, upstreamTimeoutMs: 600_000 });
    try {
      const res = await fetch(`${p.url}/git.acme.example/big/@v/v0.0.1.zip`);
      expect(res.status).toBe(200);
      // busy for 1.5 s in an I/O callback (a long synchronous parse): the loop then runs its
      // timers before it polls again, and the download's idle timer is overdue
      await new Promise<void>((done) =>
        void readFile(jobFile).then(() => {
          const until = Date.now() + 1500;
          while (Date.now() < until);
          done();
        }),
      );
      expect(Buffer.from(await res.arrayBuffer()).equals(big)).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await p.stop();
    }
  });

  it('clients that never read a zip cannot take every connection to CodeArtifact: @v/list still answers, they are cut off after the idle time, nothing is logged, stop() is prompt', async () => {
    const big = await publishBig();
    const errors: string[] = [];
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client, onError: (l) => errors.push(l), idleTimeoutMs: 2000 });
    const asked = () => target.standIn.log.filter((e) => e.operation === 'GetPackageVersionAsset').length;
    const askedBefore = asked();
    // more than the SDK's 50 connections to CodeArtifact
    const stalled = Array.from({ length: 60 }, () => stalledClient(p.url, '/git.acme.example/big/@v/v0.0.1.zip'));
    try {
      await new Promise((r) => setTimeout(r, 500));
      // starved, it would never answer: the bound is a hang check, generous for a loaded machine (no speed is measured here)
      const list = await fetch(`${p.url}/${ESCAPED}/@v/list`, { signal: AbortSignal.timeout(30_000) });
      expect(await list.text()).toBe('v1.0.0\nv1.1.0\nv1.2.0-rc.1\n');
      // every one is hung up on before the end of its zip: the first 32 after 2 s without progress, the rest after their
      // turn. Each has had its turn once CodeArtifact was asked for its zip; then its 2 s, and room for a loaded machine
      // (a fixed 7 s from the start was too short there: a client not cut off yet read the whole zip below)
      for (let i = 0; i < 1200 && asked() < askedBefore + 60; i++) await new Promise((r) => setTimeout(r, 50));
      expect(asked()).toBe(askedBefore + 60);
      await new Promise((r) => setTimeout(r, 6000));
      for (const received of await Promise.all(stalled.map(drain))) expect(received).toBeLessThan(big.length);
      const again = await fetch(`${p.url}/git.acme.example/big/@v/v0.0.1.zip`);
      expect(Buffer.from(await again.arrayBuffer()).equals(big)).toBe(true);
      expect(errors).toEqual([]);
      // and a stop with downloads in flight does not wait for them
      const more = Array.from({ length: 3 }, () => stalledClient(p.url, '/git.acme.example/big/@v/v0.0.1.zip'));
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      await p.stop();
      // a stop that waited for them would wait for ever (they never read): a hang check, not a speed figure
      expect(Date.now() - started).toBeLessThan(10_000);
      for (const received of await Promise.all(more.map(drain))) expect(received).toBeLessThan(big.length);
    } finally {
      for (const s of stalled) s.destroy();
      await p.stop();
    }
  });

  it('a download that waits past the deadline for one of the 32 slots (clients that do not read hold them) is a 503 that says so, not a 504 blaming CodeArtifact, which was not asked', async () => {
    await publishBig();
    const errors: string[] = [];
    // the idle cut-off far off: the slots stay held for the whole test
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client, onError: (l) => errors.push(l), upstreamTimeoutMs: 1500, idleTimeoutMs: 600_000 });
    const downloads = () => target.standIn.log.filter((e) => e.operation === 'GetPackageVersionAsset').length;
    const before = downloads();
    const stalled = Array.from({ length: 32 }, () => stalledClient(p.url, '/git.acme.example/big/@v/v0.0.1.zip'));
    try {
      // every slot taken: each of them has asked CodeArtifact for the zip
      while (downloads() < before + 32) await new Promise((r) => setTimeout(r, 50));
      const waited = await fetch(`${p.url}/${ESCAPED}/@v/v1.1.0.zip`);
      expect(waited.status).toBe(503);
      expect(waited.headers.get('retry-after')).toBe('5');
      expect(await waited.text()).toContain('32 downloads in flight');
      expect(downloads()).toBe(before + 32);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain('32 downloads were in flight');
      expect(errors[0]).not.toContain('CodeArtifact did not answer');
      // the list needs no slot
      expect((await fetch(`${p.url}/${ESCAPED}/@v/list`)).status).toBe(200);
    } finally {
      for (const s of stalled) s.destroy();
      await p.stop();
    }
  });

  it('CodeArtifact that never answers is a 504 after the deadline, for a listing and for a download (go says so); the next request is served', async () => {
    const errors: string[] = [];
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client, onError: (l) => errors.push(l), upstreamTimeoutMs: 1000 });
    try {
      target.standIn.addFault({ operation: 'ListPackageVersions', status: 500, hang: true });
      const started = Date.now();
      const list = await fetch(`${p.url}/${ESCAPED}/@v/list`, { signal: AbortSignal.timeout(30_000) });
      expect(list.status).toBe(504);
      // the stand-in never answers: without the deadline this would not end at all (a hang check, generous under load)
      expect(Date.now() - started).toBeLessThan(20_000);
      target.standIn.clearFaults();

      target.standIn.addFault({ operation: 'GetPackageVersionAsset', status: 500, hang: true });
      const r = await run(GO, ['mod', 'download', '-json', `${MODULE}@v1.0.0`], { cwd: tmp, env: goEnv(tmp, p.url, join(tmp, 'gopath-504')) });
      expect(r.code).not.toBe(0);
      expect((JSON.parse(r.stdout) as GoDownload).Error).toContain('504 Gateway Timeout');
      target.standIn.clearFaults();

      expect((await fetch(`${p.url}/${ESCAPED}/@v/list`)).status).toBe(200);
      expect(errors.length).toBeGreaterThanOrEqual(2);
      for (const line of errors) expect(line).toContain('ETIMEDOUT');
    } finally {
      target.standIn.clearFaults();
      await p.stop();
    }
  });

  it('bytes that changed in storage (the listing still holds the sha256 published) are never served whole: the download is cut off, go records no go.sum line, one EINTEGRITY line is logged', async () => {
    const errors: string[] = [];
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client, onError: (l) => errors.push(l) });
    const ns = 'git.acme.example';
    const pkg = 'Platform+Hello';
    const original = target.standIn.assetBytes(GENERIC_REPO, 'generic', ns, pkg, 'v1.0.0', 'v1.0.0.zip')!;
    const rotten = Buffer.from(original);
    rotten[rotten.length - 30]! ^= 0xff;
    target.standIn.replaceAssetBytes(GENERIC_REPO, 'generic', ns, pkg, 'v1.0.0', 'v1.0.0.zip', rotten, { keepHashes: true });
    try {
      await expect(fetch(`${p.url}/${ESCAPED}/@v/v1.0.0.zip`).then((res) => res.arrayBuffer())).rejects.toThrow();
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain('EINTEGRITY');
      expect(errors[0]).toContain(hashBuffer(original).sha256);

      const r = await run(GO, ['mod', 'download', '-json', `${MODULE}@v1.0.0`], { cwd: tmp, env: goEnv(tmp, p.url, join(tmp, 'gopath-rotten')) });
      expect(r.code).not.toBe(0);
      const d = JSON.parse(r.stdout) as GoDownload;
      expect(d.Error).toBeDefined();
      expect(d.Sum).toBeUndefined();
    } finally {
      target.standIn.replaceAssetBytes(GENERIC_REPO, 'generic', ns, pkg, 'v1.0.0', 'v1.0.0.zip', original, { keepHashes: true });
      await p.stop();
    }
    expect((await goDownload(`${MODULE}@v1.0.0`)).Sum).toBe(version(`${MODULE}@v1.0.0`).build.zip.h1);
  });
});

describe('the real go command through the proxy', () => {
  it('go mod download gets every version with the h1 hashes the builder computed', async () => {
    const gopath = join(tmp, 'gopath-all');
    for (const [key, { build }] of built) {
      const d = await goDownload(key, { gopath });
      expect(d.Error, key).toBeUndefined();
      expect({ path: d.Path, version: d.Version, sum: d.Sum, goModSum: d.GoModSum }).toEqual({ path: build.modulePath, version: build.version, sum: build.zip.h1, goModSum: build.mod.h1 });
    }
  });

  it('go list -m -versions and @latest see the Published versions', async () => {
    const versions = await go(['list', '-m', '-versions', MODULE]);
    expect(versions.stderr).toBe('');
    expect(versions.stdout.trim()).toBe(`${MODULE} v1.0.0 v1.1.0 v1.2.0-rc.1`);
    const latest = await go(['list', '-m', `${MODULE}@latest`]);
    expect(latest.stdout.trim()).toBe(`${MODULE} v1.1.0`);
    expect((await go(['list', '-m', '-versions', MODULE_V2])).stdout.trim()).toBe(`${MODULE_V2} v2.0.0`);
  });

  it('a module with Published pseudo-versions only: @v/list is empty (200), not "not found", so go asks @latest and finds it', async () => {
    const mod = 'git.acme.example/pseudo';
    const v = 'v0.0.0-20210304050607-abcdefabcdef';
    const assets = await publishSmallModule(mod, v);
    const generic = new GenericTarget(target.ca, GENERIC_REPO);
    expect(await get('/git.acme.example/pseudo/@v/list')).toMatchObject({ status: 200, body: '' });
    expect(JSON.parse((await get('/git.acme.example/pseudo/@latest')).body)).toMatchObject({ Version: v });
    const latest = await go(['list', '-m', `${mod}@latest`]);
    expect(latest.stderr).toBe('');
    expect(latest.stdout.trim()).toBe(`${mod} ${v}`);
    // a module with no version at all is still "not found", and so is one whose versions are no Go versions (go falls through)
    expect((await get('/git.acme.example/!nobody/@v/list')).status).toBe(404);
    const branch = { ...assets[2]!, name: 'main.info' };
    expect(await generic.publishAsset({ name: 'git.acme.example/branchy', version: 'main', coords: generic.coordinates('git.acme.example/branchy'), asset: branch, assets: [branch], isLast: true })).toEqual({ kind: 'published' });
    expect((await get('/git.acme.example/branchy/@v/list')).status).toBe(404);
  });

  it('a version of another major than the module path allows (v2.0.0 under a path without /v2) is neither listed nor @latest: go would pick it as latest and then refuse it', async () => {
    const mod = 'git.acme.example/majors';
    await publishSmallModule(mod, 'v1.0.0');
    // not something run publishes (the build checks the major), but the repository may hold it
    await publishSmallModule(mod, 'v2.0.0');
    await publishSmallModule(`${mod}/v2`, 'v1.5.0');
    await publishSmallModule(`${mod}/v2`, 'v2.1.0');
    expect(await get(`/${mod}/@v/list`)).toMatchObject({ status: 200, body: 'v1.0.0\n' });
    expect(JSON.parse((await get(`/${mod}/@latest`)).body)).toMatchObject({ Version: 'v1.0.0' });
    expect(await get(`/${mod}/v2/@v/list`)).toMatchObject({ status: 200, body: 'v2.1.0\n' });
    const latest = await goDownload(`${mod}@latest`);
    expect(latest.Error).toBeUndefined();
    expect(latest.Version).toBe('v1.0.0');
    expect((await go(['list', '-m', '-versions', `${mod}/v2`])).stdout.trim()).toBe(`${mod}/v2 v2.1.0`);
  });

  it('go get m@v2.0.0 of a module without /v2 finds v2.0.0+incompatible, as it does from git and proxy.golang.org (.info of the query names the version)', async () => {
    const mod = 'git.acme.example/legacy';
    await publishSmallModule(mod, 'v1.0.0');
    await publishSmallModule(mod, 'v2.0.0+incompatible');
    // go asks <query>.info for a canonical query (modload queryProxy → proxyRepo.Stat) and takes the Version it names
    const info = await get(`/${mod}/@v/v2.0.0.info`);
    expect(info.status).toBe(200);
    expect(JSON.parse(info.body)).toMatchObject({ Version: 'v2.0.0+incompatible' });
    const d = await goDownload(`${mod}@v2.0.0`);
    expect(d.Error).toBeUndefined();
    expect(d.Version).toBe('v2.0.0+incompatible');
    // only .info answers a query: the files of a version are under its own name; a version with /vN rules or of v0/v1 is never taken for another
    expect((await get(`/${mod}/@v/v2.0.0.zip`)).status).toBe(404);
    expect((await get(`/${mod}/@v/v2.0.0.mod`)).status).toBe(404);
    expect((await get(`/${mod}/@v/v3.0.0.info`)).status).toBe(404);
    expect((await get(`/${MODULE_V2.replace('Platform/Hello', '!platform/!hello')}/@v/v2.9.9.info`)).status).toBe(404);
    expect((await get(`/${mod}/@v/v2.0.0+incompatible.info`, { method: 'HEAD' })).status).toBe(200);
    expect((await get(`/${mod}/@v/v2.0.0.info`, { method: 'HEAD' })).status).toBe(200);
  });

  it('+incompatible versions are not listed once the latest v0/v1 version has a go.mod of its own (as go lists them from git); without one they are', async () => {
    // github.com/russross/blackfriday's case (golang.org/issue/34189): v1 moved to modules, an old v2.0.0 tag had no go.mod
    const moved = 'git.acme.example/moved';
    await publishSmallModule(moved, 'v2.0.0+incompatible');
    await publishSmallModule(moved, 'v1.5.0');
    const realGoMod = Buffer.from(`module ${moved}\n\ngo 1.16\n`);
    // v1.5.0's .mod as `go mod init` writes it (more than the module line go synthesises for a version without one)
    await publishSmallModule(moved, 'v1.6.0', realGoMod);
    expect(await get(`/${moved}/@v/list`)).toMatchObject({ status: 200, body: 'v1.5.0\nv1.6.0\n' });
    expect(JSON.parse((await get(`/${moved}/@latest`)).body)).toMatchObject({ Version: 'v1.6.0' });
    expect((await go(['list', '-m', '-versions', moved])).stdout.trim()).toBe(`${moved} v1.5.0 v1.6.0`);
    // still there for a build that names it
    expect((await goDownload(`${moved}@v2.0.0+incompatible`)).Error).toBeUndefined();
    // the latest v1 without a go.mod (its .mod is the one go synthesises): the +incompatible versions are go's to list
    const legacy = 'git.acme.example/stillgopath';
    await publishSmallModule(legacy, 'v1.0.0');
    await publishSmallModule(legacy, 'v3.0.0+incompatible');
    expect(await get(`/${legacy}/@v/list`)).toMatchObject({ status: 200, body: 'v1.0.0\nv3.0.0+incompatible\n' });
    const latest = await goDownload(`${legacy}@latest`);
    expect(latest.Version).toBe('v3.0.0+incompatible');
  });


  it('a go.mod that is the module line alone (as go mod init of Go 1.11 wrote it) is a go.mod too: the +incompatible versions stay out of the list and @latest', async () => {
    // From git, go lists `v1.5.0` only and takes it @latest (codeRepo reads go.mod from the commit); its .mod
    // is byte for byte the one go synthesises for a commit without go.mod, so only the zip tells them apart
    const mod = 'git.acme.example/earlymodules';
    await publishSmallModule(mod, 'v2.0.0+incompatible');
    await publishSmallModule(mod, 'v3.0.0+incompatible');
    await publishSmallModule(mod, 'v1.5.0', Buffer.from(`module ${mod}\n`));
    expect(await get(`/${mod}/@v/list`)).toMatchObject({ status: 200, body: 'v1.5.0\n' });
    expect(JSON.parse((await get(`/${mod}/@latest`)).body)).toMatchObject({ Version: 'v1.5.0' });
    expect((await go(['list', '-m', '-versions', mod])).stdout.trim()).toBe(`${mod} v1.5.0`);
    expect((await go(['list', '-m', `${mod}@latest`])).stdout.trim()).toBe(`${mod} v1.5.0`);
    // asked by name, still served
    expect((await goDownload(`${mod}@v3.0.0+incompatible`)).Error).toBeUndefined();
  });
  it('a major whose latest version is the /vN module (tag v2.1.0 with a go.mod naming m/v2, after v2.0.0 without one): none of that major is listed +incompatible, as go lists them from git; another major still is', async () => {
    // From git (checked with go 1.19, GOPROXY=direct), `go list -m -versions m` is `v1.0.0` alone and m@latest is v1.0.0:
    // codeRepo.appendIncompatibleVersions drops every v2 tag once the latest one (v2.1.0) has a go.mod. run publishes
    // v2.0.0+incompatible under m and v2.1.0 under m/v2, so the proxy must look at m/v2 to see that v2.1.0 exists.
    const mod = 'git.acme.example/wentmodular';
    await publishSmallModule(mod, 'v1.0.0');
    await publishSmallModule(mod, 'v2.0.0+incompatible');
    await publishSmallModule(mod, 'v3.0.0+incompatible');
    await publishSmallModule(`${mod}/v2`, 'v2.1.0', Buffer.from(`module ${mod}/v2\n\ngo 1.16\n`));
    expect(await get(`/${mod}/@v/list`)).toMatchObject({ status: 200, body: 'v1.0.0\nv3.0.0+incompatible\n' });
    expect((await go(['list', '-m', '-versions', mod])).stdout.trim()).toBe(`${mod} v1.0.0 v3.0.0+incompatible`);
    // the /v3 module's only version is older than v3.0.0: v3.0.0 is the latest v3 tag, without go.mod, so it stays
    await publishSmallModule(`${mod}/v3`, 'v3.0.0-rc.1', Buffer.from(`module ${mod}/v3\n`));
    expect(await get(`/${mod}/@v/list`)).toMatchObject({ status: 200, body: 'v1.0.0\nv3.0.0+incompatible\n' });
    // a prerelease above it is the latest v3 tag, and it has a go.mod: v3 goes too, and @latest is v1.0.0
    await publishSmallModule(`${mod}/v3`, 'v3.1.0-rc.1', Buffer.from(`module ${mod}/v3\n`));
    expect(await get(`/${mod}/@v/list`)).toMatchObject({ status: 200, body: 'v1.0.0\n' });
    expect(JSON.parse((await get(`/${mod}/@latest`)).body)).toMatchObject({ Version: 'v1.0.0' });
    expect((await go(['list', '-m', `${mod}@latest`])).stdout.trim()).toBe(`${mod} v1.0.0`);
    // still served to a build that names one
    expect((await goDownload(`${mod}@v2.0.0+incompatible`)).Error).toBeUndefined();
  });

  it('a module whose every version is such a hidden +incompatible one: an empty list (200), not "not found", and @latest names its highest, so go stays on the proxy (GOPROXY=proxy,direct would ask the origin after a 404)', async () => {
    const mod = 'git.acme.example/onlyhidden';
    await publishSmallModule(mod, 'v2.0.0+incompatible');
    await publishSmallModule(mod, 'v2.0.1+incompatible');
    await publishSmallModule(`${mod}/v2`, 'v2.1.0', Buffer.from(`module ${mod}/v2\n`));
    expect(await get(`/${mod}/@v/list`)).toMatchObject({ status: 200, body: '' });
    expect(JSON.parse((await get(`/${mod}/@latest`)).body)).toMatchObject({ Version: 'v2.0.1+incompatible' });
    const latest = await go(['list', '-m', `${mod}@latest`]);
    expect(latest.stderr).toBe('');
    expect(latest.stdout.trim()).toBe(`${mod} v2.0.1+incompatible`);
  });

  it('a repository tagged with many such majors: one list request reads at most MAX_MAJOR_MODULES_CHECKED /vN modules (the highest), not one per major; a host-only module path finds its /vN too', async () => {
    const mod = 'git.acme.example/manymajors';
    const majors = Array.from({ length: MAX_MAJOR_MODULES_CHECKED + 2 }, (_, i) => i + 2);
    for (const m of majors) {
      await publishSmallModule(mod, `v${m}.0.0+incompatible`);
      await publishSmallModule(`${mod}/v${m}`, `v${m}.1.0`, Buffer.from(`module ${mod}/v${m}\n`));
    }
    const lists = () => target.standIn.log.filter((e) => e.operation === 'ListPackageVersions').length;
    const before = lists();
    // v2 and v3 are below the highest 16 majors: listed as they are
    expect(await get(`/${mod}/@v/list`)).toMatchObject({ status: 200, body: 'v2.0.0+incompatible\nv3.0.0+incompatible\n' });
    expect(lists() - before).toBe(1 + MAX_MAJOR_MODULES_CHECKED);

    const host = 'hostonly.acme.example';
    await publishSmallModule(host, 'v1.0.0');
    await publishSmallModule(host, 'v2.0.0+incompatible');
    expect(await get(`/${host}/@v/list`)).toMatchObject({ status: 200, body: 'v1.0.0\nv2.0.0+incompatible\n' });
    await publishSmallModule(`${host}/v2`, 'v2.0.1', Buffer.from(`module ${host}/v2\n`));
    expect(await get(`/${host}/@v/list`)).toMatchObject({ status: 200, body: 'v1.0.0\n' });
  });

  it('a module whose name is as long as CodeArtifact holds (254 characters after the host): its /vN cannot exist, so none is looked for, and the list is served', async () => {
    const mod = `git.acme.example/${'l'.repeat(254)}`;
    await publishSmallModule(mod, 'v1.0.0');
    await publishSmallModule(mod, 'v2.0.0+incompatible');
    // a package prefix of `<name>+v` would be 256 characters, which CodeArtifact refuses (a 502 for a list go needs)
    expect(await get(`/${mod}/@v/list`)).toMatchObject({ status: 200, body: 'v1.0.0\nv2.0.0+incompatible\n' });
  });

  it('a version that is not there is go\'s "not found"', async () => {
    const r = await go(['mod', 'download', '-json', `${MODULE}@v1.9.9`]);
    expect(r.code).not.toBe(0);
    const d = JSON.parse(r.stdout) as GoDownload;
    expect(d.Error).toContain('404 Not Found');
    expect(d.Error).toContain('not found');
    const unknown = await go(['mod', 'download', '-json', 'git.acme.example/nobody@v1.0.0']);
    expect(unknown.code).not.toBe(0);
    expect((JSON.parse(unknown.stdout) as GoDownload).Error).toContain('404 Not Found');
  });

  it('a zip tampered on the target: go without go.sum takes it, go with the go.sum line refuses it (checksum mismatch)', async () => {
    const { build } = version(`${MODULE}@v1.1.0`);
    // Other files under the same module@version: a real module zip (so go gets as far as hashing it)
    const repo = join(tmp, 'repos', 'hello');
    const gitEnv = { PATH: process.env.PATH, HOME: tmp, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 'M', GIT_AUTHOR_EMAIL: 'm@example.com', GIT_COMMITTER_NAME: 'M', GIT_COMMITTER_EMAIL: 'm@example.com' };
    expect((await run('git', ['checkout', '-q', 'v1.1.0'], { cwd: repo, env: gitEnv })).code).toBe(0);
    await writeFile(join(repo, 'hello.go'), 'package hello\n\n// Hello phones home.\nfunc Hello() string { return "pwned" }\n');
    expect((await run('git', ['commit', '-q', '-am', 'evil'], { cwd: repo, env: gitEnv })).code).toBe(0);
    const evil = await buildGoModule({ checkoutDir: repo, subdir: '', version: 'v1.1.0', commitTime: new Date('2021-04-04T05:06:07Z'), zipPath: join(tmp, 'evil.zip') });
    expect(evil.zip.h1).not.toBe(build.zip.h1);

    const ns = 'git.acme.example';
    const pkg = 'Platform+Hello';
    const original = target.standIn.assetBytes(GENERIC_REPO, 'generic', ns, pkg, 'v1.1.0', 'v1.1.0.zip')!;
    // the listing follows the new bytes, as it would after a real overwrite: only go.sum can tell
    target.standIn.replaceAssetBytes(GENERIC_REPO, 'generic', ns, pkg, 'v1.1.0', 'v1.1.0.zip', await readFile(evil.zip.path));
    try {
      const trusting = await goDownload(`${MODULE}@v1.1.0`);
      expect(trusting.Error).toBeUndefined();
      expect(trusting.Sum).toBe(evil.zip.h1);

      // a consumer whose go.sum holds the lines from when the module was migrated
      const consumer = join(tmp, 'consumer');
      await mkdir(consumer, { recursive: true });
      await writeFile(join(consumer, 'go.mod'), `module example.com/consumer\n\ngo 1.19\n\nrequire ${MODULE} v1.1.0\n`);
      await writeFile(join(consumer, 'go.sum'), `${build.goSum.join('\n')}\n`);
      await writeFile(join(consumer, 'main.go'), `package main\n\nimport hello "${MODULE}"\n\nfunc main() { println(hello.Hello()) }\n`);
      const refused = await go(['mod', 'download', '-json', `${MODULE}@v1.1.0`], { cwd: consumer });
      // go 1.19 stops at the go.sum check before writing its JSON: the verdict is on stderr
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(`verifying ${MODULE}@v1.1.0: checksum mismatch`);
      expect(refused.stderr).toContain(`downloaded: ${evil.zip.h1}`);
      expect(refused.stderr).toContain(`go.sum:     ${build.zip.h1}`);
      expect(refused.stderr).toContain('SECURITY ERROR');
      // and a build refuses it the same way
      const b = await go(['build', './...'], { cwd: consumer });
      expect(b.code).not.toBe(0);
      expect(b.stderr).toContain('SECURITY ERROR');
    } finally {
      target.standIn.replaceAssetBytes(GENERIC_REPO, 'generic', ns, pkg, 'v1.1.0', 'v1.1.0.zip', original);
    }
    // restored: the same consumer builds
    const ok = await go(['build', './...'], { cwd: join(tmp, 'consumer') });
    expect(ok.stderr).not.toContain('SECURITY ERROR');
    expect(ok.code).toBe(0);
  });
});

describe('starting and stopping', () => {
  it('refuses a non-loopback address unless told to, and a job without a generic repository', async () => {
    const remote = startGoProxy({ job: jobFile, host: '0.0.0.0', port: 0, codeartifactClient: target.client });
    await expect(remote).rejects.toBeInstanceOf(MigrateError);
    await expect(remote).rejects.toMatchObject({ code: 'ECONFIG', message: expect.stringContaining('no authentication') });
    const missing = startGoProxy({ job: await target.writeJob(tmp, { repository: 'go-nowhere' }), port: 0, codeartifactClient: target.client });
    await expect(missing).rejects.toMatchObject({ code: 'ETARGETSETUP' });
  });

  it("on every address (0.0.0.0, told to): the URL it gives clients names the first --allowed-host, never 0.0.0.0, which no client can reach; go is answered there", async () => {
    const p = await startGoProxy({ job: jobFile, host: '0.0.0.0', port: 0, allowRemote: true, allowedHosts: ['GoProxy.Corp.Example', 'other.example'], codeartifactClient: target.client });
    try {
      const port = new URL(p.url).port;
      expect(p.url).toBe(`http://goproxy.corp.example:${port}`);
      expect(p.goEnv.GOPROXY).toBe(p.url);
      // a client that resolves the name to this machine is served: the Host it sends is allowed
      const r = await fetch(`http://127.0.0.1:${port}/${ESCAPED}/@v/list`, { headers: { host: `goproxy.corp.example:${port}` } });
      expect(r.status).toBe(200);
    } finally {
      await p.stop();
    }
    // no name given: an address of this machine a client could reach, never the unspecified one
    const q = await startGoProxy({ job: jobFile, host: '0.0.0.0', port: 0, allowRemote: true, codeartifactClient: target.client });
    try {
      expect(q.url).not.toContain('0.0.0.0');
      const port = new URL(q.url).port;
      expect((await fetch(`http://127.0.0.1:${port}/${ESCAPED}/@v/list`, { headers: { host: new URL(q.url).host } })).status).toBe(200);
    } finally {
      await q.stop();
    }
  });

  it('on every address written another way (::, 0:0:0:0:0:0:0:0, ::ffff:0.0.0.0): the URL it gives clients is never an unspecified address; go is answered there', async () => {
    for (const host of ['::', '[::]', '0:0:0:0:0:0:0:0', '::ffff:0.0.0.0']) {
      const p = await startGoProxy({ job: jobFile, host, port: 0, allowRemote: true, codeartifactClient: target.client });
      try {
        const u = new URL(p.url);
        expect(['[::]', '0.0.0.0', '[::ffff:0.0.0.0]', '[::ffff:0:0]'], `${host}: ${p.url}`).not.toContain(u.hostname);
        expect((await fetch(`http://127.0.0.1:${u.port}/${ESCAPED}/@v/list`, { headers: { host: u.host } })).status, host).toBe(200);
      } finally {
        await p.stop();
      }
    }
  });

  it('a stop while CodeArtifact is still being asked at start (a stuck preflight) ends it at once: exit 0, nothing printed', async () => {
    target.standIn.addFault({ operation: 'GetRepositoryEndpoint', status: 500, hang: true });
    const out: string[] = [];
    const sink = () => new PassThrough().on('data', (c: Buffer) => out.push(c.toString()));
    const controller = new AbortController();
    try {
      const before = requestCount();
      const done = goproxyCommand(jobFile, { port: 0, json: true, signal: controller.signal, codeartifactClient: target.client }, { stdout: sink(), stderr: sink() });
      // the preflight is in the air (the stand-in logs a request it holds as it takes it)
      while (!target.standIn.log.slice(before).some((e) => e.operation === 'GetRepositoryEndpoint')) await new Promise((r) => setTimeout(r, 20));
      controller.abort();
      // without the stop reaching the preflight this waits out the job's idle timeout (300 s) and its retries
      expect(await done).toBe(0);
      expect(out.join('')).toBe('');
      // and startGoProxy itself says why it did not start
      const c2 = new AbortController();
      c2.abort();
      await expect(startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client, signal: c2.signal })).rejects.toMatchObject({ code: 'EINTERRUPTED' });
    } finally {
      target.standIn.clearFaults();
    }
  }, 30_000);

  it('listens on IPv6 loopback given as ::1 or as a URL writes it, [::1]; go reaches it there', async () => {
    for (const host of ['::1', '[::1]']) {
      const p = await startGoProxy({ job: jobFile, host, port: 0, codeartifactClient: target.client });
      try {
        expect(p.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
        expect((await fetch(`${p.url}/${ESCAPED}/@v/list`)).status).toBe(200);
        // go sends Host: [::1]:port, a loopback name
        const r = await run(GO, ['list', '-m', '-versions', MODULE], { cwd: tmp, env: goEnv(tmp, p.url, join(tmp, `gopath-v6-${++n}`)) });
        expect(r.stdout.trim()).toBe(`${MODULE} v1.0.0 v1.1.0 v1.2.0-rc.1`);
      } finally {
        await p.stop();
      }
    }
  });

  it('stop() closes the port', async () => {
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client });
    expect((await fetch(`${p.url}/${ESCAPED}/@v/list`)).status).toBe(200);
    await p.stop();
    await expect(fetch(`${p.url}/${ESCAPED}/@v/list`)).rejects.toThrow();
  });

  it('goproxyCommand on a terminal: one line with the URL and the variables to export; 0 after the stop', async () => {
    const out: string[] = [];
    const sink = (into: string[]) => Object.assign(new PassThrough(), { isTTY: true }).on('data', (c: Buffer) => into.push(c.toString()));
    const controller = new AbortController();
    const io = { stdout: sink(out), stderr: sink([]) };
    const done = goproxyCommand(jobFile, { port: 0, signal: controller.signal, codeartifactClient: target.client }, io);
    while (out.length === 0) await new Promise((r) => setTimeout(r, 20));
    const line = out.join('');
    const url = /at (http:\/\/127\.0\.0\.1:\d+) until Ctrl-C/.exec(line)?.[1];
    expect(url).toBeDefined();
    expect(line).toContain(`export GOPROXY=${url} GONOPROXY=none GONOSUMDB=${MODULE}`);
    expect(line).toContain('GOFLAGS=-mod=mod\n');
    expect(line.split('\n')).toHaveLength(2);
    expect((await fetch(`${url}/${ESCAPED}/@v/list`)).status).toBe(200);
    controller.abort();
    expect(await done).toBe(0);
    await expect(fetch(`${url}/${ESCAPED}/@v/list`)).rejects.toThrow();
  });

  it('the CLI command prints its URL and how to use it, serves, and exits 0 on SIGTERM; refuses 0.0.0.0 with exit 2', async () => {
    const spawnCli = (args: string[]): ChildProcess =>
      spawn(process.execPath, ['--import', TSX_LOADER, join(ROOT, 'src/cli/main.ts'), ...args], {
        cwd: tmp,
        env: { PATH: process.env.PATH, HOME: tmp, ...target.awsEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    const child = spawnCli(['goproxy', jobFile, '--port', '0']);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = once(child, 'close');
    try {
      while (!stdout.includes('\n')) {
        if (child.exitCode !== null) throw new Error(`goproxy exited ${child.exitCode}: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      // stdout is a pipe, so the line is JSON
      const line = JSON.parse(stdout.split('\n')[0]!) as { url: string; repository: string; env: Record<string, string> };
      expect(line.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(line.env).toMatchObject({ GOPROXY: line.url, GOFLAGS: '-mod=mod' });
      // every module path the repository holds (the tests above added one), none below another
      expect(line.env.GONOSUMDB!.split(',')).toContain(MODULE);
      expect(line.env.GONOSUMDB!.split(',')).not.toContain(MODULE_V2);
      expect((await fetch(`${line.url}/${ESCAPED}/@v/list`)).status).toBe(200);
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }

    const refused = spawnCli(['goproxy', jobFile, '--host', '0.0.0.0', '--port', '0']);
    let err = '';
    refused.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const [code] = await once(refused, 'close');
    expect(code).toBe(2);
    expect(err).toContain('ECONFIG');
    expect(err).toContain('--allow-remote');
  });
});
