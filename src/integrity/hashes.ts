/**
 * Hashing in one place. Every blob is hashed once, while it streams to disk,
 * with every algorithm anybody will ask about: SRI sha512 (npm's
 * `dist.integrity`), sha1 (`dist.shasum`), sha256 (PyPI, the generic publish
 * API's `x-amz-content-sha256`) and md5 (CodeArtifact reports it too).
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import ssri from 'ssri';
import { MigrateError } from '../errors.js';
import type { Hashes } from '../types.js';

/** A pass-through stream that hashes what flows through it. */
export class HashingStream extends Transform {
  private readonly hashes: Record<keyof Hashes, Hash> = {
    md5: createHash('md5'),
    sha1: createHash('sha1'),
    sha256: createHash('sha256'),
    sha512: createHash('sha512'),
  };
  private bytes = 0;
  private result?: Hashes;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    for (const h of Object.values(this.hashes)) h.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  /** The digests; only valid once the stream has ended. */
  digest(): { hashes: Hashes; size: number } {
    this.result ??= {
      md5: this.hashes.md5.digest('hex'),
      sha1: this.hashes.sha1.digest('hex'),
      sha256: this.hashes.sha256.digest('hex'),
      sha512: this.hashes.sha512.digest('hex'),
    };
    return { hashes: this.result, size: this.bytes };
  }
}

export function hashBuffer(data: Buffer): Hashes {
  const hex = (alg: string) => createHash(alg).update(data).digest('hex');
  return { md5: hex('md5'), sha1: hex('sha1'), sha256: hex('sha256'), sha512: hex('sha512') };
}

/** `sha512-<base64>` from a hex SHA-512, the form npm lockfiles carry. */
export function sriFromSha512Hex(hex: string): string {
  return `sha512-${Buffer.from(hex, 'hex').toString('base64')}`;
}

/** The hash a source declares, reduced to the strongest algorithm we can check. */
export interface Declared {
  algorithm: 'sha512' | 'sha1';
  /** Lower-case hex digest. */
  hex: string;
  /** True when only sha1 is available: collisions are practical, so reports flag it. */
  weak: boolean;
}

/**
 * Pick what to check the bytes against: sha512 from `dist.integrity` when it is
 * there, else sha1 from the integrity string or `dist.shasum` (packages published
 * before npm 5 carry only a shasum).
 */
export function declaredHash(integrity: string | undefined, shasum: string | undefined): Declared | undefined {
  if (integrity) {
    // ssri.parse answers null for a string with no hash in it at all
    const parsed = ssri.parse(integrity, { strict: false }) as ssri.IntegrityMap | null;
    const sha512 = digestHex(parsed?.sha512?.[0]?.digest, 64);
    if (sha512) return { algorithm: 'sha512', hex: sha512, weak: false };
    const sha1 = digestHex(parsed?.sha1?.[0]?.digest, 20);
    if (sha1) return { algorithm: 'sha1', hex: sha1, weak: true };
  }
  if (shasum && /^[0-9a-f]{40}$/i.test(shasum)) return { algorithm: 'sha1', hex: shasum.toLowerCase(), weak: true };
  return undefined;
}

/** A base64 digest as hex, or undefined when it does not decode to a digest of that algorithm's length. */
function digestHex(base64: string | undefined, bytes: number): string | undefined {
  if (!base64) return undefined;
  const digest = Buffer.from(base64, 'base64');
  return digest.length === bytes ? digest.toString('hex') : undefined;
}

/** Throws EINTEGRITY unless the bytes' hash equals what the source declared. */
export function checkDeclared(subject: string, declared: Declared, actual: Hashes): void {
  const got = actual[declared.algorithm];
  if (got === declared.hex) return;
  throw new MigrateError('EINTEGRITY', `${subject}: the bytes the source served do not match its declared ${declared.algorithm}`, {
    subject,
    expected: `${declared.algorithm}:${declared.hex}`,
    actual: `${declared.algorithm}:${got}`,
    hint: 'the source copy is damaged or was replaced; it will not be published. Repair it at the source and rerun',
  });
}
