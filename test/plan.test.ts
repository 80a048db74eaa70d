/**
 * `plan` on a sandbox set up with every kind of trouble a cutover meets: new
 * versions, identical versions, a conflicting version, a source 404, a store
 * without its external connection, a shared repository reading store before
 * internal, and an internal name that also exists on the public registry.
 * The plan reports each exactly, and the stand-in's log shows no mutating
 * request. Then `harden`, twice.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribePackageCommand } from '@aws-sdk/client-codeartifact';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../src/report/model.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { makeTarball, publishVersion, seedPackages } from './support/npm-fixtures.js';

let te: TestEnv;
let job: string;
let report: Report;
let planLog: { method: string; operation: string }[];
let planOut: { code: number | null; stdout: string; stderr: string };

/** Requests that change something: anything but reads. */
const MUTATING = /^(Publish|Put|Create|Update|Delete|Dispose|Associate|Disassociate|Copy|npm:(Publish|DistTag(Set|Delete)|Deprecate)|pypi:Upload)/;

beforeAll(async () => {
  te = await startTestEnv({ layout: { storeWithoutConnection: true, sharedListsStoreFirst: true }, publicRegistries: true });
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [
    { name: '@acme/fresh', versions: ['1.0.0', '1.1.0'] },
    { name: '@acme/mixed', versions: ['1.0.0', '1.1.0', '1.2.0'] },
    // the internal name that also exists publicly
    { name: 'acme-shared-utils', versions: ['3.0.0'] },
  ]);
  await te.sandbox.publicRegistries!.npm.publish('acme-shared-utils', '9.9.9');
  const token = await te.targetToken();
  const npmEndpoint = te.sandbox.descriptor.codeartifact.npmEndpoint;
  // 1.0.0 already there with the same bytes, 1.1.0 with other bytes
  await publishVersion(npmEndpoint, token, '@acme/mixed', '1.0.0', await makeTarball('@acme/mixed', '1.0.0'));
  await publishVersion(npmEndpoint, token, '@acme/mixed', '1.1.0', await makeTarball('@acme/mixed', '1.1.0', { extraFiles: { 'other.js': 'x' } }));
  job = te.writeJob({ name: 'plan', privateNpm: { packages: ['@acme/fresh', '@acme/mixed', 'acme-shared-utils', '@acme/missing'] }, github: false });
  // the job asks the sandbox's public registry whether internal names exist publicly (the harness names it)
  expect(readFileSync(job, 'utf8')).toContain(`npm: ${te.sandbox.publicRegistries!.npm.url}`);
  const since = te.sandbox.standIn.log.length;
  planOut = await te.cli(['plan', job, '--json']);
  planLog = te.sandbox.standIn.log.slice(since);
  report = JSON.parse(planOut.stdout) as Report;
}, 300_000);
afterAll(async () => {
  await te?.stop();
});

