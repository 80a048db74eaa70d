/**
 * Which tags of a git source are which versions: the listing of a real GitSource over
 * real local repositories (file://), and for a Go module kept in its v2/ folder the
 * build compared with what the real go (/usr/bin/go, GOPROXY=direct) fetches.
 *  - Go reads a tag as it is (less the module's `<dir>/`): `vv1.1.0` and `1.2.0` are no
 *    versions, nor is a tag with build metadata (`v2.0.0+incompatible`);
 *  - a v2+ module in a `v2/` folder is go's `<path>/v2` at a root tag `v2.0.0`;
 *  - PEP 440-equal versions (`1.0`, `1.0.0`, `0!1.0.0.0`) are one version.
 * https://go.dev/ref/mod#vcs-version  https://peps.python.org/pep-0440/#version-matching
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVersion } from '../src/builders/index.js';
import { sourceSchema } from '../src/config/schema.js';
import { MigrateError } from '../src/errors.js';
import type { GitSourceConfig } from '../src/config/schema.js';
import { GitSource } from '../src/sources/git.js';
import type { VersionListing } from '../src/types.js';

const run = promisify(execFile);
const GO = '/usr/bin/go';
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cam-git-tags-'));
  await mkdir(join(tmp, 'repos'));
  // go reaches https://example.com/<name>.git as the local repository (a `.git` module path needs no HTTP lookup)
  await writeFile(
    join(tmp, 'gitconfig'),
    `[url "file://${tmp}/repos/"]\n\tinsteadOf = https://example.com/\n[protocol "file"]\n\tallow = always\n[user]\n\tname = T\n\temail = t@example.com\n[init]\n\tdefaultBranch = main\n`,
  );
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const gitEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: tmp, GIT_CONFIG_GLOBAL: join(tmp, 'gitconfig'), GIT_CONFIG_NOSYSTEM: '1' });

/** A repository `<tmp>/repos/<name>.git`; each commit() adds files, commits them and puts the tags on it. */
async function repo(name: string) {
  const dir = join(tmp, 'repos', `${name}.git`);
  await mkdir(dir, { recursive: true });
  const git = (...args: string[]) => run('git', args, { cwd: dir, env: { ...gitEnv(), GIT_AUTHOR_DATE: '2021-03-04T05:06:07Z', GIT_COMMITTER_DATE: '2021-03-04T05:06:07Z' } });
  await git('init', '-q');
  return {
    url: `file://${dir}`,
    async commit(files: Record<string, string>, tags: string[]): Promise<string> {
      for (const [path, content] of Object.entries(files)) {
        await mkdir(dirname(join(dir, path)), { recursive: true });
        await writeFile(join(dir, path), content);
      }
      await git('add', '-A');
      await git('commit', '-q', '--allow-empty', '-m', tags.join(' '));
      for (const t of tags) await git('tag', t);
      return (await git('rev-parse', 'HEAD')).stdout.trim();
    },
  };
}

interface Listed extends VersionListing {
  name: string;
}

let sources = 0;
/** The source as the engine sees it: prepared (mirror fetched, tags read), then every package listed. */
async function open(config: Record<string, unknown>): Promise<{ source: GitSource; versions: Listed[] }> {
  const cfg = sourceSchema.parse({ kind: 'git', id: `s${++sources}`, ...config }) as GitSourceConfig;
  const source = new GitSource(cfg, { PATH: process.env.PATH, HOME: tmp }, join(tmp, 'state'), 'job');
  await source.prepare();
  const versions: Listed[] = [];
  for await (const n of source.packageNames()) {
    if (!n.ok) throw n.error;
    versions.push(...(await source.listing(n.name)).versions.map((v) => ({ ...v, name: n.name })));
  }
  source.close();
  // one row per (package, version): two entries under one version would share a row in state
  expect(new Set(versions.map((v) => `${v.name}@${v.version}`)).size).toBe(versions.length);
  return { source, versions };
}

/** What is migrated: neither skipped nor a problem. */
const migrated = (versions: Listed[]) => versions.filter((v) => !v.skip && !v.problem).map((v) => `${v.name}@${v.version} ${v.ref}`).sort();
const skippedTags = (versions: Listed[]) => versions.filter((v) => v.skip).map((v) => v.ref).sort();

