/**
 * `plan` is what engineers sign off on before cutover: on an unchanged sandbox, the run
 * that follows must do what it said, version by version (new, identical, conflicting,
 * Archived and Unlisted on the target, excluded, a tarball the source 404s, one whose
 * bytes fail their integrity, a git PyPI source), with the same totals, the same dist-tag
 * and deprecation findings, and a plan after the run with nothing left to publish.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../src/report/model.js';
import { startGitTestEnv, stopTestEnvWithGit, type TestEnv } from './support/harness.js';
import { fixtureBundle, gitSourceOn, type GitServer } from './support/git-server.js';
import { corruptStoredTarball, makeTarball, publishVersion, seedPackages, storedTarballPath } from './support/npm-fixtures.js';

let te: TestEnv;
let git: GitServer;
let job: string;
const outs: Record<string, { code: number | null; stdout: string; stderr: string }> = {};

const byVersion = (r: Report) => Object.fromEntries(r.packages.flatMap((p) => p.versions.map((v) => [`${p.name}@${v.version}`, `${v.outcome.key}${v.outcome.code ? ' ' + v.outcome.code : ''}${v.outcome.excludedBy ? ' by ' + v.outcome.excludedBy : ''}`])));

beforeAll(async () => {
  ({ te, git } = await startGitTestEnv());
  await git.createRepoFromBundle('userpath', fixtureBundle('py-userpath'));
  const npm = te.sandbox.privateNpm;
  await seedPackages(npm.url, npm.token, [
    { name: '@acme/pr', versions: ['1.0.0', '1.1.0', '1.2.0', '1.3.0', '1.4.0', '1.5.0', '1.6.0', '1.7.0', '2.0.0-beta.1'], distTags: { latest: '1.6.0', stable: '1.1.0' }, deprecated: { '1.6.0': 'use 2' } },
    { name: '@acme/fresh', versions: ['1.0.0'] },
  ]);
  rmSync(storedTarballPath(npm.storageDir, '@acme/pr', '1.4.0'));
  await corruptStoredTarball(npm.storageDir, '@acme/pr', '1.5.0');
  const token = await te.targetToken();
  const ep = te.sandbox.descriptor.codeartifact.npmEndpoint;
  for (const v of ['1.1.0', '1.3.0', '1.7.0']) await publishVersion(ep, token, '@acme/pr', v, await makeTarball('@acme/pr', v));
  await publishVersion(ep, token, '@acme/pr', '1.2.0', await makeTarball('@acme/pr', '1.2.0', { extraFiles: { 'other.js': 'x' } }));
  te.sandbox.standIn.setVersionStatus('npm-internal', 'npm', 'acme', 'pr', '1.3.0', 'Archived');
  te.sandbox.standIn.setVersionStatus('npm-internal', 'npm', 'acme', 'pr', '1.7.0', 'Unlisted');
  job = te.writeJob({
    name: 'pr',
    sources: [
      { id: 'private-npm', kind: 'npm-registry', url: npm.url, tokenEnv: te.sandbox.descriptor.privateNpm.tokenEnv, packages: ['@acme/pr', '@acme/fresh'], scopes: [] },
      gitSourceOn(git, 'userpath', 'userpath', 'pypi', { package: 'userpath', tags: '{version}' }),
    ],
    filters: { include: ['@acme/*', 'userpath@>=1.6.0 <1.8.0'], exclude: ['@acme/pr@2.0.0-beta.1'] },
  });
  outs.planNd = await te.cli(['plan', job, '--no-download', '--json', '--out', join(te.dir, 'r0')]);
  outs.plan = await te.cli(['plan', job, '--json', '--out', join(te.dir, 'r1')]);
  outs.dry = await te.cli(['run', job, '--dry-run', '--json']);
  outs.plan2 = await te.cli(['plan', job, '--json', '--out', join(te.dir, 'r2')]);
  outs.run = await te.cli(['run', job, '--json']);
  outs.report = await te.cli(['report', job, '--json', '--out', join(te.dir, 'r3')]);
  outs.after = await te.cli(['plan', job, '--json', '--out', join(te.dir, 'r4')]);
  outs.report2 = await te.cli(['report', job, '--json', '--out', join(te.dir, 'r5')]);
}, 900_000);
afterAll(() => stopTestEnvWithGit(git, te));

const json = (k: string) => JSON.parse(outs[k]!.stdout) as Report;
const keys = (r: Report) => Object.fromEntries(r.packages.flatMap((p) => p.versions.map((v) => [`${p.name}@${v.version}`, v.outcome])));
/** What the plan's key says the run ends with. */
const RUN_OF: Record<string, string> = { publish: 'verified', 'present-identical': 'present-identical', conflict: 'conflict', error: 'failed', 'source-error': 'failed', excluded: 'excluded', skipped: 'skipped', removed: 'removed' };

