/**
 * Public types of the CodeArtifact stand-in.
 *
 * Glossary (CodeArtifact's own words, https://docs.aws.amazon.com/codeartifact/latest/ug/codeartifact-concepts.html):
 * - domain: the container of repositories, addressed by name + 12-digit owner account;
 * - repository: a polyglot store of package versions ("any format may be published into any of them");
 * - package: format + optional namespace + name (npm `@acme/core` = namespace `acme`, name `core`);
 * - package version: a version of a package with a status, a revision and assets;
 * - asset: one file of a package version (npm: exactly one, `package.tgz`), with MD5/SHA-1/SHA-256/SHA-512;
 * - origin: how a version entered the domain (here always INTERNAL: published to a repository).
 */

/** Per-second token buckets, named after the service quotas they imitate. */
export type QuotaName =
  | 'publish' // PublishPackageVersion + npm publish: 10/s
  | 'getAsset' // GetPackageVersionAsset + npm tarball downloads: 50/s
  | 'list' // ListPackages, ListPackageVersions, ListPackageVersionAssets: 200/s
  | 'authorizationToken' // GetAuthorizationToken: 40/s
  | 'reads' // every read request of the account: 800/s
  | 'writes'; // every write request of the account: 100/s

export interface StandInOptions {
  /** e.g. 'acme' */
  domain: string;
  /** 12-digit account id, e.g. '111122223333' */
  domainOwner: string;
  /** default 'us-east-1' */
  region?: string;
  /** e.g. ['npm-internal', 'npm-store', 'npm-shared']; any format may be published into any of them */
  repositories: string[];
  /** the only AWS access key accepted (the SigV4 signature itself is not verified) */
  accessKeyId: string;
  /** lifetime of issued tokens; default: the requested duration, 43200 when 0/absent */
  tokenTtlSeconds?: number;
  /** added before every request is handled (default 0) */
  latencyMs?: number;
  /** default: the service's default quotas; `false`: no enforcement */
  quotas?: Partial<Record<QuotaName, number>> | false;
  /** default 0 (a random free port); the server always listens on 127.0.0.1 */
  port?: number;
  /** keep asset bytes in files here (one per SHA-256) instead of in memory */
  dataDir?: string;
}

export interface RequestLogEntry {
  seq: number;
  /** epoch ms when the request arrived */
  at: number;
  method: string;
  path: string;
  query: Record<string, string>;
  /**
   * AWS operation name; `npm:*` for the npm endpoint (npm:Publish, npm:GetPackument, npm:GetTarball, ...);
   * `pypi:Upload`, `pypi:SimpleIndex`, `pypi:Download`, `pypi:Unsupported` for the PyPI endpoint;
   * `Unknown` when nothing matched
   */
  operation: string;
  repository?: string;
  format?: string;
  namespace?: string;
  /** control plane: the `package` parameter; npm: the full npm name (`@acme/core`); pypi: the normalised name (`my-pkg-name`) */
  package?: string;
  /** npm:Publish, UpdatePackageVersionsStatus, DisposePackageVersions with several versions: comma-separated */
  version?: string;
  status: number;
  /** the `x-amzn-errortype` sent (control plane) or the equivalent type name (npm, pypi) */
  errorType?: string;
}

export interface FaultRule {
  operation?: string;
  /** matches the logged `package` (pypi: the normalised name), or for npm the full name, or `namespace/package` */
  package?: string;
  version?: string;
  status: number;
  /** default: the service's type for that status (429 ThrottlingException, 500 InternalServerException, ...) */
  errorType?: string;
  retryAfterSeconds?: number;
  /** default unlimited */
  times?: number;
  /** perform the operation, then answer with the error (a lost response) */
  afterApply?: boolean;
}

export type PackageVersionStatus = 'Published' | 'Unfinished' | 'Unlisted' | 'Archived' | 'Disposed' | 'Deleted';
export type OriginRestriction = 'ALLOW' | 'BLOCK';

export interface AssetHashes {
  MD5: string;
  'SHA-1': string;
  'SHA-256': string;
  'SHA-512': string;
}

export interface StoredAsset {
  name: string;
  size: number;
  /** lowercase hex, as AssetSummary.hashes */
  hashes: AssetHashes;
}

export interface StoredVersion {
  format: string;
  namespace?: string;
  package: string;
  version: string;
  status: PackageVersionStatus;
  revision: string;
  publishedTime: Date;
  origin: { domainEntryPoint: { repositoryName: string }; originType: 'INTERNAL' };
  assets: StoredAsset[];
  /** npm only: the manifest as published (without `dist` and `deprecated`) */
  npmManifest?: Record<string, unknown>;
  /** npm only: the deprecation message, absent when not deprecated */
  deprecated?: string;
  /** pypi only: the metadata fields of the version's first upload (`summary`, `requires_python`, ...) */
  pypiMetadata?: Record<string, string[]>;
}
