/**
 * builders/go + integrity/dirhash, checked against the real Go toolchain
 * (Debian's /usr/bin/go, offline):
 *  - `go mod download` straight from the git repository (GOPROXY=direct, the
 *    repository reached through a git `insteadOf` rewrite to file://) makes
 *    the zip and the h1 hashes that consumers' go.sum files hold: ours must equal them;
 *  - `go mod download` from a file:// GOPROXY holding our .zip/.mod/.info
 *    must accept them and report the same Sum and GoModSum.
 * https://go.dev/ref/mod#zip-files  https://go.dev/ref/mod#goproxy-protocol
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { appendFile, copyFile, mkdir, mkdtemp, readFile, rm, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import yauzl from 'yauzl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVersion } from '../src/builders/index.js';
import { buildGoModule, escapeModulePath, escapeVersion, goInfoJson, type GoBuildInput, type GoModuleBuild } from '../src/builders/go.js';
import { checkModulePath, declaresGo124, foldKey, isVendoredPackage, modulePathFromGoMod } from '../src/builders/go-rules.js';
import { checkGoSums } from '../src/engine/gosum-check.js';
import { MigrateError } from '../src/errors.js';
import { GitAccess } from '../src/sources/git-access.js';
import type { ItemRow } from '../src/state/db.js';
import { Hash1, hashGoMod, hashZip } from '../src/integrity/dirhash.js';

const GO = '/usr/bin/go';
let tmp: string;
let n = 0;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cam-go-'));
  await mkdir(join(tmp, 'repos'));
  await mkdir(join(tmp, 'out'));
  // https://example.com/<name>.git → the local repository: a module path with a
  // `.git` qualifier tells go the repository URL without an HTTP lookup
  // (https://go.dev/ref/mod#vcs-find).
  await writeFile(
    join(tmp, 'gitconfig'),
    `[url "file://${tmp}/repos/"]\n\tinsteadOf = https://example.com/\n[protocol "file"]\n\tallow = always\n[user]\n\tname = T\n\temail = t@example.com\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n`,
  );
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------- helpers

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env, maxBuffer: 1 << 28 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function gitEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: tmp,
    GIT_CONFIG_GLOBAL: join(tmp, 'gitconfig'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_DATE: '2021-03-04T05:06:07Z',
    GIT_COMMITTER_DATE: '2021-03-04T05:06:07Z',
  };
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  const r = await run('git', args, { cwd, env: gitEnv() });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

type Tree = Record<string, string | Buffer | { link: string }>;

async function writeTree(dir: string, files: Tree): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const abs = join(dir, path);
    await mkdir(dirname(abs), { recursive: true });
    if (typeof content === 'object' && !Buffer.isBuffer(content)) await symlink(content.link, abs);
    else await writeFile(abs, content);
  }
}

/** A repository `<tmp>/repos/<name>.git` (a normal work tree, reachable by go as https://example.com/<name>.git). */
async function makeRepo(name: string): Promise<string> {
  const dir = join(tmp, 'repos', `${name}.git`);
  await mkdir(dir, { recursive: true });
  await git(dir, 'init', '-q');
  return dir;
}

/** Commit the tree (added to whatever is there) and tag it; returns the commit time. */
async function commitAndTag(dir: string, files: Tree, tags: string[], date = '2021-03-04T05:06:07Z'): Promise<Date> {
  await writeTree(dir, files);
  await git(dir, 'add', '-A');
  await run('git', ['commit', '-q', '-m', `commit ${tags.join(' ')}`], { cwd: dir, env: { ...gitEnv(), GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } });
  for (const t of tags) await git(dir, 'tag', t);
  return new Date(Number((await git(dir, 'log', '-1', '--format=%ct')).trim()) * 1000);
}

interface GoDownload {
  Path: string;
  Version: string;
  Error?: string;
  Info?: string;
  GoMod?: string;
  Zip?: string;
  Dir?: string;
  Sum?: string;
  GoModSum?: string;
}

/** `go mod download -json` in a fresh GOPATH; proxy 'direct' fetches from git. */
async function goDownload(proxy: string, mod: string): Promise<GoDownload> {
  const gopath = join(tmp, `gopath-${++n}`);
  const cwd = join(tmp, `cwd-${n}`);
  await mkdir(cwd, { recursive: true });
  const r = await run(GO, ['mod', 'download', '-json', mod], {
    cwd,
    env: {
      ...gitEnv(),
      GOPROXY: proxy,
      GOSUMDB: 'off',
      GONOSUMDB: '*',
      GOPATH: gopath,
      GOCACHE: join(tmp, 'gocache'),
      GOFLAGS: '-mod=mod -modcacherw',
      GO111MODULE: 'on',
      GOTOOLCHAIN: 'local',
      GOENV: 'off',
      GIT_TERMINAL_PROMPT: '0',
    },
  });
  if (r.stdout.trim() === '') throw new Error(`go mod download ${mod} printed nothing: ${r.stderr}`);
  return JSON.parse(r.stdout) as GoDownload;
}

const goDirect = (mod: string) => goDownload('direct', mod);

async function build(input: Omit<GoBuildInput, 'zipPath'> & { zipPath?: string }): Promise<GoModuleBuild> {
  return buildGoModule({ zipPath: join(tmp, 'out', `m${++n}.zip`), ...input });
}

/** Lay our build out as a file-system GOPROXY and download it with go. */
async function goFromOurProxy(b: GoModuleBuild): Promise<GoDownload> {
  const proxy = join(tmp, `proxy-${++n}`);
  const at = join(proxy, escapeModulePath(b.modulePath), '@v');
  await mkdir(at, { recursive: true });
  const v = escapeVersion(b.version);
  await copyFile(b.zip.path, join(at, `${v}.zip`));
  await writeFile(join(at, `${v}.mod`), b.mod.bytes);
  await writeFile(join(at, `${v}.info`), b.info.bytes);
  await appendFile(join(at, 'list'), `${b.version}\n`);
  return goDownload(`file://${proxy}`, `${b.modulePath}@${b.version}`);
}

/** Entry names and sizes, as `unzip -l` lists them, sorted. */
async function zipListing(path: string): Promise<string[]> {
  const zip = await yauzl.openPromise(path, { lazyEntries: true });
  const out: string[] = [];
  await new Promise<void>((done, reject) => {
    zip.on('entry', (e: yauzl.Entry) => {
      out.push(`${e.uncompressedSize} ${e.fileName}`);
      zip.readEntry();
    });
    zip.on('end', done);
    zip.on('error', reject);
    zip.readEntry();
  });
  zip.close();
  return out.sort();
}

async function expectCode(p: Promise<unknown>, code: string): Promise<MigrateError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MigrateError);
  expect((err as MigrateError).code).toBe(code);
  return err as MigrateError;
}

/** Our build and go's own fetch from git agree on every byte that counts, and go accepts ours from a proxy. */
async function expectSameAsGo(ours: GoModuleBuild, mod: string): Promise<GoDownload> {
  const theirs = await goDirect(mod);
  expect(theirs.Error).toBeUndefined();
  expect(ours.zip.h1).toBe(theirs.Sum);
  expect(ours.mod.h1).toBe(theirs.GoModSum);
  expect(await hashZip(theirs.Zip!)).toBe(theirs.Sum); // dirhash.HashZip, on go's own zip
  expect(await hashZip(ours.zip.path)).toBe(ours.zip.h1); // what we hashed is what we wrote
  expect(await zipListing(ours.zip.path)).toEqual(await zipListing(theirs.Zip!));
  expect(ours.mod.bytes.equals(await readFile(theirs.GoMod!))).toBe(true);
  const info = JSON.parse(await readFile(theirs.Info!, 'utf8')) as { Version: string; Time: string };
  expect(ours.info.bytes.toString()).toBe(JSON.stringify({ Version: info.Version, Time: info.Time }));

  const fromProxy = await goFromOurProxy(ours);
  expect(fromProxy.Error).toBeUndefined();
  expect(fromProxy.Sum).toBe(ours.zip.h1);
  expect(fromProxy.GoModSum).toBe(ours.mod.h1);
  expect(existsSync(fromProxy.Dir!)).toBe(true);
  return theirs;
}

// ---------------------------------------------------------------- against go itself

