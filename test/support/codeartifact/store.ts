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
import type { AssetHashes, OriginRestriction, PackageVersionStatus, StoredAsset, StoredVersion } from './types.js';

export interface OriginRestrictions {
  publish: OriginRestriction;
  upstream: OriginRestriction;
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
}

export interface PackageRecord {
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

export class Store {
  private readonly repos = new Map<string, Map<string, PackageRecord>>();
  private readonly blobs: BlobStore;
  readonly createdTime = new Date();

  constructor(repositories: readonly string[], dataDir: string | undefined) {
    for (const repo of repositories) this.repos.set(repo, new Map());
    this.blobs = new BlobStore(dataDir);
  }

  hasRepository(repo: string): boolean {
    return this.repos.has(repo);
  }

  repositoryNames(): string[] {
    return [...this.repos.keys()];
  }

  getPackage(repo: string, format: string, namespace: string | undefined, name: string): PackageRecord | undefined {
    return this.repos.get(repo)?.get(packageKey(format, namespace, name));
  }

  /** Sorted by format, namespace, name: a stable order for pagination. */
  listPackages(repo: string): PackageRecord[] {
    const all = [...(this.repos.get(repo)?.values() ?? [])];
    const sortKey = (p: PackageRecord): string => packageKey(p.format, p.namespace, p.name);
    return all.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
  }

  /**
   * The package record, created when absent. A package created by its first published version gets
   * publish=ALLOW, upstream=BLOCK
   * (https://docs.aws.amazon.com/codeartifact/latest/ug/package-origin-controls.html#package-origin-control-settings).
   */
  ensurePackage(
    repo: string,
    format: string,
    namespace: string | undefined,
    name: string,
    restrictions: OriginRestrictions = { publish: 'ALLOW', upstream: 'BLOCK' },
  ): PackageRecord {
    const packages = this.repos.get(repo);
    if (packages === undefined) throw new Error(`unknown repository ${repo}`);
    const key = packageKey(format, namespace, name);
    let pkg = packages.get(key);
    if (pkg === undefined) {
      const now = new Date();
      pkg = {
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

  addVersion(pkg: PackageRecord, init: Omit<VersionRecord, 'revision' | 'publishedTime'>): VersionRecord {
    const record: VersionRecord = { ...init, revision: newRevision(), publishedTime: new Date() };
    pkg.versions.set(record.version, record);
    pkg.modifiedTime = record.publishedTime;
    return record;
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
      origin: { domainEntryPoint: { repositoryName: repo }, originType: 'INTERNAL' as const },
      assets: v.assets.map((a) => ({ name: a.name, size: a.size, hashes: { ...a.hashes } })),
      ...(v.npmManifest === undefined ? {} : { npmManifest: structuredClone(v.npmManifest) }),
      ...(v.deprecated === undefined ? {} : { deprecated: v.deprecated }),
      ...(v.pypiMetadata === undefined ? {} : { pypiMetadata: structuredClone(v.pypiMetadata) }),
    }));
  }
}
