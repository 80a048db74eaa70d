/**
 * A stand-in for the part of GitHub's REST API that lists an owner's packages, beside the
 * sandbox's GitHub Packages Verdaccio (which, like GitHub, has no npm search):
 *   GET /orgs/{org}/packages?package_type=npm&per_page=&page=
 *   GET /users/{user}/packages?package_type=npm&per_page=&page=
 * https://docs.github.com/en/rest/packages/packages#list-packages-for-an-organization
 * As GitHub does it: a JSON array of package objects whose `name` is the npm name without its
 * scope, at most 100 a page (per_page, default 30), a Link header with rel="next"/"last" (the
 * next page addressed by the owner's numeric id, /organizations/{id}/… or /user/{id}/…),
 * 404 for an owner there is none of, 401 without a token it knows. A plain-http server on
 * 127.0.0.1 (random port); every request is logged with its headers, so tests can say where
 * the token went. `override` answers requests the test's own way (hostile answers).
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { json } from './hostile-registry.js';

export interface GithubApiRequest {
  path: string;
  authorization?: string;
  accept?: string;
  apiVersion?: string;
  /** Date.now() when it came. */
  at: number;
}

export interface GithubApi {
  /** `http://127.0.0.1:PORT/`, with the trailing slash: a job's githubApiUrl. */
  url: string;
  log: GithubApiRequest[];
  /** The npm packages (names without scope) an organization or a user owns; replaces what it had. */
  setOwner(kind: 'org' | 'user', owner: string, names: string[]): void;
  /** Answer requests the test's way: return true when `handler` answered, false to let the stand-in answer. */
  override(handler: ((req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean) | undefined): void;
  /** Send no Link header (the client pages by number). */
  links: boolean;
  stop(): Promise<void>;
}

const MAX_PER_PAGE = 100;

export async function startGithubApi(opts: { token: string }): Promise<GithubApi> {
  const owners = new Map<string, { kind: 'org' | 'user'; id: number; names: string[] }>();
  let nextId = 1000;
  let custom: Parameters<GithubApi['override']>[0];
  const log: GithubApiRequest[] = [];
  const sockets = new Set<Socket>();
  let base = '';

  const packageObject = (owner: string, kind: 'org' | 'user', id: number, name: string, i: number) => ({
    id: id * 10_000 + i,
    name,
    package_type: 'npm',
    owner: { login: owner, id, type: kind === 'org' ? 'Organization' : 'User' },
    version_count: 1,
    visibility: 'private',
    url: `${base}${kind === 'org' ? 'orgs' : 'users'}/${owner}/packages/npm/${encodeURIComponent(name)}`,
    created_at: '2024-01-01T00:00:00Z',
    updated_at: '2024-01-01T00:00:00Z',
    html_url: `https://github.com/${kind === 'org' ? 'orgs/' : ''}${owner}/packages/npm/package/${encodeURIComponent(name)}`,
  });

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    log.push({ path: `${url.pathname}${url.search}`, authorization: req.headers.authorization, accept: req.headers.accept, apiVersion: req.headers['x-github-api-version'] as string | undefined, at: Date.now() });
    if (custom?.(req, res, url)) return;
    if (req.headers.authorization !== `Bearer ${opts.token}`) return json(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    // /orgs/{name}/packages, /users/{name}/packages, or the id forms the Link header uses
    const m = /^\/(orgs|users|organizations|user)\/([^/]+)\/packages$/.exec(url.pathname);
    if (!m) return json(res, 404, { message: 'Not Found' });
    const byId = m[1] === 'organizations' || m[1] === 'user';
    const kind = m[1] === 'orgs' || m[1] === 'organizations' ? 'org' : 'user';
    const key = decodeURIComponent(m[2]!).toLowerCase();
    const found = [...owners.entries()].find(([name, o]) => o.kind === kind && (byId ? String(o.id) === key : name === key));
    if (!found) return json(res, 404, { message: 'Not Found' });
    if (url.searchParams.get('package_type') !== 'npm') return json(res, 400, { message: 'package_type is required' });
    const [owner, o] = found;
    const perPage = Math.min(MAX_PER_PAGE, Math.max(1, Number(url.searchParams.get('per_page')) || 30));
    const page = Math.max(1, Number(url.searchParams.get('page')) || 1);
    const items = o.names.slice((page - 1) * perPage, page * perPage).map((n, i) => packageObject(owner, o.kind, o.id, n, (page - 1) * perPage + i));
    const last = Math.max(1, Math.ceil(o.names.length / perPage));
    const headers: Record<string, string> = {};
    if (api.links && last > 1) {
      const at = (p: number) => `<${base}${kind === 'org' ? 'organizations' : 'user'}/${o.id}/packages?package_type=npm&per_page=${perPage}&page=${p}>`;
      const rels: string[] = [];
      if (page > 1) rels.push(`${at(page - 1)}; rel="prev"`);
      if (page < last) rels.push(`${at(page + 1)}; rel="next"`, `${at(last)}; rel="last"`);
      if (page > 1) rels.push(`${at(1)}; rel="first"`);
      headers.link = rels.join(', ');
    }
    const text = JSON.stringify(items);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'x-github-api-version-selected': '2022-11-28', 'x-ratelimit-remaining': '4999', ...headers });
    res.end(text);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  const api: GithubApi = {
    url: base,
    log,
    links: true,
    setOwner: (kind, owner, names) => void owners.set(owner.toLowerCase(), { kind, id: owners.get(owner.toLowerCase())?.id ?? nextId++, names: [...names] }),
    override: (handler) => void (custom = handler),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return api;
}
