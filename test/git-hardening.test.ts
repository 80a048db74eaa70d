/**
 * Two holes an adversarial review found in git sources, each shown against the
 * real sshd git server, the real builders and the CodeArtifact stand-in:
 *
 *  - a version cut off between its PyPI uploads (the sdist landed, the wheel
 *    did not) whose stored files are then changed on disk is built again; a
 *    build that is not byte-reproducible (one that stamps a build id into its
 *    sdist) gives other bytes, so the rebuild must be compared with the target
 *    again before anything is sent: a clear ECONFLICT, never a wheel uploaded
 *    beside an sdist it does not belong to (and an EMISMATCH blaming AWS);
 *  - an npm package built from git whose prepare script needs a package of an
 *    internal scope never resolves that name on a public registry (the rule
 *    itself, with a source registry and its token: builders-npm.test.ts).
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DeletePackageVersionsCommand } from '@aws-sdk/client-codeartifact';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusCommand } from '../src/cli/status.js';
import { BlobStore } from '../src/state/blobs.js';
import { StateDb } from '../src/state/db.js';
import { startGitTestEnv, stopTestEnvWithGit, type TestEnv } from './support/harness.js';
import { makeTarball, publishVersion } from './support/npm-fixtures.js';
import { startRefusingProxy } from './support/refusing-proxy.js';
import { fixtureBundle, gitSourceOn, type GitServer } from './support/git-server.js';

let te: TestEnv;
let git: GitServer;

beforeAll(async () => {
  ({ te, git } = await startGitTestEnv());
  await git.createRepoFromBundle('userpath', fixtureBundle('py-userpath'));
  await git.createRepoFromBundle('crashtest', fixtureBundle('py-crashtest'));
});
afterAll(() => stopTestEnvWithGit(git, te));

const gitSource = (id: string, repo: string, format: 'npm' | 'pypi' | 'go', extra: Record<string, unknown> = {}) => gitSourceOn(git, id, repo, format, extra);

/**
 * A build that is not reproducible, as a build that stamps an id into what it makes is
 * not: the default build, then a BUILD-ID of random bytes added to the sdist.
 */
const RANDOM_BUILD_ID = [
  'import glob, io, os, subprocess, sys, tarfile',
  'src, out = sys.argv[1], sys.argv[2]',
  "subprocess.run([sys.executable, '-m', 'build', '--no-isolation', '--skip-dependency-check', '--sdist', '--wheel', '--outdir', out, src], check=True)",
  "sdist = glob.glob(os.path.join(out, '*.tar.gz'))[0]",
  'with tarfile.open(sdist) as t:',
  '    members = [(m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()]',
  "with tarfile.open(sdist, 'w:gz') as t:",
  '    for m, data in members:',
  '        t.addfile(m, io.BytesIO(data) if data is not None else None)',
  '    build_id = os.urandom(8).hex().encode()',
  "    info = tarfile.TarInfo(os.path.basename(sdist)[:-len('.tar.gz')] + '/BUILD-ID')",
  '    info.size = len(build_id)',
  '    t.addfile(info, io.BytesIO(build_id))',
].join('\n');

/** Flip one byte in the middle of a stored blob: the same size (so it is not "missing"), other bytes. */
function corruptBlob(sha512: string): void {
  const path = new BlobStore(join(te.stateDir, 'blobs')).pathOf(sha512);
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, 100);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, 100);
  } finally {
    closeSync(fd);
  }
}

