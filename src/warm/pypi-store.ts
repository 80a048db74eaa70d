/**
 * PyPI through a store repository: the project's simple page (PEP 503, GET
 * `<endpoint>simple/<normalised name>/`, Basic `aws:<token>`), then each file
 * of the pinned version the lockfile allows, at the URL the page gives
 * (`<endpoint>simple/<project>/<version>/<file>`), as pip asks for them;
 * CodeArtifact fetches them from its upstream and keeps them
 * (https://docs.aws.amazon.com/codeartifact/latest/ug/python-configure-pip.html).
 *
 * Which files: those whose `#sha256=` on the page is one the lockfile pins
 * (pip's --require-hashes, poetry and uv list every file of a version they
 * allow); every file of the version when the lockfile pins no hash. A version
 * whose files on the index carry none of the pinned hashes is an integrity
 * mismatch; a link without `#sha256=` is downloaded and its bytes decide. Each
 * file's bytes are hashed and must be one the lockfile pins.
 */
import { normalizeProjectName, samePep440 } from '../builders/python-metadata.js';
import { MigrateError } from '../errors.js';
import type { CodeArtifact, PackageCoordinates } from '../targets/codeartifact.js';
import { excerpt, RepositoryEndpoint } from '../targets/endpoint.js';
import { parseSimpleIndex } from '../targets/pypi.js';
import { withFetched, type FileHashes, type WarmItem } from './types.js';
import { ARTIFACT_BUCKETS, DEFAULT_STORE_LIMITS, METADATA_BUCKETS, underEndpoint, type FetchOutcome, type StoreFormat, type StoreLimits, type Verdict } from './store-format.js';
import { percentDecoded } from '../net/percent.js';

export interface PypiFile {
  filename: string;
  /** The version's path segment in the file URL (CodeArtifact: `…/simple/<project>/<version>/<file>`). */
  version?: string;
  url: string;
  sha256?: string;
}

export interface PypiMeta {
  endpoint: string;
  files: PypiFile[];
}

/**
 * The links of a PEP 503 page: file name, absolute URL (fragment removed) and the `#sha256=` it
 * declares. Read by the same parser the publish's verification uses (targets/pypi.ts): the
 * links pip sees and no others, in linear time whatever the store answers.
 */
export function parseSimplePage(html: string, pageUrl: string): PypiFile[] {
  const out: PypiFile[] = [];
  for (const link of parseSimpleIndex(html)) {
    let url: URL;
    try {
      url = new URL(link.href, pageUrl);
    } catch {
      continue;
    }
    const sha256 = /^[0-9a-f]{64}$/.test(link.hashes.sha256 ?? '') ? link.hashes.sha256 : undefined;
    url.hash = '';
    const segments = url.pathname.split('/').map(percentDecoded);
    const filename = segments.at(-1) ?? '';
    if (!filename) continue;
    const version = segments.length >= 2 ? segments.at(-2) : undefined;
    out.push({ filename, url: url.toString(), ...(version ? { version } : {}), ...(sha256 ? { sha256 } : {}) });
  }
  return out;
}

/**
 * Is `url` one of this project's files on the store: `<endpoint>simple/<project>/…`, the
 * project spelled any way that normalises to it (CodeArtifact serves a project's files at
 * `simple/<project>/<version>/<file>`, relative to its page).
 */
function underProject(url: string, endpoint: string, project: string): boolean {
  const rest = new URL(url).pathname.slice(new URL(endpoint).pathname.length);
  const m = /^simple\/([^/]+)\//.exec(rest);
  return m !== null && normalizeProjectName(percentDecoded(m[1]!)) === project;
}

/** The version a distribution's file name carries (wheel: second field; sdist: after `<name>-`). */
function fileVersion(project: string, filename: string): string | undefined {
  if (filename.endsWith('.whl')) return filename.split('-')[1];
  const stem = filename.replace(/\.(?:tar\.gz|tar\.bz2|tar\.xz|tgz|tar|zip)$/i, '');
  for (let i = stem.indexOf('-'); i > 0; i = stem.indexOf('-', i + 1)) if (normalizeProjectName(stem.slice(0, i)) === project) return stem.slice(i + 1);
  return undefined;
}

/** A pin as `sha256:<hex>` / `sha512:<hex>` (pip's `--hash` and the lockfiles' spelling), or undefined for an algorithm we do not compute. */
function parsePin(pin: string): { algorithm: 'sha256' | 'sha512'; hex: string } | undefined {
  const m = /^(sha256|sha512)[:=]([0-9a-f]+)$/i.exec(pin.trim());
  return m?.[1] && m[2] ? { algorithm: m[1].toLowerCase() as 'sha256' | 'sha512', hex: m[2].toLowerCase() } : undefined;
}

