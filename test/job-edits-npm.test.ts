/**
 * Job-file edits between runs of an npm job, against a registry that changes its
 * answer in between: what the filters leave out or take back, and when, decides
 * what is published and what the exit code says.
 */
import { join } from 'node:path';
import { DeletePackageVersionsCommand } from '@aws-sdk/client-codeartifact';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { humanSummary } from '../src/cli/run.js';
import type { ItemRow } from '../src/state/db.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { startHostileRegistry, type HostileRegistry } from './support/hostile-registry.js';
import { npmTarball } from './support/tarballs.js';
import { publishVersion } from './support/npm-fixtures.js';

let te: TestEnv;
let reg: HostileRegistry;

beforeAll(async () => {
  te = await startTestEnv();
  reg = await startHostileRegistry();
});
afterAll(async () => {
  await reg?.stop();
  await te?.stop();
});

function job(name: string, packages: string[], filters: Record<string, unknown> = {}): string {
  return te.writeJob({ name, sources: [{ id: 'hostile', kind: 'npm-registry', url: reg.url, packages }], filters });
}

function rows(jobName: string, pkg: string): ItemRow[] {
  const state = te.openState(jobName);
  try {
    return state.items('package = ?', pkg);
  } finally {
    state.close();
  }
}
const states = (jobName: string, pkg: string) => Object.fromEntries(rows(jobName, pkg).map((r) => [r.version, r.state]));
const publishes = (pkg: string, version?: string) => te.sandbox.standIn.log.filter((e) => e.operation === 'npm:Publish' && e.package === pkg && (version === undefined || e.version === version));

describe('a version the filters left out, unpublished at the source meanwhile, then selected again', () => {
  it('is removed, not pending: nothing to migrate, exit 0, and the rerun says the same', async () => {
    const NAME = 'exrm-pkg';
    reg.setPackage(NAME, ['1.0.0', '1.0.1'].map((v) => ({ version: v, tarball: npmTarball(NAME, v) })));
    const first = await te.run(job('exrm', [NAME], { exclude: [`${NAME}@1.0.0`] }));
    expect(first.exitCode).toBe(0);
    expect(states('exrm', NAME)).toEqual({ '1.0.0': 'excluded', '1.0.1': 'verified' });

    reg.removeVersion(NAME, '1.0.0');
    expect((await te.run(job('exrm', [NAME], { exclude: [`${NAME}@1.0.0`] }))).exitCode).toBe(0);

    // the filter taken out: the source has nothing of 1.0.0 to give, and the target never had it
    const whole = job('exrm', [NAME]);
    for (const attempt of [1, 2]) {
      const s = await te.run(whole);
      expect(s.exitCode, `run ${attempt}`).toBe(0);
      expect(states('exrm', NAME)).toEqual({ '1.0.0': 'removed', '1.0.1': 'verified' });
    }
    expect(publishes(NAME, '1.0.0')).toEqual([]);

    // listed again: migrated, once
    reg.setPackage(NAME, ['1.0.0', '1.0.1'].map((v) => ({ version: v, tarball: npmTarball(NAME, v) })));
    const back = await te.run(whole);
    expect(back.exitCode).toBe(0);
    expect(states('exrm', NAME)).toEqual({ '1.0.0': 'verified', '1.0.1': 'verified' });
    expect(publishes(NAME, '1.0.0')).toHaveLength(1);
  });
});

describe('a version left out after a run of ours began publishing it, unpublished at the source, then selected again', () => {
  it('is what the source dropping it means then (part of it may be on the target, no run publishes the rest): fetched, never pending for ever', async () => {
    const NAME = 'exrmhalf-pkg';
    reg.setPackage(NAME, ['1.0.0', '1.0.1'].map((v) => ({ version: v, tarball: npmTarball(NAME, v) })));
    expect((await te.run(job('exrmhalf', [NAME], { exclude: [`${NAME}@1.0.0`] }), { dryRun: true })).exitCode).toBe(0);
    // as a publish that began (and failed) before the filter left it out leaves it
    const state = te.openState('exrmhalf');
    try {
      state.db.prepare("UPDATE items SET attempts = 1 WHERE package = ? AND version = '1.0.0'").run(NAME);
    } finally {
      state.close();
    }
    reg.removeVersion(NAME, '1.0.0');
    await te.run(job('exrmhalf', [NAME], { exclude: [`${NAME}@1.0.0`] }));
    const s = await te.run(job('exrmhalf', [NAME]));
    expect(states('exrmhalf', NAME)).toEqual({ '1.0.0': 'fetched', '1.0.1': 'verified' });
    expect(rows('exrmhalf', NAME)[0]!.removed_at).not.toBeNull();
    expect(s.exitCode).toBe(1);
    expect(publishes(NAME, '1.0.0')).toEqual([]);
    // the exit code is said: the terminal names the version and what to do, this run and every rerun
    for (const summary of [s, await te.run(job('exrmhalf', [NAME]))]) {
      expect(summary.exitCode).toBe(1);
      expect(humanSummary(summary)).toContain(`${NAME}@1.0.0`);
    }
  });
});

