/**
 * net/agents: the keep-alive agent every repository request and download uses.
 * node:http reads `agent.protocol` for every request; agent-base answers it, when
 * nobody told it, by capturing a stack trace and searching it for "https". At 100
 * publishes/s that was a measurable share of the run's CPU. The agent must know
 * its protocol, so a request made through it formats no stack at all.
 */
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentFor } from '../../src/net/agents.js';

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

/** How many stack traces were formatted while `fn` ran (V8 calls Error.prepareStackTrace once per formatted stack). */
async function stacksFormatted(fn: () => Promise<void>): Promise<number> {
  const original = Error.prepareStackTrace;
  let n = 0;
  Error.prepareStackTrace = (e, frames) => {
    n++;
    return original ? original(e, frames) : `${String(e)}\n${frames.map((f) => `    at ${String(f)}`).join('\n')}`;
  };
  try {
    await fn();
  } finally {
    Error.prepareStackTrace = original;
  }
  return n;
}

describe('agentFor', () => {
  it('knows the protocol of the URL it serves', () => {
    expect(agentFor('http://127.0.0.1:1/x').protocol).toBe('http:');
    expect(agentFor('https://127.0.0.1:1/x').protocol).toBe('https:');
  });

  it('a request through it formats no stack trace', async () => {
    const url = `${base}/pkg`;
    agentFor(url); // the first call may look once; what matters is every request after it
    const n = await stacksFormatted(async () => {
      for (let i = 0; i < 5; i++) {
        const body = await new Promise<string>((resolve, reject) => {
          get(url, { agent: agentFor(url) }, (res) => {
            let s = '';
            res.on('data', (c: Buffer) => (s += c.toString()));
            res.on('end', () => resolve(s));
          }).on('error', reject);
        });
        expect(body).toBe('ok');
      }
    });
    expect(n).toBe(0);
  });
});
