/**
 * Scopes of GitHub Packages, listed through GitHub's REST API (GitHub has no npm search): the
 * sandbox's GitHub Packages Verdaccio holds the packages, the GitHub API stand-in
 * (support/github-api.ts) lists them by owner, as GitHub does, a page of 100 at a time.
 * Asserted by what was migrated, the list errors' codes, and where each request (and the
 * token) went; a second server plays "another host" and must never be asked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceSchema, type NpmRegistrySourceConfig } from '../src/config/schema.js';
import { withRetry } from '../src/engine/retry.js';
import type { NameResult } from '../src/sources/source.js';
import { NpmRegistrySource, nextLink } from '../src/sources/npm-registry.js';
import { publishRequests, startTestEnv, type TestEnv } from './support/harness.js';
import { startGithubApi, type GithubApi } from './support/github-api.js';
import { json, startHostileRegistry, type HostileRegistry } from './support/hostile-registry.js';
import { seedPackages } from './support/npm-fixtures.js';

const STACK_LINE = /^\s{4}at /m;
/** More than two pages of 100: the org's packages, published in the GitHub Packages Verdaccio. */
const ORG_PACKAGES = Array.from({ length: 205 }, (_, i) => `p${String(i).padStart(3, '0')}`);

let te: TestEnv;
let api: GithubApi;
/** Another host: a next link or a redirect may point here, and it must never be asked. */
let elsewhere: HostileRegistry;
let token: string;

beforeAll(async () => {
  te = await startTestEnv();
  token = te.sandbox.github.token;
  api = await startGithubApi({ token });
  elsewhere = await startHostileRegistry();
  await seedPackages(te.sandbox.github.url, token, [
    ...ORG_PACKAGES.map((n) => ({ name: `@ghorg/${n}`, versions: ['1.0.0'] })),
    { name: '@ghuser/a', versions: ['1.0.0', '1.1.0'] },
    { name: '@ghuser/b', versions: ['2.0.0'] },
  ]);
  api.setOwner('org', 'ghorg', ORG_PACKAGES);
  api.setOwner('user', 'ghuser', ['a', 'b']);
});
afterAll(async () => {
  await elsewhere?.stop();
  await api?.stop();
  await te?.stop();
});

function githubJob(name: string, scopes: string[], more: Record<string, unknown> = {}): string {
  const d = te.sandbox.descriptor;
  return te.writeJob({ name, sources: [{ id: 'github', kind: 'npm-registry', url: d.github.url, tokenEnv: d.github.tokenEnv, scopes, githubApiUrl: api.url, ...more }] });
}

/** The source of a job like githubJob's, built as the run builds it, for listing alone. */
function githubSource(scopes: string[]): NpmRegistrySource {
  const d = te.sandbox.descriptor;
  const config = sourceSchema.parse({ id: 'github', kind: 'npm-registry', url: d.github.url, tokenEnv: d.github.tokenEnv, scopes, githubApiUrl: api.url }) as NpmRegistrySourceConfig;
  return new NpmRegistrySource(config, te.env);
}

/** Every name result of the source's listing, each request retried as the run retries it. */
async function list(source: NpmRegistrySource, budget = 3): Promise<{ names: string[]; errors: NameResult[] }> {
  const names: string[] = [];
  const errors: NameResult[] = [];
  for await (const n of source.packageNames(undefined, (attempt) => withRetry(attempt, { budget }))) {
    if (n.ok) names.push(n.name);
    else errors.push(n);
  }
  return { names, errors };
}

const errorOf = (r: NameResult) => (r.ok ? undefined : { name: r.name, code: r.error.code, message: r.error.message, hint: r.error.hint });
const apiPaths = (since: number) => api.log.slice(since).map((e) => e.path);

