/**
 * The npm path end to end against real local servers: two Verdaccio registries
 * (private npm, GitHub Packages) and the CodeArtifact stand-in, checked with the
 * real npm client.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStatus } from '../src/cli/status.js';
import { seedPackages, historyOf } from './support/npm-fixtures.js';
import { publishRequests, startTestEnv, targetWrites, type TestEnv } from './support/harness.js';

const run = promisify(execFile);

const CORE = historyOf(40, { prereleasesEvery: 6 });
const LEGACY = historyOf(12, { prereleasesEvery: 0 });
const FLAGS = historyOf(30, { prereleasesEvery: 4 });

let te: TestEnv;
let sourceIntegrity: Map<string, Map<string, string>>;
let job: string;

beforeAll(async () => {
  te = await startTestEnv();
  const { privateNpm, github } = te.sandbox;
  const a = await seedPackages(privateNpm.url, privateNpm.token, [
    { name: '@acme/core', versions: CORE, distTags: { next: '2.0.0-rc.1' }, deprecated: { [CORE[1]!]: 'broken build, use a later patch' } },
    { name: 'left-pad-legacy', versions: LEGACY, deprecated: { [LEGACY[0]!]: 'no longer supported' } },
  ]);
  const b = await seedPackages(github.url, github.token, [{ name: '@acme-gh/feature-flags', versions: FLAGS, distTags: { beta: FLAGS.filter((v) => v.includes('beta')).at(-1)! } }]);
  sourceIntegrity = new Map([...a, ...b]);
  job = te.writeJob({ privateNpm: { scopes: ['@acme'], packages: ['left-pad-legacy'] }, github: { packages: ['@acme-gh/feature-flags'] } });
}, 120_000);

afterAll(async () => {
  await te?.stop();
});

const total = () => CORE.length + LEGACY.length + FLAGS.length;

async function packument(registry: string, token: string, name: string) {
  const res = await fetch(`${registry}${name.replace('/', '%2f')}`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
  expect(res.status).toBe(200);
  return (await res.json()) as { 'dist-tags': Record<string, string>; versions: Record<string, { deprecated?: string; dist: { integrity: string } }> };
}

describe('npm migration', () => {
  it('a dry run downloads and verifies everything and writes nothing to the target', async () => {
    const summary = await te.run(job, { dryRun: true });
    expect(summary.outcomes['would-publish']).toBe(total());
    expect(summary.failures).toEqual([]);
    expect(targetWrites(te.sandbox)).toEqual([]);
    const state = te.openState();
    try {
      expect(state.counts()).toEqual({ fetched: total() });
    } finally {
      state.close();
    }
  });

  it('publishes every version once, oldest first, and verifies each on the target', async () => {
    const summary = await te.run(job);
    expect(summary.exitCode).toBe(0);
    expect(summary.outcomes).toEqual({ published: total() });
    expect(summary.states).toEqual({ verified: total() });
    const requests = publishRequests(te.sandbox);
    expect(requests.size).toBe(total());
    expect([...requests.values()].every((n) => n === 1)).toBe(true);
    // oldest first within a package
    const coreOrder = te.sandbox.standIn.log.filter((e) => e.operation === 'npm:Publish' && e.package === '@acme/core').map((e) => e.version);
    expect(coreOrder).toEqual(CORE);
    // every step is in the event log
    const state = te.openState();
    try {
      const row = state.items("package = '@acme/core' AND version = ?", CORE[0])[0]!;
      const events = state.events(row.id);
      // state changes, and the one asset's upload recorded before and after its request
      expect(events.filter((e) => e.from_state !== e.to_state).map((e) => e.to_state)).toEqual(['pending', 'fetched', 'publishing', 'published', 'verified']);
      expect(events.filter((e) => e.from_state === e.to_state).map((e) => e.detail)).toEqual(['package.tgz: uploading (attempt 1)', 'package.tgz: uploaded']);
      expect(row.registry_url).toBe(te.sandbox.descriptor.privateNpm.url);
      expect(row.source_published_at).toMatch(/^\d{4}-/);
    } finally {
      state.close();
    }
  });

  it('dist-tags and deprecations on the target equal the source', async () => {
    const ep = te.sandbox.descriptor.codeartifact.npmEndpoint;
    const token = await te.targetToken();
    for (const [name, src] of [
      ['@acme/core', te.sandbox.privateNpm],
      ['left-pad-legacy', te.sandbox.privateNpm],
      ['@acme-gh/feature-flags', te.sandbox.github],
    ] as const) {
      const from = await packument(src.url, src.token, name);
      const to = await packument(ep, token, name);
      expect(to['dist-tags']).toEqual(from['dist-tags']);
      for (const [v, m] of Object.entries(from.versions)) {
        expect(to.versions[v]?.deprecated ?? '', `${name}@${v} deprecation`).toBe(m.deprecated ?? '');
        expect(to.versions[v]?.dist.integrity).toBe(m.dist.integrity);
      }
    }
  });

  it('a real npm install from the target gets every version with the source integrity', async () => {
    const ep = te.sandbox.descriptor.codeartifact.npmEndpoint;
    const token = await te.targetToken();
    const project = join(te.dir, 'consumer');
    mkdirSync(project, { recursive: true });
    const deps: Record<string, string> = {};
    for (const [name, versions] of sourceIntegrity) {
      for (const v of versions.keys()) deps[`${name.replace(/[@/]/g, '-')}-${v}`.replace(/^-/, '')] = `npm:${name}@${v}`;
    }
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, dependencies: deps }));
    const host = ep.replace(/^https?:/, '');
    writeFileSync(join(project, '.npmrc'), `registry=${ep}\n${host}:_authToken=${token}\n`);
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_config_')));
    await run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--cache', join(te.dir, 'npm-cache'), '--userconfig', join(project, '.npmrc')], {
      cwd: project,
      env,
      timeout: 180_000,
    });
    const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; integrity?: string; name?: string }> };
    let checked = 0;
    for (const [name, versions] of sourceIntegrity) {
      for (const [v, integrity] of versions) {
        const alias = `${name.replace(/[@/]/g, '-')}-${v}`.replace(/^-/, '');
        const entry = lock.packages[`node_modules/${alias}`];
        expect(entry?.integrity, `${name}@${v}`).toBe(integrity);
        checked++;
      }
    }
    expect(checked).toBe(total());
  }, 240_000);

  it('a rerun after completion sends the target nothing at all', async () => {
    const before = te.sandbox.standIn.log.length;
    const summary = await te.run(job);
    expect(summary.exitCode).toBe(0);
    expect(summary.outcomes).toEqual({});
    expect(te.sandbox.standIn.log.length).toBe(before);
  });

  it('several versions of one package at once (limits.publishesPerPackage): each published once, the requests still sent in version order, latest the newest', async () => {
    const NIGHTLY = historyOf(24, { prereleasesEvery: 0 });
    await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: 'nightly-many', versions: NIGHTLY }]);
    const many = te.writeJob({ name: 'nightly', privateNpm: { packages: ['nightly-many'] }, github: false, limits: { publishesPerPackage: 6 } });
    const summary = await te.run(many);
    expect(summary.exitCode).toBe(0);
    expect(summary.inFlight.publishesPerPackage).toBe(6);
    expect(summary.states).toEqual({ verified: NIGHTLY.length });
    const sent = te.sandbox.standIn.log.filter((e) => e.operation === 'npm:Publish' && e.package === 'nightly-many');
    expect(sent.map((e) => e.version)).toEqual(NIGHTLY);
    expect(sent.every((e) => e.status < 300)).toBe(true);
    const doc = await packument(te.sandbox.descriptor.codeartifact.npmEndpoint, await te.targetToken(), 'nightly-many');
    expect(doc['dist-tags'].latest).toBe(NIGHTLY.at(-1));
  });
});

describe('a package taken out of the job', () => {
  const V = ['1.0.0', '1.0.1', '1.0.2', '1.0.3'];
  const rowsOf = (jobName: string, pkg: string) => {
    const state = te.openState(jobName);
    try {
      return Object.fromEntries(state.items('package = ?', pkg).map((r) => [r.version, { state: r.state, code: r.last_error_code, removed: r.removed_at !== null }]));
    } finally {
      state.close();
    }
  };
  /** Every request the stand-in logged for these packages after `since`. */
  const touched = (since: number, pkgs: string[]) => te.sandbox.standIn.log.filter((e) => e.seq > since && e.package !== undefined && pkgs.includes(e.package));

  it('half-migrated, then dropped from packages/scopes: "no longer in the job", not "removed at the source"; never written to; the rerun exits 0; named again, it finishes', async () => {
    const { privateNpm } = te.sandbox;
    await seedPackages(privateNpm.url, privateNpm.token, ['@drop/a', '@drop/b', '@drop/c'].map((name) => ({ name, versions: V })));
    // one job file, edited between runs
    const whole = te.writeJob({ name: 'dropping', privateNpm: { scopes: ['@drop'] }, github: false });
    // b: its latest, 1.0.3, refused by the target (the dist-tag cannot follow); c: every version refused (never migrated: the target stored nothing)
    te.sandbox.standIn.addFault({ operation: 'npm:Publish', package: '@drop/b', version: '1.0.3', status: 400 });
    te.sandbox.standIn.addFault({ operation: 'npm:Publish', package: '@drop/c', status: 400 });
    const first = await te.run(whole);
    te.sandbox.standIn.clearFaults();
    expect(first.exitCode).toBe(1);
    expect(rowsOf('dropping', '@drop/b')['1.0.3']!.state).toBe('failed');
    // as a kill -9 leaves it: b@1.0.1's publish landed, its answer never recorded
    const state = te.openState('dropping');
    try {
      state.db.prepare("UPDATE items SET state = 'publishing' WHERE package = '@drop/b' AND version = '1.0.1'").run();
      // a refusal stored nothing, so it counts no attempt; as an answer that never came (a 5xx after its retries) leaves b@1.0.3: its publish may have landed
      expect(state.items("package IN ('@drop/b', '@drop/c') AND state = 'failed'").map((r) => r.attempts)).toEqual([0, 0, 0, 0, 0]);
      state.db.prepare("UPDATE items SET attempts = 1, last_error_code = 'ETARGET' WHERE package = '@drop/b' AND version = '1.0.3'").run();
      // as a run stopped before it left it: c@1.0.0 never tried (its refused siblings had a publish begun)
      state.db.prepare("UPDATE items SET state = 'pending', attempts = 0, last_error_code = NULL, last_error = NULL WHERE package = '@drop/c' AND version = '1.0.0'").run();
      state.db.prepare("UPDATE packages SET meta_state = 'pending' WHERE package IN ('@drop/b', '@drop/c')").run();
    } finally {
      state.close();
    }

    const onlyA = te.writeJob({ name: 'dropping', privateNpm: { packages: ['@drop/a'], scopes: [] }, github: false });
    const before = te.sandbox.standIn.log.at(-1)!.seq;
    const s = await te.run(onlyA);
    expect(s.exitCode).toBe(0);
    expect(s.removedAtSource).toEqual([]);
    expect(s.metadataOutOfSync).toEqual([]);
    expect(s.notInJob).toEqual([
      // a version a run of ours started publishing is never "never migrated": the target may hold part of it
      { source: 'private-npm', package: '@drop/b', why: 'not-named', onTarget: 3, notMigrated: [], publishBegun: ['1.0.3'], unsettled: [] },
      { source: 'private-npm', package: '@drop/c', why: 'not-named', onTarget: 0, notMigrated: V, publishBegun: [], unsettled: [] },
    ]);
    const dropped = te.openState('dropping');
    try {
      const why = (pkg: string, version: string) => dropped.items('package = ? AND version = ?', pkg, version)[0]!.last_error;
      expect(why('@drop/b', '1.0.3')).toContain('started publishing it, so the target may hold part of it (it was failed, ETARGET)');
      expect(why('@drop/b', '1.0.3')).not.toContain('not migrated');
      expect(why('@drop/c', '1.0.0')).toContain(': not migrated');
      // refused by the target (HTTP 400): nothing of it there, so never "the target may hold part of it"
      expect(why('@drop/c', '1.0.1')).toContain(': not migrated (it was failed, ETARGETREJECTED)');
    } finally {
      dropped.close();
    }
    // the interrupted publish is settled by reading the target; nothing is written for b or c
    expect(rowsOf('dropping', '@drop/b')).toEqual({
      '1.0.0': { state: 'verified', code: null, removed: false },
      '1.0.1': { state: 'verified', code: null, removed: false },
      '1.0.2': { state: 'verified', code: null, removed: false },
      '1.0.3': { state: 'excluded', code: 'ENOTINJOB', removed: false },
    });
    expect(Object.values(rowsOf('dropping', '@drop/c'))).toEqual(V.map(() => ({ state: 'excluded', code: 'ENOTINJOB', removed: false })));
    expect(targetWrites(te.sandbox, before)).toEqual([]);
    expect(touched(before, ['@drop/b', '@drop/c']).map((e) => e.operation).filter((o) => !['ListPackageVersionAssets', 'DescribePackageVersion', 'ListPackageVersions'].includes(o))).toEqual([]);
    expect(readStatus(onlyA, te.stateDir).notInJob).toEqual([
      { source: 'private-npm', package: '@drop/b', why: 'not-named', onTarget: 3, versions: [], publishBegun: ['1.0.3'], unsettled: [] },
      { source: 'private-npm', package: '@drop/c', why: 'not-named', onTarget: 0, versions: V, publishBegun: [], unsettled: [] },
    ]);

    // the rerun: the same, and not one request about b or c
    const seq = te.sandbox.standIn.log.at(-1)!.seq;
    const again = await te.run(onlyA);
    expect(again.exitCode).toBe(0);
    expect(again.notInJob.map((d) => [d.package, d.notMigrated.length, d.publishBegun.length])).toEqual([['@drop/b', 0, 1], ['@drop/c', 4, 0]]);
    expect(touched(seq, ['@drop/b', '@drop/c'])).toEqual([]);

    // named again: what was set aside is migrated, each version published once
    const back = await te.run(te.writeJob({ name: 'dropping', privateNpm: { scopes: ['@drop'] }, github: false }));
    expect(back.exitCode).toBe(0);
    expect(back.notInJob).toEqual([]);
    expect(back.outcomes).toEqual({ published: 5 });
    expect(Object.values(rowsOf('dropping', '@drop/c')).map((r) => r.state)).toEqual(V.map(() => 'verified'));
    expect(publishRequests(te.sandbox, { succeededOnly: true }).get('@drop/b@1.0.3')).toBe(1);
  });
});

