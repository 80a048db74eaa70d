/**
 * `report JOB` of a run: a run audits neither the domain's setup nor the dependency-confusion
 * exposure (a `plan` does). A run report used to carry neither and could say "GO: nothing blocks
 * cutover" with a store lacking its external connection, which security then signed off. It now
 * carries the audit of the latest plan of the job, labelled as that plan's with its date (not a
 * check made now), with the same findings; with no plan at all, the ENOAUDIT warning says so.
 */
import { CreateRepositoryCommand } from '@aws-sdk/client-codeartifact';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../src/report/model.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { seedPackages } from './support/npm-fixtures.js';

let te: TestEnv;

beforeAll(async () => {
  // the npm and pypi stores have no external connection: the plan's audit fails their checks
  te = await startTestEnv({ layout: { storeWithoutConnection: true }, publicRegistries: true });
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [
    { name: '@runonly/lib', versions: ['1.0.0'] },
    { name: '@planned/lib', versions: ['1.0.0', '1.1.0'] },
    { name: '@moved/lib', versions: ['1.0.0'] },
  ]);
}, 120_000);
afterAll(async () => {
  await te?.stop();
});

async function report(job: string, out: string): Promise<{ code: number | null; report: Report; markdown: string; stdout: string }> {
  const r = await te.cli(['report', job, '--json', '--out', join(te.dir, out)]);
  const report = JSON.parse(r.stdout) as Report;
  const markdown = readFileSync(join(te.dir, out, readdirSync(join(te.dir, out)).find((f) => f.endsWith('.md'))!), 'utf8');
  return { code: r.code, report, markdown, stdout: r.stdout };
}

describe('a report of a run', () => {
  it('of a job only ever run, never planned: REVIEW (exit 0), the ENOAUDIT warning saying to plan it before cutover', async () => {
    const job = te.writeJob({ name: 'run-only', privateNpm: { packages: ['@runonly/lib'] }, github: false });
    expect((await te.run(job)).exitCode).toBe(0);
    const { code, report: r } = await report(job, 'reports-run-only');
    expect(r.kind).toBe('run');
    expect(r.preflight).toBeNull();
    expect(r.exposure).toBeNull();
    expect(r.findings.map((f) => [f.severity, f.code])).toEqual([['warning', 'ENOAUDIT']]);
    expect(r.findings[0]!.action).toBe(`plan it before cutover: cam plan ${job}`);
    expect(r.verdict.status).toBe('review');
    expect(code).toBe(0);
  });

  it("after a plan whose audit found the store without its external connection: NO-GO, carrying that failed check, labelled as that plan's audit with its date", async () => {
    const job = te.writeJob({ name: 'planned', privateNpm: { packages: ['@planned/lib'] }, github: false });
    const planned = await te.cli(['plan', job, '--json', '--out', join(te.dir, 'reports-planned-plan')]);
    const plan = JSON.parse(planned.stdout) as Report;
    expect(plan.preflight!.checks.find((c) => c.id === 'npm-store-connection')?.status).toBe('fail');
    expect(planned.code).toBe(1);
    const planRun = plan.run!.id;

    expect((await te.run(job)).exitCode).toBe(0);
    const { code, report: r, markdown, stdout } = await report(job, 'reports-planned-run');
    expect(r.kind).toBe('run');
    expect(r.run!.id).toBeGreaterThan(planRun);
    // the plan's audit, as the plan made it
    expect(r.preflight).toEqual(plan.preflight);
    expect(r.exposure).toEqual(plan.exposure);
    // said to be the plan's, of its date, not a check made now
    // and made from this same job file (its path and SHA-256, as the report's own)
    expect(r.auditFrom).toEqual({ runId: planRun, at: plan.exposure!.checkedAt, ageSeconds: expect.any(Number), jobFile: { path: job, sha256: r.job.sha256 } });
    expect(r.auditFrom!.ageSeconds).toBeGreaterThanOrEqual(0);
    const store = r.findings.find((f) => f.code === 'PREFLIGHT:npm-store-connection')!;
    expect(store).toMatchObject({ severity: 'critical', section: 'preflight' });
    expect(store.title).toContain(`plan #${planRun}`);
    expect(store.title).toContain(plan.exposure!.checkedAt!);
    expect(r.findings.map((f) => f.code)).not.toContain('ENOAUDIT');
    expect(r.verdict.status).toBe('no-go');
    expect(code).toBe(1);
    expect(markdown).toContain(`from plan #<!-- -->${planRun}`);
    expect(stdout).not.toContain('"auditFrom":null');
  });

  it('after a plan, then a run that moved the state to another target (--retarget): that plan audited the old target, so nothing is carried and ENOAUDIT says to plan', async () => {
    const job = te.writeJob({ name: 'moved', privateNpm: { packages: ['@moved/lib'] }, github: false });
    expect((await te.cli(['plan', job, '--json', '--out', join(te.dir, 'reports-moved-plan')])).code).toBe(1);
    const d = te.sandbox.descriptor.codeartifact;
    await te.client.send(new CreateRepositoryCommand({ domain: d.domain, domainOwner: d.domainOwner, repository: 'npm-moved' }));
    const doc = parse(readFileSync(job, 'utf8')) as { target: { repositories: Record<string, { internal: string }> } };
    doc.target.repositories.npm!.internal = 'npm-moved';
    writeFileSync(job, stringify(doc));
    expect((await te.run(job, { retarget: true })).exitCode).toBe(0);
    const { code, report: r } = await report(job, 'reports-moved-run');
    expect(r.auditFrom ?? null).toBeNull();
    expect(r.preflight).toBeNull();
    expect(r.findings.map((f) => f.code).sort()).toEqual(['ENOAUDIT', 'ETARGETCHANGED']);
    expect(r.verdict.status).toBe('review');
    expect(code).toBe(0);
  });
});
