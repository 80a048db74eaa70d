/**
 * The job file of git sources edited between runs, as an operator fixes a version
 * the last run could not migrate: each edit takes effect on the next run, asserted by
 * the rows, their events and what the stand-in received.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ItemRow } from '../src/state/db.js';
import { multipartUploadBody } from '../src/targets/pypi-upload.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { gitSourceOn, HATCH, pyProject, startGitServer, type GitServer } from './support/git-server.js';

let te: TestEnv;
let git: GitServer;

beforeAll(async () => {
  te = await startTestEnv();
  git = await startGitServer();
  te.env.CAM_TEST_GIT_KEY = git.clientKey;
});
afterAll(async () => {
  await git?.stop();
  await te?.stop();
});

function row(job: string, pkg: string, version: string): ItemRow {
  const state = te.openState(job);
  try {
    return state.items().find((r) => r.package === pkg && r.version === version)!;
  } finally {
    state.close();
  }
}
const uploads = (pkg: string) => te.sandbox.standIn.log.filter((e) => e.operation === 'pypi:Upload' && e.package === pkg);

/** An sdist of `name` at `version` with bytes no build of ours gives, uploaded as twine would. */
async function uploadTheirs(name: string, version: string): Promise<void> {
  const file = join(mkdtempSync(join(te.dir, 'theirs-')), `${name.replace(/-/g, '_')}-${version}.tar.gz`);
  writeFileSync(file, 'not ours');
  const form = await multipartUploadBody({ path: file, filename: basename(file), filetype: 'sdist', pyversion: 'source' }, { metadata_version: '2.1', name, version });
  const chunks: Buffer[] = [];
  for await (const c of form.body as AsyncIterable<Buffer>) chunks.push(c);
  const token = await te.targetToken();
  const res = await fetch(te.sandbox.standIn.pypiEndpoint('pypi-internal'), {
    method: 'POST',
    headers: { 'content-type': form.contentType, authorization: `Basic ${Buffer.from(`aws:${token}`).toString('base64')}` },
    body: Buffer.concat(chunks),
  });
  expect(res.status).toBe(200);
}

/**
 * `<id>-lib` 1.0.0 from a git repository `<id>`, in conflict with a file someone else uploaded
 * first. `write(source extras, job extras)` rewrites the job; `inConflictAgain()` puts the job
 * back as it was and runs it: the same conflict, the same hashes, theirs alone on the target.
 */
async function conflicted(id: string) {
  const pkg = `${id}-lib`;
  await git.createRepoFromDir(id, pyProject(join(te.dir, `src-${id}`), pkg, '1.0.0'), { tags: ['v1.0.0'] });
  await uploadTheirs(pkg, '1.0.0');
  const write = (extra: Record<string, unknown> = {}, job: Record<string, unknown> = {}) => te.writeJob({ name: id, sources: [gitSourceOn(git, id, id, 'pypi', { package: pkg, ...extra })], ...job });
  const job = write();
  expect((await te.run(job)).conflicts).toEqual([expect.objectContaining({ version: '1.0.0', code: 'ECONFLICT' })]);
  const before = row(id, pkg, '1.0.0');
  const inConflictAgain = async () => {
    write();
    const back = await te.run(job);
    expect(back.conflicts).toEqual([expect.objectContaining({ version: '1.0.0', code: 'ECONFLICT' })]);
    expect(row(id, pkg, '1.0.0')).toMatchObject({ state: 'conflict', sha512: before.sha512, target_sha512: before.target_sha512 });
    expect(uploads(pkg)).toHaveLength(1); // theirs alone
  };
  return { job, write, inConflictAgain };
}

describe('a version in conflict with the target, then its build settings changed in the job', () => {
  it('is built again with them (its files are not on the target, as for a version only built), compared again, never uploaded over theirs', async () => {
    const c = await conflicted('conf');
    // the operator gives the version a command of its own (here one that fails, so its use shows)
    c.write({ versions: { '1.0.0': { command: '{python} -c raise' } } });
    const fixed = await te.run(c.job);
    expect(fixed.conflicts).toEqual([]);
    expect(fixed.failures).toEqual([expect.objectContaining({ version: '1.0.0', code: 'EBUILD' })]);
    // taken out again: built as at first, the same bytes, the same conflict
    await c.inConflictAgain();
  });
});