describe('buildGoModule, compared with what go fetches from git', () => {
  let rootRepo: string;
  let rootTime: Date;

  beforeAll(async () => {
    rootRepo = await makeRepo('rootmod');
    rootTime = await commitAndTag(
      rootRepo,
      {
        'go.mod': 'module example.com/rootmod.git\n\ngo 1.19\n',
        'a.go': 'package rootmod\n\nconst A = 1\n',
        'LICENSE': 'MIT\n',
        'internal/deep/b.go': 'package deep\n',
        'dir/naïve file (1).txt': 'letters and spaces are allowed\n',
        // go switches export-ignore and export-subst off (golang.org/issue/27153): both stay as committed
        '.gitattributes': 'docs/** export-ignore\nversion.txt export-subst\n',
        'docs/guide.md': '# guide\n',
        'version.txt': '$Format:%H$\n',
        '.gitignore': 'build/\n',
        // vendor: modules.txt stays (before go 1.24), packages go
        'vendor/modules.txt': '# example.com/dep v1.0.0\n',
        'vendor/example.com/dep/dep.go': 'package dep\n',
        // golang.org/issue/37397: go < 1.24 also drops this one
        'pkg/vendor/vendor.go': 'package vendor\n',
        // a nested module is left out, with everything under it
        'tools/go.mod': 'module example.com/rootmod.git/tools\n',
        'tools/main.go': 'package main\n',
        'tools/inner/x.go': 'package inner\n',
        // a symbolic link is left out (golang.org/issue/27093)
        'link.go': { link: 'a.go' },
        '.hg_archival.txt': 'repo: 0\n',
      },
      ['v1.0.0'],
    );
    // never committed: a build of this checkout must not take them in
    await writeTree(rootRepo, { 'build/out.bin': 'ignored build output\n', 'scratch.txt': 'untracked\n' });
  });

  it('a root module: same h1, same files, same .mod and .info as go; go accepts it from a GOPROXY', async () => {
    const ours = await build({ checkoutDir: rootRepo, subdir: '', version: 'v1.0.0', commitTime: rootTime });
    expect(ours.listing).toBe('git');
    expect(ours.modulePath).toBe('example.com/rootmod.git');
    await expectSameAsGo(ours, 'example.com/rootmod.git@v1.0.0');

    expect(ours.files).toEqual([
      '.gitattributes',
      '.gitignore',
      'LICENSE',
      'a.go',
      'dir/naïve file (1).txt',
      'docs/guide.md',
      'go.mod',
      'internal/deep/b.go',
      'vendor/modules.txt',
      'version.txt',
    ]);
    const omitted = Object.fromEntries(ours.omitted.map((o) => [o.path, o.reason]));
    expect(omitted).toMatchObject({
      'vendor/example.com/dep/dep.go': 'file is in vendor directory',
      'pkg/vendor/vendor.go': 'file is in vendor directory',
      'tools/main.go': 'file is in another module',
      'tools/inner/x.go': 'file is in another module',
      'link.go': 'file is a symbolic link',
      '.hg_archival.txt': "file is inserted by 'hg archive' and is always omitted",
    });
    expect(ours.goSum).toEqual([`example.com/rootmod.git v1.0.0 ${ours.zip.h1}`, `example.com/rootmod.git v1.0.0/go.mod ${ours.mod.h1}`]);
    expect(ours.assets).toEqual({ zip: 'v1.0.0.zip', mod: 'v1.0.0.mod', info: 'v1.0.0.info' });
    // the zip's own hashes, for the generic publish
    const bytes = await readFile(ours.zip.path);
    expect(ours.zip.size).toBe(bytes.length);
    expect(ours.zip.hashes.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('rebuilding gives a byte-identical zip', async () => {
    const one = await build({ checkoutDir: rootRepo, subdir: '', version: 'v1.0.0', commitTime: rootTime });
    const two = await build({ checkoutDir: rootRepo, subdir: '', version: 'v1.0.0', commitTime: rootTime });
    expect(one.zip.path).not.toBe(two.zip.path);
    expect((await readFile(one.zip.path)).equals(await readFile(two.zip.path))).toBe(true);
    expect(two.zip.hashes).toEqual(one.zip.hashes);
    // no directory entries: go hashes every entry, so one would change the h1
    expect((await zipListing(one.zip.path)).some((l) => l.endsWith('/'))).toBe(false);
  });

  it('a `git worktree` checkout (whose .git is a file) gives the same module; so does a plain directory of the tree', async () => {
    const wt = join(tmp, 'worktree-rootmod');
    await git(rootRepo, 'worktree', 'add', '-q', '--detach', wt, 'v1.0.0');
    expect((await readFile(join(wt, '.git'), 'utf8')).startsWith('gitdir:')).toBe(true);
    const fromWorktree = await build({ checkoutDir: wt, subdir: '', version: 'v1.0.0', commitTime: rootTime });
    expect(fromWorktree.files).not.toContain('.git');

    // No .git at all: walked as zip.CreateFromDir walks. Exported the way go
    // exports (export-* attributes off), so the tree is what go sees.
    const plain = join(tmp, 'plain-rootmod');
    await mkdir(plain);
    await writeFile(join(rootRepo, '.git', 'info', 'attributes'), '* -export-subst -export-ignore\n');
    const tar = join(tmp, 'rootmod.tar');
    await git(rootRepo, 'archive', '--format=tar', '-o', tar, 'v1.0.0');
    expect((await run('tar', ['-xf', tar, '-C', plain])).code).toBe(0);
    const fromDir = await build({ checkoutDir: plain, subdir: '', version: 'v1.0.0', commitTime: rootTime });
    expect(fromDir.listing).toBe('directory');

    const fromRepo = await build({ checkoutDir: rootRepo, subdir: '', version: 'v1.0.0', commitTime: rootTime });
    expect(fromWorktree.zip.h1).toBe(fromRepo.zip.h1);
    expect(fromDir.zip.h1).toBe(fromRepo.zip.h1);
    expect(fromDir.files).toEqual(fromRepo.files);
  });

  it('a module in a subdirectory: tag sub/v1.2.0, its nested module left out, the root LICENSE added as go adds it', async () => {
    const repo = await makeRepo('mono');
    const time = await commitAndTag(
      repo,
      {
        'go.mod': 'module example.com/mono.git\n',
        'LICENSE': 'Apache-2.0, from the repository root\n',
        'root.go': 'package mono\n',
        'sub/go.mod': 'module example.com/mono.git/sub\n\ngo 1.18\n',
        'sub/s.go': 'package sub\n',
        'sub/inner/go.mod': 'module example.com/mono.git/sub/inner\n',
        'sub/inner/i.go': 'package inner\n',
        'sub/vendor/modules.txt': '# vendored\n',
        'other/go.mod': 'module example.com/mono.git/other\n',
        'other/LICENSE': 'its own licence\n',
        'other/o.go': 'package other\n',
      },
      ['v1.0.0', 'sub/v1.2.0', 'other/v0.1.0'],
      '2022-12-31T23:59:59+02:00',
    );
    const sub = await build({ checkoutDir: repo, subdir: 'sub', version: 'v1.2.0', commitTime: time });
    expect(sub.modulePath).toBe('example.com/mono.git/sub');
    expect(sub.files).toEqual(['LICENSE', 'go.mod', 's.go', 'vendor/modules.txt']);
    await expectSameAsGo(sub, 'example.com/mono.git/sub@v1.2.0');
    expect(sub.info.bytes.toString()).toBe('{"Version":"v1.2.0","Time":"2022-12-31T21:59:59Z"}');

    const other = await build({ checkoutDir: repo, subdir: 'other', version: 'v0.1.0', commitTime: time });
    expect(other.files).toEqual(['LICENSE', 'go.mod', 'o.go']);
    await expectSameAsGo(other, 'example.com/mono.git/other@v0.1.0');

    // the root module leaves out every module below it
    const root = await build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: time });
    expect(root.files).toEqual(['LICENSE', 'go.mod', 'root.go']);
    await expectSameAsGo(root, 'example.com/mono.git@v1.0.0');
  });

  it('a module without go.mod: the .mod is synthesised as go does; v2+ only as +incompatible', async () => {
    const repo = await makeRepo('nomod');
    const t1 = await commitAndTag(repo, { 'a.go': 'package nomod\n' }, ['v1.1.0']);
    const v1 = await build({ checkoutDir: repo, subdir: '', modulePath: 'example.com/nomod.git', version: 'v1.1.0', commitTime: t1 });
    expect(v1.mod.synthesized).toBe(true);
    expect(v1.mod.bytes.toString()).toBe('module example.com/nomod.git\n');
    await expectSameAsGo(v1, 'example.com/nomod.git@v1.1.0');

    const t2 = await commitAndTag(repo, { 'b.go': 'package nomod\n' }, ['v2.0.0'], '2023-01-01T00:00:00Z');
    const v2 = await build({ checkoutDir: repo, subdir: '', modulePath: 'example.com/nomod.git', version: 'v2.0.0+incompatible', commitTime: t2 });
    await expectSameAsGo(v2, 'example.com/nomod.git@v2.0.0+incompatible');

    // the tag's own name is not a version go knows for this path
    const err = await expectCode(build({ checkoutDir: repo, subdir: '', modulePath: 'example.com/nomod.git', version: 'v2.0.0', commitTime: t2 }), 'EBADSOURCE');
    expect(err.subject).toBe('example.com/nomod.git@v2.0.0');
    expect(err.hint).toContain('v2.0.0+incompatible');
    // and a path the job gives must be one
    await expectCode(build({ checkoutDir: repo, subdir: '', version: 'v2.0.0+incompatible', commitTime: t2 }), 'EBADSOURCE');
    // in a folder (which has no go.mod either): the reason given is the folder, not a go.mod the commit lacks
    await git(repo, 'tag', 'sub/v2.0.0');
    const inSub = await expectCode(build({ checkoutDir: repo, subdir: 'sub', modulePath: 'example.com/nomod.git/sub', version: 'v2.0.0+incompatible', commitTime: t2 }), 'EBADSOURCE');
    expect(inSub.message).not.toContain('this commit has one');
    expect(inSub.message).toContain('sub');
    expect((await goDirect('example.com/nomod.git/sub@v2.0.0+incompatible')).Error).toContain('missing example.com/nomod.git/sub/go.mod');
  });

  it('İ and ı are no case of i to go (its fold table keeps both apart): i.go, İ.go and ı.go make one module, as go makes it', async () => {
    const repo = await makeRepo('dotted');
    const t = await commitAndTag(repo, { 'go.mod': 'module example.com/dotted.git\n', 'i.go': 'package dotted\n', 'İ.go': 'package dotted\n', 'ı/I.go': 'package x\n' }, ['v1.0.0']);
    const ours = await build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: t });
    expect(ours.files).toEqual(['go.mod', 'i.go', 'İ.go', 'ı/I.go']);
    await expectSameAsGo(ours, 'example.com/dotted.git@v1.0.0');
  });

  it('file names that are not UTF-8 (Latin-1 test data): left out inside vendored packages and nested modules as go leaves them out, refused elsewhere as go refuses them', async () => {
    const latin1 = (s: string) => Buffer.from(s, 'latin1'); // é is the single byte 0xE9
    const writeRaw = async (dir: string, rel: string, content: string) => {
      const parts = rel.split('/');
      await mkdir(join(dir, ...parts.slice(0, -1)), { recursive: true });
      await writeFile(Buffer.concat([Buffer.from(`${join(dir, ...parts.slice(0, -1))}/`), latin1(parts.at(-1)!)]), content);
    };
    const repo = await makeRepo('latin1');
    await writeRaw(repo, 'vendor/example.com/dep/testdata/caf\u00e9.txt', 'vendored\n');
    await writeRaw(repo, 'tools/caf\u00e9.go', 'package tools\n');
    const t = await commitAndTag(repo, { 'go.mod': 'module example.com/latin1.git\n', 'a.go': 'package latin1\n', 'tools/go.mod': 'module example.com/latin1.git/tools\n' }, ['v1.0.0']);
    const ours = await build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: t });
    expect(ours.files).toEqual(['a.go', 'go.mod']);
    await expectSameAsGo(ours, 'example.com/latin1.git@v1.0.0');
    // the same tree without .git: walked, with the same result
    const plain = join(tmp, 'plain-latin1');
    expect((await run('cp', ['-a', repo, plain])).code).toBe(0);
    await rm(join(plain, '.git'), { recursive: true });
    expect((await build({ checkoutDir: plain, subdir: '', version: 'v1.0.0', commitTime: t })).zip.h1).toBe(ours.zip.h1);

    // in the module itself: go refuses the zip ("malformed file path ... invalid UTF-8"), so do we, by code, naming the file
    await writeRaw(repo, 'caf\u00e9.go', 'package latin1\n');
    await writeRaw(plain, 'caf\u00e9.go', 'package latin1\n');
    const t2 = await commitAndTag(repo, {}, ['v1.0.1']);
    expect((await goDirect('example.com/latin1.git@v1.0.1')).Error).toContain('invalid UTF-8');
    for (const dir of [repo, plain]) {
      const err = await expectCode(build({ checkoutDir: dir, subdir: '', version: 'v1.0.1', commitTime: t2 }), 'EBADSOURCE');
      expect(err.message).toContain('invalid UTF-8');
      expect(err.subject).toBe('example.com/latin1.git@v1.0.1');
    }
  });

  it('a file committed with CRLF before a `text` attribute was added is no local change: the fresh checkout builds, as go fetches it', async () => {
    // The usual story of adding .gitattributes without `git add --renormalize`: git status calls
    // such a file modified (its clean form would be LF), though checkout wrote exactly the blob.
    const repo = await makeRepo('crlftext');
    await commitAndTag(repo, { 'go.mod': 'module example.com/crlftext.git\n', 'a.go': 'package crlftext\r\n\r\nconst A = 1\r\n' }, []);
    await writeFile(join(repo, '.gitattributes'), '*.go text\n');
    await git(repo, 'add', '.gitattributes'); // only it: `add -A` would renormalize a.go
    await git(repo, 'commit', '-q', '-m', 'line endings');
    await git(repo, 'tag', 'v1.0.0');
    expect(await git(repo, 'cat-file', 'blob', 'v1.0.0:a.go')).toContain('\r\n');
    const t = new Date(Number((await git(repo, 'log', '-1', '--format=%ct')).trim()) * 1000);
    const access = new GitAccess({ PATH: process.env.PATH, HOME: join(tmp, 'crlftext-home') }, { owner: 'source "crlftext"', keyFilePath: join(tmp, 'crlftext-key') });
    const dir = join(tmp, 'crlftext-checkout');
    await access.checkout(join(repo, '.git'), dir, (await git(repo, 'rev-parse', 'v1.0.0')).trim());
    // git compares contents only when a file's times differ from the index's: a checkout finished within
    // the file system's clock tick ("racily clean") or a file merely touched since. Touched here, so always.
    await utimes(join(dir, 'a.go'), new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
    const ours = await build({ checkoutDir: dir, subdir: '', version: 'v1.0.0', commitTime: t });
    await expectSameAsGo(ours, 'example.com/crlftext.git@v1.0.0');
    // a real edit of that file is still a local change
    await writeFile(join(dir, 'a.go'), 'package crlftext\r\n\r\nconst A = 2\r\n');
    const err = await expectCode(build({ checkoutDir: dir, subdir: '', version: 'v1.0.0', commitTime: t }), 'EBADSOURCE');
    expect(err.message).toContain('a.go');
  });

  it('a go.sum line with the hash of an empty go.mod (an old go bug) is dropped, as go drops it: no mismatch to report', async () => {
    const EMPTY_GO_MOD_H1 = 'h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY=';
    expect(hashGoMod(Buffer.alloc(0))).toBe(EMPTY_GO_MOD_H1);
    const repo = await makeRepo('oldsum');
    const t = await commitAndTag(repo, { 'a.go': 'package oldsum\n' }, ['v1.0.0']);
    const ours = await build({ checkoutDir: repo, subdir: '', modulePath: 'example.com/oldsum.git', version: 'v1.0.0', commitTime: t });
    // go of 2018 wrote this line for modules without go.mod; go today skips it on reading
    const sum = `example.com/oldsum.git v1.0.0 ${ours.zip.h1}\nexample.com/oldsum.git v1.0.0/go.mod ${EMPTY_GO_MOD_H1}\n`;

    // a consumer with that go.sum builds against our proxy (a line go did not drop would be a SECURITY ERROR, -mod=mod or not)
    const proxy = join(tmp, `proxy-${++n}`);
    const at = join(proxy, 'example.com', 'oldsum.git', '@v');
    await mkdir(at, { recursive: true });
    await copyFile(ours.zip.path, join(at, 'v1.0.0.zip'));
    await writeFile(join(at, 'v1.0.0.mod'), ours.mod.bytes);
    await writeFile(join(at, 'v1.0.0.info'), ours.info.bytes);
    await writeFile(join(at, 'list'), 'v1.0.0\n');
    const consumer = join(tmp, `consumer-${n}`);
    await writeTree(consumer, { 'go.mod': 'module example.com/consumer\n\ngo 1.19\n\nrequire example.com/oldsum.git v1.0.0\n', 'go.sum': sum, 'main.go': 'package main\n\nimport _ "example.com/oldsum.git"\n\nfunc main() {}\n' });
    const env = { ...gitEnv(), GOPROXY: `file://${proxy}`, GOSUMDB: 'off', GONOSUMDB: '*', GOPATH: join(tmp, `gopath-${n}`), GOCACHE: join(tmp, 'gocache'), GOFLAGS: '-mod=mod -modcacherw', GO111MODULE: 'on', GOTOOLCHAIN: 'local', GOENV: 'off' };
    const r = await run(GO, ['build', './...'], { cwd: consumer, env });
    expect(r.stderr).not.toMatch(/checksum mismatch|SECURITY ERROR/);
    expect(r.code, r.stderr).toBe(0);

    // and the job's go.sum check agrees
    await writeFile(join(consumer, 'go.sum'), sum);
    const row = { version: 'v1.0.0', facts: JSON.stringify({ module: ours.modulePath, h1: ours.zip.h1, goModH1: ours.mod.h1 }) } as ItemRow;
    const checked = checkGoSums([join(consumer, 'go.sum')], [row]);
    expect(checked.mismatches).toEqual([]);
    expect(checked.checked).toBe(1);
  });

  it('a go.sum line with a hash of another kind than h1 (h2:, unknown to go today) is not compared, as go compares h1 lines alone: no mismatch, not counted', async () => {
    const repo = await makeRepo('h2sum');
    const t = await commitAndTag(repo, { 'go.mod': 'module example.com/h2sum.git\n', 'a.go': 'package h2sum\n' }, ['v1.0.0']);
    const ours = await build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: t });
    const file = join(tmp, 'h2.sum');
    await writeFile(file, `example.com/h2sum.git v1.0.0 h2:${'A'.repeat(43)}=\nexample.com/h2sum.git v1.0.0 ${ours.zip.h1}\nexample.com/h2sum.git v1.0.0/go.mod ${ours.mod.h1}\n`);
    const row = { version: 'v1.0.0', facts: JSON.stringify({ module: ours.modulePath, h1: ours.zip.h1, goModH1: ours.mod.h1 }) } as ItemRow;
    const checked = checkGoSums([file], [row]);
    expect(checked.mismatches).toEqual([]);
    expect(checked.checked).toBe(2);
  });

  it('a go.sum of 200,000 lines (18 MB, well under the 64 MiB a go.sum may be) is read and checked whole, not an unreadable file', () => {
    const file = join(tmp, 'huge.sum');
    const h = `h1:${'A'.repeat(43)}=`;
    const lines: string[] = [];
    for (let i = 0; i < 100_000; i++) lines.push(`example.com/dep${i} v1.0.0 ${h}`, `example.com/dep${i} v1.0.0/go.mod ${h}`);
    lines.push(`example.com/mine v1.2.3 h1:${'B'.repeat(43)}=`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const row = { version: 'v1.2.3', facts: JSON.stringify({ module: 'example.com/mine', h1: `h1:${'C'.repeat(43)}=`, goModH1: h }) } as ItemRow;
    const checked = checkGoSums([file], [row]);
    expect(checked.errors).toEqual([]);
    expect(checked.checked).toBe(1);
    expect(checked.mismatches).toMatchObject([{ module: 'example.com/mine', version: 'v1.2.3', line: 200_001, kind: 'zip' }]);
  });

  it("the operator's own git attributes (~/.config/git/attributes) do not reach the checkout a module is built from", async () => {
    const repo = await makeRepo('userattrs');
    const t = await commitAndTag(repo, { 'go.mod': 'module example.com/userattrs.git\n', 'a.go': 'package userattrs\n\nconst A = 1\n' }, ['v1.0.0']);
    // git reads this file by default, whatever GIT_CONFIG_GLOBAL says: CRLF for every .go file checked out
    const home = join(tmp, 'operator-home');
    await writeTree(home, { '.config/git/attributes': '*.go text eol=crlf\n' });
    const access = new GitAccess({ PATH: process.env.PATH, HOME: home }, { owner: 'source "userattrs"', keyFilePath: join(tmp, 'userattrs-key') });
    const dir = join(tmp, 'userattrs-checkout');
    await access.checkout(join(repo, '.git'), dir, (await git(repo, 'rev-parse', 'v1.0.0')).trim());
    expect(await readFile(join(dir, 'a.go'), 'utf8')).toBe('package userattrs\n\nconst A = 1\n');
    const ours = await build({ checkoutDir: dir, subdir: '', version: 'v1.0.0', commitTime: t });
    await expectSameAsGo(ours, 'example.com/userattrs.git@v1.0.0');
  });

  // the system's attributes file is /etc/gitattributes: only root may plant one; the pattern is this test's own, so no other test's checkout sees it
  it.runIf(process.getuid?.() === 0)("the system's git attributes (/etc/gitattributes) do not reach the checkout a module is built from either", async () => {
    const repo = await makeRepo('sysattrs');
    await commitAndTag(repo, { 'go.mod': 'module example.com/sysattrs.git\n', 'a.go': 'package sysattrs\n', 'notes.probe-crlf': 'one\ntwo\n' }, ['v1.0.0']);
    const system = '/etc/gitattributes';
    const before = await readFile(system, 'utf8').catch(() => undefined);
    await writeFile(system, `${before ?? ''}\n*.probe-crlf text eol=crlf\n`);
    try {
      const access = new GitAccess({ PATH: process.env.PATH, HOME: join(tmp, 'sysattrs-home') }, { owner: 'source "sysattrs"', keyFilePath: join(tmp, 'sysattrs-key') });
      const dir = join(tmp, 'sysattrs-checkout');
      await access.checkout(join(repo, '.git'), dir, (await git(repo, 'rev-parse', 'v1.0.0')).trim());
      expect(await readFile(join(dir, 'notes.probe-crlf'), 'utf8')).toBe('one\ntwo\n');
    } finally {
      if (before === undefined) await rm(system, { force: true });
      else await writeFile(system, before);
    }
  });

  it('checkout filters go applies too (eol=crlf, ident, working-tree-encoding from .gitattributes): the zip holds the converted bytes, the .mod the blob, as go has them', async () => {
    // go builds the zip from `git archive`, which converts each file as a checkout does, and reads .mod with `git cat-file blob`
    const repo = await makeRepo('filters');
    const t = await commitAndTag(
      repo,
      {
        '.gitattributes': '* text eol=crlf\n*.id ident\n*.u16 text working-tree-encoding=UTF-16LE eol=lf\n',
        'go.mod': 'module example.com/filters.git\n\ngo 1.19\n',
        'a.go': 'package filters\n\nconst A = 1\n',
        'x.id': '$Id$\n',
        'w.u16': 'hello\n',
        'LICENSE': 'MIT\n',
        'sub/go.mod': 'module example.com/filters.git/sub\n',
        'sub/s.go': 'package sub\n',
      },
      ['v1.0.0', 'sub/v1.0.0'],
    );
    const access = new GitAccess({ PATH: process.env.PATH, HOME: join(tmp, 'filters-home') }, { owner: 'source "filters"', keyFilePath: join(tmp, 'filters-key') });
    const dir = join(tmp, 'filters-checkout');
    await access.checkout(join(repo, '.git'), dir, (await git(repo, 'rev-parse', 'v1.0.0')).trim());
    expect(await readFile(join(dir, 'a.go'), 'utf8')).toContain('\r\n');
    const root = await build({ checkoutDir: dir, subdir: '', version: 'v1.0.0', commitTime: t });
    expect(root.mod.bytes.toString()).not.toContain('\r');
    await expectSameAsGo(root, 'example.com/filters.git@v1.0.0');
    // a module below the root: the root LICENSE as its blob (cat-file), not as checked out
    const sub = await build({ checkoutDir: dir, subdir: 'sub', version: 'v1.0.0', commitTime: t });
    expect(sub.files).toEqual(['LICENSE', 'go.mod', 's.go']);
    await expectSameAsGo(sub, 'example.com/filters.git/sub@v1.0.0');
  });

  it('go.mod files below the root in testdata/ and vendor/ (any case) make other modules, vendor/modules.txt with them; an executable file is just a file', async () => {
    const repo = await makeRepo('nested');
    await writeTree(repo, { 'tool.sh': '#!/bin/sh\n' });
    await run('chmod', ['755', join(repo, 'tool.sh')]);
    const t = await commitAndTag(
      repo,
      {
        'go.mod': 'module example.com/nested.git\n',
        'a.go': 'package nested\n',
        'testdata/mod/go.mod': 'module x\n',
        'testdata/mod/x.go': 'package x\n',
        'testdata/upper/GO.MOD': 'module y\n',
        'testdata/upper/z.go': 'package z\n',
        'testdata/Go.Mod/y': 'a folder named like go.mod is no module\n',
        'vendor/go.mod': 'module v\n',
        'vendor/modules.txt': '# x\n',
        'vendor/x.go': 'package v\n',
        'a/vendor/c.go': 'package c\n',
        'a/b/vendor/c/d.go': 'package d\n',
      },
      ['v1.0.0'],
    );
    const ours = await build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: t });
    expect(await git(repo, 'ls-tree', 'v1.0.0', 'tool.sh')).toMatch(/^100755 /);
    expect(ours.files).toEqual(['a.go', 'go.mod', 'testdata/Go.Mod/y', 'tool.sh']);
    await expectSameAsGo(ours, 'example.com/nested.git@v1.0.0');
  });

  it('a v2 module in the v2/ folder gets the root LICENSE as go adds it; a module whose LICENSE is a link gets none', async () => {
    const repo = await makeRepo('v2dir');
    const t = await commitAndTag(
      repo,
      {
        'go.mod': 'module example.com/v2dir.git\n',
        'LICENSE': 'root license\n',
        'a.go': 'package v2dir\n',
        'v2/go.mod': 'module example.com/v2dir.git/v2\n',
        'v2/a.go': 'package v2dir\n',
        'l/go.mod': 'module example.com/v2dir.git/l\n',
        'l/LICENSE': { link: '../LICENSE' },
        'l/a.go': 'package l\n',
      },
      ['v2.0.0', 'l/v1.0.0'],
    );
    const v2 = await build({ checkoutDir: repo, subdir: 'v2', version: 'v2.0.0', commitTime: t });
    expect(v2.files).toEqual(['LICENSE', 'a.go', 'go.mod']);
    await expectSameAsGo(v2, 'example.com/v2dir.git/v2@v2.0.0');
    // go sees the subfolder's LICENSE (a link) in the archive, so adds none, then leaves the link out
    const l = await build({ checkoutDir: repo, subdir: 'l', version: 'v1.0.0', commitTime: t });
    expect(l.files).toEqual(['a.go', 'go.mod']);
    await expectSameAsGo(l, 'example.com/v2dir.git/l@v1.0.0');
  });

  it('a /v2 module: the major version must match the path suffix, as go insists', async () => {
    const repo = await makeRepo('major');
    const t1 = await commitAndTag(repo, { 'go.mod': 'module example.com/major.git\n', 'm.go': 'package major\n' }, ['v1.0.0']);
    const v1 = await build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: t1 });
    await expectSameAsGo(v1, 'example.com/major.git@v1.0.0');

    const t2 = await commitAndTag(repo, { 'go.mod': 'module example.com/major.git/v2\n', 'm2.go': 'package major\n' }, ['v2.0.0']);
    const v2 = await build({ checkoutDir: repo, subdir: '', version: 'v2.0.0', commitTime: t2 });
    expect(v2.modulePath).toBe('example.com/major.git/v2');
    await expectSameAsGo(v2, 'example.com/major.git/v2@v2.0.0');

    // v3.0.0 tagged on a go.mod that still says /v2: go refuses, so do we
    await git(repo, 'tag', 'v3.0.0');
    const e3 = await expectCode(build({ checkoutDir: repo, subdir: '', version: 'v3.0.0', commitTime: t2 }), 'EBADSOURCE');
    expect(e3.subject).toBe('example.com/major.git/v2@v3.0.0');
    expect((await goDirect('example.com/major.git/v2@v3.0.0')).Error).toBeTruthy();

    // v4.0.0 on a go.mod without a suffix: go refuses it under both paths
    const t4 = await commitAndTag(repo, { 'go.mod': 'module example.com/major.git\n' }, ['v4.0.0']);
    await expectCode(build({ checkoutDir: repo, subdir: '', version: 'v4.0.0', commitTime: t4 }), 'EBADSOURCE');
    await expectCode(build({ checkoutDir: repo, subdir: '', version: 'v4.0.0+incompatible', commitTime: t4 }), 'EBADSOURCE');
    expect((await goDirect('example.com/major.git@v4.0.0')).Error).toContain('go.mod');
    expect((await goDirect('example.com/major.git@v4.0.0+incompatible')).Error).toBeTruthy();

    // the job names the module without its suffix; go.mod's /v2 path is the one built
    await git(repo, 'checkout', '-q', 'v2.0.0');
    const named = await build({ checkoutDir: repo, subdir: '', modulePath: 'example.com/major.git', version: 'v2.0.0', commitTime: t2 });
    expect(named.modulePath).toBe('example.com/major.git/v2');
    expect(named.zip.h1).toBe(v2.zip.h1);
    // a job naming another path than go.mod is refused
    const other = await expectCode(build({ checkoutDir: repo, subdir: '', modulePath: 'example.com/other.git', version: 'v2.0.0', commitTime: t2 }), 'EBADSOURCE');
    expect([other.expected, other.actual]).toEqual(['example.com/other.git', 'example.com/major.git/v2']);
  });
});

