/**
 * git sources against a repository whose owner means harm, beyond its tags' names:
 * tags on objects that are no commit, links that point out of the checkout, a server
 * that goes silent and one that never stops sending.
 * Real sshd, real builds, the CodeArtifact stand-in.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceSchema } from '../src/config/schema.js';
import type { ProgressEvent } from '../src/engine/events.js';
import { createSource } from '../src/sources/index.js';
import { startGitTestEnv, stopTestEnvWithGit, type TestEnv } from './support/harness.js';
import { gitSourceOn, HATCH, pyProject, startGitServer, type GitServer } from './support/git-server.js';
import { alive, goneSoon, watch } from './support/child.js';

let te: TestEnv;
let git: GitServer;

beforeAll(async () => {
  ({ te, git } = await startGitTestEnv());
});
afterAll(() => stopTestEnvWithGit(git, te));

/** The live processes (not zombies) whose command line holds `text`, and their process groups. */
async function processesWith(text: string): Promise<{ pid: number; pgid: number; argv: string[] }[]> {
  const found = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes(text)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (stat === '' || rest[0] === 'Z') continue;
    found.push({ pid: Number(entry), pgid: Number(rest[2]), argv: cmdline.split('\0').filter(Boolean) });
  }
  return found;
}

/** Whether every process whose command line holds `text` ends within 5 s (the kernel tears a killed group down after our 'close'). */
async function noneLeftWith(text: string): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if ((await processesWith(text)).length === 0) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function rows(job: string) {
  const state = te.openState(job);
  try {
    return state.items();
  } finally {
    state.close();
  }
}

