/**
 * The npm path against a source that lies, floods, stalls and changes its mind,
 * a disk that fills, an operator who presses Ctrl-C or edits files: each case
 * from the adversarial review (issue 9), asserted by error code, state rows,
 * files on disk and what the registry and the CodeArtifact stand-in saw.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceSchema, type NpmRegistrySourceConfig } from '../src/config/schema.js';
import type { RunSummary } from '../src/engine/events.js';
import { NpmRegistrySource } from '../src/sources/npm-registry.js';
import type { ItemRow } from '../src/state/db.js';
import { filesUnder, ROOT, startTestEnv, type TestEnv } from './support/harness.js';
import { endless, json, sha1hex, sri512, stall, startHostileRegistry, type HostileRegistry } from './support/hostile-registry.js';
import { npmTarball, tarGz, writeManifestBomb } from './support/tarballs.js';

const REPO = 'npm-internal';
const STACK_LINE = /^\s{4}at /m;

let te: TestEnv;
let reg: HostileRegistry;

beforeAll(async () => {
  te = await startTestEnv();
  reg = await startHostileRegistry();
});
afterAll(async () => {
  await reg?.stop();
  await te?.stop();
});

function hostileJob(name: string, packages: string[], more: { source?: Record<string, unknown>; limits?: Record<string, unknown>; filters?: Record<string, unknown>; scopes?: string[] } = {}): string {
  return te.writeJob({
    name,
    sources: [{ id: 'hostile', kind: 'npm-registry', url: reg.url, packages, ...(more.scopes ? { scopes: more.scopes } : {}), ...more.source }],
    limits: more.limits,
    filters: more.filters,
  });
}

/**
 * `<scope>/a` and `<scope>/b` on the registry, found by its search, and a job of that scope
 * that has listed both once (a dry run); `searchFinds` sets what the search answers from now on.
 */
async function searchedScope(scope: string, jobName: string): Promise<{ job: string; searchFinds: (names: string[]) => void }> {
  let listed = [`${scope}/a`, `${scope}/b`];
  for (const n of listed) reg.setPackage(n, [{ version: '1.0.0', tarball: npmTarball(n, '1.0.0') }]);
  reg.search((_req, res) => json(res, 200, { objects: listed.map((name) => ({ package: { name } })), total: listed.length }));
  const job = hostileJob(jobName, [], { scopes: [scope] });
  await te.run(job, { dryRun: true });
  return { job, searchFinds: (names) => (listed = names) };
}

function rows(job: string, pkg?: string): ItemRow[] {
  const state = te.openState(job);
  try {
    return pkg === undefined ? state.items() : state.items('package = ?', pkg);
  } finally {
    state.close();
  }
}
const row = (job: string, pkg: string, version: string) => rows(job, pkg).find((r) => r.version === version)!;
const states = (job: string, pkg: string) => Object.fromEntries(rows(job, pkg).map((r) => [r.version, r.state]));
const publishes = (pkg: string, version?: string) => te.sandbox.standIn.log.filter((e) => e.operation === 'npm:Publish' && e.package === pkg && (version === undefined || e.version === version));
const targetSha512 = (pkg: string, version: string) => te.sandbox.standIn.versions(REPO, 'npm', undefined, pkg).find((v) => v.version === version)?.assets[0]?.hashes['SHA-512'];
const sha512hex = (b: Buffer) => Buffer.from(sri512(b).slice(7), 'base64').toString('hex');

/** Every blob in the job's store, as paths relative to blobs/. */
function blobFiles(): string[] {
  const root = join(te.stateDir, 'blobs', 'sha512');
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((d) => readdirSync(join(root, d)).map((f) => `${d}${f}`));
}

function summaryOf(stdout: string): RunSummary {
  return JSON.parse(stdout) as RunSummary;
}

describe('1. no single artifact can crash a run', () => {
  it('a 560 MB package.json inside a sub-megabyte tarball fails that version with ETOOLARGE; the others migrate; a rerun does the same', async () => {
    const bomb = join(te.dir, 'bomb.tgz');
    await writeManifestBomb(bomb, 560 * 1024 * 1024);
    const bytes = readFileSync(bomb);
    expect(bytes.length).toBeLessThan(2.5 * 1024 * 1024);
    const good = ['1.0.0', '1.2.0'].map((v) => ({ version: v, tarball: npmTarball('bomb-pkg', v) }));
    reg.setPackage('bomb-pkg', [good[0]!, { version: '1.1.0', tarball: bytes }, good[1]!]);
    const job = hostileJob('bomb', ['bomb-pkg']);

    for (const attempt of [1, 2]) {
      const r = await te.cli(['run', job, '--json']);
      expect(r.code, `run ${attempt}: ${r.stderr}`).toBe(1);
      expect(r.stderr).not.toMatch(STACK_LINE);
      const s = summaryOf(r.stdout);
      expect(s.failures).toEqual([expect.objectContaining({ package: 'bomb-pkg', version: '1.1.0', code: 'ETOOLARGE' })]);
      expect(states('bomb', 'bomb-pkg')).toEqual({ '1.0.0': 'verified', '1.1.0': 'failed', '1.2.0': 'verified' });
      // the lock went with the process
      expect(existsSync(join(te.stateDir, 'bomb.lock.owner'))).toBe(false);
    }
    expect(publishes('bomb-pkg', '1.1.0')).toEqual([]);
  });

  it('an endless tarball body stops at limits.maxArtifactBytes with ETOOLARGE, once, leaving nothing on disk', async () => {
    const ok = npmTarball('endless-pkg', '1.0.0');
    reg.setPackage('endless-pkg', [
      { version: '1.0.0', tarball: ok },
      // any integrity: the body never ends, so it is never checked
      { version: '2.0.0', dist: { integrity: sri512(ok), shasum: sha1hex(ok), tarball: `${reg.url}endless/endless-pkg-2.0.0.tgz` } },
    ]);
    reg.route('/endless/endless-pkg-2.0.0.tgz', (_req, res) => endless(res));
    const job = hostileJob('endless', ['endless-pkg'], { limits: { maxArtifactBytes: '2MB', retries: 3 } });
    const s = await te.run(job);
    expect(s.failures).toEqual([expect.objectContaining({ version: '2.0.0', code: 'ETOOLARGE' })]);
    expect(states('endless', 'endless-pkg')).toEqual({ '1.0.0': 'verified', '2.0.0': 'failed' });
    // not retried: a body that is too large stays too large
    expect(reg.requests('/endless/endless-pkg-2.0.0.tgz')).toBe(1);
    expect(readdirSync(join(te.stateDir, 'blobs', 'tmp'))).toEqual([]);
  });

  it('a body announced larger than the limit is refused before it is read', async () => {
    reg.setPackage('announced-pkg', [{ version: '1.0.0', dist: { integrity: sri512(Buffer.from('x')), tarball: `${reg.url}big/announced-1.0.0.tgz` } }]);
    let sent = 0;
    reg.route('/big/announced-1.0.0.tgz', (_req, res) => {
      res.writeHead(200, { 'content-length': String(50 * 1024 * 1024 * 1024) });
      res.write(Buffer.alloc(1024));
      sent = 1024;
    });
    const s = await te.run(hostileJob('announced', ['announced-pkg'], { limits: { maxArtifactBytes: '1MB' } }));
    expect(s.failures).toEqual([expect.objectContaining({ version: '1.0.0', code: 'ETOOLARGE' })]);
    expect(sent).toBe(1024);
  });
});

describe('2. the source\'s current listing decides what is published', () => {
  const NAME = 'listing-pkg';
  const tb = (v: string) => npmTarball(NAME, v);

  it('a version unpublished after a dry run fetched it is not published from the cached blob; it is reported removed', async () => {
    reg.setPackage(NAME, ['1.0.0', '1.1.0', '1.2.0'].map((v) => ({ version: v, tarball: tb(v) })));
    const job = hostileJob('listing', [NAME]);
    const dry = await te.run(job, { dryRun: true });
    expect(dry.outcomes).toEqual({ 'would-publish': 3 });
    expect(row('listing', NAME, '1.1.0').state).toBe('fetched');

    reg.removeVersion(NAME, '1.1.0');
    const s = await te.run(job);
    expect(s.exitCode).toBe(0);
    expect(states('listing', NAME)).toEqual({ '1.0.0': 'verified', '1.1.0': 'removed', '1.2.0': 'verified' });
    expect(publishes(NAME, '1.1.0')).toEqual([]);
    expect(s.removedAtSource).toEqual([expect.objectContaining({ package: NAME, version: '1.1.0', state: 'removed' })]);
  });

  it('a migrated version later removed at the source is reported and kept on the target; listed again, it is simply there', async () => {
    reg.removeVersion(NAME, '1.0.0');
    const s = await te.run(hostileJob('listing', [NAME]));
    expect(s.exitCode).toBe(0);
    expect(s.removedAtSource).toEqual([expect.objectContaining({ version: '1.0.0', state: 'verified' })]);
    expect(targetSha512(NAME, '1.0.0')).toBe(sha512hex(tb('1.0.0')));

    // 1.1.0 comes back: published now, once
    reg.setPackage(NAME, ['1.0.0', '1.1.0', '1.2.0'].map((v) => ({ version: v, tarball: tb(v) })));
    const again = await te.run(hostileJob('listing', [NAME]));
    expect(again.exitCode).toBe(0);
    expect(states('listing', NAME)).toEqual({ '1.0.0': 'verified', '1.1.0': 'verified', '1.2.0': 'verified' });
    expect(publishes(NAME, '1.1.0')).toHaveLength(1);
  });

  it('a version whose tarball is gone fails ESOURCENOTFOUND; once the source stops listing it, it stops failing', async () => {
    reg.setPackage('ghost-pkg', [
      { version: '1.0.0', tarball: npmTarball('ghost-pkg', '1.0.0') },
      { version: '2.0.0', dist: { integrity: sri512(Buffer.from('gone')), tarball: `${reg.url}nowhere/ghost-pkg-2.0.0.tgz` } },
    ]);
    const job = hostileJob('ghost', ['ghost-pkg']);
    expect((await te.run(job)).failures).toEqual([expect.objectContaining({ version: '2.0.0', code: 'ESOURCENOTFOUND' })]);
    reg.removeVersion('ghost-pkg', '2.0.0');
    const s = await te.run(job);
    expect(s.exitCode).toBe(0);
    expect(s.failures).toEqual([]);
    expect(states('ghost', 'ghost-pkg')).toEqual({ '1.0.0': 'verified', '2.0.0': 'removed' });
  });

  it('a package a scope search no longer returns is gone from the source: its unpublished versions are set aside', async () => {
    const { job, searchFinds } = await searchedScope('@vanish', 'vanish');
    searchFinds(['@vanish/a']);
    const s = await te.run(job);
    expect(s.exitCode).toBe(0);
    expect(states('vanish', '@vanish/b')).toEqual({ '1.0.0': 'removed' });
    expect(publishes('@vanish/b')).toEqual([]);
    reg.search((_req, res) => json(res, 200, { objects: [], total: 0 }));
  });

  it('a scope the search finds nothing in (a typo, a token that sees nothing, an index being rebuilt) is ESOURCEEMPTY, exit 1: never "0 of 0 migrated", never "every package gone"', async () => {
    const { job, searchFinds } = await searchedScope('@blank', 'blank');
    searchFinds([]);
    const s = await te.run(job);
    expect(s.exitCode).toBe(1);
    expect(s.listErrors).toEqual([expect.objectContaining({ package: '@blank/*', code: 'ESOURCEEMPTY', message: expect.stringContaining('finds no package in scope @blank') })]);
    // the search that found nothing is not taken for a source that no longer holds them
    expect(states('blank', '@blank/a')).toEqual({ '1.0.0': 'fetched' });
    expect(states('blank', '@blank/b')).toEqual({ '1.0.0': 'fetched' });
    searchFinds(['@blank/a', '@blank/b']);
    expect((await te.run(job)).exitCode).toBe(0);
    expect(states('blank', '@blank/a')).toEqual({ '1.0.0': 'verified' });
    reg.search((_req, res) => json(res, 200, { objects: [], total: 0 }));
  });
});

