/**
 * What the HTTP plumbing (server.ts) and the protocol modules (control-plane.ts, npm-endpoint.ts,
 * pypi-endpoint.ts, sts.ts, service-quotas.ts) share: the incoming call, the resolved route, the
 * reply and the domain's state.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ExternalRegistries, RequestTrace } from './external.js';
import type { OriginControls } from './origin-controls.js';
import type { PackageGroups } from './package-groups.js';
import type { Quotas } from './quotas.js';
import type { Store } from './store.js';
import type { CallerIdentity, QuotaName } from './types.js';

export interface IncomingCall {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** serialised as application/json */
  json?: unknown;
  /** sent as-is, application/octet-stream unless headers say otherwise */
  bytes?: Buffer;
}

/** What a request is about, known before it is handled: for the log and for fault matching. */
export interface Subject {
  repository?: string;
  format?: string;
  namespace?: string;
  package?: string;
  versions: string[];
}

export interface ResolvedRoute {
  /**
   * control plane, sts, servicequotas: SigV4 access key; npm: bearer token from
   * GetAuthorizationToken; pypi: Basic aws:<token>
   */
  kind: 'control' | 'npm' | 'pypi' | 'sts' | 'servicequotas';
  operation: string;
  subject: Subject;
  quotas: QuotaName[];
  /**
   * Store reads and writes are synchronous, so each operation that only touches the store is
   * atomic. Fetch-through is asynchronous: it fetches first, then writes synchronously.
   */
  handle(trace: RequestTrace): Reply | Promise<Reply>;
}

export interface StandInContext {
  readonly store: Store;
  readonly groups: PackageGroups;
  readonly origins: OriginControls;
  readonly external: ExternalRegistries;
  readonly quotas: Quotas;
  readonly domain: string;
  readonly domainOwner: string;
  readonly region: string;
  issueToken(requestedSeconds: number): { token: string; expiration: Date };
  /** `http://127.0.0.1:PORT/d/<domain>-<owner>/<format>/<repo>/` */
  endpointUrl(format: string, repo: string): string;
  /** Store what a fetch-through found, now or after the ingestion delay. */
  ingest(write: () => void): void;
  /** STS GetCallerIdentity's answer for the accepted key */
  identity(): Required<CallerIdentity>;
  /** whether the principal may read Service Quotas */
  serviceQuotasReadable(): boolean;
}
