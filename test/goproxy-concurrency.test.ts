/**
 * `cam goproxy` under many real go clients at once, with versions whose names need Go's case
 * escaping (v1.0.1-RC1 beside v1.0.1-rc1) and a retract directive, while CodeArtifact throttles.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGoModule, type GoModuleBuild } from '../src/builders/go.js';
import { hashBuffer } from '../src/integrity/hashes.js';
import { startGoProxy, type GoProxy } from '../src/goproxy/server.js';
import { GenericTarget } from '../src/targets/generic.js';
import { GENERIC_REPO, GO, goEnv, run, startGoTarget, type GoDownload, type GoTarget } from './support/go-modules.js';

let tmp: string;
let target: GoTarget;
let proxy: GoProxy;
const MOD = 'git.acme.example/Team/Conc';
const builds = new Map<string, GoModuleBuild>();
let n = 0;

function sh(cwd: string, args: string[], date?: string): Promise<string> {
  const env = { PATH: process.env.PATH, HOME: tmp, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@e', ...(date ? { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } : {}) };
  return new Promise((done, fail) => execFile('git', args, { cwd, env }, (e, out, err) => (e ? fail(new Error(`${args.join(' ')}: ${err}`)) : done(out))));
}

async function publishBuild(build: GoModuleBuild) {
  const generic = new GenericTarget(target.ca, GENERIC_REPO);
  const file = async (name: string, bytes: Buffer) => {
    const path = join(tmp, `asset-${++n}`);
    await writeFile(path, bytes);
    return { name, path, size: bytes.length, hashes: hashBuffer(bytes), facts: {} };
  };
  const assets = [
    { name: build.assets.zip, path: build.zip.path, size: build.zip.size, hashes: build.zip.hashes, facts: {} },
    await file(build.assets.mod, build.mod.bytes),
    await file(build.assets.info, build.info.bytes),
  ];
  for (let i = 0; i < assets.length; i++) {
    const r = await generic.publishAsset({ name: build.modulePath, version: build.version, coords: generic.coordinates(build.modulePath), asset: assets[i]!, assets, isLast: i === assets.length - 1 });
    if (r.kind !== 'published') throw new Error(`publishing ${build.subject}: ${JSON.stringify(r)}`);
  }
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cam-goproxy-conc-'));
  target = await startGoTarget();
  const repo = join(tmp, 'repo');
  await mkdir(repo, { recursive: true });
  await sh(repo, ['init', '-q', '-b', 'main']);
  const tags = [
    { tag: 'v1.0.0', mod: `module ${MOD}\n\ngo 1.19\n`, body: 'one' },
    { tag: 'v1.0.1-RC1', mod: `module ${MOD}\n\ngo 1.19\n`, body: 'upper' },
    { tag: 'v1.0.1-rc1', mod: `module ${MOD}\n\ngo 1.19\n`, body: 'lower' },
    { tag: 'v1.1.0', mod: `module ${MOD}\n\ngo 1.19\n\nretract v1.0.0 // broken\n`, body: 'retracting' },
  ];
  let day = 1;
  for (const t of tags) {
    const files: Record<string, string> = { 'go.mod': t.mod, 'conc.go': `package conc\n\nconst V = ${JSON.stringify(t.body)}\n`, 'Sub/X.go': 'package sub\n', 'vendor/modules.txt': '# x\n' };
    for (const [name, content] of Object.entries(files)) {
      await mkdir(dirname(join(repo, name)), { recursive: true });
      await writeFile(join(repo, name), content);
    }
    await sh(repo, ['add', '-A']);
    await sh(repo, ['commit', '-q', '-m', t.tag], `2022-01-0${day++}T00:00:00Z`);
    await sh(repo, ['tag', t.tag]);
  }
  for (const t of tags) {
    await sh(repo, ['checkout', '-q', t.tag]);
    const ct = new Date(Number((await sh(repo, ['log', '-1', '--format=%ct'])).trim()) * 1000);
    const build = await buildGoModule({ checkoutDir: repo, subdir: '', version: t.tag, commitTime: ct, zipPath: join(tmp, `z-${t.tag}.zip`) });
    builds.set(t.tag, build);
    await publishBuild(build);
  }
  proxy = await startGoProxy({ job: await target.writeJob(tmp), port: 0, codeartifactClient: target.client });
}, 120_000);
afterAll(async () => {
  await proxy?.stop();
  await target?.stop();
  await rm(tmp, { recursive: true, force: true });
});

async function go(args: string[]) {
  const cwd = join(tmp, `cwd-${++n}`);
  await mkdir(cwd, { recursive: true });
  return run(GO, args, { cwd, env: goEnv(tmp, proxy.url, join(tmp, `gopath-${++n}`)) });
}

/** `go mod download -json` of every built version, in a cache of its own: the documents it prints. */
async function downloadAll(url: string): Promise<{ code: number; stderr: string; docs: GoDownload[] }> {
  const cwd = join(tmp, `cwd-${++n}`);
  await mkdir(cwd, { recursive: true });
  const r = await run(GO, ['mod', 'download', '-json', ...[...builds.keys()].map((v) => `${MOD}@${v}`)], { cwd, env: goEnv(tmp, url, join(tmp, `gopath-${++n}`)) });
  const docs = r.stdout.split(/\n}\n/).filter((s) => s.trim()).map((s) => JSON.parse(`${s}\n}`) as GoDownload);
  return { code: r.code, stderr: r.stderr, docs };
}

describe('many go clients at once', () => {
  it('16 go commands at once, each with its own cache, while CodeArtifact throttles and fails now and then: every one gets every version (v1.0.1-RC1 beside v1.0.1-rc1) with the h1 the builder computed, nothing logged', async () => {
    const errors: string[] = [];
    const p = await startGoProxy({ job: await target.writeJob(tmp), port: 0, codeartifactClient: target.client, onError: (l) => errors.push(l) });
    target.standIn.addFault({ operation: 'GetPackageVersionAsset', status: 429, retryAfterSeconds: 1, times: 30 });
    target.standIn.addFault({ operation: 'ListPackageVersionAssets', status: 500, times: 10 });
    try {
      const results = await Promise.all(Array.from({ length: 16 }, () => downloadAll(p.url)));
      const want = [...builds.values()].map((b) => [b.version, b.zip.h1, b.mod.h1, undefined]);
      for (const r of results) {
        expect(r.code, r.stderr).toBe(0);
        expect(r.docs.map((d) => [d.Version, d.Sum, d.GoModSum, d.Error])).toEqual(want);
      }
      expect(errors).toEqual([]);
      expect(target.standIn.log.some((e) => e.status === 429)).toBe(true);
    } finally {
      target.standIn.clearFaults();
      await p.stop();
    }
  }, 300_000);

  it('versions that differ only in case are two versions to go (!r!c1 and rc1); a retract directive in the latest go.mod reaches go', async () => {
    const r = await go(['list', '-m', '-retracted', '-versions', '-json', MOD]);
    expect(r.stderr).toBe('');
    expect((JSON.parse(r.stdout) as { Versions: string[] }).Versions).toEqual(['v1.0.0', 'v1.0.1-RC1', 'v1.0.1-rc1', 'v1.1.0']);
    expect((await go(['list', '-m', '-versions', MOD])).stdout.trim()).toBe(`${MOD} v1.0.1-RC1 v1.0.1-rc1 v1.1.0`);
  }, 60_000);
});
