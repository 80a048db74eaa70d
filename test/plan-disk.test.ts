/**
 * `plan` whose report cannot be written (its --out on a full disk) after the plan itself ran:
 * the dry run and the audit are kept in the state, so the report is one `cam report` away.
 * A plan can take an hour (every version downloaded and checked): the error must say so,
 * not send the operator to run the whole plan again. The full disk is a real one: a small
 * tmpfs, filled up, mounted in a user and mount namespace of the CLI child's own.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../src/report/model.js';
import { cliInMounts, fullTmpfs } from './support/disk-mounts.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { seedPackages } from './support/npm-fixtures.js';

let te: TestEnv;
beforeAll(async () => {
  te = await startTestEnv();
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: '@acme/planfull', versions: ['1.0.0', '1.1.0'] }]);
}, 300_000);
afterAll(async () => {
  await te?.stop();
});

const STACK_LINE = /^\s+at .+:\d+:\d+\)?$/m;

describe('plan whose report finds the disk full', () => {
  it('ELOCAL naming the report, whose hint says `report` writes it from the state; report then does, without planning again', async () => {
    const job = te.writeJob({ name: 'planfull', privateNpm: { packages: ['@acme/planfull'] }, github: false });
    const out = join(te.dir, 'full-reports');
    mkdirSync(out);
    const { code, stdout, stderr } = await cliInMounts(fullTmpfs(out), ['--state-dir', te.stateDir, 'plan', job, '--out', out, '--json'], { cwd: te.dir, env: { ...process.env, ...te.env } });
    expect(code, stderr).toBe(1);
    expect(stderr).not.toMatch(STACK_LINE);
    const error = (JSON.parse(stdout) as { error: { code: string; message: string; hint: string } }).error;
    expect(error.code).toBe('ELOCAL');
    expect(error.message).toContain(join(out, 'planfull-plan-'));
    expect(error.hint).toContain(`report ${job}`);
    // the mount was the child's: the folder here is as it was
    expect(readdirSync(out)).toEqual([]);
    const since = te.sandbox.standIn.log.length;
    const r = await te.cli(['report', job, '--out', join(te.dir, 'reports'), '--json']);
    expect(r.code, r.stderr).toBeLessThan(2);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.kind).toBe('plan');
    expect(report.totals.versions).toBe(2);
    // written from the state: nothing asked of the target or the source again
    expect(te.sandbox.standIn.log.length).toBe(since);
  }, 120_000);
});
