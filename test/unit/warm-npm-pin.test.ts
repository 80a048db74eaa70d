/**
 * warm's verdict on an npm tarball against a lockfile's `integrity`, held to npm's own: npm ci
 * checks a tarball with ssri (the version npm 11 bundles), which reads the pin's tokens,
 * takes the strongest algorithm among them and compares digests as written. A pin npm would
 * refuse the bytes for must not be reported warmed, and one npm accepts must not be a mismatch.
 */
import { createHash } from 'node:crypto';
import ssri from 'ssri';
import { describe, expect, it } from 'vitest';
import { checkNpm } from '../../src/warm/npm-store.js';
import type { WarmItem } from '../../src/warm/types.js';

const bytes = Buffer.from('the tarball, as far as this test cares');
const b64 = (alg: string) => createHash(alg).update(bytes).digest('base64');
const hex = (alg: string) => createHash(alg).update(bytes).digest('hex');
const tarball = { name: 'package.tgz', sha512: hex('sha512'), sha1: hex('sha1') };
const item = (integrity: string): WarmItem => ({ ecosystem: 'npm', name: 'p', displayName: 'p', version: '1.0.0', kind: 'registry', internal: false, expected: { integrity }, files: ['package-lock.json'] });

const PINS: [string, string][] = [
  ['the sha512', `sha512-${b64('sha512')}`],
  ['the sha512 cut short (a bad merge)', `sha512-${b64('sha512').slice(0, 60)}`],
  ['the sha512 without its padding', `sha512-${b64('sha512').replace(/=+$/, '')}`],
  ['the sha512 with bytes after its padding', `sha512-${b64('sha512')}x`],
  ['another sha512', `sha512-${createHash('sha512').update('other').digest('base64')}`],
  ['the sha512 and a broken sha1 (npm reads the strongest)', `sha512-${b64('sha512')} sha1-AAAA`],
  ['a broken sha512 and the right sha1 (npm reads the strongest)', `sha512-AAAA sha1-${b64('sha1')}`],
  ['the sha1 alone', `sha1-${b64('sha1')}`],
  ['the sha1 cut short', `sha1-${b64('sha1').slice(0, 20)}`],
];

describe("warm's verdict on an npm pin, as npm ci's", () => {
  it.each(PINS)('%s', (_what, integrity) => {
    const npmAccepts = ssri.checkData(bytes, integrity) !== false;
    const v = checkNpm(item(integrity), [tarball]);
    // npm accepts: no mismatch; npm refuses: never warmed, checked or not
    expect({ ok: v.ok }).toEqual({ ok: npmAccepts });
    if (v.ok) expect(v.checked).toBe(true);
  });
});

describe('two lockfiles pinning one npm version with different bytes', () => {
  const other = (s: string) => `sha512-${createHash('sha512').update(s).digest('base64')}`;
  const two = (first: string, second: string): WarmItem => ({ ...item(first), expected: { integrity: first, otherIntegrity: [{ integrity: second, lockfiles: ['b/package-lock.json'] }] }, files: ['a/package-lock.json', 'b/package-lock.json'] });

  it('bytes that match neither pin: the mismatch names both lockfiles, not the first alone (fixing it to the other pin would not do)', () => {
    const v = checkNpm(two(other('one'), other('two')), [tarball]);
    expect(v.ok).toBe(false);
    expect(!v.ok && v.detail).toContain('a/package-lock.json');
    expect(!v.ok && v.detail).toContain('b/package-lock.json');
  });

  it('bytes that match one pin: only the other lockfile is named', () => {
    for (const [first, second, wrong, right] of [
      [`sha512-${b64('sha512')}`, other('two'), 'b/package-lock.json', 'a/package-lock.json'],
      [other('one'), `sha512-${b64('sha512')}`, 'a/package-lock.json', 'b/package-lock.json'],
    ] as const) {
      const v = checkNpm(two(first, second), [tarball]);
      expect(v.ok).toBe(false);
      expect(!v.ok && v.detail).toContain(wrong);
      expect(!v.ok && v.detail).not.toContain(right);
    }
  });
});
