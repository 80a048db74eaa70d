/**
 * The proxy's password (HTTPS_PROXY / HTTP_PROXY) in a form that is no URL: the
 * Proxy-Authorization header (base64 of user:password, percent-decoded) a proxy's own error
 * page may repeat. Every connection goes through the proxy, and an error body of the
 * CodeArtifact endpoints is quoted in the error message, so the page must leave nothing of
 * the password in what is stored or printed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../support/thrown.js';

/** With characters a proxy URL must percent-encode (`@`, `:`, `/`), as README asks. */
const password = `${randomBytes(8).toString('hex')}@PLANTED:proxy/pw`;
let proxy: Server;

beforeAll(async () => {
  proxy = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy error: upstream unreachable. request headers: proxy-authorization: ${req.headers['proxy-authorization']}\n`);
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  // read by @npmcli/agent when it is loaded: set before the modules are imported below
  for (const k of ['NO_PROXY', 'no_proxy', 'HTTPS_PROXY', 'https_proxy', 'http_proxy']) delete process.env[k];
  process.env.HTTP_PROXY = `http://corp-user:${encodeURIComponent(password)}@127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(async () => {
  delete process.env.HTTP_PROXY;
  proxy.closeAllConnections();
  await new Promise<void>((r) => proxy.close(() => r()));
});

describe('a proxy that echoes Proxy-Authorization in its error page', () => {
  it('leaves no form of its password in a stored or printed message', async () => {
    const { RepositoryEndpoint } = await import('../../src/targets/endpoint.js');
    const { forOutput, forStorage } = await import('../../src/redact.js');
    const session = {
      limiter: { take: async () => {}, throttled: () => {}, succeeded: () => {}, answered: () => {}, silent: () => {}, unreachable: () => {} },
      authToken: async () => 'tok-1',
      invalidateToken: () => {},
    };
    const ep = new RepositoryEndpoint(session as never, { auth: 'bearer', label: 'the npm endpoint' });
    const e = await failure(ep.send('publish', ['publish', 'writes'], 'a@1', { method: 'PUT', url: 'http://codeartifact.example.invalid/npm/r/a', body: 'x' }));
    expect(e.message).toMatch(/HTTP 502.*proxy-authorization/);
    const forms = [password, encodeURIComponent(password), Buffer.from(`corp-user:${password}`).toString('base64'), Buffer.from(password).toString('base64')];
    for (const text of [forStorage(e.message), forOutput(JSON.stringify({ message: e.message }))]) {
      expect(forms.filter((f) => text.includes(f)), text).toEqual([]);
    }
  });
});
