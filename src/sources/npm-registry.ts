/**
 * npm registries: a private npm registry, or GitHub Packages
 * (https://npm.pkg.github.com), which wants the token even for reads.
 * Registry protocol: https://github.com/npm/registry/blob/main/docs/REGISTRY-API.md
 */
import type { IncomingHttpHeaders } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { createGunzip } from 'node:zlib';
import semver from 'semver';
import { MigrateError, proxyAuthError, toError } from '../errors.js';
import { parseRetryAfter, rateLimited } from '../net/retry-after.js';
import type { NpmRegistrySourceConfig } from '../config/schema.js';
import { holdsSecret, printable, publicUrl, redact, registerSecret } from '../redact.js';
import { MAX_VERSION_KEY, boundedKey, isNpmName, shownKey, versionTooLong } from './bounded.js';
import type { PackageListing, VersionListing } from '../types.js';
import type { NameResult, OpenOptions, Retrier, Source } from './source.js';
import { download, isUnder } from './download.js';

const SEARCH_PAGE = 250;
/** A scope holds tens or hundreds of packages; a search that goes on past this is a registry that ignores paging. */
const MAX_SEARCH_RESULTS = 100_000;
/** GitHub's REST API gives at most 100 items a page (per_page). */
const GITHUB_PAGE = 100;
/** Pages of a scope's package list on GitHub read at most: of GITHUB_PAGE each, as many packages as a search reads (MAX_SEARCH_RESULTS). */
const MAX_GITHUB_PAGES = 1000;
/**
 * The largest page of GitHub's package list read: a page of 100 npm packages is some 700 KB (each
 * carries its owner's and its repository's objects, ~100 fields); past this it is no such page.
 */
export const MAX_GITHUB_PAGE_BYTES = 8 * 1024 * 1024;
/** The REST API version asked for (X-GitHub-Api-Version): the one whose answers are read here. */
const GITHUB_API_VERSION = '2022-11-28';
/**
 * Registries whose scopes are listed through GitHub's REST API (GitHub has no npm search API),
 * by the registry's host: the API's URL. GitHub Enterprise Server's is the job's githubApiUrl.
 */
const KNOWN_GITHUB_APIS: Record<string, string> = {
  'npm.pkg.github.com': 'https://api.github.com/',
};
/** The largest packument read: a package with 10,000 versions is tens of MB; an endless body is not a packument. */
export const MAX_PACKUMENT_BYTES = 200 * 1024 * 1024;
/**
 * How long one registry answer (a packument, a search page; redirects included) may take in all.
 * The request's `timeout` counts silence only, so a registry that trickles a byte now and then
 * would hold the listing forever. A packument as large as MAX_PACKUMENT_BYTES needs 0.7 MB/s;
 * the warm reads a store's metadata within the same 5 minutes (warm/store-format.ts).
 */
export const ANSWER_DEADLINE_MS = 5 * 60_000;
/** Silence before a registry answer is cut off (retried). */
const ANSWER_IDLE_MS = 120_000;
/*
 * The longest of each free-text field kept from a packument. Each is stored whole, once per version,
 * and goes from the state into every report and the target: without a bound a registry could make a
 * packument of 10,000 versions carry megabytes each. Each bound is what no registry's own tools make,
 * with room to spare; beyond it the version (a dist-tag: the package) fails EBADSOURCE, and nothing
 * of the value is kept. None is ever cut: a deprecation and a dist-tag are copied to the target as the
 * source has them, and a hash or a URL cut short would be another one.
 */
/**
 * A deprecation message is a sentence or a link ("... no longer maintained, use ..."), the longest on
 * the public registry a few hundred characters; npm sets no limit, NuGet keeps its own to 4,000
 * (https://github.com/NuGet/NuGetGallery/issues/7280).
 */
const MAX_DEPRECATION = 4096;
/** `dist.integrity` is one `sha512-<base64>` (95 characters), or a few hashes space-separated (sha1 + sha512: 147). */
const MAX_INTEGRITY = 1024;
/** `dist.shasum` is 40 hex digits; a longer one is malformed (EINTEGRITY) and not worth storing whole. */
const MAX_SHASUM = 128;
/**
 * `dist.tarball`: the registry's URL, the name (214 characters at most) twice and the version; a
 * signed query adds a kilobyte or two. Servers refuse a longer request line (nginx: 8 KiB).
 */
const MAX_TARBALL_URL = 8192;
/** A dist-tag names a line of releases (`latest`, `next`, `ts5.4`), as short as a version key. */
const MAX_DIST_TAG = MAX_VERSION_KEY;
/** dist-tags of one package: a handful, @types packages the most seen (one per TypeScript release, some 60). */
const MAX_DIST_TAGS = 1000;
/** A publish time as registries write `time` values: an RFC 3339 date-time ("2015-01-01T00:00:00.000Z"). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:?\d{2})$/;
/**
 * Hosts known to serve a registry's tarballs from elsewhere: GitHub Packages
 * redirects downloads to its storage host.
 */
