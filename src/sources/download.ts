/**
 * Streaming GET for artifacts, on node:http with real back-pressure: the
 * socket is read only as fast as the blob store writes, so memory stays flat
 * however large the tarball. (npm-registry-fetch's Minipass body buffered a
 * whole 32 MB tarball in the benchmark; fetch/undici buffered even more.)
 *
 * Connections go through the configured proxy, if any (net/agents.ts).
 * Redirects are followed (GitHub Packages redirects tarball downloads to
 * storage on another host); the Authorization header only ever goes to the
 * registry's own origin, never across a redirect to another one.
 */
import http from 'node:http';
import https from 'node:https';
import { agentFor } from '../net/agents.js';

export class HttpStatusError extends Error {
  constructor(
    readonly statusCode: number,
    url: string,
    /** The Retry-After header, when the server sent one (429, 503). */
    readonly retryAfter?: string,
  ) {
    super(`HTTP ${statusCode} for ${url}`);
    this.name = 'HttpStatusError';
  }
}

const MAX_REDIRECTS = 5;

/** GET `url`; resolves with the response stream once a 2xx arrives. `authorization` goes to `authOrigin` only. */
export function download(url: string, opts: { authorization?: string; authOrigin: string; timeoutMs?: number }): Promise<http.IncomingMessage> {
  return get(new URL(url), opts, 0);
}

function get(url: URL, opts: { authorization?: string; authOrigin: string; timeoutMs?: number }, hops: number): Promise<http.IncomingMessage> {
  const lib = url.protocol === 'https:' ? https : http;
  const headers: Record<string, string> = { accept: '*/*', 'user-agent': 'codeartifact-migrate' };
  if (opts.authorization && url.origin === opts.authOrigin) headers.authorization = opts.authorization;
  return new Promise((resolve, reject) => {
    const req = lib.get(url, { headers, agent: agentFor(url), timeout: opts.timeoutMs ?? 120_000 }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && hops < MAX_REDIRECTS) {
        res.resume();
        resolve(get(new URL(res.headers.location, url), opts, hops + 1));
        return;
      }
      if (status < 200 || status >= 300) {
        res.resume();
        const retryAfter = res.headers['retry-after'];
        reject(new HttpStatusError(status, `${url.origin}${url.pathname}`, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter));
        return;
      }
      // a stalled body must not hang the run
      res.setTimeout(opts.timeoutMs ?? 120_000, () => res.destroy(new Error(`download stalled: ${url.origin}${url.pathname}`)));
      resolve(res);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.origin}`)));
    req.on('error', reject);
  });
}
