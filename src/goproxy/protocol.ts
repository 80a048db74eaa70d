/**
 * The GOPROXY protocol's URLs and version rules (https://go.dev/ref/mod#goproxy-protocol),
 * as pure functions: which request a path is, module path and version unescaping, what
 * `@v/list` lists and which version `@latest` is.
 *
 *   GET $base/$module/@v/list             known versions, one per line, no pseudo-versions
 *   GET $base/$module/@v/$version.info    {"Version": ..., "Time": ...}
 *   GET $base/$module/@v/$version.mod     the go.mod file
 *   GET $base/$module/@v/$version.zip     the module zip
 *   GET $base/$module/@latest             the .info of the latest version (go asks when the list is empty)
 *
 * `$module` and `$version` are escaped: an upper-case letter is `!` and its lower case
 * (x/mod module.EscapePath), so the paths are the same on case-insensitive file systems.
 */
import { checkModulePath, checkPathMajor, compareGoSemver, isCanonicalVersion, isIncompatible, isPrerelease, isPseudoVersion, splitPathVersion } from '../builders/go-rules.js';
import { goModuleToGeneric } from '../targets/go-mapping.js';

/**
 * CodeArtifact's limit on a namespace, a package name and a version: `[^#/\s]{1,255}`
 * (https://docs.aws.amazon.com/codeartifact/latest/APIReference/API_ListPackageVersions.html).
 * A module path or version past it cannot be in the repository, so it is "not found"
 * (and go tries the next proxy), never a rejected call passed on as a 502.
 */
const MAX_COORDINATE = 255;

export type GoProxyRoute =
  | { kind: 'list'; module: string }
  | { kind: 'latest'; module: string }
  | { kind: 'file'; module: string; version: string; ext: 'info' | 'mod' | 'zip' }
  /** A well-formed request for something this proxy never has (a branch name, `v1.2`, an unknown route). */
  | { kind: 'not-found'; why: string }
  /** Not a GOPROXY request at all: 400. */
  | { kind: 'bad'; why: string };

/**
 * x/mod module.unescapeString: `!x` is `X`; a raw upper-case letter, a `!` before anything
 * but a lower-case letter, or a non-ASCII character makes the string invalid.
 */
export function unescapeGo(escaped: string): string | undefined {
  let out = '';
  let bang = false;
  for (const c of escaped) {
    if (c.codePointAt(0)! >= 0x80) return undefined;
    if (bang) {
      bang = false;
      if (c < 'a' || c > 'z') return undefined;
      out += c.toUpperCase();
      continue;
    }
    if (c === '!') {
      bang = true;
      continue;
    }
    if (c >= 'A' && c <= 'Z') return undefined;
    out += c;
  }
  return bang ? undefined : out;
}

/** Which request a URL path is (already without the query string). */
export function parseGoProxyPath(rawPath: string): GoProxyRoute {
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return { kind: 'bad', why: 'the path is not valid percent-encoding' };
  }
  if (!path.startsWith('/')) return { kind: 'bad', why: 'the path must start with /' };
  // A module path never holds '@': the first "/@" ends it.
  const at = path.indexOf('/@');
  if (at < 0) return { kind: 'not-found', why: 'not a GOPROXY path (/<module>/@v/list, /<module>/@v/<version>.info|.mod|.zip, /<module>/@latest)' };
  const escapedModule = path.slice(1, at);
  const rest = path.slice(at + 1);
  const module = unescapeGo(escapedModule);
  if (module === undefined) return { kind: 'bad', why: `${JSON.stringify(escapedModule)} is not an escaped module path (upper-case letters are written !x)` };
  const badPath = checkModulePath(module);
  if (badPath) return { kind: 'bad', why: `${JSON.stringify(module)} is not a valid module path: ${badPath}` };
  const generic = goModuleToGeneric(module);
  if (generic.namespace.length > MAX_COORDINATE || generic.package.length > MAX_COORDINATE) {
    return { kind: 'not-found', why: `${module}: too long to be held by CodeArtifact (${MAX_COORDINATE} characters for the host and for the rest of the path)` };
  }
  if (rest === '@latest') return { kind: 'latest', module };
  if (rest === '@v/list') return { kind: 'list', module };
  const file = /^@v\/([^/]+)\.(info|mod|zip)$/.exec(rest);
  if (!file) return { kind: 'not-found', why: `${rest} is not a GOPROXY file name` };
  const version = unescapeGo(file[1]!);
  if (version === undefined) return { kind: 'bad', why: `${JSON.stringify(file[1])} is not an escaped version` };
  if (version.length > MAX_COORDINATE) return { kind: 'not-found', why: `${module}: a version longer than ${MAX_COORDINATE} characters cannot be held by CodeArtifact` };
  // go asks a proxy for queries too (a branch, `v1.2`); only canonical versions are stored
  if (!isCanonicalVersion(version)) return { kind: 'not-found', why: `${module}@${version}: only canonical versions (vX.Y.Z[-pre][+incompatible]) are served: unknown revision ${version}` };
  return { kind: 'file', module, version, ext: file[2] as 'info' | 'mod' | 'zip' };
}