const KNOWN_TARBALL_HOSTS: Record<string, string[]> = {
  'npm.pkg.github.com': ['pkg-npm.githubusercontent.com'],
};

/** What a scope's listing found: valid names, names that cannot be packages (each with why), and why it stopped short, if it did. */
interface ScopeFound {
  names: string[];
  invalid: Map<string, string>;
  /** The listing failed after `names` were found (GitHub's paging went wrong on a later page). */
  error?: MigrateError;
}

interface Packument {
  name?: unknown;
  'dist-tags'?: Record<string, unknown>;
  versions?: Record<string, { dist?: { tarball?: unknown; integrity?: unknown; shasum?: unknown }; deprecated?: unknown }>;
  time?: Record<string, unknown>;
}

export class NpmRegistrySource implements Source {
  readonly id: string;
  readonly url: string;
  readonly kind = 'registry' as const;
  /** What CodeArtifact calls an npm version's one asset. */
  readonly assetName = 'package.tgz';
  private readonly token?: string;
  private readonly trustedHosts: Set<string>;
  /**
   * GitHub's REST API (ending in '/'), where the scopes' packages are listed instead of the
   * search API: the job's githubApiUrl, else the known one of the registry's host (KNOWN_GITHUB_APIS).
   * Sent the token, as the registry is; undefined: scopes are searched.
   */
  private readonly githubApi?: string;
  /** This run's tarball URLs as the registry gave them (with any query), by the public form recorded in the state. */
  private readonly artifactUrls = new Map<string, string>();
  /**
   * Until when the registry asked us to stop (a 429 or GitHub's spent quota, with the wait it
   * named): every request to this source waits for it, not only the one that was refused, so
   * sixteen packages in flight do not each spend a request (and a retry) to learn the same thing
   * (GitHub answers requests made during a secondary limit by lengthening it). By the monotonic
   * clock (performance.now()): a wall clock stepped back would stretch the pause by the step.
   */
  private pausedUntil = 0;

  constructor(
    private readonly config: NpmRegistrySourceConfig,
    env: NodeJS.ProcessEnv,
    /** Tests shorten the deadline of a registry answer (ANSWER_DEADLINE_MS). */
    private readonly limits: { answerDeadlineMs: number } = { answerDeadlineMs: ANSWER_DEADLINE_MS },
  ) {
    this.id = config.id;
    this.url = config.url.endsWith('/') ? config.url : `${config.url}/`;
    const token = config.tokenEnv ? env[config.tokenEnv] : undefined;
    this.token = token;
    registerSecret(token);
    const registryHost = new URL(this.url).host;
    this.trustedHosts = new Set([...config.tarballHosts.map((h) => h.toLowerCase()), ...(KNOWN_TARBALL_HOSTS[registryHost] ?? [])]);
    const api = config.githubApiUrl ?? KNOWN_GITHUB_APIS[registryHost];
    this.githubApi = api === undefined ? undefined : api.endsWith('/') ? api : `${api}/`;
    if (config.tokenEnv && !token) {
      throw new MigrateError('ESOURCEAUTH', `source "${config.id}": environment variable ${config.tokenEnv} is not set`, {
        hint: `export ${config.tokenEnv}=<a read token for ${this.url}> and rerun`,
      });
    }
    // a token read from a file keeps its newline (a mounted secret, a CRLF .env): no HTTP header can
    // carry it (every request would fail and be retried as a network error), and a space around a token is none of it
    if (config.tokenEnv && token && (/[\x00-\x08\x0a-\x1f\x7f]/.test(token) || token.trim() !== token)) {
      throw new MigrateError('ESOURCEAUTH', `source "${config.id}": environment variable ${config.tokenEnv} holds a line break, a control character or spaces around the token`, {
        hint: `set ${config.tokenEnv} to the token alone, e.g. export ${config.tokenEnv}="$(tr -d ' \\r\\n' < token-file)", and rerun`,
      });
    }
  }

