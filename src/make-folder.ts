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
 * The first part of `path` that is there (walking up from it), when it is a symbolic link that
 * leads nowhere (a share not mounted): where it is, what it points to, and the code a stat of it
 * gives; undefined when that part is no such link.
 */
export function danglingLinkOn(path: string): { at: string; to: string; code: string } | undefined {
  return firstThere(resolve(path)).dangling;
}

/** The part of `path` just below the first one that is there (the first missing), and that one when it is a dangling link. */
function firstThere(path: string): { missing: string; dangling?: { at: string; to: string; code: string } } {
  let missing = path;
  for (let p = path; ; p = dirname(p)) {
    let link: boolean;
    try {
      link = lstatSync(p).isSymbolicLink();
    } catch {
      missing = p;
      if (dirname(p) === p) return { missing };
      continue;
    }
    if (!link) return { missing };
    try {
      statSync(p);
      return { missing };
    } catch (e) {
      return { missing, dangling: { at: p, to: resolve(dirname(p), readlinkSync(p)), code: (e as NodeJS.ErrnoException).code ?? 'ENOENT' } };
    }
  }
}

/**
 * The error the file system gives for the first part of `path` that is not there, or a link
 * on the way that leads nowhere (`dangling` set); undefined when it cannot be told, 'made'
 * when it was made after all (by someone else meanwhile).
 */
function whyNot(path: string, mode: number | undefined): Error | 'made' | undefined {
  const { missing, dangling } = firstThere(path);
  if (dangling) {
    return Object.assign(new Error(`${dangling.at} is a symbolic link to ${dangling.to}, which is not there (its disk not mounted?): not made behind the link`), {
      code: dangling.code,
      path: dangling.at,
      syscall: 'mkdir',
      dangling: true,
    });
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
