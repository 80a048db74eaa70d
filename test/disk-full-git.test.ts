/**
 * A full disk while a git source is worked on: the mirror's fetch, the checkout, and each
 * builder writing its files (Python sdist/wheel, npm pack, Go zip). Simulated as the npm
 * registry's case is (test/hostile-sources.test.ts): a file-size limit (`ulimit -f`, RLIMIT_FSIZE)
 * makes a write past 1 MiB fail with EFBIG, or kills a process that does not ignore SIGXFSZ,
 * as a full disk fails with ENOSPC. Each must be ELOCAL naming a path under the state
 * directory: not blamed on the source or the build, not retried, the run stopped; and a
 * rerun with room again finishes with every file whole and nothing uploaded twice.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGitTestEnv, stopTestEnvWithGit, type TestEnv } from './support/harness.js';
import { gitSourceOn, pyProject, type GitServer } from './support/git-server.js';

let te: TestEnv;
let git: GitServer;
beforeAll(async () => {
  ({ te, git } = await startGitTestEnv());
});
afterAll(() => stopTestEnvWithGit(git, te));

const LIMIT = 'ulimit -f 1024';
const STACK_LINE = /^\s+at .+:\d+:\d+\)?$/m;
const UPLOADS = new Set(['pypi:Upload', 'npm:Publish', 'PublishPackageVersion']);
const uploads = (pkg: string) => te.sandbox.standIn.log.filter((e) => UPLOADS.has(e.operation) && e.package === pkg);

/**
 * Five copies of one 400 KiB random file: git stores the blob once (the mirror and each
 * checked-out file stay under the limit), while an archive of them (sdist, wheel, npm
 * tarball, Go zip) compresses each on its own and grows past it.
 */
function copies(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const same = randomBytes(400 * 1024);
  for (let i = 0; i < 5; i++) writeFileSync(join(dir, `data${i}.bin`), same);
}

/** Every recorded asset of the job is in the blob store, whole (its bytes hash to the recorded sha512), and no partial blob is left. */
function blobsWhole(job: string): void {
  const state = te.openState(job);
  try {
    for (const row of state.items()) {
      for (const a of state.assetsOf(row.id)) {
        // the store's layout (src/state/blobs.ts pathOf)
        const path = join(te.stateDir, 'blobs', 'sha512', a.sha512.slice(0, 2), a.sha512.slice(2));
        expect(existsSync(path), `${row.package}@${row.version} ${a.name}`).toBe(true);
        expect(createHash('sha512').update(readFileSync(path)).digest('hex')).toBe(a.sha512);
      }
    }
  } finally {
    state.close();
  }
  const tmp = join(te.stateDir, 'blobs', 'tmp');
  expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
}

/** The limited run: ELOCAL naming the state directory, no build or source blamed, nothing retried, nothing uploaded. */
async function fullDiskRun(job: string, pkg: string): Promise<string> {
  const r = await te.cli(['run', job, '--json'], {}, { shell: LIMIT });
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toMatch(/ELOCAL/);
  expect(r.stderr).toContain(te.stateDir);
  expect(r.stderr).not.toMatch(/EBUILD|ESOURCE/);
  expect(r.stderr).not.toMatch(/retry \d+ for/);
  expect(r.stderr).not.toMatch(STACK_LINE);
  expect(uploads(pkg)).toEqual([]);
  return r.stderr;
}

/** With room again: the rerun finishes, every asset uploaded once, every blob whole. */
async function rerunFinishes(job: string, jobName: string, pkg: string, assets: number): Promise<void> {
  const s = await te.run(job);
  expect(s.failures).toEqual([]);
  expect(s.exitCode).toBe(0);
  expect(uploads(pkg).length).toBe(assets);
  blobsWhole(jobName);
  const again = await te.run(job);
  expect(again.exitCode).toBe(0);
  expect(uploads(pkg).length).toBe(assets);
}

