/**
 * `cam goproxy` against hostile or careless clients and operators, over real sockets to
 * a real server on 127.0.0.1 in front of the CodeArtifact stand-in: clients that send
 * their request head a byte at a time, that read a download slowly but steadily, that
 * hang up while their download waits for a slot, or that open more connections than the
 * proxy takes, and a repository so large that the GONOSUMDB the proxy prints would no
 * longer fit in a process's environment (Linux MAX_ARG_STRLEN).
 * The go toolchain cases are in goproxy.test.ts; this file needs no go build.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashBuffer } from '../src/integrity/hashes.js';
import { noSumDbPrefixes, noSumDbValue } from '../src/goproxy/protocol.js';
import { allowedHost } from '../src/goproxy/callers.js';
import { startGoProxy } from '../src/goproxy/server.js';
import { MigrateError } from '../src/errors.js';
import { GenericTarget } from '../src/targets/generic.js';
import { GENERIC_REPO, GO, publishBigModule, startGoTarget, type GoTarget } from './support/go-modules.js';
import { getWithHost, stalledClient } from './support/http-host.js';

let tmp: string;
let target: GoTarget;
let jobFile: string;
const ZIP = Buffer.from('not really a zip, the proxy does not look inside');

/** Publish `module@v0.0.1` with one .zip asset, as `run` would publish its last asset. */
async function publish(generic: GenericTarget, module: string): Promise<void> {
  const path = join(tmp, 'small.zip');
  const asset = { name: 'v0.0.1.zip', path, size: ZIP.length, hashes: hashBuffer(ZIP), facts: {} };
  const r = await generic.publishAsset({ name: module, version: 'v0.0.1', coords: generic.coordinates(module), asset, assets: [asset], isLast: true });
  if (r.kind !== 'published') throw new Error(`publishing ${module}: ${JSON.stringify(r)}`);
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cam-goproxy-hostile-'));
  await writeFile(join(tmp, 'small.zip'), ZIP);
  target = await startGoTarget();
  await publish(new GenericTarget(target.ca, GENERIC_REPO), 'git.acme.example/small');
  jobFile = await target.writeJob(tmp);
});
afterAll(async () => {
  await target?.stop();
  await rm(tmp, { recursive: true, force: true });
});

/** A connection that sends the start of a request head, then one more byte every 200 ms, never finishing it. */
function trickler(url: string): { socket: Socket; closed: Promise<string> } {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  socket.on('error', () => {});
  let answer = '';
  socket.on('data', (c: Buffer) => (answer += c.toString()));
  socket.write(`GET /git.acme.example/small/@v/list HTTP/1.1\r\nHost: ${u.host}\r\nX-Slow: `);
  const timer = setInterval(() => socket.writable && socket.write('a'), 200);
  const closed = once(socket, 'close').then(() => {
    clearInterval(timer);
    return answer;
  });
  return { socket, closed };
}

describe('clients that hold a connection without finishing their request', () => {
  it('a request head that trickles in is cut off after the head timeout (408), and go\'s requests are answered meanwhile', async () => {
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client, headTimeoutMs: 1000 });
    const slow = Array.from({ length: 40 }, () => trickler(p.url));
    try {
      await new Promise((r) => setTimeout(r, 300));
      // served while every slow client is still connected
      const list = await fetch(`${p.url}/git.acme.example/small/@v/list`, { signal: AbortSignal.timeout(30_000) });
      expect(await list.text()).toBe('v0.0.1\n');
      const zip = await fetch(`${p.url}/git.acme.example/small/@v/v0.0.1.zip`, { signal: AbortSignal.timeout(30_000) });
      expect(Buffer.from(await zip.arrayBuffer()).equals(ZIP)).toBe(true);
      // every trickler is hung up on: Node's own bound (60 s, checked every 30 s) would keep them far past this hang check
      const answers = await Promise.race([
        Promise.all(slow.map((s) => s.closed)),
        new Promise<never>((_, fail) => setTimeout(() => fail(new Error('slow request heads were not cut off')), 15_000)),
      ]);
      for (const a of answers) expect(a).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      for (const s of slow) s.socket.destroy();
      await p.stop();
    }
  });
});

