/**
 * An sdist that is the same bytes on every build of one commit: no time in it
 * (tar headers, pax records, gzip's header) later than the build time, which is
 * the commit time (SOURCE_DATE_EPOCH).
 *
 * Wheels, hatchling's and poetry-core's sdists already are (SOURCE_DATE_EPOCH, and
 * pinMtimes for backends that copy the files' times). setuptools' sdist is not (66 in
 * Debian 12; it does not read SOURCE_DATE_EPOCH): what it generates (PKG-INFO,
 * setup.cfg, `*.egg-info` and their folders) carries the time of the build, in the tar
 * headers and in pax `mtime` records, and so does gzip's header. Its rebuild of a tag
 * then has other bytes than the first build: after a state directory is lost, on
 * another machine, or a plan run elsewhere than the run, the target (which holds the
 * first build) calls it a conflict, and a plan names a hash that is never published.
 *
 * So the sdist is rewritten when it holds a time past the build time: every such time
 * (a header's mtime, a pax `mtime`, `atime` or `ctime`) becomes the build time, the
 * header checksums are computed again, and every name, mode, owner, order and content
 * byte stays; the tar is compressed again (gzip level 9 with no name and no time, as
 * Node's zlib makes it). An sdist with no time past the build time is left exactly as
 * the backend wrote it. Streamed, and bounded like every read of a build's output.
 * https://reproducible-builds.org/docs/archives/
 * https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_03
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { removeWhenClosed } from '../atomic-file.js';
import { localError, MigrateError, toError } from '../errors.js';
import type { Fail } from './python-metadata.js';

const BLOCK = 512;
/** A pax extended header is a few records; a larger one is no sdist a backend writes. */
const MAX_PAX_BYTES = 1024 * 1024;
const PAX_TIMES = new Set(['mtime', 'atime', 'ctime']);
const MTIME = { at: 136, length: 12 };
const SIZE = { at: 124, length: 12 };
const CHECKSUM = { at: 148, length: 8 };

/**
 * Rewrites the sdist at `path` in place when a time in it is later than `buildTime`;
 * says whether it did. A file that is no gzipped tar, a broken header or more than
 * `maxUnpackedBytes` unpacked is `fail(...)`; a full disk is ELOCAL naming the file; a
 * stop (`signal`) is EINTERRUPTED, the sdist left as built.
 */
export async function clampSdistTimes(path: string, buildTime: Date, maxUnpackedBytes: number, fail: Fail, signal?: AbortSignal): Promise<boolean> {
  const limit = Math.floor(buildTime.getTime() / 1000);
  const gzipTime = await gzipHeaderTime(path, fail);
  const tmp = `${path}.clamp-${process.pid}.tmp`;
  const clamp = new ClampTarTimes(limit, maxUnpackedBytes, fail);
  const out = createWriteStream(tmp, { flags: 'wx' });
  try {
    await pipeline(createReadStream(path), createGunzip(), clamp, createGzip({ level: 9 }), out, { signal });
    if (!clamp.changed && gzipTime <= limit) {
      await rm(tmp, { force: true });
      return false;
    }
    await rename(tmp, path);
    return true;
  } catch (e) {
    await removeWhenClosed(out, tmp);
    if (e instanceof MigrateError) throw e;
    if (signal?.aborted) throw new MigrateError('EINTERRUPTED', `${basename(path)}: stopped while its times were clamped`);
    throw localError(e, tmp, 'write the sdist with its times clamped') ?? fail(`the sdist cannot be read as a gzipped tar: ${toError(e).message}`);
  }
}

/** MTIME of the first gzip member's header (RFC 1952), 0 when it has none. */
async function gzipHeaderTime(path: string, fail: Fail): Promise<number> {
  const header = Buffer.alloc(10);
  const file = await open(path, 'r');
  try {
    const { bytesRead } = await file.read(header, 0, 10, 0);
    if (bytesRead < 10 || header[0] !== 0x1f || header[1] !== 0x8b) throw fail('the sdist is not gzip-compressed', { hint: 'sdists must be .tar.gz (PEP 625); check the build command' });
  } finally {
    await file.close();
  }
  return header.readUInt32LE(4);
}

/**
 * The tar stream with every time past `limit` brought back to it. Data passes
 * through untouched; headers and pax records are rewritten only where a time
 * is past the limit (`changed` says whether any was).
 */
class ClampTarTimes extends Transform {
  changed = false;
  private unpacked = 0;
  private pending: Buffer = Buffer.alloc(0);
  /** What the next bytes are: a header, an entry's data (passed on), a pax header's data (collected), or what follows the end of the archive. */
  private mode: 'header' | 'data' | 'pax' | 'trailer' = 'header';
  /** Bytes of data (padding included) still to come for the entry being read. */
  private remaining = 0;
  private pax?: { header: Buffer; size: number };

  constructor(
    private readonly limit: number,
    private readonly maxUnpackedBytes: number,
    private readonly fail: Fail,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.unpacked += chunk.length;
    if (this.unpacked > this.maxUnpackedBytes) {
      return callback(this.fail(`the sdist unpacks to more than ${this.maxUnpackedBytes} bytes`, { code: 'ETOOLARGE', hint: 'no sdist of a real project is that large unpacked (a decompression bomb, or a build that packs far more than the project): fix what the build packs, or skip this version under versions: in the job file' }));
    }
    try {
      this.consume(chunk);
      callback();
    } catch (e) {
      callback(toError(e));
    }
  }

  override _flush(callback: TransformCallback): void {
    // a tar that ends after a whole entry without its two zero blocks is read by tar and pip alike
    if (this.pending.length > 0 || this.mode === 'data' || this.mode === 'pax') return callback(this.fail('the sdist ends in the middle of an entry'));
    callback();
  }

