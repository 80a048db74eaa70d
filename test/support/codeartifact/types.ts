/**
 * Public types of the CodeArtifact stand-in.
 *
 * Glossary (CodeArtifact's own words, https://docs.aws.amazon.com/codeartifact/latest/ug/codeartifact-concepts.html):
 * - domain: the container of repositories, addressed by name + 12-digit owner account;
 * - repository: a polyglot store of package versions ("any format may be published into any of them");
 * - package: format + optional namespace + name (npm `@acme/core` = namespace `acme`, name `core`);
 * - package version: a version of a package with a status, a revision and assets;
 * - asset: one file of a package version (npm: exactly one, `package.tgz`), with MD5/SHA-1/SHA-256/SHA-512;
 * - origin: how a version entered the domain: INTERNAL (published to a repository) or EXTERNAL
 *   (ingested through an external connection such as `public:npmjs`);
 * - upstream: another repository of the domain a repository searches when it lacks a version
 *   (`npm-shared` lists `npm-internal` then `npm-store`); external connection: a repository's link
 *   to a public registry (`npm-store` -> `public:npmjs`); store/internal/shared: the roles the
 *   migration gives repositories (ingested public packages / our own / what builds read);
 * - package group: a pattern (`/npm/acme/*`) whose origin controls apply to every package it matches.
 */

/**
 * Per-second token buckets, named after the service quotas they imitate (the same names as the
 * engine's buckets); quotas.ts maps each to its Service Quotas code.
 */
export type QuotaName =
  | 'publish' // PublishPackageVersion + npm publish + twine upload: 10/s
  | 'getAsset' // GetPackageVersionAsset + npm tarball and PyPI file downloads: 50/s
  | 'listPackages' // ListPackages: 200/s
  | 'listVersions' // ListPackageVersions: 200/s
  | 'listAssets' // ListPackageVersionAssets: 200/s
  | 'authorizationToken' // GetAuthorizationToken: 40/s
  | 'reads' // every read request of the account: 800/s
  | 'writes'; // every write request of the account: 100/s

/** Rates per quota; `list` (the old shared List bucket) sets the three List quotas not named on their own. */
export type QuotaConfig = Partial<Record<QuotaName, number>> & { list?: number };

/**
 * External connections the model documents (AssociateExternalConnectionRequest.externalConnection).
 * The stand-in fetches through the ones given a URL in `externalConnections` (npm and PyPI).
 */
export type ExternalConnectionName =
  | 'public:npmjs'
  | 'public:pypi'
  | 'public:nuget-org'
  | 'public:maven-central'
  | 'public:maven-googleandroid'
  | 'public:maven-gradleplugins'
  | 'public:maven-commonsware'
  | 'public:maven-clojars'
  | 'public:ruby-gems-org'
  | 'public:crates-io';

/** A repository as CreateRepository + AssociateExternalConnection would set it up. */
export interface RepositoryDefinition {
  name: string;
  description?: string;
  /** searched in this order when the repository lacks a version; must be repositories defined here */
  upstreams?: string[];
  /** at most one (AssociateExternalConnection: "One external connection is allowed per repository") */
  externalConnection?: ExternalConnectionName;
}

/**
 * Between a package's own origin configuration and its package group's, which applies is not
 * documented. `strictest` (default): a BLOCK on either side blocks. `package`: a package that has
 * an origin configuration in the repository follows it and ignores the group.
 */
export type OriginPrecedence = 'strictest' | 'package';

/** What STS GetCallerIdentity answers for the accepted access key. */
export interface CallerIdentity {
  /** default: the domain owner */
  account?: string;
  /** default `arn:aws:iam::<account>:user/codeartifact-migrate` */
  arn?: string;
  /** default: an `AIDA…` id derived from the access key */
  userId?: string;
}