  async *packageNames(signal?: AbortSignal, retry: Retrier = (attempt) => attempt()): AsyncIterable<NameResult> {
    const names = new Set(this.config.packages);
    const api = this.githubApi;
    const lister = api === undefined ? "the registry's search" : "GitHub's package list";
    for (const scope of this.config.scopes) {
      try {
        const found = api === undefined ? await this.searchScope(scope, retry, signal) : await this.githubScope(api, scope, retry, signal);
        // a scope with nothing in it is a typo or a token that sees nothing far more often than an empty
        // scope: said, never a silent "0 of 0 migrated" (and, as a failed search, never "every package gone")
        if (found.names.length === 0 && found.invalid.size === 0 && !found.error) {
          yield {
            ok: false,
            name: `${scope}/*`,
            error:
              api === undefined
                ? new MigrateError('ESOURCEEMPTY', `source "${this.id}": the search of ${this.url} finds no package in scope ${scope}`, {
                    subject: `${scope}/*`,
                    hint: `check the scope's spelling in the job file and that ${this.config.tokenEnv ?? 'the token'} can read its packages (a token without access finds none); a registry without search needs its packages listed under packages (GitHub Packages: its scopes are listed through GitHub's API, githubApiUrl); a scope that is really empty: remove it from scopes`,
                  })
                : new MigrateError('ESOURCEEMPTY', `source "${this.id}": GitHub's package list at ${api} holds no npm package of ${scope.slice(1)} (scope ${scope})`, {
                    subject: `${scope}/*`,
                    hint: `check the scope's spelling in the job file (it is the GitHub organization or user that owns the packages) and that ${this.config.tokenEnv ?? 'the token'} has the read:packages scope and can see ${scope.slice(1)}'s packages (GitHub lists only those the token may read); a scope that is really empty: remove it from scopes`,
                  }),
          };
        }
        for (const name of found.names) names.add(name);
        for (const [bad, why] of found.invalid) {
          yield { ok: false, name: printable(bad), error: new MigrateError('EBADSOURCE', `${scope}/*: ${lister} returned ${JSON.stringify(printable(bad))}, which ${why}`, { subject: `${scope}/*`, hint: 'it is skipped; check what the registry holds under that name' }) };
        }
        // the names found before the listing went wrong are migrated; the scope is not complete (nothing of it is taken for gone)
        if (found.error) yield { ok: false, name: `${scope}/*`, error: found.error };
      } catch (e) {
        yield { ok: false, name: `${scope}/*`, error: this.classify(e, `${scope}/*`, api === undefined ? 'search' : 'package list', api) };
      }
    }
    for (const name of names) yield { ok: true, name };
  }

  async listing(name: string, signal?: AbortSignal): Promise<PackageListing> {
    try {
      await this.quota(signal);
      return await this.packument(name, signal);
    } catch (e) {
      throw this.classify(e, name, 'packument');
    }
  }

  /** Tarballs come from the registry's own origin, or from hosts the job (or a known registry) trusts. */
  private trusted(url: URL): boolean {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
    return url.origin === new URL(this.url).origin || this.trustedHosts.has(url.host.toLowerCase());
  }

  async open(artifactUrl: string, subject: string, opts: OpenOptions = {}): Promise<Readable> {
    if (!artifactUrl) throw new MigrateError('EBADSOURCE', `${subject}: the source lists no tarball URL (dist.tarball)`, { subject, hint: 'republish the version at the source, or exclude it in filters' });
    const url = this.artifactUrls.get(artifactUrl) ?? artifactUrl;
    if (!URL.canParse(url)) throw new MigrateError('ESOURCEURL', `${subject}: the source lists a tarball URL that is not a URL`, { subject, hint: 'repair the version at the source, or exclude it in filters' });
    try {
      await this.quota(opts.signal);
      return await download(url, {
        ...this.access(),
        maxBytes: opts.maxBytes,
        subject,
        signal: opts.signal,
        timeoutMs: this.config.idleTimeoutSeconds * 1000,
      });
    } catch (e) {
      throw this.classify(e, subject, 'tarball');
    }
  }

