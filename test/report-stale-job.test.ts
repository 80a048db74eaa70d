/**
 * `report JOB` reads the state a run left and judges it by the job file as it is now. A job file
 * edited after that run asks for versions no run has looked at: a report must not call them fine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../src/report/index.js';
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

/** A report of the run as the job was: nothing to object to but ENOAUDIT (the job was never planned, so nobody audited the domain). */
function onlyUnaudited(r: { code: number; report: Report }): void {
  expect(r.report.findings.map((f) => f.code)).toEqual(['ENOAUDIT']);
  expect(r.report.verdict.status).toBe('review');
  expect(r.code).toBe(0);
}

const report = (jobFile: string) => reportInProcess(te, jobFile);

describe('a job file edited after the run the report is of', () => {
  it('a package and a scope added to an npm source: never listed, so the report is NO-GO naming them', async () => {
    const { privateNpm } = te.sandbox;
    await seedPackages(privateNpm.url, privateNpm.token, [
      { name: '@stale/first', versions: ['1.0.0'] },
      { name: '@stale/added', versions: ['1.0.0', '2.0.0'] },
    ]);
    const before = te.writeJob({ name: 'stale-pkg', privateNpm: { packages: ['@stale/first'] }, github: false });
    expect((await te.run(before)).exitCode).toBe(0);
    onlyUnaudited(await report(before));

    const after = te.writeJob({ name: 'stale-pkg', privateNpm: { packages: ['@stale/first', '@stale/added'], scopes: ['@stale-scope'] }, github: false });
    const r = await report(after);
    expect(r.report.findings).toContainEqual(expect.objectContaining({ code: 'ENAMENOTLISTED', severity: 'critical', subjects: ['private-npm: @stale/added', 'private-npm: @stale-scope/*'] }));
    expect(r.report.verdict.status).toBe('no-go');
    expect(r.code).toBe(1);
  });

  it('an exclude filter removed: the versions it left out are selected now and not on the target, so a run report counts them not done (NO-GO), never excluded', async () => {
    const { privateNpm } = te.sandbox;
    await seedPackages(privateNpm.url, privateNpm.token, [{ name: '@stale2/lib', versions: ['1.0.0', '1.0.1'] }]);
    const before = te.writeJob({ name: 'stale-filter', privateNpm: { packages: ['@stale2/lib'] }, github: false, filters: { exclude: ['@stale2/lib@1.0.0'] } });
    const s0 = await te.run(before);

    expect(s0.exitCode).toBe(0);
    onlyUnaudited(await report(before));

    const after = te.writeJob({ name: 'stale-filter', privateNpm: { packages: ['@stale2/lib'] }, github: false, filters: {} });
    const r = await report(after);
    const v = r.report.packages.find((p) => p.name === '@stale2/lib')!.versions.find((x) => x.version === '1.0.0')!;
    expect(v.outcome).toMatchObject({ key: 'not-done', state: 'excluded' });
    expect(r.report.findings).toContainEqual(expect.objectContaining({ code: 'ENOTDONE', severity: 'critical', subjects: ['@stale2/lib@1.0.0'] }));
    expect(r.report.verdict.headline).toContain('1 of 2 selected version(s) on the target');
    expect(r.report.verdict.status).toBe('no-go');
    expect(r.code).toBe(1);
  });
});
