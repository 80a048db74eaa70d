/**
 * Fetch-through: what a repository answers for a package it does not hold (or holds only part of),
 * from its upstream repositories and external connections.
 *
 * - Search order: the repository itself, then its upstreams in their listed order, depth-first,
 *   at most 25 repositories (https://docs.aws.amazon.com/codeartifact/latest/ug/repo-upstream-search-order.html,
 *   https://docs.aws.amazon.com/codeartifact/latest/ug/repo-upstream-behavior.html). A repository's
 *   external connection is searched after its upstreams (stand-in choice: a repository has
 *   upstreams or a connection in practice, "A repository can have one or more upstream repositories,
 *   or an external connection", model AssociateExternalConnection).
 * - Origin controls gate each step (origin-controls.ts): a repository looks into its upstreams only
 *   if the package may enter it from an internal upstream, and into its external connection only if
 *   it may enter it from an external one; package-level `upstream` BLOCK stops both, so the version
 *   is not found: 404, as the service answers.
 * - The first repository holding a version decides it (its bytes win: an internal version shadows
 *   a public one with the same number when internal is listed first). A PyPI version the store
 *   ingested (origin EXTERNAL) may still get more of its files from further on.
 * - Retention: a version found in an upstream is retained in the repository it was requested
 *   through; one fetched through an external connection is stored in the repository with the
 *   connection (origin EXTERNAL) and in the requested one; repositories in between keep nothing
 *   (https://docs.aws.amazon.com/codeartifact/latest/ug/repo-upstream-behavior.html, "Package
 *   retention from intermediate repositories"). Retention goes through ctx.ingest, so it may be
 *   delayed (the service ingests asynchronously).
 * - Package managers see the merged view: an npm packument / PyPI project page lists the versions
 *   the repository holds plus what its search order reaches.
 */
import { CONNECTION_FORMATS, isConnectionName, type RequestTrace } from './external.js';
import type { PackageKey } from './origin-controls.js';
import type { StandInContext } from './route.js';
import { externalOrigin, type AssetRecord, type PackageRecord, type VersionRecord } from './store.js';
import { assetsAvailable, listedToClients } from './version-status.js';

/** "The maximum number of repositories CodeArtifact looks in when a package version is requested is 25." */
export const MAX_REPOSITORIES_SEARCHED = 25;

export interface SearchStep {
  repo: string;
  /** set: look in this repository's external connection (after its upstreams) */
  connection?: string;
}

/** Where to look for a package requested through `start`, in order. */
export function searchOrder(ctx: StandInContext, start: string, key: PackageKey): SearchStep[] {
  const steps: SearchStep[] = [];
  const visited = new Set<string>();
  const visit = (repo: string): void => {
    if (visited.has(repo) || visited.size >= MAX_REPOSITORIES_SEARCHED) return;
    visited.add(repo);
    steps.push({ repo });
    const record = ctx.store.repository(repo);
    if (record === undefined) return;
    if (record.upstreams.length > 0 && ctx.origins.allowed(repo, key, 'INTERNAL_UPSTREAM')) for (const u of record.upstreams) visit(u);
    const connection = record.externalConnections.find((c) => isConnectionName(c) && CONNECTION_FORMATS[c] === key.format);
    if (connection !== undefined && ctx.origins.allowed(repo, key, 'EXTERNAL_UPSTREAM')) steps.push({ repo, connection });
  };
  visit(start);
  return steps;
}

export type Found =
  | { kind: 'stored'; repo: string; pkg: PackageRecord; record: VersionRecord; asset: AssetRecord }
  | { kind: 'external'; repo: string; connection: string; bytes: Buffer; /** npm: the public version document */ doc?: Record<string, unknown> };

// ------------------------------------------------------------------ npm

export interface NpmName {
  full: string;
  namespace: string | undefined;
  base: string;
}

export const npmKey = (name: NpmName): PackageKey => ({ format: 'npm', namespace: name.namespace, name: name.base });

export type NpmVersionView =
  | { kind: 'stored'; repo: string; record: VersionRecord }
  | { kind: 'external'; connection: string; doc: Record<string, unknown> };

export interface NpmView {
  versions: Map<string, NpmVersionView>;
  distTags: Map<string, string>;
  created: Date;
  modified: Date;
}

