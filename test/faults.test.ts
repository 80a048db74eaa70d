/**
 * Failure paths end to end, against the real local servers: a damaged tarball
 * at the source, refused source credentials, throttling and 5xx answers from
 * the target (before and after it stored the publish), tokens that expire or
 * are revoked mid-run, versions already on the target, and registries that
 * answer nonsense. Every case is asserted by error code, state rows, the run
 * summary and what the CodeArtifact stand-in saw (its request log and store).
 */
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DeletePackageVersionsCommand } from '@aws-sdk/client-codeartifact';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { RunSummary } from '../src/engine/events.js';
import type { ItemRow } from '../src/state/db.js';
import { publishRequests, startTestEnv, targetWrites, type TestEnv } from './support/harness.js';
import { corruptStoredTarball, hashTarball, makeTarball, publishVersion, seedPackages } from './support/npm-fixtures.js';
import type { RequestLogEntry } from './support/codeartifact/types.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';

const REPO = 'npm-internal';

/** Item rows of one job (optionally one package), read from its state database. */
function itemRows(te: TestEnv, job: string, pkg?: string): ItemRow[] {
  const state = te.openState(job);
  try {
    return pkg === undefined ? state.items() : state.items('package = ?', pkg);
  } finally {
    state.close();
  }
}

/** version -> state of a package's rows. */
function statesOf(te: TestEnv, job: string, pkg: string): Record<string, string> {
  return Object.fromEntries(itemRows(te, job, pkg).map((r) => [r.version, r.state]));
}

/** Requests the stand-in logged for one operation on one package (and version), after `since`. */
function logOf(te: TestEnv, operation: string, pkg: string, version?: string, since = 0): RequestLogEntry[] {
  return te.sandbox.standIn.log.filter((e) => e.seq > since && e.operation === operation && e.package === pkg && (version === undefined || e.version === version));
}

const lastSeq = (te: TestEnv) => te.sandbox.standIn.log.at(-1)?.seq ?? 0;

/** `sha512-<base64>` -> lower-case hex, the form the state and CodeArtifact use. */
const sha512Hex = (integrity: string) => Buffer.from(integrity.replace(/^sha512-/, ''), 'base64').toString('hex');

const allOf = (versions: string[], state: string) => Object.fromEntries(versions.map((v) => [v, state]));

/** Gaps between consecutive requests' arrival times. */
const gaps = (entries: RequestLogEntry[]) => entries.slice(1).map((e, i) => e.at - entries[i]!.at);

/** Node timers may fire up to a millisecond early as Date.now() sees them. */
const CLOCK_SLACK_MS = 10;

function seedPrivate(te: TestEnv, pkgs: { name: string; versions: string[] }[]) {
  return seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, pkgs);
}

describe('a corrupted tarball at the source', () => {
  let te: TestEnv;
  let job: string;
  const NAME = 'fault-corrupt';
  const VERSIONS = ['1.0.0', '1.1.0', '1.2.0'];
  const BAD = '1.1.0';

  beforeAll(async () => {
    te = await startTestEnv();
    await seedPrivate(te, [{ name: NAME, versions: VERSIONS }]);
    await corruptStoredTarball(te.sandbox.privateNpm.storageDir, NAME, BAD);
    job = te.writeJob({ name: 'corrupt', privateNpm: { packages: [NAME] }, github: false });
  });
  afterAll(async () => {
    await te?.stop();
  });

  it('fails that version with EINTEGRITY, never sends it to the target, migrates the others; a CLI rerun does the same (exit 1)', async () => {
    const summary = await te.run(job);
    expect(summary.exitCode).toBe(1);
    expect(summary.failures).toEqual([expect.objectContaining({ package: NAME, version: BAD, code: 'EINTEGRITY' })]);
    expect(statesOf(te, 'corrupt', NAME)).toEqual({ '1.0.0': 'verified', [BAD]: 'failed', '1.2.0': 'verified' });
    const bad = itemRows(te, 'corrupt', NAME).find((r) => r.version === BAD)!;
    expect(bad.last_error_code).toBe('EINTEGRITY');
    expect(bad.attempts).toBe(0);
    expect(logOf(te, 'npm:Publish', NAME, BAD)).toEqual([]);
    expect(te.sandbox.standIn.versions(REPO, 'npm', undefined, NAME).map((v) => v.version)).toEqual(['1.0.0', '1.2.0']);

    // a rerun through the CLI downloads it again, fails it the same way, and still sends nothing for it
    const since = lastSeq(te);
    const { code, stdout, stderr } = await te.cli(['run', job]);
    expect(code, stderr).toBe(1);
    const rerun = JSON.parse(stdout) as RunSummary;
    expect(rerun.failures).toEqual([expect.objectContaining({ package: NAME, version: BAD, code: 'EINTEGRITY' })]);
    expect(rerun.outcomes).toEqual({ 'failed:EINTEGRITY': 1 });
    expect(itemRows(te, 'corrupt', NAME).find((r) => r.version === BAD)).toMatchObject({ state: 'failed', last_error_code: 'EINTEGRITY' });
    expect(logOf(te, 'npm:Publish', NAME, undefined, since)).toEqual([]);
    expect(logOf(te, 'npm:Publish', NAME, BAD)).toEqual([]);
  });
});

describe('refused credentials at GitHub Packages (reads need a token)', () => {
  let te: TestEnv;
  const OK = 'fault-auth-ok';
  const GH = ['@acme-gh/fault-auth-x', '@acme-gh/fault-auth-y'];

  beforeAll(async () => {
    te = await startTestEnv();
    await seedPrivate(te, [{ name: OK, versions: ['1.0.0', '1.0.1'] }]);
    await seedPackages(
      te.sandbox.github.url,
      te.sandbox.github.token,
      GH.map((name) => ({ name, versions: ['0.1.0', '0.2.0'] })),
    );
  });
  afterAll(async () => {
    await te?.stop();
  });

  it('a wrong token: ESOURCEAUTH for each of its packages, none of them published, the other source migrated', async () => {
    const job = te.writeJob({ name: 'auth-wrong', privateNpm: { packages: [OK] }, github: { packages: GH, tokenEnv: 'CAM_TEST_WRONG_GH_TOKEN' } });
    const summary = await te.run(job, { env: { ...te.env, CAM_TEST_WRONG_GH_TOKEN: 'not-the-right-token' } });
    expect(summary.exitCode).toBe(1);
    expect(summary.listErrors.map((l) => [l.source, l.package, l.code]).sort()).toEqual(GH.map((name) => ['github', name, 'ESOURCEAUTH']));
    expect(statesOf(te, 'auth-wrong', OK)).toEqual(allOf(['1.0.0', '1.0.1'], 'verified'));
    for (const name of GH) {
      expect(itemRows(te, 'auth-wrong', name)).toEqual([]);
      expect(logOf(te, 'npm:Publish', name)).toEqual([]);
      expect(te.sandbox.standIn.versions(REPO, 'npm', 'acme-gh', name.split('/')[1]!)).toEqual([]);
    }
  });

  it('a token variable that is not set: exit 2 naming it, no stack trace, no state database', async () => {
    expect(process.env.CAM_TEST_UNSET_GH_TOKEN).toBeUndefined();
    const job = te.writeJob({ name: 'auth-unset', privateNpm: { packages: [OK] }, github: { packages: GH, tokenEnv: 'CAM_TEST_UNSET_GH_TOKEN' } });
    const since = lastSeq(te);
    const { code, stderr } = await te.cli(['run', job]);
    expect(code).toBe(2);
    expect(stderr).toContain('CAM_TEST_UNSET_GH_TOKEN');
    expect(stderr).not.toMatch(/^ {4}at /m);
    expect(existsSync(join(te.stateDir, 'auth-unset.sqlite'))).toBe(false);
    expect(te.sandbox.standIn.log.filter((e) => e.seq > since)).toEqual([]);
  });
});