describe('a PyPI version cut off after its sdist, whose stored files then changed: rebuilt and compared again', () => {
  it('a rebuilt sdist with other bytes than the uploaded one is ECONFLICT (no wheel sent, no EMISMATCH); a byte-identical rebuild finishes the version', async () => {
    const job = te.writeJob({
      name: 'rebuild',
      sources: [
        gitSource('userpath', 'userpath', 'pypi', { package: 'userpath', tags: '{version}', build: { command: ['{python}', '-c', RANDOM_BUILD_ID, '{srcdir}', '{outdir}'] } }),
        gitSource('crashtest', 'crashtest', 'pypi', { package: 'crashtest', tags: '{version}' }),
      ],
      // userpath 1.7.0: a build id stamped into its sdist (every build other bytes); crashtest 0.4.1: poetry-core (rebuilds are identical)
      filters: { include: ['userpath@1.7.0', 'crashtest@0.4.1'] },
    });
    // The sdist (uploaded first) lands; the wheel is refused: the state a run cut off between the two leaves.
    // (The first rule lets the sdist's upload be stored and answers 500, the way a lost response looks.)
    for (const pkg of ['userpath', 'crashtest']) {
      const version = pkg === 'userpath' ? '1.7.0' : '0.4.1';
      te.sandbox.standIn.addFault({ operation: 'pypi:Upload', package: pkg, version, status: 500, afterApply: true, times: 1 });
    }
    for (const pkg of ['userpath', 'crashtest']) {
      const version = pkg === 'userpath' ? '1.7.0' : '0.4.1';
      te.sandbox.standIn.addFault({ operation: 'pypi:Upload', package: pkg, version, status: 400 });
    }
    const first = await te.run(job);
    te.sandbox.standIn.clearFaults();
    expect(first.outcomes).toEqual({ 'failed:ETARGETREJECTED': 2 });

    const state = te.openState('rebuild');
    const before = new Map<string, { sdist: string; names: string[] }>();
    try {
      const picked = state.items().filter((r) => r.state !== 'excluded');
      expect(picked.map((r) => `${r.package}@${r.version}`).sort()).toEqual(['crashtest@0.4.1', 'userpath@1.7.0']);
      for (const r of picked) {
        const assets = state.assetsOf(r.id);
        expect(assets.map((a) => a.state), r.package).toEqual(['uploaded', 'uploading']);
        expect(assets[0]!.name.endsWith('.tar.gz')).toBe(true);
        before.set(r.package, { sdist: assets[0]!.sha512, names: assets.map((a) => a.name) });
        // the stored sdist is changed on disk (a disk, a person): it must be built again before publishing
        corruptBlob(assets[0]!.sha512);
      }
    } finally {
      state.close();
    }

    const since = te.sandbox.standIn.log.length;
    const second = await te.run(job);
    expect(second.outcomes).toEqual({ conflict: 1, published: 1 });
    expect(Object.keys(second.outcomes).some((k) => k.startsWith('failed'))).toBe(false);

    const after = te.openState('rebuild');
    try {
      const userpath = after.items().find((r) => r.package === 'userpath' && r.version === '1.7.0')!;
      const crashtest = after.items().find((r) => r.package === 'crashtest' && r.version === '0.4.1')!;
      // built again (two builds in all), then compared with the target before any upload
      expect(after.events(userpath.id).filter((e) => e.to_state === 'fetched' && e.detail?.startsWith('built')).length).toBe(2);
      expect(userpath.state).toBe('conflict');
      expect(userpath.last_error_code).toBe('ECONFLICT');
      expect(userpath.target_sha512).toBe(before.get('userpath')!.sdist);
      expect(userpath.last_error).toContain('not byte-identical to the one an earlier run uploaded');
      expect(userpath.last_error).toContain('built again');
      expect(userpath.last_error).not.toMatch(/AWS support/i);
      // the state never claims the rebuilt files were uploaded
      const rebuilt = after.assetsOf(userpath.id);
      expect(rebuilt[0]!.sha512).not.toBe(before.get('userpath')!.sdist);
      expect(rebuilt.map((a) => a.state)).toEqual(['stored', 'stored']);
      expect(second.conflicts).toEqual([expect.objectContaining({ package: 'userpath', version: '1.7.0', code: 'ECONFLICT', targetSha512: before.get('userpath')!.sdist })]);

      // the reproducible rebuild matched what was uploaded: only the wheel was sent, and it verified
      expect(crashtest.state).toBe('verified');
      expect(after.assetsOf(crashtest.id).map((a) => [a.sha512 === before.get('crashtest')!.sdist || a.name.endsWith('.whl'), a.state])).toEqual([
        [true, 'uploaded'],
        [true, 'uploaded'],
      ]);
    } finally {
      after.close();
    }

    // the target: nothing was uploaded for userpath in the second run, its version holds only the first sdist
    const uploads = te.sandbox.standIn.log.slice(since).filter((e) => e.operation === 'pypi:Upload');
    expect(uploads.filter((e) => e.package === 'userpath')).toEqual([]);
    expect(uploads.filter((e) => e.package === 'crashtest').map((e) => e.status)).toEqual([200]);
    const [stored] = te.sandbox.standIn.versions('pypi-internal', 'pypi', undefined, 'userpath');
    expect(stored?.assets.map((a) => a.name)).toEqual([before.get('userpath')!.names[0]]);
  });
});

