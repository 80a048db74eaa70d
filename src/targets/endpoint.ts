/**
 * One request to a CodeArtifact repository endpoint (npm, PyPI): the part
 * every format's publisher shares, factored out of NpmTarget.send.
 *
 * - Rate-limited: the named token buckets are taken before every attempt
 *   (DESIGN.md, "Respect the quotas").
 * - Authenticated with the cached CodeArtifact token: `Bearer <token>` (npm,
 *   as `npm login` configures it) or Basic `aws:<token>` (pip and twine: the
 *   user name is always `aws`),
 *   https://docs.aws.amazon.com/codeartifact/latest/ug/tokens-authentication.html
 *   https://docs.aws.amazon.com/codeartifact/latest/ug/python-configure-twine.html
 * - A 401 means the token expired or was revoked: it is dropped and the
 *   request is sent once more with a fresh one (the body is produced again,
 *   so a streamed body must be given as a factory). A second 401, or a 403,
 *   is ETARGETAUTH.
 * - 429 slows the buckets down (AIMD) and is ETHROTTLED with the Retry-After
 *   the service asked for; 5xx is ETARGET; a failure on the wire is ETARGET
 *   "outcome unknown" (the request may have been stored). Every other status
 *   is the caller's to interpret.
 * - The caller's AbortSignal, and the session's (the run's stop), cut the
 *   wait for a bucket and the request; a request cut while in flight is
 *   EINTERRUPTED, outcome unknown.
 * - Bounded beyond its idle timeout (net/bounds.ts): an answer is read up to
 *   MAX_ENDPOINT_ANSWER_BYTES, and the whole exchange must be done within
 *   requestDeadlineMs, slowUploadHint, unless the request names bounds of its own. Past a
 *   default bound it is ETARGET (something on the way answers for the
 *   service: worth another try); past the request's own, ETARGETREJECTED.
 */
import type { Readable } from 'node:stream';
import { MigrateError, proxyAuthError, toError } from '../errors.js';
import { redact, registerSecret } from '../redact.js';
import { parseRetryAfter } from '../net/retry-after.js';
import type { BucketName, RateLimiter } from '../types.js';
import { requestDeadlineMs, slowUploadHint } from '../net/bounds.js';
import { DEFAULT_IDLE_MS, NetworkError, request, ResponseLimitError, type HttpResponse } from './http.js';

export type { HttpResponse } from './http.js';

/** How the token is presented: npm takes a bearer token, pip and twine Basic `aws:<token>`. */
export type EndpointAuth = 'bearer' | 'basic';

/** What a repository-endpoint request needs from the CodeArtifact facade (CodeArtifact satisfies it). */
export interface EndpointSession {
  readonly limiter: RateLimiter;
  authToken(): Promise<string>;
  invalidateToken(token: string): void;
  /** A plan: only GET and HEAD may be sent. */
  readonly readOnly?: boolean;
  /** Silence before a request is cut off, when the request names no `timeoutMs` (target.idleTimeoutSeconds). */
  readonly idleTimeoutMs?: number;
  /** The run's stop: cuts off every request, whether or not the request names a signal of its own. */
  readonly abortSignal?: AbortSignal;
}

export interface EndpointOptions {
  auth: EndpointAuth;
  /** How messages name the endpoint: 'the npm endpoint', 'the PyPI endpoint'. */
  label: string;
  /** The hint of an ETARGETAUTH; by default the permissions a token needs. */
  authHint?: string;
}

export interface EndpointRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /**
   * A string, or a factory for a stream (called once per attempt, since a 401
   * sends the request again) whose exact length is in `headers['content-length']`.
   */
  body?: string | (() => Readable | Promise<Readable>);
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Keep a 2xx answer's bytes (`HttpResponse.bytes`): an artifact to hash. */
  binary?: boolean;
  /** Hash a 2xx answer as it streams (`HttpResponse.digests`, `size`), keeping none of it. */
  digests?: readonly string[];
  /** An answer larger than this is ETARGETREJECTED (not retried: the same peer sends the same); default MAX_ENDPOINT_ANSWER_BYTES (ETARGET). */
  maxBytes?: number;
  /** The whole exchange within this long, or ETARGETREJECTED (not retried): `timeoutMs` counts only silence; default requestDeadlineMs (ETARGET). */
  deadlineMs?: number;
}

