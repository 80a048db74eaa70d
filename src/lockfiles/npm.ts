/**
 * package-lock.json and npm-shrinkwrap.json (the same format;
 * https://docs.npmjs.com/cli/v10/configuring-npm/package-lock-json).
 *
 * - lockfileVersion 1 (npm 5/6): a tree of `dependencies`, keyed by name, nested
 *   where npm nested node_modules; a version is a semver, or the spec itself for
 *   git (`git+https://…#sha`), local (`file:…`) and alias (`npm:real@1.2.3`) deps.
 * - lockfileVersion 2 (npm 7/8): `packages` keyed by node_modules path, plus the
 *   v1 tree for old npm; the `packages` map is the truth, so only it is read.
 * - lockfileVersion 3 (npm 9+): `packages` only.
 *
 * In `packages`: `""` is the project itself; a key outside node_modules
 * (`packages/a`) is a workspace's or linked folder's own manifest; `link: true`
 * is a symlink whose `resolved` is that folder; `name` is present when the
 * folder name differs from the package's (an alias); `inBundle` means the bytes
 * come inside the parent's tarball.
 */
import { atJson, docPath, docPathAppend, isRecord, lockError, parseJson, str } from './read.js';
import { isGitUrl, kindOfResolved, parseAliasSpec } from './npm-spec.js';
import type { EntryKind, LockEntry, LockOrigin, LockWarning, ParseOutput } from './types.js';

export function parseNpmLock(text: string, file: string): ParseOutput {
  const doc = parseJson(text, file);
  if (!isRecord(doc)) throw lockError({ file, line: 1 }, 'not a package-lock: the top level is not an object');
  const v = doc.lockfileVersion;
  if (v !== 1 && v !== 2 && v !== 3) throw lockError(atJson({ file, path: 'lockfileVersion' }, text, ['lockfileVersion']), `unsupported lockfileVersion ${JSON.stringify(v)} (1, 2 or 3 expected)`);
  const warnings: LockWarning[] = [];
  const entries = v === 1 ? fromTree(doc, file, text) : fromPackages(doc, file, text, warnings);
  return { formatVersion: String(v), entries, warnings };
}

/**
 * The line of each `packages` key, found in one pass (npm writes two-space indented JSON: keys at
 * column 4). The text is walked with indexOf, not split into lines: a 50 MB lockfile is 2 million
 * lines, whose strings and array (30 MB) were made only to be thrown away. Only a line with a `"`
 * at column 2 or 4 can be a key's: only those are cut out and matched.
 */
function packageKeyLines(text: string): Map<string, number> {
  const out = new Map<string, number>();
  let inPackages = false;
  for (let start = 0, i = 0; start <= text.length; i++) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const candidate = text.charCodeAt(start + 2) === 0x22 || text.charCodeAt(start + 4) === 0x22;
    const l = candidate ? text.slice(start, end) : '';
    start = end + 1;
    if (!candidate) continue;
    if (/^ {2}"\w+": /.test(l)) inPackages = l.startsWith('  "packages": {');
    else if (inPackages) {
      const m = /^ {4}("(?:[^"\\]|\\.)*"): \{/.exec(l);
      if (m?.[1]) {
        try {
          out.set(JSON.parse(m[1]) as string, i + 1);
        } catch {
          /* a key we cannot read back has no line: the path still names it */
        }
      }
    }
  }
  return out;
}

/** `packages/*` -> a RegExp over folder paths (npm's workspaces are globs of folders). */
function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/^\.\//, '')
    .replace(/\/+$/, '')
    .split('**')
    .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

function workspaceGlobs(root: unknown): RegExp[] {
  if (!isRecord(root)) return [];
  const ws = root.workspaces;
  const list = Array.isArray(ws) ? ws : isRecord(ws) && Array.isArray(ws.packages) ? ws.packages : [];
  return list.filter((g): g is string => typeof g === 'string').map(globToRegExp);
}

/** The package name a `node_modules/…` key installs: the part after the last `node_modules/`. */
function folderName(key: string): string | undefined {
  const i = key.lastIndexOf('node_modules/');
  return i === -1 ? undefined : key.slice(i + 'node_modules/'.length);
}

