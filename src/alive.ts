import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Whether a process of this machine with that pid exists (one of another user's counts: EPERM). What names files and locks by their writer's pid asks it. */
export function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what writers that are gone left in `dir` (a kill -9 cleans nothing up): every entry
 * whose name carries its writer's pid (`pidOf`; undefined for a name that is none of them)
 * when no process of this machine has that pid. Nothing when the folder does not exist.
 */
export function sweepDeadWriters(dir: string, pidOf: (name: string) => number | undefined): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = pidOf(name);
    if (pid !== undefined && Number.isInteger(pid) && !isAlive(pid)) rmSync(join(dir, name), { recursive: true, force: true });
  }
}
