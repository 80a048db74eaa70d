/**
 * The harden engine against a counting fake target. How many internal packages it says it
 * looked at: one per coordinate, whatever spelling or source named it. And when its
 * ledger entry cannot be written (disk full, a state that refuses writes): the
 * change it records happened on the target, so harden stops there instead of changing
 * every other package with no entry for any of them (README: every change goes into
 * the ledger, with what it was; ELOCAL stops the command at once).
 */
import { DescribePackageCommand, GetAssociatedPackageGroupCommand, PutPackageOriginConfigurationCommand, type CodeartifactClient } from '@aws-sdk/client-codeartifact';
import { describe, expect, it } from 'vitest';
import { loadJob } from '../src/config/load.js';
import { harden } from '../src/engine/harden.js';
import { Limiter } from '../src/engine/limiter.js';
import { MigrateError } from '../src/errors.js';
import { CodeArtifact } from '../src/targets/codeartifact.js';
import { createTarget } from '../src/targets/index.js';
import { fakeClient } from './support/fake-client.js';

/** A target where every package exists, upstream ALLOW, and every change is counted. */
function fakeTarget(): { client: CodeartifactClient; puts: string[] } {
  const puts: string[] = [];
  const client = fakeClient(async (cmd) => {
    await new Promise((r) => setTimeout(r, 2));
    if (cmd instanceof DescribePackageCommand) return { package: { originConfiguration: { restrictions: { publish: 'ALLOW', upstream: 'ALLOW' } } } };
    if (cmd instanceof PutPackageOriginConfigurationCommand) {
      puts.push(cmd.input.package!);
      return { originConfiguration: { restrictions: cmd.input.restrictions } };
    }
    throw new Error(`unexpected ${(cmd as object).constructor.name}`);
  });
  return { client, puts };
}

describe('harden when its ledger entry cannot be written', () => {
  it('stops with that error: the packages not started yet are not changed with no entry; what was changed is what was recorded or in flight', async () => {
    const job = loadJob('jobs/example.yaml');
    const { client, puts } = fakeTarget();
    const ca = new CodeArtifact(job.config.target, new Limiter({}), client);
    const packages = Array.from({ length: 200 }, (_, i) => ({ format: 'npm' as const, name: `pkg-${i}` }));
    const recorded: string[] = [];
    const full = new MigrateError('ELOCAL', 'cannot write the state database state/x.sqlite: database or disk is full (SQLITE_FULL)');
    const run = harden(ca, (f) => createTarget(f, ca, job.config.target.repositories[f]!.internal), packages, {
      dryRun: false,
      packageGroups: false,
      retries: 2,
      signal: new AbortController().signal,
      onApplied: (c) => {
        if (recorded.length >= 5) throw full;
        recorded.push(c.package);
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'ELOCAL' });
    // the queue runs 32 at a time: those in flight when the disk filled may end; no later one starts
    expect(puts.length).toBeLessThan(5 + 32 + 1);
  });
});

describe('harden counts packages', () => {
  it('once per coordinate: two spellings of one PyPI project, and one npm name two sources list, are one package each', async () => {
    const job = loadJob('jobs/example.yaml');
    const { client, puts } = fakeTarget();
    const ca = new CodeArtifact(job.config.target, new Limiter({}), client);
    const packages = [
      { format: 'pypi' as const, name: 'Acme_Billing' },
      { format: 'pypi' as const, name: 'acme-billing' },
      { format: 'npm' as const, name: '@acme/core' },
      { format: 'npm' as const, name: '@acme/core' },
      { format: 'npm' as const, name: '@acme/utils' },
    ];
    const result = await harden(ca, (f) => createTarget(f, ca, job.config.target.repositories[f]!.internal), packages, { dryRun: false, packageGroups: false, retries: 2, signal: new AbortController().signal });
    expect(result.packages).toBe(3);
    expect(result.changes.length + result.unchanged).toBe(3);
    expect(puts.sort()).toEqual(['acme-billing', 'core', 'utils']);
  });
});

describe('harden never loosens what it could not read', () => {
  // DescribePackage answered 200 but its origin configuration is missing or holds a value the
  // model does not have (a proxy answering for the service, a partial answer, a value added to
  // the API later): the package may be publish BLOCK on purpose. Reading that as ALLOW and
  // writing publish ALLOW would loosen it on a guess.
  it.each([
    ['no originConfiguration', {}],
    ['no publish restriction', { originConfiguration: { restrictions: { upstream: 'ALLOW' } } }],
    ['a publish value the model does not have', { originConfiguration: { restrictions: { publish: 'block', upstream: 'ALLOW' } } }],
    ['an upstream value the model does not have', { originConfiguration: { restrictions: { publish: 'BLOCK', upstream: 'SOMETIMES' } } }],
  ])('%s: nothing written, the package is an error naming it, the others are hardened', async (_what, pkg) => {
    const job = loadJob('jobs/example.yaml');
    const puts: string[] = [];
    const client = fakeClient(async (cmd) => {
      if (cmd instanceof DescribePackageCommand) return { package: cmd.input.package === 'odd' ? pkg : { originConfiguration: { restrictions: { publish: 'ALLOW', upstream: 'ALLOW' } } } };
      if (cmd instanceof PutPackageOriginConfigurationCommand) {
        puts.push(cmd.input.package!);
        return { originConfiguration: { restrictions: cmd.input.restrictions } };
      }
      // the root group, which allows everything
      if (cmd instanceof GetAssociatedPackageGroupCommand) return { packageGroup: { pattern: '/*', originConfiguration: { restrictions: { PUBLISH: { mode: 'ALLOW', effectiveMode: 'ALLOW' } } } } };
      throw new Error(`unexpected ${(cmd as object).constructor.name}`);
    });
    const ca = new CodeArtifact(job.config.target, new Limiter({}), client);
    const result = await harden(ca, (f) => createTarget(f, ca, job.config.target.repositories[f]!.internal), [{ format: 'npm', name: 'odd' }, { format: 'npm', name: 'plain' }], { dryRun: false, packageGroups: false, retries: 0, signal: new AbortController().signal });
    expect(puts).toEqual(['plain']);
    expect(result.changes.map((c) => c.package)).toEqual(['plain']);
    expect(result.errors).toEqual([expect.objectContaining({ package: 'odd', code: 'ETARGET', message: expect.stringContaining('odd') })]);
  });
});
