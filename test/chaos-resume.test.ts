/**
 * Chaos: one job mixing an npm registry source and git sources (a PyPI library,
 * a Go module), the real CLI killed with SIGKILL at pseudo-random moments
 * (after the stand-in's request log grew by a random number of requests, or
 * after a random delay), six times, then run to completion. resume.test and
 * resume-git.test aim their kills at named moments of one kind of source; here
 * the kills land wherever the mixed job happens to be. Whatever happens: every
 * version is published exactly once (one accepted publish or upload per file;
 * CodeArtifact would refuse a second, so none refused as a duplicate either),
 * every version is verified, the ledger's chain verifies against the target,
 * and a rerun sends the target nothing. Replay a failure with CAM_TEST_SEED.
 *
 * The second case adds the faults a real service sends on top of the kills: a publish or
 * upload stored and then answered 500 (a lost response), 429s with Retry-After on the writes,
 * and 500s on the reads the tool verifies with. The store must still hold every version once:
 * a publish refused as a duplicate, or a version left unverified, is the tool's doing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startGitTestEnv, publishRequests, type TestEnv } from './support/harness.js';
import { fixtureBundle, gitSourceOn, type GitServer } from './support/git-server.js';
import { historyOf, seedPackages, type SeedPackage } from './support/npm-fixtures.js';
import type { RequestLogEntry } from './support/codeartifact/types.js';
import { exitOf, watch, type Child } from './support/child.js';
import { prng } from './support/prng.js';
import type { LedgerEntry } from '../src/state/ledger.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A sandbox and a git server of its own for one case: the target starts empty. */
async function withEnv(work: (te: TestEnv, git: GitServer) => Promise<void>): Promise<void> {
  const { te, git } = await startGitTestEnv();
  try {
    await git.createRepoFromBundle('userpath', fixtureBundle('py-userpath'));
    await git.createRepoFromBundle('xxhash', fixtureBundle('go-xxhash'));
    await work(te, git);
  } finally {
    await git.stop();
    await te.stop();
  }
}

/** Requests that change the target: publishes, uploads, tags, status changes. */
const isWrite = (e: RequestLogEntry) => e.method !== 'GET' && e.method !== 'HEAD' && !/^(sts:)?(Get|List|Describe|Search)/.test(e.operation) && !/^(pypi:SimpleIndex|pypi:Download|npm:Get)/.test(e.operation);
const isPublish = (e: RequestLogEntry) => e.operation === 'npm:Publish' || e.operation === 'pypi:Upload' || e.operation === 'PublishPackageVersion';

/**
 * Wait until the child has ended or `check` holds; true when it holds (the child still
 * running). `guardMs` only stops a hung test: the child is killed and the test fails.
 */
async function until(c: Child, check: () => boolean, guardMs = 60_000): Promise<boolean> {
  const end = Date.now() + guardMs;
  while (!c.done() && !check()) {
    if (Date.now() > end) {
      c.proc.kill('SIGKILL');
      throw new Error(`gave up waiting for the moment to kill:\n${c.stderr()}`);
    }
    await sleep(5);
  }
  return !c.done();
}

/** Wait `ms`, or less when the child ends first; true when it is still running. */
async function runningAfter(c: Child, ms: number): Promise<boolean> {
  await Promise.race([c.exited, sleep(ms)]);
  return !c.done();
}

/**
 * Requests that stored something on the target: an accepted publish or upload, or one answered
 * 500 (in the faulted case only `afterApply` rules answer a write 500: stored, the answer lost).
 */
const stored = (e: RequestLogEntry) => isPublish(e) && (e.status < 300 || e.status === 500);

/** What the stand-in answered that the tool caused: a refused write other than an injected fault. */
const causedRefusal = (e: RequestLogEntry) => isPublish(e) && e.status >= 300 && e.status !== 500 && !(e.status === 429 && e.throttledBy === 'fault');

