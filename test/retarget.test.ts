/**
 * The state is bound to its target. A trial into a scratch repository, then the job
 * pointed at the real one with the same state directory: the rows say "verified", and
 * a run that believed them would report every version done while the new repository
 * holds none. The run refuses (ETARGETCHANGED, exit 2) until told `--retarget`; then
 * every version goes to the new repository from the files already downloaded or built.
 */
import { CreateRepositoryCommand, ListPackageVersionAssetsCommand, ListPackageVersionsCommand } from '@aws-sdk/client-codeartifact';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusCommand } from '../src/cli/status.js';
import type { RunSummary } from '../src/engine/events.js';
import { StateDb } from '../src/state/db.js';
import type { LedgerEntry } from '../src/state/ledger.js';
import { targetDifferences } from '../src/state/target.js';
import { startTestEnv, targetWrites, type TestEnv } from './support/harness.js';
import { gitSourceOn, HATCH, pyProject, startGitServer, type GitServer } from './support/git-server.js';
import { historyOf, seedPackages } from './support/npm-fixtures.js';

const CORE = historyOf(3);
let te: TestEnv;
let git: GitServer;
let job: string;

/** The job file with other internal repositories. */
function pointAt(repositories: { npm: string; pypi: string }): void {
  const doc = parse(readFileSync(job, 'utf8')) as { target: { repositories: Record<string, { internal: string }> } };
  doc.target.repositories.npm!.internal = repositories.npm;
  doc.target.repositories.pypi!.internal = repositories.pypi;
  writeFileSync(job, stringify(doc));
}

async function versionsIn(repository: string, format: 'npm' | 'pypi', pkg: string, namespace?: string): Promise<string[]> {
  const d = te.sandbox.descriptor.codeartifact;
  try {
    const out = await te.client.send(new ListPackageVersionsCommand({ domain: d.domain, domainOwner: d.domainOwner, repository, format, package: pkg, ...(namespace ? { namespace } : {}) }));
    return (out.versions ?? []).filter((v) => v.status === 'Published').map((v) => v.version!).sort();
  } catch (e) {
    if ((e as { name?: string }).name === 'ResourceNotFoundException') return [];
    throw e;
  }
}

async function assetHashes(repository: string, format: 'npm' | 'pypi', pkg: string, version: string, namespace?: string): Promise<Record<string, string>> {
  const d = te.sandbox.descriptor.codeartifact;
  const out = await te.client.send(new ListPackageVersionAssetsCommand({ domain: d.domain, domainOwner: d.domainOwner, repository, format, package: pkg, packageVersion: version, ...(namespace ? { namespace } : {}) }));
  return Object.fromEntries((out.assets ?? []).map((a) => [a.name!, a.hashes!['SHA-256']!]));
}

beforeAll(async () => {
  te = await startTestEnv();
  git = await startGitServer();
  te.env.CAM_TEST_GIT_KEY = git.clientKey;
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: '@acme/core', versions: CORE }]);
  await git.createRepoFromDir('billing', pyProject(join(te.dir, 'src-billing'), 'billing-lib', '1.0.0'), { tags: ['v1.0.0'] });
  await git.commit('billing', { message: '1.1.0', files: { 'pyproject.toml': HATCH('billing-lib', '1.1.0') } });
  await git.tag('billing', 'v1.1.0', 'main');
  job = te.writeJob({
    name: 'retarget',
    sources: [
      { id: 'private-npm', kind: 'npm-registry', url: te.sandbox.privateNpm.url, tokenEnv: te.sandbox.descriptor.privateNpm.tokenEnv, packages: ['@acme/core'] },
      gitSourceOn(git, 'billing', 'billing', 'pypi', { package: 'billing-lib' }),
    ],
  });
  const d = te.sandbox.descriptor.codeartifact;
  for (const repository of ['npm-prod', 'pypi-prod']) await te.client.send(new CreateRepositoryCommand({ domain: d.domain, domainOwner: d.domainOwner, repository }));
}, 180_000);

