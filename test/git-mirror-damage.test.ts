/**
 * A git source's mirror as a crash, a disk fault or a careless operator can leave it
 * between runs: a lock file of a git that was killed (power cut, OOM killer), a pack
 * file cut short, a folder left without its HEAD. Real local repositories (file://), a
 * real run against the CodeArtifact stand-in: nothing may be blamed on the repository,
 * retried as a network failure, or fail the same way on every rerun without saying why.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnv, type TestEnv } from './support/harness.js';

const run = promisify(execFile);
let te: TestEnv;

beforeAll(async () => {
  te = await startTestEnv();
});
afterAll(async () => {
  await te?.stop();
});

const gitEnv = () => ({ PATH: process.env.PATH!, HOME: te.dir, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' });
const git = async (cwd: string, ...args: string[]) => (await run('git', args, { cwd, env: gitEnv() })).stdout.trim();

/** A Go module repository (work tree) tagged v1.0.0, and a function that commits and tags the next version. */
async function goRepo(name: string): Promise<{ url: string; release: (tag: string) => Promise<void> }> {
  const dir = join(te.dir, 'repos', name);
  mkdirSync(dir, { recursive: true });
  await git(dir, 'init', '-q');
  writeFileSync(join(dir, 'go.mod'), `module example.com/${name}\n\ngo 1.19\n`);
  writeFileSync(join(dir, `${name}.go`), `package ${name}\n`);
  await git(dir, 'add', '.');
  await git(dir, 'commit', '-qm', 'v1.0.0');
  await git(dir, 'tag', 'v1.0.0');
  return {
    url: `file://${dir}`,
    async release(tag: string) {
      writeFileSync(join(dir, `${tag.replace(/\W/g, '_')}.go`), `package ${name}\n\n// ${tag}\n`);
      await git(dir, 'add', '.');
      await git(dir, 'commit', '-qm', tag);
      await git(dir, 'tag', tag);
    },
  };
}

const source = (name: string, url: string) => ({ id: name, kind: 'git', url, format: 'go', package: `example.com/${name}` });
const mirrorOf = (job: string, id: string) => join(te.stateDir, 'git', job, `${id}.git`);
const states = (job: string) => {
  const s = te.openState(job);
  try {
    return Object.fromEntries(s.items().map((r) => [r.version, r.state]));
  } finally {
    s.close();
  }
};

describe("lock files a killed git left in a source's mirror", () => {
  it('a ref lock, HEAD.lock and config.lock (a crash mid-fetch, mid set-url): the next run removes them and fetches, the new tags migrate; never ESOURCE blamed on the repository', async () => {
    const repo = await goRepo('locked');
    const job = te.writeJob({ name: 'locked', sources: [source('locked', repo.url)], limits: { retries: 0 } });
    expect((await te.run(job)).exitCode).toBe(0);
    await repo.release('v1.1.0');
    const mirror = mirrorOf('locked', 'locked');
    // what git holds while it updates a ref, HEAD and the config, left by a git killed with SIGKILL
    mkdirSync(join(mirror, 'refs', 'tags'), { recursive: true });
    for (const lock of ['refs/tags/v1.1.0.lock', 'HEAD.lock', 'config.lock']) writeFileSync(join(mirror, lock), '');
    const s = await te.run(job);
    expect(s.listErrors, JSON.stringify(s.listErrors)).toEqual([]);
    expect(s.exitCode).toBe(0);
    expect(states('locked')).toEqual({ 'v1.0.0': 'verified', 'v1.1.0': 'verified' });
    for (const lock of ['refs/tags/v1.1.0.lock', 'HEAD.lock', 'config.lock']) expect(existsSync(join(mirror, lock)), lock).toBe(false);
  });
});

describe("a source's mirror damaged on disk", () => {
  it('a pack cut short: the version is ELOCAL naming the mirror and saying to remove it (not ESOURCE blamed on the repository, not retried); removed, the rerun clones again and migrates it', async () => {
    const repo = await goRepo('damaged');
    const job = te.writeJob({ name: 'damaged', sources: [source('damaged', repo.url)], limits: { retries: 2 } });
    expect((await te.run(job)).exitCode).toBe(0);
    const mirror = mirrorOf('damaged', 'damaged');
    const packs = join(mirror, 'objects', 'pack');
    const pack = join(packs, readdirSync(packs).find((f) => f.endsWith('.pack'))!);
    truncateSync(pack, statSync(pack).size - 40);
    // v1.1.0 shares v1.0.0's go.mod: its checkout reads the pack cut short
    await repo.release('v1.1.0');
    const r = await te.cli(['run', job, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout + r.stderr).not.toMatch(/retry \d+ for/);
    expect(r.stdout + r.stderr).not.toMatch(/ESOURCE|EBADSOURCE/);
    const error = (JSON.parse(r.stdout) as { error: { code: string; message: string; hint?: string } }).error;
    expect(error).toMatchObject({ code: 'ELOCAL', message: expect.stringContaining(mirror), hint: expect.stringContaining(mirror) });
    expect(error.message).toMatch(/damaged/);
    expect(states('damaged')).toEqual({ 'v1.0.0': 'verified', 'v1.1.0': 'pending' });

    // as the hint says
    rmSync(mirror, { recursive: true, force: true });
    const again = await te.run(job);
    expect(again.exitCode, JSON.stringify(again.failures)).toBe(0);
    expect(states('damaged')).toEqual({ 'v1.0.0': 'verified', 'v1.1.0': 'verified' });
  });

  it('a mirror folder left without its HEAD (half deleted, half copied): cloned again in its place, the new tag migrates; not ELOCAL "cannot rename" on every rerun', async () => {
    const repo = await goRepo('headless');
    const job = te.writeJob({ name: 'headless', sources: [source('headless', repo.url)], limits: { retries: 0 } });
    expect((await te.run(job)).exitCode).toBe(0);
    const mirror = mirrorOf('headless', 'headless');
    unlinkSync(join(mirror, 'HEAD'));
    await repo.release('v1.1.0');
    const s = await te.run(job);
    expect(s.listErrors, JSON.stringify(s.listErrors)).toEqual([]);
    expect(s.exitCode).toBe(0);
    expect(states('headless')).toEqual({ 'v1.0.0': 'verified', 'v1.1.0': 'verified' });
    expect(existsSync(join(mirror, 'HEAD'))).toBe(true);
    expect(readdirSync(join(te.stateDir, 'git', 'headless'))).toEqual(['headless.git']);
  });
});
