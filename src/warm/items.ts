/**
 * Lockfile entries into warm items: one item per registry package version (an
 * npm alias and its real package are the same bytes, so the same item), one
 * per non-registry entry (listed, never requested), each with every lockfile
 * that names it and what those lockfiles pin to check the bytes with.
 */
import { normalizeProjectName } from '../builders/python-metadata.js';
import type { Ecosystem, LockEntry } from '../lockfiles/index.js';
import { indexUrl } from '../lockfiles/requirements.js';
import { publicUrl, redact, redactUrlCredentials } from '../redact.js';
import type { CollectedLockfile } from './inputs.js';
import type { InternalNames } from './internal.js';
import { registryFor, type RegistryConfig } from './registry-config.js';
import { itemKey, type Expected, type ItemKind, type WarmItem } from './types.js';

/**
 * The registries whose packages may be requested through a store: the public
 * registries (the job's `publicRegistries` and the well-known mirrors of the same
 * content), the job's own npm sources (a company registry that proxies the public
 * one writes its own host into every lockfile), and the job's CodeArtifact domain.
 * A registry entry pinned anywhere else is another registry's package.
 *
 * A registry the job names by a path is only that path of its host: an Artifactory or a
 * Nexus serves many registries on one host, and `publicRegistries.npm` at
 * `…/api/npm/npm-remote/` does not make `…/api/npm/npm-private/` public (trusted by host,
 * its packages were requested through the store, which pulled in public ones of the same
 * names). The public registries' own hosts (registry.npmjs.org, pypi.org) and CodeArtifact
 * hosts are one registry each, trusted whole whatever path names them. A source's tarballs
 * may carry its token as their first path segment (Gemfury: `/<token>/acme/` for `/acme/`).
 * warm and rewrite-lockfiles both ask here: one rule for what is whose.
 *
 * A job's own npm source is trusted only so far: it also serves private packages the
 * job does not migrate (filtered out, or never listed), and a store asked for one of
 * those pulls in the public package of that name. Such an entry is marked (`viaSource`)
 * and requested only once the public registry shows that name@version with the bytes
 * the lockfile pins (public-check.ts).
 */
export class RegistryHosts {
  private readonly hosts: Record<Ecosystem, Set<string | undefined>>;
  /** The folders (paths ending in `/`) the job names on each host: its public registry's, and its npm sources'. */
  private readonly named: { public: Record<Ecosystem, string[]>; sources: string[] };
  /** The job's domain's repository endpoints: `<domain>-<owner>.d.codeartifact.<region>.amazonaws.com` (or `.com.cn`), the whole host. */
  private readonly codeartifactHost: RegExp;

  constructor(config: { publicRegistries: { npm: string; pypi: string }; sources: readonly { kind: string; url: string }[]; target: { domain: string; domainOwner: string } }) {
    const npmSourceUrls = config.sources.filter((s) => s.kind === 'npm-registry').map((s) => s.url);
    const npmSources = npmSourceUrls.map(hostOf);
    this.named = { public: { npm: folderOf(config.publicRegistries.npm), pypi: folderOf(config.publicRegistries.pypi), go: [] }, sources: npmSourceUrls.flatMap(folderOf) };
    this.hosts = {
      npm: new Set([...PUBLIC_HOSTS.npm, hostOf(config.publicRegistries.npm), ...npmSources]),
      pypi: new Set([...PUBLIC_HOSTS.pypi, hostOf(config.publicRegistries.pypi)]),
      go: new Set(),
    };
    // the whole host: a prefix alone would trust <domain>-<owner>.d.codeartifact.evil.example
    const escape = (s: string) => s.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    this.codeartifactHost = new RegExp(`^${escape(config.target.domain)}-${escape(config.target.domainOwner)}\\.d\\.codeartifact\\.[a-z0-9-]+\\.amazonaws\\.com(?:\\.cn)?(?::443)?$`);
  }

