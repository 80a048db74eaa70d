/**
 * targets/codeartifact: one CodeArtifact API call (CodeArtifact.call) against a server on
 * 127.0.0.1 that answers as a broken or hostile peer on the way would: an answer that never
 * ends, one that trickles, a listing that pages for ever, a service whose clock is an hour
 * ahead of ours. Each case asserts the error code and what the server was sent (how many
 * requests, whether the connection was cut); none measures time.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Limiter } from '../../src/engine/limiter.js';
import { sdkRequestHandler } from '../../src/net/agents.js';
import { CodeArtifact } from '../../src/targets/codeartifact.js';
import { Domain } from '../../src/targets/domain.js';
import { quotaNote, readAccountQuotas } from '../../src/targets/quotas.js';
import { failure } from '../support/thrown.js';

interface Seen {
  path: string;
  /** The client closed the connection before the answer ended. */
  cut: boolean;
}

let server: Server;
let url = '';
let seen: Seen[] = [];
const timers = new Set<NodeJS.Timeout>();
let answer: (req: IncomingMessage, res: ServerResponse, n: number) => void = (_q, res) => res.end('{}');

beforeAll(async () => {
  server = createServer((req, res) => {
    const entry: Seen = { path: req.url ?? '', cut: false };
    seen.push(entry);
    res.on('close', () => (entry.cut = !res.writableFinished));
    req.resume();
    req.on('end', () => answer(req, res, seen.length - 1));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(() => {
  for (const t of timers) clearInterval(t);
  timers.clear();
  seen = [];
  answer = (_q, res) => res.end('{}');
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const QUIET = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

function codeArtifact(opts: { idleMs?: number; maxBytes?: number; signal?: AbortSignal } = {}): CodeArtifact {
  const idleMs = opts.idleMs ?? 10_000;
  const client = new CodeartifactClient({
    region: 'us-east-1',
    endpoint: url,
    maxAttempts: 1,
    logger: QUIET,
    credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
    requestHandler: sdkRequestHandler('us-east-1', { AWS_ENDPOINT_URL_CODEARTIFACT: url }, idleMs, opts.maxBytes),
  });
  return new CodeArtifact({ region: 'us-east-1', domain: 'd', domainOwner: '111122223333', tokenDurationSeconds: 900, idleTimeoutSeconds: idleMs / 1000 }, new Limiter({}), client, opts.signal);
}

const COORDS = { format: 'npm' as const, repository: 'r', package: 'p' };

/** A 200 that starts a JSON answer and then writes `chunk` every `everyMs`, for ever. */
function endless(chunk: string, everyMs: number) {
  return (_q: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"versions":[');
    const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(chunk)), everyMs);
    timers.add(t);
  };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

describe('an answer beyond its bounds', () => {
  it('an answer that never ends is cut off at the byte bound: ETARGET (retried by the engine), the connection closed', async () => {
    answer = endless('{"version":"1.0.0","status":"Published"},'.repeat(1000), 5);
    const e = await failure(codeArtifact({ maxBytes: 1024 * 1024 }).listVersions(COORDS));
    expect(e.code).toBe('ETARGET');
    expect(seen).toHaveLength(1);
    await expect.poll(() => seen[0]!.cut).toBe(true);
  }, 15_000);

  it('a streamed asset is not counted against the bound: GetPackageVersionAsset hands over every byte', async () => {
    const size = 3 * 1024 * 1024;
    answer = (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-assetname': 'a.tgz', 'x-packageversion': '1.0.0' });
      res.end(Buffer.alloc(size, 1));
    };
    const got = await codeArtifact({ maxBytes: 1024 * 1024 }).getAsset(COORDS, '1.0.0', 'a.tgz');
    let n = 0;
    for await (const c of got.stream as AsyncIterable<Buffer>) n += c.length;
    expect(n).toBe(size);
  }, 15_000);

  it('an answer that trickles (a byte every 200 ms, never silent for the idle timeout) is cut off at its deadline: ETARGET, the connection closed', async () => {
    answer = endless(' ', 200);
    const e = await failure(codeArtifact({ idleMs: 1000 }).listVersions(COORDS));
    expect(e.code).toBe('ETARGET');
    expect(seen).toHaveLength(1);
    await expect.poll(() => seen[0]!.cut).toBe(true);
  }, 15_000);

  it('an upload not answered by its deadline (a link slower than the slowest we call working) says how to give it more time, a read does not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cam-upload-'));
    try {
      const file = join(dir, 'm.zip');
      writeFileSync(file, Buffer.alloc(1024, 7));
      answer = endless(' ', 200);
      const e = await failure(codeArtifact({ idleMs: 1000 }).publishAsset({ format: 'generic', repository: 'r', namespace: 'n', package: 'p' } as never, '1.0.0', 'm.zip', file, '0'.repeat(64), false));
      expect(e.code).toBe('ETARGET');
      expect(e.hint).toMatch(/raise target\.idleTimeoutSeconds and rerun$/);
      answer = endless(' ', 200);
      expect((await failure(codeArtifact({ idleMs: 1000 }).listVersions(COORDS))).hint).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 15_000);

  it("the client's stop cuts off a call in flight: EINTERRUPTED", async () => {
    answer = () => {}; // never answers
    const stop = new AbortController();
    const p = failure(codeArtifact({ signal: stop.signal }).listVersions(COORDS));
    await expect.poll(() => seen.length).toBe(1);
    stop.abort();
    expect((await p).code).toBe('EINTERRUPTED');
  }, 15_000);
});

describe('an answer that is not what the service sends', () => {
  it('a 200 that is not JSON (a gateway\'s page) is ETARGET with the reason, not only the status', async () => {
    answer = (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Gateway says hello</body></html>');
    };
    const e = await failure(codeArtifact().listVersions(COORDS));
    expect(e.code).toBe('ETARGET');
    expect(e.status).toBe(200);
    // the parser's reason follows the status; before, the message ended at "HTTP 200"
    expect(e.message).toMatch(/HTTP 200: \S/);
    expect(e.message).not.toMatch(/\n/);
  }, 15_000);
});

describe('paging that would never end', () => {
  it('a new token on every page, each page the same versions again: ETARGET after the second page', async () => {
    answer = (_q, res, n) => json(res, 200, { versions: [{ version: '1.0.0', status: 'Published' }], nextToken: `tok-${n}` });
    const e = await failure(codeArtifact().listVersions(COORDS));
    expect(e.code).toBe('ETARGET');
    expect(seen).toHaveLength(2);
  }, 15_000);

  it('a new token and new assets on every page: ETARGET at the asset pages a version can have, not for ever', async () => {
    answer = (_q, res, n) =>
      json(res, 200, { assets: Array.from({ length: 150 }, (_, i) => ({ name: `p${n}-a${i}.tgz`, size: 1, hashes: {} })), nextToken: `tok-${n}` });
    const e = await failure(codeArtifact().versionAssets(COORDS, '1.0.0'));
    expect(e.code).toBe('ETARGET');
    expect(seen.length).toBeLessThanOrEqual(10);
  }, 15_000);

  it('a listing that does end is read whole', async () => {
    answer = (_q, res, n) =>
      json(res, 200, { versions: [{ version: `1.0.${n}`, status: 'Published' }], ...(n < 4 ? { nextToken: `tok-${n}` } : {}) });
    const found = await codeArtifact().listVersions(COORDS);
    expect([...found.keys()]).toEqual(['1.0.0', '1.0.1', '1.0.2', '1.0.3', '1.0.4']);
  }, 15_000);
});

describe('an asset listing that names a file twice', () => {
  // the engine's read-back takes the first of a name, a Map the last: either way one of the two goes unchecked
  it('on one page or across two, with our bytes once and other bytes once: ETARGET, never a listing to check against', async () => {
    const twice = [
      { name: 'package.tgz', size: 1, hashes: { 'SHA-512': 'ab' } },
      { name: 'package.tgz', size: 1, hashes: { 'SHA-512': 'cd' } },
    ];
    answer = (_q, res) => json(res, 200, { assets: twice });
    expect((await failure(codeArtifact().versionAssets(COORDS, '1.0.0'))).code).toBe('ETARGET');
    let page = 0;
    answer = (_q, res) => {
      const n = page++;
      json(res, 200, { assets: [twice[n]!, { name: `other-${n}.tgz`, size: 1, hashes: {} }], ...(n === 0 ? { nextToken: 'tok' } : {}) });
    };
    expect((await failure(codeArtifact().versionAssets(COORDS, '1.0.0'))).code).toBe('ETARGET');
  }, 15_000);
});

describe('a version listing that names a version twice', () => {
  // a Map keeps the last of a name: Archived then Published read as Published, and which status
  // the version has is left to the listing's order
  it('on one page or across two, Archived once and Published once: ETARGET, never a status to go by', async () => {
    const twice = [
      { version: '1.0.0', status: 'Archived' },
      { version: '1.0.0', status: 'Published' },
    ];
    answer = (_q, res) => json(res, 200, { versions: twice });
    const one = await failure(codeArtifact().listVersions(COORDS));
    expect(one.code).toBe('ETARGET');
    expect(one.message).toMatch(/"1\.0\.0" twice/);
    let page = 0;
    answer = (_q, res) => {
      const n = page++;
      json(res, 200, { versions: [twice[n]!, { version: `2.0.${n}`, status: 'Published' }], ...(n === 0 ? { nextToken: 'tok' } : {}) });
    };
    expect((await failure(codeArtifact().listVersions(COORDS))).code).toBe('ETARGET');
  }, 15_000);
});

describe("this machine's clock an hour behind the service's", () => {
  const HOUR = 60 * 60_000;
  /** The service's SigV4 check: a request signed more than 15 minutes off its clock is refused, as CodeArtifact refuses it. */
  const skewed = (refuseAlways: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    const now = Date.now() + HOUR;
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(String(req.headers['x-amz-date']))!;
    const signed = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
    const headers = { date: new Date(now).toUTCString(), 'x-amzn-errortype': 'InvalidSignatureException' };
    if (refuseAlways || Math.abs(now - signed) > 15 * 60_000) {
      return json(res, 403, { message: `Signature expired: ${req.headers['x-amz-date']} is now earlier than ... (- 15 min.)` }, headers);
    }
    json(res, 200, { versions: [{ version: '1.0.0', status: 'Published' }] }, { date: headers.date });
  };

  it('the refusal is sent once more, signed on the service\'s time (the SDK corrected its offset from the Date header): answered', async () => {
    answer = skewed(false);
    const found = await codeArtifact().listVersions(COORDS);
    expect([...found.keys()]).toEqual(['1.0.0']);
    expect(seen).toHaveLength(2);
  }, 15_000);

  it('refused again: ETARGETCREDENTIALS naming the clock and how far off it is, after two requests, not one per rerun', async () => {
    answer = skewed(true);
    const e = await failure(codeArtifact().listVersions(COORDS));
    expect(e.code).toBe('ETARGETCREDENTIALS');
    expect(e.message).toMatch(/clock is about 60 min behind/);
    expect(e.hint).toMatch(/NTP/);
    expect(seen).toHaveLength(2);
  }, 15_000);
});

describe('a repository as DescribeRepository answers it, with fields of the wrong type', () => {
  it('is read as far as it makes sense (names that are strings), never a TypeError: the audit walks it and reports it', async () => {
    const bodies = [
      '{"repository":{"name":"x","upstreams":"npm-store","externalConnections":{"a":1}}}',
      '{"repository":{"name":"x","upstreams":[null,5,{"repositoryName":7},{"repositoryName":"npm-internal"}],"externalConnections":[null,{"externalConnectionName":["public:npmjs"]},{"externalConnectionName":"public:npmjs","status":3}]}}',
    ];
    answer = (_req, res, n) => {
      res.setHeader('content-type', 'application/json');
      res.end(bodies[n]);
    };
    const domain = new Domain(codeArtifact());
    expect(await domain.repository('x')).toEqual({ name: 'x', upstreams: [], externalConnections: [] });
    expect(await domain.repository('x')).toEqual({ name: 'x', upstreams: ['npm-internal'], externalConnections: [{ name: 'public:npmjs' }] });
  });
});

describe('the account quotas (Service Quotas), read at the start of a run', () => {
  it('a listing that pages for ever (the same quotas, a new token each time) ends after a page with nothing new: the defaults apply, said why', async () => {
    answer = (_req, res, n) => {
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      res.end(JSON.stringify({ Quotas: [{ QuotaCode: 'L-1', QuotaName: 'PublishPackageVersion requests per second', Value: 50 }], NextToken: `t${n}` }));
    };
    const sq = new ServiceQuotasClient({ region: 'us-east-1', endpoint: url, maxAttempts: 1, logger: QUIET, credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });
    try {
      const quotas = await readAccountQuotas('us-east-1', {}, sq);
      expect(quotas.error).toMatch(/listed nothing new.*would never end/);
      expect(seen).toHaveLength(2);
    } finally {
      sq.destroy();
    }
  });
  // Service Quotas' JSON may carry "Infinity" and "NaN" for a double (the SDK parses them), a
  // value per minute, or a quota of another region's account: none is taken for a request rate
  // the limiter could run at (Infinity: no limit and a throttle that never slows it down; 1e9
  // or 0.001: a run past every quota, or one request in 1,000 s)
  it('hostile values (Infinity, NaN, 1e9, 0.001/s, per minute, another region or service, no value) are not rates: the defaults apply, said which', async () => {
    const quota = (n: number, name: string, value: unknown, extra: Record<string, unknown> = {}) => ({ QuotaCode: `L-${n}`, QuotaName: name, QuotaArn: `arn:aws:servicequotas:us-east-1:111122223333:codeartifact/L-${n}`, Value: value, ...extra });
    answer = (_req, res) => {
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      res.end(
        JSON.stringify({
          Quotas: [
            quota(1, 'PublishPackageVersion requests per second', 'Infinity'),
            quota(2, 'GetPackageVersionAsset requests per second', 1e9),
            quota(3, 'ListPackages requests per second', 'NaN'),
            quota(4, 'ListPackageVersions requests per second', 600, { Period: { PeriodValue: 1, PeriodUnit: 'MINUTE' } }),
            quota(5, 'Write requests per second from a single AWS account', 0.001),
            quota(6, 'Read requests per second from a single AWS account', 400, { QuotaArn: 'arn:aws:servicequotas:eu-west-1:111122223333:codeartifact/L-6' }),
            quota(7, 'ListPackageVersionAssets requests per second', undefined),
            quota(8, 'ListPackageVersionAssets requests per second', 500, { ServiceCode: 'lambda' }),
          ],
        }),
      );
    };
    const sq = new ServiceQuotasClient({ region: 'us-east-1', endpoint: url, maxAttempts: 1, logger: QUIET, credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });
    try {
      const quotas = await readAccountQuotas('us-east-1', {}, sq);
      // 600 a minute is 10 a second; nothing else is a rate of this region's account
      expect(quotas.rates).toEqual({ listVersions: 10 });
      // read, but not taken: not an error reading them, which would say none applies
      expect(quotas.error).toBeUndefined();
      for (const name of ['PublishPackageVersion', 'GetPackageVersionAsset', 'Write requests', 'eu-west-1', 'lambda']) expect(quotas.ignored).toContain(name);
      expect(quotaNote(quotas)).toMatch(/^some of the account's quotas were not taken as rates \(.*PublishPackageVersion.*\); CodeArtifact's defaults apply to those/);
      expect(seen).toHaveLength(1);
    } finally {
      sq.destroy();
    }
  });

  it('an answer that trickles (never silent for the idle timeout) is cut off at the deadline: the defaults apply, said why, the connection closed', async () => {
    answer = endless(' ', 200);
    const sq = new ServiceQuotasClient({ region: 'us-east-1', endpoint: url, maxAttempts: 1, logger: QUIET, credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' }, requestHandler: sdkRequestHandler('us-east-1', {}, 1000) });
    try {
      const quotas = await readAccountQuotas('us-east-1', {}, sq, undefined, 2000);
      expect(quotas.rates).toEqual({});
      expect(quotas.error).toBeDefined();
      expect(seen).toHaveLength(1);
      await expect.poll(() => seen[0]!.cut).toBe(true);
    } finally {
      sq.destroy();
    }
  }, 15_000);

  it('a plausible answer is taken as it is: 20 publishes a second, 1,200 reads a minute (20/s)', async () => {
    answer = (_req, res) => {
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      res.end(
        JSON.stringify({
          Quotas: [
            { QuotaCode: 'L-1', QuotaName: 'PublishPackageVersion requests per second', Value: 20, Period: { PeriodValue: 1, PeriodUnit: 'SECOND' } },
            { QuotaCode: 'L-2', QuotaName: 'Read requests per second from a single AWS account', Value: 1200, Period: { PeriodValue: 1, PeriodUnit: 'MINUTE' } },
          ],
        }),
      );
    };
    const sq = new ServiceQuotasClient({ region: 'us-east-1', endpoint: url, maxAttempts: 1, logger: QUIET, credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });
    try {
      const quotas = await readAccountQuotas('us-east-1', {}, sq);
      expect(quotas).toEqual({ rates: { publish: 20, reads: 20 } });
    } finally {
      sq.destroy();
    }
  });
});

describe('the repository endpoints token', () => {
  /** GetAuthorizationToken answered with a token of `lifetimeMs`, or a throttle. */
  const tokenAnswer = (token: string, lifetimeMs: number) => (_q: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ authorizationToken: token, expiration: (Date.now() + lifetimeMs) / 1000 }));
  };
  const throttle = (_q: IncomingMessage, res: ServerResponse) => {
    res.writeHead(429, { 'content-type': 'application/json', 'x-amzn-errortype': 'ThrottlingException' });
    res.end(JSON.stringify({ message: 'Rate exceeded' }));
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('a renewal refused by a throttle while the token in hand is still good for a while: that token is used, and renewal is tried again later, not on every request', async () => {
    // The clock is moved, not waited on: the window this is about (the token's last quarter,
    // less its last second) is 0.5 s wide, and a process that a loaded machine stalled for half
    // a second past a real sleep into it found the token in its last second (ETHROTTLED). Date
    // alone is stopped: the server's expiration and the client's reading of it share one clock.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const ca = codeArtifact();
      // 6 s of life: renewed from its last quarter on (4.5 s in); in its last second, a refusal fails the request
      answer = tokenAnswer('first-token', 6000);
      expect(await ca.authToken()).toBe('first-token');
      vi.setSystemTime(Date.now() + 4750);
      answer = throttle;
      const fetchesBefore = seen.filter((s) => s.path.startsWith('/v1/authorization-token')).length;
      // many requests at once in the renewal window: none fails, one renewal asked
      const tokens = await Promise.all(Array.from({ length: 20 }, () => ca.authToken()));
      expect(new Set(tokens)).toEqual(new Set(['first-token']));
      expect(await ca.authToken()).toBe('first-token');
      expect(seen.filter((s) => s.path.startsWith('/v1/authorization-token')).length).toBe(fetchesBefore + 1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a token that has expired is not handed out: a refused renewal then fails the request (ETHROTTLED)', async () => {
    const ca = codeArtifact();
    answer = tokenAnswer('short-token', 1000);
    expect(await ca.authToken()).toBe('short-token');
    await sleep(1100);
    answer = throttle;
    expect(await failure(ca.authToken())).toMatchObject({ code: 'ETHROTTLED' });
  });
});
