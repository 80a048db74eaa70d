/**
 * A PyPI version on the target with part of our files (ours, identical) and the rest missing,
 * in a status nothing can be installed from (Archived, Unlisted): the run must say so, as it
 * does for a whole version in that status (ETARGETSTATUS with the fix), and send nothing to it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGitTestEnv, stopTestEnvWithGit, type TestEnv } from './support/harness.js';
import { fixtureBundle, gitSourceOn, type GitServer } from './support/git-server.js';

let te: TestEnv;
let git: GitServer;
const REPO = 'pypi-internal';

beforeAll(async () => {
  ({ te, git } = await startGitTestEnv());
  await git.createRepoFromBundle('userpath', fixtureBundle('py-userpath'));
});
afterAll(() => stopTestEnvWithGit(git, te));

const job = (name: string) =>
  te.writeJob({
    name,
    sources: [gitSourceOn(git, 'userpath', 'userpath', 'pypi', { package: 'userpath', tags: '{version}' })],
    filters: { include: ['userpath@>=1.6.0 <1.8.0'] },
  });

describe('a version on the target with a subset of our files', () => {
  it('Archived or Unlisted with our wheel missing: ETARGETSTATUS with the fix, nothing uploaded; Published, the wheel is added and the version verified', async () => {
    const first = await te.run(job('subset-a'));
    expect(first.failures).toEqual([]);
    const standIn = te.sandbox.standIn;
    const versions = standIn.versions(REPO, 'pypi', undefined, 'userpath').map((v) => v.version).sort();
    expect(versions.length).toBeGreaterThanOrEqual(2);
    const [archived, unlisted] = versions as [string, string];
    for (const v of [archived, unlisted]) {
      const wheel = standIn.versions(REPO, 'pypi', undefined, 'userpath').find((x) => x.version === v)!.assets.find((a) => a.name.endsWith('.whl'))!;
      standIn.removeAsset(REPO, 'pypi', undefined, 'userpath', v, wheel.name);
    }
    standIn.setVersionStatus(REPO, 'pypi', undefined, 'userpath', archived, 'Archived');
    standIn.setVersionStatus(REPO, 'pypi', undefined, 'userpath', unlisted, 'Unlisted');
    const since = standIn.log.at(-1)?.seq ?? 0;

    // a second job (its own state) meets the versions already on the target
    const b = job('subset-b');
    const s = await te.run(b);
    expect(s.failures.map((f) => [f.version, f.code]).sort()).toEqual([
      [archived, 'ETARGETSTATUS'],
      [unlisted, 'ETARGETSTATUS'],
    ]);
    expect(s.failures.find((f) => f.version === archived)!.message).toMatch(/Archived.*update-package-versions-status/);
    expect(standIn.log.filter((e) => e.seq > since && e.operation === 'pypi:Upload').map((e) => `${e.version} ${e.status}`)).toEqual([]);

    // made Published again, the missing wheel is added and the version verified
    standIn.setVersionStatus(REPO, 'pypi', undefined, 'userpath', archived, 'Published');
    standIn.setVersionStatus(REPO, 'pypi', undefined, 'userpath', unlisted, 'Published');
    const again = await te.run(b);
    expect(again.failures).toEqual([]);
    expect(standIn.log.filter((e) => e.seq > since && e.operation === 'pypi:Upload').map((e) => `${e.version} ${e.status}`).sort()).toEqual([`${archived} 200`, `${unlisted} 200`]);
  }, 300_000);
});
