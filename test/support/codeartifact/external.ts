/**
 * External connections: what a store repository fetches from the public registry it is connected
 * to (https://docs.aws.amazon.com/codeartifact/latest/ug/external-connection.html). In tests the
 * public registries are local servers (a Verdaccio playing npmjs, a PyPI stand-in playing pypi.org),
 * named per connection in StandInOptions.externalConnections.
 *
 * Package metadata (an npm packument, a PyPI project page) is reused for `metadataTtlMs` before it
 * is fetched again: the service does not ask the public registry at every request either, and
 * package managers would otherwise make it do so for every install. Only answers that found the
 * package are kept: a package missing or refused upstream is asked for again next time. How long
 * the service keeps metadata is not documented (stand-in choice: 30 minutes by default).
 *
 * A public registry answering anything but 200 (or not answering) finds nothing: the search goes on
 * and, when nothing else has the version, the client gets 404 (stand-in choice: the service's
 * answer when a public registry is down is not documented for versions it never ingested).
 */
import type { ExternalConnectionName } from './types.js';

/** The format each external connection serves (AssociateExternalConnectionRequest.externalConnection). */
export const CONNECTION_FORMATS: Readonly<Record<ExternalConnectionName, string>> = {
  'public:npmjs': 'npm',
  'public:pypi': 'pypi',
  'public:nuget-org': 'nuget',
  'public:maven-central': 'maven',
  'public:maven-googleandroid': 'maven',
  'public:maven-gradleplugins': 'maven',
  'public:maven-commonsware': 'maven',
  'public:maven-clojars': 'maven',
  'public:ruby-gems-org': 'ruby',
  'public:crates-io': 'cargo',
};

export const isConnectionName = (name: string): name is ExternalConnectionName => Object.hasOwn(CONNECTION_FORMATS, name);

export const DEFAULT_METADATA_TTL_MS = 30 * 60 * 1000;
const FETCH_TIMEOUT_MS = 60_000;

/** Per request: the public-registry requests it caused, for the request log. */
export interface RequestTrace {
  upstream: string[];
}

export interface PublicNpmPackage {
  /** version documents as the registry serves them (with `dist`) */
  versions: Map<string, Record<string, unknown>>;
  distTags: Record<string, string>;
}

export interface PublicPypiFile {
  filename: string;
  version: string;
  /** absolute */
  url: string;
  sha256?: string;
  requiresPython?: string;
}

interface Fetched {
  status: number;
  body: Buffer;
  url: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const normalizePypi = (name: string): string => name.replace(/[-_.]+/g, '-').toLowerCase();
const unescapeHtml = (s: string): string =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
const SDIST_SUFFIXES = ['.tar.gz', '.tar.bz2', '.tar.xz', '.tgz', '.tar', '.zip'];

/** The version a distribution file name carries (PEP 427 wheels, `<name>-<version>.<ext>` sdists), or undefined. */
export function pypiFileVersion(project: string, filename: string): string | undefined {
  if (filename.endsWith('.whl')) {
    const parts = filename.slice(0, -4).split('-');
    return parts.length >= 5 && normalizePypi(parts[0] ?? '') === project ? parts[1] : undefined;
  }
  const suffix = SDIST_SUFFIXES.find((s) => filename.toLowerCase().endsWith(s));
  if (suffix === undefined) return undefined;
  const stem = filename.slice(0, -suffix.length);
  for (let i = stem.indexOf('-'); i > 0; i = stem.indexOf('-', i + 1)) {
    if (normalizePypi(stem.slice(0, i)) === project) return stem.slice(i + 1) || undefined;
  }
  return undefined;
}

export class ExternalRegistries {
  private readonly cache = new Map<string, { at: number; value: unknown }>();

  constructor(
    private readonly urls: Partial<Record<ExternalConnectionName, string>>,
    public metadataTtlMs: number,
  ) {}

  setUrl(connection: ExternalConnectionName, url: string | undefined): void {
    if (url === undefined) delete this.urls[connection];
    else this.urls[connection] = url;
    this.clearCache();
  }

  clearCache(): void {
    this.cache.clear();
  }