describe('tags', () => {
  it('a tag on a tree, on a blob, an annotated one on a tree: skipped with the reason; the others migrate with their own commit times, whatever the blob says', async () => {
    await git.createRepoFromDir('objects', pyProject(join(te.dir, 'src-objects'), 'objects-lib', '1.0.0'), { tags: ['v1.0.0'], date: '2022-02-02T02:02:02Z' });
    const commit = await git.revParse('objects', 'v1.0.0');
    const tree = (await git.git('objects', ['rev-parse', 'v1.0.0^{tree}'])).trim();
    // a blob whose lines look like "<commit> <time>" (and like nothing git would print for a commit)
    const blob = (await git.git('objects', ['hash-object', '-w', '--stdin'], { input: `${commit} 1\nnot a time\n` })).trim();
    await git.git('objects', ['tag', 'v2.0.0', tree]);
    await git.git('objects', ['tag', 'v3.0.0', blob]);
    await git.tag('objects', 'v4.0.0', 'v1.0.0', { message: 'fine so far' });
    await git.git('objects', ['tag', '-a', '-m', 'annotated, on a tree', 'v5.0.0', tree]);
    // a tag of an annotated tag: git warns, and the commit at its end is the version
    await git.git('objects', ['tag', '-a', '-m', 'nested', 'v6.0.0', 'refs/tags/v4.0.0']);
    const job = te.writeJob({ name: 'objects', sources: [gitSourceOn(git, 'objects', 'objects', 'pypi', { package: 'objects-lib', versions: { '4.0.0': { skip: true }, '6.0.0': { skip: true } } })] });
    const s = await te.run(job);
    expect(s.listErrors).toEqual([]);
    expect(s.exitCode, JSON.stringify(s.failures)).toBe(0);
    const byVersion = Object.fromEntries(rows('objects').map((r) => [r.version, r]));
    expect(Object.keys(byVersion).sort()).toEqual(['1.0.0', '2.0.0', '3.0.0', '4.0.0', '6.0.0'].concat('5.0.0').sort());
    expect(byVersion['1.0.0']!.state).toBe('verified');
    expect(byVersion['1.0.0']!.source_published_at).toBe('2022-02-02T02:02:02.000Z');
    for (const [v, what] of [['2.0.0', 'tree'], ['3.0.0', 'blob'], ['5.0.0', 'tree']] as const) {
      expect(byVersion[v]!.state, v).toBe('skipped');
      expect(s.skipped.find((k) => k.version === v)?.reason, v).toContain(`points at a ${what}, not a commit`);
    }
    // followed through both annotated tags to the commit
    expect(byVersion['6.0.0']!.source_commit).toBe(commit);
    expect(byVersion['6.0.0']!.source_published_at).toBe('2022-02-02T02:02:02.000Z');
  });

  it("a tag whose tree holds a path git will not write ('..', '.git'): that version fails EBADSOURCE saying to skip it, not ESOURCE blamed on the server and retried; the others migrate", async () => {
    await git.createRepoFromDir('bad-paths', pyProject(join(te.dir, 'src-bad-paths'), 'bad-paths', '1.0.0'), { tags: ['v1.0.0'] });
    const entries = await git.git('bad-paths', ['ls-tree', 'v1.0.0']);
    const blob = (await git.git('bad-paths', ['hash-object', '-w', '--stdin'], { input: 'x\n' })).trim();
    for (const [name, tag] of [['..', 'v2.0.0'], ['.git', 'v3.0.0']] as const) {
      const tree = (await git.git('bad-paths', ['mktree'], { input: `${entries}100644 blob ${blob}\t${name}\n` })).trim();
      const commit = (await git.git('bad-paths', ['commit-tree', tree, '-p', 'v1.0.0', '-m', `adds ${name}`])).trim();
      await git.git('bad-paths', ['tag', tag, commit]);
    }
    const job = te.writeJob({ name: 'bad-paths', sources: [gitSourceOn(git, 'bad-paths', 'bad-paths', 'pypi', { package: 'bad-paths' })] });
    const s = await te.run(job);
    expect(s.listErrors).toEqual([]);
    const failed = Object.fromEntries(s.failures.map((f) => [f.version, f]));
    expect(Object.keys(failed).sort()).toEqual(['2.0.0', '3.0.0']);
    for (const [v, name] of [['2.0.0', '..'], ['3.0.0', '.git']] as const) {
      expect(failed[v]!.code, failed[v]!.message).toBe('EBADSOURCE');
      expect(failed[v]!.message).toContain(`invalid path '${name}'`);
    }
    expect(rows('bad-paths').find((r) => r.version === '1.0.0')!.state).toBe('verified');
  });

  it('a tag whose small pack names far more files than limits.maxCheckoutBytes (a "git bomb": trees of ten trees of ten…) fails ETOOLARGE before anything is checked out; the other tags migrate', async () => {
    await git.createRepoFromDir('bomb', pyProject(join(te.dir, 'src-bomb'), 'bomb', '1.0.0'), { tags: ['v1.0.0'] });
    // 10^4 one-byte files in five objects, a real project beside them: 40 MiB counted (4 KiB a file), over 16 MiB
    let tree = (await git.git('bomb', ['hash-object', '-w', '--stdin'], { input: 'x' })).trim();
    for (let level = 0; level < 4; level++) {
      const [mode, type] = level === 0 ? ['100644', 'blob'] : ['040000', 'tree'];
      tree = (await git.git('bomb', ['mktree'], { input: Array.from({ length: 10 }, (_, i) => `${mode} ${type} ${tree}\t${level === 0 ? 'f' : 'd'}${i}\n`).join('') })).trim();
    }
    const project = (await git.git('bomb', ['hash-object', '-w', '--stdin'], { input: HATCH('bomb', '2.0.0') })).trim();
    const entries = (await git.git('bomb', ['ls-tree', 'v1.0.0'])).replace(/^(100644 blob )\S+(\tpyproject\.toml)$/m, `$1${project}$2`);
    const bombed = (await git.git('bomb', ['mktree'], { input: `${entries}040000 tree ${tree}\tbulk\n` })).trim();
    await git.git('bomb', ['tag', 'v2.0.0', (await git.git('bomb', ['commit-tree', bombed, '-p', 'v1.0.0', '-m', 'bulk'])).trim()]);

    const job = te.writeJob({ name: 'bomb', limits: { maxCheckoutBytes: '16MiB' }, sources: [gitSourceOn(git, 'bomb', 'bomb', 'pypi', { package: 'bomb' })] });
    const s = await te.run(job);
    expect(s.listErrors).toEqual([]);
    expect(s.failures.map((f) => [f.version, f.code])).toEqual([['2.0.0', 'ETOOLARGE']]);
    expect(s.failures[0]!.message).toContain('limits.maxCheckoutBytes');
    expect(rows('bomb').find((r) => r.version === '1.0.0')!.state).toBe('verified');
    // no checkout of it was made, and none is left
    expect(readdirSync(join(te.stateDir, 'tmp')).filter((f) => f.startsWith('checkout-'))).toEqual([]);
    // refused once, not retried: the listing never changes
    const again = await te.run(job);
    expect(again.failures.map((f) => [f.version, f.code])).toEqual([['2.0.0', 'ETOOLARGE']]);
  });

  it('a Go repository with 600 tags at 600 commits is listed with a few git calls, not one (or two) per tag', async () => {
    await git.createRepoFromDir('many-tags', pyProject(join(te.dir, 'src-many'), 'many-lib', '0.0.1'));
    // 600 commits, each tagged, each with its go.mod (the last one of another module: a problem, read from its own commit)
    const script: string[] = [];
    for (let i = 1; i <= 600; i++) {
      const mod = `module ${i === 600 ? 'example.com/other' : 'example.com/many'}\n\n// release ${i}\n`;
      script.push(`commit refs/heads/main\nmark :${i}\ncommitter T <t@example.com> ${1_600_000_000 + i} +0000\ndata 3\nc${i % 10}\n${i > 1 ? `from :${i - 1}\n` : ''}M 100644 inline go.mod\ndata ${Buffer.byteLength(mod)}\n${mod}\nreset refs/tags/v1.0.${i}\nfrom :${i}\n\n`);
    }
    await git.git('many-tags', ['fast-import', '--quiet', '--force'], { input: script.join('') });
    // git, counted: every process the source starts goes through this PATH
    const bin = join(te.dir, 'counting-git');
    mkdirSync(bin, { recursive: true });
    const calls = join(bin, 'calls');
    writeFileSync(join(bin, 'git'), `#!/bin/sh\necho "$1" >> '${calls}'\nexec /usr/bin/git "$@"\n`, { mode: 0o755 });
    const config = sourceSchema.parse(gitSourceOn(git, 'many-tags', 'many-tags', 'go', { package: 'example.com/many' }));
    const source = createSource(config, { ...te.env, PATH: `${bin}:${process.env.PATH ?? ''}` }, join(te.dir, 'state-many'), 'many');
    await source.prepare!();
    const listing = await source.listing('example.com/many');
    source.close?.();
    expect(listing.versions).toHaveLength(600);
    expect(listing.versions.filter((v) => v.problem).map((v) => v.version)).toEqual(['v1.0.600']);
    expect(listing.versions.find((v) => v.version === 'v1.0.7')!.publishedAt).toBe(new Date((1_600_000_000 + 7) * 1000).toISOString());
    const gitCalls = readFileSync(calls, 'utf8').trim().split('\n');
    expect(gitCalls.length, gitCalls.join(' ')).toBeLessThan(10);
  });
});