describe('2b. a scope search is retried as a packument is', () => {
  it('a search page that fails once (503, then a dropped connection) is asked again: the scope is listed, exit 0, no list error', async () => {
    reg.setPackage('@flaky/a', [{ version: '1.0.0', tarball: npmTarball('@flaky/a', '1.0.0') }]);
    let asked = 0;
    reg.search((req, res) => {
      asked++;
      if (asked === 1) return json(res, 503, { error: 'busy' });
      if (asked === 2) return void req.socket.destroy();
      json(res, 200, { objects: [{ package: { name: '@flaky/a' } }], total: 1 });
    });
    const s = await te.run(hostileJob('flaky-search', [], { scopes: ['@flaky'] }));
    expect(s.listErrors).toEqual([]);
    expect(s.exitCode).toBe(0);
    expect(asked).toBe(3);
    expect(states('flaky-search', '@flaky/a')).toEqual({ '1.0.0': 'verified' });
    reg.search((_req, res) => json(res, 200, { objects: [], total: 0 }));
  });

  it('a search that keeps failing is one list error for the scope (ESOURCE) after the retry budget, not a source emptied', async () => {
    reg.setPackage('@down/a', [{ version: '1.0.0', tarball: npmTarball('@down/a', '1.0.0') }]);
    let asked = 0;
    reg.search((_req, res) => (asked++, json(res, 503, { error: 'busy' })));
    const s = await te.run(hostileJob('down-search', [], { scopes: ['@down'], limits: { retries: 2 } }));
    expect(s.exitCode).toBe(1);
    expect(asked).toBe(3);
    expect(s.listErrors).toEqual([expect.objectContaining({ package: '@down/*', code: 'ESOURCE', message: expect.stringContaining('HTTP 503') })]);
    expect(rows('down-search')).toEqual([]);
    reg.search((_req, res) => json(res, 200, { objects: [], total: 0 }));
  });
});

describe('3. bytes are checked when they are used, not only when they arrived', () => {
  it('a blob changed on disk after it was fetched is thrown away and downloaded again; the target gets the source\'s bytes', async () => {
    const NAME = 'rot-pkg';
    const bytes = npmTarball(NAME, '1.0.0', [{ path: 'package/data.txt', body: 'x'.repeat(5000) }]);
    reg.setPackage(NAME, [{ version: '1.0.0', tarball: bytes }]);
    const job = hostileJob('rot', [NAME]);
    await te.run(job, { dryRun: true });
    const blob = join(te.stateDir, 'blobs', 'sha512', sha512hex(bytes).slice(0, 2), sha512hex(bytes).slice(2));
    const onDisk = readFileSync(blob);
    onDisk[100] = onDisk[100]! ^ 0xff; // same size, one byte flipped: a size check cannot see it
    writeFileSync(blob, onDisk);
    const before = reg.requests('rot-pkg-1.0.0.tgz');

    const s = await te.run(job);
    expect(s.exitCode).toBe(0);
    expect(reg.requests('rot-pkg-1.0.0.tgz')).toBe(before + 1);
    expect(targetSha512(NAME, '1.0.0')).toBe(sha512hex(bytes));
    expect(readFileSync(blob).equals(bytes)).toBe(true);
  });

  it('bytes that fail their declared hash are never kept in the blob store', async () => {
    const NAME = 'liar-pkg';
    const real = npmTarball(NAME, '1.0.0');
    const served = npmTarball(NAME, '1.0.0', [{ path: 'package/evil.js', body: 'steal()' }]);
    reg.setPackage(NAME, [{ version: '1.0.0', tarball: served, dist: { integrity: sri512(real), shasum: sha1hex(real) } }]);
    const before = new Set(blobFiles());
    const s = await te.run(hostileJob('liar', [NAME]));
    expect(s.failures).toEqual([expect.objectContaining({ version: '1.0.0', code: 'EINTEGRITY' })]);
    expect(blobFiles().filter((f) => !before.has(f))).toEqual([]);
    expect(existsSync(join(te.stateDir, 'blobs', 'sha512', sha512hex(served).slice(0, 2), sha512hex(served).slice(2)))).toBe(false);
  });
});

describe('4. a source republish is noticed in every state', () => {
  it('a row left in `publishing` whose source now declares other bytes: the old blob is not published, the new bytes are', async () => {
    const NAME = 'flip-pkg';
    const v1 = npmTarball(NAME, '1.0.0');
    reg.setPackage(NAME, [{ version: '1.0.0', tarball: v1 }]);
    const job = hostileJob('flip', [NAME]);
    await te.run(job, { dryRun: true });
    // as if killed between writing `publishing` and sending the PUT
    const state = te.openState('flip');
    state.db.prepare("UPDATE items SET state = 'publishing', attempts = 1 WHERE package = ?").run(NAME);
    state.close();
    const v2 = npmTarball(NAME, '1.0.0', [{ path: 'package/CHANGED', body: 'republished' }]);
    reg.setPackage(NAME, [{ version: '1.0.0', tarball: v2 }]);

    const s = await te.run(job);
    expect(s.exitCode).toBe(0);
    expect(targetSha512(NAME, '1.0.0')).toBe(sha512hex(v2));
    expect(row('flip', NAME, '1.0.0')).toMatchObject({ state: 'verified', sha512: sha512hex(v2) });
    expect(publishes(NAME, '1.0.0')).toHaveLength(1);
  });
});

describe('6. present-identical means usable', () => {
  it('our bytes on the target, but Archived, Unlisted or Disposed: ETARGETSTATUS with the fix, exit 1; once Published again, present-identical', async () => {
    const NAME = 'status-pkg';
    const versions = ['1.0.0', '1.1.0', '1.2.0', '1.3.0'];
    reg.setPackage(NAME, versions.map((v) => ({ version: v, tarball: npmTarball(NAME, v) })));
    expect((await te.run(hostileJob('status-a', [NAME]))).exitCode).toBe(0);
    const standIn = te.sandbox.standIn;
    standIn.setVersionStatus(REPO, 'npm', undefined, NAME, '1.0.0', 'Archived');
    standIn.setVersionStatus(REPO, 'npm', undefined, NAME, '1.1.0', 'Unlisted');
    standIn.setVersionStatus(REPO, 'npm', undefined, NAME, '1.2.0', 'Disposed');
    const since = standIn.log.at(-1)?.seq ?? 0;

    // a second job (its own state) meets the versions already on the target
    const job = hostileJob('status-b', [NAME]);
    const s = await te.run(job);
    expect(s.exitCode).toBe(1);
    expect(s.failures.map((f) => [f.version, f.code])).toEqual([
      ['1.0.0', 'ETARGETSTATUS'],
      ['1.1.0', 'ETARGETSTATUS'],
      ['1.2.0', 'ETARGETSTATUS'],
    ]);
    expect(s.failures[0]!.message).toMatch(/Archived.*update-package-versions-status/);
    expect(s.failures[2]!.message).toMatch(/Disposed.*delete-package-versions/);
    expect(states('status-b', NAME)['1.3.0']).toBe('present-identical');
    expect(standIn.log.filter((e) => e.seq > since && e.operation === 'npm:Publish')).toEqual([]);

    standIn.setVersionStatus(REPO, 'npm', undefined, NAME, '1.0.0', 'Published');
    standIn.setVersionStatus(REPO, 'npm', undefined, NAME, '1.1.0', 'Published');
    const again = await te.run(job);
    expect(states('status-b', NAME)).toMatchObject({ '1.0.0': 'present-identical', '1.1.0': 'present-identical', '1.2.0': 'failed' });
    expect(again.failures.map((f) => f.version)).toEqual(['1.2.0']);
  });
});

