/**
 * The job file a report was made from, by path and SHA-256 of its bytes, in every form: a reviewer
 * who signed off a plan must be able to tell whether the run report comes from the same job file.
 * A run report carries the latest plan's domain audit: it must say when the job file differs from
 * the one that plan was made with, which internal names that audit never checked (added since),
 * and never carry an audit of other repositories than the job names now as if it were theirs.
 */
import { CreateRepositoryCommand, AssociateExternalConnectionCommand } from '@aws-sdk/client-codeartifact';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../src/report/model.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { seedPackages } from './support/npm-fixtures.js';

let te: TestEnv;

beforeAll(async () => {
  te = await startTestEnv({ publicRegistries: true });
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [
    { name: '@same/lib', versions: ['1.0.0'] },
    { name: '@grown/lib', versions: ['1.0.0'] },
    { name: '@grown/added', versions: ['1.0.0'] },
    { name: '@renamed/lib', versions: ['1.0.0'] },
    { name: '@twin/lib', versions: ['1.0.0'] },
    { name: '@twin/other', versions: ['1.0.0'] },
  ]);
}, 120_000);
afterAll(async () => {
  await te?.stop();
});

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

async function cli(cmd: 'plan' | 'report', job: string, out: string): Promise<{ code: number | null; report: Report; markdown: string; html: string; stderr: string }> {
  const r = await te.cli([cmd, job, '--json', '--out', join(te.dir, out)]);
  expect(r.stderr).not.toContain('    at ');
  const dir = join(te.dir, out);
  const file = (ext: string) => readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith(ext))!), 'utf8');
  return { code: r.code, report: JSON.parse(r.stdout) as Report, markdown: file('.md'), html: file('.html'), stderr: r.stderr };
}

const codes = (r: Report) => r.findings.map((f) => f.code).sort();