describe('429 from the target', () => {
  let te: TestEnv;

  beforeAll(async () => {
    // the service's default quotas, with PublishPackageVersion cut to 5/s
    te = await startTestEnv({ standIn: { quotas: { publish: 5 } } });
  });
  afterEach(() => {
    te.sandbox.standIn.clearFaults();
  });
  afterAll(async () => {
    await te?.stop();
  });

  it('real quota pressure (5/s against our 50/s): slows down, everything verified, one accepted publish per version', async () => {
    const names = ['fault-quota-a', 'fault-quota-b', 'fault-quota-c', 'fault-quota-d'];
    const versions = ['1.0.0', '1.0.1', '1.0.2', '1.0.3', '1.0.4'];
    await seedPrivate(te, names.map((name) => ({ name, versions })));
    const job = te.writeJob({ name: 'quota', privateNpm: { packages: names }, github: false, limits: { rates: { publish: 50 } } });
    const summary = await te.run(job);
    expect(summary.exitCode).toBe(0);
    expect(summary.states).toEqual({ verified: names.length * versions.length });
    expect(summary.throttles).toBeGreaterThan(0);
    expect(te.sandbox.standIn.log.some((e) => e.operation === 'npm:Publish' && e.status === 429 && e.errorType === 'ThrottlingException')).toBe(true);
    const accepted = publishRequests(te.sandbox, { succeededOnly: true });
    for (const name of names) for (const v of versions) expect(accepted.get(`${name}@${v}`), `${name}@${v}`).toBe(1);
  });

  /** `run JOB --json` while every request of `fault`'s operation is answered as it says. */
  const runUnder = async (job: string, fault: Parameters<TestEnv['sandbox']['standIn']['addFault']>[0]) => {
    te.sandbox.standIn.addFault(fault);
    try {
      return await te.cli(['run', job, '--json']);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
  };
  /** The rerun, with the default retry budget (the stand-in's own 5/s quota throttles too, and one retry may not ride it out): exit 0, each version published once in all. */
  const rerunPublishesEachOnce = async (name: string, names: string[], versions: string[]) => {
    const again = await te.cli(['run', te.writeJob({ name, privateNpm: { packages: names }, github: false }), '--json']);
    expect(again.code, again.stderr).toBe(0);
    for (const n of names) for (const v of versions) expect(logOf(te, 'npm:Publish', n, v).filter((e) => e.status >= 200 && e.status < 300), `${n}@${v}`).toHaveLength(1);
  };

  it('a throttle storm (every publish answered 429, the quota spent elsewhere): the run stops after 8 versions in a row throttled through their retry budget, ETHROTTLED exit 1, the rest left to the rerun, which publishes each once', async () => {
    const names = Array.from({ length: 5 }, (_, i) => `fault-storm-${i}`);
    const versions = Array.from({ length: 8 }, (_, i) => `4.0.${i}`);
    await seedPrivate(te, names.map((name) => ({ name, versions })));
    const job = te.writeJob({ name: 'storm', privateNpm: { packages: names }, github: false, limits: { retries: 1 } });
    const since = lastSeq(te);
    const r = await runUnder(job, { operation: 'npm:Publish', status: 429 });
    expect(r.code, r.stderr).toBe(1);
    const error = (JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } }).error;
    expect(error).toMatchObject({ code: 'ETHROTTLED', message: expect.stringContaining('8 versions in a row'), hint: expect.stringContaining('nothing is lost') });
    const tried = new Set(te.sandbox.standIn.log.filter((e) => e.seq > since && e.operation === 'npm:Publish').map((e) => `${e.package}@${e.version}`));
    // 40 versions; the stop came at the 8th in a row, with what was in flight then
    expect(tried.size).toBeGreaterThanOrEqual(8);
    expect(tried.size).toBeLessThan(names.length * versions.length / 2);
    const state = te.openState('storm');
    try {
      expect(state.db.prepare("SELECT outcome FROM runs ORDER BY id DESC LIMIT 1").get()).toEqual({ outcome: 'stopped-by-error' });
    } finally {
      state.close();
    }

    await rerunPublishesEachOnce('storm', names, versions);
  });

  it('after a throttle storm stop, no version is recorded failed for the stop itself: a failed row spent its whole retry budget, one whose retries the stop cut short stands as it stood', async () => {
    const names = Array.from({ length: 6 }, (_, i) => `fault-storm-cut-${i}`);
    const versions = Array.from({ length: 4 }, (_, i) => `4.1.${i}`);
    await seedPrivate(te, names.map((name) => ({ name, versions })));
    const job = te.writeJob({ name: 'storm-cut', privateNpm: { packages: names }, github: false, limits: { retries: 2 } });
    const since = lastSeq(te);
    // a Retry-After: the versions in flight spend their time waiting between tries, where the stop finds them
    const r = await runUnder(job, { operation: 'npm:Publish', status: 429, retryAfterSeconds: 3 });
    expect(r.code, r.stderr).toBe(1);
    expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('ETHROTTLED');
    const rows = itemRows(te, 'storm-cut');
    const failed = rows.filter((row) => row.state === 'failed');
    expect(failed.length).toBeGreaterThanOrEqual(8);
    // failed: throttled through its whole budget, 1 try + 2 retries
    for (const row of failed) expect(logOf(te, 'npm:Publish', row.package, row.version, since).length, `${row.package}@${row.version}`).toBe(3);
    await rerunPublishesEachOnce('storm-cut', names, versions);
  });

  it('publishes accepted while every verification read is throttled: no throttle-storm stop (versions are landing), each version published once', async () => {
    const names = ['fault-readstorm-a', 'fault-readstorm-b'];
    const versions = Array.from({ length: 6 }, (_, i) => `4.2.${i}`);
    await seedPrivate(te, names.map((name) => ({ name, versions })));
    const job = te.writeJob({ name: 'readstorm', privateNpm: { packages: names }, github: false, limits: { retries: 1 } });
    const r = await runUnder(job, { operation: 'ListPackageVersionAssets', status: 429 });
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout) as { error?: { code: string }; states?: Record<string, number> };
    expect(out.error).toBeUndefined();
    expect(out.states).toEqual({ failed: names.length * versions.length });
    for (const name of names) for (const v of versions) expect(logOf(te, 'npm:Publish', name, v).filter((e) => e.status >= 200 && e.status < 300), `${name}@${v}`).toHaveLength(1);
    const state = te.openState('readstorm');
    try {
      expect(state.db.prepare('SELECT outcome FROM runs ORDER BY id DESC LIMIT 1').get()).toEqual({ outcome: 'incomplete' });
    } finally {
      state.close();
    }
    await rerunPublishesEachOnce('readstorm', names, versions);
  });

  it('injected 429s with Retry-After on a publish and on ListPackageVersionAssets: waited for, then verified', async () => {
    const { standIn } = te.sandbox;
    standIn.setQuotas(false);
    const PUB = 'fault-throttle-publish';
    const LIST = 'fault-throttle-list';
    const versions = ['2.0.0', '2.0.1', '2.0.2'];
    await seedPrivate(te, [PUB, LIST].map((name) => ({ name, versions })));
    standIn.addFault({ operation: 'npm:Publish', package: PUB, version: '2.0.1', status: 429, retryAfterSeconds: 1, times: 2 });
    standIn.addFault({ operation: 'ListPackageVersionAssets', package: LIST, version: '2.0.1', status: 429, retryAfterSeconds: 1, times: 2 });
    const job = te.writeJob({ name: 'throttle', privateNpm: { packages: [PUB, LIST] }, github: false });
    const summary = await te.run(job);
    expect(summary.exitCode).toBe(0);
    expect(statesOf(te, 'throttle', PUB)).toEqual(allOf(versions, 'verified'));
    expect(statesOf(te, 'throttle', LIST)).toEqual(allOf(versions, 'verified'));
    expect(summary.throttles).toBe(4);

    const publishes = logOf(te, 'npm:Publish', PUB, '2.0.1');
    expect(publishes.map((e) => [e.status, e.errorType])).toEqual([
      [429, 'ThrottlingException'],
      [429, 'ThrottlingException'],
      [200, undefined],
    ]);
    // each retry came only after the Retry-After the service asked for
    for (const gap of gaps(publishes)) expect(gap).toBeGreaterThanOrEqual(1000 - CLOCK_SLACK_MS);

    // the read-back of a fresh version: throttled twice, then answered
    const listings = logOf(te, 'ListPackageVersionAssets', LIST, '2.0.1');
    expect(listings.map((e) => [e.status, e.errorType])).toEqual([
      [429, 'ThrottlingException'],
      [429, 'ThrottlingException'],
      [200, undefined],
    ]);
    for (const gap of gaps(listings)) expect(gap).toBeGreaterThanOrEqual(1000 - CLOCK_SLACK_MS);
    expect(publishRequests(te.sandbox).get(`${LIST}@2.0.1`)).toBe(1);
  });
});

