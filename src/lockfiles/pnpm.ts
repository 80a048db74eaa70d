/**
 * pnpm-lock.yaml (https://github.com/pnpm/spec/tree/master/lockfile), read with `yaml` (or js-yaml: see the end of this comment).
 *
 * - 5.x (pnpm 5-7): `packages` keyed `/name/1.2.3`, `/@scope/name/1.2.3`, with
 *   peers after `_` (`/react-dom/18.2.0_react@18.2.0`).
 * - 6.0 (pnpm 8): `/name@1.2.3`, peers in parentheses (`(react@18.2.0)`), nestable.
 * - 9.0 (pnpm 9+): `packages` keyed `name@1.2.3` (no peers) for what to fetch;
 *   `snapshots` keyed with peers for each instance; no `dev` flags any more.
 *
 * A key that is not a registry path carries `name`/`version` fields; the
 * `resolution` says where the bytes are: `{integrity}` (registry), `{tarball}`
 * (`file:`, codeload.github.com, another URL), `{type: git, repo, commit}`,
 * `{type: directory, directory}`. Importers (the workspace's projects) name
 * `link:` deps (workspace siblings or other folders) and aliases, which appear
 * as a dependency whose value is another package's key.
 *
 * The text is read with js-yaml where pnpm-fast.ts says that gives what yaml gives (the
 * lockfiles pnpm writes), else with yaml, whose Document and ranges give the errors' lines.
 */
import { LineCounter, parseDocument, isAlias, isMap, isScalar, visit } from 'yaml';
import { toError } from '../errors.js';
import { isRecord, lockError, splitAt, str } from './read.js';
import { isGitUrl, isRegistryTarball } from './npm-spec.js';
import { readPnpmFast } from './pnpm-fast.js';
import type { EntryKind, LockEntry, LockOrigin, LockWarning, ParseOutput } from './types.js';

type Style = 5 | 6 | 9;

/** How to read the YAML: `auto` (the default) reads with js-yaml when pnpm-fast.ts can, else with yaml; `yaml` always with yaml. */
export type PnpmReader = 'auto' | 'yaml';

export function parsePnpmLock(text: string, file: string, opts: { reader?: PnpmReader } = {}): ParseOutput {
  const read = (opts.reader === 'yaml' ? undefined : fastRead(text)) ?? readWithYaml(text, file);
  const data = read.data;
  if (!isRecord(data)) throw lockError({ file, line: 1 }, 'not a pnpm lockfile: the top level is not a mapping');
  const formatVersion = String(data.lockfileVersion ?? '');
  const major = Number.parseInt(formatVersion, 10);
  if (!(major >= 5 && major <= 9)) throw lockError({ file, line: 1, path: 'lockfileVersion' }, `unsupported lockfileVersion ${JSON.stringify(data.lockfileVersion)} (5.x, 6.0 or 9.0 expected)`);
  const style: Style = major < 6 ? 5 : major < 9 ? 6 : 9;

  const warnings: LockWarning[] = [];
  const entries: LockEntry[] = [];
  const packages = data.packages ?? {};
  if (!isRecord(packages)) throw lockError({ file, path: 'packages' }, 'not a mapping');
  const lines = read.packageLines();
  for (const [key, meta] of Object.entries(packages)) {
    const at: LockOrigin = { file, line: lines.get(key), path: `packages[${JSON.stringify(key)}]` };
    if (!isRecord(meta)) throw lockError(at, 'not a mapping');
    entries.push(packageEntry(key, meta, style, at));
  }

  // pnpm 9: optional is said on the snapshot (the instance), not the package.
  if (style === 9 && isRecord(data.snapshots)) {
    const byKey = new Map(entries.map((e) => [`${e.name}@${e.version}`, e]));
    for (const [key, meta] of Object.entries(data.snapshots)) {
      if (isRecord(meta) && meta.optional === true) {
        const e = byKey.get(stripPeers(key));
        if (e) e.optional = true;
      }
    }
  }

  // one by one: a spread of a monorepo's importer entries (over ~120,000) overflows the call stack
  const more = [importerEntries(data, file), aliasEntries(data, style, file), patchEntries(data, entries, file, warnings)];
  for (const list of more) for (const e of list) entries.push(e);
  return { formatVersion, entries, warnings };
}