describe('annotated tags of annotated tags', () => {
  it('300 tags, each a tag of a tag of a commit (and one of a blob, one five deep): listed with a few git calls, not three per tag, each with its commit and time', async () => {
    await git.createRepoFromDir('nested-tags', pyProject(join(te.dir, 'src-nested'), 'nested-lib', '0.0.1'));
    const commit = await git.revParse('nested-tags', 'HEAD');
    const blob = (await git.git('nested-tags', ['hash-object', '-w', '--stdin'], { input: 'not a commit\n' })).trim();
    const dir = join(te.dir, 'nested-objects');
    mkdirSync(dir, { recursive: true });
    // tag objects written in rounds, one git call each: round r tags what round r-1 wrote
    const tagObjects = async (round: string, targets: { sha: string; type: string; name: string }[]) => {
      const paths = targets.map((t, i) => {
        const path = join(dir, `${round}-${i}`);
        writeFileSync(path, `object ${t.sha}\ntype ${t.type}\ntag ${t.name}\ntagger T <t@example.com> 1600000000 +0000\n\nnested\n`);
        return path;
      });
      return (await git.git('nested-tags', ['hash-object', '-w', '-t', 'tag', '--stdin-paths'], { input: `${paths.join('\n')}\n` })).trim().split('\n');
    };
    const names = Array.from({ length: 300 }, (_, i) => `v1.0.${i + 1}`);
    let level = await tagObjects('inner', names.map((name, i) => ({ sha: i === 299 ? blob : commit, type: i === 299 ? 'blob' : 'commit', name: `${name}-inner` })));
    level = await tagObjects('outer', names.map((name, i) => ({ sha: level[i]!, type: 'tag', name })));
    // v1.0.1 tagged three times more
    let deep = level[0]!;
    for (let d = 0; d < 3; d++) deep = (await tagObjects(`deep${d}`, [{ sha: deep, type: 'tag', name: 'v1.0.1' }]))[0]!;
    level[0] = deep;
    await git.git('nested-tags', ['update-ref', '--stdin'], { input: names.map((n, i) => `create refs/tags/${n} ${level[i]}\n`).join('') });

    const bin = join(te.dir, 'counting-git-nested');
    mkdirSync(bin, { recursive: true });
    const calls = join(bin, 'calls');
    writeFileSync(join(bin, 'git'), `#!/bin/sh\necho "$1" >> '${calls}'\nexec /usr/bin/git "$@"\n`, { mode: 0o755 });
    const config = sourceSchema.parse(gitSourceOn(git, 'nested-tags', 'nested-tags', 'pypi', { package: 'nested-lib' }));
    const source = createSource(config, { ...te.env, PATH: `${bin}:${process.env.PATH ?? ''}` }, join(te.dir, 'state-nested'), 'nested');
    await source.prepare!();
    const listing = await source.listing('nested-lib');
    source.close?.();
    expect(listing.versions).toHaveLength(300);
    const committed = new Date(Number((await git.git('nested-tags', ['show', '-s', '--format=%ct', commit])).trim()) * 1000).toISOString();
    expect(listing.versions.filter((v) => !v.skip).every((v) => v.commit === commit && v.publishedAt === committed)).toBe(true);
    expect(listing.versions.filter((v) => v.skip).map((v) => [v.version, v.skip])).toEqual([['1.0.300', 'tag v1.0.300 points at a blob, not a commit: there is nothing to check out']]);
    const gitCalls = readFileSync(calls, 'utf8').trim().split('\n');
    expect(gitCalls.length, gitCalls.join(' ')).toBeLessThan(10);
  });
});

