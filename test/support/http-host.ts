import { request, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';

/**
 * A GET with a Host header of our choosing (fetch sets its own), on a connection of its own
 * when `fresh` (no agent: it is not kept for another request).
 */
export function getWithHost(url: string, path: string, host: string, fresh = false): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((done, fail) => {
    const req = request(`${url}${path}`, { headers: { host }, ...(fresh ? { agent: false } : {}) }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', fail);
    req.end();
  });
}

/** A raw connection that asks for `path` (GET, Connection: close) and reads nothing of the answer until resumed. */
export function stalledClient(url: string, path: string): Socket {
  const u = new URL(url);
  const s = connect(Number(u.port), u.hostname);
  s.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`);
  s.pause();
  s.on('error', () => {});
  return s;
}
