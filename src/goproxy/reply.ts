/**
 * The proxy's plain-text answers (refusals, errors, `@v/list`), shared by the connection
 * cap, the request handler and the downloads.
 */
import type { ServerResponse } from 'node:http';
import { forOutput } from '../redact.js';

/** The whole answer at once, with its length; the body passes through forOutput, as everything the proxy prints does. */
export function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(forOutput(body));
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(bytes.length), ...headers });
  res.end(bytes);
}
