/**
 * `plan` predicts `run` for a Go git source (the generic target) as it does for npm and PyPI
 * (plan-predicts-run.test.ts): a Go module in a git repository with a tag of each kind —
 * new versions, one the target holds with the same bytes, one it holds with other bytes, one
 * it holds Archived, a tag that is no Go version (skipped with its reason), one whose go.mod
 * names another module (a build that fails), one a consumer's go.sum records with another h1
 * — and the run that follows ends each version as the plan said, with the same findings.
 * `plan --no-download` and `--no-target` claim nothing they cannot know.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../src/report/model.js';
import type { StatusReport } from '../src/cli/status.js';
import type { LedgerLine } from '../src/state/ledger.js';
import { startGitTestEnv, stopTestEnvWithGit, type TestEnv } from './support/harness.js';
import { gitSourceOn, type GitServer } from './support/git-server.js';
import { goModuleToGeneric } from '../src/targets/go-mapping.js';

const MOD = 'git.acme.example/golib';
let te: TestEnv;
let git: GitServer;
let job: string;
let goSumFile: string;
const outs: Record<string, { code: number | null; stdout: string; stderr: string }> = {};

const goFile = (body: string) => `package golib\n\n// Which says which version this is.\nfunc Which() string { return ${JSON.stringify(body)} }\n`;

beforeAll(async () => {
  ({ te, git } = await startGitTestEnv());
  const src = join(te.dir, 'golib-src');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'go.mod'), `module ${MOD}\n\ngo 1.19\n`);
  writeFileSync(join(src, 'golib.go'), goFile('1.0.0'));
  writeFileSync(join(src, 'LICENSE'), 'Copyright Acme.\n');
  await git.createRepoFromDir('golib', src, { tags: ['v1.0.0'], date: '2024-01-01T10:00:00Z' });
  const release = async (tag: string, files: Record<string, string | null>, day: number) => {
    const c = await git.commit('golib', { files, message: tag, date: `2024-01-${String(day).padStart(2, '0')}T10:00:00Z` });
    await git.tag('golib', tag, c);
    return c;
  };
  await release('v1.1.0', { 'golib.go': goFile('1.1.0') }, 2);
  await release('v1.2.0', { 'golib.go': goFile('1.2.0') }, 3);
  // a tag the pattern matches that is no Go version: skipped with its reason
  await release('v1.3', { 'golib.go': goFile('1.3') }, 4);
  await release('v1.4.0', { 'golib.go': goFile('1.4.0') }, 5);
  // go.mod names another module: go would refuse it, the build fails
  await release('v1.5.0', { 'go.mod': 'module git.acme.example/other\n\ngo 1.19\n', 'golib.go': goFile('1.5.0') }, 6);
  await release('v1.6.0', { 'go.mod': `module ${MOD}\n\ngo 1.19\n`, 'golib.go': goFile('1.6.0') }, 7);
  await release('v1.7.0', { 'golib.go': goFile('1.7.0') }, 8);

  // another repository of the same module: its v1.2.0 is other bytes
  const other = join(te.dir, 'golib-other-src');
  mkdirSync(other, { recursive: true });
  writeFileSync(join(other, 'go.mod'), `module ${MOD}\n\ngo 1.19\n`);
  writeFileSync(join(other, 'golib.go'), goFile('someone else'));
  await git.createRepoFromDir('golib-other', other, { tags: ['v1.2.0'], date: '2024-02-01T10:00:00Z' });

  // what the target holds before: v1.1.0 and v1.6.0 as this tool builds them, v1.2.0 from the other repository (a job of its own state directory)
  const seedState = join(te.dir, 'seed-state');
  const seed = te.writeJob({ name: 'seed', sources: [gitSourceOn(git, 'golib', 'golib', 'go', { package: MOD })], filters: { include: [`${MOD}@1.1.0 || 1.6.0`] } });
  const s1 = await te.run(seed, { stateDir: seedState });
  expect(s1.failures).toEqual([]);
  const seedOther = te.writeJob({ name: 'seed-other', sources: [gitSourceOn(git, 'golib', 'golib-other', 'go', { package: MOD })] });
  const s2 = await te.run(seedOther, { stateDir: seedState });
  expect(s2.failures).toEqual([]);
  const coords = goModuleToGeneric(MOD);
  te.sandbox.standIn.setVersionStatus('go-internal', 'generic', coords.namespace, coords.package, 'v1.6.0', 'Archived');

  // a consumer's go.sum with another h1 for v1.4.0
  mkdirSync(join(te.dir, 'consumer'), { recursive: true });
  goSumFile = join(te.dir, 'consumer', 'go.sum');
  writeFileSync(goSumFile, `${MOD} v1.4.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n`);

  job = te.writeJob({ name: 'gopr', sources: [gitSourceOn(git, 'golib', 'golib', 'go', { package: MOD })], filters: { exclude: [`${MOD}@1.7.0`] } });
  writeFileSync(job, `${readFileSync(job, 'utf8')}goSum:\n  - ${JSON.stringify(goSumFile)}\n`);
  // the same job under another name (a state of its own): a --no-download plan of nothing built yet
  const fresh = te.writeJob({ name: 'gopr-nd', sources: [gitSourceOn(git, 'golib', 'golib', 'go', { package: MOD })], filters: { exclude: [`${MOD}@1.7.0`] } });
  writeFileSync(fresh, `${readFileSync(fresh, 'utf8')}goSum:\n  - ${JSON.stringify(goSumFile)}\n`);
  outs.ndFresh = await te.cli(['plan', fresh, '--no-download', '--json', '--out', join(te.dir, 'r-ndf')]);
  outs.noTarget = await te.cli(['plan', job, '--no-target', '--json', '--out', join(te.dir, 'r-nt')]);
  outs.planNd = await te.cli(['plan', job, '--no-download', '--json', '--out', join(te.dir, 'r0')]);
  outs.plan = await te.cli(['plan', job, '--json', '--out', join(te.dir, 'r1')]);
  outs.run = await te.cli(['run', job, '--json']);
  outs.report = await te.cli(['report', job, '--json', '--out', join(te.dir, 'r3')]);
  outs.after = await te.cli(['plan', job, '--json', '--out', join(te.dir, 'r4')]);
  outs.status = await te.cli(['status', job, '--json']);
  outs.ledger = await te.cli(['ledger', 'export', job]);
  outs.csv = await te.cli(['ledger', 'export', job, '--format', 'csv']);
  // then v1.5.0's tag moves (go.mod put right on another commit): a failed version, never on the target, now a conflict with its source
  const moved = await git.commit('golib', { files: { 'go.mod': `module ${MOD}\n\ngo 1.19\n`, 'golib.go': goFile('1.5.0 fixed') }, message: 'fix', date: '2024-01-20T10:00:00Z', branch: null, parent: await git.revParse('golib', 'v1.5.0') });
  await git.tag('golib', 'v1.5.0', moved);
  outs.run2 = await te.cli(['run', job, '--json']);
  outs.report2 = await te.cli(['report', job, '--json', '--out', join(te.dir, 'r5')]);
  outs.status2 = await te.cli(['status', job, '--json']);
  outs.ledger2 = await te.cli(['ledger', 'export', job]);
}, 900_000);
afterAll(() => stopTestEnvWithGit(git, te));

const json = (k: string) => {
  try {
    return JSON.parse(outs[k]!.stdout) as Report;
  } catch {
    throw new Error(`${k}: ${outs[k]!.code} ${outs[k]!.stdout.slice(0, 2000)} ${outs[k]!.stderr.slice(0, 2000)}`);
  }
};
const keys = (r: Report) => Object.fromEntries(r.packages.flatMap((p) => p.versions.map((v) => [`${p.name}@${v.version}`, v.outcome])));
const brief = (r: Report) => Object.fromEntries(Object.entries(keys(r)).map(([k, o]) => [k, `${o.key}${o.code ? ' ' + o.code : ''}`]));
const RUN_OF: Record<string, string> = { publish: 'verified', 'present-identical': 'present-identical', conflict: 'conflict', error: 'failed', 'source-error': 'failed', excluded: 'excluded', skipped: 'skipped', removed: 'removed' };
const codes = (r: Report, severity?: string) => r.findings.filter((f) => !severity || f.severity === severity).map((f) => f.code).sort();

describe('plan predicts run for a Go git source (generic target)', () => {
  it('each version: the plan says what the run then does, with the same code', () => {
    expect(brief(json('plan'))).toEqual({
      [`${MOD}@v1.0.0`]: 'publish',
      [`${MOD}@v1.1.0`]: 'present-identical',
      [`${MOD}@v1.2.0`]: 'conflict ECONFLICT',
      [`${MOD}@1.3`]: 'skipped ESKIPPED',
      [`${MOD}@v1.4.0`]: 'publish',
      [`${MOD}@v1.5.0`]: 'source-error EBADSOURCE',
      [`${MOD}@v1.6.0`]: 'error ETARGETSTATUS',
      [`${MOD}@v1.7.0`]: 'excluded',
    });
    const plan = keys(json('plan'));
    const done = keys(json('report'));
    const said = Object.fromEntries(Object.entries(plan).map(([k, o]) => [k, `${RUN_OF[o.key] ?? o.key} ${o.code ?? ''} ${o.excludedBy ?? ''}`]));
    const did = Object.fromEntries(Object.entries(done).map(([k, o]) => [k, `${o.key} ${o.code ?? ''} ${o.excludedBy ?? ''}`]));
    expect(did).toEqual(said);
    // the skipped tag says why
    expect(plan[`${MOD}@1.3`]!.reason).toMatch(/v1\.3/);
    expect(done[`${MOD}@1.3`]!.reason).toBe(plan[`${MOD}@1.3`]!.reason);
    // the conflict's hashes: the same in plan and run
    expect([done[`${MOD}@v1.2.0`]!.ourSha512, done[`${MOD}@v1.2.0`]!.targetSha512]).toEqual([plan[`${MOD}@v1.2.0`]!.ourSha512, plan[`${MOD}@v1.2.0`]!.targetSha512]);
    const p = json('plan').totals;
    const r = json('report').totals;
    expect({ versions: r.versions, files: r.files, bytes: r.bytes }).toEqual({ versions: p.versions, files: p.files, bytes: p.bytes });
    expect(r.byOutcome.verified).toEqual(p.byOutcome.publish);
  });

  it('the go.sum line that differs is the same critical finding in the plan and in the report of the run', () => {
    const gs = (r: Report) => r.goSum && { ...r.goSum, mismatches: r.goSum.mismatches.map((m) => `${m.module} ${m.version} ${m.kind} ${m.goSum} ${m.built}`) };
    expect(gs(json('plan'))).toEqual(gs(json('report')));
    expect(json('plan').goSum!.mismatches.map((m) => m.version)).toEqual(['v1.4.0']);
    expect(codes(json('plan'), 'critical')).toEqual(codes(json('report'), 'critical'));
    expect(codes(json('plan'), 'critical')).toContain('EGOSUM');
    expect(json('plan').verdict.status).toBe('no-go');
    expect(outs.run!.code).toBe(1);
  });

  it('after the run, the plan has nothing left to publish and its critical findings are the report\'s', () => {
    const after = json('after');
    expect(Object.values(keys(after)).filter((o) => o.key === 'publish')).toEqual([]);
    expect(after.verdict.status).toBe(json('report').verdict.status);
    expect(codes(after, 'critical')).toEqual(codes(json('report'), 'critical'));
  });

  it('plan --no-download after a plan that built the versions: what the target lists is not to publish, as the full plan says', () => {
    const nd = keys(json('planNd'));
    const full = keys(json('plan'));
    expect(Object.keys(nd).sort()).toEqual(Object.keys(full).sort());
    for (const [k, o] of Object.entries(nd)) {
      if (o.key === 'unchecked') continue;
      expect([k, o.key]).toEqual([k, full[k]!.key]);
    }
    // the versions the target lists are said to be there, with their status
    expect(nd[`${MOD}@v1.1.0`]!.targetStatus).toBe('Published');
    expect(nd[`${MOD}@v1.6.0`]!.targetStatus).toBe('Archived');
    expect(nd[`${MOD}@v1.0.0`]!.targetStatus).toBeNull();
    // the go.sum check is of what was built (here by the --no-target plan before, from the same commits), as the full plan's
    const r = json('planNd');
    expect(r.verdict.status).not.toBe('go');
    // the three versions the target lists (one with other bytes, one Archived) are not to publish
    expect(nd[`${MOD}@v1.2.0`]!.targetStatus).toBe('Published');
    expect(r.verdict.headline).toContain('2 version(s) to publish');
    expect(r.verdict.headline).toContain('3 listed on the target, bytes not compared');
    expect(codes(r)).toContain('EUNCHECKED');
    expect(r.goSum?.mismatches).toEqual(json('plan').goSum?.mismatches);
  });

  it('plan --no-download of nothing built: the listing says what is there, nothing is said of go.sum but that no line was checked', () => {
    const r = json('ndFresh');
    expect(brief(r)).toEqual({
      [`${MOD}@v1.0.0`]: 'unchecked',
      [`${MOD}@v1.1.0`]: 'unchecked',
      [`${MOD}@v1.2.0`]: 'unchecked',
      [`${MOD}@1.3`]: 'skipped ESKIPPED',
      [`${MOD}@v1.4.0`]: 'unchecked',
      // go.mod is read when the tags are listed: its other module path is known without building
      [`${MOD}@v1.5.0`]: 'source-error EBADSOURCE',
      [`${MOD}@v1.6.0`]: 'unchecked',
      [`${MOD}@v1.7.0`]: 'excluded',
    });
    const o = keys(r);
    expect([o[`${MOD}@v1.1.0`]!.targetStatus, o[`${MOD}@v1.2.0`]!.targetStatus, o[`${MOD}@v1.6.0`]!.targetStatus, o[`${MOD}@v1.0.0`]!.targetStatus]).toEqual(['Published', 'Published', 'Archived', null]);
    expect(r.verdict.status).not.toBe('go');
    expect(r.verdict.headline).toContain('2 version(s) to publish');
    expect(codes(r)).toContain('EUNCHECKED');
    expect(r.goSum?.checked ?? 0).toBe(0);
  });

  it('plan --no-target claims nothing about the target: never GO, ENOTARGET said', () => {
    const r = json('noTarget');
    expect(r.verdict.status).not.toBe('go');
    expect(codes(r)).toContain('ENOTARGET');
    // nor does its headline count what is on the target, which it never read
    expect(r.verdict.headline).not.toMatch(/\b0 already on the target/);
    expect(r.verdict.headline).toMatch(/not read/);
    const o = keys(r);
    // what the source alone tells is told
    expect(o[`${MOD}@1.3`]!.key).toBe('skipped');
    expect(o[`${MOD}@v1.7.0`]!.key).toBe('excluded');
    expect(o[`${MOD}@v1.5.0`]!.key).toBe('source-error');
    // the go.sum check needs no target: it is made, and it is the full plan's
    expect(r.goSum?.mismatches.map((m) => m.version)).toEqual(['v1.4.0']);
  });
});

/** The last ledger entry of each version (the ledger only grows: the last is where the version stands). */
const lastEntries = (jsonl: string) => {
  const lines = jsonl.trim().split('\n').slice(0, -1).map((l) => JSON.parse(l) as LedgerLine);
  const last = new Map<string, LedgerLine['entry']>();
  for (const l of lines) if (l.entry.version !== undefined) last.set(`${l.entry.package}@${l.entry.version}`, l.entry);
  return last;
};
/** The ledger's outcome for each report outcome: a version the report shows without one is one the ledger must not name. */
const LEDGER_OF: Record<string, (code: string | null) => string> = { verified: () => 'published', 'present-identical': () => 'present-identical', conflict: () => 'conflict', failed: (code) => `failed:${code}` };