interface YamlRead {
  data: unknown;
  /** The line of each key of the top-level `packages` mapping. */
  packageLines: () => Map<string, number>;
}

function fastRead(text: string): YamlRead | undefined {
  const r = readPnpmFast(text);
  return r && { data: r.data, packageLines: () => r.packageLines };
}

/** The text read with yaml: a Document with ranges, which gives the errors and their lines. */
function readWithYaml(text: string, file: string): YamlRead {
  let lineCounter = new LineCounter();
  // logLevel error: yaml would print its warnings (a collection as a key) on our stderr.
  // yaml's uniqueKeys compares each key with every earlier key of its mapping: quadratic, 10 s
  // for a 3 MB lockfile and over 10 minutes (1.4 GB) for a 37 MB one. So the document is read
  // without it and its keys checked here with a Set; only a document that has a repeated key,
  // or another error, is read again with yaml's own check, for the very error it gave before.
  let doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false, logLevel: 'error' });
  if (doc.errors.length || hasRepeatedKey(doc)) {
    lineCounter = new LineCounter();
    doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, logLevel: 'error' });
  }
  const err = doc.errors[0];
  if (err) {
    const line = err.linePos?.[0]?.line ?? lineCounter.linePos(err.pos[0]).line;
    throw lockError({ file, line }, `not valid YAML: ${err.message.split('\n')[0]}`, { cause: err });
  }
  const collectionKey = firstCollectionKeyLine(doc, lineCounter);
  if (collectionKey !== undefined) throw lockError({ file, line: collectionKey }, 'a mapping key is a list or a mapping (`? [a, b]`): pnpm writes only names and versions as keys');
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // an alias to an anchor not set before it, or too many aliases (a YAML bomb): pnpm writes none
    throw lockError({ file, line: firstAliasLine(doc, lineCounter) }, `the YAML cannot be expanded: ${toError(e).message}`, { cause: e });
  }
  // The line of each `packages` key, from the YAML nodes (one pass).
  const packageLines = () => {
    const out = new Map<string, number>();
    const node = doc.get('packages', true);
    if (isMap(node)) {
      for (const pair of node.items) {
        if (isScalar(pair.key) && pair.key.range) out.set(String(pair.key.value), lineCounter.linePos(pair.key.range[0]).line);
      }
    }
    return out;
  };
  return { data, packageLines };
}

/** `react-dom@18.2.0(react@18.2.0)` -> `react-dom@18.2.0`; the peer list may nest parentheses. */
function stripPeers(key: string): string {
  const at = key.indexOf('@', 1);
  const paren = key.indexOf('(', at === -1 ? 0 : at);
  return paren === -1 ? key : key.slice(0, paren);
}

/** The name and version a `packages` key stands for, in each style. */
function keyNameVersion(key: string, style: Style): [string, string] | undefined {
  if (style === 5) {
    if (!key.startsWith('/')) return undefined; // a host path or `file:`: only its fields tell
    const segs = key.slice(1).split('/');
    const scoped = segs[0]?.startsWith('@');
    const name = scoped ? `${segs[0]}/${segs[1]}` : segs[0];
    const version = segs[scoped ? 2 : 1];
    if (!name || !version) return undefined;
    return [name, version.split('_')[0] ?? version];
  }
  const k = style === 6 ? (key.startsWith('/') ? key.slice(1) : undefined) : key;
  if (k === undefined) return undefined;
  return splitAt(stripPeers(k));
}