// ---------------------------------------------------------------- refusals

describe('buildGoModule refuses what go refuses, with a code', () => {
  it('a case-insensitive file name collision (go refuses it too)', async () => {
    const repo = await makeRepo('collide');
    const t = await commitAndTag(repo, { 'go.mod': 'module example.com/collide.git\n', 'README.md': 'a\n', 'docs/readme.md': 'b\n', 'Docs/x.md': 'c\n' }, ['v1.0.0']);
    const err = await expectCode(build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: t }), 'EBADSOURCE');
    expect(err.message).toContain('case-insensitive file name collision');
    expect((await goDirect('example.com/collide.git@v1.0.0')).Error).toContain('case-insensitive file name collision');
  });

  it('a go.mod over 16 MiB: ETOOLARGE before it is read (go refuses it too)', async () => {
    const repo = await makeRepo('bigmod');
    const big = Buffer.alloc(17 << 20, '/'); // one long comment after the module line
    Buffer.from('module example.com/bigmod.git\n//').copy(big);
    big[big.length - 1] = 0x0a;
    const t = await commitAndTag(repo, { 'go.mod': big, 'a.go': 'package bigmod\n' }, ['v1.0.0']);
    const err = await expectCode(build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: t }), 'ETOOLARGE');
    expect(err.subject).toContain('v1.0.0');
    expect((await goDirect('example.com/bigmod.git@v1.0.0')).Error).toContain('too large');
    // the plain-directory path checks the size first too
    await rm(join(repo, '.git'), { recursive: true });
    await expectCode(build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: t }), 'ETOOLARGE');
  });

  it('a go.mod whose module line starts with a byte order mark names no module (go refuses it too; String.trim would have read it)', async () => {
    const repo = await makeRepo('bom');
    const t = await commitAndTag(repo, { 'go.mod': '\uFEFFmodule example.com/bom.git\n', 'a.go': 'package bom\n' }, ['v1.0.0']);
    const err = await expectCode(build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: t }), 'EBADSOURCE');
    expect(err.message).toContain('no module line');
    expect((await goDirect('example.com/bom.git@v1.0.0')).Error).toContain('missing module path');
    // Go's white space around the path is still white space
    expect(modulePathFromGoMod(Buffer.from('\u00A0module\u3000example.com/x // c\r\n'))).toBe('example.com/x');
  });

  it('file names go cannot carry (shell and Windows trouble) (go refuses them too)', async () => {
    const repo = await makeRepo('badname');
    const t = await commitAndTag(repo, { 'go.mod': 'module example.com/badname.git\n', "it's.go": 'package badname\n' }, ['v1.0.0']);
    const err = await expectCode(build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: t }), 'EBADSOURCE');
    expect(err.message).toContain("it's.go");
    expect((await goDirect('example.com/badname.git@v1.0.0')).Error).toContain('malformed file path');

    const aux = await makeRepo('auxname');
    const t2 = await commitAndTag(aux, { 'go.mod': 'module example.com/auxname.git\n', 'aux.go': 'package auxname\n' }, ['v1.0.0']);
    await expectCode(build({ checkoutDir: aux, subdir: '', version: 'v1.0.0', commitTime: t2 }), 'EBADSOURCE');
    expect((await goDirect('example.com/auxname.git@v1.0.0')).Error).toContain('disallowed as path element component on Windows');
  });

  it('a symbolic link is left out, never followed; a go.mod that is one is refused', async () => {
    const repo = await makeRepo('links');
    const t = await commitAndTag(repo, { 'go.mod': 'module example.com/links.git\n', 'a.go': 'package links\n', 'up': { link: '..' }, 'passwd': { link: '/etc/passwd' } }, ['v1.0.0']);
    const ours = await build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: t });
    expect(ours.files).toEqual(['a.go', 'go.mod']);
    expect(ours.omitted.filter((o) => o.reason === 'file is a symbolic link').map((o) => o.path).sort()).toEqual(['passwd', 'up']);
    await expectSameAsGo(ours, 'example.com/links.git@v1.0.0');

    const linked = await makeRepo('linkedmod');
    const t2 = await commitAndTag(linked, { 'real.mod': 'module example.com/linkedmod.git\n', 'go.mod': { link: 'real.mod' } }, ['v1.0.0']);
    await expectCode(build({ checkoutDir: linked, subdir: '', version: 'v1.0.0', commitTime: t2 }), 'EBADSOURCE');
  });

  it('versions that are not canonical tags, checkouts that are not clean, paths that are not module paths', async () => {
    const repo = await makeRepo('misc');
    const t = await commitAndTag(repo, { 'go.mod': 'module example.com/misc.git\n', 'a.go': 'package misc\n' }, ['v1.0.0']);
    const at = (version: string, extra: Partial<GoBuildInput> = {}) => build({ checkoutDir: repo, subdir: '', version, commitTime: t, ...extra });
    for (const v of ['v1.0', '1.0.0', 'v1.0.0+build.5', 'v01.0.0', 'v0.0.0-20210304050607-abcdefabcdef', 'v1.0.0-rc.01']) await expectCode(at(v), 'EBADSOURCE');
    await expectCode(at('v1.0.0+incompatible'), 'EBADSOURCE');
    await expectCode(at('v1.0.0', { subdir: '../x' }), 'ECONFIG');
    await expectCode(at('v1.0.0', { subdir: 'nothere' }), 'EBADSOURCE');
    await expectCode(at('v1.0.0', { origin: { vcs: 'git', url: 'https://example.com/misc.git', hash: '0'.repeat(40) } }), 'EBADSOURCE');
    // a tracked file changed after checkout would go into the zip unlike what go fetches
    await writeFile(join(repo, 'a.go'), 'package misc // edited\n');
    await expectCode(at('v1.0.0'), 'EBADSOURCE');
    await git(repo, 'checkout', '--', 'a.go');
    const ok = await at('v1.0.0-rc.1');
    expect(ok.version).toBe('v1.0.0-rc.1');

    const bad = await makeRepo('Bad_Path');
    const t2 = await commitAndTag(bad, { 'go.mod': 'module Example.com/x\n' }, ['v1.0.0']);
    await expectCode(build({ checkoutDir: bad, subdir: '', version: 'v1.0.0', commitTime: t2 }), 'EBADSOURCE');
  });

  it('a /v2 module whose v2/ folder holds a go.mod of any other module: go refuses the version (findDir), so do we', async () => {
    // coderepo.go findDir: for example.com/m/v2 a v2/go.mod must be the module (then the root must not
    // claim /v2 too), else "v2/go.mod has non-.../v2 module path"; only a v2/go.mod that is no file is no matter
    const repo = await makeRepo('majdir');
    const t = await commitAndTag(
      repo,
      { 'go.mod': 'module example.com/majdir.git/v2\n', 'm.go': 'package majdir\n', 'v2/go.mod': 'module example.com/majdir.git/tools\n', 'v2/t.go': 'package tools\n' },
      ['v2.0.0'],
    );
    expect((await goDirect('example.com/majdir.git/v2@v2.0.0')).Error).toContain('module path');
    const err = await expectCode(build({ checkoutDir: repo, subdir: '', version: 'v2.0.0', commitTime: t }), 'EBADSOURCE');
    expect(err.subject).toBe('example.com/majdir.git/v2@v2.0.0');

    // a v2/go.mod without a module line, or a link: go reads the blob and finds no module path there either
    const t2 = await commitAndTag(repo, { 'v2/go.mod': '// nothing here\n' }, ['v2.0.1']);
    expect((await goDirect('example.com/majdir.git/v2@v2.0.1')).Error).toContain('missing module path');
    await expectCode(build({ checkoutDir: repo, subdir: '', version: 'v2.0.1', commitTime: t2 }), 'EBADSOURCE');

    // a v2/ folder without go.mod is just a folder of the module
    await git(repo, 'rm', '-q', 'v2/go.mod');
    const t3 = await commitAndTag(repo, {}, ['v2.0.2']);
    const ok = await build({ checkoutDir: repo, subdir: '', version: 'v2.0.2', commitTime: t3 });
    await expectSameAsGo(ok, 'example.com/majdir.git/v2@v2.0.2');
  });

  it('a repository git cannot read (here a broken .git/config; likewise another user\'s, "dubious ownership") is refused, not walked as a plain directory', async () => {
    // walked, its untracked files would go in and its tracked .hg/ would not: another h1 than go's, silently
    const repo = await makeRepo('brokengit');
    const t = await commitAndTag(repo, { 'go.mod': 'module example.com/brokengit.git\n', 'a.go': 'package brokengit\n', '.hg/hgrc': '[ui]\n' }, ['v1.0.0']);
    await writeFile(join(repo, 'untracked.txt'), 'not in the commit\n');
    const config = await readFile(join(repo, '.git', 'config'), 'utf8');
    await appendFile(join(repo, '.git', 'config'), '[broken\n');
    const err = await expectCode(build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: t }), 'EBADSOURCE');
    expect(err.message).toContain('config');
    await writeFile(join(repo, '.git', 'config'), config);
    expect((await build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: t })).files).toEqual(['.hg/hgrc', 'a.go', 'go.mod']);
  });

  it('a LICENSE over 16 MiB at the module root is ETOOLARGE (go refuses it too), and so is a module below the root without one of its own (go adds the root one); one with its own builds', async () => {
    const repo = await makeRepo('biglicense');
    const t = await commitAndTag(repo, { 'go.mod': 'module example.com/biglicense.git\n', 'a.go': 'package a\n', LICENSE: Buffer.alloc((16 << 20) + 1, 'L'), 'sub/go.mod': 'module example.com/biglicense.git/sub\n', 'sub/LICENSE': 'MIT\n', 'sub/s.go': 'package s\n', 'bare/go.mod': 'module example.com/biglicense.git/bare\n', 'bare/b.go': 'package b\n' }, ['v1.0.0', 'sub/v1.0.0', 'bare/v1.0.0']);
    const err = await expectCode(build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: t }), 'ETOOLARGE');
    expect(err.message).toContain('LICENSE file too large');
    expect((await goDirect('example.com/biglicense.git@v1.0.0')).Error).toContain('LICENSE file too large');
    await expectSameAsGo(await build({ checkoutDir: repo, subdir: 'sub', version: 'v1.0.0', commitTime: t }), 'example.com/biglicense.git/sub@v1.0.0');
    // without a LICENSE of its own, go adds the root one, and refuses it
    expect((await expectCode(build({ checkoutDir: repo, subdir: 'bare', version: 'v1.0.0', commitTime: t }), 'ETOOLARGE')).message).toContain('LICENSE file too large');
    expect((await goDirect('example.com/biglicense.git/bare@v1.0.0')).Error).toContain('LICENSE file too large');
  });

  it('files adding up to more than 500 MiB (sparse here) are ETOOLARGE naming the limit, before any byte is read or a zip written', async () => {
    const dir = join(tmp, 'hugetree');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'go.mod'), 'module example.com/hugetree\n');
    for (const name of ['a.bin', 'b.bin']) {
      await writeFile(join(dir, name), '');
      await truncate(join(dir, name), 300 << 20);
    }
    const zipPath = join(tmp, 'out', 'hugetree.zip');
    const err = await expectCode(build({ checkoutDir: dir, subdir: '', version: 'v1.0.0', commitTime: new Date(0), zipPath }), 'ETOOLARGE');
    expect(err.message).toContain(`module source tree too large (max size is ${500 << 20} bytes)`);
    expect(err.subject).toBe('example.com/hugetree@v1.0.0');
    expect(existsSync(zipPath)).toBe(false);
  });

  it('no half-written zip is left behind when a build fails', async () => {
    const repo = await makeRepo('nozip');
    const t = await commitAndTag(repo, { 'go.mod': 'module example.com/nozip.git\n', 'A.go': 'x\n', 'a.go': 'y\n' }, ['v1.0.0']);
    const zipPath = join(tmp, 'out', 'nozip.zip');
    await expectCode(build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: t, zipPath }), 'EBADSOURCE');
    expect(existsSync(zipPath)).toBe(false);
  });
});