/** The 16 MiB module (publishBigModule), published once for the file. */
let bigPublished: Promise<Buffer> | undefined;
const publishBig = (): Promise<Buffer> => (bigPublished ??= publishBigModule(target, tmp));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How many times the stand-in was asked for a file of `pkg` (under git.acme.example). */
const assetGets = (pkg: string) => target.standIn.log.filter((e) => e.operation === 'GetPackageVersionAsset' && e.package === pkg).length;

/**
 * A client that asks for `path` and then reads what it gets a socket read at a time with
 * `pauseMs` between reads: it never stops, so no idle timer ever fires, but it takes far
 * longer than any link go would be on. `closed` is how many bytes it got before the connection
 * ended; after `hurry()` it reads what it still has buffered at once, to see the end sooner.
 */
function slowReader(url: string, path: string, pauseMs: number): { socket: Socket; closed: Promise<number>; hurry(): void } {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  socket.on('error', () => {});
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`);
  let received = 0;
  let timer: NodeJS.Timeout | undefined;
  let hurried = false;
  socket.on('data', (c: Buffer) => {
    received += c.length;
    if (hurried) return;
    socket.pause();
    timer = setTimeout(() => socket.resume(), pauseMs);
  });
  const closed = once(socket, 'close').then(() => {
    clearTimeout(timer);
    return received;
  });
  const hurry = () => {
    hurried = true;
    clearTimeout(timer);
    socket.resume();
  };
  return { socket, closed, hurry };
}

describe('clients that hold a download slot', () => {
  it('a download that reads slower than the minimum rate is cut off once its time is up (however steadily it reads), and its slot goes to the next download', async () => {
    const big = await publishBig();
    const errors: string[] = [];
    // 16 MiB at 8 MiB/s: a grace of 1 s plus 2 s. Each reader takes one socket read (at most
    // 64 KiB) every 300 ms, about 200 KiB/s: over a minute for the whole zip. The idle
    // cut-off far off: it is not what frees the slots here.
    const p = await startGoProxy({
      job: jobFile,
      port: 0,
      codeartifactClient: target.client,
      onError: (l) => errors.push(l),
      idleTimeoutMs: 600_000,
      minDownloadRate: 8 * 1024 * 1024,
      downloadGraceMs: 1000,
      upstreamTimeoutMs: 20_000,
    });
    const before = assetGets('big');
    const readers = Array.from({ length: 32 }, () => slowReader(p.url, '/git.acme.example/big/@v/v0.0.1.zip', 300));
    try {
      while (assetGets('big') < before + 32) await sleep(50);
      // every slot held by a slow reader: this download gets one only when one of them is cut off, else a 503 after 20 s
      const zip = await fetch(`${p.url}/git.acme.example/small/@v/v0.0.1.zip`, { signal: AbortSignal.timeout(60_000) });
      expect(zip.status).toBe(200);
      expect(Buffer.from(await zip.arrayBuffer()).equals(ZIP)).toBe(true);
      // every slow reader's connection is ended by the proxy (read what is left at once, to see the end sooner). Some
      // may still get the whole zip: what the proxy had handed to the kernel when it cut them off (megabytes on
      // loopback) is still delivered; what counts is that they hold no slot
      for (const r of readers) r.hurry();
      const received = await Promise.all(readers.map((r) => r.closed));
      expect(received.filter((n) => n < big.length).length).toBeGreaterThan(0);
      // a client that reads slowly is its own business: CodeArtifact sent everything asked of it
      expect(errors).toEqual([]);
    } finally {
      for (const r of readers) r.socket.destroy();
      await p.stop();
    }
  }, 90_000);
});

describe('clients that leave while their download waits for a slot', () => {
  it('downloads whose client hung up while they waited are dropped, pipelined ones too: when a slot frees, CodeArtifact is not asked for them', async () => {
    await publishBig();
    const errors: string[] = [];
    // the idle cut-off and the slot deadline far off: the slots stay held until the test lets them go
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client, onError: (l) => errors.push(l), idleTimeoutMs: 600_000, upstreamTimeoutMs: 600_000 });
    const bigBefore = assetGets('big');
    const stalled = Array.from({ length: 32 }, () => stalledClient(p.url, '/git.acme.example/big/@v/v0.0.1.zip'));
    try {
      while (assetGets('big') < bigBefore + 32) await sleep(50);
      const smallBefore = assetGets('small');
      const describesBefore = target.standIn.log.filter((e) => e.operation === 'DescribePackageVersion' && e.package === 'small').length;
      // Two clients ask for the small zip, are found Published and wait for a slot, then hang
      // up. The second sends three requests at once on its connection (HTTP/1.1 pipelining):
      // Node answers them in order, so the last two have no connection of their own yet.
      const u = new URL(p.url);
      const leaving = stalledClient(p.url, '/git.acme.example/small/@v/v0.0.1.zip');
      const pipelined = connect(Number(u.port), u.hostname);
      pipelined.on('error', () => {});
      pipelined.write(`GET /git.acme.example/small/@v/v0.0.1.zip HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`.repeat(3));
      while (target.standIn.log.filter((e) => e.operation === 'DescribePackageVersion' && e.package === 'small').length < describesBefore + 4) await sleep(20);
      await sleep(200);
      leaving.destroy();
      pipelined.destroy();
      await sleep(200);
      // the slots free up; a download asked for after them is served (the line is first come, first served: they were ahead of it)
      for (const s of stalled) s.destroy();
      const zip = await fetch(`${p.url}/git.acme.example/small/@v/v0.0.1.zip`, { signal: AbortSignal.timeout(30_000) });
      expect(Buffer.from(await zip.arrayBuffer()).equals(ZIP)).toBe(true);
      // only that one was fetched from CodeArtifact
      expect(assetGets('small')).toBe(smallBefore + 1);
      expect(errors).toEqual([]);
    } finally {
      for (const s of stalled) s.destroy();
      await p.stop();
    }
  });
});

describe('more connections than the proxy takes', () => {
  it('a connection past the cap is answered 503 with Retry-After (CodeArtifact not asked, said once on stderr); once one closes, the next is served', async () => {
    const errors: string[] = [];
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client, onError: (l) => errors.push(l), maxConnections: 4 });
    // four connections that hold their place: a request head begun and never finished (the head timeout, 10 s, is far off)
    const u = new URL(p.url);
    const holding = Array.from({ length: 4 }, () => {
      const s = connect(Number(u.port), u.hostname);
      s.on('error', () => {});
      s.write(`GET /git.acme.example/small/@v/list HTTP/1.1\r\nHost: ${u.host}\r\n`);
      return s;
    });
    try {
      await Promise.all(holding.map((s) => once(s, 'connect')));
      await sleep(200);
      const before = target.standIn.log.length;
      for (let i = 0; i < 2; i++) {
        const busy = await getWithHost(p.url, '/git.acme.example/small/@v/list', u.host, true);
        expect(busy.status).toBe(503);
        expect(busy.headers['retry-after']).toBe('5');
        expect(busy.headers.connection).toBe('close');
        expect(busy.body).toContain('4 connections');
      }
      expect(target.standIn.log.length).toBe(before);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain('EBUSY');
      // one leaves: there is room again
      holding[0]!.destroy();
      await once(holding[0]!, 'close');
      await sleep(200);
      const served = await getWithHost(p.url, '/git.acme.example/small/@v/list', u.host, true);
      expect(served).toMatchObject({ status: 200, body: 'v0.0.1\n' });
    } finally {
      for (const s of holding) s.destroy();
      await p.stop();
    }
  });
});

describe('a repository with thousands of modules', () => {
  it('GONOSUMDB is the module paths when they fit, else the longest prefixes that do; host names alone are left as they are', () => {
    expect(noSumDbValue(['a.example/x/one', 'a.example/x/two'], 40)).toEqual({ value: 'a.example/x/one,a.example/x/two', shortened: false });
    expect(noSumDbValue(['a.example/x/one', 'a.example/x/two', 'a.example/y/three/four'], 40)).toEqual({ value: 'a.example/x,a.example/y', shortened: true });
    expect(noSumDbValue(['a.example/x/one', 'b.example/y/two'], 10)).toEqual({ value: 'a.example,b.example', shortened: true });
    expect(noSumDbValue(['a.example', 'b.example'], 10)).toEqual({ value: 'a.example,b.example', shortened: false });
    expect(noSumDbValue([], 10)).toEqual({ value: '', shortened: false });
  });

  it('tens of thousands of module paths: each nested path folded into its ancestor (a sibling sorted between them, `a/b-c`, is no ancestor), and 200,000 host names do not overflow the stack', () => {
    // each path looks up its own ancestors: comparing every path with every path kept took 17 s for 20,000 modules at start
    const modules = Array.from({ length: 40_000 }, (_, i) => `git.acme.example/team-${i % 50}/svc-${i}`);
    const nested = ['git.acme.example/team-7/svc-7/v2', 'git.acme.example/team-7/svc-7-tools', 'git.acme.example/team-7/svc-7-tools/cli', 'git.acme.example/team-7/svc-7/sub/v3'];
    const prefixes = noSumDbPrefixes([...nested, ...modules, ...modules.slice(0, 10)]);
    expect(prefixes).toHaveLength(40_001);
    expect(prefixes).toContain('git.acme.example/team-7/svc-7-tools');
    for (const gone of ['git.acme.example/team-7/svc-7/v2', 'git.acme.example/team-7/svc-7-tools/cli', 'git.acme.example/team-7/svc-7/sub/v3']) expect(prefixes).not.toContain(gone);
    expect(prefixes).toEqual([...prefixes].sort());
    // cut to the hosts, which still do not fit: returned as they are (Math.max over them as arguments threw RangeError)
    const hosts = Array.from({ length: 200_000 }, (_, i) => `h${i}.example/m`);
    expect(noSumDbValue(hosts)).toMatchObject({ shortened: true, value: expect.stringMatching(/^h0\.example,h1\.example,/) });
  });


  it('the GONOSUMDB it prints still fits in a process environment (a variable over 128 KiB makes every exec fail with E2BIG) and still names every module', async () => {
    const generic = new GenericTarget(target.ca, GENERIC_REPO);
    // 2000 paths of ~75 characters: ~150 KiB joined, past Linux's MAX_ARG_STRLEN (32 pages)
    const modules = Array.from({ length: 2000 }, (_, i) => `git.acme.example/platform/team-${String(i % 40).padStart(2, '0')}/a-service-with-a-rather-long-name-${i}`);
    const queue = [...modules];
    await Promise.all(Array.from({ length: 16 }, async () => {
      for (let m = queue.shift(); m !== undefined; m = queue.shift()) await publish(generic, m);
    }));
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client });
    try {
      expect(p.modulePrefixes.length).toBeGreaterThanOrEqual(modules.length);
      const value = p.goEnv.GONOSUMDB!;
      // go itself starts with it (spawn would fail with E2BIG) and reads it back whole
      const child = spawn(GO, ['env', 'GONOSUMDB'], { env: { PATH: process.env.PATH, HOME: tmp, GOENV: 'off', GOCACHE: join(tmp, 'gocache'), GONOSUMDB: value } });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      const [code] = (await once(child, 'close')) as [number];
      expect(code).toBe(0);
      expect(out.trim()).toBe(value);
      // every module is still covered (GONOSUMDB matches path prefixes element by element), by the longest prefixes that fit, and it says so
      expect(p.noSumDbShortened).toBe(true);
      const patterns = value.split(',');
      // one per team (the other tests' modules, published or not before this one, are there as they are)
      expect(patterns.filter((pat) => pat.startsWith('git.acme.example/platform/'))).toHaveLength(40);
      expect(patterns).toContain('git.acme.example/platform/team-07');
      for (const m of [...modules, 'git.acme.example/small']) expect(patterns.some((pat) => m === pat || m.startsWith(`${pat}/`)), m).toBe(true);
    } finally {
      await p.stop();
    }
  }, 120_000);
});

describe('Host names (DNS rebinding) beyond loopback', () => {
  it('with --allow-remote, an IP address in Host is answered but a DNS name only when named with --allowed-host: a rebinding page always sends its own name', () => {
    const remote = { anyAddress: true, names: ['goproxy.corp.example'] };
    for (const ok of ['10.0.0.5:8085', '10.0.0.5', '[fd00::5]:8085', '127.0.0.1:8085', 'localhost', 'goproxy.corp.example:8085', 'GOPROXY.corp.example', undefined]) expect(allowedHost(ok, remote), String(ok)).toBe(true);
    for (const bad of ['rebind.attacker.example:8085', 'attacker.example', 'goproxy.corp.example.attacker.example', '10.0.0.5.attacker.example', '', '[fd00::5']) expect(allowedHost(bad, remote), bad).toBe(false);
    // on loopback an address other than loopback's is still refused: the proxy cannot be reached at it
    expect(allowedHost('10.0.0.5:8085', { anyAddress: false, names: [] })).toBe(false);
  });

  it('on loopback, a name given with --allowed-host is answered too (a hosts-file alias); a bad --allowed-host is ECONFIG before listening', async () => {
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client, allowedHosts: ['devbox.internal'] });
    try {
      const ask = (host: string) => getWithHost(p.url, '/git.acme.example/small/@v/list', host);
      expect(await ask(`devbox.internal:${new URL(p.url).port}`)).toMatchObject({ status: 200, body: 'v0.0.1\n' });
      const refused = await ask('attacker.example');
      expect(refused.status).toBe(421);
      expect(refused.body).toContain('--allowed-host');
    } finally {
      await p.stop();
    }
    for (const bad of ['http://devbox.internal', 'devbox.internal:8085', 'a b', '']) {
      await expect(startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client, allowedHosts: [bad] }), bad).rejects.toSatisfy((e) => e instanceof MigrateError && e.code === 'ECONFIG');
    }
  });
});

describe('browsers that send no Sec-Fetch-Site (Safari before 16.4)', () => {
  it('every answer says nosniff, so a page cannot load one as a script and tell a module that exists (load) from one that does not (error)', async () => {
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client });
    try {
      for (const path of ['/git.acme.example/small/@v/list', '/git.acme.example/small/@v/v0.0.1.zip', '/git.acme.example/nobody/@v/list', '/not-a-goproxy-path']) {
        const res = await fetch(`${p.url}${path}`);
        await res.arrayBuffer();
        expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      }
    } finally {
      await p.stop();
    }
  });
});

describe('a target that sends more bytes than it lists', () => {
  it('a download longer than the listed size is cut off before the client has the listed size: it never gets a complete body of the wrong bytes', async () => {
    const module = 'git.acme.example/grown';
    const original = randomBytes(1024 * 1024);
    const path = join(tmp, 'grown.zip');
    await writeFile(path, original);
    const generic = new GenericTarget(target.ca, GENERIC_REPO);
    const asset = { name: 'v0.0.1.zip', path, size: original.length, hashes: hashBuffer(original), facts: {} };
    expect(await generic.publishAsset({ name: module, version: 'v0.0.1', coords: generic.coordinates(module), asset, assets: [asset], isLast: true })).toEqual({ kind: 'published' });
    // other bytes in front: the first `size` bytes a client would read are not the file published
    target.standIn.replaceAssetBytes(GENERIC_REPO, 'generic', 'git.acme.example', 'grown', 'v0.0.1', 'v0.0.1.zip', Buffer.concat([randomBytes(1024 * 1024), original]), { keepHashes: true });
    const errors: string[] = [];
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client, onError: (l) => errors.push(l) });
    try {
      const u = new URL(p.url);
      const socket = connect(Number(u.port), u.hostname);
      socket.write(`GET /${module}/@v/v0.0.1.zip HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`);
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', () => {});
      await once(socket, 'close');
      const all = Buffer.concat(chunks);
      const head = all.indexOf('\r\n\r\n');
      expect(all.subarray(0, head).toString()).toContain(`content-length: ${original.length}`);
      expect(all.length - head - 4).toBeLessThan(original.length);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain('EINTEGRITY');
    } finally {
      await p.stop();
    }
  });
});

describe('a client that pipelines requests on one connection', () => {
  it('more than a few requests sent at once on one connection (HTTP/1.1 pipelining, which go never does) close it: they cannot take every connection to CodeArtifact past --max-connections', async () => {
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client, maxConnections: 4 });
    const lists = () => target.standIn.log.filter((e) => e.operation === 'ListPackageVersions').length;
    // CodeArtifact slow to answer: nothing is written back, so Node's own backpressure never pauses the connection
    target.standIn.addFault({ operation: 'ListPackageVersions', status: 500, hang: true });
    const u = new URL(p.url);
    const before = lists();
    const s = connect(Number(u.port), u.hostname);
    s.on('error', () => {});
    let closed = false;
    s.once('close', () => (closed = true));
    try {
      s.write(Array.from({ length: 2000 }, (_, i) => `GET /git.acme.example/m${i}/@v/list HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`).join(''));
      // each one a listing in flight, from one connection: the SDK's 50 sockets taken and every other request queued behind them
      while (!closed && lists() < before + 50) await sleep(20);
      expect(closed).toBe(true);
      expect(lists() - before).toBeLessThanOrEqual(8);
      target.standIn.clearFaults();
      const list = await fetch(`${p.url}/git.acme.example/small/@v/list`, { signal: AbortSignal.timeout(30_000) });
      expect(await list.text()).toBe('v0.0.1\n');
    } finally {
      target.standIn.clearFaults();
      s.destroy();
      await p.stop();
    }
  });
});

describe('a proxy that serves for days', () => {
  it('keeps nothing per request once it is answered: the heap does not grow with the requests served', async () => {
    // gc() on demand, to compare what is live rather than what the collector has not yet reclaimed
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const p = await startGoProxy({ job: jobFile, port: 0, codeartifactClient: target.client });
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const get = () =>
      new Promise<void>((done, fail) => {
        const r = request(`${p.url}/git.acme.example/small/@v/v0.0.1.zip`, { agent }, (res) => {
          res.resume();
          res.on('end', done);
        });
        r.on('error', fail);
        r.end();
      });
    const serve = async (n: number) => {
      for (let i = 0; i < n / 16; i++) await Promise.all(Array.from({ length: 16 }, get));
      // the stand-in's own record of the requests is not the proxy's
      target.standIn.log.length = 0;
      await sleep(100);
      gc();
      return process.memoryUsage().heapUsed;
    };
    try {
      const start = await serve(1000);
      const after = await serve(5000);
      // each request used to leave its AbortSignal.any signals (about 350 bytes) tied to the proxy's stop for good: 1.75 MB here
      expect(after - start).toBeLessThan(768 * 1024);
      // 16 requests in flight at once listen on the stop: no MaxListenersExceededWarning on the operator's terminal
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      agent.destroy();
      await p.stop();
    }
  }, 120_000);
});
