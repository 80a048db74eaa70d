/**
 * Behind a corporate proxy: with HTTP(S)_PROXY set, every connection the CLI
 * makes (packuments, tarball downloads, the CodeArtifact API through the AWS
 * SDK, the npm endpoint) goes through it; NO_PROXY exempts hosts.
 * The proxy is a small forwarding proxy on loopback that records what it carried.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../src/engine/events.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { historyOf, seedPackages } from './support/npm-fixtures.js';

interface Proxy {
  url: string;
  /** `METHOD host:port/path` of everything carried. */
  seen: string[];
  stop(): Promise<void>;
}

async function startProxy(): Promise<Proxy> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    const target = new URL(req.url ?? '');
    seen.push(`${req.method} ${target.host}${target.pathname}`);
    const upstream = http.request(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  // HTTPS targets tunnel through CONNECT
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const VERSIONS = historyOf(6);
let te: TestEnv;
let proxy: Proxy;

beforeAll(async () => {
  te = await startTestEnv();
  proxy = await startProxy();
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [
    { name: '@acme/proxied', versions: VERSIONS },
    { name: '@acme/direct', versions: VERSIONS },
  ]);
});

afterAll(async () => {
  await proxy?.stop();
  await te?.stop();
});

const host = (url: string) => new URL(url).host;

describe('HTTP(S)_PROXY', () => {
  it('carries every connection of a run: registry, tarballs, CodeArtifact API and npm endpoint', async () => {
    const job = te.writeJob({ name: 'proxied', privateNpm: { packages: ['@acme/proxied'] }, github: false });
    const r = await te.cli(['run', job, '--json'], { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, NO_PROXY: '', no_proxy: '' });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as RunSummary).states).toEqual({ verified: VERSIONS.length });
    const registry = host(te.sandbox.privateNpm.url);
    const target = host(te.sandbox.descriptor.codeartifact.endpoint);
    const carried = (prefix: string) => proxy.seen.filter((s) => s.startsWith(prefix));
    // the packument and every tarball
    expect(proxy.seen.filter((s) => s.toLowerCase() === `get ${registry}/@acme%2fproxied`).length).toBeGreaterThan(0);
    expect(carried(`GET ${registry}/@acme/proxied/-/`)).toHaveLength(VERSIONS.length);
    // the AWS SDK's calls and the npm publishes
    expect(carried(`POST ${target}/v1/authorization-token`).length).toBeGreaterThan(0);
    expect(carried(`POST ${target}/v1/package/version/assets`).length).toBeGreaterThan(0);
    expect(proxy.seen.filter((s) => s.startsWith(`PUT ${target}/`) && s.toLowerCase().endsWith('/@acme%2fproxied'))).toHaveLength(VERSIONS.length);
  });

  it('NO_PROXY exempts the hosts it names', async () => {
    const before = proxy.seen.length;
    const job = te.writeJob({ name: 'direct', privateNpm: { packages: ['@acme/direct'] }, github: false });
    const r = await te.cli(['run', job, '--json'], { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as RunSummary).states).toEqual({ verified: VERSIONS.length });
    expect(proxy.seen.slice(before)).toEqual([]);
  });

  it('a proxy that refuses its password (407): EPROXYAUTH at once (exit 2), nothing retried, the password never shown', async () => {
    let asked = 0;
    const refusing = http.createServer((req, res) => {
      asked++;
      req.resume();
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="corp"', 'content-type': 'text/plain' }).end('proxy authentication required\n');
    });
    refusing.on('connect', (_req, socket: net.Socket) => {
      asked++;
      socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\n\r\n');
    });
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    try {
      const password = ['wrong', 'proxy', 'pw', String(Date.now())].join('-');
      const url = `http://corp:${password}@127.0.0.1:${(refusing.address() as AddressInfo).port}`;
      const job = te.writeJob({ name: 'proxy-refused', privateNpm: { packages: ['@acme/proxied', '@acme/direct'] }, github: false });
      const r = await te.cli(['run', job, '--json'], { HTTP_PROXY: url, HTTPS_PROXY: url, NO_PROXY: '', no_proxy: '' });
      expect(r.code, r.stderr).toBe(2);
      expect((JSON.parse(r.stdout) as { error: { code: string; hint: string } }).error).toMatchObject({ code: 'EPROXYAUTH', hint: expect.stringContaining('HTTPS_PROXY') });
      expect(`${r.stdout}${r.stderr}`).not.toContain(password);
      // the first refusal stops the run: not eight retries for each package and version
      expect(asked).toBeLessThanOrEqual(4);
    } finally {
      refusing.closeAllConnections();
      await new Promise<void>((r) => refusing.close(() => r()));
    }
  });

  it('a rerun stopped by an error while listing (EPROXYAUTH): `report` is NO-GO (exit 1, ERUNUNFINISHED), never GO on the first run\'s rows while the version the source added since was never listed', async () => {
    const { privateNpm } = te.sandbox;
    await seedPackages(privateNpm.url, privateNpm.token, [{ name: '@acme/stopped', versions: ['1.0.0'] }]);
    // the source reached by name (localhost), the target by address (127.0.0.1, exempt from the proxy)
    const source = { id: 'private-npm', kind: 'npm-registry', url: privateNpm.url.replace('127.0.0.1', 'localhost'), tokenEnv: te.sandbox.descriptor.privateNpm.tokenEnv, packages: ['@acme/stopped'] };
    const job = te.writeJob({ name: 'stopped', sources: [source] });
    expect((await te.cli(['run', job, '--json'])).code).toBe(0);
    await seedPackages(privateNpm.url, privateNpm.token, [{ name: '@acme/stopped', versions: ['1.0.1'] }]);
    const refusing = http.createServer((req, res) => (req.resume(), res.writeHead(407, { 'proxy-authenticate': 'Basic realm="corp"' }).end()));
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`;
      const r = await te.cli(['run', job, '--json'], { HTTP_PROXY: url, HTTPS_PROXY: url, NO_PROXY: '127.0.0.1', no_proxy: '127.0.0.1' });
      expect(r.code, r.stderr).toBe(2);
      expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('EPROXYAUTH');
    } finally {
      refusing.closeAllConnections();
      await new Promise<void>((r) => refusing.close(() => r()));
    }
    const state = te.openState('stopped');
    try {
      expect(state.lastRun()!.outcome).toBe('stopped-by-error');
      // 1.0.1 was never listed: the rows say nothing of it
      expect(state.items().map((i) => [i.version, i.state])).toEqual([['1.0.0', 'verified']]);
    } finally {
      state.close();
    }
    const report = await te.cli(['report', job, '--json', '--out', join(te.dir, 'reports-stopped')]);
    const body = JSON.parse(report.stdout) as { verdict: { status: string }; findings: { code: string; title: string }[] };
    expect(body.findings).toContainEqual(expect.objectContaining({ code: 'ERUNUNFINISHED', title: expect.stringContaining('stopped by an error') }));
    expect(body.verdict.status).toBe('no-go');
    expect(report.code).toBe(1);
  });
});
