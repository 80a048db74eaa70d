/**
 * Per-repository storage of packages, versions and assets.
 *
 * Every method is synchronous on purpose: a publish (check, then write) can never interleave with
 * another request, so the stand-in's answers are as atomic as the service's.
 * Asset bytes are kept once per SHA-256 (in memory, or as files in `dataDir`), the way a domain
 * stores an asset once however many repositories hold it
 * (https://docs.aws.amazon.com/codeartifact/latest/ug/codeartifact-concepts.html#welcome-concepts-domain).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { AssetHashes, OriginRestriction, PackageVersionStatus, StoredAsset, StoredVersion, VersionOrigin } from './types.js';

export interface OriginRestrictions {
  publish: OriginRestriction;
  upstream: OriginRestriction;
}

/**
 * The origin configuration a package gets from how its first version entered the repository
 * (https://docs.aws.amazon.com/codeartifact/latest/ug/package-origin-controls.html#package-origin-control-settings):
 * published directly: publish ALLOW, upstream BLOCK; ingested from an external connection or
 * retained from an upstream repository: publish BLOCK, upstream ALLOW.
 */
export const PUBLISHED_DEFAULTS: Readonly<OriginRestrictions> = { publish: 'ALLOW', upstream: 'BLOCK' };
export const INGESTED_DEFAULTS: Readonly<OriginRestrictions> = { publish: 'BLOCK', upstream: 'ALLOW' };

/** A repository: RepositoryDescription's members, and its packages. */
export interface RepositoryRecord {
  name: string;
  description: string;
  /** in search order */
  upstreams: string[];
  /** at most one */
  externalConnections: string[];
  createdTime: Date;
  packages: Map<string, PackageRecord>;
}

/** 150 assets per package version (https://docs.aws.amazon.com/codeartifact/latest/ug/service-limits.html). */
export const MAX_ASSETS_PER_VERSION = 150;

/** A stored asset; `blob` points at other bytes than `hashes` describe (tampering simulated by a test). */
export interface AssetRecord extends StoredAsset {
  blob?: string;
}

export interface VersionRecord {
  version: string;
  status: PackageVersionStatus;
  revision: string;
  publishedTime: Date;
  assets: AssetRecord[];
  npmManifest?: Record<string, unknown>;
  deprecated?: string;
  /** pypi only: the upload form's metadata fields of the version's first file, each with its values */
  pypiMetadata?: Record<string, string[]>;
  /** how the version entered the domain; kept when an upstream's version is retained */
  origin: VersionOrigin;
}

export interface PackageRecord {
  /** the repository holding this record */
  repository: string;
  format: string;
  namespace?: string;
  name: string;
  restrictions: OriginRestrictions;
  /** insertion order = publish order */
  versions: Map<string, VersionRecord>;
  /** npm dist-tags */
  distTags: Map<string, string>;
  createdTime: Date;
  modifiedTime: Date;
}

export function hashesOf(bytes: Buffer): AssetHashes {
  const hex = (algorithm: string): string => createHash(algorithm).update(bytes).digest('hex');
  return { MD5: hex('md5'), 'SHA-1': hex('sha1'), 'SHA-256': hex('sha256'), 'SHA-512': hex('sha512') };
}

/** Revisions change whenever a version's assets, status or metadata change (PackageVersionRevision: 1..50 non-space chars). */
export const newRevision = (): string => randomBytes(18).toString('base64url');

class BlobStore {
  private readonly memory = new Map<string, Buffer>();

  constructor(private readonly dir: string | undefined) {
    if (dir !== undefined) mkdirSync(dir, { recursive: true });
  }

  put(bytes: Buffer, sha256: string): void {
    if (this.dir === undefined) {
      this.memory.set(sha256, bytes);
      return;
    }
    const file = path.join(this.dir, sha256);
    if (!existsSync(file)) writeFileSync(file, bytes);
  }

