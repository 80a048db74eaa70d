/**
 * Hardening reaches the store. Package origin controls are per repository: upstream BLOCK on an
 * internal name in `<fmt>-internal` does nothing in `<fmt>-store`, which has the external
 * connection and ingests a public package of the same name; `<fmt>-shared` (upstreams internal,
 * then store) then serves the public version beside ours (dependency confusion). So harden sets
 * upstream BLOCK on the name in the store too (an empty package record: publish BLOCK, nothing is
 * published into a store), and the plan calls a name protected only when the store cannot ingest it.
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { DescribePackageCommand, PutPackageOriginConfigurationCommand } from '@aws-sdk/client-codeartifact';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hardenCommand } from '../src/cli/harden.js';
import type { Io } from '../src/cli/output.js';
import { plan } from '../src/cli/plan.js';
import { loadJob } from '../src/config/load.js';
import { preflightAudit } from '../src/engine/audit.js';
import { harden } from '../src/engine/harden.js';
import { Limiter } from '../src/engine/limiter.js';
import { escapeName } from '../src/sources/npm-registry.js';
import { CodeArtifact } from '../src/targets/codeartifact.js';
import { createTarget } from '../src/targets/index.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { seedPackages } from './support/npm-fixtures.js';
import { makeWheel } from './support/pypi-public.js';

let te: TestEnv;
let job: string;
const base = { domain: 'acme', domainOwner: '111122223333' };
const MUTATING = /^(Publish|Put|Create|Update|Delete|Dispose|Associate|Disassociate|Copy|npm:(Publish|DistTag(Set|Delete)|Deprecate)|pypi:Upload)/;
const since = () => te.sandbox.standIn.log.at(-1)?.seq ?? 0;
const logSince = (seq: number) => te.sandbox.standIn.log.filter((e) => e.seq > seq);
const puts = (seq: number) => logSince(seq).filter((e) => e.operation === 'PutPackageOriginConfiguration');

async function sharedVersions(name: string): Promise<string[]> {
  const res = await fetch(`${te.sandbox.standIn.npmEndpoint('npm-shared')}${escapeName(name)}`, { headers: { authorization: `Bearer ${await te.targetToken()}` } });
  if (res.status === 404) return [];
  expect(res.status).toBe(200);
  return Object.keys(((await res.json()) as { versions: object }).versions).sort();
}

async function pypiSharedFiles(project: string): Promise<string[]> {
  const token = await te.targetToken();
  const res = await fetch(`${te.sandbox.standIn.pypiEndpoint('pypi-shared')}simple/${project}/`, { headers: { authorization: `Basic ${Buffer.from(`aws:${token}`).toString('base64')}` } });
  if (res.status === 404) return [];
  expect(res.status).toBe(200);
  return [...(await res.text()).matchAll(/>([^<]+\.whl)</g)].map((m) => m[1]!);
}

function ledgerOrigins(): { package: string; repository: string; set: unknown }[] {
  const state = te.openState('storeblock');
  try {
    return (state.db.prepare("SELECT entry FROM ledger WHERE json_extract(entry, '$.outcome') = 'origin-configuration' ORDER BY seq").all() as { entry: string }[])
      .map((r) => JSON.parse(r.entry) as { package: string; target: { repository: string; set: unknown } })
      .map((e) => ({ package: e.package, repository: e.target.repository, set: e.target.set }));
  } finally {
    state.close();
  }
}

beforeAll(async () => {
  te = await startTestEnv({ publicRegistries: true });
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [
    { name: '@acme/app', versions: ['1.0.0'] },
    { name: 'acme-tool', versions: ['1.0.0'] },
  ]);
  job = te.writeJob({ name: 'storeblock', privateNpm: { packages: ['@acme/app', 'acme-tool'] }, github: false });
}, 120_000);
afterAll(async () => {
  await te?.stop();
});

describe('harden blocks internal names in the store', () => {
  it('a plan (dry run) says the store changes and writes nothing', async () => {
    const seq = since();
    const written = await plan(loadJob(job), { stateDir: te.stateDir, env: te.env, codeartifactClient: te.client, quiet: true, out: te.dir });
    expect(logSince(seq).filter((e) => MUTATING.test(e.operation))).toEqual([]);
    const changes = written.report.hardening!.changes.map((c) => `${c.status} ${c.package} ${c.repository}`).sort();
    expect(changes).toEqual(['planned @acme/app npm-internal', 'planned @acme/app npm-store', 'planned acme-tool npm-internal', 'planned acme-tool npm-store'].sort());
  }, 120_000);

  it('run: a public version of an internal name published later is not served through shared; the plan says protected; a second harden writes nothing', async () => {
    const summary = await te.run(job);
    const inStore = summary.hardening!.changes.filter((c) => c.repository === 'npm-store');
    expect(inStore.map((c) => [c.package, c.from, c.to, c.applied]).sort()).toEqual([
      ['@acme/app', 'absent', { publish: 'BLOCK', upstream: 'BLOCK' }, true],
      ['acme-tool', 'absent', { publish: 'BLOCK', upstream: 'BLOCK' }, true],
    ]);
    expect(summary.hardening!.changedIn).toEqual({ 'npm-internal': 2, 'npm-store': 2 });
    // every change in the ledger, the store's with the store as repository
    expect(ledgerOrigins().filter((e) => e.repository === 'npm-store').map((e) => [e.package, e.set]).sort()).toEqual([
      ['@acme/app', { publish: 'BLOCK', upstream: 'BLOCK' }],
      ['acme-tool', { publish: 'BLOCK', upstream: 'BLOCK' }],
    ]);
    const stored = await te.client.send(new DescribePackageCommand({ ...base, repository: 'npm-store', format: 'npm', namespace: 'acme', package: 'app' }));
    expect(stored.package?.originConfiguration?.restrictions).toEqual({ publish: 'BLOCK', upstream: 'BLOCK' });

    // the reviewer's scenario: the public registry gets a higher version of each internal name
    await te.sandbox.publicRegistries!.npm.publish('@acme/app', '9.0.0');
    await te.sandbox.publicRegistries!.npm.publish('acme-tool', '9.0.0');
    expect(await sharedVersions('@acme/app')).toEqual(['1.0.0']);
    expect(await sharedVersions('acme-tool')).toEqual(['1.0.0']);

    const written = await plan(loadJob(job), { stateDir: te.stateDir, env: te.env, codeartifactClient: te.client, quiet: true, out: te.dir });
    const status = Object.fromEntries(written.report.exposure!.names.map((n) => [n.name, n.status]));
    expect(status).toEqual({ '@acme/app': 'protected', 'acme-tool': 'protected' });
    expect(written.report.preflight!.checks.find((c) => c.id === 'origin-controls')?.status).toBe('ok');

    const seq = since();
    const again = await te.cli(['harden', job]);
    expect(again.code, again.stderr).toBe(0);
    expect(puts(seq)).toEqual([]);
    expect(JSON.parse(again.stdout)).toMatchObject({ packages: 2, changes: [], unchanged: 4, changedIn: {}, errors: [] });
  }, 240_000);

  it('a name blocked in internal only is not protected: the plan names the store and the fix, and calls it exposed', async () => {
    await te.client.send(new PutPackageOriginConfigurationCommand({ ...base, repository: 'npm-internal', format: 'npm', package: 'half-done', restrictions: { publish: 'ALLOW', upstream: 'BLOCK' } }));
    await te.sandbox.publicRegistries!.npm.publish('half-done', '9.0.0');
    // what the defect let through: shared serves the public version
    expect(await sharedVersions('half-done')).toEqual(['9.0.0']);
    const config = loadJob(job).config;
    const ca = new CodeArtifact(config.target, new Limiter(config.limits.rates), te.client);
    const names = [{ format: 'npm' as const, name: 'half-done' }];
    const audit = await preflightAudit(ca, config, (f) => createTarget(f, ca, config.target.repositories[f]!.internal), names, te.env);
    expect([...audit.protectedNames]).toEqual([]);
    expect(audit.storeOpenNames.get('npm:half-done')).toBe('npm-store');
    const check = audit.preflight.checks!.find((c) => c.id === 'origin-controls')!;
    expect(check).toMatchObject({ status: 'warn', detail: expect.stringContaining('the store npm-store can still ingest 1 of them'), fix: expect.stringContaining('cam harden') });
  }, 60_000);

  it('a store that already holds public versions of an internal name: ESTOREHOLDS naming the store, the name and the versions; its upstream is blocked all the same', async () => {
    await te.sandbox.publicRegistries!.npm.publish('acme-leaked', '3.1.0');
    // a build asked for it through the store before harden: ingested
    const token = await te.targetToken();
    const tgz = await fetch(`${te.sandbox.standIn.npmEndpoint('npm-store')}acme-leaked/-/acme-leaked-3.1.0.tgz`, { headers: { authorization: `Bearer ${token}` } });
    expect(tgz.status).toBe(200);
    const config = loadJob(job).config;
    const ca = new CodeArtifact(config.target, new Limiter(config.limits.rates), te.client);
    const applied: string[] = [];
    const result = await harden(ca, (f) => createTarget(f, ca, config.target.repositories[f]!.internal), [{ format: 'npm', name: 'acme-leaked' }], {
      dryRun: false,
      packageGroups: false,
      retries: 2,
      signal: new AbortController().signal,
      store: (f) => config.target.repositories[f]?.store,
      onApplied: (c) => applied.push(c.repository),
    });
    expect(result.errors).toEqual([expect.objectContaining({ package: 'acme-leaked', repository: 'npm-store', code: 'ESTOREHOLDS', message: expect.stringMatching(/npm-store already holds 1 version\(s\) of the internal name acme-leaked \(3\.1\.0\)/) })]);
    expect(applied.sort()).toEqual(['npm-internal', 'npm-store']);
    // publish kept as the store had it (CodeArtifact set publish BLOCK when it ingested), upstream BLOCK
    const stored = await te.client.send(new DescribePackageCommand({ ...base, repository: 'npm-store', format: 'npm', package: 'acme-leaked' }));
    expect(stored.package?.originConfiguration?.restrictions?.upstream).toBe('BLOCK');
  }, 60_000);

  it('a plan of a job whose internal name the store already ingested: ESTOREHOLDS is a critical finding naming the store, nothing written', async () => {
    await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: 'acme-ingested', versions: ['1.0.0'] }]);
    await te.sandbox.publicRegistries!.npm.publish('acme-ingested', '5.0.0');
    const tgz = await fetch(`${te.sandbox.standIn.npmEndpoint('npm-store')}acme-ingested/-/acme-ingested-5.0.0.tgz`, { headers: { authorization: `Bearer ${await te.targetToken()}` } });
    expect(tgz.status).toBe(200);
    const held = te.writeJob({ name: 'storeheld', privateNpm: { packages: ['acme-ingested'] }, github: false });
    const seq = since();
    const written = await plan(loadJob(held), { stateDir: te.stateDir, env: te.env, codeartifactClient: te.client, quiet: true, out: te.dir });
    expect(logSince(seq).filter((e) => MUTATING.test(e.operation))).toEqual([]);
    const finding = written.report.findings.find((f) => f.code === 'ESTOREHOLDS');
    expect(finding).toMatchObject({ severity: 'critical', subjects: ['acme-ingested (npm-store)'], detail: expect.stringContaining('(5.0.0)') });
    expect(written.report.findings.find((f) => f.code === 'EHARDENING')).toBeUndefined();
    // the report's JSON carries the code as a field of its own, the message without it
    const change = written.report.hardening!.changes.find((c) => c.package === 'acme-ingested' && c.repository === 'npm-store' && c.status === 'failed');
    expect(change).toMatchObject({ status: 'failed', code: 'ESTOREHOLDS', after: { publish: 'BLOCK', upstream: 'BLOCK' }, error: expect.stringMatching(/^the store npm-store already holds 1 version\(s\) of the internal name acme-ingested \(5\.0\.0\)/) });
    // and the Markdown and HTML forms name the code beside the message
    expect(readFileSync(written.files.markdown, 'utf8')).toMatch(/`ESTOREHOLDS`: the store npm-store already holds 1 version\(s\)/);
    expect(readFileSync(written.files.html, 'utf8')).toMatch(/<code>ESTOREHOLDS<\/code>: the store npm-store already holds 1 version\(s\)/);
  }, 120_000);

  it('cam harden on a terminal: a line per repository count, one per change, and a CRITICAL line naming the store that holds a public version (exit 1), on a dry run and for real', async () => {
    await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [
      { name: 'acme-seen', versions: ['1.0.0'] },
      { name: 'acme-quiet', versions: ['1.0.0'] },
    ]);
    await te.sandbox.publicRegistries!.npm.publish('acme-seen', '4.0.0');
    const tgz = await fetch(`${te.sandbox.standIn.npmEndpoint('npm-store')}acme-seen/-/acme-seen-4.0.0.tgz`, { headers: { authorization: `Bearer ${await te.targetToken()}` } });
    expect(tgz.status).toBe(200);
    const human = te.writeJob({ name: 'humanharden', privateNpm: { packages: ['acme-seen', 'acme-quiet'] }, github: false });
    const onTerminal = async (dryRun: boolean) => {
      let out = '';
      const tty = Object.assign(new Writable({ write: (c: Buffer, _e, done) => ((out += c.toString()), done()) }), { isTTY: true });
      const io: Io = { stdout: tty, stderr: tty };
      const code = await hardenCommand(human, { dryRun, stateDir: te.stateDir, env: te.env, codeartifactClient: te.client }, io);
      return { code, lines: out.trimEnd().split('\n') };
    };
    const seq = since();
    const dry = await onTerminal(true);
    expect(puts(seq)).toEqual([]);
    expect(dry.code).toBe(1);
    expect(dry.lines[0]).toBe('2 internal packages: 4 would set to upstream BLOCK (2 in npm-internal, 2 in npm-store), 0 already so');
    expect(dry.lines).toContain('  would set npm acme-quiet in npm-store to publish BLOCK, upstream BLOCK (was absent)');
    expect(dry.lines).toContain('  would set npm acme-seen in npm-internal to publish ALLOW, upstream BLOCK (was absent)');
    expect(dry.lines.filter((l) => l.startsWith('  CRITICAL acme-seen in npm-store: the store npm-store already holds 1 version(s) of the internal name acme-seen (4.0.0)'))).toHaveLength(1);

    const done = await onTerminal(false);
    expect(done.code).toBe(1);
    expect(done.lines[0]).toBe('2 internal packages: 4 set to upstream BLOCK (2 in npm-internal, 2 in npm-store), 0 already so');
    expect(done.lines).toContain('  set npm acme-seen in npm-store to publish BLOCK, upstream BLOCK (was publish BLOCK, upstream ALLOW)');
    expect(done.lines.filter((l) => l.startsWith('  CRITICAL acme-seen in npm-store:'))).toHaveLength(1);
    // applied: the next one changes nothing, and still says the store holds the public version until it is deleted
    const again = await onTerminal(false);
    expect(again.code).toBe(1);
    expect(again.lines[0]).toBe('2 internal packages: 0 set to upstream BLOCK, 4 already so');
    expect(again.lines.filter((l) => l.startsWith('  CRITICAL acme-seen in npm-store:'))).toHaveLength(1);
  }, 120_000);

  it('PyPI: an unscoped internal project is blocked in pypi-store; the shared simple index does not list the public file', async () => {
    const wheel = await makeWheel('acme-pytool', '9.0.0');
    te.sandbox.publicRegistries!.pypi.addFile('acme-pytool', wheel.filename, wheel.bytes);
    const config = loadJob(job).config;
    const ca = new CodeArtifact(config.target, new Limiter(config.limits.rates), te.client);
    const target = (f: 'npm' | 'pypi' | 'generic') => createTarget(f, ca, config.target.repositories[f]!.internal);
    const names = [{ format: 'pypi' as const, name: 'Acme_PyTool' }];
    const opts = { dryRun: false, packageGroups: false, retries: 2, signal: new AbortController().signal, store: (f: 'npm' | 'pypi' | 'generic') => config.target.repositories[f]?.store };
    // blocked in internal only, as before harden reached the store: the audit does not call it protected
    await te.client.send(new PutPackageOriginConfigurationCommand({ ...base, repository: 'pypi-internal', format: 'pypi', package: 'acme-pytool', restrictions: { publish: 'ALLOW', upstream: 'BLOCK' } }));
    expect((await preflightAudit(ca, config, target, names, te.env)).storeOpenNames.get('pypi:Acme_PyTool')).toBe('pypi-store');
    const result = await harden(ca, target, names, opts);
    expect(result.errors).toEqual([]);
    expect(result.changes.map((c) => [c.package, c.repository, c.to])).toEqual([['Acme_PyTool', 'pypi-store', { publish: 'BLOCK', upstream: 'BLOCK' }]]);
    expect(await pypiSharedFiles('acme-pytool')).toEqual([]);
    expect([...(await preflightAudit(ca, config, target, names, te.env)).protectedNames]).toEqual(['pypi:Acme_PyTool']);
    const seq = since();
    const again = await harden(ca, target, names, opts);
    expect([again.changes, again.unchanged, puts(seq)]).toEqual([[], 2, []]);
  }, 60_000);
});
