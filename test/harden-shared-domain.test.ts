/**
 * `harden` on a shared CodeArtifact domain, the way a careless operator or an
 * attacker meets it: settings someone else made stricter on purpose, another
 * team's package group, a half-made domain, a low write quota, a second copy
 * of the tool. Harden never loosens; what it changes it says and records in
 * the ledger; a second harden sends no write (the stand-in's log says so).
 */
import {
  CreatePackageGroupCommand,
  DescribePackageCommand,
  DescribePackageGroupCommand,
  GetAssociatedPackageGroupCommand,
  PutPackageOriginConfigurationCommand,
  UpdatePackageGroupOriginConfigurationCommand,
} from '@aws-sdk/client-codeartifact';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hardenCommand } from '../src/cli/harden.js';
import type { Io } from '../src/cli/output.js';
import { harden as hardenEngine, type HardenResult } from '../src/engine/harden.js';
import { Limiter } from '../src/engine/limiter.js';
import { acquireLock } from '../src/state/lock.js';
import { CodeArtifact } from '../src/targets/codeartifact.js';
import { createTarget } from '../src/targets/index.js';
import type { Format } from '../src/types.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { seedPackages } from './support/npm-fixtures.js';

let te: TestEnv;
const base = { domain: 'acme', domainOwner: '111122223333' };
const MUTATING = /^(Publish|Put|Create|Update|Delete|Dispose|Associate|Disassociate|Copy)/;

async function hardenCli(job: string, args: { dryRun?: boolean; packageGroups?: boolean } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io = { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) } } as unknown as Io;
  const code = await hardenCommand(job, { json: true, dryRun: args.dryRun, packageGroups: args.packageGroups, stateDir: te.stateDir, env: te.env, codeartifactClient: te.client }, io);
  return { code, out: out.join(''), err: err.join('') };
}

/** The engine alone, on names no source has to hold (scopes with pattern characters, ...). */
async function hardenNames(packages: { format: Format; name: string }[], opts: { dryRun?: boolean; packageGroups?: boolean; scopes?: string[] } = {}): Promise<HardenResult> {
  const ca = new CodeArtifact({ region: 'us-east-1', ...base, repositories: {} } as never, new Limiter({ publish: 1000, getAsset: 1000, list: 1000, reads: 2000, writes: 1000 }), te.client);
  const repos: Record<Format, string> = { npm: 'npm-internal', pypi: 'pypi-internal', generic: 'go-internal' };
  return hardenEngine(ca, (f) => createTarget(f, ca, repos[f]), packages, { dryRun: opts.dryRun ?? false, packageGroups: opts.packageGroups ?? false, ...(opts.scopes ? { scopes: opts.scopes } : {}), retries: 2, signal: new AbortController().signal });
}

async function origin(name: string, repository = 'npm-internal') {
  const [scope, pkg] = name.startsWith('@') ? name.slice(1).split('/') : [undefined, name];
  const out = await te.client.send(new DescribePackageCommand({ ...base, repository, format: 'npm', namespace: scope, package: pkg! }));
  return out.package?.originConfiguration?.restrictions;
}

const group = async (pattern: string) => (await te.client.send(new DescribePackageGroupCommand({ ...base, packageGroup: pattern }))).packageGroup!;
const writesSince = (since: number) => te.sandbox.standIn.log.filter((e) => e.seq > since && MUTATING.test(e.operation));
const lastSeq = () => te.sandbox.standIn.log.at(-1)?.seq ?? 0;

function ledger(jobName: string): Record<string, any>[] {
  const state = te.openState(jobName);
  try {
    return (state.db.prepare('SELECT entry FROM ledger ORDER BY seq').all() as { entry: string }[]).map((r) => JSON.parse(r.entry) as Record<string, any>);
  } finally {
    state.close();
  }
}

beforeAll(async () => {
  te = await startTestEnv({});
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [
    { name: '@acme/frozen', versions: ['1.0.0'] },
    { name: '@acme/open', versions: ['1.0.0'] },
  ]);
}, 120_000);
afterAll(async () => {
  await te?.stop();
});