describe('a publish cut off before its request went out, then left out by the filters', () => {
  it('is not published by the rerun: it is set aside (excluded), said as perhaps partly on the target', async () => {
    const NAME = 'cutex-pkg';
    reg.setPackage(NAME, ['1.0.0', '1.0.1'].map((v) => ({ version: v, tarball: npmTarball(NAME, v) })));
    const whole = job('cutex', [NAME]);
    expect((await te.run(whole, { dryRun: true })).exitCode).toBe(0);
    // as a kill -9 leaves it: the move to `publishing` written, the request never sent
    const state = te.openState('cutex');
    try {
      state.db.prepare("UPDATE items SET state = 'publishing', attempts = 1 WHERE package = ? AND version = '1.0.0'").run(NAME);
    } finally {
      state.close();
    }

    const s = await te.run(job('cutex', [NAME], { exclude: [`${NAME}@1.0.0`] }));
    expect(publishes(NAME, '1.0.0')).toEqual([]);
    expect(states('cutex', NAME)).toEqual({ '1.0.0': 'excluded', '1.0.1': 'verified' });
    expect(s.exitCode).toBe(0);
    expect(s.leftOutOnTarget).toEqual([expect.objectContaining({ package: NAME, version: '1.0.0', state: 'excluded' })]);
  });
});

describe('one package listed by two sources of the job, with the same bytes', () => {
  it('is published once: the second source finds it on the target (present-identical), never sends it again nor records a publish of its own', async () => {
    const NAME = 'twice-pkg';
    for (const perPackage of [1, 4]) {
      const name = `twice${perPackage}`;
      const pkg = `${NAME}${perPackage}`;
      reg.setPackage(pkg, ['1.0.0', '1.0.1'].map((v) => ({ version: v, tarball: npmTarball(pkg, v) })));
      const file = te.writeJob({
        name,
        sources: [
          { id: 'first', kind: 'npm-registry', url: reg.url, packages: [pkg] },
          { id: 'second', kind: 'npm-registry', url: reg.url, packages: [pkg] },
        ],
        limits: { publishesPerPackage: perPackage },
      });
      const s = await te.run(file);
      expect(s.exitCode).toBe(0);
      expect(publishes(pkg, '1.0.0'), `publishesPerPackage ${perPackage}`).toHaveLength(1);
      expect(publishes(pkg, '1.0.1'), `publishesPerPackage ${perPackage}`).toHaveLength(1);
      expect(s.outcomes).toEqual({ published: 2, 'present-identical': 2 });
      const state = te.openState(name);
      try {
        const entries = state.db.prepare("SELECT json_extract(entry, '$.outcome') AS outcome, json_extract(entry, '$.source.id') AS source FROM ledger WHERE json_extract(entry, '$.version') = '1.0.0'").all();
        expect(entries).toEqual([
          { outcome: 'published', source: 'first' },
          { outcome: 'present-identical', source: 'second' },
        ]);
      } finally {
        state.close();
      }
    }
  });
});

