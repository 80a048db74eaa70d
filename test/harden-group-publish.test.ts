/**
 * A package group someone else set that blocks publishing (PUBLISH BLOCK, set on the group or
 * inherited from a parent): CodeArtifact applies the stricter of the package's own origin
 * configuration and its group's (a BLOCK on either side blocks), so an internal package whose own
 * configuration says publish ALLOW still cannot be published. Harden says so, as it does for a
 * package's own publish BLOCK, and a run sends nothing into it: each version fails
 * EPUBLISHBLOCKED, the other packages migrate, and the run is not stopped as if its credentials
 * had been refused.
 * https://docs.aws.amazon.com/codeartifact/latest/ug/package-group-origin-controls.html
 */
import { CreatePackageGroupCommand, UpdatePackageGroupOriginConfigurationCommand } from '@aws-sdk/client-codeartifact';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harden as hardenEngine } from '../src/engine/harden.js';
import { Limiter } from '../src/engine/limiter.js';
import { CodeArtifact } from '../src/targets/codeartifact.js';
import { createTarget } from '../src/targets/index.js';
import type { Format } from '../src/types.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { seedPackages } from './support/npm-fixtures.js';

let te: TestEnv;
const base = { domain: 'acme', domainOwner: '111122223333' };
const MUTATING = /^(Publish|Put|Create|Update|Delete|Dispose|Associate|Disassociate|Copy|npm:Publish)/;
const lastSeq = () => te.sandbox.standIn.log.at(-1)?.seq ?? 0;

async function hardenNames(packages: { format: Format; name: string }[], dryRun = false) {
  const ca = new CodeArtifact({ region: 'us-east-1', ...base, repositories: {} } as never, new Limiter({ publish: 1000, getAsset: 1000, list: 1000, reads: 2000, writes: 1000 }), te.client);
  const repos: Record<Format, string> = { npm: 'npm-internal', pypi: 'pypi-internal', generic: 'go-internal' };
  return hardenEngine(ca, (f) => createTarget(f, ca, repos[f]), packages, { dryRun, packageGroups: false, retries: 2, signal: new AbortController().signal });
}

beforeAll(async () => {
  te = await startTestEnv({});
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [
    { name: '@locked/lib', versions: ['1.0.0'] },
    { name: '@heir/lib', versions: ['1.0.0'] },
    { name: '@acme/free', versions: ['1.0.0'] },
  ]);
  // another team's groups: @locked blocks publishing itself; @heir inherits it from /npm/heir~
  await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/locked/*', contactInfo: 'security@example.com' }));
  await te.client.send(new UpdatePackageGroupOriginConfigurationCommand({ ...base, packageGroup: '/npm/locked/*', restrictions: { PUBLISH: 'BLOCK' } }));
  await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/heir~' }));
  await te.client.send(new UpdatePackageGroupOriginConfigurationCommand({ ...base, packageGroup: '/npm/heir~', restrictions: { PUBLISH: 'BLOCK' } }));
  await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/heir/*' }));
}, 120_000);
afterAll(async () => {
  await te?.stop();
});

describe('a package group that blocks publishing', () => {
  it('harden keeps the package protected from upstreams and names the group that blocks publishing it', async () => {
    const r = await hardenNames([
      { format: 'npm', name: '@locked/lib' },
      { format: 'npm', name: '@heir/lib' },
      { format: 'npm', name: '@acme/free' },
    ], true);
    expect(r.errors).toEqual([]);
    expect(r.kept.map((k) => k.package)).toEqual(['@heir/lib', '@locked/lib']);
    expect(r.kept.find((k) => k.package === '@locked/lib')!.reason).toContain('/npm/locked/*');
    expect(r.kept.find((k) => k.package === '@heir/lib')!.reason).toContain('/npm/heir/*');
  });

  it('a principal that may not read package groups still gets every package protected (nothing is known of the group, nothing kept)', async () => {
    te.sandbox.standIn.addFault({ operation: 'GetAssociatedPackageGroup', status: 403, errorType: 'AccessDeniedException' });
    try {
      const r = await hardenNames([
        { format: 'npm', name: '@locked/other' },
        { format: 'npm', name: '@acme/other' },
      ]);
      expect(r.errors).toEqual([]);
      expect(r.kept).toEqual([]);
      expect(r.changes.map((c) => `${c.package} ${c.to.publish}/${c.to.upstream} ${c.applied}`)).toEqual(['@acme/other ALLOW/BLOCK true', '@locked/other ALLOW/BLOCK true']);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
  });

  it('a run sends nothing into those packages: EPUBLISHBLOCKED for each, the others migrate', async () => {
    const job = te.writeJob({ name: 'grouplocked', privateNpm: { packages: ['@locked/lib', '@heir/lib', '@acme/free'] }, github: false });
    const since = lastSeq();
    const s = await te.run(job);
    expect(s.exitCode).toBe(1);
    expect(s.failures.map((f) => `${f.package}@${f.version} ${f.code}`).sort()).toEqual(['@heir/lib@1.0.0 EPUBLISHBLOCKED', '@locked/lib@1.0.0 EPUBLISHBLOCKED']);
    const sent = te.sandbox.standIn.log.filter((e) => e.seq > since && e.operation === 'npm:Publish');
    expect(sent.map((e) => e.package)).toEqual(['@acme/free']);
    const state = te.openState('grouplocked');
    try {
      expect(Object.fromEntries(state.items().map((r) => [r.package, r.state]))).toEqual({ '@locked/lib': 'failed', '@heir/lib': 'failed', '@acme/free': 'verified' });
    } finally {
      state.close();
    }
    void MUTATING;
  });
});