function packageEntry(key: string, meta: Record<string, unknown>, style: Style, at: LockOrigin): LockEntry {
  const fromKey = keyNameVersion(key, style);
  const name = str(meta.name) ?? fromKey?.[0];
  const version = str(meta.version) ?? fromKey?.[1];
  if (!name || !version) throw lockError(at, `cannot tell the package and version of ${JSON.stringify(key)}`);
  const resolution = isRecord(meta.resolution) ? meta.resolution : {};
  const integrity = str(resolution.integrity);
  const tarball = str(resolution.tarball);
  let kind: EntryKind = 'registry';
  let resolved: string | undefined;
  if (resolution.type === 'git') {
    kind = 'git';
    resolved = `${str(resolution.repo) ?? ''}#${str(resolution.commit) ?? ''}`;
  } else if (resolution.type === 'directory') {
    kind = 'file';
    resolved = str(resolution.directory);
  } else if (tarball) {
    resolved = tarball;
    if (tarball.startsWith('file:')) kind = 'file';
    else if (isGitUrl(tarball)) kind = 'git';
    else if (!isRegistryTarball(tarball)) kind = 'url';
  } else if (key.startsWith('file:') || version.startsWith('file:')) kind = 'file';
  else if (!integrity) throw lockError({ ...at, path: `${at.path}.resolution` }, 'no integrity, tarball, git or directory resolution');
  const entry: LockEntry = { ecosystem: 'npm', name, normalizedName: name, version, kind, from: [at] };
  if (resolved) entry.resolved = resolved;
  if (integrity) entry.integrity = integrity;
  if (meta.dev === true) entry.dev = true;
  if (meta.optional === true) entry.optional = true;
  return entry;
}

const DEP_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies'] as const;

/** The version a dependency map's value pins: a string (5.x) or `{specifier, version}` (6.0+). */
function depVersion(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return isRecord(v) ? str(v.version) : undefined;
}

/** `link:` dependencies of the workspace's projects: a sibling project is a workspace, any other folder a link. */
function importerEntries(data: Record<string, unknown>, file: string): LockEntry[] {
  // 5.x/6.0 without workspaces put the root project's fields at the top level.
  const importers: Record<string, unknown> = isRecord(data.importers) ? data.importers : { '.': data };
  const projects = new Set(Object.keys(importers).map(normalisePath));
  const out: LockEntry[] = [];
  for (const [project, imp] of Object.entries(importers)) {
    if (!isRecord(imp)) continue;
    for (const field of DEP_FIELDS) {
      const deps = imp[field];
      if (!isRecord(deps)) continue;
      for (const [dep, value] of Object.entries(deps)) {
        const v = depVersion(value);
        if (!v?.startsWith('link:')) continue;
        const target = normalisePath(joinPath(project, v.slice('link:'.length)));
        const at: LockOrigin = { file, path: `importers[${JSON.stringify(project)}].${field}[${JSON.stringify(dep)}]` };
        out.push({ ecosystem: 'npm', name: dep, normalizedName: dep, version: '', kind: projects.has(target) ? 'workspace' : 'link', resolved: v, from: [at] });
      }
    }
  }
  return out;
}

/**
 * Aliases: a dependency whose value names another package (`string-width-cjs:
 * /string-width/4.2.3` in 5.x, `/string-width@4.2.3` in 6.0, `string-width@4.2.3`
 * in 9.0), in the importers and in the packages' (snapshots') own dependencies.
 */
