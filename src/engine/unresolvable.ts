/**
 * Dependencies a migrated version's own metadata names that a consumer installing from
 * CodeArtifact cannot resolve there: an npm `file:`/`link:`/`workspace:` path, a git URL or a
 * tarball URL; a Python `Requires-Dist: name @ url` direct reference; a Go `replace` with a
 * local folder (go ignores `replace` in a dependency, so consumers build with other code than
 * the tag's own build did). The bytes are republished as they are: this only reads them, and
 * what it finds is recorded with the version (facts.unresolvable) and reported as a warning
 * (EUNRESOLVABLEDEP); a version checked clean records []. Never throws: a file it cannot read is the
 * target's to refuse, and leaves the version unchecked.
 */
import { readFileSync, statSync } from 'node:fs';
import { redactUrlCredentials, shorten } from '../redact.js';
import { readTarballManifest } from '../targets/npm.js';
import type { AssetFile } from '../targets/format.js';
import { MAX_GO_MOD } from '../builders/go-rules.js';
import type { Format } from '../types.js';
import { assetFiles } from './acquire.js';
import type { BlobStore } from '../state/blobs.js';
import type { StateDb } from '../state/db.js';

export type UnresolvableKind = 'file' | 'link' | 'workspace' | 'portal' | 'path' | 'git' | 'url' | 'replace';

export interface UnresolvableDep {
  /** Where the metadata names it: `dependencies`, `Requires-Dist`, `replace`, … */
  field: string;
  name: string;
  /** As the metadata spells it, credentials in URLs masked, cut to SPEC_MAX characters. */
  spec: string;
  kind: UnresolvableKind;
}

/** At most this many per version are recorded (a hostile package.json naming 100,000 would bloat the state). */
export const MAX_PER_VERSION = 50;
const SPEC_MAX = 300;
const NAME_MAX = 214;

const NPM_FIELDS = ['dependencies', 'optionalDependencies', 'peerDependencies'] as const;

/**
 * What npm would do with a dependency spec (npm-package-arg's classification, which this
 * follows: https://github.com/npm/npm-package-arg/blob/main/lib/npa.js): undefined for a
 * registry spec (a version, range, dist-tag or `npm:` alias), else the kind of source it names.
 */
