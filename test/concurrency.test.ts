/**
 * Two copies of one job at once, as real processes (the CLI through tsx) against the
 * sandbox, the stand-in slowed down so that they overlap: the mistake a platform
 * engineer makes sooner or later (a second terminal, CI beside a run by hand, another
 * --state-dir). Commands that write (run, warm, harden, plan, rewrite-lockfiles --write)
 * never work beside each other: one is refused with ELOCKED naming the holder. Commands
 * that only read the state (status, report, ledger export) work beside a run, see what
 * it has committed, and never make it fail.
 *
 * Already covered elsewhere: run+run on one state directory (resume.test.ts), harden and
 * rewrite-lockfiles --write against a lock held in-process (harden-shared-domain.test.ts,
 * rewrite-formats.test.ts), the lock itself across processes (unit/lock.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { publishWithDeps } from './fixtures/warm/project.js';
import { historyOf, seedPackages } from './support/npm-fixtures.js';
import { publishRequests, startTestEnv, type TestEnv } from './support/harness.js';
import { StateDb } from '../src/state/db.js';
import { exitOf, watch, type Child } from './support/child.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => boolean, guardMs = 45_000): Promise<void> {
  const until = Date.now() + guardMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await sleep(3);
  }
}

function ownerPid(stateDir: string, job: string): number | undefined {
  try {
    return (JSON.parse(readFileSync(join(stateDir, `${job}.lock.owner`), 'utf8')) as { pid: number }).pid;
  } catch {
    return undefined;
  }
}

function errorOf(c: Child): { code: string; message: string } {
  return (JSON.parse(c.stdout()) as { error: { code: string; message: string } }).error;
}

/** The pids named by the per-target job locks' owner files (the first lock a command takes: whoever names itself there is refused by no other copy). */
function targetLockHolders(te: TestEnv): number[] {
  const dir = te.env.CAM_LOCK_DIR!;
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.lock.owner'))
    .map((f) => ownerPid(dir, f.slice(0, -'.lock.owner'.length)))
    .filter((p): p is number => p !== undefined);
}

/**
 * Start two commands at the same moment. Whichever takes the job's locks is frozen
 * (SIGSTOP) as soon as it names itself in the owner file of the second one, so the
 * other certainly tries while it holds them; then it goes on. Returns both, the holder first.
 */
async function race(te: TestEnv, a: string[], b: string[]): Promise<{ holder: Child; refused: Child; holderCode: number | string; refusedCode: number | string }> {
  const children = [watch(te.spawnCli(a)), watch(te.spawnCli(b))];
  try {
    let holder: Child | undefined;
    await waitFor('one of the two to hold the lock', () => {
      for (const pid of targetLockHolders(te)) holder ??= children.find((c) => c.proc.pid === pid);
      if (!holder && children.every((c) => c.done())) throw new Error(`both exited without either holding the lock:\n${children.map((c) => c.stderr()).join('\n---\n')}`);
      return holder !== undefined;
    });
    holder!.proc.kill('SIGSTOP');
    const refused = children.find((c) => c !== holder)!;
    let refusedCode: number | string;
    try {
      refusedCode = await exitOf(refused);
    } finally {
      holder!.proc.kill('SIGCONT');
    }
    return { holder: holder!, refused, holderCode: await exitOf(holder!), refusedCode };
  } finally {
    for (const c of children) if (!c.done()) c.proc.kill('SIGKILL');
  }
}

/** The loser of a race: exit 2, ELOCKED, naming the holder's pid; it wrote no run of its own. */
function expectRefused(r: Awaited<ReturnType<typeof race>>): void {
  expect(r.refusedCode, r.refused.stderr()).toBe(2);
  const error = errorOf(r.refused);
  expect(error.code).toBe('ELOCKED');
  expect(error.message).toContain(`pid ${r.holder.proc.pid}`);
  // and what it is doing: a warm or a plan is not "another run"
  const command = r.holder.proc.spawnargs.find((a) => ['run', 'plan', 'warm', 'harden', 'rewrite-lockfiles'].includes(a));
  expect(error.message).toContain(`a \`${command}\` of this job is in progress`);
}

function withState<T>(dir: string, fn: (s: StateDb) => T, job = 'test'): T {
  const s = StateDb.open(join(dir, `${job}.sqlite`));
  try {
    return fn(s);
  } finally {
    s.close();
  }
}