function aliasEntries(data: Record<string, unknown>, style: Style, file: string): LockEntry[] {
  const out: LockEntry[] = [];
  const scan = (deps: unknown, path: string) => {
    if (!isRecord(deps)) return;
    for (const [dep, value] of Object.entries(deps)) {
      const v = depVersion(value);
      // a URL or protocol (`git+https://git@github.com:…`, `github:…`, `link:`, `file:`) is no
      // `name@version`: an npm name never holds ":", so its "@" names no package
      if (!v || /^[a-z][a-z0-9+.-]*:/i.test(v)) continue;
      const target = style === 9 ? (/^[^(]*@/.test(v.slice(1)) ? keyNameVersion(v, 9) : undefined) : v.startsWith('/') ? keyNameVersion(v, style) : undefined;
      if (!target || target[0] === dep) continue;
      out.push({ ecosystem: 'npm', name: dep, normalizedName: dep, version: target[1], kind: 'alias', aliasFor: target[0], from: [{ file, path: `${path}[${JSON.stringify(dep)}]` }] });
    }
  };
  const importers: Record<string, unknown> = isRecord(data.importers) ? data.importers : { '.': data };
  for (const [project, imp] of Object.entries(importers)) {
    if (isRecord(imp)) for (const f of DEP_FIELDS) scan(imp[f], `importers[${JSON.stringify(project)}].${f}`);
  }
  const section = style === 9 ? data.snapshots : data.packages;
  const name = style === 9 ? 'snapshots' : 'packages';
  if (isRecord(section)) {
    for (const [key, meta] of Object.entries(section)) {
      if (isRecord(meta)) for (const f of ['dependencies', 'optionalDependencies'] as const) scan(meta[f], `${name}[${JSON.stringify(key)}].${f}`);
    }
  }
  return out;
}

/** `patchedDependencies`: `name@version` (or, since pnpm 9.x, a bare `name` for every version) -> a patch entry. */
function patchEntries(data: Record<string, unknown>, registry: readonly LockEntry[], file: string, warnings: LockWarning[]): LockEntry[] {
  const patched = data.patchedDependencies;
  if (!isRecord(patched)) return [];
  const out: LockEntry[] = [];
  for (const [key, meta] of Object.entries(patched)) {
    const at: LockOrigin = { file, path: `patchedDependencies[${JSON.stringify(key)}]` };
    const patchPath = isRecord(meta) ? str(meta.path) : str(meta);
    const nv = splitAt(key);
    const targets = nv ? [nv] : registry.filter((e) => e.name === key && e.kind === 'registry').map((e): [string, string] => [e.name, e.version]);
    if (!targets.length) warnings.push({ ...at, message: `patch for ${key}, which the lockfile does not install` });
    for (const [name, version] of targets) {
      const e: LockEntry = { ecosystem: 'npm', name, normalizedName: name, version, kind: 'patch', from: [at] };
      if (patchPath) e.resolved = patchPath;
      out.push(e);
    }
  }
  return out;
}

function joinPath(base: string, rel: string): string {
  if (rel.startsWith('/')) return rel;
  const parts = base === '.' ? [] : base.split('/');
  for (const p of rel.split('/')) {
    if (p === '..') parts.pop();
    else if (p !== '.' && p !== '') parts.push(p);
  }
  return parts.join('/') || '.';
}

function normalisePath(p: string): string {
  return joinPath('.', p);
}

/**
 * Whether a mapping gives a scalar key twice, as yaml's uniqueKeys sees it (`a.value === b.value`;
 * a collection or alias key equals only itself). A NaN key counts as repeated here, where yaml
 * would not: that only sends the document to the slow read, which decides as before.
 */
function hasRepeatedKey(doc: ReturnType<typeof parseDocument>): boolean {
  let repeated = false;
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        if (seen.has(pair.key.value)) {
          repeated = true;
          return visit.BREAK;
        }
        seen.add(pair.key.value);
      }
      return undefined;
    },
  });
  return repeated;
}

/** Where expanding the document's aliases (`*name`) failed: the first one that names no anchor before it, or else the first one. */
/** The line of the first key that is a collection, not a scalar; undefined when there is none. */
function firstCollectionKeyLine(doc: ReturnType<typeof parseDocument>, lineCounter: LineCounter): number | undefined {
  let line: number | undefined;
  visit(doc, {
    Pair(_key, pair) {
      if (pair.key === null || isScalar(pair.key) || isAlias(pair.key)) return undefined;
      const at = (pair.key as { range?: [number, number, number] }).range?.[0];
      line = at === undefined ? 1 : lineCounter.linePos(at).line;
      return visit.BREAK;
    },
  });
  return line;
}

function firstAliasLine(doc: ReturnType<typeof parseDocument>, lineCounter: LineCounter): number | undefined {
  let first: number | undefined;
  let unresolved: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      if (!isAlias(node) || !node.range) return undefined;
      const line = lineCounter.linePos(node.range[0]).line;
      first ??= line;
      if (node.resolve(doc) !== undefined) return undefined;
      unresolved = line;
      return visit.BREAK;
    },
  });
  return unresolved ?? first;
}
