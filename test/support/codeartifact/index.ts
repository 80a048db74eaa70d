/**
 * A CodeArtifact stand-in for tests and the sandbox: the control plane the AWS SDK talks to, the
 * npm and PyPI endpoints package managers talk to (fetching through upstreams and external
 * connections), STS GetCallerIdentity and Service Quotas, with quotas, faults, latency and a
 * request log. No emulator of CodeArtifact exists (moto has none, LocalStack's is paid), so this is our own.
 */
export { CodeArtifactStandIn } from './server.js';
export { DEFAULT_QUOTAS } from './quotas.js';
export { normalizePypiName } from './pypi-endpoint.js';
export { CODEARTIFACT_QUOTAS } from './service-quotas.js';
export { CONNECTION_FORMATS } from './external.js';
export type {
  AssetHashes,
  CallerIdentity,
  ExternalConnectionName,
  FaultRule,
  OriginPrecedence,
  OriginRestriction,
  PackageVersionStatus,
  QuotaConfig,
  QuotaName,
  RepositoryDefinition,
  RequestLogEntry,
  StandInOptions,
  StoredAsset,
  StoredVersion,
  VersionOrigin,
} from './types.js';
