/** state/db and state/migrations: schema versions, the append-only event log, listings and transitions. */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MigrateError } from '../../src/errors.js';
import { StateDb } from '../../src/state/db.js';
import { MIGRATIONS } from '../../src/state/migrations.js';
import type { PackageListing } from '../../src/types.js';

let dir: string;
let path: string;
const open: StateDb[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cam-db-'));
  path = join(dir, 'job.sqlite');
});

afterEach(() => {
  vi.useRealTimers();
  for (const s of open.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});

function openState(p = path): StateDb {
  const s = StateDb.open(p);
  open.push(s);
  return s;
}

/** What `fn` threw (undefined when it threw nothing). */
function refusal(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

function listing(name: string, versions: string[], extra: Partial<PackageListing['versions'][number]> = {}): PackageListing {
  return {
    format: 'npm',
    name,
    distTags: { latest: versions.at(-1)! },
    versions: versions.map((version) => ({ version, integrity: `sha512-${version}`, artifactUrl: `http://registry.test/${name}/-/${version}.tgz`, ...extra })),
  };
}

const tables = (db: Database.Database) =>
  (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);

describe('migrations', () => {
  it('a new database gets every migration and user_version says so', () => {
    const s = openState();
    expect(s.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(tables(s.db)).toEqual(expect.arrayContaining(['items', 'events', 'packages', 'runs']));
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it('reopening applies nothing twice and keeps the rows', () => {
    const first = openState();
    first.recordListing('src', 'http://registry.test/', listing('a', ['1.0.0', '1.1.0']));
    first.close();
    const again = openState();
    expect(again.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(again.items().map((r) => r.version)).toEqual(['1.0.0', '1.1.0']);
    expect(again.items().map((r) => r.state)).toEqual(['pending', 'pending']);
  });

  it('a database newer than the code is refused with ESTATE and left untouched', () => {
    const raw = new Database(path);
    raw.exec('CREATE TABLE future (x)');
    raw.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    raw.close();
    const thrown = refusal(() => openState());
    expect(thrown).toBeInstanceOf(MigrateError);
    expect((thrown as MigrateError).code).toBe('ESTATE');
    expect((thrown as MigrateError).message).toContain(path);
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length + 1);
      expect(tables(check)).toEqual(['future']);
    } finally {
      check.close();
    }
  });

  it("a newer release's state that release was killed over (its write-ahead log beside it) is refused with the log left as it is, never folded into the file; one without a log gets none made beside it", () => {
    StateDb.open(path).close();
    // the newer release upgrades it (a table, user_version) and is killed before anything checkpoints its log
    const killed = spawnSync(process.execPath, [
      '-e',
      `const db = new (require('better-sqlite3'))(${JSON.stringify(path)});
       db.pragma('wal_autocheckpoint = 0'); db.exec('CREATE TABLE future (x); INSERT INTO future VALUES (1)'); db.pragma('user_version = ${MIGRATIONS.length + 1}');
       process.kill(process.pid, 'SIGKILL');`,
    ], { cwd: join(import.meta.dirname, '../..') });
    expect(killed.signal).toBe('SIGKILL');
    const file = readFileSync(path);
    const log = readFileSync(`${path}-wal`);
    for (const open of [() => StateDb.open(path), () => StateDb.openToRead(path)]) {
      const thrown = refusal(open);
      expect((thrown as MigrateError).code).toBe('ESTATE');
      expect((thrown as MigrateError).message).toMatch(/newer codeartifact-migrate/);
      expect(readFileSync(path).equals(file), 'the file changed').toBe(true);
      expect(readFileSync(`${path}-wal`).equals(log), 'the log changed or was folded in').toBe(true);
    }

    // once that release closed it (its log folded in, none left): no -wal or -shm is made beside it
    const raw = new Database(path);
    raw.pragma('wal_checkpoint(TRUNCATE)');
    raw.close();
    expect(readdirSync(dir).sort()).toEqual(['job.sqlite']);
    const closed = readFileSync(path);
    for (const open of [() => StateDb.open(path), () => StateDb.openToRead(path)]) {
      expect((refusal(open) as MigrateError).code).toBe('ESTATE');
      expect(readdirSync(dir).sort()).toEqual(['job.sqlite']);
      expect(readFileSync(path).equals(closed)).toBe(true);
    }
  });

  it.each([
    { what: 'at schema 0 holding tables of its own', version: 0 },
    { what: 'at a schema of ours (3) without our tables', version: 3 },
  ])("another program's SQLite database renamed to <job>.sqlite ($what) is ESTATE saying it is no state of this tool, and gets nothing of ours written into it", ({ version }) => {
    const raw = new Database(path);
    raw.exec("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT); INSERT INTO moz_places (url) VALUES ('https://example.test/')");
    raw.pragma(`user_version = ${version}`);
    raw.close();
    const bytes = readFileSync(path);
    for (const open of [() => StateDb.open(path), () => StateDb.openToRead(path)]) {
      const thrown = refusal(open);
      expect(thrown).toBeInstanceOf(MigrateError);
      expect((thrown as MigrateError).code).toBe('ESTATE');
      expect((thrown as MigrateError).message).toContain(path);
      expect((thrown as MigrateError).message).toMatch(/not a codeartifact-migrate state/);
      expect((thrown as MigrateError).message).toContain('moz_places');
      expect(readFileSync(path).equals(bytes), 'the file was written').toBe(true);
      expect(readdirSync(dir)).toEqual(['job.sqlite']);
    }
  });

  it('a migration that fails is rolled back whole: user_version and the schema stay as they were', () => {
    const raw = new Database(path);
    // `runs` is created last by migration 1: make it collide, after items and events were created
    raw.exec('CREATE TABLE runs (x)');
    raw.close();
    expect(() => StateDb.open(path)).toThrow();
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(0);
      expect(tables(check)).toEqual(['runs']);
    } finally {
      check.close();
    }
  });

  it('a state file of 0 bytes (a copy cut short, a failed restore) is ESTATE, never taken for a new state, and left as it is', () => {
    writeFileSync(path, '');
    const thrown = refusal(() => openState());
    expect((thrown as MigrateError).code).toBe('ESTATE');
    expect((thrown as MigrateError).message).toBe(`the state database ${path} is empty (0 bytes): it is no state this tool wrote`);
    expect((thrown as MigrateError).hint).toMatch(/restore it from a copy/);
    expect(statSync(path).size).toBe(0);
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('a state file of 1 byte (`echo > job.sqlite`, a copy cut after its first byte) is ESTATE too, never taken for a new state and written over', () => {
    // SQLite takes a file of one byte for an empty database, as it does one of 0 bytes
    writeFileSync(path, '\n');
    const thrown = refusal(() => openState());
    expect(thrown).toBeInstanceOf(MigrateError);
    expect((thrown as MigrateError).code).toBe('ESTATE');
    expect((thrown as MigrateError).message).toContain(path);
    expect((thrown as MigrateError).message).toMatch(/1 byte/);
    expect(readFileSync(path, 'utf8')).toBe('\n');
    expect(readdirSync(dir)).toEqual(['job.sqlite']);
  });

  it('a state file deleted after a killed run, its write-ahead log left beside it (`rm job.sqlite`), is ESTATE naming the log: no new state is made over it, and the log is kept', () => {
    // a run killed with SIGKILL leaves its last transactions in job.sqlite-wal (nothing folded them into the file)
    const s = openState();
    s.recordListing('src', 'http://registry.test/', listing('big', Array.from({ length: 500 }, (_, i) => `1.0.${i}`)));
    open.splice(open.indexOf(s), 1);
    s.close();
    const killed = spawnSync(
      process.execPath,
      ['-e', `const db = new (require('better-sqlite3'))(${JSON.stringify(path)}); db.pragma('wal_autocheckpoint = 0'); db.exec("INSERT INTO runs (started_at, dry_run) VALUES ('now', 0)"); process.kill(process.pid, 'SIGKILL');`],
      { cwd: join(import.meta.dirname, '../..') },
    );
    expect(killed.signal, killed.stderr.toString()).toBe('SIGKILL');
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
    rmSync(path);
    const wal = readFileSync(`${path}-wal`);
    const thrown = refusal(() => openState());
    expect(thrown).toBeInstanceOf(MigrateError);
    expect((thrown as MigrateError).code).toBe('ESTATE');
    expect((thrown as MigrateError).message).toContain(`${path}-wal`);
    expect((thrown as MigrateError).hint).toMatch(/start over/);
    expect(existsSync(path)).toBe(false);
    expect(readFileSync(`${path}-wal`).equals(wal)).toBe(true);
  });

  it('a state restored from an older copy while a killed run\'s write-ahead log lies beside it is ESTATE saying so: the log is never laid over the copy for good, and both are left as they are', () => {
    const seed = (names: string[]) => {
      const s = StateDb.open(path);
      s.recordListing('src', 'http://registry.test/', listing(names[0]!, names));
      s.close(); // the last connection folds the log into the file
    };
    seed(Array.from({ length: 50 }, (_, i) => `0.0.${i}`));
    const backup = readFileSync(path);
    seed(Array.from({ length: 1000 }, (_, i) => `1.0.${i}`));
    const killed = spawnSync(
      process.execPath,
      ['-e', `const db = new (require('better-sqlite3'))(${JSON.stringify(path)}); db.pragma('wal_autocheckpoint = 0'); db.exec("INSERT INTO runs (started_at, dry_run) VALUES ('now', 0); UPDATE items SET attempts = 1"); process.kill(process.pid, 'SIGKILL');`],
      { cwd: join(import.meta.dirname, '../..') },
    );
    expect(killed.signal, killed.stderr.toString()).toBe('SIGKILL');
    writeFileSync(path, backup); // the restore: the file alone
    const wal = readFileSync(`${path}-wal`);
    for (const read of [false, true]) {
      const thrown = refusal(() => {
        const s = read ? StateDb.openToRead(path) : StateDb.open(path);
        s.close();
      });
      expect(thrown, read ? 'openToRead' : 'open').toBeInstanceOf(MigrateError);
      expect((thrown as MigrateError).code).toBe('ESTATE');
      expect((thrown as MigrateError).message).toContain(`${path}-wal`);
      expect((thrown as MigrateError).hint).toMatch(/move .*-wal/);
      expect(readFileSync(path).equals(backup)).toBe(true);
      expect(readFileSync(`${path}-wal`).equals(wal)).toBe(true);
    }
    // the log moved away, the copy opens as it was
    renameSync(`${path}-wal`, join(dir, 'kept-wal'));
    rmSync(`${path}-shm`, { force: true });
    expect(openState().items()).toHaveLength(50);
  });

  it('a state file that is a link to nothing (its disk not mounted) is ESTATE naming where it points, and the link is kept, never replaced by a new state', () => {
    const away = join(dir, 'unmounted', 'job.sqlite');
    symlinkSync(away, path);
    const thrown = refusal(() => openState());
    expect((thrown as MigrateError).code).toBe('ESTATE');
    expect((thrown as MigrateError).message).toContain(away);
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
    expect(readlinkSync(path)).toBe(away);
    expect(readdirSync(dir).sort()).toEqual(['job.sqlite']);
  });

  it('a link to (or a copy of) another job\'s state under this job\'s name is ESTATE naming both jobs, and that state gets nothing from it; its own name and a state from before the job was recorded open', () => {
    const demo = openState(join(dir, 'demo.sqlite'));
    demo.startRun(false);
    const runs = () => (demo.db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n;
    const other = join(dir, 'other.sqlite');
    symlinkSync(join(dir, 'demo.sqlite'), other);
    const thrown = refusal(() => openState(other));
    expect((thrown as MigrateError).code).toBe('ESTATE');
    expect((thrown as MigrateError).message).toContain('holds the state of job "demo", not of "other"');
    expect((thrown as MigrateError).hint).toContain('name: demo');
    expect(runs()).toBe(1);
    expect(demo.db.prepare('SELECT name FROM job').all()).toEqual([{ name: 'demo' }]);
    // its own name opens it again; one from before schema 9 records the name its file has
    openState(join(dir, 'demo.sqlite'));
    demo.db.exec('DELETE FROM job');
    openState(other);
    expect(demo.db.prepare('SELECT name FROM job').all()).toEqual([{ name: 'other' }]);
  });

  it('a new state file appears whole (made beside its place, then renamed): what a creation killed half-way left there is removed, never taken for the state', () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const leftover = `${path}.new-${dead}-1700000000000`;
    writeFileSync(leftover, '');
    const s = openState();
    expect(s.items()).toEqual([]);
    expect(existsSync(leftover)).toBe(false);
    expect(statSync(path).size).toBeGreaterThan(0);
    expect(readdirSync(dir).filter((f) => f.includes('.new-'))).toEqual([]);
  });

  /** A state of 3,000 versions closed, then every page after the schema's garbled (the items table's): its bytes. */
  function damagedState(): Buffer {
    const s = openState();
    s.recordListing('src', 'http://registry.test/', listing('big', Array.from({ length: 3000 }, (_, i) => `1.0.${i}`)));
    open.splice(open.indexOf(s), 1);
    s.close();
    const bytes = readFileSync(path);
    for (let page = 2; page * 4096 < bytes.length; page++) bytes.fill(0xa5, page * 4096 + 8, page * 4096 + 4096);
    writeFileSync(path, bytes);
    return bytes;
  }

  it('a damaged page is ESTATE saying so, with how to recover (not "check the file is writable")', () => {
    damagedState();
    let thrown: unknown;
    try {
      const again = openState();
      again.recordListing('src', 'http://registry.test/', listing('big', ['2.0.0']));
      again.items();
    } catch (e) {
      thrown = e;
    }
    expect((thrown as MigrateError).code).toBe('ESTATE');
    expect((thrown as MigrateError).message).toMatch(/is damaged: .*\(SQLITE_(CORRUPT|NOTADB)\)$/);
    expect((thrown as MigrateError).hint).toMatch(/\.recover/);
  });

  it('a database another process holds locked (a sqlite3 shell in a transaction) is ESTATE naming the file and that process, not "check it is writable"', () => {
    const s = openState();
    const holder = new Database(path);
    holder.exec('BEGIN EXCLUSIVE');
    let thrown: unknown;
    try {
      s.startRun(false);
    } catch (e) {
      thrown = e;
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect((thrown as MigrateError).code).toBe('ESTATE');
    expect((thrown as MigrateError).message).toContain(path);
    expect((thrown as MigrateError).message).toMatch(/\(SQLITE_BUSY\)$/);
    expect((thrown as MigrateError).hint).toMatch(/another process/);
    expect((thrown as MigrateError).hint).not.toMatch(/writable/);
    // nothing was recorded: the run can start once the other process let go
    expect(s.startRun(false)).toBeGreaterThan(0);
  }, 20_000);

  it('an upgrade while another process holds the database locked is ESTATE saying so (not "check the disk"), and the schema stays where it was until it lets go', () => {
    // a state from the release before the last migration
    const raw = new Database(path);
    raw.pragma('journal_mode = WAL');
    MIGRATIONS.slice(0, -1).forEach((sql, i) => {
      raw.exec(sql);
      raw.pragma(`user_version = ${i + 1}`);
    });
    raw.close();
    const holder = new Database(path);
    holder.exec('BEGIN EXCLUSIVE');
    let thrown: unknown;
    try {
      thrown = refusal(() => openState());
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect(thrown).toBeInstanceOf(MigrateError);
    expect((thrown as MigrateError).code).toBe('ESTATE');
    expect((thrown as MigrateError).message).toContain(path);
    expect((thrown as MigrateError).hint).toMatch(/another process/);
    expect((thrown as MigrateError).hint).not.toMatch(/check the disk/);
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length - 1);
    } finally {
      check.close();
    }
    expect(openState().db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
  }, 20_000);

  it('a path that cannot hold a database is ESTATE', () => {
    const thrown = refusal(() => openState(dir)); // a directory
    expect((thrown as MigrateError).code).toBe('ESTATE');
  });

  // root ignores file modes; an immutable file and folder (chattr +i) refuse even root, as a
  // read-only mount or a folder of another user refuse anyone else
  const immutable = spawnSync('sh', ['-c', `f=$(mktemp -p ${JSON.stringify(tmpdir())}) && chattr +i "$f" && chattr -i "$f" && rm "$f"`]).status === 0;
  it.skipIf(!immutable)('a damaged state this user may only read (status, report on their private copy) is ESTATE naming the state and how to recover it, never the temp copy deleted at once', () => {
    const bytes = damagedState();
    const chattr = (flag: string) => expect(spawnSync('chattr', [flag, path, dir]).status).toBe(0);
    chattr('+i');
    let thrown: MigrateError;
    try {
      thrown = refusal(() => {
        const read = StateDb.openToRead(path);
        try {
          read.items();
        } finally {
          read.close();
        }
      }) as MigrateError;
    } finally {
      chattr('-i');
    }
    expect(thrown).toBeInstanceOf(MigrateError);
    expect(thrown.code).toBe('ESTATE');
    expect(thrown.message).toContain(`the state database ${path} is damaged`);
    expect(thrown.hint).toContain(`sqlite3 ${path} .recover`);
    expect(`${thrown.message} ${thrown.hint}`).not.toContain('codeartifact-migrate-read-');
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it.skipIf(!immutable)('a state whose folder (and file) this user may not write is ESTATE telling to keep the file, never to move it away; it is left byte for byte, and read-only commands still read it', () => {
    const s = openState();
    s.startRun(false);
    s.close();
    const bytes = readFileSync(path);
    const chattr = (flag: string) => expect(spawnSync('chattr', [flag, path, dir]).status).toBe(0);
    chattr('+i');
    try {
      const thrown = refusal(() => openState()) as MigrateError;
      expect(thrown).toBeInstanceOf(MigrateError);
      expect(thrown.code).toBe('ESTATE');
      expect(thrown.message).toContain(path);
      expect(thrown.hint).toMatch(/Keep the file/);
      expect(thrown.hint).not.toMatch(/move the file away/);
      expect(readdirSync(dir)).toEqual(['job.sqlite']);
      expect(readFileSync(path).equals(bytes)).toBe(true);
      const read = StateDb.openToRead(path);
      open.push(read);
      expect(read.db.prepare('SELECT count(*) AS n FROM runs').get()).toEqual({ n: 1 });
    } finally {
      chattr('-i');
    }
  });

  it.skipIf(!immutable)('a read-only command whose private copy cannot be made (the temp folder unusable) is ELOCAL naming the temp folder and TMPDIR, not a raw error nor "give this user read access"; the state is left byte for byte', () => {
    const s = openState();
    s.startRun(false);
    s.db.pragma('wal_checkpoint(TRUNCATE)');
    s.close();
    const bytes = readFileSync(path);
    // TMPDIR naming a file (a mistyped variable): nothing can be made in it
    const notAFolder = join(dir, 'not-a-folder');
    writeFileSync(notAFolder, '');
    const was = process.env.TMPDIR;
    const chattr = (flag: string) => expect(spawnSync('chattr', [flag, path, dir]).status).toBe(0);
    chattr('+i');
    process.env.TMPDIR = notAFolder;
    try {
      const thrown = refusal(() => open.push(StateDb.openToRead(path))) as MigrateError;
      expect(thrown).toBeInstanceOf(MigrateError);
      expect(thrown.code).toBe('ELOCAL');
      expect(thrown.message).toContain(notAFolder);
      expect(thrown.hint).toMatch(/TMPDIR/);
    } finally {
      if (was === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = was;
      chattr('-i');
    }
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });
});

describe('the event log is append-only', () => {
  it('UPDATE and DELETE on events raise', () => {
    const s = openState();
    s.recordListing('src', 'http://registry.test/', listing('a', ['1.0.0']));
    const id = s.items()[0]!.id;
    s.transition(id, 'fetched');
    expect(() => s.db.prepare("UPDATE events SET detail = 'rewritten'").run()).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_TRIGGER' }));
    expect(() => s.db.prepare('DELETE FROM events WHERE item_id = ?').run(id)).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_TRIGGER' }));
    expect(s.events(id).map((e) => e.to_state)).toEqual(['pending', 'fetched']);
    expect(s.events(id).every((e) => e.detail !== 'rewritten')).toBe(true);
  });
});

describe('the database file deleted or replaced under an open state', () => {
  it('deleted: the next write is refused with ESTATE, and what was recorded is written out again at its path, whole', () => {
    const s = openState();
    s.recordListing('src', 'http://registry.test/', listing('a', ['1.0.0', '1.1.0']));
    const [first] = s.items();
    s.transition(first!.id, 'verified');
    for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true });
    const e = refusal(() => s.transition(first!.id, 'verified')) as MigrateError;
    expect(e).toBeInstanceOf(MigrateError);
    expect(e.code).toBe('ESTATE');
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/deleted/);
    expect(e.hint).toContain(`saved again at ${path}`);
    // every later write too, without writing it out a second time
    expect(refusal(() => s.startRun(false))).toBe(e);
    const saved = new Database(path, { readonly: true });
    try {
      expect(saved.prepare('SELECT version, state FROM items ORDER BY version').all()).toEqual([
        { version: '1.0.0', state: 'verified' },
        { version: '1.1.0', state: 'pending' },
      ]);
    } finally {
      saved.close();
    }
  });

  it('replaced by another file: that file is left as it is, and what was recorded is written beside it', () => {
    const s = openState();
    s.recordListing('src', 'http://registry.test/', listing('a', ['1.0.0']));
    const other = join(dir, 'other.sqlite');
    writeFileSync(other, 'not ours');
    renameSync(other, path);
    const e = refusal(() => s.startRun(false)) as MigrateError;
    expect(e.code).toBe('ESTATE');
    expect(e.message).toMatch(/replaced by another file/);
    expect(readFileSync(path, 'utf8')).toBe('not ours');
    const rescued = readdirSync(dir).filter((f) => f.startsWith('job.sqlite.rescued-'));
    expect(rescued).toHaveLength(1);
    expect(e.hint).toContain(join(dir, rescued[0]!));
    const saved = new Database(join(dir, rescued[0]!), { readonly: true });
    try {
      expect(saved.prepare('SELECT version FROM items').all()).toEqual([{ version: '1.0.0' }]);
    } finally {
      saved.close();
    }
  });
});

describe('recordListing', () => {
  it('new versions become pending items with one "listed" event each', () => {
    const s = openState();
    s.recordListing('src', 'http://registry.test/', listing('@acme/core', ['1.0.0', '1.1.0', '2.0.0-rc.1']));
    const rows = s.items();
    expect(rows.map((r) => [r.version, r.state, r.ordinal])).toEqual([
      ['1.0.0', 'pending', 0],
      ['1.1.0', 'pending', 1],
      ['2.0.0-rc.1', 'pending', 2],
    ]);
    for (const r of rows) {
      expect(s.events(r.id).map((e) => [e.from_state, e.to_state])).toEqual([[null, 'pending']]);
      expect(r.registry_url).toBe('http://registry.test/');
    }
    expect(s.packages().map((p) => [p.package, JSON.parse(p.dist_tags), p.meta_state])).toEqual([['@acme/core', { latest: '2.0.0-rc.1' }, 'pending']]);
  });

  it('is idempotent: listing again adds no rows and no events, and keeps every state', () => {
    const s = openState();
    const l = listing('a', ['1.0.0', '1.1.0']);
    s.recordListing('src', 'http://registry.test/', l);
    const [first, second] = s.items();
    s.transition(first!.id, 'verified');
    s.transition(second!.id, 'failed', { error: { code: 'ESOURCE', message: 'down' } });
    const eventsBefore = s.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number };
    for (let i = 0; i < 3; i++) s.recordListing('src', 'http://registry.test/', l);
    expect(s.items().map((r) => [r.id, r.state])).toEqual([
      [first!.id, 'verified'],
      [second!.id, 'failed'],
    ]);
    expect(s.db.prepare('SELECT count(*) AS n FROM events').get()).toEqual(eventsBefore);
  });

  it('two listings within the same millisecond are still one "listed" event', () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['Date'] });
    const s = openState();
    s.recordListing('src', 'http://registry.test/', listing('a', ['1.0.0']));
    s.recordListing('src', 'http://registry.test/', listing('a', ['1.0.0']));
    expect(s.events(s.items()[0]!.id)).toHaveLength(1);
  });

  it('refreshes provenance of known versions and adds the new ones', () => {
    const s = openState();
    s.recordListing('src', 'http://registry.test/', listing('a', ['1.0.0']));
    const id = s.items()[0]!.id;
    s.transition(id, 'verified');
    s.recordListing('src', 'http://registry.test/', listing('a', ['1.0.0', '1.0.1'], { deprecated: 'use 2.x', publishedAt: '2020-01-01T00:00:00.000Z' }));
    const rows = s.items();
    expect(rows.map((r) => [r.version, r.state, r.deprecated, r.source_published_at])).toEqual([
      ['1.0.0', 'verified', 'use 2.x', '2020-01-01T00:00:00.000Z'],
      ['1.0.1', 'pending', 'use 2.x', '2020-01-01T00:00:00.000Z'],
    ]);
    expect(rows[0]!.id).toBe(id);
  });

  it('the same name from two sources is two items', () => {
    const s = openState();
    s.recordListing('one', 'http://one.test/', listing('a', ['1.0.0']));
    s.recordListing('two', 'http://two.test/', listing('a', ['1.0.0']));
    expect(s.items().map((r) => r.source_id).sort()).toEqual(['one', 'two']);
  });

  it('a successful listing clears the list error recorded before', () => {
    const s = openState();
    s.recordListError('src', 'npm', 'a', 'ESOURCE', 'down');
    expect(s.packages()[0]!.list_error_code).toBe('ESOURCE');
    s.recordListing('src', 'http://registry.test/', listing('a', ['1.0.0']));
    expect(s.packages()[0]!.list_error_code).toBeNull();
  });
});

describe('transition', () => {
  it('writes the row and exactly one event, in the current run', () => {
    const s = openState();
    s.recordListing('src', 'http://registry.test/', listing('a', ['1.0.0']));
    const runId = s.startRun(false);
    const id = s.items()[0]!.id;
    const hashes = { md5: 'm'.repeat(32), sha1: 'a'.repeat(40), sha256: 'b'.repeat(64), sha512: 'c'.repeat(128) };

    const fetched = s.transition(id, 'fetched', { hashes, size: 123, integrityWeak: true }, 'weak integrity');
    expect(fetched).toMatchObject({ state: 'fetched', sha512: hashes.sha512, sha1: hashes.sha1, sha256: hashes.sha256, md5: hashes.md5, size: 123, integrity_weak: 1, attempts: 0 });
    expect(s.events(id)).toHaveLength(2);
    expect(s.events(id)[1]).toMatchObject({ from_state: 'pending', to_state: 'fetched', detail: 'weak integrity', run_id: runId, code: null });

    const publishing = s.transition(id, 'publishing', { countAttempt: true });
    expect(publishing.attempts).toBe(1);
    const failed = s.transition(id, 'failed', { error: { code: 'ETARGET', message: 'HTTP 503' }, countAttempt: true });
    expect(failed).toMatchObject({ state: 'failed', attempts: 2, last_error_code: 'ETARGET', last_error: 'HTTP 503' });
    expect(s.events(id).at(-1)).toMatchObject({ from_state: 'publishing', to_state: 'failed', code: 'ETARGET', detail: 'HTTP 503' });

    const cleared = s.transition(id, 'published', { error: null });
    expect(cleared).toMatchObject({ state: 'published', last_error_code: null, last_error: null, attempts: 2, sha512: hashes.sha512 });
    expect(s.events(id).map((e) => e.to_state)).toEqual(['pending', 'fetched', 'publishing', 'failed', 'published']);
  });

  it('an unknown item is ESTATE and writes no event', () => {
    const s = openState();
    expect(() => s.transition(999, 'fetched')).toThrow(expect.objectContaining({ code: 'ESTATE' }));
    expect(s.db.prepare('SELECT count(*) AS n FROM events').get()).toEqual({ n: 0 });
  });

  it('counts reflect the states', () => {
    const s = openState();
    s.recordListing('src', 'http://registry.test/', listing('a', ['1.0.0', '1.1.0', '1.2.0']));
    s.transition(s.items()[0]!.id, 'excluded');
    expect(s.counts()).toEqual({ pending: 2, excluded: 1 });
  });
});

describe('runs', () => {
  it('startRun and endRun record the run and its summary', () => {
    const s = openState();
    const id = s.startRun(true);
    s.endRun('complete', { exitCode: 0 });
    expect(s.lastRun()).toMatchObject({ id, dry_run: 1, outcome: 'complete' });
    expect(JSON.parse(s.lastRun()!.summary!)).toEqual({ exitCode: 0 });
  });
});

describe('snapshot', () => {
  it('reads as of one moment: a write from another connection in between is not seen inside, and is seen after', () => {
    const reader = openState();
    const writer = openState();
    writer.startRun(false);
    const inside = reader.snapshot(() => {
      const first = reader.lastRun()?.id;
      writer.startRun(false); // another process's run moving on, between two reads
      return { first, second: reader.lastRun()?.id };
    });
    expect(inside.second).toBe(inside.first);
    expect(reader.lastRun()?.id).toBe(inside.first! + 1);
  });
});

describe('retarget', () => {
  const asset = (name: string) => ({ name, size: 3, hashes: { md5: 'a', sha1: 'b', sha256: 'c', sha512: 'd' } });
  const hashes = { md5: 'a', sha1: 'b', sha256: 'c', sha512: 'd' };

  it('what spoke of the old target goes back to fetched (files kept) or pending; a moved tag, a skip, an exclusion and a removal stay; every upload is undone', () => {
    const s = openState();
    s.recordListing('src', 'http://registry.test/', listing('a', ['1.0.0', '1.1.0', '1.2.0', '1.3.0', '1.4.0', '1.5.0', '1.6.0']));
    const id = (v: string) => s.items('version = ?', v)[0]!.id;
    const fetched = (v: string) => s.transition(id(v), 'fetched', { hashes, size: 3, assets: [asset('package.tgz')] });
    fetched('1.0.0');
    s.transition(id('1.0.0'), 'publishing', { countAttempt: true });
    s.setAssetState(s.assetsOf(id('1.0.0'))[0]!, 'uploaded', 'sent');
    s.transition(id('1.0.0'), 'published');
    s.transition(id('1.0.0'), 'verified');
    fetched('1.1.0');
    s.transition(id('1.1.0'), 'conflict', { targetSha512: 'e', error: { code: 'ECONFLICT', message: 'other bytes' } });
    fetched('1.2.0');
    s.transition(id('1.2.0'), 'conflict', { error: { code: 'ETAGMOVED', message: 'tag moved' } });
    s.transition(id('1.3.0'), 'excluded');
    s.transition(id('1.4.0'), 'failed', { error: { code: 'ESOURCE', message: 'down' }, countAttempt: true });
    s.transition(id('1.5.0'), 'present-identical');
    const target = { region: 'us-east-1', domainOwner: '111122223333', domain: 'acme', repositories: { npm: 'npm-prod' } };

    expect(s.retarget(target, 'the target moved: npm repository npm-internal → npm-prod')).toEqual({ versions: 3, warmEntries: 0 });
    const state = (v: string) => s.item(id(v));
    expect(['1.0.0', '1.1.0', '1.2.0', '1.3.0', '1.4.0', '1.5.0', '1.6.0'].map((v) => [v, state(v).state])).toEqual([
      ['1.0.0', 'fetched'],
      ['1.1.0', 'fetched'],
      ['1.2.0', 'conflict'],
      ['1.3.0', 'excluded'],
      ['1.4.0', 'failed'],
      ['1.5.0', 'pending'],
      ['1.6.0', 'pending'],
    ]);
    expect(state('1.0.0').sha512).toBe('d');
    expect(state('1.1.0').target_sha512).toBeNull();
    for (const v of ['1.0.0', '1.4.0']) expect(state(v).attempts).toBe(0);
    expect(s.assetsOf(id('1.0.0')).map((a) => [a.state, a.attempts])).toEqual([['stored', 0]]);
    expect(s.events(id('1.0.0')).at(-1)).toEqual(expect.objectContaining({ from_state: 'verified', to_state: 'fetched', code: 'ETARGETCHANGED', detail: expect.stringContaining('npm-prod') }));
    expect(s.recordedTarget()).toEqual(target);
  });
});