describe('a GitHub Packages scope is listed through GitHub\'s REST API', () => {
  it('205 packages over three pages of 100 are all listed and migrated (te.run): the token went to the API and the registry, the API was asked as GitHub wants', async () => {
    const since = api.log.length;
    const s = await te.run(githubJob('gh-org', ['@ghorg']));
    expect(s.listErrors).toEqual([]);
    expect(s.exitCode).toBe(0);
    const published = [...publishRequests(te.sandbox, { succeededOnly: true }).keys()].filter((k) => k.startsWith('@ghorg/'));
    expect(published.sort()).toEqual(ORG_PACKAGES.map((n) => `@ghorg/${n}@1.0.0`));
    const state = te.openState('gh-org');
    try {
      const rows = state.items();
      expect(new Set(rows.map((r) => r.package))).toEqual(new Set(ORG_PACKAGES.map((n) => `@ghorg/${n}`)));
      expect(rows.every((r) => r.state === 'verified')).toBe(true);
    } finally {
      state.close();
    }
    // three pages: the first by the organization's name, the rest by GitHub's Link rel="next"
    const asked = api.log.slice(since);
    expect(asked.map((e) => e.path)).toEqual([
      '/orgs/ghorg/packages?package_type=npm&per_page=100&page=1',
      expect.stringMatching(/^\/organizations\/\d+\/packages\?package_type=npm&per_page=100&page=2$/),
      expect.stringMatching(/^\/organizations\/\d+\/packages\?package_type=npm&per_page=100&page=3$/),
    ]);
    for (const e of asked) {
      expect(e.authorization).toBe(`Bearer ${token}`);
      expect(e.accept).toBe('application/vnd.github+json');
      expect(e.apiVersion).toBe('2022-11-28');
    }
    expect(elsewhere.log).toEqual([]);
  });

  it('a scope that is no organization is a user\'s: /orgs/<owner> answers 404, /users/<owner> lists its packages, migrated', async () => {
    const since = api.log.length;
    const s = await te.run(githubJob('gh-user', ['@ghuser']));
    expect(s.listErrors).toEqual([]);
    expect(s.exitCode).toBe(0);
    // one page, so no Link header (as GitHub): the next page by number, empty, ends it
    expect(apiPaths(since)).toEqual(['/orgs/ghuser/packages?package_type=npm&per_page=100&page=1', '/users/ghuser/packages?package_type=npm&per_page=100&page=1', '/users/ghuser/packages?package_type=npm&per_page=100&page=2']);
    const state = te.openState('gh-user');
    try {
      expect(state.items().map((r) => `${r.package}@${r.version}:${r.state}`).sort()).toEqual(['@ghuser/a@1.0.0:verified', '@ghuser/a@1.1.0:verified', '@ghuser/b@2.0.0:verified']);
    } finally {
      state.close();
    }
  });

  it('without a Link header the pages are asked by number until an empty one: all 205 names', async () => {
    api.links = false;
    try {
      const since = api.log.length;
      const { names, errors } = await list(githubSource(['@ghorg']));
      expect(errors.map(errorOf)).toEqual([]);
      expect(names.sort()).toEqual(ORG_PACKAGES.map((n) => `@ghorg/${n}`));
      expect(apiPaths(since)).toEqual([1, 2, 3, 4].map((p) => `/orgs/ghorg/packages?package_type=npm&per_page=100&page=${p}`));
    } finally {
      api.links = true;
    }
  });

  it('without a Link header, from a server that gives 30 a page whatever per_page says (a proxy in front): still every name, never the first page alone taken for all', async () => {
    api.links = false;
    api.override((_req, res, url) => {
      const page = Number(url.searchParams.get('page')) || 1;
      const items = ORG_PACKAGES.slice((page - 1) * 30, page * 30).map((name) => ({ name, package_type: 'npm' }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(items));
      return true;
    });
    try {
      const { names, errors } = await list(githubSource(['@ghorg']));
      expect(errors.map(errorOf)).toEqual([]);
      expect(names.sort()).toEqual(ORG_PACKAGES.map((n) => `@ghorg/${n}`));
    } finally {
      api.override(undefined);
      api.links = true;
    }
  });

  it('packages of another type in the list (a server that ignores package_type=npm) are not taken for npm packages', async () => {
    api.override((_req, res, url) => {
      const items = url.searchParams.get('page') === '1' ? [{ name: 'lib', package_type: 'npm' }, { name: 'web-image', package_type: 'container' }, { name: 'lib-jar', package_type: 'maven' }] : [];
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(items));
      return true;
    });
    try {
      const { names, errors } = await list(githubSource(['@ghmixed']));
      expect(errors.map(errorOf)).toEqual([]);
      expect(names).toEqual(['@ghmixed/lib']);
    } finally {
      api.override(undefined);
    }
  });

  it('a page refused for a spent rate limit (403, x-ratelimit-remaining: 0) is asked again after x-ratelimit-reset; a 429 with Retry-After likewise', async () => {
    let resetAt = 0;
    let limited = 0;
    api.override((_req, res, url) => {
      if (url.searchParams.get('page') !== '2' || limited > 1) return false;
      limited++;
      if (limited === 1) {
        resetAt = Math.ceil(Date.now() / 1000) + 1;
        res.writeHead(403, { 'content-type': 'application/json', 'x-ratelimit-remaining': '0', 'x-ratelimit-limit': '5000', 'x-ratelimit-reset': String(resetAt) });
        res.end(JSON.stringify({ message: 'API rate limit exceeded for user ID 1.' }));
      } else {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end(JSON.stringify({ message: 'You have exceeded a secondary rate limit.' }));
      }
      return true;
    });
    try {
      const since = api.log.length;
      const { names, errors } = await list(githubSource(['@ghorg']));
      expect(errors.map(errorOf)).toEqual([]);
      expect(names).toHaveLength(ORG_PACKAGES.length);
      const page2 = api.log.slice(since).filter((e) => e.path.endsWith('&page=2'));
      expect(page2).toHaveLength(3);
      // not asked again before the reset GitHub named
      expect(page2[1]!.at).toBeGreaterThanOrEqual(resetAt * 1000);
      expect(page2[2]!.at - page2[1]!.at).toBeGreaterThanOrEqual(1000);
    } finally {
      api.override(undefined);
    }
  });

  it('an owner with no npm package is ESOURCEEMPTY; an owner GitHub does not know is ESOURCENOTFOUND; both name the scope and what to check', async () => {
    api.setOwner('org', 'ghempty', []);
    const { names, errors } = await list(githubSource(['@ghempty', '@ghnobody']));
    expect(names).toEqual([]);
    expect(errors.map(errorOf)).toEqual([
      expect.objectContaining({ name: '@ghempty/*', code: 'ESOURCEEMPTY', message: expect.stringContaining('holds no npm package of ghempty'), hint: expect.stringContaining('read:packages') }),
      expect.objectContaining({ name: '@ghnobody/*', code: 'ESOURCENOTFOUND', message: expect.stringContaining('knows no organization or user "ghnobody"') }),
    ]);
  });

  it('a token the API refuses (401, a 403 that is no rate limit) is ESOURCEAUTH saying read:packages, no retry', async () => {
    for (const status of [401, 403]) {
      api.override((_req, res) => (json(res, status, { message: status === 401 ? 'Bad credentials' : 'Resource not accessible by personal access token' }), true));
      try {
        const since = api.log.length;
        const { errors } = await list(githubSource(['@ghorg']));
        expect(errors.map(errorOf)).toEqual([expect.objectContaining({ name: '@ghorg/*', code: 'ESOURCEAUTH', message: expect.stringContaining(`HTTP ${status}`), hint: expect.stringContaining('read:packages') })]);
        expect(api.log.length - since).toBe(1);
      } finally {
        api.override(undefined);
      }
    }
  });
});

