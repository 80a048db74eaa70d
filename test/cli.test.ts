/**
 * The CLI as a person or a CI job uses it: the real process (`node src/cli/main.ts`)
 * against the sandbox. JSON summaries, plain progress lines on a non-terminal,
 * `status`, `--dry-run`, filters that change between runs, and secret hygiene:
 * no token or key ever reaches the state directory or the output.
 */
import { once } from 'node:events';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../src/engine/events.js';
import { statusCommand, type StatusReport } from '../src/cli/status.js';
import { humanSummary } from '../src/cli/run.js';
import { StateDb, type ItemRow } from '../src/state/db.js';
import { filesUnder, publishRequests, recordIssuedTokens, startTestEnv, targetWrites, type TestEnv } from './support/harness.js';
import { corruptStoredTarball, historyOf, seedPackages } from './support/npm-fixtures.js';

const CORE = historyOf(5);
const LEGACY = historyOf(3);
const FLAGS = historyOf(3);
const BROKEN = ['1.0.0', '1.0.1', '1.1.0'];
const BAD = '1.0.1';
const WIDGETS = historyOf(12, { prereleasesEvery: 3 });
const WIDGETS_LEGACY = ['1.0.0', '1.1.0'];
const OTHER = ['1.0.0', '2.0.0'];
/** A source token the registry refuses: a secret all the same. */
const WRONG_TOKEN = `not-the-token-${'f00dcafe'.repeat(4)}`;

let te: TestEnv;
/** Every stdout and stderr the CLI produced in this file, for the secret scan. */
const outputs: string[] = [];
/** Every CodeArtifact authorization token the stand-in issued. */
const issued: string[] = [];

type CliResult = { code: number | null; stdout: string; stderr: string };

async function cli(args: string[], extraEnv?: Record<string, string>): Promise<CliResult> {
  const r = await te.cli(args, extraEnv);
  outputs.push(r.stdout, r.stderr);
  return r;
}

