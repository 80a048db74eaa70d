/**
 * Things that change under a running job of git sources, through the real CLI against the
 * local sshd and the CodeArtifact stand-in: the source's mirror deleted while versions are
 * checked out and built from it, a version's checkout deleted while its build runs, the
 * blobs deleted while a version is uploaded, the state directory turned read-only, and (directly,
 * for want of a moment to wait for in a warm) warm's lockfile repository mirror deleted. Each ends
 * in a coded error of this machine naming what went, never blamed on the source or the tag
 * and never retried, with no stack trace; and the rerun publishes every file once.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobSchema } from '../src/config/schema.js';
import { LockfileRepository } from '../src/warm/git-lockfiles.js';
import { startGitTestEnv, stopTestEnvWithGit, type TestEnv } from './support/harness.js';
import { failure } from './support/thrown.js';
import { HATCH, gitSourceOn, pyProject, type GitServer } from './support/git-server.js';

let te: TestEnv;
let git: GitServer;
beforeAll(async () => void ({ te, git } = await startGitTestEnv()), 120_000);
afterAll(() => stopTestEnvWithGit(git, te));

const STACK_LINE = /^\s+at .+:\d+:\d+\)?$/m;

/** A Go module `example.com/<repo>` tagged v1.0.0 … v1.0.<n-1>, one commit each. */
async function goRepo(repo: string, n: number): Promise<string[]> {
  const dir = join(te.dir, `src-${repo}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'go.mod'), `module example.com/${repo}\n\ngo 1.19\n`);
  writeFileSync(join(dir, 'lib.go'), 'package lib\n');
  await git.createRepoFromDir(repo, dir, { tags: ['v1.0.0'] });
  const versions = ['v1.0.0'];
  for (let i = 1; i < n; i++) {
    await git.tag(repo, `v1.0.${i}`, await git.commit(repo, { files: { 'lib.go': `package lib\n\nconst N = ${i}\n` }, message: `release ${i}` }), { annotated: false });
    versions.push(`v1.0.${i}`);
  }
  return versions;
}

/** Succeeded PublishPackageVersion requests (one per file) of the Go module `example.com/<repo>`, by version. */
function goPublishes(repo: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of te.sandbox.standIn.log) {
    if (e.operation !== 'PublishPackageVersion' || e.status >= 300 || e.namespace !== 'example.com' || e.package !== repo) continue;
    counts.set(e.version!, (counts.get(e.version!) ?? 0) + 1);
  }
  return counts;
}

/** Resolves once `ok()` holds (checked every 20 ms), failing after 60 s. */
async function until(ok: () => boolean): Promise<void> {
  for (const end = Date.now() + 60_000; !ok(); ) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The CLI's JSON error (throws when stdout is none). */
function errorOf(r: { stdout: string }): { code: string; message: string; hint?: string } {
  return (JSON.parse(r.stdout) as { error: { code: string; message: string; hint?: string } }).error;
}

describe('the mirror of a git source deleted while the run checks out and builds from it', () => {
  it('stops the run with ELOCAL naming the mirror (not the source blamed, nothing retried); the rerun clones again and publishes every file once', async () => {
    const versions = await goRepo('gomirror', 8);
    const job = te.writeJob({ name: 'gomirror', sources: [gitSourceOn(git, 'gomirror', 'gomirror', 'go', { package: 'example.com/gomirror' })], limits: { concurrency: 1, fetchConcurrency: 1 } });
    const mirror = join(te.stateDir, 'git', 'gomirror', 'gomirror.git');
    // one step at a time (concurrency and fetchConcurrency 1), and slow: versions are still to be checked out when the mirror goes
    te.sandbox.standIn.setLatency(200);
    let r: { code: number | null; stdout: string; stderr: string };
    try {
      const running = te.cli(['run', job, '--json']);
      await until(() => goPublishes('gomirror').size >= 1);
      rmSync(join(te.stateDir, 'git'), { recursive: true, force: true });
      r = await running;
    } finally {
      te.sandbox.standIn.setLatency(0);
    }
    const done = [...goPublishes('gomirror').values()].filter((n) => n === 3).length;
    expect(done, 'the run went on to the end: the mirror went too late to test anything').toBeLessThan(versions.length);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const output = `${r.stdout}${r.stderr}`;
    expect(output).not.toMatch(STACK_LINE);
    expect(output).not.toMatch(/retry \d+ for/);
    expect(output).not.toMatch(/EBADSOURCE|ESOURCE|EBUILD/);
    const error = errorOf(r);
    expect(error).toMatchObject({ code: 'ELOCAL', message: expect.stringContaining(mirror), hint: expect.stringContaining('rerun') });
    expect(error.message).toMatch(/deleted/);
    expect(r.stderr).not.toMatch(/failed:(?!ELOCAL)/);

    const rerun = await te.cli(['run', job, '--json']);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    const counts = goPublishes('gomirror');
    for (const v of versions) expect(counts.get(v), v).toBe(3);
  }, 180_000);
});

/**
 * The default Python build, first saying it started (a file `started` in its output folder)
 * and waiting up to 10 s for its checkout to be deleted: the test pulls the rug in between.
 */
const WAITING_BUILD = [
  '{python}',
  '-c',
  [
    'import os, subprocess, sys, time',
    'c, o, s = sys.argv[1:4]',
    "open(os.path.join(o, 'started'), 'w').close()",
    'end = time.time() + 10',
    'while os.path.exists(c) and time.time() < end: time.sleep(0.02)',
    "os.remove(os.path.join(o, 'started'))",
    "sys.exit(subprocess.call([sys.executable, '-m', 'build', '--no-isolation', '--skip-dependency-check', '--sdist', '--wheel', '--outdir', o, s]))",
  ].join('\n'),
  '{checkout}',
  '{outdir}',
  '{srcdir}',
];

/** The folders under the state's tmp whose names start with `prefix`. */
const tmpFolders = (prefix: string) => (existsSync(join(te.stateDir, 'tmp')) ? readdirSync(join(te.stateDir, 'tmp')).filter((n) => n.startsWith(prefix)).map((n) => join(te.stateDir, 'tmp', n)) : []);

describe('the checkout of a version deleted while its build runs', () => {
  it('fails with ELOCAL naming the checkout (not EBUILD blamed on the tag), the run stopped; the rerun builds and uploads each file once', async () => {
    await git.createRepoFromDir('pyrug', pyProject(join(te.dir, 'src-pyrug'), 'pyrug', '1.0.0'), { tags: ['v1.0.0'] });
    const job = te.writeJob({ name: 'pyrug', sources: [gitSourceOn(git, 'pyrug', 'pyrug', 'pypi', { package: 'pyrug', build: { command: WAITING_BUILD } })] });
    const running = te.cli(['run', job, '--json']);
    let checkout = '';
    await until(() => {
      const started = tmpFolders('build-').some((d) => existsSync(join(d, 'started')));
      [checkout = ''] = tmpFolders('checkout-');
      return started && checkout !== '';
    });
    rmSync(checkout, { recursive: true, force: true });
    const r = await running;
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(STACK_LINE);
    expect(r.stderr).not.toMatch(/EBUILD|ESOURCE|EBADSOURCE/);
    const error = errorOf(r);
    expect(error).toMatchObject({ code: 'ELOCAL', message: expect.stringContaining(checkout), hint: expect.stringContaining('rerun') });
    const uploads = () => te.sandbox.standIn.log.filter((e) => e.operation === 'pypi:Upload' && e.package === 'pyrug' && e.status < 300);
    expect(uploads()).toEqual([]);

    const rerun = await te.cli(['run', job, '--json']);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    // the sdist and the wheel, once each
    expect(uploads().length).toBe(2);
  }, 120_000);
});

/**
 * Runs `pull` once, as the stand-in takes the first request of `operation` (after its latency,
 * before answering): the client is then waiting on that request and has sent nothing after it.
 */
function onFirst(operation: string, pull: () => void): () => void {
  const standIn = te.sandbox.standIn as unknown as { dispatch(route: { operation: string }, ...rest: unknown[]): Promise<unknown> };
  const dispatch = standIn.dispatch;
  let pulled = false;
  standIn.dispatch = function (this: unknown, route, ...rest) {
    if (!pulled && route.operation === operation) {
      pulled = true;
      pull();
    }
    return dispatch.call(this, route, ...rest);
  };
  return () => {
    standIn.dispatch = dispatch;
  };
}

describe('the blobs of git-built versions deleted while the first of them is uploaded', () => {
  it('the file whose upload was next fails with EBLOBMISSING naming it, the next build stops the run (ELOCAL), no stack trace; the rerun builds it again byte for byte and uploads only its missing file: every file once', async () => {
    await git.createRepoFromDir('pyhalf', pyProject(join(te.dir, 'src-pyhalf'), 'pyhalf', '1.0.0'), { tags: ['v1.0.0'] });
    const versions = ['1.0.0', '1.0.1', '1.0.2'];
    for (const v of versions.slice(1)) await git.tag('pyhalf', `v${v}`, await git.commit('pyhalf', { files: { 'pyproject.toml': HATCH('pyhalf', v) }, message: v }), { annotated: false });
    const job = te.writeJob({ name: 'pyhalf', sources: [gitSourceOn(git, 'pyhalf', 'pyhalf', 'pypi', { package: 'pyhalf' })], limits: { concurrency: 1, fetchConcurrency: 1 } });
    const uploads = () => te.sandbox.standIn.log.filter((e) => e.operation === 'pypi:Upload' && e.package === 'pyhalf' && e.status < 300);
    // the sdist of 1.0.0 is on its way: its wheel, and whatever else was built, goes from the store
    const restore = onFirst('pypi:Upload', () => rmSync(join(te.stateDir, 'blobs'), { recursive: true, force: true }));
    let r: { code: number | null; stdout: string; stderr: string };
    try {
      r = await te.cli(['run', job, '--json']);
    } finally {
      restore();
    }
    expect(`${r.stdout}${r.stderr}`).not.toMatch(STACK_LINE);
    // 1.0.0's wheel, then 1.0.1's build, whose blob has no temp folder to go to: the run stops there (ELOCAL)
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(errorOf(r)).toMatchObject({ code: 'ELOCAL', message: expect.stringContaining(join(te.stateDir, 'blobs')) });
    expect(r.stderr).toMatch(/failed:EBLOBMISSING pyhalf@1\.0\.0 .*pyhalf-1\.0\.0-py2\.py3-none-any\.whl.*state\/blobs\/sha512\/.*the next run fetches or builds it again/);
    expect(uploads().map((e) => e.version)).toEqual(['1.0.0']);
    const state = te.openState('pyhalf');
    const recorded = new Map(state.items().map((row) => [row.version, state.assetsOf(row.id).map((a) => `${a.name} ${a.sha512}`).sort()]));
    expect(recorded.get('1.0.0')).toHaveLength(2);
    state.close();

    const rerun = await te.cli(['run', job, '--json']);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    for (const v of versions) expect(uploads().filter((e) => e.version === v).length, v).toBe(2);
    // built again with the same bytes (no conflict with the sdist already up)
    const after = te.openState('pyhalf');
    try {
      for (const row of after.items()) {
        expect(row.state, row.version).toBe('verified');
        // 1.0.0, built before the rug was pulled: its rebuild has the recorded bytes
        if (row.version === '1.0.0') expect(after.assetsOf(row.id).map((a) => `${a.name} ${a.sha512}`).sort()).toEqual(recorded.get('1.0.0'));
      }
    } finally {
      after.close();
    }
  }, 180_000);
});

// a bind mount of the state directory over itself, made read-only: what the run opens from then on is
// refused (EROFS) as on a disk remounted read-only; the database it holds open stays writable
const readOnlyMounts = (() => {
  const dir = join(tmpdir(), `cam-ro-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const ok = spawnSync('sh', ['-c', `mount --bind ${dir} ${dir} && mount -o remount,ro,bind ${dir} && umount ${dir}`]).status === 0;
  rmSync(dir, { recursive: true, force: true });
  return ok;
})();

