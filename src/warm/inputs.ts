/**
 * The warm's inputs: the job's lockfiles (paths or globs relative to the job
 * file; a folder is searched) and the lockfiles found in its git repositories
 * (each branch checked out and searched), parsed by src/lockfiles/. A file that
 * does not parse is an error naming the file and line, and the others go on.
 */
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { LoadedJob } from '../config/load.js';
import { fileSystemError, MigrateError, toError } from '../errors.js';
import { detect, parseEachLockfile, type LockfileResult } from '../lockfiles/index.js';
import { globFiles, SKIPPED_DIRS, within } from '../lockfiles/walk.js';
import { LockfileRepository } from './git-lockfiles.js';
import { RegistryConfigReader, type RegistryConfig } from './registry-config.js';
import type { LockfileRef } from './types.js';


export interface CollectedLockfile {
  ref: LockfileRef;
  result: LockfileResult;
  /** npm: the registries the package manager's configuration around the lockfile names (registry-config.ts), where one does. */
  registries?: RegistryConfig;
}

export interface InputError {
  /** The lockfile (as LockfileRef.path names it), or the repository `<url>#<branch>`. */
  path: string;
  repository: string | null;
  code: string;
  line?: number;
  message: string;
}

export interface Inputs {
  lockfiles: CollectedLockfile[];
  errors: InputError[];
}

export interface CollectOptions {
  env: NodeJS.ProcessEnv;
  stateDir: string;
  signal?: AbortSignal;
  /** Told of each repository branch as it is read. */
  onRepository?: (label: string) => void;
}

/**
 * Every file under `dir` whose name a package manager gives its lockfile (`detect` knows it by name).
 *
 * A symbolic link to a directory is never followed: a checkout is not ours, and
 * `a/x -> ..` would make the walk exponential, `x -> /` walk the whole machine.
 * A symbolic link with a lockfile's name is listed like a file: reading it
 * (`readLockfileText` with `root`) refuses it unless it leads to a regular file
 * inside the folder searched, so `requirements.txt -> /home/ci/.npmrc` is a
 * lockfile error, never entries named after a secret. Folders are also
 * remembered by device and inode, in case one is reachable twice (a bind mount).
 * `skip`: a folder never entered when met below `dir` (the state directory: another
 * job's checkout in its tmp/ holds lockfiles that are not this job's).
 */
export function findLockfiles(dir: string, skip?: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  let skipped: string | undefined;
  try {
    if (skip !== undefined) {
      const st = statSync(skip);
      skipped = `${st.dev}:${st.ino}`;
    }
  } catch {
    // no state directory yet: nothing to skip
  }
  const walk = (d: string, top: boolean) => {
    try {
      const st = statSync(d);
      const id = `${st.dev}:${st.ino}`;
      if (seen.has(id) || (!top && id === skipped)) return;
      seen.add(id);
    } catch {
      return;
    }
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(d, name);
      let st;
      try {
        st = lstatSync(path);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (!SKIPPED_DIRS.has(name)) walk(path, false);
      } else if ((st.isFile() || st.isSymbolicLink()) && detect(path, '') !== undefined) out.push(path);
    }
  };
  walk(dir, true);
  return out;
}

/**
 * The job's `warm.lockfiles`: paths (a folder is searched) and globs, relative to the job file.
 * `roots` maps each file to the folder its reading must stay inside (see ReadOptions.root):
 * the job's folder, or for a file or folder named outside it, that folder (a file's own).
 * `stateDir` is never searched (findLockfiles, globFiles), unless named itself.
 */