describe('ledger export after the mixed Go run agrees with status and report', () => {
  const agree = (reportKey: string, ledgerKey: string, statusKey: string) => {
    const report = json(reportKey);
    const last = lastEntries(outs[ledgerKey]!.stdout);
    const status = JSON.parse(outs[statusKey]!.stdout) as StatusReport;
    for (const p of report.packages)
      for (const v of p.versions) {
        const k = `${p.name}@${v.version}`;
        const e = last.get(k);
        const want = LEDGER_OF[v.outcome.key];
        if (!want) {
          // excluded, skipped: never touched by a run, never in the ledger
          expect([k, e?.outcome]).toEqual([k, undefined]);
          continue;
        }
        expect([k, e?.outcome]).toEqual([k, want(v.outcome.code)]);
        // the files' hashes the report shows are the ones the ledger computed
        const computed = (e!.hashes?.computed ?? {}) as Record<string, { sha256: string; sha512: string }>;
        for (const f of v.files) expect([k, f.name, computed[f.name]?.sha256, computed[f.name]?.sha512]).toEqual([k, f.name, f.sha256, f.sha512]);
        if (v.outcome.key === 'conflict' && v.outcome.targetSha512) {
          expect([k, e!.target.conflictingSha512]).toEqual([k, v.outcome.targetSha512]);
          const file = e!.target.conflictingFile as string | undefined;
          if (file) expect([k, computed[file]?.sha512]).toEqual([k, v.outcome.ourSha512]);
        }
      }
    // status says the same of failures and conflicts
    const byOutcome = (key: string) => report.packages.flatMap((p) => p.versions.filter((v) => v.outcome.key === key).map((v) => `${p.name}@${v.version}`)).sort();
    expect(status.failures.map((f) => `${f.package}@${f.version}`).sort()).toEqual(byOutcome('failed'));
    expect(status.conflicts.map((c) => `${c.package}@${c.version}`).sort()).toEqual(byOutcome('conflict'));
    for (const c of status.conflicts) {
      const v = report.packages.find((p) => p.name === c.package)!.versions.find((x) => x.version === c.version)!;
      expect([c.ourSha512, c.targetSha512]).toEqual([v.outcome.ourSha512, v.outcome.targetSha512]);
    }
    expect(status.states.verified ?? 0).toBe(byOutcome('verified').length);
    expect(status.states['present-identical'] ?? 0).toBe(byOutcome('present-identical').length);
  };

  it('after the run: every outcome in the report is the last ledger entry of its version, with the same hashes; left-out versions have none', () => {
    expect(outs.ledger!.code, outs.ledger!.stderr).toBe(0);
    agree('report', 'ledger', 'status');
    // the CSV names the same versions with the same outcomes
    const csv = outs.csv!.stdout.trim().split('\n').slice(1).map((l) => l.split('","').map((c) => c.replace(/^"|"$/g, '')));
    const fromCsv = new Map(csv.filter((c) => c[8]).map((c) => [`${c[7]}@${c[8]}`, c[5]]));
    expect(fromCsv).toEqual(new Map([...lastEntries(outs.ledger!.stdout)].map(([k, e]) => [k, e.outcome])));
  });

  it('after a tag of a failed version moved: the conflict the report shows is in the ledger too', () => {
    expect(brief(json('report2'))[`${MOD}@v1.5.0`]).toBe('conflict ETAGMOVED');
    agree('report2', 'ledger2', 'status2');
  });
});
