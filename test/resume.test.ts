/**
 * Resuming: the real CLI killed with SIGKILL at random moments, interrupted
 * with Ctrl-C once (drain) and twice (at once), and run twice at the same
 * time. Whatever happens, a rerun finishes the job and no version is ever
 * published twice: a publish whose outcome is unknown is settled by reading
 * the target.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { historyOf, seedPackages, type SeedPackage } from './support/npm-fixtures.js';
import { publishRequests, startTestEnv, type TestEnv } from './support/harness.js';
import type { StateDb } from '../src/state/db.js';
import { exitOf, watch, type Child } from './support/child.js';
import { prng } from './support/prng.js';

// ---------------------------------------------------------------------------
// helpers

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Poll until `check` holds; `guardMs` only stops a hung test, it is not an
 * assertion about speed. Gives up early when `child` is gone.
 */
async function waitFor(what: string, check: () => boolean, child?: Child, guardMs = 45_000): Promise<void> {
  const until = Date.now() + guardMs;
  while (!check()) {
    if (child?.done()) throw new Error(`the CLI exited while waiting for ${what}:\n${child.stderr()}`);
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await sleep(5);
  }
}

function withState<T>(te: TestEnv, fn: (s: StateDb) => T, job = 'test'): T {
  const s = te.openState(job);
  try {
    return fn(s);
  } finally {
    s.close();
  }
}

const npmPublishes = (te: TestEnv) => te.sandbox.standIn.log.filter((e) => e.operation === 'npm:Publish');

/** `@scope/name` -> the stand-in's namespace and package. */
function coords(name: string): [string | undefined, string] {
  const m = /^(?:@([^/]+)\/)?(.+)$/.exec(name)!;
  return [m[1], m[2]!];
}

const sriToHex = (integrity: string) => Buffer.from(integrity.replace(/^sha512-/, ''), 'base64').toString('hex');

async function sourcePackument(registry: { url: string; token: string }, name: string) {
  const res = await fetch(`${registry.url}${name.replace('/', '%2f')}`, { headers: { authorization: `Bearer ${registry.token}`, accept: 'application/json' } });
  expect(res.status).toBe(200);
  return (await res.json()) as { 'dist-tags': Record<string, string>; versions: Record<string, { deprecated?: string }> };
}

interface Seeded {
  /** name -> version -> integrity */
  integrity: Map<string, Map<string, string>>;
  /** name -> which registry holds it */
  registry: Map<string, 'privateNpm' | 'github'>;
  total: number;
  job: string;
}

/**
 * Scoped and unscoped packages on the private registry, one on the GitHub
 * registry; prereleases, a moved dist-tag and a deprecation on each registry.
 */
async function seed(te: TestEnv, perPackage: number): Promise<Seeded> {
  const widgets = historyOf(perPackage, { prereleasesEvery: 5 });
  const plain = historyOf(perPackage, { prereleasesEvery: 0 });
  const flags = historyOf(perPackage, { prereleasesEvery: 4 });
  // the newest prerelease, or for a short history an older release, under an extra tag
  const tagged = (vs: string[], re: RegExp) => vs.filter((v) => re.test(v)).at(-1) ?? vs.at(-2)!;
  const priv: SeedPackage[] = [
    { name: '@acme/widgets', versions: widgets, distTags: { next: tagged(widgets, /-rc\./) }, deprecated: { [widgets[1]!]: 'broken build, use a later patch' } },
    { name: 'plain-utils', versions: plain, deprecated: { [plain[0]!]: 'no longer supported' } },
  ];
  const gh: SeedPackage[] = [{ name: '@acme-gh/feature-flags', versions: flags, distTags: { beta: tagged(flags, /-beta\./) } }];
  const { privateNpm, github } = te.sandbox;
  const a = await seedPackages(privateNpm.url, privateNpm.token, priv);
  const b = await seedPackages(github.url, github.token, gh);
  const integrity = new Map([...a, ...b]);
  const registry = new Map<string, 'privateNpm' | 'github'>([
    ['@acme/widgets', 'privateNpm'],
    ['plain-utils', 'privateNpm'],
    ['@acme-gh/feature-flags', 'github'],
  ]);
  const job = te.writeJob({ privateNpm: { scopes: ['@acme'], packages: ['plain-utils'] }, github: { packages: ['@acme-gh/feature-flags'] } });
  return { integrity, registry, total: [...integrity.values()].reduce((n, m) => n + m.size, 0), job };
}

