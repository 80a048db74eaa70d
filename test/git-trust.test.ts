/**
 * What git fetches is what the ledger says, whatever the operator's environment or the
 * state directory says: the ledger names the job's git URL (and tag and commit) for every
 * version, so git must fetch from that URL, over a transport that checks who answers.
 * Real sshd, real git, the real CLI:
 *  - the operator's git config (~/.gitconfig, /etc/gitconfig, GIT_CONFIG_*) is not read by
 *    the git that fetches: a `url.<fork>.insteadOf` for the job's URL, or a `[remote "origin"]`
 *    naming a fork, never sends it elsewhere, and `http.sslVerify false` never turns off
 *    the certificate check (an https URL's credential helper is still used);
 *  - GIT_SSL_NO_VERIFY for an https URL is refused, never silently used;
 *  - a plain http:// (or git://) URL is refused at load, naming the file and field;
 *  - GIT_SSH naming a program whose path holds a space is run as that program;
 *  - a url rule, a fetch refspec or a command planted in a mirror's own config is not
 *    followed by the next run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockfileRepository } from '../src/warm/git-lockfiles.js';
import { GitAccess } from '../src/sources/git-access.js';
import { StateDb } from '../src/state/db.js';
import { startGitTestEnv, stopTestEnvWithGit, type TestEnv } from './support/harness.js';
import { gitSourceOn, pyProject, type GitServer } from './support/git-server.js';

let te: TestEnv;
let git: GitServer;

beforeAll(async () => {
  ({ te, git } = await startGitTestEnv());
  // the company's repository, and a fork of it with a commit of its own under the same tag, and one more tag
  await git.createRepoFromDir('company', pyProject(join(te.dir, 'src-company'), 'trust-lib', '1.0.0'), { tags: ['v1.0.0'] });
  await git.createRepoFromDir('fork', pyProject(join(te.dir, 'src-fork'), 'trust-lib', '1.0.0', { 'EVIL.txt': 'not the company\'s\n' }), { tags: ['v1.0.0', 'v6.6.6'] });
});
afterAll(() => stopTestEnvWithGit(git, te));

const source = (extra: Record<string, unknown> = {}) => gitSourceOn(git, 'trust', 'company', 'pypi', { package: 'trust-lib', ...extra });

/** An operator's home folder holding `gitconfig` as ~/.gitconfig. */
function home(name: string, gitconfig: string): string {
  const dir = join(te.dir, `home-${name}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, '.gitconfig'), gitconfig);
  return dir;
}

const mirror = (job: string) => join(te.stateDir, 'git', job, 'trust.git');
const mirrorTags = (job: string) =>
  execFileSync('git', ['for-each-ref', '--format=%(refname:strip=2) %(*objectname)%(objectname)', 'refs/tags'], { cwd: mirror(job), encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[0])
    .sort();

describe("the operator's git config sending the job's URL elsewhere: not read by the git that fetches", () => {
  const companyCommit = () => git.revParse('company', 'v1.0.0^{commit}');
  const mirrorCommit = (dir: string) => execFileSync('git', ['rev-parse', 'v1.0.0^{commit}'], { cwd: dir, encoding: 'utf8' }).trim();

  it.each([
    ['url.<fork>.insteadOf = <the job URL>', (company: string, fork: string) => `[url "${fork}"]\n\tinsteadOf = ${company}\n`],
    ['a rule for the whole host', (company: string) => `[url "${company.slice(0, company.lastIndexOf('/') + 1)}elsewhere/"]\n\tinsteadOf = ${company.slice(0, company.lastIndexOf('/') + 1)}\n`],
    ['[remote "origin"] with the url and a fetch refspec of the fork (git clone takes them before its own)', (_c: string, fork: string) => `[remote "origin"]\n\turl = ${fork}\n\tfetch = +refs/tags/v6.6.6:refs/tags/v1.0.0\n`],
    ['pushInsteadOf (the tool never pushes)', (company: string, fork: string) => `[url "${fork}"]\n\tpushInsteadOf = ${company}\n`],
  ])('%s in ~/.gitconfig: the job URL is what is fetched (the ledger names it), the fork is never asked', async (_name, rule) => {
    const h = home(`rule-${_name.length}`, rule(git.gitPlusSshUrl('company'), git.gitPlusSshUrl('fork')));
    const name = `rule-${_name.length}`;
    const job = te.writeJob({ name, sources: [source()] });
    const r = await te.cli(['run', job, '--dry-run', '--json'], { HOME: h });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(mirrorTags(name)).toEqual(['v1.0.0']);
    expect(mirrorCommit(mirror(name))).toBe(await companyCommit());
    // a second run fetches into the mirror: the same
    const again = await te.cli(['run', job, '--dry-run', '--json'], { HOME: h });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(mirrorTags(name)).toEqual(['v1.0.0']);
  });

  it('a warm repository under such a rule: fetched from the URL the job gives', async () => {
    const company = git.gitPlusSshUrl('company');
    const h = home('warm-rule', `[url "${git.gitPlusSshUrl('fork')}"]\n\tinsteadOf = ${company}\n`);
    const state = join(te.dir, 'warm-rule-state');
    const repo = new LockfileRepository({ url: company, branches: [], sshKeyEnv: 'K', knownHostsFile: git.knownHosts, idleTimeoutSeconds: 600 } as never, { PATH: process.env.PATH, HOME: h, K: git.clientKey }, state, 'warm-rule', undefined, 0);
    await repo.fetch();
    const [m] = readdirSync(join(state, 'git', 'warm-rule'));
    expect(mirrorCommit(join(state, 'git', 'warm-rule', m!))).toBe(await companyCommit());
    expect(execFileSync('git', ['tag'], { cwd: join(state, 'git', 'warm-rule', m!), encoding: 'utf8' }).trim()).toBe('v1.0.0');
  });

  it('the rule given in GIT_CONFIG_COUNT/GIT_CONFIG_KEY_0/GIT_CONFIG_VALUE_0: never seen by the git the tool runs, fetched from the job URL', async () => {
    const company = git.gitPlusSshUrl('company');
    const fork = git.gitPlusSshUrl('fork');
    const job = te.writeJob({ name: 'config-env', sources: [source()] });
    const r = await te.cli(['run', job, '--dry-run', '--json'], { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: `url.${fork}.insteadOf`, GIT_CONFIG_VALUE_0: company });
    expect(r.code, r.stderr).toBe(0);
    expect(mirrorTags('config-env')).toEqual(['v1.0.0']);
  });
});

describe('TLS verification turned off for an https git URL', () => {
  // nothing listens there: a refusal comes before git would connect
  const https = { url: 'https://127.0.0.1:9/acme/trust.git' };

  it('GIT_SSL_NO_VERIFY set: refused before git runs (exit 2, ESOURCEAUTH naming the variable)', async () => {
    const job = te.writeJob({ name: 'ssl-env', sources: [source(https)] });
    for (const value of ['1', '']) {
      const r = await te.cli(['plan', job], { GIT_SSL_NO_VERIFY: value });
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stderr).toMatch(/ESOURCEAUTH.*GIT_SSL_NO_VERIFY/);
      expect(r.stderr).not.toMatch(/^ {4}at /m);
    }
  });

  it.each([
    ['http.sslVerify = false', '[http]\n\tsslVerify = false\n'],
    ['http.<url>.sslVerify = false', '[http "https://127.0.0.1:9/"]\n\tsslVerify = false\n'],
  ])('%s in ~/.gitconfig: not what the git that fetches reads (it checks the certificate); the credential helper for the URL is', (_name, gitconfig) => {
    const h = home(`ssl-${gitconfig.length}`, `${gitconfig}[credential "https://127.0.0.1:9"]\n\thelper = store --file=/nonexistent\n`);
    const access = new GitAccess({ PATH: process.env.PATH, HOME: h }, { owner: 'source "trust"', url: https.url, keyFilePath: join(te.dir, 'ssl-key') });
    const read = (key: string) => spawnSync('git', ['config', '--get-urlmatch', key, https.url], { cwd: '/', env: access.remoteEnv(https.url), encoding: 'utf8' });
    // unset: git's default, true
    expect(read('http.sslverify').stdout).toBe('');
    expect(read('credential.helper').stdout.trim()).toBe('store --file=/nonexistent');
  });

  it('GIT_SSL_NO_VERIFY (a CI machine exporting it) for an ssh source, where it means nothing: the source is fetched', async () => {
    const job = te.writeJob({ name: 'ssl-env-ssh', sources: [source()] });
    const r = await te.cli(['run', job, '--dry-run', '--json'], { GIT_SSL_NO_VERIFY: '1' });
    expect(r.code, r.stderr).toBe(0);
    expect(mirrorTags('ssl-env-ssh')).toEqual(['v1.0.0']);
  });
});

describe('a git URL over a transport anyone on the way can change', () => {
  it.each(['http://git.acme.example/platform/billing.git', 'git://git.acme.example/platform/billing.git'])('%s: refused at load (exit 2, ECONFIG naming the file and sources[0].url)', async (url) => {
    const job = te.writeJob({ name: 'plain-http', sources: [source({ url })] });
    const r = await te.cli(['plan', job]);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/ECONFIG/);
    expect(r.stderr).toContain(job);
    expect(r.stderr).toContain('sources[0].url');
  });
});

describe('GIT_SSH naming the ssh program', () => {
  it('a path holding a space and a quote: run as that one program, the repository fetched', async () => {
    const dir = join(te.dir, "ops tools 'x'");
    mkdirSync(dir, { recursive: true });
    const wrapper = join(dir, 'my ssh');
    writeFileSync(wrapper, `#!/bin/sh\necho used >> "${join(te.dir, 'ssh-wrapper-used')}"\nexec ssh "$@"\n`);
    chmodSync(wrapper, 0o755);
    const job = te.writeJob({ name: 'git-ssh-spaced', sources: [source()] });
    const r = await te.cli(['run', job, '--dry-run', '--json'], { GIT_SSH: wrapper });
    expect(r.code, r.stderr).toBe(0);
    expect(mirrorTags('git-ssh-spaced')).toEqual(['v1.0.0']);
    expect(readFileSync(join(te.dir, 'ssh-wrapper-used'), 'utf8')).toContain('used');
  });
});

