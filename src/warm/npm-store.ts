/**
 * npm through a store repository: the packument (GET `<endpoint><name>`), then
 * the tarball its `dist.tarball` names (GET, Bearer token), exactly what `npm
 * install` asks; CodeArtifact fetches both from its upstream and keeps the
 * tarball (https://docs.aws.amazon.com/codeartifact/latest/ug/npm-commands.html).
 * The bytes are checked against the lockfile's `integrity` (SRI sha512, or sha1
 * where that is all an old lockfile has: flagged weak).
 */
import ssri from 'ssri';
import { MigrateError, toError } from '../errors.js';
import { declaredHash } from '../integrity/hashes.js';
import type { CodeArtifact, PackageCoordinates } from '../targets/codeartifact.js';
import { excerpt, RepositoryEndpoint } from '../targets/endpoint.js';
import { npmCoordinates } from '../targets/npm.js';
import type { FileHashes, WarmItem } from './types.js';
import { ARTIFACT_BUCKETS, DEFAULT_STORE_LIMITS, METADATA_BUCKETS, underEndpoint, type FetchOutcome, type StoreFormat, type StoreLimits, type Verdict } from './store-format.js';

const NPM_ASSET = 'package.tgz';

/** The packument's versions: only what warming needs from each (the tarball URL). */
export interface NpmMeta {
  endpoint: string;
  versions: Map<string, { tarball?: string }>;
}

/** `@scope/name` as npm writes it in a registry path: the scope's slash escaped. */
const escapeName = (name: string) => (name.startsWith('@') ? `@${encodeURIComponent(name.slice(1))}` : encodeURIComponent(name));

/**
 * `<endpoint><@scope/name>/-/<name>-<version>.tgz`, as npm registries serve tarballs, each
 * part escaped: the version is the lockfile's (the packument only has to list it), and a
 * `/../` in it would otherwise walk the URL out of the package, into another repository.
 */
function tarballUrl(endpoint: string, name: string, version: string): string {
  const base = name.slice(name.indexOf('/') + 1);
  return `${tarballFolder(endpoint, name)}${encodeURIComponent(`${base}-${version}`)}.tgz`;
}

/** `<endpoint><@scope/name>/-/`: where the package's own tarballs are, and nothing else's. */
function tarballFolder(endpoint: string, name: string): string {
  const slash = name.startsWith('@') ? name.indexOf('/') : -1;
  const path = slash === -1 ? encodeURIComponent(name) : `@${encodeURIComponent(name.slice(1, slash))}/${encodeURIComponent(name.slice(slash + 1))}`;
  return `${endpoint}${path}/-/`;
}

export class NpmStore implements StoreFormat<NpmMeta> {
  readonly ecosystem = 'npm' as const;
  readonly format = 'npm' as const;
  private readonly http: RepositoryEndpoint;

  constructor(
    private readonly ca: CodeArtifact,
    readonly repository: string,
    private readonly limits: StoreLimits = DEFAULT_STORE_LIMITS,
  ) {
    this.http = new RepositoryEndpoint(ca, { auth: 'bearer', label: `the npm endpoint of ${repository}`, authHint: 'the CodeArtifact token lacks rights: check codeartifact:ReadFromRepository on the store repository and sts:GetServiceBearerToken (README)' });
  }

  coordinates(name: string): PackageCoordinates {
    return npmCoordinates(this.repository, name);
  }

  sameVersion(listed: string, pinned: string): boolean {
    return listed === pinned;
  }

