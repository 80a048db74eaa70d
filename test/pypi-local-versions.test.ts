/**
 * PEP 440 local versions (`1.0+abc`) against pip's matching: `pip install lib==1.0` matches a
 * file of `1.0+abc` too, and ranks it above 1.0's own (a local label sorts after the public
 * version), so a local build on the index takes the place of the release for everyone who pins
 * it. Checked with Debian's pip against the CodeArtifact stand-in's simple index.
 * https://packaging.python.org/en/latest/specifications/version-specifiers/#version-matching
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ItemRow } from '../src/state/db.js';
import { multipartUploadBody } from '../src/targets/pypi-upload.js';
import { startGitTestEnv, stopTestEnvWithGit, type TestEnv } from './support/harness.js';
import { gitSourceOn, type GitServer } from './support/git-server.js';

const run = promisify(execFile);
let te: TestEnv;
let git: GitServer;

beforeAll(async () => {
  ({ te, git } = await startGitTestEnv());
});
afterAll(() => stopTestEnvWithGit(git, te));

function rows(job: string): ItemRow[] {
  const state = te.openState(job);
  try {
    return state.items();
  } finally {
    state.close();
  }
}
const uploads = (pkg: string) => te.sandbox.standIn.log.filter((e) => e.operation === 'pypi:Upload' && e.package === pkg);

/** A wheel of someone else's uploaded into pypi-internal with twine's form, as another client would. */
async function uploadTheirs(filename: string, name: string, version: string, content: string): Promise<void> {
  const wheel = join(mkdtempSync(join(te.dir, 'theirs-')), filename);
  writeFileSync(wheel, content);
  const form = await multipartUploadBody({ path: wheel, filename: basename(wheel), filetype: 'bdist_wheel', pyversion: 'py3' }, { metadata_version: '2.1', name, version });
  const chunks: Buffer[] = [];
  for await (const c of form.body as AsyncIterable<Buffer>) chunks.push(c);
  const res = await fetch(te.sandbox.standIn.pypiEndpoint('pypi-internal'), {
    method: 'POST',
    headers: { 'content-type': form.contentType, authorization: `Basic ${Buffer.from(`aws:${await te.targetToken()}`).toString('base64')}` },
    body: Buffer.concat(chunks),
  });
  expect(res.status).toBe(200);
}