describe('Go: a tag is the version go reads, no v added or taken off', () => {
  it('vv1.0.0 and vv1.1.0 are no versions (the real v1.0.0 migrates), nor is 1.2.0 under tags "{version}"', async () => {
    const r = await repo('vv');
    const one = await r.commit({ 'go.mod': 'module example.com/vv.git\n', 'a.go': 'package a\n' }, ['v1.0.0']);
    await r.commit({ 'a.go': 'package a\n\n// evil\n' }, ['vv1.0.0', 'vv1.1.0', '1.2.0']);

    const byDefault = (await open({ url: r.url, format: 'go' })).versions;
    expect(migrated(byDefault)).toEqual(['example.com/vv.git@v1.0.0 v1.0.0']);
    expect(byDefault.find((v) => v.ref === 'v1.0.0')!.commit).toBe(one);
    expect(skippedTags(byDefault)).toEqual(['vv1.0.0', 'vv1.1.0']);
    expect(byDefault.filter((v) => v.skip).map((v) => v.version).sort()).toEqual(['vv1.0.0', 'vv1.1.0']);

    const bare = (await open({ url: r.url, format: 'go', tags: '{version}' })).versions;
    expect(migrated(bare)).toEqual(['example.com/vv.git@v1.0.0 v1.0.0']);
    expect(skippedTags(bare)).toEqual(['1.2.0', 'vv1.0.0', 'vv1.1.0']);
  });

  it('tags go never lists (leading zeros, v1.0, a pseudo-version of any form) are skipped, each with its own reason; a prerelease beside its release is its own version', async () => {
    const r = await repo('nolist');
    const pseudo = ['v0.0.0-20210304050607-abcdefabcdef', 'v1.2.4-0.20210304050607-abcdefabcdef', 'v1.2.3-pre.0.20210304050607-abcdefabcdef'];
    await r.commit({ 'go.mod': 'module example.com/nolist.git\n' }, ['v1.0.0', 'v1.0.0-rc.1', 'v01.0.0', 'v1.0.0-01', 'v1.0', ...pseudo]);
    const { versions } = await open({ url: r.url, format: 'go' });
    expect(migrated(versions)).toEqual(['example.com/nolist.git@v1.0.0 v1.0.0', 'example.com/nolist.git@v1.0.0-rc.1 v1.0.0-rc.1']);
    expect(skippedTags(versions)).toEqual([...pseudo, 'v01.0.0', 'v1.0', 'v1.0.0-01'].sort());
    for (const v of versions.filter((x) => x.skip)) {
      // a pseudo-version is canonical: said for what it is, not "not canonical"
      expect(v.skip, v.ref).toMatch(pseudo.includes(v.ref!) ? /is a pseudo-version/ : /is not a canonical Go version/);
    }
  });

  it('a go.mod without a module line is a problem saying so (go: "go.mod is missing module path"), not "no go.mod: set package", with package set or not', async () => {
    const r = await repo('nomodline');
    await r.commit({ 'go.mod': '// the module line went missing\ngo 1.19\n', 'a.go': 'package a\n' }, ['v1.0.0']);
    for (const pkg of [undefined, 'example.com/nomodline.git']) {
      const { versions } = await open({ url: r.url, format: 'go', ...(pkg ? { package: pkg } : {}) });
      expect(versions.map((v) => v.problem), pkg).toEqual([expect.stringContaining('go.mod has no module line')]);
      expect(versions[0]!.problem).not.toContain('set package');
    }
  });

  it('a tag with build metadata is no version: v2.0.0+incompatible neither collides with the real v2.0.0 nor is built; go adds +incompatible itself', async () => {
    const r = await repo('incl');
    await r.commit({ 'a.go': 'package a\n' }, ['v2.0.0+incompatible', 'v1.5.0+incompatible', 'v3.0.0', 'v1.6.0+build.7']);
    const two = await r.commit({ 'a.go': 'package a\n\n// 2\n' }, ['v2.0.0']);
    for (const tags of [undefined, '{version}']) {
      const { versions } = await open({ url: r.url, format: 'go', package: 'example.com/incl', ...(tags ? { tags } : {}) });
      expect(migrated(versions), tags).toEqual(['example.com/incl@v2.0.0+incompatible v2.0.0', 'example.com/incl@v3.0.0+incompatible v3.0.0']);
      expect(versions.find((v) => v.ref === 'v2.0.0')!.commit).toBe(two);
      expect(skippedTags(versions), tags).toEqual(['v1.5.0+incompatible', 'v1.6.0+build.7', 'v2.0.0+incompatible']);
      for (const v of versions.filter((x) => x.skip)) expect(v.skip).toMatch(/build metadata/);
    }
  });
});

