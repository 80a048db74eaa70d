/**
 * The plan's preflight audit and exposure check on a domain set up wrong in
 * less obvious ways, and with a principal that may not read everything: each
 * is reported for what it is (never a crash, never "protected" or "exposed"
 * on a guess), and the plan still sends the target no mutating request. The
 * public registry is asked directly, within a deadline, and believed only
 * about the name it was asked.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plan } from '../src/cli/plan.js';
import { loadJob } from '../src/config/load.js';
import { exposure, preflightAudit } from '../src/engine/audit.js';
import { createTarget } from '../src/targets/index.js';
import type { Report } from '../src/report/model.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { seedPackages } from './support/npm-fixtures.js';
import { failure } from './support/thrown.js';
import { CreatePackageGroupCommand, DescribePackageCommand, PutPackageOriginConfigurationCommand, UpdatePackageGroupOriginConfigurationCommand } from '@aws-sdk/client-codeartifact';
import { Limiter } from '../src/engine/limiter.js';
import { CodeArtifact } from '../src/targets/codeartifact.js';

let te: TestEnv;
let job: string;
const MUTATING = /^(Publish|Put|Create|Update|Delete|Dispose|Associate|Disassociate|Copy|npm:(Publish|DistTag(Set|Delete)|Deprecate)|pypi:Upload)/;

async function planNow(): Promise<{ report: Report; log: { operation: string; method: string }[] }> {
  const since = te.sandbox.standIn.log.at(-1)?.seq ?? 0;
  const written = await plan(loadJob(job), { stateDir: te.stateDir, env: te.env, codeartifactClient: te.client, quiet: true, out: te.dir });
  return { report: written.report, log: te.sandbox.standIn.log.filter((e) => e.seq > since) };
}
const checks = (r: Report) => Object.fromEntries(r.preflight!.checks.map((c) => [c.id, c]));
const noWrites = (log: { operation: string; method: string }[]) => log.filter((e) => MUTATING.test(e.operation));

/** A server on 127.0.0.1 that answers every request with `handler`; stopped by the caller. */
async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server; asked: string[] }> {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(`${req.method} ${req.url}`);
    handler!(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server, asked };
}
const close = (s: Server) => new Promise((r) => { s.closeAllConnections(); s.close(r); });

beforeAll(async () => {
  te = await startTestEnv({
    publicRegistries: true,
    standIn: {
      repositories: [
        'npm-internal',
        // a store connected to another format's registry
        { name: 'npm-store', externalConnection: 'public:pypi' },
        // another team's cache, whose upstream reaches npmjs: listed first, it is the store in effect
        { name: 'npm-proxy', externalConnection: 'public:npmjs' },
        { name: 'team-cache', upstreams: ['npm-proxy'] },
        { name: 'npm-shared', upstreams: ['team-cache', 'npm-internal', 'npm-store'] },
        // the internal repository itself reads the store: public versions can flow into it
        { name: 'pypi-internal', upstreams: ['pypi-store'] },
        { name: 'pypi-store', externalConnection: 'public:pypi' },
        { name: 'pypi-shared', upstreams: ['pypi-internal', 'pypi-store'] },
        'go-internal',
      ],
    },
  });
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [
    { name: '@acme/app', versions: ['1.0.0'] },
    { name: 'acme-leaky', versions: ['1.0.0'] },
  ]);
  await te.sandbox.publicRegistries!.npm.publish('acme-leaky', '7.0.0');
  job = te.writeJob({ name: 'audit', privateNpm: { packages: ['@acme/app', 'acme-leaky'] }, github: false });
}, 120_000);
afterAll(async () => {
  await te?.stop();
});

