/**
 * An npm registry tarball URL on another registry: every npm registry serves
 * `<registry>/<name>/-/<file>.tgz` (isRegistryTarball), CodeArtifact included
 * (`<endpoint><@scope/name>/-/<name>-<version>.tgz`), so the part after the
 * registry's own prefix moves over as it is. The fragment (yarn classic keeps
 * the tarball's sha1 there) is kept; a query (a signed URL) is dropped.
 *
 * Only a registry whose packages the shared repository serves moves: the public
 * registry (its upstream) and the job's own sources (migrated into internal). A
 * tarball from any other registry stays as it is, and is said: the shared
 * repository does not hold that registry's packages, and under the same name it
 * would fetch the PUBLIC package instead (dependency confusion). So does a
 * package of a source that the job does not migrate from it (notMigratedNpm).
 */
import { publicUrl } from '../../redact.js';
import { isGitUrl, isRegistryTarball } from '../npm-spec.js';
import { alreadyNote, type RewriteTargets } from './types.js';

/** An npm package name as it may stand in a URL path (validate-npm-package-name, old upper-case names allowed). */
const NAME = /^(?:@[A-Za-z0-9~-][A-Za-z0-9._~-]*\/)?[A-Za-z0-9~-][A-Za-z0-9._~-]*$/;
/** A tarball's file name: what registries write, nothing a YAML plain scalar or a path would read otherwise. */
const FILE = /^[A-Za-z0-9._~-]+\.tgz$/;

/** A registry tarball URL's package name (unescaped), file name and fragment; undefined when it is no registry tarball of an npm name. */
function registryTarball(url: string): { name: string; file: string; hash: string } | undefined {
  if (!isRegistryTarball(url) || isGitUrl(url)) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const m = /\/((?:(?:@|%40)[^/]+(?:\/|%2[fF]))?[^/@][^/]*)\/-\/([^/]+\.tgz)$/.exec(u.pathname);
  if (!m?.[1] || !m[2]) return undefined;
  // only a scope's "@" and "/" are ever escaped (`@s%2fname`, `%40s%2fname`); any other escape (`%20`, `..%2f`) is no
  // npm name, and spliced into the endpoint it would break the file or leave the repository
  const name = m[1].replace(/^%40/, '@').replace(/^(@[^/%]+)%2[fF]/, '$1/');
  if (!NAME.test(name) || !FILE.test(m[2])) return undefined;
  return { name, file: m[2], hash: u.hash };
}

/**
 * What a rewriter of an npm lockfile moves: `move` answers the new URL (undefined: the URL
 * stays), `notes` what stayed because its registry is not one the shared repository serves
 * (or that every tarball is on the shared repository already), `already` how many are.
 */
export function tarballMover(targets: RewriteTargets & { npm: string }): { move: (url: string) => string | undefined; notes: (changed: number) => string[]; already: () => number } {
  const foreign = new Map<string, string>();
  const notMigrated = new Map<string, string>();
  let already = 0;
  return {
    move: (url) => {
      const t = registryTarball(url);
      if (!t) return undefined;
      const to = `${targets.npm}${t.name}/-/${t.file}${t.hash}`;
      if (to === url) {
        already++;
        return undefined;
      }
      const host = targets.foreignNpmHost?.(url);
      if (host) {
        if (!foreign.has(host)) foreign.set(host, publicUrl(url));
        return undefined;
      }
      const source = targets.notMigratedNpm?.(url, t.name);
      if (source) {
        if (!notMigrated.has(source)) notMigrated.set(source, publicUrl(url));
        return undefined;
      }
      return to;
    },
    notes: (changed) => [
      ...[...foreign].map(
        ([host, example]) =>
          `tarballs from ${host} (e.g. ${example}) left as they are: that registry is neither the public one nor a source of the job, so the shared repository does not hold its packages (and would fetch a public package of the same name instead); add it as a source to migrate them`,
      ),
      ...[...notMigrated].map(
        ([host, example]) =>
          `tarballs from ${host} of packages the job does not migrate (e.g. ${example}) left as they are: that registry is one of the job's sources, but the shared repository holds only the packages the job migrates from it, and for any other name would fetch the public package of that name instead (a private one's integrity then fails, or one without integrity installs someone else's code); add them to the source's packages (or scopes) to migrate them, or, if they are public packages that registry only proxies, reinstall them from the public registry`,
      ),
      ...(!changed && already ? [alreadyNote(already)] : []),
    ],
    already: () => already,
  };
}