function json<T>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\n--- stderr:\n${r.stderr}`);
  }
}

function rows(job: string, pkg?: string): ItemRow[] {
  const state = te.openState(job);
  try {
    return pkg === undefined ? state.items() : state.items('package = ?', pkg);
  } finally {
    state.close();
  }
}

/** Progress lines for items: `<outcome> <name>@<version>[ — message]`. */
function itemLines(stderr: string): { outcome: string; subject: string }[] {
  const out: { outcome: string; subject: string }[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^(published|present-identical|conflict|excluded|would-publish|failed:[A-Z]+) (\S+@[^@\s]+)(?: — .*)?$/.exec(line);
    if (m) out.push({ outcome: m[1]!, subject: m[2]! });
  }
  return out;
}

const subjects = (name: string, versions: string[]) => versions.map((v) => `${name}@${v}`);
const lastSeq = () => te.sandbox.standIn.log.at(-1)?.seq ?? 0;

beforeAll(async () => {
  te = await startTestEnv();
  recordIssuedTokens(te.sandbox, issued);
  const { privateNpm, github } = te.sandbox;
  await seedPackages(privateNpm.url, privateNpm.token, [
    { name: '@acme/core', versions: CORE },
    { name: 'left-pad-legacy', versions: LEGACY },
    { name: '@acme/broken', versions: BROKEN },
    { name: '@acme/widgets', versions: WIDGETS },
    { name: 'widgets-legacy', versions: WIDGETS_LEGACY },
    { name: 'other-thing', versions: OTHER },
    { name: 'piped-away', versions: historyOf(4) },
  ]);
  await seedPackages(github.url, github.token, [{ name: '@acme-gh/feature-flags', versions: FLAGS }]);
}, 120_000);

afterAll(async () => {
  await te?.stop();
});

describe('run, status and dry runs through the CLI', () => {
  let job: string;
  const ALL = [...subjects('@acme/core', CORE), ...subjects('left-pad-legacy', LEGACY), ...subjects('@acme-gh/feature-flags', FLAGS)];

  beforeAll(() => {
    job = te.writeJob({ name: 'main', privateNpm: { packages: ['@acme/core', 'left-pad-legacy'] }, github: { packages: ['@acme-gh/feature-flags'] } });
  });

  it('status on a job never run exits 2 and creates no state', async () => {
    const r = await cli(['status', job, '--json']);
    expect(r.code).toBe(2);
    expect(json<{ error: { code: string } }>(r).error.code).toBe('ESTATE');
    expect(r.stderr).toContain('main.sqlite');
    expect(r.stderr).not.toMatch(/^\s{4}at /m);
    expect(readdirSafe(te.stateDir)).toEqual([]);
  });

  it('--dry-run exits 0 with would-publish outcomes and sends the target no write', async () => {
    const since = lastSeq();
    const r = await cli(['run', job, '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = json<RunSummary>(r);
    expect(s.dryRun).toBe(true);
    expect(s.outcomes).toEqual({ 'would-publish': ALL.length });
    expect(s.exitCode).toBe(0);
    const after = te.sandbox.standIn.log.filter((e) => e.seq > since);
    expect(after.filter((e) => e.method === 'PUT' || e.method === 'DELETE')).toEqual([]);
    expect(targetWrites(te.sandbox, since)).toEqual([]);
    expect(itemLines(r.stderr).map((l) => l.outcome)).toEqual(ALL.map(() => 'would-publish'));
  });

  it('run --json prints the summary; progress goes to stderr as one plain line per item', async () => {
    const r = await cli(['run', job, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = json<RunSummary>(r);
    expect(s.outcomes).toEqual({ published: ALL.length });
    expect(s.states).toEqual({ verified: ALL.length });
    expect(s.exitCode).toBe(0);
    expect(s.dryRun).toBe(false);
    expect(s.selected).toBe(ALL.length);
    expect(s.complete).toBe(ALL.length);
    expect(typeof s.peakRssBytes).toBe('number');
    expect(s.peakRssBytes).toBeGreaterThan(0);
    // the live heap is part of what RSS counts
    expect(s.peakLiveHeapBytes).toBeGreaterThan(0);
    expect(s.peakLiveHeapBytes).toBeLessThan(s.peakRssBytes);

    const lines = itemLines(r.stderr);
    expect(lines.map((l) => l.subject).sort()).toEqual([...ALL].sort());
    expect(lines.every((l) => l.outcome === 'published')).toBe(true);
    // not a terminal: no progress bar, no cursor control
    expect(r.stderr).not.toContain('\u001b[');
    // nor the AWS SDK's eight lines about Node 22 (on Node 20; the lockfile pins versions that run there)
    expect(r.stderr).not.toContain('NodeVersionSupportWarning');
    expect(r.stdout).not.toContain('published @acme/core');

    const requests = publishRequests(te.sandbox);
    for (const subject of ALL) expect(requests.get(subject), subject).toBe(1);
  });

  it('without --json, stdout that is not a terminal still gets JSON', async () => {
    const r = await cli(['run', job]);
    expect(r.code, r.stderr).toBe(0);
    const s = json<RunSummary>(r);
    expect(s.outcomes).toEqual({});
    expect(s.states).toEqual({ verified: ALL.length });
  });

  it('status --json after a clean run: counts by state, no failures, exit 0', async () => {
    const r = await cli(['status', job, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = json<StatusReport>(r);
    expect(s.job).toBe('main');
    expect(s.total).toBe(ALL.length);
    expect(s.states.verified).toBe(ALL.length);
    expect(Object.entries(s.states).filter(([k, n]) => k !== 'verified' && n !== 0)).toEqual([]);
    expect(s.failures).toEqual([]);
    expect(s.lastRun?.outcome).toBe('complete');
    expect(s.lastRun?.dryRun).toBe(false);
    // what "verified" means here: in this domain's repositories
    const d = te.sandbox.descriptor.codeartifact;
    expect(s.target).toEqual({ region: d.region, domainOwner: d.domainOwner, domain: d.domain, repositories: { npm: 'npm-internal', pypi: 'pypi-internal', generic: 'go-internal' } });
  });
});

describe('output that goes away (`| head -1`, a closed descriptor)', () => {
  /** The CLI with the reader of `which` gone before it writes a byte (as `cam … | true`). */
  async function withReaderGone(args: string[], which: 'stdout' | 'stderr' | 'both'): Promise<CliResult> {
    const child = te.spawnCli(args);
    if (which !== 'stderr') child.stdout!.destroy();
    if (which !== 'stdout') child.stderr!.destroy();
    let stdout = '';
    let stderr = '';
    if (which === 'stderr') child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    if (which === 'stdout') child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    outputs.push(stdout, stderr);
    return { code, stdout, stderr };
  }
  const NOT_A_CRASH = /Unhandled 'error' event|^\s+at .+[(:]\d+/m;

  it('stderr gone: the progress lines are lost, the run is not; it finishes, and the summary on stdout is whole (exit 0)', async () => {
    const job = te.writeJob({ name: 'stderr-gone', privateNpm: { packages: ['piped-away'] }, github: false });
    const r = await withReaderGone(['run', job, '--json'], 'stderr');
    expect(r.code).toBe(0);
    expect(json<RunSummary>(r).states).toEqual({ verified: 4 });
    expect(rows('stderr-gone').map((x) => x.state)).toEqual(['verified', 'verified', 'verified', 'verified']);
  });

  it('stdout gone: the run still finishes its work, but exits 1 and says its output was cut', async () => {
    const job = te.writeJob({ name: 'stdout-gone', privateNpm: { packages: ['piped-away'] }, github: false });
    const r = await withReaderGone(['run', job, '--json'], 'stdout');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/stdout failed \(EPIPE\): what this command printed there is cut short/);
    expect(r.stderr).not.toMatch(NOT_A_CRASH);
    expect(rows('stdout-gone').map((x) => x.state)).toEqual(['present-identical', 'present-identical', 'present-identical', 'present-identical']);
  });

  it('both gone (stderr first, with the progress lines): the run finishes, and still exits 1 for its cut stdout', async () => {
    const job = te.writeJob({ name: 'both-gone', privateNpm: { packages: ['piped-away'] }, github: false });
    const r = await withReaderGone(['run', job, '--json'], 'both');
    expect(r.code).toBe(1);
    expect(rows('both-gone').map((x) => x.state)).toEqual(['present-identical', 'present-identical', 'present-identical', 'present-identical']);
  });

  it('ledger export into a pipe whose reader is gone: exit 1 naming the cut, no stack trace, no hang', async () => {
    const job = te.writeJob({ name: 'stdout-gone', privateNpm: { packages: ['piped-away'] }, github: false });
    const r = await withReaderGone(['ledger', 'export', job], 'stdout');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/stdout|cut short/);
    expect(r.stderr).not.toMatch(NOT_A_CRASH);
  });
});

describe('a failing version through the CLI', () => {
  let job: string;

  beforeAll(async () => {
    job = te.writeJob({ name: 'broken', privateNpm: { packages: ['@acme/broken'] }, github: false });
    await corruptStoredTarball(te.sandbox.privateNpm.storageDir, '@acme/broken', BAD);
  });

  it('run exits 1, the damaged version fails with EINTEGRITY and is never published', async () => {
    const r = await cli(['run', job, '--json']);
    expect(r.code).toBe(1);
    const s = json<RunSummary>(r);
    expect(s.exitCode).toBe(1);
    expect(s.failures.map((f) => [f.package, f.version, f.code])).toEqual([['@acme/broken', BAD, 'EINTEGRITY']]);
    expect(s.states).toEqual({ verified: BROKEN.length - 1, failed: 1 });
    expect(itemLines(r.stderr)).toContainEqual({ outcome: 'failed:EINTEGRITY', subject: `@acme/broken@${BAD}` });
    expect(r.stderr).not.toMatch(/^\s{4}at /m);
    expect(publishRequests(te.sandbox).has(`@acme/broken@${BAD}`)).toBe(false);
  });

  it('status --json lists the failure with its code and exits 1', async () => {
    const r = await cli(['status', job, '--json']);
    expect(r.code).toBe(1);
    const s = json<StatusReport>(r);
    expect(s.states.failed).toBe(1);
    expect(s.states.verified).toBe(BROKEN.length - 1);
    expect(s.failures).toHaveLength(1);
    expect(s.failures[0]).toMatchObject({ package: '@acme/broken', version: BAD, code: 'EINTEGRITY' });
    expect(s.failures[0]!.error).toContain(`@acme/broken@${BAD}`);
    expect(s.lastRun?.outcome).toBe('incomplete');
  });

  it("status on a terminal: an error of several lines (a build log's tail) continues under its entry, marked, and prints no line of its own", async () => {
    // a copy of this job's state with the failure's error as a hostile build could end it
    const stateDir = mkdtempSync(join(te.stateDir, '..', 'status-copy-'));
    const state = te.openState('broken');
    try {
      state.db.exec(`VACUUM INTO '${join(stateDir, 'broken.sqlite')}'`);
    } finally {
      state.close();
    }
    const copy = StateDb.open(join(stateDir, 'broken.sqlite'));
    const log = 'EBUILD: the build failed; its last lines:\n  FAILED @acme/core@9.9.9 after 1 attempt(s): not this one\n  verified           999\nlast run #99: complete\n';
    try {
      copy.db.prepare("UPDATE items SET last_error = ? WHERE state = 'failed'").run(log);
    } finally {
      copy.close();
    }
    let out = '';
    const stdout = Object.assign(new Writable({ write: (chunk, _enc, done) => void ((out += String(chunk)), done()) }), { isTTY: true });
    const code = statusCommand(job, { stateDir }, { stdout, stderr: new Writable({ write: (_c, _e, done) => done() }) });
    expect(code).toBe(1);
    const lines = out.trimEnd().split('\n');
    // one FAILED entry, the real one, and no count or run line from the log
    const failed = lines.filter((l) => l.startsWith('  FAILED '));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatch(/^ {2}FAILED @acme\/broken@1\.0\.1 after \d+ attempt\(s\): EBUILD: the build failed; its last lines:$/);
    expect(lines.filter((l) => /^\s*verified\s/.test(l))).toEqual([`  verified           ${BROKEN.length - 1}`]);
    expect(lines.filter((l) => l.startsWith('last run #'))).toHaveLength(1);
    // the log's lines are all there, each marked as the entry's continuation
    const at = lines.indexOf(failed[0]!);
    expect(lines.slice(at + 1, at + 4)).toEqual(['    |   FAILED @acme/core@9.9.9 after 1 attempt(s): not this one', '    |   verified           999', '    | last run #99: complete']);
  });

  it("the run's summary on a terminal: a detail or conflict message of several lines (a registry's words) continues under its entry, marked, and prints no line of its own", () => {
    const hostile = 'gone\n  FAILED @acme/core@9.9.9: not this one\r  Run finished: 99/99 selected versions are on the target';
    const s = {
      dryRun: false, interrupted: false, complete: 1, selected: 2, durationMs: 1000, outcomes: {}, failures: [],
      conflicts: [{ package: '@acme/x', version: '1.0.0', code: 'ETAGMOVED', message: hostile }],
      tagMoved: [], goSum: { files: 0, checked: 0, mismatches: [], errors: [] }, skipped: [], listErrors: [{ package: '@acme/y', source: 's', code: 'ESOURCE', message: hostile }],
      metadata: [], sourceChanged: [], removedAtSource: [{ package: '@acme/z', version: '1.0.0', state: 'removed', detail: hostile }],
      metadataOutOfSync: [], weakIntegrity: [],
    } as unknown as RunSummary;
    const lines = humanSummary(s).trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('  FAILED '))).toEqual([]);
    expect(lines.filter((l) => l.startsWith('Run finished'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('    | '))).toHaveLength(6);
    expect(lines.every((l) => !l.includes('\r'))).toBe(true);
  });

  it('a source token the registry refuses: the run exits 1 with ESOURCEAUTH and the token appears nowhere', async () => {
    const gh = te.writeJob({ name: 'badtoken', privateNpm: false, github: { packages: ['@acme-gh/feature-flags'] } });
    const r = await cli(['run', gh, '--json'], { CAM_DEMO_GITHUB_TOKEN: WRONG_TOKEN });
    expect(r.code).toBe(1);
    const s = json<RunSummary>(r);
    expect(s.listErrors.map((l) => [l.package, l.code])).toEqual([['@acme-gh/feature-flags', 'ESOURCEAUTH']]);
    expect(r.stdout + r.stderr).not.toContain(WRONG_TOKEN);
  });
});

describe('a target that cannot be used at all', () => {
  it('a repository the domain does not have: exit 2 with ETARGETSETUP before any version is touched', async () => {
    const job = te.writeJob({ name: 'norepo', privateNpm: { packages: ['@acme/core'] }, github: false });
    writeFileSync(job, readFileSync(job, 'utf8').replace('internal: npm-internal', 'internal: npm-internl'));
    const since = te.sandbox.standIn.log.length;
    const r = await cli(['run', job, '--json']);
    expect(r.code).toBe(2);
    expect(json<{ error: { code: string } }>(r).error.code).toBe('ETARGETSETUP');
    expect(r.stderr).toContain('npm-internl');
    expect(r.stderr).not.toMatch(/^\s{4}at /m);
    // nothing was attempted against the target, and no version was marked failed
    expect(te.sandbox.standIn.log.slice(since).filter((e) => e.operation.startsWith('npm:'))).toEqual([]);
    const state = te.openState('norepo');
    try {
      expect(state.counts()).toEqual({ pending: CORE.length });
    } finally {
      state.close();
    }
  });

  it('credentials the target refuses: exit 2 with ETARGETSETUP, and the secret appears nowhere', async () => {
    const job = te.writeJob({ name: 'badcreds', privateNpm: { packages: ['@acme/core'] }, github: false });
    const r = await cli(['run', job, '--json'], { AWS_ACCESS_KEY_ID: 'NOTTHESANDBOXKEY', AWS_SECRET_ACCESS_KEY: 'not-the-sandbox-secret' });
    expect(r.code).toBe(2);
    expect(json<{ error: { code: string } }>(r).error.code).toBe('ETARGETSETUP');
    expect(r.stdout + r.stderr).not.toContain('not-the-sandbox-secret');
  });
});

describe('a --state-dir that cannot be one', () => {
  it('a file in its place: every command that writes state exits 1 with ELOCAL naming it (as a disk that refuses), the file untouched, nothing asked of the target', async () => {
    const job = te.writeJob({ name: 'statefile', privateNpm: { packages: ['@acme/core'] } });
    const file = join(te.dir, 'not-a-folder');
    writeFileSync(file, 'notes the operator keeps\n');
    const before = te.sandbox.standIn.log.length;
    for (const args of [['run', job], ['plan', job, '--no-target'], ['harden', job], ['warm', job]]) {
      const r = await cli(['--state-dir', file, ...args, '--json']);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(1);
      expect(json<{ error: { code: string; message: string } }>(r).error).toEqual({ code: 'ELOCAL', message: expect.stringContaining(`state directory ${file}: a file is in the way (EEXIST)`), hint: expect.stringContaining('--state-dir') });
      expect(r.stderr).not.toMatch(/^\s{4}at /m);
    }
    expect(readFileSync(file, 'utf8')).toBe('notes the operator keeps\n');
    expect(te.sandbox.standIn.log.length).toBe(before);
  });

  it('a state this user may not read is said to be unreadable, not missing (status, report, ledger export)', async () => {
    const job = te.writeJob({ name: 'unreadable', privateNpm: { packages: ['left-pad-legacy'] }, github: false });
    expect((await cli(['run', job, '--json'])).code).toBe(0);
    // the job file where anyone may read it; the state stays in the test's own folder (0700, root's)
    const open = mkdtempSync(join(tmpdir(), 'cam-unreadable-'));
    chmodSync(open, 0o755);
    const readable = join(open, 'job.yaml');
    copyFileSync(job, readable);
    chmodSync(readable, 0o644);
    try {
      for (const args of [['status', readable, '--json'], ['report', readable, '--out', open, '--json'], ['ledger', 'export', readable]]) {
        // as nobody, from a folder it may use (tsx runs esbuild there): the state directory cannot even be looked into
        const { code, stdout, stderr } = await te.cli(args, { HOME: open }, { shell: `cd ${open} && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$0" "$@"` });
        expect(code, `${args[0]}: ${stdout} ${stderr}`).toBe(2);
        expect(stdout, stderr).not.toBe('');
        const error = (JSON.parse(stdout) as { error: { code: string; message: string } }).error;
        expect(error.code).toBe('ESTATE');
        expect(error.message, args[0]).toContain('cannot read the state database');
        expect(error.message).toContain('EACCES');
      }
    } finally {
      rmSync(open, { recursive: true, force: true });
    }
  });

  it('a state this user may read but not write (a read-only copy handed over for an audit): status, report and ledger export read it as it is, and leave it untouched', async () => {
    const job = te.writeJob({ name: 'readonly', privateNpm: { packages: ['left-pad-legacy'] }, github: false });
    expect((await cli(['run', job, '--json'])).code).toBe(0);
    const ownStatus = json<StatusReport>(await cli(['status', job, '--json']));
    const ownExport = await cli(['ledger', 'export', job]);
    expect(ownExport.code).toBe(0);
    // the state copied where nobody may read but not write it (SQLite cannot put its -wal and -shm beside it)
    const open = mkdtempSync(join(tmpdir(), 'cam-readonly-'));
    const stateDir = join(open, 'state');
    mkdirSync(stateDir);
    copyFileSync(join(te.stateDir, 'readonly.sqlite'), join(stateDir, 'readonly.sqlite'));
    const readable = join(open, 'job.yaml');
    copyFileSync(job, readable);
    const reports = join(open, 'reports');
    mkdirSync(reports);
    chmodSync(reports, 0o777);
    chmodSync(join(stateDir, 'readonly.sqlite'), 0o444);
    chmodSync(stateDir, 0o555);
    chmodSync(open, 0o755);
    const bytes = readFileSync(join(stateDir, 'readonly.sqlite'));
    const asNobody = (args: string[]) => te.cli(['--state-dir', stateDir, ...args], { HOME: open }, { shell: `cd ${open} && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$0" "$@"` });
    try {
      const status = await asNobody(['status', readable, '--json']);
      expect(status.code, status.stdout + status.stderr).toBe(0);
      const theirs = JSON.parse(status.stdout) as StatusReport;
      expect(theirs.states).toEqual(ownStatus.states);
      expect(theirs.total).toBeGreaterThan(0);
      expect(theirs.lastRun).toEqual(ownStatus.lastRun);
      const exported = await asNobody(['ledger', 'export', readable]);
      expect(exported.code, exported.stderr).toBe(0);
      // the same entries, chained to the same head (only the trailer's export time differs)
      const entries = (out: string) => out.split('\n').filter((l) => l && !l.startsWith('{"trailer"'));
      expect(entries(exported.stdout)).toEqual(entries(ownExport.stdout));
      expect(entries(exported.stdout).length).toBeGreaterThan(0);
      const report = await asNobody(['report', readable, '--out', reports, '--json']);
      expect(report.code, report.stderr).toBe(0);
      expect(readdirSync(reports).sort()).toEqual(expect.arrayContaining([expect.stringMatching(/\.json$/), expect.stringMatching(/\.md$/), expect.stringMatching(/\.html$/)]));
      // nothing was written beside it, nor to it
      expect(readdirSync(stateDir)).toEqual(['readonly.sqlite']);
      expect(readFileSync(join(stateDir, 'readonly.sqlite')).equals(bytes)).toBe(true);
      // a run that may take the lock beside it but not write the database is told to keep the file
      // (moving it away would lose what it records)
      chmodSync(stateDir, 0o777);
      const locks = join(open, 'locks');
      mkdirSync(locks);
      chmodSync(locks, 0o777);
      const child = te.spawnCli(['--state-dir', stateDir, 'run', readable, '--json'], { HOME: open, CAM_LOCK_DIR: locks }, { shell: `cd ${open} && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$0" "$@"` });
      let out = '';
      child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      expect((await once(child, 'close'))[0], out).toBe(2);
      const refused = (JSON.parse(out) as { error: { code: string; message: string; hint: string } }).error;
      expect(refused).toMatchObject({ code: 'ESTATE', hint: expect.stringContaining('Keep the file') });
      expect(refused.hint).not.toContain('move the file away');
      expect(readFileSync(join(stateDir, 'readonly.sqlite')).equals(bytes)).toBe(true);
    } finally {
      chmodSync(stateDir, 0o755);
      rmSync(open, { recursive: true, force: true });
    }
  });

  it('a full disk as the state database is made, upgraded or opened (here: a file-size limit): ELOCAL naming it (exit 1), never ESTATE telling to move the state away; with room again the run completes', async () => {
    const job = te.writeJob({ name: 'fulldisk', privateNpm: { packages: ['left-pad-legacy'] }, github: false });
    const database = join(te.stateDir, 'fulldisk.sqlite');
    // RLIMIT_FSIZE: a write past the limit fails with EFBIG (node ignores SIGXFSZ), as a full disk fails with ENOSPC.
    // 8 KiB: the new file's header fits, its shared-memory index does not; 60 KiB: the schema's migrations do not
    for (const kib of [8, 60]) {
      // this job's state only: the state directory is shared with the file's other tests
      for (const f of readdirSync(te.stateDir)) if (f.startsWith('fulldisk.')) rmSync(join(te.stateDir, f), { recursive: true, force: true });
      const since = lastSeq();
      const r = await te.cli(['run', job, '--json'], {}, { shell: `ulimit -f ${kib}` });
      outputs.push(r.stdout, r.stderr);
      expect(r.code, `${kib} KiB: ${r.stderr}`).toBe(1);
      const error = json<{ error: { code: string; message: string; hint: string } }>(r).error;
      expect(error.code, `${kib} KiB: ${error.message}`).toBe('ELOCAL');
      expect(error.message).toContain(database);
      expect(error.hint).not.toContain('move the file away');
      expect(r.stderr).not.toMatch(/^\s{4}at /m);
      // nothing was asked of the target, nothing published
      expect(te.sandbox.standIn.log.filter((e) => e.seq > since && e.operation.startsWith('npm:'))).toEqual([]);
      const rerun = await cli(['run', job, '--json']);
      expect(rerun.code, rerun.stderr).toBe(0);
      // the first limit's rerun publishes them (unless a test before it in this file did), the second's finds them there
      const outcomes = json<RunSummary>(rerun).outcomes;
      if (kib === 8) expect(Object.keys(outcomes).every((o) => o === 'published' || o === 'present-identical') && Object.values(outcomes).reduce((a, b) => a + (b ?? 0), 0) === LEGACY.length, JSON.stringify(outcomes)).toBe(true);
      else expect(outcomes).toEqual({ 'present-identical': LEGACY.length });
      // reading the state on a full disk (SQLite makes its shared-memory index beside it even to read) is this machine's error too
      const status = await te.cli(['status', job, '--json'], {}, { shell: 'ulimit -f 8' });
      outputs.push(status.stdout, status.stderr);
      expect(status.code, status.stderr).toBe(1);
      expect(json<{ error: { code: string; message: string } }>(status).error).toMatchObject({ code: 'ELOCAL', message: expect.stringContaining(database) });
    }
  });

  it('plan --out naming a file: refused as a usage error (exit 2) before the plan starts (not after an hour of it), nothing listed', async () => {
    const job = te.writeJob({ name: 'outfile', privateNpm: { packages: ['@acme/core'] } });
    const file = join(te.dir, 'report-here');
    writeFileSync(file, 'x');
    const r = await cli(['plan', job, '--no-target', '--out', file, '--json']);
    expect(r.code, r.stderr).toBe(2);
    expect(json<{ error: { code: string; message: string } }>(r).error).toEqual({ code: 'ECONFIG', message: `--out ${file} is a file: a report is three files (.json, .md, .html) written into a folder`, hint: expect.stringContaining('--out <dir>') });
    expect(readdirSafe(te.stateDir)).not.toContain('outfile.sqlite');
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('a proxy variable without its scheme (HTTPS_PROXY=user:pw@proxy:8080, as curl takes it) is ECONFIG (exit 2) naming it, its password masked, before anything is sent; status, which sends nothing, still answers', async () => {
    const job = te.writeJob({ name: 'badproxy', privateNpm: { packages: ['@acme/core'] } });
    for (const [key, value] of [['HTTPS_PROXY', 'proxyuser:Pr0xySecretPw@proxy.example:8080'], ['http_proxy', 'proxy.example:3128']] as const) {
      const r = await cli(['run', job, '--dry-run', '--json'], { [key]: value });
      expect(r.code, r.stderr).toBe(2);
      const error = json<{ error: { code: string; message: string; hint: string } }>(r).error;
      expect(error.code).toBe('ECONFIG');
      expect(error.message).toContain(`${key}="${value.includes('@') ? '***@proxy.example:8080' : value}" is no proxy URL`);
      expect(error.hint).toContain(`export ${key}=http://`);
      expect(r.stdout + r.stderr).not.toContain('Pr0xySecretPw');
      expect(readdirSafe(te.stateDir)).not.toContain('badproxy.sqlite');
    }
    const s = await cli(['status', job, '--json'], { HTTPS_PROXY: 'proxy.example:8080' });
    expect(s.stdout + s.stderr).not.toContain('no proxy URL');
  });

  it("no --out, and the state directory's reports folder is a file: the error names that folder, not an --out nobody gave", async () => {
    const job = te.writeJob({ name: 'reportsfile', privateNpm: { packages: ['@acme/core'] } });
    const stateDir = join(te.dir, 'state-reportsfile');
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(join(stateDir, 'reports'), 'x');
    const r = await cli(['plan', job, '--no-target', '--state-dir', stateDir, '--json']);
    expect(r.code, r.stderr).toBe(2);
    expect(json<{ error: { code: string; message: string } }>(r).error.message).toBe(`the reports folder ${join(stateDir, 'reports')} (no --out given) is a file: a report is three files (.json, .md, .html) written into a folder`);
  });

  it('report --out naming a file: the same usage error (exit 2), the file left as it was', async () => {
    const job = te.writeJob({ name: 'reportfile', privateNpm: { packages: ['@acme/core'] } });
    expect((await cli(['plan', job, '--no-target', '--out', join(te.dir, 'plans'), '--json'])).code).toBeLessThan(2);
    const file = join(te.dir, 'report.html');
    writeFileSync(file, 'mine');
    const r = await cli(['report', job, '--out', file, '--json']);
    expect(r.code, r.stderr).toBe(2);
    expect(json<{ error: { code: string; message: string } }>(r).error).toMatchObject({ code: 'ECONFIG', message: `--out ${file} is a file: a report is three files (.json, .md, .html) written into a folder` });
    expect(readFileSync(file, 'utf8')).toBe('mine');
  });
});