/** The hashes a lockfile pins, by algorithm (pip accepts sha256, sha384, sha512; we compute sha256 and sha512). */
function pinned(item: Pick<WarmItem, 'expected'>): { sha256: Set<string>; sha512: Set<string>; other: number } {
  const out = { sha256: new Set<string>(), sha512: new Set<string>(), other: 0 };
  for (const h of item.expected.hashes ?? []) {
    const p = parsePin(h);
    if (p) out[p.algorithm].add(p.hex);
    else out.other++;
  }
  return out;
}

/** Whether one of the lockfile's sha256/sha512 pins is this file's. */
function pinsFile(pins: ReturnType<typeof pinned>, f: FileHashes): boolean {
  return (f.sha256 !== undefined && pins.sha256.has(f.sha256)) || (f.sha512 !== undefined && pins.sha512.has(f.sha512));
}

/** Can a file be the one a lockfile pins? True unless a hash we have differs (an algorithm we do not compute says nothing). */
function sameHash(pin: string, f: FileHashes): boolean {
  const p = parsePin(pin);
  const ours = p && f[p.algorithm];
  return ours === undefined || ours === p!.hex;
}

/** What a distribution's file is called (PEP 503 pages link only these): a wheel, an sdist, an egg. */
const DISTRIBUTION = /\.(?:whl|tar\.gz|tar\.bz2|tar\.xz|tgz|tar|zip|egg)$/i;

/**
 * Why a 200 answer for a project page is none (undefined when it is one): empty, JSON (PEP 691's
 * or an error), no HTML, or an HTML page that links no distribution file and does not call
 * itself an index page (PEP 503's "Links for", PEP 629's pypi:repository-version): a proxy's
 * sign-in page. Read as a page, each listed no file of the version, and the entry was
 * `missing-upstream`, blamed on a public registry that was never asked.
 */
