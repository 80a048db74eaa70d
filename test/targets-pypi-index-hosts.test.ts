/**
 * verifyWithClient against a lying simple index: one whose links for our files carry our sha256 but
 * point somewhere pip cannot fetch them from the repository: another host, a `javascript:` URL,
 * a `<base href>` that moves every relative link elsewhere. pip (Debian's, run for real) fails
 * to install from such a page, so the check must not call it verified. And a page of millions of
 * links that are none of ours, which must be read in bounded memory, not end the process.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashBuffer } from '../src/integrity/hashes.js';
import type { CodeArtifact } from '../src/targets/codeartifact.js';
import type { AssetFile } from '../src/targets/format.js';
import { PypiTarget } from '../src/targets/pypi.js';
import type { RateLimiter } from '../src/types.js';
import { failure } from './support/thrown.js';

const PYTHON = '/usr/bin/python3';
const FILE = 'lib-1.0-py3-none-any.whl';

let tmp: string;
let server: Server;
let base: string;
/** The project page the server answers, set by each case. */
let page = '';
let asset: AssetFile;
/** A minimal wheel of lib 1.0 (pip reads its metadata after the download). */
let BYTES: Buffer;

const limiter: RateLimiter = { take: async () => {}, throttled: () => {}, succeeded: () => {}, answered: () => {}, silent: () => {}, unreachable: () => {} };

function target(): PypiTarget {
  const ca = { limiter, authToken: async () => 'tok', invalidateToken: () => {}, endpoint: async () => `${base}/pypi/repo/` };
  return new PypiTarget(ca as unknown as CodeArtifact, 'repo');
}

