/**
 * targets/pypi-upload (the twine upload form) and integrity/blake2, against
 * the real thing: Debian's /usr/bin/twine 4.0.2 uploads real builds to a
 * recording HTTP server on 127.0.0.1, and our body for the same files must
 * carry the same parts; our BLAKE2b-256 must equal CPython's hashlib.
 * https://github.com/pypa/twine/blob/main/twine/repository.py
 * https://docs.python.org/3/library/hashlib.html#blake2
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPython, type CoreMetadata, type PythonBuildResult, type PythonDist } from '../src/builders/python.js';
import { MigrateError } from '../src/errors.js';
import { Blake2b, Blake2bStream, blake2b256Hex } from '../src/integrity/blake2.js';
import { multipartUploadBody, safeName, uploadDigests, uploadFields } from '../src/targets/pypi-upload.js';

const PYTHON = '/usr/bin/python3';
const TWINE = '/usr/bin/twine';
let tmp: string;
let n = 0;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cam-pypi-'));
  await mkdir(join(tmp, 'home'));
  await writeFile(join(tmp, 'gitconfig'), '[user]\n\tname = T\n\temail = t@example.com\n[init]\n\tdefaultBranch = main\n');
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: Buffer | string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(cmd, args, { cwd: opts.cwd, env: opts.env, maxBuffer: 1 << 28 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

// ---------------------------------------------------------------- blake2

describe('BLAKE2b-256 (blake2_256_digest)', () => {
  async function pythonBlake2(data: Buffer, size: number): Promise<string> {
    const r = await run(PYTHON, ['-c', `import hashlib, sys; print(hashlib.blake2b(sys.stdin.buffer.read(), digest_size=${size}).hexdigest())`], { input: data });
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  }

  it("Node's crypto cannot do it: outputLength is refused, and truncating blake2b512 gives another digest", async () => {
    expect(() => createHash('blake2b512', { outputLength: 32 })).toThrow();
    const data = Buffer.from('abc');
    const truncated = createHash('blake2b512').update(data).digest('hex').slice(0, 64);
    expect(truncated).not.toBe(await pythonBlake2(data, 32));
  });

  it("equals CPython's hashlib.blake2b(digest_size=32) around every block boundary, however the input is chunked", async () => {
    const data = randomBytes(1 << 20);
    for (const len of [0, 1, 3, 64, 127, 128, 129, 255, 256, 257, 1000, 1 << 20]) {
      const slice = data.subarray(0, len);
      const want = await pythonBlake2(slice, 32);
      expect(blake2b256Hex(slice), `${len} bytes`).toBe(want);
      // Fed in odd-sized pieces, and through the stream.
      const h = new Blake2b(32);
      for (let i = 0; i < len; i += 77) h.update(slice.subarray(i, i + 77));
      expect(h.digest('hex'), `${len} bytes in pieces`).toBe(want);
      const s = new Blake2bStream(32);
      await new Promise<void>((resolve, reject) => {
        Readable.from([slice.subarray(0, len >> 1), slice.subarray(len >> 1)]).pipe(s).on('data', () => {}).on('end', resolve).on('error', reject);
      });
      expect(s.hex()).toBe(want);
    }
  });

  it("with 64 bytes it is Node's blake2b512; other lengths match Python too", async () => {
    const data = randomBytes(5000);
    expect(new Blake2b(64).update(data).digest('hex')).toBe(createHash('blake2b512').update(data).digest('hex'));
    expect(new Blake2b(20).update(data).digest('hex')).toBe(await pythonBlake2(data, 20));
    expect(() => new Blake2b(65)).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------- the form, pure

describe('uploadFields', () => {
  const file = { path: '/x', filename: 'a_b-1.0-py3-none-any.whl', filetype: 'bdist_wheel' as const, pyversion: 'py3' };
  const digests = { sha256: 'a'.repeat(64), blake2_256: 'b'.repeat(64), size: 1 };

  it("sends what the metadata holds, under twine's names, and nothing for what it lacks", () => {
    const meta: CoreMetadata = {
      metadata_version: '2.1',
      name: 'A_b..c',
      version: '1.0',
      keywords: ['x', 'y z'],
      project_urls: [['Home', 'https://h'], ['Docs', 'https://d']],
      platforms: ['linux'],
      supported_platforms: ['any'],
      license: '',
      license_files: ['LICENSE'],
      provides_extra: ['fast'],
    };
    expect(uploadFields(file, meta, digests)).toEqual([
      ['name', 'A-b..c'],
      ['version', '1.0'],
      ['filetype', 'bdist_wheel'],
      ['pyversion', 'py3'],
      ['metadata_version', '2.1'],
      ['license', ''],
      ['keywords', 'x, y z'],
      ['platform', 'linux'],
      ['supported_platform', 'any'],
      ['project_urls', 'Home, https://h'],
      ['project_urls', 'Docs, https://d'],
      ['provides_extra', 'fast'],
      // no license_file: before Metadata-Version 2.4 it is setuptools' own field
      ['sha256_digest', digests.sha256],
      ['blake2_256_digest', digests.blake2_256],
      [':action', 'file_upload'],
      ['protocol_version', '1'],
    ]);
  });

  it('sends License-File (as license_file) and License-Expression from Metadata-Version 2.4', () => {
    const fields = uploadFields(file, { metadata_version: '2.4', name: 'a', version: '1', license_expression: 'MIT', license_files: ['LICENSE', 'NOTICE'] }, digests);
    expect(fields.filter(([k]) => k.startsWith('license'))).toEqual([
      ['license_expression', 'MIT'],
      ['license_file', 'LICENSE'],
      ['license_file', 'NOTICE'],
    ]);
    expect(safeName('my_pkg.name')).toBe('my-pkg.name');
  });
});

// ---------------------------------------------------------------- parity with twine

interface Part {
  /** The part's header block exactly as sent. */
  headers: string;
  name: string;
  value: Buffer;
}