  /**
   * A registry answer as JSON, read with bounds: an endless or giant body is refused, not
   * buffered, and the whole answer (redirects included) must come within the deadline, or
   * it is cut off (ESOURCE, retried) however steadily it trickles. Redirects are followed
   * as a tarball download's are (download.ts): only to the registry's own origin or its
   * tarballHosts, and with the token only under the registry's URL.
   */
  private async getJson(path: string, subject: string, signal?: AbortSignal): Promise<unknown> {
    return (await this.answer(new URL(path.replace(/^\//, ''), this.url), subject, signal)).doc;
  }

  /**
   * The JSON answer at `url`, and its headers: the registry's (a packument, a search page), or
   * with `github` a page of GitHub's REST API, asked as that API wants, with the token only under
   * githubApiUrl and redirects only within its origin, and read up to MAX_GITHUB_PAGE_BYTES.
   */
  private async answer(url: URL, subject: string, signal?: AbortSignal, github?: string): Promise<{ doc: unknown; headers: IncomingHttpHeaders }> {
    const where = github ?? this.url;
    const deadline = AbortSignal.timeout(this.limits.answerDeadlineMs);
    const within = signal ? AbortSignal.any([signal, deadline]) : deadline;
    let read: { body: Buffer; headers: IncomingHttpHeaders };
    try {
      read = await this.readAnswer(url, subject, within, github);
    } catch (e) {
      if (deadline.aborted && !signal?.aborted) {
        throw new MigrateError('ESOURCE', `${subject}: ${where} did not finish its answer within ${this.limits.answerDeadlineMs / 1000} s; cut off`, {
          subject,
          cause: e,
          hint: `a ${github ? 'GitHub API' : 'registry'} answer that trickles (or a very slow link): retried; check the ${github ? 'API' : 'registry'}, or the proxy on the way to it`,
        });
      }
      throw e;
    }
    try {
      return { doc: JSON.parse(read.body.toString('utf8')), headers: read.headers };
    } catch (e) {
      throw new MigrateError('EBADSOURCE', `${subject}: ${where} answered with something that is not JSON`, {
        subject,
        cause: e,
        ...(github ? { hint: `check that githubApiUrl names GitHub's REST API (https://api.github.com/, or https://HOST/api/v3/ for GitHub Enterprise Server), and what answers there` } : {}),
      });
    }
  }

  /** The body of the answer at `url` (gzip undone) and its headers; aborting `within` cuts it off (an AbortError, whatever was read). */
  private async readAnswer(url: URL, subject: string, within: AbortSignal, github?: string): Promise<{ body: Buffer; headers: IncomingHttpHeaders }> {
    const res = await download(url.href, {
      ...(github ? this.githubAccess(github, subject) : this.access()),
      subject,
      headers: github
        ? { accept: 'application/vnd.github+json', 'x-github-api-version': GITHUB_API_VERSION, 'accept-encoding': 'gzip' }
        : // the full document: the abbreviated one (application/vnd.npm.install-v1+json) lacks `time` and `deprecated`
          { accept: 'application/json', 'accept-encoding': 'gzip' },
      signal: within,
      timeoutMs: ANSWER_IDLE_MS,
    });
    // the bound counts what is parsed: a small gzip body that inflates without end is refused all the same
    const body = res.headers['content-encoding'] === 'gzip' ? pipeline(res, createGunzip(), () => {}) : res;
    const max = github ? MAX_GITHUB_PAGE_BYTES : MAX_PACKUMENT_BYTES;
    const read = await readBounded(body, within, max, () =>
      github
        ? new MigrateError('ETOOLARGE', `${subject}: GitHub's API answered a page of its package list larger than ${max} bytes (${url.origin}${url.pathname})`, {
            subject,
            hint: `no page of ${GITHUB_PAGE} packages is that large: check that githubApiUrl names GitHub's REST API, and what answers there`,
          })
        : new MigrateError('ETOOLARGE', `${subject}: the registry's answer is larger than ${max} bytes`, {
            subject,
            hint: 'no npm packument is that large: check what the registry serves at that URL',
          }),
    );
    return { body: read, headers: res.headers };
  }

  /**
   * How requests to this source are authorised and where they may go: the token only under the
   * registry's URL (never to another path, port or protocol of its host, before or after a
   * redirect), and only to the registry's origin or the hosts the job trusts.
   */
  private access(): { authorization?: string; authPrefix: string; allowed: (u: URL) => boolean } {
    return { authorization: this.token ? `Bearer ${this.token}` : undefined, authPrefix: this.url, allowed: (u) => this.trusted(u) };
  }

  /**
   * How GitHub's REST API is asked: the token only under githubApiUrl (as under the registry's URL),
   * and redirects (an organization renamed) only within the API's origin, never to another host.
   */
  private githubAccess(api: string, subject: string): { authorization?: string; authPrefix: string; allowed: (u: URL) => boolean; refused: (u: URL) => MigrateError } {
    const origin = new URL(api).origin;
    return {
      authorization: this.token ? `Bearer ${this.token}` : undefined,
      authPrefix: api,
      allowed: (u) => u.origin === origin,
      refused: (u) => this.elsewhere(api, subject, u, 'redirects its package list'),
    };
  }

  /** GitHub's API sending the package list's reading to `url`, off its origin: never followed (the token would go along, or the list come from anyone). */
  private elsewhere(api: string, subject: string, url: URL, how: string): MigrateError {
    return new MigrateError('ESOURCEURL', `${subject}: GitHub's API at ${api} ${how} to ${url.protocol}//${url.host}, which is not the API's host; not followed`, {
      subject,
      actual: `${url.origin}${url.pathname}`,
      hint: `that host is never asked nor sent the token: check that githubApiUrl of source "${this.id}" names GitHub's REST API (https://api.github.com/, or https://HOST/api/v3/ for GitHub Enterprise Server), and what answers there`,
    });
  }

  private async packument(name: string, signal?: AbortSignal): Promise<PackageListing> {
    const doc = (await this.getJson(`/${escapeName(name)}`, name, signal)) as Packument;
    if (typeof doc !== 'object' || doc === null || typeof doc.versions !== 'object' || doc.versions === null) {
      throw new MigrateError('EBADSOURCE', `${name}: the registry's packument has no "versions" object`, { subject: name, hint: `check ${this.url} serves npm packuments` });
    }
    if (doc.name !== undefined && doc.name !== name) {
      throw new MigrateError('EBADSOURCE', `${name}: the registry answered with the packument of ${shownKey(String(doc.name))}`, { subject: name });
    }
    const distTags = this.distTagsOf(name, doc['dist-tags']);
    const time = doc.time ?? {};
    const versions: VersionListing[] = Object.entries(doc.versions).map(([key, manifest]) => {
      const dist = manifest?.dist ?? {};
      const published = publishTime(time[key]);
      const version = boundedKey(key);
      const problems: string[] = [];
      const valid = key.length <= MAX_VERSION_KEY && semver.valid(key, { loose: true }) !== null;
      if (holdsSecret(key)) problems.push(`the registry lists a version whose key holds the credential this source is read with (tokenEnv): recorded as ${shownKey(version)}, never fetched nor published`);
      else if (!valid) problems.push(`the registry lists ${shownKey(key)}, which is not a semver version`);
      else {
        // semver takes 256 characters, CodeArtifact's model 255: every request naming it would be refused
        const unheld = versionTooLong('npm', key);
        if (unheld) problems.push(`the registry lists a ${unheld}`);
      }
      // a field past its bound is a problem of the version, and not kept (see MAX_DEPRECATION)
      const bounded = (field: string, value: unknown, max: number): string | undefined => {
        if (typeof value !== 'string') return undefined;
        if (value.length <= max) return value;
        problems.push(`its ${field} is ${value.length.toLocaleString('en-US')} characters long, more than any registry sends (at most ${max.toLocaleString('en-US')} are taken)`);
        return undefined;
      };
      const tarball = bounded('dist.tarball URL', dist.tarball, MAX_TARBALL_URL) ?? '';
      // the state records the URL without query or credentials; the download uses the registry's own
      const recorded = tarball ? publicUrl(tarball) : '';
      if (tarball) this.artifactUrls.set(recorded, tarball);
      const integrity = bounded('dist.integrity', dist.integrity, MAX_INTEGRITY);
      const shasum = bounded('dist.shasum', dist.shasum, MAX_SHASUM);
      // copied to the target as it is, so never cut: refused whole
      const deprecated = bounded('deprecation message', manifest?.deprecated, MAX_DEPRECATION);
      // a registry that echoes the token it was asked with into what it lists: the field is never
      // kept (the state, the ledger, the target's deprecation), and the version is not migrated
      const echoed = (field: string, value: string | undefined): string | undefined => {
        if (value === undefined || !holdsSecret(value)) return value;
        problems.push(`its ${field} holds the credential this source is read with (tokenEnv), so it is not kept`);
        return undefined;
      };
      return {
        version,
        integrity: echoed('dist.integrity', integrity),
        shasum: echoed('dist.shasum', shasum),
        artifactUrl: echoed('dist.tarball URL', recorded) ?? '',
        publishedAt: published,
        deprecated: echoed('deprecation message', deprecated === '' ? undefined : deprecated),
        ...(problems.length ? { problem: problems.join('; ') } : {}),
      };
    });
    versions.sort(oldestFirst);
    return { format: 'npm', name, versions, distTags };
  }

  /**
   * The package's dist-tags, each naming its version by the key the version is recorded under.
   * More tags than any package has, or a tag name longer than any, fails the package (EBADSOURCE):
   * the target's dist-tags are made exactly the source's, so none is left out or cut.
   */
  private distTagsOf(name: string, value: unknown): Record<string, string> {
    if (value === undefined || value === null) return {};
    const refuse = (what: string) =>
      new MigrateError('EBADSOURCE', `${name}: the registry's packument ${what}`, {
        subject: name,
        hint: 'no npm registry makes such dist-tags: remove them at the source (npm dist-tag rm), or leave the package out of the job',
      });
    if (typeof value !== 'object' || Array.isArray(value)) throw refuse('has "dist-tags" that are not an object of tag names');
    const tags = Object.entries(value as Record<string, unknown>);
    if (tags.length > MAX_DIST_TAGS) throw refuse(`lists ${tags.length.toLocaleString('en-US')} dist-tags; a package has at most ${MAX_DIST_TAGS.toLocaleString('en-US')}`);
    const long = tags.find(([tag]) => tag.length > MAX_DIST_TAG);
    if (long) throw refuse(`lists a dist-tag of ${long[0].length.toLocaleString('en-US')} characters (${shownKey(long[0])}); a tag name has at most ${MAX_DIST_TAG}`);
    // a tag name is copied to the target as it is: one that holds the token is never kept nor copied
    if (tags.some(([tag]) => holdsSecret(tag))) throw refuse('lists a dist-tag whose name holds the credential this source is read with (tokenEnv); not kept, and the package is not migrated');
    const distTags: Record<string, string> = {};
    for (const [tag, v] of tags) if (typeof v === 'string') distTags[tag] = boundedKey(v);
    return distTags;
  }

  /**
   * Every package of a scope, through the registry's search API (`/-/v1/search`).
   * The search ends when a page is short, when a page brings nothing new (a
   * registry that ignores `from` answers the first page forever), at `total`,
   * or at MAX_SEARCH_RESULTS.
   */
  /** Wait out the registry's own pause, if one is on. */
  private async quota(signal?: AbortSignal): Promise<void> {
    const wait = this.pausedUntil - performance.now();
    if (wait > 0) await delay(wait, undefined, { signal });
  }

  private async searchScope(scope: string, retry: Retrier, signal?: AbortSignal): Promise<ScopeFound> {
    const names = new Set<string>();
    /** Names the search returned that are not listed, each with why. */
    const invalid = new Map<string, string>();
    const subject = `${scope}/*`;
    for (let from = 0; from < MAX_SEARCH_RESULTS; from += SEARCH_PAGE) {
      // each page is retried on its own, as a packument is: a connection reset or a 503 on one
      // page is not a scope that could not be listed
      const res = (await retry(async () => {
        try {
          await this.quota(signal);
          return await this.getJson(`/-/v1/search?text=${encodeURIComponent(scope)}&size=${SEARCH_PAGE}&from=${from}`, subject, signal);
        } catch (e) {
          throw this.classify(e, subject, 'search');
        }
      })) as { objects?: unknown; total?: unknown };
      const objects = Array.isArray(res?.objects) ? (res.objects as { package?: { name?: unknown } }[]) : [];
      let fresh = 0;
      for (const o of objects) {
        const n = o?.package?.name;
        if (typeof n !== 'string' || !n.startsWith(`${scope}/`)) continue;
        const refused = refusedName(n);
        if (refused) invalid.set(refused.key, refused.why);
        else if (!names.has(n)) (names.add(n), fresh++);
      }
      const total = typeof res?.total === 'number' ? res.total : Infinity;
      if (objects.length < SEARCH_PAGE || fresh === 0 || from + SEARCH_PAGE >= total) break;
    }
    return { names: [...names], invalid };
  }

  /**
   * Every npm package of a scope on GitHub Packages, through GitHub's REST API (GitHub has no npm
   * search): the scope names the owner, an organization (`/orgs/<owner>/packages`) or, when there
   * is none of that name (404), a user (`/users/<owner>/packages`); each item's `name` is the
   * package's without its scope. Pages of GITHUB_PAGE are followed by their Link `rel="next"`
   * (without a Link header: by number, until a short page), each retried on its own, at most
   * MAX_GITHUB_PAGES. Paging that would never end is an error, after the names found so far: a
   * next page elsewhere than the API's origin (never asked), one asked already, one promised after
   * a page that brought nothing new, or more pages than the bound.
   * https://docs.github.com/en/rest/packages/packages#list-packages-for-an-organization
   */
  private async githubScope(api: string, scope: string, retry: Retrier, signal?: AbortSignal): Promise<ScopeFound> {
    const names = new Set<string>();
    const invalid = new Map<string, string>();
    /** Packages of another type the list gave (`type:name`), told apart from news. */
    const others = new Set<string>();
    const subject = `${scope}/*`;
    const owner = scope.slice(1);
    const first = (kind: 'orgs' | 'users') => new URL(`${kind}/${encodeURIComponent(owner)}/packages?package_type=npm&per_page=${GITHUB_PAGE}&page=1`, api);
    const bad = (what: string, hint = `check that githubApiUrl of source "${this.id}" names GitHub's REST API, and what answers there; a rerun lists the scope again`) =>
      new MigrateError('EBADSOURCE', `${subject}: GitHub's package list at ${api} ${what}`, { subject, hint });
    let kind: 'orgs' | 'users' = 'orgs';
    let url: URL | undefined = first(kind);
    const asked = new Set<string>();
    try {
      while (url !== undefined) {
        if (asked.size >= MAX_GITHUB_PAGES) throw bad(`goes on past ${MAX_GITHUB_PAGES.toLocaleString('en-US')} pages of ${GITHUB_PAGE} packages (${names.size.toLocaleString('en-US')} names so far): paging that never ends`);
        asked.add(url.href);
        const page: URL = url;
        let answer: { doc: unknown; headers: IncomingHttpHeaders };
        try {
          answer = await retry(async () => {
            try {
              await this.quota(signal);
              return await this.answer(page, subject, signal, api);
            } catch (e) {
              throw this.classify(e, subject, 'package list', api);
            }
          });
        } catch (e) {
          // no organization of that name: the scope is a user's
          if (e instanceof MigrateError && e.status === 404 && asked.size === 1 && kind === 'orgs') {
            kind = 'users';
            url = first(kind);
            asked.clear();
            continue;
          }
          if (e instanceof MigrateError && e.status === 404 && asked.size === 1) {
            throw new MigrateError('ESOURCENOTFOUND', `${subject}: GitHub's API at ${api} knows no organization or user ${JSON.stringify(owner)} (scope ${scope})`, {
              subject,
              status: 404,
              cause: e,
              hint: `the scope names the GitHub organization or user that owns the packages: check its spelling in the job file, and that ${this.config.tokenEnv ?? 'the token'} can see it (GitHub answers 404 for what a token may not read)`,
            });
          }
          throw e;
        }
        const { doc, headers } = answer;
        if (!Array.isArray(doc)) throw bad('answered something that is not a list of packages (a JSON array)');
        if (doc.length > GITHUB_PAGE) throw bad(`answered a page of ${doc.length.toLocaleString('en-US')} packages, though asked for ${GITHUB_PAGE} at most`);
        let fresh = 0;
        for (const item of doc as unknown[]) {
          const n = item !== null && typeof item === 'object' ? (item as { name?: unknown }).name : undefined;
          if (typeof n !== 'string') throw bad('lists a package without a name (its items are not GitHub package objects)');
          // asked for package_type=npm: a container or Maven package of the owner (a server that ignored it) is none of ours
          // (new ones still count as news on the page: a page of them alone is no paging without end)
          const type = (item as { package_type?: unknown }).package_type;
          if (typeof type === 'string' && type.toLowerCase() !== 'npm') {
            const key = `${type}:${n}`;
            if (!others.has(key) && others.size < MAX_GITHUB_PAGES * GITHUB_PAGE) {
              others.add(key);
              fresh++;
            }
            continue;
          }
          // GitHub names an npm package without its scope (the owner); a name with it is taken as it is
          const name = n.startsWith(`${scope}/`) ? n : `${scope}/${n}`;
          if (names.has(name) || invalid.has(name.slice(0, 214))) continue;
          fresh++;
          const refused = refusedName(name);
          if (refused) invalid.set(refused.key, refused.why);
          else names.add(name);
        }
        const link = headers.link;
        let next: URL | undefined;
        if (link !== undefined) {
          const href = nextLink(Array.isArray(link) ? link.join(', ') : link);
          if (href !== undefined) {
            if (!URL.canParse(href, page.href)) throw bad(`gives a next page that is not a URL (Link: rel="next" ${JSON.stringify(printable(redact(href).slice(0, 200)))})`);
            next = new URL(href, page);
          }
        } else if (doc.length > 0) {
          // no Link header (GitHub sends none for a list of one page): the next page by number, until an
          // empty one. Not until a short one: a proxy or server that gives 30 a page whatever per_page
          // says would have its first page taken for the whole list, and every later package for removed
          next = new URL(page);
          next.searchParams.set('page', String((Number(page.searchParams.get('page')) || 1) + 1));
        }
        if (next === undefined) break;
        if (next.protocol !== page.protocol || !isUnder(next, api)) throw this.elsewhere(api, subject, next, 'points its next page');
        if (asked.has(next.href)) throw bad(`gives as its next page one it gave already (${next.pathname}${next.search}): paging that never ends`);
        if (fresh === 0) throw bad(`gives a next page after a page with no package it had not listed already: paging that never ends`);
        url = next;
      }
    } catch (e) {
      return { names: [...names], invalid, error: this.classify(e, subject, 'package list', api) };
    }
    return { names: [...names], invalid };
  }

  private classify(thrown: unknown, subject: string, what: 'packument' | 'tarball' | 'search' | 'package list', where = this.url): MigrateError {
    if (thrown instanceof MigrateError) return thrown;
    if (isAbort(thrown)) return new MigrateError('EINTERRUPTED', `${subject}: ${what} request cut off by the stop`, { subject });
    const e = toError(thrown) as Error & { statusCode?: number; code?: string; type?: string; headers?: unknown };
    const status = e.statusCode;
    if (status === 407) return proxyAuthError(`${subject}: the ${what} request to ${where}`, e);
    const header = headerOf(e.headers);
    const limited = rateLimited(status, header);
    if (limited) {
      if (limited.retryAfterMs) this.pausedUntil = Math.max(this.pausedUntil, performance.now() + limited.retryAfterMs);
      const until = limited.resetsAt ? `, until ${limited.resetsAt}` : '';
      return new MigrateError('ESOURCE', `${subject}: ${where} rate-limited the ${what} request (HTTP ${status}${until})`, {
        subject,
        status,
        retryAfterMs: limited.retryAfterMs,
        cause: e,
        hint: `the source's request quota is spent: the run waits (at most 5 minutes a time) and retries; what still fails is retried by the next run${limited.resetsAt ? ` after ${limited.resetsAt}` : ''} (GitHub Packages allows a token 5,000 requests an hour)`,
      });
    }
    if (status === 401 || status === 403) {
      return new MigrateError('ESOURCEAUTH', `${subject}: ${where} refused the ${what} request (HTTP ${status})`, {
        subject,
        status,
        cause: e,
        hint:
          what === 'package list'
            ? this.config.tokenEnv
              ? `GitHub's API lists packages only to a token with the read:packages scope (a personal access token (classic)) that can see ${subject.split('/')[0]!.slice(1)}'s packages (with SAML single sign-on: authorized for the organization): check ${this.config.tokenEnv}, or list the names under packages instead of scopes`
              : `GitHub's API lists packages only to a token with the read:packages scope: add tokenEnv to source "${this.id}"`
            : this.config.tokenEnv
              ? `check that ${this.config.tokenEnv} holds a token with read access to ${subject}`
              : `this registry needs a token: add tokenEnv to source "${this.id}"`,
      });
    }
    if (status === 404) {
      return new MigrateError('ESOURCENOTFOUND', `${subject}: not found at ${where} (${what})`, {
        subject,
        status,
        cause: e,
        hint:
          what === 'search'
            ? "this registry has no search API: list the packages by name under packages (GitHub Enterprise Server's: set githubApiUrl, https://HOST/api/v3/, and its scopes are listed through GitHub's API)"
            : 'check the name in the job file, and that the token can see it',
      });
    }
    // 5xx are worth another try; the server may say when
    const retryAfterMs = parseRetryAfter(header('retry-after'));
    return new MigrateError('ESOURCE', `${subject}: ${what} request to ${where} failed: ${status ? `HTTP ${status}` : e.message}`, { subject, status, retryAfterMs, cause: e });
  }
}

/**
 * One header of an error's answer: HttpStatusError holds node's headers, an object of
 * lower-case names (values strings or arrays of them).
 */
function headerOf(headers: unknown): (name: string) => string | undefined {
  return (name) => {
    const v = headers && typeof headers === 'object' ? (headers as Record<string, unknown>)[name.toLowerCase()] : undefined;
    const first = Array.isArray(v) ? v[0] : v;
    return typeof first === 'string' ? first : undefined;
  };
}

/**
 * A body read whole, up to `max` bytes (beyond: `tooLarge()`, and the body is
 * destroyed). Aborting `within` ends the read at once with an AbortError: the fetch's own
 * abort does not always reach a body already being read.
 */
function readBounded(body: NodeJS.ReadableStream & { destroy?: () => void }, within: AbortSignal, max: number, tooLarge: () => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (e?: Error) => {
      if (settled) return;
      settled = true;
      within.removeEventListener('abort', onAbort);
      body.removeListener('data', onData);
      if (e) {
        body.on('error', () => {}); // whatever the destroyed body says now is no news
        body.destroy?.();
        reject(e);
      } else resolve(Buffer.concat(chunks));
    };
    const onAbort = () => settle(new DOMException('the answer was cut off', 'AbortError'));
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) settle(tooLarge());
      else chunks.push(chunk);
    };
    if (within.aborted) return onAbort();
    within.addEventListener('abort', onAbort, { once: true });
    body.on('data', onData);
    body.once('error', (e: unknown) => settle(toError(e)));
    body.once('end', () => settle());
  });
}