describe('a version in conflict with the target, then skipped in the job', () => {
  it('is skipped with the reason (the run exits 0, nothing uploaded); the skip taken out, it is compared again and is the conflict it was', async () => {
    const c = await conflicted('kept');
    // the target's file is the right one: the operator leaves the version out
    c.write({ versions: { '1.0.0': { skip: 'the target keeps the 2019 upload' } } });
    const skipped = await te.run(c.job);
    expect(skipped.conflicts).toEqual([]);
    expect(skipped.skipped).toEqual([{ package: 'kept-lib', version: '1.0.0', reason: 'the target keeps the 2019 upload' }]);
    expect(skipped.exitCode).toBe(0);
    await c.inConflictAgain();
  });
});

describe('a version in conflict with the target, then excluded by the job filters', () => {
  it('is set aside as excluded (the run exits 0, nothing uploaded); the filter taken out, it is compared again and is the conflict it was', async () => {
    const c = await conflicted('filtered');
    c.write({}, { filters: { exclude: ['filtered-lib@1.0.0'] } });
    const excluded = await te.run(c.job);
    expect(excluded.conflicts).toEqual([]);
    expect(excluded.exitCode).toBe(0);
    expect(row('filtered', 'filtered-lib', '1.0.0')).toMatchObject({ state: 'excluded' });
    await c.inConflictAgain();
  });
});

describe('a version the job leaves out, then its tag moved', () => {
  it('excluded or skipped, it stays out (exit 0, the move noted); taken back in, it is the ETAGMOVED conflict, never built from the new commit', async () => {
    await git.createRepoFromDir('mv', pyProject(join(te.dir, 'src-mv'), 'mv-lib', '1.0.0'), { tags: ['v1.0.0'] });
    const source = (extra: Record<string, unknown> = {}) => gitSourceOn(git, 'mv', 'mv', 'pypi', { package: 'mv-lib', ...extra });
    const job = te.writeJob({ name: 'mv', sources: [source()], filters: { exclude: ['mv-lib@1.0.0'] } });
    expect((await te.run(job)).exitCode).toBe(0);
    const first = row('mv', 'mv-lib', '1.0.0');
    // force-pushed: v1.0.0 now names a new commit
    await git.tag('mv', 'v1.0.0', await git.commit('mv', { files: { 'NOTES.txt': 'changed after the tag\n' }, message: 'later' }));

    const excluded = await te.run(job);
    expect(excluded.conflicts).toEqual([]);
    expect(excluded.exitCode).toBe(0);
    expect(excluded.tagMoved).toEqual([expect.objectContaining({ version: '1.0.0', state: 'excluded' })]);
    expect(row('mv', 'mv-lib', '1.0.0')).toMatchObject({ state: 'excluded', source_commit: first.source_commit });

    te.writeJob({ name: 'mv', sources: [source({ versions: { '1.0.0': { skip: 'not wanted' } } })] });
    const skipped = await te.run(job);
    expect(skipped.conflicts).toEqual([]);
    expect(skipped.exitCode).toBe(0);
    expect(skipped.skipped).toEqual([{ package: 'mv-lib', version: '1.0.0', reason: 'not wanted' }]);

    te.writeJob({ name: 'mv', sources: [source()] });
    const back = await te.run(job);
    expect(back.conflicts).toEqual([expect.objectContaining({ version: '1.0.0', code: 'ETAGMOVED' })]);
    expect(row('mv', 'mv-lib', '1.0.0')).toMatchObject({ state: 'conflict', source_commit: first.source_commit });
    expect(uploads('mv-lib')).toEqual([]);

    // the conflict left out by the filters again: set aside, exit 0
    te.writeJob({ name: 'mv', sources: [source()], filters: { exclude: ['mv-lib@1.0.0'] } });
    const again = await te.run(job);
    expect(again.conflicts).toEqual([]);
    expect(again.exitCode).toBe(0);
    expect(row('mv', 'mv-lib', '1.0.0')).toMatchObject({ state: 'excluded' });

    // the filter taken out at once: selected again, it is the conflict (never built from the first commit unasked)
    te.writeJob({ name: 'mv', sources: [source()] });
    const selected = await te.run(job);
    expect(selected.conflicts).toEqual([expect.objectContaining({ version: '1.0.0', code: 'ETAGMOVED' })]);
    expect(selected.exitCode).toBe(1);
    expect(uploads('mv-lib')).toEqual([]);
  });
});

