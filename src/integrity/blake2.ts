/**
 * BLAKE2b with a chosen digest length, for the `blake2_256_digest` field of a
 * PyPI upload (Python's `hashlib.blake2b(digest_size=32)`).
 *
 * Written here because Node cannot do it: Node 20's crypto (OpenSSL 3.0) has
 * only `blake2b512`, and `createHash('blake2b512', { outputLength: 32 })`
 * throws "not XOF or invalid length". Truncating the 64-byte digest is NOT the
 * same thing: BLAKE2's digest length is a parameter mixed into the initial
 * state, so BLAKE2b-256 and the first half of BLAKE2b-512 differ entirely
 * (test/pypi-upload.test.ts proves both points against CPython's hashlib).
 * A direct port of RFC 7693's reference code, unkeyed, sequential mode only.
 * https://www.rfc-editor.org/rfc/rfc7693  https://docs.python.org/3/library/hashlib.html#blake2
 */
import { Transform, type TransformCallback } from 'node:stream';

// 64-bit words are held as pairs of 32-bit halves, low half first.
const IV = new Uint32Array([
  0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85, 0xfe94f82b, 0x3c6ef372, 0x5f1d36f1, 0xa54ff53a,
  0xade682d1, 0x510e527f, 0x2b3e6c1f, 0x9b05688c, 0xfb41bd6b, 0x1f83d9ab, 0x137e2179, 0x5be0cd19,
]);

// RFC 7693 section 2.7; rounds 10 and 11 reuse rows 0 and 1. Indices are
// doubled once here because every word is two array slots.
const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
].map((row) => Uint8Array.from(row, (i) => i * 2));

const BLOCK = 128;

export class Blake2b {
  private readonly h = new Uint32Array(16);
  private readonly v = new Uint32Array(32);
  private readonly m = new Uint32Array(32);
  private readonly buf = Buffer.alloc(BLOCK);
  private buffered = 0;
  /** Bytes compressed so far (the counter t); a Number is exact far beyond any file we hash. */
  private counter = 0;
  private done?: Buffer;

  /** `outputLength` in bytes, 1..64 (32 for PyPI's blake2_256_digest). */
  constructor(private readonly outputLength = 64) {
    if (!Number.isInteger(outputLength) || outputLength < 1 || outputLength > 64) throw new RangeError(`BLAKE2b digest length must be 1..64 bytes, not ${outputLength}`);
    this.h.set(IV);
    // Parameter block word 0: digest length, key length 0, fanout 1, depth 1.
    this.h[0] = this.h[0]! ^ 0x01010000 ^ outputLength;
  }

  update(data: Uint8Array): this {
    if (this.done) throw new Error('Blake2b: update after digest');
    let pos = 0;
    while (pos < data.length) {
      // The last block must be compressed with the final flag, so a full
      // block is only compressed once more input is known to follow.
      if (this.buffered === BLOCK) {
        this.counter += BLOCK;
        this.compress(this.buf, 0, false);
        this.buffered = 0;
      }
      // Whole blocks straight from the input, without copying (but never the last byte's block).
      if (this.buffered === 0) {
        while (data.length - pos > BLOCK) {
          this.counter += BLOCK;
          this.compress(data, pos, false);
          pos += BLOCK;
        }
      }
      const n = Math.min(BLOCK - this.buffered, data.length - pos);
      for (let i = 0; i < n; i++) this.buf[this.buffered + i] = data[pos + i]!;
      this.buffered += n;
      pos += n;
    }
    return this;
  }

  digest(): Buffer;
  digest(encoding: 'hex'): string;
  digest(encoding?: 'hex'): Buffer | string {
    if (!this.done) {
      this.counter += this.buffered;
      this.buf.fill(0, this.buffered);
      this.compress(this.buf, 0, true);
      const out = Buffer.alloc(64);
      for (let i = 0; i < 16; i++) out.writeUInt32LE(this.h[i]!, i * 4);
      this.done = out.subarray(0, this.outputLength);
    }
    return encoding === 'hex' ? this.done.toString('hex') : Buffer.from(this.done);
  }