describe('7. stop means stop', () => {
  it('SIGTERM while a tarball transfer hangs: in-flight work is cut off after the grace period, exit 130, nothing recorded as failed', async () => {
    const NAME = 'stuck-pkg';
    const bytes = npmTarball(NAME, '1.0.0');
    let stuck = true;
    reg.setPackage(NAME, [{ version: '1.0.0', dist: { integrity: sri512(bytes), shasum: sha1hex(bytes), tarball: `${reg.url}stuck/stuck-pkg-1.0.0.tgz` } }]);
    reg.route('/stuck/stuck-pkg-1.0.0.tgz', (_req, res) => {
      if (stuck) return stall(res);
      res.writeHead(200, { 'content-length': bytes.length });
      res.end(bytes);
    });
    const job = hostileJob('stuck', [NAME], { limits: { stopGraceSeconds: 1 } });
    const child = te.spawnCli(['run', job, '--json']);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    while (reg.requests('/stuck/') === 0) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    // status meanwhile says the run is in progress, and whose it is, not "did not finish (killed?)"
    const during = await te.cli(['status', job, '--json']);
    const report = JSON.parse(during.stdout) as { lastRun: { outcome: string | null; running?: { pid: number; command: string } } };
    expect(report.lastRun.outcome).toBeNull();
    expect(report.lastRun.running).toEqual(expect.objectContaining({ pid: child.pid, command: 'run' }));
    child.kill('SIGTERM');
    // the transfer would hang for minutes: only the stop can end this process now
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code, stderr).toBe(130);
    expect(stderr).not.toMatch(STACK_LINE);
    expect(row('stuck', NAME, '1.0.0').state).toBe('pending');
    expect(readdirSync(join(te.stateDir, 'blobs', 'tmp'))).toEqual([]);
    expect((JSON.parse((await te.cli(['status', job, '--json'])).stdout) as { lastRun: { running?: unknown } }).lastRun.running).toBeUndefined();
    stuck = false;
    expect((await te.run(job)).exitCode).toBe(0);
  });

  it("plan, SIGTERM while a tarball transfer hangs: in-flight work has the job's whole stopGraceSeconds, not a fixed 15 s backstop; the dry run ends recorded as interrupted and the plan's report is written, exit 130", async () => {
    const NAME = 'plan-stuck-pkg';
    const bytes = npmTarball(NAME, '1.0.0');
    reg.setPackage(NAME, [{ version: '1.0.0', dist: { integrity: sri512(bytes), shasum: sha1hex(bytes), tarball: `${reg.url}plan-stuck/${NAME}-1.0.0.tgz` } }]);
    reg.route(`/plan-stuck/${NAME}-1.0.0.tgz`, (_req, res) => stall(res));
    // a grace period past the 15 s the command fell back to before the job was read
    const job = hostileJob('plan-stuck', [NAME], { limits: { stopGraceSeconds: 18 } });
    const out = join(te.dir, 'plan-stuck-reports');
    const child = te.spawnCli(['plan', job, '--json', '--out', out]);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | string>((res) => child.on('close', (code, signal) => res(code ?? signal ?? 'unknown')));
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let since = 0;
    try {
      while (reg.requests('/plan-stuck/') === 0) await new Promise((r) => setTimeout(r, 50));
      since = te.sandbox.standIn.log.length;
      child.kill('SIGTERM');
      expect(await exited, stderr).toBe(130);
    } finally {
      clearTimeout(guard);
    }
    expect(stderr).not.toMatch(STACK_LINE);
    expect(row('plan-stuck', NAME, '1.0.0').state).toBe('pending');
    const state = te.openState('plan-stuck');
    try {
      // ended by the plan itself, not cut off by the process exiting under it
      expect(state.lastRun()).toMatchObject({ dry_run: 1, outcome: 'interrupted', ended_at: expect.any(String) });
    } finally {
      state.close();
    }
    const reports = readdirSync(out).filter((f) => f.endsWith('.json'));
    expect(reports).toHaveLength(1);
    // after the stop nothing new is started: no audit of the target, no question to the public registry,
    // and the report says the plan was stopped before them, not that the registry did not answer
    const audited = te.sandbox.standIn.log.slice(since).filter((e) => e.operation === 'DescribeRepository' || e.operation === 'DescribePackage' || e.operation === 'GetRepositoryEndpoint');
    expect(audited).toEqual([]);
    const report = JSON.parse(readFileSync(join(out, reports[0]!), 'utf8')) as { exposure: { names: { name: string; status: string; error: string | null }[] } | null };
    expect(report.exposure?.names).toEqual([expect.objectContaining({ name: NAME, status: 'unknown', error: expect.stringContaining('interrupted') })]);
  }, 90_000);

  it('a packument that trickles (a byte now and then, never the end) is cut off at its deadline with ESOURCE (retried), and the stop ends it at once (EINTERRUPTED): neither waits for the body', async () => {
    const NAME = 'trickle-pkg';
    let answering: () => void = () => {};
    let closed: () => void = () => {};
    reg.route(`/${NAME}`, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"name":"${NAME}","versions":{}`);
      const drip = setInterval(() => res.write(' '), 20);
      res.on('close', () => (clearInterval(drip), closed()));
      answering();
    });
    const source = (answerDeadlineMs?: number) =>
      new NpmRegistrySource(sourceSchema.parse({ id: 'trickle', kind: 'npm-registry', url: reg.url, packages: [NAME] }) as NpmRegistrySourceConfig, {}, answerDeadlineMs ? { answerDeadlineMs } : undefined);
    const hungUp = () => new Promise<void>((r) => (closed = r));

    // the deadline: the whole answer, however steadily it trickles
    let gone = hungUp();
    await expect(source(300).listing(NAME)).rejects.toMatchObject({ code: 'ESOURCE' });
    await gone; // the connection was cut, not left dripping

    // the stop, long before the (default, 5-minute) deadline
    const stop = new AbortController();
    const begun = new Promise<void>((r) => (answering = r));
    gone = hungUp();
    const listing = source().listing(NAME, stop.signal);
    await begun;
    stop.abort();
    await expect(listing).rejects.toMatchObject({ code: 'EINTERRUPTED' });
    await gone;
    expect(reg.requests(`/${NAME}`)).toBe(2);
  });

  it('a source that stops answering: after 8 silent downloads in a row its other versions fail at once (ESOURCESILENT), not each after retries x the idle timeout; answered again, the rerun fetches them', async () => {
    const NAME = 'mute-pkg';
    const versions = Array.from({ length: 10 }, (_, i) => `1.0.${i}`);
    const tarballs = new Map(versions.map((v) => [v, npmTarball(NAME, v)]));
    let mute = true;
    const held: http.ServerResponse[] = [];
    reg.setPackage(NAME, versions.map((v) => ({ version: v, dist: { integrity: sri512(tarballs.get(v)!), shasum: sha1hex(tarballs.get(v)!), tarball: `${reg.url}mute/${NAME}-${v}.tgz` } })));
    for (const v of versions) {
      reg.route(`/mute/${NAME}-${v}.tgz`, (_req, res) => {
        // taken and never answered (even versions), or headers and a first KiB, then silence (odd ones)
        if (mute) return void (Number(v.split('.')[2]) % 2 === 0 ? held.push(res) : (stall(res), held.push(res)));
        res.writeHead(200, { 'content-length': tarballs.get(v)!.length });
        res.end(tarballs.get(v));
      });
    }
    const job = hostileJob('mute', [NAME], { source: { idleTimeoutSeconds: 1 }, limits: { retries: 2, fetchConcurrency: 2 } });
    try {
      const s = await te.run(job);
      expect(s.exitCode).toBe(1);
      expect(s.failures.map((f) => f.version).sort()).toEqual([...versions].sort());
      const codes = s.failures.map((f) => f.code);
      // 10 versions x 3 tries would be 30 requests, a second of silence each
      expect(reg.requests('/mute/')).toBeLessThanOrEqual(8 + 2);
      expect(codes.filter((c) => c === 'ESOURCESILENT').length).toBeGreaterThanOrEqual(versions.length - 5);
      expect(s.failures.find((f) => f.code === 'ESOURCESILENT')!.message).toContain('source "hostile" answered none of its last 8 downloads (each cut off after 1 s of silence)');
      expect(Object.values(states('mute', NAME)).every((st) => st === 'failed')).toBe(true);
    } finally {
      mute = false;
      for (const res of held) res.destroy();
    }
    const again = await te.run(job);
    expect(again.exitCode).toBe(0);
    expect(Object.values(states('mute', NAME)).every((st) => st === 'verified')).toBe(true);
  });

  it('a tarball host nobody answers at (connections refused): after 20 s its other versions fail at once (ESOURCESILENT), not each after its retries; reachable again, the rerun fetches them', async () => {
    const NAME = 'refused-pkg';
    const versions = Array.from({ length: 10 }, (_, i) => `1.0.${i}`);
    const tarballs = new Map(versions.map((v) => [v, npmTarball(NAME, v)]));
    // a port nothing listens on: every connection refused at once
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const host = `127.0.0.1:${closed}`;
    const at = (base: string) => versions.map((v) => ({ version: v, dist: { integrity: sri512(tarballs.get(v)!), shasum: sha1hex(tarballs.get(v)!), tarball: `${base}refused/${NAME}-${v}.tgz` } }));
    reg.setPackage(NAME, at(`http://${host}/`));
    // 7 tries each, with their waits: 10 versions x that would be minutes
    const job = hostileJob('refused', [NAME], { source: { tarballHosts: [host] }, limits: { retries: 6, fetchConcurrency: 2 } });
    const s = await te.run(job);
    expect(s.exitCode).toBe(1);
    expect(s.failures.map((f) => f.version).sort()).toEqual([...versions].sort());
    const unreachable = s.failures.filter((f) => f.code === 'ESOURCESILENT');
    // versions whose tries (jittered waits) ran out within the 20 s end on their own last error
    expect(unreachable.length).toBeGreaterThanOrEqual(versions.length / 2);
    for (const f of s.failures.filter((x) => x.code !== 'ESOURCESILENT')) expect(f).toMatchObject({ code: 'ESOURCE', message: expect.stringContaining('ECONNREFUSED') });
    expect(unreachable[0]!.message).toMatch(/nothing answers at source "hostile": every download from it for \d+\.\d s failed before any answer \(.*ECONNREFUSED/);
    expect(Object.values(states('refused', NAME)).every((st) => st === 'failed')).toBe(true);
    // the tarballs served where the source can be reached: the rerun fetches every version
    for (const v of versions) reg.route(`/refused/${NAME}-${v}.tgz`, (_req, res) => (res.writeHead(200, { 'content-length': tarballs.get(v)!.length }), res.end(tarballs.get(v))));
    reg.setPackage(NAME, at(reg.url));
    const again = await te.run(job);
    expect(again.exitCode).toBe(0);
    expect(Object.values(states('refused', NAME)).every((st) => st === 'verified')).toBe(true);
  }, 120_000);

  it('a token revoked mid-run: after 8 refused downloads in a row across packages the source\'s other versions fail at once (ESOURCEAUTH), not one refused request each; renewed, the rerun fetches them', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `revoked-${i}`);
    const versions = ['1.0.0', '1.0.1', '1.0.2'];
    let revoked = false;
    let renewed = false;
    const served: string[] = [];
    for (const name of names) {
      const tarballs = new Map(versions.map((v) => [v, npmTarball(name, v)]));
      reg.setPackage(name, versions.map((v) => ({ version: v, dist: { integrity: sri512(tarballs.get(v)!), shasum: sha1hex(tarballs.get(v)!), tarball: `${reg.url}revoked/${name}-${v}.tgz` } })));
      for (const v of versions) {
        reg.route(`/revoked/${name}-${v}.tgz`, (_req, res) => {
          // the packuments were listed with a good token: the first few downloads too, then it stops working
          if (served.length >= 3 && !renewed) revoked = true;
          if (revoked) return void json(res, 401, { error: 'bad credentials' });
          served.push(`${name}@${v}`);
          res.writeHead(200, { 'content-length': tarballs.get(v)!.length }).end(tarballs.get(v));
        });
      }
    }
    const job = hostileJob('revoked', names, { limits: { fetchConcurrency: 2 } });
    const s = await te.run(job);
    expect(s.exitCode).toBe(1);
    const all = names.flatMap((n) => versions.map((v) => `${n}@${v}`));
    expect(s.failures.map((f) => `${f.package}@${f.version}`).sort()).toEqual(all.filter((x) => !served.includes(x)).sort());
    expect(s.failures.every((f) => f.code === 'ESOURCEAUTH')).toBe(true);
    // 36 versions: each refused download would be one more request with a dead token (and a lockout risk at the source);
    // the row stops at 8 refusals of 3 packages or more, with what was in flight then (2 downloads at a time)
    expect(reg.requests('/revoked/')).toBeLessThanOrEqual(served.length + 8 + 2);
    const stopped = s.failures.filter((f) => f.message.includes('source "hostile" refused its last downloads, 8 in a row ('));
    expect(stopped.length).toBeGreaterThanOrEqual(all.length - served.length - 8 - 2);
    expect(rows('revoked').find((r) => r.last_error?.includes('refused its last downloads'))!.last_error).toMatch(/revoked or expired during the run/);
    for (const x of served) expect(publishes(x.slice(0, x.lastIndexOf('@')), x.slice(x.lastIndexOf('@') + 1))).toHaveLength(1);
    // renewed: the rerun fetches and publishes the rest, each once
    revoked = false;
    renewed = true;
    const again = await te.run(job);
    expect(again.exitCode).toBe(0);
    for (const n of names) {
      expect(Object.values(states('revoked', n)).every((st) => st === 'verified')).toBe(true);
      for (const v of versions) expect(publishes(n, v)).toHaveLength(1);
    }
  });

  it('a full disk (here: a file-size limit) is ELOCAL naming the path: not blamed on the source, not retried, the run stops', async () => {
    const NAME = 'disk-pkg';
    const small = npmTarball(NAME, '1.0.0');
    const big = npmTarball(NAME, '2.0.0', [{ path: 'package/big.bin', body: randomBytes(3 * 1024 * 1024) }]);
    expect(big.length).toBeGreaterThan(2 * 1024 * 1024);
    reg.setPackage(NAME, [
      { version: '1.0.0', tarball: small },
      { version: '2.0.0', tarball: big },
    ]);
    const job = hostileJob('disk', [NAME], { limits: { concurrency: 1, fetchConcurrency: 1 } });
    // RLIMIT_FSIZE: writing past 1 MiB fails with EFBIG (node ignores SIGXFSZ), as a full disk fails with ENOSPC
    const r = await te.cli(['run', job, '--json'], {}, { shell: 'ulimit -f 1024' });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/ELOCAL/);
    expect(r.stderr).toContain(join(te.stateDir, 'blobs'));
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stderr).not.toMatch(/retry \d+ for disk-pkg/);
    expect(r.stderr).not.toMatch(/ESOURCE/);
    expect(reg.requests('disk-pkg-2.0.0.tgz')).toBe(1);
    expect(readdirSync(join(te.stateDir, 'blobs', 'tmp'))).toEqual([]);
    // this machine's fault, not the version's: it is not recorded as failed (status would list it so), and the progress did not say it
    expect(row('disk', NAME, '2.0.0').state).toBe('pending');
    expect(row('disk', NAME, '2.0.0').last_error_code).toBeNull();
    expect(r.stderr).not.toMatch(/failed:ELOCAL/);
    const status = JSON.parse((await te.cli(['status', job, '--json'])).stdout) as { failures: unknown[] };
    expect(status.failures).toEqual([]);
    // with room again, a rerun finishes the job
    expect((await te.run(job)).exitCode).toBe(0);
    expect(targetSha512(NAME, '2.0.0')).toBe(sha512hex(big));
  });
});