/** What a packument through `start` lists, or undefined when nothing in the search order has the package. */
export async function npmView(ctx: StandInContext, start: string, name: NpmName, trace: RequestTrace): Promise<NpmView | undefined> {
  const view: NpmView = { versions: new Map(), distTags: new Map(), created: new Date(), modified: new Date(0) };
  const decided = new Set<string>();
  let found = false;
  for (const step of searchOrder(ctx, start, npmKey(name))) {
    if (step.connection === undefined) {
      const pkg = ctx.store.getPackage(step.repo, 'npm', name.namespace, name.base);
      if (pkg === undefined || pkg.versions.size === 0) continue;
      found = true;
      if (pkg.createdTime < view.created) view.created = pkg.createdTime;
      if (pkg.modifiedTime > view.modified) view.modified = pkg.modifiedTime;
      for (const v of pkg.versions.values()) {
        if (v.status === 'Deleted' || decided.has(v.version)) continue;
        decided.add(v.version);
        if (listedToClients(v.status)) view.versions.set(v.version, { kind: 'stored', repo: step.repo, record: v });
      }
      for (const [tag, version] of pkg.distTags) if (!view.distTags.has(tag)) view.distTags.set(tag, version);
    } else {
      const pub = await ctx.external.npmPackage(step.connection, name.full, trace);
      if (pub === undefined) continue;
      found = true;
      for (const [version, doc] of pub.versions) {
        if (decided.has(version)) continue;
        decided.add(version);
        view.versions.set(version, { kind: 'external', connection: step.connection, doc });
      }
      for (const [tag, version] of Object.entries(pub.distTags)) if (!view.distTags.has(tag)) view.distTags.set(tag, version);
    }
  }
  if (!found) return undefined;
  for (const [tag, version] of view.distTags) if (!view.versions.has(version)) view.distTags.delete(tag);
  if (view.modified < view.created) view.modified = view.created;
  return view;
}

const NPM_ASSET = 'package.tgz';

/** Where a version's tarball comes from through `start`, or undefined (404). */
export async function findNpmVersion(ctx: StandInContext, start: string, name: NpmName, version: string, trace: RequestTrace): Promise<Found | undefined> {
  for (const step of searchOrder(ctx, start, npmKey(name))) {
    if (step.connection === undefined) {
      const pkg = ctx.store.getPackage(step.repo, 'npm', name.namespace, name.base);
      const record = pkg?.versions.get(version);
      if (pkg === undefined || record === undefined || record.status === 'Deleted') continue;
      // The first repository holding the version decides: an Archived or Disposed one is not served.
      const asset = assetsAvailable(record.status) ? record.assets.find((a) => a.name === NPM_ASSET) : undefined;
      return asset === undefined ? undefined : { kind: 'stored', repo: step.repo, pkg, record, asset };
    }
    const doc = (await ctx.external.npmPackage(step.connection, name.full, trace))?.versions.get(version);
    const tarball = (doc?.['dist'] as { tarball?: unknown } | undefined)?.tarball;
    if (typeof tarball !== 'string') continue;
    const bytes = await ctx.external.download(tarball, trace);
    if (bytes !== undefined) return { kind: 'external', repo: step.repo, connection: step.connection, bytes, doc };
  }
  return undefined;
}

/** The manifest kept for an ingested npm version: the public version document without registry fields. */
function ingestedManifest(doc: Record<string, unknown> | undefined): { npmManifest: Record<string, unknown>; deprecated?: string } {
  const { dist: _dist, _id: _docId, deprecated, ...manifest } = doc ?? {};
  return { npmManifest: manifest, ...(typeof deprecated === 'string' && deprecated !== '' ? { deprecated } : {}) };
}

/** Retain what findNpmVersion found, as the service does (see the top of this file). */
export function retainNpm(ctx: StandInContext, start: string, name: NpmName, version: string, found: Found): void {
  if (found.kind === 'stored') {
    if (found.repo !== start) ctx.ingest(() => ctx.store.retainVersion(start, 'npm', name.namespace, name.base, found.record));
    return;
  }
  const bytes = found.bytes;
  ctx.ingest(() => {
    const source = { version, assets: [ctx.store.putAsset(NPM_ASSET, bytes)], origin: externalOrigin(found.connection), ...ingestedManifest(found.doc) };
    ctx.store.retainVersion(found.repo, 'npm', name.namespace, name.base, source);
    if (start !== found.repo) ctx.store.retainVersion(start, 'npm', name.namespace, name.base, source);
  });
}

/** Whether `version` is reachable from `start`'s upstreams or external connection (not `start` itself). */
export async function npmVersionUpstream(ctx: StandInContext, start: string, name: NpmName, version: string, trace: RequestTrace): Promise<boolean> {
  for (const step of searchOrder(ctx, start, npmKey(name))) {
    if (step.connection === undefined) {
      if (step.repo === start) continue;
      const record = ctx.store.getPackage(step.repo, 'npm', name.namespace, name.base)?.versions.get(version);
      if (record !== undefined && record.status !== 'Deleted') return true;
    } else if ((await ctx.external.npmPackage(step.connection, name.full, trace))?.versions.has(version) === true) {
      return true;
    }
  }
  return false;
}