describe('the job file a report was made from', () => {
  it('a plan and the run report of the same job file: both name its path and SHA-256 in JSON, Markdown and HTML, and the run report says the carried audit is of that same file', async () => {
    const job = te.writeJob({ name: 'same', privateNpm: { packages: ['@same/lib'] }, github: false });
    const hash = sha256(job);
    const p = await cli('plan', job, 'same-plan');
    expect(p.report.job).toEqual({ name: 'same', file: job, sha256: hash });
    for (const text of [p.markdown, p.html]) expect(text).toContain(hash);
    expect(p.markdown).toContain(job);

    expect((await te.run(job)).exitCode).toBe(0);
    const r = await cli('report', job, 'same-run');
    expect(r.report.job).toEqual({ name: 'same', file: job, sha256: hash });
    for (const text of [r.markdown, r.html]) expect(text).toContain(hash);
    expect(r.report.auditFrom).toMatchObject({ runId: p.report.run!.id, jobFile: { path: job, sha256: hash } });
    expect(codes(r.report)).not.toContain('EJOBCHANGED');
    expect(codes(r.report)).toEqual(codes(p.report));
  });

  it('a package added to the job after the plan: the run report says the job file differs from the plan\'s and names the package as neither audited nor exposure-checked (REVIEW, plan again)', async () => {
    const before = te.writeJob({ name: 'grown', privateNpm: { packages: ['@grown/lib'] }, github: false });
    const planHash = sha256(before);
    const p = await cli('plan', before, 'grown-plan');
    // the only finding: origin controls not set yet (the run sets them)
    expect(codes(p.report)).toEqual(['PREFLIGHT:origin-controls']);
    const after = te.writeJob({ name: 'grown', privateNpm: { packages: ['@grown/lib', '@grown/added'] }, github: false });
    const runHash = sha256(after);
    expect(runHash).not.toBe(planHash);
    expect((await te.run(after)).exitCode).toBe(0);
    const r = await cli('report', after, 'grown-run');
    expect(r.report.job.sha256).toBe(runHash);
    expect(r.report.auditFrom).toMatchObject({ jobFile: { sha256: planHash } });
    const changed = r.report.findings.find((f) => f.code === 'EJOBCHANGED')!;
    expect(changed).toMatchObject({ severity: 'warning' });
    expect(`${changed.title} ${changed.detail}`).toContain(planHash.slice(0, 12));
    expect(changed.action).toContain(`cam plan ${after}`);
    const gap = r.report.findings.find((f) => f.code === 'ENOTAUDITED')!;
    expect(gap).toMatchObject({ severity: 'warning', subjects: ['@grown/added'] });
    expect(gap.action).toContain(`cam plan ${after}`);
    expect(codes(r.report)).toEqual(['EJOBCHANGED', 'ENOTAUDITED', 'PREFLIGHT:origin-controls']);
    expect(r.report.verdict.status).toBe('review');
    expect(r.code).toBe(0);
  });

  it('a store repository renamed in the job after the plan: that plan audited another store, so its audit is not carried as this one\'s (REVIEW, plan again)', async () => {
    const job = te.writeJob({ name: 'renamed', privateNpm: { packages: ['@renamed/lib'] }, github: false });
    const p = await cli('plan', job, 'renamed-plan');
    expect(codes(p.report)).toEqual(['PREFLIGHT:origin-controls']);
    const d = te.sandbox.descriptor.codeartifact;
    await te.client.send(new CreateRepositoryCommand({ domain: d.domain, domainOwner: d.domainOwner, repository: 'npm-store-2' }));
    await te.client.send(new AssociateExternalConnectionCommand({ domain: d.domain, domainOwner: d.domainOwner, repository: 'npm-store-2', externalConnection: 'public:npmjs' }));
    const doc = parse(readFileSync(job, 'utf8')) as { target: { repositories: Record<string, { store?: string }> } };
    doc.target.repositories.npm!.store = 'npm-store-2';
    writeFileSync(job, stringify(doc));
    expect((await te.run(job)).exitCode).toBe(0);
    const r = await cli('report', job, 'renamed-run');
    expect(r.report.auditFrom ?? null).toBeNull();
    expect(r.report.preflight).toBeNull();
    expect(r.report.exposure).toBeNull();
    const none = r.report.findings.find((f) => f.code === 'ENOAUDIT')!;
    expect(none.title).toContain(`plan (#${p.report.run!.id}) audited other repositories: npm store npm-store (now npm-store-2)`);
    expect(none.title).toContain('npm-store-2');
    expect(codes(r.report)).toEqual(['ENOAUDIT']);
    expect(r.report.verdict.status).toBe('review');
  });

  it('two job files of one name and state directory: the report of the second says the run it is of was made from the other file (by path and SHA-256), never passing its rows off as its own', async () => {
    const first = te.writeJob({ name: 'twin', privateNpm: { packages: ['@twin/lib'] }, github: false });
    const firstHash = sha256(first);
    expect((await te.run(first)).exitCode).toBe(0);
    const other = join(te.dir, 'elsewhere-twin.yaml');
    const doc = parse(readFileSync(first, 'utf8')) as { sources: { packages: string[] }[] };
    doc.sources[0]!.packages = ['@twin/lib', '@twin/other'];
    writeFileSync(other, stringify(doc));
    const r = await cli('report', other, 'twin-other');
    expect(r.report.job).toEqual({ name: 'twin', file: other, sha256: sha256(other) });
    const changed = r.report.findings.find((f) => f.code === 'EJOBCHANGED')!;
    expect(changed).toBeDefined();
    expect(`${changed.title} ${changed.detail}`).toContain(first);
    expect(`${changed.title} ${changed.detail}`).toContain(firstHash.slice(0, 12));
    expect(r.report.verdict.status).not.toBe('go');
    // the first file's own report: the same bytes as its run, nothing to say
    const own = await cli('report', first, 'twin-first');
    expect(codes(own.report)).not.toContain('EJOBCHANGED');
  });
});
