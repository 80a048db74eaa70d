/**
 * The way out of this host, recorded and refused: an HTTP(S) proxy on
 * 127.0.0.1 that answers 403 to everything and remembers what was asked
 * (`host:port` for CONNECT, the URL for plain HTTP). Set as HTTPS_PROXY (and
 * HTTP_PROXY) with NO_PROXY=127.0.0.1, it proves a client reached nothing
 * outside the local servers; a control request shows that it would have seen one.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RefusingProxy {
  url: string;
  /** Everything a client tried to reach through it, in order. */
  outbound: string[];
  /** Point this process's HTTPS_PROXY/HTTP_PROXY/NO_PROXY at the proxy until restore(). */
  install(opts?: { http?: boolean }): void;
  restore(): void;
  stop(): Promise<void>;
}

export async function startRefusingProxy(): Promise<RefusingProxy> {
  const outbound: string[] = [];
  const server = createServer((req, res) => {
    outbound.push(req.url ?? '');
    res.writeHead(403).end();
  });
  server.on('connect', (req, socket) => {
    outbound.push(req.url ?? '');
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const KEYS = ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY'] as const;
  let saved: Partial<Record<(typeof KEYS)[number], string | undefined>> | undefined;
  const proxy: RefusingProxy = {
    url,
    outbound,
    install(opts = {}) {
      saved ??= Object.fromEntries(KEYS.map((k) => [k, process.env[k]]));
      process.env.HTTPS_PROXY = url;
      if (opts.http) process.env.HTTP_PROXY = url;
      process.env.NO_PROXY = '127.0.0.1';
    },
    restore() {
      if (!saved) return;
      for (const k of KEYS) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
      saved = undefined;
    },
    async stop() {
      proxy.restore();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
  return proxy;
}