describe('Go: a v2+ module kept in its v2/ folder', () => {
  it('the root tag v2.0.0 is <path>/v2 built from v2/: the same h1 hashes as go mod download of it', async () => {
    const r = await repo('ms');
    await r.commit({ 'go.mod': 'module example.com/ms.git\n', 'a.go': 'package a\n', LICENSE: 'L\n' }, ['v1.0.0']);
    const two = await r.commit({ 'v2/go.mod': 'module example.com/ms.git/v2\n', 'v2/a.go': 'package a\n\n// v2\n' }, ['v2.0.0']);

    // read from go.mod, and with the job naming the module (without its /v2, as for any v2 tag at the root)
    for (const extra of [{}, { package: 'example.com/ms.git', versions: { 'v1.0.0': { skip: 'held back' } } }]) {
      const { versions } = await open({ url: r.url, format: 'go', ...extra });
      expect(versions.filter((v) => !v.problem).map((v) => `${v.name}@${v.version} ${v.skip ?? ''}`).sort()).toEqual([
        'example.com/ms.git/v2@v2.0.0 ',
        `example.com/ms.git@v1.0.0 ${'package' in extra ? 'held back' : ''}`,
      ]);
      expect(JSON.parse(versions.find((v) => v.version === 'v2.0.0')!.recipe!)).toEqual({ directory: 'v2' });
    }

    const { source } = await open({ url: r.url, format: 'go' });
    const checkout = await source.checkout!('v2.0.0', two);
    try {
      expect(checkout.subdir).toBe('v2');
      const outDir = join(tmp, 'out-ms');
      await mkdir(outDir);
      const built = await buildVersion({ format: 'go', checkout, name: 'example.com/ms.git/v2', version: 'v2.0.0', outDir });
      const go = await goDownload('example.com/ms.git/v2@v2.0.0');
      expect(go.Error).toBeUndefined();
      expect({ h1: built.facts.h1, goModH1: built.facts.goModH1 }).toEqual({ h1: go.Sum, goModH1: go.GoModSum });
    } finally {
      checkout.cleanup();
    }
  });

  it('a v2/go.mod of another module is a problem naming it, not a version of this one', async () => {
    const r = await repo('fork');
    await r.commit({ 'go.mod': 'module example.com/fork.git\n', 'a.go': 'package a\n' }, ['v1.0.0']);
    await r.commit({ 'v2/go.mod': 'module example.com/upstream/v2\n', 'v2/a.go': 'package a\n' }, ['v2.0.0']);
    const { versions } = await open({ url: r.url, format: 'go' });
    expect(migrated(versions)).toEqual(['example.com/fork.git@v1.0.0 v1.0.0']);
    expect(versions.find((v) => v.ref === 'v2.0.0')).toMatchObject({ name: 'example.com/fork.git/v2', problem: expect.stringContaining('example.com/upstream/v2') });
  });
});

