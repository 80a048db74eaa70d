/**
 * How the job's paths and globs of lockfiles (warm.lockfiles, goSum) are walked: never
 * through a linked folder, never into other projects' folders (node_modules, a virtualenv).
 */
import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { escapePath, globSync } from 'tinyglobby';

/** Folders that hold other projects' files, never the company's lockfiles. */
export const SKIPPED_DIRS = new Set(['.git', 'node_modules', '.venv', 'venv', '.tox', 'site-packages', '__pycache__', '.yarn']);

/**
 * The files a glob (an absolute pattern) matches, walked as findLockfiles walks a folder:
 * never through a linked folder below the glob's base (tinyglobby leaves every link out, a
 * linked file too), never into the SKIPPED_DIRS unless the pattern names one
 * (a segment `node_modules` of it: the operator asked for those), nor into the state directory `skip`. The base (the
 * pattern's leading folders without a wildcard) is the operator's own: a link there is followed.
 */
export function globFiles(abs: string, skip?: string): string[] {
  const segments = abs.split(sep);
  const first = segments.findIndex((s) => /[*?[{]/.test(s));
  const base = segments.slice(0, first).join(sep) || sep;
  const rest = segments.slice(first).join('/');
  const named = new Set(rest.split('/'));
  const ignore = [...SKIPPED_DIRS].filter((n) => !named.has(n)).map((n) => `**/${escapePath(n)}/**`);
  let state: string | undefined;
  if (skip !== undefined) {
    const rel = relative(base, resolve(skip));
    if (rel && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel)) ignore.push(`${escapePath(rel.split(sep).join('/'))}/**`);
    try {
      state = realpathSync(skip);
    } catch {
      // no state directory yet: nothing to skip
    }
  }
  const hits = globSync(rest, { cwd: base, absolute: true, dot: true, onlyFiles: true, followSymbolicLinks: false, ignore });
  // the state directory reached by another path than its own (a link in the base): by where it really is;
  // a glob whose base is in the state directory names it, as a path would
  return state === undefined || within(state, base) ? hits : hits.filter((f) => !within(state, dirname(f)));
}

/** `path` if it is inside `root` once both are resolved through their links, for comparing roots. */
export function within(root: string, path: string): boolean {
  try {
    const rel = relative(realpathSync(root), realpathSync(path));
    return rel === '' || !(rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel));
  } catch {
    return false;
  }
}

