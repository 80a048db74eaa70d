/**
 * git sources when things go wrong: a tag that does not build, a tag moved to
 * another commit, a tag whose metadata names another version, a deleted tag,
 * an unreachable repository, a refused ssh key; and npm packages that live only
 * in git. Each ends in its own outcome, asserted by code, rows and what the
 * stand-in received; the other versions still migrate.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ListPackageVersionsCommand } from '@aws-sdk/client-codeartifact';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStatus } from '../src/cli/status.js';
import type { ItemRow } from '../src/state/db.js';
import { multipartUploadBody } from '../src/targets/pypi-upload.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { fixtureBundle, gitSourceOn, pyProject, startGitServer, type GitServer } from './support/git-server.js';

let te: TestEnv;
let git: GitServer;

beforeAll(async () => {
  te = await startTestEnv();
  git = await startGitServer();
  await git.createRepoFromBundle('monorepo', fixtureBundle('monorepo'));
  await git.createRepoFromBundle('crashtest', fixtureBundle('py-crashtest'));
  await git.createRepoFromBundle('escape', fixtureBundle('npm-escape-string-regexp'));
  await git.createRepoFromBundle('uuid', fixtureBundle('go-uuid'));
  te.env.CAM_TEST_GIT_KEY = git.clientKey;
  te.env.CAM_TEST_STRANGER_KEY = git.unauthorizedKey;
});
afterAll(async () => {
  await git?.stop();
  await te?.stop();
});

const gitSource = (id: string, repo: string, format: 'npm' | 'pypi' | 'go', extra: Record<string, unknown> = {}) => gitSourceOn(git, id, repo, format, extra);

function rows(job: string, pkg?: string): ItemRow[] {
  const state = te.openState(job);
  try {
    return state.items().filter((r) => pkg === undefined || r.package === pkg);
  } finally {
    state.close();
  }
}
const states = (job: string, pkg: string) => Object.fromEntries(rows(job, pkg).map((r) => [r.version, r.state]));
const uploads = (pkg: string) => te.sandbox.standIn.log.filter((e) => (e.operation === 'pypi:Upload' || e.operation === 'PublishPackageVersion' || e.operation === 'npm:Publish') && e.package === pkg);

describe('a monorepo package: prefixed tags, a subdirectory, a tag that does not build', () => {
  it('the tag that does not build fails EBUILD with the tail of its build log; the others migrate', async () => {
    const job = te.writeJob({ name: 'billing', sources: [gitSource('billing', 'monorepo', 'pypi', { package: 'acme-billing', directory: 'billing', tags: 'billing/v{version}' })] });
    const s = await te.run(job);
    expect(s.exitCode).toBe(1);
    expect(s.failures).toEqual([expect.objectContaining({ package: 'acme-billing', version: '0.9.0', code: 'EBUILD' })]);
    expect(s.failures[0]!.message).toMatch(/vcs/);
    expect(states('billing', 'acme-billing')).toEqual({ '0.9.0': 'failed', '1.0.0': 'verified', '1.1.0': 'verified', '1.2.0': 'verified' });
    expect(uploads('acme-billing').filter((e) => e.version === '0.9.0')).toEqual([]);

    // the user skips it in the job file: the run is clean, the skip says why
    const skipping = te.writeJob({
      name: 'billing',
      sources: [gitSource('billing', 'monorepo', 'pypi', { package: 'acme-billing', directory: 'billing', tags: 'billing/v{version}', versions: { '0.9.0': { skip: 'needs hatch-vcs' } } })],
    });
    const again = await te.run(skipping);
    expect(again.exitCode).toBe(0);
    expect(again.skipped).toEqual([{ package: 'acme-billing', version: '0.9.0', reason: 'needs hatch-vcs' }]);
  });
});

describe('a tag moved to another commit', () => {
  it('before migration: a conflict (ETAGMOVED), never built from the new commit; accepted in the job, it is built and published', async () => {
    const job = te.writeJob({ name: 'moved', sources: [gitSource('crashtest', 'crashtest', 'pypi', { package: 'crashtest', tags: '{version}' })] });
    await te.run(job, { dryRun: true });
    const before = rows('moved', 'crashtest').find((r) => r.version === '0.4.0')!;
    // 0.4.0 now names the 0.4.1 commit (a force-pushed tag)
    const other = await git.revParse('crashtest', '0.4.1^{commit}');
    await git.tag('crashtest', '0.4.0', other, { annotated: true });
    const s = await te.run(job);
    expect(s.exitCode).toBe(1);
    expect(s.conflicts).toEqual([expect.objectContaining({ version: '0.4.0', code: 'ETAGMOVED' })]);
    expect(s.conflicts[0]!.message).toContain(other);
    expect(rows('moved', 'crashtest').find((r) => r.version === '0.4.0')).toMatchObject({ state: 'conflict', source_commit: before.source_commit });
    expect(uploads('crashtest').filter((e) => e.version === '0.4.0')).toEqual([]);
    // a rerun still refuses
    expect((await te.run(job)).conflicts.map((c) => c.code)).toEqual(['ETAGMOVED']);

    // keeping the commit first listed settles it: built from that commit (the same bytes)
    const keeping = te.writeJob({ name: 'moved', sources: [gitSource('crashtest', 'crashtest', 'pypi', { package: 'crashtest', tags: '{version}', versions: { '0.4.0': { commit: before.source_commit } } })] });
    const kept = await te.run(keeping, { dryRun: true });
    expect(kept.conflicts).toEqual([]);
    expect(rows('moved', 'crashtest').find((r) => r.version === '0.4.0')).toMatchObject({ state: 'fetched', source_commit: before.source_commit, sha512: before.sha512 });

    // accepting the new commit (it fails its version check: it is 0.4.1's code)…
    const accepting = te.writeJob({ name: 'moved', sources: [gitSource('crashtest', 'crashtest', 'pypi', { package: 'crashtest', tags: '{version}', versions: { '0.4.0': { commit: other } } })] });
    const accepted = await te.run(accepting);
    expect(accepted.failures).toEqual([expect.objectContaining({ version: '0.4.0', code: 'EVERSION' })]);
    expect(rows('moved', 'crashtest').find((r) => r.version === '0.4.0')!.source_commit).toBe(other);
  });

  it('after migration: reported as a finding (exit 1), the target keeps what was built', async () => {
    const job = te.writeJob({ name: 'moved-after', sources: [gitSource('uuid', 'uuid', 'go', { package: 'github.com/google/uuid' })] });
    expect((await te.run(job)).exitCode).toBe(0);
    const v12 = await git.revParse('uuid', 'v1.2.0^{commit}');
    await git.tag('uuid', 'v1.1.5', v12, { annotated: false });
    const s = await te.run(job);
    expect(s.exitCode).toBe(1);
    expect(s.tagMoved).toEqual([expect.objectContaining({ version: 'v1.1.5', state: 'verified' })]);
    expect(rows('moved-after', 'github.com/google/uuid').find((r) => r.version === 'v1.1.5')!.state).toBe('verified');
  });
});

describe('a deleted tag', () => {
  it('is reported as removed at the source; a version not yet migrated is set aside', async () => {
    const job = te.writeJob({ name: 'deleted', sources: [gitSource('escape', 'escape', 'npm')] });
    await te.run(job, { dryRun: true });
    await git.deleteTag('escape', 'v1.0.2');
    const s = await te.run(job);
    expect(s.exitCode).toBe(0);
    expect(s.removedAtSource).toEqual([expect.objectContaining({ package: 'escape-string-regexp', version: '1.0.2', state: 'removed' })]);
    expect(uploads('escape-string-regexp').map((e) => e.version)).not.toContain('1.0.2');
  });
});

describe('a tag deleted, pushed again, and deleted again', () => {
  it('status lists the version once among the versions removed at the source, as it stands now', async () => {
    await git.createRepoFromBundle('flapping', fixtureBundle('npm-escape-string-regexp'));
    const job = te.writeJob({ name: 'flapping', sources: [gitSource('flapping', 'flapping', 'npm')], filters: { include: ['escape-string-regexp@1.0.5'], ignoreDistTags: ['latest'] } });
    const first = await te.run(job);
    expect(first.exitCode, JSON.stringify({ f: first.failures, m: first.metadataOutOfSync, l: first.listErrors })).toBe(0);
    const commit = await git.revParse('flapping', 'v1.0.5^{commit}');
    await git.deleteTag('flapping', 'v1.0.5');
    expect((await te.run(job)).removedAtSource).toEqual([expect.objectContaining({ version: '1.0.5' })]);
    await git.tag('flapping', 'v1.0.5', commit, { annotated: false });
    expect((await te.run(job)).removedAtSource).toEqual([]);
    await git.deleteTag('flapping', 'v1.0.5');
    expect((await te.run(job)).removedAtSource).toEqual([expect.objectContaining({ version: '1.0.5' })]);
    expect(readStatus(job, te.stateDir).removedAtSource).toEqual([expect.objectContaining({ package: 'escape-string-regexp', version: '1.0.5' })]);
  });
});

describe('a migrated version whose tag moved, stayed moved over a rerun, then moved back', () => {
  it('status lists the move once while it lasts; moved back, neither status nor the report says the tag points elsewhere, and the report exits 0', async () => {
    await git.createRepoFromBundle('moving', fixtureBundle('npm-escape-string-regexp'));
    const job = te.writeJob({ name: 'moving', sources: [gitSource('moving', 'moving', 'npm')], filters: { include: ['escape-string-regexp@1.0.5'], ignoreDistTags: ['latest'] } });
    expect((await te.run(job)).exitCode).toBe(0);
    const first = await git.revParse('moving', 'v1.0.5^{commit}');
    const other = await git.revParse('moving', 'v1.0.4^{commit}');
    await git.tag('moving', 'v1.0.5', other, { annotated: false });
    expect((await te.run(job)).tagMoved).toEqual([expect.objectContaining({ version: '1.0.5' })]);
    expect((await te.run(job)).tagMoved).toEqual([expect.objectContaining({ version: '1.0.5' })]);
    expect(readStatus(job, te.stateDir).tagMoved).toEqual([expect.objectContaining({ version: '1.0.5' })]);

    await git.tag('moving', 'v1.0.5', first, { annotated: false });
    const back = await te.run(job);
    expect(back.tagMoved).toEqual([]);
    expect(back.exitCode).toBe(0);
    expect(readStatus(job, te.stateDir).tagMoved).toEqual([]);
    const report = await te.cli(['report', job, '--json', '--out', join(te.dir, 'reports-moving')]);
    const r = JSON.parse(report.stdout) as { verdict: { status: string }; findings: { code: string }[] };
    expect(r.findings.map((f) => f.code)).not.toContain('ETAGMOVED');
    expect(r.verdict.status).not.toBe('no-go');
    expect(report.code).toBe(0);
  });
});

describe('PEP 440-equal tags added or deleted after the migration', () => {
  it('the version keeps the spelling it was recorded under: nothing is published again, nothing reported removed', async () => {
    await git.createRepoFromDir('alias', pyProject(join(te.dir, 'src-alias'), 'alias-lib', '1.0.0'), { tags: ['v1.0.0'] });
    const job = te.writeJob({ name: 'alias', sources: [gitSource('alias', 'alias', 'pypi', { package: 'alias-lib' })] });
    expect((await te.run(job)).exitCode).toBe(0);
    expect(states('alias', 'alias-lib')).toEqual({ '1.0.0': 'verified' });
    const targetVersions = async () => (await te.client.send(new ListPackageVersionsCommand({ domain: 'acme', domainOwner: '111122223333', repository: 'pypi-internal', format: 'pypi', package: 'alias-lib' }))).versions?.map((v) => v.version);

    // `v1.0` sorts before `v1.0.0`: it used to become the version, published a second time
    await git.tag('alias', 'v1.0', 'v1.0.0', { annotated: false });
    const added = await te.run(job);
    expect(added.exitCode).toBe(0);
    expect(added.removedAtSource).toEqual([]);
    expect(states('alias', 'alias-lib')).toEqual({ '1.0.0': 'verified' });

    // the tag it was recorded under deleted: built from the one left, under the same spelling
    await git.deleteTag('alias', 'v1.0.0');
    const deleted = await te.run(job);
    expect(deleted.exitCode).toBe(0);
    expect(deleted.removedAtSource).toEqual([]);
    expect(rows('alias', 'alias-lib').map((r) => `${r.version} ${r.source_ref} ${r.state}`)).toEqual(['1.0.0 v1.0 verified']);

    expect(uploads('alias-lib').map((e) => e.version)).toEqual(['1.0.0', '1.0.0']); // sdist and wheel, once
    expect(await targetVersions()).toEqual(['1.0.0']);
  });
});

describe('a version on the target that holds files we did not build', () => {
  it('someone else\'s wheel already in it: a conflict naming the file (pip would prefer it), nothing of ours added, never verified', async () => {
    await git.createRepoFromDir('extra', pyProject(join(te.dir, 'src-extra'), 'extra-lib', '1.0.0'), { tags: ['v1.0.0'] });
    // a wheel with a build tag, uploaded as twine does: pip ranks it above a wheel without one
    const dir = mkdtempSync(join(te.dir, 'theirs-'));
    const wheel = join(dir, 'extra_lib-1.0.0-1-py3-none-any.whl');
    writeFileSync(wheel, 'not ours');
    const form = await multipartUploadBody({ path: wheel, filename: basename(wheel), filetype: 'bdist_wheel', pyversion: 'py3' }, { metadata_version: '2.1', name: 'extra-lib', version: '1.0.0' });
    const token = await te.targetToken();
    const chunks: Buffer[] = [];
    for await (const c of form.body as AsyncIterable<Buffer>) chunks.push(c);
    const res = await fetch(te.sandbox.standIn.pypiEndpoint('pypi-internal'), {
      method: 'POST',
      headers: { 'content-type': form.contentType, authorization: `Basic ${Buffer.from(`aws:${token}`).toString('base64')}` },
      body: Buffer.concat(chunks),
    });
    expect(res.status).toBe(200);

    const job = te.writeJob({ name: 'extra', sources: [gitSource('extra', 'extra', 'pypi', { package: 'extra-lib' })] });
    const s = await te.run(job);
    expect(s.exitCode).toBe(1);
    expect(states('extra', 'extra-lib')).toEqual({ '1.0.0': 'conflict' });
    const row = rows('extra', 'extra-lib')[0]!;
    expect(row.last_error_code).toBe('ECONFLICT');
    expect(row.last_error).toContain('extra_lib-1.0.0-1-py3-none-any.whl');
    expect(uploads('extra-lib')).toHaveLength(1); // theirs alone
  });
});

describe('npm packages that live only in git', () => {
  it('every tag is packed as npm packs it and published down the npm path; latest is the highest release', async () => {
    const s = await te.run(te.writeJob({ name: 'escape', sources: [gitSource('escape', 'escape', 'npm')] }));
    expect(s.exitCode).toBe(0);
    const versions = te.sandbox.standIn.versions('npm-internal', 'npm', undefined, 'escape-string-regexp').map((v) => v.version);
    expect(versions).toEqual(expect.arrayContaining(['1.0.0', '2.0.0', '4.0.0', '5.0.0']));
    expect(te.sandbox.standIn.distTags('npm-internal', 'escape-string-regexp').latest).toBe('5.0.0');
    // npm pack of the v4.0.0 tag is deterministic: SOURCES.md records its integrity
    const v4 = rows('escape', 'escape-string-regexp').find((r) => r.version === '4.0.0')!;
    expect(`sha512-${Buffer.from(v4.sha512!, 'hex').toString('base64')}`).toBe('sha512-GY7Z60WFFg6daCH38h/nzUD69QNcwLyonxCBW6BKCE5xAnKyNsFfr4g5p3uu2hhg/IiSnNuHhE8IdqwrVNFyCA==');
  });
});

describe("a git source's id renamed in the job, its package named by the repository (no `package`)", () => {
  it('reading the folder the old rows came from: refused (ECONFIG naming both ids) before anything is written or asked; a new source for another folder of the monorepo is no rename', async () => {
    // two Go modules of one repository, each in its folder, each named by its go.mod
    const src = mkdtempSync(join(te.dir, 'src-go-mono-'));
    for (const m of ['a', 'b']) {
      mkdirSync(join(src, m));
      writeFileSync(join(src, m, 'go.mod'), `module example.com/gomono/${m}\n\ngo 1.19\n`);
      writeFileSync(join(src, m, `${m}.go`), `package ${m}\n\n// Name is the module's folder.\nconst Name = "${m}"\n`);
    }
    await git.createRepoFromDir('go-mono', src, { tags: ['a/v1.0.0', 'b/v1.0.0'] });
    const mono = (id: string, directory: string) => gitSource(id, 'go-mono', 'go', { directory });
    const first = await te.run(te.writeJob({ name: 'go-mono', sources: [mono('mono-a', 'a'), mono('mono-b', 'b')] }));
    expect(first.exitCode, JSON.stringify(first.failures)).toBe(0);
    const lastRun = () => {
      const state = te.openState('go-mono');
      try {
        return state.lastRun()!.id;
      } finally {
        state.close();
      }
    };
    const runBefore = lastRun();

    const seq = te.sandbox.standIn.log.at(-1)!.seq;
    const refused = await te.run(te.writeJob({ name: 'go-mono', sources: [mono('mono-a', 'a'), mono('billing', 'b')] })).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message?: string; hint?: string },
    );
    expect(refused?.code).toBe('ECONFIG');
    expect(refused?.message).toContain('"billing"');
    expect(refused?.hint).toContain('back to "mono-b"');
    // nothing asked of the target, no run recorded, no row under the new id
    expect(te.sandbox.standIn.log.filter((e) => e.seq > seq)).toEqual([]);
    expect(lastRun()).toBe(runBefore);
    expect(rows('go-mono').map((r) => [r.source_id, r.package, r.version, r.state]).sort()).toEqual([
      ['mono-a', 'example.com/gomono/a', 'v1.0.0', 'verified'],
      ['mono-b', 'example.com/gomono/b', 'v1.0.0', 'verified'],
    ]);

    // a third module in its own folder, under a new id, while mono-b's rows have no source: a new source
    await git.commit('go-mono', { message: 'c', files: { 'c/go.mod': 'module example.com/gomono/c\n\ngo 1.19\n', 'c/c.go': 'package c\n' } });
    await git.tag('go-mono', 'c/v1.0.0', 'main', { annotated: false });
    const other = await te.run(te.writeJob({ name: 'go-mono', sources: [mono('mono-a', 'a'), mono('mono-c', 'c')] }));
    expect(other.exitCode, JSON.stringify(other.failures)).toBe(0);
    expect(other.outcomes).toEqual({ published: 1 });
    expect(rows('go-mono').filter((r) => r.source_id === 'mono-c').map((r) => [r.package, r.version, r.state])).toEqual([['example.com/gomono/c', 'v1.0.0', 'verified']]);
  });
});

describe('repositories that cannot be reached', () => {
  it('a repository that does not exist: ESOURCENOTFOUND for that source, the other source migrates', async () => {
    const job = te.writeJob({ name: 'missing', sources: [gitSource('missing', 'no-such-repo', 'go', { package: 'example.com/none' }), gitSource('uuid', 'uuid', 'go', { package: 'github.com/google/uuid' })], limits: { retries: 1 } });
    const s = await te.run(job);
    expect(s.exitCode).toBe(1);
    expect(s.listErrors).toEqual([expect.objectContaining({ source: 'missing', code: 'ESOURCENOTFOUND' })]);
    expect(s.complete).toBeGreaterThan(0);
  });

  it('a key the server refuses: ESOURCEAUTH, the key is named by its variable, its path appears nowhere', async () => {
    const job = te.writeJob({ name: 'refused', sources: [gitSource('uuid', 'uuid', 'go', { package: 'github.com/google/uuid', sshKeyEnv: 'CAM_TEST_STRANGER_KEY' })], limits: { retries: 0 } });
    const r = await te.cli(['run', job, '--json']);
    expect(r.code).toBe(1);
    const s = JSON.parse(r.stdout) as { listErrors: { code: string; message: string }[] };
    expect(s.listErrors).toEqual([expect.objectContaining({ code: 'ESOURCEAUTH' })]);
    expect(r.stdout + r.stderr).not.toContain(git.unauthorizedKey);
  });

  it('a host whose key is not the one known: ESOURCEAUTH about the host key, nothing fetched', async () => {
    const job = te.writeJob({ name: 'hostkey', sources: [gitSource('uuid', 'uuid', 'go', { package: 'github.com/google/uuid', knownHostsFile: '/dev/null' })], limits: { retries: 0 } });
    const s = await te.run(job);
    expect(s.listErrors).toEqual([expect.objectContaining({ code: 'ESOURCEAUTH', message: expect.stringMatching(/host key/) })]);
    // ssh's own words, which name the host (ssh ends its lines with \r\n), and what to do with the file the job names
    expect(s.listErrors[0]!.message).toMatch(/No \S+ host key is known for \[127\.0\.0\.1\]:\d+/);
    expect(s.listErrors[0]!.message).toMatch(/Host key verification failed/);
    expect(s.listErrors[0]!.message).toContain('/dev/null');
  });

  it("a host whose key changed, for an operator whose ssh config says StrictHostKeyChecking no: still refused (ESOURCEAUTH about the host key), nothing fetched", async () => {
    // the operator's ssh config (as ~/.ssh/config would say it): host keys not checked, and a known_hosts holding another key for the host
    const [hostPort] = readFileSync(git.knownHosts, 'utf8').split(' ');
    const otherKey = readFileSync(`${git.unauthorizedKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    const knownHosts = join(te.dir, 'careless-known_hosts');
    writeFileSync(knownHosts, `${hostPort} ${otherKey}\n`);
    const config = join(te.dir, 'careless-ssh-config');
    writeFileSync(config, `Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile ${knownHosts}\n`);
    const { knownHostsFile: _ours, ...withoutKnownHosts } = gitSource('uuid', 'uuid', 'go', { package: 'github.com/google/uuid' });
    const job = te.writeJob({ name: 'hostkey-changed', sources: [withoutKnownHosts], limits: { retries: 0 } });
    const s = await te.run(job, { env: { ...te.env, GIT_SSH_COMMAND: `ssh -F ${config}` } });
    expect(s.listErrors).toEqual([expect.objectContaining({ code: 'ESOURCEAUTH', message: expect.stringMatching(/host key/) })]);
    expect(s.listErrors[0]!.message).toMatch(/Host key for \[127\.0\.0\.1\]:\d+ has changed/);
    expect(s.complete).toBe(0);
    expect(existsSync(join(te.stateDir, 'git', 'hostkey-changed', 'uuid.git'))).toBe(false);
  });

  // ssh takes the first value it reads of an option: one in GIT_SSH_COMMAND comes before the tool's own
  // `-o StrictHostKeyChecking=yes` and wins over it (a CI machine's `export GIT_SSH_COMMAND="ssh -o StrictHostKeyChecking=no"`)
  it.each([
    ['a changed key, StrictHostKeyChecking=no', 'changed', '-o StrictHostKeyChecking=no'],
    ['a changed key, -o\'StrictHostKeyChecking off\'', 'changed', "-o'StrictHostKeyChecking off'"],
    ['a changed key, -4oStrictHostKeyChecking=false', 'changed', '-4oStrictHostKeyChecking=false'],
    ['an unknown key, stricthostkeychecking=accept-new', 'unknown', '-o stricthostkeychecking=accept-new'],
  ])("a host key GIT_SSH_COMMAND says not to check (%s): run and plan refuse before ssh runs (exit 2, ESOURCEAUTH naming GIT_SSH_COMMAND), nothing fetched", async (_name, how, option) => {
    const [hostPort] = readFileSync(git.knownHosts, 'utf8').split(' ');
    const otherKey = readFileSync(`${git.unauthorizedKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    const knownHosts = join(te.dir, `lax-known_hosts-${how}`);
    writeFileSync(knownHosts, how === 'changed' ? `${hostPort} ${otherKey}\n` : '');
    const { knownHostsFile: _ours, ...withoutKnownHosts } = gitSource('uuid', 'uuid', 'go', { package: 'github.com/google/uuid' });
    const name = `hostkey-lax-${how}-${option.length}`;
    const job = te.writeJob({ name, sources: [withoutKnownHosts], limits: { retries: 0 } });
    const GIT_SSH_COMMAND = `ssh -F /dev/null ${option} -o UserKnownHostsFile=${knownHosts}`;
    for (const command of ['run', 'plan']) {
      const r = await te.cli([command, job], { GIT_SSH_COMMAND });
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stderr).toMatch(/ESOURCEAUTH.*GIT_SSH_COMMAND.*StrictHostKeyChecking/);
      expect(r.stderr).not.toMatch(/^ {4}at /m);
    }
    expect(existsSync(join(te.stateDir, 'git', name, 'uuid.git'))).toBe(false);
    // the known_hosts file the operator's command names was not written to (accept-new would add the key)
    expect(readFileSync(knownHosts, 'utf8')).toBe(how === 'changed' ? `${hostPort} ${otherKey}\n` : '');
  });

  it('a known_hosts file and a key file in a folder whose name holds a space and a % (ssh splits a UserKnownHostsFile on spaces and expands % in both): read as the files named, the repository fetched', async () => {
    const dir = join(te.dir, 'ops files 100%d');
    mkdirSync(dir, { recursive: true });
    const knownHosts = join(dir, 'known hosts');
    writeFileSync(knownHosts, readFileSync(git.knownHosts));
    const key = join(dir, 'deploy key');
    writeFileSync(key, readFileSync(git.clientKey), { mode: 0o600 });
    const job = te.writeJob({ name: 'spaced-paths', sources: [gitSource('uuid', 'uuid', 'go', { package: 'github.com/google/uuid', knownHostsFile: knownHosts, sshKeyEnv: 'CAM_TEST_SPACED_KEY' })], limits: { retries: 0 } });
    const s = await te.run(job, { dryRun: true, env: { ...te.env, CAM_TEST_SPACED_KEY: key } });
    expect(s.listErrors).toEqual([]);
    expect(existsSync(join(te.stateDir, 'git', 'spaced-paths', 'uuid.git', 'HEAD'))).toBe(true);
  });

  it.each([
    ['with CRLF line ends (pasted on Windows)', (k: string) => k.replace(/\n/g, '\r\n')],
    ['on one line with \\n for its line breaks (a CI variable field of one line)', (k: string) => k.trimEnd().replace(/\n/g, '\\n')],
  ])('a key given as text %s is the key ssh uses: the repository fetched, not refused as a key the server does not know', async (_name, spell) => {
    const name = `key-text-${spell.length}-${_name.length}`;
    const job = te.writeJob({ name, sources: [gitSource('uuid', 'uuid', 'go', { package: 'github.com/google/uuid', sshKeyEnv: 'CAM_TEST_KEY_TEXT' })], limits: { retries: 0 } });
    const s = await te.run(job, { dryRun: true, env: { ...te.env, CAM_TEST_KEY_TEXT: spell(readFileSync(git.clientKey, 'utf8')) } });
    expect(s.listErrors).toEqual([]);
    expect(existsSync(join(te.stateDir, 'git', name, 'uuid.git', 'HEAD'))).toBe(true);
  });

  it('a key given as text that ssh cannot read (cut short): ESOURCEAUTH saying so, naming the variable, not "authorise the key"; no text of it shown', async () => {
    const cut = readFileSync(git.clientKey, 'utf8').split('\n').filter((_, i) => i !== 2).join('\n');
    const job = te.writeJob({ name: 'key-text-cut', sources: [gitSource('uuid', 'uuid', 'go', { package: 'github.com/google/uuid', sshKeyEnv: 'CAM_TEST_KEY_TEXT' })], limits: { retries: 0 } });
    const s = await te.run(job, { dryRun: true, env: { ...te.env, CAM_TEST_KEY_TEXT: cut } });
    expect(s.listErrors).toEqual([expect.objectContaining({ code: 'ESOURCEAUTH', message: expect.stringMatching(/ssh could not read the key in CAM_TEST_KEY_TEXT.*ssh-keygen -y/) })]);
    for (const line of cut.split('\n').filter((l) => l.length > 40)) expect(JSON.stringify(s)).not.toContain(line);
  });

  it("GIT_SSH_COMMAND asking for strict checking itself, or naming it inside another option's value (a ProxyCommand's own ssh): taken, the repository fetched", async () => {
    const { knownHostsFile: _ours, ...withoutKnownHosts } = gitSource('uuid', 'uuid', 'go', { package: 'github.com/google/uuid' });
    const job = te.writeJob({ name: 'hostkey-strict-own', sources: [withoutKnownHosts], limits: { retries: 0 } });
    // a LocalCommand that is never run (PermitLocalCommand is off) stands for a ProxyCommand's own ssh: its words are its own
    const GIT_SSH_COMMAND = `ssh -F /dev/null -o StrictHostKeyChecking=yes -o 'LocalCommand=ssh -o StrictHostKeyChecking=no jump' -o UserKnownHostsFile=${git.knownHosts}`;
    const s = await te.run(job, { dryRun: true, env: { ...te.env, GIT_SSH_COMMAND } });
    expect(s.listErrors).toEqual([]);
    expect(existsSync(join(te.stateDir, 'git', 'hostkey-strict-own', 'uuid.git', 'HEAD'))).toBe(true);
  });
});