/** Every version verified in the state database. */
function expectAllVerified(te: TestEnv, total: number): void {
  withState(te, (s) => expect(s.counts()).toEqual({ verified: total }));
}

/** Exactly one publish request per version that the target answered with 2xx. */
function expectOneSuccessfulPublishEach(te: TestEnv, seeded: Seeded): void {
  const ok = publishRequests(te.sandbox, { succeededOnly: true });
  const expected = new Map<string, number>();
  for (const [name, versions] of seeded.integrity) for (const v of versions.keys()) expected.set(`${name}@${v}`, 1);
  expect(new Map([...ok].sort())).toEqual(new Map([...expected].sort()));
}

/** The target holds every version with the source's bytes, its dist-tags and its deprecations. */
async function expectTargetEqualsSource(te: TestEnv, seeded: Seeded): Promise<void> {
  const standIn = te.sandbox.standIn;
  for (const [name, versions] of seeded.integrity) {
    const [ns, pkg] = coords(name);
    const stored = new Map(standIn.versions('npm-internal', 'npm', ns, pkg).map((v) => [v.version, v]));
    expect([...stored.keys()].sort(), name).toEqual([...versions.keys()].sort());
    for (const [v, integrity] of versions) {
      const sv = stored.get(v)!;
      expect(sv.status, `${name}@${v}`).toBe('Published');
      expect(sv.assets.map((a) => [a.name, a.hashes['SHA-512']]), `${name}@${v}`).toEqual([['package.tgz', sriToHex(integrity)]]);
    }
    const source = await sourcePackument(te.sandbox[seeded.registry.get(name)!], name);
    expect(standIn.distTags('npm-internal', name), `${name} dist-tags`).toEqual(source['dist-tags']);
    for (const [v, meta] of Object.entries(source.versions)) {
      expect(stored.get(v)?.deprecated ?? '', `${name}@${v} deprecation`).toBe(meta.deprecated ?? '');
    }
  }
}

// ---------------------------------------------------------------------------