describe('that conflict (half the version on the target, uploaded by us), then left out by the job', () => {
  /** `userpath@version` in the refetch conflict above: its sdist on the target from our first run, its rebuild other bytes. */
  async function halfPublished(name: string, version: string) {
    const source = (extra: Record<string, unknown> = {}) =>
      gitSource('userpath', 'userpath', 'pypi', { package: 'userpath', tags: '{version}', build: { command: ['{python}', '-c', RANDOM_BUILD_ID, '{srcdir}', '{outdir}'] }, ...extra });
    const write = (extra: Record<string, unknown> = {}, exclude: string[] = []) => te.writeJob({ name, sources: [source(extra)], filters: { include: [`userpath@${version}`], exclude } });
    const job = write();
    te.sandbox.standIn.addFault({ operation: 'pypi:Upload', package: 'userpath', version, status: 500, afterApply: true, times: 1 });
    te.sandbox.standIn.addFault({ operation: 'pypi:Upload', package: 'userpath', version, status: 400 });
    expect((await te.run(job)).outcomes).toEqual({ 'failed:ETARGETREJECTED': 1 });
    te.sandbox.standIn.clearFaults();
    const state = te.openState(name);
    try {
      corruptBlob(state.assetsOf(state.items().find((r) => r.version === version)!.id)[0]!.sha512);
    } finally {
      state.close();
    }
    const conflicted = await te.run(job);
    expect(conflicted.conflicts).toEqual([expect.objectContaining({ version, code: 'ECONFLICT' })]);
    expect(conflicted.conflicts[0]!.message).toContain('an earlier run uploaded');
    return { job, write };
  }
  const onTarget = (version: string) => te.sandbox.standIn.versions('pypi-internal', 'pypi', undefined, 'userpath').find((v) => v.version === version)?.assets.map((a) => a.name);

  for (const how of ['skip', 'exclude'] as const) {
    it(`${how === 'skip' ? 'skipped' : 'excluded by the filters'}: set aside as asked (exit 0), but the summary, status and report say the target may hold part of it, never "nothing of it"`, async () => {
      const version = how === 'skip' ? '1.4.2' : '1.4.1';
      const name = `half-${how}`;
      const { job, write } = await halfPublished(name, version);
      const sdist = onTarget(version);
      expect(sdist).toEqual([`userpath-${version}.tar.gz`]);
      if (how === 'skip') write({ versions: { [version]: { skip: 'the target keeps its sdist' } } });
      else write({}, [`userpath@${version}`]);
      const state = how === 'skip' ? 'skipped' : 'excluded';

      const left = await te.run(job);
      expect(left.exitCode).toBe(0);
      expect(left.conflicts).toEqual([]);
      expect(left.leftOutOnTarget).toEqual([{ package: 'userpath', version, state, attempts: expect.any(Number) }]);
      expect(left.leftOutOnTarget[0]!.attempts).toBeGreaterThan(0);
      expect(onTarget(version)).toEqual(sdist); // nothing more sent, nothing taken away

      const status = await te.cli(['status', job, '--json']);
      expect((JSON.parse(status.stdout) as { leftOutOnTarget: unknown[] }).leftOutOnTarget).toEqual([expect.objectContaining({ package: 'userpath', version, state })]);
      let human = '';
      const tty = Object.assign(new Writable({ write: (c: Buffer, _e, done) => ((human += c.toString()), done()) }), { isTTY: true });
      expect(statusCommand(job, { stateDir: te.stateDir }, { stdout: tty, stderr: new Writable({ write: (_c, _e, done) => done() }) })).toBe(0);
      expect(human).toContain(`LEFT OUT, ON THE TARGET userpath@${version} (${state}): a run of ours started publishing it`);

      const report = await te.cli(['report', job, '--json', '--out', mkdtempSync(join(te.dir, 'reports-'))]);
      expect(report.code, report.stderr).toBe(0);
      const r = JSON.parse(report.stdout) as { verdict: { status: string }; findings: { code: string; subjects: string[] }[]; packages: { versions: { version: string; outcome: { key: string; reason: string | null } }[] }[] };
      const outcome = r.packages[0]!.versions.find((v) => v.version === version)!.outcome;
      expect(outcome.key).toBe(state);
      expect(outcome.reason).toContain('the target may hold some of its files');
      expect(r.findings).toContainEqual(expect.objectContaining({ code: 'ELEFTOUTONTARGET', subjects: [`userpath@${version}`] }));
      expect(r.verdict.status).toBe('review'); // was GO: "nothing blocks cutover"

      // taken back in: the conflict it was (the rebuild is still not what the target holds), exit 1
      write();
      const back = await te.run(job);
      expect(back.conflicts).toEqual([expect.objectContaining({ version, code: 'ECONFLICT' })]);
      expect(back.leftOutOnTarget).toEqual([]);
      expect(back.exitCode).toBe(1);
    });
  }
});

