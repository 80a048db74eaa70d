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
import { CreatePackageGroupCommand, ListAllowedRepositoriesForGroupCommand, UpdatePackageGroupOriginConfigurationCommand } from '@aws-sdk/client-codeartifact';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harden as hardenEngine } from '../src/engine/harden.js';
import { Limiter } from '../src/engine/limiter.js';
import { CodeArtifact } from '../src/targets/codeartifact.js';
import { Domain } from '../src/targets/domain.js';
import { createTarget } from '../src/targets/index.js';
import type { Format } from '../src/types.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { seedPackages } from './support/npm-fixtures.js';

let te: TestEnv;
const base = { domain: 'acme', domainOwner: '111122223333' };
const MUTATING = /^(Publish|Put|Create|Update|Delete|Dispose|Associate|Disassociate|Copy|npm:Publish)/;
const lastSeq = () => te.sandbox.standIn.log.at(-1)?.seq ?? 0;

const newCa = () => new CodeArtifact({ region: 'us-east-1', ...base, repositories: {} } as never, new Limiter({ publish: 1000, getAsset: 1000, list: 1000, reads: 2000, writes: 1000 }), te.client);

async function hardenNames(packages: { format: Format; name: string }[], dryRun = false) {
  const ca = newCa();
  const repos: Record<Format, string> = { npm: 'npm-internal', pypi: 'pypi-internal', generic: 'go-internal' };
  return hardenEngine(ca, (f) => createTarget(f, ca, repos[f]), packages, { dryRun, packageGroups: false, retries: 2, signal: new AbortController().signal });
}