describe('filters through the CLI', () => {
  const write = (filters: Record<string, unknown>) =>
    te.writeJob({ name: 'filtered', privateNpm: { packages: ['@acme/widgets', 'widgets-legacy', 'other-thing'] }, github: false, filters });
  const FILTERS = { include: ['@acme/*', 'widgets-*'], exclude: ['@acme/widgets@<0.2.0'] };
  // ranges include prereleases: 0.2.0-beta.1 is below 0.2.0
  const widgetsOut = WIDGETS.filter((v) => semver.lt(v, '0.2.0'));
  const widgetsIn = WIDGETS.filter((v) => !semver.lt(v, '0.2.0'));
  const excludedSubjects = [...subjects('@acme/widgets', widgetsOut), ...subjects('other-thing', OTHER)];

  it('an excluded version range and a package outside the include globs are excluded and never published', async () => {
    expect(widgetsOut.some((v) => semver.prerelease(v) !== null)).toBe(true);
    const job = write(FILTERS);
    const r = await cli(['run', job, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = json<RunSummary>(r);
    expect(s.states).toEqual({ verified: widgetsIn.length + WIDGETS_LEGACY.length, excluded: excludedSubjects.length });
    expect(s.selected).toBe(widgetsIn.length + WIDGETS_LEGACY.length);
    expect(s.unmatchedFilters).toEqual([]);

    const byState = (state: string) => rows('filtered').filter((x) => x.state === state).map((x) => `${x.package}@${x.version}`).sort();
    expect(byState('excluded')).toEqual([...excludedSubjects].sort());
    // excluded before any download: no bytes were fetched for them
    expect(rows('filtered').filter((x) => x.state === 'excluded' && x.sha512 !== null)).toEqual([]);
    const requests = publishRequests(te.sandbox);
    for (const subject of excludedSubjects) expect(requests.has(subject), subject).toBe(false);
    for (const subject of [...subjects('@acme/widgets', widgetsIn), ...subjects('widgets-legacy', WIDGETS_LEGACY)]) expect(requests.get(subject), subject).toBe(1);
  });

  it('a filter entry that matches nothing (an exclude with a typo lets through what it meant to keep out) is a warning in the summary, on the terminal and in the plan report', async () => {
    const job = write({ ...FILTERS, exclude: [...FILTERS.exclude, '@acme/widgest@<0.3.0', { name: 'widgets-legacy', versions: '>=9' }] });
    const r = await cli(['run', job, '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = json<RunSummary>(r);
    expect(s.unmatchedFilters).toEqual([
      { kind: 'exclude', entry: '@acme/widgest@<0.3.0' },
      { kind: 'exclude', entry: 'widgets-legacy@>=9' },
    ]);
    // the summary a terminal gets
    expect(humanSummary(s)).toContain('WARNING filters.exclude "@acme/widgest@<0.3.0" matches no version of the job\'s sources (a typo lets through what it meant to keep out)');
    const plan = await cli(['plan', job]);
    const findings = (JSON.parse(plan.stdout) as { findings: { code: string; severity: string; subjects: string[] }[] }).findings;
    expect(findings.filter((f) => f.code === 'EFILTERUNMATCHED')).toEqual([expect.objectContaining({ severity: 'warning', subjects: ['exclude @acme/widgest@<0.3.0', 'exclude widgets-legacy@>=9'] })]);
  });

  it('dropping the filters re-selects them: pending again, then published once and verified', async () => {
    const job = write({});
    const r = await cli(['run', job, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = json<RunSummary>(r);
    expect(s.outcomes).toEqual({ published: excludedSubjects.length });
    expect(s.states).toEqual({ verified: WIDGETS.length + WIDGETS_LEGACY.length + OTHER.length });
    const requests = publishRequests(te.sandbox);
    for (const subject of excludedSubjects) expect(requests.get(subject), subject).toBe(1);

    const state = te.openState('filtered');
    try {
      const row = state.items('package = ? AND version = ?', '@acme/widgets', widgetsOut[0])[0]!;
      expect(state.events(row.id).filter((e) => e.from_state !== e.to_state).map((e) => e.to_state)).toEqual(['pending', 'excluded', 'pending', 'fetched', 'publishing', 'published', 'verified']);
    } finally {
      state.close();
    }
  });

  it('excluding versions already on the target leaves them as they are', async () => {
    const job = write({ exclude: ['other-thing'] });
    const since = lastSeq();
    const r = await cli(['run', job, '--json']);
    expect(r.code, r.stderr).toBe(0);
    // counted as status counts them: what the job asks for now; the versions the filters now leave out are listed apart, on the target
    const s = json<RunSummary>(r);
    expect(s.states).toEqual({ verified: WIDGETS.length + WIDGETS_LEGACY.length });
    expect(s.notInJob).toEqual([expect.objectContaining({ package: 'other-thing', why: 'filters', onTarget: OTHER.length })]);
    expect(targetWrites(te.sandbox, since)).toEqual([]);
  });
});

describe('secret hygiene', () => {
  /** 128 base64url characters, what the stand-in issues (randomBytes(96)); not a plain hex digest. */
  const TOKEN_SHAPE = /[A-Za-z0-9_-]{128}/g;
  const hexOnly = /^[0-9a-f]+$/;

  it('no source token, AWS secret or CodeArtifact token is in the state directory or the output', () => {
    // the runs above did fetch CodeArtifact tokens (the CLI process asked the stand-in for them)
    expect(issued.length).toBeGreaterThan(0);
    expect(outputs.length).toBeGreaterThan(0);
    const secrets = [
      te.env.CAM_DEMO_NPM_TOKEN!,
      te.env.CAM_DEMO_GITHUB_TOKEN!,
      te.env.AWS_SECRET_ACCESS_KEY!,
      WRONG_TOKEN,
      ...issued,
    ];
    for (const s of secrets) expect(s.length).toBeGreaterThan(8);

    const files = filesUnder(te.stateDir);
    // the databases were written (and a WAL, if SQLite left one, is read too)
    for (const job of ['main', 'broken', 'badtoken', 'filtered']) expect(files).toContain(join(te.stateDir, `${job}.sqlite`));
    // bytes, not text: the SQLite pages and the blobs are searched as they are on disk
    for (const f of files) {
      const bytes = readFileSync(f);
      for (const s of secrets) expect(bytes.includes(s), `${f} contains a secret`).toBe(false);
    }
    for (const [i, text] of outputs.entries()) {
      for (const s of secrets) expect(text.includes(s), `CLI output #${i} contains a secret`).toBe(false);
      // belt and braces for tokens issued elsewhere: nothing token-shaped in what the CLI prints
      // (in the SQLite pages, adjacent columns can run together, so the shape test is for the output only)
      const tokenLike = (text.match(TOKEN_SHAPE) ?? []).filter((m) => !hexOnly.test(m));
      expect(tokenLike, `CLI output #${i} holds something shaped like a CodeArtifact token`).toEqual([]);
    }
  });
});

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