describe('a full disk while the module is written', () => {
  // /dev/full answers every write with ENOSPC, as a full file system does: a file of the
  // build that is a link to it is a disk that fills up just there
  let repo: string;
  let t: Date;
  beforeAll(async () => {
    repo = await makeRepo('fulldisk');
    t = await commitAndTag(repo, { 'go.mod': 'module example.com/fulldisk.git\n\ngo 1.19\n', 'a.go': 'package fulldisk\n' }, ['v1.0.0']);
  });

  it('the zip: ELOCAL naming the file (no source failure), nothing half-written left; with room again the same build works', async () => {
    const zipPath = join(tmp, 'out', 'fulldisk.zip');
    await symlink('/dev/full', `${zipPath}.partial-${process.pid}`);
    const err = await expectCode(build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: t, zipPath }), 'ELOCAL');
    expect(err.message).toContain(zipPath);
    expect(existsSync(zipPath)).toBe(false);
    expect(existsSync(`${zipPath}.partial-${process.pid}`)).toBe(false);
    const ok = await build({ checkoutDir: repo, subdir: '', version: 'v1.0.0', commitTime: t, zipPath });
    expect(ok.zip.path).toBe(zipPath);
  });

  it('the .mod and .info beside it: ELOCAL naming the file, not a raw error the engine would take for CodeArtifact\'s (ETARGET)', async () => {
    const checkout = { dir: repo, subdir: '', commit: 'c', committedAt: t, build: { timeoutMs: 1000, network: false }, recipe: '', cleanup() {} };
    for (const file of ['module.mod', 'module.info']) {
      const outDir = join(tmp, 'out', `fulldisk-${file}`);
      await mkdir(outDir);
      await symlink('/dev/full', join(outDir, file));
      const err = await expectCode(buildVersion({ format: 'go', checkout, name: 'example.com/fulldisk.git', version: 'v1.0.0', outDir }), 'ELOCAL');
      expect(err.message).toContain(join(outDir, file));
    }
  });
});

