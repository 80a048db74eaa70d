/**
 * `plan --no-download` compares with the target by its listings only. A version the target
 * already lists is not one "to publish": the report says the target lists it (with the
 * status it lists it with, Archived or Unlisted too), bytes not compared, and counts those
 * apart from the versions the target does not list. Never GO on bytes not compared.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../src/report/model.js';
import { z } from 'zod';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { makeTarball, publishVersion, seedPackages } from './support/npm-fixtures.js';

let te: TestEnv;
let job: string;
let nd: { code: number | null; stdout: string; stderr: string };
let after: { code: number | null; stdout: string; stderr: string };
let reportCmd: { code: number | null; stdout: string; stderr: string };

beforeAll(async () => {
  te = await startTestEnv();
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: '@acme/nd', versions: ['1.0.0', '1.1.0', '1.2.0', '1.3.0'] }]);
  const token = await te.targetToken();
  const ep = te.sandbox.descriptor.codeartifact.npmEndpoint;
  for (const v of ['1.0.0', '1.1.0', '1.2.0']) await publishVersion(ep, token, '@acme/nd', v, await makeTarball('@acme/nd', v));
  te.sandbox.standIn.setVersionStatus('npm-internal', 'npm', 'acme', 'nd', '1.1.0', 'Archived');
  te.sandbox.standIn.setVersionStatus('npm-internal', 'npm', 'acme', 'nd', '1.2.0', 'Unlisted');
  job = te.writeJob({ name: 'nd', privateNpm: { packages: ['@acme/nd'] }, github: false });
  nd = await te.cli(['plan', job, '--no-download', '--json', '--out', join(te.dir, 'nd')]);
  // the report command, reading the state the plan left
  reportCmd = await te.cli(['report', job, '--json', '--out', join(te.dir, 'rep')]);
  // a full plan after it: what it learned by downloading replaces the listing's word
  after = await te.cli(['plan', job, '--json', '--out', join(te.dir, 'full')]);
}, 300_000);
afterAll(() => te?.stop());

const versions = (r: Report) => Object.fromEntries(r.packages.flatMap((p) => p.versions.map((v) => [v.version, v.outcome])));

describe('plan --no-download: versions the target already lists', () => {
  it('each version says whether the target lists it, and with which status; bytes not compared', () => {
    expect(nd.code, nd.stderr).not.toBeNull();
    const r = JSON.parse(nd.stdout) as Report;
    const v = versions(r);
    expect(v['1.0.0']).toMatchObject({ key: 'unchecked', targetStatus: 'Published' });
    expect(v['1.1.0']).toMatchObject({ key: 'unchecked', targetStatus: 'Archived' });
    expect(v['1.2.0']).toMatchObject({ key: 'unchecked', targetStatus: 'Unlisted' });
    expect(v['1.3.0']).toMatchObject({ key: 'unchecked', targetStatus: null });
    expect(v['1.0.0']!.reason).toMatch(/listed on the target \(Published\).*bytes not compared/);
    expect(v['1.1.0']!.reason).toMatch(/Archived/);
    expect(v['1.1.0']!.hint).toMatch(/Published/);
    expect(v['1.3.0']!.reason).toMatch(/not on the target/);
  });

  it('totals count the versions the target lists apart from those it does not; the verdict does not count them to publish and is never GO', () => {
    const r = JSON.parse(nd.stdout) as Report;
    expect(r.totals.byOutcome.unchecked!.versions).toBe(4);
    expect(r.totals.uncheckedOnTarget).toMatchObject({ versions: 3 });
    expect(r.verdict.status).not.toBe('go');
    expect(r.verdict.headline).toMatch(/1 version\(s\) to publish/);
    expect(r.verdict.headline).toMatch(/3 listed on the target, bytes not compared/);
    expect(r.findings.map((f) => f.code)).toContain('EUNCHECKED');
    // the estimate counts only what the target does not list
    expect(r.estimate?.work.versions).toBe(1);
  });

  it('the JSON validates against the schema, and Markdown and HTML say it too', () => {
    const r = JSON.parse(nd.stdout) as Report;
    const schema = JSON.parse(readFileSync(new URL('../src/report/schema.json', import.meta.url), 'utf8')) as never;
    expect(z.fromJSONSchema(schema).safeParse(r).error?.issues ?? []).toEqual([]);
    const dir = join(te.dir, 'nd');
    const md = readdirSync(dir).find((f) => f.endsWith('.md'))!;
    const html = readdirSync(dir).find((f) => f.endsWith('.html'))!;
    expect(readFileSync(join(dir, md), 'utf8')).toMatch(/listed on the target \(Archived\)/);
    expect(readFileSync(join(dir, html), 'utf8')).toMatch(/listed on the target \(Archived\)/);
    expect(r.schemaVersion).toBe(1);
  });

  it('the report command reads it from the state the plan left', () => {
    const r = JSON.parse(reportCmd.stdout) as Report;
    expect(versions(r)['1.1.0']).toMatchObject({ key: 'unchecked', targetStatus: 'Archived' });
    expect(r.totals.uncheckedOnTarget).toMatchObject({ versions: 3 });
  });

  it('a later full plan does not carry the listing over', () => {
    const r = JSON.parse(after.stdout) as Report;
    for (const o of Object.values(versions(r))) expect(o.targetStatus).toBeNull();
    expect(r.totals.uncheckedOnTarget ?? { versions: 0 }).toMatchObject({ versions: 0 });
  });
});