  async metadata(name: string, signal?: AbortSignal): Promise<NpmMeta | undefined> {
    const endpoint = await this.ca.endpoint('npm', this.repository);
    // the abbreviated form npm itself asks for: a fraction of a popular package's full packument
    const res = await this.http.send('reading the packument', METADATA_BUCKETS, name, {
      method: 'GET',
      url: `${endpoint}${escapeName(name)}`,
      headers: { accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8' },
      signal,
      maxBytes: this.limits.metadataBytes,
      timeoutMs: this.limits.idleMs,
      deadlineMs: this.limits.metadataMs,
    });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new MigrateError('ETARGETREJECTED', `${name}: the store answered HTTP ${res.status} for the packument: ${excerpt(res.body)}`, { subject: name, status: res.status });
    let doc: unknown;
    try {
      doc = JSON.parse(res.body);
    } catch (e) {
      throw new MigrateError('ETARGET', `${name}: the store's packument is not JSON: ${toError(e).message}`, { subject: name, cause: e });
    }
    const versions = new Map<string, { tarball?: string }>();
    const raw = typeof doc === 'object' && doc !== null ? (doc as { versions?: unknown }).versions : undefined;
    // a JSON answer without a versions object (a gateway's `{"error": …}`) is no packument: read as one,
    // it listed no version, and the entry was missing-upstream, blamed on a registry never asked
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new MigrateError('ETARGET', `${name}: the store answered HTTP 200 for the packument, but JSON that is not a packument (no "versions" object): ${excerpt(res.body, 200)}`, { subject: name, hint: 'a proxy or gateway between this machine and CodeArtifact, or an endpoint that is not a CodeArtifact npm one (AWS_ENDPOINT_URL_CODEARTIFACT, HTTPS_PROXY) answers instead; fix that, then warm again' });
    }
    for (const [v, d] of Object.entries(raw as Record<string, unknown>)) {
      const dist = typeof d === 'object' && d !== null ? (d as { dist?: { tarball?: unknown } }).dist : undefined;
      versions.set(v, typeof dist?.tarball === 'string' ? { tarball: dist.tarball } : {});
    }
    return { endpoint, versions };
  }

  async fetch(meta: NpmMeta, item: WarmItem, held: readonly FileHashes[], beforeRequest: () => void, signal?: AbortSignal): Promise<FetchOutcome> {
    if (this.complete(item, held)) return { kind: 'fetched', files: [] };
    const subject = `${item.name}@${item.version}`;
    const v = meta.versions.get(item.version);
    if (!v) return { kind: 'not-found', detail: `the packument through ${this.repository} lists no ${item.version}` };
    // the store's own tarball URL (CodeArtifact writes its endpoint there); anything else is not sent our
    // token, and a URL under the endpoint but another package's path is not followed either: the store
    // would fetch that package from its upstream (a private name's public namesake, say) for this entry
    const url = v.tarball && underEndpoint(v.tarball, tarballFolder(meta.endpoint, item.name)) ? v.tarball : tarballUrl(meta.endpoint, item.name, item.version);
    beforeRequest();
    // hashed as it streams, never held: a tarball of any size (or an endless one, cut at the limit) in bounded memory
    const res = await this.http.send('downloading the tarball', ARTIFACT_BUCKETS, subject, { method: 'GET', url, digests: ['sha512', 'sha1'], signal, maxBytes: this.limits.artifactBytes, timeoutMs: this.limits.idleMs, deadlineMs: this.limits.artifactMs });
    if (res.status === 404) return { kind: 'not-found', detail: `the tarball of ${subject} is not found through ${this.repository}` };
    if (res.status !== 200 || !res.digests) throw new MigrateError('ETARGETREJECTED', `${subject}: the store answered HTTP ${res.status} for the tarball: ${excerpt(res.body)}`, { subject, status: res.status });
    return { kind: 'fetched', files: [{ name: NPM_ASSET, size: res.size ?? 0, sha512: res.digests.sha512!, sha1: res.digests.sha1! }] };
  }

  check(item: WarmItem, files: readonly FileHashes[]): Verdict {
    return checkNpm(item, files);
  }

  /**
   * The store holds the tarball, with the hash every pin needs: a listing that leaves out the
   * sha512 (or sha1) the lockfile pins says nothing about the bytes, so they are downloaded
   * and decide (a store that hid its hashes passed other bytes as already cached).
   */
  complete(item: WarmItem, held: readonly FileHashes[]): boolean {
    const file = held.find((f) => f.name === NPM_ASSET);
    if (!file) return false;
    const pins = [item.expected.integrity, ...(item.expected.otherIntegrity ?? []).map((o) => o.integrity)].filter((p): p is string => p !== undefined);
    return pins.every((pin) => {
      const algorithm = npmPin(pin)?.algorithm;
      // a pin of no algorithm we compute: the bytes would not be checked either
      return (algorithm !== 'sha512' && algorithm !== 'sha1') || file[algorithm] !== undefined;
    });
  }
}

/**
 * A packument version's `dist` as the hashes of its tarball (what a registry declares it
 * serves): undefined when it declares none this tool can compare (or a malformed one).
 */
