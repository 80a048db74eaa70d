/**
 * Git repositories searched for lockfiles (`warm.repositories`): a bare mirror
 * per repository under `<state>/git/warm-<hash>.git`, cloned once and fetched
 * on every warm, then a clean checkout of each branch (the default branch when
 * the job names none) in a temporary folder that is searched like a local one.
 *
 * ssh is reached the way git sources reach it (sources/git-access.ts): a
 * curated environment, the job's key and known_hosts, never a prompt.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SEALED } from '../builders/process.js';
import { redactUrlCredentials } from '../redact.js';
import { damagedMirrorError, GitAccess } from '../sources/git-access.js';
import type { JobConfig } from '../config/schema.js';
import { MigrateError, vanishedError } from '../errors.js';
import { makeFolder } from '../make-folder.js';

export type WarmRepository = JobConfig['warm']['repositories'][number];


/** One branch of a repository, checked out: `dir` is searched for lockfiles, then `cleanup()`. */
export interface BranchCheckout {
  /** `<url>#<branch>`: how the summary names where a lockfile came from. */
  label: string;
  branch: string;
  commit: string;
  dir: string;
  cleanup(): void;
}

export class LockfileRepository {
  private readonly mirror: string;
  private readonly tmpDir: string;
  private readonly access: GitAccess;

  private readonly formerly: string;
  /** `warm.repositories[<index>]`: where the job file sets this repository. */
  private readonly key: string;

  constructor(
    private readonly repo: WarmRepository,
    env: NodeJS.ProcessEnv,
    stateDir: string,
    job: string,
    limits?: Pick<JobConfig['limits'], 'maxMirrorBytes' | 'maxCheckoutBytes'>,
    /** Its place in the job file's warm.repositories: hints name its keys by it (`warm.repositories[2].idleTimeoutSeconds`). */
    index?: number,
  ) {
    this.key = `warm.repositories[${index ?? ''}]`;
    const id = createHash('sha256').update(repo.url).digest('hex').slice(0, 16);
    // git runs in other folders than ours: a relative state dir would mean another place to it
    stateDir = resolve(stateDir);
    // the job's own, as a source's mirror: two jobs fetching one mirror at once race
    this.mirror = join(stateDir, 'git', job, `warm-${id}.git`);
    this.formerly = join(stateDir, 'git', `warm-${id}.git`);
    this.tmpDir = join(stateDir, 'tmp');
    this.access = new GitAccess(env, {
      owner: `warm repository ${repo.url}`,
      url: repo.url,
      ...(repo.sshKeyEnv ? { sshKeyEnv: repo.sshKeyEnv } : {}),
      ...(repo.knownHostsFile ? { knownHostsFile: repo.knownHostsFile } : {}),
      // in the sealed folder: covered from the builds of any job running meanwhile in this state directory
      keyFilePath: join(this.tmpDir, SEALED, `ssh-key-warm-${job}-${id}-${process.pid}`),
      idleTimeoutMs: repo.idleTimeoutSeconds * 1000,
      // a warm repository has no id: its key path, and its url to tell which entry that is
      idleTimeoutSetting: `${this.key}.idleTimeoutSeconds (the entry for ${redactUrlCredentials(repo.url)})`,
      othersWentOn: 'the other repositories and lockfiles were still read',
      ...(limits ? { maxMirrorBytes: limits.maxMirrorBytes, maxCheckoutBytes: limits.maxCheckoutBytes } : {}),
    });
  }

  get url(): string {
    return this.repo.url;
  }

  /** Clone the mirror once, fetch it on every warm. */
  async fetch(signal?: AbortSignal): Promise<void> {
    try {
      await this.access.updateMirror(this.mirror, this.repo.url, signal, this.formerly);
    } catch (e) {
      throw this.classify(e, 'fetch');
    } finally {
      // the remote is done with: what follows reads the mirror only
      this.access.close();
    }
  }

  /** The branches to read: the job's, or the one the remote's HEAD names. */
  async branches(signal?: AbortSignal): Promise<string[]> {
    if (this.repo.branches.length) return this.repo.branches;
    try {
      const head = (await this.access.localGit(this.mirror, signal).raw(['symbolic-ref', '--short', 'HEAD'])).trim();
      return [head.replace(/^refs\/heads\//, '')];
    } catch (e) {
      throw this.mirrorGone(e, this.repo.url, signal) ?? this.classify(e, 'read the default branch of');
    }
  }

  /** A clean checkout of a branch's tip (a clone sharing the mirror's objects). */
  async checkout(branch: string, signal?: AbortSignal): Promise<BranchCheckout> {
    const label = `${this.repo.url}#${branch}`;
    let commit: string;
    try {
      commit = (await this.access.localGit(this.mirror, signal).raw(['rev-parse', '--verify', '--end-of-options', `refs/heads/${branch}^{commit}`])).trim();
    } catch (e) {
      throw this.mirrorGone(e, label, signal) ?? new MigrateError('ESOURCENOTFOUND', `${label}: no such branch`, { subject: label, cause: e, hint: `check ${this.key}.branches in the job file` });
    }
    makeFolder(this.tmpDir);
    const dir = join(this.tmpDir, `warm-checkout-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
    const cleanup = () => rmSync(dir, { recursive: true, force: true });
    try {
      await this.access.checkout(this.mirror, dir, commit, signal);
    } catch (e) {
      cleanup();
      throw this.mirrorGone(e, label, signal) ?? this.classify(e, 'check out', label);
    }
    return { label, branch, commit, dir, cleanup };
  }

  close(): void {
    this.access.close();
  }

  /**
   * The mirror deleted under the warm (the state directory cleaned), or damaged on this machine's
   * disk (a pack cut short): git's "no such repository", "bad object" or "pack does not match
   * index" is not the remote's, nor a branch missing. ELOCAL naming the mirror.
   */
  private mirrorGone(thrown: unknown, subject: string, signal?: AbortSignal): MigrateError | undefined {
    if (signal?.aborted) return undefined;
    const what = `the mirror of ${this.key}`;
    return vanishedError(thrown, subject, [{ path: this.mirror, what }]) ?? damagedMirrorError(thrown, this.mirror, `${subject}: git`, subject, what);
  }

  /** git's complaints as coded errors (see sources/git-access.ts). */
  private classify(thrown: unknown, what: string, subject = this.repo.url): MigrateError {
    return this.access.classify(thrown, `git ${what} ${subject}`, subject, { notFound: `check ${this.key}.url in the job file` });
  }
}