describe('a version the target refused (HTTP 400: nothing stored), then left out by the filters', () => {
  it('is "excluded", not "left out with part of it on the target": the attempt is not counted, the report finds nothing but that the job was never planned (REVIEW, exit 0), status lists nothing left on the target', async () => {
    const { privateNpm } = te.sandbox;
    await seedPackages(privateNpm.url, privateNpm.token, [{ name: '@refused/x', versions: ['1.0.0', '1.0.1', '1.0.2'] }]);
    te.sandbox.standIn.addFault({ operation: 'npm:Publish', package: '@refused/x', version: '1.0.1', status: 400 });
    let first: Awaited<ReturnType<TestEnv['run']>>;
    try {
      first = await te.run(te.writeJob({ name: 'refused', privateNpm: { packages: ['@refused/x'] }, github: false }));
    } finally {
      te.sandbox.standIn.clearFaults();
    }
    expect(first.failures).toEqual([expect.objectContaining({ version: '1.0.1', code: 'ETARGETREJECTED' })]);
    const job = te.writeJob({ name: 'refused', privateNpm: { packages: ['@refused/x'] }, github: false, filters: { exclude: ['@refused/x@1.0.1'] } });
    const second = await te.run(job);
    expect(second.exitCode).toBe(0);
    expect(second.leftOutOnTarget).toEqual([]);
    const state = te.openState('refused');
    try {
      expect(state.items('package = ? AND version = ?', '@refused/x', '1.0.1').map((r) => [r.state, r.attempts])).toEqual([['excluded', 0]]);
    } finally {
      state.close();
    }
    expect(readStatus(job, te.stateDir).leftOutOnTarget).toEqual([]);
    const report = await te.cli(['report', job, '--json', '--out', join(te.dir, 'reports-refused')]);
    const r = JSON.parse(report.stdout) as { verdict: { status: string }; findings: { code: string }[] };
    expect(r.findings.map((f) => f.code)).not.toContain('ELEFTOUTONTARGET');
    // was GO; a run audits nothing, and this job was never planned: ENOAUDIT alone
    expect(r.findings.map((f) => f.code)).toEqual(['ENOAUDIT']);
    expect(r.verdict.status).toBe('review');
    expect(report.code, report.stderr).toBe(0);
  });
});

