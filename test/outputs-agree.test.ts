/**
 * After the same run, the numbers a user reads agree: the run's own summary (JSON and
 * terminal), `status`, and `report` tell one story per version — what the job asks for now
 * is counted, and what it no longer asks for is listed apart, never counted as selected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { humanSummary } from '../src/cli/run.js';
import { readStatus } from '../src/cli/status.js';
import { seedPackages } from './support/npm-fixtures.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { reportInProcess } from './support/report-in-process.js';

let te: TestEnv;

beforeAll(async () => {
  te = await startTestEnv();
});
afterAll(async () => {
  await te?.stop();
});

const report = (jobFile: string) => reportInProcess(te, jobFile);

describe('a package migrated whole, then taken out of the job file', () => {
  it('is counted nowhere by the run that sets it aside: its summary, status and the report give the same selected and on-target counts', async () => {
    const { privateNpm } = te.sandbox;
    await seedPackages(privateNpm.url, privateNpm.token, [
      { name: '@agree/kept', versions: ['1.0.0', '1.0.1'] },
      { name: '@agree/gone', versions: ['1.0.0', '1.0.1', '1.0.2'] },
    ]);
    const whole = te.writeJob({ name: 'agree-drop', privateNpm: { scopes: ['@agree'] }, github: false });
    expect((await te.run(whole)).exitCode).toBe(0);

    const onlyKept = te.writeJob({ name: 'agree-drop', privateNpm: { packages: ['@agree/kept'], scopes: [] }, github: false });
    const s = await te.run(onlyKept);
    expect(s.exitCode).toBe(0);
    expect(s.notInJob).toEqual([{ source: 'private-npm', package: '@agree/gone', why: 'not-named', onTarget: 3, notMigrated: [], publishBegun: [], unsettled: [] }]);

    const st = readStatus(onlyKept, te.stateDir);
    expect(st.total).toBe(2);
    expect(st.states.verified).toBe(2);
    // the run's own figures: only what the job asks for now
    expect({ selected: s.selected, complete: s.complete, verified: s.states.verified ?? 0 }).toEqual({ selected: st.total, complete: 2, verified: st.states.verified });
    expect(humanSummary(s)).toContain('2/2 selected versions are on the target');

    const r = await report(onlyKept);
    expect(r.code).toBe(0);
    expect(r.report.verdict.headline).toContain('2 of 2 selected version(s) on the target and verified');
    // the dropped package's versions: left out, said to be on the target, no warning of half a version
    const gone = r.report.packages.find((p) => p.name === '@agree/gone')!;
    expect(gone.versions.map((v) => [v.outcome.key, v.outcome.state, v.outcome.code])).toEqual(['1.0.0', '1.0.1', '1.0.2'].map(() => ['excluded', 'verified', 'ENOTINJOB']));
    expect(gone.versions[0]!.outcome.reason).toContain('on the target (verified), where it stays');
    expect(r.report.findings.map((f) => f.code)).not.toContain('ELEFTOUTONTARGET');
  });
});

describe('origin controls the run could not set', () => {
  it('exit 1 is said on the terminal: the summary names the package and why, as `harden` does', async () => {
    const { privateNpm } = te.sandbox;
    await seedPackages(privateNpm.url, privateNpm.token, [{ name: '@agreeh/locked', versions: ['1.0.0'] }]);
    te.sandbox.standIn.addFault({ operation: 'PutPackageOriginConfiguration', package: 'locked', status: 400 });
    try {
      const s = await te.run(te.writeJob({ name: 'agree-harden', privateNpm: { scopes: ['@agreeh'] }, github: false }));
      expect(s.hardening?.errors.map((e) => e.package)).toEqual(['@agreeh/locked']);
      expect(s.exitCode).toBe(1);
      const human = humanSummary(s);
      expect(human).toMatch(/ORIGIN CONTROLS NOT SET @agreeh\/locked \(npm\): \S/);
      // and the report of that run says the same (a critical finding, exit 1)
      const r = await report(te.writeJob({ name: 'agree-harden', privateNpm: { scopes: ['@agreeh'] }, github: false }));
      expect(r.report.findings.find((f) => f.code === 'EHARDENING')?.subjects).toEqual(['@agreeh/locked']);
      expect(r.code).toBe(1);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
  });
});