// ---------------------------------------------------------------- the rules, from x/mod's own test data

/**
 * golang.org/x/mod/zip's testdata/create_from_dir cases: files, and the h1 the
 * Go implementation gives the zip it makes from them. These cover the go 1.24
 * vendor rules, which Debian's go 1.19 cannot show.
 * https://cs.opensource.google/go/x/mod/+/master:zip/testdata/create_from_dir/
 */
const X_MOD_CASES: Array<{ name: string; path: string; files: Record<string, string>; hash?: string; wantErr?: string }> = [
  {
    name: 'simple',
    path: 'example.com/m',
    hash: 'h1:tpqYOOmuilagXzyqoJ3roUjp8gneQeTv5YVpL6BG7/k=',
    files: {
      'go.mod': 'module example.com/m\n\ngo 1.13\n',
      'm.go': 'package m\n\nfunc Foo() int { return 42 }\n',
      'cmd/hello/hello.go': 'package main\n\nimport (\n  "fmt"\n  "example.com/m"\n)\n\nfunc main() {\n  fmt.Println(m.Foo())\n}\n',
    },
  },
  {
    name: 'exclude_vendor',
    path: 'example.com/m',
    hash: 'h1:5u93LDLN0Me+NGfZtRpA5mHxY8svfykHpq4CMSaBZyc=',
    files: {
      'go.mod': 'module example.com/m\n\ngo 1.13\n',
      'vendor/modules.txt': 'included\nsee comment in isVendoredPackage and golang.org/issue/31562.\n',
      'vendor/example.com/x/x.go': 'excluded\n',
      'sub/vendor/sub.txt': 'excluded\n',
      'pkg/vendor/vendor.go': 'excluded\nsee comment in isVendoredPackage and golang.org/issue/37397\n',
    },
  },
  {
    name: 'exclude_vendor_go124',
    path: 'example.com/m',
    hash: 'h1:mJR1q75yiMK6+CDw6DuhMS4v4hNoLXqkyk2Cph4VS8Q=',
    files: {
      'go.mod': 'module example.com/m\n\ngo 1.24\nmodules.txt is excluded in 1.24+. See golang.org/issue/63395\n',
      'vendor/modules.txt': 'excluded\nsee comment in isVendoredPackage and golang.org/issue/31562.\n',
      'vendor/example.com/x/x.go': 'excluded\n',
      'sub/vendor/sub.txt': 'excluded\n',
      'pkg/vendor/vendor.go': 'included\nsee comment in isVendoredPackage and golang.org/issue/37397\n',
    },
  },
  {
    name: 'exclude_submodule',
    path: 'example.com/m',
    hash: 'h1:XduFAgX/GaspZa8Jv4pfzoGEzNaU/r88PiCunijw5ok=',
    files: { 'go.mod': 'module example.com/m\n\ngo 1.13\n', 'sub/go.mod': 'module example.com/m/sub\n', "sub/x.go'": "invalid name, but this shouldn't be read\n" },
  },
  {
    name: 'exclude_vcs',
    path: 'example.com/m',
    hash: 'h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=',
    files: { '.bzr/exclude': 'exclude\n', '.git/exclude': 'exclude\n', '.hg/exclude': 'exclude\n', '.svn/exclude': 'exclude\n' },
  },
  { name: 'go_mod_dir', path: 'example.com/m', hash: 'h1:Mun5l9cBlDnnV6JasTpio2aZJSbFj++h+814mnKC/OM=', files: { 'go.mod/a.go': 'package a\n' } },
  { name: 'empty', path: 'example.com/empty', hash: 'h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=', files: {} },
  { name: 'bad_gomod_case', path: 'example.com/m', wantErr: 'go.mod files must have lowercase names', files: { 'GO.MOD': 'module example.com/m\n' } },
  { name: 'bad_file_path', path: 'example.com/m', wantErr: "invalid char \"'\"", files: { "bad.go'": 'package bad\n' } },
  // from testdata/create (zip.Create over a file list)
  { name: 'exclude_cap_go_mod_submodule', path: 'example.com/m', hash: 'h1:xctQQey8/y7IcBjFZDP/onWLSXhlqcsC3i1fgSdpMHk=', files: { 'a.go': 'package a\n', 'b/GO.MOD': 'MODULE EXAMPLE.COM/M/B\n', 'b/b.go': 'package b\n' } },
];