describe('Python: versions equal under PEP 440 are one version', () => {
  const pyproject = (v: string) => `[project]\nname = "acme-billing"\nversion = "${v}"\n`;

  it('v1.0, v1.0.0 and v0!1.0.0.0 at different commits: one version, a problem naming all three tags; 1.0.0+local is its own (a problem too: pip ==1.0 would install it)', async () => {
    const r = await repo('py');
    await r.commit({ 'pyproject.toml': pyproject('1.0') }, ['v1.0', 'v2.0rc1']);
    await r.commit({ 'pyproject.toml': pyproject('1.0.0') }, ['v1.0.0', 'v2.0-rc1', 'v1.0.0+local', 'v0!1.0.0.0']);
    const { versions } = await open({ url: r.url, format: 'pypi', package: 'acme-billing' });
    expect(migrated(versions)).toEqual([]);
    const problems = versions.filter((v) => v.problem);
    expect(problems.map((v) => v.version).sort()).toEqual(['1.0.0+local', '1.0.0.0', '2.0rc1']);
    const one = problems.find((v) => v.version === '1.0.0.0')!.problem!;
    for (const tag of ['v1.0 ', 'v1.0.0 ', 'v0!1.0.0.0 ']) expect(one).toContain(tag);
    expect(problems.find((v) => v.version === '1.0.0+local')!.problem).toContain('pip install acme-billing==1.0.0.0');
  });

  it('V3.0 is PEP 440 3.0 under the default v{version} as under {version} (a leading v or V is the same to pip); beside v3.0 at one commit it is one version, elsewhere a problem', async () => {
    const r = await repo('py-upper');
    await r.commit({ 'pyproject.toml': pyproject('3.0') }, ['V3.0', 'v3.0']);
    await r.commit({ 'pyproject.toml': pyproject('4.0') }, ['V4.0']);
    await r.commit({ 'pyproject.toml': pyproject('5.0') }, ['Release-5.0']);
    const { versions } = await open({ url: r.url, format: 'pypi', package: 'acme-billing' });
    expect(migrated(versions)).toEqual(['acme-billing@3.0 V3.0', 'acme-billing@4.0 V4.0']);
    expect(versions.find((v) => v.version === '3.0')!.problem).toBeUndefined();
    const braces = await open({ url: r.url, format: 'pypi', package: 'acme-billing', tags: '{version}' });
    expect(migrated(braces.versions)).toEqual(['acme-billing@3.0 V3.0', 'acme-billing@4.0 V4.0']);
    await r.commit({ 'pyproject.toml': pyproject('4.0') }, ['v4.0']);
    const twice = await open({ url: r.url, format: 'pypi', package: 'acme-billing' });
    expect(twice.versions.find((v) => v.version === '4.0')!.problem).toContain('V4.0');
  });

  it('a local version alone (no tag of its release, or the release skipped) is migrated as it is', async () => {
    const r = await repo('py-local');
    await r.commit({ 'pyproject.toml': pyproject('3.0+a') }, ['v3.0+a', 'v4.0.0+b']);
    await r.commit({ 'pyproject.toml': pyproject('4.0') }, ['v4.0']);
    const { versions } = await open({ url: r.url, format: 'pypi', package: 'acme-billing', versions: { '4.0': { skip: 'withdrawn' } } });
    expect(versions.filter((v) => v.problem)).toEqual([]);
    expect(migrated(versions)).toEqual(['acme-billing@3.0+a v3.0+a', 'acme-billing@4.0.0+b v4.0.0+b']);
  });

  it('at one commit they are one version (the first tag by name), and an override may name any of its tags or spellings', async () => {
    const r = await repo('py-same');
    const sha = await r.commit({ 'pyproject.toml': pyproject('1.0') }, ['v1.0', 'v1.0.0', 'v1.0.0.0']);
    await r.commit({ 'pyproject.toml': pyproject('2.0') }, ['v2.0', 'v2']);
    const { versions } = await open({ url: r.url, format: 'pypi', package: 'acme-billing', versions: { 'v1.0.0.0': { skip: 'held back' }, '2.0.0': { skip: 'also' } } });
    expect(versions.map((v) => `${v.version} ${v.ref} ${v.skip ?? ''}`).sort()).toEqual(['1.0 v1.0 held back', '2 v2 also']);
    expect(versions.find((v) => v.version === '1.0')!.commit).toBe(sha);
  });

  it('two override keys naming one version (1.0 skipped, v1.0.0 given a command) are ECONFIG naming both: one of them was dropped in silence, and with it the skip', async () => {
    const r = await repo('py-two-keys');
    await r.commit({ 'pyproject.toml': pyproject('1.0') }, ['v1.0']);
    const err = await open({ url: r.url, format: 'pypi', package: 'acme-billing', versions: { '1.0': { skip: 'broken release' }, 'v1.0.0': { command: '{python} -m build --outdir {outdir} {srcdir}' } } }).catch((e: unknown) => e as MigrateError);
    expect(err).toBeInstanceOf(MigrateError);
    expect((err as MigrateError).code).toBe('ECONFIG');
    expect((err as MigrateError).message).toContain('"1.0"');
    expect((err as MigrateError).message).toContain('"v1.0.0"');
  });
});

interface GoDownload {
  Error?: string;
  Sum?: string;
  GoModSum?: string;
}

/** `go mod download -json` straight from the repository (GOPROXY=direct), in a fresh GOPATH. */
async function goDownload(spec: string): Promise<GoDownload> {
  const cwd = await mkdtemp(join(tmp, 'go-'));
  const env = { ...gitEnv(), GOPROXY: 'direct', GOSUMDB: 'off', GONOSUMDB: '*', GOPATH: join(cwd, 'gopath'), GOCACHE: join(cwd, 'cache'), GOFLAGS: '-mod=mod -modcacherw', GO111MODULE: 'on', GOTOOLCHAIN: 'local', GOENV: 'off', GIT_TERMINAL_PROMPT: '0' };
  const r = await run(GO, ['mod', 'download', '-json', spec], { cwd, env }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
  if (r.stdout.trim() === '') throw new Error(`go mod download ${spec} printed nothing: ${r.stderr}`);
  return JSON.parse(r.stdout) as GoDownload;
}
