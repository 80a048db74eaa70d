/**
 * Shared types and the domain's words.
 *
 * Glossary
 * - item:     one package version to move; one row in `items`, with a state.
 * - source:   where versions come from today (a private npm registry, GitHub
 *             Packages, later git+ssh repositories). Sources return bytes and
 *             declared facts; they never verify or retry.
 * - target:   the CodeArtifact repository a version goes to.
 * - asset:    one file of a package version as CodeArtifact stores it
 *             (`package.tgz` for npm; the .zip/.mod/.info of a Go module).
 * - origin:   where CodeArtifact says a version came from: INTERNAL (published
 *             into the repository) or EXTERNAL (pulled through an upstream).
 * - internal: the `*-internal` repositories our own packages are published to.
 * - store:    the `*-store` repositories that proxy public registries.
 * - shared:   the `*-shared` repositories builds read from (upstreams:
 *             internal first, then store).
 * - blob:     a downloaded artifact in the content-addressed store under state/.
 */

export type Format = 'npm' | 'pypi' | 'generic';

/**
 * The life of an item. Written before and after every side effect, so a run
 * that dies anywhere resumes from the rows.
 *
 *   pending ─fetch+verify source─► fetched ─compare target─► publishing ─► published ─verify─► verified
 *                                     │                         (unknown outcome: read the target)
 *                                     ├─► present-identical (already there, same bytes)
 *                                     └─► conflict (already there, other bytes; never overwritten)
 *   any ─► failed (code in last_error_code; retried on the next run)
 *   any ─► excluded (filtered out by the job file)
 *   pending/fetched/failed ─► removed (the source no longer lists it; back to pending if it does again)
 *   pending/fetched/failed ─► skipped (the listing says to leave it out: a tag that is no version, a job override)
 */
export const ITEM_STATES = [
  'pending',
  'fetched',
  'publishing',
  'published',
  'verified',
  'present-identical',
  'conflict',
  'excluded',
  'removed',
  'skipped',
  'failed',
] as const;
export type ItemState = (typeof ITEM_STATES)[number];

/** States a run never touches again. `failed` is not final: a rerun retries it. */
export const FINAL_STATES: ReadonlySet<ItemState> = new Set(['verified', 'present-identical', 'conflict', 'excluded', 'removed', 'skipped']);

/** What a run reports per item: expected outcomes are values, not exceptions. */
export type Outcome = 'published' | 'present-identical' | 'conflict' | 'excluded' | `failed:${string}`;

/** Hashes we compute for every blob, in the encodings CodeArtifact reports them (lower-case hex). */
export interface Hashes {
  md5: string;
  sha1: string;
  sha256: string;
  sha512: string;
}

/** What a source declares about one version, before we have the bytes. */
export interface VersionListing {
  version: string;
  /** SRI string as the source declares it (`sha512-…`), if any. */
  integrity?: string;
  /** Hex SHA-1 (`dist.shasum`), the only hash old npm versions carry. */
  shasum?: string;
  /** Where the bytes are. */
  artifactUrl: string;
  /** When the source says this version was published (ISO 8601), if it says. */
  publishedAt?: string;
  /** npm deprecation message, if the version is deprecated. */
  deprecated?: string;
  /** Why this version cannot be migrated as listed (e.g. not a valid version): it fails EBADSOURCE, never fetched. */
  problem?: string;
  /** Why this version is left out on purpose (a tag that is no version for the format, a job override): `skipped`. */
  skip?: string;
  /** git: the tag, and the commit it points at now. */
  ref?: string;
  commit?: string;
  /** git: the commit the job accepts for this version's tag (versions.<v>.commit), if it names one. */
  acceptedCommit?: string;
  /** git: what decides the built bytes besides the commit (folder, build command, interpreter), as the job says now. */
  recipe?: string;
}

/** One package as a source lists it. */
export interface PackageListing {
  format: Format;
  name: string;
  versions: VersionListing[];
  /** dist-tags exactly as the source has them (npm). */
  distTags: Record<string, string>;
}

/**
 * CodeArtifact quotas the engine spaces requests for, one token bucket each:
 * PublishPackageVersion (npm/PyPI publishes count too), GetPackageVersionAsset,
 * the three List operations (200/s EACH), and the account-wide reads and writes.
 * https://docs.aws.amazon.com/codeartifact/latest/ug/service-limits.html
 */
export const BUCKETS = ['publish', 'getAsset', 'listPackages', 'listVersions', 'listAssets', 'reads', 'writes'] as const;
export type BucketName = (typeof BUCKETS)[number];

/**
 * What targets need from the engine's rate limiting: wait for a slot, and say
 * how the request went. Defined here so targets/ never import engine/.
 */
export interface RateLimiter {
  take(names: readonly BucketName[], signal?: AbortSignal): Promise<void>;
  /** The service throttled a request sent at `sentAt` (performance.now()): one sent before the last cut cuts nothing more. */
  throttled(names: readonly BucketName[], sentAt?: number): void;
  /** The request succeeded; `ms` is how long it took (the engine sizes in-flight work from it). */
  succeeded(names: readonly BucketName[], ms?: number): void;
  /** `peer` (the API, or one repository endpoint's host) answered something, any status: whatever else is wrong, it is not stuck. */
  answered(peer: string): void;
  /** `peer` said nothing: connecting, or waiting for the answer, stayed silent past the idle timeout (`idleMs`). */
  silent(peer: string, idleMs: number): void;
  /** Nobody answered at `peer`: the connection was refused or reset before any answer, or its host has no address or no route (`why`: the system's words). */
  unreachable(peer: string, why: string): void;
  /** CodeArtifact refused the credentials themselves (ETARGETCREDENTIALS): every request would be refused the same way. */
  credentialsRefused?(e: Error): void;
}