describe('a publish cut off before its request went out, then skipped in the job', () => {
  it('is not published by the rerun: it is skipped with the reason, said as perhaps partly on the target', async () => {
    await git.createRepoFromDir('cutskip', pyProject(join(te.dir, 'src-cutskip'), 'cutskip-lib', '1.0.0'), { tags: ['v1.0.0'] });
    const write = (extra: Record<string, unknown> = {}) => te.writeJob({ name: 'cutskip', sources: [gitSourceOn(git, 'cutskip', 'cutskip', 'pypi', { package: 'cutskip-lib', ...extra })] });
    expect((await te.run(write(), { dryRun: true })).exitCode).toBe(0);
    // as a kill -9 leaves it: the move to `publishing` written, no upload sent
    const state = te.openState('cutskip');
    try {
      state.db.prepare("UPDATE items SET state = 'publishing', attempts = 1 WHERE package = 'cutskip-lib'").run();
    } finally {
      state.close();
    }
    const s = await te.run(write({ versions: { '1.0.0': { skip: 'not wanted' } } }));
    expect(uploads('cutskip-lib')).toEqual([]);
    expect(row('cutskip', 'cutskip-lib', '1.0.0')).toMatchObject({ state: 'skipped', last_error_code: 'ESKIPPED', last_error: 'not wanted' });
    expect(s.skipped).toEqual([{ package: 'cutskip-lib', version: '1.0.0', reason: 'not wanted' }]);
    expect(s.leftOutOnTarget).toEqual([expect.objectContaining({ version: '1.0.0', state: 'skipped' })]);
    expect(s.exitCode).toBe(0);

    // the skip taken out: published, once
    const back = await te.run(write());
    expect(back.exitCode).toBe(0);
    expect(row('cutskip', 'cutskip-lib', '1.0.0').state).toBe('verified');
    expect(uploads('cutskip-lib').length).toBeGreaterThan(0);
  });
});

