/**
 * One run per job at a time: a lock file holding the owner's pid. A lock left
 * by a process that no longer exists (kill -9, a crash) is taken over.
 */
import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { MigrateError } from '../errors.js';
import { isAlive } from './blobs.js';

export function acquireLock(path: string): () => void {
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
        throw new MigrateError('ELOCKED', `another run of this job is in progress (pid ${owner}, lock ${path})`, {
          hint: 'wait for it to finish, or stop it; if no such process exists, delete the lock file',
        });
      }
      rmSync(path, { force: true }); // stale: its owner is gone
    }
  }
  throw new MigrateError('ELOCKED', `cannot take the lock ${path}`, { hint: 'delete the lock file if no run is in progress' });
}