async function chaos(te: TestEnv, git: GitServer, seed: number, faulted: boolean): Promise<void> {
  const random = prng(seed);
  const d = te.sandbox.descriptor;

  const pkgs: SeedPackage[] = [
    { name: '@acme/chaos-core', versions: historyOf(16, { prereleasesEvery: 4 }), distTags: { next: '1.0.0-rc.1', stable: '0.3.2' } },
    { name: 'chaos-utils', versions: historyOf(12, { prereleasesEvery: 0 }) },
    { name: '@acme/chaos-cli', versions: historyOf(8, { prereleasesEvery: 3 }) },
  ];
  const integrity = await seedPackages(d.privateNpm.url, d.privateNpm.token, pkgs);
  const npmTotal = [...integrity.values()].reduce((n, m) => n + m.size, 0);

  const job = te.writeJob({
    name: 'chaos',
    sources: [
      { id: 'private-npm', kind: 'npm-registry', url: d.privateNpm.url, tokenEnv: d.privateNpm.tokenEnv, packages: ['chaos-utils', '@acme/chaos-core', '@acme/chaos-cli'], scopes: [] },
      gitSourceOn(git, 'userpath', 'userpath', 'pypi', { package: 'userpath', tags: '{version}' }),
      gitSourceOn(git, 'xxhash', 'xxhash', 'go', { package: 'github.com/cespare/xxhash' }),
    ],
    limits: { concurrency: 3, fetchConcurrency: 2 },
  });
  const standIn = te.sandbox.standIn;
  // slow enough that a kill can land between a request and its answer
  standIn.setLatency(40);
  if (faulted) {
    // lost answers first (the first rule that matches fires): three npm versions picked by the
    // seed, the first two uploads of the Python library and the first two files of the Go module
    const npmVersions = [...integrity].flatMap(([name, versions]) => [...versions.keys()].map((version) => ({ name, version })));
    for (let i = 0; i < 3; i++) {
      const { name, version } = npmVersions.splice(Math.floor(random() * npmVersions.length), 1)[0]!;
      standIn.addFault({ operation: 'npm:Publish', package: name, version, status: 500, afterApply: true, times: 1 });
    }
    standIn.addFault({ operation: 'pypi:Upload', package: 'userpath', status: 500, afterApply: true, times: 2 });
    standIn.addFault({ operation: 'PublishPackageVersion', status: 500, afterApply: true, times: 2 });
    // then throttling on the writes, and failures on the reads every verification makes
    for (const operation of ['npm:Publish', 'pypi:Upload', 'PublishPackageVersion']) standIn.addFault({ operation, status: 429, retryAfterSeconds: 1, times: 2 });
    for (const operation of ['ListPackageVersionAssets', 'DescribePackageVersion', 'npm:GetPackument', 'pypi:SimpleIndex', 'ListPackageVersions']) standIn.addFault({ operation, status: 500, times: 2 });
  }

  const kills: string[] = [];
  let landed = 0;
  for (let i = 0; i < 6; i++) {
    const c = watch(te.spawnCli(['run', job, '--json', '--quiet']));
    const start = standIn.log.length;
    const ms = Math.floor(random() * 30);
    const mode = random();
    let moment: string;
    let running: boolean;
    if (mode < 0.4) {
      // anywhere: listing, reading the target, fetching, building, publishing
      const n = 1 + Math.floor(random() * 80);
      running = await until(c, () => standIn.log.length >= start + n);
      moment = `${ms} ms after request ${n} of run ${i}`;
    } else if (mode < 0.8) {
      // in the thick of the writes: a publish or upload just arrived, its answer perhaps not yet sent
      const n = 1 + Math.floor(random() * 6);
      running = await until(c, () => standIn.log.slice(start).filter(isPublish).length >= n);
      moment = `${ms} ms after publish ${n} of run ${i}`;
    } else {
      const delay = Math.floor(300 + random() * 3000);
      running = await runningAfter(c, delay);
      moment = `${delay} ms into run ${i}`;
    }
    if (running) running = await runningAfter(c, ms);
    const last = standIn.log.at(-1);
    moment += ` (last logged: ${last?.operation} ${last?.package ?? ''}@${last?.version ?? ''} ${last?.status})`;
    if (!running) {
      // a run resuming after kills that ends by itself has finished the job: it did not fail
      const exit = await c.exited;
      kills.push(`run ${i} ended by itself (${exit}) before: ${moment}`);
      expect(exit, `${kills.join('; ')}\n${c.stderr()}`).toBe(0);
      continue;
    }
    c.proc.kill('SIGKILL');
    const exit = await exitOf(c);
    kills.push(`killed ${moment}: ${exit}`);
    if (exit === 'SIGKILL') landed++;
  }
  standIn.setLatency(0);
  const detail = `seed ${seed}: ${kills.join('; ')}`;
  // most kills cut a run short (a run that finishes first leaves the later ones nothing to cut)
  expect(landed, detail).toBeGreaterThanOrEqual(3);

  const final = await te.cli(['run', job, '--json']);
  expect(final.code, `${detail}\n${final.stderr}`).toBe(0);
  if (faulted) {
    // every lost answer happened (a case whose faults never fired proves nothing)
    const lost = standIn.log.filter((e) => isPublish(e) && e.status === 500);
    expect(lost.filter((e) => e.operation === 'npm:Publish').length, detail).toBe(3);
    expect(lost.filter((e) => e.operation === 'pypi:Upload').length, detail).toBe(2);
    expect(lost.filter((e) => e.operation === 'PublishPackageVersion').length, detail).toBe(2);
    standIn.clearFaults();
  }

  // the ledger: one entry per version, `published` (an interrupted publish settled by reading
  // the target was still ours), none missing and none twice
  const ledger = join(te.dir, 'chaos-ledger.jsonl');
  const exported = await te.cli(['ledger', 'export', job, '--out', ledger]);
  expect(exported.code, exported.stderr).toBe(0);
  const entries = readFileSync(ledger, 'utf8')
    .trim()
    .split('\n')
    .slice(0, -1)
    .map((l) => (JSON.parse(l) as { entry: LedgerEntry }).entry)
    .filter((e) => e.version !== undefined);

  const state = te.openState('chaos');
  try {
    const selected = state.items().filter((r) => r.state !== 'skipped');
    expect(selected.filter((r) => r.state !== 'verified').map((r) => `${r.package}@${r.version} ${r.state}`), detail).toEqual([]);
    expect(selected.filter((r) => r.format === 'npm').length, detail).toBe(npmTotal);
    expect(selected.filter((r) => r.format === 'pypi').length, detail).toBeGreaterThan(3);
    expect(selected.filter((r) => r.format === 'generic').length, detail).toBeGreaterThan(3);
    for (const r of selected) {
      for (const a of state.assetsOf(r.id)) expect(a.state, `${r.package}@${r.version} ${a.name} ${detail}`).toBe('uploaded');
      // a git version is built once: a kill after its build never makes the next run build it again
      if (r.format === 'npm') continue;
      const builds = state.events(r.id).filter((e) => e.to_state === 'fetched' && e.from_state !== 'fetched' && e.detail?.startsWith('built'));
      expect(builds.length, `${r.package}@${r.version} built ${detail}`).toBe(1);
    }
    const key = (format: string | undefined, pkg: string | undefined, version: string | undefined) => `${format} ${pkg}@${version}`;
    expect(entries.map((e) => `${key(e.format, e.package, e.version)} ${e.outcome}`).sort(), detail).toEqual(selected.map((r) => `${key(r.format, r.package, r.version)} published`).sort());

    const log = standIn.log;
    // no publish refused but by an injected fault: any other refusal is a duplicate (or a conflict) the tool caused
    expect(log.filter(causedRefusal).map((e) => `${e.operation} ${e.package}@${e.version} ${e.status} ${e.errorType}`), detail).toEqual([]);

    // npm: one publish stored per version, for every version of the source
    const expected = new Map<string, number>();
    for (const [name, versions] of integrity) for (const v of versions.keys()) expected.set(`${name}@${v}`, 1);
    const npmStored = new Map<string, number>();
    for (const e of log.filter((x) => x.operation === 'npm:Publish' && stored(x))) npmStored.set(`${e.package}@${e.version}`, (npmStored.get(`${e.package}@${e.version}`) ?? 0) + 1);
    expect(new Map([...npmStored].sort()), detail).toEqual(new Map([...expected].sort()));
    if (!faulted) expect(new Map([...publishRequests(te.sandbox, { succeededOnly: true })].sort()), detail).toEqual(new Map([...expected].sort()));

    // Go: one PublishPackageVersion stored per file, three files a version
    const accepted = new Map<string, number>();
    for (const e of log) {
      if (e.operation !== 'PublishPackageVersion' || !stored(e)) continue;
      const key = `${e.namespace}/${e.package}@${e.version}/${e.query.asset}`;
      accepted.set(key, (accepted.get(key) ?? 0) + 1);
    }
    expect([...accepted].filter(([, n]) => n !== 1), detail).toEqual([]);
    expect(accepted.size, detail).toBe(selected.filter((r) => r.format === 'generic').length * 3);

    // PyPI: one accepted upload per file of the version
    for (const r of selected.filter((x) => x.format === 'pypi')) {
      const n = log.filter((e) => e.operation === 'pypi:Upload' && stored(e) && e.package === 'userpath' && e.version === r.version).length;
      expect(n, `userpath@${r.version} ${detail}`).toBe(state.assetsOf(r.id).length);
    }
  } finally {
    state.close();
  }

  // and the target's dist-tags are the source's: a kill between the publishes and the tag writes loses none
  for (const name of integrity.keys()) {
    const res = await fetch(`${d.privateNpm.url}${name.replace('/', '%2f')}`, { headers: { authorization: `Bearer ${d.privateNpm.token}`, accept: 'application/json' } });
    const source = (await res.json()) as { 'dist-tags': Record<string, string> };
    expect(standIn.distTags('npm-internal', name), `${name} dist-tags ${detail}`).toEqual(source['dist-tags']);
  }

  // the ledger's chain verifies, and every version it names is on the target with its files
  const verified = await te.cli(['ledger', 'verify', ledger, '--job', job, '--json']);
  expect(verified.code, `${detail}\n${verified.stdout}\n${verified.stderr}`).toBe(0);

  // done means done: a rerun sends the target no write (nor any request at all)
  const before = standIn.log.length;
  const again = await te.cli(['run', job, '--json']);
  expect(again.code, again.stderr).toBe(0);
  expect(standIn.log.slice(before).filter(isWrite).map((e) => `${e.operation} ${e.package}@${e.version}`)).toEqual([]);
  expect(standIn.log.length).toBe(before);
}

describe('chaos: kill -9 at random moments of a job mixing npm and git sources', () => {
  const seed = Number(process.env.CAM_TEST_SEED ?? 7_340_211);

  it('six kills, then a run to completion: every version published exactly once and verified, the ledger verifies, a rerun writes nothing', async () => {
    await withEnv((te, git) => chaos(te, git, seed, false));
  }, 180_000);

  it('six kills among lost publish answers, 429s and failing reads: every version stored exactly once and verified, the ledger verifies, a rerun writes nothing', async () => {
    await withEnv((te, git) => chaos(te, git, seed, true));
  }, 240_000);
});