export function localLockfiles(jobFile: string, patterns: readonly string[], stateDir?: string): { files: string[]; missing: { path: string; why: string }[]; roots: Map<string, string> } {
  const base = dirname(resolve(jobFile));
  const files = new Set<string>();
  const roots = new Map<string, string>();
  const add = (f: string, root: string) => {
    files.add(f);
    if (!roots.has(f)) roots.set(f, within(base, root) ? base : root);
  };
  // an entry that gives no lockfile is a mistake to name (a typo in a path or glob), never "0 lockfiles read"
  const missing: { path: string; why: string }[] = [];
  for (const p of patterns) {
    const abs = isAbsolute(p) ? p : resolve(base, p);
    if (/[*?[{]/.test(p)) {
      // Links are not followed into folders (a loop, or the whole disk), nor node_modules entered (globFiles).
      const hits = globFiles(abs, stateDir);
      if (!hits.length) missing.push({ path: p, why: 'matches no file' });
      for (const f of hits) add(f, dirname(f));
      continue;
    }
    let st;
    try {
      st = statSync(abs);
    } catch {
      missing.push({ path: p, why: 'no such file' });
      continue;
    }
    if (st.isDirectory()) {
      const found = findLockfiles(abs, stateDir);
      if (!found.length) missing.push({ path: p, why: 'a folder with no lockfile in it (or under it)' });
      for (const f of found) add(f, abs);
    } else add(abs, dirname(abs));
  }
  return { files: [...files].sort(), missing, roots };
}

/** Parse files and name them as the summary does: `toDisplay` maps a path on disk to its name. */
function parseAll(files: string[], toDisplay: (path: string) => string, repository: string | null, errors: InputError[], rootOf: (file: string) => string, root?: string): CollectedLockfile[] {
  // One file at a time: each is read inside its own root (a lockfile or include leading outside it is refused).
  const parsed = { files: [] as LockfileResult[], errors: [] as ReturnType<typeof parseEachLockfile>['errors'] };
  // where a lockfile records no URL for a package, the configuration around it names the registry
  const configs = new RegistryConfigReader(toDisplay);
  const registries = new Map<LockfileResult, RegistryConfig>();
  for (const f of files) {
    const one = parseEachLockfile([f], { root: rootOf(f) });
    parsed.files.push(...one.files);
    parsed.errors.push(...one.errors);
    for (const result of one.files) {
      const config = configs.around(f, result.format, rootOf(f));
      if (config) registries.set(result, config);
    }
  }
  // messages name files by their path on disk: a checkout's temporary folder is no name to show
  // A checkout's files are all below its root: naming the root names each of them as toDisplay
  // does. Local files are looked for only where they are in the text: a split and join of
  // every file for every error was quadratic (8,000 lockfiles that do not parse: a minute).
  const rename = (text: string) => {
    if (root) return text.split(`${root}${sep}`).join(toDisplay(root).replace(/:?$/, ':'));
    let named = text;
    for (const f of files) if (named.includes(f)) named = named.split(f).join(toDisplay(f));
    return named;
  };
  for (const { file, error } of parsed.errors) {
    const line = error.message.startsWith(file) ? /^:(\d+)(?: \(|: )/.exec(error.message.slice(file.length))?.[1] : undefined;
    errors.push({ path: toDisplay(file), repository, code: error.code, ...(line ? { line: Number(line) } : {}), message: rename(error.describe()) });
  }
  // a configuration file that cannot be read is an error of its own: the lockfiles go on
  for (const { file, line, error } of configs.errors) errors.push({ path: toDisplay(file), repository, code: error.code, ...(line ? { line } : {}), message: rename(error.describe()) });
  return parsed.files.map((result) => {
    const display = (f: string) => (isAbsolute(f) ? toDisplay(f) : f);
    // each entry renamed where it is, not copied: parseLockfile's entries are its own copies
    // (mergeEntries), and the copies of 330,000 entries held 45 MB more through the warm
    for (const e of result.entries) e.from = e.from.map((o) => ({ ...o, file: display(o.file) }));
    const renamed: LockfileResult = { ...result, file: display(result.file), warnings: result.warnings.map((w) => ({ ...w, file: display(w.file) })) };
    const config = registries.get(result);
    return { ref: { path: renamed.file, format: result.format, repository }, result: renamed, ...(config ? { registries: config } : {}) };
  });
}

/** Read every lockfile the job's `warm:` section names; errors are collected, never thrown (except bad input). */
export async function collectInputs(job: LoadedJob, opts: CollectOptions): Promise<Inputs> {
  const errors: InputError[] = [];
  const warm = job.config.warm;
  const jobDir = dirname(resolve(job.file));
  const { files, missing, roots } = localLockfiles(job.file, warm.lockfiles, opts.stateDir);
  for (const m of missing) errors.push({ path: m.path, repository: null, code: 'ELOCKFILE', message: `ELOCKFILE: ${m.path}: ${m.why} (warm.lockfiles is relative to ${job.file})` });
  const lockfiles = parseAll(files, (f) => relative(jobDir, f) || basename(f), null, errors, (f) => roots.get(f) ?? dirname(f));

  // Built first, all of them: a key variable that is not set is bad input, found before any clone.
  const repositories = warm.repositories.map((r, i) => new LockfileRepository(r, opts.env, opts.stateDir, job.name, job.config.limits, i));
  try {
    for (const repo of repositories) {
      let branches: string[];
      try {
        await repo.fetch(opts.signal);
        branches = await repo.branches(opts.signal);
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        const err = e instanceof MigrateError ? e : (fileSystemError(e) ?? new MigrateError('ESOURCE', toError(e).message, { cause: e }));
        // a full disk fails the next repository alike and does not fix itself: the warm stops, as
        // a run does, before anything is requested; the rerun with room again reads them all
        if (err.code === 'ELOCAL') throw err;
        errors.push({ path: repo.url, repository: repo.url, code: err.code, message: err.describe() });
        continue;
      }
      for (const branch of branches) {
        const label = `${repo.url}#${branch}`;
        opts.onRepository?.(label);
        let checkout;
        try {
          checkout = await repo.checkout(branch, opts.signal);
        } catch (e) {
          if (opts.signal?.aborted) throw e;
          const err = e instanceof MigrateError ? e : (fileSystemError(e) ?? new MigrateError('ESOURCE', toError(e).message, { cause: e }));
          if (err.code === 'ELOCAL') throw err;
          errors.push({ path: label, repository: label, code: err.code, message: err.describe() });
          continue;
        }
        try {
          const found = findLockfiles(checkout.dir);
          const display = (f: string) => `${label}:${relative(checkout.dir, f).split(sep).join('/')}`;
          lockfiles.push(...parseAll(found, display, label, errors, () => checkout.dir, checkout.dir));
        } finally {
          checkout.cleanup();
        }
      }
    }
  } finally {
    for (const r of repositories) r.close();
  }
  return { lockfiles, errors };
}
