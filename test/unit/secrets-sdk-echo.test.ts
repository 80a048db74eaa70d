/**
 * AWS credentials the SDK found by itself (a profile, SSO, an instance role: nothing in
 * AWS_SESSION_TOKEN to register) must not reach a sink either. AWS answers a request whose
 * signature it does not accept with a message that spells out the canonical request it
 * expected, signed headers and their values included, so the x-amz-security-token the
 * request carried comes back in the message the tool stores and prints.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Limiter } from '../../src/engine/limiter.js';
import { sdkRequestHandler } from '../../src/net/agents.js';
import { forOutput, forStorage } from '../../src/redact.js';
import { CodeArtifact } from '../../src/targets/codeartifact.js';
import { failure } from '../support/thrown.js';

const sessionToken = [randomBytes(16).toString('hex'), 'PLANTED', 'profileSession'].join('-');
let server: Server;
let url = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const canonical = ['POST', req.url, '', `host:${req.headers.host}`, `x-amz-date:${req.headers['x-amz-date']}`, `x-amz-security-token:${req.headers['x-amz-security-token']}`].join('\n');
      const message = `The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'${canonical}'\n`;
      if (req.url?.startsWith('/sts')) {
        // STS (the query protocol) answers in XML
        res.writeHead(403, { 'content-type': 'text/xml' });
        res.end(`<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>${message}</Message></Error><RequestId>r</RequestId></ErrorResponse>`);
        return;
      }
      res.writeHead(403, { 'content-type': 'application/json', 'x-amzn-errortype': 'InvalidSignatureException' });
      res.end(JSON.stringify({ message }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('a session token the SDK resolved itself, echoed by the service', () => {
  it('reaches no sink', async () => {
    const client = new CodeartifactClient({
      region: 'us-east-1',
      endpoint: url,
      maxAttempts: 1,
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {} },
      // as a profile, SSO or an instance role hands them over: not from the environment
      credentials: async () => ({ accessKeyId: 'ASIAEXAMPLEEXAMPLE00', secretAccessKey: `${randomBytes(20).toString('hex')}-PLANTED-secret`, sessionToken }),
      requestHandler: sdkRequestHandler('us-east-1', { AWS_ENDPOINT_URL_CODEARTIFACT: url }, 10_000),
    });
    const ca = new CodeArtifact({ region: 'us-east-1', domain: 'd', domainOwner: '111122223333', tokenDurationSeconds: 900, idleTimeoutSeconds: 10 }, new Limiter({}), client);
    const e = await failure(ca.listVersions({ format: 'npm', repository: 'r', package: 'p' }));
    expect(e.code).toBe('ETARGETCREDENTIALS');
    expect(e.message).toMatch(/Canonical String/);
    for (const text of [forStorage(e.message), forOutput(JSON.stringify({ message: e.message })), forOutput(e.message)]) {
      expect(text.includes(sessionToken), text).toBe(false);
      expect(text.includes(sessionToken.slice(0, 16)), text).toBe(false);
    }
  });
});

describe('the same, from STS (the plan\'s and harden\'s "AWS principal" check)', () => {
  it('reaches no sink', async () => {
    const { STSClient } = await import('@aws-sdk/client-sts');
    const { callerIdentity } = await import('../../src/targets/domain.js');
    const stsToken = [randomBytes(16).toString('hex'), 'PLANTED', 'stsSession'].join('-');
    const sts = new STSClient({
      region: 'us-east-1',
      endpoint: `${url}/sts`,
      maxAttempts: 1,
      credentials: async () => ({ accessKeyId: 'ASIAEXAMPLEEXAMPLE01', secretAccessKey: `${randomBytes(20).toString('hex')}-PLANTED-secret`, sessionToken: stsToken }),
      requestHandler: sdkRequestHandler('us-east-1', {}, 10_000),
    });
    const who = await callerIdentity('us-east-1', {}, sts);
    expect(who.error).toMatch(/Canonical String/);
    for (const text of [forStorage(who.error!), forOutput(JSON.stringify(who))]) {
      expect(text.includes(stsToken), text).toBe(false);
      expect(text.includes(stsToken.slice(0, 16)), text).toBe(false);
    }
  });
});

describe('the same, from Service Quotas (the rates a run reads)', () => {
  it('reaches no sink', async () => {
    const { ServiceQuotasClient } = await import('@aws-sdk/client-service-quotas');
    const { readAccountQuotas } = await import('../../src/targets/quotas.js');
    const sqToken = [randomBytes(16).toString('hex'), 'PLANTED', 'quotasSession'].join('-');
    const sq = new ServiceQuotasClient({
      region: 'us-east-1',
      endpoint: url,
      maxAttempts: 1,
      credentials: async () => ({ accessKeyId: 'ASIAEXAMPLEEXAMPLE02', secretAccessKey: `${randomBytes(20).toString('hex')}-PLANTED-secret`, sessionToken: sqToken }),
      requestHandler: sdkRequestHandler('us-east-1', {}, 10_000),
    });
    const q = await readAccountQuotas('us-east-1', {}, sq);
    expect(q.error).toMatch(/Canonical String/);
    for (const text of [forStorage(q.error!), forOutput(JSON.stringify(q))]) {
      expect(text.includes(sqToken), text).toBe(false);
      expect(text.includes(sqToken.slice(0, 16)), text).toBe(false);
    }
  });
});
