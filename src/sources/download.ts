/**
 * Streaming GET for artifacts, on node:http with real back-pressure: the
 * socket is read only as fast as the blob store writes, so memory stays flat
 * however large the tarball. (npm-registry-fetch's Minipass body buffered a
 * whole 32 MB tarball in the benchmark; fetch/undici buffered even more.)
 *
 * Connections go through the configured proxy, if any (net/agents.ts).
 * Redirects are followed (GitHub Packages redirects tarball downloads to
 * storage on another host), but only to hosts the source trusts; the
 * Authorization header only ever goes to URLs under the registry's own URL,
 * never to another path of its host and never across a redirect elsewhere.
 * The registry's JSON answers (packuments, search pages) come through here
 * too, so they follow the same rules.
 */
import http from 'node:http';
import https from 'node:https';
import { MigrateError } from '../errors.js';
import { agentFor, SILENCE_CODES } from '../net/agents.js';
import { confirmSilence } from '../net/silence.js';

export class HttpStatusError extends Error {
  constructor(
    readonly statusCode: number,
    url: string,
    /** The answer's headers, lower-case names (Retry-After, GitHub's x-ratelimit-*). */
    readonly headers: http.IncomingHttpHeaders = {},
  ) {
    super(`HTTP ${statusCode} for ${url}`);
    this.name = 'HttpStatusError';
  }
}

const MAX_REDIRECTS = 5;

/** The source said nothing for `idleMs`: connecting, waiting for the answer, or in the middle of the body. A stuck peer, not a refusal. */
export class SilentSourceError extends Error {
  constructor(
    message: string,
    readonly idleMs: number,
  ) {
    super(message);
    this.name = 'SilentSourceError';
  }
}

/** The SilentSourceError somewhere in `e`'s causes, if the failure was silence. */
export function silenceIn(e: unknown): SilentSourceError | undefined {
  for (let c = e, depth = 0; c instanceof Error && depth < 8; c = c.cause, depth++) if (c instanceof SilentSourceError) return c;
  return undefined;
}

const DEFAULT_IDLE_MS = 120_000;

export interface DownloadOptions {
  /** `Authorization` header value, sent only to URLs starting with `authPrefix`. */
  authorization?: string;
  /** The registry URL (ending in '/'): the token's scope. */
  authPrefix: string;
  /** May bytes come from this URL? (the first URL and every redirect target). */
  allowed: (url: URL) => boolean;
  /** Refuse a body the server announces as larger than this (the blob store also counts). */
  maxBytes?: number;
  subject: string;
  /** Headers besides the defaults (a packument's `accept`); never `authorization`, which follows the rule above. */
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Aborting destroys the request and the body. */
  signal?: AbortSignal;
  /** The error for a URL `allowed` refuses, when not a registry's (default: ESOURCEURL naming tarballHosts). */
  refused?: (url: URL) => MigrateError;
}

/** GET `url`; resolves with the response stream once a 2xx arrives. */
export function download(url: string, opts: DownloadOptions): Promise<http.IncomingMessage> {
  return get(new URL(url), opts, 0);
}

/** True when `url` lies under `prefix` (same origin, and its path starts with the prefix's path). */
export function isUnder(url: URL, prefix: string): boolean {
  const p = new URL(prefix);
  return url.origin === p.origin && url.pathname.startsWith(p.pathname);
}

function get(url: URL, opts: DownloadOptions, hops: number): Promise<http.IncomingMessage> {
  if (!opts.allowed(url)) {
    return Promise.reject(
      opts.refused?.(url) ??
      new MigrateError('ESOURCEURL', `${opts.subject}: the source points the download at ${url.protocol}//${url.host}, which is not the registry's host`, {
        subject: opts.subject,
        actual: `${url.origin}${url.pathname}`,
        hint: 'if this registry really serves its tarballs (or packuments, through a redirect) from that host, add it to tarballHosts of the source in the job file',
      }),
    );
  }
  if (opts.signal?.aborted) return Promise.reject(abortError(opts.subject));
  const lib = url.protocol === 'https:' ? https : http;
  const headers: Record<string, string> = { accept: '*/*', 'user-agent': 'codeartifact-migrate', ...opts.headers };
  if (opts.authorization && isUnder(url, opts.authPrefix)) headers.authorization = opts.authorization;
  const where = `${url.origin}${url.pathname}`;
  return new Promise((resolve, reject) => {
    const idleMs = opts.timeoutMs ?? DEFAULT_IDLE_MS;
    // once a body is handed on, its silence is the response's to name (the request's cut would read as "aborted")
    let handedOn = false;
    const req = lib.get(url, { headers, agent: agentFor(url), timeout: idleMs, signal: opts.signal }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (hops >= MAX_REDIRECTS) return reject(new MigrateError('ESOURCEURL', `${opts.subject}: more than ${MAX_REDIRECTS} redirects from ${where}`, { subject: opts.subject }));
        let next: URL;
        try {
          next = new URL(res.headers.location, url);
        } catch {
          return reject(new MigrateError('ESOURCEURL', `${opts.subject}: ${where} redirected to an invalid URL`, { subject: opts.subject }));
        }
        resolve(get(next, opts, hops + 1));
        return;
      }
      if (status < 200 || status >= 300) {
        res.resume();
        reject(new HttpStatusError(status, where, res.headers));
        return;
      }
      const length = Number(res.headers['content-length']);
      if (opts.maxBytes !== undefined && Number.isFinite(length) && length > opts.maxBytes) {
        res.destroy();
        reject(
          new MigrateError('ETOOLARGE', `${opts.subject}: the source announces ${length} bytes, more than limits.maxArtifactBytes (${opts.maxBytes})`, {
            subject: opts.subject,
            expected: `at most ${opts.maxBytes} bytes`,
            actual: `${length} bytes`,
            hint: 'if the artifact is real, raise limits.maxArtifactBytes in the job file',
          }),
        );
        return;
      }
      // a stalled body must not hang the run
      handedOn = true;
      res.setTimeout(idleMs, () => confirmSilence(res.socket, idleMs, () => res.destroy(new SilentSourceError(`download stalled: no byte from ${where} for ${idleMs / 1000} s`, idleMs))));
      resolve(res);
    });
    req.on('timeout', () => confirmSilence(req.socket, idleMs, () => handedOn || req.destroy(new SilentSourceError(`no answer from ${url.origin} for ${idleMs / 1000} s`, idleMs))));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (opts.signal?.aborted) reject(abortError(opts.subject));
      // the agent's own idle timer may fire before ours: silence all the same
      else if (SILENCE_CODES.has(e.code ?? '')) reject(new SilentSourceError(`no answer from ${url.origin} for ${idleMs / 1000} s (${e.message})`, idleMs));
      else reject(e);
    });
  });
}

function abortError(subject: string): MigrateError {
  return new MigrateError('EINTERRUPTED', `${subject}: download cut off by the stop`, { subject });
}