describe('resuming after kill -9 and Ctrl-C', () => {
  it('SIGKILL at random moments, five times, then a rerun finishes with every version published exactly once', async () => {
    const seedValue = Number(process.env.CAM_TEST_SEED ?? 20240607);
    const random = prng(seedValue);
    const te = await startTestEnv();
    try {
      const seeded = await seed(te, 25);
      // a few seconds per run: enough room to land kills in listing, fetching and publishing
      te.sandbox.standIn.setLatency(20);
      const args = ['run', seeded.job, '--json'];

      type Phase = 'listing' | 'fetching' | 'publishing' | 'mid-publish';
      const phases: Phase[] = ['listing', 'fetching', 'publishing', 'mid-publish', 'publishing'];
      const afterKill: { phase: Phase; detail: string; pid: number; states: Record<string, number>; openRuns: number; tmpFiles: number }[] = [];
      let lastDeadPid = 0;
      const lock = join(te.stateDir, 'test.lock.owner');
      const dbFile = join(te.stateDir, 'test.sqlite');

      for (const phase of phases) {
        const c = watch(te.spawnCli(args));
        const publishesBefore = npmPublishes(te).length;
        let detail: string;
        if (phase === 'listing') {
          // this process takes the lock just before it lists the sources
          await waitFor('the lock', () => existsSync(lock) && readFileSync(lock, 'utf8').includes(`"pid":${c.proc.pid}`), c);
          const ms = Math.floor(random() * 25);
          await sleep(ms);
          detail = `${ms} ms after taking the lock`;
        } else if (phase === 'fetching') {
          // the plan is printed just before the downloads start
          await waitFor('the plan', () => /versions to work on/.test(c.stderr()), c);
          const ms = Math.floor(20 + random() * 150);
          await sleep(ms);
          detail = `${ms} ms after the plan`;
        } else if (phase === 'publishing') {
          const n = 2 + Math.floor(random() * 8);
          await waitFor(`${n} publishes`, () => npmPublishes(te).length >= publishesBefore + n, c);
          const ms = Math.floor(random() * 60);
          await sleep(ms);
          detail = `${ms} ms after the ${n}th publish of this run`;
        } else {
          // `publishing` is written just before the request goes out
          const n = 1 + Math.floor(random() * 4);
          const lastEvent = existsSync(dbFile) ? withState(te, (s) => (s.db.prepare('SELECT max(id) AS id FROM events').get() as { id: number | null }).id ?? 0) : 0;
          const publishing = () =>
            existsSync(dbFile) ? withState(te, (s) => (s.db.prepare("SELECT count(*) AS n FROM events WHERE to_state = 'publishing' AND id > ?").get(lastEvent) as { n: number }).n) : 0;
          await waitFor(`item ${n} of this run in publishing`, () => publishing() >= n, c);
          const ms = Math.floor(random() * 10);
          await sleep(ms);
          detail = `${ms} ms after the ${n}th item of this run went to publishing`;
        }
        c.proc.kill('SIGKILL');
        const exit = await exitOf(c);
        expect(exit, `${phase} kill (${detail}) seed ${seedValue}: the run must still have been going\n${c.stderr()}`).toBe('SIGKILL');
        lastDeadPid = c.proc.pid!;
        const tmp = join(te.stateDir, 'blobs', 'tmp');
        const snapshot = existsSync(dbFile)
          ? withState(te, (s) => ({
              states: s.counts(),
              openRuns: (s.db.prepare('SELECT count(*) AS n FROM runs WHERE ended_at IS NULL').get() as { n: number }).n,
            }))
          : { states: {}, openRuns: 0 };
        afterKill.push({ phase, detail, pid: lastDeadPid, ...snapshot, tmpFiles: existsSync(tmp) ? readdirSync(tmp).length : 0 });
      }

      const report = `seed ${seedValue}, after each kill: ${JSON.stringify(afterKill, null, 1)}`;
      // the kills really interrupted work in progress, not only idle moments
      expect(afterKill.some((k) => (k.states.publishing ?? 0) > 0 || (k.states.fetched ?? 0) > 0 || k.openRuns > 0), report).toBe(true);
      // and at least once with a publish whose outcome the killed process never learnt
      expect(afterKill.some((k) => (k.states.publishing ?? 0) > 0), report).toBe(true);
      expect(afterKill.filter((k) => k.phase === 'publishing').some((k) => (k.states.verified ?? 0) > 0 && (k.states.verified ?? 0) < seeded.total), report).toBe(true);

      // a half-written download of a killed process, as a kill during a fetch leaves it
      const tmp = join(te.stateDir, 'blobs', 'tmp');
      writeFileSync(join(tmp, `${lastDeadPid}-0123456789abcdef`), 'partial tarball');

      const final = await te.cli(args);
      expect(final.code, `${report}\n${final.stderr}`).toBe(0);
      const summary = JSON.parse(final.stdout) as { exitCode: number; states: Record<string, number> };
      expect(summary.states).toEqual({ verified: seeded.total });

      expectAllVerified(te, seeded.total);
      expectOneSuccessfulPublishEach(te, seeded);
      await expectTargetEqualsSource(te, seeded);
      // nothing left over by dead writers; the final run's own writes were renamed into place
      expect(readdirSync(tmp)).toEqual([]);
      expect(existsSync(join(te.stateDir, 'test.lock.owner'))).toBe(false);

      // done means done: a further run does not even ask the target
      const before = te.sandbox.standIn.log.length;
      const again = await te.cli(args);
      expect(again.code, again.stderr).toBe(0);
      expect(te.sandbox.standIn.log.length).toBe(before);
    } finally {
      await te.stop();
    }
  });

  it('the first Ctrl-C finishes in-flight work, releases the lock and exits 130; a rerun finishes the job', async () => {
    const te = await startTestEnv();
    try {
      const seeded = await seed(te, 8);
      te.sandbox.standIn.setLatency(200);
      const c = watch(te.spawnCli(['run', seeded.job, '--json']));
      await waitFor('the first publishes', () => npmPublishes(te).length >= 2, c);
      c.proc.kill('SIGINT');
      expect(await exitOf(c), c.stderr()).toBe(130);
      expect(c.stderr()).toMatch(/interrupted: finishing in-flight work/);
      // the summary's exit code is the process's
      expect(JSON.parse(c.stdout()) as { interrupted: boolean; exitCode: number }).toMatchObject({ interrupted: true, exitCode: 130 });

      withState(te, (s) => {
        const counts = s.counts();
        // in-flight publishes were finished and recorded, not abandoned
        expect(counts.publishing ?? 0).toBe(0);
        expect(counts.published ?? 0).toBe(0); // and read back
        expect(counts.verified ?? 0).toBeGreaterThan(0);
        expect(counts.verified ?? 0).toBeLessThan(seeded.total);
        expect(s.lastRun()?.outcome).toBe('interrupted');
        expect(s.lastRun()?.ended_at).not.toBeNull();
      });
      expect(existsSync(join(te.stateDir, 'test.lock.owner'))).toBe(false);
      // the drain let every publish it had started come back: none was cut off
      expect(npmPublishes(te).filter((e) => e.status >= 300)).toEqual([]);

      te.sandbox.standIn.setLatency(0);
      const rerun = await te.cli(['run', seeded.job, '--json']);
      expect(rerun.code, rerun.stderr).toBe(0);
      expectAllVerified(te, seeded.total);
      expectOneSuccessfulPublishEach(te, seeded);
      // not even a failed attempt twice: one publish request per version in all
      expect([...publishRequests(te.sandbox).values()].every((n) => n === 1)).toBe(true);
      await expectTargetEqualsSource(te, seeded);
    } finally {
      await te.stop();
    }
  });

  it('the first Ctrl-C while downloads are still queued also drains and exits 130', async () => {
    const te = await startTestEnv();
    try {
      const seeded = await seed(te, 8);
      // one download at a time: when Ctrl-C comes, most downloads are still waiting in the queue
      const job = te.writeJob({ privateNpm: { scopes: ['@acme'], packages: ['plain-utils'] }, github: { packages: ['@acme-gh/feature-flags'] }, limits: { fetchConcurrency: 1 } });
      te.sandbox.standIn.setLatency(50);
      const c = watch(te.spawnCli(['run', job, '--json']));
      await waitFor('the plan', () => /versions to work on/.test(c.stderr()), c);
      c.proc.kill('SIGINT');
      expect(await exitOf(c), c.stderr()).toBe(130);
      withState(te, (s) => {
        expect(s.counts().publishing ?? 0).toBe(0);
        // the downloads still queued were dropped, not waited for
        expect(s.counts().pending ?? 0).toBeGreaterThan(0);
        expect(s.lastRun()?.outcome).toBe('interrupted');
      });
      expect(existsSync(join(te.stateDir, 'test.lock.owner'))).toBe(false);

      const rerun = await te.cli(['run', job, '--json']);
      expect(rerun.code, rerun.stderr).toBe(0);
      expectAllVerified(te, seeded.total);
      expectOneSuccessfulPublishEach(te, seeded);
    } finally {
      await te.stop();
    }
  });

  it('the second Ctrl-C exits at once; the unanswered publish is settled by reading the target', async () => {
    const te = await startTestEnv();
    try {
      const seeded = await seed(te, 4);
      const standIn = te.sandbox.standIn;
      // Everything before the first publish answers at once; from the package's
      // listing on (the last call before its first publish, after the preflight,
      // the quotas and the hardening) every request takes 10 s. The log entry is
      // pushed before the reply is sent, so the publish that follows is already slow.
      const push = standIn.log.push.bind(standIn.log);
      standIn.log.push = (...entries) => {
        if (entries.some((e) => e.operation === 'ListPackageVersions')) standIn.setLatency(10_000);
        return push(...entries);
      };
      // the publish (an npm PUT: the first after the listing) read whole by the stand-in, seen where it takes requests
      let publishReceived = false;
      const server = (standIn as unknown as { server: Server }).server;
      const onRequest = (req: IncomingMessage) => {
        if (req.method === 'PUT') req.once('end', () => (publishReceived = true));
      };
      server.prependListener('request', onRequest);
      // one package at a time: exactly one publish can be in flight
      const c = watch(te.spawnCli(['run', seeded.job, '--json', '--concurrency', '1']));
      await waitFor('a publish in flight', () => existsSync(join(te.stateDir, 'test.sqlite')) && withState(te, (s) => (s.counts().publishing ?? 0) > 0), c);
      // the request leaves the moment the state is written: wait until the stand-in has read it
      // whole (a fixed 300 ms was too short when a loaded machine left the CLI no CPU meanwhile,
      // and the CLI stopped with the publish unsent, which never landed)
      await waitFor('the publish to reach the stand-in whole', () => publishReceived, c);
      c.proc.kill('SIGINT');
      await waitFor('the first Ctrl-C to be seen', () => /interrupted: finishing in-flight work/.test(c.stderr()), c);
      c.proc.kill('SIGINT');
      expect(await exitOf(c), c.stderr()).toBe(130);

      // it left without the answer: the publish has not been answered yet and the item says so
      expect(npmPublishes(te)).toEqual([]);
      const inFlight = withState(te, (s) => s.items("state = 'publishing'"));
      expect(inFlight).toHaveLength(1);
      const item = inFlight[0]!;
      const subject = `${item.package}@${item.version}`;

      // the orphaned request lands on the target after all
      await waitFor('the orphaned publish to land', () => npmPublishes(te).length > 0, undefined, 30_000);
      expect(npmPublishes(te).map((e) => [`${e.package}@${e.version}`, e.status])).toEqual([[subject, 200]]);

      standIn.setLatency(0);
      standIn.log.push = push;
      const rerun = await te.cli(['run', seeded.job, '--json']);
      expect(rerun.code, rerun.stderr).toBe(0);
      expectAllVerified(te, seeded.total);
      // the rerun found it on the target instead of publishing it again
      expect(publishRequests(te.sandbox).get(subject)).toBe(1);
      expectOneSuccessfulPublishEach(te, seeded);
      withState(te, (s) => {
        const events = s.events(item.id).filter((e) => e.from_state !== e.to_state);
        expect(events.map((e) => e.to_state)).toEqual(['pending', 'fetched', 'publishing', 'published', 'verified']);
        expect(events[3]!.detail).toMatch(/interrupted publish/);
        // the asset was recorded `uploading` before its request; the killed run never recorded the answer,
        // the rerun found it on the target (one attempt in all: settled by reading, not sent again)
        expect(s.events(item.id).filter((e) => e.from_state === e.to_state).map((e) => e.detail)).toEqual(['package.tgz: uploading (attempt 1)', 'package.tgz: found on the target with our bytes']);
      });
      await expectTargetEqualsSource(te, seeded);
    } finally {
      await te.stop();
    }
  });

  it('one run per job: a second run exits 2 with ELOCKED; a lock left by a dead process is taken over', async () => {
    const te = await startTestEnv();
    try {
      const seeded = await seed(te, 4);
      const lock = join(te.stateDir, 'test.lock.owner');
      te.sandbox.standIn.setLatency(100);
      const first = watch(te.spawnCli(['run', seeded.job, '--json']));
      await waitFor('the first run to hold the lock', () => /versions to work on/.test(first.stderr()), first);
      expect(existsSync(lock)).toBe(true);
      // hold the first run still, so it is certainly in progress while the second starts
      first.proc.kill('SIGSTOP');
      let second: Awaited<ReturnType<TestEnv['cli']>>;
      try {
        second = await te.cli(['run', seeded.job, '--json']);
      } finally {
        first.proc.kill('SIGCONT');
      }
      expect(second.code).toBe(2);
      expect(second.stderr).toMatch(/ELOCKED/);
      expect((JSON.parse(second.stdout) as { error: { code: string } }).error.code).toBe('ELOCKED');
      expect(await exitOf(first), first.stderr()).toBe(0);
      expect(existsSync(lock)).toBe(false);
      expectAllVerified(te, seeded.total);
      // the refused run recorded no run of its own
      withState(te, (s) => expect((s.db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n).toBe(1));

      // Two runs started at the same moment on a state file that does not exist yet: one
      // creates the database and works, the other is refused, not crashed by the half-made file.
      // (The target stays slow: taking the lock waits out a contender's momentary step, up to
      // 250 ms, and a run that finished within that would let the other run after it, not beside it.)
      const twin = te.writeJob({ name: 'twin', privateNpm: { scopes: ['@acme'], packages: ['plain-utils'] }, github: { packages: ['@acme-gh/feature-flags'] } });
      const pair = await Promise.all([te.cli(['run', twin, '--json']), te.cli(['run', twin, '--json'])]);
      te.sandbox.standIn.setLatency(0);
      const codes = pair.map((r) => r.code).sort();
      expect(codes, pair.map((r) => r.stderr).join('\n---\n')).toEqual([0, 2]);
      expect(pair.find((r) => r.code === 2)!.stderr).toMatch(/ELOCKED/);
      // the same versions, already on the target with the same bytes
      withState(te, (s) => expect(s.counts()).toEqual({ 'present-identical': seeded.total }), 'twin');

      // a pid lock file of the previous release whose pid is gone (the finished first run's) is stale
      const legacy = join(te.stateDir, 'test.lock');
      writeFileSync(legacy, String(first.proc.pid));
      const log = te.sandbox.standIn.log.length;
      const third = await te.cli(['run', seeded.job, '--json']);
      expect(third.code, third.stderr).toBe(0);
      expect(existsSync(legacy)).toBe(false);
      expect(existsSync(lock)).toBe(false);
      expect(te.sandbox.standIn.log.length).toBe(log);
      withState(te, (s) => expect(s.lastRun()?.outcome).toBe('complete'));
    } finally {
      await te.stop();
    }
  });
});
