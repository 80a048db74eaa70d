/**
 * STS and Service Quotas are asked once, before a run (or plan, warm, harden) does anything:
 * one that accepts the connection and never answers is given up on within a short deadline
 * (a minute, not the ten an upload may take), and what is said names the host that did not
 * answer, so the operator knows which endpoint or proxy to look at.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { callerIdentity } from '../../src/targets/domain.js';
import { readAccountQuotas } from '../../src/targets/quotas.js';

let silent: http.Server;
let host: string;
const held: http.ServerResponse[] = [];

beforeAll(async () => {
  silent = http.createServer((_req, res) => void held.push(res));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const res of held) res.destroy();
  await new Promise<void>((r) => silent.close(() => r()));
});

const env = () => ({ AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'not-a-real-secret', AWS_ENDPOINT_URL_STS: `http://${host}`, AWS_ENDPOINT_URL_SERVICE_QUOTAS: `http://${host}` });

it('STS silent: the principal is unknown, and the error names the host that did not answer and the deadline', async () => {
  const who = await callerIdentity('us-east-1', env(), undefined, undefined, 300);
  expect(who.arn).toBeUndefined();
  expect(who.error).toContain(host);
  expect(who.error).toMatch(/did not answer within 0\.3 s/);
});

it('Service Quotas silent: the defaults apply, and the error names the host that did not answer and the deadline', async () => {
  const q = await readAccountQuotas('us-east-1', env(), undefined, undefined, 300);
  expect(q.rates).toEqual({});
  expect(q.error).toContain(host);
  expect(q.error).toMatch(/did not answer within 0\.3 s/);
});

it('a stop is not called silence', async () => {
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 100);
  const who = await callerIdentity('us-east-1', env(), undefined, stop.signal, 60_000);
  expect(who.error).not.toMatch(/did not answer/);
});
