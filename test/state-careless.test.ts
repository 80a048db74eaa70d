/**
 * The careless operator and the broken machine around the state directory, through the CLI:
 * a blobs folder deleted between a plan and a run, a state directory nobody may write (not
 * even root: chattr +i, as a read-only mount is). Each ends in a coded error with what to do,
 * no stack trace, and the recorded state as it was; or, where nothing was lost, in a run
 * that publishes every version once.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishRequests, startTestEnv, type TestEnv } from './support/harness.js';
import { historyOf, seedPackages } from './support/npm-fixtures.js';

let te: TestEnv;
const VERSIONS = historyOf(3);
const MANY = historyOf(12);

beforeAll(async () => {
  te = await startTestEnv();
  const { privateNpm } = te.sandbox;
  await seedPackages(privateNpm.url, privateNpm.token, [
    { name: 'careless-blobs', versions: VERSIONS },
    { name: 'careless-ro', versions: VERSIONS },
    { name: 'careless-rm', versions: MANY },
  ]);
}, 120_000);

afterAll(async () => {
  await te?.stop();
});

/** The CLI's JSON error (throws when stdout is none). */
function errorOf(r: { stdout: string; stderr: string }): { code: string; message: string; hint?: string } {
  return (JSON.parse(r.stdout) as { error: { code: string; message: string; hint?: string } }).error;
}

