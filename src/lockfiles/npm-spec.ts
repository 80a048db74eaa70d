/**
 * What an npm-world `resolved` URL or version spec really is: the three npm
 * lockfile formats (npm, yarn, pnpm) write git, tarball and local sources in
 * the same few shapes (https://docs.npmjs.com/cli/v10/configuring-npm/package-json#dependencies).
 */
import type { EntryKind } from './types.js';

const GIT = /^(?:git\+[a-z]+:|git:|github:|gitlab:|bitbucket:|gist:)/i;
/** GitHub's tarball host: how yarn classic and pnpm resolve `github:user/repo`. */
const CODELOAD = /^https?:\/\/codeload\.github\.com\//i;

/** A `git+https://…`, `github:user/repo`, `https://…/x.git#ref` or codeload tarball. */
export function isGitUrl(s: string): boolean {
  return GIT.test(s) || CODELOAD.test(s) || /^https?:\/\/[^#]+\.git(?:#|$)/i.test(s);
}

/** A registry tarball path: `<registry>/<name>/-/<name>-<version>.tgz` (every npm registry serves this layout). */
export function isRegistryTarball(url: string): boolean {
  return /^https?:\/\/[^#?]+\/-\/[^/#?]+\.tgz(?:[#?]|$)/i.test(url);
}

/**
 * The kind behind a `resolved` URL: git, a local tarball or directory
 * (`file:`), a registry tarball, or another URL. `undefined` when there is none.
 */
export function kindOfResolved(resolved: string | undefined): EntryKind | undefined {
  if (!resolved) return undefined;
  if (isGitUrl(resolved)) return 'git';
  if (resolved.startsWith('file:')) return 'file';
  if (/^https?:/i.test(resolved)) return isRegistryTarball(resolved) ? 'registry' : 'url';
  return undefined;
}

/** `npm:real@1.2.3` (an alias spec) -> [`real`, `1.2.3`]. */
export function parseAliasSpec(spec: string): [string, string] | undefined {
  if (!spec.startsWith('npm:')) return undefined;
  const rest = spec.slice(4);
  const at = rest.indexOf('@', 1);
  if (at <= 0) return [rest, ''];
  return [rest.slice(0, at), rest.slice(at + 1)];
}