describe.skipIf(!readOnlyMounts)('the state directory turned read-only while the run builds from git', () => {
  it('stops with ELOCAL naming the folder git could not write (the lock released all the same, no uncoded error in its place); the rerun publishes every file once', async () => {
    const versions = await goRepo('goro', 6);
    const job = te.writeJob({ name: 'goro', sources: [gitSourceOn(git, 'goro', 'goro', 'go', { package: 'example.com/goro' })], limits: { concurrency: 1, fetchConcurrency: 1 } });
    te.sandbox.standIn.setLatency(200);
    let mounted = false;
    let r: { code: number | null; stdout: string; stderr: string };
    try {
      const running = te.cli(['run', job, '--json']);
      await until(() => goPublishes('goro').size >= 1);
      mounted = spawnSync('sh', ['-c', `mount --bind ${te.stateDir} ${te.stateDir} && mount -o remount,ro,bind ${te.stateDir}`]).status === 0;
      expect(mounted).toBe(true);
      r = await running;
    } finally {
      te.sandbox.standIn.setLatency(0);
      if (mounted) spawnSync('umount', [te.stateDir]);
    }
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(STACK_LINE);
    expect(errorOf(r)).toMatchObject({ code: 'ELOCAL', message: expect.stringContaining(join(te.stateDir, 'tmp')) });
    expect(errorOf(r).message).toMatch(/Read-only file system/);

    const rerun = await te.cli(['run', job, '--json']);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    const counts = goPublishes('goro');
    for (const v of versions) expect(counts.get(v), v).toBe(3);
  }, 180_000);
});

