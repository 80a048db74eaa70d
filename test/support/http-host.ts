import { request, type IncomingHttpHeaders } from 'node:http';

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
