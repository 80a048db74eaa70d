/**
 * state/lock: one run per job, held by the operating system (an exclusive SQLite
 * transaction), so a dead holder's lock is simply free and two live processes can
 * never both hold it.
 */
import Database from 'better-sqlite3';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MigrateError } from '../../src/errors.js';
import { isAlive } from '../../src/alive.js';
import { acquireJobLock, acquireLock, existingState, noStateError } from '../../src/state/lock.js';
import { ROOT, TSX_LOADER } from '../support/harness.js';
import { thrown } from '../support/thrown.js';

let dir: string;
let base: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cam-lock-'));
  base = join(dir, 'job');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function lockError(): MigrateError {
  try {
    acquireLock(base);
  } catch (e) {
    expect(e).toBeInstanceOf(MigrateError);
    return e as MigrateError;
  }
  throw new Error('the lock was granted twice');
}

const contender = (args: string[]): ChildProcess =>
  spawn(process.execPath, ['--import', TSX_LOADER, join(ROOT, 'test/support/lock-contender.ts'), base, join(dir, 'events.log'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });

async function holder(): Promise<ChildProcess> {
  const child = contender(['hold']);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  while (!out.includes('held')) {
    if (child.exitCode !== null) throw new Error('the holder exited before taking the lock');
    await new Promise((r) => setTimeout(r, 20));
  }
  return child;
}

describe('acquireLock', () => {
  it("a contender's momentary read of the lock (the shared step SQLite takes on its way to the exclusive one) is no holder: the lock is taken once it passes, not refused as held", async () => {
    // two contenders at the same instant: one holds the shared step while the other asks for the
    // exclusive lock; with no wait at all both were refused, and neither command ran
    const release = acquireLock(base);
    release();
    const reader = new Database(`${base}.lock.db`);
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM sqlite_master').get();
    const go = join(dir, 'go');
    const child = contender(['once', go]);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 10));
      writeFileSync(go, '');
      await new Promise((r) => setTimeout(r, 30));
    } finally {
      reader.exec('COMMIT');
      reader.close();
    }
    if (child.exitCode === null) await once(child, 'exit');
    expect(out.trim().split('\n').pop()).toBe('got');
  });

  it('the hint speaks of another state directory only when the holder works from another one', () => {
    const release = acquireLock(base, { stateDir: '/srv/state-a' });
    try {
      expect(thrown(() => acquireLock(base, { stateDir: '/srv/state-a' })).hint).toMatch(/^wait for it to finish, or stop it/);
      expect(thrown(() => acquireLock(base, { stateDir: '/srv/state-b' })).hint).toMatch(/from another state directory/);
    } finally {
      release();
    }
  });

  it("an old release's pid lock file whose pid now belongs to another program (a sleep) is stale: removed, the lock taken", async () => {
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await once(other, 'spawn');
      writeFileSync(`${base}.lock`, String(other.pid));
      const release = acquireLock(base);
      expect(existsSync(`${base}.lock`)).toBe(false);
      release();
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('records the owner; release frees it and removes the owner file; the lock can be taken again', () => {
    const release = acquireLock(base);
    expect(JSON.parse(readFileSync(`${base}.lock.owner`, 'utf8'))).toMatchObject({ pid: process.pid });
    release();
    expect(existsSync(`${base}.lock.owner`)).toBe(false);
    acquireLock(base)();
  });

  it('a second acquire in this process while it holds it is ELOCKED naming the holder, and the lock stays held', () => {
    const release = acquireLock(base);
    try {
      const e = lockError();
      expect(e.code).toBe('ELOCKED');
      expect(e.message).toContain(`pid ${process.pid}`);
      expect(lockError().code).toBe('ELOCKED');
    } finally {
      release();
    }
  });

  it('another live process holds it: ELOCKED naming its pid; once it is killed -9 the lock is free at once', async () => {
    const child = await holder();
    try {
      const e = lockError();
      expect(e.code).toBe('ELOCKED');
      expect(e.message).toContain(`pid ${child.pid}`);
    } finally {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    // the system released it with the process: nothing to take over, no pid to judge
    const release = acquireLock(base);
    expect(JSON.parse(readFileSync(`${base}.lock.owner`, 'utf8'))).toMatchObject({ pid: process.pid });
    release();
  });

  it('an owner file that is empty or garbage changes nothing: free is free, held is held', () => {
    writeFileSync(`${base}.lock.owner`, '');
    const release = acquireLock(base);
    writeFileSync(`${base}.lock.owner`, 'garbage');
    const e = lockError();
    expect(e.code).toBe('ELOCKED');
    expect(e.message).toContain('another process');
    release();
    acquireLock(base)();
  });

  it("a contender that finds the owner file not written yet, or a dead holder's, reads it again: it names the live holder, never a dead pid", async () => {
    const release = acquireLock(base);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    const owner = readFileSync(`${base}.lock.owner`, 'utf8');
    try {
      expect(isAlive(dead)).toBe(false);
      // what a holder killed -9 left, while the new holder has not written its own yet
      writeFileSync(`${base}.lock.owner`, JSON.stringify({ ...JSON.parse(owner), pid: dead }));
      const stale = lockError();
      expect(stale.code).toBe('ELOCKED');
      expect(stale.message).not.toContain(`pid ${dead}`);
      expect(stale.message).toContain('another process');
      // the holder writes its file 100 ms after the contender found none: the contender waits for it and names it
      const path = `${base}.lock.owner`;
      const script = `const fs = require('fs'); console.log('ready'); const t = setInterval(() => { if (!fs.existsSync(${JSON.stringify(path)})) { clearInterval(t); setTimeout(() => fs.writeFileSync(${JSON.stringify(path)}, ${JSON.stringify(owner)}), 100); } }, 5);`;
      const writer = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const written = once(writer, 'exit');
      await once(writer.stdout!, 'data');
      rmSync(path);
      const late = lockError();
      await written;
      expect(late.code).toBe('ELOCKED');
      expect(late.message).toContain(`pid ${process.pid}`);
    } finally {
      release();
    }
  });

  it('release() only ever releases its own lock, and twice is harmless', () => {
    const releaseA = acquireLock(base);
    releaseA();
    const releaseB = acquireLock(base);
    releaseA(); // a stale release from the previous holder
    expect(lockError().code).toBe('ELOCKED');
    releaseB();
    acquireLock(base)();
  });

  it('8 processes competing for 2 s never hold it at the same time', async () => {
    const children = Array.from({ length: 8 }, () => contender(['2000']));
    const counts = await Promise.all(
      children.map(async (c) => {
        let out = '';
        c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        const [code] = (await once(c, 'exit')) as [number];
        expect(code).toBe(0);
        return Number(out.trim());
      }),
    );
    const events = readFileSync(join(dir, 'events.log'), 'utf8').trim().split('\n');
    let holder: string | undefined;
    for (const line of events) {
      const [what, pid] = line.split(' ');
      if (what === 'acq') {
        expect(holder, `pid ${pid} took the lock while pid ${holder} held it`).toBeUndefined();
        holder = pid;
      } else {
        expect(pid).toBe(holder);
        holder = undefined;
      }
    }
    // the contest was real: many acquisitions, by more than one process
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThan(20);
    expect(counts.filter((n) => n > 0).length).toBeGreaterThan(1);
  });

  it('a pid lock file of the previous release: refused while its process lives, removed when it is gone', async () => {
    // the old release as its bin ran it: a process that calls itself cam
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', argv0: 'cam' });
    try {
      writeFileSync(`${base}.lock`, String(child.pid));
      expect(lockError().code).toBe('ELOCKED');
    } finally {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    expect(isAlive(dead)).toBe(false);
    writeFileSync(`${base}.lock`, String(dead));
    acquireLock(base)();
    expect(existsSync(`${base}.lock`)).toBe(false);
  });

  it("a folder (or anything but a file) where an old release's pid lock file goes is ESTATE naming it, left as it is, no lock taken", () => {
    mkdirSync(`${base}.lock`);
    const e = thrown(() => acquireLock(base)) as MigrateError;
    expect(e).toBeInstanceOf(MigrateError);
    expect(e.code).toBe('ESTATE');
    expect(e.message).toContain(`${base}.lock`);
    expect(statSync(`${base}.lock`).isDirectory()).toBe(true);
    // nothing held: once it is moved away the lock is taken
    rmSync(`${base}.lock`, { recursive: true });
    acquireLock(base)();
  });

  it('a folder where the owner file goes changes nothing: the lock is taken and released, no temporary owner file is left beside it', () => {
    mkdirSync(`${base}.lock.owner`);
    const release = acquireLock(base);
    release();
    expect(readdirSync(dir).filter((f) => f.startsWith('job.lock.owner.'))).toEqual([]);
    expect(statSync(`${base}.lock.owner`).isDirectory()).toBe(true);
  });

  it('a lock in a folder that does not exist is an error, not a silent success', () => {
    try {
      acquireLock(join(dir, 'missing', 'job'));
      expect.unreachable('no lock can be taken there');
    } catch (e) {
      expect((e as MigrateError).code).toBe('ESTATE');
    }
  });
});

describe('acquireJobLock: where the job last ran from', () => {
  const job = (npm: string) => ({ name: 'acme', config: { target: { region: 'us-east-1', domain: 'acme', domainOwner: '111122223333', repositories: { npm: { internal: npm } } } } });
  const env = () => ({ CAM_LOCK_DIR: join(dir, 'locks') });
  /** A state database that holds some of a migration: a ledger entry. */
  const migrated = (database: string) => {
    const db = new Database(database);
    db.exec("CREATE TABLE ledger (seq INTEGER PRIMARY KEY, entry TEXT); INSERT INTO ledger (entry) VALUES ('{}')");
    db.close();
  };
  /** A run from `stateDir`: the lock taken, the state database made (holding a migration), the lock released. */
  const ranFrom = (stateDir: string, j = job('npm-internal')) => {
    const release = acquireJobLock(stateDir, j, env());
    if (!existsSync(join(stateDir, 'acme.sqlite'))) migrated(join(stateDir, 'acme.sqlite'));
    release();
  };

  it('a folder that holds no state is refused (ESTATE naming the one that does, nothing made); one that holds state, and the recorded one, are not', () => {
    const first = join(dir, 'first');
    ranFrom(first);
    const stray = join(dir, 'stray');
    const e = thrown(() => acquireJobLock(stray, job('npm-internal'), env()));
    expect(e).toMatchObject({ code: 'ESTATE', message: expect.stringContaining(`from the state directory ${first}`), hint: expect.stringContaining(`--state-dir ${first}`) });
    expect(existsSync(stray)).toBe(false);
    expect(noStateError(job('npm-internal'), stray, 'run it first', env()).hint).toBe(`pass --state-dir ${first} (or set CAM_STATE_DIR)`);
    acquireJobLock(first, job('npm-internal'), env())();
    // a folder that holds a state of its own (copied, or an older one) is the operator's choice
    const other = join(dir, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'acme.sqlite'), '');
    ranFrom(other);
    ranFrom(first);
  });

  it('a state that holds no migration (versions listed, none past it, no ledger entry) is not held against another folder', () => {
    const tried = join(dir, 'tried');
    const release = acquireJobLock(tried, job('npm-internal'), env());
    const db = new Database(join(tried, 'acme.sqlite'));
    db.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, state TEXT); INSERT INTO items (state) VALUES ('pending'), ('excluded'); CREATE TABLE ledger (seq INTEGER PRIMARY KEY, entry TEXT)");
    db.close();
    release();
    ranFrom(join(dir, 'meant'));
    // now the folder meant holds it
    expect(thrown(() => acquireJobLock(join(dir, 'third'), job('npm-internal'), env()))).toMatchObject({ code: 'ESTATE', message: expect.stringContaining(join(dir, 'meant')) });
    // and a state that cannot be read is taken to hold it
    const unreadable = join(dir, 'unreadable');
    const r2 = acquireJobLock(unreadable, job('npm-prod'), env());
    writeFileSync(join(unreadable, 'acme.sqlite'), 'not a database at all, but some bytes that are no SQLite header either');
    r2();
    expect(thrown(() => acquireJobLock(join(dir, 'fourth'), job('npm-prod'), env()))).toMatchObject({ code: 'ESTATE', message: expect.stringContaining(unreadable) });
  });

  it("a state directory it makes is the account's alone (0700: the blobs and mirrors are every internal package's code); one the operator made keeps its mode", () => {
    const made = join(dir, 'deep', 'state');
    ranFrom(made);
    expect(statSync(made).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'deep')).mode & 0o077).toBe(0);
    const own = join(dir, 'shared-by-choice');
    mkdirSync(own, { mode: 0o750 });
    chmodSync(own, 0o750);
    writeFileSync(join(own, 'acme.sqlite'), '');
    ranFrom(own);
    expect(statSync(own).mode & 0o777).toBe(0o750);
  });

  it('the same job name into another internal repository is another migration with its own state; a state moved aside frees the name', () => {
    ranFrom(join(dir, 'first'));
    ranFrom(join(dir, 'second'), job('npm-prod'));
    expect(thrown(() => acquireJobLock(join(dir, 'third'), job('npm-prod'), env())).message).toContain(join(dir, 'second'));
    renameSync(join(dir, 'second'), join(dir, 'second.old'));
    ranFrom(join(dir, 'third'), job('npm-prod'));
  });

  it('a home that cannot hold the lock folder (none, read-only, a file in the way) takes the locks in $XDG_RUNTIME_DIR or the temp folder as before: the job runs, and a second state directory is still refused', () => {
    const blocker = join(dir, 'not-a-home');
    writeFileSync(blocker, 'a file where the home would be\n');
    const runtime = join(dir, 'run-user');
    mkdirSync(runtime, { mode: 0o700 });
    const noHome = { CAM_LOCK_DIR: '', XDG_STATE_HOME: '', HOME: join(blocker, 'home'), XDG_RUNTIME_DIR: runtime };
    const release = acquireJobLock(join(dir, 'first'), job('npm-internal'), noHome);
    try {
      expect(readdirSync(runtime).filter((f) => f.startsWith('codeartifact-migrate-'))).toHaveLength(1);
      expect(thrown(() => acquireJobLock(join(dir, 'second'), job('npm-internal'), noHome))).toMatchObject({ code: 'ELOCKED' });
    } finally {
      release();
    }
  });
});

describe('existingState: the state a read-only command reads', () => {
  const job = { name: 'acme', config: { target: { region: 'us-east-1', domain: 'acme', domainOwner: '111122223333' } } };
  it('a state directory that is a link to a folder not there (its disk not mounted) is ESTATE saying so, never "run it first" (a run would start a new state)', () => {
    const away = join(dir, 'unmounted', 'state');
    const link = join(dir, 'state');
    symlinkSync(away, link);
    const e = thrown(() => existingState(job, link, 'run it first', { CAM_LOCK_DIR: join(dir, 'locks') }));
    expect(e).toMatchObject({ code: 'ESTATE', message: expect.stringContaining(away) });
    expect((e as MigrateError).message).toContain(link);
    expect((e as MigrateError).hint).not.toMatch(/run it first/);
    expect(readdirSync(dir)).toEqual(['state']);
  });
});
