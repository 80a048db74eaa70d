/**
 * `cam warm` when this machine, not the store, fails: the state database refuses the row an
 * entry needs before its artifact is requested (a full disk: SQLITE_FULL). Like `run`, the warm
 * stops as ELOCAL naming the state file: every next entry would fail the same way, and it is
 * no entry's fault, so none is recorded as failed. With room again the warm finishes.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MigrateError } from '../src/errors.js';
import { CodeArtifact } from '../src/targets/codeartifact.js';
import { WarmStore } from '../src/warm/state.js';
import type { StateDb } from '../src/state/db.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { publishWithDeps } from './fixtures/warm/project.js';
import { warmInProcess } from './support/warm-run.js';

let te: TestEnv;
const NAMES = ['wl-a', 'wl-b', 'wl-c'];
const integrity: Record<string, string> = {};

beforeAll(async () => {
  te = await startTestEnv({ publicRegistries: true });
  for (const n of NAMES) integrity[n] = (await publishWithDeps(te.sandbox.publicRegistries!.npm, n, '1.0.0')).integrity;
}, 300_000);

afterAll(async () => {
  vi.restoreAllMocks();
  await te?.stop();
});

/** A job warming one package-lock.json that pins `pins` (by default the three published above) from the public registry. */
function job(name: string, pins: { name: string; integrity: string }[] = NAMES.map((n) => ({ name: n, integrity: integrity[n]! }))): string {
  const pub = te.sandbox.publicRegistries!.npm.url;
  const packages: Record<string, unknown> = { '': { name, dependencies: Object.fromEntries(pins.map((p) => [p.name, '1.0.0'])) } };
  for (const p of pins) packages[`node_modules/${p.name}`] = { version: '1.0.0', resolved: `${pub}${p.name}/-/${p.name}-1.0.0.tgz`, integrity: p.integrity };
  mkdirSync(join(te.dir, name), { recursive: true });
  writeFileSync(join(te.dir, name, 'package-lock.json'), `${JSON.stringify({ name, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
  const file = te.writeJob({ name, github: false, privateNpm: {} });
  const doc = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  doc.warm = { lockfiles: [`${name}/package-lock.json`], pendingTimeoutSeconds: 10 };
  doc.limits = { ...(doc.limits as Record<string, unknown>), retries: 1, stopGraceSeconds: 1 };
  writeFileSync(file, stringify(doc));
  return file;
}

/** The state's write in WarmStore's `method` finds the disk full: SQLite answers SQLITE_FULL (as better-sqlite3 throws it), through the state's own write. */
function diskFullOn(method: 'requested' | 'failed') {
  return vi.spyOn(WarmStore.prototype, method).mockImplementation(function (this: WarmStore) {
    (this as unknown as { state: StateDb }).state.write(() => {
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    });
  });
}

const warm = (file: string) => warmInProcess(file, { env: te.env, stateDir: te.stateDir, codeartifactClient: te.client });

describe('warm: a local failure while an entry is stored', () => {
  it('the state refusing a write for want of room stops the warm as ELOCAL naming the state file: no entry is recorded failed, nothing is requested; with room again every entry is warmed', async () => {
    const file = job('warm-local-full');
    const database = join(te.stateDir, 'warm-local-full.sqlite');
    const since = te.sandbox.standIn.log.length;
    // the disk fills as the first entry is about to be requested
    const full = diskFullOn('requested');
    let r: Awaited<ReturnType<typeof warm>>;
    try {
      r = await warm(file);
    } finally {
      full.mockRestore();
    }
    expect(r.code, r.stdout).toBe(1);
    const error = (JSON.parse(r.stdout) as { error?: { code: string; message: string } }).error;
    expect(error, r.stdout).toMatchObject({ code: 'ELOCAL', message: expect.stringContaining(database) });
    // no entry blamed: none failed, none counted as attempted
    const check = new Database(database, { readonly: true });
    try {
      const rows = check.prepare('SELECT name, state, last_error_code, attempts FROM warm_entries ORDER BY name').all() as { name: string; state: string; last_error_code: string | null; attempts: number }[];
      expect(rows.map((x) => x.name)).toEqual(NAMES);
      for (const row of rows) expect(row, row.name).toMatchObject({ state: 'pending', last_error_code: null, attempts: 0 });
    } finally {
      check.close();
    }
    expect(te.sandbox.standIn.log.slice(since).filter((e) => e.operation === 'npm:GetTarball')).toEqual([]);

    const again = await warm(file);
    expect(again.code, again.stdout).toBe(0);
    expect(again.summary.outcomes).toEqual({ warmed: NAMES.length });
  }, 120_000);
});

describe('warm: a local failure outside any one entry', () => {
  it('the state refusing to record a failure (a full disk) ends the warm: the packages still queued are never asked for, and the error is ELOCAL', async () => {
    // more packages than the warm ever keeps in flight (32 at first, re-sized from the round trip
    // it measures, 512 at the most: a loaded machine's slow answers grew it past 120 once), so
    // some are still queued when the first fails, whatever the sizing
    const names = Array.from({ length: 600 }, (_, i) => `wq-${String(i).padStart(3, '0')}`);
    const file = job('warm-local-queue', names.map((n) => ({ name: n, integrity: `sha512-${Buffer.alloc(64, 1).toString('base64')}` })));

    // every store listing is refused (a failure of that entry), and recording that failure finds the disk full
    const asked: string[] = [];
    const list = vi.spyOn(CodeArtifact.prototype, 'listVersions').mockImplementation(async (c) => {
      asked.push(c.package);
      throw new MigrateError('ETARGETREJECTED', `${c.package}: refused`);
    });
    const full = diskFullOn('failed');
    let r: Awaited<ReturnType<typeof warm>>;
    try {
      r = await warm(file);
    } finally {
      list.mockRestore();
      full.mockRestore();
    }
    expect(r.code, r.stdout).toBe(1);
    expect((JSON.parse(r.stdout) as { error?: { code: string } }).error, r.stdout).toMatchObject({ code: 'ELOCAL' });
    // the packages in flight when the first failed were asked; those still queued were not
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.length).toBeLessThan(names.length);
  }, 120_000);
});
