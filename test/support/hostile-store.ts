/**
 * A broken or hostile CodeArtifact in front of the stand-in, for the warm: a
 * reverse proxy the tool is pointed at (AWS_ENDPOINT_URL_CODEARTIFACT) that
 * passes every request on, writes its own origin into GetRepositoryEndpoint's
 * answer (so the repository endpoints are reached through it too), and lets a
 * test answer chosen paths itself: endless or stalled bodies, lying
 * packuments, links to other hosts. Every request is logged with whether it
 * carried credentials. Listens on 127.0.0.1 only; stop() ends every socket.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type StoreHandler = (req: http.IncomingMessage, res: http.ServerResponse, upstream: () => Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>) => void | Promise<void>;

export interface HostileStore {
  url: string;
  log: { method: string; path: string; authorization: boolean }[];
  /** Answer requests whose path (with query) matches with this handler; `upstream()` asks the stand-in. Returns the route's removal. */
  route(path: RegExp, handler: StoreHandler): () => void;
  stop(): Promise<void>;
}

export async function startHostileStore(standIn: string): Promise<HostileStore> {
  const target = new URL(standIn);
  const routes: { path: RegExp; handler: StoreHandler }[] = [];
  const log: HostileStore['log'] = [];
  const sockets = new Set<Socket>();
  let self = '';

  const forward = (req: http.IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }));
        answer.on('error', reject);
      });
      up.on('error', reject);
      up.end(body);
    });

  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    log.push({ method: req.method ?? '', path, authorization: !!req.headers.authorization });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const upstream = () => forward(req, body);
      const custom = routes.find((r) => r.path.test(path));
      if (custom) {
        void Promise.resolve(custom.handler(req, res, upstream)).catch(() => res.destroy());
        return;
      }
      upstream().then(
        (a) => {
          let out = a.body;
          // the repository endpoints are this proxy's too
          if (path.startsWith('/v1/repository/endpoint')) out = Buffer.from(out.toString('utf8').split(standIn.replace(/\/$/, '')).join(self));
          const headers = { ...a.headers, 'content-length': String(out.length) };
          delete headers['transfer-encoding'];
          res.writeHead(a.status, headers);
          res.end(out);
        },
        () => res.destroy(),
      );
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  self = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: self,
    log,
    route: (path, handler) => {
      const r = { path, handler };
      routes.push(r);
      return () => void routes.splice(routes.indexOf(r), 1);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