describe('zip rules, on golang.org/x/mod test data (plain directories)', () => {
  for (const c of X_MOD_CASES) {
    it(c.name, async () => {
      const dir = join(tmp, `xmod-${c.name}`);
      await mkdir(dir, { recursive: true });
      await writeTree(dir, c.files);
      const p = build({ checkoutDir: dir, subdir: '', modulePath: c.path, version: 'v1.0.0', commitTime: new Date(0) });
      if (c.wantErr) {
        const err = await expectCode(p, 'EBADSOURCE');
        expect(err.message).toContain(c.wantErr);
      } else {
        const b = await p;
        expect(b.listing).toBe('directory');
        expect(b.zip.h1).toBe(c.hash);
        expect(await hashZip(b.zip.path)).toBe(c.hash);
      }
    });
  }

  it('isVendoredPackage, x/mod vendor_test.go table', () => {
    const both = [false, true];
    const table: Array<[string, boolean, boolean[]]> = [
      ['vendor/foo/foo.go', true, both],
      ['pkg/vendor/foo/foo.go', true, both],
      ['longpackagename/vendor/foo/foo.go', true, both],
      ['vendor/vendor.go', false, both],
      ['vendor/foo/modules.txt', true, both],
      ['modules.txt', false, both],
      ['vendor/amodules.txt', false, both],
      ['vendor/modules.txt', false, [false]],
      ['vendor/modules.txt', true, [true]],
      ['pkg/vendor/vendor.go', true, [false]],
      ['pkg/vendor/vendor.go', false, [true]],
      ['longpackagename/vendor/vendor.go', true, [false]],
      ['longpackagename/vendor/vendor.go', false, [true]],
    ];
    for (const [path, want, rules] of table) for (const go124 of rules) expect([path, go124, isVendoredPackage(path, go124)]).toEqual([path, go124, want]);
  });

  it('reads the go directive as modfile.ParseLax does', () => {
    const d = (s: string) => declaresGo124(Buffer.from(s));
    expect(d('module m\ngo 1.24\n')).toBe(true);
    expect(d('module m\ngo 1.24.3 // comment\n')).toBe(true);
    expect(d('module m\ngo 1.25rc1\n')).toBe(true);
    expect(d('module m\r\ngo 2.0\r\n')).toBe(true);
    expect(d('module m\ngo 1.23.9\n')).toBe(false);
    expect(d('module m\ngo 1.9\n')).toBe(false);
    expect(d('module m\n')).toBe(false);
    expect(d('module m\ngo 1.24\ngo 1.24\n')).toBe(false); // repeated: ParseLax fails, old rules
    expect(d('module m\ngo 1.24.x\n')).toBe(true); // lax: fixed to 1.24
  });

  it('folds case like Go (Kelvin sign, long s, sigma; İ)', () => {
    expect(foldKey('K')).toBe(foldKey('\u212A'));
    expect(foldKey('s')).toBe(foldKey('\u017F'));
    expect(foldKey('\u03C3')).toBe(foldKey('\u03C2'));
    expect(foldKey('\u00B5')).toBe(foldKey('\u039C'));
    // unicode.SimpleFold leaves both alone (caseOrbit {0x130, 0x130}, {0x131, 0x131}): only Turkic folding joins them to i
    expect(foldKey('\u0130')).not.toBe(foldKey('i'));
    expect(foldKey('\u0131')).not.toBe(foldKey('i'));
    expect(foldKey('\u0130')).not.toBe(foldKey('\u0131'));
    expect(foldKey('ß')).not.toBe(foldKey('ss'));
    expect(foldKey('a/B.go')).toBe(foldKey('A/b.GO'));
  });

  it('module paths and escaping (https://go.dev/ref/mod#goproxy-protocol)', () => {
    expect(escapeModulePath('github.com/Azure/azure-sdk-for-go')).toBe('github.com/!azure/azure-sdk-for-go');
    expect(escapeVersion('v1.0.0-RC1')).toBe('v1.0.0-!r!c1');
    expect(checkModulePath('example.com/m/v2')).toBeUndefined();
    expect(checkModulePath('gopkg.in/yaml.v3')).toBeUndefined();
    expect(checkModulePath('example.com/m/v1')).toBe('invalid version');
    expect(checkModulePath('example.com/m/v02')).toBe('invalid version');
    expect(checkModulePath('localhost/m')).toBe('missing dot in first path element');
    expect(checkModulePath('Example.com/m')).toContain('first path element');
    expect(checkModulePath('example.com/PROGRA~1')).toBe('trailing tilde and digits in path element');
  });
});