  /**
   * Whose `resolved` is: a public registry's (or the job's domain's), one of the job's npm
   * sources' (host), or another registry's (its host, and the paths the job names on it when
   * it is outside them); undefined when it is no http(s) URL.
   */
  private whose(ecosystem: Ecosystem, resolved: string): { public: true } | { source: string } | { foreign: string } | undefined {
    if (!/^https?:\/\//i.test(resolved)) return undefined;
    let u: URL;
    try {
      u = new URL(resolved);
    } catch {
      return undefined;
    }
    const host = u.host.toLowerCase();
    if (this.codeartifactHost.test(host)) return { public: true };
    if (!this.hosts[ecosystem].has(host)) return { foreign: host };
    // a public registry's own host, or a CodeArtifact one publicRegistries names: one registry, whatever the path
    if (PUBLIC_HOSTS[ecosystem].has(host) || CODEARTIFACT.test(host)) return { public: true };
    const on = (list: readonly string[]) => list.filter((f) => f.startsWith(`${host}/`)).map((f) => f.slice(host.length));
    const exact = on(this.named.public[ecosystem]);
    const sources = ecosystem === 'npm' ? on(this.named.sources) : [];
    const path = u.pathname.endsWith('/') ? u.pathname : `${u.pathname}/`;
    // a registry at the host's root holds every path of it
    if (exact.some((p) => p === '/' || path.startsWith(p))) return { public: true };
    // a source's tarballs may carry its token as a first segment (Gemfury: /<token>/acme/ for /acme/)
    const tokenless = path.replace(/^\/[^/]+/, '');
    if (sources.some((p) => p === '/' || path.startsWith(p) || tokenless.startsWith(p))) return { source: host };
    return { foreign: `${host} (outside ${[...exact, ...sources].join(', ')})` };
  }

  /** Where `resolved` is when it is another registry's (its host, and the paths the job names there); undefined when a store may be asked. */
  foreign(ecosystem: Ecosystem, resolved: string | undefined): string | undefined {
    if (ecosystem === 'go' || !resolved) return undefined;
    const w = this.whose(ecosystem, resolved);
    return w && 'foreign' in w ? w.foreign : undefined;
  }

  /**
   * The host of `resolved` when it is one of the job's npm sources (not a public registry): the
   * public registry is asked first. A source on the public registry's host at a path of its own
   * is a source too: its private packages are no public ones for being served beside them.
   */
  viaSource(ecosystem: Ecosystem, resolved: string | undefined): string | undefined {
    if (ecosystem !== 'npm' || !resolved) return undefined;
    const w = this.whose(ecosystem, resolved);
    return w && 'source' in w ? w.source : undefined;
  }
}

/** The public registries' own hosts: one registry each, whatever path a job names them by. */
const PUBLIC_HOSTS: Record<Ecosystem, ReadonlySet<string>> = {
  npm: new Set(['registry.npmjs.org', 'registry.yarnpkg.com']),
  pypi: new Set(['pypi.org', 'pypi.python.org', 'files.pythonhosted.org']),
  go: new Set(),
};

/**
 * A CodeArtifact endpoint host: one publicRegistries names (the job's own domain is trusted
 * before), whose repositories it serves (its upstreams) whatever repository the path names.
 */
const CODEARTIFACT = /\.d\.codeartifact\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?(?::443)?$/;

/** `host/path/` of a registry URL (lower-case host, the path as a folder); none for a URL that does not parse. */
function folderOf(url: string): string[] {
  try {
    const u = new URL(url);
    return [`${u.host.toLowerCase()}${u.pathname.endsWith('/') ? u.pathname : `${u.pathname}/`}`];
  } catch {
    return [];
  }
}

function hostOf(url: string): string | undefined {
  if (!/^https?:\/\//i.test(url)) return undefined;
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return undefined;
  }
}

/** The tail of every note of a package from a registry that is neither public nor one of the job's sources. */
const NEVER_REQUESTED = "never requested through a public store (a public package of that name would be pulled in); add the registry as a source to migrate it";

/**
 * An npm entry whose lockfile records no URL (pnpm v9, yarn berry, npm's
 * omit-lockfile-registry-resolved): the registry the configuration around the lockfile
 * names for it (registry-config.ts). Where nothing names one, the package manager's
 * default, the public registry, fetched it: undefined, and the entry is public as before.
 * A registry that cannot be told (an environment variable, a file that does not parse)
 * is no public one: the entry is private, with why.
 */
function configured(e: LockEntry, registryName: string, config: RegistryConfig | undefined): { resolved: string; file: string } | { unknown: string } | undefined {
  if (e.ecosystem !== 'npm' || e.resolved || !config) return undefined;
  const said = registryFor(config, registryName);
  if (!said) return undefined;
  if ('broken' in said) return { unknown: `its lockfile records no URL, and ${said.broken}, which names the registries it installs from, cannot be read: ${NEVER_REQUESTED.replace('; add', ' until it is fixed; add')}` };
  if (said.url === undefined) return { unknown: `from the registry ${said.file} names as ${JSON.stringify(said.shown)}, which cannot be told from here (an environment variable, or not an http(s) URL): ${NEVER_REQUESTED}` };
  return { resolved: said.url, file: said.file };
}

/** The item an entry stands for (not yet merged with the others); `config`: the registries named around its lockfile. */
export function itemOf(e: LockEntry, internal: InternalNames, registries?: RegistryHosts, config?: RegistryConfig): Omit<WarmItem, 'files'> {
  const registryName = e.kind === 'alias' && e.aliasFor ? e.aliasFor : e.name;
  const name = e.ecosystem === 'pypi' ? normalizeProjectName(registryName) : registryName;
  let kind: ItemKind = e.kind === 'alias' ? 'registry' : e.kind;
  if (kind === 'registry' && e.bundled) kind = 'bundled';
  const isInternal = kind === 'registry' && internal.has(e.ecosystem, registryName);
  const named = kind === 'registry' && !isInternal && registries ? configured(e, registryName, config) : undefined;
  const resolved = named && 'resolved' in named ? named.resolved : e.resolved;
  const foreign = kind === 'registry' && !isInternal ? registries?.foreign(e.ecosystem, resolved) : undefined;
  // a PyPI index that cannot be told from here (`--index-url ${IDX}/simple`, a folder) is no
  // public one: taken for PyPI, its pins were requested through pypi-store by name
  const unknownIndex = kind === 'registry' && !isInternal && registries && e.ecosystem === 'pypi' && resolved !== undefined && indexUrl(resolved) === undefined;
  if (foreign || unknownIndex || (named && 'unknown' in named)) kind = 'private';
  const expected = {
    ...(e.integrity ? { integrity: e.integrity } : {}),
    ...(e.hashes?.length ? { hashes: [...e.hashes].sort() } : {}),
    ...(e.fileHashes ? { fileHashes: Object.fromEntries(Object.entries(e.fileHashes).sort(([a], [b]) => (a < b ? -1 : 1)).map(([f, h]) => [f, [h]])) } : {}),
    ...(e.yarnChecksum ? { yarnChecksum: e.yarnChecksum } : {}),
    ...(e.h1 ? { h1: e.h1 } : {}),
  };
  const item: Omit<WarmItem, 'files'> = {
    ecosystem: e.ecosystem,
    name,
    displayName: registryName,
    // a link or workspace pins no version: where it points is what tells two apart, without
    // the credentials a URL may carry (the version is a column of the state and of the ledger);
    // npm 6's lockfile (lockfileVersion 1) writes a git or tarball dependency's version as that
    // URL itself, password and all: hidden too, the commit in its fragment kept
    version: e.version ? (kind === 'registry' ? e.version : redactUrlCredentials(e.version)) : kind === 'registry' ? '' : redact(e.resolved ?? ''),
    kind,
    internal: kind === 'registry' && internal.has(e.ecosystem, registryName),
    expected,
  };
  const via = kind === 'registry' && !item.internal ? registries?.viaSource(e.ecosystem, resolved) : undefined;
  if (via) item.viaSource = via;
  const namedBy = named && 'file' in named ? ` (its lockfile records no URL: ${named.file} names that registry)` : '';
  if (kind === 'bundled') item.note = "bundled: it comes inside its parent's tarball, never fetched on its own";
  else if (kind === 'private' && unknownIndex) item.note = `from the index ${publicUrl(resolved!)}, which cannot be told from here (an environment variable, or not an http(s) URL): ${NEVER_REQUESTED}`;
  else if (kind === 'private') item.note = named && 'unknown' in named ? named.unknown : `from the registry at ${foreign}, which is neither public nor one of the job's sources${namedBy}: ${NEVER_REQUESTED}`;
  else if (kind !== 'registry') item.note = `${kind}${e.resolved ? `: ${e.resolved}` : ''}`;
  return item;
}

export interface ItemPlan {
  items: WarmItem[];
  /** Per lockfile (by path), the keys of the items it names. */
  byLockfile: Map<string, Set<string>>;
}

/** Every collected lockfile's entries as deduplicated items. */
export function planItems(lockfiles: readonly CollectedLockfile[], internal: InternalNames, registries?: RegistryHosts): ItemPlan {
  const items = new Map<string, WarmItem>();
  const byLockfile = new Map<string, Set<string>>();
  // PyPI: what each lockfile pins for each item, to tell when they disagree (pinSetsOf)
  const pypiPins = new Map<string, Map<string, { hashes: Set<string>; fileHashes: Record<string, Set<string>> }>>();
  for (const { ref, result, registries: config } of lockfiles) {
    const keys = new Set<string>();
    byLockfile.set(ref.path, keys);
    for (const e of result.entries) {
      const it = itemOf(e, internal, registries, config);
      // pinned twice in this very file with other bytes: the second pin is checked too
      for (const other of e.otherIntegrity ?? []) pinAlso(it.expected, other, ref.path);
      const key = itemKey(it);
      keys.add(key);
      if (it.ecosystem === 'pypi' && it.kind === 'registry') {
        const byFile = pypiPins.get(key) ?? pypiPins.set(key, new Map()).get(key)!;
        const own = byFile.get(ref.path) ?? byFile.set(ref.path, { hashes: new Set(), fileHashes: {} }).get(ref.path)!;
        for (const h of it.expected.hashes ?? []) own.hashes.add(h);
        for (const [file, hs] of Object.entries(it.expected.fileHashes ?? {})) for (const h of hs) (own.fileHashes[file] ??= new Set()).add(h);
      }
      const seen = items.get(key);
      if (!seen) {
        items.set(key, { ...it, files: [ref.path] });
        continue;
      }
      if (!seen.files.includes(ref.path)) seen.files.push(ref.path);
      // resolved from a company registry in any lockfile: the public registry is asked first
      if (!seen.viaSource && it.viaSource) seen.viaSource = it.viaSource;
      // the first file's integrity is checked, and every other pin that differs: one version
      // pinned with two different sets of bytes passes only if the bytes match both
      if (!seen.expected.integrity && it.expected.integrity) seen.expected.integrity = it.expected.integrity;
      else if (it.expected.integrity) pinAlso(seen.expected, it.expected.integrity, ref.path);
      for (const o of it.expected.otherIntegrity ?? []) pinAlso(seen.expected, o.integrity, ref.path);
      for (const [file, hs] of Object.entries(it.expected.fileHashes ?? {})) {
        const all = (seen.expected.fileHashes ??= {});
        all[file] = [...new Set([...(all[file] ?? []), ...hs])].sort();
      }
      if (!seen.expected.yarnChecksum && it.expected.yarnChecksum) seen.expected.yarnChecksum = it.expected.yarnChecksum;
      if (it.expected.hashes) seen.expected.hashes = [...new Set([...(seen.expected.hashes ?? []), ...it.expected.hashes])].sort();
    }
  }
  for (const [key, byFile] of pypiPins) {
    const sets = pinSetsOf(byFile);
    if (sets) items.get(key)!.expected.pinSets = sets;
  }
  return { items: [...items.values()], byLockfile };
}

/**
 * The distinct pins of the lockfiles that pin a PyPI version (each with the lockfiles that
 * pin exactly that), or undefined when they all pin the same (or only one pins anything): a
 * lockfile that pins no hash allows any file, and takes no part.
 */
function pinSetsOf(byFile: ReadonlyMap<string, { hashes: Set<string>; fileHashes: Record<string, Set<string>> }>): Expected['pinSets'] {
  const sets = new Map<string, NonNullable<Expected['pinSets']>[number]>();
  for (const [lockfile, pins] of byFile) {
    if (!pins.hashes.size && !Object.keys(pins.fileHashes).length) continue;
    const hashes = [...pins.hashes].sort();
    const files = Object.keys(pins.fileHashes).sort();
    const set = { ...(hashes.length ? { hashes } : {}), ...(files.length ? { fileHashes: Object.fromEntries(files.map((f) => [f, [...pins.fileHashes[f]!].sort()])) } : {}) };
    const id = JSON.stringify(set);
    const seen = sets.get(id);
    if (seen) seen.lockfiles.push(lockfile);
    else sets.set(id, { lockfiles: [lockfile], ...set });
  }
  return sets.size > 1 ? [...sets.values()] : undefined;
}

/** Another pin of the same version, and the lockfile that wrote it (nothing when it is the first pin). */
function pinAlso(expected: Expected, integrity: string, lockfile: string): void {
  if (integrity === expected.integrity) return;
  const others = (expected.otherIntegrity ??= []);
  const same = others.find((o) => o.integrity === integrity);
  if (!same) others.push({ integrity, lockfiles: [lockfile] });
  else if (!same.lockfiles.includes(lockfile)) same.lockfiles.push(lockfile);
}
