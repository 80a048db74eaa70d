/**
 * A CodeArtifact stand-in for tests and the sandbox: the control plane the AWS SDK talks to and
 * the npm and PyPI endpoints package managers talk to, with quotas, faults, latency and a request log.
 * No emulator of CodeArtifact exists (moto has none, LocalStack's is paid), so this is our own.
 */
export { CodeArtifactStandIn } from './server.js';
export { DEFAULT_QUOTAS } from './quotas.js';
export { normalizePypiName } from './pypi-endpoint.js';
export type {
  AssetHashes,
  FaultRule,
  OriginRestriction,
  PackageVersionStatus,
  QuotaName,
  RequestLogEntry,
  StandInOptions,
  StoredAsset,
  StoredVersion,
} from './types.js';
