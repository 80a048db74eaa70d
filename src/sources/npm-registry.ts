/**
 * npm registries: a private npm registry, or GitHub Packages
 * (https://npm.pkg.github.com), which wants the token even for reads.
 * Registry protocol: https://github.com/npm/registry/blob/main/docs/REGISTRY-API.md
 */
import type { Readable } from 'node:stream';
import npmFetch from 'npm-registry-fetch';
import semver from 'semver';
import { MigrateError, toError } from '../errors.js';
import { parseRetryAfter } from '../engine/retry.js';
import type { NpmRegistrySourceConfig } from '../config/schema.js';
import type { PackageListing, VersionListing } from '../types.js';
import type { NameResult, Source } from './source.js';
import { download } from './download.js';

const SEARCH_PAGE = 250;

interface Packument {
  name?: unknown;
  'dist-tags'?: Record<string, unknown>;
  versions?: Record<string, { dist?: { tarball?: unknown; integrity?: unknown; shasum?: unknown }; deprecated?: unknown }>;
  time?: Record<string, unknown>;
}

export class NpmRegistrySource implements Source {
  readonly id: string;
  readonly url: string;
  private readonly opts: npmFetch.Options;
  private readonly token?: string;

  constructor(
    private readonly config: NpmRegistrySourceConfig,
    env: NodeJS.ProcessEnv,
  ) {
    this.id = config.id;
    this.url = config.url.endsWith('/') ? config.url : `${config.url}/`;
    const token = config.tokenEnv ? env[config.tokenEnv] : undefined;
    this.token = token;
    if (config.tokenEnv && !token) {
      throw new MigrateError('ESOURCEAUTH', `source "${config.id}": environment variable ${config.tokenEnv} is not set`, {
        hint: `export ${config.tokenEnv}=<a read token for ${this.url}> and rerun`,
      });
    }
    // Credentials are scoped to the registry's own host and path ("nerf dart"), the
    // way npm's config does it, so a tarball URL elsewhere never receives the token.
    const nerf = this.url.replace(/^https?:/, '');
    this.opts = {
      registry: this.url,
      ...(token ? { [`${nerf}:_authToken`]: token } : {}),
      // The engine owns retries; a fetcher that retried on its own would hide throttling.
      retry: { retries: 0 },
      preferOnline: true,
      timeout: 120_000,
    };
  }

  async *packageNames(): AsyncIterable<NameResult> {
    const names = new Set(this.config.packages);
    for (const scope of this.config.scopes) {
      try {
        for (const name of await this.searchScope(scope)) names.add(name);
      } catch (e) {
        yield { ok: false, name: `${scope}/*`, error: this.classify(e, `${scope}/*`, 'search') };
      }
    }
    for (const name of names) yield { ok: true, name };
  }

  async listing(name: string): Promise<PackageListing> {
    try {
      return await this.packument(name);
    } catch (e) {
      throw this.classify(e, name, 'packument');
    }
  }

  async open(artifactUrl: string, subject: string): Promise<Readable> {
    if (!artifactUrl) throw new MigrateError('EBADSOURCE', `${subject}: the source lists no tarball URL (dist.tarball)`, { subject, hint: 'republish the version at the source, or exclude it in filters' });
    try {
      return await download(artifactUrl, { authorization: this.token ? `Bearer ${this.token}` : undefined, authOrigin: new URL(this.url).origin });
    } catch (e) {
      throw this.classify(e, subject, 'tarball');
    }
  }