/**
 * The most bytes of an answer read when the request names no `maxBytes`. Answers are held
 * whole to be parsed; the largest real ones are packuments of packages with thousands of
 * versions (tens of MB; the public registry's largest are about 100 MB), far below this.
 */
export const MAX_ENDPOINT_ANSWER_BYTES = 256 * 2 ** 20;

const DEFAULT_AUTH_HINT = 'the CodeArtifact token lacks rights: check codeartifact:PublishPackageVersion and sts:GetServiceBearerToken (README)';

/** The Authorization header for a token. */
export function authorization(auth: EndpointAuth, token: string): string {
  if (auth === 'bearer') return `Bearer ${token}`;
  // the base64 of `aws:<token>` is no substring of the token's own base64: registered as
  // itself, so a peer's error page echoing the header leaves no usable credential in a message
  registerSecret(`aws:${token}`);
  return `Basic ${Buffer.from(`aws:${token}`, 'utf8').toString('base64')}`;
}

/**
 * The start of a response body, for an error message: redacted before it is cut, since a
 * secret the peer echoes (a proxy's page repeating the request's headers) and the cut
 * halves would no longer match what redaction looks for.
 */
export function excerpt(body: string, max = 300): string {
  // redacted with a margin past the cut (a token straddling it is found whole), not whole: a body may be megabytes
  const t = redact(body.slice(0, max + 8192)).trim();
  return t.length > max ? `${t.slice(0, max)}…` : t || '(empty body)';
}

export class RepositoryEndpoint {
  constructor(
    private readonly session: EndpointSession,
    private readonly opts: EndpointOptions,
  ) {}