/** `@scope/name` travels as `@scope%2fname` in registry paths. */
export function escapeName(name: string): string {
  return name.startsWith('@') ? `@${encodeURIComponent(name.slice(1))}` : encodeURIComponent(name);
}

/**
 * A version's publish time as an ISO string, or undefined unless the registry gives a date and
 * time: the registry's string goes into reports (Markdown, HTML), so it is never kept as given.
 */
function publishTime(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 40 || !DATE_TIME.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** Publish time first, so the target's history reads in the same order; semver breaks ties. */
function oldestFirst(a: VersionListing, b: VersionListing): number {
  if (a.publishedAt && b.publishedAt && a.publishedAt !== b.publishedAt) return a.publishedAt < b.publishedAt ? -1 : 1;
  const va = semver.valid(a.version, { loose: true });
  const vb = semver.valid(b.version, { loose: true });
  if (va && vb) return semver.compare(va, vb, { loose: true });
  return a.version < b.version ? -1 : a.version > b.version ? 1 : 0;
}

/**
 * The URL of a Link header's `rel="next"` (RFC 8288), as GitHub pages its REST API:
 * `<https://api.github.com/…&page=2>; rel="next", <…&page=5>; rel="last"`. Undefined: no next page.
 */
export function nextLink(header: string): string | undefined {
  for (const m of header.matchAll(/<([^<>]*)>((?:\s*;\s*[^;,]*)*)/g)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(m[2]!);
    if (rel && (rel[1] ?? rel[2]!).toLowerCase().split(/\s+/).includes('next')) return m[1]!.trim();
  }
  return undefined;
}

function isAbort(thrown: unknown): boolean {
  const e = thrown as { name?: string; type?: string; code?: string } | null;
  return e?.name === 'AbortError' || e?.type === 'aborted' || e?.code === 'ABORT_ERR';
}

/**
 * Why a name a scope's listing (the search, GitHub's package list) returned is not listed, and
 * the key it is recorded under; undefined for a name to list. A name holding the token it was
 * asked with is never a package row (its name is stored, printed, published).
 */
function refusedName(name: string): { key: string; why: string } | undefined {
  if (!isNpmName(name)) return { key: name.slice(0, 214), why: 'is not an npm package name' };
  if (holdsSecret(name)) return { key: redact(name).slice(0, 214), why: 'holds the credential this source is read with (tokenEnv): never listed nor published' };
  return undefined;
}
