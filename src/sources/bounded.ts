/**
 * Keys and names a source gives, as they may be kept and shown: a source decides how long
 * they are (a packument's version key, a git tag), and each is stored once per version and
 * shown in every report, so none is kept or quoted whole past what any real one holds.
 */
import { createHash } from 'node:crypto';
import { checkModulePath } from '../builders/go-rules.js';
import { holdsSecret, printable, redact } from '../redact.js';
import { goModuleToGeneric } from '../targets/go-mapping.js';

/** The longest version key kept as the source spells it (semver accepts no longer version, CodeArtifact holds 255). */
export const MAX_VERSION_KEY = 256;

/**
 * The key a version is recorded under: the source's own, unless it is longer than any version
 * (then it is no version, and never migrated): a prefix and a hash of the whole, so a source
 * cannot make the state and every report carry megabytes per version, and two long keys that
 * share a prefix stay two rows. So too a key that holds a credential the run was given (a
 * registry echoing its token into a prerelease, `1.0.0-<token>`): a key is stored, written to
 * the ledger, printed and published as it is. The prefix is cut from the redacted key: a
 * secret the cut would halve is gone whole first.
 */
export function boundedKey(key: string): string {
  if (key.length <= MAX_VERSION_KEY && !holdsSecret(key)) return key;
  let prefix = redact(key).slice(0, 100);
  if (/[\uD800-\uDBFF]$/.test(prefix)) prefix = prefix.slice(0, -1); // never half a character
  return `${prefix}…sha256:${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

/** A key or name from a source, quoted, for a message: at most its first 80 characters, and how long it is. */
export function shownKey(key: string): string {
  // redacted before it is cut: a secret the cut halves is no longer recognised by the redaction every sink applies
  const shown = redact(key);
  return shown.length > 80 ? `"${printable(shown.slice(0, 80))}…" (${key.length} characters)` : `"${printable(shown)}"`;
}

/** npm package names (https://github.com/npm/validate-npm-package-name), old upper-case names allowed. */
const NPM_NAME = /^(?:@[A-Za-z0-9~-][A-Za-z0-9._~-]*\/)?[A-Za-z0-9~-][A-Za-z0-9._~-]*$/;

/** True for a name npm can publish: at most 214 characters of NPM_NAME. */
export function isNpmName(name: string): boolean {
  return name.length <= 214 && NPM_NAME.test(name);
}

/**
 * Why a Go module path cannot be a package here: go's own rules (module.CheckPath), or a
 * namespace or package name longer than CodeArtifact holds (255 each, targets/go-mapping.ts).
 * A go.mod may be 16 MiB: the length is looked at first.
 */
export function badModulePath(path: string): string | undefined {
  if (path.length > 2 * 255 + 1) return `longer than CodeArtifact holds (${path.length.toLocaleString('en-US')} characters)`;
  const why = checkModulePath(path);
  if (why) return `not a module path (${printable(why)})`;
  const { namespace, package: pkg } = goModuleToGeneric(path);
  if (namespace.length > 255 || pkg.length > 255) return 'longer than CodeArtifact holds (255 characters for its first element, 255 for the rest)';
  return undefined;
}

/**
 * The longest package version and asset name CodeArtifact takes: 255 characters each (service
 * model, botocore codeartifact/2018-09-22: PackageVersion and AssetName, max 255). Past it every
 * call naming the version is a ValidationException.
 */
export const MAX_TARGET_NAME = 255;

/**
 * Why CodeArtifact cannot hold this version of a package of `format`, or undefined: a version over
 * 255 characters; for Go also one whose longest file name, `<version>.info`, is (a Go version is
 * stored as three generic assets named after it: .zip and .mod would go up, .info be refused,
 * and the version stay Unfinished on the target). Found when the version is listed, before it
 * is built (the files are named after it, too long for a file name as well).
 */
export function versionTooLong(format: 'npm' | 'pypi' | 'go', version: string): string | undefined {
  const longest = format === 'go' ? `${version}.info` : version;
  if (longest.length <= MAX_TARGET_NAME) return undefined;
  return format === 'go'
    ? `version of ${version.length} characters: CodeArtifact holds a version and an asset name of at most ${MAX_TARGET_NAME} characters, and the version's file ${shownKey(longest)} would be longer (${longest.length})`
    : `version of ${version.length} characters: CodeArtifact holds a version of at most ${MAX_TARGET_NAME} characters`;
}

/**
 * A copy of `text` that keeps nothing else alive: V8 keeps a slice's whole parent string
 * (a name cut from a 16 MiB go.mod holds the 16 MiB), so what is kept of a large text is copied.
 */
export function detached(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}