function fromPackages(doc: Record<string, unknown>, file: string, text: string, warnings: LockWarning[]): LockEntry[] {
  const packages = doc.packages;
  if (!isRecord(packages)) throw lockError(atJson({ file, path: 'packages' }, text, ['packages']), `lockfileVersion ${String(doc.lockfileVersion)} without a "packages" object`);
  const lines = packageKeyLines(text);
  const workspaces = workspaceGlobs(packages['']);
  const out: LockEntry[] = [];
  for (const [key, meta] of Object.entries(packages)) {
    if (key === '') continue; // the project itself
    const at: LockOrigin = { file, line: lines.get(key), path: docPath('packages', key) };
    if (!isRecord(meta)) throw lockError(atJson(at, text, ['packages', key]), 'not an object');
    const local = folderName(key);
    // A folder outside node_modules is a workspace's or link target's own manifest: it is reached through its link.
    if (local === undefined) continue;
    const realName = str(meta.name);
    const resolved = str(meta.resolved);
    let kind: EntryKind;
    let version = str(meta.version) ?? '';
    if (meta.link === true) {
      if (!resolved) throw lockError(atJson(at, text, ['packages', key]), 'a link without "resolved"');
      const target = packages[resolved];
      if (isRecord(target)) version = str(target.version) ?? '';
      kind = workspaces.some((re) => re.test(resolved)) ? 'workspace' : 'link';
    } else {
      kind = kindOfResolved(resolved) ?? 'registry';
      if (resolved && kind === 'registry' && !/^https?:/i.test(resolved)) {
        warnings.push({ ...at, message: `unrecognised "resolved" ${JSON.stringify(resolved)}: taken as a registry package` });
      }
      if (!version) throw lockError(atJson({ ...at, path: docPath('packages', key, 'version') }, text, ['packages', key, 'version']), 'no version');
    }
    const entry: LockEntry = { ecosystem: 'npm', name: local, normalizedName: local, version, kind, from: [at] };
    if (realName && realName !== local && (kind === 'registry' || kind === 'alias')) {
      entry.kind = 'alias';
      entry.aliasFor = realName;
    }
    if (resolved) entry.resolved = resolved;
    const integrity = str(meta.integrity);
    if (integrity) entry.integrity = integrity;
    flags(entry, meta);
    if (meta.inBundle === true) entry.bundled = true;
    out.push(entry);
  }
  return out;
}

function flags(entry: LockEntry, meta: Record<string, unknown>): void {
  if (meta.dev === true) entry.dev = true;
  if (meta.optional === true) entry.optional = true;
  if (meta.devOptional === true) entry.devOptional = true;
}

/**
 * Deeper than npm could ever have installed: each level is at least
 * `node_modules/x/` (15 characters), and Linux's PATH_MAX is 4096. Past it, a
 * tree is made to hurt whoever reads it: every entry's origin names its whole
 * path, so depth times entries is what the summary and the database would hold.
 */
const MAX_TREE_DEPTH = 300;

/**
 * v1: walk the nested `dependencies` tree without recursion (a deep tree is no
 * stack risk). Each level's document path is its parent's plus one segment: a
 * concatenation, not a copy of every segment and a docPath rebuilt per level,
 * which made a tree thousands deep quadratic.
 */
function fromTree(doc: Record<string, unknown>, file: string, text: string): LockEntry[] {
  const out: LockEntry[] = [];
  // where each level is, as a chain to its parent: an error's line is looked up from it (atJson), only then
  interface Level {
    deps: unknown;
    path: string;
    depth: number;
    up?: Level;
    name?: string;
  }
  const segments = (level: Level | undefined, ...more: string[]): string[] => {
    const segs: string[] = [...more];
    for (let l = level; l; l = l.up) segs.unshift(...(l.up ? [l.name!, 'dependencies'] : ['dependencies']));
    return segs;
  };
  const stack: Level[] = [{ deps: doc.dependencies ?? {}, path: 'dependencies', depth: 1 }];
  while (stack.length) {
    const level = stack.pop()!;
    const { deps, path, depth } = level;
    if (!isRecord(deps)) throw lockError(atJson({ file, path }, text, segments(level)), 'not an object');
    if (depth > MAX_TREE_DEPTH) {
      throw lockError(atJson({ file, path: `${path.slice(0, 200)}…` }, text, segments(level)), `"dependencies" nested more than ${MAX_TREE_DEPTH} deep: deeper than npm can install`, { hint: 'regenerate the lockfile with npm (npm 7+ writes lockfileVersion 2 or 3), or leave it out of the job' });
    }
    const names = Object.keys(deps);
    // Pushed in reverse so entries come out in the file's order.
    const children: Level[] = [];
    for (const name of names) {
      const meta = deps[name];
      const here = docPathAppend(path, name);
      const at: LockOrigin = { file, path: here };
      if (!isRecord(meta)) throw lockError(atJson(at, text, segments(level, name)), 'not an object');
      const spec = str(meta.version);
      if (!spec) throw lockError(atJson({ file, path: `${here}.version` }, text, segments(level, name, 'version')), 'no version');
      const entry = v1Entry(name, spec, meta, at);
      out.push(entry);
      if (meta.dependencies !== undefined) children.push({ deps: meta.dependencies, path: `${here}.dependencies`, depth: depth + 1, up: level, name });
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
  return out;
}

function v1Entry(name: string, spec: string, meta: Record<string, unknown>, at: LockOrigin): LockEntry {
  const resolved = str(meta.resolved);
  const entry: LockEntry = { ecosystem: 'npm', name, normalizedName: name, version: spec, kind: 'registry', from: [at] };
  const alias = parseAliasSpec(spec);
  if (alias) {
    entry.kind = 'alias';
    entry.aliasFor = alias[0];
    entry.version = alias[1];
  } else if (isGitUrl(spec)) {
    entry.kind = 'git';
  } else if (spec.startsWith('file:')) {
    // npm 5/6 symlink a `file:` folder and copy a `file:` tarball.
    entry.kind = /\.(?:tgz|tar\.gz|tar)$/i.test(spec) ? 'file' : 'link';
  } else if (/^https?:/i.test(spec)) {
    entry.kind = 'url';
  }
  if (resolved) entry.resolved = resolved;
  const integrity = str(meta.integrity);
  if (integrity) entry.integrity = integrity;
  flags(entry, meta);
  if (meta.bundled === true) entry.bundled = true;
  return entry;
}
