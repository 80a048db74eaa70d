/**
 * git sources against a repository whose owner means harm, beyond its tags' names:
 * tags on objects that are no commit, and links that point out of the checkout.
 * Real sshd, real builds, the CodeArtifact stand-in.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceSchema } from '../src/config/schema.js';
import type { ProgressEvent } from '../src/engine/events.js';
import { createSource } from '../src/sources/index.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { gitSourceOn, pyProject, startGitServer, type GitServer } from './support/git-server.js';

let te: TestEnv;
let git: GitServer;

beforeAll(async () => {
  te = await startTestEnv();
  git = await startGitServer({ dir: join(te.dir, 'git') });
  te.env.CAM_TEST_GIT_KEY = git.clientKey;
});
afterAll(async () => {
  await git?.stop();
  await te?.stop();
});

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
          gitSourceOn(stuck, 'stuck', 'anything', 'pypi', { package: 'stuck-lib', sshKeyEnv: 'CAM_TEST_STUCK_KEY', idleTimeoutSeconds: 2 }),
          gitSourceOn(git, 'beside', 'beside-stuck', 'pypi', { package: 'beside-lib' }),
        ],
      });
      const events: ProgressEvent[] = [];
      const s = await te.run(job, { onProgress: (e) => events.push(e) });
      expect(s.exitCode).toBe(1);
      expect(s.listErrors).toEqual([expect.objectContaining({ source: 'stuck', code: 'ESOURCESILENT', message: expect.stringContaining('nothing came for 2 s') })]);
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
});