describe('a hostile or broken API answer is a clear list error, never a hang, a stack trace or the token elsewhere', () => {
  /** Answer every page of the scope's listing with `page(n, url, res)`. */
  function serve(page: (n: number, url: URL, res: import('node:http').ServerResponse) => void): void {
    api.override((_req, res, url) => {
      if (!/^\/(orgs|users|organizations)\/hostile\//.test(url.pathname)) return false;
      page(Number(url.searchParams.get('page')) || 1, url, res);
      return true;
    });
  }
  const names100 = (prefix: string) => Array.from({ length: 100 }, (_, i) => ({ name: `${prefix}${i}` }));
  const withLink = (res: import('node:http').ServerResponse, body: unknown, link: string) => {
    const text = JSON.stringify(body);
    res.writeHead(200, { 'content-type': 'application/json', link });
    res.end(text);
  };

  it('next links without end, always the same packages: EBADSOURCE at the second page, the first page\'s names kept', async () => {
    serve((n, url, res) => withLink(res, names100('same'), `<${api.url}orgs/hostile/packages?package_type=npm&per_page=100&page=${n + 1}>; rel="next"`));
    try {
      const since = api.log.length;
      const { names, errors } = await list(githubSource(['@hostile']));
      expect(names).toHaveLength(100);
      expect(errors.map(errorOf)).toEqual([expect.objectContaining({ name: '@hostile/*', code: 'EBADSOURCE', message: expect.stringContaining('paging that never ends') })]);
      expect(api.log.length - since).toBe(2);
    } finally {
      api.override(undefined);
    }
  });

  it('a next link back to a page already read: EBADSOURCE, that page not asked again', async () => {
    serve((n, url, res) => withLink(res, names100(`loop${n}-`), `<${api.url}orgs/hostile/packages?package_type=npm&per_page=100&page=1>; rel="next"`));
    try {
      const since = api.log.length;
      const { names, errors } = await list(githubSource(['@hostile']));
      expect(names).toHaveLength(100);
      expect(errors.map(errorOf)).toEqual([expect.objectContaining({ code: 'EBADSOURCE', message: expect.stringContaining('one it gave already') })]);
      expect(api.log.length - since).toBe(1);
    } finally {
      api.override(undefined);
    }
  });

  it('new packages on every page, for ever: stopped at 1,000 pages (100,000 names) with EBADSOURCE', async () => {
    serve((n, url, res) => withLink(res, names100(`n${n}-`), `<${api.url}orgs/hostile/packages?package_type=npm&per_page=100&page=${n + 1}>; rel="next"`));
    try {
      const since = api.log.length;
      const { names, errors } = await list(githubSource(['@hostile']));
      expect(api.log.length - since).toBe(1000);
      expect(names).toHaveLength(100_000);
      expect(errors.map(errorOf)).toEqual([expect.objectContaining({ code: 'EBADSOURCE', message: expect.stringContaining('goes on past 1,000 pages') })]);
    } finally {
      api.override(undefined);
    }
  });

  it('a next link (or a redirect) to another host is ESOURCEURL: that host is never asked, so never sent the token', async () => {
    for (const how of ['link', 'redirect'] as const) {
      serve((n, url, res) => {
        if (how === 'redirect') {
          res.writeHead(302, { location: `${elsewhere.url}orgs/hostile/packages?package_type=npm&per_page=100&page=${n}` });
          return void res.end();
        }
        withLink(res, names100('away'), `<${elsewhere.url}orgs/hostile/packages?package_type=npm&per_page=100&page=2>; rel="next"`);
      });
      try {
        const { names, errors } = await list(githubSource(['@hostile']));
        expect(names).toHaveLength(how === 'link' ? 100 : 0);
        expect(errors.map(errorOf)).toEqual([
          expect.objectContaining({ name: '@hostile/*', code: 'ESOURCEURL', message: expect.stringContaining(`${elsewhere.url.replace(/\/$/, '')}, which is not the API's host`), hint: expect.stringContaining('githubApiUrl') }),
        ]);
        expect(elsewhere.log).toEqual([]);
      } finally {
        api.override(undefined);
      }
    }
  });

  it('names that are no npm names are each an EBADSOURCE list error; the good ones are listed', async () => {
    const bad = ['Has Space', 'a/b', '../up', 'x'.repeat(300), '\u001b[2Jclear'];
    serve((n, _url, res) => json(res, 200, n === 1 ? [{ name: 'fine' }, ...bad.map((name) => ({ name }))] : []));
    try {
      const { names, errors } = await list(githubSource(['@hostile']));
      expect(names).toEqual(['@hostile/fine']);
      expect(errors).toHaveLength(bad.length);
      for (const e of errors) expect(errorOf(e)).toEqual(expect.objectContaining({ code: 'EBADSOURCE', message: expect.stringContaining("GitHub's package list returned") }));
      // shown escaped, never as the terminal control it is
      expect(errors.some((e) => e.name.includes('\u001b'))).toBe(false);
    } finally {
      api.override(undefined);
    }
  });

  it('a 10 MB answer, an HTML page, a JSON object, items without a name: each an EBADSOURCE or ETOOLARGE list error naming the API', async () => {
    const cases: [string, (res: import('node:http').ServerResponse) => void, string, string][] = [
      ['10 MB', (res) => json(res, 200, Array.from({ length: 100 }, (_, i) => ({ name: `big${i}`, description: 'x'.repeat(100_000) }))), 'ETOOLARGE', 'larger than 8388608 bytes'],
      ['HTML', (res) => (res.writeHead(200, { 'content-type': 'text/html' }), res.end('<html><body>Sign in</body></html>')), 'EBADSOURCE', 'not JSON'],
      ['object', (res) => json(res, 200, { message: 'Not a list', total_count: 3 }), 'EBADSOURCE', 'not a list of packages'],
      ['no names', (res) => json(res, 200, [{ id: 1 }, 'fine']), 'EBADSOURCE', 'without a name'],
    ];
    for (const [label, answer, code, words] of cases) {
      serve((_n, _url, res) => answer(res));
      try {
        const { names, errors } = await list(githubSource(['@hostile']));
        expect(names, label).toEqual([]);
        expect(errors.map(errorOf), label).toEqual([expect.objectContaining({ name: '@hostile/*', code, message: expect.stringContaining(words) })]);
        expect(errors[0]!.ok ? '' : errors[0]!.error.message, label).toContain(api.url.replace(/\/$/, ''));
      } finally {
        api.override(undefined);
      }
    }
  });

  it('the CLI run against an endless paging says so in its summary and exits 1, without a stack trace', async () => {
    serve((n, url, res) => withLink(res, names100('same'), `<${api.url}orgs/hostile/packages?package_type=npm&per_page=100&page=${n + 1}>; rel="next"`));
    try {
      const r = await te.cli(['run', githubJob('gh-hostile', ['@hostile']), '--dry-run', '--json']);
      expect(r.stderr).not.toMatch(STACK_LINE);
      expect(r.code).toBe(1);
      const s = JSON.parse(r.stdout) as { listErrors: { package: string; code: string }[] };
      expect(s.listErrors).toEqual(expect.arrayContaining([expect.objectContaining({ package: '@hostile/*', code: 'EBADSOURCE' })]));
      expect(r.stdout + r.stderr).not.toContain(token);
    } finally {
      api.override(undefined);
    }
  });
});

describe('which registries are listed through GitHub\'s API', () => {
  it('npm.pkg.github.com uses https://api.github.com/ unless githubApiUrl says otherwise; any other registry without it is searched as before', () => {
    const make = (more: Record<string, unknown>) =>
      new NpmRegistrySource(sourceSchema.parse({ id: 's', kind: 'npm-registry', scopes: ['@acme'], ...more }) as NpmRegistrySourceConfig, {}) as unknown as { githubApi?: string };
    expect(make({ url: 'https://npm.pkg.github.com/' }).githubApi).toBe('https://api.github.com/');
    expect(make({ url: 'https://npm.pkg.github.com' }).githubApi).toBe('https://api.github.com/');
    expect(make({ url: 'https://npm.ghe.example/', githubApiUrl: 'https://ghe.example/api/v3' }).githubApi).toBe('https://ghe.example/api/v3/');
    expect(make({ url: 'https://npm.acme.example/' }).githubApi).toBeUndefined();
  });

  it('Link headers are read as GitHub writes them (rel="next" anywhere in the list, other rels ignored)', () => {
    expect(nextLink('<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last"')).toBe('https://api.github.com/x?page=2');
    expect(nextLink('<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=3>; rel="next"')).toBe('https://api.github.com/x?page=3');
    expect(nextLink('<https://api.github.com/x?page=1>; rel="first", <https://api.github.com/x?page=1>; rel="prev"')).toBeUndefined();
    expect(nextLink('<a>; rel=next')).toBe('a');
    expect(nextLink('<'.repeat(16_000))).toBeUndefined();
  });
});
