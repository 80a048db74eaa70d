/**
 * The Python path against a PyPI endpoint that lies: an upload answered 200 that stored
 * nothing. The version must never be called verified while the file is missing, and the
 * next run must send that file again (and only that file), so that pip gets our bytes.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGitTestEnv, stopTestEnvWithGit, type TestEnv } from './support/harness.js';
import { fixtureBundle, gitSourceOn, type GitServer } from './support/git-server.js';

const run = promisify(execFile);
let te: TestEnv;
let git: GitServer;

beforeAll(async () => {
  ({ te, git } = await startGitTestEnv());
  await git.createRepoFromBundle('crashtest', fixtureBundle('py-crashtest'));
}, 120_000);
afterAll(() => stopTestEnvWithGit(git, te));

describe('a PyPI endpoint that answers 200 and stores nothing', () => {
  it('the version is not verified (EVERIFY); the next run uploads that file again, never the other, and pip gets our bytes', async () => {
    const { standIn } = te.sandbox;
    const version = '0.4.1';
    // the version's first upload (its sdist: files go sdist first) is answered 200, the operation not performed
    standIn.addFault({ operation: 'pypi:Upload', package: 'crashtest', version, status: 200, body: {}, times: 1 });
    const job = te.writeJob({ name: 'lying200', sources: [gitSourceOn(git, 'crashtest', 'crashtest', 'pypi', { package: 'crashtest', tags: '{version}' })], limits: { retries: 1 } });
    const mark = standIn.log.at(-1)?.seq ?? 0;
    try {
      const first = await te.run(job);
      expect(first.failures.map((f) => [f.version, f.code])).toEqual([[version, 'EVERIFY']]);
    } finally {
      standIn.clearFaults();
    }
    const rows = () => {
      const state = te.openState('lying200');
      try {
        return state.items().map((r) => ({ version: r.version, state: r.state, assets: state.assetsOf(r.id).map((a) => [a.name, a.sha256] as const) }));
      } finally {
        state.close();
      }
    };
    expect(rows().find((r) => r.version === version)?.state).not.toBe('verified');
    const stored = () => (standIn.versions('pypi-internal', 'pypi', undefined, 'crashtest').find((v) => v.version === version)?.assets ?? []).map((a) => a.name).sort();
    const ours = rows().find((r) => r.version === version)!.assets;
    const sdist = ours.find(([n]) => n.endsWith('.tar.gz'))![0];
    const wheel = ours.find(([n]) => n.endsWith('.whl'))![0];
    expect(stored()).toEqual([wheel]);

    const second = await te.run(job);
    expect(second.failures).toEqual([]);
    expect(second.exitCode).toBe(0);
    expect(rows().every((r) => r.state === 'verified')).toBe(true);
    expect(stored()).toEqual([sdist, wheel].sort());
    // uploads of the version over both runs: the sdist twice (the lie, then for real), the wheel once
    const uploads = standIn.log.filter((e) => e.seq > mark && e.operation === 'pypi:Upload' && e.version === version).map((e) => e.status);
    expect(uploads).toEqual([200, 200, 200]);
    for (const [name, sha256] of ours) {
      const bytes = standIn.assetBytes('pypi-internal', 'pypi', undefined, 'crashtest', version, name)!;
      expect(createHash('sha256').update(bytes).digest('hex'), name).toBe(sha256);
    }
    // the real pip, from the simple index, gets our wheel
    const dir = mkdtempSync(join(tmpdir(), 'cam-pip-'));
    try {
      const token = await te.targetToken();
      await run('/usr/bin/python3', ['-m', 'pip', 'download', '--isolated', '--no-cache-dir', '--disable-pip-version-check', '--no-deps', '--index-url', standIn.pypiIndexUrl('pypi-internal', token), `crashtest==${version}`, '-d', dir], { env: { PATH: '/usr/bin:/bin', HOME: dir } });
      expect(readdirSync(dir)).toEqual([wheel]);
      expect(createHash('sha256').update(readFileSync(join(dir, wheel))).digest('hex')).toBe(ours.find(([n]) => n === wheel)![1]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