describe('links out of the checkout', () => {
  it("a Python tag whose links lead to this machine's files or to the state directory is refused before it builds (hatchling would pack their targets); a link inside the repository builds", async () => {
    // the checkout is <state>/tmp/checkout-…: two levels up is the state directory, with every source's mirror
    const dir = pyProject(join(te.dir, 'src-links-out'), 'links-out', '1.0.0');
    symlinkSync('/etc/passwd', join(dir, 'links_out', 'passwd.txt'));
    symlinkSync('../../..', join(dir, 'links_out', 'state'));
    await git.createRepoFromDir('links-out', dir, { tags: ['v1.0.0'] });
    const inside = pyProject(join(te.dir, 'src-links-in'), 'links-in', '1.0.0');
    writeFileSync(join(inside, 'NOTES.md'), 'shared notes\n');
    symlinkSync('../NOTES.md', join(inside, 'links_in', 'NOTES.md'));
    await git.createRepoFromDir('links-in', inside, { tags: ['v1.0.0'] });
    const job = te.writeJob({
      name: 'links',
      sources: [gitSourceOn(git, 'links-out', 'links-out', 'pypi', { package: 'links-out' }), gitSourceOn(git, 'links-in', 'links-in', 'pypi', { package: 'links-in' })],
    });
    const s = await te.run(job);
    expect(s.failures).toEqual([expect.objectContaining({ package: 'links-out', version: '1.0.0', code: 'EBADSOURCE' })]);
    expect(s.failures[0]!.message).toContain('links_out/passwd.txt, links_out/state');
    expect(te.sandbox.standIn.log.filter((e) => e.operation === 'pypi:Upload' && e.package === 'links-out')).toEqual([]);
    expect(rows('links').map((r) => `${r.package}@${r.version}:${r.state}`).sort()).toEqual(['links-in@1.0.0:verified', 'links-out@1.0.0:failed']);
  });
});

