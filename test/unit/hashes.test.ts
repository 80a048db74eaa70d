/** integrity/hashes: what a source declares, how it is checked, and the streaming hasher. */
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import ssri from 'ssri';
import { describe, expect, it } from 'vitest';
import { MigrateError } from '../../src/errors.js';
import { checkDeclared, declaredHash, hashBuffer, HashingStream, sriFromSha512Hex } from '../../src/integrity/hashes.js';

const data = randomBytes(4096);
const hex = (alg: string, b: Buffer = data) => createHash(alg).update(b).digest('hex');
const b64 = (alg: string, b: Buffer = data) => createHash(alg).update(b).digest('base64');

/** The EINTEGRITY a malformed declaration throws, or a test failure when it does not throw. */
function malformed(integrity: string | undefined, shasum: string | undefined): MigrateError {
  try {
    declaredHash(integrity, shasum, 'pkg@1.0.0');
  } catch (e) {
    expect(e).toBeInstanceOf(MigrateError);
    return e as MigrateError;
  }
  throw new Error(`declaredHash(${integrity}, ${shasum}) accepted a malformed declaration`);
}

describe('declaredHash', () => {
  it('picks sha512 over sha1 when the integrity string carries both; the shasum must agree too', () => {
    const d = declaredHash(`sha1-${b64('sha1')} sha512-${b64('sha512')}`, hex('sha1'));
    expect(d).toEqual({ algorithm: 'sha512', hex: hex('sha512'), hexes: [hex('sha512')], weak: false, shasum: hex('sha1') });
  });

  it('uses sha512 from dist.integrity even when dist.shasum is there too', () => {
    expect(declaredHash(`sha512-${b64('sha512')}`, hex('sha1'))?.algorithm).toBe('sha512');
  });

  it('keeps every sha512 an integrity string lists (SRI: the bytes must match one)', () => {
    const other = randomBytes(10);
    expect(declaredHash(`sha512-${b64('sha512', other)} sha512-${b64('sha512')}`, undefined)?.hexes).toEqual([hex('sha512', other), hex('sha512')]);
  });

  it('takes sha1 from the integrity string when that is all it has, and flags it weak', () => {
    expect(declaredHash(`sha1-${b64('sha1')}`, undefined)).toEqual({ algorithm: 'sha1', hex: hex('sha1'), hexes: [hex('sha1')], weak: true });
  });

  it('falls back to dist.shasum (pre-npm-5 packages), lower-cased, flagged weak', () => {
    expect(declaredHash(undefined, hex('sha1').toUpperCase())).toEqual({ algorithm: 'sha1', hex: hex('sha1'), hexes: [hex('sha1')], weak: true });
    // an integrity string with no algorithm we know falls through to the shasum as well
    expect(declaredHash(`md5-${b64('md5')}`, hex('sha1'))).toEqual({ algorithm: 'sha1', hex: hex('sha1'), hexes: [hex('sha1')], weak: true });
  });

  it('nothing declared, or nothing it can name: undefined (ENOINTEGRITY for the caller)', () => {
    expect(declaredHash(undefined, undefined)).toBeUndefined();
    expect(declaredHash('', '')).toBeUndefined();
    expect(declaredHash('garbage', undefined)).toBeUndefined();
  });

  it('a malformed declaration is EINTEGRITY, never a fall-back to a weaker hash', () => {
    expect(malformed(`sha512-${b64('sha512').slice(0, 40)}`, undefined).code).toBe('EINTEGRITY');
    expect(malformed('sha512-!!!', undefined).code).toBe('EINTEGRITY');
    expect(malformed('sha512', undefined).code).toBe('EINTEGRITY');
    expect(malformed(`sha1-${b64('sha1').slice(0, 10)}`, undefined).code).toBe('EINTEGRITY');
    // the shasum is NOT a way around a damaged sha512
    const e = malformed('sha512-!!!', hex('sha1'));
    expect(e.code).toBe('EINTEGRITY');
    expect(e.subject).toBe('pkg@1.0.0');
    expect(malformed(undefined, hex('sha1').slice(1)).code).toBe('EINTEGRITY');
    expect(malformed('garbage', 'not-a-sha1').code).toBe('EINTEGRITY');
  });
});

