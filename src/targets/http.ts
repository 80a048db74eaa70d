/**
 * A small HTTP client for the repository endpoints (npm today, PyPI later).
 * Written on node:http rather than fetch so a request body can be streamed
 * with an exact Content-Length: the npm publish body carries the tarball as
 * base64 inside JSON, and we never hold a whole tarball in memory.
 */
import http from 'node:http';
import https from 'node:https';
import { agentFor } from '../net/agents.js';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The raw bytes of a 2xx answer to a `binary` request (`body` is then ''). */
  bytes?: Buffer;
}

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** A string, or a stream with its exact length in `headers['content-length']`. */
  body?: string | Readable;
  timeoutMs?: number;
  /** Aborting destroys the request: its outcome is then unknown. */
  signal?: AbortSignal;
  /** Keep a 2xx answer's bytes as they came (`bytes`) instead of decoding them as text: an artifact being hashed. */
  binary?: boolean;
}

/** Network-level failure: the request may or may not have reached the server. */
export class NetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NetworkError';
  }
}

export function request(req: HttpRequest): Promise<HttpResponse> {
  const url = new URL(req.url);
  const lib = url.protocol === 'https:' ? https : http;
  const headers: Record<string, string> = { ...req.headers };
  if (typeof req.body === 'string') headers['content-length'] = String(Buffer.byteLength(req.body));
  return new Promise<HttpResponse>((resolve, reject) => {
    const r = lib.request(
      url,
      { method: req.method, headers, agent: agentFor(url), timeout: req.timeoutMs ?? 300_000, signal: req.signal },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(new NetworkError(`${req.method} ${url.origin}${url.pathname}: ${e.message}`, { cause: e })));
        res.on('end', () => {
          const all = Buffer.concat(chunks);
          const status = res.statusCode ?? 0;
          if (req.binary && status >= 200 && status < 300) resolve({ status, headers: res.headers, body: '', bytes: all });
          else resolve({ status, headers: res.headers, body: all.toString('utf8') });
        });
      },
    );
    r.on('timeout', () => r.destroy(new Error('timed out')));
    r.on('error', (e) => reject(new NetworkError(`${req.method} ${url.origin}${url.pathname}: ${e.message}`, { cause: e })));
    if (req.body === undefined) r.end();
    else if (typeof req.body === 'string') r.end(req.body);
    else pipeline(req.body, r).catch((e: unknown) => r.destroy(e instanceof Error ? e : new Error(String(e))));
  });
}