describe('8. fetch only what a registry should serve; the token only under its URL', () => {
  let other: HostileRegistry;
  beforeAll(async () => {
    other = await startHostileRegistry();
  });
  afterAll(async () => {
    await other?.stop();
  });

  it('a tarball URL on another host is refused with ESOURCEURL and that host is never contacted', async () => {
    const bytes = npmTarball('elsewhere-pkg', '1.0.0');
    other.setPackage('elsewhere-pkg', [{ version: '1.0.0', tarball: bytes }]);
    reg.setPackage('elsewhere-pkg', [{ version: '1.0.0', tarball: bytes, dist: { tarball: other.tarballUrl('elsewhere-pkg', '1.0.0') } }]);
    const s = await te.run(hostileJob('elsewhere', ['elsewhere-pkg']));
    expect(s.failures).toEqual([expect.objectContaining({ version: '1.0.0', code: 'ESOURCEURL' })]);
    expect(other.log).toEqual([]);
  });

  it('a registry under a path: the packument gets the token, a tarball elsewhere on the same host does not', async () => {
    const bytes = npmTarball('pathed-pkg', '1.0.0');
    reg.route('/npm/private/pathed-pkg', (_req, res) =>
      json(res, 200, {
        name: 'pathed-pkg',
        'dist-tags': { latest: '1.0.0' },
        versions: { '1.0.0': { name: 'pathed-pkg', version: '1.0.0', dist: { integrity: sri512(bytes), shasum: sha1hex(bytes), tarball: `${reg.url}public-files/pathed-pkg-1.0.0.tgz` } } },
      }),
    );
    reg.route('/public-files/pathed-pkg-1.0.0.tgz', (_req, res) => {
      res.writeHead(200, { 'content-length': bytes.length });
      res.end(bytes);
    });
    te.env.CAM_HOSTILE_TOKEN = 'hostile-registry-token-abcdef';
    const job = te.writeJob({ name: 'pathed', sources: [{ id: 'pathed', kind: 'npm-registry', url: `${reg.url}npm/private/`, tokenEnv: 'CAM_HOSTILE_TOKEN', packages: ['pathed-pkg'] }] });
    const s = await te.run(job);
    expect(s.exitCode).toBe(0);
    expect(reg.log.filter((e) => e.path === '/npm/private/pathed-pkg').map((e) => e.authorization)).toEqual(['Bearer hostile-registry-token-abcdef']);
    expect(reg.log.filter((e) => e.path.startsWith('/public-files/')).map((e) => e.authorization)).toEqual([undefined]);
  });
});