  get(sha256: string): Buffer {
    if (this.dir === undefined) {
      const bytes = this.memory.get(sha256);
      if (bytes === undefined) throw new Error(`asset ${sha256} missing from memory`);
      return bytes;
    }
    return readFileSync(path.join(this.dir, sha256));
  }
}

const packageKey = (format: string, namespace: string | undefined, name: string): string =>
  `${format}\u0000${namespace ?? ''}\u0000${name}`;

export const internalOrigin = (repositoryName: string): VersionOrigin => ({ domainEntryPoint: { repositoryName }, originType: 'INTERNAL' });
export const externalOrigin = (externalConnectionName: string): VersionOrigin => ({ domainEntryPoint: { externalConnectionName }, originType: 'EXTERNAL' });

export class Store {
  private readonly repos = new Map<string, RepositoryRecord>();
  private readonly blobs: BlobStore;
  readonly createdTime = new Date();

  constructor(dataDir: string | undefined) {
    this.blobs = new BlobStore(dataDir);
  }

  /** A new, empty repository (the caller checks the name is free and the upstreams are valid). */
  createRepository(name: string, description = ''): RepositoryRecord {
    const record: RepositoryRecord = { name, description, upstreams: [], externalConnections: [], createdTime: new Date(), packages: new Map() };
    this.repos.set(name, record);
    return record;
  }

  hasRepository(repo: string): boolean {
    return this.repos.has(repo);
  }

  /** The repository and its packages are gone (the blobs stay: other repositories may hold them). */
  deleteRepository(repo: string): void {
    this.repos.delete(repo);
  }

  repository(repo: string): RepositoryRecord | undefined {
    return this.repos.get(repo);
  }

  /** In creation order. */
  repositoryNames(): string[] {
    return [...this.repos.keys()];
  }

  getPackage(repo: string, format: string, namespace: string | undefined, name: string): PackageRecord | undefined {
    return this.repos.get(repo)?.packages.get(packageKey(format, namespace, name));
  }

  /** Sorted by format, namespace, name: a stable order for pagination. */
  listPackages(repo: string): PackageRecord[] {
    const all = [...(this.repos.get(repo)?.packages.values() ?? [])];
    const sortKey = (p: PackageRecord): string => packageKey(p.format, p.namespace, p.name);
    return all.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
  }

  /**
   * The package record, created when absent. A package created by its first published version gets
   * PUBLISHED_DEFAULTS, one created by an ingested or retained version INGESTED_DEFAULTS.
   */
  ensurePackage(
    repo: string,
    format: string,
    namespace: string | undefined,
    name: string,
    restrictions: OriginRestrictions = PUBLISHED_DEFAULTS,
  ): PackageRecord {
    const packages = this.repos.get(repo)?.packages;
    if (packages === undefined) throw new Error(`unknown repository ${repo}`);
    const key = packageKey(format, namespace, name);
    let pkg = packages.get(key);
    if (pkg === undefined) {
      const now = new Date();
      pkg = {
        repository: repo,
        format,
        namespace,
        name,
        restrictions: { ...restrictions },
        versions: new Map(),
        distTags: new Map(),
        createdTime: now,
        modifiedTime: now,
      };
      packages.set(key, pkg);
    }
    return pkg;
  }

  /** Store bytes and describe them; the caller attaches the summary to a version. */
  putAsset(name: string, bytes: Buffer): StoredAsset {
    const hashes = hashesOf(bytes);
    this.blobs.put(bytes, hashes['SHA-256']);
    return { name, size: bytes.length, hashes };
  }

  readAsset(asset: AssetRecord): Buffer {
    return this.blobs.get(asset.blob ?? asset.hashes['SHA-256']);
  }