describe('a git server that stops answering', () => {
  it('a fetch that receives nothing for the source\'s idleTimeoutSeconds is ESOURCESILENT, not retried; the other sources migrate', async () => {
    // sshd answers (its keepalives too), but the command it runs for every login says nothing, ever
    const logins = join(te.dir, 'stuck-logins');
    const stuck = await startGitServer({ dir: join(te.dir, 'git-stuck'), authorizedKeyOptions: `restrict,command="echo login >> ${logins}; exec cat > /dev/null"` });
    try {
      te.env.CAM_TEST_STUCK_KEY = stuck.clientKey;
      await git.createRepoFromDir('beside-stuck', pyProject(join(te.dir, 'src-beside'), 'beside-lib', '1.0.0'), { tags: ['v1.0.0'] });
      const job = te.writeJob({
        name: 'stuck-git',
        sources: [
          // 10 s, not 2: the source beside is listed meanwhile (an ssh login, a clone), which a
          // loaded machine has taken more than 2 s for (the order asserted below then came out reversed)
          gitSourceOn(stuck, 'stuck', 'anything', 'pypi', { package: 'stuck-lib', sshKeyEnv: 'CAM_TEST_STUCK_KEY', idleTimeoutSeconds: 10 }),
          gitSourceOn(git, 'beside', 'beside-stuck', 'pypi', { package: 'beside-lib' }),
        ],
      });
      const events: ProgressEvent[] = [];
      const s = await te.run(job, { onProgress: (e) => events.push(e) });
      expect(s.exitCode).toBe(1);
      expect(s.listErrors).toEqual([expect.objectContaining({ source: 'stuck', code: 'ESOURCESILENT', message: expect.stringContaining('nothing came for 10 s') })]);
      // the source after the stuck one did not wait for it: listed while the stuck fetch was still waiting
      const listedBeside = events.findIndex((e) => e.type === 'listed' && e.source === 'beside');
      const stuckGaveUp = events.findIndex((e) => e.type === 'list-error' && e.source === 'stuck');
      expect(listedBeside).toBeGreaterThanOrEqual(0);
      expect(listedBeside).toBeLessThan(stuckGaveUp);
      // one try: the job's 8 retries would each wait as long again
      expect(readFileSync(logins, 'utf8').trim().split('\n')).toEqual(['login']);
      expect(rows('stuck-git').map((r) => [r.package, r.version, r.state])).toEqual([['beside-lib', '1.0.0', 'verified']]);
    } finally {
      await stuck.stop();
    }
  });

  it('a server that says something inside every idle period but sends next to nothing is cut off at six times idleTimeoutSeconds (ESOURCESILENT naming the URL, the bytes and the time), tried once; none of its git processes is left', async () => {
    // a progress byte on stderr every 0.2 s, nothing else, ever: never 2 s silent, never large
    // (5 bytes a second against the 64 KiB a second of a working transfer). Not every second:
    // a loaded machine has let 2 s pass between two of those, cut as silence instead
    const logins = join(te.dir, 'trickle-logins');
    const trickle = await startGitServer({ dir: join(te.dir, 'git-trickle'), authorizedKeyOptions: `restrict,command="echo login >> ${logins}; while :; do printf . >&2; sleep 0.2; done"` });
    const repo = `trickles-${randomBytes(4).toString('hex')}`;
    try {
      te.env.CAM_TEST_TRICKLE_KEY = trickle.clientKey;
      const job = te.writeJob({ name: 'trickle-git', sources: [gitSourceOn(trickle, 'trickle', repo, 'pypi', { package: 'trickle-lib', sshKeyEnv: 'CAM_TEST_TRICKLE_KEY', idleTimeoutSeconds: 2 })] });
      let guard: NodeJS.Timeout | undefined;
      // without the pace bound the run never ends: fail at 60 s instead of at the test's timeout
      const s = await Promise.race([te.run(job), new Promise<never>((_, reject) => (guard = setTimeout(() => reject(new Error('the trickling transfer was never cut off')), 60_000)))]).finally(() => clearTimeout(guard));
      expect(s.exitCode).toBe(1);
      expect(s.listErrors).toEqual([expect.objectContaining({ source: 'trickle', code: 'ESOURCESILENT' })]);
      const message = s.listErrors[0]!.message;
      expect(message).toContain(trickle.gitPlusSshUrl(repo));
      expect(message).toMatch(/only \d+ bytes came in \d+ s/);
      // one try: each would trickle as long again
      expect(readFileSync(logins, 'utf8').trim().split('\n')).toEqual(['login']);
      // git, ssh and whatever else of the group: gone with the cut
      expect(await noneLeftWith(repo)).toBe(true);
      expect(existsSync(join(te.stateDir, 'git', 'trickle-git', 'trickle.git.pgid'))).toBe(false);
    } finally {
      for (const p of await processesWith(repo)) process.kill(p.pid, 'SIGKILL');
      await trickle.stop();
    }
  });

  it('git left running by a run killed with SIGKILL (the server stalled) is stopped by the next run before it clones into the same mirror; that run goes on (and fails for its own silent server)', async () => {
    const orphaned = await startGitServer({ dir: join(te.dir, 'git-orphaned'), authorizedKeyOptions: 'restrict,command="exec cat > /dev/null"' });
    const repo = `orphaned-${randomBytes(4).toString('hex')}`;
    let pgid: number | undefined;
    try {
      te.env.CAM_TEST_ORPHANED_KEY = orphaned.clientKey;
      const source = (idleTimeoutSeconds: number) => gitSourceOn(orphaned, 'orphaned', repo, 'pypi', { package: 'orphaned-lib', sshKeyEnv: 'CAM_TEST_ORPHANED_KEY', idleTimeoutSeconds });
      const first = watch(te.spawnCli(['run', te.writeJob({ name: 'orphan-git', sources: [source(600)] }), '--json']));
      // the clone's git, leader of its own group, waiting on the stalled server
      let leader: { pid: number; pgid: number } | undefined;
      for (let i = 0; i < 600 && !leader && !first.done(); i++) {
        leader = (await processesWith(repo)).find((p) => p.argv[0]?.endsWith('git') && p.argv.includes('clone') && p.pid === p.pgid);
        if (!leader) await new Promise((r) => setTimeout(r, 50));
      }
      expect(leader, first.stderr()).toBeDefined();
      pgid = leader!.pgid;
      // the run records the group as it starts git; a kill in between would leave nothing to find
      const record = join(te.stateDir, 'git', 'orphan-git', 'orphaned.git.pgid');
      for (let i = 0; i < 40 && !existsSync(record); i++) await new Promise((r) => setTimeout(r, 50));
      first.proc.kill('SIGKILL');
      expect(await first.exited).toBe('SIGKILL');
      // nothing of the tool ran to stop it: git goes on
      await new Promise((r) => setTimeout(r, 500));
      expect(await alive(pgid)).toBe(true);

      const second = await te.run(te.writeJob({ name: 'orphan-git', sources: [source(2)] }));
      expect(await goneSoon(pgid)).toBe(true);
      expect(await noneLeftWith(repo)).toBe(true);
      // it went on: its own clone reached the stalled server and was cut for that
      expect(second.listErrors).toEqual([expect.objectContaining({ source: 'orphaned', code: 'ESOURCESILENT', message: expect.stringContaining('nothing came for 2 s') })]);
    } finally {
      if (pgid !== undefined) {
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          // gone, as it should be
        }
      }
      await orphaned.stop();
    }
  });
});

