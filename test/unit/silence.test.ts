/**
 * net/silence: a request's idle timeout counts the peer's silence, not this process's own
 * stalls. The stall here is a synchronous busy loop in this process while an in-process server's
 * answer is due: when the loop resumes, the server's timer answers and the request's idle timer
 * fires in the same pass, before any poll reads the answer; that answer must count.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { download } from '../../src/sources/download.js';
import { NetworkError, request } from '../../src/targets/http.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/**
 * A server that answers `body` after `delayMs`, or never when `delayMs` is undefined; with
 * `stallMs`, this process stalls for that long from 30 ms after the request arrived (so the
 * answer falls due during the stall however long a loaded machine took to deliver the request).
 */
async function server(delayMs: number | undefined, body = 'hello', stallMs?: number): Promise<string> {
  const s = http.createServer((_req, res) => {
    if (stallMs !== undefined) stallAfter(30, stallMs);
    if (delayMs === undefined) return;
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end(body), delayMs);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/x`;
}

/** Blocks this process's event loop for `ms` once `afterMs` have passed. */
function stallAfter(afterMs: number, ms: number): void {
  setTimeout(() => {
    const until = Date.now() + ms;
    while (Date.now() < until);
  }, afterMs);
}

it("an answer that arrived while this process was stalled past the idle timeout is read, not cut off as the peer's silence", async () => {
  const url = await server(100, 'hello', 1000);
  const res = await request({ method: 'GET', url, timeoutMs: 300 });
  expect(res).toMatchObject({ status: 200, body: 'hello' });
});

it('a peer that really says nothing is still cut off as silent, within the idle timeout and its confirmation', async () => {
  const url = await server(undefined);
  const started = Date.now();
  const e = await request({ method: 'GET', url, timeoutMs: 300 }).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(NetworkError);
  expect((e as NetworkError).silent).toBe(true);
  expect((e as Error).message).toContain('no answer for 0.3 s');
  expect(Date.now() - started).toBeGreaterThanOrEqual(300);
});

it("a source download whose answer arrived during this process's own stall is read whole", async () => {
  const url = await server(100, 'tarball bytes', 1000);
  const res = await download(url, { allowed: () => true, authPrefix: url, subject: 'pkg@1.0.0', timeoutMs: 300 });
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  expect(Buffer.concat(chunks).toString()).toBe('tarball bytes');
});
