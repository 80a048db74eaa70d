/**
 * `cam warm` and the company registry's own private packages. A company registry
 * (here the sandbox's private Verdaccio, one of the job's npm sources) writes its
 * host into the lockfile for every package it serves: the public ones it proxies,
 * and private ones the job does not migrate (filtered out, or never listed).
 * Asking a store for such a private name pulls in the public package of that name
 * (dependency confusion). The warm must ask the public registry itself first and
 * request through the store only what is there with the bytes the lockfile pins.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJob } from '../src/config/load.js';
import { warmJob } from '../src/warm/engine.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { hashTarball, makeTarball, publishVersion } from './support/npm-fixtures.js';
import { throughStore, warmInProcess, writeWarmJob } from './support/warm-run.js';

let te: TestEnv;
const pins: Record<string, string> = {};
let company: string;

function packageLock(entries: readonly { name: string; version: string; resolved: string; integrity?: string }[]): string {
  const packages: Record<string, unknown> = { '': { name: 'app', dependencies: Object.fromEntries(entries.filter((e) => e.version !== '2.0.0').map((e) => [e.name, e.version])) } };
  // a second version of a name nested under another package, as npm writes it
  for (const e of entries) packages[`${e.version === '2.0.0' ? 'node_modules/proxied/' : ''}node_modules/${e.name}`] = { version: e.version, resolved: e.resolved, ...(e.integrity ? { integrity: e.integrity } : {}) };
  return `${JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`;
}

const fromCompany = (name: string, version: string) => ({ name, version, resolved: `${company}${name}/-/${name}-${version}.tgz`, integrity: pins[`${name}@${version}`] });

// the company registry is a source; left-out is kept out of the migration by the job's filters
const job = (name: string, publicNpm?: string) =>
  writeWarmJob(te, name, { 'package-lock.json': packageLock([fromCompany('left-out', '1.0.0'), fromCompany('left-out', '2.0.0'), fromCompany('company-only', '1.0.0'), fromCompany('proxied', '1.0.0')]) }, ['package-lock.json'], { publicNpm, filters: { exclude: ['left-out'] } });

const warm = (file: string) => warmInProcess(file, { env: te.env, stateDir: te.stateDir, codeartifactClient: te.client });

beforeAll(async () => {
  te = await startTestEnv({ publicRegistries: true });
  const pub = te.sandbox.publicRegistries!.npm;
  const priv = te.sandbox.privateNpm;
  company = te.sandbox.descriptor.privateNpm.url;
  const publish = async (registry: { url: string; token: string }, name: string, version: string, marker: string) => {
    const tarball = await makeTarball(name, version, { extraFiles: { 'package.json': `${JSON.stringify({ name, version, description: marker, main: 'index.js', license: 'MIT' }, null, 2)}\n` } });
    await publishVersion(registry.url, registry.token, name, version, tarball);
    return hashTarball(tarball).integrity;
  };
  const companyNpm = { url: company, token: priv.token };
  const publicNpm = { url: pub.url, token: pub.registry.token };
  // the company's own left-out (two versions), and a stranger's left-out 1.0.0 on the public registry
  pins['left-out@1.0.0'] = await publish(companyNpm, 'left-out', '1.0.0', 'the company one');
  pins['left-out@2.0.0'] = await publish(companyNpm, 'left-out', '2.0.0', 'the company one');
  await publish(publicNpm, 'left-out', '1.0.0', 'a stranger on the public registry');
  pins['company-only@1.0.0'] = await publish(companyNpm, 'company-only', '1.0.0', 'the company one');
  // a public package the company registry proxies: the same bytes on both
  const tarball = await makeTarball('proxied', '1.0.0');
  await publishVersion(company, priv.token, 'proxied', '1.0.0', tarball);
  await publishVersion(pub.url, pub.registry.token, 'proxied', '1.0.0', tarball);
  pins['proxied@1.0.0'] = hashTarball(tarball).integrity;
  await publish(companyNpm, '@acme/core', '1.0.0', 'internal');
  const h = await te.cli(['harden', job('harden')]);
  expect(h.code, h.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  await te?.stop();
});

describe('warm and a company registry that is one of the job\'s sources', () => {
  it('never asks a store for a package the company registry serves that the public registry does not have with the pinned bytes', async () => {
    const file = job('confusion');
    const since = te.sandbox.standIn.log.length;
    const r = await warm(file);
    const log = te.sandbox.standIn.log.slice(since);
    expect(r.code, r.stderr).toBe(0);
    // the public registry's left-out is another package: never requested, so never cached in the store
    expect(throughStore(log, 'left-out')).toEqual([]);
    expect(throughStore(log, 'company-only')).toEqual([]);
    expect(te.sandbox.standIn.versions('npm-store', 'npm', undefined, 'left-out')).toEqual([]);
    expect(te.sandbox.publicRegistries!.npm.log.filter((e) => e.path.includes('left-out') && e.path.endsWith('.tgz'))).toEqual([]);
    const listed = Object.fromEntries(r.summary.nonRegistry.map((e) => [`${e.name}@${e.version}`, e]));
    for (const nv of ['left-out@1.0.0', 'left-out@2.0.0', 'company-only@1.0.0']) {
      expect(listed[nv]).toMatchObject({ kind: 'private' });
      expect(listed[nv]!.detail).toContain(new URL(company).host);
    }
    // the proxied public package, same bytes as the lockfile pins: warmed through the store
    expect(te.sandbox.standIn.versions('npm-store', 'npm', undefined, 'proxied').map((v) => v.version)).toEqual(['1.0.0']);
    expect(r.summary.outcomes.warmed).toBe(1);
    // one packument per name, not per version
    expect(r.summary.publicLookups).toBe(3);
  });

  it('a rerun asks the public registry nothing it already knows, and still requests nothing for them', async () => {
    const file = job('confusion');
    const since = te.sandbox.standIn.log.length;
    const r = await warm(file);
    const log = te.sandbox.standIn.log.slice(since);
    expect(r.code, r.stderr).toBe(0);
    expect(throughStore(log, 'left-out')).toEqual([]);
    expect(r.summary.publicLookups).toBe(0);
    expect(r.summary.nonRegistry.filter((e) => e.kind === 'private').map((e) => `${e.name}@${e.version}`).sort()).toEqual(['company-only@1.0.0', 'left-out@1.0.0', 'left-out@2.0.0']);
  });

  it('when the public registry cannot be asked, requests none of them and says so', async () => {
    const file = job('unreachable', 'http://127.0.0.1:9/');
    const since = te.sandbox.standIn.log.length;
    const r = await warm(file);
    const log = te.sandbox.standIn.log.slice(since);
    expect(r.code, r.stderr).toBe(1);
    for (const n of ['left-out', 'company-only', 'proxied']) expect([n, throughStore(log, n)]).toEqual([n, []]);
    const failed = r.summary.problems.filter((p) => p.outcome === 'failed');
    expect(failed.map((p) => `${p.name}@${p.version}`).sort()).toEqual(['company-only@1.0.0', 'left-out@1.0.0', 'left-out@2.0.0', 'proxied@1.0.0']);
    for (const p of failed) expect(p.detail).toMatch(/^EPUBLICREGISTRY: /);
  });

  it('a public registry that accepts and never answers is not asked more than 8 names in a row: the rest fail at once naming its host, nothing requested through the store', async () => {
    let asked = 0;
    const held: http.ServerResponse[] = [];
    const silent = http.createServer((_req, res) => {
      asked++;
      held.push(res);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const host = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const many = Array.from({ length: 24 }, (_, i) => ({ name: `quiet-${i}`, version: '1.0.0', resolved: `${company}quiet-${i}/-/quiet-${i}-1.0.0.tgz`, integrity: pins['proxied@1.0.0'] }));
      const file = writeWarmJob(te, 'silent-public', { 'package-lock.json': packageLock(many) }, ['package-lock.json'], { publicNpm: `http://${host}/` });
      const since = te.sandbox.standIn.log.length;
      const s = await warmJob({ job: loadJob(file), stateDir: te.stateDir, env: te.env, codeartifactClient: te.client, publicDeadlineMs: 300 });
      const log = te.sandbox.standIn.log.slice(since);
      // the first questions in flight wait out their deadline; after 8 unanswered in a row, none more is asked
      expect(asked).toBeGreaterThanOrEqual(8);
      expect(asked).toBeLessThan(many.length);
      for (const q of many) expect([q.name, throughStore(log, q.name)]).toEqual([q.name, []]);
      const failed = s.problems.filter((p) => p.outcome === 'failed');
      expect(failed.length).toBe(many.length);
      for (const p of failed) expect(p.detail).toContain(host);
    } finally {
      for (const res of held) res.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('a stop while the public registry is being asked: nothing requested through the store, nothing called failed, the next warm asks', async () => {
    const held: http.ServerResponse[] = [];
    const stop = new AbortController();
    const silent = http.createServer((_req, res) => {
      held.push(res);
      stop.abort();
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const file = job('stopped', `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`);
      const since = te.sandbox.standIn.log.length;
      const s = await warmJob({ job: loadJob(file), stateDir: te.stateDir, env: te.env, codeartifactClient: te.client, signal: stop.signal });
      const log = te.sandbox.standIn.log.slice(since);
      expect(held.length).toBeGreaterThan(0);
      expect(s.interrupted).toBe(true);
      for (const n of ['left-out', 'company-only', 'proxied']) expect([n, throughStore(log, n)]).toEqual([n, []]);
      expect(s.outcomes.failed ?? 0).toBe(0);
      expect(s.outcomes.undecided).toBe(4);
    } finally {
      for (const res of held) res.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});
