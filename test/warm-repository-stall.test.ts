/**
 * A git repository `warm` searches for lockfiles whose server stalls: cut off after the
 * repository's own `idleTimeoutSeconds` (warm.repositories[]), not the 10-minute default,
 * and the error names that setting by its key path in the job file (a warm repository has
 * no id), not a git source's, and says what went on without it (the other repositories and
 * lockfiles, not "the other sources"). Real sshd, real git.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobSchema } from '../src/config/schema.js';
import { LockfileRepository } from '../src/warm/git-lockfiles.js';
import { collectInputs } from '../src/warm/inputs.js';
import { startGitServer, type GitServer } from './support/git-server.js';
import { failure } from './support/thrown.js';
import { localRepository as localRepoIn } from './support/local-repo.js';

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

/** The job file's config, as the schema gives it (defaults applied). */
function configOf(repositories: Record<string, unknown>[], limits: Record<string, unknown> = {}) {
  return jobSchema.parse({
    name: 'stall',
    target: { domain: 'acme', domainOwner: '111122223333', region: 'us-east-1', repositories: { npm: { internal: 'npm-internal' } } },
    sources: [{ id: 'web', kind: 'npm-registry', url: 'https://npm.acme.example/', packages: ['@acme/web'] }],
    limits,
    warm: { repositories },
  });
}

/** The stalled server's repository as a warm.repositories entry. */
function stalledEntry(extra: Record<string, unknown> = {}) {
  return { url: stalled.gitPlusSshUrl('lockfiles'), sshKeyEnv: 'CAM_TEST_STALL_KEY', knownHostsFile: stalled.knownHosts, ...extra };
}

/** warm.repositories as the job file would give them (defaults applied by the schema). */
function repositoriesOf(extra: Record<string, unknown>) {
  return configOf([stalledEntry(extra)]).warm.repositories;
}

const localRepository = (name: string, files: Record<string, string | Buffer>) => localRepoIn(dir, name, files);

/** The job's warm inputs, collected, with a guard: a stalled clone not cut off by the repository's own timeout would wait 10 minutes. */
async function collect(config: ReturnType<typeof configOf>, state: string) {
  const env = { ...process.env, CAM_TEST_STALL_KEY: stalled.clientKey };
  let guard: NodeJS.Timeout | undefined;
  return Promise.race([
    collectInputs({ file: join(dir, 'stall.yml'), name: 'stall', config }, { env, stateDir: join(dir, state) }),
    new Promise<never>((_, reject) => (guard = setTimeout(() => reject(new Error('the stalled clone was not cut off by the repository\'s idleTimeoutSeconds')), 60_000))),
  ]).finally(() => clearTimeout(guard));
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
    expect(e.hint).toContain(`needs a larger warm.repositories[].idleTimeoutSeconds (the entry for ${stalled.gitPlusSshUrl('lockfiles')}) in the job file`);
    expect(e.hint).not.toContain('other sources');
  }, 90_000);

  it('in a warm, the second repository stalling is cut after ITS idleTimeoutSeconds; the error names warm.repositories[1].idleTimeoutSeconds, and the first repository\'s lockfile is still read', async () => {
    const ok = localRepository('ok', { 'requirements.txt': 'requests==2.31.0\n' });
    // the first entry's timeout is the default (600 s): the cut at 2 s is the second's own
    const config = configOf([{ url: ok }, stalledEntry({ idleTimeoutSeconds: 2 })]);
    const started = performance.now();
    const { lockfiles, errors } = await collect(config, 'state-two');
    expect(performance.now() - started).toBeLessThan(30_000);
    expect(lockfiles.map((l) => l.ref.path)).toEqual([`${ok}#main:requirements.txt`]);
    expect(errors).toHaveLength(1);
    const [e] = errors;
    expect(e).toMatchObject({ code: 'ESOURCESILENT', repository: stalled.gitPlusSshUrl('lockfiles') });
    expect(e!.message).toContain(`git fetch ${stalled.gitPlusSshUrl('lockfiles')}: nothing came for 2 s`);
    expect(e!.message).toContain(`needs a larger warm.repositories[1].idleTimeoutSeconds (the entry for ${stalled.gitPlusSshUrl('lockfiles')}) in the job file`);
    expect(e!.message).toContain('the other repositories and lockfiles were still read, and this one is fetched then');
    // not a git source's key, and no source stood still for it
    expect(e!.message).not.toMatch(/other sources|of source "|warm\.repositories\[0\]/);
  }, 90_000);
});

describe('limits.maxMirrorBytes for warm.repositories[]', () => {
  it('a warm repository past the bound is ETOOLARGE naming limits.maxMirrorBytes and what went on without it (not "the other sources")', async () => {
    // 3 MiB of random bytes: no compression brings the pack under the 1 MiB bound
    const big = localRepository('big', { 'blob.bin': randomBytes(3 * 1024 * 1024), 'requirements.txt': 'requests==2.31.0\n' });
    const { lockfiles, errors } = await collect(configOf([{ url: big }], { maxMirrorBytes: '1MiB' }), 'state-big');
    expect(lockfiles).toEqual([]);
    expect(errors).toHaveLength(1);
    const [e] = errors;
    expect(e).toMatchObject({ code: 'ETOOLARGE', repository: big });
    expect(e!.message).toContain(`git fetch ${big}: the mirror grew past limits.maxMirrorBytes (1048576 bytes)`);
    expect(e!.message).toContain('raise limits.maxMirrorBytes in the job file');
    expect(e!.message).toContain('The other repositories and lockfiles were still read');
    expect(e!.message).not.toContain('other sources');
  }, 60_000);
});

describe("this machine's own files while a warm repository is read", () => {
  // a file in the folder's place, as a full disk refuses a folder
  it.each([
    { folder: 'tmp', what: 'the scratch folder' },
    { folder: 'git', what: 'the mirrors folder' },
  ])('$what ($folder) that cannot be made is ELOCAL naming it, never blamed on the repository (ESOURCE): the warm stops there, as a run does', async ({ folder }) => {
    const repo = localRepository(`blocked-${folder}`, { 'requirements.txt': 'requests==2.31.0\n' });
    const stateDir = join(dir, `state-blocked-${folder}`);
    mkdirSync(stateDir, { recursive: true });
    const blocked = join(stateDir, folder);
    writeFileSync(blocked, 'in the way\n');
    const thrown = await collect(configOf([{ url: repo }]), `state-blocked-${folder}`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(thrown).toMatchObject({ code: 'ELOCAL', message: expect.stringContaining(blocked) });
    expect(readFileSync(blocked, 'utf8')).toBe('in the way\n');
  }, 60_000);
});