describe('checkDeclared', () => {
  it('passes when the bytes match', () => {
    expect(() => checkDeclared('a@1.0.0', declaredHash(`sha512-${b64('sha512')}`, undefined)!, hashBuffer(data))).not.toThrow();
    expect(() => checkDeclared('a@1.0.0', declaredHash(undefined, hex('sha1'))!, hashBuffer(data))).not.toThrow();
  });

  it('throws EINTEGRITY with the expected and the actual hash', () => {
    const other = randomBytes(4096);
    const declared = declaredHash(`sha512-${b64('sha512')}`, undefined)!;
    let thrown: unknown;
    try {
      checkDeclared('@acme/core@1.2.3', declared, hashBuffer(other));
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(MigrateError);
    const e = thrown as MigrateError;
    expect(e.code).toBe('EINTEGRITY');
    expect(e.subject).toBe('@acme/core@1.2.3');
    expect(e.expected).toBe(`sha512:${hex('sha512')}`);
    expect(e.actual).toBe(`sha512:${hex('sha512', other)}`);
  });

  it('a sha512 match with a contradicting dist.shasum is EINTEGRITY (a registry lying in one of its two hashes)', () => {
    const declared = declaredHash(`sha512-${b64('sha512')}`, hex('sha1', randomBytes(5)))!;
    try {
      checkDeclared('two@1.0.0', declared, hashBuffer(data));
      expect.unreachable('a contradicting shasum must not pass');
    } catch (e) {
      expect((e as MigrateError).code).toBe('EINTEGRITY');
      expect((e as MigrateError).actual).toBe(`sha1:${hex('sha1')}`);
    }
  });

  it('checks sha1 with sha1 when that is what was declared', () => {
    const other = randomBytes(10);
    try {
      checkDeclared('old@0.0.1', declaredHash(undefined, hex('sha1'))!, hashBuffer(other));
      expect.unreachable('a different sha1 must not pass');
    } catch (e) {
      expect((e as MigrateError).code).toBe('EINTEGRITY');
      expect((e as MigrateError).actual).toBe(`sha1:${hex('sha1', other)}`);
    }
  });
});

describe('HashingStream', () => {
  it('equals node:crypto over random data fed in odd-sized chunks, and passes the bytes through unchanged', async () => {
    const big = randomBytes(3 * 1024 * 1024 + 17);
    const sizes = [1, 7, 4093, 65_537, 3, 250_001, 13];
    const chunks: Buffer[] = [];
    for (let at = 0, i = 0; at < big.length; i++) {
      const n = sizes[i % sizes.length]!;
      chunks.push(big.subarray(at, at + n));
      at += n;
    }
    const hasher = new HashingStream();
    const out: Buffer[] = [];
    await pipeline(
      Readable.from(chunks),
      hasher,
      new Writable({
        write(c: Buffer, _e, done) {
          out.push(c);
          done();
        },
      }),
    );
    const { hashes, size } = hasher.digest();
    expect(size).toBe(big.length);
    expect(hashes).toEqual({ md5: hex('md5', big), sha1: hex('sha1', big), sha256: hex('sha256', big), sha512: hex('sha512', big) });
    expect(Buffer.concat(out).equals(big)).toBe(true);
    // asking again gives the same answer (the digests are computed once)
    expect(hasher.digest().hashes).toEqual(hashes);
  });

  it('an empty stream hashes like empty input', async () => {
    const hasher = new HashingStream();
    await pipeline(Readable.from([]), hasher, new Writable({ write: (_c, _e, done) => done() }));
    expect(hasher.digest()).toEqual({ hashes: hashBuffer(Buffer.alloc(0)), size: 0 });
  });
});

describe('hashBuffer and sriFromSha512Hex', () => {
  it('hashBuffer equals node:crypto', () => {
    expect(hashBuffer(data)).toEqual({ md5: hex('md5'), sha1: hex('sha1'), sha256: hex('sha256'), sha512: hex('sha512') });
  });

  it('sriFromSha512Hex gives the lockfile form, as ssri computes it', () => {
    const sri = sriFromSha512Hex(hex('sha512'));
    expect(sri).toBe(`sha512-${b64('sha512')}`);
    expect(sri).toBe(ssri.fromData(data, { algorithms: ['sha512'] }).toString());
    // and round-trips through declaredHash
    expect(declaredHash(sri, undefined)?.hex).toBe(hex('sha512'));
  });
});