/** A hatchling project whose Name is spelled `name` (its import package `<name as identifier>`). */
function project(dir: string, name: string, version: string): Record<string, string> {
  const pkg = name.toLowerCase().replace(/[-.]/g, '_');
  const files = {
    'pyproject.toml': `[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n[project]\nname = "${name}"\nversion = "${version}"\n\n[tool.hatch.build.targets.wheel]\npackages = ["${pkg}"]\n`,
    [`${pkg}/__init__.py`]: `VERSION = "${version}"\n`,
  };
  mkdirSync(join(dir, pkg), { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return files;
}

/** What `pip download <requirement>` takes from the stand-in's pypi-internal (file names). */
async function pipDownload(requirement: string): Promise<string[]> {
  const token = await te.targetToken();
  const dir = mkdtempSync(join(tmpdir(), 'cam-pip-'));
  try {
    await run('/usr/bin/python3', ['-m', 'pip', 'download', '--isolated', '--no-cache-dir', '--disable-pip-version-check', '--no-deps', '--only-binary', ':all:', '--index-url', te.sandbox.standIn.pypiIndexUrl('pypi-internal', token), requirement, '-d', dir], {
      env: { PATH: '/usr/bin:/bin', HOME: dir },
    });
    return readdirSync(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('a local version beside its release', () => {
  it('tag v1.0+ABC beside v1.0: 1.0+abc is a problem naming pip (==1.0 would install it), never uploaded; skipped in the job, the release migrates alone and pip ==1.0 gets its wheel', async () => {
    const src = join(te.dir, 'src-local');
    project(src, 'Acme.Billing', '1.0');
    await git.createRepoFromDir('local', src, { tags: ['v1.0'] });
    const sha = await git.commit('local', { message: 'local build', files: project(src, 'Acme.Billing', '1.0+abc') });
    await git.tag('local', 'v1.0+ABC', sha, { annotated: false });

    const job = te.writeJob({ name: 'local', sources: [gitSourceOn(git, 'local', 'local', 'pypi', { package: 'acme-billing' })] });
    const s = await te.run(job);
    expect(s.exitCode).toBe(1);
    const byVersion = Object.fromEntries(rows('local').map((r) => [r.version, r]));
    expect(byVersion['1.0']?.state).toBe('verified');
    expect(byVersion['1.0+abc']?.state).toBe('failed');
    expect(byVersion['1.0+abc']?.last_error_code).toBe('EBADSOURCE');
    expect(byVersion['1.0+abc']?.last_error).toContain('==1.0');
    expect(byVersion['1.0+abc']?.last_error).toContain('v1.0+ABC');
    expect(uploads('acme-billing').map((e) => e.version)).toEqual(['1.0', '1.0']);
    expect(await pipDownload('Acme.Billing==1.0')).toEqual(['acme_billing-1.0-py2.py3-none-any.whl']);

    // the operator leaves the local build out: nothing is wrong any more
    const skipping = te.writeJob({ name: 'local', sources: [gitSourceOn(git, 'local', 'local', 'pypi', { package: 'acme-billing', versions: { 'v1.0+ABC': { skip: 'a local build' } } })] });
    const again = await te.run(skipping);
    expect(again.exitCode).toBe(0);
    expect(Object.fromEntries(rows('local').map((r) => [r.version, r.state]))).toEqual({ '1.0': 'verified', '1.0+abc': 'skipped' });
    expect(await pipDownload('acme-billing==1.0')).toEqual(['acme_billing-1.0-py2.py3-none-any.whl']);
  });

  it('a release tagged after its local build was migrated: the release is not verified while the local build is listed (pip ==3.0 would take it); the local build stays as it was', async () => {
    const src = join(te.dir, 'src-later');
    project(src, 'later-lib', '3.0+rc.build');
    await git.createRepoFromDir('later', src, { tags: ['v3.0+rc.build'] });
    const job = te.writeJob({ name: 'later', sources: [gitSourceOn(git, 'later', 'later', 'pypi', { package: 'later-lib' })] });
    expect((await te.run(job)).exitCode).toBe(0);
    const sha = await git.commit('later', { message: 'release', files: project(src, 'later-lib', '3.0') });
    await git.tag('later', 'v3.0', sha, { annotated: false });
    const s = await te.run(job);
    expect(s.exitCode).toBe(1);
    const byVersion = Object.fromEntries(rows('later').map((r) => [r.version, r]));
    expect(byVersion['3.0+rc.build']?.state).toBe('verified');
    expect(byVersion['3.0']?.state).not.toBe('verified');
    expect(byVersion['3.0']?.last_error_code).toBe('EVERIFY');
    expect(byVersion['3.0']?.last_error).toContain('later_lib-3.0+rc.build-py2.py3-none-any.whl');
    expect(byVersion['3.0']?.last_error).toContain('pip install later-lib==3.0');
    expect(await pipDownload('later-lib==3.0')).toEqual(['later_lib-3.0+rc.build-py2.py3-none-any.whl']);
  });

  it('a local version whose release is already on the target (put there by another, the release tag skipped or absent): never uploaded, EBADSOURCE naming their file; pip ==5.0 keeps the release', async () => {
    const src = join(te.dir, 'src-on-target');
    project(src, 'held-lib', '5.0+build');
    await git.createRepoFromDir('on-target', src, { tags: ['v5.0+build'] });
    await uploadTheirs('held_lib-5.0-py3-none-any.whl', 'held-lib', '5.0', 'the release, not ours');

    const s = await te.run(te.writeJob({ name: 'on-target', sources: [gitSourceOn(git, 'on-target', 'on-target', 'pypi', { package: 'held-lib' })] }));
    expect(s.exitCode).toBe(1);
    const row = rows('on-target').find((r) => r.version === '5.0+build')!;
    expect(row.state).toBe('failed');
    expect(row.last_error_code).toBe('EBADSOURCE');
    expect(row.last_error).toContain('held_lib-5.0-py3-none-any.whl');
    expect(uploads('held-lib').map((e) => e.version)).toEqual(['5.0']);
    // pip's pin still takes the release (here not even a wheel), never the local build
    await expect(pipDownload('held-lib==5.0')).rejects.toThrow(/held_lib-5\.0-py3-none-any\.whl is invalid/);
  });

  it("a local build of 2.0 someone else put on the index: 2.0 is never verified (pip ==2.0 would install theirs), the error names their file", async () => {
    const src = join(te.dir, 'src-theirs');
    project(src, 'theirs-lib', '2.0');
    await git.createRepoFromDir('theirs', src, { tags: ['v2.0'] });
    await uploadTheirs('theirs_lib-2.0+hotfix-py3-none-any.whl', 'theirs-lib', '2.0+hotfix', 'not ours');

    const s = await te.run(te.writeJob({ name: 'theirs', sources: [gitSourceOn(git, 'theirs', 'theirs', 'pypi', { package: 'theirs-lib' })] }));
    expect(s.exitCode).toBe(1);
    const row = rows('theirs').find((r) => r.version === '2.0')!;
    expect(row.state).not.toBe('verified');
    expect(row.last_error).toContain('theirs_lib-2.0+hotfix-py3-none-any.whl');
    // what pip does with the pin, which is why it is not verified: it takes theirs (here not even a wheel), never ours
    await expect(pipDownload('theirs-lib==2.0')).rejects.toThrow(/theirs_lib-2\.0\+hotfix-py3-none-any\.whl is invalid/);
  });
});