  private async packument(name: string): Promise<PackageListing> {
    const doc = (await npmFetch.json(`/${escapeName(name)}`, {
      ...this.opts,
      // the full document: the abbreviated one lacks `time` and `deprecated`
      headers: { accept: 'application/json' },
    })) as Packument;
    if (typeof doc !== 'object' || doc === null || typeof doc.versions !== 'object' || doc.versions === null) {
      throw new MigrateError('EBADSOURCE', `${name}: the registry's packument has no "versions" object`, { subject: name, hint: `check ${this.url} serves npm packuments` });
    }
    if (doc.name !== undefined && doc.name !== name) {
      throw new MigrateError('EBADSOURCE', `${name}: the registry answered with the packument of "${String(doc.name)}"`, { subject: name });
    }
    const time = doc.time ?? {};
    const versions: VersionListing[] = Object.entries(doc.versions).map(([version, manifest]) => {
      const dist = manifest?.dist ?? {};
      const published = time[version];
      return {
        version,
        integrity: typeof dist.integrity === 'string' ? dist.integrity : undefined,
        shasum: typeof dist.shasum === 'string' ? dist.shasum : undefined,
        artifactUrl: typeof dist.tarball === 'string' ? dist.tarball : '',
        publishedAt: typeof published === 'string' ? published : undefined,
        deprecated: typeof manifest?.deprecated === 'string' && manifest.deprecated !== '' ? manifest.deprecated : undefined,
      };
    });
    versions.sort(oldestFirst);
    const distTags: Record<string, string> = {};
    for (const [tag, v] of Object.entries(doc['dist-tags'] ?? {})) if (typeof v === 'string') distTags[tag] = v;
    return { format: 'npm', name, versions, distTags };
  }

  /** Every package of a scope, through the registry's search API (`/-/v1/search`). */
  private async searchScope(scope: string): Promise<string[]> {
    const found: string[] = [];
    for (let from = 0; ; from += SEARCH_PAGE) {
      const res = (await npmFetch.json(`/-/v1/search?text=${encodeURIComponent(scope)}&size=${SEARCH_PAGE}&from=${from}`, this.opts)) as {
        objects?: { package?: { name?: string } }[];
      };
      const objects = res.objects ?? [];
      for (const o of objects) {
        const n = o.package?.name;
        if (n && n.startsWith(`${scope}/`)) found.push(n);
      }
      if (objects.length < SEARCH_PAGE) return found;
    }
  }

  private classify(thrown: unknown, subject: string, what: 'packument' | 'tarball' | 'search'): MigrateError {
    if (thrown instanceof MigrateError) return thrown;
    const e = toError(thrown) as Error & { statusCode?: number; code?: string; type?: string; retryAfter?: string; headers?: { get?: (k: string) => string | null } };
    const status = e.statusCode;
    if (status === 401 || status === 403) {
      return new MigrateError('ESOURCEAUTH', `${subject}: ${this.url} refused the ${what} request (HTTP ${status})`, {
        subject,
        status,
        cause: e,
        hint: this.config.tokenEnv
          ? `check that ${this.config.tokenEnv} holds a token with read access to ${subject}`
          : `this registry needs a token: add tokenEnv to source "${this.id}"`,
      });
    }
    if (status === 404) {
      return new MigrateError('ESOURCENOTFOUND', `${subject}: not found at ${this.url} (${what})`, {
        subject,
        status,
        cause: e,
        hint: what === 'search' ? 'this registry has no search API: list the packages by name under packages' : 'check the name in the job file, and that the token can see it',
      });
    }
    // npm-registry-fetch's .json() rejects a non-JSON body with minipass-fetch's FetchError, type 'invalid-json'
    if (e.code === 'EJSONPARSE' || e.name === 'SyntaxError' || e.type === 'invalid-json') {
      return new MigrateError('EBADSOURCE', `${subject}: ${this.url} answered the ${what} request with something that is not JSON`, { subject, cause: e });
    }
    // 429 (GitHub Packages rate-limits) and 5xx are worth another try; the server may say when
    const retryAfterMs = parseRetryAfter(e.retryAfter ?? e.headers?.get?.('retry-after'));
    return new MigrateError('ESOURCE', `${subject}: ${what} request to ${this.url} failed: ${status ? `HTTP ${status}` : e.message}`, { subject, status, retryAfterMs, cause: e });
  }
}

/** `@scope/name` travels as `@scope%2fname` in registry paths. */
export function escapeName(name: string): string {
  return name.startsWith('@') ? `@${encodeURIComponent(name.slice(1))}` : encodeURIComponent(name);
}

/** Publish time first, so the target's history reads in the same order; semver breaks ties. */
function oldestFirst(a: VersionListing, b: VersionListing): number {
  if (a.publishedAt && b.publishedAt && a.publishedAt !== b.publishedAt) return a.publishedAt < b.publishedAt ? -1 : 1;
  const va = semver.valid(a.version, { loose: true });
  const vb = semver.valid(b.version, { loose: true });
  if (va && vb) return semver.compare(va, vb, { loose: true });
  return a.version < b.version ? -1 : a.version > b.version ? 1 : 0;
}
