/**
 * The public registries the stand-in's store repositories fetch through their external
 * connections, so tests never reach registry.npmjs.org or pypi.org:
 * - `public:npmjs`: a Verdaccio (no uplinks) holding the "public" npm packages, behind a small
 *   reverse proxy that records every request and can refuse a package (`block`: 404 as npmjs answers
 *   for a package it withdrew) or serve other bytes for one tarball (`tamper`: the packument keeps
 *   the original integrity, so a lockfile's no longer matches);
 * - `public:pypi`: the PyPI stand-in of pypi-public.ts.
 * `externalConnections` is what the stand-in's StandInOptions.externalConnections takes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { escapeName, hashTarball, makeTarball, publishVersion, type TarballOptions } from './npm-fixtures.js';
import { startPublicPypi, type PublicPypi, type PublicRequest } from './pypi-public.js';
import { startRegistry, type RunningRegistry } from './verdaccio.js';

export interface PublishedTarball {
  tarball: Buffer;
  /** `sha512-…`, what a lockfile records */
  integrity: string;
  shasum: string;
}

export interface PublicNpm {
  /** what `public:npmjs` fetches from: the proxy in front of Verdaccio, with the trailing slash */
  url: string;
  registry: RunningRegistry;
  /** every request that reached the public registry, in order */
  log: PublicRequest[];
  /** Publish a version (a real `npm pack`-style tarball) to the public registry. */
  publish(name: string, version: string, opts?: TarballOptions & { tag?: string }): Promise<PublishedTarball>;
  /** The registry refuses the package: 404 for its packument and tarballs. */
  block(name: string): void;
  unblock(name: string): void;
  /** Serve other bytes for one tarball (the packument is unchanged). Returns the bytes served. */
  tamper(name: string, version: string, bytes?: Buffer): Buffer;
}

export interface PublicRegistries {
  npm: PublicNpm;
  pypi: PublicPypi;
  /** for StandInOptions.externalConnections */
  externalConnections: { 'public:npmjs': string; 'public:pypi': string };
  stop(): Promise<void>;
}

/** The npm package a registry path is about, and the tarball file when it is one (`@s/n/-/n-1.0.0.tgz`). */
function npmPathTarget(rawPath: string): { name: string; file?: string } | undefined {
  const p = new URL(rawPath, 'http://127.0.0.1').pathname.slice(1);
  let decoded: string;
  try {
    decoded = decodeURIComponent(p);
  } catch {
    return undefined;
  }
  const m = /^((?:@[^/]+\/)?[^/@][^/]*)(?:\/-\/([^/]+\.tgz))?$/.exec(decoded);
  if (m?.[1] === undefined) return undefined;
  return { name: m[1], ...(m[2] === undefined ? {} : { file: m[2] }) };
}

async function startNpmProxy(registry: RunningRegistry): Promise<PublicNpm & { stop(): Promise<void> }> {
  const target = new URL(registry.url);
  const blocked = new Set<string>();
  const tampered = new Map<string, Buffer>();
  const log: PublicRequest[] = [];
  const server = http.createServer((req, res) => {
    const reqPath = req.url ?? '/';
    const subject = req.method === 'GET' ? npmPathTarget(reqPath) : undefined;
    const answer = (status: number, body: Buffer, contentType: string): void => {
      req.resume();
      log.push({ at: Date.now(), method: req.method ?? '', path: reqPath, status });
      res.writeHead(status, { 'content-type': contentType, 'content-length': String(body.length) });
      res.end(body);
    };
    if (subject !== undefined && blocked.has(subject.name)) {
      answer(404, Buffer.from(JSON.stringify({ error: 'Not found' })), 'application/json');
      return;
    }
    const replacement = subject?.file === undefined ? undefined : tampered.get(`${subject.name}\u0000${subject.file}`);
    if (replacement !== undefined) {
      answer(200, replacement, 'application/octet-stream');
      return;
    }
    // Host passes through: Verdaccio's tarball URLs then point back at this proxy.
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: reqPath, headers: req.headers }, (upstream) => {
      log.push({ at: Date.now(), method: req.method ?? '', path: reqPath, status: upstream.statusCode ?? 0 });
      res.writeHead(upstream.statusCode ?? 502, upstream.headers);
      upstream.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const tarballFile = (name: string, version: string): string => `${name.split('/').pop() ?? name}-${version}.tgz`;
  return {
    url,
    registry,
    log,
    async publish(name, version, opts = {}) {
      const { tag, ...tarballOptions } = opts;
      const tarball = await makeTarball(name, version, tarballOptions);
      await publishVersion(url, registry.token, name, version, tarball, tag);
      return { tarball, ...hashTarball(tarball) };
    },
    block: (name) => void blocked.add(name),
    unblock: (name) => void blocked.delete(name),
    tamper(name, version, bytes) {
      const other = bytes ?? Buffer.from(`tampered ${name}@${version}\n`);
      tampered.set(`${name}\u0000${tarballFile(name, version)}`, other);
      return other;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Start both public registries; `dir` holds Verdaccio's storage. */
export async function startPublicRegistries(opts: { dir: string }): Promise<PublicRegistries> {
  const stops: (() => Promise<void>)[] = [];
  try {
    const registry = await startRegistry({ dir: path.join(opts.dir, 'public-npm'), requireAuthForReads: false });
    stops.push(() => registry.stop());
    const npm = await startNpmProxy(registry);
    stops.push(() => npm.stop());
    const pypi = await startPublicPypi();
    stops.push(() => pypi.stop());
    const { stop: _stopProxy, ...npmApi } = npm;
    return {
      npm: npmApi,
      pypi,
      externalConnections: { 'public:npmjs': npm.url, 'public:pypi': pypi.url },
      stop: async () => {
        await Promise.allSettled(stops.reverse().map((s) => s()));
      },
    };
  } catch (err) {
    await Promise.allSettled(stops.reverse().map((s) => s()));
    throw err;
  }
}

/** `@scope/name` as it appears in registry paths, for matching a PublicNpm log entry. */
export const npmRegistryPath = (name: string): string => `/${escapeName(name)}`;