  /**
   * Other bytes for a stored asset, outside any API (a test simulating tampering or corruption on
   * the target). By default the asset's size and hashes describe the new bytes and the version
   * gets a new revision, as after any change; `keepHashes` keeps size, hashes and revision, so only
   * a download notices.
   */
  replaceAssetBytes(pkg: PackageRecord, version: VersionRecord, name: string, bytes: Buffer, keepHashes: boolean): StoredAsset {
    const index = version.assets.findIndex((a) => a.name === name);
    const old = version.assets[index];
    if (old === undefined) throw new Error(`no asset ${name} in version ${version.version}`);
    const fresh = this.putAsset(name, bytes);
    if (keepHashes) {
      version.assets[index] = { ...old, blob: fresh.hashes['SHA-256'] };
      return { name, size: old.size, hashes: { ...old.hashes } };
    }
    version.assets[index] = fresh;
    this.touch(pkg, version);
    return fresh;
  }

  /** A new version; its origin defaults to INTERNAL through the package's repository (a publish). */
  addVersion(pkg: PackageRecord, init: Omit<VersionRecord, 'revision' | 'publishedTime' | 'origin'> & { origin?: VersionOrigin }): VersionRecord {
    const record: VersionRecord = { ...init, origin: init.origin ?? internalOrigin(pkg.repository), revision: newRevision(), publishedTime: new Date() };
    pkg.versions.set(record.version, record);
    pkg.modifiedTime = record.publishedTime;
    return record;
  }

  /**
   * Keep in `repo` a version found in an upstream repository or ingested from an external
   * connection: the assets by reference (the domain stores bytes once), the origin unchanged, status
   * Published. A package created this way gets INGESTED_DEFAULTS. When the repository holds the
   * version already, only the assets it lacks are added (a PyPI file of the version requested later).
   */
  retainVersion(
    repo: string,
    format: string,
    namespace: string | undefined,
    name: string,
    source: Pick<VersionRecord, 'version' | 'assets' | 'origin' | 'npmManifest' | 'deprecated' | 'pypiMetadata'>,
  ): VersionRecord {
    const pkg = this.ensurePackage(repo, format, namespace, name, INGESTED_DEFAULTS);
    const copyAsset = (a: AssetRecord): AssetRecord => ({ ...a, hashes: { ...a.hashes } });
    const existing = pkg.versions.get(source.version);
    if (existing !== undefined) {
      const missing = source.assets.filter((a) => !existing.assets.some((x) => x.name === a.name));
      if (missing.length > 0) {
        existing.assets.push(...missing.map(copyAsset));
        this.touch(pkg, existing);
      }
      return existing;
    }
    return this.addVersion(pkg, {
      version: source.version,
      status: 'Published',
      assets: source.assets.map(copyAsset),
      origin: structuredClone(source.origin),
      ...(source.npmManifest === undefined ? {} : { npmManifest: structuredClone(source.npmManifest) }),
      ...(source.deprecated === undefined ? {} : { deprecated: source.deprecated }),
      ...(source.pypiMetadata === undefined ? {} : { pypiMetadata: structuredClone(source.pypiMetadata) }),
    });
  }

  touch(pkg: PackageRecord, version: VersionRecord): void {
    version.revision = newRevision();
    pkg.modifiedTime = new Date();
  }

  snapshot(repo: string, pkg: PackageRecord): StoredVersion[] {
    return [...pkg.versions.values()].map((v) => ({
      format: pkg.format,
      ...(pkg.namespace === undefined ? {} : { namespace: pkg.namespace }),
      package: pkg.name,
      version: v.version,
      status: v.status,
      revision: v.revision,
      publishedTime: new Date(v.publishedTime),
      origin: structuredClone(v.origin),
      assets: v.assets.map((a) => ({ name: a.name, size: a.size, hashes: { ...a.hashes } })),
      ...(v.npmManifest === undefined ? {} : { npmManifest: structuredClone(v.npmManifest) }),
      ...(v.deprecated === undefined ? {} : { deprecated: v.deprecated }),
      ...(v.pypiMetadata === undefined ? {} : { pypiMetadata: structuredClone(v.pypiMetadata) }),
    }));
  }
}
