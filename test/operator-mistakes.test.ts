/**
 * What a careless operator types: flags that contradict each other, an output path that names
 * one of the tool's own files. The command must refuse (ECONFIG, exit 2) before it asks or
 * writes anything, rather than do half of what each flag promises or replace its own state.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { historyOf, seedPackages } from './support/npm-fixtures.js';

let te: TestEnv;
let job: string;

beforeAll(async () => {
  te = await startTestEnv();
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: '@acme/core', versions: historyOf(2) }]);
  job = te.writeJob({ github: false, privateNpm: { packages: ['@acme/core'] } });
  const first = await te.cli(['run', job, '--json']);
  expect(first.code, first.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await te?.stop();
});

function pointNpmAt(repository: string): void {
  const doc = parse(readFileSync(job, 'utf8')) as { target: { repositories: { npm: { internal: string } } } };
  doc.target.repositories.npm.internal = repository;
  writeFileSync(job, stringify(doc));
}

describe('plan --no-target --retarget', () => {
  // --retarget checks the new repositories exist before the state moves (a typo is ETARGETSETUP,
  // nothing moved); --no-target asks AWS nothing. Together the state moved, unchecked, to a
  // mistyped repository: every verified version was reset and a retarget ledger entry named it.
  it('is refused (ECONFIG, exit 2) naming both flags; the state still records its target and every version as it was, nothing asked of the target', async () => {
    pointNpmAt('npm-intrenal');
    try {
      const before = te.openState();
      const counts = before.counts();
      const ledger = before.db.prepare('SELECT count(*) AS n FROM ledger').get();
      before.close();
      const since = te.sandbox.standIn.log.length;
      const r = await te.cli(['plan', job, '--no-target', '--retarget', '--json']);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      const error = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('ECONFIG');
      expect(error.message).toContain('--retarget');
      expect(error.message).toContain('--no-target');
      expect(r.stderr).not.toMatch(/^\s{4}at /m);
      expect(te.sandbox.standIn.log.length).toBe(since);
      const after = te.openState();
      try {
        expect(after.recordedTarget()!.repositories.npm).toBe('npm-internal');
        expect(after.counts()).toEqual(counts);
        expect(after.db.prepare('SELECT count(*) AS n FROM ledger').get()).toEqual(ledger);
      } finally {
        after.close();
      }
    } finally {
      pointNpmAt('npm-internal');
    }
  });
});

describe('ledger export --out naming the job\'s lock (state/<job>.lock.db, tab-completed from state/<job>.)', () => {
  // the lock database holds no table (an empty file, no SQLite header): the export was renamed
  // over it, and every later run, plan, warm and harden of the job stopped with "cannot take the
  // lock …: file is not a database", told to check the state directory is writable
  it('is refused (ECONFIG, exit 2) naming it, the lock left as it was; a run afterwards takes it as ever', async () => {
    const lock = join(te.stateDir, 'test.lock.db');
    expect(existsSync(lock)).toBe(true);
    const before = statSync(lock);
    for (const name of ['test.lock.db', 'test.lock.owner']) {
      const r = await te.cli(['ledger', 'export', job, '--out', join(te.stateDir, name)]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toContain('"ECONFIG"');
      expect(r.stdout).toContain(name);
      expect(r.stderr).not.toMatch(/^\s{4}at /m);
    }
    const after = statSync(lock);
    expect([after.ino, after.size, after.mtimeMs]).toEqual([before.ino, before.size, before.mtimeMs]);
    expect(existsSync(join(te.stateDir, 'test.lock.owner'))).toBe(false);
    const rerun = await te.cli(['run', job, '--json']);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
  });

  it('the per-target lock in the lock folder (CAM_LOCK_DIR) likewise', async () => {
    const lockFolder = te.env.CAM_LOCK_DIR!;
    const [name] = (await import('node:fs')).readdirSync(lockFolder).filter((n) => n.endsWith('.lock.db'));
    expect(name).toBeDefined();
    const r = await te.cli(['ledger', 'export', job, '--out', join(lockFolder, name!)]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toContain('"ECONFIG"');
    const rerun = await te.cli(['run', job, '--json']);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
  });
});

describe('an option whose value was left out (`--out --json`): the next flag is taken as its value', () => {
  // commander gives a required value whatever comes next: `report job --out --json` wrote the
  // report into a new folder named `--json` in the working folder and exited 0
  it.each([
    [['report', '<job>', '--out', '--json']],
    [['plan', '<job>', '--no-target', '--out', '-q']],
    [['ledger', 'export', '<job>', '--out', '--json']],
    [['--state-dir', '--json', 'status', '<job>']],
    [['ledger', 'verify', 'ledger.jsonl', '--job', '--json']],
    [['goproxy', '<job>', '--port', '0', '--allowed-host', '--json']],
    [['goproxy', '<job>', '--port', '0', '--host', '--json']],
  ])('%j is refused as a usage error (exit 2) naming the value, nothing made in the working folder', async (args) => {
    const before = readdirSync(te.dir).sort();
    const r = await te.cli(args.map((a) => (a === '<job>' ? job : a)));
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/looks like an option/);
    expect(r.stderr).not.toMatch(/^\s{4}at /m);
    expect(readdirSync(te.dir).sort()).toEqual(before);
  });

  it('a path that does start with a dash is taken when written as one (./--json)', async () => {
    const r = await te.cli(['report', job, '--out', './-reports', '--json']);
    expect(r.code, r.stdout + r.stderr).not.toBe(2);
    expect(readdirSync(join(te.dir, '-reports')).some((n) => n.endsWith('.json'))).toBe(true);
  });
});