/**
 * An ssh login that answers any git client as upload-pack would, then sends a pack of a
 * million random 64 KiB blobs: bytes keep coming, so no silence bound ever fires. It stops
 * after 32 MiB (an early EOF for git), so a run without a size bound fails some other way
 * instead of filling the disk.
 */
const ENDLESS_PACK = `import os, struct, sys, zlib
out = sys.stdout.buffer
def pkt(b):
    return b'%04x' % (len(b) + 4) + b
def header(t, n):
    b = [(t << 4) | (n & 15)]
    n >>= 4
    while n:
        b[-1] |= 0x80
        b.append(n & 0x7F)
        n >>= 7
    return bytes(b)
sha = b'1' * 40
out.write(pkt(sha + b' HEAD\\0ofs-delta agent=endless/1\\n') + pkt(sha + b' refs/heads/main\\n') + b'0000')
out.flush()
seen = b''
while b'done' not in seen:
    chunk = os.read(0, 65536)
    if not chunk:
        sys.exit(0)
    seen += chunk
out.write(pkt(b'NAK\\n') + b'PACK' + struct.pack('>II', 2, 1000000))
try:
    for _ in range(512):
        data = os.urandom(65536)
        out.write(header(3, len(data)) + zlib.compress(data, 1))
        out.flush()
except BrokenPipeError:
    pass
`;

