/**
 * Lockfiles in, one list of entries out: `detect` picks the format from the
 * file name (and the content where the name is ambiguous, e.g. yarn.lock of
 * yarn classic or berry), one parser module per format, and `mergeEntries`
 * deduplicates across files by (ecosystem, name, version, kind), keeping every
 * place that named an entry.
 */
import { basename, dirname } from 'node:path';
import { closeSync, openSync, readSync } from 'node:fs';
import { MigrateError, toError } from '../errors.js';
import { checkEntries } from './entry-check.js';
import { lockError, readLockfileText, type ReadOptions } from './read.js';
import { parseNpmLock } from './npm.js';
import { parseYarnClassic } from './yarn-classic.js';
import { parseYarnBerry } from './yarn-berry.js';
import { parsePnpmLock } from './pnpm.js';
import { parseRequirements } from './requirements.js';
import { parsePoetryLock } from './poetry.js';
import { parsePipfileLock } from './pipfile.js';
import { parseUvLock } from './uv.js';
import { parseGoSumLock } from './go.js';
import type { LockEntry, LockfileFormat, LockfileResult, ParseOutput } from './types.js';

export * from './types.js';
export { MAX_LOCKFILE_BYTES, type ReadOptions } from './read.js';

const BY_NAME: Record<string, LockfileFormat> = {
  'package-lock.json': 'npm',
  'npm-shrinkwrap.json': 'npm',
  'pnpm-lock.yaml': 'pnpm',
  'poetry.lock': 'poetry',
  'Pipfile.lock': 'pipfile',
  'uv.lock': 'uv',
  'go.sum': 'gosum',
};

/** How much of a file `detect` reads to tell formats apart. */
const SNIFF_BYTES = 64 * 1024;

/**
 * The format of a lockfile: by its name, and for `yarn.lock` (classic or
 * berry) or an unknown name by its first bytes (`head`, read from the file
 * when not given). `undefined` when it is none we know.
 */