describe('integrity/dirhash', () => {
  it('h1 is sha256 over sorted "<sha256>  <name>\\n" lines, names in byte order', () => {
    const files: Array<[string, string]> = [
      ['m@v1/b', 'B'],
      ['m@v1/a/\u00e9', 'E'], // U+00E9 sorts after '/' and letters in UTF-8 bytes
      ['m@v1/a/z', 'Z'],
      ['m@v1/\uFF21', 'fullwidth A'], // U+FF21 vs U+1F600: UTF-16 order differs from UTF-8 byte order
      ['m@v1/\u{1F600}', 'emoji'],
    ];
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const summary = [...files]
      .sort((x, y) => Buffer.compare(Buffer.from(x[0]), Buffer.from(y[0])))
      .map(([name, data]) => `${sha(data)}  ${name}\n`)
      .join('');
    const h = new Hash1();
    for (const [name, data] of files) h.addBytes(name, Buffer.from(data));
    expect(h.digest()).toBe(`h1:${createHash('sha256').update(summary).digest('base64')}`);
    expect(hashGoMod(Buffer.from('module m\n'))).toBe(`h1:${createHash('sha256').update(`${sha('module m\n')}  go.mod\n`).digest('base64')}`);
    expect(() => h.addBytes('a\nb', Buffer.alloc(0))).toThrow(MigrateError);
  });

  it('.info is what go writes: RFC 3339 UTC, whole seconds, Go JSON escaping', () => {
    expect(goInfoJson('v1.2.3', new Date('2019-04-22T20:58:15.999Z')).toString()).toBe('{"Version":"v1.2.3","Time":"2019-04-22T20:58:15Z"}');
    expect(
      JSON.parse(goInfoJson('v1.0.0', new Date(0), { vcs: 'git', url: 'https://h/x?a=1&b=<2>', hash: 'ab', ref: 'refs/tags/v1.0.0' }).toString()),
    ).toEqual({ Version: 'v1.0.0', Time: '1970-01-01T00:00:00Z', Origin: { VCS: 'git', URL: 'https://h/x?a=1&b=<2>', Hash: 'ab', Ref: 'refs/tags/v1.0.0' } });
    expect(goInfoJson('v1.0.0', new Date(0), { vcs: 'git', url: 'a&b', hash: 'h' }).toString()).toContain('a\\u0026b');
  });

  it('.info of a commit dated past the year 9999: EBADSOURCE (go writes no such time, and refuses "+010000-…"), never a .info that breaks go get', () => {
    expect(goInfoJson('v1.0.0', new Date('9999-12-31T23:59:59.5Z')).toString()).toBe('{"Version":"v1.0.0","Time":"9999-12-31T23:59:59Z"}');
    expect(() => goInfoJson('v1.0.0', new Date(253402300800_000))).toThrow(expect.objectContaining({ code: 'EBADSOURCE', message: expect.stringContaining('year 10000') }));
  });

  it('a build of a commit dated past the year 9999 is EBADSOURCE naming the module before anything is written', async () => {
    const zipPath = join(tmp, 'out', 'far-future.zip');
    const dir = join(tmp, 'far-future');
    await writeTree(dir, { 'go.mod': 'module example.com/far\n', 'far.go': 'package far\n' });
    const err = await expectCode(build({ checkoutDir: dir, subdir: '', version: 'v1.0.0', commitTime: new Date(253402300800_000), zipPath }), 'EBADSOURCE');
    expect(err.message).toContain('year 10000');
    expect(existsSync(zipPath)).toBe(false);
  });
});

// ---------------------------------------------------------------- real repositories, every tag

/**
 * Real Go repositories (test/fixtures/git/*.bundle, see SOURCES.md there): every
 * Go version tag, built from a checkout, must give the h1 hashes real go gives
 * (and that public go.sum files and sum.golang.org hold), and go must accept
 * our .zip/.mod/.info from a GOPROXY.
 */