export interface StandInOptions {
  /** e.g. 'acme' */
  domain: string;
  /** 12-digit account id, e.g. '111122223333' */
  domainOwner: string;
  /** default 'us-east-1' */
  region?: string;
  /**
   * e.g. ['npm-internal', 'npm-store', 'npm-shared'], or definitions with upstreams and an external
   * connection; any format may be published into any of them
   */
  repositories: (string | RepositoryDefinition)[];
  /** the only AWS access key accepted (the SigV4 signature itself is not verified) */
  accessKeyId: string;
  /** lifetime of issued tokens; default: the requested duration, 43200 when 0/absent */
  tokenTtlSeconds?: number;
  /** added before every request is handled (default 0) */
  latencyMs?: number;
  /** default: the service's default quotas; `false`: no enforcement (Service Quotas then reports the defaults) */
  quotas?: QuotaConfig | false;
  /** default 0 (a random free port); the server always listens on 127.0.0.1 */
  port?: number;
  /** keep asset bytes in files here (one per SHA-256) instead of in memory */
  dataDir?: string;
  /**
   * Where each external connection fetches from (a Verdaccio playing npmjs, a PyPI stand-in
   * playing pypi.org), e.g. `{ 'public:npmjs': 'http://127.0.0.1:PORT/' }`. A connection without a
   * URL finds nothing (its public registry holds no package), as if unreachable.
   */
  externalConnections?: Partial<Record<ExternalConnectionName, string>>;
  /**
   * Delay before a version fetched through an upstream or an external connection is stored in the
   * repositories that retain it (default 0): the service ingests asynchronously, so
   * ListPackageVersions may not show it at once. The client gets the bytes at once either way.
   */
  ingestionDelayMs?: number;
  /** How long a public registry's package metadata is reused before it is fetched again (default 30 minutes). */
  externalMetadataTtlMs?: number;
  /** default 'strictest' */
  originPrecedence?: OriginPrecedence;
  /** STS GetCallerIdentity's answer */
  identity?: CallerIdentity;
  /** false: Service Quotas answers AccessDeniedException (the principal may not read quotas); default true */
  serviceQuotasReadable?: boolean;
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
  /** on a 429: `quota` when a token bucket of the stand-in ran dry, `fault` when an injected fault answered */
  throttledBy?: 'quota' | 'fault';
  /** with throttledBy `quota`: the bucket that ran dry */
  quota?: QuotaName;
  /** requests to public registries this request caused (fetch-through), as `GET <url> <status>` */
  upstreamRequests?: string[];
}

export interface FaultRule {
  operation?: string;
  /** matches a request naming this repository (another team's repository the principal may not read) */
  repository?: string;
  /** matches the logged `package` (pypi: the normalised name), or for npm the full name, or `namespace/package` */
  package?: string;
  version?: string;
  status: number;
  /** default: the service's type for that status (429 ThrottlingException, 500 InternalServerException, ...) */
  errorType?: string;
  retryAfterSeconds?: number;
  /** default unlimited */
  times?: number;
  /** the error's message (default: `Injected fault for <operation>.`): a peer's error body of any size */
  message?: string;
  /** perform the operation, then answer with the error (a lost response) */
  afterApply?: boolean;
  /** a stuck peer: take the request and never answer (until the client gives up); logged with status 0 */
  hang?: boolean;
  /**
   * a listing whose paging never ends (`status` unused): 'same-token' answers the real page with
   * a nextToken that is always the same, 'empty-pages' an empty page with a new nextToken every time
   */
  endlessPaging?: 'same-token' | 'empty-pages';
  /**
   * npm:GetPackument as a stale cache serves it (`status` unused): the packument without this
   * version (its `versions` entry and its `time`), though the version is stored and listed
   */
  omitVersion?: string;
  /** with omitVersion: a cache that `?write=true` (as `npm deprecate` reads the packument) goes past */
  unlessWrite?: boolean;
  /** a lying peer: answer `status` with exactly this JSON body, the operation not performed */
  body?: unknown;
}

/**
 * PackageVersionOrigin: the repository a version was published to (INTERNAL), or the external
 * connection it was ingested from (EXTERNAL). A version retained from an upstream keeps its origin.
 */
export interface VersionOrigin {
  domainEntryPoint: { repositoryName?: string; externalConnectionName?: string };
  originType: 'INTERNAL' | 'EXTERNAL';
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
  origin: VersionOrigin;
  assets: StoredAsset[];
  /** npm only: the manifest as published (without `dist` and `deprecated`) */
  npmManifest?: Record<string, unknown>;
  /** npm only: the deprecation message, absent when not deprecated */
  deprecated?: string;
  /** pypi only: the metadata fields of the version's first upload (`summary`, `requires_python`, ...) */
  pypiMetadata?: Record<string, string[]>;
}