describe('8b. packuments are fetched as tarballs are: redirects keep the token under the registry\'s URL', () => {
  let other: HostileRegistry;
  beforeAll(async () => {
    other = await startHostileRegistry();
  });
  afterAll(async () => {
    await other?.stop();
  });

  it('to another port or protocol of the host: refused (ESOURCEURL), never asked; to another path: followed without the token; to a tarballHosts host: followed without the token; in a loop: ESOURCEURL after 5', async () => {
    const TOKEN = 'hostile-redirect-token-abcdef';
    const port = new URL(reg.url).port;
    const otherHost = new URL(other.url).host;
    const redirect = (to: string) => (_req: http.IncomingMessage, res: http.ServerResponse) => (res.writeHead(302, { location: to }), res.end());
    const bytes = npmTarball('path-pkg', '1.0.0');
    const packument = (name: string) => ({ name, versions: { '1.0.0': { name, version: '1.0.0', dist: { integrity: sri512(bytes), shasum: sha1hex(bytes), tarball: `${reg.url}redir/tgz/${name}-1.0.0.tgz` } } } });
    reg.route('/redir/port-pkg', redirect(`${other.url}redir/port-pkg`));
    reg.route('/redir/proto-pkg', redirect(`https://127.0.0.1:${port}/redir/proto-pkg`));
    reg.route('/redir/path-pkg', redirect('/other-app/path-pkg'));
    reg.route('/other-app/path-pkg', (_req, res) => json(res, 200, packument('path-pkg')));
    reg.route('/redir/loop-pkg', redirect('/redir/loop-pkg'));
    reg.route('/redir/tgz/path-pkg-1.0.0.tgz', (_req, res) => (res.writeHead(200, { 'content-length': bytes.length }), res.end(bytes)));
    other.route('/redir/port-pkg', (_req, res) => json(res, 200, packument('port-pkg')));
    te.env.CAM_REDIRECT_TOKEN = TOKEN;
    const source = { id: 'redir', kind: 'npm-registry', url: `${reg.url}redir/`, tokenEnv: 'CAM_REDIRECT_TOKEN' };
    const codes = (s: RunSummary) => Object.fromEntries(s.listErrors.map((e) => [e.package, e.code]));

    const s = await te.run(te.writeJob({ name: 'redir', sources: [{ ...source, packages: ['port-pkg', 'proto-pkg', 'path-pkg', 'loop-pkg'] }] }), { dryRun: true });
    expect(codes(s)).toEqual({ 'port-pkg': 'ESOURCEURL', 'proto-pkg': 'ESOURCEURL', 'loop-pkg': 'ESOURCEURL' });
    expect(other.log).toEqual([]);
    expect(reg.log.filter((e) => e.path === '/redir/path-pkg').map((e) => e.authorization)).toEqual([`Bearer ${TOKEN}`]);
    expect(reg.log.filter((e) => e.path === '/other-app/path-pkg').map((e) => e.authorization)).toEqual([undefined]);
    expect(states('redir', 'path-pkg')).toEqual({ '1.0.0': 'fetched' });
    // not retried: a redirect loop stays a loop; the first request and 5 redirects
    expect(reg.requests('/redir/loop-pkg')).toBe(6);

    // a host the job trusts for tarballs may serve the packument too, never with the token
    const trusted = await te.run(te.writeJob({ name: 'redir-trusted', sources: [{ ...source, packages: ['port-pkg'], tarballHosts: [otherHost] }] }), { dryRun: true });
    expect(trusted.listErrors).toEqual([]);
    expect(other.log.map((e) => [e.path, e.authorization])).toEqual([['/redir/port-pkg', undefined]]);
  });

  it('a packument the registry gzips (as asked) is read: the switch from npm-registry-fetch keeps compressed answers', async () => {
    const NAME = 'gzip-pkg';
    const bytes = npmTarball(NAME, '1.0.0');
    const asked: (string | undefined)[] = [];
    reg.route(`/${NAME}`, (req, res) => {
      asked.push(req.headers['accept-encoding']);
      const body = gzipSync(JSON.stringify({ name: NAME, versions: { '1.0.0': { name: NAME, version: '1.0.0', dist: { integrity: sri512(bytes), tarball: `${reg.url}gzip/${NAME}-1.0.0.tgz` } } } }));
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length });
      res.end(body);
    });
    reg.route(`/gzip/${NAME}-1.0.0.tgz`, (_req, res) => (res.writeHead(200, { 'content-length': bytes.length }), res.end(bytes)));
    const s = await te.run(hostileJob('gzipped', [NAME]), { dryRun: true });
    expect(s.listErrors).toEqual([]);
    expect(asked).toEqual(['gzip']);
    expect(states('gzipped', NAME)).toEqual({ '1.0.0': 'fetched' });
  });
});