export function detect(file: string, head?: string): LockfileFormat | undefined {
  const name = basename(file);
  const known = BY_NAME[name];
  if (known) return known;
  if (/^(?:.*[-_.])?(?:requirements|constraints)(?:[-_.].*)?\.(?:txt|in)$/i.test(name) || (/\.(?:txt|in)$/i.test(name) && basename(dirname(file)) === 'requirements')) return 'requirements';
  const text = head ?? readHead(file);
  if (text === undefined) return undefined;
  if (name === 'yarn.lock' || name.endsWith('.lock')) {
    // Berry writes `__metadata:` first (after a comment); classic writes `# yarn lockfile v1`.
    if (/^__metadata:/m.test(text)) return 'yarn-berry';
    if (/^# yarn lockfile v1/m.test(text) || name === 'yarn.lock') return 'yarn-classic';
  }
  const start = text.trimStart();
  if (start.startsWith('{')) {
    if (/"lockfileVersion"\s*:/.test(text)) return 'npm';
    if (/"_meta"\s*:/.test(text)) return 'pipfile';
    return undefined;
  }
  if (/^lockfileVersion:/m.test(text)) return 'pnpm';
  if (/^\[\[package\]\]/m.test(text) || /^\[metadata\]/m.test(text)) {
    if (/^revision\s*=|^requires-python\s*=/m.test(text) || /^version\s*=\s*\d+\s*$/m.test(text.slice(0, 200))) return 'uv';
    return 'poetry';
  }
  if (/^\S+ v\S+(?:\/go\.mod)? h1:\S+$/m.test(text.split('\n', 1)[0] ?? '')) return 'gosum';
  return undefined;
}

function readHead(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const buf = Buffer.alloc(SNIFF_BYTES);
    const n = readSync(fd, buf, 0, SNIFF_BYTES, 0);
    return buf.subarray(0, n).toString('utf8');
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface ParseOptions extends ReadOptions {
  /** Use this format instead of detecting one. */
  format?: LockfileFormat;
}

/** Parse one lockfile; a malformed one throws ELOCKFILE naming the file and line (or path), a too large one ETOOLARGE. */
export function parseLockfile(file: string, opts: ParseOptions = {}): LockfileResult {
  const text = readLockfileText(file, opts);
  const format = opts.format ?? detect(file, text.slice(0, SNIFF_BYTES));
  if (!format) throw lockError({ file }, 'not a lockfile format we know', { hint: 'name it as its package manager does (package-lock.json, yarn.lock, pnpm-lock.yaml, requirements*.txt, poetry.lock, Pipfile.lock, uv.lock, go.sum)' });
  const out = parseLockfileText(format, text, file, opts);
  return { file, format, ...out, entries: mergeEntries([out.entries]) };
}

/**
 * Parse a lockfile's text as `format`; `file` names it in errors (and a requirements file's
 * includes are read relative to it). Every entry is then checked once (entry-check.ts): a
 * value no package manager writes is ELOCKFILE at its line, whatever the format.
 */
export function parseLockfileText(format: LockfileFormat, text: string, file: string, opts: ReadOptions = {}): ParseOutput {
  return checkEntries(parseFormat(format, text, file, opts), file);
}

function parseFormat(format: LockfileFormat, text: string, file: string, opts: ReadOptions): ParseOutput {
  switch (format) {
    case 'npm':
      return parseNpmLock(text, file);
    case 'yarn-classic':
      return parseYarnClassic(text, file);
    case 'yarn-berry':
      return parseYarnBerry(text, file);
    case 'pnpm':
      return parsePnpmLock(text, file);
    case 'requirements':
      return parseRequirements(text, file, opts);
    case 'poetry':
      return parsePoetryLock(text, file);
    case 'pipfile':
      return parsePipfileLock(text, file);
    case 'uv':
      return parseUvLock(text, file);
    case 'gosum':
      return parseGoSumLock(text, file);
    default: {
      const never: never = format;
      throw new Error(`unhandled lockfile format ${String(never)}`);
    }
  }
}

export interface LockfilesResult {
  /** Every file that parsed, in the order given. */
  files: LockfileResult[];
  /** All their entries, deduplicated across files. */
  entries: LockEntry[];
  /** The files that did not parse, each with its coded error; the others are still read. */
  errors: { file: string; error: MigrateError }[];
}

/** Parse several lockfiles: one bad file is reported and does not stop the others. */
export function parseLockfiles(files: readonly string[], opts: ParseOptions = {}): LockfilesResult {
  const { files: results, errors } = parseEachLockfile(files, opts);
  return { files: results, entries: mergeEntries(results.map((r) => r.entries)), errors };
}

/**
 * parseLockfiles without the entries merged across files: for a caller that keeps each file's
 * own (warm), the merged list is a second copy of every entry, 60 MB for 110,000 of them.
 */
export function parseEachLockfile(files: readonly string[], opts: ParseOptions = {}): Omit<LockfilesResult, 'entries'> {
  const results: LockfileResult[] = [];
  const errors: LockfilesResult['errors'] = [];
  for (const file of files) {
    try {
      results.push(parseLockfile(file, opts));
    } catch (e) {
      const error = e instanceof MigrateError ? e : lockError({ file }, `cannot parse: ${toError(e).message}`, { cause: e });
      errors.push({ file, error });
    }
  }
  return { files: results, errors };
}

/** The identity of an entry: two lockfiles that pin the same thing give the same key. */
export function entryKey(e: LockEntry): string {
  return [e.ecosystem, e.normalizedName, e.version, e.kind, e.aliasFor ?? ''].join('\0');
}

/**
 * One entry per key, in first-seen order, with every origin kept. Flags
 * (dev, optional, devOptional, bundled, constraint) stay set only if every
 * occurrence sets them: one production use makes a package a production one.
 * A marker survives only if all agree (otherwise the union of conditions is
 * unknown here); hashes and extras are unioned. Inputs are not changed.
 */
export function mergeEntries(lists: readonly (readonly LockEntry[])[]): LockEntry[] {
  const byKey = new Map<string, LockEntry>();
  for (const list of lists) {
    for (const e of list) {
      const key = entryKey(e);
      const seen = byKey.get(key);
      if (!seen) {
        byKey.set(key, { ...e, from: [...e.from], ...(e.hashes ? { hashes: [...e.hashes] } : {}), ...(e.extras ? { extras: [...e.extras] } : {}) });
        continue;
      }
      seen.from.push(...e.from);
      // the same version pinned with other bytes elsewhere in the file: kept, so both are checked
      if (seen.integrity !== undefined && e.integrity !== undefined && e.integrity !== seen.integrity && !seen.otherIntegrity?.includes(e.integrity)) seen.otherIntegrity = [...(seen.otherIntegrity ?? []), e.integrity];
      for (const f of ['integrity', 'yarnChecksum', 'h1', 'goModH1', 'resolved'] as const) if (seen[f] === undefined && e[f] !== undefined) seen[f] = e[f];
      for (const f of ['dev', 'optional', 'devOptional', 'bundled', 'constraint'] as const) if (seen[f] && !e[f]) delete seen[f];
      if (seen.marker !== e.marker) delete seen.marker;
      if (e.hashes) seen.hashes = union(seen.hashes, e.hashes);
      if (e.extras) seen.extras = union(seen.extras, e.extras);
    }
  }
  return [...byKey.values()];
}

function union(a: readonly string[] | undefined, b: readonly string[]): string[] {
  const s = new Set(a);
  for (const x of b) s.add(x);
  return [...s];
}
