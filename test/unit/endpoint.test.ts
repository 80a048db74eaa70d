/**
 * targets/endpoint: one repository-endpoint request, as NpmTarget.send made it
 * and every format now shares. A recording HTTP server on 127.0.0.1 answers
 * what each case needs; the CodeArtifact session (token cache, buckets) is a
 * recording fake, so each case asserts what was sent, which token was dropped
 * and what the buckets were told.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MigrateError } from '../../src/errors.js';
import { authorization, excerpt, RepositoryEndpoint, type EndpointSession } from '../../src/targets/endpoint.js';
import { NetworkError, ResponseLimitError } from '../../src/targets/http.js';
import { NpmTarget } from '../../src/targets/npm.js';
import type { CodeArtifact } from '../../src/targets/codeartifact.js';
import type { BucketName } from '../../src/types.js';
import { failure } from '../support/thrown.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The whole body arrived (false: the client cut it off). */
  complete: boolean;
}

let server: Server;
let base: string;
let seen: Seen[] = [];
/** How the server answers the n-th request (0-based); it may also leave `res` hanging or destroy the socket. */
let answer: (seen: Seen, n: number, res: ServerResponse) => void = (_s, _n, res) => res.end('ok');
const timers = new Set<NodeJS.Timeout>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    const entry: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.alloc(0), complete: false };
    seen.push(entry);
    const n = seen.length - 1;
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => (entry.body = Buffer.concat(chunks)));
    req.on('end', () => {
      entry.body = Buffer.concat(chunks);
      entry.complete = true;
      answer(entry, n, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

afterEach(() => {
  for (const t of timers) clearInterval(t);
  timers.clear();
  seen = [];
  answer = (_s, _n, res) => res.end('ok');
});

/** The CodeArtifact side: a token cache that hands out tok-1, tok-2, … and buckets that record what they are told. */
class FakeSession implements EndpointSession {
  issued = 0;
  current: string | undefined;
  invalidated: string[] = [];
  events: string[] = [];
  readonly limiter = {
    take: async (names: readonly BucketName[], signal?: AbortSignal): Promise<void> => {
      this.events.push(`take ${names.join('+')}${signal ? ' (signal)' : ''}`);
    },
    throttled: (names: readonly BucketName[]): void => void this.events.push(`throttled ${names.join('+')}`),
    succeeded: (names: readonly BucketName[]): void => void this.events.push(`succeeded ${names.join('+')}`),
    answered: (): void => void this.answers++,
    silent: (): void => void this.events.push('silent'),
    unreachable: (): void => void this.events.push('unreachable'),
  };
  /** Answers heard (any status): what tells a stuck peer from a failing one. */
  answers = 0;
  idleTimeoutMs?: number;
  abortSignal?: AbortSignal;
  async authToken(): Promise<string> {
    return (this.current ??= `tok-${++this.issued}`);
  }
  invalidateToken(token: string): void {
    this.invalidated.push(token);
    if (this.current === token) this.current = undefined;
  }
}

const PUBLISH: readonly BucketName[] = ['publish', 'writes'];
const basicFor = (token: string) => `Basic ${Buffer.from(`aws:${token}`).toString('base64')}`;

function reply(res: ServerResponse, status: number, body = '', headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain', ...headers });
  res.end(body);
}

describe('authorization', () => {
  it('is Bearer <token> for npm and Basic aws:<token> for pip and twine', () => {
    expect(authorization('bearer', 'abc')).toBe('Bearer abc');
    expect(authorization('basic', 'abc')).toBe(`Basic ${Buffer.from('aws:abc').toString('base64')}`);
    expect(Buffer.from(authorization('basic', 'a:b').slice(6), 'base64').toString()).toBe('aws:a:b');
  });

  it('excerpt keeps 300 characters of a body, and says when it is empty', () => {
    expect(excerpt('  short \n')).toBe('short');
    expect(excerpt('x'.repeat(400))).toBe(`${'x'.repeat(300)}…`);
    expect(excerpt('')).toBe('(empty body)');
  });
});

describe('RepositoryEndpoint.send', () => {
  it('sends with the token in the chosen scheme, through the named buckets, and hands back any answer below 500', async () => {
    const session = new FakeSession();
    const npm = new RepositoryEndpoint(session, { auth: 'bearer', label: 'the npm endpoint' });
    const pypi = new RepositoryEndpoint(session, { auth: 'basic', label: 'the PyPI endpoint' });
    answer = (s, n, res) => reply(res, [200, 404, 409, 400][n] ?? 200, `answer ${n} to ${s.body.toString()}`);
    const statuses: number[] = [];
    statuses.push((await npm.send('publish', PUBLISH, 'a@1', { method: 'PUT', url: `${base}/a`, headers: { 'content-type': 'application/json' }, body: '{"x":1}' })).status);
    statuses.push((await pypi.send('reading', ['reads'], 'a@1', { method: 'GET', url: `${base}/simple/a/` })).status);
    statuses.push((await pypi.send('upload', PUBLISH, 'a@1', { method: 'POST', url: `${base}/`, body: 'form' })).status);
    const rejected = await pypi.send('upload', PUBLISH, 'a@1', { method: 'POST', url: `${base}/`, body: 'bad' });
    statuses.push(rejected.status);
    expect(statuses).toEqual([200, 404, 409, 400]);
    expect(rejected.body).toBe('answer 3 to bad');
    expect(seen.map((s) => [s.method, s.url, s.headers.authorization])).toEqual([
      ['PUT', '/a', 'Bearer tok-1'],
      ['GET', '/simple/a/', basicFor('tok-1')],
      ['POST', '/', basicFor('tok-1')],
      ['POST', '/', basicFor('tok-1')],
    ]);
    expect(seen[0]?.headers['content-type']).toBe('application/json');
    expect(seen[0]?.body.toString()).toBe('{"x":1}');
    expect(session.events).toEqual([
      'take publish+writes',
      'succeeded publish+writes',
      'take reads',
      'succeeded reads',
      'take publish+writes',
      'succeeded publish+writes',
      'take publish+writes',
      'succeeded publish+writes',
    ]);
    expect(session.invalidated).toEqual([]);
  });

  it('drops a token the endpoint refuses with 401 and sends once more with a fresh one, streaming the body anew', async () => {
    const session = new FakeSession();
    const ep = new RepositoryEndpoint(session, { auth: 'basic', label: 'the PyPI endpoint' });
    answer = (s, _n, res) => (s.headers.authorization === basicFor('tok-1') ? reply(res, 401, 'expired', { 'www-authenticate': 'Basic' }) : reply(res, 200, 'OK'));
    const payload = Buffer.alloc(300_000, 7);
    let made = 0;
    const res = await ep.send('upload', PUBLISH, 'a@1', {
      method: 'POST',
      url: `${base}/`,
      headers: { 'content-length': String(payload.length) },
      body: () => {
        made++;
        return Readable.from([payload.subarray(0, 1000), payload.subarray(1000)]);
      },
    });
    expect(res.status).toBe(200);
    expect(made).toBe(2);
    expect(seen.map((s) => [s.headers.authorization, s.complete, s.body.equals(payload)])).toEqual([
      [basicFor('tok-1'), true, true],
      [basicFor('tok-2'), true, true],
    ]);
    expect(session.invalidated).toEqual(['tok-1']);
    // the refused attempt took its slot too, and is no success
    expect(session.events).toEqual(['take publish+writes', 'take publish+writes', 'succeeded publish+writes']);
  });

  it('is ETARGETAUTH after a second 401 (two requests) or at once on 403 (one request), with the server message', async () => {
    const session = new FakeSession();
    const ep = new RepositoryEndpoint(session, { auth: 'bearer', label: 'the npm endpoint' });
    answer = (_s, _n, res) => reply(res, 401, 'no such token');
    const twice = await failure(ep.send('publish', PUBLISH, 'a@1', { method: 'PUT', url: `${base}/a`, body: 'x' }));
    expect([twice.code, twice.status, seen.length]).toEqual(['ETARGETAUTH', 401, 2]);
    expect(twice.message).toContain('no such token');
    expect(session.invalidated).toEqual(['tok-1']);

    seen = [];
    answer = (_s, _n, res) => reply(res, 403, 'Not authorized to perform: codeartifact:PublishPackageVersion');
    const forbidden = await failure(ep.send('publish', PUBLISH, 'a@1', { method: 'PUT', url: `${base}/a`, body: 'x' }));
    expect([forbidden.code, forbidden.status, seen.length]).toEqual(['ETARGETAUTH', 403, 1]);
    expect(forbidden.hint).toMatch(/PublishPackageVersion/);
    expect(session.invalidated).toEqual(['tok-1']);
    expect(session.events.filter((e) => e.startsWith('succeeded') || e.startsWith('throttled'))).toEqual([]);
  });

  it('is ETHROTTLED on 429 with the Retry-After asked for, and slows the buckets down', async () => {
    const session = new FakeSession();
    const ep = new RepositoryEndpoint(session, { auth: 'basic', label: 'the PyPI endpoint' });
    answer = (_s, n, res) => reply(res, 429, 'Rate exceeded', n === 0 ? { 'retry-after': '7' } : {});
    const e = await failure(ep.send('upload', PUBLISH, 'a@1', { method: 'POST', url: `${base}/`, body: 'x' }));
    expect([e.code, e.status, e.retryAfterMs]).toEqual(['ETHROTTLED', 429, 7000]);
    const bare = await failure(ep.send('upload', PUBLISH, 'a@1', { method: 'POST', url: `${base}/`, body: 'x' }));
    expect([bare.code, bare.retryAfterMs]).toEqual(['ETHROTTLED', undefined]);
    expect(seen).toHaveLength(2);
    expect(session.events).toEqual(['take publish+writes', 'throttled publish+writes', 'take publish+writes', 'throttled publish+writes']);
  });

  it('is ETARGET with the status on 5xx, sent once (retrying is the engine’s)', async () => {
    const session = new FakeSession();
    const ep = new RepositoryEndpoint(session, { auth: 'basic', label: 'the PyPI endpoint' });
    for (const status of [500, 502, 503]) {
      seen = [];
      answer = (_s, _n, res) => reply(res, status, 'InternalServerException');
      const e = await failure(ep.send('upload', PUBLISH, 'a@1', { method: 'POST', url: `${base}/`, body: 'x' }));
      expect([e.code, e.status, seen.length]).toEqual(['ETARGET', status, 1]);
    }
    // failing, but answering: not a stuck peer
    expect(session.answers).toBe(3);
    expect(session.events).not.toContain('silent');
  });

  it('an answer that never comes is cut off after the session idle timeout: ETARGET "outcome unknown", and the buckets hear it was silence', async () => {
    const session = new FakeSession();
    session.idleTimeoutMs = 300;
    const ep = new RepositoryEndpoint(session, { auth: 'basic', label: 'the PyPI endpoint' });
    answer = () => {}; // the request is read, and never answered
    const e = await failure(ep.send('upload', PUBLISH, 'a@1', { method: 'POST', url: `${base}/`, body: 'x' }));
    expect(e.code).toBe('ETARGET');
    expect(e.message).toContain('outcome unknown');
    expect((e.cause as NetworkError).silent).toBe(true);
    expect(session.events).toEqual(['take publish+writes', 'silent']);
    expect(session.answers).toBe(0);
  });

  it('is ETARGET "outcome unknown" when the connection drops before an answer', async () => {
    const session = new FakeSession();
    const ep = new RepositoryEndpoint(session, { auth: 'basic', label: 'the PyPI endpoint' });
    answer = (_s, _n, res) => res.socket?.destroy();
    const e = await failure(ep.send('upload', PUBLISH, 'a@1', { method: 'POST', url: `${base}/`, body: 'x' }));
    expect(e.code).toBe('ETARGET');
    expect(e.status).toBeUndefined();
    expect(e.cause).toBeInstanceOf(NetworkError);
    expect(e.message).toContain('outcome unknown');
    expect(seen).toHaveLength(1);
    // nothing came back: counted toward the breaker for a peer nobody answers at, not as silence
    expect(session.events).toEqual(['take publish+writes', 'unreachable']);
    expect(session.answers).toBe(0);
  });

  it('is ETARGET "outcome unknown" when the body fails mid-stream, and the server never gets a whole body', async () => {
    const session = new FakeSession();
    const ep = new RepositoryEndpoint(session, { auth: 'basic', label: 'the PyPI endpoint' });
    const broken = async function* () {
      yield Buffer.alloc(64 * 1024, 1);
      await new Promise((r) => setTimeout(r, 20));
      throw new Error('the disk went away');
    };
    const e = await failure(ep.send('upload', PUBLISH, 'a@1', { method: 'POST', url: `${base}/`, headers: { 'content-length': String(1 << 20) }, body: () => Readable.from(broken()) }));
    expect(e.code).toBe('ETARGET');
    expect(e.message).toContain('the disk went away');
    expect(e.message).toContain('outcome unknown');
    expect((e.cause as Error).message).toBe('the disk went away');
    // the server saw the request start but never its end
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.map((s) => s.complete)).toEqual([false]);
  });

  it('a body that cannot be produced is ELOCAL, and nothing is sent', async () => {
    const session = new FakeSession();
    const ep = new RepositoryEndpoint(session, { auth: 'basic', label: 'the PyPI endpoint' });
    const e = await failure(
      ep.send('upload', PUBLISH, 'a@1', {
        method: 'POST',
        url: `${base}/`,
        body: async () => {
          throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
        },
      }),
    );
    expect(e.code).toBe('ELOCAL');
    expect(seen).toHaveLength(0);
    // a MigrateError from the factory is the caller's own: passed through as it is
    const own = await failure(ep.send('upload', PUBLISH, 'a@1', { method: 'POST', url: `${base}/`, body: () => Promise.reject(new MigrateError('EBLOBMISSING', 'gone')) }));
    expect(own.code).toBe('EBLOBMISSING');
  });

  it('the stop: before sending is EINTERRUPTED with nothing sent; in flight is EINTERRUPTED, outcome unknown', async () => {
    const session = new FakeSession();
    const ep = new RepositoryEndpoint(session, { auth: 'basic', label: 'the PyPI endpoint' });
    const stopped = new AbortController();
    stopped.abort();
    const before = await failure(ep.send('upload', PUBLISH, 'a@1', { method: 'POST', url: `${base}/`, body: 'x', signal: stopped.signal }));
    expect(before.code).toBe('EINTERRUPTED');
    expect(before.message).toContain('before it was sent');
    expect(seen).toHaveLength(0);
    // the bucket wait is given the signal, so the stop cuts it short
    expect(session.events).toEqual(['take publish+writes (signal)']);

    const stop = new AbortController();
    answer = () => stop.abort(); // the request arrived; its answer never comes
    const during = await failure(ep.send('upload', PUBLISH, 'a@1', { method: 'POST', url: `${base}/`, body: 'x', signal: stop.signal }));
    expect(during.code).toBe('EINTERRUPTED');
    expect(during.message).toContain('outcome unknown');
    expect(seen).toHaveLength(1);
  });

  // Without a bound of the request's own, an answer is still bounded: these are the defaults.
  it('an answer announcing more than MAX_ENDPOINT_ANSWER_BYTES is cut off at once: ETARGET (worth another try), not read', async () => {
    const session = new FakeSession();
    session.idleTimeoutMs = 60_000; // silence is not what ends it
    const ep = new RepositoryEndpoint(session, { auth: 'bearer', label: 'the npm endpoint' });
    answer = (_s, _n, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(257 * 2 ** 20) });
      res.write('{"latest":"1.0.0"');
    };
    const e = await failure(ep.send('dist-tags', ['reads'], 'p', { method: 'GET', url: `${base}/-/package/p/dist-tags` }));
    expect(e.code).toBe('ETARGET');
    expect(e.cause).toBeInstanceOf(ResponseLimitError);
    expect(seen).toHaveLength(1);
  }, 15_000);

  it('an answer that trickles (never silent for the idle timeout) is cut off at the deadline the idle timeout gives: ETARGET, counted as silence', async () => {
    const session = new FakeSession();
    session.idleTimeoutMs = 500;
    const ep = new RepositoryEndpoint(session, { auth: 'bearer', label: 'the npm endpoint' });
    answer = (_s, _n, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"latest":"1.0.0"');
      const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(' ')), 100);
      timers.add(t);
    };
    const e = await failure(ep.send('dist-tags', ['reads'], 'p', { method: 'GET', url: `${base}/-/package/p/dist-tags` }));
    expect(e.code).toBe('ETARGET');
    expect(e.cause).toBeInstanceOf(ResponseLimitError);
    expect(session.events).toEqual(['take reads', 'silent']);
  }, 15_000);

  it('an upload not complete by its deadline (a link slower than the slowest we call working) says how to give it more time: target.idleTimeoutSeconds', async () => {
    const session = new FakeSession();
    session.idleTimeoutMs = 500;
    const ep = new RepositoryEndpoint(session, { auth: 'bearer', label: 'the npm endpoint' });
    answer = (_s, _n, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(' ')), 100);
      timers.add(t);
    };
    const e = await failure(ep.send('publish', PUBLISH, 'p@1.0.0', { method: 'PUT', url: `${base}/p`, body: '{"name":"p"}' }));
    expect(e.code).toBe('ETARGET');
    expect(e.message).toContain('outcome unknown');
    expect(e.hint).toMatch(/raise target\.idleTimeoutSeconds and rerun$/);
    expect(e.hint).toContain('(1 s here)');
  }, 15_000);

  it("the request's own bounds stay its own: past them is ETARGETREJECTED (a store's answer: the next warm looks again)", async () => {
    const session = new FakeSession();
    const ep = new RepositoryEndpoint(session, { auth: 'bearer', label: 'the npm endpoint' });
    answer = (_s, _n, res) => reply(res, 200, 'x'.repeat(100));
    const e = await failure(ep.send('packument', ['reads'], 'p', { method: 'GET', url: `${base}/p`, maxBytes: 10 }));
    expect(e.code).toBe('ETARGETREJECTED');
  });

  it("the session's stop cuts off a request that names no signal of its own (an npm dist-tags read): EINTERRUPTED", async () => {
    const session = new FakeSession();
    session.idleTimeoutMs = 60_000;
    const stop = new AbortController();
    session.abortSignal = stop.signal;
    const ca = Object.assign(session, { readOnly: false, endpoint: async () => `${base}/npm/r/` }) as unknown as CodeArtifact;
    answer = () => stop.abort(); // the request arrived; its answer never comes
    const e = await failure(new NpmTarget(ca, 'r').distTags('@acme/core'));
    expect(e.code).toBe('EINTERRUPTED');
    expect(seen.map((x) => x.url)).toEqual(['/npm/r/-/package/@acme%2Fcore/dist-tags']);
  }, 15_000);
});