describe('a dry run after a publish was cut off', () => {
  it('leaves the record of that publish as it stands (the next run settles it): a file recorded uploaded stays so, the version stays publishing', async () => {
    const NAME = 'cutdry-pkg';
    reg.setPackage(NAME, ['1.0.0'].map((v) => ({ version: v, tarball: npmTarball(NAME, v) })));
    const whole = job('cutdry', [NAME]);
    expect((await te.run(whole, { dryRun: true })).exitCode).toBe(0);
    // as a kill -9 leaves it right after the upload's answer: the file recorded uploaded, which a
    // listing that lags (as CodeArtifact's may) does not show yet
    const state = te.openState('cutdry');
    try {
      const row = state.items('package = ?', NAME)[0]!;
      state.db.prepare("UPDATE items SET state = 'publishing', attempts = 1 WHERE id = ?").run(row.id);
      for (const a of state.assetsOf(row.id)) state.setAssetState(a, 'uploaded', 'uploaded');
    } finally {
      state.close();
    }
    const dry = await te.run(whole, { dryRun: true });
    expect(dry.outcomes).toEqual({ 'would-publish': 1 });
    expect(states('cutdry', NAME)).toEqual({ '1.0.0': 'publishing' });
    const after = te.openState('cutdry');
    try {
      expect(after.assetsOf(rows('cutdry', NAME)[0]!.id).map((a) => a.state)).toEqual(['uploaded']);
    } finally {
      after.close();
    }
    expect(publishes(NAME)).toEqual([]);
  });
});

describe('a conflict whose version the source then unpublished', () => {
  it('is still looked at by every run: once the target no longer holds the other bytes (deleted, as the hint says), it is removed, and the run exits 0', async () => {
    const NAME = 'confrm-pkg';
    reg.setPackage(NAME, ['1.0.0', '1.0.1'].map((v) => ({ version: v, tarball: npmTarball(NAME, v) })));
    await publishVersion(te.sandbox.descriptor.codeartifact.npmEndpoint, await te.targetToken(), NAME, '1.0.0', npmTarball(NAME, '1.0.0', [{ path: 'package/NOTICE', body: 'someone else\n' }]));
    const mark = te.sandbox.standIn.log.at(-1)!.seq;
    const whole = job('confrm', [NAME]);
    expect((await te.run(whole)).exitCode).toBe(1);
    expect(states('confrm', NAME)).toEqual({ '1.0.0': 'conflict', '1.0.1': 'verified' });

    reg.removeVersion(NAME, '1.0.0');
    // the other bytes still there: still the conflict it was
    const still = await te.run(whole);
    expect(still.exitCode).toBe(1);
    expect(states('confrm', NAME)).toEqual({ '1.0.0': 'conflict', '1.0.1': 'verified' });

    const d = te.sandbox.descriptor.codeartifact;
    await te.client.send(new DeletePackageVersionsCommand({ domain: d.domain, domainOwner: d.domainOwner, repository: 'npm-internal', format: 'npm', package: NAME, versions: ['1.0.0'] }));
    for (const attempt of [1, 2]) {
      const s = await te.run(whole);
      expect(s.exitCode, `run ${attempt}`).toBe(0);
      expect(states('confrm', NAME)).toEqual({ '1.0.0': 'removed', '1.0.1': 'verified' });
    }
    expect(publishes(NAME, '1.0.0').filter((e) => e.seq > mark)).toEqual([]);
  });
});

describe('the job renamed between runs (its name:, or the file of a nameless job)', () => {
  // the name names the state file: under a new one the run found no state, read every version
  // again, recorded those this tool published as present-identical in a new state with a ledger
  // of its own. Nothing is published twice; the split history is said, on every run
  it('is said (otherJobs, a WARNING naming the old name), exit 0, nothing published twice; a job of other packages of the same registry is not named', async () => {
    const NAME = 'renamed-pkg';
    const OTHER = 'renamed-other-pkg';
    reg.setPackage(NAME, ['1.0.0', '1.0.1'].map((v) => ({ version: v, tarball: npmTarball(NAME, v) })));
    reg.setPackage(OTHER, ['2.0.0'].map((v) => ({ version: v, tarball: npmTarball(OTHER, v) })));
    const first = await te.run(job('renamed-first', [NAME]));
    expect(first.exitCode).toBe(0);
    // the states of this file's other jobs record other packages: none of them is this work
    expect(first.otherJobs).toEqual([]);
    expect(publishes(NAME)).toHaveLength(2);

    const renamed = job('renamed-second', [NAME, OTHER]);
    for (const attempt of [1, 2]) {
      const s = await te.run(renamed);
      expect(s.exitCode, `run ${attempt}`).toBe(0);
      expect(s.otherJobs, `run ${attempt}`).toEqual([{ job: 'renamed-first', database: join(te.stateDir, 'renamed-first.sqlite'), versions: 2, packages: [NAME] }]);
      const line = humanSummary(s).split('\n').find((l) => l.includes('WARNING') && l.includes('renamed-first'));
      expect(line).toContain('put name: renamed-first back');
    }
    // the run's report says it too
    const report = await te.cli(['report', renamed, '--json']);
    expect((JSON.parse(report.stdout) as { findings: { code: string; severity: string; subjects: string[] }[] }).findings.filter((f) => f.code === 'EOTHERJOBS')).toEqual([
      expect.objectContaining({ severity: 'warning', subjects: [`renamed-first: ${join(te.stateDir, 'renamed-first.sqlite')}`] }),
    ]);
    expect(states('renamed-second', NAME)).toEqual({ '1.0.0': 'present-identical', '1.0.1': 'present-identical' });
    expect(publishes(NAME)).toHaveLength(2);

    // the same registry and source id, other packages only: another job, not named
    const other = await te.run(job('renamed-other', [OTHER]));
    expect(other.exitCode).toBe(0);
    expect(other.otherJobs).toEqual([expect.objectContaining({ job: 'renamed-second', packages: [OTHER] })]);
    // the first name goes on as it was, and now sees the second's work on its package
    const again = await te.run(job('renamed-first', [NAME]));
    expect(again.exitCode).toBe(0);
    expect(again.otherJobs).toEqual([expect.objectContaining({ job: 'renamed-second', packages: [NAME], versions: 2 })]);
    expect(publishes(NAME)).toHaveLength(2);
  });
});