/** Go's semver order (golang.org/x/mod/semver.Compare; build metadata ignored), ties by string as semver.Sort. */
export function compareGoVersions(a: string, b: string): number {
  return compareGoSemver(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * The versions go can take for this module path (module.Check): canonical, and of the major
 * version the path allows (`example.com/m` v0, v1 or vN+incompatible; `example.com/m/v2` v2).
 * `run` never publishes another, but the repository may hold one; listed, go picks a stray
 * v2.0.0 as the latest of `example.com/m` and then refuses it ("invalid version: should be v0 or v1").
 */
export function versionsForPath(module: string, versions: Iterable<string>): string[] {
  const { pathMajor } = splitPathVersion(module);
  return [...versions].filter((v) => isCanonicalVersion(v) && checkPathMajor(v, pathMajor) === undefined);
}

/**
 * The version a `<query>.info` stands for when the query itself cannot be one of this path:
 * `v2.0.0` of a path without /vN is `v2.0.0+incompatible` (cmd/go's codeRepo.Stat, and
 * proxy.golang.org, answer so; proxyRepo.Stat takes another Version than the one asked for
 * exactly when the one asked for fails module.Check). `go get m@v2.0.0` asks for it so.
 */
export function incompatibleQuery(module: string, version: string): string | undefined {
  if (isIncompatible(version)) return undefined;
  const { pathMajor } = splitPathVersion(module);
  const wanted = `${version}+incompatible`;
  return checkPathMajor(version, pathMajor) !== undefined && checkPathMajor(wanted, pathMajor) === undefined ? wanted : undefined;
}

/** What `@v/list` lists: canonical tagged versions, no pseudo-versions, in Go's order. */
export function listableVersions(versions: Iterable<string>): string[] {
  return [...versions].filter((v) => isCanonicalVersion(v) && !isPseudoVersion(v)).sort(compareGoVersions);
}

/** `@latest`: the highest release, else the highest prerelease (a pseudo-version last of all). */
export function latestVersion(versions: Iterable<string>): string | undefined {
  const canonical = [...versions].filter(isCanonicalVersion).sort(compareGoVersions);
  const releases = canonical.filter((v) => !isPrerelease(v));
  const tagged = canonical.filter((v) => !isPseudoVersion(v));
  return releases.at(-1) ?? tagged.at(-1) ?? canonical.at(-1);
}

/**
 * GONOSUMDB for these module paths: each path once, none below another (GONOSUMDB
 * matches path prefixes element by element, https://go.dev/ref/mod#environment-variables).
 */
export function noSumDbPrefixes(modulePaths: Iterable<string>): string[] {
  // shortest first, so a path's ancestors are settled before it; each path looks up its own
  // ancestors (a few), never every path kept: 20,000 modules took 17 s at the proxy's start so
  const sorted = [...new Set(modulePaths)].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : a > b ? 1 : 0));
  const kept = new Set<string>();
  for (const p of sorted) {
    const elements = p.split('/');
    let covered = false;
    for (let i = 1; i < elements.length && !covered; i++) covered = kept.has(elements.slice(0, i).join('/'));
    if (!covered) kept.add(p);
  }
  return [...kept].sort();
}

/**
 * The longest GONOSUMDB the proxy hands out. Linux refuses to start a program with any
 * one environment string over 128 KiB (MAX_ARG_STRLEN: execve fails with E2BIG), so a
 * variable listing thousands of module paths would stop go, and every other program run
 * from that shell, from starting at all. A quarter of it leaves room for the rest.
 */
export const MAX_NOSUMDB_CHARS = 32 * 1024;

/**
 * The GONOSUMDB value for these prefixes (noSumDbPrefixes'), at most `max` characters:
 * the paths themselves when they fit, else each cut to its first N elements, for the
 * largest N that fits (`git.acme.example/platform/a`, `/b`, … becomes
 * `git.acme.example/platform`). A shorter prefix still covers every module below it (go
 * matches the patterns against path prefixes element by element), but also modules the
 * repository does not hold, which then skip the checksum database too: `shortened` says so.
 */
export function noSumDbValue(prefixes: readonly string[], max = MAX_NOSUMDB_CHARS): { value: string; shortened: boolean } {
  const joined = prefixes.join(',');
  if (joined.length <= max) return { value: joined, shortened: false };
  // a loop, not Math.max(...): spread as arguments, some 150,000 prefixes overflow the stack
  let deepest = 0;
  for (const p of prefixes) deepest = Math.max(deepest, p.split('/').length);
  let value = joined;
  for (let depth = deepest - 1; depth >= 1 && value.length > max; depth--) {
    value = noSumDbPrefixes(prefixes.map((p) => p.split('/').slice(0, depth).join('/'))).join(',');
  }
  // host names alone that do not fit cannot be cut further: go will not start with them (E2BIG), nothing here can help
  return { value, shortened: value !== joined };
}
