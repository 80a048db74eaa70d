/**
 * A reverse proxy in front of a real registry that answers chosen requests
 * with errors a given number of times: a flaky source, for tests. The Host
 * header is passed through, so the registry's tarball URLs point back here.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SourceFault {
  method?: string;
  /** Matched against the request path (still URL-encoded). */
  path: RegExp;
  status: number;
  retryAfterSeconds?: number;
  /** For 3xx: where to send the client (the request path is appended). */
  redirectTo?: string;
  /** More headers to answer with (GitHub's x-ratelimit-*, for one). */
  headers?: Record<string, string>;
  times: number;
}

export interface FaultProxy {
  url: string;
  /** Every request, in order answered: when it was answered (`at`) and arrived, what it asked, what it got, whether it carried credentials. */
  log: { at: number; arrived: number; method: string; path: string; status: number; authorization: boolean }[];
  addFault(f: SourceFault): void;
  /** Hold every answer passed through (not the faults) this long: a distant registry. */
  setLatency(ms: number): void;
  stop(): Promise<void>;
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const faults: SourceFault[] = [];
  const log: FaultProxy['log'] = [];
  let latencyMs = 0;
  const server = http.createServer((req, res) => {
    const arrived = Date.now();
    const path = req.url ?? '/';
    const fault = faults.find((f) => f.times > 0 && f.path.test(path) && (!f.method || f.method === req.method));
    if (fault) {
      fault.times--;
      log.push({ at: Date.now(), arrived, method: req.method ?? '', path, status: fault.status, authorization: !!req.headers.authorization });
      req.resume();
      res.writeHead(fault.status, {
        'content-type': 'application/json',
        ...(fault.retryAfterSeconds ? { 'retry-after': String(fault.retryAfterSeconds) } : {}),
        ...(fault.redirectTo ? { location: new URL(path.slice(1), fault.redirectTo).href } : {}),
        ...fault.headers,
      });
      res.end(JSON.stringify({ error: `injected ${fault.status}` }));
      return;
    }
    const pass = () => {
      const up = http.request({ host: target.hostname, port: target.port, method: req.method, path, headers: req.headers }, (answer) => {
        log.push({ at: Date.now(), arrived, method: req.method ?? '', path, status: answer.statusCode ?? 0, authorization: !!req.headers.authorization });
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    if (latencyMs > 0) setTimeout(pass, latencyMs);
    else pass();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    log,
    addFault: (f) => faults.push({ ...f }),
    setLatency: (ms) => {
      latencyMs = ms;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
