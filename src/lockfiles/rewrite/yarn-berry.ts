/**
 * yarn.lock of yarn berry (v2+): a block's `resolution: "name@npm:1.2.3"` names no URL, yarn
 * asks the registry .yarnrc.yml names (npmRegistryServer). But where that registry's packument
 * gave a tarball URL other than the conventional one (`<registry>/<name>/-/<name>-<version>.tgz`),
 * yarn writes it into the resolution, `name@npm:1.2.3::__archiveUrl=<URL, percent-encoded>`
 * (NpmSemverResolver), and downloads that URL whatever npmRegistryServer says (NpmHttpFetcher).
 * An Artifactory or a registry behind a proxy gives such URLs for every package, CodeArtifact
 * itself too (its tarball URLs carry `:443`). Those that are registry tarballs move to the npm
 * endpoint as every other format's do (tarballMover: only from a registry the shared repository
 * serves), encoded as yarn encodes them (querystring.escape: encodeURIComponent's set); the
 * checksum (of yarn's zip of the package, named by its path, not by the URL) stays valid.
 *
 * Only a block's own field (blockFieldLines): a dependency NAMED resolution under
 * `dependencies:` is a descriptor's range, and stays.
 */
import { publicUrl } from '../../redact.js';
import { isRegistryTarball } from '../npm-spec.js';
import { tarballMover } from './npm-url.js';
import { replaceAll, type RewriteResult, type RewriteTargets } from './types.js';
import { blockFieldLines } from './yarn-classic.js';

/**
 * What .yarnrc.yml needs for the shared repository. npmAlwaysAuth too: without it yarn sends the
 * token only for a scoped package, and CodeArtifact refuses an unscoped one's download (yarn 4:
 * "Invalid authentication (as an anonymous user)"), an `__archiveUrl` one's as any other.
 */
const YARNRC = 'npmRegistryServer (the shared repository), npmAuthToken (from the environment: "${CODEARTIFACT_AUTH_TOKEN}") and npmAlwaysAuth: true in .yarnrc.yml, and the same under any npmScopes entry that names the old registry (a scope\'s own npmRegistryServer wins for its packages)';
const NO_URL = `yarn berry lockfiles name no registry URL: set ${YARNRC}`;

export function rewriteYarnBerry(text: string, targets: RewriteTargets): RewriteResult {
  if (!text.includes('__archiveUrl')) return { text, changes: [], notes: [NO_URL], already: 0 };
  if (!targets.npm) return { text, changes: [], notes: ['no shared npm repository in the job: nothing rewritten'], already: 0 };
  const mover = tarballMover({ ...targets, npm: targets.npm });
  const fields = blockFieldLines(text);
  let archives = 0;
  // archive URLs that are no registry tarball path (GitHub Packages' /download/…): by host, an example
  const elsewhere = new Map<string, string>();
  const { text: out, changes } = replaceAll(text, /^([ \t]+(?:resolution|"resolution"):[ \t]+)("(?:[^"\\\n]|\\.)*")(?=[ \t]*\r?$)/gm, (m) => {
    if (!fields.has(m.index)) return undefined;
    const quoted = m[2]!;
    const value = JSON.parse(quoted) as string;
    // only the quoting yarn writes (no escapes): the rest of the line is kept byte for byte
    if (JSON.stringify(value) !== quoted) return undefined;
    const params = value.indexOf('::');
    if (params === -1) return undefined;
    let at = params + 2;
    for (const param of value.slice(at).split('&')) {
      const eq = param.indexOf('=');
      if (eq !== -1 && param.slice(0, eq) === '__archiveUrl') {
        const raw = param.slice(eq + 1);
        let from: string;
        try {
          from = decodeURIComponent(raw.replace(/\+/g, ' '));
        } catch {
          return undefined;
        }
        archives++;
        const to = mover.move(from);
        if (!to) {
          if (!isRegistryTarball(from)) {
            const host = hostOf(from);
            if (!elsewhere.has(host)) elsewhere.set(host, publicUrl(from));
          }
          return undefined;
        }
        const start = at + eq + 1;
        const moved = `${value.slice(0, start)}${encodeURIComponent(to)}${value.slice(start + raw.length)}`;
        return { from, to, replacement: `${m[1]}${JSON.stringify(moved)}` };
      }
      at += param.length + 1;
    }
    return undefined;
  });
  const rest = archives
    ? `its other resolutions name no registry URL: set ${YARNRC}; a resolution whose __archiveUrl moved is a new name to yarn's cache, so yarn fetches it again (a zero-install cache needs a yarn install without --immutable-cache)`
    : NO_URL;
  const left = [...elsewhere].map(
    ([host, example]) =>
      `resolutions whose __archiveUrl is on ${host} (e.g. ${example}) left as they are: no registry tarball path (<registry>/<name>/-/<file>.tgz), so not known to be a package the shared repository serves; yarn downloads them from there whatever npmRegistryServer says: once the shared repository holds them, remove their ::__archiveUrl=… (yarn then asks npmRegistryServer), or yarn up them`,
  );
  return { text: out, changes, notes: [...mover.notes(changes.length), ...left, rest], already: mover.already() };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(no host)';
  }
}
