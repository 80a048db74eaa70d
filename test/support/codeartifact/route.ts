/**
 * What the HTTP plumbing (server.ts) and the protocol modules (control-plane.ts, npm-endpoint.ts,
 * pypi-endpoint.ts) share: the incoming call, the resolved route and the reply.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Store } from './store.js';
import type { QuotaName } from './types.js';

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
  /** control plane: SigV4 access key; npm: bearer token from GetAuthorizationToken; pypi: Basic aws:<token> */
  kind: 'control' | 'npm' | 'pypi';
  operation: string;
  subject: Subject;
  quotas: QuotaName[];
  /** synchronous: the store is synchronous, so each operation is atomic */
  handle(): Reply;
}

export interface StandInContext {
  readonly store: Store;
  readonly domain: string;
  readonly domainOwner: string;
  readonly region: string;
  issueToken(requestedSeconds: number): { token: string; expiration: Date };
  /** `http://127.0.0.1:PORT/d/<domain>-<owner>/<format>/<repo>/` */
  endpointUrl(format: string, repo: string): string;
}
