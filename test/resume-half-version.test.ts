/**
 * A multi-file version (a PyPI sdist + wheel) that a run of ours began publishing and never
 * finished, met again by a later run: in a status nothing can be installed from, or rebuilt
 * with other bytes after its first file went up. Whatever happens, nothing is sent that would
 * leave mismatched files beside each other, and the run says what it found and what to do.
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

/** One job per case, one version each (the cases share the target). */
const job = (name: string, version: string, extra: Record<string, unknown> = {}) =>
  te.writeJob({ name, sources: [gitSourceOn(git, 'userpath', 'userpath', 'pypi', { package: 'userpath', tags: '{version}', ...extra })], filters: { include: [`userpath@${version}`] } });

const writesSince = (seq: number) => te.sandbox.standIn.log.filter((e) => e.seq > seq && (e.operation === 'pypi:Upload' || e.operation === 'UpdatePackageVersionsStatus')).map((e) => `${e.operation} ${e.version} ${e.status}`);

describe('a version our interrupted publish left on the target', () => {
  it('every file there with our bytes but Unlisted or Archived: ETARGETSTATUS with the fix, never recorded published, nothing sent; Published again, verified', async () => {
    for (const [version, status] of [
      ['1.4.2', 'Unlisted'],
      ['1.4.1', 'Archived'],
    ] as const) {
      const name = `st${status.toLowerCase()}`;
      const j = job(name, version);
      const first = await te.run(j);
      expect(first.failures).toEqual([]);
      // as a kill -9 after the last upload's answer and before its state write leaves it
      const s = te.openState(name);
      const row = s.items("state = 'verified'")[0]!;
      s.db.prepare("UPDATE items SET state = 'publishing' WHERE id = ?").run(row.id);
      s.db.prepare("UPDATE assets SET state = 'uploading' WHERE item_id = ? AND ordinal = 1").run(row.id);
      s.close();
      te.sandbox.standIn.setVersionStatus(REPO, 'pypi', undefined, 'userpath', version, status);
      const since = te.sandbox.standIn.log.at(-1)!.seq;

      const again = await te.run(j);
      expect(again.failures.map((f) => [f.version, f.code])).toEqual([[version, 'ETARGETSTATUS']]);
      expect(again.failures[0]!.message).toMatch(/update-package-versions-status/);
      expect(writesSince(since)).toEqual([]);
      const after = te.openState(name);
      try {
        expect(after.events(row.id).filter((e) => e.to_state === 'published' && e.run_id === after.lastRun()!.id)).toEqual([]);
        expect(after.item(row.id).last_error_code).toBe('ETARGETSTATUS');
      } finally {
        after.close();
      }
      // made Published again: verified as it stands, nothing sent again
      te.sandbox.standIn.setVersionStatus(REPO, 'pypi', undefined, 'userpath', version, 'Published');
      const mark = te.sandbox.standIn.log.at(-1)!.seq;
      const fixed = await te.run(j);
      expect(fixed.failures).toEqual([]);
      expect(writesSince(mark)).toEqual([]);
    }
  }, 300_000);

  it('sdist uploaded, wheel not, then the build command changed so the sdist rebuilds to other bytes: ECONFLICT saying our earlier upload and the changed settings, nothing sent; the command put back, the wheel goes up beside it', async () => {
    const name = 'rebuilt';
    const version = '1.7.0';
    const j = job(name, version);
    const first = await te.run(j);
    expect(first.failures).toEqual([]);
    // as a run whose wheel upload was refused after its sdist went up leaves it
    const s = te.openState(name);
    const row = s.items("state = 'verified'")[0]!;
    const wheel = s.assetsOf(row.id).find((a) => a.name.endsWith('.whl'))!;
    te.sandbox.standIn.removeAsset(REPO, 'pypi', undefined, 'userpath', version, wheel.name);
    s.db.prepare("UPDATE assets SET state = 'stored' WHERE id = ?").run(wheel.id);
    s.db.prepare("UPDATE items SET state = 'failed', last_error_code = 'ETARGETREJECTED', last_error = 'refused' WHERE id = ?").run(row.id);
    s.close();

    // a build command that changes what goes into the sdist
    const changed = job(name, version, { build: { command: ['sh', '-c', 'echo "# changed" >> {srcdir}/setup.py; exec {python} -m build --no-isolation --skip-dependency-check --outdir {outdir} {srcdir}'] } });
    const since = te.sandbox.standIn.log.at(-1)!.seq;
    const again = await te.run(changed);
    expect(writesSince(since)).toEqual([]);
    const after = te.openState(name);
    try {
      const r = after.item(row.id);
      expect([r.state, r.last_error_code]).toEqual(['conflict', 'ECONFLICT']);
      // says it was our own upload, what changed, and both ways out
      expect(r.last_error).toMatch(/earlier run uploaded/);
      expect(r.last_error).toMatch(/build settings.*command/);
      expect(r.last_error).toMatch(/put .*back/);
      expect(r.last_error).toMatch(/delete-package-versions/);
    } finally {
      after.close();
    }
    expect(again.failures).toEqual([]);

    // the command as it was: built again, the same sdist, the wheel uploaded beside it
    const mark = te.sandbox.standIn.log.at(-1)!.seq;
    const back = await te.run(job(name, version));
    expect(back.failures).toEqual([]);
    expect(writesSince(mark)).toEqual([`pypi:Upload ${version} 200`]);
    const done = te.openState(name);
    try {
      expect(done.item(row.id).state).toBe('verified');
    } finally {
      done.close();
    }
  }, 300_000);

  it('sdist uploaded, then the wheel refused: the failure says the sdist is on the target (run summary, status), and a rerun uploads the wheel alone', async () => {
    const name = 'refused';
    const version = '1.6.0';
    const j = job(name, version);
    const standIn = te.sandbox.standIn;
    // the wheel's upload, right after the sdist's went through, is refused (HTTP 400: nothing stored)
    const log = standIn.log;
    log.push = (...entries) => {
      for (const e of entries) if (e.operation === 'pypi:Upload' && e.version === version && e.status === 200) standIn.addFault({ operation: 'pypi:Upload', package: 'userpath', version, status: 400, times: 1 });
      return Array.prototype.push.apply(log, entries);
    };
    let s;
    try {
      s = await te.run(j);
    } finally {
      delete (log as { push?: unknown }).push;
    }
    expect(s.failures.map((f) => [f.version, f.code])).toEqual([[version, 'ETARGETREJECTED']]);
    const sdist = `userpath-${version}.tar.gz`;
    expect(s.failures[0]!.message).toContain(`${sdist} of ours is already on the target`);
    const status = await te.cli(['status', j, '--json']);
    const failure = (JSON.parse(status.stdout) as { failures: { version: string; error: string }[] }).failures.find((f) => f.version === version)!;
    expect(failure.error).toContain(`${sdist} of ours is already on the target`);

    const mark = standIn.log.at(-1)!.seq;
    const again = await te.run(j);
    expect(again.failures).toEqual([]);
    expect(writesSince(mark)).toEqual([`pypi:Upload ${version} 200`]);
  }, 300_000);
});