// YAML reads an unquoted 1.10 as the number 1.1: a job that reads "skip 1.10" skipped 1.1 and published 1.10
describe('a version key written unquoted, which YAML would read as a number (1.10, the float 1.1)', () => {
  it('means the version written: 1.10 is skipped and never uploaded, 1.1 is migrated; "1.1" and 1.1 both given are one key given twice', async () => {
    const pkg = 'floatkey-lib';
    await git.createRepoFromDir('floatkey', pyProject(join(te.dir, 'src-floatkey'), pkg, '1.1'), { tags: ['v1.1'] });
    await git.tag('floatkey', 'v1.10', await git.commit('floatkey', { files: { 'pyproject.toml': HATCH(pkg, '1.10') }, message: '1.10' }));
    const job = te.writeJob({ name: 'floatkey', sources: [gitSourceOn(git, 'floatkey', 'floatkey', 'pypi', { package: pkg, versions: { '1.10': { skip: 'broken release' } } })] });
    const text = readFileSync(job, 'utf8');
    writeFileSync(job, text.replace(/"1\.10":/, '1.10:'));
    expect(readFileSync(job, 'utf8')).toMatch(/^ +1\.10: *$/m);

    const s = await te.run(job);
    expect(s.exitCode).toBe(0);
    expect(row('floatkey', pkg, '1.10')).toMatchObject({ state: 'skipped', last_error: 'broken release' });
    expect(row('floatkey', pkg, '1.1').state).toBe('verified');
    expect(uploads(pkg).filter((e) => e.version === '1.10')).toEqual([]);

    // the same key quoted and not: one version named twice, refused as a duplicate key is (YAML would silently keep the last)
    writeFileSync(job, text.replace(/"1\.10":/, '"1.1": { skip: a }\n      1.1:'));
    const twice = await te.cli(['run', job, '--json']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('ECONFIG');
    expect(twice.stderr).toMatch(/"1\.1" is given twice/);
  });
});

describe("a PyPI package's name spelled another way in the job (Spelled_Lib for spelled-lib)", () => {
  it('one project to PyPI and CodeArtifact: refused (ECONFIG naming both spellings) before anything is asked or written, by run and plan; the spelling recorded goes on', async () => {
    await git.createRepoFromDir('spelled', pyProject(join(te.dir, 'src-spelled'), 'spelled-lib', '1.0.0'), { tags: ['v1.0.0'] });
    const source = (pkg: string) => gitSourceOn(git, 'spelled', 'spelled', 'pypi', { package: pkg });
    const job = te.writeJob({ name: 'spelled', sources: [source('spelled-lib')] });
    expect((await te.run(job)).exitCode).toBe(0);
    const recorded = () => {
      const state = te.openState('spelled');
      try {
        return { run: state.lastRun()!.id, rows: state.items().map((r) => [r.package, r.version, r.state]) };
      } finally {
        state.close();
      }
    };
    const before = recorded();
    expect(before.rows).toEqual([['spelled-lib', '1.0.0', 'verified']]);

    te.writeJob({ name: 'spelled', sources: [source('Spelled_Lib')] });
    const seq = te.sandbox.standIn.log.at(-1)!.seq;
    for (const cmd of ['run', 'plan']) {
      const r = await te.cli([cmd, job, '--json']);
      expect(r.code, cmd).toBe(2);
      expect(r.stderr, cmd).toContain('ECONFIG');
      expect(r.stderr, cmd).toContain('"Spelled_Lib"');
      expect(r.stderr, cmd).toContain('"spelled-lib"');
      expect(r.stderr, cmd).not.toMatch(/^\s+at /m);
    }
    expect(te.sandbox.standIn.log.filter((e) => e.seq > seq)).toEqual([]);
    expect(recorded()).toEqual(before);

    te.writeJob({ name: 'spelled', sources: [source('spelled-lib')] });
    const again = await te.run(job);
    expect(again.exitCode).toBe(0);
    expect(again.removedAtSource).toEqual([]);
  });
});

describe("a git source's format changed under the same id (a Go module's source `lib` pointed at an npm repository)", () => {
  it('refused (ECONFIG naming both formats) before anything is asked or written, by run and plan, not taken for every version removed at the source; format put back, or the new source under its own id, nothing is removed', async () => {
    const goSrc = mkdtempSync(join(te.dir, 'src-two-go-'));
    writeFileSync(join(goSrc, 'go.mod'), 'module example.com/two/lib\n\ngo 1.19\n');
    writeFileSync(join(goSrc, 'lib.go'), 'package lib\n\n// Name is the fixture module.\nconst Name = "lib"\n');
    await git.createRepoFromDir('two-go', goSrc, { tags: ['v1.0.0', 'v1.1.0'] });
    const npmSrc = mkdtempSync(join(te.dir, 'src-two-npm-'));
    writeFileSync(join(npmSrc, 'package.json'), JSON.stringify({ name: 'two-lib', version: '1.0.0', main: 'index.js', license: 'MIT' }));
    writeFileSync(join(npmSrc, 'index.js'), 'module.exports = 1;\n');
    await git.createRepoFromDir('two-npm', npmSrc, { tags: ['v1.0.0'] });

    const goLib = gitSourceOn(git, 'lib', 'two-go', 'go');
    const job = te.writeJob({ name: 'two', sources: [goLib] });
    const first = await te.run(job);
    expect(first.exitCode, JSON.stringify(first.failures)).toBe(0);
    const recorded = () => {
      const state = te.openState('two');
      try {
        return { run: state.lastRun()!.id, rows: state.items() };
      } finally {
        state.close();
      }
    };
    const before = recorded();
    expect(before.rows.filter((r) => r.state === 'verified').map((r) => [r.format, r.package, r.version])).toEqual([
      ['generic', 'example.com/two/lib', 'v1.0.0'],
      ['generic', 'example.com/two/lib', 'v1.1.0'],
    ]);

    // the same job name, source `lib` now an npm package of another repository (as a second job file of the same name would)
    te.writeJob({ name: 'two', sources: [gitSourceOn(git, 'lib', 'two-npm', 'npm')] });
    const seq = te.sandbox.standIn.log.at(-1)!.seq;
    for (const cmd of ['run', 'plan']) {
      const r = await te.cli([cmd, job, '--json']);
      expect(r.code, cmd).toBe(2);
      expect(r.stderr, cmd).toContain('ECONFIG');
      expect(r.stderr, cmd).toContain('"lib"');
      expect(r.stderr, cmd).toContain('format npm');
      expect(r.stderr, cmd).toContain(`${before.rows.length} version(s) of it recorded as format go`);
      expect(r.stderr, cmd).not.toMatch(/^\s+at /m);
    }
    expect(te.sandbox.standIn.log.filter((e) => e.seq > seq)).toEqual([]);
    expect(recorded()).toEqual(before);

    // the format put back: the Go module's versions are all there, none removed
    te.writeJob({ name: 'two', sources: [goLib] });
    const back = await te.run(job);
    expect(back.exitCode).toBe(0);
    expect(back.removedAtSource).toEqual([]);

    // as the hint says: the npm package under an id of its own, the Go module's rows kept as they are
    te.writeJob({ name: 'two', sources: [gitSourceOn(git, 'lib-npm', 'two-npm', 'npm')] });
    const own = await te.run(job);
    expect(own.exitCode, JSON.stringify(own.failures)).toBe(0);
    expect(own.removedAtSource).toEqual([]);
    const after = recorded().rows;
    expect(after.filter((r) => r.source_id === 'lib').map((r) => [r.version, r.state, r.removed_at])).toEqual(before.rows.map((r) => [r.version, r.state, r.removed_at]));
    expect(after.filter((r) => r.source_id === 'lib-npm').map((r) => [r.package, r.version, r.state])).toEqual([['two-lib', '1.0.0', 'verified']]);
  });
});