  private consume(chunk: Buffer): void {
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    let at = 0;
    while (at < data.length) {
      if (this.mode === 'trailer') {
        this.push(data.subarray(at));
        return;
      }
      if (this.mode === 'data') {
        const n = Math.min(this.remaining, data.length - at);
        this.push(data.subarray(at, at + n));
        at += n;
        this.remaining -= n;
        if (this.remaining === 0) this.mode = 'header';
        continue;
      }
      const need = this.mode === 'header' ? BLOCK : this.remaining;
      if (data.length - at < need) {
        this.pending = Buffer.from(data.subarray(at));
        return;
      }
      const unit = Buffer.from(data.subarray(at, at + need));
      at += need;
      if (this.mode === 'header') this.header(unit);
      else this.paxData(unit);
    }
  }

  private header(h: Buffer): void {
    if (h.every((b) => b === 0)) {
      this.push(h);
      this.mode = 'trailer';
      return;
    }
    const declared = readNumber(h, CHECKSUM.at, CHECKSUM.length);
    if (declared === undefined || (declared !== checksum(h, false) && declared !== checksum(h, true))) throw this.fail('a tar header of the sdist has a wrong checksum');
    const size = readNumber(h, SIZE.at, SIZE.length);
    if (size === undefined || size < 0) throw this.fail('a tar header of the sdist has no valid size');
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    const mtime = readNumber(h, MTIME.at, MTIME.length);
    if (mtime !== undefined && mtime > this.limit) {
      writeOctal(h, MTIME.at, MTIME.length, this.limit);
      writeChecksum(h);
      this.changed = true;
    }
    const type = String.fromCharCode(h[156]!);
    if (type === 'x' || type === 'g') {
      if (padded > MAX_PAX_BYTES) throw this.fail(`a pax header of the sdist is ${size} bytes`, { code: 'ETOOLARGE' });
      this.pax = { header: h, size };
      this.remaining = padded;
      if (padded === 0) this.paxData(Buffer.alloc(0));
      else this.mode = 'pax';
      return;
    }
    this.push(h);
    this.remaining = padded;
    this.mode = padded === 0 ? 'header' : 'data';
  }

  /** A pax header's records with their times clamped; the header's size follows when a record's length changed. */
  private paxData(data: Buffer): void {
    const { header, size } = this.pax!;
    this.pax = undefined;
    this.mode = 'header';
    const records: Buffer[] = [];
    let rewritten = false;
    for (let at = 0; at < size; ) {
      const space = data.indexOf(0x20, at);
      const length = space > at && space < size ? Number(data.subarray(at, space).toString('latin1')) : NaN;
      if (!Number.isSafeInteger(length) || length <= space - at || at + length > size || data[at + length - 1] !== 0x0a) throw this.fail('a pax header of the sdist is malformed');
      const record = data.subarray(space + 1, at + length - 1);
      const eq = record.indexOf(0x3d);
      const key = eq > 0 ? record.subarray(0, eq).toString('utf8') : '';
      const value = Number(eq > 0 ? record.subarray(eq + 1).toString('latin1') : NaN);
      if (PAX_TIMES.has(key) && value > this.limit) {
        records.push(paxRecord(key, String(this.limit)));
        rewritten = true;
      } else {
        records.push(data.subarray(at, at + length));
      }
      at += length;
    }
    if (!rewritten) {
      this.push(header);
      this.push(data);
      return;
    }
    const body = Buffer.concat(records);
    writeOctal(header, SIZE.at, SIZE.length, body.length);
    writeChecksum(header);
    this.changed = true;
    this.push(header);
    this.push(body);
    const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
    if (pad > 0) this.push(Buffer.alloc(pad));
  }
}

/** `<length> <key>=<value>\n`, where the length counts its own digits. */
function paxRecord(key: string, value: string): Buffer {
  const body = `${key}=${value}\n`;
  const rest = Buffer.byteLength(body) + 1;
  let length = rest + 1;
  while (String(length).length + rest !== length) length = String(length).length + rest;
  return Buffer.from(`${length} ${body}`, 'utf8');
}

/** A numeric header field: octal digits (NUL or space ended), or base-256 when its first byte has the high bit (GNU). */
function readNumber(h: Buffer, at: number, length: number): number | undefined {
  const field = h.subarray(at, at + length);
  if (field[0]! & 0x80) {
    // big-endian two's complement: 0x80 leads a positive number, 0xff a negative one
    const negative = field[0] === 0xff;
    let n = negative ? 0 : field[0]! & 0x7f;
    for (let i = 1; i < length; i++) n = n * 256 + (negative ? 255 - field[i]! : field[i]!);
    if (negative) n = -(n + 1);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  const text = field.toString('latin1').replace(/[\0 ].*$/s, '').trim();
  return /^[0-7]+$/.test(text) ? parseInt(text, 8) : text === '' ? 0 : undefined;
}

function writeOctal(h: Buffer, at: number, length: number, n: number): void {
  h.write(`${n.toString(8).padStart(length - 1, '0')}\0`, at, length, 'latin1');
}

/** The header's checksum with its own field counted as spaces; `signed` for the old tars that summed signed bytes. */
function checksum(h: Buffer, signed: boolean): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= CHECKSUM.at && i < CHECKSUM.at + CHECKSUM.length ? 0x20 : h[i]!;
    sum += signed && b > 127 ? b - 256 : b;
  }
  return sum;
}

/** Six octal digits, NUL, space: what tar and Python's tarfile write. */
function writeChecksum(h: Buffer): void {
  h.write(`${checksum(h, false).toString(8).padStart(6, '0')}\0 `, CHECKSUM.at, CHECKSUM.length, 'latin1');
}
