/**
 * A hostile npm registry for tests: a plain-http server on 127.0.0.1 whose
 * packuments, search answers and tarballs are whatever the test says, including
 * what no honest registry sends: lying hashes, endless or stalled bodies,
 * decompression bombs, tarballs on other hosts, escape sequences in names,
 * searches that ignore paging. Every request is logged with whether it carried
 * credentials, so tests can assert what was (not) asked and where tokens went.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface HostileVersion {
  version: string;
  /** Tarball bytes, served at the default tarball URL. */
  tarball?: Buffer;
  /** Override dist fields (integrity, shasum, tarball URL); `undefined` values are dropped. */
  dist?: Record<string, unknown>;
  deprecated?: string;
  time?: string;
}

export interface HostileRegistry {
  url: string;
  /** Every request: path (with query), method, whether an Authorization header came. */
  log: { method: string; path: string; authorization?: string }[];
  /** Serve a package with these versions (replaces it); dist-tags default to latest = last version. */
  setPackage(name: string, versions: HostileVersion[], distTags?: Record<string, string>): void;
  removeVersion(name: string, version: string): void;
  /** Answer a path (exact, without query) with a handler of the test's own. */
  route(path: string, handler: Handler): void;
  /** Answer /-/v1/search with this handler. */
  search(handler: Handler): void;
  tarballUrl(name: string, version: string): string;
  requests(pathPart: string): number;
  stop(): Promise<void>;
}

export const sri512 = (b: Buffer) => `sha512-${createHash('sha512').update(b).digest('base64')}`;
export const sha1hex = (b: Buffer) => createHash('sha1').update(b).digest('hex');

const escapeName = (name: string) => (name.startsWith('@') ? `@${encodeURIComponent(name.slice(1))}` : encodeURIComponent(name));

export async function startHostileRegistry(): Promise<HostileRegistry> {
  const packages = new Map<string, { versions: HostileVersion[]; distTags?: Record<string, string> }>();
  const packumentPaths = new Map<string, string>();
  const tarballPaths = new Map<string, string>();
  const routes = new Map<string, Handler>();
  let searchHandler: Handler | undefined;
  const log: HostileRegistry['log'] = [];
  const sockets = new Set<import('node:net').Socket>();
  let base = '';

  const tarballPath = (name: string, version: string) => `/${escapeName(name)}/-/${name.split('/').pop()}-${version}.tgz`;

  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    log.push({ method: req.method ?? '', path, authorization: req.headers.authorization });
    const bare = path.split('?')[0]!;
    const custom = routes.get(bare);
    if (custom) return custom(req, res);
    if (bare === '/-/v1/search') {
      if (searchHandler) return searchHandler(req, res);
      return json(res, 200, { objects: [], total: 0 });
    }
    // by path, not a scan: the benchmark serves tens of thousands of packages from here
    const name = packumentPaths.get(bare) ?? tarballPaths.get(bare);
    const pkg = name === undefined ? undefined : packages.get(name);
    if (name !== undefined && pkg) {
      if (bare === `/${escapeName(name)}`) {
        const versions: Record<string, unknown> = {};
        const time: Record<string, string> = {};
        pkg.versions.forEach((v, i) => {
          const dist: Record<string, unknown> = v.tarball ? { integrity: sri512(v.tarball), shasum: sha1hex(v.tarball), tarball: `${base}${tarballPath(name, v.version).slice(1)}` } : {};
          for (const [k, val] of Object.entries(v.dist ?? {})) {
            if (val === undefined) delete dist[k];
            else dist[k] = val;
          }
          versions[v.version] = { name, version: v.version, dist, ...(v.deprecated ? { deprecated: v.deprecated } : {}) };
          time[v.version] = v.time ?? new Date(Date.UTC(2020, 0, 1) + i * 86_400_000).toISOString();
        });
        const last = pkg.versions.at(-1)?.version;
        return json(res, 200, { name, 'dist-tags': pkg.distTags ?? (last ? { latest: last } : {}), versions, time });
      }
      for (const v of pkg.versions) {
        if (bare === tarballPath(name, v.version) && v.tarball) {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': v.tarball.length });
          return res.end(v.tarball);
        }
      }
    }
    json(res, 404, { error: 'not found' });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  return {
    url: base,
    log,
    setPackage: (name, versions, distTags) => {
      packages.set(name, { versions, distTags });
      packumentPaths.set(`/${escapeName(name)}`, name);
      for (const v of versions) tarballPaths.set(tarballPath(name, v.version), name);
    },
    removeVersion: (name, version) => {
      const p = packages.get(name);
      if (p) p.versions = p.versions.filter((v) => v.version !== version);
      if (p?.distTags) for (const [t, v] of Object.entries(p.distTags)) if (v === version) delete p.distTags[t];
    },
    route: (path, handler) => void routes.set(path, handler),
    search: (handler) => void (searchHandler = handler),
    tarballUrl: (name, version) => `${base}${tarballPath(name, version).slice(1)}`,
    requests: (part) => log.filter((e) => e.path.includes(part)).length,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A body that never ends: 64 KiB chunks as fast as the client reads, until it hangs up. */
export function endless(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const pump = () => {
    while (res.write(chunk)) {
      if (res.destroyed) return;
    }
    res.once('drain', pump);
  };
  res.on('close', () => res.removeAllListeners('drain'));
  pump();
}

/** Headers and a first few bytes, then nothing, ever (until the client gives up). */
export function stall(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 10_000_000 });
  res.write(Buffer.alloc(1024, 0x62));
}