beforeAll(async () => {
  te = await startTestEnv({});
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [
    { name: '@locked/lib', versions: ['1.0.0'] },
    { name: '@heir/lib', versions: ['1.0.0'] },
    { name: '@acme/free', versions: ['1.0.0'] },
    { name: '@picky/lib', versions: ['1.0.0'] },
    { name: '@kin/lib', versions: ['1.0.0'] },
    { name: '@listed/lib', versions: ['1.0.0'] },
  ]);
  // another team's groups: @locked blocks publishing itself; @heir inherits it from /npm/heir~
  await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/locked/*', contactInfo: 'security@example.com' }));
  await te.client.send(new UpdatePackageGroupOriginConfigurationCommand({ ...base, packageGroup: '/npm/locked/*', restrictions: { PUBLISH: 'BLOCK' } }));
  await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/heir~' }));
  await te.client.send(new UpdatePackageGroupOriginConfigurationCommand({ ...base, packageGroup: '/npm/heir~', restrictions: { PUBLISH: 'BLOCK' } }));
  await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/heir/*' }));
  // groups whose PUBLISH allows specific repositories only: @picky lists another repository,
  // @kin inherits such a list (without npm-internal) from /npm/kin~, @listed lists npm-internal
  const allowOnly = (packageGroup: string, repositories: string[]) =>
    te.client.send(
      new UpdatePackageGroupOriginConfigurationCommand({
        ...base,
        packageGroup,
        restrictions: { PUBLISH: 'ALLOW_SPECIFIC_REPOSITORIES' },
        addAllowedRepositories: repositories.map((repositoryName) => ({ repositoryName, originRestrictionType: 'PUBLISH' as const })),
      }),
    );
  await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/picky/*', contactInfo: 'release@example.com' }));
  await allowOnly('/npm/picky/*', ['npm-store']);
  await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/kin~' }));
  await allowOnly('/npm/kin~', ['pypi-internal', 'go-internal', 'npm-store']);
  await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/kin/*' }));
  await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/listed/*' }));
  await allowOnly('/npm/listed/*', ['npm-store', 'npm-internal']);
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

describe('a package group whose PUBLISH allows specific repositories only', () => {
  it('harden keeps a package whose internal repository is not in the list (set on its group or inherited), names the group and the command that adds it; one in the list is not kept', async () => {
    const r = await hardenNames([
      { format: 'npm', name: '@picky/lib' },
      { format: 'npm', name: '@kin/lib' },
      { format: 'npm', name: '@listed/lib' },
    ], true);
    expect(r.errors).toEqual([]);
    expect(r.kept.map((k) => `${k.package} ${k.repository} ${k.publish}`)).toEqual(['@kin/lib npm-internal BLOCK', '@picky/lib npm-internal BLOCK']);
    const picky = r.kept.find((k) => k.package === '@picky/lib')!.reason;
    expect(picky).toContain('/npm/picky/*');
    expect(picky).toContain('ALLOW_SPECIFIC_REPOSITORIES');
    expect(picky).toContain("aws codeartifact update-package-group-origin-configuration --package-group '/npm/picky/*' --add-allowed-repositories originRestrictionType=PUBLISH,repositoryName=npm-internal");
    // the list that applies is the parent's: the command adds the repository there
    const kin = r.kept.find((k) => k.package === '@kin/lib')!.reason;
    expect(kin).toContain('/npm/kin/*');
    expect(kin).toContain("--package-group '/npm/kin~' --add-allowed-repositories originRestrictionType=PUBLISH,repositoryName=npm-internal");
  });

  it('a principal that may not list a group\'s allowed repositories still gets every package protected (nothing known, nothing kept)', async () => {
    te.sandbox.standIn.addFault({ operation: 'ListAllowedRepositoriesForGroup', status: 403, errorType: 'AccessDeniedException' });
    const since = lastSeq();
    try {
      const r = await hardenNames([
        { format: 'npm', name: '@picky/other' },
        { format: 'npm', name: '@listed/other' },
      ]);
      expect(r.errors).toEqual([]);
      expect(r.kept).toEqual([]);
      expect(r.changes.map((c) => `${c.package} ${c.to.publish}/${c.to.upstream} ${c.applied}`)).toEqual(['@listed/other ALLOW/BLOCK true', '@picky/other ALLOW/BLOCK true']);
      // asked, and refused: not a list that came back empty
      const asked = te.sandbox.standIn.log.filter((e) => e.seq > since && e.operation === 'ListAllowedRepositoriesForGroup');
      expect(asked.map((e) => `${e.query['package-group']} ${e.query['originRestrictionType']} ${e.status}`).sort()).toEqual(['/npm/listed/* PUBLISH 403', '/npm/picky/* PUBLISH 403']);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
  });

  it('a plan and a run send nothing into the packages it keeps: EPUBLISHBLOCKED naming the group, not a refused credential; the listed one is published', async () => {
    const job = te.writeJob({ name: 'grouppicky', privateNpm: { packages: ['@picky/lib', '@kin/lib', '@listed/lib'] }, github: false });
    const plan = await te.run(job, { dryRun: true });
    expect(plan.failures.map((f) => `${f.package}@${f.version} ${f.code}`).sort()).toEqual(['@kin/lib@1.0.0 EPUBLISHBLOCKED', '@picky/lib@1.0.0 EPUBLISHBLOCKED']);
    const since = lastSeq();
    const s = await te.run(job);
    expect(s.exitCode).toBe(1);
    expect(s.failures.map((f) => `${f.package}@${f.version} ${f.code}`).sort()).toEqual(['@kin/lib@1.0.0 EPUBLISHBLOCKED', '@picky/lib@1.0.0 EPUBLISHBLOCKED']);
    expect(s.failures.find((f) => f.package === '@picky/lib')!.message).toMatch(/--add-allowed-repositories originRestrictionType=PUBLISH,repositoryName=npm-internal/);
    const sent = te.sandbox.standIn.log.filter((e) => e.seq > since && e.operation === 'npm:Publish');
    expect(sent.map((e) => e.package)).toEqual(['@listed/lib']);
    const state = te.openState('grouppicky');
    try {
      expect(Object.fromEntries(state.items().map((r) => [r.package, r.state]))).toEqual({ '@picky/lib': 'failed', '@kin/lib': 'failed', '@listed/lib': 'verified' });
    } finally {
      state.close();
    }
  });

  it('ListAllowedRepositoriesForGroup lists a group\'s own list page by page; an unknown group is ResourceNotFoundException, a missing restriction type a ValidationException', async () => {
    const domain = new Domain(newCa());
    expect(await domain.allowedRepositories('/npm/kin~', 'PUBLISH', 2)).toEqual(['go-internal', 'npm-store', 'pypi-internal']);
    expect(await domain.allowedRepositories('/npm/kin/*', 'PUBLISH')).toEqual([]);
    expect(await domain.allowedRepositories('/npm/kin~', 'EXTERNAL_UPSTREAM')).toEqual([]);
    const pages = await te.client.send(new ListAllowedRepositoriesForGroupCommand({ ...base, packageGroup: '/npm/kin~', originRestrictionType: 'PUBLISH', maxResults: 2 }));
    expect(pages.allowedRepositories).toEqual(['go-internal', 'npm-store']);
    expect(pages.nextToken).toEqual(expect.any(String));
    await expect(te.client.send(new ListAllowedRepositoriesForGroupCommand({ ...base, packageGroup: '/npm/nobody/*', originRestrictionType: 'PUBLISH' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(te.client.send(new ListAllowedRepositoriesForGroupCommand({ ...base, packageGroup: '/npm/kin~', originRestrictionType: undefined as never }))).rejects.toMatchObject({ name: 'ValidationException' });
  });
});
