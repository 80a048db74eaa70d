/**
 * builders/sdist-times: an sdist's times past the build time are clamped to it, and
 * nothing else changes. The archives are written by Python's own tarfile (what
 * setuptools uses) in the forms a backend can write: pax with fractional times, long
 * names, GNU with a base-256 time; read back by tarfile too. Broken and endless
 * archives fail with EBADBUILD / ETOOLARGE and leave no temporary file.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { clampSdistTimes } from '../../src/builders/sdist-times.js';
import { MigrateError, type ErrorCode } from '../../src/errors.js';
import { failure } from '../support/thrown.js';

const PYTHON = '/usr/bin/python3';
const dir = mkdtempSync(join(tmpdir(), 'cam-sdist-times-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BUILD = new Date('2021-05-29T12:00:00Z');
const LIMIT = BUILD.getTime() / 1000;
const LATER = LIMIT + 86_400.25;

const fail = (message: string, init?: { code?: ErrorCode }) => new MigrateError(init?.code ?? 'EBADBUILD', message);
let n = 0;

/** An sdist written by Python's tarfile: `format` PAX (the default) or GNU, members as [name, mtime, content | null for a folder]. */
function pythonSdist(members: [string, number, string | null][], format: 'PAX' | 'GNU' = 'PAX', gzipTime = LATER): string {
  const path = join(dir, `s${++n}-1.0.tar.gz`);
  const script = `
import gzip, io, json, sys, tarfile
members = json.loads(sys.argv[2])
with open(sys.argv[1], 'wb') as raw, gzip.GzipFile(filename='s-1.0.tar', mode='wb', fileobj=raw, mtime=float(sys.argv[4])) as gz:
    with tarfile.open(fileobj=gz, mode='w', format=getattr(tarfile, sys.argv[3] + '_FORMAT')) as t:
        for name, mtime, content in members:
            info = tarfile.TarInfo(name)
            info.mtime = mtime
            info.uname, info.gname = 'root', 'root'
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                t.addfile(info)
            else:
                data = content.encode()
                info.size, info.mode = len(data), 0o644
                t.addfile(info, io.BytesIO(data))
`;
  execFileSync(PYTHON, ['-c', script, path, JSON.stringify(members), format, String(gzipTime)]);
  return path;
}

/** What Python's tarfile reads: every member's name, type, mode, owner, content and time. */
function pythonRead(path: string): { name: string; type: string; mode: number; uname: string; mtime: number; content: string | null }[] {
  const script = `
import json, sys, tarfile
out = []
with tarfile.open(sys.argv[1]) as t:
    for m in t.getmembers():
        out.append({'name': m.name, 'type': m.type.decode(), 'mode': m.mode, 'uname': m.uname, 'mtime': m.mtime, 'content': t.extractfile(m).read().decode() if m.isfile() else None})
print(json.dumps(out))
`;
  return JSON.parse(execFileSync(PYTHON, ['-c', script, path], { encoding: 'utf8' }));
}

const leftovers = () => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