// the row kept the registry it was first listed from: a version downloaded (or built) from the source's new URL was
// recorded in the provenance ledger as coming from the old registry, with an artifact URL of the new one
describe("an npm source's url changed to another registry under the same id", () => {
  it('a version fetched from the new registry records it as its origin (state and ledger); one migrated before keeps the old, and its other bytes there are said (sourceChanged)', async () => {
    const NAME = 'moved-pkg';
    const other = await startHostileRegistry();
    try {
      reg.setPackage(NAME, ['1.0.0', '1.0.1'].map((v) => ({ version: v, tarball: npmTarball(NAME, v) })));
      other.setPackage(NAME, ['1.0.0', '1.0.1', '1.0.2'].map((v) => ({ version: v, tarball: npmTarball(NAME, v, [{ path: 'package/MOVED.txt', body: 'rebuilt at the new registry\n' }]) })));
      const at = (url: string) => te.writeJob({ name: 'moved', sources: [{ id: 'hostile', kind: 'npm-registry', url, packages: [NAME] }] });
      // 1.0.0 migrated from the first registry; 1.0.1 only downloaded (a dry run): fetched, not on the target
      expect((await te.run(te.writeJob({ name: 'moved', sources: [{ id: 'hostile', kind: 'npm-registry', url: reg.url, packages: [NAME] }], filters: { exclude: [`${NAME}@1.0.1`] } }))).exitCode).toBeLessThan(2);
      await te.run(at(reg.url), { dryRun: true });
      expect(states('moved', NAME)).toEqual({ '1.0.0': 'verified', '1.0.1': 'fetched' });

      const s = await te.run(at(other.url));
      expect(s.exitCode).toBe(0);
      expect(s.sourceChanged).toEqual([expect.objectContaining({ package: NAME, version: '1.0.0' })]);
      const byVersion = Object.fromEntries(rows('moved', NAME).map((r) => [r.version, r]));
      expect(byVersion['1.0.0']!.registry_url).toBe(reg.url);
      expect(byVersion['1.0.1']!.registry_url).toBe(other.url);
      expect(byVersion['1.0.2']!.registry_url).toBe(other.url);

      const exported = await te.cli(['ledger', 'export', at(other.url)]);
      const entries = exported.stdout.split('\n').filter((l) => l && !l.startsWith('{"trailer"')).map((l) => (JSON.parse(l) as { entry: { outcome: string; version?: string; source?: { registry?: string; artifact?: string } } }).entry);
      const published = Object.fromEntries(entries.filter((e) => e.outcome === 'published').map((e) => [e.version, e.source]));
      expect(published['1.0.0']).toMatchObject({ registry: reg.url });
      for (const v of ['1.0.1', '1.0.2']) expect(published[v], v).toMatchObject({ registry: other.url, artifact: expect.stringContaining(other.url.replace(/\/$/, '')) });
    } finally {
      await other.stop();
    }
  });
});
