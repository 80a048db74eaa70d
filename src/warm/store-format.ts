/**
 * The contract of a store format: how one format's packages are requested
 * through a store repository's endpoint and checked against a lockfile. One
 * module per format (npm-store.ts, pypi-store.ts), one factory; the warm
 * engine (engine.ts) sees only this contract, reads the store through the
 * CodeArtifact API itself, and writes every state change.
 *
 * Store endpoints are reached through RepositoryEndpoint (targets/endpoint.ts):
 * rate-limited (a package's metadata draws on `reads`, an artifact on
 * `getAsset` and `reads`, as CodeArtifact counts package-manager downloads:
 * https://docs.aws.amazon.com/codeartifact/latest/ug/service-limits.html),
 * authenticated with the CodeArtifact token, a 401 retried once with a fresh one.
 */
import type { Ecosystem } from '../lockfiles/index.js';
import type { CodeArtifact, PackageCoordinates } from '../targets/codeartifact.js';
import type { BucketName, Format } from '../types.js';
import type { FileHashes, WarmItem } from './types.js';

export const METADATA_BUCKETS: readonly BucketName[] = ['reads'];

/**
 * What a store's answer may cost: the store passes on whatever the public registry
 * serves, so an endless, stalled or trickling body must end, with a clear outcome.
 * Metadata is parsed, so it is held in memory: at most `metadataBytes`. Artifacts are
 * hashed as they stream and never held: `artifactBytes` is CodeArtifact's own largest
 * asset (5 GB, https://docs.aws.amazon.com/codeartifact/latest/ug/service-limits.html).
 * `idleMs` is silence (a stuck peer: retried); the deadlines bound a whole answer (a
 * trickle: not retried, the next warm looks again).
 */
export interface StoreLimits {
  metadataBytes: number;
  artifactBytes: number;
  idleMs: number;
  metadataMs: number;
  artifactMs: number;
}

export const DEFAULT_STORE_LIMITS: StoreLimits = {
  metadataBytes: 256 * 2 ** 20,
  artifactBytes: 5 * 2 ** 30,
  idleMs: 120_000,
  metadataMs: 5 * 60_000,
  artifactMs: 30 * 60_000,
};
export const ARTIFACT_BUCKETS: readonly BucketName[] = ['getAsset', 'reads'];

/** What requesting one version through the store came to. */
export type FetchOutcome =
  /** The store served nothing: the version is not reachable (why is decided by the engine: origin controls or upstream). */
  | { kind: 'not-found'; detail: string }
  /** Nothing the store offers has the hash the lockfile pins (PyPI: no file on the index carries an allowed hash). */
  | { kind: 'mismatch'; detail: string; files: FileHashes[] }
  /** The bytes of every file requested (none when the store already held every file wanted). */
  | { kind: 'fetched'; files: FileHashes[] };

/** Files checked against what the lockfile pins. */
export type Verdict = { ok: true; checked: boolean; detail?: string } | { ok: false; detail: string };

export interface StoreFormat<Meta = unknown> {
  readonly ecosystem: Ecosystem;
  /** CodeArtifact's format for the API (ListPackageVersions, DescribePackage). */
  readonly format: Format;
  readonly repository: string;
  coordinates(name: string): PackageCoordinates;
  /** The version as the store lists it equals the version the lockfile pins. */
  sameVersion(listed: string, pinned: string): boolean;
  /** The package's metadata through the store (npm packument, PyPI project page); undefined when the store answers 404. */
  metadata(name: string, signal?: AbortSignal): Promise<Meta | undefined>;
  /**
   * Request the version's artifacts through the store, but not the files it already holds
   * (`held`). `beforeRequest` is called once, just before the first artifact request is sent.
   */
  fetch(meta: Meta, item: WarmItem, held: readonly FileHashes[], beforeRequest: () => void, signal?: AbortSignal): Promise<FetchOutcome>;
  /** The files (served, or held by the store) against what the lockfile pins. */
  check(item: WarmItem, files: readonly FileHashes[]): Verdict;
  /** The store holds every file of the version the lockfile allows (npm: the tarball). */
  complete(item: WarmItem, held: readonly FileHashes[]): boolean;
}

/** ListPackageVersionAssets' hashes (`SHA-512`, …) as FileHashes. */
export function fromTargetAsset(a: { name: string; size?: number; hashes: Record<string, string> }): FileHashes {
  const h = (k: string) => a.hashes[k]?.toLowerCase();
  return { name: a.name, ...(a.size !== undefined ? { size: a.size } : {}), ...(h('SHA-512') ? { sha512: h('SHA-512') } : {}), ...(h('SHA-256') ? { sha256: h('SHA-256') } : {}), ...(h('SHA-1') ? { sha1: h('SHA-1') } : {}) };
}

/**
 * A URL a store's metadata points at may be sent our token only when it is under
 * the store's own endpoint (same origin, same path prefix): a packument naming
 * another host must never receive CodeArtifact credentials.
 */
export function underEndpoint(url: string, endpoint: string): boolean {
  try {
    const u = new URL(url);
    const e = new URL(endpoint);
    return u.origin === e.origin && u.pathname.startsWith(e.pathname) && !u.username && !u.password;
  } catch {
    return false;
  }
}

export type StoreFactory = (ca: CodeArtifact, repository: string, limits?: StoreLimits) => StoreFormat;