export function declaredTarball(dist: { integrity?: unknown; shasum?: unknown } | undefined): FileHashes | undefined {
  let declared;
  try {
    declared = declaredHash(typeof dist?.integrity === 'string' ? dist.integrity : undefined, typeof dist?.shasum === 'string' ? dist.shasum : undefined);
  } catch {
    return undefined;
  }
  if (!declared) return undefined;
  const sha1 = declared.algorithm === 'sha1' ? declared.hex : declared.shasum;
  return { name: NPM_ASSET, ...(declared.algorithm === 'sha512' ? { sha512: declared.hex } : {}), ...(sha1 ? { sha1 } : {}) };
}

/** The tarball's hashes against every pin of the item (the first lockfile's and every other that differs). */
export function checkNpm(item: WarmItem, files: readonly FileHashes[]): Verdict {
  const file = files.find((f) => f.name === NPM_ASSET);
  if (!file) return { ok: true, checked: false, detail: 'no tarball to check' };
  const { integrity, yarnChecksum } = item.expected;
  if (!integrity) {
    // https://yarnpkg.com/configuration/yarnrc#checksumBehavior: a hash of yarn's cache zip, not of the tarball
    if (yarnChecksum) return { ok: true, checked: false, detail: "yarn berry's checksum hashes yarn's own cache archive, not the registry tarball: not checkable" };
    return { ok: true, checked: false, detail: 'the lockfile pins no integrity' };
  }
  const first = checkIntegrity(file, integrity);
  const others = item.expected.otherIntegrity ?? [];
  if (!first.ok) {
    if (!others.length) return first;
    const only = item.files.filter((f) => !others.some((o) => o.lockfiles.includes(f)));
    const pinnedBy = only.length ? only : item.files;
    // every other pin the bytes fail too is named: fixing the first lockfile to one of them would not do
    const alsoWrong = others.flatMap((o) => {
      const v = checkIntegrity(file, o.integrity);
      return v.ok ? [] : [`${v.detail} in ${o.lockfiles.join(', ')}`];
    });
    return { ok: false, detail: `lockfiles disagree on ${item.name}@${item.version}: ${[`${first.detail} in ${pinnedBy.join(', ')}`, ...alsoWrong].join('; ')}` };
  }
  // another lockfile pins other bytes for the same version: at most one of them can be right
  for (const other of others) {
    const v = checkIntegrity(file, other.integrity);
    if (!v.ok) return { ok: false, detail: `lockfiles disagree on ${item.name}@${item.version}: ${v.detail} in ${other.lockfiles.join(', ')}` };
  }
  return first;
}

/**
 * A pin as npm reads it when it checks a tarball: ssri (the library npm checks with) parses its
 * tokens leniently, picks the strongest algorithm among them, and compares that algorithm's
 * digests as written. A digest cut short, unpadded or damaged is no fall-back to a weaker hash:
 * npm ci refuses the bytes (EINTEGRITY), and so must the warm. Undefined: no token npm reads.
 */
function npmPin(integrity: string): { algorithm: string; digests: string[] } | undefined {
  const sri = ssri.parse(integrity) as (ssri.IntegrityMap & Record<string, ssri.Hash[] | undefined>) | null;
  const algorithm = sri?.pickAlgorithm();
  if (!sri || !algorithm) return undefined;
  return { algorithm, digests: (sri[algorithm] ?? []).map((h) => h.digest) };
}

/** The tarball against one SRI pin: its strongest algorithm, sha512 (or sha1 alone, flagged weak), as npm checks it. */
function checkIntegrity(file: FileHashes, integrity: string): Verdict {
  const pin = npmPin(integrity);
  if (!pin || (pin.algorithm !== 'sha512' && pin.algorithm !== 'sha1')) return { ok: true, checked: false, detail: `the lockfile's integrity names no sha512 or sha1 npm would check with: ${integrity.slice(0, 80)}` };
  const actual = file[pin.algorithm];
  if (!actual) return { ok: true, checked: false, detail: `no ${pin.algorithm} of the tarball to compare` };
  const digest = Buffer.from(actual, 'hex').toString('base64');
  if (!pin.digests.includes(digest)) {
    // both as SRI, as npm's EINTEGRITY says them: a damaged pin has no hex to show
    const pinned = pin.digests.map((d) => `${pin.algorithm}-${d.length > 100 ? `${d.slice(0, 100)}…` : d}`).join(' or ');
    return { ok: false, detail: `the tarball's ${pin.algorithm} is ${pin.algorithm}-${digest}, the lockfile pins ${pinned}` };
  }
  return { ok: true, checked: true, ...(pin.algorithm === 'sha1' ? { detail: 'checked with sha1 only (weak): the lockfile has no sha512' } : {}) };
}