describe('a source switched off (enabled: false) after its version failed', () => {
  it('run, report and status agree: its rows are no longer the job\'s failures (status exits 0 and lists them apart, as the report does)', async () => {
    const { privateNpm, github } = te.sandbox;
    await seedPackages(privateNpm.url, privateNpm.token, [{ name: '@off/kept', versions: ['1.0.0'] }]);
    await seedPackages(github.url, github.token, [{ name: '@off/gh', versions: ['1.0.0'] }]);
    const sources = (ghEnabled: boolean) => [
      { id: 'private-npm', kind: 'npm-registry', url: privateNpm.url, tokenEnv: te.sandbox.descriptor.privateNpm.tokenEnv, packages: ['@off/kept'] },
      { id: 'github', kind: 'npm-registry', url: github.url, tokenEnv: te.sandbox.descriptor.github.tokenEnv, packages: ['@off/gh'], enabled: ghEnabled },
    ];
    te.sandbox.standIn.addFault({ operation: 'npm:Publish', package: '@off/gh', status: 400 });
    try {
      expect((await te.run(te.writeJob({ name: 'switched-off', sources: sources(true) }))).failures).toEqual([expect.objectContaining({ package: '@off/gh', code: 'ETARGETREJECTED' })]);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
    const job = te.writeJob({ name: 'switched-off', sources: sources(false) });
    expect((await te.run(job)).exitCode).toBe(0);
    const report = await te.cli(['report', job, '--json', '--out', join(te.dir, 'reports-switched-off')]);
    expect(report.code, report.stderr).toBe(0);
    const status = await te.cli(['status', job, '--json']);
    const s = JSON.parse(status.stdout) as { failures: unknown[]; states: Record<string, number>; otherSources: unknown };
    expect(s.failures).toEqual([]);
    expect(s.states).toMatchObject({ verified: 1, failed: 0 });
    expect(s.otherSources).toEqual([{ source: 'github', versions: 1 }]);
    expect(status.code).toBe(0);
  });
});

describe("a source's id renamed in the job", () => {
  it('is refused (ECONFIG naming both ids) before anything is written or asked; put back, the rerun has nothing to do', async () => {
    const { privateNpm } = te.sandbox;
    await seedPackages(privateNpm.url, privateNpm.token, [{ name: '@ren/x', versions: ['1.0.0', '1.0.1', '1.0.2'] }, { name: '@ren/y', versions: ['2.0.0'] }]);
    const source = (id: string, packages: string[]) => ({ id, kind: 'npm-registry', url: privateNpm.url, tokenEnv: te.sandbox.descriptor.privateNpm.tokenEnv, packages });
    const first = await te.run(te.writeJob({ name: 'renaming', sources: [source('private-npm', ['@ren/x'])] }));
    expect(first.exitCode).toBe(0);
    const runsBefore = te.openState('renaming');
    const lastRun = runsBefore.lastRun()!.id;
    runsBefore.close();

    const renamed = te.writeJob({ name: 'renaming', sources: [source('npm-main', ['@ren/x'])] });
    const seq = te.sandbox.standIn.log.at(-1)!.seq;
    const refused = await te.run(renamed).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message?: string },
    );
    expect(refused?.code).toBe('ECONFIG');
    expect(refused?.message).toContain('"npm-main"');
    expect(refused?.message).toContain('"private-npm"');
    // nothing asked of the target, no run recorded, no row under the new id
    expect(te.sandbox.standIn.log.filter((e) => e.seq > seq)).toEqual([]);
    const state = te.openState('renaming');
    try {
      expect(state.lastRun()!.id).toBe(lastRun);
      expect(state.items("source_id = 'npm-main'")).toEqual([]);
      expect(state.items().map((r) => [r.source_id, r.version, r.state])).toEqual([
        ['private-npm', '1.0.0', 'verified'],
        ['private-npm', '1.0.1', 'verified'],
        ['private-npm', '1.0.2', 'verified'],
      ]);
    } finally {
      state.close();
    }

    // the id put back: nothing to do, nothing sent
    const back = await te.run(te.writeJob({ name: 'renaming', sources: [source('private-npm', ['@ren/x'])] }));
    expect(back.exitCode).toBe(0);
    expect(back.outcomes).toEqual({});
    expect(back.selected).toBe(3);

    // a new source on the same registry for other packages is no rename
    const other = await te.run(te.writeJob({ name: 'renaming', sources: [source('npm-main', ['@ren/y'])] }));
    expect(other.outcomes).toEqual({ published: 1 });
  });
});