describe('9. secrets stay out in the forms they really come in', () => {
  it('a signed tarball URL: downloaded as given, recorded and printed without its query', async () => {
    const bytes = npmTarball('signed-pkg', '1.0.0');
    const SIG = 'SiGnAtUrE-7c1f0e2d9b8a';
    reg.setPackage('signed-pkg', [{ version: '1.0.0', tarball: bytes, dist: { tarball: `${reg.url}signed/signed-pkg-1.0.0.tgz?X-Amz-Signature=${SIG}&token=${SIG}` } }]);
    let fullUrl = '';
    reg.route('/signed/signed-pkg-1.0.0.tgz', (req, res) => {
      fullUrl = req.url ?? '';
      res.writeHead(200, { 'content-length': bytes.length });
      res.end(bytes);
    });
    const job = hostileJob('signed', ['signed-pkg']);
    const r = await te.cli(['run', job, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(fullUrl).toContain(SIG);
    expect(row('signed', 'signed-pkg', '1.0.0').artifact_url).toBe(`${reg.url}signed/signed-pkg-1.0.0.tgz`);
    const status = await te.cli(['status', job, '--json']);
    for (const text of [r.stdout, r.stderr, status.stdout, status.stderr, readFileSync(join(te.stateDir, 'signed.sqlite')).toString('latin1')]) expect(text).not.toContain(SIG);
  });
});

describe('9b. a source that echoes its token back in what it lists', () => {
  it('the token, put in a deprecation, an integrity, a shasum and a tarball URL, reaches no state, ledger, output nor the target', async () => {
    const TOKEN = 'echoed-source-token-0a1b2c3d4e5f';
    te.env.CAM_ECHO_TOKEN = TOKEN;
    const NAME = 'echo-pkg';
    reg.setPackage(NAME, [
      { version: '1.0.0', tarball: npmTarball(NAME, '1.0.0'), deprecated: `use 1.0.2 (asked with ${TOKEN})` },
      { version: '1.0.1', tarball: npmTarball(NAME, '1.0.1'), dist: { integrity: `sha512-${TOKEN}`, shasum: TOKEN } },
      { version: '1.0.2', tarball: npmTarball(NAME, '1.0.2'), dist: { tarball: `${reg.url}${NAME}/-/${NAME}-1.0.2.tgz#${TOKEN}` } },
    ]);
    const job = hostileJob('echo', [NAME], { source: { tokenEnv: 'CAM_ECHO_TOKEN' } });
    const outputs: string[] = [];
    for (const args of [['run', job, '--json'], ['status', job, '--json'], ['ledger', 'export', job]]) {
      const r = await te.cli(args);
      outputs.push(r.stdout, r.stderr);
    }
    // the versions whose listing holds it are not migrated, said why; the one whose URL's fragment held it is
    const s = JSON.parse(outputs[0]!) as RunSummary;
    expect(s.exitCode).toBe(1);
    expect(s.failures.map((f) => [f.version, f.code, /holds the credential this source is read with/.test(f.message)]).sort()).toEqual([
      ['1.0.0', 'EBADSOURCE', true],
      ['1.0.1', 'EBADSOURCE', true],
    ]);
    expect(states('echo', NAME)).toMatchObject({ '1.0.2': 'verified' });
    // the source got the token (it was asked with it), and echoed it
    expect(reg.log.some((e) => e.authorization === `Bearer ${TOKEN}`)).toBe(true);
    const leaks = (text: string) => [...text.matchAll(new RegExp(`.{0,60}${TOKEN}.{0,20}`, 'g'))].map((m) => m[0]);
    expect(outputs.flatMap(leaks)).toEqual([]);
    expect(filesUnder(te.stateDir).filter((f) => f.includes('echo')).flatMap((f) => leaks(readFileSync(f).toString('latin1')).map((l) => `${f}: ${l}`))).toEqual([]);
    // nor what the target was sent (the deprecation is replicated there)
    const packument = await fetch(`${te.sandbox.descriptor.codeartifact.npmEndpoint}${NAME}`, { headers: { authorization: `Bearer ${await te.targetToken()}` } });
    const body = await packument.text();
    expect(body).toContain('1.0.2');
    expect(body).not.toContain(TOKEN);
  });
});

describe('9c. a source that echoes its token in a version key, a dist-tag or a name its search returns', () => {
  it('the token reaches no state, ledger, report, output nor the target; the honest versions migrate', async () => {
    // letters, digits and hyphens: a valid semver prerelease, a valid npm name
    const TOKEN = `echoedkey-${randomBytes(8).toString('hex')}`;
    te.env.CAM_ECHO_TOKEN = TOKEN;
    const NAME = 'echo-key-pkg';
    const TAGGED = 'echo-tag-pkg';
    const echoedVersion = `1.0.0-${TOKEN}`;
    reg.setPackage(NAME, [
      { version: '1.0.0', tarball: npmTarball(NAME, '1.0.0') },
      { version: echoedVersion, tarball: npmTarball(NAME, echoedVersion) },
    ], { latest: '1.0.0', beta: echoedVersion });
    reg.setPackage(TAGGED, [{ version: '1.0.0', tarball: npmTarball(TAGGED, '1.0.0') }], { latest: '1.0.0', [`t-${TOKEN}`]: '1.0.0' });
    reg.setPackage('@echoscope/ok', [{ version: '1.0.0', tarball: npmTarball('@echoscope/ok', '1.0.0') }]);
    reg.setPackage(`@echoscope/${TOKEN}`, [{ version: '1.0.0', tarball: npmTarball(`@echoscope/${TOKEN}`, '1.0.0') }]);
    reg.search((_req, res) => json(res, 200, { objects: ['@echoscope/ok', `@echoscope/${TOKEN}`].map((name) => ({ package: { name } })), total: 2 }));
    const job = hostileJob('echokey', [NAME, TAGGED], { source: { tokenEnv: 'CAM_ECHO_TOKEN' }, scopes: ['@echoscope'] });
    const outputs: string[] = [];
    for (const args of [['run', job, '--json'], ['status', job, '--json'], ['ledger', 'export', job], ['report', job, '--json']]) {
      const r = await te.cli(args);
      outputs.push(r.stdout, r.stderr);
    }
    const s = JSON.parse(outputs[0]!) as RunSummary;
    expect(s.exitCode).toBe(1);
    // the honest versions went through
    expect(states('echokey', NAME)['1.0.0']).toBe('verified');
    expect(states('echokey', '@echoscope/ok')['1.0.0']).toBe('verified');
    // the version whose key holds it is not migrated, and said why; so is the package whose tag name holds it
    expect(s.failures.filter((f) => f.package === NAME).map((f) => [f.code, /holds the credential this source is read with/.test(f.message)])).toEqual([['EBADSOURCE', true]]);
    expect(publishes(NAME).map((e) => e.version)).toEqual(['1.0.0']);
    expect(publishes(TAGGED)).toEqual([]);
    expect(te.sandbox.standIn.log.filter((e) => e.operation === 'npm:Publish' && e.package?.startsWith('@echoscope/echoedkey'))).toEqual([]);
    const leaks = (text: string) => [...text.matchAll(new RegExp(`.{0,60}${TOKEN.slice(10)}.{0,20}`, 'g'))].map((m) => m[0]);
    expect(outputs.flatMap(leaks)).toEqual([]);
    expect(filesUnder(te.stateDir).filter((f) => f.includes('echokey')).flatMap((f) => leaks(readFileSync(f).toString('latin1')).map((l) => `${f}: ${l}`))).toEqual([]);
    for (const pkg of [NAME, TAGGED]) {
      const packument = await fetch(`${te.sandbox.descriptor.codeartifact.npmEndpoint}${pkg}`, { headers: { authorization: `Bearer ${await te.targetToken()}` } });
      expect(leaks(await packument.text())).toEqual([]);
    }
  });
});

describe('9d. a source whose over-long name or key holds its token where a message cuts it', () => {
  it('no piece of the token is left by the cut: it is redacted first', async () => {
    const TOKEN = `echoedcut-${randomBytes(8).toString('hex')}`;
    te.env.CAM_ECHO_TOKEN = TOKEN;
    // the first 80 characters of each (what a message quotes) end in the middle of the token's random part
    const cutInside = 'x'.repeat(62) + TOKEN;
    reg.route('/echo-cut-name', (_req, res) => json(res, 200, { name: cutInside, versions: {} }));
    reg.setPackage('echo-cut-tag', [{ version: '1.0.0', tarball: npmTarball('echo-cut-tag', '1.0.0') }], { latest: '1.0.0', [cutInside + 'y'.repeat(300)]: '1.0.0' });
    const job = hostileJob('echocut', ['echo-cut-name', 'echo-cut-tag'], { source: { tokenEnv: 'CAM_ECHO_TOKEN' } });
    const outputs: string[] = [];
    for (const args of [['run', job, '--json'], ['status', job, '--json'], ['report', job, '--json']]) {
      const r = await te.cli(args);
      outputs.push(r.stdout, r.stderr);
    }
    const s = JSON.parse(outputs[0]!) as RunSummary;
    expect(s.exitCode).toBe(1);
    const half = TOKEN.slice(10, 18);
    const leaks = (text: string) => [...text.matchAll(new RegExp(`.{0,60}${half}.{0,20}`, 'g'))].map((m) => m[0]);
    // both packages failed, said so (their messages are there to hold the piece)
    expect(outputs[2]).toMatch(/echo-cut-name[^]*EBADSOURCE|EBADSOURCE[^]*echo-cut-name/);
    expect(outputs[2]).toMatch(/echo-cut-tag[^]*EBADSOURCE|EBADSOURCE[^]*echo-cut-tag/);
    expect(outputs.flatMap(leaks)).toEqual([]);
    expect(filesUnder(te.stateDir).filter((f) => f.includes('echocut')).flatMap((f) => leaks(readFileSync(f).toString('latin1')).map((l) => `${f}: ${l}`))).toEqual([]);
  });
});

describe('9e. a source that redirects to a host named after its token (a host is lowercased when parsed)', () => {
  it('the token, in any letter case, reaches no state, report nor output: the refused host is named with it masked', async () => {
    // mixed case, as real tokens are: a redirect's host comes back from URL parsing in lower case
    const TOKEN = `CaseToken${randomBytes(6).toString('hex').toUpperCase()}`;
    te.env.CAM_CASE_TOKEN = TOKEN;
    const port = new URL(reg.url).port;
    reg.route('/case/host-pkg', (_req, res) => (res.writeHead(302, { location: `http://${TOKEN}.localhost:${port}/case/elsewhere` }), res.end()));
    reg.route('/case/user-pkg', (_req, res) => (res.writeHead(302, { location: `http://x:${TOKEN}@${TOKEN}.LocalHost:${port}/case/elsewhere` }), res.end()));
    const job = te.writeJob({ name: 'casehost', sources: [{ id: 'case', kind: 'npm-registry', url: `${reg.url}case/`, tokenEnv: 'CAM_CASE_TOKEN', packages: ['host-pkg', 'user-pkg'] }] });
    const outputs: string[] = [];
    for (const args of [['run', job, '--json'], ['status', job, '--json'], ['report', job, '--json'], ['run', job]]) {
      const r = await te.cli(args);
      outputs.push(r.stdout, r.stderr);
    }
    const s = JSON.parse(outputs[0]!) as RunSummary;
    expect(Object.fromEntries(s.listErrors.map((e) => [e.package, e.code]))).toEqual({ 'host-pkg': 'ESOURCEURL', 'user-pkg': 'ESOURCEURL' });
    // the refused host is still named, with the token masked
    expect(s.listErrors.map((e) => e.message)).toEqual([expect.stringContaining('http://***.localhost:'), expect.stringContaining('http://***.localhost:')]);
    const leaks = (text: string) => [...text.matchAll(new RegExp(`.{0,60}${TOKEN}.{0,20}`, 'gi'))].map((m) => m[0]);
    expect(outputs.flatMap(leaks)).toEqual([]);
    expect(filesUnder(te.stateDir).filter((f) => f.includes('casehost')).flatMap((f) => leaks(readFileSync(f).toString('latin1')).map((l) => `${f}: ${l}`))).toEqual([]);
  });
});

describe('10. the manifest is the one npm would use', () => {
  it('the LAST package/package.json counts, ../package.json never does, a linked one is refused', async () => {
    const NAME = 'manifest-pkg';
    const wrongLast = tarGz([
      { path: 'package/package.json', body: JSON.stringify({ name: NAME, version: '1.0.0' }) },
      { path: 'package/package.json', body: JSON.stringify({ name: 'evil-pkg', version: '1.0.0' }) },
    ]);
    const dotdot = tarGz([
      { path: '../package.json', body: JSON.stringify({ name: NAME, version: '2.0.0' }) },
      { path: 'package/package.json', body: JSON.stringify({ name: 'evil-pkg', version: '2.0.0' }) },
    ]);
    const linked = tarGz([{ path: 'package/package.json', type: '2', linkname: '/etc/passwd' }]);
    const rightLast = tarGz([
      { path: 'package/package.json', body: JSON.stringify({ name: 'evil-pkg', version: '4.0.0' }) },
      { path: 'package/package.json', body: JSON.stringify({ name: NAME, version: '4.0.0' }) },
    ]);
    reg.setPackage(NAME, [
      { version: '1.0.0', tarball: wrongLast },
      { version: '2.0.0', tarball: dotdot },
      { version: '3.0.0', tarball: linked },
      { version: '4.0.0', tarball: rightLast },
    ]);
    const s = await te.run(hostileJob('manifest', [NAME]));
    expect(s.failures.map((f) => [f.version, f.code])).toEqual([
      ['1.0.0', 'EBADSOURCE'],
      ['2.0.0', 'EBADSOURCE'],
      ['3.0.0', 'EBADSOURCE'],
    ]);
    expect(states('manifest', NAME)['4.0.0']).toBe('verified');
    expect(publishes(NAME).map((e) => e.version)).toEqual(['4.0.0']);
  });
});

describe('11. a malformed sha512 integrity is an integrity error', () => {
  it('a mangled sha512 beside a correct shasum is EINTEGRITY, not a weak sha1 check', async () => {
    const bytes = npmTarball('mangled-pkg', '1.0.0');
    const good = sri512(bytes);
    reg.setPackage('mangled-pkg', [
      { version: '1.0.0', tarball: bytes, dist: { integrity: good.slice(0, 40) } },
      { version: '1.0.1', tarball: npmTarball('mangled-pkg', '1.0.1'), dist: { integrity: 'sha512-!!!not-base64!!!' } },
    ]);
    const s = await te.run(hostileJob('mangled', ['mangled-pkg']));
    expect(s.failures.map((f) => [f.version, f.code])).toEqual([
      ['1.0.0', 'EINTEGRITY'],
      ['1.0.1', 'EINTEGRITY'],
    ]);
    expect(s.weakIntegrity).toEqual([]);
    expect(publishes('mangled-pkg')).toEqual([]);
  });
});

describe('12. exit 0 only when everything is in sync, dist-tags included', () => {
  it('a dist-tag on an excluded version is reported with what to do, exit 1; ignoring that tag makes it 0', async () => {
    const NAME = 'tagged-pkg';
    reg.setPackage(NAME, ['1.0.0', '2.0.0', '3.0.0-beta.1'].map((v) => ({ version: v, tarball: npmTarball(NAME, v) })), { latest: '2.0.0', legacy: '1.0.0', next: '3.0.0-beta.1' });
    const filters = { exclude: [`${NAME}@1.0.0`] };
    const s = await te.run(hostileJob('tagged', [NAME], { filters }));
    expect(s.exitCode).toBe(1);
    expect(s.failures).toEqual([]);
    expect(s.metadataOutOfSync).toEqual([{ package: NAME, reason: expect.stringMatching(/legacy -> 1\.0\.0.*ignoreDistTags/) }]);
    expect(te.sandbox.standIn.distTags(REPO, NAME)).toEqual({ latest: '2.0.0', next: '3.0.0-beta.1' });

    const accepted = await te.run(hostileJob('tagged', [NAME], { filters: { ...filters, ignoreDistTags: ['legacy'] } }));
    expect(accepted.exitCode).toBe(0);
    expect(accepted.metadataOutOfSync).toEqual([]);
  });
});

describe('12b. a deprecation changed at the source after its package is in sync', () => {
  it('is copied by the next run: set, changed and cleared', async () => {
    const NAME = 'latedeprecate-pkg';
    const tb = (v: string) => npmTarball(NAME, v);
    const deprecations = () => Object.fromEntries(te.sandbox.standIn.versions(REPO, 'npm', undefined, NAME).map((v) => [v.version, v.deprecated]));
    const job = hostileJob('latedeprecate', [NAME]);
    reg.setPackage(NAME, [{ version: '1.0.0', tarball: tb('1.0.0'), deprecated: 'old' }, { version: '1.1.0', tarball: tb('1.1.0') }, { version: '1.2.0', tarball: tb('1.2.0'), deprecated: 'broken' }]);
    expect((await te.run(job)).exitCode).toBe(0);
    reg.setPackage(NAME, [{ version: '1.0.0', tarball: tb('1.0.0'), deprecated: 'use 1.2.x' }, { version: '1.1.0', tarball: tb('1.1.0'), deprecated: 'use 1.2.x' }, { version: '1.2.0', tarball: tb('1.2.0') }]);
    const s = await te.run(job);
    expect(s.exitCode).toBe(0);
    expect(deprecations()).toEqual({ '1.0.0': 'use 1.2.x', '1.1.0': 'use 1.2.x', '1.2.0': undefined });
  });
});

describe('dist-tags npm would never make', () => {
  it('"..", "." and "": not copied (never a request to another path), said with what to do, exit 1; a semver range and a slash are copied as the source has them, never sent with a publish', async () => {
    const NAME = 'oddtags-pkg';
    const unsendable = { '..': '1.0.0', '.': '1.0.0', '': '1.1.0' };
    const odd = { '1.x': '1.0.0', 'a/b': '1.1.0' };
    reg.setPackage(NAME, ['1.0.0', '1.1.0'].map((v) => ({ version: v, tarball: npmTarball(NAME, v) })), { ...unsendable, ...odd, latest: '1.1.0', beta: '1.0.0' });
    const since = te.sandbox.standIn.log.length;
    const s = await te.run(hostileJob('oddtags', [NAME]));
    expect(s.failures).toEqual([]);
    expect(s.exitCode).toBe(1);
    expect(states('oddtags', NAME)).toEqual({ '1.0.0': 'verified', '1.1.0': 'verified' });
    expect(te.sandbox.standIn.distTags(REPO, NAME)).toEqual({ latest: '1.1.0', beta: '1.0.0', ...odd });
    expect(s.metadataOutOfSync).toEqual(Object.keys(unsendable).map((tag) => ({ package: NAME, reason: expect.stringContaining(`dist-tag ${JSON.stringify(tag)} -> `) })));
    expect(s.metadataOutOfSync.every((m) => m.reason.includes('filters.ignoreDistTags'))).toBe(true);
    // every dist-tag request named one tag, as a path segment of its own; none went to another path of the package
    const log = te.sandbox.standIn.log.slice(since).filter((e) => e.operation.startsWith('npm:') && (e.path ?? '').includes(NAME) && !['npm:Publish', 'npm:GetPackument', 'npm:GetTarball'].includes(e.operation));
    expect(log.length).toBeGreaterThan(0);
    expect(log.filter((e) => !/\/dist-tags(\/(latest|beta|cam-backfill|1\.x|a%2Fb))?$/.test(e.path ?? '')).map((e) => `${e.method} ${e.path}`)).toEqual([]);
    // each version went out once, with a tag npm itself would make
    expect(publishes(NAME).map((e) => e.version).sort()).toEqual(['1.0.0', '1.1.0']);

    const accepted = await te.run(hostileJob('oddtags', [NAME], { filters: { ignoreDistTags: Object.keys(unsendable) } }));
    expect(accepted.exitCode).toBe(0);
    expect(te.sandbox.standIn.distTags(REPO, NAME)).toEqual({ latest: '1.1.0', beta: '1.0.0', ...odd });
  });
});

describe('13. hostile or huge inputs stay cheap', () => {
  it('a search that ignores paging (the same page forever) ends, after one page that brought nothing new', async () => {
    const names = Array.from({ length: 250 }, (_, i) => `@loop/p${i}`);
    for (const n of names.slice(0, 2)) reg.setPackage(n, [{ version: '1.0.0', tarball: npmTarball(n, '1.0.0') }]);
    reg.search((_req, res) => json(res, 200, { objects: names.map((name) => ({ package: { name } })), total: 1_000_000 }));
    const before = reg.requests('/-/v1/search');
    const s = await te.run(hostileJob('loop', [], { scopes: ['@loop'] }), { dryRun: true });
    expect(reg.requests('/-/v1/search') - before).toBe(2);
    expect(s.listErrors.filter((e) => e.code === 'ESOURCENOTFOUND')).toHaveLength(248);
    reg.search((_req, res) => json(res, 200, { objects: [], total: 0 }));
  });

  it('names with terminal escape sequences are refused as names and never reach the terminal raw', async () => {
    const evil = '@esc/\u001b]0;pwned\u0007\u001b[2Jx';
    reg.setPackage('@esc/fine', [{ version: '1.0.0', tarball: npmTarball('@esc/fine', '1.0.0') }]);
    reg.search((_req, res) => json(res, 200, { objects: [{ package: { name: evil } }, { package: { name: '@esc/fine' } }], total: 2 }));
    const r = await te.cli(['run', hostileJob('esc', [], { scopes: ['@esc'] }), '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('\u001b');
    expect(r.stdout).not.toContain('\u001b');
    expect(r.stdout).not.toContain('\u0007');
    expect(summaryOf(r.stdout).listErrors).toEqual([expect.objectContaining({ code: 'EBADSOURCE' })]);
    expect(states('esc', '@esc/fine')).toEqual({ '1.0.0': 'verified' });
    reg.search((_req, res) => json(res, 200, { objects: [], total: 0 }));
  });

  it('a clock hours ahead of the token\'s expiry does not fetch a token per request', async () => {
    const NAME = 'clock-pkg';
    reg.setPackage(NAME, ['1.0.0', '1.0.1', '1.0.2', '1.0.3'].map((v) => ({ version: v, tarball: npmTarball(NAME, v) })));
    const since = te.sandbox.standIn.log.at(-1)?.seq ?? 0;
    const r = await te.cli(['run', hostileJob('clock', [NAME]), '--json'], { CAM_TEST_CLOCK_OFFSET_MS: String(13 * 3600_000) }, { nodeArgs: ['--import', join(ROOT, 'test/support/fake-clock.mjs')] });
    expect(r.code, r.stderr).toBe(0);
    const tokens = te.sandbox.standIn.log.filter((e) => e.seq > since && e.operation === 'GetAuthorizationToken');
    expect(tokens).toHaveLength(1);
    expect(summaryOf(r.stdout).tokenFetches).toBe(1);
  });

  it('a listing version key that is not a version fails that version EBADSOURCE, never fetched; the rest migrates', async () => {
    const NAME = 'keys-pkg';
    const ok = npmTarball(NAME, '1.0.0');
    reg.setPackage(NAME, [
      { version: '1.0.0', tarball: ok },
      { version: '../../../etc/passwd', dist: { integrity: sri512(ok), tarball: `${reg.url}keys/evil.tgz` } },
    ]);
    const s = await te.run(hostileJob('keys', [NAME]));
    expect(s.failures).toEqual([expect.objectContaining({ version: '../../../etc/passwd', code: 'EBADSOURCE' })]);
    expect(reg.requests('/keys/evil.tgz')).toBe(0);
    expect(states('keys', NAME)['1.0.0']).toBe('verified');
  });

  it("a version's publish time is kept only when it is a date and time, as ISO 8601: newlines, Markdown, table pipes and control characters never reach the state (nor the reports)", async () => {
    const NAME = 'time-pkg';
    const times: Record<string, string> = { '1.0.0': '\n', '1.1.0': '![](//e.a)', '1.2.0': '|identical', '1.3.0': '\u001b[8m\u202e', '1.4.0': '2021-03-04T05:06:07+02:00', '1.5.0': '2021-03-05T00:00:00.000Z' };
    reg.setPackage(NAME, Object.entries(times).map(([version, time]) => ({ version, time, tarball: npmTarball(NAME, version) })));
    await te.run(hostileJob('times', [NAME]), { dryRun: true });
    expect(Object.fromEntries(rows('times', NAME).map((r) => [r.version, r.source_published_at]))).toEqual({
      '1.0.0': null,
      '1.1.0': null,
      '1.2.0': null,
      '1.3.0': null,
      '1.4.0': '2021-03-04T03:06:07.000Z',
      '1.5.0': '2021-03-05T00:00:00.000Z',
    });
  });

  it('version keys of hundreds of KB (the way to a report too large to write) are recorded by a bounded prefix and a hash: each its own EBADSOURCE row, never stored whole', async () => {
    const NAME = 'longkeys-pkg';
    const ok = npmTarball(NAME, '1.0.0');
    const common = `1.0.0-${'x'.repeat(1000)}`;
    const [a, b] = [`${common}${'a'.repeat(300_000)}`, `${common}${'b'.repeat(300_000)}`];
    reg.setPackage(NAME, [{ version: '1.0.0', tarball: ok }, ...[a, b].map((version) => ({ version, dist: { integrity: sri512(ok), tarball: `${reg.url}longkeys/evil.tgz` } }))], { latest: '1.0.0' });
    const s = await te.run(hostileJob('longkeys', [NAME]));
    const stored = rows('longkeys', NAME);
    expect(stored).toHaveLength(3);
    expect(Math.max(...stored.map((r) => r.version.length + (r.source_problem ?? '').length))).toBeLessThan(1000);
    const long = stored.filter((r) => r.version !== '1.0.0');
    expect(new Set(long.map((r) => r.version)).size).toBe(2);
    for (const r of long) expect([r.version.startsWith(common.slice(0, 50)), r.state, r.last_error_code]).toEqual([true, 'failed', 'EBADSOURCE']);
    expect(s.failures.map((f) => f.code)).toEqual(['EBADSOURCE', 'EBADSOURCE']);
    expect(reg.requests('/longkeys/evil.tgz')).toBe(0);
    expect(states('longkeys', NAME)['1.0.0']).toBe('verified');
  });

  it('a progress callback that throws ends the run with that error: nothing is left unhandled', async () => {
    reg.setPackage('cb-pkg', [{ version: '1.0.0', tarball: npmTarball('cb-pkg', '1.0.0') }]);
    const boom = new Error('renderer failed');
    await expect(
      te.run(hostileJob('cb', ['cb-pkg']), {
        onProgress: (e) => {
          if (e.type === 'item') throw boom;
        },
      }),
    ).rejects.toBe(boom);
    // the lock went with the run
    expect(existsSync(join(te.stateDir, 'cb.lock.owner'))).toBe(false);
    expect(statSync(join(te.stateDir, 'cb.sqlite')).size).toBeGreaterThan(0);
  });
});

describe('a package of many versions', () => {
  it('downloads run a bounded distance ahead of its publishes, not all at once: with the first publish held, 6 of 60 versions are fetched; the rerun fetches each of the others once', async () => {
    const NAME = 'ahead-pkg';
    const versions = Array.from({ length: 60 }, (_, i) => `1.0.${i}`);
    reg.setPackage(NAME, versions.map((v) => ({ version: v, tarball: npmTarball(NAME, v) })));
    const tarballs = () => reg.requests(`/${NAME}-`);
    // fetchConcurrency 2 and one publish at a time: the version being published, the next one
    // waiting for its turn, and 2 + 2 x 1 ahead of that
    const job = hostileJob('ahead', [NAME], { limits: { fetchConcurrency: 2, publishesPerPackage: 1, stopGraceSeconds: 1 } });
    te.sandbox.standIn.addFault({ operation: 'npm:Publish', package: NAME, status: 0, hang: true });
    const child = te.spawnCli(['run', job, '--json']);
    const exited = once(child, 'exit');
    try {
      // held at the first publish; the downloads settle where the window ends (all 60 without one)
      const deadline = Date.now() + 30_000;
      while (!te.sandbox.standIn.log.some((e) => e.operation === 'npm:Publish' && e.package === NAME) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      // the six come first, then a quiet second shows whether any more come (a quiet second
      // alone before the sixth, a run a loaded machine paused, would end the wait too early)
      while (tarballs() < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      let seen = -1;
      while (seen !== tarballs() && Date.now() < deadline) {
        seen = tarballs();
        await new Promise((r) => setTimeout(r, 1000));
      }
      expect(tarballs()).toBe(6);
      child.kill('SIGTERM');
      expect(((await exited) as [number | null])[0]).toBe(130);
    } finally {
      child.kill('SIGKILL');
      te.sandbox.standIn.clearFaults();
    }
    const again = await te.run(job);
    expect(again.exitCode).toBe(0);
    expect(Object.values(states('ahead', NAME)).every((s) => s === 'verified')).toBe(true);
    // the six fetched before the stop came from the blob store
    expect(tarballs()).toBe(60);
  });
});

describe("14. a registry's free text is bounded where it is stored", () => {
  const KB100 = 'd'.repeat(100 * 1024);
  const deprecationOf = (pkg: string) => Object.fromEntries(te.sandbox.standIn.versions(REPO, 'npm', undefined, pkg).map((v) => [v.version, v.deprecated]));
  function packageRows(job: string) {
    const state = te.openState(job);
    try {
      return state.packages();
    } finally {
      state.close();
    }
  }

  it('a deprecation message, an integrity, a shasum or a tarball URL longer than any registry sends fails its version EBADSOURCE, never fetched, nothing of it stored; the rest migrates, deprecation included', async () => {
    const NAME = 'bounds-pkg';
    const tb = (v: string) => npmTarball(NAME, v);
    reg.setPackage(NAME, [
      { version: '1.0.0', tarball: tb('1.0.0'), deprecated: 'use 1.5.0' },
      { version: '1.1.0', tarball: tb('1.1.0'), deprecated: KB100 },
      // several hashes, space-separated, as SRI allows, but a megabyte of them
      { version: '1.2.0', tarball: tb('1.2.0'), dist: { integrity: `${sri512(tb('1.2.0'))} ${'sha1-AAAA '.repeat(100_000)}` } },
      { version: '1.3.0', tarball: tb('1.3.0'), dist: { shasum: 'f'.repeat(1024 * 1024) } },
      { version: '1.4.0', tarball: tb('1.4.0'), dist: { tarball: `${reg.url}long/${'a'.repeat(100_000)}.tgz` } },
      { version: '1.5.0', tarball: tb('1.5.0') },
    ]);
    const s = await te.run(hostileJob('bounds', [NAME]));
    expect(s.exitCode).toBe(1);
    expect(s.failures.map((f) => [f.version, f.code])).toEqual([
      ['1.1.0', 'EBADSOURCE'],
      ['1.2.0', 'EBADSOURCE'],
      ['1.3.0', 'EBADSOURCE'],
      ['1.4.0', 'EBADSOURCE'],
    ]);
    // each says which field, and the lengths
    const said = Object.fromEntries(s.failures.map((f) => [f.version, f.message]));
    expect(said['1.1.0']).toMatch(/deprecation message is 102,400 characters long.*at most 4,096/);
    expect(said['1.2.0']).toMatch(/dist\.integrity is [\d,]+ characters long/);
    expect(said['1.3.0']).toMatch(/dist\.shasum is 1,048,576 characters long/);
    expect(said['1.4.0']).toMatch(/dist\.tarball URL is [\d,]+ characters long/);
    expect(states('bounds', NAME)).toEqual({ '1.0.0': 'verified', '1.1.0': 'failed', '1.2.0': 'failed', '1.3.0': 'failed', '1.4.0': 'failed', '1.5.0': 'verified' });
    // never asked for, never published
    for (const v of ['1.1.0', '1.2.0', '1.3.0', '1.4.0']) expect([v, reg.requests(`/${NAME}-${v}.tgz`), publishes(NAME, v).length]).toEqual([v, 0, 0]);
    expect(reg.requests('/long/')).toBe(0);
    // a row carries at most a few hundred characters from the registry, whatever it sent
    for (const r of rows('bounds', NAME)) {
      const fromSource = [r.version, r.deprecated, r.declared_integrity, r.declared_shasum, r.artifact_url, r.source_problem, r.last_error];
      expect([r.version, fromSource.reduce((n, x) => n + (x ?? '').length, 0)]).toEqual([r.version, expect.toSatisfy((n: number) => n < 2000)]);
    }
    expect(deprecationOf(NAME)).toEqual({ '1.0.0': 'use 1.5.0', '1.5.0': undefined });
  });

  it("a migrated version whose deprecation becomes too long to keep: the target's is left as it was and the run says so (exit 1); a deprecation changed within bounds is copied", async () => {
    const NAME = 'redeprecate-pkg';
    const tb = (v: string) => npmTarball(NAME, v);
    reg.setPackage(NAME, [{ version: '1.0.0', tarball: tb('1.0.0'), deprecated: 'use 1.1.0' }, { version: '1.1.0', tarball: tb('1.1.0') }]);
    const job = hostileJob('redeprecate', [NAME]);
    expect((await te.run(job)).exitCode).toBe(0);
    expect(deprecationOf(NAME)).toEqual({ '1.0.0': 'use 1.1.0', '1.1.0': undefined });

    reg.setPackage(NAME, [{ version: '1.0.0', tarball: tb('1.0.0'), deprecated: KB100 }, { version: '1.1.0', tarball: tb('1.1.0'), deprecated: 'use 2.x' }]);
    const s = await te.run(job);
    expect(s.exitCode).toBe(1);
    expect(s.failures).toEqual([]);
    expect(s.metadataOutOfSync).toEqual([{ package: NAME, reason: expect.stringMatching(/^deprecation of 1\.0\.0: left as the target has it, since its deprecation message is 102,400 characters long/) }]);
    // never cleared, never cut; the other version's new message is copied
    expect(deprecationOf(NAME)).toEqual({ '1.0.0': 'use 1.1.0', '1.1.0': 'use 2.x' });
    expect(row('redeprecate', NAME, '1.0.0')).toMatchObject({ state: 'verified', deprecated: null });
  });

  it('50,000 dist-tags, or a dist-tag name of a megabyte, fail that package EBADSOURCE, nothing of it stored; the other packages migrate', async () => {
    const tags = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`t${i}`, '1.0.0']));
    for (const n of ['manytags-pkg', 'longtag-pkg', 'fine-tags-pkg']) reg.setPackage(n, [{ version: '1.0.0', tarball: npmTarball(n, '1.0.0') }]);
    reg.setPackage('manytags-pkg', [{ version: '1.0.0', tarball: npmTarball('manytags-pkg', '1.0.0') }], { latest: '1.0.0', ...tags });
    reg.setPackage('longtag-pkg', [{ version: '1.0.0', tarball: npmTarball('longtag-pkg', '1.0.0') }], { latest: '1.0.0', ['x'.repeat(1024 * 1024)]: '1.0.0' });
    const s = await te.run(hostileJob('bigtags', ['manytags-pkg', 'longtag-pkg', 'fine-tags-pkg']));
    expect(s.exitCode).toBe(1);
    expect(s.listErrors.map((e) => [e.package, e.code]).sort()).toEqual([
      ['longtag-pkg', 'EBADSOURCE'],
      ['manytags-pkg', 'EBADSOURCE'],
    ]);
    expect(s.listErrors.find((e) => e.package === 'manytags-pkg')!.message).toMatch(/lists 50,001 dist-tags; a package has at most 1,000/);
    expect(s.listErrors.find((e) => e.package === 'longtag-pkg')!.message).toMatch(/dist-tag of 1,048,576 characters/);
    expect(states('bigtags', 'fine-tags-pkg')).toEqual({ '1.0.0': 'verified' });
    expect(rows('bigtags', 'manytags-pkg')).toEqual([]);
    expect(publishes('manytags-pkg')).toEqual([]);
    expect(Math.max(...packageRows('bigtags').map((p) => p.dist_tags.length + (p.list_error ?? '').length))).toBeLessThan(2000);
  });
});