const runsIn = (dir: string) => withState(dir, (s) => s.db.prepare('SELECT dry_run, outcome FROM runs ORDER BY id').all() as { dry_run: number; outcome: string | null }[]);

/** Two private packages of `n` versions each; the job migrates them (no GitHub source). */
async function seed(te: TestEnv, n: number): Promise<{ job: string; versions: string[] }> {
  const pkgs = [
    { name: '@acme/widgets', versions: historyOf(n) },
    { name: 'plain-utils', versions: historyOf(n) },
  ];
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, pkgs);
  const job = te.writeJob({ privateNpm: { scopes: ['@acme'], packages: ['plain-utils'] }, github: false });
  return { job, versions: pkgs.flatMap((p) => p.versions.map((v) => `${p.name}@${v}`)).sort() };
}

/** Exactly one publish request per version, and the target answered it 2xx. */
function expectPublishedOnceEach(te: TestEnv, versions: string[]): void {
  const all = publishRequests(te.sandbox);
  expect([...all.keys()].sort()).toEqual(versions);
  expect([...all.values()].every((n) => n === 1), JSON.stringify([...all])).toBe(true);
  expect([...publishRequests(te.sandbox, { succeededOnly: true }).keys()].sort()).toEqual(versions);
}

describe('two copies of one job at once', () => {
  it('run + run from two state directories: the second is ELOCKED naming the first and its state directory; every version is published once', async () => {
    const te = await startTestEnv();
    try {
      const { job, versions } = await seed(te, 6);
      te.sandbox.standIn.setLatency(40);
      const other = join(te.dir, 'other-state');
      const r = await race(te, ['run', job, '--json'], ['--state-dir', other, 'run', job, '--json']);
      expect(r.holderCode, r.holder.stderr()).toBe(0);
      expectRefused(r);
      // it names where the other copy keeps its state, and says to run the job from one place
      const holderDir = r.holder.proc.spawnargs.includes(other) ? other : te.stateDir;
      expect(errorOf(r.refused).message).toContain(holderDir);
      expectPublishedOnceEach(te, versions);
      withState(holderDir, (s) => expect(s.counts()).toEqual({ verified: versions.length }));
      // the refused copy recorded no run (its state directory may not even hold a database)
      const refusedDir = holderDir === other ? te.stateDir : other;
      // nor any folder: a mistyped --state-dir (another working directory) is not left holding an empty state folder and a lock file
      expect(existsSync(refusedDir), refusedDir).toBe(false);

      // Another machine (or user) is not detected: its own lock folder. Once the first
      // is done, the second finds every version on the target: present-identical, no
      // conflict, nothing sent again.
      te.sandbox.standIn.setLatency(0);
      const before = te.sandbox.standIn.log.length;
      const elsewhere = await te.cli(['--state-dir', refusedDir, 'run', job, '--json'], { CAM_LOCK_DIR: join(te.dir, 'locks-elsewhere') });
      expect(elsewhere.code, elsewhere.stderr).toBe(0);
      withState(refusedDir, (s) => expect(s.counts()).toEqual({ 'present-identical': versions.length }));
      expect(te.sandbox.standIn.log.slice(before).filter((e) => e.method === 'PUT' || e.operation === 'PublishPackageVersion')).toEqual([]);
      expectPublishedOnceEach(te, versions);
    } finally {
      await te.stop();
    }
  });

  it('the same job later from another folder that holds no state (another working directory, a mistyped --state-dir): refused naming the folder that does, nothing made; status and report there point at it', async () => {
    const te = await startTestEnv();
    try {
      const { job, versions } = await seed(te, 2);
      expect((await te.cli(['run', job, '--json'])).code).toBe(0);
      const stray = join(te.dir, 'stray', 'state');
      const before = te.sandbox.standIn.log.length;
      for (const command of [['run', job], ['plan', job, '--no-target'], ['warm', job]]) {
        const r = await te.cli(['--state-dir', stray, ...command, '--json']);
        expect(r.code, `${command[0]}: ${r.stderr}`).toBe(2);
        const error = (JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } }).error;
        expect(error).toEqual({ code: 'ESTATE', message: expect.stringContaining(`last ran on this machine from the state directory ${te.stateDir}`), hint: expect.stringContaining(`--state-dir ${te.stateDir}`) });
      }
      expect(existsSync(join(te.dir, 'stray'))).toBe(false);
      expect(te.sandbox.standIn.log.length).toBe(before);
      for (const command of [['status', job, '--json'], ['report', job, '--json'], ['ledger', 'export', job]]) {
        const r = await te.cli(['--state-dir', stray, ...command]);
        expect(r.code, command[0]).toBe(2);
        expect((JSON.parse(r.stdout) as { error: { hint: string } }).error.hint, command[0]).toBe(`pass --state-dir ${te.stateDir} (or set CAM_STATE_DIR)`);
      }
      // the folder it ran from goes on as before
      expect((await te.cli(['run', job, '--json'])).code).toBe(0);
      // moved aside on purpose, the old state no longer holds the job: a fresh state starts, and finds every version on the target
      renameSync(te.stateDir, `${te.stateDir}.old`);
      const fresh = await te.cli(['--state-dir', stray, 'run', job, '--json']);
      expect(fresh.code, fresh.stderr).toBe(0);
      withState(stray, (s) => expect(s.counts()).toEqual({ 'present-identical': versions.length }));
      expectPublishedOnceEach(te, versions);
    } finally {
      await te.stop();
    }
  });

  it('a state directory whose path has spaces, quotes, a $ and non-ASCII characters: run, status, report, export and verify work there; the hint naming it from another folder is one shell word', async () => {
    const te = await startTestEnv();
    try {
      const { job, versions } = await seed(te, 2);
      const odd = join(te.dir, 'my state', `café ☕ "q" it's $HOME`);
      const first = await te.cli(['--state-dir', odd, 'run', job, '--json']);
      expect(first.code, first.stderr).toBe(0);
      withState(odd, (s) => expect(s.counts()).toEqual({ verified: versions.length }));
      const out = join(te.dir, 'export ☕.jsonl');
      for (const command of [['status', job, '--json'], ['report', job, '--json'], ['ledger', 'export', job, '--out', out]]) {
        const r = await te.cli(['--state-dir', odd, ...command]);
        expect(r.code, `${command[0]}: ${r.stderr}`).toBe(0);
      }
      const verified = await te.cli(['--state-dir', odd, 'ledger', 'verify', out, '--job', job, '--json']);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      const ledgerLines = readFileSync(out, 'utf8').trim().split('\n').length - 1;
      expect((JSON.parse(verified.stdout) as { state: { compared: boolean; entries: number } }).state).toEqual(expect.objectContaining({ compared: true, entries: ledgerLines, heldBefore: 0, addedSince: 0 }));

      // from the default folder: refused, and what the hint says to pass is, pasted into a shell, that one folder
      const shell = (words: string) => execFileSync('bash', ['-c', `eval "set -- $1" && printf '%s\\0' "$@"`, 'bash', words], { encoding: 'utf8' }).split('\0').slice(0, -1);
      for (const command of [['run', job, '--json'], ['status', job, '--json']]) {
        const r = await te.cli(command);
        expect(r.code, r.stderr).toBe(2);
        const error = (JSON.parse(r.stdout) as { error: { code: string; hint: string } }).error;
        expect(error.code).toBe('ESTATE');
        const passed = /--state-dir (.*) \(or set CAM_STATE_DIR\)/.exec(error.hint)?.[1];
        expect(passed, error.hint).toBeDefined();
        expect(shell(`--state-dir ${passed}`), error.hint).toEqual(['--state-dir', odd]);
      }
      expect(existsSync(join(te.stateDir, 'test.sqlite'))).toBe(false);
      expectPublishedOnceEach(te, versions);
    } finally {
      await te.stop();
    }
  });

  it('a first try from a mistyped --state-dir that stopped after listing (AWS refused its credentials) holds no migration: the folder meant is not refused for it, and holds the migration from then on', async () => {
    const te = await startTestEnv();
    try {
      const { job, versions } = await seed(te, 1);
      const typo = join(te.dir, 'sate');
      te.sandbox.standIn.addFault({ status: 403, errorType: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' });
      const failed = await te.cli(['--state-dir', typo, 'run', job, '--json']);
      te.sandbox.standIn.clearFaults();
      expect(failed.code, failed.stderr).toBe(2);
      expect((JSON.parse(failed.stdout) as { error: { code: string } }).error.code).toBe('ETARGETCREDENTIALS');
      // it made its state there, and it holds the listing and nothing more
      withState(typo, (s) => expect(s.counts()).toEqual({ pending: versions.length }));
      const meant = await te.cli(['run', job, '--json']);
      expect(meant.code, meant.stderr).toBe(0);
      expectPublishedOnceEach(te, versions);
      // from then on, the folder meant is the one that holds the migration: another is refused, naming it
      const again = await te.cli(['--state-dir', join(te.dir, 'other'), 'run', job, '--json']);
      expect(again.code).toBe(2);
      expect((JSON.parse(again.stdout) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'ESTATE', message: expect.stringContaining(`from the state directory ${te.stateDir}`) });
    } finally {
      await te.stop();
    }
  });

  it('the record of where the job ran outlives a reboot: the runtime folder emptied, a run from a folder without state is still refused', async () => {
    const te = await startTestEnv();
    try {
      const { job } = await seed(te, 1);
      // no CAM_LOCK_DIR: the locks and the record in $XDG_STATE_HOME; $XDG_RUNTIME_DIR (a reboot or a logout empties it) holds nothing of ours
      const env = { CAM_LOCK_DIR: '', XDG_RUNTIME_DIR: join(te.dir, 'run-user'), XDG_STATE_HOME: join(te.dir, 'xdg-state') };
      mkdirSync(env.XDG_RUNTIME_DIR);
      expect((await te.cli(['run', job, '--json'], env)).code).toBe(0);
      expect(readdirSync(join(env.XDG_STATE_HOME, 'codeartifact-migrate')).filter((f) => f.endsWith('.statedir'))).toHaveLength(1);
      rmSync(env.XDG_RUNTIME_DIR, { recursive: true });
      mkdirSync(env.XDG_RUNTIME_DIR);
      const stray = join(te.dir, 'after-reboot', 'state');
      const r = await te.cli(['--state-dir', stray, 'run', job, '--json'], env);
      expect(r.code, r.stderr).toBe(2);
      expect((JSON.parse(r.stdout) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'ESTATE', message: expect.stringContaining(`from the state directory ${te.stateDir}`) });
      expect(existsSync(join(te.dir, 'after-reboot'))).toBe(false);
      // the folder it ran from goes on after the reboot as before
      expect((await te.cli(['run', job, '--json'], env)).code).toBe(0);
    } finally {
      await te.stop();
    }
  });

  it('a run from a login shell and one from cron (no $XDG_RUNTIME_DIR, as cron, sudo and ssh without a session give none) from two new state directories: the second is ELOCKED; every version is published once', async () => {
    const te = await startTestEnv();
    try {
      const { job, versions } = await seed(te, 4);
      // no CAM_LOCK_DIR: where the per-target lock goes by default; the same user, home and temp folder for both
      const common = { CAM_LOCK_DIR: '', XDG_STATE_HOME: join(te.dir, 'xdg-state'), TMPDIR: join(te.dir, 'tmp') };
      const shell = { ...common, XDG_RUNTIME_DIR: join(te.dir, 'run-user') };
      const cron = { ...common, XDG_RUNTIME_DIR: '' };
      mkdirSync(shell.XDG_RUNTIME_DIR);
      mkdirSync(common.TMPDIR);
      // held by its first request (to CodeArtifact or STS) that never gets an answer: both its locks
      // held, its state opened, nothing of the job past its listing, so no record of where it ran refuses the second
      const since = te.sandbox.standIn.log.length;
      te.sandbox.standIn.addFault({ status: 0, hang: true, times: 1 });
      const first = watch(te.spawnCli(['run', job, '--json'], shell));
      try {
        await waitFor('the first run to send its first request', () => first.done() || te.sandbox.standIn.log.length > since);
        expect(first.done(), first.stderr()).toBe(false);
        const second = await te.cli(['--state-dir', join(te.dir, 'cron-state'), 'run', job, '--json'], cron);
        expect(second.code, second.stderr).toBe(2);
        expect((JSON.parse(second.stdout) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'ELOCKED', message: expect.stringContaining(`pid ${first.proc.pid}`) });
        expect(publishRequests(te.sandbox).size).toBe(0);
      } finally {
        first.proc.kill('SIGKILL');
        await first.exited;
      }
      // the shell's run, rerun, is the one migration of the job
      const rerun = await te.cli(['run', job, '--json'], shell);
      expect(rerun.code, rerun.stderr).toBe(0);
      expectPublishedOnceEach(te, versions);
    } finally {
      await te.stop();
    }
  });

  it('a run killed with SIGKILL holding the lock, then two runs at once: exactly one takes the lock and finishes the job; nothing is published twice', async () => {
    const te = await startTestEnv();
    try {
      const { job, versions } = await seed(te, 6);
      te.sandbox.standIn.setLatency(40);
      const first = watch(te.spawnCli(['run', job, '--json']));
      await waitFor('the first run to publish', () => publishRequests(te.sandbox, { succeededOnly: true }).size >= 2 || first.done());
      expect(first.done()).toBe(false);
      first.proc.kill('SIGKILL');
      expect(await first.exited).toBe('SIGKILL');
      // its owner file is left behind, naming a dead process: information, not the lock
      expect(ownerPid(te.stateDir, 'test')).toBe(first.proc.pid);

      const r = await race(te, ['run', job, '--json'], ['run', job, '--json']);
      expect(r.holderCode, r.holder.stderr()).toBe(0);
      expectRefused(r);
      withState(te.stateDir, (s) => {
        expect(s.counts()).toEqual({ verified: versions.length });
        // the killed run, and the one that finished it: the refused one recorded nothing
        expect(s.db.prepare('SELECT outcome FROM runs ORDER BY id').all()).toEqual([{ outcome: null }, { outcome: 'complete' }]);
      });
      expectPublishedOnceEach(te, versions);
      expect(existsSync(join(te.stateDir, 'test.lock.owner'))).toBe(false);
    } finally {
      await te.stop();
    }
  });

  it('run + plan, plan + plan, run + harden: one is refused with ELOCKED; a plan keeps the lock until its report is written', async () => {
    const te = await startTestEnv();
    try {
      const { job, versions } = await seed(te, 4);
      te.sandbox.standIn.setLatency(40);

      // a plan's exit is its verdict (1: NO-GO, the sandbox has no origin controls yet), never 2
      const plans = await race(te, ['plan', job, '--json'], ['plan', job, '--json']);
      expect([0, 1], plans.holder.stderr()).toContain(plans.holderCode);
      expectRefused(plans);
      expect(publishRequests(te.sandbox).size).toBe(0);

      // A run started while a plan audits the target (its dry run done) waits for nothing and
      // is refused: the plan's report reads the rows, which a run would be moving under it.
      const since = te.sandbox.standIn.log.length;
      const plan = watch(te.spawnCli(['plan', job, '--json']));
      await waitFor('the plan to audit the target', () => te.sandbox.standIn.log.slice(since).some((e) => e.operation === 'DescribeRepository') || plan.done());
      expect(plan.done(), plan.stderr()).toBe(false);
      plan.proc.kill('SIGSTOP');
      let during: Awaited<ReturnType<TestEnv['cli']>>;
      try {
        during = await te.cli(['run', job, '--json']);
      } finally {
        plan.proc.kill('SIGCONT');
      }
      expect([0, 1], plan.stderr()).toContain(await exitOf(plan));
      expect(during.code, during.stderr).toBe(2);
      expect((JSON.parse(during.stdout) as { error: { code: string } }).error.code).toBe('ELOCKED');
      // the plan's report is a plan: nothing of it migrated
      const report = JSON.parse(plan.stdout()) as { kind: string; totals: { byOutcome: Record<string, unknown> } };
      expect(report.kind).toBe('plan');
      expect(Object.keys(report.totals.byOutcome)).not.toContain('verified');
      expect(publishRequests(te.sandbox).size).toBe(0);

      const runPlan = await race(te, ['run', job, '--json'], ['plan', job, '--json']);
      expectRefused(runPlan);
      expect([0, 1], runPlan.holder.stderr()).toContain(runPlan.holderCode);

      const hardenRun = await race(te, ['run', job, '--json'], ['harden', job, '--json']);
      expectRefused(hardenRun);
      expect(hardenRun.holderCode, hardenRun.holder.stderr()).toBe(0);
      // whatever order they came in, a run that got the lock published each version once
      if (runPlan.holder.proc.spawnargs.includes('run') || hardenRun.holder.proc.spawnargs.includes('run')) expectPublishedOnceEach(te, versions);
    } finally {
      await te.stop();
    }
  });
  it('status, report and ledger export beside a running run: each sees what it committed, the export verifies, the run is not disturbed', async () => {
    const te = await startTestEnv();
    try {
      const { job, versions } = await seed(te, 8);
      te.sandbox.standIn.setLatency(40);
      const run = watch(te.spawnCli(['run', job, '--json']));
      await waitFor('the run to verify some versions (ledger entries)', () => run.done() || (existsSync(join(te.stateDir, 'test.sqlite')) && withState(te.stateDir, (s) => (s.counts().verified ?? 0) >= 3)));
      expect(run.done(), run.stderr()).toBe(false);
      // frozen mid-work (perhaps inside a write transaction), so that the three certainly read
      // beside it: starting a node process each takes longer than the rest of the run
      run.proc.kill('SIGSTOP');
      const mid = join(te.dir, 'mid.jsonl');
      let status: Awaited<ReturnType<TestEnv['cli']>>, report: typeof status, exported: typeof status;
      try {
        [status, report, exported] = await Promise.all([te.cli(['status', job, '--json']), te.cli(['report', job, '--json']), te.cli(['ledger', 'export', job, '--out', mid])]);
      } finally {
        run.proc.kill('SIGCONT');
      }
      // none of them waited for the run or was refused
      expect(status.code, status.stderr).toBe(0);
      const st = JSON.parse(status.stdout) as { total: number; states: Record<string, number>; lastRun: { endedAt: string | null } };
      expect(st.total).toBe(versions.length);
      expect(Object.values(st.states).reduce((a, b) => a + b, 0)).toBe(st.total);
      expect(st.states.verified).toBeGreaterThan(0);
      expect(st.lastRun.endedAt).toBeNull();
      expect(report.code, report.stderr).not.toBe(2);
      expect((JSON.parse(report.stdout) as { kind: string }).kind).toBe('run');
      expect(exported.code, exported.stderr).toBe(0);
      const verified = await te.cli(['ledger', 'verify', mid, '--json']);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);

      expect(await exitOf(run), run.stderr()).toBe(0);
      withState(te.stateDir, (s) => expect(s.counts()).toEqual({ verified: versions.length }));
      expectPublishedOnceEach(te, versions);
      // what was exported mid-run is the start of the whole ledger, hash for hash
      const whole = join(te.dir, 'whole.jsonl');
      expect((await te.cli(['ledger', 'export', job, '--out', whole])).code).toBe(0);
      const entries = (f: string) => readFileSync(f, 'utf8').trim().split('\n').slice(0, -1);
      const before = entries(mid);
      expect(before.length).toBeGreaterThan(0);
      expect(entries(whole).slice(0, before.length)).toEqual(before);
      expect(entries(whole).length).toBeGreaterThan(before.length);
    } finally {
      await te.stop();
    }
  });

  it('run --retarget (the job file edited to another domain or repository) beside a run of the old target from the same state directory: ELOCKED naming the run; the state still records the old target and nothing was moved', async () => {
    const te = await startTestEnv();
    try {
      const { job } = await seed(te, 2);
      expect((await te.cli(['run', job, '--json'])).code).toBe(0);
      // frozen once it holds both its locks (it names itself in the state directory's after the per-target one)
      const first = watch(te.spawnCli(['run', job, '--json']));
      try {
        await waitFor('the run to hold the job', () => first.done() || ownerPid(te.stateDir, 'test') === first.proc.pid);
        first.proc.kill('SIGSTOP');
        expect(first.done(), first.stderr()).toBe(false);
        // another domain: another per-target lock, the same state directory's; another repository: the same per-target lock
        for (const what of ['domain', 'repository']) {
          const doc = parse(readFileSync(job, 'utf8')) as { target: { domain: string; repositories: { npm: { internal: string } } } };
          if (what === 'domain') doc.target.domain = 'acme-prod';
          else doc.target.repositories.npm.internal = 'npm-prod';
          writeFileSync(join(te.dir, `moved-${what}.yaml`), stringify(doc));
          const moved = join(te.dir, `moved-${what}.yaml`);
          for (const command of [['run', moved, '--retarget'], ['plan', moved, '--retarget'], ['warm', moved, '--retarget']]) {
            const r = await te.cli([...command, '--json']);
            expect(r.code, `${what} ${command[0]}: ${r.stderr}`).toBe(2);
            expect((JSON.parse(r.stdout) as { error: { code: string; message: string } }).error, `${what} ${command[0]}`).toMatchObject({ code: 'ELOCKED', message: expect.stringContaining(`a \`run\` of this job is in progress (pid ${first.proc.pid}`) });
          }
        }
      } finally {
        first.proc.kill('SIGKILL');
        await first.exited;
      }
      withState(te.stateDir, (s) => {
        expect(s.recordedTarget()).toMatchObject({ domain: 'acme', repositories: { npm: 'npm-internal' } });
        expect((s.db.prepare("SELECT count(*) AS n FROM ledger WHERE json_extract(entry, '$.outcome') = 'retarget'").get() as { n: number }).n).toBe(0);
      });
      // the per-target lock of the other domain, taken on the way by the refused copies, is free: no ELOCKED
      // there (the stand-in has no such domain: ETARGETSETUP, asked only once the locks are held)
      const other = await te.cli(['run', join(te.dir, 'moved-domain.yaml'), '--retarget', '--json']);
      expect(other.code, other.stderr).toBe(2);
      expect((JSON.parse(other.stdout) as { error: { code: string } }).error.code).toBe('ETARGETSETUP');
      const again = await te.cli(['run', job, '--json']);
      expect(again.code, again.stderr).toBe(0);
    } finally {
      await te.stop();
    }
  });

  it('status while a harden holds the job after a run was killed -9: the run is "did not finish", not "running now" under the harden\'s pid; the harden is named as what runs now', async () => {
    const te = await startTestEnv();
    try {
      const { job } = await seed(te, 2);
      // a run held by its first request that never gets an answer, its run row written, then killed -9
      te.sandbox.standIn.addFault({ status: 0, hang: true, times: 1 });
      const killed = watch(te.spawnCli(['run', job, '--json']));
      await waitFor('the run to record its start', () => killed.done() || (existsSync(join(te.stateDir, 'test.sqlite')) && runsIn(te.stateDir).length === 1 && ownerPid(te.stateDir, 'test') === killed.proc.pid));
      expect(killed.done(), killed.stderr()).toBe(false);
      killed.proc.kill('SIGKILL');
      await killed.exited;
      expect(runsIn(te.stateDir)).toEqual([{ dry_run: 0, outcome: null }]);

      // a harden (which records no run) takes the job, held by its first request likewise
      const since = te.sandbox.standIn.log.length;
      te.sandbox.standIn.addFault({ status: 0, hang: true, times: 1 });
      const harden = watch(te.spawnCli(['harden', job, '--json']));
      try {
        await waitFor('the harden to hold the job and ask the target', () => harden.done() || (ownerPid(te.stateDir, 'test') === harden.proc.pid && te.sandbox.standIn.log.length > since));
        expect(harden.done(), harden.stderr()).toBe(false);
        const status = await te.cli(['status', job, '--json']);
        expect(status.code, status.stderr).toBe(0);
        const report = JSON.parse(status.stdout) as { lastRun: { outcome: string | null; running?: unknown }; inProgress?: { pid: number; command?: string } };
        expect(report.lastRun.outcome).toBeNull();
        expect(report.lastRun.running).toBeUndefined();
        expect(report.inProgress).toMatchObject({ pid: harden.proc.pid, command: 'harden' });
      } finally {
        harden.proc.kill('SIGKILL');
        await harden.exited;
      }
    } finally {
      await te.stop();
    }
  });

  it('report while a warm is under way: its entries not decided yet are said to be the running warm\'s (naming it), not "the warm stopped before it got to them: rerun the warm"', async () => {
    const te = await startTestEnv({ publicRegistries: true });
    try {
      const pub = te.sandbox.publicRegistries!;
      const { job } = await seed(te, 1);
      const { integrity } = await publishWithDeps(pub.npm, 'pub-a', '1.0.0');
      mkdirSync(join(te.dir, 'web'));
      writeFileSync(join(te.dir, 'web/package-lock.json'), `${JSON.stringify({ name: 'web', lockfileVersion: 3, requires: true, packages: { '': { name: 'web', dependencies: { 'pub-a': '1.0.0' } }, 'node_modules/pub-a': { version: '1.0.0', resolved: `${pub.npm.url}pub-a/-/pub-a-1.0.0.tgz`, integrity } } }, null, 2)}\n`);
      writeFileSync(job, stringify({ ...(parse(readFileSync(job, 'utf8')) as object), warm: { lockfiles: ['web/package-lock.json'] } }));
      expect((await te.cli(['harden', job, '--json'])).code).toBe(0);
      // every request for pub-a through the store goes unanswered: the warm has recorded the entry and waits on it
      te.sandbox.standIn.addFault({ package: 'pub-a', status: 0, hang: true });
      const warm = watch(te.spawnCli(['warm', job, '--json']));
      try {
        await waitFor('the warm to ask the store for pub-a', () => warm.done() || te.sandbox.standIn.log.some((e) => e.package === 'pub-a'));
        expect(warm.done(), warm.stderr()).toBe(false);
        const r = await te.cli(['report', job, '--json']);
        expect(r.code, r.stderr).not.toBe(2);
        const findings = (JSON.parse(r.stdout) as { findings: { code: string; title: string; action: string }[] }).findings.filter((f) => f.code === 'EWARMUNDECIDED');
        expect(findings).toEqual([expect.objectContaining({ title: expect.stringContaining(`a \`warm\` of this job is still running (pid ${warm.proc.pid}`), action: expect.stringContaining('wait for it to finish') })]);
      } finally {
        warm.proc.kill('SIGKILL');
        await warm.exited;
      }
      // killed, it is what the finding said before: stopped, rerun it
      const after = await te.cli(['report', job, '--json']);
      const findings = (JSON.parse(after.stdout) as { findings: { code: string; title: string; action: string }[] }).findings.filter((f) => f.code === 'EWARMUNDECIDED');
      expect(findings).toEqual([expect.objectContaining({ title: expect.stringContaining('the warm stopped before it got to them'), action: 'rerun the warm' })]);
    } finally {
      await te.stop();
    }
  });

  it('warm + warm, run + warm, warm + rewrite-lockfiles --write: one is refused with ELOCKED, the lockfile is left as it was', async () => {
    const te = await startTestEnv({ publicRegistries: true });
    try {
      const pub = te.sandbox.publicRegistries!;
      const { job } = await seed(te, 4);
      const { integrity } = await publishWithDeps(pub.npm, 'pub-a', '1.0.0');
      mkdirSync(join(te.dir, 'web'));
      const lockfile = join(te.dir, 'web/package-lock.json');
      const lockText = `${JSON.stringify({ name: 'web', lockfileVersion: 3, requires: true, packages: { '': { name: 'web', dependencies: { 'pub-a': '1.0.0' } }, 'node_modules/pub-a': { version: '1.0.0', resolved: `${pub.npm.url}pub-a/-/pub-a-1.0.0.tgz`, integrity } } }, null, 2)}\n`;
      writeFileSync(lockfile, lockText);
      writeFileSync(job, stringify({ ...(parse(readFileSync(job, 'utf8')) as object), warm: { lockfiles: ['web/package-lock.json'] } }));
      // warming needs the internal names protected first
      const hardened = await te.cli(['harden', job, '--json']);
      expect(hardened.code, hardened.stderr).toBe(0);
      te.sandbox.standIn.setLatency(40);

      const warms = await race(te, ['warm', job, '--json'], ['warm', job, '--json']);
      expect(warms.holderCode, warms.holder.stderr()).toBe(0);
      expectRefused(warms);

      const runWarm = await race(te, ['run', job, '--json'], ['warm', job, '--json']);
      expect(runWarm.holderCode, runWarm.holder.stderr()).toBe(0);
      expectRefused(runWarm);

      // rewrite --write is quick: it is started while a warm holds the lock
      const warm = watch(te.spawnCli(['warm', job, '--json']));
      await waitFor('the warm to hold the lock', () => ownerPid(te.stateDir, 'test') === warm.proc.pid || warm.done());
      warm.proc.kill('SIGSTOP');
      let rewrite: Awaited<ReturnType<TestEnv['cli']>>;
      try {
        rewrite = await te.cli(['rewrite-lockfiles', job, '--write', '--json']);
      } finally {
        warm.proc.kill('SIGCONT');
      }
      expect(await exitOf(warm), warm.stderr()).toBe(0);
      expect(rewrite.code, rewrite.stderr).toBe(2);
      expect((JSON.parse(rewrite.stdout) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'ELOCKED', message: expect.stringContaining(`a \`warm\` of this job is in progress (pid ${warm.proc.pid}`) });
      expect(readFileSync(lockfile, 'utf8')).toBe(lockText);
      // a warm's refused twin recorded no warm of its own: one warm run per warm that held the lock
      withState(te.stateDir, (s) => expect((s.db.prepare('SELECT count(*) AS n FROM warm_runs').get() as { n: number }).n).toBe(1 + (runWarm.holder.proc.spawnargs.includes('warm') ? 1 : 0) + 1));
    } finally {
      await te.stop();
    }
  });
});