describe('a full disk while a git source is fetched or checked out', () => {
  it('the mirror\'s fetch: ELOCAL, not ESOURCE retried as a network failure; the rerun clones and migrates', async () => {
    const dir = pyProject(join(te.dir, 'src-bigrepo'), 'big-repo', '1.0.0');
    writeFileSync(join(dir, 'big_repo', 'blob.bin'), randomBytes(3 * 1024 * 1024));
    await git.createRepoFromDir('bigrepo', dir, { tags: ['v1.0.0'] });
    const job = te.writeJob({ name: 'bigrepo', sources: [gitSourceOn(git, 'bigrepo', 'bigrepo', 'pypi', { package: 'big-repo', tags: 'v{version}' })] });
    const stderr = await fullDiskRun(job, 'big-repo');
    expect(stderr).toContain(join(te.stateDir, 'git'));
    // no half-cloned mirror is taken for one
    expect(existsSync(join(te.stateDir, 'git', 'bigrepo', 'bigrepo.git', 'HEAD'))).toBe(false);
    await rerunFinishes(job, 'bigrepo', 'big-repo', 2);
  });

  it('the checkout: ELOCAL, not ESOURCE retried; the rerun builds from a whole checkout', async () => {
    const dir = pyProject(join(te.dir, 'src-bigtree'), 'big-tree', '1.0.0');
    // compresses to almost nothing in the mirror; 3 MiB in the checkout
    writeFileSync(join(dir, 'big_tree', 'zeros.bin'), Buffer.alloc(3 * 1024 * 1024));
    await git.createRepoFromDir('bigtree', dir, { tags: ['v1.0.0'] });
    const job = te.writeJob({ name: 'bigtree', sources: [gitSourceOn(git, 'bigtree', 'bigtree', 'pypi', { package: 'big-tree', tags: 'v{version}' })] });
    const stderr = await fullDiskRun(job, 'big-tree');
    expect(stderr).toContain(join(te.stateDir, 'tmp'));
    await rerunFinishes(job, 'bigtree', 'big-tree', 2);
  });
});

describe('a full disk while a builder writes its files', () => {
  it('Python (sdist and wheel): ELOCAL, not EBUILD blamed on the tag; the rerun builds and uploads each file once', async () => {
    const dir = pyProject(join(te.dir, 'src-bigpy'), 'big-py', '1.0.0');
    copies(join(dir, 'big_py'));
    await git.createRepoFromDir('bigpy', dir, { tags: ['v1.0.0'] });
    const job = te.writeJob({ name: 'bigpy', sources: [gitSourceOn(git, 'bigpy', 'bigpy', 'pypi', { package: 'big-py', tags: 'v{version}' })] });
    await fullDiskRun(job, 'big-py');
    await rerunFinishes(job, 'bigpy', 'big-py', 2);
  });

  it('npm pack: ELOCAL, not EBUILD; the rerun packs and publishes once', async () => {
    const dir = join(te.dir, 'src-bignpm');
    copies(join(dir, 'data'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'big-npm', version: '1.0.0', files: ['data'] }, null, 2));
    await git.createRepoFromDir('bignpm', dir, { tags: ['v1.0.0'] });
    const job = te.writeJob({ name: 'bignpm', sources: [gitSourceOn(git, 'bignpm', 'bignpm', 'npm', { package: 'big-npm' })] });
    await fullDiskRun(job, 'big-npm');
    await rerunFinishes(job, 'bignpm', 'big-npm', 1);
  });

  it('Go (module zip): ELOCAL naming the file; the rerun builds and uploads .zip, .mod and .info once', async () => {
    const dir = join(te.dir, 'src-biggo');
    copies(join(dir, 'data'));
    writeFileSync(join(dir, 'go.mod'), 'module example.com/biggo\n\ngo 1.19\n');
    writeFileSync(join(dir, 'biggo.go'), 'package biggo\n');
    await git.createRepoFromDir('biggo', dir, { tags: ['v1.0.0'] });
    const job = te.writeJob({ name: 'biggo', sources: [gitSourceOn(git, 'biggo', 'biggo', 'go', { package: 'example.com/biggo' })] });
    await fullDiskRun(job, 'example.com/biggo');
    const s = await te.run(job);
    expect(s.failures).toEqual([]);
    expect(s.exitCode).toBe(0);
    blobsWhole('biggo');
  });
});