afterAll(async () => {
  await git?.stop();
  await te?.stop();
});

const runJson = async (args: string[]) => {
  const r = await te.cli([...args, '--json']);
  return { ...r, summary: r.code === 0 || r.code === 1 ? (JSON.parse(r.stdout) as RunSummary) : undefined, error: r.code === 2 ? (JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } }).error : undefined };
};

describe('a job pointed at another repository, same state directory', () => {
  let firstAssets: Record<string, string>;

  it('the first run migrates into npm-internal and pypi-internal', async () => {
    const r = await runJson(['run', job]);
    expect(r.code, r.stderr).toBe(0);
    expect(await versionsIn('npm-internal', 'npm', 'core', 'acme')).toEqual([...CORE].sort());
    expect(await versionsIn('pypi-internal', 'pypi', 'billing-lib')).toEqual(['1.0.0', '1.1.0']);
    firstAssets = await assetHashes('pypi-internal', 'pypi', 'billing-lib', '1.1.0');
    expect(Object.keys(firstAssets)).toHaveLength(2);
  });

  it('pointed at npm-prod and pypi-prod: refused before anything is asked (ETARGETCHANGED, exit 2), naming both, by run, plan and report; the state is as it was', async () => {
    pointAt({ npm: 'npm-prod', pypi: 'pypi-prod' });
    const before = te.sandbox.standIn.log.length;
    const state = te.openState('retarget');
    const counts = state.counts();
    state.close();
    for (const args of [['run', job], ['run', job, '--dry-run'], ['plan', job], ['report', job]]) {
      const r = await runJson(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.error!.code).toBe('ETARGETCHANGED');
      expect(r.error!.message).toContain('npm repository npm-internal → npm-prod');
      expect(r.error!.message).toContain('pypi repository pypi-internal → pypi-prod');
      expect(r.error!.hint).toContain('--retarget');
      expect(r.stderr).not.toMatch(/^\s{4}at /m);
    }
    expect(te.sandbox.standIn.log.length).toBe(before);
    const after = te.openState('retarget');
    try {
      expect(after.counts()).toEqual(counts);
      expect(after.recordedTarget()!.repositories).toEqual({ npm: 'npm-internal', pypi: 'pypi-internal', generic: 'go-internal' });
    } finally {
      after.close();
    }
  });

  // status read the job file and the state and said "verified" with the recorded target alone: nothing told the operator
  // who had just edited the target that none of those versions is in the repositories the job now names
  it('status says the job now names another target than the versions it counts are in (targetChanged, a WARNING), before any run', async () => {
    const json = await te.cli(['status', job, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { states: Record<string, number>; target: { repositories: Record<string, string> }; targetChanged?: string[] };
    expect(report.target.repositories.npm).toBe('npm-internal');
    expect(report.targetChanged).toEqual(['npm repository npm-internal → npm-prod', 'pypi repository pypi-internal → pypi-prod']);
    let human = '';
    const tty = Object.assign(new Writable({ write: (c: Buffer, _e, done) => ((human += c.toString()), done()) }), { isTTY: true });
    expect(statusCommand(job, { stateDir: te.stateDir }, { stdout: tty, stderr: new Writable({ write: (_c, _e, done) => done() }) })).toBe(0);
    const line = human.split('\n').find((l) => l.includes('WARNING') && l.includes('npm-prod'));
    expect(line, human).toMatch(/ETARGETCHANGED/);
    expect(line).toContain('--retarget');
  });

  it('--retarget: every version published to the new repositories from the stored files (nothing downloaded or built again), the old ones untouched', async () => {
    const before = te.sandbox.standIn.log.length;
    const r = await runJson(['run', job, '--retarget']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.summary!.retargeted).toEqual({ from: expect.stringContaining('npm npm-internal, pypi pypi-internal'), versions: CORE.length + 2, warmEntries: 0 });
    expect(await versionsIn('npm-prod', 'npm', 'core', 'acme')).toEqual([...CORE].sort());
    expect(await versionsIn('pypi-prod', 'pypi', 'billing-lib')).toEqual(['1.0.0', '1.1.0']);
    // the same bytes as the first target got: the built files were kept, not rebuilt
    expect(await assetHashes('pypi-prod', 'pypi', 'billing-lib', '1.1.0')).toEqual(firstAssets);
    // every write went to the new repositories: one publish per npm version, one upload per Python file
    const since = te.sandbox.standIn.log[before - 1]?.seq ?? 0;
    const uploads = te.sandbox.standIn.log.filter((e) => e.seq > since && (e.operation === 'npm:Publish' || e.operation === 'pypi:Upload'));
    expect(uploads.map((e) => `${e.operation} ${e.repository}`).sort()).toEqual([...CORE.map(() => 'npm:Publish npm-prod'), ...Array(4).fill('pypi:Upload pypi-prod')]);
    expect(new Set(targetWrites(te.sandbox, since).map((w) => w.repository))).toEqual(new Set(['npm-prod']));
    const state = te.openState('retarget');
    try {
      const items = state.items();
      expect(items.map((i) => i.state)).toEqual(items.map(() => 'verified'));
      for (const i of items) {
        const events = state.events(i.id);
        // moved back once, from verified to fetched, with the reason; never pending again, never fetched from the source again
        expect(events.filter((e) => e.code === 'ETARGETCHANGED')).toEqual([expect.objectContaining({ from_state: 'verified', to_state: 'fetched', detail: expect.stringContaining('npm-internal → npm-prod') })]);
        expect(events.filter((e) => e.to_state === 'pending')).toHaveLength(1);
      }
      expect(state.recordedTarget()!.repositories).toEqual({ npm: 'npm-prod', pypi: 'pypi-prod', generic: 'go-internal' });
    } finally {
      state.close();
    }
    // the report says the state moved, for whoever signs off on the cutover
    const report = await te.cli(['report', job, '--json']);
    expect(report.code, report.stderr).toBe(0);
    const findings = (JSON.parse(report.stdout) as { findings: { severity: string; code: string; detail: string }[] }).findings;
    expect(findings.filter((f) => f.code === 'ETARGETCHANGED')).toEqual([expect.objectContaining({ severity: 'warning', detail: expect.stringContaining('npm npm-internal, pypi pypi-internal') })]);
  });

  it('the move is in the provenance ledger: one retarget entry, as whom, from where to where, in the chain between the two targets\' publishes', async () => {
    const out = join(te.dir, 'retarget-ledger.jsonl');
    expect((await te.cli(['ledger', 'export', job, '--out', out])).code).toBe(0);
    const entries = readFileSync(out, 'utf8').trim().split('\n').slice(0, -1).map((l) => (JSON.parse(l) as { entry: LedgerEntry }).entry);
    const moves = entries.filter((e) => e.outcome === 'retarget');
    expect(moves).toEqual([
      expect.objectContaining({
        principal: expect.stringMatching(/^arn:aws:/),
        target: expect.objectContaining({ domain: te.sandbox.descriptor.codeartifact.domain, repositories: { npm: 'npm-prod', pypi: 'pypi-prod', generic: 'go-internal' }, from: expect.stringContaining('npm npm-internal, pypi pypi-internal') }),
        detail: expect.stringContaining(`npm repository npm-internal → npm-prod`),
      }),
    ]);
    expect(moves[0]!.detail).toContain(`${CORE.length + 2} version(s)`);
    // every publish before it went to the old repositories, every one after it to the new
    const at = entries.indexOf(moves[0]!);
    const repos = (list: LedgerEntry[]) => new Set(list.filter((e) => e.outcome === 'published').map((e) => e.target.repository));
    expect(repos(entries.slice(0, at))).toEqual(new Set(['npm-internal', 'pypi-internal']));
    expect(repos(entries.slice(at + 1))).toEqual(new Set(['npm-prod', 'pypi-prod']));
    const verified = await te.cli(['ledger', 'verify', out, '--json']);
    expect(verified.code, verified.stdout).toBe(0);
  });

  it('the next run is an ordinary rerun: nothing sent to the target, exit 0', async () => {
    const before = te.sandbox.standIn.log.length;
    const r = await runJson(['run', job]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.summary!.retargeted).toBeUndefined();
    expect(te.sandbox.standIn.log.length).toBe(before);
  });

  it('back to the old repositories is a move too: refused without --retarget; with it, every version is found there already (present-identical), nothing published', async () => {
    pointAt({ npm: 'npm-internal', pypi: 'pypi-internal' });
    const refused = await runJson(['run', job]);
    expect(refused.error?.code).toBe('ETARGETCHANGED');
    const before = te.sandbox.standIn.log.length;
    const r = await runJson(['run', job, '--retarget']);
    expect(r.code, r.stderr).toBe(0);
    // found with our bytes, uploaded by nobody this run: attempts were reset with the move, so they are not taken for our own interrupted publish
    expect(r.summary!.outcomes).toEqual({ 'present-identical': CORE.length + 2 });
    expect(targetWrites(te.sandbox, te.sandbox.standIn.log[before - 1]?.seq ?? 0)).toEqual([]);
  });

  it('a mistyped repository with --retarget: ETARGETSETUP (exit 2) before the state moves; it still records the old target', async () => {
    pointAt({ npm: 'npm-prdo', pypi: 'pypi-internal' });
    const r = await runJson(['run', job, '--retarget']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.error!.code).toBe('ETARGETSETUP');
    expect(r.error!.message).toContain('npm-prdo');
    const state = te.openState('retarget');
    try {
      expect(state.recordedTarget()!.repositories.npm).toBe('npm-internal');
      expect(new Set(state.items().map((i) => i.state))).toEqual(new Set(['present-identical']));
      expect(state.lastRun()!.outcome).toBe('target-unusable');
    } finally {
      state.close();
    }
    pointAt({ npm: 'npm-internal', pypi: 'pypi-internal' });
  });
});

describe('what counts as another target', () => {
  const t = { region: 'us-east-1', domainOwner: '111122223333', domain: 'acme', repositories: { npm: 'npm-internal', pypi: 'pypi-internal' } };

  it('region, owner, domain or an internal repository differs; a format the job names for the first time does not', () => {
    expect(targetDifferences(t, t)).toEqual([]);
    expect(targetDifferences(t, { ...t, repositories: { ...t.repositories, generic: 'go-internal' } })).toEqual([]);
    expect(targetDifferences(t, { ...t, repositories: { npm: 'npm-internal' } })).toEqual([]);
    expect(targetDifferences(t, { ...t, region: 'eu-west-1', domainOwner: '444455556666', domain: 'acme-prod' })).toEqual(['region us-east-1 → eu-west-1', 'domain owner 111122223333 → 444455556666', 'domain acme → acme-prod']);
    expect(targetDifferences(t, { ...t, repositories: { npm: 'npm-prod', pypi: 'pypi-internal' } })).toEqual(['npm repository npm-internal → npm-prod']);
  });

  it('a state database from before this release records no target: its next run records the one it reads', () => {
    const path = join(te.dir, 'fresh.sqlite');
    const db = StateDb.open(path);
    try {
      expect(db.recordedTarget()).toBeUndefined();
      db.recordTarget(t);
      db.recordTarget({ ...t, repositories: { generic: 'go-internal' } });
      expect(db.recordedTarget()).toEqual({ ...t, repositories: { npm: 'npm-internal', pypi: 'pypi-internal', generic: 'go-internal' } });
    } finally {
      db.close();
    }
  });
});