describe('clampSdistTimes', () => {
  const LONG = `s-1.0/${'deep/'.repeat(30)}module.py`;
  const members: [string, number, string | null][] = [
    ['s-1.0', LATER, null],
    ['s-1.0/PKG-INFO', LATER, 'Metadata-Version: 2.1\nName: s\nVersion: 1.0\n'],
    ['s-1.0/setup.py', LIMIT - 3600, 'from setuptools import setup\nsetup()\n'],
    [LONG, LATER, 'X = "é"\n'],
  ];

  for (const format of ['PAX', 'GNU'] as const) {
    it(`${format}: every time past the build time becomes it, earlier ones stay, and every name, mode, owner and byte of content is kept`, async () => {
      const path = pythonSdist(members, format);
      const before = pythonRead(path);
      expect(await clampSdistTimes(path, BUILD, 1 << 30, fail)).toBe(true);
      const after = pythonRead(path);
      expect(after.map((m) => m.mtime)).toEqual([LIMIT, LIMIT, LIMIT - 3600, LIMIT]);
      expect(after.map(({ mtime: _, ...m }) => m)).toEqual(before.map(({ mtime: _, ...m }) => m));
      expect(after.find((m) => m.name === LONG)?.content).toBe('X = "é"\n');
      // gzip: no name, no time
      expect(readFileSync(path).subarray(0, 10).toString('hex')).toBe('1f8b0800000000000203');
      expect(leftovers()).toEqual([]);
    });
  }

  it('two archives that differ only in times past the build time become the same bytes', async () => {
    const a = pythonSdist(members, 'PAX', LATER);
    const b = pythonSdist(members.map(([name, t, c]) => [name, t === LATER ? LATER + 12_345.678 : t, c]), 'PAX', LATER + 99);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(false);
    await clampSdistTimes(a, BUILD, 1 << 30, fail);
    await clampSdistTimes(b, BUILD, 1 << 30, fail);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  it('a pax header whose clamped time makes it shorter across a 512-byte block boundary is written with its new size and padding', async () => {
    // the pax data: a path record of about 9 + k bytes and "25 mtime=100000000000.5\n", 5 bytes longer than the clamped one
    const sizes = new Set<number>();
    for (let k = 470; k <= 485; k++) {
      const path = pythonSdist([[`s-1.0/${'a'.repeat(k)}`, 1e11 + 0.5, 'x']], 'PAX');
      const paxSize = parseInt(gunzipSync(readFileSync(path)).subarray(124, 136).toString('latin1'), 8);
      sizes.add(Math.ceil(paxSize / 512));
      await clampSdistTimes(path, BUILD, 1 << 30, fail);
      expect(pythonRead(path).map((m) => [m.name, m.mtime, m.content])).toEqual([[`s-1.0/${'a'.repeat(k)}`, LIMIT, 'x']]);
    }
    expect([...sizes].sort()).toEqual([1, 2]); // the range does cross the boundary
  });

  it('GNU: a time too large for octal (base-256 in the header) is clamped too, a negative one read and kept', async () => {
    const path = pythonSdist([['s-1.0/far', 1e11, 'x'], ['s-1.0/before-1970', -100, 'y']], 'GNU');
    expect(gunzipSync(readFileSync(path))[136]! & 0x80).toBe(0x80);
    await clampSdistTimes(path, BUILD, 1 << 30, fail);
    expect(pythonRead(path).map((m) => m.mtime)).toEqual([LIMIT, -100]);
  });

  it('an sdist with no time past the build time is left exactly as it was (its gzip name and time too)', async () => {
    const path = pythonSdist(members.map(([name, , c]) => [name, LIMIT - 10, c]), 'PAX', LIMIT);
    const before = readFileSync(path);
    expect(await clampSdistTimes(path, BUILD, 1 << 30, fail)).toBe(false);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(leftovers()).toEqual([]);
  });

  it('only the gzip header is late: rewritten, with the same tar inside', async () => {
    const path = pythonSdist(members.map(([name, , c]) => [name, LIMIT - 10, c]), 'PAX', LATER);
    const tar = gunzipSync(readFileSync(path));
    expect(await clampSdistTimes(path, BUILD, 1 << 30, fail)).toBe(true);
    expect(gunzipSync(readFileSync(path)).equals(tar)).toBe(true);
  });

  it('a header with a wrong checksum, a truncated archive, a file that is no gzip: EBADBUILD, the file left, no temporary file', async () => {
    const good = gunzipSync(readFileSync(pythonSdist(members)));
    const cases: [string, Buffer][] = [
      ['checksum', gzipSync(Buffer.concat([Buffer.from(good.subarray(0, 512)).fill(0x41, 0, 100), good.subarray(512)]))],
      ['truncated', gzipSync(good.subarray(0, 512 + 100))],
      ['not gzip', good],
      ['gzip cut short', readFileSync(pythonSdist(members)).subarray(0, 200)],
    ];
    for (const [what, bytes] of cases) {
      const path = join(dir, `broken-${++n}.tar.gz`);
      writeFileSync(path, bytes);
      const e = await failure(clampSdistTimes(path, BUILD, 1 << 30, fail));
      expect(e.code, what).toBe('EBADBUILD');
      expect(readFileSync(path).equals(bytes), what).toBe(true);
    }
    expect(leftovers()).toEqual([]);
  });

  it('a stop while it is rewritten: EINTERRUPTED, the sdist as built, no temporary file', async () => {
    const before = readFileSync(pythonSdist(members));
    const stop = new AbortController();
    stop.abort();
    // the temporary file is opened on the thread pool, after a stop already signalled has
    // failed the pipeline: a remove that does not wait for it leaves one behind now and then
    const copies = Array.from({ length: 200 }, (_, i) => join(dir, `stopped-${i}-1.0.tar.gz`));
    for (const copy of copies) {
      writeFileSync(copy, before);
      expect((await failure(clampSdistTimes(copy, BUILD, 1 << 30, fail, stop.signal))).code).toBe('EINTERRUPTED');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const copy of copies) expect(readFileSync(copy).equals(before)).toBe(true);
    expect(leftovers()).toEqual([]);
  });

  it('an archive that unpacks past the bound, or a pax header of megabytes: ETOOLARGE, stopped early', async () => {
    // 64 MiB of zeros after a header: a few KB compressed
    const header = gunzipSync(readFileSync(pythonSdist([['s-1.0/big', LATER, 'x']], 'GNU'))).subarray(0, 512);
    const path = join(dir, `bomb-${++n}.tar.gz`);
    writeFileSync(path, gzipSync(Buffer.concat([header, Buffer.alloc(64 << 20)])));
    expect((await failure(clampSdistTimes(path, BUILD, 1 << 20, fail))).code).toBe('ETOOLARGE');

    const pax = Buffer.alloc(512);
    pax.write('s-1.0/PaxHeader', 0, 'latin1');
    pax.write('0000644\0', 100, 'latin1');
    pax.write(`${(8 << 20).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
    pax.write('00000000000\0', 136, 'latin1');
    pax.write('x', 156, 'latin1');
    pax.write('ustar\x0000', 257, 'latin1');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : pax[i]!;
    pax.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const huge = join(dir, `pax-${++n}.tar.gz`);
    writeFileSync(huge, gzipSync(Buffer.concat([pax, Buffer.alloc(8 << 20)])));
    expect((await failure(clampSdistTimes(huge, BUILD, 1 << 30, fail))).code).toBe('ETOOLARGE');
    expect(leftovers()).toEqual([]);
  });
});
