/**
 * Secrets a peer echoes back: a CodeArtifact repository endpoint (or a proxy, a WAF in front
 * of it) whose error page repeats the request's headers. The token is registered as the run
 * registers it (CodeArtifact.fetchToken); what the error message holds, once it is on its way
 * to a sink (forStorage, forOutput), must hold no form of it: not raw, not its base64, not the
 * base64 of the `aws:<token>` pip and twine send, not a piece of it cut off by the excerpt.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clearSecrets, forOutput, forStorage, registerSecret } from '../../src/redact.js';
import { RepositoryEndpoint, type EndpointSession } from '../../src/targets/endpoint.js';
import type { CodeArtifact } from '../../src/targets/codeartifact.js';
import { NpmTarget } from '../../src/targets/npm.js';
import { failure } from '../support/thrown.js';

/** Random first: a piece of it cut off at its start is recognisable too. */
const token = [randomBytes(12).toString('hex'), 'PLANTED', 'caToken'].join('-');
let server: Server;
let base: string;
/** What the server prefixes before echoing the request's Authorization header (moves the token across the excerpt's cut). */
let padding = '';
/** The status the server answers with: a 5xx goes through the endpoint's own message, a 4xx to the format's. */
let status = 502;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(`${padding}Bad gateway. Your request headers: authorization: ${req.headers.authorization}\n`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  clearSecrets();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const session: EndpointSession = {
  limiter: { take: async () => {}, throttled: () => {}, succeeded: () => {}, answered: () => {}, silent: () => {}, unreachable: () => {} },
  authToken: async () => token,
  invalidateToken: () => {},
} as unknown as EndpointSession;

function leaks(text: string): string[] {
  const forms = {
    raw: token,
    base64: Buffer.from(token).toString('base64'),
    basic: Buffer.from(`aws:${token}`).toString('base64'),
    // a piece of the token: what a cut in the middle of it leaves
    piece: token.slice(0, 12),
    basicPiece: Buffer.from(`aws:${token}`).toString('base64').slice(0, 16),
  };
  return Object.entries(forms)
    .filter(([, v]) => text.includes(v))
    .map(([k]) => k);
}

describe('an endpoint that echoes the Authorization header in its error body', () => {
  for (const auth of ['basic', 'bearer'] as const) {
    // 215 and 225: the excerpt's cut (300 characters) falls in the middle of the echoed credential
    for (const pad of [0, 215, 225]) {
      it(`${auth}, echoed after ${pad} characters: no form of the token reaches a sink`, async () => {
        // as CodeArtifact.fetchToken does with every token it gets
        registerSecret(token);
        padding = 'x'.repeat(pad);
        const ep = new RepositoryEndpoint(session, { auth, label: 'the PyPI endpoint' });
        const e = await failure(ep.send('upload', ['publish', 'writes'], 'a@1', { method: 'POST', url: `${base}/`, body: 'x' }));
        expect(e.message).toMatch(/HTTP 502/);
        expect(leaks(forStorage(e.message)), forStorage(e.message)).toEqual([]);
        expect(leaks(forOutput(JSON.stringify({ message: e.message }))), forOutput(e.message)).toEqual([]);
      });
    }
  }
});

describe('the npm endpoint refusing a request (4xx) with a body that echoes the Authorization header', () => {
  // the npm target words a 4xx itself (a refused publish, a dist-tag or packument read): its excerpt must be redacted before its cut too
  for (const pad of [0, 215, 225]) {
    it(`echoed after ${pad} characters: no piece of the token reaches a sink`, async () => {
      registerSecret(token);
      padding = 'x'.repeat(pad);
      status = 400;
      try {
        const npm = new NpmTarget({ ...session, endpoint: async () => `${base}/` } as unknown as CodeArtifact, 'npm-internal');
        const e = await failure(npm.distTags('a'));
        expect(e.message).toMatch(/HTTP 400/);
        expect(leaks(forStorage(e.message)), forStorage(e.message)).toEqual([]);
        expect(leaks(forOutput(JSON.stringify({ message: e.message }))), forOutput(e.message)).toEqual([]);
      } finally {
        status = 502;
      }
    });
  }
});
