/**
 * One run per job at a time, held by the operating system. The lock is an
 * open exclusive SQLite transaction on `<job>.lock.db` (SQLite takes it with
 * POSIX advisory locks, https://www.sqlite.org/lockingv3.html). The kernel
 * drops it when the holder dies in any way (kill -9, a crash, a power cut),
 * so there is no stale lock to take over and no race in taking one over, and
 * `release()` can only release the holder's own.
 *
 * Who holds it is written beside it in `<job>.lock.owner` (pid, host, start)
 * for the message a second run prints; that file is information, not the lock.
 *
 * The lock is per state directory on one machine. Two state directories (or
 * two machines) running the same job are not detected: see the README.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import Database from 'better-sqlite3';
import { MigrateError, toError } from '../errors.js';
import { isAlive } from './blobs.js';

interface Owner {
  pid: number;
  host: string;
  startedAt: string;
  token: string;
}

/**
 * Take the lock `<base>.lock.db` (base: `state/<job>`); throws ELOCKED while
 * another process holds it. Returns the release function (idempotent).
 */
export function acquireLock(base: string): () => void {
  const dbPath = `${base}.lock.db`;
  const ownerPath = `${base}.lock.owner`;
  refuseLegacyLock(`${base}.lock`);
  let db: Database.Database;
  try {
    // timeout 0: a held lock is an answer, not something to wait for
    db = new Database(dbPath, { timeout: 0 });
  } catch (e) {
    throw new MigrateError('ESTATE', `cannot open the lock ${dbPath}: ${toError(e).message}`, { cause: e, hint: 'check the state directory exists and is writable' });
  }
  try {
    db.exec('BEGIN EXCLUSIVE');
  } catch (e) {
    db.close();
    const code = (e as { code?: string }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw locked(dbPath, readOwner(ownerPath));
    throw new MigrateError('ESTATE', `cannot take the lock ${dbPath}: ${toError(e).message}`, { cause: e, hint: 'check the state directory is writable' });
  }
  const me: Owner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), token: Math.random().toString(36).slice(2) };
  try {
    writeFileSync(`${ownerPath}.${process.pid}`, JSON.stringify(me));
    renameSync(`${ownerPath}.${process.pid}`, ownerPath);
  } catch {
    // informational only: the lock is held either way
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    // the owner file first, while still holding the lock: nobody else can have written it yet
    if (readOwner(ownerPath)?.token === me.token) rmSync(ownerPath, { force: true });
    try {
      db.exec('ROLLBACK');
    } finally {
      db.close();
    }
  };
}

function locked(path: string, owner: Owner | undefined): MigrateError {
  const who = owner ? `pid ${owner.pid} on ${owner.host}, started ${owner.startedAt}` : 'another process';
  return new MigrateError('ELOCKED', `another run of this job is in progress (${who}; lock ${path})`, {
    hint: 'wait for it to finish, or stop it (Ctrl-C); the lock is released by the system when that process ends',
  });
}

function readOwner(path: string): Owner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Owner;
    return typeof o?.pid === 'number' ? o : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Releases before 0.2 locked with a pid file `<job>.lock`. A live process
 * named in one is an old version still running that job: refuse. A dead
 * one's file is removed.
 */
function refuseLegacyLock(path: string): void {
  if (!existsSync(path)) return;
  const pid = Number(readFileSync(path, 'utf8').trim());
  if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
    throw new MigrateError('ELOCKED', `an older codeartifact-migrate (pid ${pid}) is running this job (lock ${path})`, { hint: 'wait for it to finish, or stop it' });
  }
  rmSync(path, { force: true });
}