export function npmSpecKind(spec: string): UnresolvableKind | undefined {
  const s = spec.trim();
  if (s === '') return undefined;
  if (/^npm:/i.test(s)) return undefined;
  if (/^file:/i.test(s)) return 'file';
  if (/^link:/i.test(s)) return 'link';
  if (/^workspace:/i.test(s)) return 'workspace';
  if (/^portal:/i.test(s)) return 'portal';
  // npa's isFilespec: ./x, ../x, ~/x, /x, \x, C:\x
  if (/^(?:\.|~\/|[/\\]|[a-zA-Z]:)/.test(s)) return 'path';
  if (/^(?:git\+[a-z0-9.+-]+:|git:|github:|gitlab:|bitbucket:|gist:)/i.test(s)) return 'git';
  // scp-like git (git@host:owner/repo.git)
  if (/^[^@:/\s]+@[^:/\s]+:/.test(s)) return 'git';
  // npa's isGitHubShorthand: user/repo, user/repo#ref
  if (/^[^@%/\s.-][^:@%/\s]*\/[^:@\s/%]+(?:#.*)?$/.test(s)) return 'git';
  if (/^https?:\/\//i.test(s)) {
    // a hosted repository page or a .git URL is git to npm (hosted-git-info), anything else a tarball
    if (/^https?:\/\/[^/]+\/[^/]+\/[^/#]+\.git(?:#|$)/i.test(s) || /^https?:\/\/(?:www\.)?(?:github\.com|gitlab\.com|bitbucket\.org)\/[^/]+\/[^/#]+\/?(?:#|$)/i.test(s)) return 'git';
    return 'url';
  }
  // any other scheme: npa refuses it ("Unsupported URL Type"); a registry cannot serve it either
  if (/^[a-z][a-z0-9+.-]*:/i.test(s)) return 'url';
  return undefined;
}

/**
 * A spec's URL credentials as a URL parser reads them, not as RFC 3986 would have them written:
 * npm and pip parse with WHATWG-like parsers, which take a password holding `"`, `<` or a control
 * character, `https:user:pw@host` without slashes, and backslashes for slashes; a query runs to
 * the fragment whatever it holds (a `'` too). redactUrlCredentials() looks for URLs in free text,
 * and stops at each of those: the rest of the password or the query was recorded as it was.
 * A spec is one token: its userinfo is what comes before the authority's last `@` (a bare login
 * of a non-HTTP URL, `git@`, is a name and is kept), its query everything from `?` to `#`.
 */
function maskSpecUrl(spec: string): string {
  const m = /^([a-z][a-z0-9+.-]*:)([\\/]*)([^\\/?#]*)([\s\S]*)$/i.exec(spec);
  if (!m) return spec;
  const [, scheme, slashes, authority, rest] = m as unknown as [string, string, string, string, string];
  const at = authority.lastIndexOf('@');
  let host = authority;
  if (at >= 0) {
    const user = authority.slice(0, at);
    const login = !user.includes(':') && !/https?:$/i.test(scheme);
    host = `${login ? user : '***'}@${authority.slice(at + 1)}`;
  }
  const q = rest.indexOf('?');
  const h = rest.indexOf('#');
  const tail = q >= 0 && (h < 0 || q < h) ? `${rest.slice(0, q)}?***${h >= 0 ? rest.slice(h) : ''}` : rest;
  return `${scheme}${slashes}${host}${tail}`;
}

/** Registered secrets and URL credentials masked first (a control character inside a password, made a space, would end it early), then control characters made spaces, then cut. */
const clean = (text: string, max: number) => shorten(redactUrlCredentials(text).replace(/[\u0000-\u001f\u007f]/g, ' '), max);
const cleanSpec = (spec: string) => clean(maskSpecUrl(spec), SPEC_MAX);
/** A name as the metadata spells it: a peer echoing the source's token there is masked as anywhere. */
const cleanName = (name: string) => clean(name, NAME_MAX);

/** A package.json's dependencies a registry consumer cannot install (bundled ones ship in the tarball, and are not). */
export function npmUnresolvable(manifest: Record<string, unknown>): UnresolvableDep[] {
  const bundledRaw = manifest.bundleDependencies ?? manifest.bundledDependencies;
  const bundledAll = bundledRaw === true;
  const bundled = new Set(Array.isArray(bundledRaw) ? bundledRaw.filter((n): n is string => typeof n === 'string') : []);
  const out: UnresolvableDep[] = [];
  const seen = new Set<string>();
  for (const field of NPM_FIELDS) {
    const deps = manifest[field];
    if (!deps || typeof deps !== 'object' || Array.isArray(deps)) continue;
    for (const [name, spec] of Object.entries(deps as Record<string, unknown>)) {
      if (typeof spec !== 'string') continue;
      // a bundled dependency of `dependencies` is in the tarball itself: npm never fetches it
      if (field === 'dependencies' && (bundledAll || bundled.has(name))) continue;
      const kind = npmSpecKind(spec);
      if (!kind) continue;
      const key = `${name}\u0000${spec}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ field, name: cleanName(name), spec: cleanSpec(spec), kind });
      if (out.length >= MAX_PER_VERSION) return out;
    }
  }
  return out;
}

/**
 * PEP 508 direct references among Requires-Dist lines (`name [extras] @ url ; marker`): pip
 * fetches the URL itself, whatever index it was told to use. The URL ends at white space
 * (PEP 508 asks for a space before a marker's `;`, as URLs may hold one).
 */
export function pythonUnresolvable(requiresDist: readonly string[]): UnresolvableDep[] {
  const out: UnresolvableDep[] = [];
  const seen = new Set<string>();
  for (const line of requiresDist) {
    const m = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\]\s*)?@\s*(\S+)/.exec(line);
    if (!m) continue;
    const [, name, url] = m as unknown as [string, string, string];
    const key = `${name.toLowerCase()}\u0000${url}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ field: 'Requires-Dist', name: cleanName(name), spec: cleanSpec(url), kind: /^git\+/i.test(url) ? 'git' : /^file:/i.test(url) ? 'file' : 'url' });
    if (out.length >= MAX_PER_VERSION) break;
  }
  return out;
}

/** modfile.IsDirectoryPath: a replacement that is a folder, not a module version. */
function isGoDirectoryPath(p: string): boolean {
  return p === '.' || p === '..' || p.startsWith('./') || p.startsWith('../') || p.startsWith('/') || p.startsWith('.\\') || p.startsWith('..\\') || p.startsWith('\\') || /^[a-zA-Z]:[\\/]/.test(p);
}

/** A go.mod token, unquoted (`"x"` and `` `x` `` are strings there). */
function goToken(t: string): string {
  if (t.startsWith('"')) {
    try {
      const v: unknown = JSON.parse(t);
      return typeof v === 'string' ? v : t;
    } catch {
      return t;
    }
  }
  return t.length > 1 && t.startsWith('`') && t.endsWith('`') ? t.slice(1, -1) : t;
}

/** go.mod `replace` directives (one line, or a `replace ( … )` block) whose target is a local folder. */
export function goUnresolvable(mod: string): UnresolvableDep[] {
  const out: UnresolvableDep[] = [];
  let inBlock = false;
  for (const raw of mod.split('\n')) {
    const comment = raw.indexOf('//');
    const line = (comment >= 0 ? raw.slice(0, comment) : raw).trim();
    if (!line) continue;
    let body: string | undefined;
    if (inBlock) {
      if (line === ')') {
        inBlock = false;
        continue;
      }
      body = line;
    } else if (/^replace\s*\($/.test(line)) {
      inBlock = true;
      continue;
    } else if (/^replace\s/.test(line)) {
      body = line.slice('replace'.length).trim();
    }
    if (body === undefined) continue;
    const arrow = body.indexOf('=>');
    if (arrow < 0) continue;
    const left = body.slice(0, arrow).trim().split(/\s+/).map(goToken);
    const right = body.slice(arrow + 2).trim().split(/\s+/).map(goToken);
    const target = right[0];
    if (!target || right.length !== 1 || !isGoDirectoryPath(target)) continue;
    out.push({ field: 'replace', name: cleanName(left.join(' ')), spec: `=> ${cleanSpec(target)}`, kind: 'replace' });
    if (out.length >= MAX_PER_VERSION) break;
  }
  return out;
}

/**
 * What a version's files (as the target takes them) name that a registry consumer cannot resolve:
 * [] when nothing; undefined when they cannot be read (not checked: the version is left without
 * the record, never recorded as clean).
 */
export async function unresolvableOf(format: Format, files: readonly AssetFile[], subject: string): Promise<UnresolvableDep[] | undefined> {
  try {
    if (format === 'npm') {
      const tgz = files[0];
      return tgz ? npmUnresolvable((await readTarballManifest(tgz.path, subject)) as Record<string, unknown>) : undefined;
    }
    if (format === 'pypi') {
      // the core metadata the builder recorded with each file: every Python file has it
      if (!files.length || files.some((f) => !f.facts.metadata || typeof f.facts.metadata !== 'object')) return undefined;
      const lines = files.flatMap((f) => {
        const requires = (f.facts.metadata as { requires_dist?: unknown } | undefined)?.requires_dist;
        return Array.isArray(requires) ? requires.filter((r): r is string => typeof r === 'string') : [];
      });
      return pythonUnresolvable(lines);
    }
    // Go: the published .mod, the go.mod consumers' go reads
    const mod = files.find((f) => f.name.endsWith('.mod'));
    if (!mod || statSync(mod.path).size > MAX_GO_MOD) return undefined;
    return goUnresolvable(readFileSync(mod.path, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Was the version checked (facts.unresolvable recorded, [] when clean)? A version fetched by a
 * release before the check, or whose files could not be read, has no record: not checked, which
 * is not clean.
 */
export function checkedForUnresolvable(facts: string | null): boolean {
  if (!facts) return false;
  try {
    return Array.isArray((JSON.parse(facts) as { unresolvable?: unknown } | null)?.unresolvable);
  } catch {
    return false;
  }
}

/** A version's recorded findings (facts.unresolvable), as far as they read as such. */
export function recordedUnresolvable(facts: string | null): UnresolvableDep[] {
  if (!facts) return [];
  try {
    const list = (JSON.parse(facts) as { unresolvable?: unknown }).unresolvable;
    if (!Array.isArray(list)) return [];
    return list.filter((d): d is UnresolvableDep => Boolean(d) && typeof d === 'object' && typeof (d as UnresolvableDep).name === 'string' && typeof (d as UnresolvableDep).spec === 'string').slice(0, MAX_PER_VERSION);
  } catch {
    return [];
  }
}

/** One dependency as a report line: `name (field): spec`. */
export function depLine(d: UnresolvableDep): string {
  return d.field === 'replace' ? `replace ${d.name} ${d.spec}` : `${d.name} ${d.field === 'Requires-Dist' ? '@' : '→'} ${d.spec}${d.field === 'dependencies' || d.field === 'Requires-Dist' ? '' : ` (${d.field})`}`;
}

/** Checks recorded in one transaction each (an interrupted pass keeps what it did). */
const BACKFILL_BATCH = 200;

/**
 * Check the job's versions fetched before the check existed (or whose files could not be read
 * then) from the files in the blob store, and record what was found ([] when clean): no network,
 * no transition, each version read once, in one pass. A version whose file is not in the store
 * (or not its recorded size), or cannot be read, stays unchecked, and the report says so. Python
 * needs no file: its core metadata is recorded with its assets.
 */
export async function backfillUnresolvable(state: StateDb, blobs: BlobStore, sourceIds: readonly string[], signal?: AbortSignal): Promise<void> {
  const rows = state.uncheckedForDeps(sourceIds);
  let batch: { id: number; unresolvable: UnresolvableDep[] }[] = [];
  for (const row of rows) {
    if (signal?.aborted) break;
    let files: AssetFile[];
    try {
      files = assetFiles(state, blobs, row);
    } catch {
      // a file's recorded facts that do not read as JSON (a hand edit): left unchecked
      continue;
    }
    // the one file read: npm's tarball, Go's .mod (a truncated or replaced blob is not what was published)
    const read = row.format === 'npm' ? files[0] : row.format === 'generic' ? files.find((f) => f.name.endsWith('.mod')) : undefined;
    if (row.format !== 'pypi' && (!read || !blobs.has(read.hashes.sha512, read.size))) continue;
    const found = await unresolvableOf(row.format, files, `${row.package}@${row.version}`);
    if (!found) continue;
    batch.push({ id: row.id, unresolvable: found });
    if (batch.length >= BACKFILL_BATCH) {
      state.recordUnresolvable(batch);
      batch = [];
    }
  }
  state.recordUnresolvable(batch);
}

/**
 * Most characters of one version's dependencies in a run's summary. The summary lists every such
 * version, every run, and is stored with the run: 50 dependencies of the longest name and spec are
 * 27 kB, and 10,000 such versions made a summary of 270 MB. The plan and run report list them all.
 */
export const SUMMARY_DEPS_MAX = 1000;

/** A version's recorded findings as its run summary lines: as many as fit in SUMMARY_DEPS_MAX (one at least), then how many more. */
export function summaryDependencies(facts: string | null): string[] {
  const all = recordedUnresolvable(facts).map(depLine);
  const out: string[] = [];
  let used = 0;
  for (const line of all) {
    if (out.length && used + line.length > SUMMARY_DEPS_MAX) break;
    out.push(line);
    used += line.length + 2;
  }
  if (out.length < all.length) out.push(`… and ${all.length - out.length} more (the plan and run report list every one)`);
  return out;
}
