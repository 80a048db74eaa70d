/**
 * Resuming git sources: the real CLI killed with SIGKILL at random moments
 * during clones, builds and uploads, several times, then a rerun. Whatever
 * happens: every version ends complete, no file is ever uploaded twice (each
 * upload is recorded before its request, and an unknown outcome is settled by
 * reading the target), and what a build stored is what every later run
 * uploads: a version is built once.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribePackageVersionCommand, PublishPackageVersionCommand } from '@aws-sdk/client-codeartifact';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { fixtureBundle, startGitServer, type GitServer } from './support/git-server.js';
import { BlobStore } from '../src/state/blobs.js';
import { prng } from './support/prng.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let te: TestEnv;
let git: GitServer;

beforeAll(async () => {
  te = await startTestEnv();
  git = await startGitServer();
  await git.createRepoFromBundle('userpath', fixtureBundle('py-userpath'));
  await git.createRepoFromBundle('xxhash', fixtureBundle('go-xxhash'));
  te.env.CAM_TEST_GIT_KEY = git.clientKey;
});
afterAll(async () => {
  await git?.stop();
  await te?.stop();
});

function exited(proc: ChildProcess): Promise<number | string> {
  return new Promise((res) => proc.on('close', (code, signal) => res(code ?? signal ?? 'unknown')));
}

describe('kill -9 during clones, builds and uploads of git sources', () => {
  it('five kills at random moments, then a rerun: complete, no file uploaded twice, every version built once', async () => {
    const seed = Number(process.env.CAM_TEST_SEED ?? Date.now() % 100_000);
    const random = prng(seed);
    const source = (id: string, repo: string, format: string, extra: Record<string, unknown>) => ({ id, kind: 'git', url: git.gitPlusSshUrl(repo), format, sshKeyEnv: 'CAM_TEST_GIT_KEY', knownHostsFile: git.knownHosts, ...extra });
    const job = te.writeJob({
      name: 'gitresume',
      sources: [source('userpath', 'userpath', 'pypi', { package: 'userpath', tags: '{version}' }), source('xxhash', 'xxhash', 'go', { package: 'github.com/cespare/xxhash' })],
      limits: { concurrency: 2, fetchConcurrency: 2 },
    });
    // slow enough that kills land inside uploads, not only between them
    te.sandbox.standIn.setLatency(40);
    const kills: string[] = [];
    for (let i = 0; i < 5; i++) {
      const child = te.spawnCli(['run', job, '--json', '--quiet']);
      const done = exited(child);
      const ms = Math.floor(400 + random() * 5000);
      const finished = await Promise.race([done.then(() => true), sleep(ms).then(() => false)]);
      if (finished) {
        kills.push(`run ${i} finished before its kill at ${ms} ms`);
        break;
      }
      child.kill('SIGKILL');
      await done;
      kills.push(`killed after ${ms} ms`);
    }
    te.sandbox.standIn.setLatency(0);
    const detail = `seed ${seed}: ${kills.join('; ')}`;

    const final = await te.cli(['run', job, '--json']);
    expect(final.code, `${detail}\n${final.stderr}`).toBe(0);

    const state = te.openState('gitresume');
    try {
      const items = state.items();
      const selected = items.filter((r) => r.state !== 'skipped');
      expect(selected.length, detail).toBeGreaterThan(15);
      expect(selected.filter((r) => r.state !== 'verified').map((r) => `${r.package}@${r.version} ${r.state}`), detail).toEqual([]);
      for (const r of selected) {
        // built once: one move to `fetched` whose detail names what the build made
        const builds = state.events(r.id).filter((e) => e.to_state === 'fetched' && e.from_state !== 'fetched' && e.detail?.startsWith('built'));
        expect(builds.length, `${r.package}@${r.version} ${detail}`).toBe(1);
        for (const a of state.assetsOf(r.id)) expect(a.state, `${r.package}@${r.version} ${a.name}`).toBe('uploaded');
      }
      // no file uploaded twice: each accepted upload request once per file
      const log = te.sandbox.standIn.log;
      const accepted = new Map<string, number>();
      for (const e of log) {
        if (e.status >= 300 || e.operation !== 'PublishPackageVersion') continue;
        const key = `${e.namespace}/${e.package}@${e.version}/${e.query.asset}`;
        accepted.set(key, (accepted.get(key) ?? 0) + 1);
      }
      const goUploads = [...accepted];
      expect(goUploads.filter(([, n]) => n !== 1), detail).toEqual([]);
      const goItems = selected.filter((r) => r.format === 'generic');
      expect(goUploads.length, detail).toBe(goItems.length * 3);
      // PyPI: two files per version, each accepted once
      for (const r of selected.filter((x) => x.format === 'pypi')) {
        const n = log.filter((e) => e.operation === 'pypi:Upload' && e.status < 300 && e.package === 'userpath' && e.version === r.version).length;
        expect(n, `userpath@${r.version} ${detail}`).toBe(state.assetsOf(r.id).length);
      }
    } finally {
      state.close();
    }

    // and nothing is left to do
    const before = te.sandbox.standIn.log.length;
    const again = await te.cli(['run', job, '--json']);
    expect(again.code).toBe(0);
    expect(te.sandbox.standIn.log.length).toBe(before);
  });
});

describe('a Go version left Unfinished by a publish cut off after its last file', () => {
  // a target of its own: the kills above leave the same module published in theirs
  let te: TestEnv;
  let git: GitServer;
  beforeAll(async () => {
    te = await startTestEnv();
    git = await startGitServer();
    await git.createRepoFromBundle('xxhash', fixtureBundle('go-xxhash'));
    te.env.CAM_TEST_GIT_KEY = git.clientKey;
  });
  afterAll(async () => {
    await git?.stop();
    await te?.stop();
  });

  it('a plan and a dry run send nothing and say it would be published; the run finishes it, once', async () => {
    const job = te.writeJob({ name: 'gofin', sources: [{ id: 'xxhash', kind: 'git', url: git.gitPlusSshUrl('xxhash'), format: 'go', sshKeyEnv: 'CAM_TEST_GIT_KEY', knownHostsFile: git.knownHosts, package: 'github.com/cespare/xxhash' }] });
    const standIn = te.sandbox.standIn;
    // every version refused (HTTP 400): nothing stored, so no attempt counted
    standIn.addFault({ operation: 'PublishPackageVersion', status: 400 });
    const first = await te.cli(['run', job, '--json', '--quiet']);
    standIn.clearFaults();
    expect(first.code).toBe(1);
    const state = te.openState('gofin');
    const failed = state.items("state = 'failed'");
    expect(failed.map((r) => r.attempts)).toEqual(failed.map(() => 0));
    const row = failed[0]!;
    // as a publish whose answers never came leaves it: an attempt counted, its files (below) on the target
    state.db.prepare('UPDATE items SET attempts = 1 WHERE id = ?').run(row.id);
    const assets = state.assetsOf(row.id);
    state.close();
    // what the cut-off publish left: all three files with our bytes, the version Unfinished
    const blobs = new BlobStore(join(te.stateDir, 'blobs'));
    const coords = { domain: te.sandbox.descriptor.codeartifact.domain, domainOwner: te.sandbox.descriptor.codeartifact.domainOwner, repository: 'go-internal', format: 'generic' as const, namespace: 'github.com', package: 'cespare+xxhash', packageVersion: row.version };
    for (const a of assets) {
      const bytes = readFileSync(blobs.pathOf(a.sha512!));
      await te.client.send(new PublishPackageVersionCommand({ ...coords, assetName: a.name, assetContent: bytes, assetSHA256: createHash('sha256').update(bytes).digest('hex'), unfinished: true }));
    }
    const status = async () => (await te.client.send(new DescribePackageVersionCommand(coords))).packageVersion?.status;
    expect(await status()).toBe('Unfinished');
    const writesSince = (seq: number) => standIn.log.filter((e) => e.seq > seq && e.method !== 'GET' && !/^(sts:)?(Get|List|Describe)/.test(e.operation)).map((e) => e.operation);

    for (const args of [['plan', job, '--json', '--quiet'], ['run', job, '--dry-run', '--json', '--quiet']]) {
      const mark = standIn.log.at(-1)!.seq;
      const r = await te.cli(args);
      // (exit 1 all the same: the first run's refusals are still the versions' last word)
      expect([args[0], writesSince(mark)], r.stderr).toEqual([args[0], []]);
      expect(r.stdout).not.toContain('EREADONLY');
      expect(await status()).toBe('Unfinished');
    }
    const mark = standIn.log.at(-1)!.seq;
    const real = await te.cli(['run', job, '--json', '--quiet']);
    expect(real.code, real.stderr).toBe(0);
    expect(await status()).toBe('Published');
    // finished by a status change, its files never sent again
    const sent = standIn.log.filter((e) => e.seq > mark && e.version === row.version && e.method !== 'GET' && !/^(Get|List|Describe)/.test(e.operation)).map((e) => e.operation);
    expect(sent).toEqual(['UpdatePackageVersionsStatus']);
  });
});