const FIXTURES = join(import.meta.dirname, 'fixtures', 'git');
const REAL: Array<{ bundle: string; module: string; subdir?: string; want: Record<string, [string, string]> }> = [
  {
    bundle: 'go-uuid',
    module: 'github.com/google/uuid',
    want: {
      'v1.0.0': ['h1:b4Gk+7WdP/d3HZH8EJsZpvV7EtDOgaZLtnaNGIu1adA=', 'h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo='],
      'v1.1.0': ['h1:Jf4mxPC/ziBnoPIdpQdPJ9OeiomAUHLvxmPRSPH9m4s=', 'h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo='],
      'v1.1.1': ['h1:Gkbcsh/GbpXz7lPftLA3P6TYMwjCLYm83jiFQZF/3gY=', 'h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo='],
      'v1.1.2': ['h1:EVhdT+1Kseyi1/pUmXKaFxYsDNy9RQYkMWRH68J/W7Y=', 'h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo='],
      'v1.1.3': ['h1:twObb+9XcuH5B9V1TBCvvvZoO6iEdILi2a76PYn5rJI=', 'h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo='],
      'v1.1.4': ['h1:0ecGp3skIrHWPNGPJDaBIghfA6Sp7Ruo2Io8eLKzWm0=', 'h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo='],
      'v1.1.5': ['h1:kxhtnfFVi+rYdOALN0B3k9UT86zVJKfBimRaciULW4I=', 'h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo='],
      'v1.2.0': ['h1:qJYtXnJRWmpe7m/3XlyhrsLrEURqHRM2kxzoxXqyUDs=', 'h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo='],
      'v1.3.0': ['h1:t6JiXgmwXMjEs8VusXIJk2BXHsn+wx8BZdTaoZ5fu7I=', 'h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo='],
      'v1.3.1': ['h1:KjJaJ9iWZ3jOFZIf1Lqf4laDRCasjl0BCmnEGxkdLb4=', 'h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo='],
      'v1.4.0': ['h1:MtMxsa51/r9yyhkyLsVeVt0B+BGQZzpQiTQ4eHZ8bc4=', 'h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo='],
      'v1.5.0': ['h1:1p67kYwdtXjb0gL0BPiP1Av9wiZPo5A8z2cWkTZ+eyU=', 'h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo='],
      'v1.6.0': ['h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=', 'h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo='],
    },
  },
  {
    bundle: 'go-xxhash',
    module: 'github.com/cespare/xxhash', // v2 tags: go.mod says github.com/cespare/xxhash/v2
    want: {
      'v1.0.0': ['h1:naDmySfoNg0nKS62/ujM6e71ZgM2AoVdaqGwMG0w18A=', 'h1:fX/lfQBkSCDXZSUgv6jVIu/EVA3/JNseAX5asI4c4T4='],
      'v1.1.0': ['h1:a6HrQnmkObjyL+Gs60czilIUGqrzKutQD6XZog3p+ko=', 'h1:XrSqR1VqqWfGrhpAt58auRo0WTKS1nRRg3ghfAqPWnc='],
      'v2.0.0': ['h1:Eb1IiuHmi3FhT12NKfqCQXSXRqc4NTMvgJoREemrSt4=', 'h1:MaMeaVDXZNmTpkOyhVs3/WfjgobkbQgfrVnrr3DyZL0='],
      'v2.1.0': ['h1:yTUvW7Vhb89inJ+8irsUqiWjh8iT6sQPZiQzI6ReGkA=', 'h1:dgIUBU3pDso/gPgZ1osOZ0iQf77oPR28Tjxl5dIMyVM='],
      'v2.1.1': ['h1:6MnRN8NT7+YBpUIWxHtefFZOKTAPgGjpQSxqLNn0+qY=', 'h1:VGX0DQ3Q6kWi7AoAeZDth3/j3BFtOZR5XLFGgcrjCOs='],
      'v2.1.2': ['h1:YRXhKfTDauu4ajMg1TPgFO5jnlC2HCbmLXMcTG5cbYE=', 'h1:VGX0DQ3Q6kWi7AoAeZDth3/j3BFtOZR5XLFGgcrjCOs='],
      'v2.2.0': ['h1:DC2CZ1Ep5Y4k3ZQ899DldepgrayRUGE6BBZ/cd9Cj44=', 'h1:VGX0DQ3Q6kWi7AoAeZDth3/j3BFtOZR5XLFGgcrjCOs='],
      'v2.3.0': ['h1:UL815xU9SqsFlibzuggzjXhog7bL6oX9BbNZnL2UFvs=', 'h1:VGX0DQ3Q6kWi7AoAeZDth3/j3BFtOZR5XLFGgcrjCOs='],
    },
  },
  {
    bundle: 'go-secure-stdlib',
    module: 'github.com/hashicorp/go-secure-stdlib/strutil',
    subdir: 'strutil',
    want: {
      'v0.1.1': ['h1:nd0HIW15E6FG1MsnArYaHfuw9C2zgzM8LxkG5Ty/788=', 'h1:gKOamz3EwoIoJq7mlMIRBpVTAUn8qPCrEclOKKWhD3U='],
      'v0.1.2': ['h1:kes8mmyCpxJsI7FTwtzRqEy9CdjCtrXrXGuOpxEA7Ts=', 'h1:Gou2R9+il93BqX25LAKCLuM+y9U2T4hlwvT1yprcna4='],
    },
  },
  {
    bundle: 'go-secure-stdlib',
    module: 'github.com/hashicorp/go-secure-stdlib/base62',
    subdir: 'base62',
    want: {
      'v0.1.1': ['h1:6KMBnfEv0/kLAz0O76sliN5mXbCDcLfs2kP7ssP7+DQ=', 'h1:EdWO6czbmthiwZ3/PUsDV+UD1D5IRU4ActiaWGwt0Yw='],
      'v0.1.2': ['h1:ET4pqyjiGmY09R5y+rSd70J2w45CtbWDNvGqWp/R3Ng=', 'h1:EdWO6czbmthiwZ3/PUsDV+UD1D5IRU4ActiaWGwt0Yw='],
    },
  },
  {
    bundle: 'go-secure-stdlib',
    module: 'github.com/hashicorp/go-secure-stdlib/gatedwriter',
    subdir: 'gatedwriter',
    want: { 'v0.1.1': ['h1:9um9R8i0+HbRHS9d64kdvWR0/LJvo12sIonvR9zr1+U=', 'h1:6RoRTSMDK2H/rKh3P/JIsk1tK8aatKTt3JyvIopi3GQ='] },
  },
];

/** `go mod download -json` of several versions from one proxy: one JSON object per version. */
async function goFromOurProxyMany(builds: GoModuleBuild[]): Promise<GoDownload[]> {
  const proxy = join(tmp, `proxy-${++n}`);
  for (const b of builds) {
    const at = join(proxy, escapeModulePath(b.modulePath), '@v');
    await mkdir(at, { recursive: true });
    const v = escapeVersion(b.version);
    await copyFile(b.zip.path, join(at, `${v}.zip`));
    await writeFile(join(at, `${v}.mod`), b.mod.bytes);
    await writeFile(join(at, `${v}.info`), b.info.bytes);
    await appendFile(join(at, 'list'), `${b.version}\n`);
  }
  const gopath = join(tmp, `gopath-${n}`);
  const cwd = join(tmp, `cwd-${n}`);
  await mkdir(cwd, { recursive: true });
  const r = await run(GO, ['mod', 'download', '-json', ...builds.map((b) => `${b.modulePath}@${b.version}`)], {
    cwd,
    env: { ...gitEnv(), GOPROXY: `file://${proxy}`, GOSUMDB: 'off', GOPATH: gopath, GOCACHE: join(tmp, 'gocache'), GOFLAGS: '-mod=mod -modcacherw', GO111MODULE: 'on', GOTOOLCHAIN: 'local', GOENV: 'off' },
  });
  return r.stdout
    .trim()
    .split(/\n(?=\{)/)
    .map((o) => JSON.parse(o) as GoDownload);
}

describe('real repositories (test/fixtures/git): every Go tag gives the h1 the Go checksum database knows', () => {
  const clones = new Map<string, string>();
  async function checkoutOf(bundle: string): Promise<string> {
    let dir = clones.get(bundle);
    if (!dir) {
      dir = join(tmp, `clone-${bundle}`);
      await git(tmp, 'clone', '-q', join(FIXTURES, `${bundle}.bundle`), dir);
      clones.set(bundle, dir);
    }
    return dir;
  }

  for (const r of REAL) {
    it(`${r.module}: ${Object.keys(r.want).join(' ')}`, async () => {
      const repo = await checkoutOf(r.bundle);
      const builds: GoModuleBuild[] = [];
      for (const [version, [zipH1, modH1]] of Object.entries(r.want)) {
        const tag = r.subdir ? `${r.subdir}/${version}` : version;
        await git(repo, 'checkout', '-q', '--detach', tag);
        const commitTime = new Date(Number((await git(repo, 'log', '-1', '--format=%ct')).trim()) * 1000);
        const b = await build({ checkoutDir: repo, subdir: r.subdir ?? '', modulePath: r.module, version, commitTime });
        expect([b.version, b.zip.h1, b.mod.h1]).toEqual([version, zipH1, modH1]);
        builds.push(b);
      }
      const got = await goFromOurProxyMany(builds);
      expect(got.map((d) => [d.Path, d.Version, d.Error, d.Sum, d.GoModSum])).toEqual(builds.map((b) => [b.modulePath, b.version, undefined, b.zip.h1, b.mod.h1]));
    });
  }

  it('go-uuid v1.0.0 has no go.mod: synthesised; its .info is what go writes', async () => {
    const repo = await checkoutOf('go-uuid');
    await git(repo, 'checkout', '-q', '--detach', 'v1.0.0');
    const commitTime = new Date(Number((await git(repo, 'log', '-1', '--format=%ct')).trim()) * 1000);
    const b = await build({ checkoutDir: repo, subdir: '', modulePath: 'github.com/google/uuid', version: 'v1.0.0', commitTime });
    expect(b.mod.synthesized).toBe(true);
    expect(b.info.bytes.toString()).toBe('{"Version":"v1.0.0","Time":"2018-08-27T20:42:32Z"}');
  });

  it('go-secure-stdlib */v0.1.0: go.mod names the repository\'s old path: refused, or built as go builds it when the job allows', async () => {
    // real go's hashes (SOURCES.md): these zips carry the repository root's LICENSE
    const want: Record<string, [string, string]> = {
      strutil: ['h1:lyZeS2r0eFUHl5H1X9GA+PWft9MwsdYzJayetPDNsbo=', 'h1:YsAf1vJYtE4AhRdGD+X/96cFK7j8oosgnYLilKGzSTw='],
      base62: ['h1:F8xkqWkpRvDc0vHO4HskmaPn9a4LV8Rr1ZcMbFnfF0g=', 'h1:yQ1EUBxJZ654Ivhjmr1pq2wt6YCoeTCuZgX2Ysc4IMg='],
      gatedwriter: ['h1:DVij2tVRC//H84ABTHdJDjzN0A8bKeGasCUkk9ZVFTI=', 'h1:6nusCbdNXw1QScXNXyBoxVlAohvoQvCfAPWk8GgG8pU='],
    };
    const repo = await checkoutOf('go-secure-stdlib');
    const builds: GoModuleBuild[] = [];
    for (const [dir, [zipH1, modH1]] of Object.entries(want)) {
      await git(repo, 'checkout', '-q', '--detach', `${dir}/v0.1.0`);
      const commitTime = new Date(Number((await git(repo, 'log', '-1', '--format=%ct')).trim()) * 1000);
      const input = { checkoutDir: repo, subdir: dir, modulePath: `github.com/hashicorp/go-secure-stdlib/${dir}`, version: 'v0.1.0', commitTime };
      const err = await expectCode(build(input), 'EBADSOURCE');
      expect(err.actual).toBe(`github.com/hashicorp/shared-secure-libs/${dir}`);
      const b = await build({ ...input, allowModulePathMismatch: true });
      expect(b.files).toContain('LICENSE');
      expect([b.modulePath, b.zip.h1, b.mod.h1]).toEqual([input.modulePath, zipH1, modH1]);
      builds.push(b);
    }
    const got = await goFromOurProxyMany(builds);
    expect(got.map((d) => [d.Error, d.Sum])).toEqual(builds.map((b) => [undefined, b.zip.h1]));
  });
});