describe('harden never loosens', () => {
  it('keeps a publish BLOCK someone set on purpose, blocks upstreams, says so and records what it was', async () => {
    const job = te.writeJob({ name: 'frozen', privateNpm: { packages: ['@acme/frozen', '@acme/open'] }, github: false });
    await te.client.send(new PutPackageOriginConfigurationCommand({ ...base, repository: 'npm-internal', format: 'npm', namespace: 'acme', package: 'frozen', restrictions: { publish: 'BLOCK', upstream: 'ALLOW' } }));
    const r = await hardenCli(job);
    expect(r.code, r.err).toBe(0);
    expect(await origin('@acme/frozen')).toEqual({ publish: 'BLOCK', upstream: 'BLOCK' });
    expect(await origin('@acme/open')).toEqual({ publish: 'ALLOW', upstream: 'BLOCK' });
    const result = JSON.parse(r.out) as HardenResult;
    expect(result.changes.find((c) => c.package === '@acme/frozen')).toMatchObject({ from: { publish: 'BLOCK', upstream: 'ALLOW' }, to: { publish: 'BLOCK', upstream: 'BLOCK' }, applied: true });
    expect(result.kept).toEqual([expect.objectContaining({ package: '@acme/frozen', publish: 'BLOCK' })]);
    const entry = ledger('frozen').find((e) => e['package'] === '@acme/frozen')!;
    expect(entry['target']).toMatchObject({ set: { publish: 'BLOCK', upstream: 'BLOCK' } });
    expect(entry['detail']).toContain('publish BLOCK, upstream ALLOW');
    // a publish BLOCK with upstream BLOCK already: nothing to write, still said
    const since = lastSeq();
    const again = JSON.parse((await hardenCli(job)).out) as HardenResult;
    expect(writesSince(since)).toEqual([]);
    expect(again.changes).toEqual([]);
    expect(again.kept.map((k) => k.package)).toEqual(['@acme/frozen']);
  });

  it('a run then sends nothing into the package it kept blocked: each version fails EPUBLISHBLOCKED with the fix, the plan says so too, the others migrate', async () => {
    const job = te.writeJob({ name: 'frozen', privateNpm: { packages: ['@acme/frozen', '@acme/open'] }, github: false });
    const plan = await te.run(job, { dryRun: true });
    expect(plan.failures).toEqual([expect.objectContaining({ package: '@acme/frozen', version: '1.0.0', code: 'EPUBLISHBLOCKED' })]);
    const since = lastSeq();
    const s = await te.run(job);
    expect(s.exitCode).toBe(1);
    expect(s.failures).toEqual([expect.objectContaining({ package: '@acme/frozen', version: '1.0.0', code: 'EPUBLISHBLOCKED' })]);
    expect(s.failures[0]!.message).toMatch(/put-package-origin-configuration/);
    const sent = te.sandbox.standIn.log.filter((e) => e.seq > since && e.operation === 'npm:Publish');
    expect(sent.map((e) => e.package)).toEqual(['@acme/open']);
    const state = te.openState('frozen');
    try {
      expect(Object.fromEntries(state.items().map((r) => [r.package, r.state]))).toEqual({ '@acme/frozen': 'failed', '@acme/open': 'verified' });
    } finally {
      state.close();
    }
  });
});