describe('the blobs folder', () => {
  it('deleted between a plan (which fetched every version) and the run: the run downloads again and publishes every version once', async () => {
    const job = te.writeJob({ name: 'careless-blobs', privateNpm: { packages: ['careless-blobs'] }, github: false });
    expect((await te.cli(['plan', job, '--json'])).code).toBe(0);
    const blobs = join(te.stateDir, 'blobs');
    expect(existsSync(blobs)).toBe(true);
    rmSync(blobs, { recursive: true, force: true });
    const r = await te.cli(['run', job, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const published = publishRequests(te.sandbox, { succeededOnly: true });
    for (const v of VERSIONS) expect(published.get(`careless-blobs@${v}`), v).toBe(1);
  });
});

describe('the state directory deleted while a run uses it', () => {
  it('the run stops with ESTATE naming the database and saves what it recorded in its place; the rerun publishes the rest: every version once, and the ledger holds one publish per version', async () => {
    const job = te.writeJob({ name: 'careless-rm', privateNpm: { packages: ['careless-rm'] }, github: false });
    const database = join(te.stateDir, 'careless-rm.sqlite');
    const since = te.sandbox.standIn.log.length;
    const published = () => te.sandbox.standIn.log.filter((e) => e.seq > since && e.operation === 'npm:Publish' && e.status < 300).length;
    // slow enough that the run is still writing when the folder goes
    te.sandbox.standIn.setLatency(150);
    let r: { code: number | null; stdout: string; stderr: string };
    try {
      const running = te.cli(['run', job, '--json']);
      await until(() => published() >= 1);
      rmSync(te.stateDir, { recursive: true, force: true });
      r = await running;
    } finally {
      te.sandbox.standIn.setLatency(0);
    }
    expect(published(), 'the run went on to the end: the folder went too late to test anything').toBeLessThan(MANY.length);
    // the run stops at its next state write (ESTATE, exit 2), or first at a blob gone with the folder (ELOCAL, exit 1)
    expect(r.stdout, `exit ${r.code}: ${r.stderr}`).not.toBe('');
    const error = errorOf(r);
    if (error.code === 'ESTATE') {
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(error.message).toContain(database);
      expect(error.message).toMatch(/deleted/);
    } else {
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(error).toMatchObject({ code: 'ELOCAL', message: expect.stringContaining(te.stateDir) });
    }
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/^\s+at /m);
    // what the run recorded before it noticed is in the file again
    expect(existsSync(database)).toBe(true);
    const rerun = await te.cli(['run', job, '--json']);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    const counts = publishRequests(te.sandbox, { succeededOnly: true });
    for (const v of MANY) expect(counts.get(`careless-rm@${v}`), v).toBe(1);
    const exported = await te.cli(['ledger', 'export', job]);
    expect(exported.code, exported.stderr).toBe(0);
    const entries = exported.stdout.split('\n').filter((l) => l && !l.startsWith('{"trailer"')).map((l) => (JSON.parse(l) as { entry: { outcome: string; version?: string } }).entry);
    const publishedIn = entries.filter((e) => e.outcome === 'published').map((e) => e.version).sort();
    expect(publishedIn).toEqual([...MANY].sort());
  }, 60_000);
});

/** Resolves once `ok()` holds (checked every 20 ms), failing after 20 s. */
async function until(ok: () => boolean): Promise<void> {
  for (const end = Date.now() + 20_000; !ok(); ) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

// root ignores file modes; an immutable folder and file refuse even root, as a read-only mount does
const immutable = spawnSync('sh', ['-c', `f=$(mktemp -p ${JSON.stringify(tmpdir())}) && chattr +i "$f" && chattr -i "$f" && rm "$f"`]).status === 0;

describe.skipIf(!immutable)('a state directory nobody may write (chattr +i on it and its database)', () => {
  it('run, plan and warm stop with ESTATE (exit 2) naming it and saying to keep the file; status and ledger export read it (ELOCAL when the temp folder has no room for their copy); no stack trace, and nothing in it changes', async () => {
    const job = te.writeJob({ name: 'careless-ro', privateNpm: { packages: ['careless-ro'] }, github: false });
    expect((await te.cli(['run', job, '--json'])).code).toBe(0);
    const database = join(te.stateDir, 'careless-ro.sqlite');
    const exported = await te.cli(['ledger', 'export', job]);
    expect(exported.code).toBe(0);
    // the WAL folded in, so that the file alone is the state (as a copy handed over would be)
    const fold = spawnSync('sqlite3', [database, 'PRAGMA wal_checkpoint(TRUNCATE);']);
    expect(fold.status, fold.stderr?.toString()).toBe(0);
    const before = readdirSync(te.stateDir).sort();
    const bytes = readFileSync(database);
    const locked = [database, te.stateDir];
    expect(spawnSync('chattr', ['+i', ...locked]).status).toBe(0);
    try {
      for (const command of ['run', 'plan', 'warm']) {
        const r = await te.cli([command, job, '--json']);
        expect(r.code, `${command}: ${r.stdout} ${r.stderr}`).toBe(2);
        const error = errorOf(r);
        expect(error.code, command).toBe('ESTATE');
        expect(error.message, command).toContain(te.stateDir);
        expect(`${r.stdout}${r.stderr}`, command).not.toMatch(/^\s+at /m);
        expect(error.hint ?? '', command).not.toMatch(/move the file away/);
      }
      const status = await te.cli(['status', job, '--json']);
      expect(status.code, status.stderr).toBe(0);
      expect((JSON.parse(status.stdout) as { states: Record<string, number> }).states.verified).toBe(VERSIONS.length);
      const again = await te.cli(['ledger', 'export', job]);
      expect(again.code, again.stderr).toBe(0);
      const entries = (out: string) => out.split('\n').filter((l) => l && !l.startsWith('{"trailer"'));
      expect(entries(again.stdout)).toEqual(entries(exported.stdout));
      // no room for the private copy those read (here: a file-size limit below the database's size, in KiB):
      // this machine's ELOCAL naming the temp folder, never "give this user read access"
      const limit = Math.max(1, Math.floor(bytes.length / 1024 / 2));
      for (const args of [['status', job, '--json'], ['ledger', 'export', job]]) {
        const r = await te.cli(args, {}, { shell: `ulimit -f ${limit}` });
        expect(r.code, `${args[0]}: ${r.stdout} ${r.stderr}`).toBe(1);
        expect(`${r.stdout}${r.stderr}`, args[0]).not.toMatch(/^\s+at /m);
        const error = errorOf(r);
        expect(error, args[0]).toMatchObject({ code: 'ELOCAL', message: expect.stringContaining(tmpdir()), hint: expect.stringContaining('TMPDIR') });
      }
    } finally {
      spawnSync('chattr', ['-i', ...locked]);
    }
    expect(readdirSync(te.stateDir).sort()).toEqual(before);
    expect(readFileSync(database).equals(bytes)).toBe(true);
  });
});

describe('a run summary damaged in the state (a hand edit, a tool that wrote half of it)', () => {
  it('report still reports what the rows say: the summary is left out, no EUNEXPECTED naming no file', async () => {
    await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: 'careless-summary', versions: VERSIONS }]);
    const job = te.writeJob({ name: 'careless-summary', privateNpm: { packages: ['careless-summary'] }, github: false });
    expect((await te.cli(['run', job, '--json'])).code).toBe(0);
    const state = te.openState('careless-summary');
    try {
      state.db.prepare("UPDATE runs SET summary = '{\"states\": {\"verified\": 3}, \"exitCo' WHERE id = (SELECT MAX(id) FROM runs)").run();
    } finally {
      state.close();
    }
    const r = await te.cli(['report', job, '--json', '--out', join(te.dir, 'careless-summary-report')]);
    expect(r.stderr).not.toMatch(/^\s{4}at /m);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { totals: { versions: number }; verdict: { status: string } };
    expect(report.totals.versions).toBe(VERSIONS.length);
  });
});