describe('preflight audit', () => {
  it('fails a store connected to the wrong registry, and a shared repository that reaches npmjs through another upstream first', async () => {
    const { report, log } = await planNow();
    const c = checks(report);
    expect(c['npm-store-connection']).toMatchObject({ status: 'fail', detail: expect.stringContaining('public:pypi') });
    expect(c['npm-shared-order']).toMatchObject({ status: 'fail', detail: expect.stringContaining('npm-proxy -> public:npmjs') });
    expect(c['pypi-shared-order']?.status).toBe('ok');
    expect(c['pypi-internal-isolated']).toMatchObject({ status: 'warn', detail: 'search order: pypi-internal, pypi-store, pypi-store -> public:pypi' });
    expect(c['npm-internal-isolated']).toMatchObject({ status: 'ok', detail: 'no upstream, no external connection' });
    expect(report.preflight!.findings.map((f) => `${f.severity}: ${f.message}`)).toEqual([
      expect.stringMatching(/^critical: .*public:npmjs \(through npm-proxy\) before npm-internal/),
      'warning: internal repository pypi-internal reaches pypi-store: a version of an internal name not published yet could be pulled in from there',
    ]);
    expect(noWrites(log)).toEqual([]);
  });

  it('reports a principal that may not call DescribePackage: neither protected nor exposed, and nothing written', async () => {
    te.sandbox.standIn.addFault({ operation: 'DescribePackage', status: 403, errorType: 'AccessDeniedException' });
    try {
      const { report, log } = await planNow();
      const c = checks(report);
      expect(c['origin-controls-readable']).toMatchObject({ status: 'fail', detail: expect.stringMatching(/2 of 2 could not be checked.*not authorized|AccessDenied|refused/) });
      expect(c['origin-controls']?.status).toBe('ok');
      const leaky = report.exposure!.names.find((n) => n.name === 'acme-leaky')!;
      expect(leaky).toMatchObject({ existsPublicly: true, status: 'unknown' });
      expect(leaky.protections.find((p) => p.kind === 'origin-control')!.detail).toMatch(/^could not be read/);
      expect(noWrites(log)).toEqual([]);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
  });

  it('an upstream the principal may not describe (another team\'s repository) is reported unreadable, counted as a way out, and the plan still writes its report', async () => {
    te.sandbox.standIn.addFault({ operation: 'DescribeRepository', repository: 'team-cache', status: 403, errorType: 'AccessDeniedException' });
    try {
      const { report, log } = await planNow();
      const c = checks(report);
      // not known to reach no public registry, so the guard is not called held on a guess
      expect(c['npm-shared-order']).toMatchObject({ status: 'warn', detail: 'search order: npm-shared, team-cache (could not be read: CodeArtifact DescribeRepository was refused: Injected fault for DescribeRepository.), npm-internal, npm-store' });
      expect(c['npm-shared-order']!.fix).toMatch(/codeartifact:DescribeRepository on team-cache/);
      expect(report.exposure!.names.find((n) => n.name === 'acme-leaky')!.protections.find((p) => p.kind === 'shared-order')?.effective ?? false).toBe(false);
      expect(report.preflight!.findings.map((f) => f.message)).toContainEqual(expect.stringMatching(/^shared repository npm-shared: team-cache, searched before npm-internal, could not be read/));
      expect(noWrites(log)).toEqual([]);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
  });

  it('an upstream that DescribeRepository says does not exist, though the shared repository lists it, is not taken for a dead end: unknown, counted as a way out', async () => {
    te.sandbox.standIn.addFault({ operation: 'DescribeRepository', repository: 'team-cache', status: 404, errorType: 'ResourceNotFoundException' });
    try {
      const { report, log } = await planNow();
      const c = checks(report);
      // team-cache reaches npmjs through npm-proxy: what it reaches is not known here, so the guard is not called held
      expect(c['npm-shared-order']?.status).toBe('warn');
      expect(c['npm-shared-order']!.detail).toMatch(/team-cache \(could not be read: /);
      expect(c['npm-shared-order']!.fix).toMatch(/upstreams of npm-shared/);
      expect(report.exposure!.names.find((n) => n.name === 'acme-leaky')!.protections.find((p) => p.kind === 'shared-order')?.effective ?? false).toBe(false);
      expect(noWrites(log)).toEqual([]);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
  });

  it('reports a principal that may not call GetCallerIdentity, and plans on', async () => {
    te.sandbox.standIn.addFault({ operation: 'sts:GetCallerIdentity', status: 403, errorType: 'AccessDenied' });
    try {
      const { report, log } = await planNow();
      expect(checks(report)['principal']).toMatchObject({ status: 'fail', detail: expect.stringContaining('AccessDenied') });
      expect(report.preflight!.principalArn).toBeNull();
      expect(checks(report)['token']?.status).toBe('ok');
      expect(noWrites(log)).toEqual([]);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
  });
});

describe('the read-only target of a plan', () => {
  it('refuses a write by the command actually sent, not by the name its caller gave the call: EREADONLY, nothing reaches the stand-in', async () => {
    const config = loadJob(job).config;
    const ca = new CodeArtifact(config.target, new Limiter(config.limits.rates), te.client);
    ca.readOnly = true;
    const since = te.sandbox.standIn.log.at(-1)?.seq ?? 0;
    const base = { domain: config.target.domain, domainOwner: config.target.domainOwner, repository: 'npm-internal', format: 'npm' as const, package: 'acme-leaky' };
    // a write labelled as a read (a copy-paste slip in a caller): the label is no guard
    const e = await failure(ca.api('DescribePackage', ['reads'], (o) => ca.client.send(new PutPackageOriginConfigurationCommand({ ...base, restrictions: { publish: 'BLOCK', upstream: 'ALLOW' } }), o)));
    expect(e.code).toBe('EREADONLY');
    expect(te.sandbox.standIn.log.filter((x) => x.seq > since).map((x) => x.operation)).toEqual([]);
    // a read goes through the same way
    await ca.api('DescribePackage', ['reads'], (o) => ca.client.send(new DescribePackageCommand(base), o)).catch(() => undefined);
    expect(te.sandbox.standIn.log.filter((x) => x.seq > since).map((x) => x.operation)).toEqual(['DescribePackage']);
  });
});

describe('exposure', () => {
  const names = [{ format: 'npm' as const, name: '@acme/app' }];

  it('gives up on a public registry that trickles its answer forever: unknown, within the deadline', async () => {
    const trickle = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"name":"@acme/app","versions":{');
      const t = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(t));
    });
    try {
      const config = { ...loadJob(job).config, publicRegistries: { npm: trickle.url, pypi: trickle.url, go: trickle.url } };
      const started = Date.now();
      const out = await exposure(config, names, new Set(), true, undefined, { deadlineMs: 400 });
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(out.names).toEqual([expect.objectContaining({ name: '@acme/app', status: 'unknown' })]);
    } finally {
      await close(trickle.server);
    }
  });

  it('says why a name could not be checked: a registry that redirects elsewhere or fails is named with its answer in the name and in the finding, and the redirect is not followed', async () => {
    const elsewhere = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    const moved = await serve((req, res) => {
      if (req.url?.startsWith('/acme-leaky')) res.writeHead(500).end('oops');
      else res.writeHead(302, { location: `${elsewhere.url}mirror${req.url ?? ''}` }).end();
    });
    try {
      const loaded = loadJob(job);
      const since = te.sandbox.standIn.log.at(-1)?.seq ?? 0;
      const written = await plan({ ...loaded, config: { ...loaded.config, publicRegistries: { ...loaded.config.publicRegistries, npm: moved.url } } }, { stateDir: te.stateDir, env: te.env, codeartifactClient: te.client, quiet: true, out: te.dir });
      const byName = Object.fromEntries(written.report.exposure!.names.map((n) => [n.name, n]));
      expect(byName['@acme/app']).toMatchObject({ status: 'unknown', error: expect.stringMatching(/HTTP 302.*redirect.*127\.0\.0\.1:\d+\/mirror/) });
      expect(byName['acme-leaky']).toMatchObject({ status: 'unknown', error: expect.stringMatching(/HTTP 500/) });
      const f = written.report.findings.find((x) => x.code === 'EEXPOSUREUNKNOWN')!;
      expect(f.detail).toMatch(/@acme\/app: HTTP 302/);
      expect(f.detail).toMatch(/acme-leaky: HTTP 500/);
      expect(f.action).toMatch(/publicRegistries/);
      expect(elsewhere.asked).toEqual([]);
      expect(noWrites(te.sandbox.standIn.log.filter((x) => x.seq > since))).toEqual([]);
    } finally {
      await close(moved.server);
      await close(elsewhere.server);
    }
  });

  it('a name the public registry does not have is never called protected on that alone: unclaimed (anyone may publish it there) unless an origin control holds, whether none is set or none could be read', async () => {
    const empty = await serve((_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}'));
    try {
      const config = { ...loadJob(job).config, publicRegistries: { npm: empty.url, pypi: empty.url, go: empty.url } };
      const none = await exposure(config, names, new Set(), true);
      expect(none.names![0]).toMatchObject({ existsPublicly: false, status: 'unclaimed' });
      const unread = await exposure(config, names, new Set(), undefined, undefined, { uncheckedNames: new Map([['npm:@acme/app', 'not read (planned without AWS access: --no-target)']]) });
      expect(unread.names![0]).toMatchObject({ existsPublicly: false, status: 'unclaimed' });
      const held = await exposure(config, names, new Set(['npm:@acme/app']), true);
      expect(held.names![0]).toMatchObject({ existsPublicly: false, status: 'protected' });
    } finally {
      await close(empty.server);
    }
  });

  it('believes a registry only about the name it was asked (one that answers every path alike is unknown)', async () => {
    const liar = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'left-pad', versions: { '1.0.0': {} }, 'dist-tags': { latest: '1.0.0' } })));
    try {
      const config = { ...loadJob(job).config, publicRegistries: { npm: liar.url, pypi: liar.url, go: liar.url } };
      const out = await exposure(config, names, new Set(), true);
      expect(out.names![0]).toMatchObject({ status: 'unknown', existsPublicly: false });
      expect(liar.asked).toEqual(['GET /@acme%2Fapp']);
    } finally {
      await close(liar.server);
    }
  });

  it('never asks a CodeArtifact repository, even when publicRegistries names one', async () => {
    const since = te.sandbox.standIn.log.at(-1)?.seq ?? 0;
    const store = te.sandbox.standIn.npmEndpoint('npm-proxy');
    const config = { ...loadJob(job).config, publicRegistries: { npm: store, pypi: te.sandbox.standIn.url, go: te.sandbox.standIn.url } };
    const out = await exposure(config, [...names, { format: 'npm', name: 'acme-leaky' }], new Set(), true, undefined, { env: te.env });
    expect(out.names!.map((n) => n.status)).toEqual(['unknown', 'unknown']);
    expect(te.sandbox.standIn.log.filter((e) => e.seq > since)).toEqual([]);
  });

  it("nor when publicRegistries spells the endpoint's host another way (localhost for 127.0.0.1, a trailing dot)", async () => {
    const since = te.sandbox.standIn.log.at(-1)?.seq ?? 0;
    const store = new URL(te.sandbox.standIn.npmEndpoint('npm-proxy'));
    const other = (host: string) => Object.assign(new URL(store.href), { hostname: host }).href;
    expect(store.hostname).toBe('127.0.0.1');
    for (const npm of [other('localhost'), other('127.0.0.2').replace('127.0.0.2', '127.0.0.1.')]) {
      const config = { ...loadJob(job).config, publicRegistries: { npm, pypi: te.sandbox.standIn.url, go: te.sandbox.standIn.url } };
      const out = await exposure(config, [{ format: 'npm', name: 'acme-leaky' }], new Set(), true, undefined, { env: te.env });
      expect(out.names!.map((n) => n.status), npm).toEqual(['unknown']);
    }
    expect(te.sandbox.standIn.log.filter((e) => e.seq > since)).toEqual([]);
  });
});

