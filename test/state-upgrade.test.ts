/**
 * A state database written by the previous release (0.1, commit fd5bfda, schema 1;
 * how it was made: test/fixtures/state/README.md) is upgraded in place by the
 * current code's commands that write and keeps working: every row and event kept,
 * migration 3's assets in the states their items are in, a run continuing where
 * the old one was killed. `status`, `report` and `ledger export` read it as the old
 * release did without changing a byte of it (they read an upgraded private copy). A database newer than the code,
 * and a migration that fails half way, leave the file as it was.
 * Every test works on a copy of the fixture in a temp folder.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MigrateError } from '../src/errors.js';
import { BlobStore } from '../src/state/blobs.js';
import { StateDb } from '../src/state/db.js';
import { MIGRATIONS } from '../src/state/migrations.js';
import type { RequestLogEntry } from './support/codeartifact/index.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { corruptStoredTarball, escapeName, makeTarball, publishVersion, seedPackages } from './support/npm-fixtures.js';

const FIXTURES = join(import.meta.dirname, 'fixtures/state');
const FIXTURE = join(FIXTURES, 'npm-release-0.1.sqlite');
/** What the old release's `status --json` said about the fixture (its exit code and report). */
const OLD_STATUS = JSON.parse(readFileSync(join(FIXTURES, 'npm-release-0.1.status.json'), 'utf8')) as { exitCode: number; report: Record<string, unknown> & { states: Record<string, number> } };
/** The job that wrote it: the state file is `<stateDir>/<name>.sqlite`. */
const JOB = 'release-0-1';
const GITHUB_PACKAGES = ['@acme-gh/gamma', '@acme-gh/delta', '@acme-gh/theta'];
const FILTERS = { exclude: ['@acme/alpha@<1.0.0'] };

/** Every version in the fixture and the state release 0.1 left it in (see the README). */
const FIXTURE_STATES: Record<string, string> = {
  '@acme/alpha@0.9.0': 'excluded',
  '@acme/alpha@1.0.0': 'verified',
  '@acme/alpha@1.1.0': 'verified',
  '@acme/beta@1.0.0': 'present-identical',
  '@acme-gh/gamma@1.0.0': 'verified',
  '@acme-gh/gamma@1.1.0': 'fetched',
  '@acme-gh/delta@1.0.0': 'verified',
  '@acme-gh/delta@1.1.0': 'failed',
  '@acme-gh/theta@1.0.0': 'failed',
  '@acme/zeta@1.0.0': 'publishing',
  '@acme/eta@1.0.0': 'publishing',
};
/** The asset state migration 3 gives a version's package.tgz, by the item's state. */
const ASSET_STATE: Record<string, string> = { verified: 'uploaded', 'present-identical': 'uploaded', publishing: 'uploading', fetched: 'stored', failed: 'stored' };

type Row = Record<string, unknown>;
const key = (r: Row) => `${String(r.package)}@${String(r.version)}`;

interface Snapshot {
  version: number;
  columns: Record<string, string[]>;
  tables: Record<string, Row[]>;
  objects: string[];
}

/** The database read without StateDb (no migration runs): schema version, columns, every row of every table. */
function snapshot(path: string): Snapshot {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const objects = (db.prepare("SELECT type || ' ' || name AS o FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY 1").all() as { o: string }[]).map((r) => r.o);
    const names = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    const columns: Record<string, string[]> = {};
    const tables: Record<string, Row[]> = {};
    for (const t of names) {
      columns[t] = (db.pragma(`table_info(${t})`) as { name: string }[]).map((c) => c.name);
      tables[t] = db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all() as Row[];
    }
    return { version: db.pragma('user_version', { simple: true }) as number, columns, tables, objects };
  } finally {
    db.close();
  }
}

/** Only the named columns of each row: what a table held before a migration added columns. */
const project = (rows: Row[], cols: string[]) => rows.map((r) => Object.fromEntries(cols.map((c) => [c, r[c]])));

