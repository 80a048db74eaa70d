/**
 * The plan's hardening section names everything harden would do or leave, not only the
 * per-package origin changes: the package group it would create for an internal scope
 * (`hardening.packageGroups`), the group of the same pattern it leaves because someone else
 * made it (and why), and the package it keeps publish BLOCK (and why). Before, the report
 * listed the origin changes alone: the group went unseen by whoever signed off, and the kept
 * package only showed up later as EPUBLISHBLOCKED failures. In all three forms, from one model.
 */
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreatePackageGroupCommand, PutPackageOriginConfigurationCommand, UpdatePackageGroupOriginConfigurationCommand } from '@aws-sdk/client-codeartifact';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../src/report/model.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { seedPackages } from './support/npm-fixtures.js';

let te: TestEnv;
let job: string;
let report: Report;
const base = { domain: 'acme', domainOwner: '111122223333' };
const files = (dir: string) => {
  const names = readdirSync(dir);
  const read = (ext: string) => readFileSync(join(dir, names.find((f) => f.endsWith(`.${ext}`))!), 'utf8');
  return { json: JSON.parse(read('json')) as Report, md: read('md'), html: read('html') };
};

beforeAll(async () => {
  te = await startTestEnv({ publicRegistries: true });
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [
    { name: '@acme/app', versions: ['1.0.0'] },
    { name: '@acme/frozen', versions: ['1.0.0'] },
    { name: '@other/lib', versions: ['1.0.0'] },
  ]);
  // frozen on purpose by its owner: harden keeps its publish BLOCK
  await te.client.send(new PutPackageOriginConfigurationCommand({ ...base, repository: 'npm-internal', format: 'npm', namespace: 'acme', package: 'frozen', restrictions: { publish: 'BLOCK', upstream: 'BLOCK' } }));
  // another team's group for @other: harden leaves it
  await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/other/*', contactInfo: 'platform@example.com' }));
  // someone's exception under @acme: names starting beta- are associated with it, not with /npm/acme/*
  await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/acme/beta~', contactInfo: 'beta-team@example.com' }));
  await te.client.send(new UpdatePackageGroupOriginConfigurationCommand({ ...base, packageGroup: '/npm/acme/beta~', restrictions: { EXTERNAL_UPSTREAM: 'ALLOW' } }));
  job = te.writeJob({ name: 'groups', privateNpm: { packages: ['@acme/app', '@acme/frozen', '@other/lib'] }, github: false });
  appendFileSync(job, 'hardening:\n  packageGroups: true\n');
  const out = await te.cli(['plan', job, '--json', '--out', join(te.dir, 'plan-out')]);
  report = JSON.parse(out.stdout) as Report;
}, 300_000);
afterAll(async () => {
  await te?.stop();
});

describe('plan with hardening.packageGroups and a package kept publish BLOCK', () => {
  it('the JSON names the group to create, the group left with why, and the kept package with why', () => {
    const h = report.hardening!;
    expect(h.groups).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ pattern: '/npm/acme/*', status: 'planned', before: null, after: 'EXTERNAL_UPSTREAM BLOCK' }),
        expect.objectContaining({ pattern: '/npm/other/*', status: 'left', before: 'EXTERNAL_UPSTREAM INHERIT (applies as ALLOW)', after: null, reason: expect.stringContaining('platform@example.com') }),
        // the scope's group to be made does not reach the names a more specific group covers
        expect.objectContaining({ pattern: '/npm/acme/beta~', status: 'left', before: 'EXTERNAL_UPSTREAM ALLOW', reason: expect.stringContaining('more specific than /npm/acme/*') }),
      ]),
    );
    expect(h.kept).toEqual([expect.objectContaining({ format: 'npm', package: '@acme/frozen', repository: 'npm-internal', publish: 'BLOCK', reason: expect.stringContaining('publish BLOCK was set before harden') })]);
    // a group pattern is no package: not among the origin changes
    expect(h.changes.map((c) => c.package)).not.toContain('/npm/acme/*');
  });

  it('the Markdown and HTML files name them too', () => {
    const { json, md, html } = files(join(te.dir, 'plan-out'));
    expect(json.hardening).toEqual(report.hardening);
    // the Markdown breaks every @ (no mention, no mail link): read it back whole
    for (const text of [md.replace(/@<!-- -->/g, '@'), html]) {
      expect(text).toContain('/npm/acme/*');
      expect(text).toContain('/npm/other/*');
      expect(text).toContain('platform@example.com');
      expect(text).toContain('publish BLOCK was set before harden');
    }
  });

  it('`report` of the plan says the same', async () => {
    const r = await te.cli(['report', job, '--json', '--out', join(te.dir, 'report-out')]);
    const again = JSON.parse(r.stdout) as Report;
    expect(again.hardening).toEqual(report.hardening);
  });
});
