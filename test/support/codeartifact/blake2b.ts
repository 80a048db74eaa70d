/**
 * BLAKE2b with a chosen digest length (RFC 7693), for checking the `blake2_256_digest` field of a
 * PyPI upload. Node's crypto only offers `blake2b512` and refuses `outputLength`, and BLAKE2b-256
 * is not a truncated BLAKE2b-512 (the digest length is mixed into the initial state), so the
 * stand-in carries its own. It is written separately from the tool's `src/integrity/blake2.ts` on
 * purpose: a stand-in sharing the tool's code would share its bugs.
 *
 * 64-bit words are held as (low, high) pairs of 32-bit halves in a Uint32Array, because JavaScript
 * has no fast 64-bit integer arithmetic (BigInt is ~50x slower).
 * https://www.rfc-editor.org/rfc/rfc7693
 */

// RFC 7693 section 2.6: the initialisation vector (SHA-512's), as (low, high) halves.
const IV = new Uint32Array([
  0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85, 0xfe94f82b, 0x3c6ef372, 0x5f1d36f1, 0xa54ff53a,
  0xade682d1, 0x510e527f, 0x2b3e6c1f, 0x9b05688c, 0xfb41bd6b, 0x1f83d9ab, 0x137e2179, 0x5be0cd19,
]);

// RFC 7693 section 2.7: message word permutations; rounds 10 and 11 reuse rows 0 and 1.
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
];

const BLOCK = 128;

class Blake2b {
  private readonly h = new Uint32Array(16);
  private readonly v = new Uint32Array(32);
  private readonly m = new Uint32Array(32);
  private readonly buffer = new Uint8Array(BLOCK);
  private filled = 0;
  /** bytes compressed so far (a double is exact up to 2^53 bytes, far beyond any asset) */
  private counter = 0;

  constructor(private readonly outLength: number) {
    if (!Number.isInteger(outLength) || outLength < 1 || outLength > 64) throw new RangeError('BLAKE2b digest length must be 1..64 bytes');
    this.h.set(IV);
    // Parameter block word 0: digest length, key length 0, fanout 1, depth 1 (section 2.5, 3.2).
    this.h[0] = (this.h[0] as number) ^ (0x01010000 | outLength);
  }

  update(data: Uint8Array): this {
    let offset = 0;
    while (offset < data.length) {
      // The last block must be compressed with the final flag, so a full buffer is only
      // compressed once more input is known to follow.
      if (this.filled === BLOCK) {
        this.counter += BLOCK;
        this.compress(false);
        this.filled = 0;
      }
      const take = Math.min(BLOCK - this.filled, data.length - offset);
      this.buffer.set(data.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
    }
    return this;
  }

  digest(): Buffer {
    this.counter += this.filled;
    this.buffer.fill(0, this.filled);
    this.compress(true);
    const out = Buffer.alloc(64);
    for (let i = 0; i < 16; i++) out.writeUInt32LE(this.h[i] as number, i * 4);
    return out.subarray(0, this.outLength);
  }

  private compress(last: boolean): void {
    const { v, m, h } = this;
    for (let i = 0; i < 32; i++) {
      const j = i * 4;
      m[i] = (this.buffer[j] as number) | ((this.buffer[j + 1] as number) << 8) | ((this.buffer[j + 2] as number) << 16) | ((this.buffer[j + 3] as number) << 24);
    }
    v.set(h, 0);
    v.set(IV, 16);
    // v12..v13 ^= the 128-bit byte counter; v14 inverted for the final block (section 3.2).
    v[24] = (v[24] as number) ^ (this.counter >>> 0);
    v[25] = (v[25] as number) ^ Math.floor(this.counter / 0x100000000);
    if (last) {
      v[28] = ~(v[28] as number);
      v[29] = ~(v[29] as number);
    }
    for (let round = 0; round < 12; round++) {
      const s = SIGMA[round % 10] as number[];
      const x = (i: number): number => (s[i] as number) * 2;
      this.mix(0, 8, 16, 24, x(0), x(1));
      this.mix(2, 10, 18, 26, x(2), x(3));
      this.mix(4, 12, 20, 28, x(4), x(5));
      this.mix(6, 14, 22, 30, x(6), x(7));
      this.mix(0, 10, 20, 30, x(8), x(9));
      this.mix(2, 12, 22, 24, x(10), x(11));
      this.mix(4, 14, 16, 26, x(12), x(13));
      this.mix(6, 8, 18, 28, x(14), x(15));
    }
    for (let i = 0; i < 16; i++) h[i] = (h[i] as number) ^ (v[i] as number) ^ (v[i + 16] as number);
  }

  /** v[a] += v[b] + (lo, hi), modulo 2^64. */
  private add(a: number, b: number, lo = 0, hi = 0): void {
    const v = this.v;
    const low = (v[a] as number) + (v[b] as number) + lo;
    v[a] = low;
    v[a + 1] = (v[a + 1] as number) + (v[b + 1] as number) + hi + Math.floor(low / 0x100000000);
  }

  /** The G function (section 3.1) with rotations 32, 24, 16, 63 on (low, high) halves. */
  private mix(a: number, b: number, c: number, d: number, ix: number, iy: number): void {
    const { v, m } = this;
    this.add(a, b, m[ix] as number, m[ix + 1] as number);
    let lo = (v[d] as number) ^ (v[a] as number);
    let hi = (v[d + 1] as number) ^ (v[a + 1] as number);
    v[d] = hi; // rotate right 32: swap the halves
    v[d + 1] = lo;
    this.add(c, d);
    lo = (v[b] as number) ^ (v[c] as number);
    hi = (v[b + 1] as number) ^ (v[c + 1] as number);
    v[b] = (lo >>> 24) ^ (hi << 8);
    v[b + 1] = (hi >>> 24) ^ (lo << 8);
    this.add(a, b, m[iy] as number, m[iy + 1] as number);
    lo = (v[d] as number) ^ (v[a] as number);
    hi = (v[d + 1] as number) ^ (v[a + 1] as number);
    v[d] = (lo >>> 16) ^ (hi << 16);
    v[d + 1] = (hi >>> 16) ^ (lo << 16);
    this.add(c, d);
    lo = (v[b] as number) ^ (v[c] as number);
    hi = (v[b + 1] as number) ^ (v[c + 1] as number);
    v[b] = (hi >>> 31) ^ (lo << 1); // rotate right 63 = rotate left 1
    v[b + 1] = (lo >>> 31) ^ (hi << 1);
  }
}

/** Lower-case hex BLAKE2b digest of `outLength` bytes (32 for PyPI's blake2_256_digest). */
export function blake2bHex(data: Uint8Array, outLength = 32): string {
  return new Blake2b(outLength).update(data).digest().toString('hex');
}
