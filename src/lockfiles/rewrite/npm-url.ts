/**
 * An npm registry tarball URL on another registry: every npm registry serves
 * `<registry>/<name>/-/<file>.tgz` (isRegistryTarball), CodeArtifact included
 * (`<endpoint><@scope/name>/-/<name>-<version>.tgz`), so the part after the
 * registry's own prefix moves over as it is. The fragment (yarn classic keeps
 * the tarball's sha1 there) is kept; a query (a signed URL) is dropped.
 */
import { isGitUrl, isRegistryTarball } from '../npm-spec.js';

export function tarballOnEndpoint(url: string, endpoint: string): string | undefined {
  if (!isRegistryTarball(url) || isGitUrl(url)) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const m = /\/((?:@[^/]+(?:\/|%2[fF]))?[^/@][^/]*)\/-\/([^/]+\.tgz)$/.exec(u.pathname);
  if (!m?.[1] || !m[2]) return undefined;
  let name: string;
  try {
    name = decodeURIComponent(m[1]);
  } catch {
    return undefined;
  }
  const next = `${endpoint}${name}/-/${m[2]}${u.hash}`;
  return next === url ? undefined : next;
}