describe("warm's lockfile repository: its mirror deleted between the fetch and the checkouts", () => {
  it('reading the default branch and checking one out are ELOCAL naming the mirror, not ESOURCENOTFOUND "no such branch" or "check the url"', async () => {
    const dir = join(te.dir, 'src-locks');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package-lock.json'), '{"lockfileVersion": 3, "packages": {}}\n');
    await git.createRepoFromDir('locks', dir);
    const [repo] = jobSchema.parse({
      name: 'warmgone',
      target: { domain: 'acme', domainOwner: '111122223333', region: 'us-east-1', repositories: { npm: { internal: 'npm-internal' } } },
      sources: [{ id: 'web', kind: 'npm-registry', url: 'https://npm.acme.example/', packages: ['@acme/web'] }],
      warm: { repositories: [{ url: git.gitPlusSshUrl('locks'), sshKeyEnv: 'CAM_TEST_GIT_KEY', knownHostsFile: git.knownHosts }] },
    }).warm.repositories;
    const state = join(te.dir, 'warm-state');
    const mirrors = join(state, 'git', 'warmgone');
    for (const step of ['branches', 'checkout'] as const) {
      const lockfiles = new LockfileRepository(repo!, { ...process.env, CAM_TEST_GIT_KEY: git.clientKey }, state, 'warmgone');
      try {
        await lockfiles.fetch();
        rmSync(mirrors, { recursive: true, force: true });
        const e = await failure(step === 'branches' ? lockfiles.branches() : lockfiles.checkout('main'));
        expect(e, step).toMatchObject({ code: 'ELOCAL', message: expect.stringContaining(mirrors), hint: expect.stringContaining('rerun') });
      } finally {
        lockfiles.close();
      }
    }
    expect(tmpFolders('warm-checkout-')).toEqual([]);
  }, 60_000);
});
