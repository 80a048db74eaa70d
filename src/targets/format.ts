/**
 * The contract every target format implements (npm, pypi, generic): how a
 * package is named on the target, how one asset of a version is uploaded, and
 * the format's own checks. The engine reads the target and verifies through
 * the CodeArtifact API, the same for every format, and knows no format itself.
 *
 * A version is one or more assets (npm: `package.tgz`; PyPI: the sdist and the
 * wheels; Go: `<v>.zip`, `<v>.mod`, `<v>.info`), uploaded one at a time in
 * order, each upload recorded on its own, so a run that dies between two
 * resumes at the next and never uploads one twice.
 */
import type { MigrateError } from '../errors.js';
import type { Format, Hashes } from '../types.js';
import type { PackageCoordinates } from './codeartifact.js';

/** One file of a version, stored in the blob store, as the target will name it. */
export interface AssetFile {
  /** The target's asset name: `package.tgz`, `acme_billing-1.2.0-py3-none-any.whl`, `v1.2.0.zip`. */
  name: string;
  /** Where the bytes are (the blob store). */
  path: string;
  size: number;
  hashes: Hashes;
  /**
   * What the format needs to upload it, recorded with the asset (JSON):
   * pypi `{ filetype, pyversion, metadata }` (the builder's PythonDist fields),
   * generic/Go `{ h1 }`; npm nothing.
   */
  facts: Record<string, unknown>;
}

/** What one upload came to; `unknown` means the request may or may not have landed (the engine reads the target). */
export type PublishResult = { kind: 'published' } | { kind: 'exists' } | { kind: 'unknown'; error: MigrateError };

export interface PublishRequest {
  /** The package as the job names it (npm `@acme/core`, PyPI `Acme.Billing`, Go module path). */
  name: string;
  /** The version as the target lists it (see `targetVersion`). */
  version: string;
  coords: PackageCoordinates;
  asset: AssetFile;
  /** Every asset of the version, in upload order. */
  assets: readonly AssetFile[];
  /** This is the version's last asset still to upload (generic: it publishes the version). */
  isLast: boolean;
  /** npm only: the dist-tag the version is published under. */
  distTag?: string;
  /** Cuts the upload off (the stop after its grace period). */
  signal?: AbortSignal;
}

/** What the source says about a package beyond its versions (npm: dist-tags and deprecations). */
export interface MetadataPlan {
  /** version -> deprecation message ('' = not deprecated), for versions on the target. */
  deprecations: Map<string, string>;
  distTags: Record<string, string>;
  /** Versions the target holds (verified or identical). */
  onTarget: Set<string>;
  /**
   * A dry run's (a plan's) versions it would publish, not on the target yet: a tag or a
   * deprecation on one is what the run then sets, said as a change, never as out of sync.
   */
  toPublish?: ReadonlySet<string>;
  /** Tags left alone on the target (filters.ignoreDistTags). */
  ignore?: ReadonlySet<string>;
}

export interface TargetFormat {
  readonly format: Format;
  /** The `*-internal` repository published into. */
  readonly repository: string;
  /** The package's coordinates on the target (npm scope -> namespace; PyPI normalised name; Go module mapping). */
  coordinates(name: string): PackageCoordinates;
  /** The version string as the target lists it (PyPI: PEP 440 normal form; others unchanged). */
  targetVersion(version: string): string;
  /** Before any version: the repository has an endpoint for this format (throws a coded error). */
  preflight(): Promise<void>;
  /**
   * The fetched or built files are this package at this version (npm: the tarball's
   * manifest). Throws EBADSOURCE (or another coded error) when they are not.
   */
  checkAssets?(name: string, version: string, assets: readonly AssetFile[]): Promise<void>;
  /** Upload one asset. Throttles and refused credentials throw; anything that may have landed is `unknown`. */
  publishAsset(req: PublishRequest): Promise<PublishResult>;
  /**
   * After the API read-back agreed: check through the format's own client
   * protocol too (PyPI: the simple index lists every file with our sha256).
   */
  verifyWithClient?(name: string, version: string, assets: readonly AssetFile[], signal?: AbortSignal): Promise<void>;
  /**
   * After a package's versions: make the format's package metadata the source's
   * (npm: dist-tags, deprecations). `retry` is the engine's retry policy.
   * Returns what changed and what could not be done (a tag on a version the target lacks).
   */
  syncMetadata?(name: string, plan: MetadataPlan, opts: { dryRun: boolean; retry: <T>(fn: () => Promise<T>) => Promise<T> }): Promise<{ changes: string[]; skipped: string[] }>;
}

/** What to do about files on a target version that this tool did not put there. */
export const FOREIGN_HINT =
  'do not cut over this package: something else added files to this version (another tool or person publishing into the repository); check CloudTrail for the publish calls, delete the version (aws codeartifact delete-package-versions) and rerun to publish ours alone';