  /** Compresses the 128-byte block at `block[at..]` into the state. */
  private compress(block: Uint8Array, at: number, last: boolean): void {
    const { v, m, h } = this;
    v.set(h, 0);
    v.set(IV, 16);
    // v[12] ^= t (low 64 bits of the 128-bit counter); v[13] ^= t's high 64 bits, always 0 here.
    v[24] = v[24]! ^ this.counter % 0x100000000;
    v[25] = v[25]! ^ Math.floor(this.counter / 0x100000000);
    if (last) {
      v[28] = ~v[28]!;
      v[29] = ~v[29]!;
    }
    for (let i = 0, o = at; i < 32; i++, o += 4) m[i] = (block[o]! | (block[o + 1]! << 8) | (block[o + 2]! << 16) | (block[o + 3]! << 24)) >>> 0;
    for (let r = 0; r < 12; r++) {
      const s = SIGMA[r]!;
      g(v, m, 0, 8, 16, 24, s[0]!, s[1]!);
      g(v, m, 2, 10, 18, 26, s[2]!, s[3]!);
      g(v, m, 4, 12, 20, 28, s[4]!, s[5]!);
      g(v, m, 6, 14, 22, 30, s[6]!, s[7]!);
      g(v, m, 0, 10, 20, 30, s[8]!, s[9]!);
      g(v, m, 2, 12, 22, 24, s[10]!, s[11]!);
      g(v, m, 4, 14, 16, 26, s[12]!, s[13]!);
      g(v, m, 6, 8, 18, 28, s[14]!, s[15]!);
    }
    for (let i = 0; i < 16; i++) h[i] = h[i]! ^ v[i]! ^ v[i + 16]!;
  }
}

/**
 * The mixing function G on words a,b,c,d of v with message words x,y of m (all
 * as doubled indices), on local 32-bit halves: `(x + y) >>> 0` keeps a sum's
 * low half and `sum > 0xffffffff` is its carry into the high half.
 */
function g(v: Uint32Array, m: Uint32Array, a: number, b: number, c: number, d: number, x: number, y: number): void {
  let al = v[a]!, ah = v[a + 1]!, bl = v[b]!, bh = v[b + 1]!;
  let cl = v[c]!, ch = v[c + 1]!, dl = v[d]!, dh = v[d + 1]!;
  let t: number, u: number;
  // a = a + b + m[x]
  t = al + bl; ah = ah + bh + (t > 0xffffffff ? 1 : 0); al = t >>> 0;
  t = al + m[x]!; ah = (ah + m[x + 1]! + (t > 0xffffffff ? 1 : 0)) >>> 0; al = t >>> 0;
  // d = (d ^ a) >>> 32: swap the halves
  t = (dl ^ al) >>> 0; dl = (dh ^ ah) >>> 0; dh = t;
  // c = c + d
  t = cl + dl; ch = (ch + dh + (t > 0xffffffff ? 1 : 0)) >>> 0; cl = t >>> 0;
  // b = (b ^ c) >>> 24
  t = bl ^ cl; u = bh ^ ch;
  bl = ((t >>> 24) | (u << 8)) >>> 0; bh = ((u >>> 24) | (t << 8)) >>> 0;
  // a = a + b + m[y]
  t = al + bl; ah = ah + bh + (t > 0xffffffff ? 1 : 0); al = t >>> 0;
  t = al + m[y]!; ah = (ah + m[y + 1]! + (t > 0xffffffff ? 1 : 0)) >>> 0; al = t >>> 0;
  // d = (d ^ a) >>> 16
  t = dl ^ al; u = dh ^ ah;
  dl = ((t >>> 16) | (u << 16)) >>> 0; dh = ((u >>> 16) | (t << 16)) >>> 0;
  // c = c + d
  t = cl + dl; ch = (ch + dh + (t > 0xffffffff ? 1 : 0)) >>> 0; cl = t >>> 0;
  // b = (b ^ c) >>> 63, i.e. rotate left by 1
  t = bl ^ cl; u = bh ^ ch;
  bl = ((u >>> 31) | (t << 1)) >>> 0; bh = ((t >>> 31) | (u << 1)) >>> 0;
  v[a] = al; v[a + 1] = ah; v[b] = bl; v[b + 1] = bh;
  v[c] = cl; v[c + 1] = ch; v[d] = dl; v[d + 1] = dh;
}

/** BLAKE2b-256 of a buffer, lower-case hex: PyPI's `blake2_256_digest`. */
export function blake2b256Hex(data: Uint8Array): string {
  return new Blake2b(32).update(data).digest('hex');
}

/** A pass-through stream that computes BLAKE2b (32 bytes unless told) of what flows through it, like HashingStream. */
export class Blake2bStream extends Transform {
  private readonly hash: Blake2b;
  constructor(outputLength = 32) {
    super();
    this.hash = new Blake2b(outputLength);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    done(null, chunk);
  }

  /** Lower-case hex; only valid once the stream has ended. */
  hex(): string {
    return this.hash.digest('hex');
  }
}
