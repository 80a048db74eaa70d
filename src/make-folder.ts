/**
 * `mkdir -p` whose failure says why. Node's recursive mkdirSync answers ENOENT ("no such
 * file or directory") where the real answer is lost: a folder to make on a read-only file
 * system (EROFS: node stats the folder it failed to make and reports that stat's ENOENT),
 * or a symbolic link on the way to a folder that is not there (a share not mounted). Told
 * "ENOENT" and "free space", a user looks for space that is there.
 */
import { lstatSync, mkdirSync, readlinkSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export function makeFolder(path: string, mode?: number): void {
  try {
    mkdirSync(path, { recursive: true, ...(mode === undefined ? {} : { mode }) });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    const why = whyNot(resolve(path), mode);
    if (why === 'made') return;
    throw why ?? e;
  }
}

/**
 * The error the file system gives for the first part of `path` that is not there, or a link
 * on the way that leads nowhere (`dangling` set); undefined when it cannot be told, 'made'
 * when it was made after all (by someone else meanwhile).
 */
function whyNot(path: string, mode: number | undefined): Error | 'made' | undefined {
  let missing = path;
  for (let p = path; ; ) {
    let link = false;
    try {
      link = lstatSync(p).isSymbolicLink();
    } catch {
      missing = p;
      const up = dirname(p);
      if (up === p) return undefined;
      p = up;
      continue;
    }
    if (link) {
      try {
        statSync(p);
      } catch (e) {
        const to = readlinkSync(p);
        return Object.assign(new Error(`${p} is a symbolic link to ${resolve(dirname(p), to)}, which is not there (its disk not mounted?): not made behind the link`), {
          code: (e as NodeJS.ErrnoException).code ?? 'ENOENT',
          path: p,
          syscall: 'mkdir',
          dangling: true,
        });
      }
    }
    break;
  }
  // the first missing part alone: the file system's own answer (EROFS, EDQUOT)
  try {
    mkdirSync(missing, mode === undefined ? {} : { mode });
  } catch (e) {
    return e as Error;
  }
  // made after all: the rest is tried once more
  try {
    mkdirSync(path, { recursive: true, ...(mode === undefined ? {} : { mode }) });
    return 'made';
  } catch (e) {
    return e as Error;
  }
}