// ------------------------------------------------------------------ PyPI

export interface PypiFileView {
  filename: string;
  version: string;
  sha256: string;
  requiresPython?: string;
}

const pypiKey = (project: string): PackageKey => ({ format: 'pypi', namespace: undefined, name: project });

/** The files a project page through `start` lists, or undefined when nothing in the search order has the project. */
export async function pypiView(ctx: StandInContext, start: string, project: string, trace: RequestTrace): Promise<PypiFileView[] | undefined> {
  // per version: decided by an INTERNAL holder (nothing else may add files) or open to more files
  const versions = new Map<string, 'internal' | 'external'>();
  const files = new Map<string, PypiFileView>();
  let found = false;
  for (const step of searchOrder(ctx, start, pypiKey(project))) {
    if (step.connection === undefined) {
      const pkg = ctx.store.getPackage(step.repo, 'pypi', undefined, project);
      if (pkg === undefined || pkg.versions.size === 0) continue;
      found = true;
      for (const v of pkg.versions.values()) {
        if (v.status === 'Deleted' || versions.get(v.version) === 'internal') continue;
        if (!versions.has(v.version)) versions.set(v.version, v.origin.originType === 'INTERNAL' ? 'internal' : 'external');
        if (!listedToClients(v.status)) continue;
        const requiresPython = v.pypiMetadata?.['requires_python']?.[0];
        for (const a of v.assets) {
          if (files.has(a.name)) continue;
          files.set(a.name, { filename: a.name, version: v.version, sha256: a.hashes['SHA-256'], ...(requiresPython === undefined ? {} : { requiresPython }) });
        }
      }
    } else {
      const pub = await ctx.external.pypiProject(step.connection, project, trace);
      if (pub === undefined) continue;
      found = true;
      for (const f of pub) {
        if (versions.get(f.version) === 'internal' || files.has(f.filename) || f.sha256 === undefined) continue;
        if (!versions.has(f.version)) versions.set(f.version, 'external');
        files.set(f.filename, { filename: f.filename, version: f.version, sha256: f.sha256, ...(f.requiresPython === undefined ? {} : { requiresPython: f.requiresPython }) });
      }
    }
  }
  return found ? [...files.values()] : undefined;
}

export interface FoundPypi {
  found: Found;
  requiresPython?: string;
}

/** Where a distribution file comes from through `start`, or undefined (404). */
export async function findPypiFile(ctx: StandInContext, start: string, project: string, version: string, filename: string, trace: RequestTrace): Promise<FoundPypi | undefined> {
  for (const step of searchOrder(ctx, start, pypiKey(project))) {
    if (step.connection === undefined) {
      const pkg = ctx.store.getPackage(step.repo, 'pypi', undefined, project);
      const record = pkg?.versions.get(version);
      if (pkg === undefined || record === undefined || record.status === 'Deleted') continue;
      const asset = record.assets.find((a) => a.name === filename);
      if (asset !== undefined) return assetsAvailable(record.status) ? { found: { kind: 'stored', repo: step.repo, pkg, record, asset } } : undefined;
      // A published version decides its files; an ingested one may get more from further on.
      if (record.origin.originType === 'INTERNAL') return undefined;
      continue;
    }
    const file = (await ctx.external.pypiProject(step.connection, project, trace))?.find((f) => f.filename === filename && f.version === version);
    if (file === undefined) continue;
    const bytes = await ctx.external.download(file.url, trace);
    if (bytes !== undefined) {
      return { found: { kind: 'external', repo: step.repo, connection: step.connection, bytes }, ...(file.requiresPython === undefined ? {} : { requiresPython: file.requiresPython }) };
    }
  }
  return undefined;
}

/** Retain what findPypiFile found. */
export function retainPypi(ctx: StandInContext, start: string, project: string, version: string, filename: string, hit: FoundPypi): void {
  const { found } = hit;
  if (found.kind === 'stored') {
    if (found.repo !== start) ctx.ingest(() => ctx.store.retainVersion(start, 'pypi', undefined, project, found.record));
    return;
  }
  const bytes = found.bytes;
  ctx.ingest(() => {
    const source = {
      version,
      assets: [ctx.store.putAsset(filename, bytes)],
      origin: externalOrigin(found.connection),
      ...(hit.requiresPython === undefined ? {} : { pypiMetadata: { requires_python: [hit.requiresPython] } }),
    };
    ctx.store.retainVersion(found.repo, 'pypi', undefined, project, source);
    if (start !== found.repo) ctx.store.retainVersion(start, 'pypi', undefined, project, source);
  });
}