describe('a setuptools version built again elsewhere (a lost state directory, a second machine)', () => {
  it('is the same bytes as the first build: present-identical, nothing uploaded, exit 0 (not ECONFLICT)', async () => {
    const job = te.writeJob({ name: 'elsewhere', sources: [gitSource('userpath', 'userpath', 'pypi', { package: 'userpath', tags: '{version}' })], filters: { include: ['userpath@1.5.0', 'userpath@1.6.0'] } });
    const first = await te.run(job);
    expect(first.outcomes).toEqual({ published: 2 });
    // the ledger says what built each version, with the commit: what a rebuild needs to check the bytes
    const python = execFileSync('/usr/bin/python3', ['-c', 'import platform; print(platform.python_version())'], { encoding: 'utf8' }).trim();
    const wheelTool = execFileSync('/usr/bin/python3', ['-c', 'import wheel; print(wheel.__version__)'], { encoding: 'utf8' }).trim();
    const firstState = te.openState('elsewhere');
    try {
      const entries = (firstState.db.prepare('SELECT entry FROM ledger ORDER BY seq').all() as { entry: string }[]).map((r) => JSON.parse(r.entry) as { outcome: string; source?: Record<string, unknown> });
      const published = entries.filter((e) => e.outcome === 'published');
      expect(published).toHaveLength(2);
      for (const e of published) {
        expect(e.source).toMatchObject({ id: 'userpath', commit: expect.stringMatching(/^[0-9a-f]{40}$/), builtWith: { python, generators: [`bdist_wheel (${wheelTool})`] } });
      }
    } finally {
      firstState.close();
    }

    const since = te.sandbox.standIn.log.length;
    // another machine: its own state directory, and its own lock directory (which records where a job last ran)
    const other = mkdtempSync(join(te.dir, 'state-elsewhere-'));
    const second = await te.run(job, { stateDir: other, env: { ...te.env, CAM_LOCK_DIR: mkdtempSync(join(te.dir, 'locks-elsewhere-')) } });
    expect(second.outcomes).toEqual({ 'present-identical': 2 });
    expect(second.conflicts).toEqual([]);
    expect(te.sandbox.standIn.log.slice(since).filter((e) => e.operation === 'pypi:Upload')).toEqual([]);
    // both builds of each version made the sdist the target holds
    const state = StateDb.open(join(other, 'elsewhere.sqlite'));
    try {
      for (const row of state.items().filter((r) => r.state !== 'excluded')) {
        const [sdist] = state.assetsOf(row.id);
        const [stored] = te.sandbox.standIn.versions('pypi-internal', 'pypi', undefined, 'userpath').filter((v) => v.version === row.version);
        expect(sdist!.name.endsWith('.tar.gz')).toBe(true);
        expect(stored!.assets.find((a) => a.name === sdist!.name)?.hashes['SHA-512']).toBe(sdist!.sha512);
      }
    } finally {
      state.close();
    }
  });
});