describe('package groups on a shared domain', () => {
  it("leaves another owner's group of the same pattern as it is, says so, and a second harden writes nothing", async () => {
    await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/team-b/*', contactInfo: 'platform@example.com', description: 'team B: fetched from npmjs through npm-store only' }));
    await te.client.send(
      new UpdatePackageGroupOriginConfigurationCommand({
        ...base,
        packageGroup: '/npm/team-b/*',
        restrictions: { PUBLISH: 'BLOCK', EXTERNAL_UPSTREAM: 'ALLOW_SPECIFIC_REPOSITORIES' },
        addAllowedRepositories: [{ repositoryName: 'npm-store', originRestrictionType: 'EXTERNAL_UPSTREAM' }],
      }),
    );
    const before = JSON.stringify(await group('/npm/team-b/*'));
    const since = lastSeq();
    const r = await hardenNames([{ format: 'npm', name: '@team-b/ui' }], { packageGroups: true });
    expect(r.errors).toEqual([]);
    expect(r.groups).toEqual([]);
    expect(r.groupsLeft).toEqual([expect.objectContaining({ pattern: '/npm/team-b/*', reason: expect.stringContaining('platform@example.com') })]);
    expect(JSON.stringify(await group('/npm/team-b/*'))).toBe(before);
    expect(writesSince(since).map((e) => e.operation)).toEqual(['PutPackageOriginConfiguration']);
  });

  it('reads a group that inherits BLOCK as blocking: no write to it', async () => {
    await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/inh~', description: 'parent' }));
    await te.client.send(new UpdatePackageGroupOriginConfigurationCommand({ ...base, packageGroup: '/npm/inh~', restrictions: { EXTERNAL_UPSTREAM: 'BLOCK' } }));
    await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/inherits/*', description: 'codeartifact-migrate: made earlier' }));
    const since = lastSeq();
    const r = await hardenNames([{ format: 'npm', name: '@inherits/a' }], { packageGroups: true });
    expect([r.groups, r.groupsLeft, r.errors]).toEqual([[], [], []]);
    expect(writesSince(since).map((e) => e.operation)).toEqual(['PutPackageOriginConfiguration']);
  });

  it('creates its own group once; a package with a more specific group does not make every harden write again', async () => {
    // someone's exact group on one of the job's names: the package is associated with it, not with /npm/grp/*
    await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/grp/special$', contactInfo: 'someone@example.com' }));
    const names = [{ format: 'npm' as const, name: '@grp/special' }, { format: 'npm' as const, name: '@grp/other' }];
    const first = await hardenNames(names, { packageGroups: true });
    expect(first.groups).toEqual([{ pattern: '/npm/grp/*', applied: true, from: 'absent' }]);
    expect((await group('/npm/grp/*')).originConfiguration?.restrictions?.EXTERNAL_UPSTREAM?.mode).toBe('BLOCK');
    const since = lastSeq();
    const second = await hardenNames(names, { packageGroups: true });
    expect([second.changes, second.groups, second.groupsLeft, second.errors]).toEqual([[], [], [], []]);
    expect(writesSince(since)).toEqual([]);
  });

  it("gives a group to every scope the job names internal, also one with no package yet: the scope is the company's before its first package is", async () => {
    const r = await hardenNames([{ format: 'npm', name: '@started/a' }], { packageGroups: true, scopes: ['@started', '@unborn'] });
    expect(r.groups.map((g) => g.pattern).sort()).toEqual(['/npm/started/*', '/npm/unborn/*']);
    expect((await group('/npm/unborn/*')).originConfiguration?.restrictions?.EXTERNAL_UPSTREAM?.mode).toBe('BLOCK');
    // once made, left alone
    const since = lastSeq();
    const again = await hardenNames([{ format: 'npm', name: '@started/a' }], { packageGroups: true, scopes: ['@started', '@unborn'] });
    expect([again.groups, again.groupsLeft, again.errors]).toEqual([[], [], []]);
    expect(writesSince(since)).toEqual([]);
  });

  it('harden JOB --package-groups reads those scopes from the job: a source scope with no package on its registry gets its group', async () => {
    const job = te.writeJob({ name: 'unborn-scope', privateNpm: { packages: ['@acme/open'], scopes: ['@acme-next'] }, github: false });
    const r = await hardenCli(job, { packageGroups: true });
    expect(r.code, r.err).toBe(0);
    expect((await group('/npm/acme-next/*')).originConfiguration?.restrictions?.EXTERNAL_UPSTREAM?.mode).toBe('BLOCK');
  });

  it("names a more specific group under a scope's group that lets public packages in: the scope's BLOCK does not reach the names it covers (one that inherits the BLOCK is no hole)", async () => {
    // someone's exceptions under @subs: CodeArtifact associates a package with its MOST specific group
    const make = async (pattern: string, restrictions: Record<string, string>, repos: string[] = []) => {
      await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: pattern, contactInfo: 'team-c@example.com' }));
      await te.client.send(
        new UpdatePackageGroupOriginConfigurationCommand({ ...base, packageGroup: pattern, restrictions, addAllowedRepositories: repos.map((repositoryName) => ({ repositoryName, originRestrictionType: 'EXTERNAL_UPSTREAM' as const })) }),
      );
    };
    await make('/npm/subs/open~', { EXTERNAL_UPSTREAM: 'ALLOW' });
    await make('/npm/subs/shut$', { EXTERNAL_UPSTREAM: 'INHERIT' });
    await make('/npm/subs/mid~', { EXTERNAL_UPSTREAM: 'BLOCK' });
    await make('/npm/subs/mid-x$', { EXTERNAL_UPSTREAM: 'ALLOW_SPECIFIC_REPOSITORIES' }, ['npm-store']);
    const names = [{ format: 'npm' as const, name: '@subs/known' }];
    const open = ['/npm/subs/mid-x$', '/npm/subs/open~'];
    const left = (r: HardenResult) => r.groupsLeft.map((g) => g.pattern).sort();

    // before the scope's group exists: the plan already names them
    const planned = await hardenNames(names, { dryRun: true, packageGroups: true });
    expect(planned.groups).toEqual([{ pattern: '/npm/subs/*', applied: false, from: 'absent' }]);
    expect(left(planned)).toEqual(open);

    const since = lastSeq();
    const made = await hardenNames(names, { packageGroups: true });
    expect(made.errors).toEqual([]);
    expect(made.groups).toEqual([{ pattern: '/npm/subs/*', applied: true, from: 'absent' }]);
    expect(left(made)).toEqual(open);
    expect(made.groupsLeft.find((g) => g.pattern === '/npm/subs/open~')).toMatchObject({ from: 'EXTERNAL_UPSTREAM ALLOW', reason: expect.stringContaining('team-c@example.com') });
    // left as they are: harden writes its own group and the package, nothing of someone else's
    expect(writesSince(since).map((e) => e.operation).sort()).toEqual(['CreatePackageGroup', 'PutPackageOriginConfiguration', 'UpdatePackageGroupOriginConfiguration']);
    // what the service says of a name not published yet: the scope's BLOCK is not what applies to it
    const associated = async (pkg: string) => (await te.client.send(new GetAssociatedPackageGroupCommand({ ...base, format: 'npm', namespace: 'subs', package: pkg }))).packageGroup!;
    expect((await associated('open-next')).originConfiguration?.restrictions?.EXTERNAL_UPSTREAM?.effectiveMode).toBe('ALLOW');
    expect((await associated('mid-x')).originConfiguration?.restrictions?.EXTERNAL_UPSTREAM?.effectiveMode).toBe('ALLOW_SPECIFIC_REPOSITORIES');
    expect((await associated('shut')).originConfiguration?.restrictions?.EXTERNAL_UPSTREAM?.effectiveMode).toBe('BLOCK');
    expect((await associated('mid-y')).originConfiguration?.restrictions?.EXTERNAL_UPSTREAM?.effectiveMode).toBe('BLOCK');

    // the scope's group found blocking: still named, and nothing written
    const again = lastSeq();
    const second = await hardenNames(names, { packageGroups: true });
    expect([second.groups, second.errors]).toEqual([[], []]);
    expect(left(second)).toEqual(open);
    expect(writesSince(again)).toEqual([]);

    // a principal that may not list the domain's groups: not known, so said, never taken for protected
    te.sandbox.standIn.addFault({ operation: 'ListPackageGroups', status: 403, errorType: 'AccessDeniedException' });
    try {
      const blind = await hardenNames(names, { packageGroups: true });
      expect(blind.errors).toEqual([]);
      expect(blind.groupsLeft).toEqual([expect.objectContaining({ pattern: '/npm/subs/*', reason: expect.stringContaining('codeartifact:ListPackageGroups') })]);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
  });

  it('makes no group for a scope whose name a pattern would read as syntax', async () => {
    const since = lastSeq();
    const r = await hardenNames([{ format: 'npm', name: '@we~ird/a' }, { format: 'npm', name: '@st*r/b' }], { packageGroups: true });
    expect(r.groups).toEqual([]);
    expect(r.groupsLeft.map((g) => g.pattern).sort()).toEqual(['/npm/st*r/*', '/npm/we~ird/*']);
    expect(writesSince(since).filter((e) => e.operation !== 'PutPackageOriginConfiguration')).toEqual([]);
  });

  it('treats PyPI names that normalise alike as one package, and a Go path with ~ as its own package', async () => {
    const since = lastSeq();
    const r = await hardenNames([
      { format: 'pypi', name: 'Acme_Billing' },
      { format: 'pypi', name: 'acme-billing' },
      { format: 'generic', name: 'example.com/~user/mod' },
    ]);
    expect(r.errors).toEqual([]);
    expect(writesSince(since).map((e) => `${e.operation} ${e.namespace ?? ''}/${e.package}`).sort()).toEqual(['PutPackageOriginConfiguration /acme-billing', expect.stringMatching(/^PutPackageOriginConfiguration example\.com\//)]);
  });
});

describe('a half-made domain, a low quota, a second copy', () => {
  it('names the missing repository instead of planning to create every package in it', async () => {
    const job = te.writeJob({ name: 'gone', privateNpm: { packages: ['@acme/open'] }, github: false });
    writeFileSync(job, readFileSync(job, 'utf8').replace('internal: npm-internal', 'internal: npm-gone'));
    const dry = await hardenCli(job, { dryRun: true });
    const result = JSON.parse(dry.out) as HardenResult;
    expect(result.changes).toEqual([]);
    expect(result.errors).toEqual([expect.objectContaining({ code: 'ETARGETREJECTED', message: expect.stringContaining('repository npm-gone in domain acme does not exist') })]);
    expect(dry.code).toBe(1);
    expect(dry.err).not.toMatch(/\n\s+at /);
  });

  it('stays under a low write quota the job does not set: the account quota is read, nothing is throttled', async () => {
    const names = Array.from({ length: 24 }, (_, i) => `@acme/q${i}`);
    const job = te.writeJob({ name: 'quota', privateNpm: { packages: ['@acme/open'] }, github: false, limits: { rates: {} } });
    te.sandbox.standIn.setQuotas({ writes: 4 });
    try {
      await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, names.slice(0, 6).map((name) => ({ name, versions: ['1.0.0'] })));
      writeFileSync(job, readFileSync(job, 'utf8').replace('- "@acme/open"', names.slice(0, 6).map((n) => `- "${n}"`).join('\n      ')));
      const since = lastSeq();
      const r = await hardenCli(job);
      expect(r.code, r.out + r.err).toBe(0);
      const log = te.sandbox.standIn.log.filter((e) => e.seq > since);
      // six packages, each in npm-internal and npm-store
      expect(log.filter((e) => e.operation === 'PutPackageOriginConfiguration' && e.status === 200)).toHaveLength(12);
      expect(log.filter((e) => e.status === 429)).toEqual([]);
    } finally {
      te.sandbox.standIn.setQuotas(false);
    }
  });

  it('while another run of the job holds the lock: ELOCKED before it asks any source or the target', async () => {
    // a source that only records: harden beside a running `run` must not prepare or list it
    const asked: string[] = [];
    const source = createServer((req, res) => {
      asked.push(`${req.method} ${req.url}`);
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => source.listen(0, '127.0.0.1', r));
    const job = te.writeJob({ name: 'locked', sources: [{ id: 'rec', kind: 'npm-registry', url: `http://127.0.0.1:${(source.address() as AddressInfo).port}/`, packages: [], scopes: ['@acme'] }] });
    const release = acquireLock(join(te.stateDir, 'locked'));
    try {
      const since = lastSeq();
      const r = await hardenCli(job);
      expect(JSON.parse(r.out).error.code).toBe('ELOCKED');
      expect(r.code).toBe(2);
      expect(asked).toEqual([]);
      expect(te.sandbox.standIn.log.filter((e) => e.seq > since)).toEqual([]);
    } finally {
      release();
      await new Promise((r) => source.close(r));
    }
  });
});