/** Split a multipart/form-data body (RFC 7578) into parts; strict about the framing. */
function parseMultipart(body: Buffer, contentType: string): Part[] {
  const m = /^multipart\/form-data; boundary=([0-9A-Za-z]+)$/.exec(contentType);
  expect(m, contentType).not.toBeNull();
  const delim = Buffer.from(`--${m![1]}`);
  const parts: Part[] = [];
  expect(body.subarray(0, delim.length).equals(delim)).toBe(true);
  let pos = delim.length;
  for (;;) {
    const after = body.subarray(pos, pos + 2).toString('latin1');
    if (after === '--') {
      expect(body.subarray(pos).toString('latin1')).toBe('--\r\n');
      return parts;
    }
    expect(after).toBe('\r\n');
    const headEnd = body.indexOf('\r\n\r\n', pos + 2);
    const headers = body.subarray(pos + 2, headEnd).toString('utf8');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headEnd + 4);
    expect(next).toBeGreaterThan(0);
    const name = /name="([^"]*)"/.exec(headers)![1]!;
    parts.push({ headers, name, value: body.subarray(headEnd + 4, next) });
    pos = next + 2 + delim.length;
  }
}

interface Recorded {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** An upload endpoint that records every POST and answers 200, as CodeArtifact does on success. */
async function recordingServer(): Promise<{ url: string; requests: Recorded[]; close: () => Promise<void> }> {
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function commitAndBuild(files: Record<string, string | Buffer>, name: string, tag: string): Promise<PythonBuildResult> {
  const dir = join(tmp, `repo-${++n}`);
  for (const [p, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, p)), { recursive: true });
    await writeFile(join(dir, p), content);
  }
  const env = { PATH: '/usr/bin:/bin', HOME: tmp, GIT_CONFIG_GLOBAL: join(tmp, 'gitconfig'), GIT_CONFIG_NOSYSTEM: '1' };
  for (const args of [['init', '-q'], ['add', '-A'], ['commit', '-q', '-m', 'r'], ['tag', tag]]) {
    const r = await run('git', args, { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
  }
  // The repository is clean and at the tag: build it in place.
  return buildPython({ checkoutDir: dir, commitTime: new Date('2024-01-02T03:04:05Z'), outDir: join(tmp, `out-${++n}`), name, version: tag });
}

/**
 * What twine 4.0.2 sends that current twine (>= 6.2) does not, and so we do
 * not, made comparable:
 *  - every field it knows, empty when the metadata lacks it (pkginfo gives
 *    None, requests_toolbelt writes None as an empty part); current twine
 *    sends only what the metadata holds. Empty parts are dropped from both
 *    sides here; the test checks separately that we send no empty parts;
 *  - `comment` (empty: no --comment) likewise;
 *  - `md5_digest`: dropped by twine 6.2 (CODEARTIFACT.md);
 *  - `provides_extras`: 4.0.2's misspelling; current twine and Warehouse say `provides_extra`;
 *  - `keywords` as written ("a,b"); current twine splits and joins with ", ";
 *  - `pyversion` for an sdist: 4.0.2 sends it empty, current twine `source`
 *    (CODEARTIFACT.md), which we send.
 */
function comparableTwine402(parts: Part[], filetype: string): Part[] {
  return parts
    .filter((p) => p.name !== 'md5_digest' && p.name !== 'comment')
    .map((p) => {
      if (p.name === 'provides_extras') return { ...p, name: 'provides_extra', headers: p.headers.replace('name="provides_extras"', 'name="provides_extra"') };
      if (p.name === 'keywords') return { ...p, value: Buffer.from(p.value.toString('utf8').split(',').map((k) => k.trim()).join(', ')) };
      if (p.name === 'pyversion' && filetype === 'sdist') {
        expect(p.value.toString()).toBe('');
        return { ...p, value: Buffer.from('source') };
      }
      return p;
    })
    .filter((p) => p.value.length > 0);
}

const asComparable = (parts: Part[]) => parts.map((p) => `${p.headers}\n=> ${p.name === 'content' ? createHash('sha256').update(p.value).digest('hex') : p.value.toString('utf8')}`).sort();

/** Streams our body to the server like the sending module will (Content-Length, no chunking). */
async function postOurs(url: string, dist: PythonDist): Promise<{ contentLength: number; streamed: number }> {
  const form = await multipartUploadBody(dist, dist.metadata);
  let streamed = 0;
  form.body.on('data', (c: Buffer) => (streamed += c.length));
  await new Promise<void>((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': form.contentType, 'content-length': form.contentLength } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    form.body.on('error', reject);
    form.body.pipe(req);
  });
  return { contentLength: form.contentLength, streamed };
}

describe('the upload body equals what twine sends', () => {
  it('for a setuptools sdist and wheel with rich metadata, and for a several-MB hatchling project', async () => {
    const rich = await commitAndBuild(
      {
        'pyproject.toml': `[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "Acme.Rich_Lib"
version = "1.2.0"
description = "Rich metadata, ünïcode included"
readme = "README.md"
requires-python = ">=3.8"
license = {text = "MIT"}
dependencies = ["requests>=2", "attrs; python_version<'3.10'"]
keywords = ["tiny", "example", "two words"]
classifiers = ["Programming Language :: Python :: 3", "License :: OSI Approved :: MIT License"]
authors = [{name = "Zoë Ada", email = "ada@example.com"}]
maintainers = [{name = "Bob"}]

[project.urls]
Homepage = "https://example.com"
"Bug Tracker" = "https://example.com/issues"

[project.optional-dependencies]
fast = ["ujson"]
all = ["ujson", "orjson>=3"]
`,
        'README.md': '# Rich\n\nHello ünïcode.\r\nWindows line, and a trailing space \n',
        'LICENSE': 'MIT\n',
        'src/acme_rich/__init__.py': 'X = 1\n',
      },
      'acme-rich-lib',
      'v1.2.0',
    );
    // Several MB of incompressible bytes, so Content-Length is checked on a real stream.
    const big = await commitAndBuild(
      {
        'pyproject.toml': '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n[project]\nname = "big-lib"\nversion = "0.9"\ndescription = "big"\nclassifiers = ["Private :: Do Not Upload"]\n\n[tool.hatch.build.targets.wheel]\npackages = ["big_lib"]\n',
        'big_lib/__init__.py': 'X = 1\n',
        'big_lib/blob.bin': randomBytes(6 * 1024 * 1024),
      },
      'big-lib',
      'v0.9',
    );
    const dists = [...rich.files, ...big.files];
    expect(dists.map((d) => d.filename)).toEqual(['Acme.Rich_Lib-1.2.0.tar.gz', 'Acme.Rich_Lib-1.2.0-py3-none-any.whl', 'big_lib-0.9.tar.gz', 'big_lib-0.9-py2.py3-none-any.whl']);
    expect(big.files.every((f) => f.size > 6_000_000)).toBe(true);

    const twine = await recordingServer();
    const ours = await recordingServer();
    try {
      for (const dist of dists) {
        const r = await run(TWINE, ['upload', '--repository-url', twine.url, '-u', 'aws', '-p', 'x', '--non-interactive', '--disable-progress-bar', dist.path], {
          env: { PATH: '/usr/bin:/bin', HOME: join(tmp, 'home'), LC_ALL: 'C.UTF-8' },
        });
        expect(r.code, r.stdout + r.stderr).toBe(0);
        const { contentLength, streamed } = await postOurs(ours.url, dist);
        expect(streamed).toBe(contentLength);
      }
      expect(twine.requests).toHaveLength(dists.length);
      expect(ours.requests).toHaveLength(dists.length);

      for (const [i, dist] of dists.entries()) {
        const t = twine.requests[i]!;
        const o = ours.requests[i]!;
        // Exact Content-Length: what the server received is what we declared, for every file.
        expect(Number(o.headers['content-length'])).toBe(o.body.length);
        expect(Number(t.headers['content-length'])).toBe(t.body.length);
        const tParts = parseMultipart(t.body, t.headers['content-type']!);
        const oParts = parseMultipart(o.body, o.headers['content-type']!);
        // twine really sends the fields this test normalises away.
        expect(tParts.map((p) => p.name)).toEqual(expect.arrayContaining(['md5_digest', 'comment', ...(i < 2 ? ['provides_extras'] : [])]));
        expect(oParts.filter((p) => p.value.length === 0).map((p) => p.name), dist.filename).toEqual([]);
        expect(asComparable(oParts), dist.filename).toEqual(asComparable(comparableTwine402(tParts, dist.filetype)));
        // The file goes last, byte for byte.
        expect(oParts.at(-1)!.name).toBe('content');
        expect(oParts.at(-1)!.value.equals(await readFile(dist.path))).toBe(true);
      }

      // Spot checks, so the comparison above cannot pass on two empty lists.
      const wheel = parseMultipart(ours.requests[1]!.body, ours.requests[1]!.headers['content-type']!);
      const get = (k: string) => wheel.filter((p) => p.name === k).map((p) => p.value.toString('utf8'));
      expect(get('name')).toEqual(['Acme.Rich-Lib']);
      expect(get('requires_dist')).toEqual(['requests (>=2)', 'attrs ; python_version < "3.10"', "orjson (>=3) ; extra == 'all'", "ujson ; extra == 'all'", "ujson ; extra == 'fast'"]);
      expect(get('project_urls')).toEqual(['Homepage, https://example.com', 'Bug Tracker, https://example.com/issues']);
      expect(get('keywords')).toEqual(['tiny, example, two words']);
      // setuptools writes the README with \n line ends; the trailing space stays.
      expect(get('description')).toEqual(['# Rich\n\nHello ünïcode.\nWindows line, and a trailing space \n']);
      expect(get('blake2_256_digest')).toEqual([blake2b256Hex(await readFile(dists[1]!.path))]);
      expect(get('pyversion')).toEqual(['py3']);
    } finally {
      await twine.close();
      await ours.close();
    }
  });
});

describe('the body refuses a file that changed after hashing', () => {
  async function drain(body: Readable): Promise<number> {
    let n = 0;
    for await (const c of body) n += (c as Buffer).length;
    return n;
  }

  it('declares the exact length, and errors (ELOCAL) before the closing boundary when the bytes changed', async () => {
    const path = join(tmp, 'x-1.0-py3-none-any.whl');
    await writeFile(path, randomBytes(300_000));
    const file = { path, filename: 'x-1.0-py3-none-any.whl', filetype: 'bdist_wheel' as const, pyversion: 'py3' };
    const meta: CoreMetadata = { metadata_version: '2.1', name: 'x', version: '1.0' };
    const digests = await uploadDigests(path);
    expect(digests.size).toBe(300_000);

    const ok = await multipartUploadBody(file, meta, { digests });
    expect(await drain(ok.body)).toBe(ok.contentLength);

    // Same size, other bytes.
    const sameSize = await multipartUploadBody(file, meta, { digests });
    await writeFile(path, randomBytes(300_000));
    const e1 = await drain(sameSize.body).then(() => undefined, (e: unknown) => e);
    expect(e1).toBeInstanceOf(MigrateError);
    expect((e1 as MigrateError).code).toBe('ELOCAL');

    // Grown after the body was made.
    const fresh = await uploadDigests(path);
    const grown = await multipartUploadBody(file, meta, { digests: fresh });
    await appendFile(path, 'more');
    const e2 = await drain(grown.body).then(() => undefined, (e: unknown) => e);
    expect((e2 as MigrateError).code).toBe('ELOCAL');
  });

  it('a file deleted after hashing (the state directory emptied under the run) is EBLOBMISSING naming it, as when its reading fails later', async () => {
    const path = join(tmp, 'gone-1.0-py3-none-any.whl');
    await writeFile(path, randomBytes(1000));
    const file = { path, filename: 'gone-1.0-py3-none-any.whl', filetype: 'bdist_wheel' as const, pyversion: 'py3' };
    const meta: CoreMetadata = { metadata_version: '2.1', name: 'gone', version: '1.0' };
    const digests = await uploadDigests(path);
    await rm(path);
    for (const opts of [{ digests }, {}]) {
      const e = await multipartUploadBody(file, meta, opts).then(() => undefined, (e: unknown) => e);
      expect(e).toBeInstanceOf(MigrateError);
      expect(e).toMatchObject({ code: 'EBLOBMISSING', message: expect.stringContaining(path), hint: expect.stringContaining('next run') });
    }
  });
});
