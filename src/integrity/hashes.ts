/**
 * Hashing in one place. Every blob is hashed once, while it streams to disk,
 * with every algorithm anybody will ask about: SRI sha512 (npm's
 * `dist.integrity`), sha1 (`dist.shasum`), sha256 (PyPI, the generic publish
 * API's `x-amz-content-sha256`) and md5 (CodeArtifact reports it too).
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
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
  algorithm: 'sha512' | 'sha256' | 'sha1';
  /** Lower-case hex digest (the first one declared). */
  hex: string;
  /** Every digest declared for that algorithm: SRI allows several, and the bytes must match one. */
  hexes: string[];
  /** True when only sha1 is available: collisions are practical, so reports flag it. */
  weak: boolean;
  /** `dist.shasum` declared beside a stronger hash: it must agree with the bytes too. */
  shasum?: string;
}

const DIGEST_BYTES = { sha512: 64, sha384: 48, sha256: 32, sha1: 20 } as const;
type SriAlgorithm = keyof typeof DIGEST_BYTES;

/**
 * Pick what to check the bytes against: sha512 from `dist.integrity` when it is
 * there, else sha256, else sha1 from the integrity string or `dist.shasum`
 * (packages published before npm 5 carry only a shasum).
 *
 * A declaration that names an algorithm but is malformed (a truncated or
 * non-base64 digest) is an integrity error, never a reason to fall back to a
 * weaker hash: a registry that mangles `sha512-` would otherwise downgrade every
 * check to sha1. Tokens that name no known algorithm are ignored, as SRI does.
 * https://w3c.github.io/webappsec-subresource-integrity/#parse-metadata
 */
export function declaredHash(integrity: string | undefined, shasum: string | undefined, subject = 'this version'): Declared | undefined {
  const found: Partial<Record<SriAlgorithm, string[]>> = {};
  for (const token of (integrity ?? '').split(/\s+/).filter(Boolean)) {
    const alg = (Object.keys(DIGEST_BYTES) as SriAlgorithm[]).find((a) => token.toLowerCase().startsWith(a));
    if (!alg) continue;
    const m = /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})(\?.*)?$/.exec(token);
    const digest = m && m[1] === alg ? Buffer.from(m[2]!, 'base64') : undefined;
    if (!digest || digest.length !== DIGEST_BYTES[alg] || digest.toString('base64').replace(/=+$/, '') !== m![2]!.replace(/=+$/, '')) {
      throw new MigrateError('EINTEGRITY', `${subject}: the source declares a malformed ${alg} integrity`, {
        subject,
        actual: token.length > 120 ? `${token.slice(0, 120)}…` : token,
        hint: 'the registry metadata is damaged; the bytes cannot be checked, so the version is not published. Repair it at the source or exclude it',
      });
    }
    (found[alg] ??= []).push(digest.toString('hex'));
  }
  let shasumHex: string | undefined;
  if (shasum !== undefined && shasum !== '') {
    if (!/^[0-9a-f]{40}$/i.test(shasum)) {
      throw new MigrateError('EINTEGRITY', `${subject}: the source declares a malformed dist.shasum`, {
        subject,
        actual: shasum.slice(0, 120),
        hint: 'the registry metadata is damaged; repair it at the source or exclude the version',
      });
    }
    shasumHex = shasum.toLowerCase();
  }
  for (const algorithm of ['sha512', 'sha256'] as const) {
    const hexes = found[algorithm];
    if (hexes) return { algorithm, hex: hexes[0]!, hexes, weak: false, ...(shasumHex ? { shasum: shasumHex } : {}) };
  }
  const sha1 = found.sha1 ?? (shasumHex ? [shasumHex] : undefined);
  if (sha1) return { algorithm: 'sha1', hex: sha1[0]!, hexes: sha1, weak: true, ...(shasumHex && found.sha1 ? { shasum: shasumHex } : {}) };
  if (found.sha384) {
    throw new MigrateError('ENOINTEGRITY', `${subject}: the source declares only sha384, which this tool does not compute`, {
      subject,
      hint: 'exclude this version in filters, or republish it at the source with a sha512 integrity',
    });
  }
  return undefined;
}

/** Throws EINTEGRITY unless the bytes' hash equals what the source declared (and dist.shasum, when declared beside it). */
export function checkDeclared(subject: string, declared: Declared, actual: Hashes): void {
  const got = actual[declared.algorithm];
  if (!declared.hexes.includes(got)) {
    throw new MigrateError('EINTEGRITY', `${subject}: the bytes the source served do not match its declared ${declared.algorithm}`, {
      subject,
      expected: `${declared.algorithm}:${declared.hex}`,
      actual: `${declared.algorithm}:${got}`,
      hint: 'the source copy is damaged or was replaced; it will not be published. Repair it at the source and rerun',
    });
  }
  if (declared.shasum && declared.shasum !== actual.sha1) {
    throw new MigrateError('EINTEGRITY', `${subject}: the bytes match the declared ${declared.algorithm}, but not the declared dist.shasum`, {
      subject,
      expected: `sha1:${declared.shasum}`,
      actual: `sha1:${actual.sha1}`,
      hint: 'the registry metadata contradicts itself; repair it at the source or exclude the version',
    });
  }
}