describe('preflight audit: a package group more specific than the scope\'s', () => {
  it('a name a more specific group lets public packages in for is not called protected by its scope\'s BLOCK; one the scope\'s group covers is, and one with its own upstream BLOCK is', async () => {
    const base = { domain: 'acme', domainOwner: '111122223333' };
    await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/held/*' }));
    await te.client.send(new UpdatePackageGroupOriginConfigurationCommand({ ...base, packageGroup: '/npm/held/*', restrictions: { EXTERNAL_UPSTREAM: 'BLOCK' } }));
    await te.client.send(new CreatePackageGroupCommand({ ...base, packageGroup: '/npm/held/open~' }));
    await te.client.send(new UpdatePackageGroupOriginConfigurationCommand({ ...base, packageGroup: '/npm/held/open~', restrictions: { EXTERNAL_UPSTREAM: 'ALLOW' } }));
    await te.client.send(new PutPackageOriginConfigurationCommand({ ...base, repository: 'npm-internal', format: 'npm', namespace: 'held', package: 'open-own', restrictions: { publish: 'ALLOW', upstream: 'BLOCK' } }));
    // and in the store, which would otherwise ingest it (origin controls are per repository)
    await te.client.send(new PutPackageOriginConfigurationCommand({ ...base, repository: 'npm-store', format: 'npm', namespace: 'held', package: 'open-own', restrictions: { publish: 'BLOCK', upstream: 'BLOCK' } }));
    const config = loadJob(job).config;
    const ca = new CodeArtifact(config.target, new Limiter(config.limits.rates), te.client);
    const names = ['@held/shut', '@held/open-new', '@held/open-own'].map((name) => ({ format: 'npm' as const, name }));
    const audit = await preflightAudit(ca, config, (f) => createTarget(f, ca, config.target.repositories[f]!.internal), names, te.env);
    expect([...audit.protectedNames].sort()).toEqual(['npm:@held/open-own', 'npm:@held/shut']);
    expect(audit.preflight.checks!.find((c) => c.id === 'origin-controls')).toMatchObject({ status: 'warn', detail: expect.stringContaining('npm:@held/open-new') });
  });
});