function pipDownload(): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    const dest = join(tmp, `dl-${Math.random().toString(36).slice(2)}`);
    execFile(
      PYTHON,
      ['-m', 'pip', 'download', '--no-deps', '--only-binary', ':all:', '--no-cache-dir', '--disable-pip-version-check', '--retries', '0', '--timeout', '5', '-d', dest, '--index-url', `${base.replace('//', '//aws:tok@')}/pypi/repo/simple/`, 'lib==1.0'],
      { env: { ...process.env, PIP_CONFIG_FILE: '/dev/null', HOME: tmp } },
      (err, stdout, stderr) => done({ code: err ? 1 : 0, out: stdout + stderr }),
    );
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cam-index-hosts-'));
  const file = join(tmp, FILE);
  const wheel = [
    'import sys, zipfile',
    'with zipfile.ZipFile(sys.argv[1], "w") as z:',
    '    z.writestr("lib/__init__.py", "")',
    '    z.writestr("lib-1.0.dist-info/METADATA", "Metadata-Version: 2.1\\nName: lib\\nVersion: 1.0\\n")',
    '    z.writestr("lib-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")',
    '    z.writestr("lib-1.0.dist-info/RECORD", "")',
  ].join('\n');
  await new Promise<void>((done, fail) => execFile(PYTHON, ['-c', wheel, file], (err) => (err ? fail(err) : done())));
  BYTES = await readFile(file);
  asset = { name: FILE, path: file, size: BYTES.length, hashes: hashBuffer(BYTES), facts: {} };
  server = createServer((req, res) => {
    if (req.url === '/pypi/repo/simple/lib/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end(page);
    }
    if (req.url === `/pypi/repo/simple/lib/1.0/${FILE}`) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return res.end(BYTES);
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('the simple index links our file somewhere pip cannot get it from the repository', () => {
  it('our own page (relative link, our sha256): verified, and pip downloads it', async () => {
    page = `<a href="1.0/${FILE}#sha256=${asset.hashes.sha256}">${FILE}</a>`;
    await target().verifyWithClient('lib', '1.0', [asset]);
    const pip = await pipDownload();
    expect(pip.code, pip.out).toBe(0);
  }, 60_000);

  const hostile: Array<[string, string]> = [
    ['another host', `http://localhost:1/pypi/repo/simple/lib/1.0/${FILE}`],
    ['a javascript: URL', `javascript:1.0/${FILE}`],
    ['a data: URL', `data:1.0/${FILE}`],
  ];
  for (const [what, href] of hostile) {
    it(`${what}: EVERIFY naming the link, as pip cannot download it`, async () => {
      page = `<a href="${href}#sha256=${asset.hashes.sha256}">${FILE}</a>`;
      const pip = await pipDownload();
      expect(pip.code, pip.out).not.toBe(0);
      const e = await failure(target().verifyWithClient('lib', '1.0', [asset]));
      expect(e.code).toBe('EVERIFY');
      expect(e.message).toContain(FILE);
    }, 60_000);
  }

  it('a <base href> (anywhere on the page, as pip reads it) moving the relative link to another host: EVERIFY', async () => {
    page = `<a href="1.0/${FILE}#sha256=${asset.hashes.sha256}">${FILE}</a><base href="http://localhost:1/pypi/repo/simple/lib/">`;
    const pip = await pipDownload();
    expect(pip.code, pip.out).not.toBe(0);
    const e = await failure(target().verifyWithClient('lib', '1.0', [asset]));
    expect(e.code).toBe('EVERIFY');
  }, 60_000);

  it('our link without #sha256 (pip downloads it checking nothing: any bytes would do), or with only an md5 (one pip checks, but no sha256): EVERIFY', async () => {
    for (const fragment of ['', `#md5=${createHash('md5').update(BYTES).digest('hex')}`]) {
      page = `<a href="1.0/${FILE}${fragment}">${FILE}</a>`;
      const pip = await pipDownload();
      expect(pip.code, pip.out).toBe(0);
      const e = await failure(target().verifyWithClient('lib', '1.0', [asset]));
      expect(e.code, fragment).toBe('EVERIFY');
      expect(e.message).toContain(FILE);
    }
  }, 60_000);

  it('an absolute link to the endpoint itself is fine: verified, and pip downloads it', async () => {
    page = `<base href="${base}/elsewhere/"><base href="http://localhost:1/"><a href="${base}/pypi/repo/simple/lib/1.0/${FILE}#sha256=${asset.hashes.sha256}">${FILE}</a>`;
    await target().verifyWithClient('lib', '1.0', [asset]);
    const pip = await pipDownload();
    expect(pip.code, pip.out).toBe(0);
  }, 60_000);
});

describe('a huge page', () => {
  it('millions of links that are none of ours (35 MB), our file last: verified in bounded memory (a 256 MB heap), not a crash', async () => {
    page = `${'<a href=x></a>'.repeat(2_500_000)}<a href="1.0/${FILE}#sha256=${asset.hashes.sha256}">${FILE}</a>`;
    const script = join(tmp, 'huge.mts');
    const src = resolve('src/targets');
    await writeFile(
      script,
      [
        `import { PypiTarget } from ${JSON.stringify(join(src, 'pypi.ts'))};`,
        'const limiter = { take: async () => {}, throttled: () => {}, succeeded: () => {}, answered: () => {}, silent: () => {}, unreachable: () => {} };',
        `const ca = { limiter, authToken: async () => 'tok', invalidateToken: () => {}, endpoint: async () => ${JSON.stringify(`${base}/pypi/repo/`)} };`,
        `const asset = ${JSON.stringify(asset)};`,
        "new PypiTarget(ca, 'repo').verifyWithClient('lib', '1.0', [asset]).then(() => console.log('verified'), (e) => console.log(e.code, e.message));",
      ].join('\n'),
    );
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      const child = execFile(resolve('node_modules/.bin/tsx'), [script], { env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=256' }, maxBuffer: 1 << 24 }, (_err, stdout, stderr) =>
        done({ code: child.exitCode, stdout, stderr: stderr.slice(-2000) }),
      );
    });
    expect(out.stdout.trim(), out.stderr).toBe('verified');
    expect(out.code).toBe(0);
  }, 300_000);
});