/** Raw SQL on a copy, the way a hand edit or another tool would; closing checkpoints the WAL into the file. */
function edit(path: string, sql: string): void {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

function openError(path: string): MigrateError {
  try {
    StateDb.open(path).close();
  } catch (e) {
    expect(e).toBeInstanceOf(MigrateError);
    return e as MigrateError;
  }
  throw new Error(`StateDb.open(${path}) succeeded`);
}

/**
 * The file's bytes, change time and neighbours now; `check` fails when a command changed any of
 * them (an upgrade to a schema release 0.1 would refuse as "newer", the job's name recorded).
 */
function fileAsItIs(path: string): { check(after: string): void } {
  const bytes = readFileSync(path);
  const { mtimeMs, ino } = statSync(path);
  const beside = readdirSync(dirname(path)).sort();
  return {
    check(after) {
      expect(readFileSync(path).equals(bytes), `${after} changed the bytes of ${path}`).toBe(true);
      expect(statSync(path).mtimeMs, `${after} touched ${path}`).toBe(mtimeMs);
      expect(statSync(path).ino, `${after} replaced ${path}`).toBe(ino);
      expect(readdirSync(dirname(path)).filter((f) => f !== 'reports').sort(), `${after} left files beside ${path}`).toEqual(beside);
      // schema 1, read from the header (a SQLite connection, even a read-only one, would make -wal and -shm files beside it)
      expect(readFileSync(path).readUInt32BE(60), after).toBe(1);
    },
  };
}

const temps: string[] = [];
/** A copy of the fixture, as `<dir>/<job>.sqlite`. */
function copyOfFixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cam-upgrade-'));
  temps.push(dir);
  const path = join(dir, `${JOB}.sqlite`);
  copyFileSync(FIXTURE, path);
  return path;
}
afterEach(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('a state database written by release 0.1 (schema 1)', () => {
  it('is the fixture its README describes', () => {
    const s = snapshot(copyOfFixture());
    expect(s.version).toBe(1);
    expect(Object.fromEntries(s.tables.items!.map((r) => [key(r), r.state]))).toEqual(FIXTURE_STATES);
    expect(s.objects).not.toContain('table assets');
    expect(s.tables.events).toHaveLength(40);
    // run 3 was killed: it never ended
    expect(s.tables.runs!.map((r) => [r.dry_run, r.outcome])).toEqual([
      [0, 'incomplete'],
      [1, 'incomplete'],
      [0, null],
    ]);
  });

  it('is upgraded in place to the current schema, keeping every row and every event, events still append-only', () => {
    const path = copyOfFixture();
    const before = snapshot(path);
    const inode = statSync(path).ino;

    const state = StateDb.open(path);
    try {
      expect(state.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
      // the same file, no copy beside it (the WAL files are SQLite's own)
      expect(statSync(path).ino).toBe(inode);
      expect(readdirSync(join(path, '..')).filter((f) => !f.endsWith('-wal') && !f.endsWith('-shm'))).toEqual([`${JOB}.sqlite`]);

      // every row of every old table, column for column; the new item columns are empty
      const after = snapshot(path);
      for (const [table, rows] of Object.entries(before.tables)) {
        expect(after.tables[table], table).toHaveLength(rows.length);
        expect(project(after.tables[table]!, before.columns[table]!), table).toEqual(rows);
      }
      const added = after.columns.items!.filter((c) => !before.columns.items!.includes(c));
      expect(added.sort()).toEqual(['facts', 'last_listed_run', 'removed_at', 'source_commit', 'source_problem', 'source_ref', 'target_asset', 'target_hashes']);
      for (const r of after.tables.items!) for (const c of added) expect(r[c], `${key(r)} ${c}`).toBeNull();
      // every old index and trigger is still there
      for (const o of before.objects) expect(after.objects).toContain(o);

      // the event log is still append-only
      const expectRefused = (sql: string) => {
        try {
          state.db.prepare(sql).run();
        } catch (e) {
          expect((e as { code?: string }).code).toBe('SQLITE_CONSTRAINT_TRIGGER');
          return;
        }
        throw new Error(`${sql} was allowed`);
      };
      expectRefused("UPDATE events SET detail = 'rewritten' WHERE id = 1");
      expectRefused('DELETE FROM events WHERE id = 1');
      expect(snapshot(path).tables.events).toEqual(before.tables.events);
      // and still takes new events
      const zeta = state.items("package = '@acme/zeta'")[0]!;
      state.note(zeta.id, 'ETEST', 'appended after the upgrade');
      expect(state.events(zeta.id).at(-1)).toMatchObject({ code: 'ETEST', from_state: 'publishing', to_state: 'publishing' });
      expect(snapshot(path).tables.events).toHaveLength(before.tables.events!.length + 1);
    } finally {
      state.close();
    }
    // reopening is a no-op
    const again = StateDb.open(path);
    again.close();
    expect(snapshot(path).version).toBe(MIGRATIONS.length);
  });

  it('gets from migration 3 one package.tgz asset per version with hashes, with its hashes and size, in its item\'s state', () => {
    const path = copyOfFixture();
    const state = StateDb.open(path);
    try {
      const items = state.items();
      const hashed = items.filter((r) => r.sha512 !== null);
      // the fixture has every kind: hashed versions in each state the migration maps
      expect(new Set(hashed.map((r) => r.state))).toEqual(new Set(Object.keys(ASSET_STATE)));
      for (const item of items) {
        const assets = state.assetsOf(item.id);
        const subject = `${item.package}@${item.version} (${item.state})`;
        if (item.sha512 === null) {
          // never fetched (excluded), or failed before its bytes were kept (EINTEGRITY): nothing to upload
          expect(assets, subject).toEqual([]);
          continue;
        }
        expect(assets, subject).toHaveLength(1);
        const a = assets[0]!;
        expect(a, subject).toMatchObject({
          name: 'package.tgz',
          ordinal: 0,
          size: item.size,
          md5: item.md5,
          sha1: item.sha1,
          sha256: item.sha256,
          sha512: item.sha512,
          facts: '{}',
          state: ASSET_STATE[item.state],
          updated_at: item.updated_at,
        });
        // an upload tried (publishing) or done (verified) keeps its count: the engine reads the target for those
        if (item.state === 'publishing' || item.state === 'verified') expect(a.attempts, subject).toBe(item.attempts);
        if (item.state === 'fetched' || item.state === 'present-identical') expect(a.attempts, subject).toBe(0);
      }
      expect(Object.fromEntries(items.filter((r) => r.sha512 === null).map((r) => [`${r.package}@${r.version}`, r.state]))).toEqual({ '@acme/alpha@0.9.0': 'excluded', '@acme-gh/delta@1.1.0': 'failed' });
    } finally {
      state.close();
    }
  });

  it('is read by openToRead (status, report, ledger export) from a private copy at the current schema, the file left byte-identical at schema 1', () => {
    const path = copyOfFixture();
    const unchanged = fileAsItIs(path);

    const state = StateDb.openToRead(path);
    try {
      expect(state.path).not.toBe(path);
      expect(state.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
      expect(Object.fromEntries(state.items().map((r) => [`${r.package}@${r.version}`, r.state]))).toEqual(FIXTURE_STATES);
      expect(state.assetsOf(state.items("package = '@acme/zeta'")[0]!.id).map((a) => a.state)).toEqual(['uploading']);
      unchanged.check('openToRead');
    } finally {
      state.close();
    }
    unchanged.check('close');
    // the private copy went with the close
    expect(statSync(state.path, { throwIfNoEntry: false })).toBeUndefined();
    // a command that writes still upgrades it in place
    StateDb.open(path).close();
    expect(snapshot(path).version).toBe(MIGRATIONS.length);
  });

  it('once upgraded, is read in place by openToRead (beside a run writing it), its job name left unrecorded when it has none', () => {
    const path = copyOfFixture();
    StateDb.open(path).close();
    edit(path, 'DELETE FROM job');
    const bytes = readFileSync(path);
    const { mtimeMs } = statSync(path);

    const state = StateDb.openToRead(path);
    try {
      expect(state.path).toBe(path);
      expect(state.items()).toHaveLength(Object.keys(FIXTURE_STATES).length);
    } finally {
      state.close();
    }
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(statSync(path).mtimeMs).toBe(mtimeMs);
    expect(snapshot(path).tables.job).toEqual([]);
    // a command that writes records it
    StateDb.open(path).close();
    expect(snapshot(path).tables.job!.map((r) => r.name)).toEqual([JOB]);
  });

  it('at the current schema but not in WAL mode, is read by openToRead from a private copy, left byte-identical and in its journal mode', () => {
    const path = copyOfFixture();
    StateDb.open(path).close();
    edit(path, 'PRAGMA journal_mode = DELETE');
    const bytes = readFileSync(path);

    const state = StateDb.openToRead(path);
    try {
      expect(state.path).not.toBe(path);
      expect(state.items()).toHaveLength(Object.keys(FIXTURE_STATES).length);
    } finally {
      state.close();
    }
    expect(readFileSync(path).equals(bytes)).toBe(true);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
    } finally {
      db.close();
    }
  });

  it('is refused when newer than the code (ESTATE), and left byte-identical', () => {
    const path = copyOfFixture();
    edit(path, `PRAGMA user_version = ${MIGRATIONS.length + 1}`);
    const bytes = readFileSync(path);
    const before = snapshot(path);

    const e = openError(path);
    expect(e.code).toBe('ESTATE');
    expect(e.message).toContain(path);

    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(snapshot(path)).toEqual(before);
  });

  const SABOTAGE = [
    {
      what: 'a table migration 3 creates already exists',
      sql: 'CREATE TABLE assets (id INTEGER PRIMARY KEY, note TEXT)',
      undo: 'DROP TABLE assets',
      assets: ['id', 'note'] as string[] | undefined,
    },
    {
      // fails on migration 3's last statement: after it created and filled `assets` and added two columns
      what: 'the last column migration 3 adds already exists',
      sql: 'ALTER TABLE items ADD COLUMN facts TEXT',
      undo: 'ALTER TABLE items DROP COLUMN facts',
      assets: undefined,
    },
  ];

  it.each(SABOTAGE)('whose migration 3 fails half way ($what) stays at the schema before it, with ESTATE naming the file', ({ sql, undo, assets }) => {
    const path = copyOfFixture();
    edit(path, sql);
    const before = snapshot(path);

    const e = openError(path);
    expect(e.code).toBe('ESTATE');
    expect(e.message).toContain(path);

    const after = snapshot(path);
    // migration 2 committed on its own; nothing of migration 3 is left
    expect(after.version).toBe(2);
    expect(after.columns.items).toContain('last_listed_run');
    expect(after.columns.items).not.toContain('source_ref');
    expect(after.columns.items).not.toContain('source_commit');
    expect(after.columns.assets).toEqual(assets);
    if (assets) expect(after.tables.assets).toEqual([]);
    expect(after.objects).not.toContain('index assets_item');
    for (const [table, rows] of Object.entries(before.tables)) expect(project(after.tables[table]!, before.columns[table]!), table).toEqual(rows);

    // once the obstacle is gone, the next open finishes the upgrade
    edit(path, undo);
    const state = StateDb.open(path);
    try {
      expect(state.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
      expect((state.db.prepare('SELECT count(*) AS n FROM assets').get() as { n: number }).n).toBe(9);
    } finally {
      state.close();
    }
  });
});

// ---------------------------------------------------------------------------
// with the real CLI and a sandbox

/** The npm name a request was about: npm endpoint entries carry it whole, control-plane ones as namespace + package. */
function npmNameOf(e: RequestLogEntry): string | undefined {
  if (e.package === undefined) return undefined;
  return e.package.startsWith('@') || !e.namespace ? e.package : `@${e.namespace}/${e.package}`;
}
const about = (e: RequestLogEntry, name: string, version?: string) => npmNameOf(e) === name && (version === undefined || (e.version ?? '').split(',').includes(version));

/** The sandbox's job for the fixture: same name, same sources, same filter. */
function writeFixtureJob(te: TestEnv): string {
  return te.writeJob({ name: JOB, privateNpm: { scopes: ['@acme'] }, github: { packages: GITHUB_PACKAGES }, filters: FILTERS });
}

function placeFixture(te: TestEnv): string {
  mkdirSync(te.stateDir, { recursive: true });
  const path = join(te.stateDir, `${JOB}.sqlite`);
  copyFileSync(FIXTURE, path);
  return path;
}

describe('release 0.1 state with the current CLI', () => {
  let te: TestEnv | undefined;
  afterEach(async () => {
    await te?.stop();
    te = undefined;
  });

  it('status reads it as release 0.1 did: same counts by state, same failures, same exit code', async () => {
    te = await startTestEnv();
    const path = placeFixture(te);
    const job = writeFixtureJob(te);

    const r = await te.cli(['status', job, '--json']);
    expect(r.code, r.stderr).toBe(OLD_STATUS.exitCode);
    const { database, ...report } = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(database).toBe(path);
    const { database: _old, ...old } = OLD_STATUS.report;
    // every field release 0.1 reported is the same; the states added since are there, empty
    expect(Object.fromEntries(Object.keys(old).map((k) => [k, report[k]]))).toEqual({ ...old, states: { ...old.states, removed: 0, skipped: 0 } });
    // lists added since (removed at the source, tags moved, skipped, ...) have nothing to say about a 0.1 database
    for (const k of Object.keys(report).filter((k) => !(k in old))) expect(report[k], k).toEqual([]);
  });

  it('status, report and ledger export leave it as release 0.1 wrote it (byte for byte, schema 1): that release, still running the migration, can go on with it', async () => {
    te = await startTestEnv();
    const path = placeFixture(te);
    const job = writeFixtureJob(te);
    const unchanged = fileAsItIs(path);

    const status = await te.cli(['status', job, '--json']);
    expect(status.code, status.stderr).toBe(OLD_STATUS.exitCode);
    unchanged.check('status');
    const report = await te.cli(['report', job, '--json']);
    expect(report.code, report.stderr).toBe(OLD_STATUS.exitCode);
    // every version the state records, read from the upgraded copy
    expect((JSON.parse(report.stdout) as { totals: { versions: number } }).totals.versions).toBe(Object.keys(FIXTURE_STATES).length);
    unchanged.check('report');
    const exported = await te.cli(['ledger', 'export', job]);
    expect(exported.code, exported.stderr).toBe(0);
    unchanged.check('ledger export');

    // a command that writes still upgrades it
    StateDb.open(path).close();
    expect(snapshot(path).version).toBe(MIGRATIONS.length);
  });

  it('a run continues where release 0.1 was killed: final versions untouched, the rest fetched again, published once, or settled by reading the target', async () => {
    te = await startTestEnv();
    const { privateNpm, github, standIn } = te.sandbox;
    // the sources as they were (same names, versions and bytes; delta 1.1.0 still damaged)
    await seedPackages(privateNpm.url, privateNpm.token, [
      { name: '@acme/alpha', versions: ['0.9.0', '1.0.0', '1.1.0'] },
      { name: '@acme/beta', versions: ['1.0.0'] },
      { name: '@acme/zeta', versions: ['1.0.0'] },
      { name: '@acme/eta', versions: ['1.0.0'] },
    ]);
    await seedPackages(github.url, github.token, [
      { name: '@acme-gh/gamma', versions: ['1.0.0', '1.1.0'] },
      { name: '@acme-gh/delta', versions: ['1.0.0', '1.1.0'] },
      { name: '@acme-gh/theta', versions: ['1.0.0'] },
    ]);
    await corruptStoredTarball(github.storageDir, '@acme-gh/delta', '1.1.0');
    // the target as release 0.1 left it (README): zeta's publish had landed, eta's and theta's had not
    const ep = te.sandbox.descriptor.codeartifact.npmEndpoint;
    const token = await te.targetToken();
    const landed: [string, string, string][] = [
      ['@acme/alpha', '1.0.0', 'latest'],
      ['@acme/alpha', '1.1.0', 'latest'],
      ['@acme/beta', '1.0.0', 'latest'],
      ['@acme-gh/gamma', '1.0.0', 'latest'],
      ['@acme-gh/delta', '1.0.0', 'cam-backfill'],
      ['@acme/zeta', '1.0.0', 'latest'],
    ];
    for (const [name, version, tag] of landed) await publishVersion(ep, token, name, version, await makeTarball(name, version), tag);
    const untag = await fetch(`${ep}-/package/${escapeName('@acme-gh/delta')}/dist-tags/cam-backfill`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(untag.ok).toBe(true);

    const path = placeFixture(te);
    const job = writeFixtureJob(te);
    const before = snapshot(path);
    const oldRows = new Map(before.tables.items!.map((r) => [key(r), r]));
    const mark = standIn.log.at(-1)?.seq ?? 0;

    const r = await te.cli(['run', job, '--json']);
    // delta 1.1.0 is still damaged at the source: the run ends incomplete, as it should
    expect(r.code, r.stderr).toBe(1);
    const summary = JSON.parse(r.stdout) as { failures: { package: string; version: string; code: string }[]; exitCode: number };
    expect(summary.failures.map((f) => [key(f), f.code])).toEqual([['@acme-gh/delta@1.1.0', 'EINTEGRITY']]);

    const log = standIn.log.filter((e) => e.seq > mark);
    const after = snapshot(path);
    expect(after.version).toBe(MIGRATIONS.length);
    const rows = new Map(after.tables.items!.map((x) => [key(x), x]));
    const runId = Math.max(...after.tables.runs!.map((x) => x.id as number));
    const newEvents = (subject: string) => after.tables.events!.filter((e) => e.item_id === rows.get(subject)!.id && e.run_id === runId);

    expect(Object.fromEntries([...rows].map(([k, x]) => [k, x.state]))).toEqual({
      '@acme/alpha@0.9.0': 'excluded',
      '@acme/alpha@1.0.0': 'verified',
      '@acme/alpha@1.1.0': 'verified',
      '@acme/beta@1.0.0': 'present-identical',
      '@acme-gh/gamma@1.0.0': 'verified',
      '@acme-gh/gamma@1.1.0': 'verified',
      '@acme-gh/delta@1.0.0': 'verified',
      '@acme-gh/delta@1.1.0': 'failed',
      '@acme-gh/theta@1.0.0': 'verified',
      '@acme/zeta@1.0.0': 'verified',
      '@acme/eta@1.0.0': 'verified',
    });

    // exactly one publish for each version that needed one, none for the others
    const publishes = new Map<string, number>();
    for (const e of log.filter((x) => x.operation === 'npm:Publish')) publishes.set(`${npmNameOf(e)}@${e.version}`, (publishes.get(`${npmNameOf(e)}@${e.version}`) ?? 0) + 1);
    expect(publishes).toEqual(new Map([['@acme-gh/gamma@1.1.0', 1], ['@acme-gh/theta@1.0.0', 1], ['@acme/eta@1.0.0', 1]]));

    // what release 0.1 finished stays as it was: no request about it, no event, the row unchanged
    for (const [subject, state] of Object.entries(FIXTURE_STATES)) {
      if (!['verified', 'present-identical', 'excluded'].includes(state)) continue;
      const [name, version] = [subject.slice(0, subject.lastIndexOf('@')), subject.slice(subject.lastIndexOf('@') + 1)];
      expect(log.filter((e) => about(e, name, version)), subject).toEqual([]);
      expect(newEvents(subject), subject).toEqual([]);
      const [was, now] = [oldRows.get(subject)!, rows.get(subject)!];
      for (const c of ['state', 'attempts', 'sha512', 'size', 'last_error_code', 'updated_at']) expect(now[c], `${subject} ${c}`).toEqual(was[c]);
    }
    // packages finished by release 0.1 (versions and dist-tags) get no request at all
    for (const name of ['@acme/alpha', '@acme/beta']) expect(log.filter((e) => about(e, name)), name).toEqual([]);

    const blobs = new BlobStore(join(te.stateDir, 'blobs'));
    const assetsOf = (subject: string) => after.tables.assets!.filter((a) => a.item_id === rows.get(subject)!.id);
    // fetched by the dry run, its blob store gone: downloaded again (the same bytes), published once, verified
    // failed after it was fetched: retried the same way
    for (const subject of ['@acme-gh/gamma@1.1.0', '@acme-gh/theta@1.0.0']) {
      const now = rows.get(subject)!;
      expect(now.sha512, subject).toBe(oldRows.get(subject)!.sha512);
      expect(blobs.has(now.sha512 as string, now.size as number), subject).toBe(true);
      expect(newEvents(subject).map((e) => e.to_state).filter((s, i, all) => s !== all[i - 1]), subject).toEqual(['fetched', 'publishing', 'published', 'verified']);
      expect(assetsOf(subject).map((a) => [a.name, a.state, a.attempts]), subject).toEqual([['package.tgz', 'uploaded', 1]]);
    }
    expect(rows.get('@acme-gh/theta@1.0.0')!.attempts).toBe(2);

    // failed on integrity: retried (downloaded and refused again), never published, nothing stored
    const delta = rows.get('@acme-gh/delta@1.1.0')!;
    expect(delta.last_error_code).toBe('EINTEGRITY');
    expect(newEvents('@acme-gh/delta@1.1.0').map((e) => [e.from_state, e.to_state, e.code])).toEqual([['failed', 'failed', 'EINTEGRITY']]);
    expect(delta.sha512).toBeNull();
    expect(assetsOf('@acme-gh/delta@1.1.0')).toEqual([]);

    // publishing, and it had landed: settled by reading the target, not published again
    expect(log.some((e) => e.operation === 'ListPackageVersionAssets' && about(e, '@acme/zeta', '1.0.0'))).toBe(true);
    expect(newEvents('@acme/zeta@1.0.0').map((e) => e.to_state).filter((s) => s !== 'publishing')).toEqual(['published', 'verified']);
    expect(rows.get('@acme/zeta@1.0.0')!.attempts).toBe(1);
    expect(assetsOf('@acme/zeta@1.0.0').map((a) => [a.state, a.attempts])).toEqual([['uploaded', 1]]);

    // publishing, and it had not landed: the target says so, its bytes are fetched again and published once
    const eta = newEvents('@acme/eta@1.0.0').map((e) => e.to_state).filter((s, i, all) => s !== all[i - 1]);
    expect(eta).toEqual(['pending', 'fetched', 'publishing', 'published', 'verified']);
    expect(rows.get('@acme/eta@1.0.0')!.attempts).toBe(2);

    // the target now holds the source's bytes for each
    for (const [ns, pkg, version] of [['acme-gh', 'gamma', '1.1.0'], ['acme-gh', 'theta', '1.0.0'], ['acme', 'eta', '1.0.0'], ['acme', 'zeta', '1.0.0']] as const) {
      const bytes = standIn.assetBytes('npm-internal', 'npm', ns, pkg, version, 'package.tgz');
      expect(bytes?.equals(await makeTarball(`@${ns}/${pkg}`, version)), `@${ns}/${pkg}@${version}`).toBe(true);
    }

    // the old events are all still there, unchanged; this run's come after them
    expect(after.tables.events!.slice(0, before.tables.events!.length)).toEqual(before.tables.events);
    expect(after.tables.events!.slice(before.tables.events!.length).every((e) => e.run_id === runId)).toBe(true);
    expect(after.tables.runs!.slice(0, before.tables.runs!.length)).toEqual(before.tables.runs);
  });
});
