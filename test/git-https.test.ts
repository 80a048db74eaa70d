/**
 * git sources and warm repositories over https, end to end: a real `git http-backend` behind a
 * node https front whose certificate (made at test time) the client trusts through
 * GIT_SSL_CAINFO, real git, the real CLI.
 *  - an https URL is cloned, then fetched, over https;
 *  - the https front redirecting git to plain http (a misconfigured or compromised front: git
 *    follows the redirect of its first request, and curl may go from https to http) is refused
 *    with ESOURCEURL naming the source: nothing is asked of the http server, where anyone on
 *    the way could change the pack while the ledger recorded the https URL;
 *  - a redirect to another https URL (a moved repository) is still followed, and the operator's
 *    credential helper for the job's host is not asked for the host the redirect names.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockfileRepository } from '../src/warm/git-lockfiles.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { startGitHttpServer, type GitHttpServer } from './support/git-http.js';
import { pyProject } from './support/git-server.js';
import { failure } from './support/thrown.js';

let te: TestEnv;
let gh: GitHttpServer;
let ca: Record<string, string>;

const GIT_ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };

/** A bare repository `<name>.git` served by `server` (gh), holding `dir`'s files as one commit on main, tagged with `tags`. */
function serveRepo(name: string, dir: string, tags: string[], server = gh): void {
  const git = (args: string[], cwd = dir) => execFileSync('git', ['-c', 'user.name=Fixture', '-c', 'user.email=fixture@acme.example', ...args], { cwd, env: GIT_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  git(['init', '-q', '-b', 'main']);
  git(['add', '-A']);
  git(['commit', '-q', '-m', 'release']);
  for (const t of tags) git(['tag', t]);
  git(['clone', '-q', '--bare', dir, join(server.reposDir, `${name}.git`)], server.dir);
}

beforeAll(async () => {
  te = await startTestEnv();
  gh = await startGitHttpServer({ dir: join(te.dir, 'git-http') });
  ca = { GIT_SSL_CAINFO: gh.caFile };
  serveRepo('company', pyProject(join(te.dir, 'src-company'), 'https-lib', '1.0.0'), ['v1.0.0']);
});
afterAll(async () => {
  await gh?.stop();
  await te?.stop();
});

const source = (id: string, url: string) => ({ id, kind: 'git', url, format: 'pypi', package: 'https-lib' });
const mirror = (job: string, id: string) => join(te.stateDir, 'git', job, `${id}.git`);
const tagsOf = (dir: string) => execFileSync('git', ['tag'], { cwd: dir, env: GIT_ENV, encoding: 'utf8' }).trim().split('\n');
const fronts = (from: number) => gh.requests().slice(from);
/** Redirect the https front's first request of a fetch (`info/refs`, what git follows) to the plain http front. */
const toPlainHttp = (status = 301) => ({ status, to: (p: string) => (p.includes('/info/refs') ? `http://127.0.0.1:${gh.httpPort}${p}` : undefined) });

interface Summary {
  listErrors: { source: string; code: string; message: string }[];
}

describe('an https git source', () => {
  it('is cloned, then fetched, over https, the certificate checked against GIT_SSL_CAINFO', async () => {
    const job = te.writeJob({ name: 'https-plain', sources: [source('lib', gh.httpsUrl('company'))] });
    const from = gh.requests().length;
    const r = await te.cli(['run', job, '--dry-run', '--json'], ca);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(tagsOf(mirror('https-plain', 'lib'))).toEqual(['v1.0.0']);
    // the mirror exists: the second run fetches into it
    const again = await te.cli(['run', job, '--dry-run', '--json'], ca);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    const seen = fronts(from);
    expect(seen.filter((q) => q.method === 'POST' && q.url.endsWith('/git-upload-pack')).length).toBeGreaterThanOrEqual(2);
    expect(seen.every((q) => q.front === 'https')).toBe(true);
  });

  it('without the CA that signed the certificate: not fetched (the certificate is checked), ESOURCEAUTH naming GIT_SSL_CAINFO, not retried', async () => {
    // retries allowed: a certificate this machine does not trust fails every try alike
    const job = te.writeJob({ name: 'https-unknown-ca', sources: [source('lib', gh.httpsUrl('company'))], limits: { retries: 3 } });
    const from = gh.requests().length;
    const r = await te.cli(['run', job, '--dry-run', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const [error, ...more] = (JSON.parse(r.stdout) as Summary).listErrors;
    expect(more).toEqual([]);
    expect(error).toEqual(expect.objectContaining({ source: 'lib', code: 'ESOURCEAUTH' }));
    expect(error!.message).toMatch(/certificate/);
    expect(r.stderr).toContain('GIT_SSL_CAINFO');
    expect(r.stderr).not.toMatch(/retry \d+ for/);
    // the TLS handshake failed: no request was ever answered
    expect(fronts(from)).toEqual([]);
  });

  it.each([301, 302])('whose https front redirects git to plain http (%i) on the clone: refused (ESOURCEURL naming the source), the http server never asked, no mirror', async (status) => {
    const name = `https-to-http-${status}`;
    const job = te.writeJob({ name, sources: [source('lib', gh.httpsUrl('company'))], limits: { retries: 0 } });
    const from = gh.requests().length;
    gh.redirect = toPlainHttp(status);
    try {
      const r = await te.cli(['run', job, '--dry-run', '--json'], ca);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      const [error, ...more] = (JSON.parse(r.stdout) as Summary).listErrors;
      expect(more).toEqual([]);
      expect(error).toEqual(expect.objectContaining({ source: 'lib', code: 'ESOURCEURL' }));
      expect(error!.message).toContain('source "lib"');
      expect(error!.message).toMatch(/redirect/i);
      expect(error!.message).toContain('http://');
      expect(r.stderr).not.toMatch(/^ {4}at /m);
    } finally {
      delete gh.redirect;
    }
    expect(fronts(from).filter((q) => q.front === 'http')).toEqual([]);
    expect(existsSync(mirror(name, 'lib'))).toBe(false);
  });

  it('whose https front starts redirecting to plain http after the mirror was cloned: the fetch is refused (ESOURCEURL), the http server never asked, the mirror as it was', async () => {
    const job = te.writeJob({ name: 'https-to-http-fetch', sources: [source('lib', gh.httpsUrl('company'))], limits: { retries: 0 } });
    const first = await te.cli(['run', job, '--dry-run', '--json'], ca);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const from = gh.requests().length;
    gh.redirect = toPlainHttp(302);
    try {
      const r = await te.cli(['run', job, '--dry-run', '--json'], ca);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect((JSON.parse(r.stdout) as Summary).listErrors).toEqual([expect.objectContaining({ source: 'lib', code: 'ESOURCEURL' })]);
    } finally {
      delete gh.redirect;
    }
    expect(fronts(from).filter((q) => q.front === 'http')).toEqual([]);
    expect(tagsOf(mirror('https-to-http-fetch', 'lib'))).toEqual(['v1.0.0']);
  });

  it('whose https front redirects to another https URL (a moved repository): followed, fetched', async () => {
    const job = te.writeJob({ name: 'https-moved', sources: [source('lib', gh.httpsUrl('old-name'))], limits: { retries: 0 } });
    gh.redirect = { to: (p) => (p.startsWith('/old-name.git/info/refs') ? gh.httpsUrl('company') + p.slice('/old-name.git'.length) : undefined) };
    try {
      const r = await te.cli(['run', job, '--dry-run', '--json'], ca);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    } finally {
      delete gh.redirect;
    }
    expect(tagsOf(mirror('https-moved', 'lib'))).toEqual(['v1.0.0']);
  });
});

describe('an https warm repository', () => {
  it('whose https front redirects to plain http: refused (ESOURCEURL naming the repository), the http server never asked', async () => {
    const state = join(te.dir, 'warm-redirect-state');
    mkdirSync(state, { recursive: true });
    const url = gh.httpsUrl('company');
    const repo = new LockfileRepository({ url, branches: [], idleTimeoutSeconds: 600 } as never, { PATH: process.env.PATH, HOME: te.dir, ...ca }, state, 'warm-redirect', undefined, 0);
    const from = gh.requests().length;
    gh.redirect = toPlainHttp();
    try {
      const e = await failure(repo.fetch());
      expect(e.code).toBe('ESOURCEURL');
      expect(e.message).toContain(url);
    } finally {
      delete gh.redirect;
      repo.close();
    }
    expect(fronts(from).filter((q) => q.front === 'http')).toEqual([]);
  });
});

describe("the operator's credential helper for the job's https host", () => {
  // a helper that answers whatever host git asks it for, as a script printing a CI token does;
  // the operator scoped it to the company's git host in ~/.gitconfig
  const PASSWORD = 'planted-git-token-7f3a9c2e';
  let other: GitHttpServer;
  let both: Record<string, string>;
  const homeWith = (name: string, scope: string) => {
    const home = join(te.dir, `home-${name}`);
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, '.gitconfig'), `[credential "${scope}"]\n\thelper = "!f() { test \\"$1\\" = get && printf 'username=ci\\\\npassword=${PASSWORD}\\\\n'; }; f"\n`);
    return home;
  };

  beforeAll(async () => {
    // another https host, which asks for credentials, serving the same repository
    other = await startGitHttpServer({ dir: join(te.dir, 'git-http-other') });
    other.auth = { user: 'ci', password: PASSWORD };
    serveRepo('company', pyProject(join(te.dir, 'src-company-other'), 'https-lib', '1.0.0'), ['v1.0.0'], other);
    const cas = join(te.dir, 'both-cas.pem');
    writeFileSync(cas, readFileSync(gh.caFile, 'utf8') + readFileSync(other.caFile, 'utf8'));
    both = { GIT_SSL_CAINFO: cas };
  });
  afterAll(async () => {
    await other?.stop();
  });

  it('is used for that host: a source there that asks for credentials is fetched with them', async () => {
    const job = te.writeJob({ name: 'https-helper', sources: [source('lib', other.httpsUrl('company'))], limits: { retries: 0 } });
    const r = await te.cli(['run', job, '--dry-run', '--json'], { ...both, HOME: homeWith('scoped-other', `https://127.0.0.1:${other.httpsPort}`) });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(tagsOf(mirror('https-helper', 'lib'))).toEqual(['v1.0.0']);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });

  it('is not asked for another host a redirect names: that host never receives the token, the source fails ESOURCEAUTH', async () => {
    const job = te.writeJob({ name: 'https-helper-redirect', sources: [source('lib', gh.httpsUrl('old-name'))], limits: { retries: 0 } });
    gh.redirect = { to: (p) => (p.startsWith('/old-name.git/info/refs') ? other.httpsUrl('company') + p.slice('/old-name.git'.length) : undefined) };
    const from = other.requests().length;
    try {
      const r = await te.cli(['run', job, '--dry-run', '--json'], { ...both, HOME: homeWith('scoped-gh', `https://127.0.0.1:${gh.httpsPort}`) });
      expect(r.code, r.stdout + r.stderr).toBe(1);
      const summary = JSON.parse(r.stdout) as Summary;
      expect(summary.listErrors.map((e) => e.code)).toEqual(['ESOURCEAUTH']);
      expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    } finally {
      delete gh.redirect;
    }
    const asked = other.requests().slice(from);
    // the redirect was followed (git asked the other host), without the operator's token
    expect(asked.length).toBeGreaterThan(0);
    const token = Buffer.from(`ci:${PASSWORD}`).toString('base64');
    expect(asked.filter((q) => q.authorization?.includes(token))).toEqual([]);
    expect(existsSync(mirror('https-helper-redirect', 'lib'))).toBe(false);
  });
});