describe('an npm package in git whose prepare script needs a package of its own (internal) scope', () => {
  it('is refused with EBUILD naming the dependency, before npm asks the public registry anything; nothing is published', async () => {
    const src = mkdtempSync(join(te.dir, 'widget-'));
    writeFileSync(
      join(src, 'package.json'),
      JSON.stringify({ name: '@acme/widget', version: '1.0.0', main: 'index.js', license: 'MIT', scripts: { prepare: 'build-tool' }, devDependencies: { '@acme/build-tool': '^1.0.0' } }, null, 2),
    );
    writeFileSync(join(src, 'index.js'), 'module.exports = 1;\n');
    await git.createRepoFromDir('widget', src, { tags: ['v1.0.0'] });

    // the way out, recorded and refused: on the old code npm went to registry.npmjs.org for @acme/build-tool
    const proxy = await startRefusingProxy();
    const outbound = proxy.outbound;
    proxy.install();
    try {
      const job = te.writeJob({ name: 'widget', sources: [gitSource('widget', 'widget', 'npm')] });
      const since = te.sandbox.standIn.log.length;
      const s = await te.run(job);
      expect(s.outcomes).toEqual({ 'failed:EBUILD': 1 });
      expect(s.failures).toEqual([expect.objectContaining({ package: '@acme/widget', version: '1.0.0', code: 'EBUILD' })]);
      expect(s.failures[0]!.message).toContain('@acme/build-tool, an internal name');
      expect(s.failures[0]!.message).toContain('never resolved from a public registry');
      expect(outbound).toEqual([]);
      const state = te.openState('widget');
      try {
        const [row] = state.items();
        expect(row).toMatchObject({ package: '@acme/widget', state: 'failed', last_error_code: 'EBUILD' });
        expect(row!.last_error).toContain('@acme/build-tool');
        expect(state.assetsOf(row!.id)).toEqual([]);
      } finally {
        state.close();
      }
      expect(te.sandbox.standIn.log.slice(since).filter((e) => e.operation === 'npm:Publish')).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it("a dependency in another internal scope (one the job's other npm source serves) is installed from that source's registry, with its token; nothing goes out", async () => {
    const src = mkdtempSync(join(te.dir, 'gadget-'));
    writeFileSync(
      join(src, 'package.json'),
      JSON.stringify({ name: '@acme/gadget', version: '1.0.0', main: 'index.js', license: 'MIT', scripts: { prepare: 'test -f node_modules/@acme-gh/feature-flags/package.json' }, devDependencies: { '@acme-gh/feature-flags': '*' } }, null, 2),
    );
    writeFileSync(join(src, 'index.js'), 'module.exports = 2;\n');
    await git.createRepoFromDir('gadget', src, { tags: ['v1.0.0'] });
    const proxy = await startRefusingProxy();
    const outbound = proxy.outbound;
    proxy.install({ http: true });
    try {
      const d = te.sandbox.descriptor;
      await publishVersion(d.github.url, te.env[d.github.tokenEnv]!, '@acme-gh/feature-flags', '1.0.0', await makeTarball('@acme-gh/feature-flags', '1.0.0'));
      const job = te.writeJob({ name: 'gadget', sources: [{ id: 'github', kind: 'npm-registry', url: d.github.url, tokenEnv: d.github.tokenEnv, packages: ['@acme-gh/feature-flags'] }, gitSource('gadget', 'gadget', 'npm')] });
      const s = await te.run(job);
      expect(s.failures, JSON.stringify(s.outcomes)).toEqual([]);
      const state = te.openState('gadget');
      try {
        expect(state.items().find((r) => r.package === '@acme/gadget')).toMatchObject({ version: '1.0.0', state: 'verified' });
      } finally {
        state.close();
      }
      expect(outbound).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });
});

describe('a version cut off after its sdist (failed, or its publish unanswered), then its tag deleted', () => {
  it('is never "removed" (which says nothing of it reached the target): kept in its state and reported, exit 1, NO-GO', async () => {
    const version = { failed: '1.3.0', publishing: '1.4.0' } as const;
    const job = te.writeJob({ name: 'cutoff', sources: [gitSource('userpath', 'userpath', 'pypi', { package: 'userpath', tags: '{version}' })], filters: { include: Object.values(version).map((v) => `userpath@${v}`) } });
    for (const v of Object.values(version)) {
      te.sandbox.standIn.addFault({ operation: 'pypi:Upload', package: 'userpath', version: v, status: 500, afterApply: true, times: 1 });
      te.sandbox.standIn.addFault({ operation: 'pypi:Upload', package: 'userpath', version: v, status: 400 });
    }
    expect((await te.run(job)).outcomes).toEqual({ 'failed:ETARGETREJECTED': 2 });
    te.sandbox.standIn.clearFaults();
    const state = te.openState('cutoff');
    try {
      // a run killed between the two uploads leaves the row publishing
      state.db.prepare("UPDATE items SET state = 'publishing' WHERE version = ?").run(version.publishing);
    } finally {
      state.close();
    }
    for (const v of Object.values(version)) await git.deleteTag('userpath', v);

    const gone = await te.run(job);
    expect(gone.exitCode).toBe(1);
    expect(gone.outcomes).toEqual({ deferred: 1 });
    expect(gone.removedAtSource).toEqual([expect.objectContaining({ version: version.failed, state: 'failed' }), expect.objectContaining({ version: version.publishing, state: 'fetched' })]);
    const after = te.openState('cutoff');
    try {
      const cut = after.items().find((r) => r.version === version.publishing)!;
      expect(after.events(cut.id).at(-1)!.detail).toContain('the target holds part of it');
    } finally {
      after.close();
    }
    for (const v of Object.values(version)) {
      expect(te.sandbox.standIn.versions('pypi-internal', 'pypi', undefined, 'userpath').find((x) => x.version === v)?.assets.map((a) => a.name)).toEqual([`userpath-${v}.tar.gz`]);
    }
    const report = await te.cli(['report', job, '--json', '--out', mkdtempSync(join(te.dir, 'reports-'))]);
    const r = JSON.parse(report.stdout) as {
      verdict: { status: string };
      findings: { code: string; detail: string; action: string }[];
      packages: { versions: { version: string; outcome: { key: string; reason: string | null; hint: string | null } }[] }[];
    };
    expect(r.verdict.status).toBe('no-go');
    expect(r.packages[0]!.versions.filter((v) => v.outcome.key === 'removed')).toEqual([]);
    // the cut-off one, back to fetched: why, and what to do (not "the run did not get to it: rerun", which publishes nothing)
    const cut = r.packages[0]!.versions.find((v) => v.version === version.publishing)!.outcome;
    expect(cut.key).toBe('not-done');
    expect(cut.reason).toContain('no longer listed by its source, and the target holds part of it');
    expect(cut.hint).toContain('delete the version on the target');
    const notDone = r.findings.find((f) => f.code === 'ENOTDONE')!;
    expect(notDone.detail).toContain(`no longer listed by their source, with part of each on the target (userpath@${version.publishing})`);
    expect(notDone.action).toContain('delete the version on the target');

    // and the plan: not "publish" (no run publishes it), but removed with part of it on the target, NO-GO
    const plan = await te.cli(['plan', job, '--json', '--out', mkdtempSync(join(te.dir, 'plans-'))]);
    const p = JSON.parse(plan.stdout) as typeof r;
    expect(p.verdict.status).toBe('no-go');
    const planned = p.packages[0]!.versions.find((v) => v.version === version.publishing)!.outcome;
    expect(planned).toMatchObject({ key: 'removed', reason: expect.stringContaining('the target holds part of it'), hint: expect.stringContaining('delete the version on the target') });
    const half = p.findings.find((f) => f.code === 'ESOURCEREMOVED')!;
    expect(half.action).toContain('delete the version on the target');
    expect(JSON.stringify(half)).toContain(`userpath@${version.publishing}`);
  });
});

describe('a conflict found mid-publish, after an earlier file of the same version was uploaded', () => {
  it("the ECONFLICT message names our files already on the target (the sdist), never only the refused wheel", async () => {
    const version = '1.6.0';
    const wheel = `userpath-${version}-py3-none-any.whl`;
    const job = te.writeJob({ name: 'midway', sources: [gitSource('userpath', 'userpath', 'pypi', { package: 'userpath', tags: '{version}' })], filters: { include: [`userpath@${version}`] } });
    // someone else's wheel under our wheel's name lands on the target just after our sdist: the wheel's upload is refused
    type Store = { getPackage(repo: string, format: string, ns: undefined, name: string): { versions: Map<string, { assets: unknown[] }> } | undefined; putAsset(name: string, bytes: Buffer): unknown; touch(pkg: unknown, v: unknown): void };
    const store = (te.sandbox.standIn as unknown as { store: Store }).store;
    // an earlier test of this file published it: deleted on the target (as DeletePackageVersions does), so this run uploads it anew
    store.getPackage('pypi-internal', 'pypi', undefined, 'userpath')?.versions.delete(version);
    const log = te.sandbox.standIn.log;
    log.push = (...entries) => {
      for (const e of entries) {
        if (e.operation !== 'pypi:Upload' || e.package !== 'userpath' || e.version !== version || e.status !== 200) continue;
        const pkg = store.getPackage('pypi-internal', 'pypi', undefined, 'userpath')!;
        const stored = pkg.versions.get(version)!;
        if (stored.assets.length !== 1) continue;
        stored.assets.push(store.putAsset(wheel, Buffer.from('a wheel that is none of ours')));
        store.touch(pkg, stored);
      }
      return Array.prototype.push.apply(log, entries);
    };
    let s;
    try {
      s = await te.run(job);
    } finally {
      delete (log as { push?: unknown }).push;
    }
    expect(s.conflicts).toEqual([expect.objectContaining({ version, code: 'ECONFLICT' })]);
    const message = s.conflicts[0]!.message;
    expect(message).toContain(`the target already holds ${wheel} with other bytes`);
    expect(message).toContain(`userpath-${version}.tar.gz of ours was already uploaded to this version`);
    expect(message).toContain('delete the version on the target');
    const state = te.openState('midway');
    try {
      const row = state.items().find((r) => r.version === version)!;
      const whl = state.assetsOf(row.id).find((a) => a.name === wheel)!;
      expect(message).toContain(`ours sha512 ${whl.sha512}`); // the refused file's, not the sdist's
      // and every place that pairs the two hashes pairs the wheel's: the summary, status, the report, the ledger
      const theirs = createHash('sha512').update('a wheel that is none of ours').digest('hex');
      expect(s.conflicts[0]).toMatchObject({ ourSha512: whl.sha512, targetSha512: theirs });
      expect(row.sha512).not.toBe(whl.sha512);
      const status = JSON.parse((await te.cli(['status', job, '--json'])).stdout) as { conflicts: { version: string; ourSha512: string; targetSha512: string }[] };
      expect(status.conflicts).toEqual([{ package: 'userpath', version, ourSha512: whl.sha512, targetSha512: theirs }]);
      const report = JSON.parse((await te.cli(['report', job, '--json', '--out', mkdtempSync(join(te.dir, 'reports-'))])).stdout) as { packages: { versions: { version: string; outcome: { key: string; ourSha512: string; targetSha512: string } }[] }[] };
      expect(report.packages[0]!.versions.find((v) => v.version === version)!.outcome).toMatchObject({ key: 'conflict', ourSha512: whl.sha512, targetSha512: theirs });
      const entries = state.db.prepare("SELECT entry FROM ledger WHERE entry LIKE '%\"conflict\"%'").all() as { entry: string }[];
      expect(entries.map((e) => (JSON.parse(e.entry) as { target: Record<string, unknown> }).target)).toContainEqual(expect.objectContaining({ conflictingSha512: theirs, conflictingFile: wheel }));
    } finally {
      state.close();
    }
    expect(te.sandbox.standIn.versions('pypi-internal', 'pypi', undefined, 'userpath').find((v) => v.version === version)?.assets.map((a) => a.name)).toEqual([`userpath-${version}.tar.gz`, wheel]);
  });

  it('then the version deleted on the target, as the message says, and a rerun: both files are uploaded again and verified', async () => {
    const version = '1.6.0';
    const job = te.writeJob({ name: 'midway', sources: [gitSource('userpath', 'userpath', 'pypi', { package: 'userpath', tags: '{version}' })], filters: { include: [`userpath@${version}`] } });
    const d = te.sandbox.descriptor.codeartifact;
    const deleted = await te.client.send(new DeletePackageVersionsCommand({ domain: d.domain, domainOwner: d.domainOwner, repository: 'pypi-internal', format: 'pypi', package: 'userpath', versions: [version] }));
    expect(deleted.successfulVersions?.[version]?.status).toBe('Deleted');
    const since = te.sandbox.standIn.log.at(-1)?.seq ?? 0;
    const s = await te.run(job);
    expect(s.failures).toEqual([]);
    expect(s.exitCode).toBe(0);
    expect(s.outcomes).toEqual({ published: 1 });
    const uploads = te.sandbox.standIn.log.filter((e) => e.seq > since && e.operation === 'pypi:Upload' && e.package === 'userpath');
    expect(uploads.map((e) => [e.version, e.status])).toEqual([[version, 200], [version, 200]]);
    expect(te.sandbox.standIn.versions('pypi-internal', 'pypi', undefined, 'userpath').find((v) => v.version === version)?.assets.map((a) => a.name).sort()).toEqual(
      [`userpath-${version}-py3-none-any.whl`, `userpath-${version}.tar.gz`],
    );
  });
});