describe('a repository too large for its mirror', () => {
  it('a server streaming a pack that never ends is cut off at limits.maxMirrorBytes (ETOOLARGE naming the URL and the key), tried once, nothing left on disk; the other sources migrate', async () => {
    const script = join(te.dir, 'endless-pack.py');
    writeFileSync(script, ENDLESS_PACK);
    const logins = join(te.dir, 'endless-logins');
    const endless = await startGitServer({ dir: join(te.dir, 'git-endless'), authorizedKeyOptions: `restrict,command="echo login >> ${logins}; exec python3 ${script}"` });
    try {
      te.env.CAM_TEST_ENDLESS_KEY = endless.clientKey;
      await git.createRepoFromDir('beside-endless', pyProject(join(te.dir, 'src-beside-endless'), 'beside-endless', '1.0.0'), { tags: ['v1.0.0'] });
      const job = te.writeJob({
        name: 'endless',
        limits: { maxMirrorBytes: '1MiB' },
        sources: [
          gitSourceOn(endless, 'endless', 'huge', 'pypi', { package: 'huge-lib', sshKeyEnv: 'CAM_TEST_ENDLESS_KEY' }),
          gitSourceOn(git, 'beside', 'beside-endless', 'pypi', { package: 'beside-endless' }),
        ],
      });
      const s = await te.run(job);
      expect(s.exitCode).toBe(1);
      expect(s.listErrors).toEqual([expect.objectContaining({ source: 'endless', code: 'ETOOLARGE' })]);
      const message = s.listErrors[0]!.message;
      expect(message).toContain(endless.gitPlusSshUrl('huge'));
      expect(message).toContain('limits.maxMirrorBytes');
      expect(message).toContain(String(1024 ** 2));
      // not retried: each try would fill as much again
      expect(readFileSync(logins, 'utf8').trim().split('\n')).toEqual(['login']);
      expect(rows('endless').map((r) => [r.package, r.version, r.state])).toEqual([['beside-endless', '1.0.0', 'verified']]);
      // neither a mirror nor the half clone is left (the pack it was writing included)
      expect(readdirSync(join(te.stateDir, 'git', 'endless')).filter((n) => n.startsWith('endless'))).toEqual([]);
    } finally {
      await endless.stop();
    }
  });

  it('a fetch that would grow the mirror past the bound is ETOOLARGE; the mirror is kept whole, and once the limit is raised the next run fetches and migrates the new tag', async () => {
    await git.createRepoFromDir('grows', pyProject(join(te.dir, 'src-grows'), 'grows-lib', '1.0.0'), { tags: ['v1.0.0'] });
    const source = gitSourceOn(git, 'grows', 'grows', 'pypi', { package: 'grows-lib' });
    const small = te.writeJob({ name: 'grows', limits: { maxMirrorBytes: '1MiB' }, sources: [source] });
    const first = await te.run(small);
    expect(first.exitCode, JSON.stringify(first.failures)).toBe(0);
    // 3 MiB that no compression makes smaller than the bound, in the next release
    const big = await git.commit('grows', { message: 'v1.1.0', files: { 'pyproject.toml': HATCH('grows-lib', '1.1.0'), 'data/blob.txt': randomBytes(3 * 1024 ** 2).toString('base64') } });
    await git.tag('grows', 'v1.1.0', big);
    const cut = await te.run(small);
    expect(cut.exitCode).toBe(1);
    expect(cut.listErrors).toEqual([expect.objectContaining({ source: 'grows', code: 'ETOOLARGE' })]);
    expect(cut.listErrors[0]!.message).toContain(git.gitPlusSshUrl('grows'));
    const mirror = join(te.stateDir, 'git', 'grows', 'grows.git');
    expect(existsSync(join(mirror, 'HEAD'))).toBe(true);
    // no half-received pack left behind
    expect(readdirSync(join(mirror, 'objects', 'pack')).filter((n) => n.startsWith('tmp_'))).toEqual([]);
    expect(rows('grows').map((r) => `${r.version}:${r.state}`)).toEqual(['1.0.0:verified']);

    const raised = te.writeJob({ name: 'grows', limits: { maxMirrorBytes: '64MiB' }, sources: [source] });
    const after = await te.run(raised);
    expect(after.listErrors).toEqual([]);
    expect(after.exitCode, JSON.stringify(after.failures)).toBe(0);
    expect(rows('grows').map((r) => `${r.version}:${r.state}`).sort()).toEqual(['1.0.0:verified', '1.1.0:verified']);
  });
});