describe("the mirror's own config, edited under the state directory", () => {
  it('a url rule to a fork, a fetch refspec and a command planted there: the rerun fetches the job URL as a mirror, none of it followed', async () => {
    const job = te.writeJob({ name: 'planted', sources: [source()] });
    const first = await te.cli(['run', job, '--dry-run', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const company = git.gitPlusSshUrl('company');
    const fork = git.gitPlusSshUrl('fork');
    const marker = join(te.dir, 'planted-ran');
    const config = join(mirror('planted'), 'config');
    writeFileSync(
      config,
      `${readFileSync(config, 'utf8')}[url "${fork}"]\n\tinsteadOf = ${company}\n[remote "origin"]\n\tfetch = +refs/heads/*:refs/tags/planted/*\n[core]\n\tsshCommand = sh -c 'touch ${marker}'\n[credential]\n\thelper = !touch ${marker}\n`,
    );
    // and a tag the server does not have: pruned, as a mirror's fetch does
    execFileSync('git', ['tag', 'v9.9.9', 'v1.0.0'], { cwd: mirror('planted') });
    const again = await te.cli(['run', job, '--dry-run', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(mirrorTags('planted')).toEqual(['v1.0.0']);
    expect(execFileSync('git', ['rev-parse', 'v1.0.0^{commit}'], { cwd: mirror('planted'), encoding: 'utf8' }).trim()).toBe(await git.revParse('company', 'v1.0.0^{commit}'));
    expect(existsSync(marker)).toBe(false);
    const now = readFileSync(config, 'utf8');
    expect(now).not.toContain('insteadOf');
    expect(now).not.toContain('planted');
    expect(now).not.toContain(marker);
  });
});

describe('replace refs the repository serves (refs/replace/*, fetched into the mirror with every other ref)', () => {
  it("are not obeyed: the tag reads as the module its commit's go.mod declares, and that go.mod is the .mod published, as its zip and go itself read it", async () => {
    const src = join(te.dir, 'src-replaced');
    mkdirSync(src, { recursive: true });
    const goMod = 'module example.com/replaced\n\ngo 1.19\n';
    writeFileSync(join(src, 'go.mod'), goMod);
    writeFileSync(join(src, 'a.go'), 'package replaced\n');
    await git.createRepoFromDir('replaced', src, { tags: ['v1.0.0'] });
    // the server's repository replaces that go.mod blob by another one (a require of its choosing)
    const original = (await git.git('replaced', ['rev-parse', 'v1.0.0:go.mod'])).trim();
    const other = (await git.git('replaced', ['hash-object', '-w', '--stdin'], { input: goMod.replace("example.com/replaced", "example.com/evil") })).trim();
    await git.git('replaced', ['replace', original, other]);
    const job = te.writeJob({ name: 'replaced', sources: [gitSourceOn(git, 'replaced', 'replaced', 'go', { package: 'example.com/replaced' })] });
    const r = await te.cli(['run', job, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // the replace ref came along: a mirror holds every ref
    expect(execFileSync('git', ['for-each-ref', '--format=%(refname)', 'refs/replace'], { cwd: join(te.stateDir, 'git', 'replaced', 'replaced.git'), encoding: 'utf8' })).toContain(original);
    const state = StateDb.openToRead(join(te.stateDir, 'replaced.sqlite'));
    try {
      const [row] = state.items();
      const facts = JSON.parse(row!.facts ?? '{}') as { goModH1?: string };
      expect(facts.goModH1).toBe(`h1:${createHash('sha256').update(`${createHash('sha256').update(goMod).digest('hex')}  go.mod\n`).digest('base64')}`);
    } finally {
      state.close();
    }
  });
});
