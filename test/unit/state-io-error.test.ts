/**
 * SQLite's I/O errors on the state database: a full disk (SQLITE_FULL, or an I/O error on a
 * file system with no room left) is told "free space"; an I/O error on a disk with room (a
 * failing disk, a network file system gone, the file replaced) is not sent looking for space
 * that is there. Both are this machine's (ELOCAL, naming the database), and both keep the file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MigrateError } from '../../src/errors.js';
import { StateDb } from '../../src/state/db.js';

// what statfs says of the state's disk: its real answer, or (room.bytes set) that many bytes free
const room = vi.hoisted(() => ({ bytes: undefined as number | undefined }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const statfsSync = ((path: string) => {
    const real = fs.statfsSync(path);
    return room.bytes === undefined ? real : { ...real, bsize: 4096, bavail: Math.floor(room.bytes / 4096) };
  }) as typeof fs.statfsSync;
  return { ...fs, default: { ...fs, statfsSync }, statfsSync };
});

let dir: string;
let state: StateDb;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cam-state-io-'));
  state = StateDb.open(join(dir, 'job.sqlite'));
});

afterEach(() => {
  room.bytes = undefined;
  state.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What the state's write throws when SQLite answers `code` (as better-sqlite3 throws it). */
function refused(code: string, message: string): MigrateError {
  try {
    state.write(() => {
      throw Object.assign(new Error(message), { code });
    });
  } catch (e) {
    expect(e).toBeInstanceOf(MigrateError);
    return e as MigrateError;
  }
  throw new Error('the write did not throw');
}

describe('the state database refusing a write', () => {
  it('SQLITE_FULL: ELOCAL naming the database, hint to free space, keep the file', () => {
    const e = refused('SQLITE_FULL', 'database or disk is full');
    expect(e.code).toBe('ELOCAL');
    expect(e.message).toContain(join(dir, 'job.sqlite'));
    expect(e.hint).toMatch(/free space/);
    expect(e.hint).toMatch(/Keep the file/);
  })

  it('an I/O error on a disk with room: ELOCAL naming the database and the error, a hint about the disk, not about space', () => {
    const e = refused('SQLITE_IOERR_WRITE', 'disk I/O error');
    expect(e.code).toBe('ELOCAL');
    expect(e.message).toContain(join(dir, 'job.sqlite'));
    expect(e.message).toContain('SQLITE_IOERR_WRITE');
    expect(e.hint).not.toMatch(/free space/);
    expect(e.hint).toMatch(/I\/O error/);
    expect(e.hint).toMatch(/Keep the file/);
  });

  it('an I/O error reading: said as a read, not a write', () => {
    const e = refused('SQLITE_IOERR_SHORT_READ', 'disk I/O error');
    expect(e.message).toMatch(/cannot read the state database/);
  });

  it('an I/O error on a disk with (almost) no room left: the full disk it is, hint to free space', () => {
    room.bytes = 1024 * 1024;
    const e = refused('SQLITE_IOERR_FSYNC', 'disk I/O error');
    expect(e.code).toBe('ELOCAL');
    expect(e.hint).toMatch(/free space/);
  });
});