describe('plan', () => {
  it('sends the target no mutating request at all', () => {
    expect(planLog.length).toBeGreaterThan(10);
    expect(planLog.filter((e) => MUTATING.test(e.operation) || (e.method !== 'GET' && !/^(List|Describe|Get)/.test(e.operation) && e.operation !== 'GetAuthorizationToken' && !e.operation.startsWith('sts:') && !e.operation.includes('ServiceQuota')))).toEqual([]);
  });

  it('plans every version exactly: publish, present-identical, conflict with both hashes, the source 404', () => {
    const byVersion = Object.fromEntries(report.packages.flatMap((p) => p.versions.map((v) => [`${p.name}@${v.version}`, v.outcome.key])));
    expect(byVersion).toMatchObject({
      '@acme/fresh@1.0.0': 'publish',
      '@acme/fresh@1.1.0': 'publish',
      '@acme/mixed@1.0.0': 'present-identical',
      '@acme/mixed@1.1.0': 'conflict',
      '@acme/mixed@1.2.0': 'publish',
      'acme-shared-utils@3.0.0': 'publish',
    });
    const conflict = report.packages.find((p) => p.name === '@acme/mixed')!.versions.find((v) => v.version === '1.1.0')!;
    expect(JSON.stringify(conflict)).toMatch(/[0-9a-f]{128}.*[0-9a-f]{128}/);
    expect(JSON.stringify(report)).toContain('ESOURCENOTFOUND');
    expect(report.packages.find((p) => p.name === '@acme/missing') ?? report.findings.find((f) => f.code.includes('ESOURCENOTFOUND') || JSON.stringify(f).includes('@acme/missing'))).toBeTruthy();
  });

  it('audits the domain: the store without its connection, the shared repository reading store first', () => {
    const checks = Object.fromEntries(report.preflight!.checks.map((c) => [c.id, c.status]));
    expect(checks).toMatchObject({ principal: 'ok', token: 'ok', 'npm-internal': 'ok', 'npm-store-connection': 'fail', 'npm-shared-order': 'fail', 'pypi-store-connection': 'fail', 'pypi-shared-order': 'fail' });
    expect(report.preflight!.principalArn).toMatch(/^arn:aws:/);
  });

  it('finds the internal name that exists on the public registry, and says what protects it', () => {
    const exposed = report.exposure!.names.filter((n) => n.existsPublicly);
    expect(exposed.map((n) => n.name)).toEqual(['acme-shared-utils']);
    expect(exposed[0]).toMatchObject({ latestPublic: '9.9.9', status: 'exposed' });
    expect(report.exposure!.names.filter((n) => !n.existsPublicly).map((n) => n.name).sort()).toEqual(['@acme/fresh', '@acme/mixed']);
  });

  it('says no-go, exits 1, and writes the three report files', () => {
    expect(report.verdict.status).toBe('no-go');
    expect(planOut.code).toBe(1);
    const critical = report.findings.filter((f) => f.severity === 'critical').map((f) => f.code);
    expect(critical.length).toBeGreaterThanOrEqual(3);
    expect(report.hardening!.changes.filter((c) => c.status === 'planned').map((c) => c.package).sort()).toEqual(expect.arrayContaining(['fresh', 'acme-shared-utils'].map((n) => expect.stringContaining(n))));
    const files = readdirSync(join(te.stateDir, 'reports')).filter((f) => f.startsWith('plan-plan-'));
    expect(files.map((f) => f.split('.').pop()).sort()).toEqual(['html', 'json', 'md']);
    const html = readFileSync(join(te.stateDir, 'reports', files.find((f) => f.endsWith('.html'))!), 'utf8');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=["']https?:/);
    expect(html).toContain('acme-shared-utils');
  });

  it('`report` of the plan says what the plan said: its audit of the domain and the exposure, the same findings, the same verdict and exit code', async () => {
    const r = await te.cli(['report', job, '--json', '--out', join(te.dir, 'report-of-plan')]);
    const again = JSON.parse(r.stdout) as Report;
    expect(again.kind).toBe('plan');
    expect(again.preflight).toEqual(report.preflight);
    expect(again.exposure).toEqual(report.exposure);
    expect(again.findings.map((f) => [f.severity, f.code, f.count])).toEqual(report.findings.map((f) => [f.severity, f.code, f.count]));
    expect(again.verdict).toEqual(report.verdict);
    expect(r.code).toBe(planOut.code);
  });

  it('--no-target needs no AWS at all: no request reaches the stand-in', async () => {
    const since = te.sandbox.standIn.log.length;
    const r = await te.cli(['plan', job, '--no-target', '--json'], { AWS_ACCESS_KEY_ID: ['AKIA', 'NOTUSEDATALL0000'].join(''), AWS_ENDPOINT_URL_CODEARTIFACT: 'http://127.0.0.1:9' });
    expect(te.sandbox.standIn.log.length).toBe(since);
    const noTarget = JSON.parse(r.stdout) as Report;
    expect(noTarget.preflight).toBeNull();
    expect(noTarget.packages.flatMap((p) => p.versions).length).toBeGreaterThan(5);
  });

  it('--no-target is never GO: the target was not read (conflicts, versions there, its setup, origin controls unknown), and neither the plan nor its report says a protection holds', async () => {
    // nothing wrong that the sources alone could show: only the target could
    const clean = te.writeJob({ name: 'plan-clean', privateNpm: { packages: ['@acme/fresh', '@acme/mixed'] }, github: false });
    const r = await te.cli(['plan', clean, '--no-target', '--json', '--out', join(te.dir, 'no-target')]);
    const planned = JSON.parse(r.stdout) as Report;
    // @acme/mixed 1.1.0 is a conflict on the target: unseen, so the plan must not say GO
    expect(planned.verdict.status).toBe('review');
    expect(planned.findings.map((f) => [f.severity, f.code])).toContainEqual(['warning', 'ENOTARGET']);
    for (const n of planned.exposure?.names ?? []) for (const p of n.protections) expect([n.name, p.kind, p.effective]).toEqual([n.name, p.kind, false]);
    const again = JSON.parse((await te.cli(['report', clean, '--json', '--out', join(te.dir, 'no-target-report')])).stdout) as Report;
    expect(again.verdict).toEqual(planned.verdict);
    expect(again.findings.map((f) => f.code)).toContain('ENOTARGET');
  });
});

describe('harden', () => {
  it('sets publish ALLOW / upstream BLOCK on every internal package; a second harden sends no write', async () => {
    const first = await te.cli(['harden', job, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const result = JSON.parse(first.stdout) as { changes: { package: string }[]; errors: unknown[] };
    expect(result.errors).toEqual([]);
    const names = ['@acme/fresh', '@acme/mixed', 'acme-shared-utils', '@acme/missing'];
    for (const name of names) {
      const [scope, pkg] = name.startsWith('@') ? name.slice(1).split('/') : [undefined, name];
      const out = await te.client.send(new DescribePackageCommand({ domain: 'acme', domainOwner: '111122223333', repository: 'npm-internal', format: 'npm', namespace: scope, package: pkg! }));
      expect([name, out.package?.originConfiguration?.restrictions]).toEqual([name, { publish: 'ALLOW', upstream: 'BLOCK' }]);
    }
    const since = te.sandbox.standIn.log.length;
    const second = await te.cli(['harden', job, '--json']);
    expect(second.code).toBe(0);
    expect((JSON.parse(second.stdout) as { changes: unknown[]; unchanged: number }).changes).toEqual([]);
    expect(te.sandbox.standIn.log.slice(since).filter((e) => MUTATING.test(e.operation))).toEqual([]);
  });

  it('estimates at the rates the account applies (publish raised to 40/s), saying so, not at the defaults the job leaves unset', async () => {
    te.sandbox.standIn.setQuotas({ publish: 40 });
    try {
      const raised = te.writeJob({ name: 'plan-raised', privateNpm: { packages: ['@acme/fresh'] }, github: false, limits: { concurrency: 4, retries: 6, rates: {} } });
      const out = await te.cli(['plan', raised, '--json']);
      const r = JSON.parse(out.stdout) as Report;
      const publish = r.estimate!.components.find((c) => c.name === 'publish-rate')!;
      expect(publish.detail).toBe("2 upload(s) at 40/s (the account's applied quota)");
      expect(publish.seconds).toBe(0.1);
      expect(r.estimate!.components.find((c) => c.name === 'writes-rate')!.detail).toContain("(the account's applied quota)");
    } finally {
      te.sandbox.standIn.setQuotas(false);
    }
  });
});