  private base(connection: string): string | undefined {
    const url = isConnectionName(connection) ? this.urls[connection] : undefined;
    return url === undefined ? undefined : url.endsWith('/') ? url : `${url}/`;
  }

  private async get(url: string, accept: string, trace: RequestTrace): Promise<Fetched | undefined> {
    try {
      const res = await fetch(url, { headers: { accept }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      const body = Buffer.from(await res.arrayBuffer());
      trace.upstream.push(`GET ${url} ${res.status}`);
      return { status: res.status, body, url: res.url || url };
    } catch (err) {
      trace.upstream.push(`GET ${url} failed: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  }

  private async cached<T>(key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const hit = this.cache.get(key);
    if (hit !== undefined && Date.now() - hit.at < this.metadataTtlMs) return hit.value as T;
    const value = await load();
    if (value !== undefined && this.metadataTtlMs > 0) this.cache.set(key, { at: Date.now(), value });
    return value;
  }

  /** The public packument of an npm package (`@scope/name`), or undefined when the registry has none. */
  npmPackage(connection: string, npmName: string, trace: RequestTrace): Promise<PublicNpmPackage | undefined> {
    const base = this.base(connection);
    if (base === undefined) return Promise.resolve(undefined);
    const escaped = npmName.startsWith('@') ? `@${encodeURIComponent(npmName.slice(1))}` : encodeURIComponent(npmName);
    return this.cached(`${connection}\u0000npm\u0000${npmName}`, async () => {
      const res = await this.get(`${base}${escaped}`, 'application/json', trace);
      if (res?.status !== 200) return undefined;
      let doc: unknown;
      try {
        doc = JSON.parse(res.body.toString('utf8'));
      } catch {
        return undefined;
      }
      if (!isObject(doc) || !isObject(doc['versions'])) return undefined;
      const versions = new Map<string, Record<string, unknown>>();
      for (const [v, d] of Object.entries(doc['versions'])) if (isObject(d)) versions.set(v, d);
      const tags = isObject(doc['dist-tags']) ? doc['dist-tags'] : {};
      const distTags = Object.fromEntries(Object.entries(tags).filter((e): e is [string, string] => typeof e[1] === 'string'));
      return { versions, distTags };
    });
  }

  /** The files of a PyPI project (normalised name) on the public index, or undefined when it has none. */
  pypiProject(connection: string, project: string, trace: RequestTrace): Promise<PublicPypiFile[] | undefined> {
    const base = this.base(connection);
    if (base === undefined) return Promise.resolve(undefined);
    return this.cached(`${connection}\u0000pypi\u0000${project}`, async () => {
      const res = await this.get(`${base}simple/${encodeURIComponent(project)}/`, 'text/html', trace);
      if (res?.status !== 200) return undefined;
      const files: PublicPypiFile[] = [];
      for (const m of res.body.toString('utf8').matchAll(/<a\s([^>]*)>([^<]*)<\/a>/gi)) {
        const attrs = m[1] ?? '';
        const href = /href="([^"]*)"/i.exec(attrs)?.[1];
        if (href === undefined) continue;
        const url = new URL(unescapeHtml(href), res.url);
        const sha256 = /^#sha256=([0-9a-f]{64})$/i.exec(url.hash)?.[1]?.toLowerCase();
        url.hash = '';
        const filename = decodeURIComponent(url.pathname.split('/').pop() ?? '');
        const version = pypiFileVersion(project, filename);
        if (version === undefined) continue;
        const requiresPython = /data-requires-python="([^"]*)"/i.exec(attrs)?.[1];
        files.push({
          filename,
          version,
          url: url.toString(),
          ...(sha256 === undefined ? {} : { sha256 }),
          ...(requiresPython === undefined ? {} : { requiresPython: unescapeHtml(requiresPython) }),
        });
      }
      return files.length === 0 ? undefined : files;
    });
  }

  /** The bytes at a URL the public registry named (a tarball, a distribution file), or undefined. */
  async download(url: string, trace: RequestTrace): Promise<Buffer | undefined> {
    const res = await this.get(url, 'application/octet-stream', trace);
    return res?.status === 200 ? res.body : undefined;
  }
}