describe('500 from the target', () => {
  let te: TestEnv;
  const versions = ['3.0.0', '3.0.1', '3.0.2'];

  beforeAll(async () => {
    te = await startTestEnv();
    await seedPrivate(
      te,
      ['fault-500-publish', 'fault-500-lost', 'fault-500-lost-read', 'fault-500-reads', 'fault-500-permanent', 'fault-stuck', 'fault-silent-npmpublish', 'fault-silent-listpackageversions', 'fault-paging-same', 'fault-paging-empty', 'fault-paging-fine', 'fault-unreachable'].map((name) => ({ name, versions })),
    );
  });
  afterEach(() => {
    te.sandbox.standIn.clearFaults();
  });
  afterAll(async () => {
    await te?.stop();
  });

  it('publish answered 500 twice (nothing stored): retried, verified, one accepted publish', async () => {
    const NAME = 'fault-500-publish';
    te.sandbox.standIn.addFault({ operation: 'npm:Publish', package: NAME, version: '3.0.1', status: 500, times: 2 });
    const summary = await te.run(te.writeJob({ name: 'e500-publish', privateNpm: { packages: [NAME] }, github: false }));
    expect(summary.exitCode).toBe(0);
    expect(statesOf(te, 'e500-publish', NAME)).toEqual(allOf(versions, 'verified'));
    expect(logOf(te, 'npm:Publish', NAME, '3.0.1').map((e) => e.status)).toEqual([500, 500, 200]);
    expect(publishRequests(te.sandbox, { succeededOnly: true }).get(`${NAME}@3.0.1`)).toBe(1);
  });

  it('publish stored but its answer lost (500 after applying): settled by reading the target, ONE publish request in all', async () => {
    const NAME = 'fault-500-lost';
    te.sandbox.standIn.addFault({ operation: 'npm:Publish', package: NAME, version: '3.0.1', status: 500, times: 1, afterApply: true });
    const summary = await te.run(te.writeJob({ name: 'e500-lost', privateNpm: { packages: [NAME] }, github: false }));
    expect(summary.exitCode).toBe(0);
    expect(statesOf(te, 'e500-lost', NAME)).toEqual(allOf(versions, 'verified'));
    expect(logOf(te, 'npm:Publish', NAME, '3.0.1').map((e) => e.status)).toEqual([500]);
    // the version was read back instead of being published again
    const publish = logOf(te, 'npm:Publish', NAME, '3.0.1')[0]!;
    expect(logOf(te, 'ListPackageVersionAssets', NAME, '3.0.1', publish.seq).length).toBeGreaterThan(0);
    expect(te.sandbox.standIn.versions(REPO, 'npm', undefined, NAME).map((v) => v.version)).toEqual(versions);
  });

  it('publish stored but its answer lost, and the read that settles it failing too: the read is tried again, never the publish (ONE publish request in all)', async () => {
    const NAME = 'fault-500-lost-read';
    te.sandbox.standIn.addFault({ operation: 'npm:Publish', package: NAME, version: '3.0.1', status: 500, times: 1, afterApply: true });
    te.sandbox.standIn.addFault({ operation: 'ListPackageVersionAssets', package: NAME, version: '3.0.1', status: 500, times: 2 });
    const summary = await te.run(te.writeJob({ name: 'e500-lost-read', privateNpm: { packages: [NAME] }, github: false }));
    expect(summary.exitCode).toBe(0);
    expect(statesOf(te, 'e500-lost-read', NAME)).toEqual(allOf(versions, 'verified'));
    // a publish sent again would have been refused as a duplicate (409): none was
    expect(logOf(te, 'npm:Publish', NAME, '3.0.1').map((e) => e.status)).toEqual([500]);
    const publish = logOf(te, 'npm:Publish', NAME, '3.0.1')[0]!;
    expect(logOf(te, 'ListPackageVersionAssets', NAME, '3.0.1', publish.seq).map((e) => e.status).slice(0, 3)).toEqual([500, 500, 200]);
  });

  it('a listing whose paging never ends (the same token again; empty page after empty page): ETARGET naming it, that package left unpublished, the others verified, the run ends', async () => {
    te.sandbox.standIn.addFault({ operation: 'ListPackageVersions', package: 'fault-paging-same', status: 200, endlessPaging: 'same-token' });
    te.sandbox.standIn.addFault({ operation: 'ListPackageVersions', package: 'fault-paging-empty', status: 200, endlessPaging: 'empty-pages' });
    te.sandbox.standIn.addFault({ operation: 'servicequotas:ListServiceQuotas', status: 200, endlessPaging: 'same-token' });
    const job = te.writeJob({ name: 'paging', privateNpm: { packages: ['fault-paging-same', 'fault-paging-empty', 'fault-paging-fine'] }, github: false });
    const doc = parse(readFileSync(job, 'utf8')) as { limits?: Record<string, unknown> };
    // no rates in the job: they are read from the account's quotas
    doc.limits = { ...doc.limits, retries: 1, rates: undefined };
    writeFileSync(job, stringify(doc));
    const summary = await te.run(job);
    expect(summary.exitCode).toBe(1);
    expect(statesOf(te, 'paging', 'fault-paging-fine')).toEqual(allOf(versions, 'verified'));
    // the account's quotas, listed the same way: the defaults apply, and the summary says why
    expect(summary.quotaNote).toMatch(/ListServiceQuotas of codeartifact: a page token came back a second time: the listing would never end/);
    expect(Object.values(summary.rates).every((r) => r.source !== 'account')).toBe(true);
    for (const name of ['fault-paging-same', 'fault-paging-empty']) {
      const failed = summary.failures.filter((f) => f.package === name);
      expect(failed.length, name).toBeGreaterThan(0);
      expect(failed.every((f) => f.code === 'ETARGET' && f.message.includes('the listing would never end') && f.message.includes(name)), JSON.stringify(failed)).toBe(true);
      expect(te.sandbox.standIn.versions(REPO, 'npm', undefined, name)).toEqual([]);
    }
    // bounded: a listing ends at the token's second coming, or at the 50th empty page (3 versions x 2 attempts at most)
    expect(logOf(te, 'ListPackageVersions', 'fault-paging-same').length).toBeLessThanOrEqual(3 * 2 * 2);
    expect(logOf(te, 'ListPackageVersions', 'fault-paging-empty').length).toBeLessThanOrEqual(3 * 2 * 50);
  });

  // At the start of a run that writes, the principal (STS GetCallerIdentity) and the account's
  // quotas (Service Quotas) are read beside each other. A stop must cut off both: an STS that
  // accepted the request and never answers held the run past its grace period, for the SDK's
  // idle timeout (minutes), or for ever when it trickles.
  it('the stop while STS GetCallerIdentity hangs: cut off after the grace period, the run ends interrupted, nothing published', async () => {
    const NAME = 'fault-500-permanent';
    te.sandbox.standIn.addFault({ operation: 'sts:GetCallerIdentity', status: 0, hang: true });
    const job = te.writeJob({ name: 'sts-hang', privateNpm: { packages: [NAME] }, github: false });
    const doc = parse(readFileSync(job, 'utf8')) as { limits?: Record<string, unknown> };
    doc.limits = { ...doc.limits, stopGraceSeconds: 0.5 };
    writeFileSync(job, stringify(doc));
    const stop = new AbortController();
    const since = te.sandbox.standIn.log.length;
    const running = te.run(job, { signal: stop.signal });
    await expect.poll(() => te.sandbox.standIn.log.slice(since).some((e) => e.operation === 'sts:GetCallerIdentity'), { timeout: 30_000 }).toBe(true);
    stop.abort();
    const outcome = await running.then(
      (summary) => ({ interrupted: summary.interrupted, code: undefined as string | undefined }),
      (e: { code?: string }) => ({ interrupted: undefined, code: e.code }),
    );
    // the run ended (on the old code it waited for STS), as an interruption or cut off by it: never a published version
    expect(outcome.interrupted === true || outcome.code === 'EINTERRUPTED', JSON.stringify(outcome)).toBe(true);
    expect(logOf(te, 'npm:Publish', NAME).slice(0)).toEqual([]);
    const s = te.openState('sts-hang');
    try {
      expect(s.items().every((r) => r.state !== 'publishing' && r.state !== 'published')).toBe(true);
    } finally {
      s.close();
    }
  }, 60_000);

  it('a stuck connection (a read accepted and never answered) is cut after target.idleTimeoutSeconds and retried: the CLI run ends, verified', async () => {
    const NAME = 'fault-stuck';
    te.sandbox.standIn.addFault({ operation: 'ListPackageVersionAssets', package: NAME, version: '3.0.1', status: 0, hang: true, times: 1 });
    const job = te.writeJob({ name: 'stuck', privateNpm: { packages: [NAME] }, github: false });
    const doc = parse(readFileSync(job, 'utf8')) as { target: Record<string, unknown> };
    doc.target.idleTimeoutSeconds = 2;
    writeFileSync(job, stringify(doc));
    // the CLI builds its own AWS client (the in-process runs share the tests' one)
    const r = await te.cli(['run', job, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(statesOf(te, 'stuck', NAME)).toEqual(allOf(versions, 'verified'));
    const reads = logOf(te, 'ListPackageVersionAssets', NAME, '3.0.1').map((e) => e.status);
    expect(reads[0]).toBe(0); // the one left hanging
    expect(reads.slice(1)).toContain(200);
  }, 60_000);

  // A target that stops answering altogether: every request silent until cut off. Without a
  // breaker each version waits (retries + 1) x the idle timeout, one after another.
  for (const [operation, what] of [
    ['npm:Publish', 'the npm endpoint (publishes)'],
    ['ListPackageVersions', 'the API (the SDK)'],
  ] as const) {
    it(`a target that stops answering through ${what}: ETARGETSILENT after 8 silent requests in a row, exit 1; answered again, the rerun publishes every version once`, async () => {
      const NAME = `fault-silent-${operation.replace(/\W/g, '').toLowerCase()}`;
      const jobName = `silent-${operation.replace(/\W/g, '').toLowerCase()}`;
      te.sandbox.standIn.addFault({ operation, package: NAME, status: 0, hang: true });
      const job = te.writeJob({ name: jobName, privateNpm: { packages: [NAME] }, github: false, limits: { retries: 3 } });
      const doc = parse(readFileSync(job, 'utf8')) as { target: Record<string, unknown> };
      doc.target.idleTimeoutSeconds = 1;
      writeFileSync(job, stringify(doc));
      try {
        const r = await te.cli(['run', job, '--json']);
        expect(r.code, r.stderr).toBe(1);
        expect((JSON.parse(r.stdout) as { error: { code: string; hint: string } }).error).toMatchObject({ code: 'ETARGETSILENT', hint: expect.stringContaining('rerun') });
        expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
        // 3 versions x 4 attempts would be 12 silent requests: the run stopped at the 8th
        expect(logOf(te, operation, NAME).filter((e) => e.status === 0)).toHaveLength(8);
        expect(te.sandbox.standIn.versions(REPO, 'npm', undefined, NAME)).toEqual([]);
        expect(Object.values(statesOf(te, jobName, NAME)).every((s) => s !== 'verified')).toBe(true);
      } finally {
        te.sandbox.standIn.clearFaults();
      }
      const again = await te.cli(['run', job, '--json']);
      expect(again.code, again.stderr).toBe(0);
      expect(statesOf(te, jobName, NAME)).toEqual(allOf(versions, 'verified'));
      for (const v of versions) expect(logOf(te, 'npm:Publish', NAME, v).filter((e) => e.status >= 200 && e.status < 300)).toHaveLength(1);
    }, 90_000);
  }

  it('harden against a target that stops answering: ETARGETSILENT after 8 silent requests in a row, exit 1, not every package x retries x the idle timeout', async () => {
    const names = ['fault-silent-harden-a', 'fault-silent-harden-b', 'fault-silent-harden-c', 'fault-silent-harden-d', 'fault-silent-harden-e', 'fault-silent-harden-f'];
    const job = te.writeJob({ name: 'silent-harden', privateNpm: { packages: names }, github: false, limits: { retries: 2 } });
    const doc = parse(readFileSync(job, 'utf8')) as { target: Record<string, unknown> };
    doc.target.idleTimeoutSeconds = 1;
    writeFileSync(job, stringify(doc));
    const since = lastSeq(te);
    te.sandbox.standIn.addFault({ operation: 'DescribePackage', status: 0, hang: true });
    const r = await te.cli(['harden', job, '--json']);
    expect(r.code, r.stderr).toBe(1);
    expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('ETARGETSILENT');
    // 6 packages x 3 tries would be 18 silent reads
    const silent = te.sandbox.standIn.log.filter((e) => e.seq > since && e.operation === 'DescribePackage' && e.status === 0);
    expect(silent.length).toBeGreaterThanOrEqual(8);
    expect(silent.length).toBeLessThan(names.length * 3);
    expect(targetWrites(te.sandbox, since)).toEqual([]);
  }, 90_000);

  it('harden against a target that throttles every origin change through its retries (a throttle storm): ETHROTTLED after 8 packages in a row, exit 1, the packages not started yet never tried', async () => {
    const names = Array.from({ length: 80 }, (_, i) => `fault-storm-harden-${i}`);
    const job = te.writeJob({ name: 'storm-harden', privateNpm: { packages: names }, github: false, limits: { retries: 1 } });
    const since = lastSeq(te);
    te.sandbox.standIn.addFault({ operation: 'PutPackageOriginConfiguration', status: 429, retryAfterSeconds: 0 });
    try {
      const r = await te.cli(['harden', job, '--json']);
      expect(r.code, r.stderr).toBe(1);
      const error = (JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } }).error;
      expect(error).toMatchObject({ code: 'ETHROTTLED', message: expect.stringContaining('8 packages in a row'), hint: expect.stringContaining('rerun') });
      expect(r.stderr).not.toMatch(/\n\s+at /);
      // 32 at a time: those in flight when the row reached 8 end; none of the rest starts (before: all 80, each through its retries)
      const tried = new Set(te.sandbox.standIn.log.filter((e) => e.seq > since && e.operation === 'PutPackageOriginConfiguration').map((e) => e.package));
      expect(tried.size).toBeGreaterThan(0);
      expect(tried.size).toBeLessThan(names.length / 2 + 8);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
    // the quota back: the rerun hardens every package
    const again = await te.cli(['harden', job, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { packages: number; errors: unknown[] })).toMatchObject({ packages: names.length, errors: [] });
  }, 120_000);

  it('run whose hardening meets a throttle storm: ETHROTTLED before anything is published, exit 1, and status says what ended the run', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `fault-storm-run-harden-${i}`);
    await seedPrivate(te, names.map((name) => ({ name, versions: ['1.0.0'] })));
    const job = te.writeJob({ name: 'storm-run-harden', privateNpm: { packages: names }, github: false, limits: { retries: 1 } });
    const since = lastSeq(te);
    te.sandbox.standIn.addFault({ operation: 'PutPackageOriginConfiguration', status: 429, retryAfterSeconds: 0 });
    try {
      const r = await te.cli(['run', job, '--json']);
      expect(r.code, r.stderr).toBe(1);
      expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('ETHROTTLED');
      expect(te.sandbox.standIn.log.filter((e) => e.seq > since && e.operation === 'npm:Publish')).toEqual([]);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
    const status = await te.cli(['status', job, '--json']);
    // the run's row ends with why, not left open as if it were still running or killed
    expect((JSON.parse(status.stdout) as { lastRun: { outcome: string; error: string } }).lastRun).toMatchObject({ outcome: 'stopped-by-error', error: expect.stringContaining('ETHROTTLED') });
  }, 120_000);

  // Nobody answers at the endpoint (a mistyped AWS_ENDPOINT_URL_CODEARTIFACT, a proxy or VPC
  // endpoint that is down): refused at once, so never "silent". Without a breaker of its own
  // every step waits out its retries and ends in a plain ETARGET.
  for (const [command, retries] of [
    ['run', 2], // the preflight's retries run out first
    ['plan', 6], // the stuck-peer breaker stops it first
  ] as const) {
    it(`${command} against an endpoint that refuses every connection: ETARGETUNREACHABLE at the preflight, exit 1, naming the endpoint and what to do; no version recorded as failed${command === 'run' ? ', and the rerun that reaches it migrates them all' : ''}`, async () => {
      const NAME = 'fault-unreachable';
      const jobName = `unreachable-${command}`;
      const job = te.writeJob({ name: jobName, privateNpm: { packages: [NAME] }, github: false, limits: { retries } });
      const closed = createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((r) => closed.close(() => r()));
      const r = await te.cli([command, job, '--json'], { AWS_ENDPOINT_URL_CODEARTIFACT: `http://127.0.0.1:${port}` });
      expect(r.code, r.stderr).toBe(1);
      const error = (JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } }).error;
      expect(error).toMatchObject({ code: 'ETARGETUNREACHABLE', message: expect.stringContaining(`127.0.0.1:${port}`), hint: expect.stringContaining('AWS_ENDPOINT_URL_CODEARTIFACT') });
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      const states = Object.values(statesOf(te, jobName, NAME));
      expect(states).toHaveLength(versions.length);
      expect(states.filter((s) => s === 'failed' || s === 'verified')).toEqual([]);
      if (command === 'plan') return;
      const again = await te.cli(['run', job, '--json']);
      expect(again.code, again.stderr).toBe(0);
      expect(statesOf(te, jobName, NAME)).toEqual(allOf(versions, 'verified'));
    });
  }

  it('harden with credentials that expired: ETARGETCREDENTIALS, exit 2, at the first refusal, not one error per package', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `fault-expired-harden-${i}`);
    const job = te.writeJob({ name: 'expired-harden', privateNpm: { packages: names }, github: false });
    const since = lastSeq(te);
    te.sandbox.standIn.addFault({ operation: 'DescribePackage', status: 403, errorType: 'ExpiredTokenException' });
    try {
      const r = await te.cli(['harden', job, '--json']);
      expect(r.code, r.stderr).toBe(2);
      expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('ETARGETCREDENTIALS');
      // the reads already in flight when the first was refused (32 at a time), not all 40
      const refused = te.sandbox.standIn.log.filter((e) => e.seq > since && e.operation === 'DescribePackage');
      expect(refused.length).toBeLessThan(names.length);
      expect(targetWrites(te.sandbox, since)).toEqual([]);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
  });

  it('harden on a machine with no AWS credentials at all: ETARGETCREDENTIALS, exit 2, saying none could be found and how to give some (not that CodeArtifact stopped taking them); nothing sent', async () => {
    const job = te.writeJob({ name: 'no-credentials-harden', privateNpm: { packages: ['fault-no-credentials'] }, github: false });
    const since = lastSeq(te);
    const none = { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SESSION_TOKEN: '', AWS_PROFILE: '', AWS_SHARED_CREDENTIALS_FILE: join(te.dir, 'no-such-credentials'), AWS_CONFIG_FILE: join(te.dir, 'no-such-config'), AWS_EC2_METADATA_DISABLED: 'true' };
    const r = await te.cli(['harden', job, '--json'], none);
    expect(r.code, r.stderr).toBe(2);
    const error = (JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } }).error;
    expect(error.code).toBe('ETARGETCREDENTIALS');
    expect(error.message).toContain('no AWS credentials could be found');
    expect(error.hint).toContain('AWS_PROFILE');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(te.sandbox.standIn.log.filter((e) => e.seq > since)).toEqual([]);
  });

  it('harden stopped by Ctrl-C between an origin change and its ledger entry: exit 130; the rerun records the change as found, so the ledger names it', async () => {
    const names = ['@fault/harden-gap-a', '@fault/harden-gap-b'];
    await seedPrivate(te, names.map((name) => ({ name, versions: ['1.0.0'] })));
    const job = te.writeJob({ name: 'harden-gap', privateNpm: { packages: names }, github: false });
    // the change is applied; its answer asks to wait a minute, as a lost answer would leave it
    te.sandbox.standIn.addFault({ operation: 'PutPackageOriginConfiguration', package: 'fault/harden-gap-a', status: 429, retryAfterSeconds: 60, afterApply: true, times: 1 });
    try {
      // this harden's own 429 (other tests of this file throttled origin changes before it)
      const started = lastSeq(te);
      const child = te.spawnCli(['harden', job, '--json']);
      const closed = once(child, 'close');
      while (!te.sandbox.standIn.log.some((e) => e.seq > started && e.operation === 'PutPackageOriginConfiguration' && e.status === 429)) await new Promise((r) => setTimeout(r, 50));
      child.kill('SIGINT');
      const [code] = (await closed) as [number | null];
      expect(code).toBe(130);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
    const since = lastSeq(te);
    const again = await te.cli(['harden', job, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(targetWrites(te.sandbox, since)).toEqual([]);
    const state = te.openState('harden-gap');
    const entries = (state.db.prepare('SELECT entry FROM ledger').all() as { entry: string }[]).map((r) => JSON.parse(r.entry) as { outcome: string; package: string; detail: string; target: { repository: string } });
    state.close();
    // each name in npm-internal and in npm-store (the store's upstream BLOCK: harden sets it after the internal one)
    const origins = entries.filter((e) => e.outcome === 'origin-configuration');
    expect(origins.map((e) => `${e.package} ${e.target.repository}`).sort()).toEqual(names.flatMap((n) => [`${n} npm-internal`, `${n} npm-store`]));
    expect(origins.find((e) => e.package === names[0] && e.target.repository === 'npm-internal')!.detail).toContain('recorded as found');
    // and once recorded, not again
    expect((await te.cli(['harden', job, '--json'])).code).toBe(0);
    const after = te.openState('harden-gap');
    expect((after.db.prepare("SELECT count(*) AS n FROM ledger WHERE json_extract(entry, '$.outcome') = 'origin-configuration'").get() as { n: number }).n).toBe(4);
    after.close();
  }, 90_000);

  it.each(['SIGKILL', 'SIGTERM'] as const)('harden --package-groups, %s between the group\'s EXTERNAL_UPSTREAM BLOCK and its ledger entry: the rerun records the group as found, once', async (sig) => {
    const scope = `fault-group-${sig.toLowerCase()}`;
    const names = [`@${scope}/lib`];
    await seedPrivate(te, names.map((name) => ({ name, versions: ['1.0.0'] })));
    const job = te.writeJob({ name: `harden-group-${sig.toLowerCase()}`, privateNpm: { packages: names }, github: false });
    const pattern = `/npm/${scope}/*`;
    // the group's change is applied; its answer asks to wait a minute, as a lost answer would leave it
    te.sandbox.standIn.addFault({ operation: 'UpdatePackageGroupOriginConfiguration', status: 429, retryAfterSeconds: 60, afterApply: true, times: 1 });
    const start = lastSeq(te);
    try {
      const child = te.spawnCli(['harden', job, '--package-groups', '--json']);
      const closed = once(child, 'close');
      while (!te.sandbox.standIn.log.some((e) => e.seq > start && e.operation === 'UpdatePackageGroupOriginConfiguration' && e.status === 429)) await new Promise((r) => setTimeout(r, 50));
      child.kill(sig);
      const [code, signal] = (await closed) as [number | null, string | null];
      expect(code ?? signal).toBe(sig === 'SIGKILL' ? 'SIGKILL' : 130);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
    const groupEntries = () => {
      const state = te.openState(`harden-group-${sig.toLowerCase()}`);
      try {
        return (state.db.prepare("SELECT entry FROM ledger WHERE json_extract(entry, '$.outcome') = 'origin-configuration'").all() as { entry: string }[])
          .map((r) => JSON.parse(r.entry) as { package: string; detail: string })
          .filter((e) => e.package === pattern);
      } finally {
        state.close();
      }
    };
    expect(groupEntries()).toEqual([]);
    const since = lastSeq(te);
    const again = await te.cli(['harden', job, '--package-groups', '--json']);
    expect(again.code, again.stderr).toBe(0);
    // nothing changed again on the target
    expect(targetWrites(te.sandbox, since)).toEqual([]);
    // the group's protection is in the ledger, said as found
    const entries = groupEntries();
    expect(entries).toHaveLength(1);
    expect(entries[0]!.detail).toContain('recorded as found');
    // and once recorded, not again
    expect((await te.cli(['harden', job, '--package-groups', '--json'])).code).toBe(0);
    expect(groupEntries()).toHaveLength(1);
  }, 90_000);

  it('harden of a job whose target changed since its run: ETARGETCHANGED, exit 2, nothing written, as run refuses it', async () => {
    const names = ['@fault/harden-moved'];
    await seedPrivate(te, names.map((name) => ({ name, versions: ['1.0.0'] })));
    const job = te.writeJob({ name: 'harden-moved', privateNpm: { packages: names }, github: false });
    expect((await te.cli(['run', job, '--json'])).code).toBe(0);
    writeFileSync(job, readFileSync(job, 'utf8').replace('internal: npm-internal', 'internal: npm-store'));
    const since = lastSeq(te);
    const r = await te.cli(['harden', job, '--json']);
    expect(r.code).toBe(2);
    expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('ETARGETCHANGED');
    expect(targetWrites(te.sandbox, since)).toEqual([]);
  }, 90_000);

  it('a principal that may not publish at all (the policy lacks PublishPackageVersion): the run stops after 8 refusals in a row across packages, ETARGETSETUP exit 2, not one refusal per version; granted, the rerun publishes each once', async () => {
    const names = Array.from({ length: 6 }, (_, i) => `fault-nopublish-${i}`);
    const versions = Array.from({ length: 8 }, (_, i) => `7.0.${i}`);
    await seedPrivate(te, names.map((name) => ({ name, versions })));
    const job = te.writeJob({ name: 'nopublish', privateNpm: { packages: names }, github: false });
    const since = lastSeq(te);
    te.sandbox.standIn.addFault({ operation: 'npm:Publish', status: 403 });
    let r: Awaited<ReturnType<TestEnv['cli']>>;
    try {
      r = await te.cli(['run', job, '--json']);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
    expect(r.code, r.stderr).toBe(2);
    const error = (JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } }).error;
    expect(error).toMatchObject({ code: 'ETARGETSETUP', message: expect.stringContaining('has accepted none in this run'), hint: expect.stringContaining('codeartifact:PublishPackageVersion') });
    const refused = te.sandbox.standIn.log.filter((e) => e.seq > since && e.operation === 'npm:Publish');
    expect(refused.length).toBeGreaterThanOrEqual(8);
    // 48 versions; the stop came at the 8th refusal, with what was in flight then
    expect(refused.length).toBeLessThan(names.length * versions.length / 2);
    const state = te.openState('nopublish');
    try {
      expect(state.counts().failed ?? 0).toBe(refused.length);
    } finally {
      state.close();
    }

    const again = await te.cli(['run', job, '--json']);
    expect(again.code, again.stderr).toBe(0);
    for (const name of names) for (const v of versions) expect(logOf(te, 'npm:Publish', name, v).filter((e) => e.status >= 200 && e.status < 300), `${name}@${v}`).toHaveLength(1);
  });

  it('DescribePackageVersion and ListPackageVersionAssets answered 500 twice: verified anyway', async () => {
    const NAME = 'fault-500-reads';
    te.sandbox.standIn.addFault({ operation: 'ListPackageVersionAssets', package: NAME, version: '3.0.1', status: 500, times: 2 });
    te.sandbox.standIn.addFault({ operation: 'DescribePackageVersion', package: NAME, version: '3.0.2', status: 500, times: 2 });
    const summary = await te.run(te.writeJob({ name: 'e500-reads', privateNpm: { packages: [NAME] }, github: false }));
    expect(summary.exitCode).toBe(0);
    expect(statesOf(te, 'e500-reads', NAME)).toEqual(allOf(versions, 'verified'));
    expect(logOf(te, 'ListPackageVersionAssets', NAME, '3.0.1').map((e) => e.status).slice(0, 3)).toEqual([500, 500, 200]);
    expect(logOf(te, 'DescribePackageVersion', NAME, '3.0.2').map((e) => e.status)).toEqual([500, 500, 200]);
    const accepted = publishRequests(te.sandbox);
    for (const v of versions) expect(accepted.get(`${NAME}@${v}`)).toBe(1);
  });

  it('a publish that always fails: ETARGET after the retry budget, the rest verified; after the fault clears, a rerun publishes it once', async () => {
    const NAME = 'fault-500-permanent';
    te.sandbox.standIn.addFault({ operation: 'npm:Publish', package: NAME, version: '3.0.1', status: 500 });
    const job = te.writeJob({ name: 'e500-permanent', privateNpm: { packages: [NAME] }, github: false, limits: { retries: 2 } });
    const summary = await te.run(job);
    expect(summary.exitCode).toBe(1);
    expect(summary.failures).toEqual([expect.objectContaining({ package: NAME, version: '3.0.1', code: 'ETARGET' })]);
    expect(statesOf(te, 'e500-permanent', NAME)).toEqual({ '3.0.0': 'verified', '3.0.1': 'failed', '3.0.2': 'verified' });
    expect(itemRows(te, 'e500-permanent', NAME).find((r) => r.version === '3.0.1')!.last_error_code).toBe('ETARGET');
    // the first try and two retries, none stored
    expect(logOf(te, 'npm:Publish', NAME, '3.0.1').map((e) => e.status)).toEqual([500, 500, 500]);
    expect(te.sandbox.standIn.versions(REPO, 'npm', undefined, NAME).map((v) => v.version)).toEqual(['3.0.0', '3.0.2']);

    te.sandbox.standIn.clearFaults();
    const rerun = await te.run(job);
    expect(rerun.exitCode).toBe(0);
    expect(rerun.outcomes).toEqual({ published: 1 });
    expect(statesOf(te, 'e500-permanent', NAME)).toEqual(allOf(versions, 'verified'));
    expect(logOf(te, 'npm:Publish', NAME, '3.0.1').map((e) => e.status)).toEqual([500, 500, 500, 200]);
    expect(publishRequests(te.sandbox, { succeededOnly: true }).get(`${NAME}@3.0.1`)).toBe(1);
  });
});

describe('the CodeArtifact token expires or is revoked mid-run', () => {
  let te: TestEnv;

  beforeAll(async () => {
    te = await startTestEnv();
  });
  afterEach(() => {
    te.sandbox.standIn.setLatency(0);
    te.sandbox.standIn.setTokenTtl(undefined);
  });
  afterAll(async () => {
    await te?.stop();
  });

  it('a 2-second token is renewed before it expires: no 401 from the npm endpoint, several token fetches', async () => {
    const names = ['fault-ttl-a', 'fault-ttl-b', 'fault-ttl-c'];
    const versions = Array.from({ length: 12 }, (_, i) => `4.0.${i}`);
    await seedPrivate(te, names.map((name) => ({ name, versions })));
    const { standIn } = te.sandbox;
    standIn.setTokenTtl(2);
    standIn.setLatency(100);
    const since = lastSeq(te);
    // one package at a time, requests of 100 ms each: the run outlives several tokens
    const summary = await te.run(te.writeJob({ name: 'ttl', privateNpm: { packages: names }, github: false }), { concurrency: 1 });
    expect(summary.exitCode).toBe(0);
    expect(summary.states).toEqual({ verified: names.length * versions.length });
    const during = standIn.log.filter((e) => e.seq > since);
    // requests never stop for long, so every 2 s of run needs at least one more token
    const lifetimes = Math.floor(summary.durationMs / 2000);
    expect(lifetimes).toBeGreaterThanOrEqual(2);
    expect(during.filter((e) => e.operation === 'GetAuthorizationToken').length).toBeGreaterThanOrEqual(1 + lifetimes);
    expect(summary.tokenFetches).toBeGreaterThanOrEqual(1 + lifetimes);
    expect(during.filter((e) => e.operation.startsWith('npm:') && e.status === 401)).toEqual([]);
  });

  it('the AWS credentials expire mid-run (an STS session, an SSO login): the run stops at once, ETARGETCREDENTIALS exit 2, no version recorded failed; renewed, the rerun finishes, each version published once', async () => {
    const names = ['fault-expired-a', 'fault-expired-b'];
    const versions = Array.from({ length: 20 }, (_, i) => `6.0.${i}`);
    await seedPrivate(te, names.map((name) => ({ name, versions })));
    const { standIn } = te.sandbox;
    const job = te.writeJob({ name: 'expired', privateNpm: { packages: names }, github: false });
    standIn.setLatency(20);
    // as the service does when the session ends: the endpoint token dies with it, and every signed call is refused
    const ours = () => [...publishRequests(te.sandbox, { succeededOnly: true }).keys()].filter((k) => names.some((n) => k.startsWith(`${n}@`))).length;
    const expire = setInterval(() => {
      if (ours() < 4) return;
      clearInterval(expire);
      standIn.revokeTokens();
      standIn.addFault({ status: 403, errorType: 'ExpiredTokenException' });
    }, 5);
    let r: Awaited<ReturnType<TestEnv['cli']>>;
    try {
      r = await te.cli(['run', job, '--json']);
    } finally {
      clearInterval(expire);
      standIn.clearFaults();
    }
    expect(r.code, r.stderr).toBe(2);
    expect((JSON.parse(r.stdout) as { error: { code: string; hint: string } }).error).toMatchObject({ code: 'ETARGETCREDENTIALS', hint: expect.stringContaining('rerun') });
    const refusedAt = standIn.log.filter((e) => e.errorType === 'ExpiredTokenException');
    expect(refusedAt.length).toBeGreaterThan(0);
    // it stopped: not one refused call per remaining version
    expect(refusedAt.length).toBeLessThan(names.length * versions.length - 4);
    const state = te.openState('expired');
    try {
      expect(state.counts().failed ?? 0).toBe(0);
      expect(state.db.prepare("SELECT COUNT(*) AS n FROM ledger WHERE json_extract(entry, '$.outcome') LIKE 'failed:%'").get()).toEqual({ n: 0 });
      expect(state.db.prepare('SELECT outcome FROM runs ORDER BY id DESC LIMIT 1').get()).toEqual({ outcome: 'stopped-by-error' });
    } finally {
      state.close();
    }
    // status says why the last run stopped, and what to do
    const status = await te.cli(['status', job, '--json']);
    expect((JSON.parse(status.stdout) as { lastRun: { outcome: string; error: string } }).lastRun).toMatchObject({ outcome: 'stopped-by-error', error: expect.stringMatching(/^ETARGETCREDENTIALS: .*ExpiredTokenException.*; renew the AWS credentials/) });

    standIn.setLatency(0);
    const rerun = await te.cli(['run', job, '--json']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect((JSON.parse(rerun.stdout) as RunSummary).states).toEqual({ verified: names.length * versions.length });
    const accepted = publishRequests(te.sandbox, { succeededOnly: true });
    for (const name of names) for (const v of versions) expect(accepted.get(`${name}@${v}`), `${name}@${v}`).toBe(1);
  });

  it('tokens revoked mid-run: the 401 is answered with a fresh token and everything is verified', async () => {
    const names = ['fault-revoke-a', 'fault-revoke-b'];
    const versions = Array.from({ length: 6 }, (_, i) => `5.0.${i}`);
    await seedPrivate(te, names.map((name) => ({ name, versions })));
    const { standIn } = te.sandbox;
    const since = lastSeq(te);
    let items = 0;
    let revokedAfter = -1;
    const summary = await te.run(te.writeJob({ name: 'revoke', privateNpm: { packages: names }, github: false }), {
      onProgress: (e) => {
        if (e.type === 'item' && ++items === 3) {
          revokedAfter = lastSeq(te);
          standIn.revokeTokens();
        }
      },
    });
    expect(summary.exitCode).toBe(0);
    expect(summary.states).toEqual({ verified: names.length * versions.length });
    expect(revokedAfter).toBeGreaterThan(since);
    const refused = standIn.log.filter((e) => e.seq > revokedAfter && e.operation.startsWith('npm:') && e.status === 401);
    expect(refused.length).toBeGreaterThan(0);
    const renewed = standIn.log.filter((e) => e.seq > refused[0]!.seq && e.operation === 'GetAuthorizationToken' && e.status === 200);
    expect(renewed.length).toBeGreaterThan(0);
    expect(summary.tokenFetches).toBeGreaterThanOrEqual(2);
    const accepted = publishRequests(te.sandbox, { succeededOnly: true });
    for (const name of names) for (const v of versions) expect(accepted.get(`${name}@${v}`), `${name}@${v}`).toBe(1);
  });
});

describe('versions already on the target', () => {
  let te: TestEnv;
  const versions = ['6.0.0', '6.1.0', '6.2.0'];
  /** name -> version -> the tarball the source serves */
  const tarballs = new Map<string, Map<string, Buffer>>();

  beforeAll(async () => {
    te = await startTestEnv();
    const { privateNpm } = te.sandbox;
    for (const name of ['fault-conflict', 'fault-identical']) {
      const byVersion = new Map<string, Buffer>();
      for (const v of versions) {
        const tgz = await makeTarball(name, v);
        await publishVersion(privateNpm.url, privateNpm.token, name, v, tgz);
        byVersion.set(v, tgz);
      }
      tarballs.set(name, byVersion);
    }
  });
  afterAll(async () => {
    await te?.stop();
  });

  it('other bytes under the same version: conflict with both hashes, the target keeps its bytes, no publish sent', async () => {
    const NAME = 'fault-conflict';
    const theirs = await makeTarball(NAME, '6.1.0', { extraFiles: { 'NOTICE.txt': 'published by someone else\n' } });
    await publishVersion(te.sandbox.descriptor.codeartifact.npmEndpoint, await te.targetToken(), NAME, '6.1.0', theirs);
    const since = lastSeq(te);

    const summary = await te.run(te.writeJob({ name: 'conflict', privateNpm: { packages: [NAME] }, github: false }));
    expect(summary.exitCode).toBe(1);
    const ours = tarballs.get(NAME)!.get('6.1.0')!;
    expect(summary.conflicts).toEqual([
      expect.objectContaining({ package: NAME, version: '6.1.0', code: 'ECONFLICT', ourSha512: sha512Hex(hashTarball(ours).integrity), targetSha512: sha512Hex(hashTarball(theirs).integrity) }),
    ]);
    expect(statesOf(te, 'conflict', NAME)).toEqual({ '6.0.0': 'verified', '6.1.0': 'conflict', '6.2.0': 'verified' });
    expect(itemRows(te, 'conflict', NAME).find((r) => r.version === '6.1.0')!.last_error_code).toBe('ECONFLICT');
    expect(te.sandbox.standIn.assetBytes(REPO, 'npm', undefined, NAME, '6.1.0', 'package.tgz')?.equals(theirs)).toBe(true);
    expect(logOf(te, 'npm:Publish', NAME, '6.1.0', since)).toEqual([]);
  });

  it('the conflict is looked at again by every run: unchanged, nothing new is recorded; deleted on the target (as its hint says), ours are published', async () => {
    const NAME = 'fault-conflict';
    const job = te.writeJob({ name: 'conflict', privateNpm: { packages: [NAME] }, github: false });
    const row = () => itemRows(te, 'conflict', NAME).find((r) => r.version === '6.1.0')!;
    const events = () => {
      const state = te.openState('conflict');
      try {
        return state.events(row().id).length;
      } finally {
        state.close();
      }
    };
    const eventsBefore = events();
    const again = await te.run(job);
    expect(again.exitCode).toBe(1);
    expect(again.outcomes).toEqual({ conflict: 1 });
    expect(events()).toBe(eventsBefore);

    // the operator decides ours are right and deletes theirs
    const d = te.sandbox.descriptor.codeartifact;
    const deleted = await te.client.send(new DeletePackageVersionsCommand({ domain: d.domain, domainOwner: d.domainOwner, repository: REPO, format: 'npm', package: NAME, versions: ['6.1.0'] }));
    expect(deleted.successfulVersions?.['6.1.0']?.status).toBe('Deleted');
    const since = lastSeq(te);
    const resolved = await te.run(job);
    expect(resolved.exitCode).toBe(0);
    expect(resolved.outcomes).toEqual({ published: 1 });
    expect(statesOf(te, 'conflict', NAME)).toEqual({ '6.0.0': 'verified', '6.1.0': 'verified', '6.2.0': 'verified' });
    expect(logOf(te, 'npm:Publish', NAME, '6.1.0', since)).toHaveLength(1);
    expect(te.sandbox.standIn.assetBytes(REPO, 'npm', undefined, NAME, '6.1.0', 'package.tgz')?.equals(tarballs.get(NAME)!.get('6.1.0')!)).toBe(true);
    expect(row().last_error_code).toBeNull();
  });

  it('the same bytes under the same version: present-identical, no publish sent', async () => {
    const NAME = 'fault-identical';
    await publishVersion(te.sandbox.descriptor.codeartifact.npmEndpoint, await te.targetToken(), NAME, '6.1.0', tarballs.get(NAME)!.get('6.1.0')!);
    const since = lastSeq(te);

    const summary = await te.run(te.writeJob({ name: 'identical', privateNpm: { packages: [NAME] }, github: false }));
    expect(summary.exitCode).toBe(0);
    expect(summary.outcomes).toEqual({ published: 2, 'present-identical': 1 });
    expect(statesOf(te, 'identical', NAME)).toEqual({ '6.0.0': 'verified', '6.1.0': 'present-identical', '6.2.0': 'verified' });
    expect(logOf(te, 'npm:Publish', NAME, '6.1.0', since)).toEqual([]);
    expect(logOf(te, 'npm:Publish', NAME, undefined, since).map((e) => e.version)).toEqual(['6.0.0', '6.2.0']);
    // the event log records what the target called the copy it already had
    const state = te.openState('identical');
    try {
      const row = state.items('package = ? AND version = ?', NAME, '6.1.0')[0]!;
      expect(state.events(row.id).at(-1)).toMatchObject({ to_state: 'present-identical', detail: expect.stringContaining('status Published, origin INTERNAL') });
    } finally {
      state.close();
    }
  });
});

describe('a registry that answers nonsense', () => {
  let te: TestEnv;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    te = await startTestEnv();
    await seedPrivate(te, [{ name: 'fault-fine', versions: ['7.0.0', '7.0.1'] }]);
    server = createServer((req, res) => {
      const name = decodeURIComponent((req.url ?? '/').slice(1).split('?')[0] ?? '');
      const json = { 'content-type': 'application/json' };
      if (name === 'garbled-packument') {
        res.writeHead(200, json).end('<html><body>Service Temporarily Unavailable</body></html>');
      } else if (name === 'versionless-packument') {
        res.writeHead(200, json).end(JSON.stringify({ _id: name, name, 'dist-tags': { latest: '1.0.0' } }));
      } else {
        res.writeHead(404, json).end(JSON.stringify({ error: 'not found' }));
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    if (server?.listening) {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
    }
    await te?.stop();
  });

  it('a packument that is not JSON, or has no versions: EBADSOURCE naming the package, the rest migrates', async () => {
    const job = te.writeJob({ name: 'nonsense', privateNpm: { packages: ['fault-fine'] }, github: false });
    const doc = parse(readFileSync(job, 'utf8')) as { sources: Record<string, unknown>[] };
    doc.sources.push({ id: 'broken', kind: 'npm-registry', url, packages: ['garbled-packument', 'versionless-packument'] });
    writeFileSync(job, stringify(doc));

    const summary = await te.run(job);
    expect(summary.exitCode).toBe(1);
    expect(summary.listErrors.map((l) => [l.source, l.package, l.code])).toEqual([
      ['broken', 'garbled-packument', 'EBADSOURCE'],
      ['broken', 'versionless-packument', 'EBADSOURCE'],
    ]);
    for (const l of summary.listErrors) expect(l.message).toContain(l.package);
    expect(statesOf(te, 'nonsense', 'fault-fine')).toEqual(allOf(['7.0.0', '7.0.1'], 'verified'));
    expect(itemRows(te, 'nonsense').filter((r) => r.source_id === 'broken')).toEqual([]);
    expect(te.sandbox.standIn.log.filter((e) => e.package?.endsWith('-packument'))).toEqual([]);
  });
});

describe('a flaky source (5xx and 429 with Retry-After, through a fault proxy)', () => {
  let te: TestEnv;
  let proxy: FaultProxy;
  const versions = ['8.0.0', '8.0.1', '8.0.2'];

  /** A job whose private source is the fault proxy in front of the private Verdaccio. */
  const proxiedJob = (name: string, packages: string[], limits?: Record<string, unknown>) => {
    const job = te.writeJob({ name, privateNpm: { packages }, github: false, limits });
    const doc = parse(readFileSync(job, 'utf8')) as { sources: { url: string }[] };
    doc.sources[0]!.url = proxy.url;
    writeFileSync(job, stringify(doc));
    return job;
  };

  beforeAll(async () => {
    te = await startTestEnv();
    await seedPrivate(te, [
      { name: 'flaky-source', versions },
      { name: 'dead-source', versions: ['1.0.0'] },
      { name: 'limited-source', versions },
      { name: 'refused-source', versions: ['1.0.0'] },
      ...['a', 'b', 'c', 'd'].map((x) => ({ name: `paused-${x}`, versions: ['1.0.0', '1.0.1', '1.0.2', '1.0.3', '1.0.4'] })),
    ]);
    proxy = await startFaultProxy(te.sandbox.privateNpm.url);
  });
  afterAll(async () => {
    await proxy?.stop();
    await te?.stop();
  });

  it('a packument answered 503 twice and a tarball answered 429 (Retry-After: 1): retried, waited for, all verified', async () => {
    proxy.addFault({ method: 'GET', path: /^\/flaky-source$/, status: 503, times: 2 });
    proxy.addFault({ method: 'GET', path: /^\/flaky-source\/-\/flaky-source-8\.0\.1\.tgz$/, status: 429, retryAfterSeconds: 1, times: 1 });
    const summary = await te.run(proxiedJob('flaky', ['flaky-source']));
    expect(summary.exitCode).toBe(0);
    expect(summary.listErrors).toEqual([]);
    expect(summary.states).toEqual({ verified: versions.length });
    expect(proxy.log.filter((e) => e.path === '/flaky-source').map((e) => e.status)).toEqual([503, 503, 200]);
    const tarball = proxy.log.filter((e) => e.path.endsWith('flaky-source-8.0.1.tgz'));
    expect(tarball.map((e) => e.status)).toEqual([429, 200]);
    expect(tarball[1]!.at - tarball[0]!.at).toBeGreaterThanOrEqual(1000 - CLOCK_SLACK_MS);
  });

  it("a packument's 429 waits its Retry-After; GitHub's rate limit, a 403 marked x-ratelimit-remaining: 0 (a reset seconds away) or carrying Retry-After: waited for and retried, never taken for a refused token", async () => {
    // first a 429 whose Retry-After must be read from the error's headers
    proxy.addFault({ method: 'GET', path: /^\/limited-source$/, status: 429, retryAfterSeconds: 1, times: 1 });
    const reset = String(Math.ceil(Date.now() / 1000) + 2);
    proxy.addFault({ method: 'GET', path: /^\/limited-source$/, status: 403, headers: { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset }, times: 1 });
    proxy.addFault({ method: 'GET', path: /^\/limited-source\/-\/limited-source-8\.0\.1\.tgz$/, status: 403, retryAfterSeconds: 1, times: 1 });
    const summary = await te.run(proxiedJob('limited', ['limited-source']));
    expect([summary.exitCode, summary.listErrors, summary.failures]).toEqual([0, [], []]);
    expect(summary.states).toEqual({ verified: versions.length });
    const packument = proxy.log.filter((e) => e.path === '/limited-source');
    expect(packument.map((e) => e.status)).toEqual([429, 403, 200]);
    expect(packument[1]!.at - packument[0]!.at).toBeGreaterThanOrEqual(1000 - CLOCK_SLACK_MS);
    // not before the reset the answer named (whole seconds: at most a second early)
    expect(packument[2]!.at).toBeGreaterThanOrEqual(Number(reset) * 1000 - 1000);
    const tarball = proxy.log.filter((e) => e.path.endsWith('limited-source-8.0.1.tgz'));
    expect(tarball.map((e) => e.status)).toEqual([403, 200]);
    expect(tarball[1]!.at - tarball[0]!.at).toBeGreaterThanOrEqual(1000 - CLOCK_SLACK_MS);
  });

  it("a spent quota pauses the whole source: once one request is told to wait, no other request reaches the registry before the wait is over", async () => {
    // the first tarball asked for (whichever package's) is answered "spent, come back in 2 s"
    proxy.addFault({ method: 'GET', path: /^\/paused-[a-d]\/-\/.*\.tgz$/, status: 403, retryAfterSeconds: 2, headers: { 'x-ratelimit-remaining': '0' }, times: 1 });
    const from = proxy.log.length;
    // a distant registry and two downloads at a time: the run still has most of its requests to send when the answer comes
    proxy.setLatency(100);
    const summary = await te.run(proxiedJob('paused', ['paused-a', 'paused-b', 'paused-c', 'paused-d'], { fetchConcurrency: 2 })).finally(() => proxy.setLatency(0));
    expect([summary.exitCode, summary.listErrors, summary.failures]).toEqual([0, [], []]);
    expect(summary.states).toEqual({ verified: 20 });
    const log = proxy.log.slice(from);
    const refused = log.find((e) => e.status === 403)!;
    expect(refused).toBeDefined();
    // what was already on its way when the answer left may still arrive; nothing sent after it may
    const sentAfter = log.filter((e) => e.arrived > refused.at + 100);
    expect(sentAfter.length).toBeGreaterThan(0);
    expect(sentAfter.filter((e) => e.arrived < refused.at + 2000 - CLOCK_SLACK_MS)).toEqual([]);
  });

  it('a 403 with no rate-limit headers is the token refused: ESOURCEAUTH at once, asked once', async () => {
    proxy.addFault({ method: 'GET', path: /^\/refused-source$/, status: 403, times: 100 });
    const summary = await te.run(proxiedJob('refused', ['refused-source']));
    expect(summary.listErrors.map((l) => [l.package, l.code])).toEqual([['refused-source', 'ESOURCEAUTH']]);
    expect(proxy.log.filter((e) => e.path === '/refused-source')).toHaveLength(1);
  });

  it('a packument that keeps failing: ESOURCE for that package after the retry budget, nothing of it published', async () => {
    proxy.addFault({ method: 'GET', path: /^\/dead-source$/, status: 500, times: 100 });
    const summary = await te.run(proxiedJob('dead', ['dead-source'], { retries: 2 }));
    expect(summary.exitCode).toBe(1);
    expect(summary.listErrors.map((l) => [l.package, l.code])).toEqual([['dead-source', 'ESOURCE']]);
    expect(proxy.log.filter((e) => e.path === '/dead-source')).toHaveLength(3);
    expect(te.sandbox.standIn.log.filter((e) => e.package === 'dead-source')).toEqual([]);
  });
});

describe('a registry that redirects tarball downloads to another host (as GitHub Packages does)', () => {
  let te: TestEnv;
  let registry: FaultProxy;
  let storage: FaultProxy;

  beforeAll(async () => {
    te = await startTestEnv();
    await seedPrivate(te, [{ name: 'redirected', versions: ['9.0.0', '9.0.1'] }]);
    // "storage" is another origin serving the same bytes; the registry sends tarball requests there
    storage = await startFaultProxy(te.sandbox.privateNpm.url);
    registry = await startFaultProxy(te.sandbox.privateNpm.url);
    registry.addFault({ method: 'GET', path: /\.tgz$/, status: 302, redirectTo: storage.url, times: 100 });
  });
  afterAll(async () => {
    await registry?.stop();
    await storage?.stop();
    await te?.stop();
  });

  it('refuses to download from a host the job does not trust: ESOURCEURL, nothing fetched there', async () => {
    const job = te.writeJob({ name: 'redirect-untrusted', privateNpm: { packages: ['redirected'] }, github: false });
    const doc = parse(readFileSync(job, 'utf8')) as { sources: { url: string }[] };
    doc.sources[0]!.url = registry.url;
    writeFileSync(job, stringify(doc));
    const summary = await te.run(job);
    expect(summary.exitCode).toBe(1);
    expect(summary.failures.map((f) => f.code)).toEqual(['ESOURCEURL', 'ESOURCEURL']);
    expect(storage.log).toEqual([]);
    expect(te.sandbox.standIn.log.filter((e) => e.operation === 'npm:Publish')).toEqual([]);
  });

  it('follows the redirect to a host listed in tarballHosts, and the registry token never reaches it', async () => {
    registry.log.length = 0;
    const job = te.writeJob({ name: 'redirect', privateNpm: { packages: ['redirected'] }, github: false });
    const doc = parse(readFileSync(job, 'utf8')) as { sources: { url: string; tarballHosts?: string[] }[] };
    doc.sources[0]!.url = registry.url;
    doc.sources[0]!.tarballHosts = [new URL(storage.url).host];
    writeFileSync(job, stringify(doc));
    const summary = await te.run(job);
    expect(summary.states).toEqual({ verified: 2 });
    expect(registry.log.filter((e) => e.path.endsWith('.tgz')).map((e) => [e.status, e.authorization])).toEqual([
      [302, true],
      [302, true],
    ]);
    const fetched = storage.log.filter((e) => e.path.endsWith('.tgz'));
    expect(fetched.map((e) => [e.status, e.authorization])).toEqual([
      [200, false],
      [200, false],
    ]);
  });
});
