/** state/lock: one run per job at a time; a lock whose owner is gone is taken over. */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MigrateError } from '../../src/errors.js';
import { isAlive } from '../../src/state/blobs.js';
import { acquireLock } from '../../src/state/lock.js';

let dir: string;
let lock: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cam-lock-'));
  lock = join(dir, 'job.lock');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function lockError(): MigrateError {
  try {
    acquireLock(lock);
  } catch (e) {
    expect(e).toBeInstanceOf(MigrateError);
    return e as MigrateError;
  }
  throw new Error('the lock was granted twice');
}

describe('acquireLock', () => {
  it('writes the owner pid; release removes the file and the lock can be taken again', () => {
    const release = acquireLock(lock);
    expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
    release();
    expect(existsSync(lock)).toBe(false);
    acquireLock(lock)();
  });

  it('a second acquire while this live process holds it is ELOCKED, and the lock stays', () => {
    const release = acquireLock(lock);
    try {
      const e = lockError();
      expect(e.code).toBe('ELOCKED');
      expect(e.message).toContain(String(process.pid));
      expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
    } finally {
      release();
    }
  });

  it('a lock held by another live process is ELOCKED and not taken over', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      expect(child.pid).toBeGreaterThan(0);
      writeFileSync(lock, String(child.pid));
      const e = lockError();
      expect(e.code).toBe('ELOCKED');
      expect(e.message).toContain(String(child.pid));
      expect(readFileSync(lock, 'utf8')).toBe(String(child.pid));
    } finally {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  });

  it('a stale lock (its pid is gone, e.g. after kill -9) is taken over', () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    expect(isAlive(dead)).toBe(false);
    writeFileSync(lock, String(dead));
    const release = acquireLock(lock);
    expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
    release();
  });

  it('a lock file with no pid in it (a crash mid-write) is taken over', () => {
    writeFileSync(lock, '');
    const release = acquireLock(lock);
    expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
    release();
    writeFileSync(lock, 'garbage');
    acquireLock(lock)();
  });

  it('a lock in a folder that does not exist is an error, not a silent success', () => {
    expect(() => acquireLock(join(dir, 'missing', 'job.lock'))).toThrow();
  });
});