describe('plan predicts run (npm and a git PyPI source, on one unchanged sandbox)', () => {
  it('every version: the run ends as the plan said, with the same code or filter, and the totals agree', () => {
    const plan = keys(json('plan'));
    const done = keys(json('report'));
    expect(Object.keys(done).sort()).toEqual(Object.keys(plan).sort());
    const said = Object.fromEntries(Object.entries(plan).map(([k, o]) => [k, `${RUN_OF[o.key] ?? o.key} ${o.code ?? ''} ${o.excludedBy ?? ''}`]));
    const did = Object.fromEntries(Object.entries(done).map(([k, o]) => [k, `${o.key} ${o.code ?? ''} ${o.excludedBy ?? ''}`]));
    expect(did).toEqual(said);
    expect(byVersion(json('plan'))).toMatchObject({
      '@acme/fresh@1.0.0': 'publish',
      '@acme/pr@1.0.0': 'publish',
      '@acme/pr@1.1.0': 'present-identical',
      '@acme/pr@1.2.0': 'conflict ECONFLICT',
      '@acme/pr@1.3.0': 'error ETARGETSTATUS',
      '@acme/pr@1.4.0': 'source-error ESOURCE',
      '@acme/pr@1.5.0': 'source-error EINTEGRITY',
      '@acme/pr@1.6.0': 'publish',
      '@acme/pr@1.7.0': 'error ETARGETSTATUS',
      '@acme/pr@2.0.0-beta.1': 'excluded by exclude: @acme/pr@2.0.0-beta.1',
      'userpath@1.6.0': 'publish',
      'userpath@1.7.0': 'publish',
    });
    const p = json('plan').totals;
    const r = json('report').totals;
    expect({ versions: r.versions, files: r.files, bytes: r.bytes }).toEqual({ versions: p.versions, files: p.files, bytes: p.bytes });
    expect(r.byOutcome.verified).toEqual(p.byOutcome.publish);
    expect(r.byOutcome.failed!.versions).toBe(p.byOutcome.error!.versions + p.byOutcome['source-error']!.versions);
  });

  it("the plan's dist-tag and deprecation findings are the run's: a tag on a version the run publishes is no finding", () => {
    const meta = (r: Report) => r.findings.filter((f) => f.code === 'EMETADATA').map((f) => ({ title: f.title, subjects: f.subjects }));
    expect(meta(json('plan'))).toEqual(meta(json('report')));
    // the one the run could not do: the tag on the excluded prerelease
    expect(meta(json('report'))).toEqual([{ title: expect.stringContaining('1 package(s)'), subjects: ['@acme/pr'] }]);
    const dry = JSON.parse(outs.dry!.stdout) as { metadataOutOfSync: { package: string; reason: string }[]; metadata: { package: string; changes: string[] }[] };
    const run = JSON.parse(outs.run!.stdout) as typeof dry;
    expect(dry.metadataOutOfSync).toEqual(run.metadataOutOfSync);
    // what the dry run says it would change includes the deprecation and the tags the run then sets
    const changes = (s: typeof dry) => s.metadata.flatMap((m) => m.changes.map((c) => `${m.package} ${c}`));
    expect(changes(dry)).toEqual(expect.arrayContaining(['@acme/pr deprecation of 1.6.0: set', '@acme/pr dist-tag latest: 1.2.0 -> 1.6.0', '@acme/fresh dist-tag latest: (none) -> 1.0.0']));
  });

  it('plan --no-download agrees with plan where it can tell, and leaves the rest unchecked', () => {
    const nd = keys(json('planNd'));
    const full = keys(json('plan'));
    for (const [k, o] of Object.entries(nd)) {
      if (o.key === 'unchecked') continue;
      expect([k, o.key]).toEqual([k, full[k]!.key === 'source-error' || full[k]!.key === 'error' || full[k]!.key === 'conflict' || full[k]!.key === 'present-identical' ? o.key : full[k]!.key]);
    }
  });

  it('after the run, the plan has nothing left to publish, and its verdict is the report of the run', () => {
    const after = json('after');
    expect(Object.values(keys(after)).filter((o) => o.key === 'publish')).toEqual([]);
    expect(after.verdict.status).toBe(json('report').verdict.status);
    const critical = (r: Report) => r.findings.filter((f) => f.severity === 'critical').map((f) => `${f.code} ${f.count}`).sort();
    expect(critical(after)).toEqual(critical(json('report')));
  });

});
