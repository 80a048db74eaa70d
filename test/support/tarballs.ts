/**
 * Hand-made npm tarballs for hostile-source tests: entries in any order, any
 * path (`../package.json`, two `package/package.json`), links, and a streamed
 * decompression bomb. Plain ustar headers written here, so nothing normalises
 * what a hostile packer would write. https://www.gnu.org/software/tar/manual/html_node/Standard.html
 */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';

export interface TarEntry {
  path: string;
  body?: Buffer | string;
  /** '0' file (default), '2' symlink, '5' directory. */
  type?: '0' | '2' | '5';
  linkname?: string;
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

export function tarHeader(path: string, size: number, type = '0', linkname = ''): Buffer {
  const h = Buffer.alloc(512, 0);
  h.write(path.slice(0, 100), 0, 'utf8');
  h.write(octal(0o644, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(499162500, 12), 136); // npm pack's fixed mtime, 1985-10-26
  h.write('        ', 148); // checksum field counts as spaces while summing
  h.write(type, 156);
  h.write(linkname.slice(0, 100), 157);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512, 0);

/** A gzipped tar of exactly these entries, in this order. */
export function tarGz(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    parts.push(tarHeader(e.path, e.type === '2' || e.type === '5' ? 0 : body.length, e.type ?? '0', e.linkname ?? ''));
    if (e.type !== '2' && e.type !== '5') parts.push(body, pad(body.length));
  }
  parts.push(Buffer.alloc(1024, 0));
  return gzipSync(Buffer.concat(parts), { level: 9 });
}

/** A normal npm tarball: package/package.json and an index.js. */
export function npmTarball(name: string, version: string, extra: TarEntry[] = []): Buffer {
  return tarGz([{ path: 'package/package.json', body: JSON.stringify({ name, version }) }, { path: 'package/index.js', body: `module.exports = '${name}@${version}';\n` }, ...extra]);
}

/**
 * A tarball whose package.json is `bytes` long (spaces, then `{}`: valid JSON),
 * streamed through gzip into `file`: half a gigabyte of manifest packs into
 * well under a megabyte.
 */
export async function writeManifestBomb(file: string, bytes: number): Promise<void> {
  async function* body(): AsyncGenerator<Buffer> {
    yield tarHeader('package/package.json', bytes);
    const block = Buffer.alloc(1024 * 1024, 0x20);
    let left = bytes - 2;
    while (left > 0) {
      const n = Math.min(left, block.length);
      yield n === block.length ? block : block.subarray(0, n);
      left -= n;
    }
    yield Buffer.from('{}');
    yield pad(bytes);
    yield Buffer.alloc(1024, 0);
  }
  await pipeline(Readable.from(body()), createGzip({ level: 9 }), createWriteStream(file));
}
