/**
 * The git+ssh test server (test/support/git-server.ts) against the real git and
 * ssh clients: what the git sources will meet. Every assertion is on exit codes,
 * refs and files, not on message text.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureBundle, run, startGitServer, type GitFixture, type GitServer } from './support/git-server.js';

let server: GitServer;
let work: string;
let n = 0;

beforeAll(async () => {
  server = await startGitServer();
  work = await mkdtemp(join(tmpdir(), 'cam-git-client-'));
  await server.createRepoFromBundle('userpath', fixtureBundle('py-userpath'));
});

afterAll(async () => {
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const git = (args: string[], opts: { cwd?: string; key?: string } = {}) => run('git', args, { cwd: opts.cwd ?? work, env: server.gitEnv(opts.key) });

async function clone(repo: string, opts: { key?: string; url?: string } = {}) {
  const dest = join(work, `${repo}-${++n}`);
  const r = await git(['clone', '-q', opts.url ?? server.url(repo), dest], { key: opts.key });
  return { ...r, dest };
}

async function localTags(cwd: string): Promise<Map<string, string>> {
  const r = await git(['for-each-ref', '--format=%(refname:strip=2) %(objecttype)', 'refs/tags'], { cwd });
  expect(r.code).toBe(0);
  return new Map(r.stdout.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

async function remoteTags(url: string): Promise<Map<string, string>> {
  // ls-remote lists an annotated tag twice: the tag object, and `^{}` for the commit it peels to
  const r = await git(['ls-remote', '--tags', url]);
  expect(r.code, r.stderr).toBe(0);
  const commits = new Map<string, string>();
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const [sha, ref] = line.split('\t') as [string, string];
    const name = ref.replace(/^refs\/tags\//, '').replace(/\^\{\}$/, '');
    if (ref.endsWith('^{}') || !commits.has(name)) commits.set(name, sha);
  }
  return commits;
}

describe('git over ssh with the real client', () => {
  it('clones with the authorized key and a strictly checked host key, annotated and lightweight tags intact', async () => {
    const { code, stderr, dest } = await clone('userpath');
    expect(code, stderr).toBe(0);
    expect(server.gitSshCommand).toContain('StrictHostKeyChecking=yes');
    const tags = await localTags(dest);
    // py-userpath: 1.4.0…1.7.0 annotated; 1.3.0 and the v1.8.0+ (hatchling) tags lightweight
    expect(tags.get('1.4.0')).toBe('tag');
    expect(tags.get('1.7.0')).toBe('tag');
    expect(tags.get('1.3.0')).toBe('commit');
    expect(tags.get('v1.9.2')).toBe('commit');
    expect([...tags.keys()].sort()).toEqual((await server.tags('userpath')).map((t) => t.name).sort());
    // the checkout is the served HEAD (master), a real file of the project
    expect(readFileSync(join(dest, 'pyproject.toml'), 'utf8')).toContain('hatchling');
  });

  it('lists the same tags and peeled commits over ssh as the served repository holds', async () => {
    const served = await server.tags('userpath');
    const listed = await remoteTags(server.url('userpath'));
    expect(new Map(served.map((t) => [t.name, t.commit]))).toEqual(listed);
    expect(served.some((t) => t.annotated) && served.some((t) => !t.annotated)).toBe(true);
  });

  it('accepts the git+ssh:// spelling the job files use', async () => {
    const url = server.gitPlusSshUrl('userpath');
    expect(url).toMatch(/^git\+ssh:\/\/[^@]+@127\.0\.0\.1:\d+\/.+\/userpath\.git$/);
    const listed = await remoteTags(url);
    expect(listed.get('v1.9.2')).toBe(await server.revParse('userpath', 'v1.9.2'));
  });

  it('refuses a key that is not authorized: git exits 128 and leaves no clone behind', async () => {
    const dest = join(work, `refused-${++n}`);
    const r = await git(['clone', '-q', server.url('userpath'), dest], { key: server.unauthorizedKey });
    expect(r.code).toBe(128);
    const left = existsSync(dest) ? readdirSync(dest) : [];
    expect(left).toEqual([]);
    // the same command, only the key differs: authentication is what failed
    const ssh = (key: string) =>
      run('bash', ['-c', `${server.sshCommand(key)} -p ${server.port} ${server.user}@127.0.0.1 true`], { env: server.gitEnv(key) });
    expect((await ssh(server.unauthorizedKey)).code).toBe(255);
    expect((await ssh(server.clientKey)).code).toBe(0);
  });

  it('refuses a host whose key is not the one in known_hosts (StrictHostKeyChecking=yes)', async () => {
    const wrong = join(work, 'wrong_known_hosts');
    // a syntactically valid entry for this host with another key
    const otherKey = readFileSync(`${server.unauthorizedKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    await writeFile(wrong, `[127.0.0.1]:${server.port} ${otherKey}\n`);
    const cmd = server.gitSshCommand.replace(server.knownHosts, wrong);
    expect(cmd).not.toBe(server.gitSshCommand);
    const r = await run('git', ['ls-remote', server.url('userpath')], { cwd: work, env: { ...server.gitEnv(), GIT_SSH_COMMAND: cmd } });
    expect(r.code).toBe(128);
    expect(r.stdout).toBe('');
  });

  it('a tag re-pointed upstream: plain fetch refuses to clobber it, a forced fetch sees the new commit', async () => {
    await server.createRepoFromBundle('xxhash', fixtureBundle('go-xxhash'));
    const { code, dest } = await clone('xxhash');
    expect(code).toBe(0);
    const before = (await server.tags('xxhash')).find((t) => t.name === 'v2.3.0')!;
    expect(before.annotated).toBe(true);

    // upstream rewrites the release: a new commit off the old one, the tag moved onto it
    const moved = await server.commit('xxhash', {
      parent: 'v2.3.0',
      branch: null,
      files: { 'xxhash.go': '// retagged\n' + (await server.git('xxhash', ['show', 'v2.3.0:xxhash.go'])), 'testall.sh': null },
      message: 'Re-release 2.3.0',
      date: '2024-05-01T10:00:00Z',
    });
    const after = await server.tag('xxhash', 'v2.3.0', moved, { message: 'v2.3.0 (again)', date: '2024-05-01T10:00:00Z' });
    expect(after.commit).toBe(moved);
    expect(after.commit).not.toBe(before.commit);
    expect((await remoteTags(server.url('xxhash'))).get('v2.3.0')).toBe(moved);

    // git >= 2.20 will not update an existing local tag without --force ("would clobber existing tag")
    const plain = await git(['fetch', '-q', '--tags', 'origin'], { cwd: dest });
    expect(plain.code).not.toBe(0);
    expect((await git(['rev-parse', 'v2.3.0^{commit}'], { cwd: dest })).stdout.trim()).toBe(before.commit);

    const forced = await git(['fetch', '-q', '--tags', '--force', 'origin'], { cwd: dest });
    expect(forced.code, forced.stderr).toBe(0);
    expect((await git(['rev-parse', 'v2.3.0^{commit}'], { cwd: dest })).stdout.trim()).toBe(moved);
    const show = await git(['show', '--format=', '--name-status', 'v2.3.0^{commit}'], { cwd: dest });
    expect(show.stdout).toMatch(/^D\ttestall\.sh$/m);
    expect(show.stdout).toMatch(/^M\txxhash\.go$/m);
  });

  it('a tag deleted upstream disappears from ls-remote, and from a clone with --prune-tags', async () => {
    await server.createRepoFromBundle('uuid', fixtureBundle('go-uuid'));
    const { dest } = await clone('uuid');
    expect((await localTags(dest)).has('v1.1.0')).toBe(true);

    await server.deleteTag('uuid', 'v1.1.0');
    const listed = await remoteTags(server.url('uuid'));
    expect(listed.has('v1.1.0')).toBe(false);
    expect(listed.has('v1.1.1')).toBe(true);

    expect((await git(['fetch', '-q', '--tags', 'origin'], { cwd: dest })).code).toBe(0);
    expect((await localTags(dest)).has('v1.1.0')).toBe(true); // fetch alone keeps it
    expect((await git(['fetch', '-q', '--prune', '--prune-tags', 'origin'], { cwd: dest })).code).toBe(0);
    const local = await localTags(dest);
    expect(local.has('v1.1.0')).toBe(false);
    expect(local.has('v1.1.1')).toBe(true);
  });

  it('new tags: a lightweight one added upstream, an annotated one pushed over ssh', async () => {
    await server.createRepoFromBundle('crashtest', fixtureBundle('py-crashtest'));
    expect((await server.tags('crashtest')).every((t) => t.annotated)).toBe(true);
    const light = await server.tag('crashtest', '0.4.2', 'master', { annotated: false });
    expect(light.annotated).toBe(false);

    const { dest } = await clone('crashtest');
    expect((await localTags(dest)).get('0.4.2')).toBe('commit');
    await writeFile(join(dest, 'CHANGELOG.md'), '# 0.5.0\n');
    const env = { ...server.gitEnv(), GIT_AUTHOR_DATE: '2024-06-01T00:00:00Z', GIT_COMMITTER_DATE: '2024-06-01T00:00:00Z' };
    for (const args of [['add', 'CHANGELOG.md'], ['commit', '-q', '-m', 'Release 0.5.0'], ['tag', '-a', '0.5.0', '-m', '0.5.0']]) {
      const r = await run('git', args, { cwd: dest, env });
      expect(r.code, r.stderr).toBe(0);
    }
    const pushed = await server.push(dest, 'crashtest', ['HEAD:refs/heads/master', 'refs/tags/0.5.0']);
    expect(pushed.code, pushed.stderr).toBe(0);
    const t = (await server.tags('crashtest')).find((x) => x.name === '0.5.0');
    expect(t?.annotated).toBe(true);
    expect(t?.commit).toBe((await git(['rev-parse', 'HEAD'], { cwd: dest })).stdout.trim());
    expect(await server.revParse('crashtest', 'master')).toBe(t?.commit);
  });

  it('serves a repository made from a working copy and one made from plain files', async () => {
    // a working copy: the monorepo fixture checked out (prefixed tags, package in a subdirectory)
    const src = join(work, 'mono-src');
    expect((await git(['clone', '-q', fixtureBundle('monorepo'), src])).code).toBe(0);
    await server.createRepoFromDir('mono', src);
    const listed = await remoteTags(server.url('mono'));
    expect([...listed.keys()].sort()).toEqual(['billing/v0.9.0', 'billing/v1.0.0', 'billing/v1.1.0', 'billing/v1.2.0', 'web/v1.0.0', 'web/v1.1.0']);
    const { dest } = await clone('mono');
    expect((await git(['checkout', '-q', 'billing/v1.2.0'], { cwd: dest })).code).toBe(0);
    expect(readFileSync(join(dest, 'billing/pyproject.toml'), 'utf8')).toMatch(/^version = "1\.2\.0"$/m);

    // plain files: one commit on main, tagged
    const plain = join(work, 'plain');
    await mkdir(join(plain, 'pkg'), { recursive: true });
    await writeFile(join(plain, 'pkg/go.mod'), 'module example.com/pkg\n');
    await server.createRepoFromDir('plain', plain, { tags: ['pkg/v0.1.0'], date: '2024-01-02T03:04:05Z' });
    const head = await server.revParse('plain', 'HEAD');
    expect((await remoteTags(server.url('plain'))).get('pkg/v0.1.0')).toBe(head);
    expect(await server.git('plain', ['log', '-1', '--format=%cI'])).toBe('2024-01-02T03:04:05+00:00\n');
  });

  it('serves every fixture bundle whole: each ref in the bundle is listed over ssh', async () => {
    const names: GitFixture[] = ['go-uuid', 'go-xxhash', 'go-secure-stdlib', 'py-userpath', 'py-crashtest', 'npm-escape-string-regexp', 'monorepo'];
    for (const name of names) {
      const repo = `fixture-${name}`;
      await server.createRepoFromBundle(repo, fixtureBundle(name));
      const inBundle = (await git(['bundle', 'list-heads', fixtureBundle(name)], { cwd: server.repoPath(repo) })).stdout
        .split('\n')
        .filter((l) => l && !l.endsWith(' HEAD'))
        .map((l) => l.replace(' ', '\t'))
        .sort();
      const r = await git(['ls-remote', '--refs', server.url(repo)]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split('\n').filter(Boolean).sort(), name).toEqual(inBundle);
      expect(inBundle.length, name).toBeGreaterThan(3);
    }
  });
});

describe('stop()', () => {
  it('ends sshd and the sessions it started, and removes its folder', async () => {
    const s = await startGitServer();
    const tag = `${process.pid}-${Date.now()}`;
    const marker = `cam-session-${tag}`;
    // A session that would outlive a listener-only kill (sshd's per-connection children leave its
    // process group). The remote shell names its sleep `marker`; the client's own command line
    // holds only the pieces, so pgrep finds the server side alone.
    const remote = `M=cam-session; exec -a "$M-${tag}" sleep 300`;
    const client = spawn('bash', ['-c', `${s.sshCommand(s.clientKey)} -p ${s.port} ${s.user}@127.0.0.1 '${remote}'`], {
      stdio: 'ignore',
      env: s.gitEnv(),
    });
    const clientExit = new Promise<number | null>((res) => client.once('exit', (code) => res(code)));
    try {
      let session: number[] = [];
      for (let i = 0; i < 200 && session.length === 0; i++) {
        session = await pgrep(marker);
        if (session.length === 0) await new Promise((r) => setTimeout(r, 50));
      }
      expect(session.length).toBeGreaterThan(0);
      expect(isAlive(s.pid)).toBe(true);

      await s.stop();

      expect(isAlive(s.pid)).toBe(false);
      expect(await pgrep(marker)).toEqual([]);
      expect(existsSync(s.dir)).toBe(false);
      expect(await clientExit).not.toBe(0); // the connection was cut
    } finally {
      if (client.exitCode === null) client.kill('SIGKILL');
      await s.stop();
    }
  });
});

async function pgrep(pattern: string): Promise<number[]> {
  const r = await run('pgrep', ['-f', pattern]);
  return r.stdout.split('\n').filter(Boolean).map(Number).filter((p) => p !== process.pid && isAlive(p));
}

function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}
