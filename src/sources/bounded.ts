/**
 * Keys and names a source gives, as they may be kept and shown: a source decides how long
 * they are (a packument's version key, a git tag), and each is stored once per version and
 * shown in every report, so none is kept or quoted whole past what any real one holds.
 */
import { createHash } from 'node:crypto';
import { printable } from '../redact.js';

/** The longest version key kept as the source spells it (semver accepts no longer version, CodeArtifact holds 255). */
export const MAX_VERSION_KEY = 256;

/**
 * The key a version is recorded under: the source's own, unless it is longer than any version
 * (then it is no version, and never migrated): a prefix and a hash of the whole, so a source
 * cannot make the state and every report carry megabytes per version, and two long keys that
 * share a prefix stay two rows.
 */
export function boundedKey(key: string): string {
  if (key.length <= MAX_VERSION_KEY) return key;
  let prefix = key.slice(0, 100);
  if (/[\uD800-\uDBFF]$/.test(prefix)) prefix = prefix.slice(0, -1); // never half a character
  return `${prefix}…sha256:${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

/** A key or name from a source, quoted, for a message: at most its first 80 characters, and how long it is. */
export function shownKey(key: string): string {
  return key.length > 80 ? `"${printable(key.slice(0, 80))}…" (${key.length} characters)` : `"${printable(key)}"`;
}