  /**
   * Send one request (what NpmTarget.send does): `what` names it in messages
   * ('publish', 'reading the simple index'), `subject` is the package@version.
   * Resolves with any status below 500 other than 401/403/429.
   */
  async send(what: string, buckets: readonly BucketName[], subject: string, req: EndpointRequest): Promise<HttpResponse> {
    if (this.session.readOnly && req.method !== 'GET' && req.method !== 'HEAD') {
      throw new MigrateError('EREADONLY', `${subject}: ${req.method} ${what} refused: this run is read-only (a plan)`, { subject, hint: 'this is a bug in codeartifact-migrate: a plan must never write; please report it' });
    }
    const { limiter } = this.session;
    const stop = this.session.abortSignal;
    const signal = req.signal && stop ? AbortSignal.any([req.signal, stop]) : (req.signal ?? stop);
    for (let authTry = 0; ; authTry++) {
      // a refusal is news of the rate this request's slot was spaced by: the one in force when it asked
      const asked = performance.now();
      await limiter.take(buckets, signal);
      // Nothing was sent yet: the stop is certain not to have stored anything.
      if (signal?.aborted) throw new MigrateError('EINTERRUPTED', `${subject}: ${what}: cut off by the stop before it was sent`, { subject });
      const token = await this.session.authToken();
      const body = await this.body(req, subject, what);
      // http.ts sees only "socket hang up" when a streamed body fails (pipeline destroys the request
      // first): keep the body's own error, which says why (the file changed, the disk went away).
      let bodyError: Error | undefined;
      if (body !== undefined && typeof body !== 'string') body.once('error', (e: unknown) => (bodyError = toError(e)));
      let res: HttpResponse;
      const started = performance.now();
      const idleMs = req.timeoutMs ?? this.session.idleTimeoutMs;
      const deadlineMs = req.deadlineMs ?? requestDeadlineMs(idleMs ?? DEFAULT_IDLE_MS, uploadBytes(req));
      try {
        res = await request({
          method: req.method,
          url: req.url,
          headers: { ...req.headers, authorization: authorization(this.opts.auth, token) },
          body,
          signal,
          timeoutMs: idleMs,
          digests: req.digests,
          maxBytes: req.maxBytes ?? MAX_ENDPOINT_ANSWER_BYTES,
          deadlineMs,
        });
      } catch (e) {
        if (body !== undefined && typeof body !== 'string') body.destroy();
        if (signal?.aborted) throw new MigrateError('EINTERRUPTED', `${subject}: ${what}: cut off by the stop (outcome unknown)`, { subject, cause: e });
        if (bodyError !== undefined) {
          throw new MigrateError('ETARGET', `${subject}: ${what}: the request body failed: ${bodyError.message} (outcome unknown)`, { subject, cause: bodyError });
        }
        if (e instanceof ResponseLimitError) {
          const own = e.limit === 'bytes' ? req.maxBytes !== undefined : req.deadlineMs !== undefined;
          if (own) throw new MigrateError('ETARGETREJECTED', `${subject}: ${what}: ${e.message}`, { subject, cause: e });
          // no whole answer in time counts as a silent request toward the stuck breaker (as an idle timeout does)
          if (e.limit === 'deadline') limiter.silent(this.peer(req.url), deadlineMs);
          throw new MigrateError('ETARGET', `${subject}: ${what}: ${e.message}${req.method === 'GET' || req.method === 'HEAD' ? '' : ' (outcome unknown)'}`, {
            subject,
            cause: e,
            // a link slower than the slowest upload we call working is cut the same way, every time
            ...(e.limit === 'deadline' && uploadBytes(req) > 0
              ? { hint: slowUploadHint(deadlineMs) }
              : {}),
          });
        }
        if (e instanceof NetworkError && e.silent) limiter.silent(this.peer(req.url), idleMs ?? DEFAULT_IDLE_MS);
        else if (e instanceof NetworkError && e.unreachable !== undefined) limiter.unreachable(this.peer(req.url), e.unreachable);
        if (e instanceof NetworkError) throw new MigrateError('ETARGET', `${subject}: ${what}: ${e.message} (outcome unknown)`, { subject, cause: e });
        if (e instanceof MigrateError) throw e;
        throw new MigrateError('ETARGET', `${subject}: ${what}: ${toError(e).message}`, { subject, cause: e });
      }
      limiter.answered(this.peer(req.url));
      if (res.status === 407) throw proxyAuthError(`${subject}: ${what}`);
      if (res.status === 401 && authTry === 0) {
        this.session.invalidateToken(token);
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        throw new MigrateError('ETARGETAUTH', `${subject}: ${this.opts.label} refused ${what} (HTTP ${res.status}): ${excerpt(res.body)}`, {
          subject,
          status: res.status,
          hint: this.opts.authHint ?? DEFAULT_AUTH_HINT,
        });
      }
      if (res.status === 429) {
        limiter.throttled(buckets, asked);
        throw new MigrateError('ETHROTTLED', `${subject}: ${what} was throttled`, { subject, status: 429, retryAfterMs: parseRetryAfter(res.headers['retry-after']) });
      }
      if (res.status >= 500) throw new MigrateError('ETARGET', `${subject}: ${what} failed (HTTP ${res.status}): ${excerpt(res.body)}`, { subject, status: res.status });
      limiter.succeeded(buckets, performance.now() - started);
      return res;
    }
  }

  /** How the stuck-peer count names this endpoint: its label and host (a proxy or firewall loses hosts, not paths). */
  private peer(url: string): string {
    return `CodeArtifact's ${this.opts.label.replace(/^the /, '')} at ${new URL(url).host}`;
  }

  private async body(req: EndpointRequest, subject: string, what: string): Promise<string | Readable | undefined> {
    if (typeof req.body !== 'function') return req.body;
    try {
      return await req.body();
    } catch (e) {
      if (e instanceof MigrateError) throw e;
      throw new MigrateError('ELOCAL', `${subject}: ${what}: the request body cannot be read: ${toError(e).message}`, { subject, cause: e });
    }
  }
}

/** The bytes a request uploads (its deadline grows with them): a string's, or a stream's declared length. */
function uploadBytes(req: EndpointRequest): number {
  if (typeof req.body === 'string') return Buffer.byteLength(req.body);
  const declared = Number(req.headers?.['content-length']);
  return Number.isFinite(declared) && declared > 0 ? declared : 0;
}