export function notAProjectPage(body: string, contentType: string | string[] | undefined, files: readonly PypiFile[]): string | undefined {
  const type = (Array.isArray(contentType) ? contentType[0] : contentType)?.toLowerCase() ?? '';
  const text = body.trim();
  if (!text) return `an empty body${type ? ` (${type})` : ''}`;
  if (type.includes('json') || /^[[{]/.test(text)) return `JSON${type ? ` (${type})` : ''}: ${excerpt(text, 200)}`;
  if (type && !type.includes('html')) return `${type}: ${excerpt(text, 200)}`;
  if (files.some((f) => DISTRIBUTION.test(f.filename))) return undefined;
  if (/pypi:repository-version|>\s*links for\s/i.test(text.slice(0, 64 * 1024))) return undefined;
  const title = /<title[^>]*>([^<]{0,200})/i.exec(text.slice(0, 64 * 1024))?.[1]?.trim();
  return `an HTML page that links no distribution file${title ? ` (titled ${JSON.stringify(title)})` : ''}: ${excerpt(text, 200)}`;
}

export class PypiStore implements StoreFormat<PypiMeta> {
  readonly ecosystem = 'pypi' as const;
  readonly format = 'pypi' as const;
  private readonly http: RepositoryEndpoint;

  constructor(
    private readonly ca: CodeArtifact,
    readonly repository: string,
    private readonly limits: StoreLimits = DEFAULT_STORE_LIMITS,
  ) {
    this.http = new RepositoryEndpoint(ca, { auth: 'basic', label: `the PyPI endpoint of ${repository}`, authHint: 'the CodeArtifact token lacks rights: check codeartifact:ReadFromRepository on the store repository and sts:GetServiceBearerToken (README)' });
  }

  coordinates(name: string): PackageCoordinates {
    return { format: 'pypi', repository: this.repository, package: normalizeProjectName(name) };
  }

  sameVersion(listed: string, pinnedVersion: string): boolean {
    return listed === pinnedVersion || samePep440(listed, pinnedVersion);
  }

  async metadata(name: string, signal?: AbortSignal): Promise<PypiMeta | undefined> {
    const endpoint = await this.ca.endpoint('pypi', this.repository);
    const project = normalizeProjectName(name);
    const url = `${endpoint}simple/${encodeURIComponent(project)}/`;
    const res = await this.http.send('reading the project page', METADATA_BUCKETS, project, { method: 'GET', url, headers: { accept: 'text/html' }, signal, maxBytes: this.limits.metadataBytes, timeoutMs: this.limits.idleMs, deadlineMs: this.limits.metadataMs });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new MigrateError('ETARGETREJECTED', `${project}: the store answered HTTP ${res.status} for the project page: ${excerpt(res.body)}`, { subject: project, status: res.status });
    const files = parseSimplePage(res.body, url);
    const not = notAProjectPage(res.body, res.headers['content-type'], files);
    if (not) throw new MigrateError('ETARGET', `${project}: the store answered HTTP 200 for the project page, but not a PEP 503 project page: ${not}`, { subject: project, hint: 'a proxy or gateway between this machine and CodeArtifact (a sign-in page), or an endpoint that is not a CodeArtifact PyPI one (AWS_ENDPOINT_URL_CODEARTIFACT, HTTPS_PROXY) answers instead; fix that, then warm again' });
    return { endpoint, files };
  }

  async fetch(meta: PypiMeta, item: WarmItem, held: readonly FileHashes[], beforeRequest: () => void, signal?: AbortSignal): Promise<FetchOutcome> {
    const subject = `${item.name}==${item.version}`;
    const ofVersion = meta.files.filter((f) => {
      const v = f.version && this.sameVersion(f.version, item.version) ? f.version : fileVersion(item.name, f.filename);
      return v !== undefined && this.sameVersion(v, item.version);
    });
    if (!ofVersion.length) return { kind: 'not-found', detail: `the project page through ${this.repository} lists no file of ${item.version}` };
    const pins = pinned(item);
    const named = item.expected.fileHashes ?? {};
    const replaced = ofVersion.find((f) => named[f.filename] && f.sha256 !== undefined && !named[f.filename]!.some((h) => sameHash(h, { name: f.filename, sha256: f.sha256 })));
    if (replaced) return { kind: 'mismatch', detail: `${replaced.filename} on the index has sha256 ${replaced.sha256}, the lockfile pins ${named[replaced.filename]!.join(' or ')} for it`, files: [{ name: replaced.filename, sha256: replaced.sha256! }] };
    let wanted = ofVersion;
    if (pins.sha256.size) {
      // a link without `#sha256=` (a store that leaves them out) says nothing about its bytes:
      // it is downloaded, and the bytes decide (a mismatch only from what was declared or read)
      wanted = ofVersion.filter((f) => f.sha256 === undefined || pins.sha256.has(f.sha256));
      if (!wanted.length) {
        return { kind: 'mismatch', detail: `none of the ${ofVersion.length} file(s) of ${item.version} on the index has a sha256 the lockfile pins`, files: ofVersion.map((f) => ({ name: f.filename, ...(f.sha256 ? { sha256: f.sha256 } : {}) })) };
      }
    }
    // a file the store holds is not fetched again only when the listing gives the hash a pin needs:
    // one listed without it says nothing about its bytes (a store that hid them passed other bytes)
    const have = new Set(held.filter((f) => (pins.sha256.size ? f.sha256 !== undefined : pins.sha512.size ? f.sha512 !== undefined : true)).map((f) => f.name));
    const files: FileHashes[] = [];
    let first = true;
    for (const f of wanted) {
      if (have.has(f.filename)) continue;
      if (!underEndpoint(f.url, meta.endpoint)) throw new MigrateError('ETARGETREJECTED', `${subject}: the project page points ${f.filename} outside the store's endpoint; not sending it our token`, { subject, actual: f.url });
      // nor under another project's folder of the store: the store would fetch that project from its upstream for this entry
      if (!underProject(f.url, meta.endpoint, normalizeProjectName(item.name))) throw new MigrateError('ETARGETREJECTED', `${subject}: the project page points ${f.filename} outside ${normalizeProjectName(item.name)}'s folder of the store; not requested`, { subject, actual: f.url });
      if (first) beforeRequest();
      first = false;
      // hashed as it streams, never held (see StoreLimits)
      const res = await this.http.send('downloading a file', ARTIFACT_BUCKETS, subject, { method: 'GET', url: f.url, digests: ['sha256', 'sha512'], signal, maxBytes: this.limits.artifactBytes, timeoutMs: this.limits.idleMs, deadlineMs: this.limits.artifactMs });
      if (res.status === 404) return { kind: 'not-found', detail: `${f.filename} is not found through ${this.repository}` };
      if (res.status !== 200 || !res.digests) throw new MigrateError('ETARGETREJECTED', `${subject}: the store answered HTTP ${res.status} for ${f.filename}: ${excerpt(res.body)}`, { subject, status: res.status });
      const got: FileHashes = { name: f.filename, size: res.size ?? 0, sha256: res.digests.sha256!, sha512: res.digests.sha512! };
      // the page chose this file by the sha256 it declares (a pinned one): other bytes behind it are
      // a lie, whatever another file of the version matches (check() would pass it as unpinned)
      if (f.sha256 !== undefined && f.sha256 !== got.sha256) {
        return { kind: 'mismatch', detail: `${f.filename} was served with sha256 ${got.sha256}, where the project page declares ${f.sha256}${pins.sha256.has(f.sha256) ? ' (the one the lockfile pins)' : ''}`, files: [...files, got] };
      }
      files.push(got);
    }
    // pip installs only a file whose hash the lockfile pins: when none the store holds or served now
    // carries one (links without `#sha256=` downloaded, their bytes other), there is none to install
    const all = withFetched(held, files);
    const noneInstallable = (p: ReturnType<typeof pinned>) => (p.sha256.size > 0 || p.sha512.size > 0) && all.length > 0 && !all.some((f) => pinsFile(p, f));
    if (noneInstallable(pins)) {
      return { kind: 'mismatch', detail: `none of the ${all.length} file(s) has a hash the lockfile pins (${all[0]!.name}: sha256 ${all[0]!.sha256 ?? '?'})`, files: all };
    }
    // lockfiles that pin the version differently: each build installs only what its own lockfile
    // pins, so another lockfile's file with the pinned bytes does not make this one's good
    for (const set of item.expected.pinSets ?? []) {
      if (noneInstallable(pinned({ expected: set }))) {
        return { kind: 'mismatch', detail: `lockfiles disagree on ${item.name}==${item.version}: none of the ${all.length} file(s) the store holds or served has a hash pinned in ${set.lockfiles.join(', ')}`, files: all };
      }
    }
    return { kind: 'fetched', files };
  }

  check(item: WarmItem, files: readonly FileHashes[]): Verdict {
    const verdict = this.checkPins(item, files);
    if (!verdict.ok) return verdict;
    // lockfiles that name a file with different hashes: at most one is right, the other is named
    for (const set of item.expected.pinSets ?? []) {
      for (const f of files) {
        const forName = set.fileHashes?.[f.name];
        if (forName && !forName.some((h) => sameHash(h, f))) return { ok: false, detail: `lockfiles disagree on ${item.name}==${item.version}: ${f.name} has sha256 ${f.sha256 ?? '?'}, ${set.lockfiles.join(', ')} pin(s) ${forName.join(' or ')} for it` };
      }
    }
    return verdict;
  }

  /** The files against every pin of the lockfiles together (a file named with other bytes is replaced). */
  private checkPins(item: WarmItem, files: readonly FileHashes[]): Verdict {
    const pins = pinned(item);
    if (!pins.sha256.size && !pins.sha512.size) {
      return { ok: true, checked: false, detail: pins.other ? 'the lockfile pins only hashes other than sha256/sha512: not checked' : 'the lockfile pins no hash' };
    }
    const named = item.expected.fileHashes ?? {};
    let matched = 0;
    const unpinned: string[] = [];
    for (const f of files) {
      const forName = named[f.name];
      if (forName) {
        // the lockfile names this file: a file of that name with other bytes was replaced
        if (!forName.some((h) => sameHash(h, f))) return { ok: false, detail: `${f.name} has sha256 ${f.sha256 ?? '?'}, the lockfile pins ${forName.join(' or ')} for it` };
        matched++;
      } else if (pinsFile(pins, f)) matched++;
      // another platform's wheel, or one uploaded after the lock was written: pip's hash
      // checking passes over files it has no hash for, so it breaks nothing
      else unpinned.push(f.name);
    }
    // none matched: the store holds (or served) only files the lockfile does not name, e.g. a wheel
    // uploaded after locking that a build pulled first; the pinned ones are still to fetch (complete()),
    // and fetch() says whether the index has them
    return { ok: true, checked: matched > 0, ...(unpinned.length ? { detail: `${unpinned.length} file(s) the lockfile does not pin, not checked (another platform's, or uploaded after locking): ${unpinned.slice(0, 3).join(', ')}${unpinned.length > 3 ? ', …' : ''}` } : {}) };
  }

  complete(item: WarmItem, held: readonly FileHashes[]): boolean {
    const pins = pinned(item);
    if (!pins.sha256.size && !pins.sha512.size) return held.length > 0;
    // every pinned file is held: any pinned hash no held file has means a file still to fetch (a
    // held file the lockfile does not pin says nothing of the pinned ones: fetch() decides)
    const have = { sha256: new Set(held.map((f) => f.sha256)), sha512: new Set(held.map((f) => f.sha512)) };
    return [...pins.sha256].every((h) => have.sha256.has(h)) && [...pins.sha512].every((h) => have.sha512.has(h));
  }
}
