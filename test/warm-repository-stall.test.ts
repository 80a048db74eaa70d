/**
 * A git repository `warm` searches for lockfiles whose server stalls: cut off after the
 * repository's own `idleTimeoutSeconds` (warm.repositories[]), not the 10-minute default,
 * and the error names that setting, not a git source's. Real sshd, real git.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobSchema } from '../src/config/schema.js';
import { LockfileRepository } from '../src/warm/git-lockfiles.js';
import { startGitServer, type GitServer } from './support/git-server.js';
import { failure } from './support/thrown.js';

let dir: string;
let stalled: GitServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cam-warm-stall-'));
  // every login is accepted, then nothing is ever said: git waits on the pack for ever
  stalled = await startGitServer({ dir: join(dir, 'git'), authorizedKeyOptions: 'restrict,command="exec cat > /dev/null"' });
});
afterAll(async () => {
  await stalled?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** warm.repositories as the job file would give them (defaults applied by the schema). */
function repositoriesOf(extra: Record<string, unknown>) {
  const job = jobSchema.parse({
    name: 'stall',
    target: { domain: 'acme', domainOwner: '111122223333', region: 'us-east-1', repositories: { npm: { internal: 'npm-internal' } } },
    sources: [{ id: 'web', kind: 'npm-registry', url: 'https://npm.acme.example/', packages: ['@acme/web'] }],
    warm: { repositories: [{ url: stalled.gitPlusSshUrl('lockfiles'), sshKeyEnv: 'CAM_TEST_STALL_KEY', knownHostsFile: stalled.knownHosts, ...extra }] },
  });
  return job.warm.repositories;
}

describe('warm.repositories[].idleTimeoutSeconds', () => {
  it('defaults to a git source\'s 600 s, and takes 1..3600', () => {
    expect(repositoriesOf({})[0]!.idleTimeoutSeconds).toBe(600);
    expect(() => repositoriesOf({ idleTimeoutSeconds: 0 })).toThrow();
    expect(() => repositoriesOf({ idleTimeoutSeconds: 3601 })).toThrow();
  });

  it('a repository whose server stalls is cut off after its own idleTimeoutSeconds (ESOURCESILENT), and the hint names that setting of that repository', async () => {
    const [repo] = repositoriesOf({ idleTimeoutSeconds: 2 });
    const env = { ...process.env, CAM_TEST_STALL_KEY: stalled.clientKey };
    const lockfiles = new LockfileRepository(repo!, env, join(dir, 'state'), 'stall');
    let guard: NodeJS.Timeout | undefined;
    // without the repository's own timeout git waits 10 minutes: fail at 60 s instead
    const outcome = await Promise.race([
      failure(lockfiles.fetch()),
      new Promise<never>((_, reject) => (guard = setTimeout(() => reject(new Error('the stalled clone was not cut off by the repository\'s idleTimeoutSeconds')), 60_000))),
    ]).finally(() => clearTimeout(guard));
    lockfiles.close();
    const e = outcome;
    expect(e.code).toBe('ESOURCESILENT');
    expect(e.message).toContain('nothing came for 2 s');
    expect(e.hint).toContain(`idleTimeoutSeconds of warm repository ${stalled.gitPlusSshUrl('lockfiles')}`);
  }, 90_000);
});
