/**
 * A small HTTP client for the repository endpoints (npm today, PyPI later).
 * Written on node:http rather than fetch so a request body can be streamed
 * with an exact Content-Length: the npm publish body carries the tarball as
 * base64 inside JSON, and we never hold a whole tarball in memory.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { agentFor, noAnswer, SILENCE_CODES } from '../net/agents.js';
import { ResponseLimitError } from '../net/bounds.js';
import { confirmSilence } from '../net/silence.js';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export { ResponseLimitError } from '../net/bounds.js';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** A 2xx answer to a `digests` request: its hashes (lower-case hex, by algorithm) and size; its bytes are not kept. */
  digests?: Record<string, string>;
  size?: number;
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
  /** Hash a 2xx answer as it streams in (`digests`, `size`) and keep none of it: an artifact of any size in bounded memory. */
  digests?: readonly string[];
  /** The most bytes an answer may have (declared or sent): more is a ResponseLimitError, and the connection is cut. */
  maxBytes?: number;
  /** The whole exchange within this long, or a ResponseLimitError; `timeoutMs` alone counts silence, so a trickle never ends. */
  deadlineMs?: number;
}

/** Network-level failure: the request may or may not have reached the server. */
export class NetworkError extends Error {
  constructor(
    message: string,
    options?: { cause?: unknown },
    /** Nothing came back within the idle timeout (connecting, or waiting for the answer): a stuck peer, not a refusal. */
    readonly silent = false,
    /** Nothing came back at all, at once: refused or reset before any answer, no such host, no route (the system's words). */
    readonly unreachable?: string,
  ) {
    super(message, options);
    this.name = 'NetworkError';
  }
}

/** Silence before a request is cut off when the caller names no `timeoutMs`. */
export const DEFAULT_IDLE_MS = 300_000;

export function request(req: HttpRequest): Promise<HttpResponse> {
  const url = new URL(req.url);
  const lib = url.protocol === 'https:' ? https : http;
  const headers: Record<string, string> = { ...req.headers };
  if (typeof req.body === 'string') headers['content-length'] = String(Buffer.byteLength(req.body));
  return new Promise<HttpResponse>((resolve, reject) => {
    const where = `${req.method} ${url.origin}${url.pathname}`;
    let deadline: NodeJS.Timeout | undefined;
    const settle = <T>(fn: (v: T) => void) => (v: T) => {
      clearTimeout(deadline);
      fn(v);
    };
    const done = settle(resolve);
    const fail = settle(reject);
    const max = req.maxBytes;
    // silence is ours (the request's idle timeout) or the agent's (its own timer): either way nothing came back in time
    let silent = false;
    // once the status line is in, the peer answered: a reset after it is a failing peer, not an absent one
    let answered = false;
    const networkError = (e: NodeJS.ErrnoException) => {
      const quiet = silent || SILENCE_CODES.has(e.code ?? '');
      return new NetworkError(`${where}: ${e.message}`, { cause: e }, quiet, quiet || answered ? undefined : noAnswer(e));
    };
    const tooLarge = (n: string) => {
      fail(new ResponseLimitError(`${where}: the answer is larger than ${max} bytes (${n}); cut off`, 'bytes'));
      r.destroy();
    };
    const r = lib.request(
      url,
      { method: req.method, headers, agent: agentFor(url), timeout: req.timeoutMs ?? DEFAULT_IDLE_MS, signal: req.signal },
      (res) => {
        answered = true;
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 300;
        const declared = Number(res.headers['content-length']);
        if (max !== undefined && Number.isFinite(declared) && declared > max) return tooLarge(`Content-Length ${declared}`);
        const hashes = req.digests && ok ? req.digests.map((a) => [a, createHash(a)] as const) : undefined;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (max !== undefined && size > max) return tooLarge(`${size} bytes so far`);
          if (hashes) for (const [, h] of hashes) h.update(c);
          else chunks.push(c);
        });
        res.on('error', (e) => fail(networkError(e)));
        res.on('end', () => {
          if (hashes) return done({ status, headers: res.headers, body: '', size, digests: Object.fromEntries(hashes.map(([a, h]) => [a, h.digest('hex')])) });
          done({ status, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    if (req.deadlineMs !== undefined) {
      deadline = setTimeout(() => {
        fail(new ResponseLimitError(`${where}: no complete answer within ${req.deadlineMs! / 1000} s; cut off`, 'deadline'));
        r.destroy();
      }, req.deadlineMs);
    }
    r.on('timeout', () =>
      confirmSilence(r.socket, req.timeoutMs ?? DEFAULT_IDLE_MS, () => {
        silent = true;
        r.destroy(new Error(`timed out: no answer for ${(req.timeoutMs ?? DEFAULT_IDLE_MS) / 1000} s`));
      }),
    );
    r.on('error', (e) => fail(networkError(e)));
    if (req.body === undefined) r.end();
    else if (typeof req.body === 'string') r.end(req.body);
    else pipeline(req.body, r).catch((e: unknown) => r.destroy(e instanceof Error ? e : new Error(String(e))));
  });
}
